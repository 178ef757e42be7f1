//! Workloads 1 (bump), 2 (pool), 5 (stack) and 6 (global).

use crate::bench::{measure_each, timed, Cfg, Kind, Row, Workload};
use crate::ffi::*;
use crate::rng::Rng;
use std::alloc::Layout as RustLayout;
use std::hint::black_box;
use std::time::Duration;

fn rust_layout(l: Layout) -> RustLayout {
    RustLayout::from_size_align(l.size as usize, l.align as usize).unwrap()
}

/// glibc malloc for a layout: malloc up to its 16-byte guarantee,
/// posix_memalign beyond.
#[inline(always)]
unsafe fn c_alloc(size: usize, align: usize) -> *mut libc::c_void {
    if align <= 16 {
        libc::malloc(size)
    } else {
        let mut p = std::ptr::null_mut();
        if libc::posix_memalign(&mut p, align, size) != 0 {
            return std::ptr::null_mut();
        }
        p
    }
}

// ---- shapes of repetition shared by several workloads ------------------------
//
// Generic over the calls, so each use is monomorphized: the calls made are
// exactly the ones passed (no indirection added).

/// One allocation per layout (0 on failure), then a reset.
#[inline(always)]
fn bumps<R>(
    layouts: &[Layout],
    what: &str,
    mut alloc: impl FnMut(Layout) -> i64,
    mut reset: impl FnMut() -> R,
) -> (Duration, u64) {
    timed(|| {
        let (mut acc, mut last) = (0i64, 0);
        for l in layouts {
            last = alloc(*l);
            acc = acc.wrapping_add(last);
        }
        check(last != 0, what);
        reset();
        black_box(acc);
        layouts.len() as u64
    })
}

/// `n` alloc+free pairs; `alloc` returns 0 on failure, `free` nonzero.
#[inline(always)]
fn pairs(
    n: usize,
    what: &str,
    mut alloc: impl FnMut() -> i64,
    mut free: impl FnMut(i64) -> i64,
) -> (Duration, u64) {
    timed(|| {
        let (mut bad, mut acc) = (0i64, 0i64);
        for _ in 0..n {
            let p = alloc();
            bad |= free(p);
            acc = acc.wrapping_add(p);
        }
        check(bad == 0 && acc != 0, what);
        n as u64
    })
}

/// `rounds` batches: fill `ptrs`, then free them in the order of `perm`.
#[inline(always)]
fn batches(
    rounds: usize,
    ptrs: &mut [i64],
    perm: &[u32],
    what: &str,
    mut alloc: impl FnMut() -> i64,
    mut free: impl FnMut(i64) -> i64,
) -> (Duration, u64) {
    timed(|| {
        let mut bad = 0i64;
        for _ in 0..rounds {
            for p in ptrs.iter_mut() {
                *p = alloc();
            }
            for &i in perm {
                bad |= free(ptrs[i as usize]);
            }
        }
        check(bad == 0 && ptrs.iter().all(|&p| p != 0), what);
        (rounds * ptrs.len()) as u64
    })
}

/// `rounds` times: `depth` pushes, then `depth` pops.
#[inline(always)]
fn nests(
    rounds: usize,
    depth: usize,
    what: &str,
    mut push: impl FnMut() -> i64,
    mut pop: impl FnMut() -> i64,
) -> (Duration, u64) {
    timed(|| {
        let (mut bad, mut acc) = (0i64, 0i64);
        for _ in 0..rounds {
            for _ in 0..depth {
                acc = acc.wrapping_add(push());
            }
            for _ in 0..depth {
                bad |= pop();
            }
        }
        check(bad == 0 && acc != 0, what);
        (rounds * depth) as u64
    })
}

// ---- 1. bump ----------------------------------------------------------------

