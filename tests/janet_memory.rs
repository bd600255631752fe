//! Native memory, as Janet's FFI spec describes it (§4): bounds of `ffi/write` and
//! `ffi/read`, `ffi/malloc`, `ffi/free`, `ffi/pointer-buffer` and raw reads.

mod common;

use common::janet::*;
use jitcall::{ffi, Pointer, Str, Value};

// ---------------------------------------------------------------------------------------
// memory errors (spec §4)

#[test]
fn write_past_the_end_is_out_of_bounds() {
    let b = buffer(b"abc");
    for index in [4, 100, usize::MAX] {
        let err = ffi::write(&ty(":u8"), &v("1"), Some(&b), Some(index)).unwrap_err();
        assert_eq!(err.to_string(), "index out of bounds", "index {index}");
    }
    assert_eq!(b.to_vec(), b"abc");
    // index == length appends.
    ffi::write(&ty(":u8"), &v("100"), Some(&b), Some(3)).unwrap();
    assert_eq!(b.to_vec(), b"abcd");
}

#[test]
fn read_past_the_end_is_out_of_range() {
    for (t, bytes, offset) in [
        (":int", &b"abc"[..], 0),
        (":u8", b"", 0),
        (":u16", b"abc", 2),
        (":u8", b"abc", 4),
        (":u8", b"abc", usize::MAX),
        ("@[:u8]", b"abc", 4),
        ("@[@[:u8 2147483647] 2147483647]", b"abc", 0),
    ] {
        let err = ffi::read(&ty(t), bytes, offset).unwrap_err();
        assert_eq!(err.to_string(), "read out of range", "{t} at {offset}");
    }
}

#[test]
fn reading_a_string_from_bytes_is_an_error() {
    let ptr_size = std::mem::size_of::<usize>();
    let bytes = vec![0u8; 4 * ptr_size];
    for t in [":string", "[:int :string]", "@[:string 2]", "[:u8 [@[:string 1]]]"] {
        let err = ffi::read(&ty(t), &bytes, 0).unwrap_err();
        assert!(err.to_string().contains("char*"), "{t}: {err}");
    }
}

// ---------------------------------------------------------------------------------------
// malloc, free, pointer-buffer, raw reads (spec §4)

#[test]
fn malloc_of_zero_is_none_and_free_of_null_is_a_no_op() {
    assert!(ffi::malloc(0).unwrap().is_none());
    // SAFETY: freeing NULL is allowed and does nothing.
    unsafe { ffi::free(Pointer::NULL) };
}

#[test]
fn malloc_write_read_free_round_trip() {
    let t = ty("[:u8 :double @[:s16 3]]");
    assert_eq!(t.size(), 24);
    let p = ffi::malloc(t.size()).unwrap().expect("a non-empty allocation");
    // SAFETY: `p` holds 24 bytes from malloc that stay allocated until the `free` at the
    // end, and `buf` is dropped before that; nothing else touches them meanwhile.
    let buf = unsafe { ffi::pointer_buffer(p, t.size(), 0, 0) }.unwrap();
    assert!(buf.is_empty());
    assert_eq!(buf.data_ptr(), p);
    let value = v("[200 -2.25 @[1 -2 3]]");
    let out = ffi::write(&t, &value, Some(&buf), None).unwrap();
    assert!(out.same_as(&buf));
    assert_eq!(buf.len(), 24);
    assert_eq!(ffi::read(&t, &buf.to_vec(), 0).unwrap(), value);
    drop(buf);
    // SAFETY: the 24 bytes at `p` are allocated and were all written (padding zeroed);
    // the type holds no `:string`.
    let back = unsafe { ffi::read_ptr(&t, p, 0) }.unwrap();
    assert_eq!(back, value);
    // SAFETY: `p + 8` is within the 24 bytes, and holds the double.
    let d = unsafe { ffi::read_ptr(&ty(":double"), p, 8) }.unwrap();
    assert_eq!(d, v("-2.25"));
    // SAFETY: `p` came from `ffi::malloc`, is freed once, and no buffer over it is alive.
    unsafe { ffi::free(p) };
}

