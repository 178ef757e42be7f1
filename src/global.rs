//! The global allocator: the system `malloc` family, with any power-of-two
//! alignment.
//!
//! glibc's `malloc` already returns addresses aligned to [`MALLOC_ALIGN`];
//! larger alignments go through `posix_memalign`. A zero-size request
//! allocates one byte so that every returned pointer is unique and can be
//! given back to [`Global`]'s free.

use crate::allocator::{footprint, Allocator, Block, Caps};
use crate::error::Error;
use core::alloc::Layout;
use core::ptr::NonNull;

/// The alignment that `malloc`, `calloc` and `realloc` guarantee for every
/// size (`alignof(max_align_t)`): 16 on x86-64 and AArch64 glibc.
pub const MALLOC_ALIGN: usize = 2 * core::mem::size_of::<usize>();

/// The system allocator. It keeps no registry of its blocks, so its
/// pointer-taking methods trust the caller: a pointer given to them must
/// be a live block of this allocator.
#[derive(Clone, Copy, Debug, Default)]
pub struct Global;

impl Allocator for Global {
    const CAPS: Caps = Caps::FREE
        .with(Caps::RESIZE)
        .with(Caps::ANY_SIZE)
        .with(Caps::ANY_ALIGN)
        .with(Caps::GROWS)
        .with(Caps::THREAD_SAFE);

    /// `layout.size()` bytes aligned to `layout.align()`.
    fn alloc(&mut self, layout: Layout) -> Result<Block, Error> {
        let ptr = if layout.align() <= MALLOC_ALIGN {
            // SAFETY: malloc has no preconditions; a null result is handled below.
            unsafe { libc::malloc(footprint(layout.size())) }
        } else {
            aligned_malloc(layout)
        };
        finish(ptr, layout)
    }

    /// Like [`Global::alloc`], with the block zero-filled (`calloc` where
    /// the alignment allows).
    fn alloc_zeroed(&mut self, layout: Layout) -> Result<Block, Error> {
        let ptr = if layout.align() <= MALLOC_ALIGN {
            // SAFETY: calloc has no preconditions; a null result is handled below.
            unsafe { libc::calloc(1, footprint(layout.size())) }
        } else {
            let ptr = aligned_malloc(layout);
            if !ptr.is_null() {
                // SAFETY: `ptr` is a fresh block of at least `footprint` bytes.
                unsafe { core::ptr::write_bytes(ptr.cast::<u8>(), 0, footprint(layout.size())) };
            }
            ptr
        };
        finish(ptr, layout)
    }

    /// Succeeds when the block already has room: a shrink, or growth
    /// within what the system reserved for it (`malloc_usable_size`).
    ///
    /// # Safety
    /// `ptr` is a live block of this allocator.
    unsafe fn resize(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new_size: usize,
    ) -> Result<usize, Error> {
        if new_size <= old.size() {
            return Ok(new_size);
        }
        // SAFETY: the caller's promise: a live block of the system allocator.
        let usable = unsafe { libc::malloc_usable_size(ptr.as_ptr().cast()) };
        if new_size <= usable {
            Ok(new_size)
        } else {
            Err(Error::Exhausted)
        }
    }

    /// # Safety
    /// `ptr` is a live block of this allocator allocated with `old`.
    unsafe fn readable(&self, _: NonNull<u8>, old: Layout) -> Result<usize, Error> {
        Ok(old.size())
    }

    /// `realloc` for the alignments it keeps; above them, in place when an
    /// aligned block shrinks, else a fresh aligned block, a copy and a
    /// free. On failure the old block stays valid and unchanged.
    ///
    /// # Safety
    /// `ptr` is a live block of this allocator allocated with `old`.
    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<Block, Error> {
        let old_ptr = ptr.as_ptr().cast::<libc::c_void>();
        if new.align() <= MALLOC_ALIGN {
            // SAFETY: `old_ptr` is a live system block (caller's guarantee);
            // realloc leaves it untouched when it returns null.
            let moved = unsafe { libc::realloc(old_ptr, footprint(new.size())) };
            return finish(moved, new);
        }
        if ptr.as_ptr() as usize % new.align() == 0 && new.size() <= old.size() {
            // Shrinking an already aligned block: keep it where it is.
            return Ok(Block {
                ptr,
                size: new.size(),
            });
        }
        let fresh = finish(aligned_malloc(new), new)?;
        // SAFETY: both blocks are live, distinct, and at least `min(old, new)`
        // bytes long; the old one is freed only after the copy.
        unsafe {
            core::ptr::copy_nonoverlapping(
                ptr.as_ptr(),
                fresh.ptr.as_ptr(),
                old.size().min(new.size()),
            );
            libc::free(old_ptr);
        }
        Ok(fresh)
    }

    /// # Safety
    /// `ptr` is a live block of this allocator.
    unsafe fn free(&mut self, ptr: NonNull<u8>, _: Layout) -> Result<(), Error> {
        // SAFETY: the caller guarantees `ptr` came from malloc/calloc/
        // posix_memalign/realloc and is live, so `free` accepts it.
        unsafe { libc::free(ptr.as_ptr().cast()) };
        Ok(())
    }
}