/// bumpalo as a C program would reach it: behind an `extern "C"` function
/// taking the library's `Layout` and returning its `Allocation`, never
/// inlined, called through a function pointer the optimiser cannot see
/// through (a call into a .so is an indirect jump through the PLT too).
/// The layout is checked, as `bump_alloc` checks it.
#[inline(never)]
extern "C" fn bumpalo_alloc_c(b: &bumpalo::Bump, l: Layout) -> Allocation {
    match RustLayout::from_size_align(l.size as usize, l.align as usize) {
        Ok(layout) => match b.try_alloc_layout(layout) {
            Ok(p) => Allocation {
                ptr: p.as_ptr() as i64,
                size: l.size,
            },
            Err(_) => Allocation { ptr: 0, size: 0 },
        },
        Err(_) => Allocation { ptr: 0, size: 0 },
    }
}

/// The function pointer the bump workloads call `bumpalo_alloc_c` through.
type BumpaloC = extern "C" fn(&bumpalo::Bump, Layout) -> Allocation;

fn bumpalo_c() -> BumpaloC {
    black_box(bumpalo_alloc_c as BumpaloC)
}

fn bump_workload(cfg: &Cfg, w: Workload, layouts: &[Layout]) -> Workload {
    let mut w = w;
    let n = layouts.len();
    let cap: i64 = layouts.iter().map(|l| l.size + l.align).sum::<i64>() + 4096;
    let rl: Vec<RustLayout> = layouts.iter().map(|l| rust_layout(*l)).collect();

    unsafe {
        let h = bump_new(cap);
        check(!h.is_null(), "bump_new");
        let f = floor_bump_new(cap);
        let mut b = bumpalo::Bump::with_capacity(cap as usize);
        let mut ptrs: Vec<*mut libc::c_void> = Vec::with_capacity(n);
        // glibc's frees are timed apart from its mallocs (a bump allocator
        // has no free): the malloc row is the peer, the free row info.
        let mut frees = Vec::new();
        let call = bumpalo_c();
        let mut bc = bumpalo::Bump::with_capacity(cap as usize);
        let [ours, bumpalo, bumpalo_call, floor, mallocs] = measure_each(
            cfg,
            2,
            [
                &mut || {
                    bumps(
                        layouts,
                        "bump_alloc",
                        |l| bump_alloc(h, l).ptr,
                        || bump_reset(h),
                    )
                },
                &mut || {
                    timed(|| {
                        let mut acc = 0usize;
                        for l in &rl {
                            let p = b.alloc_layout(black_box(*l));
                            acc = acc.wrapping_add(p.as_ptr() as usize);
                        }
                        b.reset();
                        black_box(acc);
                        n as u64
                    })
                },
                &mut || {
                    timed(|| {
                        let mut acc = 0i64;
                        for l in layouts {
                            acc = acc.wrapping_add(call(&bc, *l).ptr);
                        }
                        check(acc != 0, "bumpalo behind a C call");
                        bc.reset();
                        n as u64
                    })
                },
                &mut || {
                    bumps(
                        layouts,
                        "floor_bump_alloc",
                        |l| floor_bump_alloc(f, l).ptr,
                        || floor_bump_reset(f),
                    )
                },
                &mut || {
                    ptrs.clear();
                    let (da, _) = timed(|| {
                        for l in layouts {
                            ptrs.push(c_alloc(l.size as usize, l.align as usize));
                        }
                        n as u64
                    });
                    check(ptrs.iter().all(|p| !p.is_null()), "malloc");
                    let (df, _) = timed(|| {
                        for p in &ptrs {
                            libc::free(*p);
                        }
                        n as u64
                    });
                    frees.push(df.as_nanos() as f64 / n as f64);
                    (da, n as u64)
                },
            ],
        );
        bump_free(h);
        floor_bump_free(f);
        // The last `reps` frees belong to the timed repetitions.
        let frees = frees.split_off(frees.len() - mallocs.len());
        w.rows.push(Row::new(
            "vais_alloc bump_alloc (C ABI)",
            Kind::Ours,
            ours,
            n as u64,
        ));
        w.rows.push(Row::new(
            "bumpalo (inlined Rust)",
            Kind::Peer,
            bumpalo,
            n as u64,
        ));
        w.rows.push(
            Row::new(
                "bumpalo behind a C ABI call",
                Kind::Peer,
                bumpalo_call,
                n as u64,
            )
            .note("the same workload as a C caller sees it: one call per allocation"),
        );
        w.rows.push(Row::new(
            "C floor: pointer bump (.so)",
            Kind::Floor,
            floor,
            n as u64,
        ));
        w.rows.push(
            Row::new(
                "glibc malloc (frees not included)",
                Kind::Peer,
                mallocs,
                n as u64,
            )
            .note("posix_memalign above align 16"),
        );
        w.rows.push(
            Row::new("glibc free (timed separately)", Kind::Info, frees, n as u64)
                .note("the frees of the row above"),
        );
    }
    w
}

