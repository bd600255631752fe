//! Fuzzes thunk emission on every convention: plans classified from arbitrary signatures,
//! and arbitrary plans within each convention's registers, go through `emit_thunk` (over
//! the block and over pointers) and `emit_tail_thunk`. Emitting must never panic; a
//! refusal must be an `Err`; whatever is emitted must decode, instruction by instruction,
//! to the last byte (iced-x86 for x86-64, yaxpeax-arm for AArch64), and end in a `ret`
//! (a tail thunk: in its jump to the target).

#![no_main]

#[path = "../common/mod.rs"]
mod common;

use arbitrary::Arbitrary;
use common::TypeTree;
use jitcall::internals::arch::{self, ArgSource, BlockLayout, CodeBuffer};
use jitcall::{Abi, Signature, Type};
use jitcall::{ArgPlan, CallPlan, Extension, Location, Part, RetPlan};
use libfuzzer_sys::fuzz_target;

const MAX_PARAMS: usize = 24;

#[derive(Debug, Arbitrary)]
enum Input {
    /// A signature, classified by each convention.
    Signature { ret: TypeTree, params: Vec<TypeTree> },
    /// A plan made up directly, for one convention.
    Plan { abi: u8, plan: PlanTree },
}

#[derive(Debug, Arbitrary)]
struct PlanTree {
    args: Vec<ArgTree>,
    ret: RetTree,
    /// Eightbytes of stack arguments.
    stack_words: u16,
    vector_count: Option<u8>,
}

#[derive(Debug, Arbitrary)]
enum ArgTree {
    Direct(Vec<PartTree>),
    Indirect(LocationTree),
}

#[derive(Debug, Arbitrary)]
enum RetTree {
    Void,
    Direct(Vec<PartTree>),
    Indirect(LocationTree),
}

#[derive(Debug, Arbitrary)]
struct PartTree {
    offset: u8,
    size: u8,
    dest: LocationTree,
    ext: u8,
    float: bool,
}

#[derive(Debug, Arbitrary)]
enum LocationTree {
    Gpr(u8),
    Fpr(u8),
    Stack(u16),
}

/// The registers a convention has for arguments (general, vector) and results.
struct Registers {
    arg_gprs: u8,
    arg_fprs: u8,
    ret_gprs: u8,
    ret_fprs: u8,
    shadow_space: u32,
}

fn registers(abi: Abi) -> Registers {
    match abi {
        Abi::SysV64 => {
            Registers { arg_gprs: 6, arg_fprs: 8, ret_gprs: 2, ret_fprs: 2, shadow_space: 0 }
        }
        Abi::Win64 => {
            Registers { arg_gprs: 4, arg_fprs: 4, ret_gprs: 1, ret_fprs: 1, shadow_space: 32 }
        }
        // x8 is the result address.
        // The flavours have AAPCS64's registers.
        Abi::Aapcs64 | Abi::Aapcs64Apple | Abi::Aapcs64Win => {
            Registers { arg_gprs: 9, arg_fprs: 8, ret_gprs: 2, ret_fprs: 4, shadow_space: 0 }
        }
    }
}

impl LocationTree {
    /// A location the convention has: registers modulo its count, stack slots inside the
    /// stack area (`None` when there is none).
    fn build(&self, gprs: u8, fprs: u8, stack_bytes: u32, ret: bool) -> Option<Location> {
        match *self {
            LocationTree::Gpr(n) if ret => Some(Location::RetGpr(n % gprs)),
            LocationTree::Gpr(n) => Some(Location::ArgGpr(n % gprs)),
            LocationTree::Fpr(n) => Some(Location::Fpr(n % fprs)),
            LocationTree::Stack(_) if stack_bytes == 0 => None,
            LocationTree::Stack(slot) => {
                Some(Location::Stack(8 * (u32::from(slot) % (stack_bytes / 8))))
            }
        }
    }
}

impl PartTree {
    /// A piece of 1 to 8 bytes (vector pieces: 4 or 8) inside an image of `image` bytes.
    fn build(&self, gprs: u8, fprs: u8, stack_bytes: u32, image: u32, ret: bool) -> Option<Part> {
        let dest = self.dest.build(gprs, fprs, stack_bytes, ret)?;
        let size = match dest {
            Location::Fpr(_) => [4, 8][usize::from(self.size % 2)],
            _ => 1 + self.size % 8,
        };
        let offset = u32::from(self.offset) % (image - 8 + 1);
        let ext = [Extension::None, Extension::Sign, Extension::Zero][usize::from(self.ext % 3)];
        Some(Part {
            offset,
            size,
            dest,
            ext,
            float: matches!(dest, Location::Fpr(_)) && self.float,
        })
    }
}

/// Every image in a made-up plan is this big (so every piece fits), 16-byte aligned.
const IMAGE: u32 = 32;

