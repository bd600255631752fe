//! AArch64 AAPCS64 (`:aapcs64`), the Linux and BSD rules.
//!
//! Per the "Procedure Call Standard for the Arm 64-bit Architecture", §6.8 "Parameter
//! passing" (stages A to C) and §6.9 "Result return". Rule numbers below are those of the
//! editions before SVE; current editions number the same general-register and composite
//! rules C.9 and C.12-C.15.
//! - integers and pointers in x0-x7 (NGRN), float and double in v0-v7 (NSRN), then the
//!   stack (NSAA), in 8-byte slots aligned to max(8, the type's alignment).
//! - a homogeneous floating-point aggregate (HFA: 1 to 4 members of one float type, after
//!   flattening nested structs and arrays) takes one v-register per member if all fit; if
//!   not, it goes on the stack and NSRN becomes 8 (C.3).
//! - other composites of up to 16 bytes take 1 or 2 consecutive x-registers if both fit;
//!   if not, the stack, and NGRN becomes 8 (C.11). Larger composites are copied by the
//!   caller and passed as a pointer (B.4).
//! - results: x0/x1, v0-v3 for HFAs, or memory whose address the caller passes in x8.
//! - narrow integers: the callee may not rely on the upper bits, but jitcall extends them
//!   (sign or zero) to 64 bits, as Apple's variant requires of callers.
//! - the wide scalars ([`Wide`]): `long double` (binary128) in a whole q-register, HFAs of
//!   up to four of them, complex numbers as two-member HFAs; 16-byte-aligned values
//!   (int128, composites holding one) in an even x-register pair or a 16-aligned stack slot.

use crate::arch::{stack_add, Convention, Descriptor, Isa, Placement};
use crate::error::{Error, Result};
use crate::plan::{ArgPlan, Extension, Location, Part, RetPlan};
use crate::signature::{Abi, Signature};
use crate::types::{Prim, Type, Wide};

/// AAPCS64's register facts: x0-x7 and v0-v7 for arguments, x8 for the result's address.
pub const DESCRIPTOR: Descriptor = Descriptor {
    abi: Abi::Aapcs64,
    isa: Isa::Aarch64,
    arg_gprs: &[0, 1, 2, 3, 4, 5, 6, 7, XR],
    ret_gprs: &[0, 1],
    arg_fprs: FPRS,
    shadow_space: 0,
    vector_count_in_al: false,
    callee_saved_gprs: &[19, 20, 21, 22, 23, 24, 25, 26, 27, 28],
    callee_saved_fprs: 8..16,
};

/// The general registers arguments take in turn (NGRN's limit): x0-x7, not x8.
const GPRS: u8 = 8;
const FPRS: u8 = 8;
/// The indirect result location register.
pub const XR: u8 = 8;

/// The policy hooks by which a flavour of AAPCS64 (Apple's arm64, Windows on ARM64)
/// departs from the standard's stage C. Each default is the standard's rule, as Linux
/// follows it; a flavour overrides only what its platform changes.
pub trait Flavour: Sync + std::fmt::Debug {
    /// The flavour's register facts (the registers are AAPCS64's; the [`Abi`] is its own).
    fn descriptor(&self) -> &'static Descriptor;

    /// The stack slot of an argument of type `ty` (C.12-C.16): its size rounded up to 8
    /// bytes, at an address aligned to max(8, its alignment). Apple packs arguments at
    /// their natural size and alignment instead.
    fn stack_slot(&self, ty: &Type) -> StackSlot {
        StackSlot { size: ty.size().next_multiple_of(8), align: ty.align().max(8) }
    }

    /// How a narrow integer is widened to its register or slot. The standard leaves the
    /// upper bits unspecified; jitcall extends to 64 bits, which also meets Apple's rule
    /// (the caller extends to 32).
    fn extension(&self, p: Prim) -> Extension {
        extension(p)
    }

