//! `vais_alloc_*`: the error model and the version.

use crate::error;
use core::ffi::c_char;

/// Returns the calling thread's last error code: the most recent failure
/// since the last `vais_alloc_clear_error()`, or 0 if none. Successful calls
/// never reset it.
#[no_mangle]
pub extern "C" fn vais_alloc_last_error() -> i64 {
    error::last_error()
}

/// Resets the calling thread's last error to 0 (`VAIS_ALLOC_OK`), and its
/// detail to "".
#[no_mangle]
pub extern "C" fn vais_alloc_clear_error() {
    error::clear_last_error();
    crate::misuse::clear_detail();
}

/// Returns a sentence about the calling thread's last failure: the
/// function, the cause and its values, e.g. `bump_alloc: layout {size 8,
/// align 3}: align 3 is not a power of two` or `pool_dealloc: 0x... is 24
/// bytes into the block at 0x... (64-byte blocks), not its start`. "" when
/// the thread has had no failure (or since `vais_alloc_clear_error`).
/// Never NULL; owned by the library, valid until the thread's next
/// failure. Do not free it.
#[no_mangle]
pub extern "C" fn vais_alloc_last_error_detail() -> *const c_char {
    crate::misuse::detail_ptr()
}

/// Installs `handler`, called (with `ctx`) on every refusal that signals
/// a bug of the caller: `VAIS_ALLOC_E_INVALID_LAYOUT`, `_INVALID_ARGUMENT`,
/// `_NULL_HANDLE`, `_FOREIGN_POINTER`, `_DOUBLE_FREE`, `_EMPTY`,
/// `_STALE_MARK` and `_CORRUPTED` (not `_EXHAUSTED`, `_OUT_OF_MEMORY` or
/// `_UNSUPPORTED`, which a correct program meets too), with the code, the function's name (a static
/// string), the pointer argument (0 if none) and `ctx`. The handler runs
/// after the refusal is recorded (`vais_alloc_last_error_detail` has the
/// sentence) and before the function returns; it may abort, log or
/// return. NULL restores the default: silent, unless the environment
/// variable `VAIS_ALLOC_MISUSE` is `log` (one line to stderr per misuse)
/// or `abort` (the line, then `abort()`), read once. Process-wide and
/// thread-safe.
#[no_mangle]
pub extern "C" fn vais_alloc_set_misuse_handler(
    handler: Option<unsafe extern "C" fn(i64, *const c_char, i64, *mut core::ffi::c_void)>,
    ctx: *mut core::ffi::c_void,
) {
    crate::misuse::set_handler(handler, ctx);
}

/// Returns a static, human-readable description of `code` (never NULL;
/// unknown codes get a generic text). Do not free it.
#[no_mangle]
pub extern "C" fn vais_alloc_error_message(code: i64) -> *const c_char {
    error::message_for_code(code).as_ptr()
}

/// Returns the library version, e.g. "0.1.0" (static, never NULL).
#[no_mangle]
pub extern "C" fn vais_alloc_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// Returns which memory tools the library reports its allocations to:
/// bit 0 (1) when the process runs under Valgrind's Memcheck (not its
/// other tools, such as Callgrind), bit 1 (2) when the
/// AddressSanitizer runtime is loaded; 0 for none (or a library built
/// without the `memory-tools` feature). Looked up once, at the first call
/// of this or any allocator function.
#[no_mangle]
pub extern "C" fn vais_alloc_memory_tools() -> i64 {
    crate::tools::detected()
}