impl PlanTree {
    fn build(&self, abi: Abi) -> Option<(CallPlan, BlockLayout)> {
        let regs = registers(abi);
        let stack_bytes = 8 * u32::from(self.stack_words % 1024);
        let arg_part =
            |p: &PartTree| p.build(regs.arg_gprs, regs.arg_fprs, stack_bytes, IMAGE, false);
        let args = self
            .args
            .iter()
            .take(MAX_PARAMS)
            .map(|arg| match arg {
                ArgTree::Direct(parts) => parts
                    .iter()
                    .take(8)
                    .map(arg_part)
                    .collect::<Option<Vec<_>>>()
                    .map(ArgPlan::Direct),
                ArgTree::Indirect(loc) => {
                    match loc.build(regs.arg_gprs, regs.arg_fprs, stack_bytes, false)? {
                        Location::Fpr(_) => None,
                        pointer => Some(ArgPlan::Indirect { pointer }),
                    }
                }
            })
            .collect::<Option<Vec<ArgPlan>>>()?;
        let ret = match &self.ret {
            RetTree::Void => RetPlan::Void,
            RetTree::Direct(parts) => RetPlan::Direct(
                parts
                    .iter()
                    .take(4)
                    .map(|p| match p.dest {
                        LocationTree::Stack(_) => None,
                        _ => p.build(regs.ret_gprs, regs.ret_fprs, 0, IMAGE, true),
                    })
                    .collect::<Option<Vec<_>>>()?,
            ),
            RetTree::Indirect(loc) => match loc.build(regs.arg_gprs, regs.arg_fprs, 0, false)? {
                pointer @ Location::ArgGpr(_) => RetPlan::Indirect { pointer },
                _ => return None,
            },
        };
        let offsets: Vec<u32> = (0..args.len() as u32).map(|i| IMAGE * i).collect();
        let size = IMAGE * args.len() as u32;
        let plan = CallPlan {
            abi,
            args,
            ret,
            stack_bytes,
            shadow_space: regs.shadow_space,
            vector_count: if abi == Abi::SysV64 { self.vector_count.map(|n| n % 9) } else { None },
        };
        Some((plan, BlockLayout { offsets, size, ret_size: IMAGE }))
    }
}

/// Emits every thunk of `plan` (block, pointers, tail) and checks what comes out.
fn emit_and_decode(abi: Abi, plan: &CallPlan, block: &BlockLayout) {
    let mut code = CodeBuffer::new();
    if arch::emit_thunk(plan, ArgSource::Block(block), None, &mut code).is_ok() {
        check_code(abi, code.bytes(), plan, End::Ret);
    }
    let mut code = CodeBuffer::new();
    match arch::emit_tail_thunk(plan, &mut code) {
        Ok(()) => check_code(abi, code.bytes(), plan, End::Jump),
        Err(_) => assert!(
            !arch::tail_callable(plan) && code.bytes().is_empty(),
            "a tail thunk refused for a tail-callable plan, or half emitted: {plan:?}"
        ),
    }
    if !arch::pointers_fit(plan) {
        return; // the pointer thunk is only asked for plans that fit it (an assertion)
    }
    let mut code = CodeBuffer::new();
    let emitted = arch::emit_thunk(plan, ArgSource::Pointers, None, &mut code);
    if emitted.is_ok() {
        assert!(
            arch::pointers_fit(plan),
            "a pointer thunk for a plan that needs the block: {plan:?}"
        );
        check_code(abi, code.bytes(), plan, End::Ret);
    }
}

/// How a thunk must end: returning (block and pointer thunks), or jumping to the target
/// (tail thunks).
#[derive(Clone, Copy, PartialEq, Debug)]
enum End {
    Ret,
    Jump,
}

fn check_code(abi: Abi, bytes: &[u8], plan: &CallPlan, end: End) {
    match abi {
        Abi::SysV64 | Abi::Win64 => check_x86(bytes, plan, end),
        Abi::Aapcs64 | Abi::Aapcs64Apple | Abi::Aapcs64Win => check_aarch64(bytes, plan, end),
    }
}

fn check_x86(bytes: &[u8], plan: &CallPlan, end: End) {
    use iced_x86::{Code, Decoder, DecoderOptions, Mnemonic};
    let mut decoder = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE);
    let mut last = Mnemonic::INVALID;
    while decoder.can_decode() {
        let inst = decoder.decode();
        assert!(
            !inst.is_invalid() && inst.code() != Code::INVALID,
            "undecodable bytes at offset {:#x} of {bytes:02x?} for {plan:?}",
            inst.ip()
        );
        last = inst.mnemonic();
    }
    let want = if end == End::Ret { Mnemonic::Ret } else { Mnemonic::Jmp };
    assert_eq!(last, want, "the thunk does not end in {end:?}: {bytes:02x?} for {plan:?}");
}

fn check_aarch64(bytes: &[u8], plan: &CallPlan, end: End) {
    use yaxpeax_arch::{Decoder, U8Reader};
    use yaxpeax_arm::armv8::a64::InstDecoder;
    assert_eq!(bytes.len() % 4, 0, "AArch64 code of {} bytes for {plan:?}", bytes.len());
    let mut last = String::new();
    for word in bytes.chunks_exact(4) {
        let mut reader = U8Reader::new(word);
        match InstDecoder::default().decode(&mut reader) {
            Ok(inst) => last = inst.to_string(),
            Err(e) => panic!("{word:02x?} does not decode ({e:?}) in the thunk for {plan:?}"),
        }
    }
    let want = if end == End::Ret { "ret" } else { "br x16" };
    assert_eq!(last, want, "the thunk does not end in {end:?}, for {plan:?}");
}

fuzz_target!(|input: Input| match input {
    Input::Signature { ret, params } => {
        let ret = ret.build(0).unwrap_or(Type::VOID);
        let params: Vec<Type> = params.iter().take(MAX_PARAMS).filter_map(|t| t.build(0)).collect();
        // Big values passed in pieces make every run slow, and add nothing.
        if params.iter().fold(0usize, |sum, ty| sum.saturating_add(ty.size())) > 64 * 1024 {
            return;
        }
        for abi in Abi::ALL {
            let sig = Signature::new(abi, ret.clone(), params.clone());
            if let (Ok(plan), Ok(block)) = (arch::classify(&sig), BlockLayout::new(&sig)) {
                emit_and_decode(abi, &plan, &block);
            }
        }
    }
    Input::Plan { abi, plan } => {
        let abi = Abi::ALL[usize::from(abi) % Abi::ALL.len()];
        if let Some((plan, block)) = plan.build(abi) {
            emit_and_decode(abi, &plan, &block);
        }
    }
});
