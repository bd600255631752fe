//! Types whose descriptions are small but whose element counts or sizes are huge, and
//! zero-length array members: classification costs what the description costs, sizes
//! never wrap, huge values are refused with errors, and zero-length members are placed
//! as gcc places them.

mod common;

use jitcall::internals::arch::{self, BlockLayout, MAX_BY_VALUE_BYTES};
use jitcall::limits::MAX_EMPTY_VALUES;
use jitcall::{ffi, syntax, Abi, Buffer, Signature, Type, Value};
use jitcall::{ArgPlan, CallPlan, Extension, Location, Part, RetPlan};

fn ty(text: &str) -> Type {
    let value = syntax::read(text).unwrap_or_else(|e| panic!("reading {text}: {e}"));
    ffi::native_type(&value).unwrap_or_else(|e| panic!("type {text}: {e}"))
}

fn val(text: &str) -> Value {
    syntax::read(text).unwrap_or_else(|e| panic!("reading {text}: {e}"))
}

fn classify(abi: Abi, ret: &str, params: &[&str]) -> jitcall::Result<CallPlan> {
    let sig = Signature::new(abi, ty(ret), params.iter().map(|p| ty(p)).collect());
    arch::classify(&sig)
}

fn plan(abi: Abi, ret: &str, params: &[&str]) -> CallPlan {
    classify(abi, ret, params).unwrap_or_else(|e| panic!("{abi} {ret} {params:?}: {e}"))
}

fn part(offset: u32, size: u8, dest: Location) -> Part {
    Part { offset, size, dest, ext: Extension::None, float: false }
}

fn fpart(offset: u32, size: u8, dest: Location) -> Part {
    Part { float: true, ..part(offset, size, dest) }
}

use Location::{ArgGpr, Fpr, RetGpr};

// ---------------------------------------------------------------------------------------
// Class 5: the cost of classifying follows the description, not the element counts.

/// 2^62 zero-size elements in a 4-byte struct (the old code visited every one of them).
const HUGE_COUNT: &str = "[:float @[@[@[:float] 2147483647] 2147483647]]";

#[test]
fn plans_of_huge_count_zero_size_arrays_finish() {
    for abi in Abi::ALL {
        let as_arg = plan(abi, ":void", &[HUGE_COUNT]);
        let as_ret = plan(abi, HUGE_COUNT, &[]);
        let (arg, ret) = match abi {
            // gcc: the zero-length array at offset 4 counts with its element's class.
            Abi::SysV64 => (fpart(0, 4, Fpr(0)), fpart(0, 4, Fpr(0))),
            Abi::Win64 => (part(0, 4, ArgGpr(0)), part(0, 4, RetGpr(0))),
            // gcc: a zero-length array makes it no HFA, so general registers.
            Abi::Aapcs64 | Abi::Aapcs64Apple | Abi::Aapcs64Win => {
                (part(0, 4, ArgGpr(0)), part(0, 4, RetGpr(0)))
            }
        };
        assert_eq!(as_arg.args, [ArgPlan::Direct(vec![arg])], "{abi}");
        assert_eq!(as_ret.ret, RetPlan::Direct(vec![ret]), "{abi}");
    }
    // The same inside arrays of structs, nested deeper.
    let nested = format!("[@[{HUGE_COUNT} 3] @[@[[@[@[:int] 2147483647]] 2147483647] 2]]");
    for abi in Abi::ALL {
        assert!(classify(abi, &nested, &[&nested]).is_ok(), "{abi}");
    }
}

