//! The `jitcall` command-line tool (its contract is in DESIGN.md).

use std::ffi::{OsStr, OsString};
use std::io::Write as _;
use std::process::ExitCode;

use jitcall::{ffi, syntax, Abi, Error, Prim, Signature, Str, Type, Value};

const USAGE: &str = "\
usage:
  jitcall call [--cc CC] [--errno] LIBRARY SYMBOL RET [TYPE VALUE]... [... [TYPE VALUE]...]
  jitcall layout [--cc CC] TYPE
  jitcall plan [--cc CC] RET [TYPE]... [... [TYPE]...]
  jitcall conventions

CC is default, sysv64, win64, aapcs64, aapcs64-apple or aapcs64-win. LIBRARY is
passed to the dynamic loader as it is; - means the running program. TYPE is Janet type syntax (:int, [:int :double],
@[:int 4], with :pack / :pack-all); VALUE is a Janet literal (42, -1.5, \"text\", [1 2]).
A lone ... ends the fixed parameters of a variadic function: what follows are this
call's variadic arguments, of C's promoted types. --errno prints errno (and on Windows
GetLastError) as the function left it.";

/// The exit status of every error, a crashed function's included.
const FAILURE: u8 = 2;

fn main() -> ExitCode {
    // Arguments are OS strings: a `:string` value may hold any bytes.
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(&args) {
        Ok(out) => print_output(&out),
        Err(message) => report(&message),
    }
}

/// Writes the output; a reader that went away (a closed pipe) is a clean end, not an error.
fn print_output(out: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => report(&format!("cannot write the output: {e}")),
    }
}

fn report(message: &str) -> ExitCode {
    // Nothing more to do if stderr is closed too.
    let _ = writeln!(std::io::stderr(), "error: {message}");
    ExitCode::from(FAILURE)
}

/// An argument that must be text: a command, a convention, a library or symbol name.
fn text(arg: &OsStr) -> Result<&str, String> {
    arg.to_str().ok_or_else(|| format!("argument {arg:?} is not valid UTF-8"))
}

fn run(args: &[OsString]) -> Result<String, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err(format!("no command given\n{USAGE}"));
    };
    match text(command)? {
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
fn conventions_option(args: &[OsString]) -> Result<(Vec<Abi>, &[OsString]), String> {
    match args {
        [flag, name, rest @ ..] if flag == "--cc" => {
            Ok((vec![Abi::from_name(text(name)?).map_err(|e| e.to_string())?], rest))
        }
        [flag] if flag == "--cc" => Err("--cc needs a convention name".into()),
        _ => Ok((Abi::ALL.to_vec(), args)),
    }
}

fn parse_type(text: &OsStr) -> Result<Type, String> {
    let desc = syntax::read_bytes(text.as_encoded_bytes())
        .map_err(|e| format!("in type {text:?}: {e}"))?;
    ffi::native_type(&desc).map_err(|e: Error| e.to_string())
}

/// `call`: LIBRARY SYMBOL RET [TYPE VALUE]... [... [TYPE VALUE]...]
fn call(abi: Abi, errno: bool, args: &[OsString]) -> Result<String, String> {
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
    let (library, symbol) = (text(library)?, text(symbol)?);
    let path = (library != "-").then_some(library);
    // SAFETY: the person running the tool names the library; loading it is what they ask.
    let lib = unsafe { ffi::native(path) }.map_err(|e| e.to_string())?;
    let target = lib
        .lookup(symbol)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("symbol {symbol} not found"))?;
    // SAFETY: calling a C function with the signature its user states is the tool's job;
    // like any FFI, a wrong signature is the user's error. A crash is reported.
    let result = crash::reported(|| unsafe { ffi::call(target, &sig, &values) })
        .map_err(|e| e.to_string())?;
    let mut out = format!("{}\n", result);
    if errno {
        out.push_str(&variadic::errno_lines());
    }
    Ok(out)
}

