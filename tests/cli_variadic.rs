//! The tool's variadic grammar (a lone `...` ends the fixed parameters, in `call` and
//! `plan`) and `--errno`, driven as a user would (DESIGN.md, "The command-line tool").

mod common;

use std::process::Output;

/// Runs the built `jitcall` binary (under `JITCALL_TEST_RUNNER` when emulated).
fn jitcall(args: &[&str]) -> Output {
    common::runner::command(env!("CARGO_BIN_EXE_jitcall"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run jitcall {args:?}: {e}"))
}

fn stdout_of(args: &[&str]) -> String {
    let out = jitcall(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "jitcall {args:?} failed ({}): {stderr}", out.status);
    assert!(stderr.is_empty(), "jitcall {args:?} wrote to stderr: {stderr}");
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

fn error_of(args: &[&str]) -> String {
    let out = jitcall(args);
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    assert!(!out.status.success(), "jitcall {args:?} should fail; stderr: {stderr}");
    assert!(out.stdout.is_empty(), "jitcall {args:?} printed on stdout");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    stderr.strip_prefix("error: ").unwrap_or_else(|| panic!("stderr is {stderr:?}")).to_string()
}

/// The C library, and a function that returns how long a formatted text would be:
/// `snprintf(NULL, 0, fmt, ...)`, or msvcrt's `_scprintf(fmt, ...)`.
fn length_call<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["call"];
    if cfg!(windows) {
        args.extend(["msvcrt.dll", "_scprintf", ":int"]);
    } else {
        args.extend(["-", "snprintf", ":int", ":ptr", "nil", ":size", "0"]);
    }
    args.extend(rest);
    args
}

#[test]
fn call_passes_the_arguments_after_the_dots_as_variadic_ones() {
    let args = length_call(&[
        ":string",
        "%d|%s|%g|%lld",
        "...",
        ":int",
        "-42",
        ":string",
        "hello",
        ":double",
        "2.5",
        ":int64",
        "-9000000000",
    ]);
    assert_eq!(stdout_of(&args), format!("{}\n", "-42|hello|2.5|-9000000000".len()));
    // No variadic argument at all.
    assert_eq!(stdout_of(&length_call(&[":string", "four", "..."])), "4\n");
}

#[test]
fn plan_shows_the_variadic_placement_and_al() {
    let sysv = stdout_of(&["plan", "--cc", "sysv64", ":int", ":ptr", "...", ":double", ":int"]);
    assert_eq!(
        sysv,
        "convention: sysv64\narg0: [0..8] -> rdi\narg1 (variadic): [0..8] -> xmm0\n\
         arg2 (variadic): [0..4] -> rsi (sign-extended)\nret: rax -> [0..4]\nstack: 0 bytes\nal: 1\n"
    );
    let win64 = stdout_of(&["plan", "--cc", "win64", ":int", ":ptr", "...", ":double"]);
    assert!(win64.contains("arg1 (variadic): [0..8] -> xmm1; [0..8] -> rdx\n"), "{win64}");
    let aapcs = stdout_of(&["plan", "--cc", "aapcs64", ":int", ":ptr", "...", "[:float :float]"]);
    assert!(aapcs.contains("arg1 (variadic): [0..4] -> v0; [4..8] -> v1\n"), "{aapcs}");
    // Without `...` nothing is labelled variadic.
    assert!(!stdout_of(&["plan", "--cc", "sysv64", ":int", ":ptr", ":double"]).contains("variadic"));
}

#[test]
fn unpromoted_variadic_types_are_errors_that_name_the_promoted_type() {
    let msg = error_of(&["plan", "--cc", "win64", ":int", ":ptr", "...", ":float"]);
    assert_eq!(
        msg,
        "variadic argument 1 has type :float, which C promotes to :double: pass it as :double\n"
    );
    let msg = error_of(&length_call(&[":string", "%d", "...", ":short", "1"]));
    assert!(msg.ends_with("which C promotes to :int: pass it as :int\n"), "{msg}");
    let msg = error_of(&["plan", ":void", ":int", "...", ":bool"]);
    assert!(msg.starts_with("variadic argument 1 has type :bool"), "{msg}");
}

#[test]
fn a_misplaced_dots_is_an_error() {
    let twice = error_of(&["plan", ":void", ":ptr", "...", ":int", "...", ":int"]);
    assert_eq!(twice, "misplaced ...: it may appear only once, after the fixed parameters\n");
    let twice = error_of(&length_call(&[":string", "x", "...", "...", ":int", "1"]));
    assert!(twice.starts_with("misplaced ...: it may appear only once"), "{twice}");
    let as_value = error_of(&length_call(&[":string", "..."]));
    assert!(
        as_value.starts_with("misplaced ...: it stands where the value of argument"),
        "{as_value}"
    );
    let as_ret = error_of(&["plan", "...", ":int"]);
    assert!(as_ret.starts_with("misplaced ...: the result type RET comes first"), "{as_ret}");
    let as_ret = error_of(&["call", "-", "printf", "...", ":int", "1"]);
    assert!(as_ret.starts_with("misplaced ...: the result type RET comes first"), "{as_ret}");
    // A quoted "..." is a string value like any other.
    assert_eq!(stdout_of(&length_call(&[":string", "\"...\"", "..."])), "3\n");
}

#[test]
fn errno_prints_what_the_function_left() {
    let library = if cfg!(windows) { "msvcrt.dll" } else { "-" };
    let out = stdout_of(&[
        "call",
        "--errno",
        library,
        "strtol",
        ":long",
        ":string",
        "99999999999999999999999",
        ":ptr",
        "nil",
        ":int",
        "10",
    ]);
    let long_max = if cfg!(windows) { i32::MAX as i64 } else { i64::MAX };
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(long_max.to_string().as_str()));
    assert_eq!(lines.next(), Some("errno: 34")); // ERANGE
    if cfg!(windows) {
        assert!(lines.next().is_some_and(|l| l.starts_with("last-error: ")), "{out}");
    }
    assert_eq!(lines.next(), None);
    // Without --errno, just the result.
    let out = stdout_of(&[
        "call", library, "strtol", ":long", ":string", "12", ":ptr", "nil", ":int", "10",
    ]);
    assert_eq!(out, "12\n");
}