#[test]
fn huge_count_types_go_through_every_entry_point() {
    let host = Abi::host().expect("a host convention");
    let sig = ffi::signature(host, ty(HUGE_COUNT), vec![ty(HUGE_COUNT)]).unwrap();
    assert_eq!(sig.plan().args.len(), 1);
    let callback = ffi::callback_native(host, ty(HUGE_COUNT), vec![ty(HUGE_COUNT)], |_, _| Ok(()));
    assert!(callback.is_ok());
    // The tool's `plan` and `layout` commands.
    let tool = env!("CARGO_BIN_EXE_jitcall");
    for args in [vec!["plan", ":void", HUGE_COUNT], vec!["layout", HUGE_COUNT]] {
        let out = common::runner::command(tool).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A callback over values decodes its arguments when C calls it: a parameter or result that
/// could not be read (countless empty parts) is refused when the callback is made.
#[test]
fn value_callbacks_refuse_types_they_could_not_read() {
    let host = Abi::host().expect("a host convention");
    for (ret, params) in [(":void", vec![HUGE_COUNT]), (HUGE_COUNT, vec![])] {
        let params = params.into_iter().map(ty).collect();
        let err = ffi::callback(host, ty(ret), params, |_| Ok(Value::Nil)).unwrap_err();
        assert!(err.to_string().contains("empty values"), "{err}");
    }
}

#[test]
fn leaves_of_zero_size_parts_are_not_visited_one_by_one() {
    let mut leaves = Vec::new();
    ty(HUGE_COUNT).for_each_leaf(0, &mut |p, offset| leaves.push((p, offset)));
    assert_eq!(leaves, [(jitcall::Prim::F32, 0)]);
}

// ---------------------------------------------------------------------------------------
// Class 6: sizes never wrap; by-value values have one documented limit.

#[test]
fn results_that_would_wrap_the_result_block_are_refused() {
    // 4294967281 and 4294967295 bytes: rounding up to 16 wrapped to a 0-byte block.
    let wrapping = ["[@[@[:u8 65536] 65535] @[:u8 65521]]", "[@[@[:u8 65535] 65537]]"];
    assert_eq!(ty(wrapping[0]).size(), 4_294_967_281);
    assert_eq!(ty(wrapping[1]).size(), 4_294_967_295);
    for abi in Abi::ALL {
        for big in wrapping {
            let err = classify(abi, big, &[]).unwrap_err().to_string();
            assert!(err.starts_with("the return type is too large to pass by value"), "{err}");
            let err = classify(abi, ":void", &[big]).unwrap_err().to_string();
            assert!(err.starts_with("argument 0 is too large to pass by value"), "{err}");
        }
    }
}

#[test]
fn the_by_value_limit_is_one_mebibyte() {
    assert_eq!(MAX_BY_VALUE_BYTES, 1 << 20);
    let at_limit = format!("[@[:u8 {MAX_BY_VALUE_BYTES}]]");
    let past_limit = format!("[@[:u8 {}]]", MAX_BY_VALUE_BYTES + 1);
    // A 100 MB struct result took gigabytes and seconds to make and read back.
    let hundred_mb = "[@[:u8 100000000]]";
    for abi in Abi::ALL {
        plan(abi, &at_limit, &[&at_limit]);
        let sig = Signature::new(abi, ty(&at_limit), vec![ty(&at_limit)]);
        assert_eq!(BlockLayout::new(&sig).unwrap().ret_size as usize, MAX_BY_VALUE_BYTES);
        for big in [past_limit.as_str(), hundred_mb] {
            let err = classify(abi, big, &[]).unwrap_err().to_string();
            assert!(err.contains("more than the 1048576 a value may have"), "{err}");
        }
    }
    let sig = Signature::new(Abi::SysV64, ty("[@[@[:u8 65535] 65537]]"), vec![]);
    assert!(BlockLayout::new(&sig).is_err());
}

// ---------------------------------------------------------------------------------------
// Class 7: huge types give errors, not aborts.

#[test]
fn writing_a_value_that_does_not_fit_a_huge_type_allocates_nothing() {
    // 4.6e18 bytes: the image was allocated before the value was looked at.
    let huge = ty("@[@[:u8 2147483647] 2147483647]");
    let err = ffi::write(&huge, &val("@[]"), None, None).unwrap_err().to_string();
    assert_eq!(err, "bad slot #1 (data), bad array length, expected 2147483647, got 0");
    let huge_struct = ty("[:int @[@[:u8 2147483647] 2147483647]]");
    let buffer = Buffer::from_vec(b"abc".to_vec());
    let err = ffi::write(&huge_struct, &val("[1 @[]]"), Some(&buffer), None).unwrap_err();
    assert!(err.to_string().contains("bad array length"), "{err}");
    assert_eq!(buffer.to_vec(), b"abc");
    // A conversion error anywhere leaves the buffer as it was, as before.
    let err = ffi::write(&ty("[:u8 :int]"), &val("[1 1.5]"), Some(&buffer), Some(1)).unwrap_err();
    assert!(err.to_string().contains("expected 32 bit signed integer"), "{err}");
    assert_eq!(buffer.to_vec(), b"abc");
    // What fits is written as before.
    let out = ffi::write(&ty("[:u8 @[:int] :u16]"), &val("[1 @[] 515]"), None, None).unwrap();
    assert_eq!(out.to_vec(), [1, 0, 0, 0, 3, 2, 0, 0]);
}

#[test]
fn reading_huge_arrays_of_zero_size_elements_is_an_error() {
    for text in ["@[@[:int] 2147483647]", HUGE_COUNT, "[:u8 @[[@[:int]] 1048576]]"] {
        let t = ty(text);
        assert!(t.empty_values() > MAX_EMPTY_VALUES, "{text}");
        let bytes = vec![0u8; t.size()];
        let err = ffi::read(&t, &bytes, 0).unwrap_err().to_string();
        assert!(err.contains("would make more than 1048576 empty values"), "{text}: {err}");
        let image = Buffer::from_vec(bytes);
        // SAFETY: the buffer holds the type's size in bytes, and the type has no :string.
        let err = unsafe { ffi::read_ptr(&t, image.data_ptr(), 0) }.unwrap_err();
        assert!(err.to_string().contains("empty values"), "{text}: {err}");
    }
    // Within the limit they read as before.
    let t = ty("@[@[:int] 1000]");
    assert_eq!(t.empty_values(), 1001);
    let Value::Array(items) = ffi::read(&t, &[], 0).unwrap() else { panic!("not an array") };
    assert_eq!(items.len(), 1000);
    assert!(items.iter().all(|v| *v == Value::Array(vec![])));
    assert_eq!(ty("[:u8 @[:int] [@[:int]]]").empty_values(), 3);
    assert_eq!(ty("@[[:u8 @[:int]] 5]").empty_values(), 5);
}

#[test]
fn calls_whose_result_cannot_be_read_are_refused_before_the_call() {
    let Some(host) = Abi::host() else { return };
    let ret = ty(HUGE_COUNT);
    let target = ffi::callback_native(host, ret.clone(), vec![], |_, out| {
        // SAFETY: the result memory holds the result's 4 bytes.
        unsafe { out.write_bytes(0, 4) };
        Ok(())
    })
    .unwrap();
    let sig = ffi::signature(host, ret.clone(), vec![]).unwrap();
    // SAFETY: the target is a function of exactly this signature.
    let err = unsafe { ffi::call(target.code_ptr(), &sig, &[]) }.unwrap_err().to_string();
    assert!(err.contains("empty values"), "{err}");
    // The native path makes no values, and works.
    let mut out = [0xffu8; 4];
    // SAFETY: as above; `out` has room for the result.
    unsafe { sig.call_native(target.code_ptr(), &[], out.as_mut_ptr()) }.unwrap();
    assert_eq!(out, [0; 4]);
}

// ---------------------------------------------------------------------------------------
// Class 8: zero-length array members, placed as gcc 12 places them (from its assembly).

#[test]
fn sysv_counts_zero_length_members_as_gcc_does() {
    let sysv = |ret: &str| plan(Abi::SysV64, ret, &[]).ret;
    let direct = |parts: Vec<Part>| RetPlan::Direct(parts);
    // struct { float a; int b[0]; float c; }: b's INTEGER class merges into the eightbyte.
    assert_eq!(sysv("[:float @[:int] :float]"), direct(vec![part(0, 8, RetGpr(0))]));
    assert_eq!(sysv("[:float @[:int]]"), direct(vec![part(0, 4, RetGpr(0))]));
    assert_eq!(sysv("[:float [@[:int]] :float]"), direct(vec![part(0, 8, RetGpr(0))]));
    assert_eq!(sysv("[:float @[:float] :float]"), direct(vec![fpart(0, 8, Fpr(0))]));
    // struct { float a, b, c; int d[0]; }: xmm0, then eax.
    assert_eq!(
        sysv("[:float :float :float @[:int]]"),
        direct(vec![fpart(0, 8, Fpr(0)), part(8, 4, RetGpr(0))])
    );
    // On an eightbyte boundary a zero-length array touches nothing.
    assert_eq!(sysv("[:double @[:int]]"), direct(vec![fpart(0, 8, Fpr(0))]));
    assert_eq!(sysv("[:char @[:double]]"), direct(vec![part(0, 8, RetGpr(0))]));
    // struct { short a; int b[0] __attribute__((packed)); }: b is misaligned: memory.
    assert_eq!(sysv("[:short :pack @[:int]]"), RetPlan::Indirect { pointer: ArgGpr(0) });
    // gcc classifies an array's first element only: the misaligned float of the second
    // packed element does not make it memory.
    assert_eq!(
        sysv("[@[[:pack-all :float :u8] 2]]"),
        direct(vec![part(0, 8, RetGpr(0)), part(8, 2, RetGpr(1))])
    );
    // As an argument, the same classes.
    let arg = plan(Abi::SysV64, ":void", &["[:float @[:int] :float]", "[:double @[:int]]"]);
    assert_eq!(arg.args[0], ArgPlan::Direct(vec![part(0, 8, ArgGpr(0))]));
    assert_eq!(arg.args[1], ArgPlan::Direct(vec![fpart(0, 8, Fpr(0))]));
}

#[test]
fn aapcs64_zero_length_members_break_an_hfa_as_with_gcc() {
    let aapcs = |ret: &str| plan(Abi::Aapcs64, ret, &[]).ret;
    for text in [
        "[:float @[:float]]",
        "[:float @[:float] :float]",
        "[:float [@[:float]] :float]",
        "[@[:float 2] @[:float]]",
    ] {
        let size = ty(text).size() as u8;
        assert_eq!(aapcs(text), RetPlan::Direct(vec![part(0, size, RetGpr(0))]), "{text}");
        let arg = plan(Abi::Aapcs64, ":void", &[text]);
        assert_eq!(arg.args[0], ArgPlan::Direct(vec![part(0, size, ArgGpr(0))]), "{text}");
    }
    // Without the zero-length member: an HFA in v0 and v1.
    assert_eq!(
        aapcs("[:float :float]"),
        RetPlan::Direct(vec![fpart(0, 4, Fpr(0)), fpart(4, 4, Fpr(1))])
    );
}

#[test]
fn win64_places_zero_length_members_by_size_alone() {
    // __attribute__((ms_abi)): struct { short a; int b[0] __attribute__((packed)); } is 2
    // bytes, in eax; struct { float a; int b[0]; float c; } is 8, in rax.
    let win = |ret: &str| plan(Abi::Win64, ret, &[]).ret;
    assert_eq!(win("[:short :pack @[:int]]"), RetPlan::Direct(vec![part(0, 2, RetGpr(0))]));
    assert_eq!(win("[:float @[:int] :float]"), RetPlan::Direct(vec![part(0, 8, RetGpr(0))]));
    // struct { char a; double b[0]; } is 8 bytes: the array's alignment counts.
    assert_eq!(ty("[:char @[:double]]").size(), 8);
    assert_eq!(win("[:char @[:double]]"), RetPlan::Direct(vec![part(0, 8, RetGpr(0))]));
}