pub fn bump(cfg: &Cfg) -> Vec<Workload> {
    let n = cfg.scale(1_000_000, 20_000);
    let fixed = vec![Layout { size: 16, align: 8 }; n];
    let mut rng = Rng::new(0xB0B0_0001);
    let mixed: Vec<Layout> = (0..n)
        .map(|_| Layout {
            size: rng.range(8, 256) as i64,
            align: rng.pow2(8, 64) as i64,
        })
        .collect();
    vec![
        bump_workload(
            cfg,
            Workload::new(
                "bump/16B",
                "bump",
                &format!("Bump: {n} allocations of 16 B (align 8), then reset"),
                "one allocation (the reset is spread over the batch)",
            ),
            &fixed,
        ),
        bump_workload(
            cfg,
            Workload::new(
                "bump/mixed",
                "bump",
                &format!("Bump: {n} allocations of 8-256 B, random align 8-64, then reset"),
                "one allocation (the reset is spread over the batch)",
            ),
            &mixed,
        ),
        bump_growing(cfg, n),
        bump_scopes(cfg, n / 10),
    ]
}

/// A growing arena against bumpalo, which grows by chunks too: each
/// repetition makes a fresh arena with no buffer of its own, serves `n`
/// allocations of 16 B from chunks (ours from the global allocator,
/// starting at 64 KiB and doubling, as bumpalo's), and frees it.
fn bump_growing(cfg: &Cfg, n: usize) -> Workload {
    let mut w = Workload::new(
        "bump/growing",
        "bump",
        &format!("Bump, growing: a fresh arena, {n} allocations of 16 B (align 8) from chunks, then free"),
        "one allocation (making the arena, the chunks and the free are spread over the batch)",
    );
    let l = Layout { size: 16, align: 8 };
    let rl = rust_layout(l);
    let call = bumpalo_c();
    unsafe {
        let [ours, bumpalo, bumpalo_call] = measure_each(
            cfg,
            2,
            [
                &mut || {
                    timed(|| {
                        let h = bump_new(0);
                        check(
                            bump_set_upstream(h, global_as_allocator(), 0) == 0,
                            "set_upstream",
                        );
                        let mut acc = 0i64;
                        for _ in 0..n {
                            acc = acc.wrapping_add(bump_alloc(h, l).ptr);
                        }
                        check(acc != 0, "growing bump_alloc");
                        bump_free(h);
                        n as u64
                    })
                },
                &mut || {
                    timed(|| {
                        let b = bumpalo::Bump::new();
                        let mut acc = 0usize;
                        for _ in 0..n {
                            acc = acc.wrapping_add(b.alloc_layout(black_box(rl)).as_ptr() as usize);
                        }
                        black_box(acc);
                        drop(b);
                        n as u64
                    })
                },
                &mut || {
                    timed(|| {
                        let b = bumpalo::Bump::new();
                        let mut acc = 0i64;
                        for _ in 0..n {
                            acc = acc.wrapping_add(call(&b, l).ptr);
                        }
                        check(acc != 0, "growing bumpalo behind a C call");
                        drop(b);
                        n as u64
                    })
                },
            ],
        );
        w.rows.push(Row::new(
            "vais_alloc bump_alloc, growing from global_as_allocator (C ABI)",
            Kind::Ours,
            ours,
            n as u64,
        ));
        w.rows.push(Row::new(
            "bumpalo::Bump::new(), growing (inlined Rust)",
            Kind::Peer,
            bumpalo,
            n as u64,
        ));
        w.rows.push(
            Row::new(
                "bumpalo::Bump::new(), growing, behind a C ABI call",
                Kind::Peer,
                bumpalo_call,
                n as u64,
            )
            .note("the same workload as a C caller sees it: one call per allocation"),
        );
    }
    w
}

