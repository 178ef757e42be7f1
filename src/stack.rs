//! The LIFO stack: allocations are popped in reverse order, each pop
//! restoring exactly the state before its allocation.
//!
//! Every allocation is preceded by an 8-byte header at the first 8-aligned
//! offset at or after the previous top; the payload follows at the first
//! address aligned as requested:
//!
//! ```text
//!  prev top  header (8-aligned)   padding   payload           new top
//!     |  pad  | prev_header+8 | top%8 |  ...  | layout.size bytes |
//! ```
//!
//! The header word holds `previous header offset + 8` (0 when this is the
//! bottom allocation): a multiple of 8, so its low 3 bits are free and hold
//! how far below the header the previous top was (0..=7: the header sits at
//! `align_up(previous top, 8)`), which recovers the previous top exactly,
//! for any capacity, with one subtraction. The allocator itself keeps the
//! top, the newest header's offset + 8, and a copy of that header's link
//! and gap. A pop restores the top and the link from the copy, then reads
//! and checks the header below (the new newest) to refill it: a pop never
//! waits for the header word its push just stored (nor for its check
//! bits), and in a run of pops each waits for the one before through a
//! header's load, a mask, and the copy's store and reload.
//!
//! The bits of the header word above the largest link the capacity allows,
//! and at least bits 16..64 (bits 41..64 for a capacity of 1 TiB), hold
//! check bits: the rest of the word (link and gap) xored with the header's
//! offset, times a random per-stack odd multiplier (a key); the product's
//! bits at those positions (each depends, through the carries, on every
//! bit of the rest below it, so on all of them), xored with a second key;
//! bit 63 is always set. A header whose link
//! or gap was written over, or which was copied to another offset, keeps
//! its check bits with a chance of about one in 2^47 for stacks below
//! 64 KiB, 2^32 below 2 GiB, 2^20 up to 4 TiB, over the keys; so does a
//! header written over at random. The check bits used to be the rest moved
//! up and xored with the key: linear, so that a flip of a rest bit and of
//! the one check bit it moved undid each other, and random bit flips into
//! headers (a test below) found such pairs; a flipped rest bit now moves
//! about half the check bits. (A fixed multiplier would let some writes
//! keep them for a sizeable share of keys: which ones depends on the
//! multiplier, so it is a key too.) They catch a
//! caller's accidents; a caller who can read headers and sets out to forge
//! one is not what they are for.
//! Headers lie below their payloads, where a caller's underflow could
//! overwrite one. A header is read when the allocation above it is
//! popped; one whose check bits do not match, or whose link and gap, read
//! as one number, exceed its own offset (a link not below the header, or a
//! previous top below the buffer), was written over: the pop of its own
//! allocation then still succeeds, leaving the top at that header, but
//! forgets everything below it, which stays allocated until `reset`. The
//! newest allocation's header is not read while it is the newest (the
//! stack holds its copy): a write over it is found only if another
//! allocation is pushed above it and popped again. A header written over
//! by accident therefore never leads a later allocation over a live one,
//! and no header, forged or not, leads a pop or a push outside the buffer.
//!
//! A zero-size request takes one byte, so its pointer lies inside the
//! buffer and a stack with only a header's room left refuses it.

use crate::buffer::{new_key, Buffer};
use crate::error::Error;
use crate::layout::{Allocation, Layout};

const HEADER_SIZE: usize = 8;

/// A LIFO allocator over an owned buffer.
#[derive(Debug)]
pub struct Stack {
    buffer: Buffer,
    /// First free address (an address, not an offset: a push then waits
    /// on the last one's top for just an add, a mask and an add).
    top: usize,
    /// One past the buffer's last address.
    end: usize,
    /// Offset of the newest live allocation's header + 8, or 0 when there
    /// is none (what the next header will hold, less the gap below it).
    link: usize,
    /// The newest header's link and gap (meaningful while `link != 0`):
    /// the word that header holds without its check bits, as its push
    /// wrote it or as the pop above it read and checked it.
    newest_rest: u64,
    /// The header bits that hold check bits: those above any link.
    check_mask: u64,
    /// `!check_mask`: the link and the gap.
    rest_mask: u64,
    /// `check_mask` without bit 63, which `check_key` sets.
    shifted_mask: u64,
    /// The per-stack random key, within `shifted_mask`, with bit 63 set.
    check_key: u64,
    /// The (odd, random) multiplier of the check bits.
    mix_multiplier: u64,
}