/// A VALUE for a TYPE: a Janet literal, except that for `:string` an unquoted word is the
/// string itself (any bytes).
fn parse_value(ty: &Type, arg: &OsStr) -> Result<Value, String> {
    let bytes = arg.as_encoded_bytes();
    let quoted = matches!(bytes.trim_ascii_start().first(), Some(b'"' | b'`'));
    if ty.prim() == Some(Prim::String) && !quoted {
        return Ok(Value::String(Str::new(bytes)));
    }
    let value = syntax::read_bytes(bytes).map_err(|e| format!("in value {arg:?}: {e}"))?;
    Ok(integers_as_doubles(ty, value))
}

/// In Janet every number literal is a double: an integer literal past 2^53 (which reads
/// as an exact integer) given for a `:float` or `:double` is that integer rounded to the
/// nearest double, as C rounds an integer constant.
fn integers_as_doubles(ty: &Type, value: Value) -> Value {
    match (ty, value) {
        (Type::Prim(Prim::F32 | Prim::F64), value) => match value {
            Value::Int(i) => Value::Number(i as f64),
            Value::UInt(u) => Value::Number(u as f64),
            Value::Int128(i) => Value::Number(i as f64),
            Value::UInt128(u) => Value::Number(u as f64),
            other => other,
        },
        (Type::Struct(s), Value::Tuple(items)) if items.len() == s.fields().len() => Value::Tuple(
            s.fields().iter().zip(items).map(|(f, v)| integers_as_doubles(&f.ty, v)).collect(),
        ),
        (Type::Struct(s), Value::Array(items)) if items.len() == s.fields().len() => Value::Array(
            s.fields().iter().zip(items).map(|(f, v)| integers_as_doubles(&f.ty, v)).collect(),
        ),
        (Type::Array(a), Value::Tuple(items)) => {
            Value::Tuple(items.into_iter().map(|v| integers_as_doubles(&a.elem, v)).collect())
        }
        (Type::Array(a), Value::Array(items)) => {
            Value::Array(items.into_iter().map(|v| integers_as_doubles(&a.elem, v)).collect())
        }
        (_, value) => value,
    }
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
        let mut sig = Signature::new(abi, ret.clone(), params.clone());
        sig.fixed = fixed;
        let plan = sig.plan().map_err(|e| e.to_string())?;
        out.push_str(&format!("convention: {}\n{}", abi.name(), plan.describe_variadic(fixed)));
    }
    Ok(out)
}