    /// Places a variadic argument: by the standard, like a fixed one. (Apple puts every
    /// variadic argument on the stack; Windows passes variadic floats and HFAs in
    /// general registers, splitting a composite between x7 and the stack.)
    ///
    /// # Errors
    /// A stack area past what can be addressed.
    fn variadic_arg(&self, alloc: &mut Allocator<'_>, ty: &Type) -> Result<ArgPlan> {
        alloc.arg(ty)
    }

    /// Whether a 16-byte-aligned value of up to 16 bytes (an `__int128`, a composite holding
    /// one) first rounds NGRN up to even (C.8), so that it takes an even x-register pair.
    /// The standard and Windows: yes. Apple: no (clang's DarwinPCS gives the `__int128` of
    /// `f(char, __int128)` x1:x2); it still never splits one between x7 and the stack.
    fn pairs_start_even(&self) -> bool {
        true
    }

    /// Whether the variadic rules cover a variadic function's fixed parameters too. The
    /// standard and Apple: no, fixed parameters are placed as in any call. Windows on
    /// ARM64: yes (clang and MSVC pass even a fixed `double` of a variadic function in x0).
    fn variadic_rules_cover_fixed_params(&self) -> bool {
        false
    }

    /// Checks what the flavour cannot express before anything is placed: by the standard,
    /// nothing.
    ///
    /// # Errors
    /// A signature the flavour refuses (say, a `long double` that is not its own).
    fn check(&self, sig: &Signature) -> Result<()> {
        let _ = sig;
        Ok(())
    }
}

/// True for a homogeneous floating-point aggregate or a lone floating-point scalar
/// (`float`, `double`, `long double`, a complex number): what takes vector registers.
pub fn is_homogeneous(ty: &Type) -> bool {
    wide_homogeneous(ty).is_some()
}

/// True when `ty` holds a `long double` (or a complex one) anywhere.
fn holds_long_double(ty: &Type) -> bool {
    match ty {
        Type::Prim(_) => false,
        Type::Wide(w) => matches!(w, Wide::LongDouble | Wide::ComplexLongDouble),
        Type::Struct(s) | Type::Union(s) => s.fields().iter().any(|f| holds_long_double(&f.ty)),
        Type::Array(a) => holds_long_double(&a.elem),
    }
}

/// The check of a flavour whose `long double` is a plain `double` (Apple arm64, Windows
/// on ARM64): `:long-double` is the host C compiler's type, so on a host whose `long
/// double` is wider (Linux, the BSDs: binary128 or x87) its values cannot be passed as
/// that flavour's `long double`. Such a signature is refused with the type to use.
///
/// # Errors
/// A `long double` of more than 8 bytes in an argument or the result.
pub fn long_double_is_double(sig: &Signature) -> Result<()> {
    if Type::Wide(Wide::LongDouble).size() == 8 {
        return Ok(());
    }
    let types = sig.params.iter().map(Some).enumerate().chain([(usize::MAX, None)]);
    for (i, ty) in types {
        let (arg, ty, which) = match ty {
            Some(ty) => (Some(i), ty, format!("argument {i}")),
            None => (None, &sig.ret, "the return type".to_string()),
        };
        if holds_long_double(ty) {
            return Err(Error::unsupported(
                arg,
                format!(
                    "{which} holds a :long-double, which is this host's {}-byte long double, \
                     but under {} `long double` is `double`: use :double (and \
                     :complex-double for a complex long double)",
                    Type::Wide(Wide::LongDouble).size(),
                    sig.abi
                ),
            ));
        }
    }
    Ok(())
}

/// Where on the stack an argument goes: `size` bytes at an address aligned to `align`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackSlot {
    /// Bytes the argument takes (the next one starts after them, aligned as it needs).
    pub size: usize,
    /// The alignment of the slot's address.
    pub align: usize,
}

/// The base type and member count of a homogeneous floating-point aggregate.
fn hfa(ty: &Type) -> Option<(Prim, usize)> {
    if !matches!(ty, Type::Struct(_) | Type::Union(_)) {
        return None;
    }
    let (base, count) = float_members(ty)?;
    // Members must fill the aggregate exactly: no padding (as gcc checks).
    (count * base.size() == ty.size()).then_some((base, count))
}

