//! Benchmarks of jitcall against direct calls and the system libffi. Not a dependency of
//! jitcall or its tests: run `cargo run --release -p jitcall-bench -- --quick` for one
//! line per case, or `cargo bench -p jitcall-bench` for the criterion run.
#![warn(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

#[cfg(not(all(any(target_arch = "x86_64", target_arch = "aarch64"), unix)))]
compile_error!("jitcall-bench runs on x86-64 and AArch64 Unix hosts with a system libffi");

pub mod build;
pub mod callees;
pub mod cases;
pub mod libffi;
pub mod timing;
pub mod union_case;
pub mod variadic;

#[cfg(test)]
mod tests {
    use crate::cases::*;

    #[test]
    fn every_path_returns_what_the_direct_call_returns() {
        check(&IntInt::new()).unwrap();
        check(&DoubleIntDouble::new()).unwrap();
        check(&Int64x6::new()).unwrap();
        check(&Mixed10::new()).unwrap();
        check(&DdDdDd::new()).unwrap();
        check(&BigRet::new()).unwrap();
        check(&CallbackRoundTrip::new()).unwrap();
        check(&crate::union_case::UnionMix::new()).unwrap();
        check(&PermanentCallbackRoundTrip::new()).unwrap();
        check_callback_making().unwrap();
    }

    #[test]
    fn fresh_signatures_differ() {
        let a = crate::build::fresh_signature();
        let b = crate::build::fresh_signature();
        assert_ne!(a, b);
        crate::build::build(a);
        crate::build::build(b);
    }
}
