//! AddressSanitizer's manual poisoning, found at run time: when the
//! program was built with `-fsanitize=address`, its runtime exports
//! `__asan_poison_memory_region` and `__asan_unpoison_memory_region`, and
//! `dlsym` finds them; otherwise both are absent and nothing is done. (The
//! library itself is not instrumented: only the program's accesses, and
//! the `memcpy`/`memset` calls ASan intercepts, are checked.)

use core::ffi::c_void;

/// `void __asan_(un)poison_memory_region(void const volatile *, size_t)`.
type Poison = unsafe extern "C" fn(*const c_void, usize);

/// The two entry points, when the ASan runtime is loaded.
#[derive(Clone, Copy)]
pub(super) struct Asan {
    poison: Poison,
    unpoison: Poison,
}

impl Asan {
    /// The runtime's entry points, if it is loaded.
    pub(super) fn find() -> Option<Asan> {
        // SAFETY: `dlsym` with RTLD_DEFAULT and a NUL-terminated name only
        // looks the name up; a non-null result is the address of that
        // function, whose C signature is `Poison`'s.
        unsafe {
            let poison = libc::dlsym(libc::RTLD_DEFAULT, c"__asan_poison_memory_region".as_ptr());
            let unpoison = libc::dlsym(
                libc::RTLD_DEFAULT,
                c"__asan_unpoison_memory_region".as_ptr(),
            );
            if poison.is_null() || unpoison.is_null() {
                return None;
            }
            Some(Asan {
                poison: core::mem::transmute::<*mut c_void, Poison>(poison),
                unpoison: core::mem::transmute::<*mut c_void, Poison>(unpoison),
            })
        }
    }

    /// `[addr, addr + len)` may not be accessed.
    pub(super) fn poison(self, addr: usize, len: usize) {
        if len > 0 {
            // SAFETY: ASan's poisoning only writes its shadow memory, for
            // any range (the library passes ranges of memory it manages).
            unsafe { (self.poison)(addr as *const c_void, len) }
        }
    }

    /// `[addr, addr + len)` may be accessed.
    pub(super) fn unpoison(self, addr: usize, len: usize) {
        if len > 0 {
            // SAFETY: as for `poison`.
            unsafe { (self.unpoison)(addr as *const c_void, len) }
        }
    }
}