/// gcc's `aapcs_vfp_sub_candidate`: the one float type of every member after flattening
/// structs and arrays, and how many members there are, if that is 1 to 4.
///
/// A zero-length array (`@[T]`) anywhere makes the aggregate no HFA, as with gcc (whose
/// zero-length arrays have no upper bound). An array's element is looked at once, so this
/// costs time in proportion to the type's description, not to its element counts.
fn float_members(ty: &Type) -> Option<(Prim, usize)> {
    const MAX_MEMBERS: usize = 4;
    let (base, count) = match ty {
        Type::Prim(p) if p.is_float() => (*p, 1),
        Type::Prim(_) | Type::Wide(_) => return None,
        Type::Array(a) if a.len == 0 => return None,
        Type::Array(a) => {
            let (base, count) = float_members(&a.elem)?;
            (base, count.checked_mul(a.len)?)
        }
        Type::Struct(s) => {
            let mut members: Option<(Prim, usize)> = None;
            for field in s.fields() {
                let (base, count) = float_members(&field.ty)?;
                members = match members {
                    None => Some((base, count)),
                    Some((b, n)) if b == base => Some((b, n + count)),
                    Some(_) => return None,
                };
            }
            members?
        }
        // gcc: every field a candidate of the one float type; the union counts as its
        // largest field (the caller's size check then rules out padding).
        Type::Union(s) => {
            let mut members: Option<(Prim, usize)> = None;
            for field in s.fields() {
                let (base, count) = float_members(&field.ty)?;
                members = match members {
                    None => Some((base, count)),
                    Some((b, n)) if b == base => Some((b, n.max(count))),
                    Some(_) => return None,
                };
            }
            members?
        }
    };
    (count <= MAX_MEMBERS).then_some((base, count))
}

fn extension(p: Prim) -> Extension {
    match p {
        _ if p.size() >= 8 || p.is_float() => Extension::None,
        _ if p.is_signed() => Extension::Sign,
        _ => Extension::Zero,
    }
}

/// The value's bytes in 8-byte pieces, the n-th piece sent to `dest(n)`.
fn chunks(size: usize, mut dest: impl FnMut(u32) -> Location) -> Vec<Part> {
    let size = size as u32;
    (0..size.div_ceil(8))
        .map(|i| Part {
            offset: 8 * i,
            size: (size - 8 * i).min(8) as u8,
            dest: dest(i),
            ext: Extension::None,
            float: false,
        })
        .collect()
}

/// One member per vector register, from `first`.
fn hfa_parts(base: Prim, count: usize, first: u8) -> Vec<Part> {
    (0..count)
        .map(|i| Part {
            offset: (i * base.size()) as u32,
            size: base.size() as u8,
            dest: Location::Fpr(first + i as u8),
            ext: Extension::None,
            float: true,
        })
        .collect()
}

fn too_much_stack() -> Error {
    Error::stack_unaddressable()
}

/// The running state of stage C, for a flavour.
#[derive(Debug)]
pub struct Allocator<'f> {
    flavour: &'f dyn Flavour,
    /// The next general register (NGRN).
    ngrn: u8,
    /// The next vector register (NSRN).
    nsrn: u8,
    /// The next stacked argument address (NSAA).
    nsaa: u32,
}

