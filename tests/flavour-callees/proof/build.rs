//! Builds the C callees (as a shared library) and callers (as a static archive) for both
//! flavours through flavour-callees; the tests link both and run under qemu-aarch64.

use flavour_callees::{Build, Flavour};

fn main() {
    println!("cargo:rerun-if-changed=c");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("aarch64") {
        return; // the flavoured code is AArch64 only: nothing to link on other hosts
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for flavour in [Flavour::Apple, Flavour::Windows] {
        let name = flavour.name();
        let dir = out.join(name);
        let build = |file: &str| {
            let mut b = Build::new(flavour, &dir);
            b.file(file).flag("-Ic").define("FN(n)", &format!("{name}_##n"));
            b
        };
        build("c/callee.c")
            .file("c/features.c")
            .shared_library(&format!("{name}_callee"))
            .unwrap_or_else(|e| panic!("{e}"));
        build("c/caller.c")
            .static_library(&format!("{name}_caller"))
            .unwrap_or_else(|e| panic!("{e}"));
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static={name}_caller");
        println!("cargo:rustc-link-lib=dylib={name}_callee");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }
}
