//! The Win64 convention makes rsi, rdi and xmm6-xmm15 callee-saved, and jitcall's Win64
//! callback handler calls a System V dispatcher that may clobber them: the handler must
//! save and restore them. Here a caller keeps known values in exactly those registers
//! across a Win64 call to a callback whose closure does float work.
#![cfg(target_arch = "x86_64")]

use std::arch::asm;

use jitcall::{ffi, syntax, Abi, Value};

#[test]
fn a_win64_callback_preserves_rsi_rdi_and_xmm6_to_xmm15() {
    let double = ffi::native_type(&syntax::read(":double").unwrap()).unwrap();
    let callback = ffi::callback(Abi::Win64, double, vec![], |_| {
        // Enough live doubles that the dispatcher's code may use any vector register.
        let xs: Vec<f64> = (0..32).map(|i| std::hint::black_box(f64::from(i) * 1.5)).collect();
        Ok(Value::Number(xs.iter().map(|x| x.sqrt() * x.sin()).sum()))
    })
    .unwrap();
    let f = callback.code_ptr().as_ptr();
    let (rsi_in, rdi_in) = (0x5151_5151_5151_5151u64, 0xD1D1_D1D1_D1D1_D1D1u64);
    let xmm_in: [f64; 10] = std::array::from_fn(|i| 1000.0 + i as f64);
    let (rsi_out, rdi_out): (u64, u64);
    let mut xmm_out = [0f64; 10];
    // SAFETY: `f` is a Win64 function `double(void)`, valid while `callback` lives. The
    // block aligns the stack and reserves the 32-byte shadow space itself, restores rsp
    // from r12 (declared clobbered), and declares every register the Win64 convention
    // lets a callee change as clobbered; the registers it checks are inputs and outputs.
    unsafe {
        asm!(
            "mov r12, rsp",
            "and rsp, -16",
            "sub rsp, 32",
            "call {f}",
            "mov rsp, r12",
            f = in(reg) f,
            inout("rsi") rsi_in => rsi_out,
            inout("rdi") rdi_in => rdi_out,
            inout("xmm6") xmm_in[0] => xmm_out[0],
            inout("xmm7") xmm_in[1] => xmm_out[1],
            inout("xmm8") xmm_in[2] => xmm_out[2],
            inout("xmm9") xmm_in[3] => xmm_out[3],
            inout("xmm10") xmm_in[4] => xmm_out[4],
            inout("xmm11") xmm_in[5] => xmm_out[5],
            inout("xmm12") xmm_in[6] => xmm_out[6],
            inout("xmm13") xmm_in[7] => xmm_out[7],
            inout("xmm14") xmm_in[8] => xmm_out[8],
            inout("xmm15") xmm_in[9] => xmm_out[9],
            out("r12") _,
            clobber_abi("win64"),
        );
    }
    assert_eq!((rsi_out, rdi_out), (rsi_in, rdi_in));
    assert_eq!(xmm_out, xmm_in);
}