impl Allocator<'_> {
    /// C.12 / C.4: the next stack slot for a value of type `ty`, as the flavour lays
    /// slots out.
    ///
    /// # Errors
    /// A stack area past `u32::MAX` bytes.
    fn stack(&mut self, ty: &Type) -> Result<u32> {
        self.stack_slot(self.flavour.stack_slot(ty))
    }

    /// The next stack slot of this size and alignment (NSAA rounded up, then advanced).
    ///
    /// # Errors
    /// A stack area past `u32::MAX` bytes.
    pub fn stack_slot(&mut self, StackSlot { size, align }: StackSlot) -> Result<u32> {
        let align = u32::try_from(align).map_err(|_| too_much_stack())?;
        let at = self.nsaa.checked_next_multiple_of(align).ok_or_else(too_much_stack)?;
        self.nsaa = stack_add(at, size)?;
        Ok(at)
    }

    /// The next general argument register, if one is left (NGRN advanced).
    pub fn take_gpr(&mut self) -> Option<u8> {
        (self.ngrn < GPRS).then(|| {
            self.ngrn += 1;
            self.ngrn - 1
        })
    }

    /// C.8: rounds NGRN up to an even register (for a 16-byte-aligned value).
    pub fn align_gprs_to_even(&mut self) {
        self.ngrn = self.ngrn.next_multiple_of(2).min(GPRS);
    }

    /// The value's bytes in the standard's 8-byte stack words, from a slot aligned to
    /// max(8, its alignment), whatever the flavour does with fixed arguments (a narrow
    /// integer extended as the flavour says).
    ///
    /// # Errors
    /// A stack area past `u32::MAX` bytes.
    pub fn on_stack_in_words(&mut self, ty: &Type) -> Result<ArgPlan> {
        let slot = StackSlot { size: ty.size().next_multiple_of(8), align: ty.align().max(8) };
        let at = self.stack_slot(slot)?;
        let mut parts = chunks(ty.size(), |i| Location::Stack(at + 8 * i));
        if let (Type::Prim(p), [part]) = (ty, parts.as_mut_slice()) {
            part.ext = self.flavour.extension(*p);
        }
        Ok(ArgPlan::Direct(parts))
    }

    /// B.4: a copy made by the caller, passed by its address (in the next x-register,
    /// else on the stack).
    ///
    /// # Errors
    /// A stack area past `u32::MAX` bytes.
    pub fn by_reference(&mut self) -> Result<ArgPlan> {
        Ok(ArgPlan::Indirect { pointer: self.integer_slot(&Type::Prim(Prim::Ptr))? })
    }

    /// The value's bytes on the stack, in 8-byte pieces from its slot (a narrow integer
    /// extended as the flavour says).
    ///
    /// # Errors
    /// A stack area past `u32::MAX` bytes.
    pub fn on_stack(&mut self, ty: &Type) -> Result<ArgPlan> {
        let at = self.stack(ty)?;
        let mut parts = chunks(ty.size(), |i| Location::Stack(at + 8 * i));
        if let (Type::Prim(p), [part]) = (ty, parts.as_mut_slice()) {
            part.ext = self.flavour.extension(*p);
        }
        Ok(ArgPlan::Direct(parts))
    }

    /// Places an argument by stage C (C.1-C.16).
    ///
    /// # Errors
    /// A stack area past `u32::MAX` bytes.
    pub fn arg(&mut self, ty: &Type) -> Result<ArgPlan> {
        if let Some(plan) = self.wide_arg(ty)? {
            return Ok(plan);
        }
        let size = ty.size();
        let plan = match ty {
            Type::Prim(p) if p.is_float() => {
                // C.1, else C.5/C.6: an 8-byte stack slot.
                let dest = if self.nsrn < FPRS {
                    self.nsrn += 1;
                    Location::Fpr(self.nsrn - 1)
                } else {
                    Location::Stack(self.stack(ty)?)
                };
                let float = matches!(dest, Location::Fpr(_));
                ArgPlan::Direct(vec![Part {
                    offset: 0,
                    size: size as u8,
                    dest,
                    ext: Extension::None,
                    float,
                }])
            }
            Type::Prim(p) => {
                // C.7, else C.14/C.15.
                let dest = self.integer_slot(ty)?;
                ArgPlan::Direct(vec![Part {
                    offset: 0,
                    size: size as u8,
                    dest,
                    ext: self.flavour.extension(*p),
                    float: false,
                }])
            }
            _ => match hfa(ty) {
                Some((base, count)) if self.nsrn as usize + count <= FPRS as usize => {
                    // C.2: each member in its own register.
                    let parts = hfa_parts(base, count, self.nsrn);
                    self.nsrn += count as u8;
                    ArgPlan::Direct(parts)
                }
                Some(_) => {
                    // C.3, C.4, C.6: no more vector arguments; the stack, naturally aligned.
                    self.nsrn = FPRS;
                    self.on_stack(ty)?
                }
                None if size > 16 => {
                    // B.4: a copy made by the caller, passed by its address.
                    ArgPlan::Indirect { pointer: self.integer_slot(&Type::Prim(Prim::Ptr))? }
                }
                None => {
                    let dwords = size.div_ceil(8) as u8;
                    if self.ngrn + dwords <= GPRS {
                        // C.10: consecutive x-registers.
                        let first = self.ngrn;
                        self.ngrn += dwords;
                        ArgPlan::Direct(chunks(size, |i| Location::ArgGpr(first + i as u8)))
                    } else {
                        // C.11-C.13: no more x-registers; the stack.
                        self.ngrn = GPRS;
                        self.on_stack(ty)?
                    }
                }
            },
        };
        Ok(plan)
    }

    /// An integral or pointer value of type `ty`: the next x-register, else its stack
    /// slot.
    fn integer_slot(&mut self, ty: &Type) -> Result<Location> {
        if self.ngrn < GPRS {
            self.ngrn += 1;
            Ok(Location::ArgGpr(self.ngrn - 1))
        } else {
            Ok(Location::Stack(self.stack(ty)?))
        }
    }
}

