//! The `jitcall` command-line tool, driven as a user would (DESIGN.md, "The command-line
//! tool"): what `layout`, `conventions` and `--help` print, and how errors are reported.

use std::process::{Command, Output};

use jitcall::{ffi, syntax, Type};

/// Runs the built `jitcall` binary with `args`. Under an emulator (a test process run by
/// qemu-user cannot exec a foreign binary itself), `JITCALL_TEST_RUNNER` names the
/// emulator command, e.g. `qemu-aarch64 -L /`.
fn jitcall(args: &[&str]) -> Output {
    let runner = std::env::var("JITCALL_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut command = match words.next() {
        Some(emulator) => {
            let mut c = Command::new(emulator);
            c.args(words).arg(env!("CARGO_BIN_EXE_jitcall"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_jitcall")),
    };
    command.args(args).output().unwrap_or_else(|e| panic!("cannot run jitcall {args:?}: {e}"))
}

/// The stdout of a run that must succeed, with nothing on stderr.
fn stdout_of(args: &[&str]) -> String {
    let out = jitcall(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "jitcall {args:?} failed ({}): {stderr}", out.status);
    assert!(stderr.is_empty(), "jitcall {args:?} wrote to stderr: {stderr}");
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// The stderr of a run that must fail: non-zero status, nothing on stdout, and stderr
/// starting with `error: `.
fn stderr_of_failure(args: &[&str]) -> String {
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
