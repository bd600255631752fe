//! The crate's layering: which module may name which. The source files are read and every
//! `crate::module` they name (outside comments) is checked against [`ALLOWED`], so adding
//! an import that the design forbids fails here. The table itself must be acyclic, and
//! inside a module directory the files must not name each other in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Each module and the modules it may name. `arch` is pure: it knows signatures, types
/// and plans, never the runtime (memory, thunks, callbacks, values). `lib` and
/// `internals` are the facades that re-export; nothing names them but `lib`.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("types", &["error", "ldouble"]),
    ("signature", &["error", "types"]),
    ("plan", &["error", "signature", "types"]),
    ("arch", &["error", "plan", "signature", "types"]),
    ("memory", &["error"]),
    ("errno", &["arch"]),
    ("ldouble", &[]),
    ("value", &["error", "ldouble", "types"]),
    ("syntax", &["error", "value"]),
    ("library", &["error", "value"]),
    ("classify", &["arch", "error", "plan", "signature"]),
    ("callback", &["arch", "error", "memory", "plan", "signature", "types", "value"]),
    (
        "thunk",
        &["arch", "callback", "errno", "error", "memory", "plan", "signature", "types", "value"],
    ),
    ("context", &["error", "ldouble", "library", "signature", "thunk", "types", "value"]),
    (
        "ffi",
        &[
            "callback",
            "context",
            "errno",
            "error",
            "library",
            "memory",
            "signature",
            "thunk",
            "types",
            "value",
        ],
    ),
    ("internals", &["arch", "callback", "memory", "plan", "thunk", "types", "value"]),
    (
        "lib",
        &[
            "arch",
            "callback",
            "classify",
            "context",
            "errno",
            "error",
            "ffi",
            "internals",
            "ldouble",
            "library",
            "memory",
            "plan",
            "signature",
            "syntax",
            "thunk",
            "types",
            "value",
        ],
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a library source file belongs to (`None` for the binary).
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root()).unwrap();
    let mut parts = rel.iter().map(|p| p.to_str().unwrap());
    match (parts.next()?, parts.next()?) {
        ("arch", _) => Some("arch".into()),
        ("src", "main.rs") => None,
        ("src", name) => Some(name.trim_end_matches(".rs").into()),
        _ => None,
    }
}

/// The source without comments (doc links are not dependencies).
fn code_of(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n")
}

/// The identifiers that follow `prefix` in `code` (`crate::value::X` gives `value`).
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        // `$crate::` in a macro names the crate root, not a module of this file's crate.
        if code[..at].ends_with('$') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        let name: String =
            rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            // A group: `crate::{a, b::c}` names `a` and `b`.
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',') {
                    let item = item.trim().split("::").next().unwrap().trim();
                    if !item.is_empty() {
                        names.insert(item.to_string());
                    }
                }
            }
        } else {
            names.insert(name);
        }
    }
    names
}

/// Every module named by a file of each module, with the files that name it.
fn edges() -> BTreeMap<(String, String), Vec<String>> {
    let modules: BTreeSet<&str> = ALLOWED.iter().map(|(m, _)| *m).collect();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("arch"), &mut files);
    let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for file in files {
        let Some(from) = module_of(&file) else { continue };
        let code = code_of(&fs::read_to_string(&file).unwrap());
        for to in names_after(&code, "crate::") {
            if to != from && modules.contains(to.as_str()) {
                let shown = file.strip_prefix(root()).unwrap().display().to_string();
                edges.entry((from.clone(), to)).or_default().push(shown);
            }
        }
    }
    edges
}

#[test]
fn every_module_is_placed_in_the_table() {
    let placed: BTreeSet<&str> = ALLOWED.iter().map(|(m, _)| *m).collect();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let unplaced: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_of(f))
        .filter(|m| !placed.contains(m.as_str()))
        .collect();
    assert!(unplaced.is_empty(), "modules missing from ALLOWED: {unplaced:?}");
}

#[test]
fn modules_name_only_what_the_layering_allows() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let forbidden: Vec<String> = edges()
        .into_iter()
        .filter(|((from, to), _)| !allowed[from.as_str()].contains(&to.as_str()))
        .map(|((from, to), files)| format!("{from} -> {to} (in {})", files.join(", ")))
        .collect();
    assert!(forbidden.is_empty(), "imports the layering forbids:\n{}", forbidden.join("\n"));
}

#[test]
fn the_arch_layer_never_names_the_runtime() {
    let runtime = ["memory", "thunk", "callback", "value", "library", "context", "ffi"];
    let bad: Vec<String> = edges()
        .into_iter()
        .filter(|((from, to), _)| from == "arch" && runtime.contains(&to.as_str()))
        .map(|((_, to), files)| format!("arch -> {to} (in {})", files.join(", ")))
        .collect();
    assert!(bad.is_empty(), "arch/ names runtime modules:\n{}", bad.join("\n"));
}

/// A cycle in `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_allowed_table_has_no_cycle() {
    let graph = ALLOWED
        .iter()
        .map(|(m, deps)| (m.to_string(), deps.iter().map(|d| d.to_string()).collect()))
        .collect();
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn files_inside_a_module_directory_do_not_name_each_other_in_a_circle() {
    for dir in ["src/callback", "src/value", "arch/x86_64", "arch/aarch64"] {
        let mut files = Vec::new();
        rust_files(&root().join(dir), &mut files);
        let stem = |f: &Path| f.file_stem().unwrap().to_str().unwrap().to_string();
        let siblings: BTreeSet<String> =
            files.iter().map(|f| stem(f)).filter(|s| s != "mod").collect();
        let graph: BTreeMap<String, BTreeSet<String>> = files
            .iter()
            .filter(|f| stem(f) != "mod")
            .map(|f| {
                let code = code_of(&fs::read_to_string(f).unwrap());
                let named = names_after(&code, "super::")
                    .into_iter()
                    .filter(|n| siblings.contains(n) && *n != stem(f))
                    .collect();
                (stem(f), named)
            })
            .collect();
        assert_eq!(find_cycle(&graph), None, "in {dir}");
    }
}

#[test]
fn the_two_isas_stand_alone() {
    for (dir, other) in [("arch/x86_64", "aarch64"), ("arch/aarch64", "x86_64")] {
        let mut files = Vec::new();
        rust_files(&root().join(dir), &mut files);
        for file in files {
            let code = code_of(&fs::read_to_string(&file).unwrap());
            assert!(
                !code.contains(&format!("arch::{other}"))
                    && !code.contains(&format!("super::{other}")),
                "{} names {other}",
                file.display()
            );
        }
    }
}

#[test]
fn the_scanner_sees_grouped_and_nested_paths() {
    let code =
        code_of("use crate::{error::Error, types};\nlet x = crate::plan::f(); // crate::ffi\n");
    let names: Vec<String> = names_after(&code, "crate::").into_iter().collect();
    assert_eq!(names, ["error", "plan", "types"]);
    assert!(names_after("$crate::context::X", "crate::").is_empty());
}