/// Scopes: `bump_mark`, 10 allocations, `bump_release_to`, against 10
/// allocations and a `bump_reset`, on the same arena.
fn bump_scopes(cfg: &Cfg, rounds: usize) -> Workload {
    let mut w = Workload::new(
        "bump/scope10",
        "bump",
        &format!("Bump: {rounds} scopes of 10 allocations of 16 B"),
        "one allocation (the mark and the release, or the reset, spread over the 10)",
    );
    let l = Layout { size: 16, align: 8 };
    unsafe {
        let h = bump_new(1 << 20);
        check(!h.is_null(), "bump_new");
        let m = bump_mark(h);
        check(m >= 0, "bump_mark");
        let [scoped, reset] = measure_each(
            cfg,
            2,
            [
                &mut || {
                    timed(|| {
                        let (mut acc, mut bad) = (0i64, 0i64);
                        for _ in 0..rounds {
                            let mark = bump_mark(h);
                            for _ in 0..10 {
                                acc = acc.wrapping_add(bump_alloc(h, l).ptr);
                            }
                            bad |= bump_release_to(h, mark);
                        }
                        check(acc != 0 && bad == 0, "scopes");
                        (rounds * 10) as u64
                    })
                },
                &mut || {
                    timed(|| {
                        let mut acc = 0i64;
                        for _ in 0..rounds {
                            for _ in 0..10 {
                                acc = acc.wrapping_add(bump_alloc(h, l).ptr);
                            }
                            bump_reset(h);
                        }
                        check(acc != 0, "resets");
                        (rounds * 10) as u64
                    })
                },
            ],
        );
        bump_free(h);
        w.rows.push(Row::new(
            "vais_alloc bump_mark + 10 bump_alloc + bump_release_to (C ABI)",
            Kind::Ours,
            scoped,
            (rounds * 10) as u64,
        ));
        w.rows.push(
            Row::new(
                "vais_alloc 10 bump_alloc + bump_reset (C ABI)",
                Kind::Info,
                reset,
                (rounds * 10) as u64,
            )
            .note("the target: scopes within 1.5x of this"),
        );
    }
    w
}

// ---- 2. pool ----------------------------------------------------------------

const POOL_BLOCK: i64 = 64;

/// The rows of a pool workload: the library, its two floors, glibc.
fn pool_rows(w: &mut Workload, [ours, floor, floor_index, glibc]: [Vec<f64>; 4], ops: u64) {
    w.rows.push(Row::new(
        "vais_alloc pool_alloc/dealloc (C ABI)",
        Kind::Ours,
        ours,
        ops,
    ));
    w.rows.push(Row::new(
        "C floor: intrusive free list (.so)",
        Kind::Floor,
        floor,
        ops,
    ));
    w.rows.push(
        Row::new(
            "C floor: free list in a side array (.so)",
            Kind::Floor,
            floor_index,
            ops,
        )
        .note("u32 links beside the blocks, as libvais_alloc keeps them"),
    );
    w.rows
        .push(Row::new("glibc malloc/free", Kind::Peer, glibc, ops));
}

/// The library's pool and its two floors over the same blocks, freed on
/// drop.
struct Pools {
    ours: Handle,
    floor: Handle,
    index: Handle,
}

impl Pools {
    fn new(blocks: i64) -> Pools {
        unsafe {
            let ours = pool_new(POOL_BLOCK, blocks);
            check(!ours.is_null(), "pool_new");
            Pools {
                ours,
                floor: floor_pool_new(POOL_BLOCK, blocks),
                index: floor_ipool_new(POOL_BLOCK, blocks),
            }
        }
    }
}

impl Drop for Pools {
    fn drop(&mut self) {
        unsafe {
            pool_free(self.ours);
            floor_pool_free(self.floor);
            floor_ipool_free(self.index);
        }
    }
}