#[test]
fn pointer_buffer_count_must_not_exceed_capacity() {
    let p = ffi::malloc(4).unwrap().expect("a non-empty allocation");
    // SAFETY: `p` holds 4 bytes until the `free` below; the call fails before making a
    // buffer.
    let err = unsafe { ffi::pointer_buffer(p, 4, 5, 0) }.unwrap_err();
    assert_eq!(err.to_string(), "capacity < count");
    // SAFETY: `p` came from `ffi::malloc` and is freed once.
    unsafe { ffi::free(p) };
}

#[test]
fn pointer_buffer_cannot_grow_and_does_not_free_its_memory() {
    let p = ffi::malloc(4).unwrap().expect("a non-empty allocation");
    // SAFETY: the 4 bytes at `p` stay allocated until the `free` at the end, after `buf`
    // and its clone are dropped.
    let buf = unsafe { ffi::pointer_buffer(p, 4, 0, 0) }.unwrap();
    ffi::write(&ty(":u16"), &v("0x0201"), Some(&buf), None).unwrap();
    ffi::write(&ty(":u16"), &v("0x0403"), Some(&buf), None).unwrap();
    assert_eq!(buf.to_vec(), [1, 2, 3, 4]);

    let err = ffi::write(&ty(":u8"), &v("5"), Some(&buf), None).unwrap_err();
    assert_eq!(err.to_string(), "buffer cannot reallocate foreign memory");
    let err = ffi::write(&ty(":u16"), &v("5"), Some(&buf), Some(3)).unwrap_err();
    assert_eq!(err.to_string(), "buffer cannot reallocate foreign memory");
    assert_eq!(buf.to_vec(), [1, 2, 3, 4], "a failed write changes nothing");
    // Overwriting inside the capacity still works.
    ffi::write(&ty(":u8"), &v("9"), Some(&buf), Some(3)).unwrap();

    let clone = buf.clone();
    drop(buf);
    drop(clone);
    // SAFETY: dropping a pointer-buffer frees nothing, so the 4 bytes are still allocated.
    let back = unsafe { ffi::read_ptr(&ty("@[:u8 4]"), p, 0) }.unwrap();
    assert_eq!(back, v("@[1 2 3 9]"));
    // SAFETY: `p` came from `ffi::malloc`, is freed once, and no buffer over it is alive.
    unsafe { ffi::free(p) };
}

#[test]
fn pointer_buffer_count_and_offset() {
    let p = ffi::malloc(8).unwrap().expect("a non-empty allocation");
    // SAFETY: the 8 bytes at `p` stay allocated until the `free` at the end, after every
    // buffer over them is dropped.
    let whole = unsafe { ffi::pointer_buffer(p, 8, 0, 0) }.unwrap();
    ffi::write(&ty("@[:u8 8]"), &v("[1 2 3 4 5 6 7 8]"), Some(&whole), None).unwrap();
    drop(whole);

    // Bytes 2..8 of the block, the first two of which are the contents.
    // SAFETY: `p + 2 .. p + 8` is inside the allocation.
    let window = unsafe { ffi::pointer_buffer(p, 6, 2, 2) }.unwrap();
    assert_eq!(window.to_vec(), [3, 4]);
    ffi::write(&ty(":u16"), &v("0xBBAA"), Some(&window), None).unwrap();
    assert_eq!(window.to_vec(), [3, 4, 0xAA, 0xBB]);
    drop(window);

    // A negative offset: `(p + 4) - 4` is `p` again.
    let end = Pointer::from_addr(p.addr() + 4);
    // SAFETY: `p .. p + 8` is the allocation.
    let back = unsafe { ffi::pointer_buffer(end, 8, 8, -4) }.unwrap();
    assert_eq!(back.to_vec(), [1, 2, 3, 4, 0xAA, 0xBB, 7, 8]);
    drop(back);
    // SAFETY: `p` came from `ffi::malloc`, is freed once, and no buffer over it is alive.
    unsafe { ffi::free(p) };
}

