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

/// Resets the calling thread's last error to 0 (`VAIS_ALLOC_OK`).
#[no_mangle]
pub extern "C" fn vais_alloc_clear_error() {
    error::clear_last_error()
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
