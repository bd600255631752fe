//! The documentation builds without a warning (broken or private intra-doc links, bad
//! code blocks): `cargo doc` is run with warnings as errors, in its own target directory
//! (the test's own build still holds the main one's lock).

use std::process::Command;

#[test]
fn cargo_doc_has_no_warnings() {
    // Under an emulator (wine, qemu) the host's cargo cannot be run from here; the host
    // run covers the docs, which do not depend on the target.
    if std::env::var_os("JITCALL_NO_HOST_CC").is_some() {
        println!("cargo_doc_has_no_warnings: skipped under an emulator");
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new(env!("CARGO"))
        .args(["doc", "--no-deps", "--lib", "--offline", "-p", "jitcall"])
        .current_dir(root)
        .env("CARGO_TARGET_DIR", format!("{root}/target/doc-check"))
        .env("RUSTDOCFLAGS", "-D warnings")
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cargo doc warned or failed:\n{stderr}");
}