#[test]
fn read_ptr_of_string_follows_a_char_pointer_slot() {
    let text = Value::string("hello, world");
    let slot_size = ffi::size(&ty(":ptr"));
    let p = ffi::malloc(2 * slot_size).unwrap().expect("a non-empty allocation");
    // SAFETY: the two pointer slots at `p` stay allocated until the `free` at the end,
    // after `slots` is dropped.
    let slots = unsafe { ffi::pointer_buffer(p, 2 * slot_size, 0, 0) }.unwrap();
    ffi::write(&ty(":ptr"), &text, Some(&slots), None).unwrap();
    ffi::write(&ty(":ptr"), &v("nil"), Some(&slots), None).unwrap();
    drop(slots);

    // SAFETY: slot 0 points to the bytes of `text` (a NUL-terminated `Str`), which is alive.
    let s = unsafe { ffi::read_ptr(&ty(":string"), p, 0) }.unwrap();
    assert_eq!(s, Value::string("hello, world"));
    // SAFETY: slot 1 is NULL.
    let null =
        unsafe { ffi::read_ptr(&ty(":string"), p, isize::try_from(slot_size).unwrap()) }.unwrap();
    assert_eq!(null, Value::Nil);
    // SAFETY: as above: slot 0 points to `text`, slot 1 is NULL.
    let both = unsafe { ffi::read_ptr(&ty("@[:string 2]"), p, 0) }.unwrap();
    assert_eq!(both, v("@[\"hello, world\" nil]"));
    // SAFETY: slot 0 holds an address; reading it as `:ptr` follows nothing.
    let raw = unsafe { ffi::read_ptr(&ty(":ptr"), p, 0) }.unwrap();
    let Value::String(s) = &text else { unreachable!() };
    assert_eq!(raw, Value::Pointer(Pointer::from_ptr(s.as_ptr())));
    // SAFETY: `p` came from `ffi::malloc`, is freed once, and no buffer over it is alive.
    unsafe { ffi::free(p) };
}

#[test]
fn read_c_string_reads_the_string_itself() {
    let s = Str::from("a C string");
    // SAFETY: a `Str` is NUL-terminated and alive for the call.
    let back = unsafe { ffi::read_c_string(Pointer::from_ptr(s.as_ptr())) };
    assert_eq!(back, Value::string("a C string"));
    let bytes = b"stops\0here";
    // SAFETY: `bytes` holds a NUL within its length.
    let back = unsafe { ffi::read_c_string(Pointer::from_ptr(bytes.as_ptr())) };
    assert_eq!(back, Value::string("stops"));
    // SAFETY: NULL is allowed and reads as nil.
    assert_eq!(unsafe { ffi::read_c_string(Pointer::NULL) }, Value::Nil);
}

// ---------------------------------------------------------------------------------------
// type syntax through the reader

#[test]
fn type_syntax_variants_read_the_same_type() {
    assert_eq!(ty("(:int :char)"), ty("[:int :char]"));
    assert_eq!(ty("@(:int 4)"), ty("@[:int 4]"));
    assert_eq!(ty("[:int, :char] # a comment"), ty("[:int :char]"));
    assert_eq!(ty("  [ :int\n  :pack-all :char ]  "), ty("[:int :pack-all :char]"));
    assert_eq!(ty("@[:int 0x10]"), ty("@[:int 16]"));
    assert_eq!(ty("[:char :int8 :s8]"), ty("[:s8 :s8 :s8]"));
    // Display gives back Janet syntax that reads as the same type.
    for text in [
        "[:int :pack :char :double]",
        "[:int :pack-all :char]",
        "[:char :pack :int @[:char 21]]",
        "@[[:int :char] 3]",
        "[:char @[:int]]",
        ":void",
    ] {
        let t = ty(text);
        assert_eq!(ty(&t.to_string()), t, "{text} printed as {t}");
    }
}
