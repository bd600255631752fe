//! `jitcall-bench [--quick]`: one line per case,
//! `CASE direct=NS typed=NS raw=NS value=NS libffi=NS` (nanoseconds per call, each the
//! median of several calibrated runs; `typed=` is `call_native`, `raw=` a `RawCall`); `snprintf direct= typed= value=` (a variadic call) and
//! `errno direct= typed= typed_capture= value= value_capture=` (errno capture against the
//! same call without); then `build new=NS cached=NS` and `callback_new native=NS value=NS
//! libffi=NS` (making and dropping a callback or a libffi closure). Notes go to stderr.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use jitcall_bench::build::{build, build_by_ref, cached_signature, fresh_signature};
use jitcall_bench::cases::*;
use jitcall_bench::timing::{interleaved, ns_per_call, ns_per_call_batched, path, Plan};
use jitcall_bench::union_case::UnionMix;
use jitcall_bench::variadic;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plan = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["--quick"] => Plan { runs: 7, run_time: Duration::from_millis(25) },
        [] => Plan { runs: 15, run_time: Duration::from_millis(100) },
        _ => {
            eprintln!("usage: jitcall-bench [--quick]   (criterion: cargo bench -p jitcall-bench)");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let rows = [
        row(plan, &IntInt::new()),
        row(plan, &DoubleIntDouble::new()),
        row(plan, &Int64x6::new()),
        row(plan, &Mixed10::new()),
        row(plan, &DdDdDd::new()),
        row(plan, &BigRet::new()),
        row(plan, &UnionMix::new()),
        row(plan, &CallbackRoundTrip::new()),
        row(plan, &PermanentCallbackRoundTrip::new()),
    ];
    if rows.iter().any(Result::is_err) {
        return ExitCode::FAILURE;
    }
    for line in [variadic::snprintf_row(plan), variadic::errno_row(plan)] {
        match line {
            Ok(line) => println!("{line}"),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::FAILURE;
            }
        }
    }

    let cached = cached_signature();
    let new = ns_per_call_batched(plan, fresh_signature, |sig| drop(black_box(build(sig))));
    let hit = ns_per_call(plan, || drop(black_box(build_by_ref(black_box(&cached)))));
    println!("build new={new:.1} cached={hit:.1}");

    if let Err(message) = check_callback_making() {
        eprintln!("error: {message}");
        return ExitCode::FAILURE;
    }
    let cif = int_int_cif();
    let [native, value, libffi] = interleaved(
        plan,
        [
            &mut path(|| drop(black_box(new_native_callback()))),
            &mut path(|| drop(black_box(new_jit_callback()))),
            &mut path(|| drop(black_box(new_libffi_closure(&cif)))),
        ],
    );
    println!("callback_new native={native:.1} value={value:.1} libffi={libffi:.1}");
    eprintln!(
        "note: callback typed= is a native callback (its closure reads argument images), \
         value= a callback over Values; callback_new makes and drops one of each (libffi: \
         ffi_closure_alloc + ffi_prep_closure_loc + ffi_closure_free)."
    );
    eprintln!(
        "note: build new = ffi::signature of a never-seen int(P, P, P, struct{{P, P, P}}); \
         cached = ffi::signature_by_ref of mixed10's signature again (borrowed types); the \
         argument types are made outside the timing. {} runs of ~{} ms per number; total {:.1} s.",
        plan.runs,
        plan.run_time.as_millis(),
        start.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

/// Checks a case, measures its four paths (their runs interleaved) and prints its line.
fn row<C: Case>(plan: Plan, case: &C) -> Result<(), ()> {
    if let Err(message) = check(case) {
        eprintln!("error: {message}");
        return Err(());
    }
    let [direct, typed, raw, tail, value, libffi] = interleaved(
        plan,
        [
            &mut path(|| {
                black_box(case.direct());
            }),
            &mut path(|| {
                black_box(case.typed());
            }),
            &mut path(|| {
                black_box(case.raw());
            }),
            &mut path(|| {
                black_box(case.tail());
            }),
            &mut path(|| {
                black_box(case.value());
            }),
            &mut path(|| {
                black_box(case.libffi());
            }),
        ],
    );
    let raw = match (C::HAS_RAW_PATH, C::HAS_TAIL_PATH) {
        (true, true) => format!(" raw={raw:.1} tail={tail:.1}"),
        (true, false) => format!(" raw={raw:.1}"),
        _ => String::new(),
    };
    let value = if C::HAS_VALUE_PATH { value } else { typed };
    println!(
        "{} direct={direct:.1} typed={typed:.1}{raw} value={value:.1} libffi={libffi:.1}",
        C::NAME
    );
    Ok(())
}
