//! Per-allocator random keys, and the keyed check that the free list's
//! header magic and the stack's header check bits are made of.

use core::sync::atomic::{AtomicU64, Ordering};

/// A key no other allocator of this process has, for the check bits of
/// its headers: a counter, the buffer address and a stack address (ASLR),
/// mixed by splitmix64's finaliser.
pub(crate) fn new_key(buffer_start: usize) -> u64 {
    static CREATED: AtomicU64 = AtomicU64::new(0);
    let serial = CREATED.fetch_add(1, Ordering::Relaxed);
    let local = 0u8;
    let mut key = serial.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ buffer_start as u64
        ^ (&local as *const u8 as u64).rotate_left(32);
    key = (key ^ (key >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    key = (key ^ (key >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    key ^ (key >> 31)
}

/// A keyed, nonlinear mix of two words: `a ^ b` times a random odd
/// multiplier. A caller keeps the bits of a mask of the product and xors
/// them with a second per-allocator key (bit 63 set): the free list over a
/// block's offset and size (its header magic), the stack over a header's
/// offset and its link and gap (its check bits).
///
/// Nonlinear, so that a write to the checked bits and one to the check
/// bits cannot cancel out: each bit of the product depends, through the
/// carries, on every bit of `a ^ b` at or below it, so one flipped bit of
/// `a ^ b` changes about half the masked bits above it. With check bits
/// linear in the value (its bits moved up and xored with a key), a flip of
/// a value bit and a flip of the one check bit it moved undo each other,
/// whatever the key; random bit flips into headers find such pairs.
///
/// Keyed, so that no change of the value is a weak spot: with a fixed
/// multiplier, some changes (for the golden-ratio constant, differences
/// like 14930352, Fibonacci-like) keep the masked bits for many keys, or
/// for all of them when the key is xored in after the multiply (it cancels
/// out). With a random multiplier, any given change keeps the `n` masked
/// bits with a chance of about 2^-n over the keys. The multiplier is odd so
/// that the multiply loses no bit of `a ^ b`.
///
/// Checks made of it catch a caller's accidents: a caller who can read
/// headers and sets out to forge one is not what they are for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyedCheck {
    multiplier: u64,
}

impl KeyedCheck {
    /// The check whose multiplier is `key` (from [`new_key`]) made odd.
    #[inline(always)]
    pub(crate) const fn new(key: u64) -> KeyedCheck {
        KeyedCheck {
            multiplier: key | 1,
        }
    }

    /// `a ^ b` times the multiplier; the caller masks it. (By reference
    /// and without the mask: taken by value, or with the mask as an
    /// argument, it changes the order of the loads in its callers, and
    /// with it the code of `freelist_dealloc` or `stack_depth`.)
    #[inline(always)]
    pub(crate) fn product(&self, a: u64, b: u64) -> u64 {
        (a ^ b).wrapping_mul(self.multiplier)
    }
}
