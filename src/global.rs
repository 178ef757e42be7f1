//! The global allocator: the system `malloc` family, with any power-of-two
//! alignment.
//!
//! glibc's `malloc` already returns addresses aligned to [`MALLOC_ALIGN`];
//! larger alignments go through `posix_memalign`. A zero-size request
//! allocates one byte so that every returned pointer is unique and can be
//! given back to [`dealloc`].

use crate::error::Error;
use crate::layout::{Allocation, Checked, Layout};

/// The alignment that `malloc`, `calloc` and `realloc` guarantee for every
/// size (`alignof(max_align_t)`): 16 on x86-64 and AArch64 glibc.
pub const MALLOC_ALIGN: usize = 2 * core::mem::size_of::<usize>();

/// Bytes to ask the system for: at least one, so pointers stay unique.
#[inline]
fn system_size(layout: Checked) -> usize {
    layout.size.max(1)
}

/// Allocates `layout.size` bytes aligned to `layout.align`.
pub fn alloc(layout: Layout) -> Result<Allocation, Error> {
    let layout = layout.check()?;
    let ptr = if layout.align <= MALLOC_ALIGN {
        // SAFETY: malloc has no preconditions; a null result is handled below.
        unsafe { libc::malloc(system_size(layout)) }
    } else {
        aligned_malloc(layout)
    };
    finish(ptr, layout)
}

/// Like [`alloc`], with the block zero-filled.
pub fn alloc_zeroed(layout: Layout) -> Result<Allocation, Error> {
    let layout = layout.check()?;
    let ptr = if layout.align <= MALLOC_ALIGN {
        // SAFETY: calloc has no preconditions; a null result is handled below.
        unsafe { libc::calloc(1, system_size(layout)) }
    } else {
        let ptr = aligned_malloc(layout);
        if !ptr.is_null() {
            // SAFETY: `ptr` is a fresh block of at least `system_size` bytes.
            unsafe { core::ptr::write_bytes(ptr.cast::<u8>(), 0, system_size(layout)) };
        }
        ptr
    };
    finish(ptr, layout)
}

/// Frees a block from [`alloc`], [`alloc_zeroed`] or [`realloc`]; 0 is a
/// no-op. An invalid `layout` is refused and the block is left alone.
///
/// # Safety
/// `ptr` must be 0 or a live block returned by this module.
pub unsafe fn dealloc(ptr: i64, layout: Layout) -> Result<(), Error> {
    if ptr == 0 {
        return Ok(());
    }
    layout.check()?;
    {
        // SAFETY: the caller guarantees `ptr` came from malloc/calloc/
        // posix_memalign/realloc and is live, so `free` accepts it.
        unsafe { libc::free(ptr as usize as *mut libc::c_void) };
    }
    Ok(())
}

/// Resizes a block to `new`, preserving `min(old.size, new.size)` bytes and
/// honouring `new.align`. `ptr == 0` acts as [`alloc`]. On failure the old
/// block stays valid and unchanged.
///
/// # Safety
/// `ptr` must be 0 or a live block returned by this module with layout `old`.
pub unsafe fn realloc(ptr: i64, old: Layout, new: Layout) -> Result<Allocation, Error> {
    if ptr == 0 {
        return alloc(new);
    }
    let old_checked = old.check()?;
    let new_checked = new.check()?;
    let old_ptr = ptr as usize as *mut libc::c_void;
    if new_checked.align <= MALLOC_ALIGN {
        // SAFETY: `old_ptr` is a live system block (caller's guarantee);
        // realloc leaves it untouched when it returns null.
        let moved = unsafe { libc::realloc(old_ptr, system_size(new_checked)) };
        return finish(moved, new_checked);
    }
    if (ptr as usize) % new_checked.align == 0 && new_checked.size <= old_checked.size {
        // Shrinking an already aligned block: keep it where it is.
        return Ok(Allocation::new(ptr as usize, new_checked.size));
    }
    let fresh = finish(aligned_malloc(new_checked), new_checked)?;
    // SAFETY: both blocks are live, distinct, and at least `min(old, new)`
    // bytes long; the old one is freed only after the copy.
    unsafe {
        core::ptr::copy_nonoverlapping(
            old_ptr.cast::<u8>(),
            fresh.ptr as usize as *mut u8,
            old_checked.size.min(new_checked.size),
        );
        libc::free(old_ptr);
    }
    Ok(fresh)
}

/// `posix_memalign` for alignments above [`MALLOC_ALIGN`]; null on failure.
fn aligned_malloc(layout: Checked) -> *mut libc::c_void {
    let mut out: *mut libc::c_void = core::ptr::null_mut();
    // SAFETY: `out` is a valid place to write; the alignment is a power of
    // two and a multiple of sizeof(void *) (it exceeds MALLOC_ALIGN).
    let status = unsafe { libc::posix_memalign(&mut out, layout.align, system_size(layout)) };
    if status == 0 {
        out
    } else {
        core::ptr::null_mut()
    }
}

