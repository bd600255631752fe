//! The criterion run of the quick mode's cases: `cargo bench -p jitcall-bench`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use jitcall_bench::build::{build, cached_signature, fresh_signature};
use jitcall_bench::cases::*;

fn case<C: Case>(c: &mut Criterion, case: &C) {
    if let Err(message) = check(case) {
        panic!("{message}");
    }
    let mut group = c.benchmark_group(C::NAME);
    group.bench_function("direct", |b| b.iter(|| black_box(case.direct())));
    group.bench_function("typed", |b| b.iter(|| black_box(case.typed())));
    if C::HAS_VALUE_PATH {
        group.bench_function("value", |b| b.iter(|| black_box(case.value())));
    }
    group.bench_function("libffi", |b| b.iter(|| black_box(case.libffi())));
    group.finish();
}

fn calls(c: &mut Criterion) {
    case(c, &IntInt::new());
    case(c, &DoubleIntDouble::new());
    case(c, &Int64x6::new());
    case(c, &Mixed10::new());
    case(c, &DdDdDd::new());
    case(c, &BigRet::new());
    case(c, &CallbackRoundTrip::new());

    // Making a callback: a jitcall `Callback` against a libffi closure (made and dropped).
    let cif = int_int_cif();
    let mut group = c.benchmark_group("callback_new");
    group.bench_function("jitcall", |b| b.iter(|| black_box(new_jit_callback())));
    group.bench_function("libffi", |b| b.iter(|| black_box(new_libffi_closure(&cif))));
    group.finish();
}

fn thunks(c: &mut Criterion) {
    // Every build adds a signature to jitcall's cache for good: keep the count modest.
    let mut group = c.benchmark_group("build");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(1));
    group.bench_function("new", |b| {
        b.iter_batched(fresh_signature, |sig| black_box(build(sig)), BatchSize::SmallInput)
    });
    let cached = cached_signature();
    group.bench_function("cached", |b| {
        b.iter_batched(|| cached.clone(), |sig| black_box(build(sig)), BatchSize::SmallInput)
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = calls, thunks
}
criterion_main!(benches);