/// §6.9: where a result of this type comes back.
fn result(ty: &Type) -> RetPlan {
    if let Some(plan) = wide_result(ty) {
        return plan;
    }
    let size = ty.size();
    match ty {
        _ if ty.is_void() => RetPlan::Void,
        Type::Prim(p) => RetPlan::Direct(vec![Part {
            offset: 0,
            size: size as u8,
            dest: if p.is_float() { Location::Fpr(0) } else { Location::RetGpr(0) },
            ext: Extension::None,
            float: p.is_float(),
        }]),
        _ => match hfa(ty) {
            Some((base, count)) => RetPlan::Direct(hfa_parts(base, count, 0)),
            None if size > 16 => RetPlan::Indirect { pointer: Location::ArgGpr(XR) },
            None => RetPlan::Direct(chunks(size, |i| Location::RetGpr(i as u8))),
        },
    }
}

// ---------------------------------------------------------------------------------------
// The wide scalars (long double, the 128-bit integers, the complex numbers) and the
// composites that hold one. Kept apart from the rules above, which never see them.

impl Allocator<'_> {
    /// Where a [`Wide`] scalar or a composite holding one goes, or `None` for any other
    /// type. AAPCS64 (Linux): `long double` is binary128, a quad-precision float: C.1 puts
    /// it in a whole q-register, C.5 on the stack at a 16-aligned NSAA. A homogeneous
    /// aggregate of up to four quads (or floats or doubles, counting a complex number as
    /// two of its part) takes one v-register per member (C.2), else closes the v-registers
    /// and goes on the stack (C.3-C.6). Anything else of up to 16 bytes whose alignment is
    /// 16 (the 128-bit integers, composites holding one or a `long double`) first rounds
    /// NGRN up to even (C.8, unless the flavour says not: [`Flavour::pairs_start_even`]),
    /// then takes an x-register pair (C.9 / C.10) or, when that
    /// does not fit, closes the x-registers and takes a 16-aligned stack slot (C.11-C.13);
    /// over 16 bytes, a copy passed by reference (B.4).
    ///
    /// # Errors
    /// A stack area past `u32::MAX` bytes.
    fn wide_arg(&mut self, ty: &Type) -> Result<Option<ArgPlan>> {
        if !ty.contains_wide() {
            return Ok(None);
        }
        let size = ty.size();
        let plan = match wide_homogeneous(ty) {
            Some((base, count)) if self.nsrn as usize + count <= FPRS as usize => {
                let parts = vector_parts(base, count, self.nsrn);
                self.nsrn += count as u8;
                ArgPlan::Direct(parts)
            }
            Some(_) => {
                self.nsrn = FPRS;
                let at = self.stack(ty)?;
                ArgPlan::Direct(chunks(size, |i| Location::Stack(at + 8 * i)))
            }
            None if size > 16 => {
                ArgPlan::Indirect { pointer: self.integer_slot(&Type::Prim(Prim::Ptr))? }
            }
            None => {
                if ty.align() >= 16 && self.flavour.pairs_start_even() {
                    self.ngrn = self.ngrn.next_multiple_of(2);
                }
                let dwords = size.div_ceil(8) as u8;
                if self.ngrn + dwords <= GPRS {
                    let first = self.ngrn;
                    self.ngrn += dwords;
                    ArgPlan::Direct(chunks(size, |i| Location::ArgGpr(first + i as u8)))
                } else {
                    self.ngrn = GPRS;
                    let at = self.stack(ty)?;
                    ArgPlan::Direct(chunks(size, |i| Location::Stack(at + 8 * i)))
                }
            }
        };
        Ok(Some(plan))
    }
}

