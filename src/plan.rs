//! The printable result of classifying a signature: where every byte of every argument
//! goes, and where the result comes from. A plan is ABI data only: how the call path
//! marshals values to the thunk (the argument and return blocks) is not part of it.

use std::fmt;

use crate::signature::Abi;

/// A machine location of an argument or result piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// The n-th general-purpose argument register of the convention (rdi, rsi, ... on
    /// SysV; rcx, rdx, r8, r9 on Win64; x0..x7 on AAPCS64, and x8, the indirect result
    /// register). Also where a [`RetPlan::Indirect`] passes the result's address.
    ArgGpr(u8),
    /// The n-th general-purpose result register (rax, rdx / x0, x1).
    RetGpr(u8),
    /// The n-th vector register (xmm n, or v n), for arguments and results alike.
    Fpr(u8),
    /// Bytes from this offset in the outgoing stack-argument area (above any shadow space).
    Stack(u32),
}

/// How a narrow integer is widened to its full register or stack slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extension {
    /// Copied as it is (the upper bits are unspecified).
    None,
    /// Sign-extended.
    Sign,
    /// Zero-extended.
    Zero,
}

/// One piece of a value: `size` bytes from `offset` in the value's image, at `dest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Part {
    /// Where the piece starts in the value's image.
    pub offset: u32,
    /// The piece's size in bytes (1 to 16).
    pub size: u8,
    /// The register or stack slot it goes to.
    pub dest: Location,
    /// How a narrow integer piece is widened.
    pub ext: Extension,
    /// For vector registers: the piece is a float (4 bytes) or double (8 bytes); for other
    /// locations it is copied as integer bytes.
    pub float: bool,
}

/// How one argument is passed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ArgPlan {
    /// The value's bytes go straight to registers and stack slots.
    Direct(Vec<Part>),
    /// The caller copies the value (its image in the argument block is that copy) and
    /// passes the copy's address at `pointer` (Win64 aggregates, AAPCS64 ones over 16 bytes).
    Indirect {
        /// Where the copy's address goes.
        pointer: Location,
    },
}

/// How the result comes back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RetPlan {
    /// Nothing is returned.
    Void,
    /// In registers: each part names its register and its offset in the result image.
    Direct(Vec<Part>),
    /// The caller passes the address of the result memory, the hidden result pointer, at
    /// `pointer` (an argument register: rdi, rcx or x8).
    Indirect {
        /// Where the hidden result pointer goes.
        pointer: Location,
    },
    /// On the x87 register stack (System V `long double` and `long double _Complex`, and a
    /// struct of one `long double`): `count` values, `st(0)` into bytes `[0..10]` of the
    /// result image and, for a complex result, `st(1)` (the imaginary part) into
    /// `[16..26]`. The thunk pops them (`fstp`); a callback pushes them (`fld`).
    X87 {
        /// 1 or 2.
        count: u8,
    },
}

/// Everything a thunk generator needs to know about a signature under one convention.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallPlan {
    /// The convention the plan is for.
    pub abi: Abi,
    /// How each argument is passed, in order.
    pub args: Vec<ArgPlan>,
    /// How the result comes back.
    pub ret: RetPlan,
    /// Bytes of outgoing stack arguments (a multiple of 8), not counting shadow space.
    pub stack_bytes: u32,
    /// Bytes the caller reserves below the stack arguments for the callee (32 on Win64).
    pub shadow_space: u32,
    /// SysV: the number of vector registers used, which the thunk puts in `%al`.
    pub vector_count: Option<u8>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::ArgGpr(n) => write!(f, "gpr{n}"),
            Location::RetGpr(n) => write!(f, "ret gpr{n}"),
            Location::Fpr(n) => write!(f, "fpr{n}"),
            Location::Stack(o) => write!(f, "stack+{o}"),
        }
    }
}

/// Register names for printing a plan of one convention.
pub trait RegisterNames {
    /// The name of general-purpose argument register `n`.
    fn arg_gpr(&self, n: u8) -> &'static str;
    /// The name of general-purpose result register `n`.
    fn ret_gpr(&self, n: u8) -> &'static str;
    /// The name of vector register `n`.
    fn fpr(&self, n: u8) -> String;
}

impl CallPlan {
    /// One line per argument and one for the result, e.g.
    /// `arg1: [0..8] -> rdx; [8..16] -> xmm0`.
    pub(crate) fn describe(&self, names: &dyn RegisterNames) -> String {
        self.describe_call(names, None)
    }

    /// As [`CallPlan::describe`], for a call whose arguments from index `fixed` on are
    /// variadic (see [`Signature::fixed`]): their lines read `argN (variadic): ...`.
    pub(crate) fn describe_call(&self, names: &dyn RegisterNames, fixed: Option<usize>) -> String {
        let loc = |l: Location| match l {
            Location::RetGpr(n) => names.ret_gpr(n).to_string(),
            Location::ArgGpr(n) => names.arg_gpr(n).to_string(),
            Location::Fpr(n) => names.fpr(n),
            Location::Stack(o) => format!("stack+{o}"),
        };
        let parts = |parts: &[Part], ret: bool| -> String {
            let shown: Vec<String> = parts
                .iter()
                .map(|p| {
                    let ext = match p.ext {
                        Extension::None => "",
                        Extension::Sign => " (sign-extended)",
                        Extension::Zero => " (zero-extended)",
                    };
                    let range = format!("[{}..{}]", p.offset, p.offset + u32::from(p.size));
                    let dest = loc(p.dest);
                    if ret {
                        format!("{dest} -> {range}")
                    } else {
                        format!("{range} -> {dest}{ext}")
                    }
                })
                .collect();
            if shown.is_empty() {
                "nothing".to_string()
            } else {
                shown.join("; ")
            }
        };
        let mut out = String::new();
        for (i, arg) in self.args.iter().enumerate() {
            let text = match arg {
                ArgPlan::Direct(p) => parts(p, false),
                ArgPlan::Indirect { pointer } => {
                    format!("by reference to a copy, address -> {}", loc(*pointer))
                }
            };
            let variadic = if fixed.is_some_and(|n| i >= n) { " (variadic)" } else { "" };
            out.push_str(&format!("arg{i}{variadic}: {text}\n"));
        }
        let ret = match &self.ret {
            RetPlan::Void => "void".to_string(),
            RetPlan::Direct(p) => parts(p, true),
            RetPlan::Indirect { pointer } => {
                format!("into memory whose address is passed in {}", loc(*pointer))
            }
            RetPlan::X87 { count } => {
                let regs: Vec<String> = (0..*count)
                    .map(|n| format!("st({n}) -> [{}..{}]", 16 * n, 16 * n + 10))
                    .collect();
                regs.join("; ")
            }
        };
        out.push_str(&format!("ret: {ret}\n"));
        out.push_str(&format!("stack: {} bytes", self.stack_bytes));
        if self.shadow_space > 0 {
            out.push_str(&format!(" + {} bytes of shadow space", self.shadow_space));
        }
        out.push('\n');
        if let Some(n) = self.vector_count {
            out.push_str(&format!("al: {n}\n"));
        }
        out
    }
}
