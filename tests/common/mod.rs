//! Helpers shared by the `prop_*` model-based tests: input strategies with
//! edge values, byte patterns that tell every allocation apart, the
//! geometric checks (inside the buffer, aligned, pairwise disjoint), and
//! the owning wrappers of the C ABI the tests drive the allocators through
//! ([`c_api`]).

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

pub mod c_api;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// The configuration of every model test: `cases` cases, no regression
/// files written into the source tree.
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    }
}

/// Values that sit on the edges of `i64` arithmetic.
pub const EDGES: &[i64] = &[
    0,
    1,
    2,
    3,
    7,
    8,
    15,
    16,
    17,
    255,
    4096,
    -1,
    -2,
    -8,
    i64::MAX,
    i64::MAX - 1,
    i64::MAX - 7,
    i64::MAX - 15,
    i64::MAX - 4095,
    i64::MIN,
    i64::MIN + 1,
    1 << 31,
    (1 << 32) - 1,
    1 << 32,
    (1 << 62) - 1,
    1 << 62,
    (1 << 62) + 1,
    -(1 << 62),
    (1 << 62) + (1 << 61),
    (i64::MAX >> 1) + 1,
];

/// A power of two `2^k` (k in 0..=63, so `i64::MIN` included) nudged by
/// -2..=2, wrapping.
pub fn near_power_of_two() -> impl Strategy<Value = i64> {
    (0u32..64, -2i64..=2).prop_map(|(k, d)| (1u64 << k).wrapping_add(d as u64) as i64)
}

/// An exact power of two `2^k`, k in 0..=63 (`2^63` reads as `i64::MIN`).
pub fn power_of_two() -> impl Strategy<Value = i64> {
    (0u32..64).prop_map(|k| (1u64 << k) as i64)
}

/// Any `i64`, biased towards edges, powers of two and small values.
pub fn edge_i64() -> BoxedStrategy<i64> {
    prop_oneof![
        2 => -2i64..=2,
        3 => prop::sample::select(EDGES),
        3 => near_power_of_two(),
        2 => any::<i64>(),
        2 => 0i64..=4096,
    ]
    .boxed()
}

/// A request size for an allocator test: mostly small, sometimes zero,
/// sometimes absurd (negative, huge, near overflow).
pub fn request_size(small: i64) -> BoxedStrategy<i64> {
    prop_oneof![
        12 => 0..=small,
        2 => Just(0i64),
        1 => 0..=small * 8,
        2 => edge_i64(),
    ]
    .boxed()
}

/// A request alignment: mostly a small power of two, sometimes a large
/// one, sometimes invalid (0, negative, not a power of two, `i64::MIN`).
pub fn request_align() -> BoxedStrategy<i64> {
    prop_oneof![
        14 => (0u32..=6).prop_map(|k| 1i64 << k),
        2 => (7u32..=12).prop_map(|k| 1i64 << k),
        1 => power_of_two(),
        2 => edge_i64(),
    ]
    .boxed()
}

/// Sequences of 1..200 operations from `op`; a quarter of them also get one
/// `drop` (releasing the buffer, after which little can happen) at a random
/// place.
pub fn sequence<T: Clone + core::fmt::Debug>(
    op: impl Strategy<Value = T>,
    drop: T,
) -> impl Strategy<Value = Vec<T>> {
    (
        prop::collection::vec(op, 1..200),
        prop::option::weighted(0.25, any::<prop::sample::Index>()),
    )
        .prop_map(move |(mut ops, at)| {
            if let Some(at) = at {
                ops.insert(at.index(ops.len() + 1), drop.clone());
            }
            ops
        })
}

/// What `core::alloc::Layout` thinks of `(size, align)`: `true` iff both are
/// non-negative and `Layout::from_size_align` accepts them.
pub fn core_layout_ok(size: i64, align: i64) -> bool {
    match (usize::try_from(size), usize::try_from(align)) {
        (Ok(size), Ok(align)) => core::alloc::Layout::from_size_align(size, align).is_ok(),
        _ => false,
    }
}

/// Byte `index` of the pattern of allocation `id`: every allocation gets
/// its own sequence, so a byte written for one is wrong for any other.
pub fn pattern_byte(id: u64, index: usize) -> u8 {
    let x = id
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((index as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    (x ^ (x >> 31) ^ (x >> 47)) as u8
}

/// Fills `len` bytes at `ptr` with the pattern of `id`.
///
/// # Safety
/// `[ptr, ptr + len)` must be valid for writes.
pub unsafe fn fill(ptr: *mut u8, len: usize, id: u64) {
    for index in 0..len {
        // SAFETY: `index < len`, and the caller vouches for the range.
        unsafe { ptr.add(index).write(pattern_byte(id, index)) };
    }
}

/// Checks that `len` bytes at `ptr` still hold the pattern of `id`.
///
/// # Safety
/// `[ptr, ptr + len)` must be valid for reads.
pub unsafe fn verify(ptr: *const u8, len: usize, id: u64) -> Result<(), TestCaseError> {
    for index in 0..len {
        // SAFETY: `index < len`, and the caller vouches for the range.
        let byte = unsafe { ptr.add(index).read() };
        prop_assert_eq!(
            byte,
            pattern_byte(id, index),
            "allocation #{} at {:#x}: byte {} of {} was disturbed",
            id,
            ptr as usize,
            index,
            len
        );
    }
    Ok(())
}

/// Checks that `len` bytes at `ptr` are zero.
///
/// # Safety
/// `[ptr, ptr + len)` must be valid for reads.
pub unsafe fn verify_zero(ptr: *const u8, len: usize) -> Result<(), TestCaseError> {
    for index in 0..len {
        // SAFETY: `index < len`, and the caller vouches for the range.
        let byte = unsafe { ptr.add(index).read() };
        prop_assert_eq!(byte, 0, "zeroed allocation: byte {} of {}", index, len);
    }
    Ok(())
}

/// A half-open address range `[start, end)` tagged with an allocation id.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    /// First address.
    pub start: usize,
    /// One past the last address.
    pub end: usize,
    /// The allocation it belongs to.
    pub id: u64,
}

/// Checks that no two spans overlap.
pub fn check_disjoint(mut spans: Vec<Span>) -> Result<(), TestCaseError> {
    spans.sort_by_key(|s| (s.start, s.end));
    for pair in spans.windows(2) {
        prop_assert!(
            pair[0].end <= pair[1].start,
            "allocations #{} {:#x}..{:#x} and #{} {:#x}..{:#x} overlap",
            pair[0].id,
            pair[0].start,
            pair[0].end,
            pair[1].id,
            pair[1].start,
            pair[1].end
        );
    }
    Ok(())
}

/// Checks that `span` lies in `[lo, hi)`.
pub fn check_inside(span: Span, lo: usize, hi: usize) -> Result<(), TestCaseError> {
    prop_assert!(
        span.start >= lo && span.end <= hi && span.start <= span.end,
        "allocation #{} {:#x}..{:#x} lies outside the buffer {:#x}..{:#x}",
        span.id,
        span.start,
        span.end,
        lo,
        hi
    );
    Ok(())
}

/// A tiny deterministic generator (xorshift64*), for shuffles driven by a
/// proptest-chosen seed.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// The next pseudo-random value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}