/// `posix_memalign` for alignments above [`MALLOC_ALIGN`]; null on failure.
fn aligned_malloc(layout: Layout) -> *mut libc::c_void {
    let mut out: *mut libc::c_void = core::ptr::null_mut();
    // SAFETY: `out` is a valid place to write; the alignment is a power of
    // two and a multiple of sizeof(void *) (it exceeds MALLOC_ALIGN).
    let status =
        unsafe { libc::posix_memalign(&mut out, layout.align(), footprint(layout.size())) };
    if status == 0 {
        out
    } else {
        core::ptr::null_mut()
    }
}

#[inline]
fn finish(ptr: *mut libc::c_void, layout: Layout) -> Result<Block, Error> {
    match NonNull::new(ptr.cast::<u8>()) {
        Some(ptr) => Ok(Block {
            ptr,
            size: layout.size(),
        }),
        None => Err(Error::OutOfMemory),
    }
}

impl crate::tools::seen::Visible for Global {
    /// The tools see the system allocator themselves.
    const KIND: crate::tools::Kind = crate::tools::Kind::Native;

    fn for_each_region(&self, _: &mut dyn FnMut(usize, usize)) {}
}

impl crate::inspect::Inspect for Global {
    /// The system allocator keeps no statistics this library can read.
    fn stats(&mut self) -> crate::inspect::Stats {
        crate::inspect::Stats::default()
    }

    /// Nothing of the system allocator's to check.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocator::tests::layout;

    fn free(a: Block, layout: Layout) {
        // SAFETY: `a` was returned by this module and is freed once.
        unsafe { Global.free(a.ptr, layout) }.unwrap();
    }

    fn bytes(block: Block, len: usize) -> &'static [u8] {
        // SAFETY: tests read only blocks of at least `len` live bytes.
        unsafe { core::slice::from_raw_parts(block.ptr.as_ptr(), len) }
    }

    #[test]
    fn every_alignment_up_to_4_mib_is_real() {
        for shift in 0..=22 {
            let layout = layout(24, 1 << shift);
            let a = Global.alloc(layout).unwrap();
            assert_eq!(a.addr() % (1 << shift), 0, "align {}", 1 << shift);
            assert_eq!(a.size, 24);
            free(a, layout);
            let z = Global.alloc_zeroed(layout).unwrap();
            assert_eq!(z.addr() % (1 << shift), 0);
            free(z, layout);
        }
    }

    #[test]
    fn zero_size_is_unique_and_freeable() {
        let layout = layout(0, 64);
        let a = Global.alloc(layout).unwrap();
        let b = Global.alloc(layout).unwrap();
        assert!(a.ptr != b.ptr);
        assert_eq!((a.size, a.addr() % 64), (0, 0));
        free(a, layout);
        free(b, layout);
    }

    #[test]
    fn zeroed_memory_is_zero() {
        for align in [8, 4096] {
            let layout = layout(10_000, align);
            let a = Global.alloc_zeroed(layout).unwrap();
            assert!(bytes(a, 10_000).iter().all(|&b| b == 0));
            free(a, layout);
        }
    }

    #[test]
    fn realloc_keeps_contents_and_new_alignment() {
        let old = layout(100, 8);
        let a = Global.alloc(old).unwrap();
        // SAFETY: `a` is a live block of 100 bytes.
        unsafe { a.ptr.as_ptr().write_bytes(0xAB, 100) };
        let new = layout(5000, 4096);
        // SAFETY: `a` is live with layout `old`.
        let b = unsafe { Global.realloc(a.ptr, old, new) }.unwrap();
        assert_eq!(b.addr() % 4096, 0);
        assert!(bytes(b, 100).iter().all(|&x| x == 0xAB));
        free(b, new);
    }

    #[test]
    fn resize_succeeds_only_within_the_block() {
        let old = layout(100, 8);
        let a = Global.alloc(old).unwrap();
        // SAFETY: `a` is live with layout `old`.
        unsafe {
            assert_eq!(Global.resize(a.ptr, old, 50), Ok(50));
            let usable = libc::malloc_usable_size(a.ptr.as_ptr().cast());
            assert_eq!(Global.resize(a.ptr, old, usable), Ok(usable));
            assert_eq!(Global.resize(a.ptr, old, usable + 1), Err(Error::Exhausted));
        }
        free(a, old);
    }

    #[test]
    fn failures_have_codes_and_keep_the_old_block() {
        assert_eq!(Global.alloc(layout(1 << 62, 8)), Err(Error::OutOfMemory));
        assert_eq!(
            Global.alloc(layout(1 << 62, 1 << 20)),
            Err(Error::OutOfMemory)
        );
        let old = layout(16, 8);
        let a = Global.alloc(old).unwrap();
        // SAFETY: `a` is a live 16-byte block.
        unsafe { a.ptr.as_ptr().write_bytes(7, 16) };
        for new in [layout(1 << 62, 8), layout(1 << 62, 4096)] {
            // SAFETY: `a` is live with layout `old`.
            let r = unsafe { Global.realloc(a.ptr, old, new) };
            assert_eq!(r, Err(Error::OutOfMemory));
        }
        // `a` is still live (every realloc failed).
        assert!(bytes(a, 16).iter().all(|&x| x == 7));
        free(a, old);
    }
}
