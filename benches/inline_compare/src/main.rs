//! Steady state with N live blocks (free a random one, allocate 16-1024 B,
//! align 8), for libvais_alloc's free list (`ours`, the Rust core, no FFI;
//! `ours-nocache` with its front-end cache off) or rlsf (`rlsf`), with the
//! same fixed-seed operations.
//!
//! ```text
//! cargo build --release
//! target/release/vais_inline_compare ours 10000 300000
//! valgrind --tool=cachegrind --cache-sim=yes target/release/vais_inline_compare ours 10000 300000
//! valgrind --tool=cachegrind --cache-sim=yes target/release/vais_inline_compare rlsf 10000 300000
//! perf record target/release/vais_inline_compare ours 1000000 2000000 && perf annotate
//! target/release/vais_inline_compare rlsf+pad 1000000 1000000
//! ```
//!
//! `bump-ours` / `bump-bumpalo LIVE STEPS` (LIVE unused): a growing bump
//! arena, fresh each round, serving STEPS allocations of 16 B from chunks
//! of the global allocator (libvais_alloc's core, inlined as bumpalo is,
//! against bumpalo): the `bump/growing` workload of `make bench` without the
//! C ABI.
//!
//! `rlsf+pad` is rlsf with a chain of register-only work (no memory access)
//! between the free and the allocation of every step: at N = 10^6 it shows
//! that extra instructions cost far more than their own time when a step
//! waits on cache misses (they keep the next misses from overlapping).

use std::alloc::Layout as CoreLayout;
use std::ptr::NonNull;
use std::time::Instant;
use vais_alloc::bump::Bump;
use vais_alloc::free_list::FreeList;
use vais_alloc::global::Global;
use vais_alloc::Allocator;

/// The same configuration as the benchmark runner's rlsf peer.
type Rlsf = rlsf::Tlsf<'static, u32, u16, 28, 16>;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn size(&mut self) -> usize {
        16 + (self.next() % 1009) as usize
    }
}

fn report(name: &str, round: usize, started: Instant, steps: usize) {
    let ns = started.elapsed().as_nanos() as f64 / steps as f64;
    println!("{name} round {round}: {ns:.1} ns/step");
}

/// Rounds of register-only work per step in `rlsf+pad`.
const PAD_ROUNDS: u32 = 60;

/// A growing arena, fresh each round: `steps` allocations of 16 B.
fn bump(which: &str, steps: usize, rounds: usize) {
    let layout = CoreLayout::from_size_align(16, 8).expect("layout");
    for round in 0..rounds {
        let started = Instant::now();
        let mut acc = 0usize;
        if which == "bump-ours" {
            let mut arena = Bump::new(0).expect("arena");
            arena.set_upstream(Box::new(Global), 0).expect("upstream");
            for _ in 0..steps {
                let block = arena.alloc(std::hint::black_box(layout)).expect("alloc");
                acc = acc.wrapping_add(block.ptr.as_ptr() as usize);
            }
        } else {
            let arena = bumpalo::Bump::new();
            for _ in 0..steps {
                acc = acc.wrapping_add(
                    arena.alloc_layout(std::hint::black_box(layout)).as_ptr() as usize
                );
            }
        }
        std::hint::black_box(acc);
        report(which, round, started, steps);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 && args.len() != 5 {
        eprintln!("usage: vais_inline_compare ours|ours-nocache|rlsf|rlsf+pad|bump-ours|bump-bumpalo LIVE STEPS [ROUNDS]");
        std::process::exit(2);
    }
    let live: usize = args[2].parse().expect("LIVE is a number");
    let steps: usize = args[3].parse().expect("STEPS is a number");
    let rounds: usize = args
        .get(4)
        .map_or(3, |r| r.parse().expect("ROUNDS is a number"));
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    let capacity = (live * 1200).max(64 << 20);
    let init: Vec<usize> = (0..live).map(|_| rng.size()).collect();
    let ops: Vec<(usize, usize)> = (0..steps)
        .map(|_| ((rng.next() % live.max(1) as u64) as usize, rng.size()))
        .collect();
    match args[1].as_str() {
        "bump-ours" | "bump-bumpalo" => bump(&args[1], steps, rounds),
        "ours" | "ours-nocache" => {
            let mut heap = FreeList::new(capacity).expect("free list");
            // ours-nocache: the front-end cache off (the real-time mode),
            // every free merged at once and every allocation from the index.
            heap.set_cache(args[1] == "ours");
            let layout = |size: usize| CoreLayout::from_size_align(size, 8).expect("layout");
            let mut slots: Vec<_> = init
                .iter()
                .map(|&size| heap.alloc(layout(size)).expect("initial block").ptr)
                .collect();
            for round in 0..rounds {
                let started = Instant::now();
                for &(slot, size) in &ops {
                    heap.dealloc(slots[slot]).expect("free");
                    slots[slot] = heap.alloc(layout(size)).expect("alloc").ptr;
                }
                report(&args[1], round, started, steps);
            }
        }
        "rlsf" | "rlsf+pad" => {
            // rlsf+pad: rlsf plus a chain of register-only work between the
            // free and the allocation (no memory access), to see what extra
            // instructions cost where the step waits on cache misses.
            let pad = if args[1] == "rlsf+pad" { PAD_ROUNDS } else { 0 };
            // SAFETY: a fresh private anonymous mapping, checked below.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    capacity,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            assert!(base != libc::MAP_FAILED, "mmap");
            // Huge pages, as the free list advises its own buffer.
            const HUGE: usize = 2 << 20;
            let first = (base as usize + HUGE - 1) & !(HUGE - 1);
            let end = (base as usize + capacity) & !(HUGE - 1);
            // SAFETY: the range lies inside the mapping just made; the
            // advice changes no contents.
            unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
            let mut tlsf: Box<Rlsf> = Box::new(Rlsf::new());
            let pool = std::ptr::slice_from_raw_parts_mut(base.cast::<u8>(), capacity);
            // SAFETY: the mapping is ours, unused, and outlives `tlsf`
            // (never unmapped).
            unsafe { tlsf.insert_free_block_ptr(NonNull::new(pool).expect("mapping")) };
            let layout = |size: usize| CoreLayout::from_size_align(size, 8).expect("layout");
            let mut slots: Vec<NonNull<u8>> = init
                .iter()
                .map(|&size| tlsf.allocate(layout(size)).expect("initial block"))
                .collect();
            for round in 0..rounds {
                let started = Instant::now();
                for &(slot, size) in &ops {
                    // SAFETY: `slots[slot]` came from this Tlsf with align 8.
                    unsafe { tlsf.deallocate(slots[slot], 8) };
                    let mut x = size as u64;
                    for _ in 0..pad {
                        x = x.rotate_left(5) ^ 0x9E37_79B9;
                    }
                    // The chain must run; the allocation does not wait on it.
                    std::hint::black_box(x);
                    slots[slot] = tlsf.allocate(layout(size)).expect("alloc");
                }
                report(&args[1], round, started, steps);
            }
        }
        other => {
            eprintln!("unknown allocator {other}: ours, rlsf, rlsf+pad, bump-ours or bump-bumpalo");
            std::process::exit(2);
        }
    }
}