/// §6.9 for a [`Wide`] scalar or a composite holding one (`None` for any other type): a
/// homogeneous aggregate (a lone `long double` too) in v0-v3, else x0/x1 up to 16 bytes,
/// else memory at x8.
fn wide_result(ty: &Type) -> Option<RetPlan> {
    if !ty.contains_wide() {
        return None;
    }
    Some(match wide_homogeneous(ty) {
        Some((base, count)) => RetPlan::Direct(vector_parts(base, count, 0)),
        None if ty.size() > 16 => RetPlan::Indirect { pointer: Location::ArgGpr(XR) },
        None => RetPlan::Direct(chunks(ty.size(), |i| Location::RetGpr(i as u8))),
    })
}

/// The member size (4, 8 or 16 bytes: float, double, quad) and count of a homogeneous
/// floating-point aggregate, a lone `long double` or a complex number included.
fn wide_homogeneous(ty: &Type) -> Option<(usize, usize)> {
    let (base, count) = fp_members(ty)?;
    // Members must fill the type exactly: no padding.
    (count * base == ty.size()).then_some((base, count))
}

/// [`float_members`] over the wide scalars too, with float types told apart by size (a
/// `long double` that is a `double`, as on Apple, counts as one). A complex number is two
/// members of its part's type (§5.9.5.1, and gcc's `aapcs_vfp_sub_candidate`).
fn fp_members(ty: &Type) -> Option<(usize, usize)> {
    const MAX_MEMBERS: usize = 4;
    let (base, count) = match ty {
        Type::Prim(p) if p.is_float() => (p.size(), 1),
        Type::Prim(_) => return None,
        Type::Wide(Wide::LongDouble) => (ty.size(), 1),
        Type::Wide(w) => (fp_members(&w.complex_part()?)?.0, 2),
        Type::Array(a) if a.len == 0 => return None,
        Type::Array(a) => {
            let (base, count) = fp_members(&a.elem)?;
            (base, count.checked_mul(a.len)?)
        }
        Type::Struct(s) | Type::Union(s) => {
            let union = matches!(ty, Type::Union(_));
            let mut members: Option<(usize, usize)> = None;
            for field in s.fields() {
                let (base, count) = fp_members(&field.ty)?;
                members = match members {
                    None => Some((base, count)),
                    // A union counts as its largest member.
                    Some((b, n)) if b == base && union => Some((b, n.max(count))),
                    Some((b, n)) if b == base => Some((b, n + count)),
                    Some(_) => return None,
                };
            }
            members?
        }
    };
    (count <= MAX_MEMBERS).then_some((base, count))
}

/// One member of `base` bytes per vector register, from `first`.
fn vector_parts(base: usize, count: usize, first: u8) -> Vec<Part> {
    (0..count)
        .map(|i| Part {
            offset: (i * base) as u32,
            size: base as u8,
            dest: Location::Fpr(first + i as u8),
            ext: Extension::None,
            float: true,
        })
        .collect()
}

/// AAPCS64 as Linux and the BSDs use it: the standard's rules with no flavour's changes.
#[derive(Debug)]
pub struct Linux;

impl Flavour for Linux {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }
}

