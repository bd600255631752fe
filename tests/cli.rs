//! The `jitcall` command-line tool, driven as a user would (DESIGN.md, "The command-line
//! tool"): what `layout`, `conventions` and `--help` print, and how errors are reported.

mod common;

use std::ffi::OsStr;
use std::fmt::Debug;
use std::process::{Command, Output, Stdio};

use jitcall::{ffi, syntax, Type};

/// The built `jitcall` binary with `args`, to run. Under an emulator (a test process run
/// by qemu-user cannot exec a foreign binary itself), `JITCALL_TEST_RUNNER` names the
/// emulator command, e.g. `qemu-aarch64 -L /`.
fn command<A: AsRef<OsStr>>(args: &[A]) -> Command {
    let mut command = common::runner::command(env!("CARGO_BIN_EXE_jitcall"));
    command.args(args);
    command
}

/// Runs the built `jitcall` binary with `args`.
fn jitcall<A: AsRef<OsStr> + Debug>(args: &[A]) -> Output {
    command(args).output().unwrap_or_else(|e| panic!("cannot run jitcall {args:?}: {e}"))
}

/// The stdout of a run that must succeed, with nothing on stderr.
fn stdout_of<A: AsRef<OsStr> + Debug>(args: &[A]) -> String {
    let out = jitcall(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "jitcall {args:?} failed ({}): {stderr}", out.status);
    assert!(stderr.is_empty(), "jitcall {args:?} wrote to stderr: {stderr}");
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// The stderr of a run that must fail: non-zero status, nothing on stdout, and stderr
/// starting with `error: `.
fn stderr_of_failure<A: AsRef<OsStr> + Debug>(args: &[A]) -> String {
    let out = jitcall(args);
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    assert!(!out.status.success(), "jitcall {args:?} should fail; stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "jitcall {args:?} printed on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.starts_with("error: "), "jitcall {args:?}: stderr is {stderr:?}");
    stderr
}

/// As [`stderr_of_failure`], for a failure reported in exactly one line.
fn one_line_failure<A: AsRef<OsStr> + Debug>(args: &[A]) -> String {
    let stderr = stderr_of_failure(args);
    assert!(stderr.ends_with('\n') && stderr.lines().count() == 1, "one line: {stderr:?}");
    stderr
}

/// A type from Janet type syntax.
fn ty(text: &str) -> Type {
    let desc = syntax::read(text).unwrap_or_else(|e| panic!("{text:?} does not read: {e}"));
    ffi::native_type(&desc).unwrap_or_else(|e| panic!("{text:?} is not a type: {e}"))
}

#[test]
fn layout_of_a_packed_struct() {
    let out = stdout_of(&["layout", "[:char :pack :int @[:char 21]]"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 5, "{out}");
    assert_eq!(lines[0], "size: 26");
    assert_eq!(lines[1], "align: 1");
    let fields = [(0, 1, 1, ":char"), (1, 4, 4, ":int"), (5, 21, 1, "@[:char 21]")];
    for (i, (offset, size, align, field_type)) in fields.into_iter().enumerate() {
        let line = lines[2 + i];
        let prefix = format!("field {i}: offset {offset} size {size} align {align} ");
        let shown = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("line {line:?} should start with {prefix:?}\n{out}"));
        // The type may be spelled with any alias (`:char` or `:int8`).
        assert_eq!(ty(shown), ty(field_type), "{line}");
    }
    assert!(!lines[5..].iter().any(|l| l.starts_with("field")), "only three fields:\n{out}");
}

#[test]
fn layout_of_a_union_lists_every_member_at_offset_zero() {
    let out = stdout_of(&["layout", "[:union :int :double [:char :char]]"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["size: 8", "align: 8"], "{out}");
    let fields: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("field")).collect();
    assert_eq!(fields.len(), 3, "{out}");
    for (i, (size, align)) in [(4, 4), (8, 8), (2, 1)].into_iter().enumerate() {
        let prefix = format!("field {i}: offset 0 size {size} align {align} ");
        assert!(fields[i].starts_with(&prefix), "{:?} should start with {prefix:?}", fields[i]);
    }
}

#[test]
fn wide_types_call_and_print_exactly() {
    // A long double result comes back through st(0) (x86-64) and prints as a number; an
    // int128 argument keeps every bit.
    if cfg!(target_arch = "x86_64") && cfg!(target_os = "linux") {
        assert_eq!(
            stdout_of(&["call", "-", "strtold", ":long-double", ":string", "2.5", ":ptr", "nil"]),
            "2.5\n"
        );
    }
    // psABI: an __int128 is an INTEGER pair (rdi:rsi), a long double goes in memory, and
    // an __int128 result comes back in rax:rdx.
    assert_eq!(
        stdout_of(&["plan", "--cc", "sysv64", ":int128", ":int128", ":long-double"]),
        "convention: sysv64\narg0: [0..8] -> rdi; [8..16] -> rsi\n\
         arg1: [0..8] -> stack+0; [8..16] -> stack+8\nret: rax -> [0..8]; rdx -> [8..16]\n\
         stack: 16 bytes\nal: 0\n"
    );
}

#[test]
fn layout_of_void_and_of_primitives_and_arrays() {
    let out = stdout_of(&["layout", ":void"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["size: 0", "align: 0"], "{out}");
    assert!(!out.contains("field"), "void has no fields:\n{out}");

    let out = stdout_of(&["layout", "@[:int 4]"]);
    assert_eq!(out.lines().take(2).collect::<Vec<_>>(), ["size: 16", "align: 4"], "{out}");
    let out = stdout_of(&["layout", "--cc", "sysv64", "[:int :pack-all :char :double]"]);
    assert_eq!(out.lines().take(2).collect::<Vec<_>>(), ["size: 13", "align: 1"], "{out}");
}

#[test]
fn help_exits_zero_and_names_every_command() {
    for flag in ["--help", "-h", "help"] {
        let out = stdout_of(&[flag]);
        for command in ["call", "layout", "plan", "conventions"] {
            assert!(out.contains(command), "{flag} does not mention {command}:\n{out}");
        }
    }
}

#[test]
fn conventions_lists_all_three() {
    let out = stdout_of(&["conventions"]);
    for name in ["sysv64", "win64", "aapcs64"] {
        assert!(out.lines().any(|l| l.starts_with(name)), "{name} missing:\n{out}");
    }
    assert!(out.matches("(default)").count() <= 1, "at most one default:\n{out}");
}

#[test]
fn type_errors_are_one_line_on_stderr() {
    for (args, message) in [
        (&["layout", ":nope"][..], "unknown machine type nope"),
        (&["layout", "[]"], "invalid empty struct"),
        (&["layout", "[:int"], "unterminated"),
        (&["layout", "[:int :void]"], "bad field type"),
        (&["layout", "--cc", "nope", ":int"], "nope"),
    ] {
        let stderr = stderr_of_failure(args);
        assert_eq!(stderr.lines().count(), 1, "jitcall {args:?}: one line, got {stderr:?}");
        assert!(stderr.ends_with('\n'), "jitcall {args:?}: {stderr:?}");
        assert!(stderr.contains(message), "jitcall {args:?}: {stderr:?} lacks {message:?}");
    }
}

#[test]
fn usage_errors_start_with_error() {
    for args in [&[][..], &["layout"], &["bogus"], &["layout", ":int", ":int"], &["layout", "--cc"]]
    {
        stderr_of_failure(args);
    }
}

#[test]
fn call_errors_are_one_line_on_stderr() {
    let err = stderr_of_failure(&["call", "-", "jitcall_no_such_symbol", ":int"]);
    assert_eq!(err, "error: symbol jitcall_no_such_symbol not found\n");
    let err = stderr_of_failure(&["call", "-", "abs", ":int", ":int"]);
    assert_eq!(err, "error: argument type \":int\" has no value\n");
    let err = stderr_of_failure(&["call", "-", "abs", ":int", ":int", "1.5"]);
    assert_eq!(err, "error: bad slot #2 (argument 0), expected 32 bit signed integer, got 1.5\n");
    let err = stderr_of_failure(&["call", "/nonexistent/libnothing.so", "f", ":int"]);
    assert!(err.starts_with("error: ") && err.lines().count() == 1, "{err}");
}

#[test]
fn call_prints_results_as_janet_does() {
    assert_eq!(stdout_of(&["call", "-", "strlen", ":size", ":string", "hello"]), "5\n");
    assert_eq!(stdout_of(&["call", "-", "abs", ":int", ":int", "-42"]), "42\n");
}

/// Every integer type with its smallest and largest value.
const INTEGER_BOUNDS: &[(&str, i128, i128)] = &[
    (":int8", i8::MIN as i128, i8::MAX as i128),
    (":int16", i16::MIN as i128, i16::MAX as i128),
    (":int32", i32::MIN as i128, i32::MAX as i128),
    (":int64", i64::MIN as i128, i64::MAX as i128),
    (":uint8", 0, u8::MAX as i128),
    (":uint16", 0, u16::MAX as i128),
    (":uint32", 0, u32::MAX as i128),
    (":uint64", 0, u64::MAX as i128),
];

/// Each bound is passed as an extra argument to `abs(1)` (harmless in every C
/// convention): the bounds convert, one past them is an error naming the value.
#[test]
fn integer_literals_must_fit_their_type() {
    for &(t, min, max) in INTEGER_BOUNDS {
        for inside in [min, max] {
            let value = inside.to_string();
            assert_eq!(stdout_of(&["call", "-", "abs", ":int", ":int", "1", t, &value]), "1\n");
        }
        for outside in [min - 1, max + 1] {
            let value = outside.to_string();
            let err = one_line_failure(&["call", "-", "abs", ":int", ":int", "1", t, &value]);
            assert!(err.contains("argument 1), "), "{t} {value}: {err}");
            assert!(err.contains(&value), "{t} {value}: {err}");
        }
    }
}

/// The two literals of the reliability report, which wrapped before.
#[test]
fn the_reported_literals_are_errors() {
    let err =
        one_line_failure(&["call", "-", "abs", ":int", ":int", "1", ":u64", "-9007199254740993"]);
    assert_eq!(
        err,
        "error: bad slot #3 (argument 1), can not convert core/s64 -9007199254740993 to a 64 bit unsigned integer\n"
    );
    let err = one_line_failure(&["call", "-", "llabs", ":int64", ":int64", "9223372036854775808"]);
    assert!(
        err.ends_with("can not convert core/u64 9223372036854775808 to 64 bit signed integer\n")
    );
    let err = one_line_failure(&[
        "call",
        "-",
        "abs",
        ":int",
        ":int",
        "1",
        ":u64",
        "0x1_0000_0000_0000_0000",
    ]);
    assert!(err.contains("18446744073709551616"), "{err}");
    let too_large = "340282366920938463463374607431768211456";
    let err = one_line_failure(&["call", "-", "abs", ":int", ":int", "1", ":u64", too_large]);
    assert!(err.contains("too large"), "{err}");
}

#[test]
fn integer_literals_are_passed_exactly() {
    let out = stdout_of(&["call", "-", "llabs", ":int64", ":int64", "-9223372036854775807"]);
    assert_eq!(out, "9223372036854775807\n");
    // All 64 bits set: llabs sees -1.
    let out = stdout_of(&["call", "-", "llabs", ":uint64", ":uint64", "18446744073709551615"]);
    assert_eq!(out, "1\n");
    // For a double an integer literal is rounded to the nearest double, as in Janet.
    let out =
        stdout_of(&["call", "-", "ldexp", ":double", ":double", "9007199254740993", ":int", "0"]);
    assert_eq!(out, "9007199254740992\n");
}

/// Arguments are OS strings: bytes that are not UTF-8 are fine in a `:string` value and
/// an error elsewhere, never a panic.
#[cfg(unix)]
#[test]
fn arguments_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let os = |bytes: &'static [u8]| OsStr::from_bytes(bytes);
    let call = |string: &'static OsStr| {
        [os(b"call"), os(b"-"), os(b"strlen"), os(b":size"), os(b":string"), string]
    };
    assert_eq!(stdout_of(&call(os(b"a\xffb"))), "3\n");
    assert_eq!(stdout_of(&call(os(b"\"a\xff\xfeb\""))), "4\n");
    let err = one_line_failure(&[os(b"\xff")]);
    assert_eq!(err, "error: argument \"\\xFF\" is not valid UTF-8\n");
    let err = one_line_failure(&[os(b"layout"), os(b":in\xfft")]);
    assert!(err.starts_with("error: unknown machine type in"), "{err}");
    let err = one_line_failure(&[os(b"layout"), os(b"[:int \"\xff\"]")]);
    assert!(err.starts_with("error: bad native type"), "{err}");
    let err = one_line_failure(&[os(b"call"), os(b"lib\xff.so"), os(b"f"), os(b":int")]);
    assert!(err.contains("is not valid UTF-8"), "{err}");
    let err = one_line_failure(&[
        os(b"call"),
        os(b"-"),
        os(b"abs"),
        os(b":int"),
        os(b":int"),
        os(b"\xff"),
    ]);
    assert!(err.contains("in value \"\\xFF\""), "{err}");
}

