//! The `jitcall` command-line tool (its contract is in DESIGN.md).

use std::process::ExitCode;

use jitcall::arch::{self, AbiImpl};
use jitcall::{ffi, syntax, Abi, Error, Signature, Type, Value};

const USAGE: &str = "\
usage:
  jitcall call [--cc CC] [--errno] LIBRARY SYMBOL RET [TYPE VALUE]... [... [TYPE VALUE]...]
  jitcall layout [--cc CC] TYPE
  jitcall plan [--cc CC] RET [TYPE]... [... [TYPE]...]
  jitcall conventions

CC is default, sysv64, win64 or aapcs64. LIBRARY is passed to the dynamic loader as it
is; - means the running program. TYPE is Janet type syntax (:int, [:int :double],
@[:int 4], with :pack / :pack-all); VALUE is a Janet literal (42, -1.5, \"text\", [1 2]).
A lone ... ends the fixed parameters of a variadic function: what follows are this
call's variadic arguments, of C's promoted types. --errno prints errno (and on Windows
GetLastError) as the function left it.";

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
            variadic::check_ret(ret)?;
            let ret = parse_type(ret)?;
            let (params, fixed) = variadic::split_types(params)?;
            let params = params.iter().map(|t| parse_type(t)).collect::<Result<Vec<_>, _>>()?;
            plan(&abis, ret, params, fixed)
        }
        "call" => {
            let (abi, rest) = match conventions_option(rest)? {
                (abis, rest) if abis.len() == 1 => (abis[0], rest),
                (_, rest) => (Abi::from_name("default").map_err(|e| e.to_string())?, rest),
            };
            let (errno, rest) = variadic::errno_option(rest);
            call(abi, errno, rest)
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

/// `call`: LIBRARY SYMBOL RET [TYPE VALUE]... [... [TYPE VALUE]...]
fn call(abi: Abi, errno: bool, args: &[String]) -> Result<String, String> {
    let [library, symbol, ret, pairs @ ..] = args else {
        return Err(format!("call takes LIBRARY SYMBOL RET [TYPE VALUE]...\n{USAGE}"));
    };
    variadic::check_ret(ret)?;
    let (pairs, fixed) = variadic::split_pairs(pairs)?;
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
    let mut sig = Signature::new(abi, ret, params);
    sig.fixed = fixed;
    if errno {
        sig = sig.with_errno(jitcall::Errno::Capture);
    }
    let sig = ffi::compile(sig).map_err(|e| e.to_string())?;
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
    let mut out = format!("{}\n", syntax::print(&result));
    if errno {
        out.push_str(&variadic::errno_lines());
    }
    Ok(out)
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
fn plan(
    abis: &[Abi],
    ret: Type,
    params: Vec<Type>,
    fixed: Option<usize>,
) -> Result<String, String> {
    let mut out = String::new();
    for &abi in abis {
        let engine = arch::for_abi(abi);
        let mut sig = Signature::new(abi, ret.clone(), params.clone());
        sig.fixed = fixed;
        let plan = engine.classify(&sig).map_err(|e| e.to_string())?;
        let text = plan.describe_call(engine.names(), fixed);
        out.push_str(&format!("convention: {}\n{text}", abi.name()));
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

/// The variadic part of the argument grammar: a lone `...` ends the fixed parameters.
mod variadic {
    const DOTS: &str = "...";

    /// `--errno`, if given (after `--cc CC`).
    pub fn errno_option(args: &[String]) -> (bool, &[String]) {
        match args {
            [flag, rest @ ..] if flag == "--errno" => (true, rest),
            _ => (false, args),
        }
    }

    /// The RET of `call` and `plan` cannot be `...`.
    pub fn check_ret(ret: &str) -> Result<(), String> {
        if ret == DOTS {
            return Err("misplaced ...: the result type RET comes first, then the fixed \
                        parameters, then ... and the variadic arguments"
                .into());
        }
        Ok(())
    }

    /// `plan`'s types with the `...` taken out, and the number of fixed ones before it.
    pub fn split_types(types: &[String]) -> Result<(Vec<String>, Option<usize>), String> {
        split(types, 1)
    }

    /// `call`'s TYPE VALUE pairs with the `...` taken out, and the number of fixed
    /// arguments before it.
    pub fn split_pairs(pairs: &[String]) -> Result<(Vec<String>, Option<usize>), String> {
        let (items, fixed) = split(pairs, 2)?;
        Ok((items, fixed.map(|words| words / 2)))
    }

    /// Takes out the one `...`, which must stand where a TYPE would (every `stride` words).
    fn split(words: &[String], stride: usize) -> Result<(Vec<String>, Option<usize>), String> {
        let mut dots = words.iter().enumerate().filter(|(_, w)| *w == DOTS).map(|(i, _)| i);
        let Some(at) = dots.next() else {
            return Ok((words.to_vec(), None));
        };
        if dots.next().is_some() {
            return Err("misplaced ...: it may appear only once, after the fixed parameters".into());
        }
        if at % stride != 0 {
            return Err(format!(
                "misplaced ...: it stands where the value of argument {} should be; a lone ... \
                 ends the fixed parameters (for a string value, write \"...\")",
                at / stride
            ));
        }
        let mut rest = words.to_vec();
        rest.remove(at);
        Ok((rest, Some(at)))
    }

    /// What `--errno` prints after the result.
    pub fn errno_lines() -> String {
        let mut out = format!("errno: {}\n", jitcall::ffi::errno());
        if cfg!(windows) {
            out.push_str(&format!("last-error: {}\n", jitcall::ffi::last_error()));
        }
        out
    }
}