/// The AAPCS64 convention of Linux and the BSDs (`:aapcs64`).
pub static AAPCS64: Aapcs64<Linux> = Aapcs64(Linux);

/// The AAPCS64 convention: stage C of the standard, with a flavour's policy hooks.
#[derive(Debug)]
pub struct Aapcs64<F>(pub F);

impl<F: Flavour> Convention for Aapcs64<F> {
    fn descriptor(&self) -> &'static Descriptor {
        self.0.descriptor()
    }

    fn place(&self, sig: &Signature) -> Result<Placement> {
        self.0.check(sig)?;
        let mut alloc = Allocator { flavour: &self.0, ngrn: 0, nsrn: 0, nsaa: 0 };
        let args = (sig.params.iter().enumerate())
            .map(|(i, ty)| {
                let by_variadic_rules = sig.is_variadic_arg(i)
                    || (sig.is_variadic() && self.0.variadic_rules_cover_fixed_params());
                match by_variadic_rules {
                    true => self.0.variadic_arg(&mut alloc, ty),
                    false => alloc.arg(ty),
                }
            })
            .collect::<Result<_>>()?;
        // A flavour that packs stack arguments by their natural size pads the area to 8.
        let stack_bytes = alloc.nsaa.checked_next_multiple_of(8).ok_or_else(too_much_stack)?;
        Ok(Placement { args, ret: result(&sig.ret), stack_bytes })
    }
}

/// The flavour hooks are what stage C consults: a flavour that packs stack slots by
/// natural size and puts variadic arguments on the stack (Apple's two changes) places
/// accordingly, and the standard's flavour does not.
#[cfg(test)]
mod flavour_tests {
    use super::*;

    #[derive(Debug)]
    struct Packed;

    impl Flavour for Packed {
        fn descriptor(&self) -> &'static Descriptor {
            &DESCRIPTOR
        }
        fn stack_slot(&self, ty: &Type) -> StackSlot {
            StackSlot { size: ty.size(), align: ty.align() }
        }
        fn variadic_arg(&self, alloc: &mut Allocator<'_>, ty: &Type) -> Result<ArgPlan> {
            alloc.on_stack(ty)
        }
    }

    fn stack_offsets(placement: &Placement) -> Vec<u32> {
        let parts = placement.args.iter().flat_map(|arg| match arg {
            ArgPlan::Direct(parts) => parts.clone(),
            ArgPlan::Indirect { .. } => vec![],
        });
        parts
            .filter_map(|part| match part.dest {
                Location::Stack(at) => Some(at),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn stack_slots_follow_the_flavour() {
        let p = Type::Prim;
        let mut params: Vec<Type> = (0..8).map(|_| p(Prim::I64)).collect();
        params.extend([p(Prim::I8), p(Prim::I16), p(Prim::I32)]);
        let sig = Signature::new(Abi::Aapcs64, Type::VOID, params);
        let linux = AAPCS64.place(&sig).unwrap();
        assert_eq!((stack_offsets(&linux), linux.stack_bytes), (vec![0, 8, 16], 24));
        let packed = Aapcs64(Packed).place(&sig).unwrap();
        assert_eq!((stack_offsets(&packed), packed.stack_bytes), (vec![0, 2, 4], 8));
        // Still extended as the flavour says.
        let ArgPlan::Direct(parts) = &packed.args[9] else { panic!() };
        assert_eq!(parts[0].ext, Extension::Sign);
    }

    #[test]
    fn variadic_arguments_follow_the_flavour() {
        let p = Type::Prim;
        let sig = Signature::variadic(
            Abi::Aapcs64,
            p(Prim::I32),
            vec![p(Prim::Ptr)],
            vec![p(Prim::I32), p(Prim::F64)],
        );
        let linux = AAPCS64.place(&sig).unwrap();
        assert!(stack_offsets(&linux).is_empty());
        let packed = Aapcs64(Packed).place(&sig).unwrap();
        assert_eq!(stack_offsets(&packed), [0, 8]);
        assert_eq!(packed.stack_bytes, 16);
    }
}
