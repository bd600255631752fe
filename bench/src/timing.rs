//! Quick mode's measurements: a calibrated loop, run several times, the median per call.

use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Runs per path; the median is reported (odd, so it is one of them).
    pub runs: usize,
    /// The length of one run.
    pub run_time: Duration,
}

/// Calls `f` `iters` times; the elapsed time. One copy per closure, with `f` inlined.
#[inline(never)]
pub fn run<F: FnMut()>(f: &mut F, iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed()
}

/// How many iterations make a run of about `run_time` (this also warms `f` up).
pub fn calibrate(run_time: Duration, mut time: impl FnMut(u64) -> Duration) -> u64 {
    let mut iters = 1u64;
    loop {
        let took = time(iters);
        if took >= Duration::from_millis(2) || iters >= 1 << 40 {
            let per = took.as_secs_f64() / iters as f64;
            return ((run_time.as_secs_f64() / per.max(1e-12)) as u64).max(1);
        }
        iters *= 2;
    }
}

pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Nanoseconds per call of `f`: the median of `plan.runs` calibrated runs.
pub fn ns_per_call(plan: Plan, mut f: impl FnMut()) -> f64 {
    let iters = calibrate(plan.run_time, |n| run(&mut f, n));
    median((0..plan.runs).map(|_| nanos(run(&mut f, iters), iters)).collect())
}

/// Nanoseconds per call of `routine` on inputs that `setup` makes outside the timing.
pub fn ns_per_call_batched<I>(
    plan: Plan,
    mut setup: impl FnMut() -> I,
    mut routine: impl FnMut(I),
) -> f64 {
    let mut time = |n: u64| {
        let inputs: Vec<I> = (0..n).map(|_| setup()).collect();
        let mut inputs = inputs.into_iter();
        let start = Instant::now();
        for input in inputs.by_ref() {
            routine(input);
        }
        start.elapsed()
    };
    let iters = calibrate(plan.run_time, &mut time);
    median((0..plan.runs).map(|_| nanos(time(iters), iters)).collect())
}

/// One path of an [`interleaved`] measurement: a closure with its calibrated count and its
/// samples. The measuring loop is compiled for the closure's own type (the closure inlined
/// into it); only the runs, not the calls, go through `dyn`.
pub struct Path<F> {
    f: F,
    iters: u64,
    samples: Vec<f64>,
}

pub fn path<F: FnMut()>(f: F) -> Path<F> {
    Path { f, iters: 0, samples: Vec::new() }
}

/// What [`interleaved`] does with a [`Path`], whatever its closure's type.
pub trait Timed {
    fn calibrate(&mut self, run_time: Duration);
    fn sample(&mut self);
    fn median(&mut self) -> f64;
}

impl<F: FnMut()> Timed for Path<F> {
    fn calibrate(&mut self, run_time: Duration) {
        self.iters = calibrate(run_time, |n| run(&mut self.f, n));
    }

    fn sample(&mut self) {
        self.samples.push(nanos(run(&mut self.f, self.iters), self.iters));
    }

    fn median(&mut self) -> f64 {
        median(std::mem::take(&mut self.samples))
    }
}

/// The paths' nanoseconds per call, their runs interleaved (so that a busy moment of the
/// machine falls on all of them): `plan.runs` rounds of one calibrated run of each.
pub fn interleaved<const N: usize>(plan: Plan, mut paths: [&mut dyn Timed; N]) -> [f64; N] {
    for p in paths.iter_mut() {
        p.calibrate(plan.run_time);
    }
    for _ in 0..plan.runs {
        for p in paths.iter_mut() {
            p.sample();
        }
    }
    paths.map(|p| p.median())
}

pub fn nanos(d: Duration, iters: u64) -> f64 {
    d.as_secs_f64() * 1e9 / iters as f64
}
