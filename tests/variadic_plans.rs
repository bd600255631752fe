//! Variadic signatures, classified (pure: every convention on every host): where each
//! convention places the variadic arguments, `%al`, and the errors for what C cannot pass
//! after `...`.

use jitcall::internals::arch;
use jitcall::{ffi, syntax, Abi, Signature, Type};
use jitcall::{ArgPlan, CallPlan, Location, Part};

fn ty(text: &str) -> Type {
    ffi::native_type(&syntax::read(text).unwrap()).unwrap()
}

fn types(texts: &[&str]) -> Vec<Type> {
    texts.iter().map(|t| ty(t)).collect()
}

fn plan(abi: Abi, fixed: &[&str], variadic: &[&str]) -> CallPlan {
    let sig = Signature::variadic(abi, ty(":int"), types(fixed), types(variadic));
    arch::classify(&sig).unwrap()
}

fn error(abi: Abi, fixed: &[&str], variadic: &[&str]) -> String {
    let sig = Signature::variadic(abi, ty(":int"), types(fixed), types(variadic));
    arch::classify(&sig).unwrap_err().to_string()
}

fn dests(plan: &CallPlan, i: usize) -> Vec<Location> {
    match &plan.args[i] {
        ArgPlan::Direct(parts) => parts.iter().map(|p: &Part| p.dest).collect(),
        other => panic!("argument {i} is {other:?}"),
    }
}

#[test]
fn sysv_places_variadic_arguments_like_fixed_ones_and_al_counts_vector_registers_exactly() {
    let plan = plan(Abi::SysV64, &[":ptr"], &[":double", ":int", ":double", "[:float :float]"]);
    assert_eq!(dests(&plan, 1), [Location::Fpr(0)]);
    assert_eq!(dests(&plan, 2), [Location::ArgGpr(1)]);
    assert_eq!(dests(&plan, 3), [Location::Fpr(1)]);
    assert_eq!(dests(&plan, 4), [Location::Fpr(2)]);
    assert_eq!(plan.vector_count, Some(3));
    // Past eight vector registers the count stays at eight, and the rest go on the stack.
    let doubles = [":double"; 11];
    let plan = self::plan(Abi::SysV64, &[":ptr"], &doubles);
    assert_eq!(plan.vector_count, Some(8));
    assert_eq!(dests(&plan, 9), [Location::Stack(0)]);
    // No vector argument at all: %al = 0.
    assert_eq!(self::plan(Abi::SysV64, &[":ptr"], &[":int"]).vector_count, Some(0));
}

#[test]
fn win64_passes_a_variadic_double_in_its_xmm_and_its_general_register() {
    let plan = plan(Abi::Win64, &[":ptr"], &[":double", ":int", ":double", ":double"]);
    assert_eq!(dests(&plan, 1), [Location::Fpr(1), Location::ArgGpr(1)]);
    assert_eq!(dests(&plan, 2), [Location::ArgGpr(2)]);
    assert_eq!(dests(&plan, 3), [Location::Fpr(3), Location::ArgGpr(3)]);
    // The fifth position is a stack slot: once, as its bits.
    assert_eq!(dests(&plan, 4), [Location::Stack(0)]);
    // A fixed double stays in its XMM register only.
    let fixed = self::plan(Abi::Win64, &[":double"], &[":double"]);
    assert_eq!(dests(&fixed, 0), [Location::Fpr(0)]);
    assert_eq!(dests(&fixed, 1), [Location::Fpr(1), Location::ArgGpr(1)]);
}

#[test]
fn win64_variadic_aggregates_follow_the_by_reference_rule() {
    let plan = plan(Abi::Win64, &[":ptr"], &["[:double :double]", "[:float :float]"]);
    assert_eq!(plan.args[1], ArgPlan::Indirect { pointer: Location::ArgGpr(1) });
    assert_eq!(dests(&plan, 2), [Location::ArgGpr(2)]);
}

#[test]
fn aapcs64_places_variadic_arguments_like_fixed_ones() {
    let variadic = [":double", "[:float :float :float]", ":int64", "[:int64 :int64 :int64]"];
    let as_variadic = plan(Abi::Aapcs64, &[":ptr"], &variadic);
    let sig = Signature::new(
        Abi::Aapcs64,
        ty(":int"),
        types(&[":ptr"; 1]).into_iter().chain(types(&variadic)).collect(),
    );
    let as_fixed = arch::classify(&sig).unwrap();
    assert_eq!(as_variadic.args, as_fixed.args);
    assert_eq!(dests(&as_variadic, 2), [Location::Fpr(1), Location::Fpr(2), Location::Fpr(3)]);
}

#[test]
fn each_variadic_list_is_its_own_signature() {
    let a = Signature::variadic(Abi::SysV64, ty(":int"), types(&[":ptr"]), types(&[":int"]));
    let b = Signature::new(Abi::SysV64, ty(":int"), types(&[":ptr", ":int"]));
    let c = Signature::variadic(Abi::SysV64, ty(":int"), types(&[":ptr", ":int"]), vec![]);
    assert_ne!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.fixed_params(), &types(&[":ptr"])[..]);
    assert_eq!(a.variadic_params(), &types(&[":int"])[..]);
    assert!(a.is_variadic_arg(1) && !a.is_variadic_arg(0) && !b.is_variadic_arg(1));
}

#[test]
fn unpromoted_variadic_types_are_refused_with_the_promoted_type() {
    for abi in Abi::ALL {
        let msg = error(abi, &[":ptr"], &[":int", ":float"]);
        assert_eq!(
            msg,
            "variadic argument 2 has type :float, which C promotes to :double: pass it as :double"
        );
        for narrow in [":bool", ":char", ":uint8", ":short", ":ushort"] {
            let msg = error(abi, &[":ptr"], &[narrow]);
            assert!(msg.ends_with("which C promotes to :int: pass it as :int"), "{abi}: {msg}");
            assert!(msg.starts_with("variadic argument 1 has type :"), "{abi}: {msg}");
        }
        // The same types are fine as fixed parameters, and promoted ones after `...`.
        plan(abi, &[":float", ":bool", ":char"], &[":double", ":int", ":uint", ":ptr", "[:char]"]);
    }
}

#[test]
fn a_signature_with_more_fixed_parameters_than_arguments_is_refused() {
    let mut sig = Signature::new(Abi::SysV64, ty(":int"), types(&[":ptr"]));
    sig.fixed = Some(2);
    let msg = arch::classify(&sig).unwrap_err().to_string();
    assert_eq!(msg, "the signature has 2 fixed parameters but only 1 arguments");
}

#[test]
fn a_variadic_callback_is_refused() {
    let Some(abi) = Abi::host() else { return };
    let sig = Signature::variadic(abi, ty(":int"), types(&[":ptr"]), types(&[":int"]));
    let err = jitcall::Callback::new(sig, |_| Ok(jitcall::Value::Nil)).unwrap_err();
    assert!(err.to_string().starts_with("a callback cannot be variadic"), "{err}");
}

#[test]
fn plans_label_the_variadic_arguments() {
    let text = plan(Abi::SysV64, &[":ptr"], &[":double"]).describe_variadic(Some(1));
    assert_eq!(
        text,
        "arg0: [0..8] -> rdi\narg1 (variadic): [0..8] -> xmm0\nret: rax -> [0..4]\nstack: 0 bytes\nal: 1\n"
    );
}
