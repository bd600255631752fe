//! The `jitcall` command-line tool (its contract is in DESIGN.md).

use std::process::ExitCode;

use jitcall::arch::{self, AbiImpl};
use jitcall::{ffi, syntax, Abi, Error, Signature, Type, Value};

const USAGE: &str = "\
usage:
  jitcall call [--cc CC] LIBRARY SYMBOL RET [TYPE VALUE]...
  jitcall layout [--cc CC] TYPE
  jitcall plan [--cc CC] RET [TYPE]...
  jitcall conventions

CC is default, sysv64, win64 or aapcs64. LIBRARY is passed to the dynamic loader as it
is; - means the running program. TYPE is Janet type syntax (:int, [:int :double],
@[:int 4], with :pack / :pack-all); VALUE is a Janet literal (42, -1.5, \"text\", [1 2]).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<String, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err(format!("no command given\n{USAGE}"));
    };
    match command.as_str() {
        "-h" | "--help" | "help" => Ok(format!("{USAGE}\n")),
        "layout" => {
            let (abis, rest) = conventions_option(rest)?;
            let [ty] = rest else {
                return Err(format!("layout takes one TYPE\n{USAGE}"));
            };
            layout(&parse_type(ty)?, &abis)
        }
        "plan" => {
            let (abis, rest) = match conventions_option(rest)? {
                (abis, rest) if abis.len() == 1 => (abis, rest),
                (_, rest) => (vec![Abi::from_name("default").map_err(|e| e.to_string())?], rest),
            };
            let Some((ret, params)) = rest.split_first() else {
                return Err(format!("plan takes RET [TYPE]...\n{USAGE}"));
            };
            let ret = parse_type(ret)?;
            let params = params.iter().map(|t| parse_type(t)).collect::<Result<Vec<_>, _>>()?;
            plan(&abis, ret, params)
        }
        "call" => {
            let (abi, rest) = match conventions_option(rest)? {
                (abis, rest) if abis.len() == 1 => (abis[0], rest),
                (_, rest) => (Abi::from_name("default").map_err(|e| e.to_string())?, rest),
            };
            call(abi, rest)
        }
        "conventions" if rest.is_empty() => Ok(conventions()),
        _ => Err(format!("unknown command {command:?}\n{USAGE}")),
    }
}

/// `--cc CC` selects one convention; without it, every convention is shown.
fn conventions_option(args: &[String]) -> Result<(Vec<Abi>, &[String]), String> {
    match args {
        [flag, name, rest @ ..] if flag == "--cc" => {
            Ok((vec![Abi::from_name(name).map_err(|e| e.to_string())?], rest))
        }
        [flag] if flag == "--cc" => Err("--cc needs a convention name".into()),
        _ => Ok((Abi::ALL.to_vec(), args)),
    }
}

fn parse_type(text: &str) -> Result<Type, String> {
    let desc = syntax::read(text).map_err(|e| format!("in type {text:?}: {e}"))?;
    ffi::native_type(&desc).map_err(|e: Error| e.to_string())
}

/// `call`: LIBRARY SYMBOL RET [TYPE VALUE]...
fn call(abi: Abi, args: &[String]) -> Result<String, String> {
    let [library, symbol, ret, pairs @ ..] = args else {
        return Err(format!("call takes LIBRARY SYMBOL RET [TYPE VALUE]...\n{USAGE}"));
    };
    if pairs.len() % 2 != 0 {
        return Err(format!("argument type {:?} has no value", pairs[pairs.len() - 1]));
    }
    let ret = parse_type(ret)?;
    let mut params = Vec::new();
    let mut values = Vec::new();
    for pair in pairs.chunks(2) {
        let ty = parse_type(&pair[0])?;
        values.push(parse_value(&ty, &pair[1])?);
        params.push(ty);
    }
    let sig = ffi::signature(abi, ret, params).map_err(|e| e.to_string())?;
    let path = (library != "-").then_some(library.as_str());
    // SAFETY: the person running the tool names the library; loading it is what they ask.
    let lib = unsafe { ffi::native(path) }.map_err(|e| e.to_string())?;
    let target = lib
        .lookup(symbol)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("symbol {symbol} not found"))?;
    // SAFETY: calling a C function with the signature its user states is the tool's job;
    // like any FFI, a wrong signature is the user's error.
    let result = unsafe { ffi::call(target, &sig, &values) }.map_err(|e| e.to_string())?;
    Ok(format!("{}\n", syntax::print(&result)))
}

/// A VALUE for a TYPE: a Janet literal, except that for `:string` an unquoted word is the
/// string itself.
fn parse_value(ty: &Type, text: &str) -> Result<Value, String> {
    let quoted = text.trim_start().starts_with(['"', '`']);
    if ty.prim() == Some(jitcall::Prim::String) && !quoted {
        return Ok(Value::string(text));
    }
    syntax::read(text).map_err(|e| format!("in value {text:?}: {e}"))
}

/// `plan`: the placement of every argument and of the result, per convention.
fn plan(abis: &[Abi], ret: Type, params: Vec<Type>) -> Result<String, String> {
    let mut out = String::new();
    for &abi in abis {
        let engine = arch::for_abi(abi);
        let sig = Signature::new(abi, ret.clone(), params.clone());
        let plan = engine.classify(&sig).map_err(|e| e.to_string())?;
        out.push_str(&format!("convention: {}\n{}", abi.name(), plan.describe(engine.names())));
    }
    Ok(out)
}

fn layout(ty: &Type, abis: &[Abi]) -> Result<String, String> {
    let mut out = format!("size: {}\nalign: {}\n", ty.size(), ty.align());
    if let Type::Struct(s) = ty {
        for (i, f) in s.fields().iter().enumerate() {
            out.push_str(&format!(
                "field {i}: offset {} size {} align {} {}\n",
                f.offset,
                f.ty.size(),
                f.ty.align(),
                f.ty
            ));
        }
    }
    for &abi in abis {
        out.push_str(&classification(abi, ty));
    }
    Ok(out)
}

/// How a convention passes and returns a value of this type, one line each.
fn classification(abi: Abi, ty: &Type) -> String {
    let engine: &dyn AbiImpl = arch::for_abi(abi);
    let describe = |sig: Signature, pick: &dyn Fn(&str) -> bool| match engine.classify(&sig) {
        Ok(plan) => {
            let text = plan.describe(engine.names());
            let line = text.lines().find(|l| pick(l)).unwrap_or("").to_string();
            line.split_once(": ").map_or(line.clone(), |(_, rest)| rest.to_string())
        }
        Err(e) => format!("cannot be passed ({e})"),
    };
    if ty.is_void() {
        return format!("{} result: void\n", abi.name());
    }
    let arg =
        describe(Signature::new(abi, Type::VOID, vec![ty.clone()]), &|l| l.starts_with("arg0:"));
    let ret = describe(Signature::new(abi, ty.clone(), vec![]), &|l| l.starts_with("ret:"));
    format!("{0} argument: {arg}\n{0} result: {ret}\n", abi.name())
}

/// Every convention, whether this host can call it, and which is the default.
fn conventions() -> String {
    let mut out = String::new();
    for abi in Abi::ALL {
        let callable = if abi.runs_on_host() { "callable" } else { "layout and plan only" };
        let default = if Abi::host() == Some(abi) { ", default" } else { "" };
        out.push_str(&format!("{}: {callable}{default}\n", abi.name()));
    }
    out
}
