//! General-purpose allocators behind one small interface, for workload 3
//! (steady state with N live blocks) and workload 4 (trace replay).
//!
//! Rust peers (rlsf, talc, linked_list_allocator) run inlined over a fixed
//! arena of their own; libvais_alloc's free list and the C floor are called
//! through their shared objects; glibc through libc.so.

use crate::bench::Kind;
use crate::ffi::*;
use std::alloc::Layout as RustLayout;
use std::ptr::NonNull;

/// An anonymous mapping, touched only where an allocator writes. Advised
/// `MADV_HUGEPAGE` as libvais_alloc advises its own buffers of 4 MiB or
/// more, so that no side of a comparison has fewer TLB misses for want of
/// one system call.
pub struct Arena {
    pub base: *mut u8,
    pub len: usize,
}

impl Arena {
    pub fn new(len: usize) -> Arena {
        let len = (len + 4095) & !4095;
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert!(base != libc::MAP_FAILED, "mmap of {len} bytes failed");
        advise_huge_pages(base.cast(), len);
        Arena {
            base: base.cast(),
            len,
        }
    }
}

/// `MADV_HUGEPAGE` over the whole 2 MiB pages of `[base, base + len)` when
/// it spans 4 MiB or more (libvais_alloc's rule); a hint, result ignored.
pub fn advise_huge_pages(base: *mut u8, len: usize) {
    const HUGE: usize = 2 << 20;
    if len < 2 * HUGE {
        return;
    }
    let first = (base as usize + HUGE - 1) & !(HUGE - 1);
    let end = (base as usize + len) & !(HUGE - 1);
    if end > first {
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

pub trait Gp {
    const NAME: &'static str;
    const KIND: Kind;
    const NOTE: &'static str = "";
    /// Whether blocks still live at the end must be freed one by one: only
    /// for glibc (the process heap); the others drop their arena whole
    /// (linked_list_allocator would take minutes to free 10^6 blocks).
    const FREE_AT_END: bool = false;
    /// Creates the allocator with room for `capacity` bytes of blocks.
    fn create(capacity: usize) -> Self;
    /// 0 on failure.
    unsafe fn alloc(&mut self, size: usize, align: usize) -> usize;
    unsafe fn free(&mut self, ptr: usize, size: usize, align: usize);
    /// Default: allocate, copy, free (what a user of an API without
    /// realloc does).
    unsafe fn realloc(&mut self, ptr: usize, old: usize, align: usize, new: usize) -> usize {
        let n = self.alloc(new, align);
        if n != 0 {
            std::ptr::copy_nonoverlapping(ptr as *const u8, n as *mut u8, old.min(new));
            self.free(ptr, old, align);
        }
        n
    }
    /// Errors seen by the C ABI frees (must stay 0).
    fn errors(&self) -> i64 {
        0
    }
}

/// The address of an allocation, 0 for none.
#[inline(always)]
fn address(p: Option<NonNull<u8>>) -> usize {
    p.map_or(0, |p| p.as_ptr() as usize)
}

#[inline(always)]
unsafe fn rl(size: usize, align: usize) -> RustLayout {
    RustLayout::from_size_align_unchecked(size.max(1), align)
}

// ---- libvais_alloc ----------------------------------------------------------

pub struct Ours {
    h: Handle,
    bad: i64,
}

impl Gp for Ours {
    const NAME: &'static str = "vais_alloc freelist (C ABI)";
    const KIND: Kind = Kind::Ours;
    fn create(capacity: usize) -> Self {
        let h = unsafe { freelist_new(capacity as i64) };
        check(!h.is_null(), "freelist_new");
        Ours { h, bad: 0 }
    }
    #[inline(always)]
    unsafe fn alloc(&mut self, size: usize, align: usize) -> usize {
        freelist_alloc(
            self.h,
            Layout {
                size: size as i64,
                align: align as i64,
            },
        )
        .ptr as usize
    }
    #[inline(always)]
    unsafe fn free(&mut self, ptr: usize, _size: usize, _align: usize) {
        self.bad |= freelist_dealloc(self.h, ptr as i64);
    }
    /// The library's own realloc: in place when the block or its free
    /// successor has room.
    unsafe fn realloc(&mut self, ptr: usize, _old: usize, align: usize, new: usize) -> usize {
        freelist_realloc(
            self.h,
            ptr as i64,
            Layout {
                size: new as i64,
                align: align as i64,
            },
        )
        .ptr as usize
    }
    fn errors(&self) -> i64 {
        self.bad
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        unsafe {
            freelist_free(self.h);
        }
    }
}

/// libvais_alloc's free list with its front-end cache off
/// (`freelist_set_cache(h, 0)`): every free merges at once.
pub struct OursNoCache(Ours);

impl Gp for OursNoCache {
    const NAME: &'static str = "vais_alloc freelist, cache off (C ABI)";
    const KIND: Kind = Kind::Info;
    const NOTE: &'static str = "freelist_set_cache(h, 0): every free merges at once";
    fn create(capacity: usize) -> Self {
        let ours = Ours::create(capacity);
        check(
            unsafe { freelist_set_cache(ours.h, 0) } == 0,
            "freelist_set_cache",
        );
        OursNoCache(ours)
    }
    #[inline(always)]
    unsafe fn alloc(&mut self, size: usize, align: usize) -> usize {
        self.0.alloc(size, align)
    }
    #[inline(always)]
    unsafe fn free(&mut self, ptr: usize, size: usize, align: usize) {
        self.0.free(ptr, size, align)
    }
    unsafe fn realloc(&mut self, ptr: usize, old: usize, align: usize, new: usize) -> usize {
        self.0.realloc(ptr, old, align, new)
    }
    fn errors(&self) -> i64 {
        self.0.errors()
    }
}

// ---- C floor ------------------------------------------------------------------

pub struct Floor {
    h: Handle,
}

impl Gp for Floor {
    const NAME: &'static str = "C floor: size-class lists (.so)";
    const KIND: Kind = Kind::Floor;
    const NOTE: &'static str = "no coalescing, no checks";
    fn create(capacity: usize) -> Self {
        let h = unsafe { floor_classes_new(capacity as i64) };
        check(!h.is_null(), "floor_classes_new");
        Floor { h }
    }
    #[inline(always)]
    unsafe fn alloc(&mut self, size: usize, align: usize) -> usize {
        floor_classes_alloc(
            self.h,
            Layout {
                size: size as i64,
                align: align as i64,
            },
        )
        .ptr as usize
    }
    #[inline(always)]
    unsafe fn free(&mut self, ptr: usize, size: usize, align: usize) {
        floor_classes_dealloc(
            self.h,
            ptr as i64,
            Layout {
                size: size as i64,
                align: align as i64,
            },
        );
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        unsafe { floor_classes_free(self.h) }
    }
}

// ---- glibc ----------------------------------------------------------------------

pub struct Glibc;

impl Gp for Glibc {
    const NAME: &'static str = "glibc malloc/free";
    const KIND: Kind = Kind::Peer;
    const NOTE: &'static str = "posix_memalign above align 16";
    const FREE_AT_END: bool = true;
    fn create(_capacity: usize) -> Self {
        Glibc
    }
    #[inline(always)]
    unsafe fn alloc(&mut self, size: usize, align: usize) -> usize {
        if align <= 16 {
            libc::malloc(size) as usize
        } else {
            let mut p = std::ptr::null_mut();
            if libc::posix_memalign(&mut p, align, size) != 0 {
                return 0;
            }
            p as usize
        }
    }
    #[inline(always)]
    unsafe fn free(&mut self, ptr: usize, _size: usize, _align: usize) {
        libc::free(ptr as *mut libc::c_void)
    }
    unsafe fn realloc(&mut self, ptr: usize, old: usize, align: usize, new: usize) -> usize {
        if align <= 16 {
            libc::realloc(ptr as *mut libc::c_void, new) as usize
        } else {
            let n = self.alloc(new, align);
            if n != 0 {
                std::ptr::copy_nonoverlapping(ptr as *const u8, n as *mut u8, old.min(new));
                self.free(ptr, old, align);
            }
            n
        }
    }
}

// ---- rlsf -------------------------------------------------------------------------

/// FLLEN 28 with 32-byte granularity: blocks up to 8 GiB, so the whole
/// arena is one pool; 16 second-level classes as in libvais_alloc.
type RlsfTlsf = rlsf::Tlsf<'static, u32, u16, 28, 16>;

pub struct Rlsf {
    tlsf: Box<RlsfTlsf>,
    _arena: Arena,
}

impl Gp for Rlsf {
    const NAME: &'static str = "rlsf TLSF (inlined Rust)";
    const KIND: Kind = Kind::Peer;
    fn create(capacity: usize) -> Self {
        let arena = Arena::new(capacity);
        let mut tlsf = Box::new(RlsfTlsf::new());
        let block = std::ptr::slice_from_raw_parts_mut(arena.base, arena.len);
        let n = unsafe { tlsf.insert_free_block_ptr(NonNull::new(block).unwrap()) };
        assert!(n.is_some(), "rlsf: arena rejected");
        Rlsf {
            tlsf,
            _arena: arena,
        }
    }
    #[inline(always)]
    unsafe fn alloc(&mut self, size: usize, align: usize) -> usize {
        address(self.tlsf.allocate(rl(size, align)))
    }
    #[inline(always)]
    unsafe fn free(&mut self, ptr: usize, _size: usize, align: usize) {
        self.tlsf
            .deallocate(NonNull::new_unchecked(ptr as *mut u8), align)
    }
    unsafe fn realloc(&mut self, ptr: usize, _old: usize, align: usize, new: usize) -> usize {
        address(
            self.tlsf
                .reallocate(NonNull::new_unchecked(ptr as *mut u8), rl(new, align)),
        )
    }
}

// ---- talc ---------------------------------------------------------------------------

type TalcT = talc::base::Talc<talc::source::Manual, talc::DefaultBinning>;

pub struct Talc {
    talc: Box<TalcT>,
    _arena: Arena,
}

impl Gp for Talc {
    const NAME: &'static str = "talc (inlined Rust)";
    const KIND: Kind = Kind::Peer;
    fn create(capacity: usize) -> Self {
        let arena = Arena::new(capacity + (1 << 20));
        let mut talc = Box::new(TalcT::new(talc::source::Manual));
        let r = unsafe { talc.claim(arena.base, arena.len) };
        assert!(r.is_some(), "talc: claim failed");
        Talc {
            talc,
            _arena: arena,
        }
    }
    #[inline(always)]
    unsafe fn alloc(&mut self, size: usize, align: usize) -> usize {
        address(self.talc.allocate(rl(size, align)))
    }
    #[inline(always)]
    unsafe fn free(&mut self, ptr: usize, size: usize, align: usize) {
        self.talc.deallocate(ptr as *mut u8, rl(size, align))
    }
}

// ---- linked_list_allocator ---------------------------------------------------------------

pub struct Lla {
    heap: Box<linked_list_allocator::Heap>,
    _arena: Arena,
}

impl Gp for Lla {
    const NAME: &'static str = "linked_list_allocator (inlined Rust)";
    const KIND: Kind = Kind::Peer;
    const NOTE: &'static str = "first fit over an address-ordered list";
    fn create(capacity: usize) -> Self {
        let arena = Arena::new(capacity);
        let mut heap = Box::new(linked_list_allocator::Heap::empty());
        unsafe { heap.init(arena.base, arena.len) };
        Lla {
            heap,
            _arena: arena,
        }
    }
    #[inline(always)]
    unsafe fn alloc(&mut self, size: usize, align: usize) -> usize {
        match self.heap.allocate_first_fit(rl(size, align)) {
            Ok(p) => p.as_ptr() as usize,
            Err(()) => 0,
        }
    }
    #[inline(always)]
    unsafe fn free(&mut self, ptr: usize, size: usize, align: usize) {
        self.heap
            .deallocate(NonNull::new_unchecked(ptr as *mut u8), rl(size, align))
    }
}
