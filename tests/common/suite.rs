//! Running a generated suite's cases for one convention: which cases (from the
//! environment), tracing, and one report of every failure.
//!
//! A case that crashes takes the whole test process down before the report. To find it,
//! `JITCALL_CONF_TRACE=1 cargo test --test NAME -- --nocapture --test-threads=1` prints
//! every case before it runs; `JITCALL_CONF_SKIP=name,name` leaves cases out and
//! `JITCALL_CONF_ONLY=prefix` runs only the matching ones.

use jitcall::Abi;

/// How many failures to print in full.
const SHOWN: usize = 20;

/// A generated case, as a runner needs to see it.
pub trait Case: 'static {
    fn name(&self) -> &'static str;
    /// The convention's name (`sysv64`, `win64`, `aapcs64`).
    fn abi(&self) -> &'static str;
    /// The case in full, with what went wrong.
    fn describe(&self, problem: &str) -> String;
}

/// Runs `check` on every case of `abi` (each returns its problems, none when it passed)
/// and fails with a report of the first failures. `what` names the suite in messages;
/// the whole suite must have at least `min_cases` cases for the convention.
pub fn run<C: Case>(
    what: &str,
    abi: Abi,
    all: &'static [C],
    min_cases: usize,
    check: impl Fn(&'static C) -> Vec<String>,
) {
    let only = std::env::var("JITCALL_CONF_ONLY").unwrap_or_default();
    let trace = std::env::var_os("JITCALL_CONF_TRACE").is_some();
    let skip = std::env::var("JITCALL_CONF_SKIP").unwrap_or_default();
    let skip: Vec<&str> = skip.split(',').filter(|s| !s.is_empty()).collect();
    let cases: Vec<&'static C> = all
        .iter()
        .filter(|c| {
            c.abi() == abi.name() && c.name().starts_with(&only) && !skip.contains(&c.name())
        })
        .collect();
    if !abi.runs_on_host() || cases.is_empty() {
        println!("{}: not callable on this host or no {what} built: skipped", abi.name());
        return;
    }
    let mut failures = Vec::new();
    for case in &cases {
        if trace {
            eprint!("{}", case.describe("calling"));
        }
        failures.extend(check(case).iter().map(|problem| case.describe(problem)));
    }
    println!("{}: {} {what} checked, {} failed", abi.name(), cases.len(), failures.len());
    assert!(
        !only.is_empty() || !skip.is_empty() || cases.len() >= min_cases,
        "only {} {what} for {}",
        cases.len(),
        abi.name()
    );
    if !failures.is_empty() {
        let shown: Vec<_> = failures.iter().take(SHOWN).cloned().collect();
        panic!(
            "{} failures in {} {} {what}; the first {}:\n\n{}",
            failures.len(),
            cases.len(),
            abi.name(),
            shown.len(),
            shown.join("\n")
        );
    }
}
