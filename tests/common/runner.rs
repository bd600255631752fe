//! Running a program built for the target, from a test: directly, or under the emulator
//! that runs the tests (a process under qemu-user cannot exec a foreign binary itself).

use std::ffi::OsStr;
use std::process::Command;

/// A command that runs `program`; under an emulator, `JITCALL_TEST_RUNNER` names the
/// emulator command (e.g. `qemu-aarch64 -L /`) and the program becomes its argument.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let runner = std::env::var("JITCALL_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(emulator) => {
            let mut c = Command::new(emulator);
            c.args(words).arg(program);
            c
        }
        None => Command::new(program),
    }
}