impl Stack {
    /// A stack owning a fresh buffer of `capacity` bytes (16-byte aligned).
    pub fn new(capacity: i64) -> Result<Stack, Error> {
        let capacity = usize::try_from(capacity).map_err(|_| Error::InvalidArgument)?;
        // Zero-filled, so that no header word a pop reads was never written.
        let buffer = Buffer::allocate(capacity, true)?;
        // Links are at most the capacity (below 2^63). Check bits start at
        // bit 16 at the lowest, so that no byte (nor 16-bit half) of a
        // header holds both a bit and the check bit that covers it.
        let check_shift = (u64::BITS - (capacity as u64).leading_zeros()).max(16);
        let (key, multiplier) = (new_key(buffer.start()), new_key(buffer.start()));
        let mut stack = Stack {
            top: buffer.start(),
            end: buffer.end(),
            buffer,
            link: 0,
            newest_rest: 0,
            check_mask: 0,
            rest_mask: 0,
            shifted_mask: 0,
            check_key: 0,
            mix_multiplier: 1,
        };
        stack.set_check_shift(check_shift, key, multiplier);
        Ok(stack)
    }

    /// Sets the check bits to start at bit `check_shift` (16..=63), keyed
    /// by `key` and `multiplier` (made odd, so that the multiply loses no
    /// bit), and everything derived from that.
    fn set_check_shift(&mut self, check_shift: u32, key: u64, multiplier: u64) {
        self.check_mask = !0 << check_shift;
        self.shifted_mask = self.check_mask & !(1 << 63);
        self.rest_mask = !self.check_mask;
        self.check_key = key & self.shifted_mask | 1 << 63;
        self.mix_multiplier = multiplier | 1;
    }

    /// The check bits of a header at offset `header` whose other bits are
    /// `rest` (link and gap); bit 63 always set, so zeroed memory never
    /// passes.
    #[inline(always)]
    fn check_bits(&self, header: usize, rest: u64) -> u64 {
        (rest ^ header as u64).wrapping_mul(self.mix_multiplier) & self.shifted_mask
            ^ self.check_key
    }

    /// Pushes an allocation for `layout`; `Exhausted` (state unchanged)
    /// when it does not fit.
    #[inline]
    pub fn alloc(&mut self, layout: Layout) -> Result<Allocation, Error> {
        // The alignment is checked first; the size only through the fit
        // below (a negative size is a huge `usize`, which never fits), so
        // that the error is worked out only for a request that fails.
        if layout.align <= 0 || layout.align & (layout.align - 1) != 0 {
            return Err(Error::InvalidLayout);
        }
        // The payload is the first address aligned to `align` (at least 8)
        // with 8 bytes below it above the top: `align_up(top + 8, align)`
        // is at least `align_up(top, 8) + 8`, the header's end, because
        // rounding `top + 8` up to a multiple of 8 first changes nothing.
        // Addresses are below 2^63 and `0 < align <= 2^62`: no overflow.
        let align = (layout.align as usize).max(HEADER_SIZE);
        let payload = (self.top + HEADER_SIZE + (align - 1)) & !(align - 1);
        // A zero-size request takes one byte, as in the bump arena: its
        // pointer then lies inside the buffer and is distinct. A size that
        // fits makes a valid layout (rule 4): `payload` is a positive
        // multiple of `align` and `payload + size <= end < 2^63`, so `size`
        // rounded up to `align` is at most `2^63 - align`.
        let size = layout.size as usize;
        if payload > self.end || size.max(1) > self.end - payload {
            return Err(refusal(layout));
        }
        let new_top = payload + size.max(1);
        // Addresses and offsets agree mod 8 (the start is 16-aligned).
        let header_address = (self.top + 7) & !7;
        let header = header_address - self.buffer.start();
        let rest = (self.link | (header_address - self.top)) as u64;
        let word = self.check_bits(header, rest) | rest;
        // SAFETY: `header + 8 <= payload - start <= new_top - start <=
        // capacity`: the buffer's start is 16-aligned, so `payload - start`
        // is a multiple of 8 of at least `top - start + 8`, hence of
        // `header + 8`.
        unsafe { self.buffer.write_word_unchecked(header, word) };
        self.newest_rest = rest;
        self.link = header + HEADER_SIZE;
        self.top = new_top;
        Ok(Allocation::new(payload, size))
    }