#[inline]
fn finish(ptr: *mut libc::c_void, layout: Checked) -> Result<Allocation, Error> {
    if ptr.is_null() {
        Err(Error::OutOfMemory)
    } else {
        Ok(Allocation::new(ptr as usize, layout.size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free(a: Allocation, layout: Layout) {
        // SAFETY: `a` was returned by this module and is freed once.
        unsafe { dealloc(a.ptr, layout) }.unwrap();
    }

    #[test]
    fn every_alignment_up_to_4_mib_is_real() {
        for shift in 0..=22 {
            let layout = Layout::new(24, 1 << shift);
            let a = alloc(layout).unwrap();
            assert_eq!(a.ptr % (1 << shift), 0, "align {}", 1 << shift);
            assert_eq!(a.size, 24);
            free(a, layout);
            let z = alloc_zeroed(layout).unwrap();
            assert_eq!(z.ptr % (1 << shift), 0);
            free(z, layout);
        }
    }

    #[test]
    fn zero_size_is_unique_and_freeable() {
        let layout = Layout::new(0, 64);
        let a = alloc(layout).unwrap();
        let b = alloc(layout).unwrap();
        assert!(a.ptr != 0 && b.ptr != 0 && a.ptr != b.ptr);
        assert_eq!((a.size, a.ptr % 64), (0, 0));
        free(a, layout);
        free(b, layout);
    }

    #[test]
    fn null_pointers_ignore_the_old_layout() {
        // SAFETY: ptr 0 is always accepted.
        unsafe {
            assert_eq!(dealloc(0, Layout::new(0, 0)), Ok(()));
            let a = realloc(0, Layout::new(-1, 0), Layout::new(64, 32)).unwrap();
            assert_eq!(a.ptr % 32, 0);
            dealloc(a.ptr, Layout::new(64, 32)).unwrap();
        }
    }

    #[test]
    fn zeroed_memory_is_zero() {
        for align in [8, 4096] {
            let layout = Layout::new(10_000, align);
            let a = alloc_zeroed(layout).unwrap();
            // SAFETY: `a` is a live block of 10_000 bytes.
            let bytes = unsafe { core::slice::from_raw_parts(a.ptr as usize as *const u8, 10_000) };
            assert!(bytes.iter().all(|&b| b == 0));
            free(a, layout);
        }
    }

    #[test]
    fn realloc_keeps_contents_and_new_alignment() {
        let old = Layout::new(100, 8);
        let a = alloc(old).unwrap();
        // SAFETY: `a` is a live block of 100 bytes.
        unsafe { core::ptr::write_bytes(a.ptr as usize as *mut u8, 0xAB, 100) };
        let new = Layout::new(5000, 4096);
        // SAFETY: `a` is live with layout `old`.
        let b = unsafe { realloc(a.ptr, old, new) }.unwrap();
        assert_eq!(b.ptr % 4096, 0);
        // SAFETY: `b` holds at least 100 bytes.
        let bytes = unsafe { core::slice::from_raw_parts(b.ptr as usize as *const u8, 100) };
        assert!(bytes.iter().all(|&x| x == 0xAB));
        free(b, new);
    }

    #[test]
    fn failures_have_codes_and_keep_the_old_block() {
        assert_eq!(alloc(Layout::new(-1, 8)), Err(Error::InvalidLayout));
        assert_eq!(alloc(Layout::new(8, 24)), Err(Error::InvalidLayout));
        assert_eq!(alloc(Layout::new(1 << 62, 8)), Err(Error::OutOfMemory));
        assert_eq!(
            alloc(Layout::new(1 << 62, 1 << 20)),
            Err(Error::OutOfMemory)
        );
        let old = Layout::new(16, 8);
        let a = alloc(old).unwrap();
        // SAFETY: `a` is a live 16-byte block.
        unsafe { core::ptr::write_bytes(a.ptr as usize as *mut u8, 7, 16) };
        for new in [
            Layout::new(1 << 62, 8),
            Layout::new(1 << 62, 4096),
            Layout::new(8, 3),
        ] {
            // SAFETY: `a` is live with layout `old`.
            let r = unsafe { realloc(a.ptr, old, new) };
            assert!(r.is_err());
        }
        // SAFETY: `a` is still live (every realloc failed).
        let bytes = unsafe { core::slice::from_raw_parts(a.ptr as usize as *const u8, 16) };
        assert!(bytes.iter().all(|&x| x == 7));
        free(a, old);
    }
}
