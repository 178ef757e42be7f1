//! Valgrind client requests, issued by the magic instruction sequence
//! Valgrind's JIT recognises (no header, no C shim): on a real CPU the
//! sequence is a few rotates that leave every register as it was, and the
//! request returns its default.
//!
//! The request codes are Valgrind's stable client-request ABI
//! (`valgrind.h` and `memcheck.h`).

/// `RUNNING_ON_VALGRIND`: how many Valgrinds this process runs under.
const RUNNING_ON_VALGRIND: usize = 0x1001;
/// `VALGRIND_MALLOCLIKE_BLOCK(addr, size, redzone, zeroed)`.
const MALLOCLIKE_BLOCK: usize = 0x1301;
/// `VALGRIND_FREELIKE_BLOCK(addr, redzone)`.
const FREELIKE_BLOCK: usize = 0x1302;
/// `VALGRIND_RESIZEINPLACE_BLOCK(addr, old_size, new_size, redzone)`.
const RESIZEINPLACE_BLOCK: usize = 0x130b;
/// `VALGRIND_{DISABLE,ENABLE}_ERROR_REPORTING`: +1 / -1 on the thread's
/// error-disablement counter.
const CHANGE_ERR_DISABLEMENT: usize = 0x1801;
/// Memcheck's `VALGRIND_MAKE_MEM_NOACCESS`; `+ 1` is `_UNDEFINED`, `+ 2`
/// `_DEFINED`.
const MAKE_MEM_NOACCESS: usize = 0x4D43_0000;
const MAKE_MEM_UNDEFINED: usize = MAKE_MEM_NOACCESS + 1;
const MAKE_MEM_DEFINED: usize = MAKE_MEM_NOACCESS + 2;

/// Issues client request `request` with `args`; `default` when not under
/// Valgrind.
#[inline(never)]
fn request(default: usize, request: usize, args: [usize; 5]) -> usize {
    let block: [usize; 6] = [request, args[0], args[1], args[2], args[3], args[4]];
    #[allow(unused_mut)]
    let mut result = default;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the rotates of rdi add up to 128 bits (it ends as it began)
    // and `xchg rbx, rbx` changes nothing: on a CPU the sequence has no
    // effect but on the flags (not preserved: the default clobbers). Under
    // Valgrind it reads the six words of `block` (live for the asm) and
    // writes the result to rdx. Memory is clobbered by default, so the
    // compiler assumes the request may read or change any memory, as a
    // Valgrind request (which changes only Valgrind's shadow state) does.
    unsafe {
        core::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            inout("rdx") result,
            in("rax") block.as_ptr(),
            out("rdi") _,
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as on x86-64: the rotates of x12 add up to 128 bits and
    // `orr x10, x10, x10` changes nothing; Valgrind reads `block` through
    // x4 and writes the result to x3.
    unsafe {
        core::arch::asm!(
            "ror x12, x12, #3",
            "ror x12, x12, #13",
            "ror x12, x12, #51",
            "ror x12, x12, #61",
            "orr x10, x10, x10",
            inout("x3") result,
            in("x4") block.as_ptr(),
            out("x12") _,
        );
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = block;
    result
}

/// Whether this process runs under Valgrind's Memcheck: Valgrind answers
/// `RUNNING_ON_VALGRIND` under every tool (Callgrind and Cachegrind too,
/// where the library must keep its plain paths), and only Memcheck answers
/// its own requests (a `MAKE_MEM_DEFINED` of no bytes returns -1 there,
/// the default elsewhere).
pub(super) fn running() -> bool {
    request(0, RUNNING_ON_VALGRIND, [0; 5]) != 0
        && request(0, MAKE_MEM_DEFINED, [0, 0, 0, 0, 0]) == usize::MAX
}

/// The bytes become a heap block of `size` bytes at `addr` (Memcheck
/// tracks it as it tracks `malloc`'s: addressable, and a leak if never
/// freed).
pub(super) fn malloclike(addr: usize, size: usize, zeroed: bool) {
    request(0, MALLOCLIKE_BLOCK, [addr, size, 0, usize::from(zeroed), 0]);
}

/// The heap block at `addr` is freed.
pub(super) fn freelike(addr: usize) {
    request(0, FREELIKE_BLOCK, [addr, 0, 0, 0, 0]);
}

/// The heap block at `addr` changes from `old` to `new` bytes in place.
pub(super) fn resize_in_place(addr: usize, old: usize, new: usize) {
    request(0, RESIZEINPLACE_BLOCK, [addr, old, new, 0, 0]);
}

/// `[addr, addr + len)` may not be accessed.
pub(super) fn noaccess(addr: usize, len: usize) {
    request(0, MAKE_MEM_NOACCESS, [addr, len, 0, 0, 0]);
}

/// `[addr, addr + len)` is addressable, its contents undefined.
pub(super) fn undefined(addr: usize, len: usize) {
    request(0, MAKE_MEM_UNDEFINED, [addr, len, 0, 0, 0]);
}

/// `[addr, addr + len)` is addressable and defined.
pub(super) fn defined(addr: usize, len: usize) {
    request(0, MAKE_MEM_DEFINED, [addr, len, 0, 0, 0]);
}

/// Errors of this thread are not reported until [`report_errors`].
pub(super) fn hide_errors() {
    request(0, CHANGE_ERR_DISABLEMENT, [1, 0, 0, 0, 0]);
}

/// Undoes one [`hide_errors`].
pub(super) fn report_errors() {
    request(0, CHANGE_ERR_DISABLEMENT, [usize::MAX, 0, 0, 0, 0]);
}