    /// Pops the newest live allocation; `Empty` when there is none.
    #[inline]
    pub fn pop(&mut self) -> Result<(), Error> {
        if self.link == 0 {
            return Err(Error::Empty);
        }
        // The newest header's link and gap come from the stack's copy, so
        // the top and the link are restored without waiting for the word
        // the push stored; then the header below is read and checked into
        // the copy (a chain of pops waits on that load and one mask).
        let rest = self.newest_rest as usize;
        self.top = self.buffer.start() + (self.link - HEADER_SIZE) - (rest & 7);
        self.link = rest & !7;
        if self.link != 0 {
            self.newest_rest = self.checked_rest(self.link);
        }
        Ok(())
    }

    /// The link and gap of the header that ends at `link` (nonzero): what
    /// popping its allocation restores. A header whose check bits do not
    /// match, or whose link does not lead below itself, was written over:
    /// then 0, so that the pop leaves the top at the header (at or above
    /// everything still live) and the link at 0 (what lies below is
    /// forgotten).
    #[inline(always)]
    fn checked_rest(&self, link: usize) -> u64 {
        let header = link - HEADER_SIZE;
        // SAFETY: `link` is nonzero here, and is the link of a rest that
        // `alloc` wrote (the link it held: 0, or a header's offset + 8, at
        // most the capacity) or that this function returned (checked below
        // to be at most its header's offset); so `header + 8 = link <=
        // capacity`. The buffer never shrinks under a live header
        // (`drop_buffer` resets the stack), and it is zero-filled, so the
        // word was initialised.
        let word = unsafe { self.buffer.read_word_unchecked(header) };
        let rest = word & self.rest_mask;
        // A genuine header carries its check bits, and its link (a multiple
        // of 8, at most `header - 8`) or'ed with its gap (below 8) is below
        // its offset: so the link leads down, and the previous top,
        // `header - gap`, is not below the buffer.
        if word & self.check_mask != self.check_bits(header, rest) || rest as usize > header {
            return written_over();
        }
        rest
    }

    /// Pops everything.
    pub fn reset(&mut self) {
        self.top = self.buffer.start();
        self.link = 0;
    }

    /// Bytes above the top (`capacity - top`).
    pub fn remaining(&self) -> usize {
        self.end - self.top
    }

    /// Number of live allocations: how many pops succeed before `Empty`.
    /// It walks the headers (O(depth)), so that pushes and pops do not
    /// keep a count.
    pub fn depth(&self) -> usize {
        let (mut depth, mut link, mut rest) = (0, self.link, self.newest_rest);
        // Each step leads strictly down (a link is at most its header's
        // offset, 8 below the link that led there), so this ends.
        while link != 0 {
            depth += 1;
            link = rest as usize & !7;
            if link != 0 {
                rest = self.checked_rest(link);
            }
        }
        depth
    }

    /// Releases the buffer; the stack stays valid, empty, capacity 0.
    pub fn drop_buffer(&mut self) {
        self.buffer.release();
        self.end = self.buffer.end();
        self.reset();
    }
}

/// Why a push with a valid alignment failed: its size is invalid, or it
/// does not fit.
#[cold]
fn refusal(layout: Layout) -> Error {
    layout.check().err().unwrap_or(Error::Exhausted)
}