/// A pipe whose reading end is already closed, so that a write to it fails with EPIPE
/// every time (no race with a reader that is still there).
#[cfg(unix)]
fn pipe_without_reader() -> std::os::fd::OwnedFd {
    use std::os::fd::{FromRawFd, OwnedFd};
    extern "C" {
        fn pipe(fds: *mut std::ffi::c_int) -> std::ffi::c_int;
    }
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe` writes.
    assert_eq!(unsafe { pipe(fds.as_mut_ptr()) }, 0, "pipe failed");
    // SAFETY: both descriptors are new and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    write
}

/// Output to a closed pipe (`jitcall ... | true`) ends the tool cleanly: before, the
/// write panicked (exit 101).
#[cfg(unix)]
#[test]
fn a_closed_stdout_is_a_clean_exit() {
    for args in [&["conventions"][..], &["call", "-", "abs", ":int", ":int", "-5"]] {
        let out = command(args)
            .stdout(Stdio::from(pipe_without_reader()))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "jitcall {args:?}: {} {stderr}", out.status);
        assert!(stderr.is_empty(), "jitcall {args:?}: {stderr}");
    }
}

/// Any other failure to write the output is an error.
#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_an_error() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = command(&["layout", ":int"]).stdout(full).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.starts_with("error: cannot write the output: "), "{stderr}");
}

/// The handlers exist where the tool declares the system's layouts.
const REPORTS_CRASHES: bool = cfg!(any(
    windows,
    all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))
));

/// `error: the function crashed: NAME at 0xADDR`, with the address returned.
fn crash_address(stderr: &str, name: &str) -> u64 {
    let prefix = format!("error: the function crashed: {name} at 0x");
    let hex = stderr
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{stderr:?} is not a {name} report"));
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{stderr:?}");
    u64::from_str_radix(hex, 16).unwrap()
}

/// A data symbol called as a function, and a NULL dereference: one line naming the
/// signal and the faulting address, a failing exit, nothing on stdout (before: death by
/// SIGSEGV without a word).
#[test]
fn a_crashing_function_is_reported() {
    if !REPORTS_CRASHES {
        eprintln!("no crash reporting on this platform");
        return;
    }
    let fault = if cfg!(windows) { "EXCEPTION_ACCESS_VIOLATION" } else { "SIGSEGV" };
    let err = one_line_failure(&["call", "-", "strlen", ":size", ":ptr", "nil"]);
    assert_eq!(crash_address(&err, fault), 0, "{err}");
    if cfg!(unix) {
        let err = one_line_failure(&["call", "-", "environ", ":int"]);
        assert_ne!(crash_address(&err, "SIGSEGV"), 0, "{err}");
    }
}

/// An integer division by zero traps on x86-64 (AArch64 gives 0).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn a_division_by_zero_is_reported() {
    let err = one_line_failure(&["call", "-", "div", "[:int :int]", ":int", "1", ":int", "0"]);
    assert_ne!(crash_address(&err, "SIGFPE"), 0, "{err}");
}