/// glibc's malloc and free of a pool-sized block, in the shape the
/// repetition helpers take.
fn malloc_block() -> i64 {
    unsafe { libc::malloc(POOL_BLOCK as usize) as i64 }
}

fn free_block(p: i64) -> i64 {
    unsafe { libc::free(p as *mut libc::c_void) };
    0
}

pub fn pool(cfg: &Cfg) -> Vec<Workload> {
    let n = cfg.scale(1_000_000, 20_000);
    let batch = 10_000usize;
    let rounds = cfg.scale(100, 3);
    let perm = Rng::new(0x9001_0002).permutation(batch);
    let mut out = Vec::new();

    // alloc+free pairs
    let mut w = Workload::new(
        "pool/pairs",
        "pool",
        &format!("Pool: {n} alloc+free pairs of 64 B"),
        "one alloc + free pair",
    );
    unsafe {
        let p = Pools::new(1024);
        let [ours, floor, floor_index, glibc] = measure_each(
            cfg,
            2,
            [
                &mut || {
                    pairs(
                        n,
                        "pool pairs",
                        || pool_alloc(p.ours),
                        |b| pool_dealloc(p.ours, b),
                    )
                },
                &mut || {
                    pairs(
                        n,
                        "floor pool pairs",
                        || floor_pool_alloc(p.floor),
                        |b| floor_pool_dealloc(p.floor, b),
                    )
                },
                &mut || {
                    pairs(
                        n,
                        "floor index pool pairs",
                        || floor_ipool_alloc(p.index),
                        |b| floor_ipool_dealloc(p.index, b),
                    )
                },
                &mut || pairs(n, "malloc pairs", malloc_block, free_block),
            ],
        );
        pool_rows(&mut w, [ours, floor, floor_index, glibc], n as u64);
    }
    out.push(w);

    // batches: allocate 10^4, free them in random order
    let ops = (batch * rounds) as u64;
    let mut w = Workload::new(
        "pool/batch",
        "pool",
        &format!("Pool: batches of {batch} allocations of 64 B, freed in random order ({rounds} batches)"),
        "one block allocated and freed (alloc + free)",
    );
    unsafe {
        let p = Pools::new(batch as i64);
        let mut p1 = vec![0i64; batch];
        let (mut p2, mut p3, mut p4) = (p1.clone(), p1.clone(), p1.clone());
        let [ours, floor, floor_index, glibc] = measure_each(
            cfg,
            2,
            [
                &mut || {
                    batches(
                        rounds,
                        &mut p1,
                        &perm,
                        "pool batch",
                        || pool_alloc(p.ours),
                        |b| pool_dealloc(p.ours, b),
                    )
                },
                &mut || {
                    batches(
                        rounds,
                        &mut p2,
                        &perm,
                        "floor pool batch",
                        || floor_pool_alloc(p.floor),
                        |b| floor_pool_dealloc(p.floor, b),
                    )
                },
                &mut || {
                    batches(
                        rounds,
                        &mut p3,
                        &perm,
                        "floor index pool batch",
                        || floor_ipool_alloc(p.index),
                        |b| floor_ipool_dealloc(p.index, b),
                    )
                },
                &mut || {
                    batches(
                        rounds,
                        &mut p4,
                        &perm,
                        "malloc batch",
                        malloc_block,
                        free_block,
                    )
                },
            ],
        );
        pool_rows(&mut w, [ours, floor, floor_index, glibc], ops);
    }
    out.push(w);
    out
}

// ---- 5. stack ---------------------------------------------------------------

