//! Memory-tool visibility: Valgrind (Memcheck) and AddressSanitizer learn
//! about every sub-allocation, detected at run time.
//!
//! To either tool an arena is one big `malloc`'d buffer, so a read past a
//! pool block or of a popped stack block would go unseen. Here, when the
//! process runs under Valgrind or has the ASan runtime loaded (looked up
//! once, at the first operation), every allocator reports what it hands
//! out and takes back:
//!
//! - memory it obtains (its buffer, a chunk, a region) becomes
//!   inaccessible (`obtained`);
//! - a block handed out becomes accessible up to its usable size; the pool
//!   and the free list report their blocks to Memcheck as heap blocks
//!   (`MALLOCLIKE`, so its messages name the block and a block still live
//!   when its allocator goes is a leak), the bump arena and the stack
//!   report spans (addressability only: freeing an arena frees its blocks);
//! - a block freed, popped or released, and free space after a reset,
//!   becomes inaccessible again;
//! - memory given back (to the system, an upstream or a caller) becomes
//!   accessible again (`returning`).
//!
//! The allocators read and write their own headers and links inside the
//! inaccessible memory: under Valgrind each operation runs with the
//! thread's error reporting off (`Quiet`); ASan does not see the
//! library's own accesses (it is not instrumented). The hooks are taken
//! only when `active` says a tool is there: without one, an operation
//! pays one predictable branch. The cargo feature `memory-tools` (on by
//! default) compiles them out when turned off.

mod asan;
pub mod seen;
mod valgrind;

use asan::Asan;
use core::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// Not looked up yet.
const UNKNOWN: u8 = 0;
/// No tool: the plain paths.
const NONE: u8 = 1;
/// Running under Valgrind's Memcheck (other Valgrind tools do not count).
const VALGRIND: u8 = 2;
/// The ASan runtime is loaded.
const ASAN: u8 = 4;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
static ASAN_RUNTIME: OnceLock<Option<Asan>> = OnceLock::new();

/// Whether a memory tool may be present (true until the first lookup,
/// which then answers for the rest of the process).
#[inline(always)]
pub(crate) fn active() -> bool {
    cfg!(feature = "memory-tools") && STATE.load(Ordering::Relaxed) != NONE
}

/// The tools present, looked up once.
fn state() -> u8 {
    let state = STATE.load(Ordering::Relaxed);
    if state != UNKNOWN {
        return state;
    }
    let mut found = 0;
    if valgrind::running() {
        found |= VALGRIND;
    }
    if asan_runtime().is_some() {
        found |= ASAN;
    }
    let state = if found == 0 { NONE } else { found };
    STATE.store(state, Ordering::Relaxed);
    state
}

fn asan_runtime() -> Option<Asan> {
    *ASAN_RUNTIME.get_or_init(Asan::find)
}

/// Which memory tools the library reports to: 1 Valgrind, 2
/// AddressSanitizer (both: 3), 0 none.
pub(crate) fn detected() -> i64 {
    if !cfg!(feature = "memory-tools") {
        return 0;
    }
    let state = state();
    i64::from(state & VALGRIND != 0) | i64::from(state & ASAN != 0) << 1
}

pub(crate) fn valgrind() -> bool {
    state() & VALGRIND != 0
}

fn with_asan(f: impl FnOnce(Asan)) {
    if state() & ASAN != 0 {
        if let Some(asan) = asan_runtime() {
            f(asan);
        }
    }
}

/// How an allocator's blocks are reported to Memcheck.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// As heap blocks (`MALLOCLIKE`/`FREELIKE`): named in messages, leaks
    /// when never freed.
    Heap,
    /// As addressability only: an arena's blocks go with the arena.
    Span,
    /// Not at all: the system allocator, which the tools see themselves.
    Native,
}

/// While alive, this thread's Valgrind errors are not reported: the
/// allocator is touching its own (inaccessible) bookkeeping.
pub(crate) struct Quiet {
    on: bool,
}

impl Quiet {
    pub(crate) fn new() -> Quiet {
        let on = valgrind();
        if on {
            valgrind::hide_errors();
        }
        Quiet { on }
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        if self.on {
            valgrind::report_errors();
        }
    }
}

/// `[addr, addr + len)` is now managed by an allocator: inaccessible.
pub(crate) fn obtained(addr: usize, len: usize) {
    if !active() || len == 0 {
        return;
    }
    if valgrind() {
        valgrind::noaccess(addr, len);
    }
    with_asan(|asan| asan.poison(addr, len));
}

/// `[addr, addr + len)` leaves the allocator (to the system, an upstream
/// or the caller who lent it): accessible again.
pub(crate) fn returning(addr: usize, len: usize) {
    if !active() || len == 0 {
        return;
    }
    if valgrind() {
        valgrind::defined(addr, len);
    }
    with_asan(|asan| asan.unpoison(addr, len));
}

/// A block of `size` usable bytes at `addr` was handed out.
fn handed_out(kind: Kind, addr: usize, size: usize) {
    if valgrind() {
        match kind {
            Kind::Heap => valgrind::malloclike(addr, size, false),
            Kind::Span => valgrind::undefined(addr, size),
            Kind::Native => return,
        }
    }
    with_asan(|asan| asan.unpoison(addr, size));
}

/// The block of `size` usable bytes at `addr` was freed.
fn taken_back(kind: Kind, addr: usize, size: usize) {
    if valgrind() {
        match kind {
            Kind::Heap => valgrind::freelike(addr),
            Kind::Span => valgrind::noaccess(addr, size),
            Kind::Native => return,
        }
    }
    with_asan(|asan| asan.poison(addr, size));
}

/// The block at `addr` went from `old` to `new` usable bytes in place.
fn resized(kind: Kind, addr: usize, old: usize, new: usize) {
    if old == new || kind == Kind::Native {
        return;
    }
    if valgrind() {
        match kind {
            Kind::Heap => valgrind::resize_in_place(addr, old, new),
            Kind::Span if new > old => valgrind::undefined(addr + old, new - old),
            Kind::Span | Kind::Native => valgrind::noaccess(addr + new, old - new),
        }
    }
    with_asan(|asan| {
        if new > old {
            asan.unpoison(addr + old, new - old);
        } else {
            asan.poison(addr + new, old - new);
        }
    });
}

/// `[addr, addr + len)` is free space of an arena: inaccessible.
fn free_space(addr: usize, len: usize) {
    if len == 0 {
        return;
    }
    if valgrind() {
        valgrind::noaccess(addr, len);
    }
    with_asan(|asan| asan.poison(addr, len));
}

/// The heap block of `size` bytes at `addr`, obtained from an upstream
/// that reported it to Memcheck, becomes plain memory of the allocator
/// that holds it (Memcheck refuses heap blocks that overlap).
pub(crate) fn disown(addr: usize, size: usize) {
    let _ = size;
    if active() && valgrind() {
        valgrind::freelike(addr);
    }
}

/// Undoes [`disown`] before the block goes back to its upstream.
pub(crate) fn reown(addr: usize, size: usize) {
    if active() && valgrind() {
        valgrind::malloclike(addr, size, false);
    }
}