fn layout(ty: &Type, abis: &[Abi]) -> Result<String, String> {
    let mut out = format!("size: {}\nalign: {}\n", ty.size(), ty.align());
    if let Type::Struct(s) | Type::Union(s) = ty {
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
    let describe = |sig: Signature, pick: &dyn Fn(&str) -> bool| match sig.plan() {
        Ok(plan) => {
            let text = plan.to_string();
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

/// Reporting a foreign function that crashes: one line on stderr and a failing exit,
/// instead of the process dying silently. Only the tool does this; the library installs
/// no handlers.
mod crash {
    /// Runs `call` (the foreign call) with crash reporting on, and restores the previous
    /// handlers after it.
    pub fn reported<T>(call: impl FnOnce() -> T) -> T {
        let _reporting = imp::Reporting::start();
        call()
    }

    /// `error: the function crashed: NAME at 0xADDR\n`, built without allocating (it runs
    /// in a signal or exception handler).
    #[cfg_attr(
        not(any(
            windows,
            all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))
        )),
        allow(dead_code)
    )]
    pub struct Line {
        bytes: [u8; 96],
        len: usize,
    }

    #[cfg_attr(
        not(any(
            windows,
            all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))
        )),
        allow(dead_code)
    )]
    impl Line {
        pub fn new(name: &[u8], addr: usize) -> Line {
            let mut line = Line { bytes: [0; 96], len: 0 };
            line.push(b"error: the function crashed: ");
            line.push(name);
            line.push(b" at 0x");
            let digits = (usize::BITS - addr.leading_zeros()).div_ceil(4).max(1);
            for i in (0..digits).rev() {
                line.push(&[b"0123456789abcdef"[(addr >> (4 * i)) & 0xf]]);
            }
            line.push(b"\n");
            line
        }

        /// Appends what fits (names are short: it always does).
        fn push(&mut self, text: &[u8]) {
            let n = text.len().min(self.bytes.len() - self.len);
            self.bytes[self.len..self.len + n].copy_from_slice(&text[..n]);
            self.len += n;
        }

        pub fn as_bytes(&self) -> &[u8] {
            &self.bytes[..self.len]
        }
    }

    #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
    mod imp {
        //! Signal handlers on an alternate stack (a callee that overflows its stack still
        //! gets a report). The layouts are glibc's and musl's on x86-64 and AArch64 Linux
        //! (checked against their headers: `struct sigaction` 152 bytes, `stack_t` 24,
        //! `si_addr` at offset 16).

        use std::ffi::{c_int, c_void};

        use super::Line;

        const SIGILL: c_int = 4;
        const SIGTRAP: c_int = 5;
        const SIGBUS: c_int = 7;
        const SIGFPE: c_int = 8;
        const SIGSEGV: c_int = 11;
        const SIGNALS: [c_int; 5] = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP];

        const SA_SIGINFO: c_int = 4;
        const SA_ONSTACK: c_int = 0x0800_0000;
        /// If the handler itself faults, the default action ends the process.
        const SA_RESETHAND: c_int = 0x8000_0000_u32 as c_int;

        /// Room for the handler's frame, with space for large register files (AVX-512,
        /// SVE) that the kernel saves on the signal stack.
        const ALT_STACK_SIZE: usize = 64 * 1024;

        #[repr(C)]
        #[derive(Clone, Copy)]
        struct SigAction {
            sa_sigaction: usize,
            sa_mask: [u64; 16],
            sa_flags: c_int,
            sa_restorer: usize,
        }

        #[repr(C)]
        struct StackT {
            ss_sp: *mut c_void,
            ss_flags: c_int,
            ss_size: usize,
        }

        /// The start of `siginfo_t`: the fields up to `si_addr`.
        #[repr(C)]
        struct SigInfo {
            si_signo: c_int,
            si_errno: c_int,
            si_code: c_int,
            _pad: c_int,
            si_addr: *mut c_void,
        }

        extern "C" {
            fn sigaction(signal: c_int, act: *const SigAction, old: *mut SigAction) -> c_int;
            fn sigaltstack(stack: *const StackT, old: *mut StackT) -> c_int;
            fn write(fd: c_int, buf: *const c_void, count: usize) -> isize;
            fn _exit(status: c_int) -> !;
        }

        /// Only async-signal-safe work: a fixed buffer, `write`, `_exit`.
        extern "C" fn on_crash(signal: c_int, info: *mut SigInfo, _context: *mut c_void) {
            let name: &[u8] = match signal {
                SIGSEGV => b"SIGSEGV",
                SIGBUS => b"SIGBUS",
                SIGILL => b"SIGILL",
                SIGFPE => b"SIGFPE",
                SIGTRAP => b"SIGTRAP",
                _ => b"a signal",
            };
            // SAFETY: with SA_SIGINFO the kernel passes a valid `siginfo_t`; its
            // `si_addr` is the faulting address for these signals.
            let addr = unsafe { (*info).si_addr } as usize;
            let line = Line::new(name, addr);
            let bytes = line.as_bytes();
            // SAFETY: `write` and `_exit` are async-signal-safe; the buffer is valid for
            // `bytes.len()` bytes. The process ends here: the crashed frames never resume.
            unsafe {
                write(2, bytes.as_ptr().cast(), bytes.len());
                _exit(super::super::FAILURE.into());
            }
        }

        /// The handlers and alternate stack in place before `start`, put back on drop.
        pub struct Reporting {
            old_actions: [(c_int, SigAction); 5],
            old_stack: StackT,
            installed: bool,
        }

        impl Reporting {
            pub fn start() -> Reporting {
                let empty =
                    SigAction { sa_sigaction: 0, sa_mask: [0; 16], sa_flags: 0, sa_restorer: 0 };
                let mut reporting = Reporting {
                    old_actions: SIGNALS.map(|s| (s, empty)),
                    old_stack: StackT { ss_sp: std::ptr::null_mut(), ss_flags: 0, ss_size: 0 },
                    installed: false,
                };
                // Leaked on purpose: a handler may run on it until the process ends.
                let stack: &'static mut [u8] =
                    Box::leak(vec![0u8; ALT_STACK_SIZE].into_boxed_slice());
                let new_stack =
                    StackT { ss_sp: stack.as_mut_ptr().cast(), ss_flags: 0, ss_size: stack.len() };
                // SAFETY: the stack memory lives for the rest of the process; the old
                // stack is written to a valid `StackT`.
                if unsafe { sigaltstack(&new_stack, &mut reporting.old_stack) } != 0 {
                    return reporting; // no alternate stack, so no reporting: best effort
                }
                let action = SigAction {
                    sa_sigaction: on_crash as extern "C" fn(c_int, *mut SigInfo, *mut c_void)
                        as usize,
                    sa_mask: [0; 16],
                    sa_flags: SA_SIGINFO | SA_ONSTACK | SA_RESETHAND,
                    sa_restorer: 0,
                };
                for (signal, old) in &mut reporting.old_actions {
                    // SAFETY: both structs have the C layout; the handler is
                    // async-signal-safe. The tool is single-threaded here.
                    unsafe { sigaction(*signal, &action, old) };
                }
                reporting.installed = true;
                reporting
            }
        }

        impl Drop for Reporting {
            fn drop(&mut self) {
                if !self.installed {
                    return;
                }
                for (signal, old) in &self.old_actions {
                    // SAFETY: puts back the action `sigaction` gave us.
                    unsafe { sigaction(*signal, old, std::ptr::null_mut()) };
                }
                // SAFETY: puts back the alternate stack that was in place (its memory is
                // its owner's, untouched by us).
                unsafe { sigaltstack(&self.old_stack, std::ptr::null_mut()) };
            }
        }
    }

    #[cfg(windows)]
    mod imp {
        //! An unhandled-exception filter: an exception the callee does not handle itself
        //! is reported (one the callee catches with SEH never reaches it).

        use std::ffi::c_void;

        use super::Line;

        #[repr(C)]
        struct ExceptionRecord {
            code: u32,
            flags: u32,
            record: *mut ExceptionRecord,
            address: *mut c_void,
            number_parameters: u32,
            information: [usize; 15],
        }

        #[repr(C)]
        struct ExceptionPointers {
            record: *mut ExceptionRecord,
            context: *mut c_void,
        }

        type Filter = unsafe extern "system" fn(*const ExceptionPointers) -> i32;

        const STD_ERROR_HANDLE: u32 = -12i32 as u32;

        #[link(name = "kernel32")]
        extern "system" {
            fn SetUnhandledExceptionFilter(filter: Option<Filter>) -> Option<Filter>;
            fn GetStdHandle(which: u32) -> *mut c_void;
            fn WriteFile(
                file: *mut c_void,
                buf: *const u8,
                len: u32,
                written: *mut u32,
                overlapped: *mut c_void,
            ) -> i32;
            fn GetCurrentProcess() -> *mut c_void;
            fn TerminateProcess(process: *mut c_void, code: u32) -> i32;
        }

        fn name(code: u32) -> &'static [u8] {
            match code {
                0xC000_0005 => b"EXCEPTION_ACCESS_VIOLATION",
                0xC000_0006 => b"EXCEPTION_IN_PAGE_ERROR",
                0xC000_001D => b"EXCEPTION_ILLEGAL_INSTRUCTION",
                0xC000_0096 => b"EXCEPTION_PRIV_INSTRUCTION",
                0xC000_0094 => b"EXCEPTION_INT_DIVIDE_BY_ZERO",
                0xC000_0095 => b"EXCEPTION_INT_OVERFLOW",
                0xC000_00FD => b"EXCEPTION_STACK_OVERFLOW",
                0x8000_0002 => b"EXCEPTION_DATATYPE_MISALIGNMENT",
                0x8000_0003 => b"EXCEPTION_BREAKPOINT",
                _ => b"an exception",
            }
        }

        unsafe extern "system" fn on_crash(pointers: *const ExceptionPointers) -> i32 {
            // SAFETY: the system passes valid exception pointers to the filter.
            let record = unsafe { &*(*pointers).record };
            // An access violation's data address is its second parameter; otherwise the
            // instruction's address.
            let faulting =
                matches!(record.code, 0xC000_0005 | 0xC000_0006) && record.number_parameters >= 2;
            let addr = if faulting { record.information[1] } else { record.address as usize };
            let line = Line::new(name(record.code), addr);
            let bytes = line.as_bytes();
            let mut written = 0;
            // SAFETY: plain Win32 calls with valid buffers; the process ends here without
            // running anything of the crashed state.
            unsafe {
                WriteFile(
                    GetStdHandle(STD_ERROR_HANDLE),
                    bytes.as_ptr(),
                    bytes.len() as u32,
                    &mut written,
                    std::ptr::null_mut(),
                );
                TerminateProcess(GetCurrentProcess(), super::super::FAILURE.into());
            }
            1 // EXCEPTION_EXECUTE_HANDLER, if termination were ever to return
        }

        /// The filter in place before `start`, put back on drop.
        pub struct Reporting {
            old: Option<Filter>,
        }

        impl Reporting {
            pub fn start() -> Reporting {
                // SAFETY: installs a filter that only writes and terminates.
                Reporting { old: unsafe { SetUnhandledExceptionFilter(Some(on_crash)) } }
            }
        }

        impl Drop for Reporting {
            fn drop(&mut self) {
                // SAFETY: puts back the previous filter.
                unsafe { SetUnhandledExceptionFilter(self.old) };
            }
        }
    }

    /// Elsewhere (macOS, the BSDs, other architectures) the layouts are not declared
    /// here: a crash ends the process as the system does.
    #[cfg(not(any(
        windows,
        all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))
    )))]
    mod imp {
        pub struct Reporting;

        impl Reporting {
            pub fn start() -> Reporting {
                Reporting
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::crash::Line;

    #[test]
    fn crash_lines_show_the_address_in_lowercase_hex() {
        let line = |addr| String::from_utf8(Line::new(b"SIGSEGV", addr).as_bytes().to_vec());
        assert_eq!(line(0).unwrap(), "error: the function crashed: SIGSEGV at 0x0\n");
        assert_eq!(line(0xabc1).unwrap(), "error: the function crashed: SIGSEGV at 0xabc1\n");
        let max = format!("error: the function crashed: SIGSEGV at 0x{:x}\n", usize::MAX);
        assert_eq!(line(usize::MAX).unwrap(), max);
    }
}

/// The variadic part of the argument grammar: a lone `...` ends the fixed parameters.
mod variadic {
    use std::ffi::{OsStr, OsString};

    const DOTS: &str = "...";

    /// `--errno`, if given (after `--cc CC`).
    pub fn errno_option(args: &[OsString]) -> (bool, &[OsString]) {
        match args {
            [flag, rest @ ..] if flag == "--errno" => (true, rest),
            _ => (false, args),
        }
    }

    /// The RET of `call` and `plan` cannot be `...`.
    pub fn check_ret(ret: &OsStr) -> Result<(), String> {
        if ret == DOTS {
            return Err("misplaced ...: the result type RET comes first, then the fixed \
                        parameters, then ... and the variadic arguments"
                .into());
        }
        Ok(())
    }

    /// `plan`'s types with the `...` taken out, and the number of fixed ones before it.
    pub fn split_types(types: &[OsString]) -> Result<(Vec<OsString>, Option<usize>), String> {
        split(types, 1)
    }

    /// `call`'s TYPE VALUE pairs with the `...` taken out, and the number of fixed
    /// arguments before it.
    pub fn split_pairs(pairs: &[OsString]) -> Result<(Vec<OsString>, Option<usize>), String> {
        let (items, fixed) = split(pairs, 2)?;
        Ok((items, fixed.map(|words| words / 2)))
    }

    /// Takes out the one `...`, which must stand where a TYPE would (every `stride` words).
    fn split(words: &[OsString], stride: usize) -> Result<(Vec<OsString>, Option<usize>), String> {
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