pub fn stack(cfg: &Cfg) -> Vec<Workload> {
    let n = cfg.scale(1_000_000, 20_000);
    let depth = 100usize;
    let rounds = n / depth;
    let l = Layout { size: 48, align: 8 };
    let mut out = Vec::new();

    let mut w = Workload::new(
        "stack/pairs",
        "stack",
        &format!("Stack: {n} push/pop pairs (48 B, align 8)"),
        "one push + pop pair",
    );
    unsafe {
        let h = stack_new(1 << 20);
        check(!h.is_null(), "stack_new");
        let f = floor_stack_new(1 << 20);
        let [ours, floor] = measure_each(
            cfg,
            2,
            [
                &mut || pairs(n, "stack pairs", || stack_alloc(h, l).ptr, |_| stack_pop(h)),
                &mut || {
                    pairs(
                        n,
                        "floor stack pairs",
                        || floor_stack_alloc(f, l).ptr,
                        |_| floor_stack_pop(f),
                    )
                },
            ],
        );
        stack_free(h);
        floor_stack_free(f);
        w.rows.push(Row::new(
            "vais_alloc stack_alloc/pop (C ABI)",
            Kind::Ours,
            ours,
            n as u64,
        ));
        w.rows.push(Row::new(
            "C floor: header-linked stack (.so)",
            Kind::Floor,
            floor,
            n as u64,
        ));
    }
    out.push(w);

    let ops = (rounds * depth) as u64;
    let mut w = Workload::new(
        "stack/nest100",
        "stack",
        &format!("Stack: depth-100 nesting (100 pushes of 48 B, then 100 pops), {rounds} rounds"),
        "one push + pop pair",
    );
    unsafe {
        let h = stack_new(1 << 20);
        check(!h.is_null(), "stack_new");
        let f = floor_stack_new(1 << 20);
        let [ours, floor] = measure_each(
            cfg,
            2,
            [
                &mut || {
                    nests(
                        rounds,
                        depth,
                        "stack nest",
                        || stack_alloc(h, l).ptr,
                        || stack_pop(h),
                    )
                },
                &mut || {
                    nests(
                        rounds,
                        depth,
                        "floor stack nest",
                        || floor_stack_alloc(f, l).ptr,
                        || floor_stack_pop(f),
                    )
                },
            ],
        );
        stack_free(h);
        floor_stack_free(f);
        w.rows.push(Row::new(
            "vais_alloc stack_alloc/pop (C ABI)",
            Kind::Ours,
            ours,
            ops,
        ));
        w.rows.push(Row::new(
            "C floor: header-linked stack (.so)",
            Kind::Floor,
            floor,
            ops,
        ));
    }
    out.push(w);
    out
}

// ---- 6. global --------------------------------------------------------------

pub fn global(cfg: &Cfg) -> Vec<Workload> {
    let mut out = Vec::new();
    for (align, n) in [
        (16i64, cfg.scale(1_000_000, 20_000)),
        (4096, cfg.scale(300_000, 5_000)),
    ] {
        let l = Layout { size: 64, align };
        let peer = if align <= 16 {
            "glibc malloc/free"
        } else {
            "glibc posix_memalign/free"
        };
        let mut w = Workload::new(
            &format!("global/64B-align{align}"),
            "global",
            &format!("Global: {n} global_alloc/global_dealloc pairs of 64 B, align {align}"),
            "one alloc + free pair",
        );
        unsafe {
            let [ours, glibc, floor] = measure_each(
                cfg,
                2,
                [
                    &mut || {
                        pairs(
                            n,
                            "global_alloc",
                            || global_alloc(l).ptr,
                            |p| {
                                global_dealloc(p, l);
                                0
                            },
                        )
                    },
                    &mut || {
                        pairs(
                            n,
                            "malloc",
                            || c_alloc(64, align as usize) as i64,
                            |p| {
                                libc::free(p as *mut libc::c_void);
                                0
                            },
                        )
                    },
                    &mut || {
                        pairs(
                            n,
                            "floor_malloc",
                            || floor_malloc(l).ptr,
                            |p| {
                                floor_free(p, l);
                                0
                            },
                        )
                    },
                ],
            );
            w.rows.push(Row::new(
                "vais_alloc global_alloc/dealloc (C ABI)",
                Kind::Ours,
                ours,
                n as u64,
            ));
            w.rows.push(Row::new(peer, Kind::Peer, glibc, n as u64));
            w.rows.push(Row::new(
                &format!("C floor: {peer} wrapper (.so)"),
                Kind::Floor,
                floor,
                n as u64,
            ));
        }
        out.push(w);
    }
    out
}