/// What a pop restores after a header that was written over. Cold, so
/// that the check stays a branch: as a select (`cmov`) it would put the
/// whole check between one pop's load and the next pop's.
#[cold]
#[inline(always)]
fn written_over() -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_unwind_every_level() {
        let mut stack = Stack::new(2048).unwrap();
        let mut seen = vec![stack.remaining()];
        for layout in [Layout::new(8, 8), Layout::new(4, 4), Layout::new(8, 8)] {
            stack.alloc(layout).unwrap();
            seen.push(stack.remaining());
        }
        assert_eq!(seen, vec![2048, 2032, 2020, 2000]);
        seen.pop();
        while let Some(expected) = seen.pop() {
            stack.pop().unwrap();
            assert_eq!(stack.remaining(), expected);
        }
        assert_eq!(stack.pop(), Err(Error::Empty));
        assert_eq!(stack.remaining(), 2048);
    }

    #[test]
    fn odd_tops_and_big_alignments_unwind_exactly() {
        let mut stack = Stack::new(1 << 16).unwrap();
        let layouts = [(3, 1), (5, 2), (1, 256), (7, 1), (0, 4096), (9, 16), (1, 1)];
        let mut remaining = vec![];
        for (size, align) in layouts {
            remaining.push(stack.remaining());
            let a = stack.alloc(Layout::new(size, align)).unwrap();
            assert_eq!(a.ptr % align, 0);
        }
        while let Some(expected) = remaining.pop() {
            stack.pop().unwrap();
            assert_eq!(stack.remaining(), expected);
        }
        assert_eq!(stack.depth(), 0);
    }

    #[test]
    fn an_overwritten_header_ends_the_chain_inside_the_buffer() {
        for garbage in [u64::MAX, 1 << 40, 0x1000 | 7, 8, 0] {
            for scribbled in 0..4 {
                let mut stack = Stack::new(4096).unwrap();
                let start = stack.buffer.start() as i64;
                let mut ptrs = vec![];
                for _ in 0..4 {
                    ptrs.push(stack.alloc(Layout::new(24, 8)).unwrap().ptr);
                }
                // A caller's underflow writes over a header (the 8 bytes
                // below its payload, here directly below).
                let header = ptrs[scribbled] - 8;
                // SAFETY: the header lies inside the stack's buffer.
                unsafe { (header as usize as *mut u64).write(garbage) };
                // The newest header's link and gap are also in the stack
                // itself, which pops from that copy: all 4 pops succeed.
                // Below it, the pops down to the scribbled allocation's
                // succeed, and that one leaves the top at its header.
                let (pops, bottom) = match scribbled {
                    3 => (4, start),
                    _ => (4 - scribbled, header),
                };
                let why = format!("garbage {garbage:#x} in header {scribbled}");
                assert_eq!(stack.depth(), pops, "{why}");
                for _ in 0..pops {
                    stack.pop().unwrap();
                }
                assert_eq!(stack.remaining() as i64, 4096 - (bottom - start), "{why}");
                assert_eq!(
                    (stack.pop(), stack.depth()),
                    (Err(Error::Empty), 0),
                    "{why}"
                );
                // The stack still works and its space is usable again.
                let a = stack.alloc(Layout::new(64, 16)).unwrap();
                assert!(a.ptr % 16 == 0 && a.ptr - 8 >= bottom, "{why}");
                stack.reset();
                assert_eq!(stack.remaining(), 4096);
            }
        }
    }

    #[test]
    fn a_scribbled_newest_header_is_caught_once_a_push_covers_it() {
        let mut stack = Stack::new(4096).unwrap();
        let a = stack.alloc(Layout::new(24, 8)).unwrap();
        let b = stack.alloc(Layout::new(24, 8)).unwrap();
        // b is the newest: its header is not read while it is.
        // SAFETY: the header lies inside the stack's buffer.
        unsafe { ((b.ptr - 8) as usize as *mut u64).write(0x0123_4567) };
        assert_eq!(stack.depth(), 2);
        // Covered by c, it is read (and refused) when c is popped.
        stack.alloc(Layout::new(24, 8)).unwrap();
        assert_eq!(stack.depth(), 2);
        stack.pop().unwrap(); // c
        stack.pop().unwrap(); // b: the top stays at its header
        assert_eq!(stack.remaining() as i64, 4096 - (b.ptr - 8 - (a.ptr - 8)));
        assert_eq!(stack.pop(), Err(Error::Empty)); // a is forgotten
    }

    #[test]
    fn depth_counts_the_pops_that_succeed() {
        let mut stack = Stack::new(4096).unwrap();
        let mut ptrs = vec![];
        for n in 1..=6 {
            ptrs.push(stack.alloc(Layout::new(8 * n, 8)).unwrap().ptr);
            assert_eq!(stack.depth(), n as usize);
        }
        // Scribble the third allocation's header: pops 6, 5, 4 and 3
        // succeed (3 forgets 2 and 1), then the stack is empty.
        // SAFETY: the header lies inside the stack's buffer.
        unsafe { ((ptrs[2] - 8) as usize as *mut u64).write(0x1234_5678) };
        for left in (0..4).rev() {
            stack.pop().unwrap();
            assert_eq!(stack.depth(), left);
        }
        assert_eq!(stack.pop(), Err(Error::Empty));
    }

    #[test]
    fn one_byte_writes_to_the_rest_almost_never_keep_the_check_bits() {
        // For each check shift up to 42 (4 TiB), 200 random headers and
        // every one-byte change of their rest: a change keeps the 63 - shift
        // check bits with a chance of 2^-(63 - shift), so all shifts
        // together should let through about 0.3 of these 1.8 million
        // changes. A scheme that left some rest bits out (as moving the
        // rest up by the shift did for stacks of 2 GiB or more) lets
        // thousands through; so does one linear in the rest, for the
        // changes that also hit the check bits (not tried here).
        let mut stack = Stack::new(64).unwrap();
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut kept = 0;
        for shift in [16, 24, 31, 32, 33, 36, 40, 41, 42] {
            stack.set_check_shift(shift, rng.rotate_left(shift), rng);
            for _ in 0..200 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let limit = (1u64 << shift) - 1;
                let rest = rng & limit;
                let header = ((rng >> 20) & limit) as usize & !7;
                let bits = stack.check_bits(header, rest);
                for byte in 0..8 {
                    for value in 1..=255u64 {
                        let delta = (value << (8 * byte)) & limit;
                        if delta != 0 && stack.check_bits(header, rest ^ delta) == bits {
                            kept += 1;
                        }
                    }
                }
            }
        }
        assert!(kept <= 6, "{kept} one-byte changes kept their check bits");
    }

    #[test]
    fn a_forged_header_leading_below_the_buffer_or_up_is_refused() {
        // A header forged with valid check bits (computed here with the
        // stack's keys, as a caller who read other headers might): what
        // stops it is the compare of link and gap against the header's own
        // offset.
        for forged in [1u64, 7, 8, 16, 64] {
            let mut stack = Stack::new(4096).unwrap();
            let a = stack.alloc(Layout::new(24, 8)).unwrap(); // header at 0
            let b = stack.alloc(Layout::new(24, 8)).unwrap(); // header at 32
            stack.alloc(Layout::new(24, 8)).unwrap(); // header at 64
            let target = if forged < 8 { a.ptr } else { b.ptr } - 8;
            let header = (target - (a.ptr - 8)) as usize;
            // Gap 1..7 below the bottom header, or a link at or above b's.
            let rest = if forged < 8 { forged } else { 32 + forged };
            let word = stack.check_bits(header, rest) | rest;
            // SAFETY: the header lies inside the stack's buffer.
            unsafe { (target as usize as *mut u64).write(word) };
            stack.pop().unwrap(); // the newest: reads b's header
            if forged >= 8 {
                stack.pop().unwrap(); // b: written over
                assert_eq!(stack.remaining(), 4096 - 32, "{forged}");
            } else {
                stack.pop().unwrap(); // b: reads a's header
                stack.pop().unwrap(); // a: written over
                assert_eq!(stack.remaining(), 4096, "{forged}");
            }
            // (Before `depth`, which would loop on a link leading up.)
            assert_eq!(stack.pop(), Err(Error::Empty), "{forged}");
            assert_eq!(stack.depth(), 0, "{forged}");
            assert!(stack.remaining() <= 4096);
        }
    }

    /// Random single-bit flips into the headers of live allocations amid
    /// pushes, pops and resets; returns whether a push ever overlapped an
    /// allocation still live (one a pop that met a bad header forgot stays
    /// live until the reset).
    fn stray_flips_overlap(seed: u64, steps: usize) -> bool {
        let mut stack = Stack::new(1 << 16).unwrap();
        let mut live: Vec<Allocation> = vec![];
        let mut forgotten: Vec<Allocation> = vec![];
        let mut random = seed;
        for _ in 0..steps {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            match random % 100 {
                0..=9 if !live.is_empty() => {
                    let a = live[(random >> 8) as usize % live.len()];
                    // One bit of the header (the 8 bytes below the payload).
                    let at = (a.ptr - 8 + (random >> 20) as i64 % 8) as usize as *mut u8;
                    // SAFETY: the header of a live allocation lies inside
                    // the stack's buffer.
                    unsafe { at.write(at.read() ^ 1 << ((random >> 32) % 8)) };
                }
                10..=49 => {
                    let before = stack.depth();
                    if stack.pop().is_ok() {
                        live.pop();
                        if before == 1 {
                            // The stack is empty: anything still below was
                            // forgotten at a bad header.
                            forgotten.append(&mut live);
                        }
                    }
                }
                50 => {
                    stack.reset();
                    live.clear();
                    forgotten.clear();
                }
                _ => {
                    let size = ((random >> 8) % 200) as i64;
                    if let Ok(a) = stack.alloc(Layout::new(size, 8)) {
                        let overlaps = |b: &Allocation| {
                            a.ptr - 8 < b.ptr + b.size.max(1) && b.ptr - 8 < a.ptr + a.size.max(1)
                        };
                        if live.iter().chain(&forgotten).any(overlaps) {
                            return true;
                        }
                        live.push(a);
                    }
                }
            }
        }
        false
    }

    #[test]
    fn random_bit_flips_into_headers_never_make_allocations_overlap() {
        for seed in 1..=300u64 {
            assert!(
                !stray_flips_overlap(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), 20_000),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn a_header_scribbled_to_point_into_a_live_payload_is_caught() {
        for garbage in [40u64, 40 | 3, 0] {
            let mut stack = Stack::new(4096).unwrap();
            let a = stack.alloc(Layout::new(64, 8)).unwrap(); // header 0
            let _b = stack.alloc(Layout::new(8, 8)).unwrap();
            let c = stack.alloc(Layout::new(8, 8)).unwrap();
            stack.alloc(Layout::new(8, 8)).unwrap();
            // Keep the check bits, change the link: one byte of c's header
            // (the newest but one: the newest's is read from the stack's
            // own copy).
            // SAFETY: c's header lies inside the stack's buffer.
            unsafe { ((c.ptr - 8) as usize as *mut u8).write(garbage as u8) };
            stack.pop().unwrap(); // the newest
            stack.pop().unwrap(); // c
            let _ = stack.pop(); // b, as the caller believes; `a` stays live
            let d = stack.alloc(Layout::new(8, 8)).unwrap();
            assert!(
                d.ptr >= a.ptr + a.size || d.ptr + d.size <= a.ptr,
                "{d:?} overlaps {a:?}"
            );
        }
    }

    #[test]
    fn one_forged_byte_in_a_small_stacks_bottom_header_is_caught() {
        // A 64-byte stack: the header's link and low bits fit in its low
        // byte; no value of that byte may pass for a header whose top was
        // above 0 (which would put the previous top below the buffer).
        for byte in 0..=255u8 {
            let mut stack = Stack::new(64).unwrap();
            let a = stack.alloc(Layout::new(8, 8)).unwrap();
            stack.alloc(Layout::new(8, 8)).unwrap();
            // SAFETY: a's header lies inside the stack's buffer.
            unsafe { ((a.ptr - 8) as usize as *mut u8).write(byte) };
            stack.pop().unwrap(); // reads a's header
            stack.pop().unwrap();
            assert_eq!(stack.remaining(), 64, "{byte:#x}");
            assert_eq!(stack.pop(), Err(Error::Empty));
            assert!(stack.alloc(Layout::new(8, 8)).is_ok());
        }
    }

    #[test]
    fn exhaustion_and_bad_layouts_change_nothing() {
        let mut stack = Stack::new(32).unwrap();
        stack.alloc(Layout::new(8, 8)).unwrap();
        let before = stack.remaining();
        for (layout, err) in [
            (Layout::new(16, 8), Error::Exhausted),
            (Layout::new(i64::MAX, 1), Error::Exhausted),
            (Layout::new(1, 1 << 62), Error::Exhausted),
            (Layout::new(-1, 8), Error::InvalidLayout),
        ] {
            assert_eq!(stack.alloc(layout), Err(err));
        }
        assert_eq!((stack.remaining(), stack.depth()), (before, 1));
        let mut empty = Stack::new(0).unwrap();
        assert_eq!(empty.alloc(Layout::new(0, 1)), Err(Error::Exhausted));
    }
}
