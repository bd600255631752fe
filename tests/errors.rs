//! Error paths not covered elsewhere, each checked by its message: bad input is an
//! `Err` that says what is wrong, never a crash.

use jitcall::internals::arch::{classify, emit_thunk, ArgSource, BlockLayout, CodeBuffer};
use jitcall::{ffi, syntax, Abi, Error, Signature, Type, Value};

fn ty(text: &str) -> Type {
    ffi::native_type(&syntax::read(text).unwrap()).unwrap()
}

fn type_error(text: &str) -> String {
    ffi::native_type(&syntax::read(text).unwrap()).unwrap_err().to_string()
}

fn host() -> Abi {
    Abi::host().expect("a supported host")
}

#[test]
fn void_array_elements_and_deep_nesting() {
    assert_eq!(type_error("@[:void 3]"), "bad array element type :void");
    let deep = format!("{}:int{}", "[".repeat(65), "]".repeat(65));
    assert_eq!(type_error(&deep), "type nesting deeper than 64 levels");
}

#[test]
fn callbacks_of_a_convention_this_host_cannot_run() {
    let foreign = if cfg!(target_arch = "x86_64") { Abi::Aapcs64 } else { Abi::SysV64 };
    let err = ffi::callback(foreign, ty(":int"), vec![], |_| Ok(Value::Nil)).unwrap_err();
    assert!(err.to_string().ends_with("cannot run on this host"), "{err}");
    assert!(ffi::trampoline(foreign).is_err());
}

#[test]
fn empty_machine_code() {
    let err = ffi::jitfn(&[]).unwrap_err();
    assert_eq!(err.to_string(), "ffi/jitfn needs at least one byte of machine code");
}

/// A closure whose result does not convert gives C a zero result, and the outer call
/// returns why.
#[test]
fn a_callback_result_that_does_not_convert() {
    let sig = |ret: &str| ffi::signature(host(), ty(ret), vec![]).unwrap();
    for (ret, result, message) in [
        (":int", Value::string("forty-two"), "expected 32 bit signed integer, got \"forty-two\""),
        (":void", Value::Number(1.0), "expected nil, got 1"),
        ("[:int :int]", Value::Tuple(vec![Value::Number(1.0)]), "wrong number of fields in struct"),
    ] {
        let returned = result.clone();
        let callback =
            ffi::callback(host(), ty(ret), vec![], move |_| Ok(returned.clone())).unwrap();
        // SAFETY: the callback has exactly this signature.
        let err = unsafe { ffi::call(callback.code_ptr(), &sig(ret), &[]) }.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Callback(_)), "{text}");
        assert!(text.starts_with("the callback's result does not convert"), "{text}");
        assert!(text.contains(message), "{text}");
    }
}

#[test]
fn arguments_too_large_to_pass() {
    for abi in Abi::ALL {
        // One value past MAX_BY_VALUE_BYTES (1 MiB).
        let sig = Signature::new(abi, ty(":int"), vec![ty("[@[@[:u8 1500000000] 2]]"), ty(":int")]);
        let err = classify(&sig).unwrap_err().to_string();
        assert_eq!(
            err,
            "argument 0 is too large to pass by value: 3000000000 bytes, more than the \
             1048576 a value may have (pass a pointer instead)"
        );
        // Values within the limit that add up to more than the block can address.
        let mib = ty("[@[:u8 1048576]]");
        let sig = Signature::new(abi, ty(":int"), vec![mib; 2048]);
        let err = classify(&sig).unwrap_err().to_string();
        assert_eq!(err, "the arguments are too large to pass (over 2 GiB)");
    }
    // System V copies a large struct onto the stack: past 64 KiB the thunk is refused.
    let sig = Signature::new(Abi::SysV64, ty(":void"), vec![ty("[@[:u8 70000]]")]);
    let plan = classify(&sig).unwrap();
    let block = BlockLayout::new(&sig).unwrap();
    let err =
        emit_thunk(&plan, ArgSource::Block(&block), None, &mut CodeBuffer::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the arguments need 70000 bytes of stack, more than the 65536 a call may use"
    );
}

/// Plans with pieces of odd sizes, or arguments by reference, have no pointer thunk.
#[test]
fn pointer_thunks_only_for_plans_that_fit() {
    for (abi, param) in [(Abi::SysV64, "[:u8 :u8 :u8]"), (Abi::Win64, "[:int :int :int]")] {
        let plan = classify(&Signature::new(abi, ty(":void"), vec![ty(param)])).unwrap();
        assert!(!jitcall::internals::arch::pointers_fit(&plan));
        // Asking anyway is a bug of the caller: an assertion, not an error.
        let asked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = emit_thunk(&plan, ArgSource::Pointers, None, &mut CodeBuffer::new());
        }));
        let message = asked.unwrap_err();
        assert_eq!(message.downcast_ref::<&str>(), Some(&"this plan needs the argument block"));
    }
}

/// Each kind of failure is its own variant, with the data a caller can act on.
#[test]
fn errors_say_what_kind() {
    use jitcall::Limit;
    let err = Abi::from_name("fastcall").unwrap_err();
    assert!(matches!(&err, Error::UnknownConvention(name) if name == "fastcall"), "{err:?}");
    assert_eq!(err.to_string(), "unknown calling convention fastcall");

    let sig = Signature::new(Abi::SysV64, ty(":int"), vec![ty(":int"), ty(":void")]);
    let err = sig.plan().unwrap_err();
    assert!(matches!(err, Error::Unsupported { arg: Some(1), .. }), "{err:?}");
    let sig = Signature::new(Abi::SysV64, ty("@[:int 2]"), vec![]);
    assert!(matches!(sig.plan(), Err(Error::Unsupported { arg: None, .. })));

    let sig = Signature::new(Abi::Win64, ty(":void"), vec![ty(":int"), ty("[@[:u8 2000000]]")]);
    let err = sig.plan().unwrap_err();
    let want = (Limit::ValueBytes, Some(1), 1 << 20, Some(2_000_000));
    assert!(
        matches!(err, Error::Limit { what, arg, limit, got } if (what, arg, limit, got) == want),
        "{err:?}"
    );

    let sig = Signature::new(Abi::SysV64, ty(":void"), vec![ty("[@[:u8 70000]]")]);
    let plan = classify(&sig).unwrap();
    let block = BlockLayout::new(&sig).unwrap();
    let err =
        emit_thunk(&plan, ArgSource::Block(&block), None, &mut CodeBuffer::new()).unwrap_err();
    let want = (Limit::StackBytes, 65536, Some(70000));
    assert!(
        matches!(err, Error::Limit { what, limit, got, .. } if (what, limit, got) == want),
        "{err:?}"
    );

    let foreign = if cfg!(target_arch = "x86_64") { Abi::Aapcs64 } else { Abi::SysV64 };
    let err = jitcall::CompiledSignature::new(Signature::new(foreign, ty(":int"), vec![]));
    assert!(
        matches!(err, Err(Error::UnsupportedHost { convention: Some(name), .. }) if name == foreign.name()),
        "{err:?}"
    );
}

/// A loader failure keeps the loader's error as its source.
#[test]
fn library_errors_keep_the_loaders_error() {
    use std::error::Error as _;
    // SAFETY: the path does not exist: nothing is loaded, no initialiser runs.
    let err = unsafe { ffi::native(Some("/nonexistent/libjitcall-nothing.so")) }.unwrap_err();
    assert!(matches!(err, Error::Library { source: Some(_), .. }), "{err:?}");
    assert!(err.source().is_some());
}
