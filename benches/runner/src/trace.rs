//! Workload 4: replay of recorded malloc/free/realloc traces (recorded by
//! benches/tracer/libtrace.so during `make bench`) against the free list,
//! glibc, rlsf and talc: time per op, and peak footprint over peak live
//! bytes.
//!
//! Each (trace, implementation) pair runs in a child process of its own, so
//! every implementation starts from a fresh address space and glibc's heap
//! carries nothing over from the other workloads.

use crate::bench::{median, Cfg, Kind, Row, Workload};
use crate::gp::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const OP_MALLOC: u64 = 1;
const OP_FREE: u64 = 2;
const OP_CALLOC: u64 = 3;
const OP_REALLOC: u64 = 4;
const OP_ALIGNED: u64 = 5;

/// malloc's alignment guarantee on x86-64 / AArch64 glibc.
const MALLOC_ALIGN: usize = 16;

#[derive(Clone, Copy)]
enum Op {
    Alloc { id: u32, size: usize, align: usize },
    Free { id: u32 },
    Realloc { old: u32, new: u32, size: usize },
}

#[derive(Clone, Copy, Default)]
struct Slot {
    ptr: usize,
    size: usize,
    align: usize,
}

struct Trace {
    ops: Vec<Op>,
    ids: usize,
    peak_live: usize,
    skipped: usize,
}

/// Decodes a trace: pointers become dense ids; frees of pointers the trace
/// never saw allocated (made before the tracer started) and failed calls
/// are dropped. calloc replays as an allocation of n*size (not zeroed).
fn parse(path: &Path) -> Trace {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let word = |r: &[u8], i: usize| u64::from_le_bytes(r[i * 8..i * 8 + 8].try_into().unwrap());
    let mut ops = Vec::with_capacity(bytes.len() / 32);
    let mut live_ids: HashMap<u64, (u32, usize)> = HashMap::new();
    let mut next = 0u32;
    let (mut live, mut peak, mut skipped) = (0usize, 0usize, 0usize);
    for r in bytes.chunks_exact(32) {
        let (op, size, inp, out) = (word(r, 0), word(r, 1) as usize, word(r, 2), word(r, 3));
        let (kind, align) = (op & 0xff, (op >> 8) as usize);
        let mut alloc = |live_ids: &mut HashMap<u64, (u32, usize)>, live: &mut usize| {
            let id = next;
            next += 1;
            if let Some((_, old)) = live_ids.insert(out, (id, size)) {
                *live -= old; // a free we never saw
            }
            *live += size;
            id
        };
        match kind {
            OP_MALLOC | OP_CALLOC | OP_ALIGNED if out != 0 => {
                let id = alloc(&mut live_ids, &mut live);
                let align = if kind == OP_ALIGNED {
                    align.max(MALLOC_ALIGN)
                } else {
                    MALLOC_ALIGN
                };
                ops.push(Op::Alloc { id, size, align });
            }
            OP_FREE => match live_ids.remove(&inp) {
                Some((id, s)) => {
                    live -= s;
                    ops.push(Op::Free { id });
                }
                None => skipped += 1,
            },
            OP_REALLOC if inp == 0 && out != 0 => {
                let id = alloc(&mut live_ids, &mut live);
                ops.push(Op::Alloc {
                    id,
                    size,
                    align: MALLOC_ALIGN,
                });
            }
            OP_REALLOC if inp != 0 && size == 0 => {
                if let Some((id, s)) = live_ids.remove(&inp) {
                    live -= s;
                    ops.push(Op::Free { id });
                }
            }
            OP_REALLOC if out != 0 => match live_ids.remove(&inp) {
                Some((old, s)) => {
                    live -= s;
                    let new = alloc(&mut live_ids, &mut live);
                    ops.push(Op::Realloc { old, new, size });
                }
                None => {
                    skipped += 1;
                    let id = alloc(&mut live_ids, &mut live);
                    ops.push(Op::Alloc {
                        id,
                        size,
                        align: MALLOC_ALIGN,
                    });
                }
            },
            _ => skipped += 1,
        }
        peak = peak.max(live);
    }
    Trace {
        ops,
        ids: next as usize,
        peak_live: peak,
        skipped,
    }
}

/// Tracks the peak footprint during a replay.
trait Footprint {
    fn after_alloc(&mut self, ptr: usize, size: usize);
    #[inline(always)]
    fn before_free(&mut self, _ptr: usize) {}
    fn peak(&self) -> usize;
}

/// The span of addresses handed out (arena allocators fill from the bottom).
struct Span {
    lo: usize,
    hi: usize,
}

impl Footprint for Span {
    fn after_alloc(&mut self, ptr: usize, size: usize) {
        if ptr != 0 {
            self.lo = self.lo.min(ptr);
            self.hi = self.hi.max(ptr + size);
        }
    }
    fn peak(&self) -> usize {
        self.hi.saturating_sub(self.lo)
    }
}

/// glibc: heap growth (brk) plus live mmapped chunks.
struct Brk {
    base: usize,
    peak: usize,
    mmapped: usize,
}

impl Brk {
    fn now() -> usize {
        unsafe { libc::sbrk(0) as usize }
    }
    /// glibc's chunk size word before `ptr`, if the chunk was mmapped.
    fn mmapped_chunk(ptr: usize) -> usize {
        let word = unsafe { *((ptr - 8) as *const usize) };
        if word & 2 != 0 {
            word & !7
        } else {
            0
        }
    }
}

impl Footprint for Brk {
    fn after_alloc(&mut self, ptr: usize, _size: usize) {
        self.mmapped += Brk::mmapped_chunk(ptr);
        let f = Brk::now() - self.base + self.mmapped;
        self.peak = self.peak.max(f);
    }
    fn before_free(&mut self, ptr: usize) {
        self.mmapped -= Brk::mmapped_chunk(ptr);
    }
    fn peak(&self) -> usize {
        self.peak
    }
}

struct NoTrack;

impl Footprint for NoTrack {
    #[inline(always)]
    fn after_alloc(&mut self, _: usize, _: usize) {}
    fn peak(&self) -> usize {
        0
    }
}

/// One pass over the trace; leaves the blocks live at its end in `slots`.
#[inline(never)]
fn replay<G: Gp, F: Footprint>(g: &mut G, ops: &[Op], slots: &mut [Slot], fp: &mut F) {
    for op in ops {
        unsafe {
            match *op {
                Op::Alloc { id, size, align } => {
                    let p = g.alloc(size, align);
                    assert!(p != 0, "{}: allocation of {size} B failed", G::NAME);
                    *slots.get_unchecked_mut(id as usize) = Slot {
                        ptr: p,
                        size,
                        align,
                    };
                    fp.after_alloc(p, size);
                }
                Op::Free { id } => {
                    let s = *slots.get_unchecked(id as usize);
                    fp.before_free(s.ptr);
                    g.free(s.ptr, s.size, s.align);
                    slots.get_unchecked_mut(id as usize).ptr = 0;
                }
                Op::Realloc { old, new, size } => {
                    let s = *slots.get_unchecked(old as usize);
                    fp.before_free(s.ptr);
                    let p = g.realloc(s.ptr, s.size, s.align, size);
                    assert!(p != 0, "{}: reallocation to {size} B failed", G::NAME);
                    slots.get_unchecked_mut(old as usize).ptr = 0;
                    *slots.get_unchecked_mut(new as usize) = Slot {
                        ptr: p,
                        size,
                        align: s.align,
                    };
                    fp.after_alloc(p, size);
                }
            }
        }
    }
}

fn free_rest<G: Gp>(g: &mut G, slots: &mut [Slot]) {
    for s in slots.iter_mut() {
        if s.ptr != 0 {
            unsafe { g.free(s.ptr, s.size, s.align) };
            s.ptr = 0;
        }
    }
}

fn child<G: Gp>(t: &Trace, reps: usize, glibc: bool) {
    let mut slots = vec![Slot::default(); t.ids];
    let cap = (t.peak_live * 8).max(256 << 20);
    let mut g = G::create(cap);
    // Pass 1: footprint (and warm-up).
    let peak = if glibc {
        let mut fp = Brk {
            base: Brk::now(),
            peak: 0,
            mmapped: 0,
        };
        replay(&mut g, &t.ops, &mut slots, &mut fp);
        fp.peak()
    } else {
        let mut fp = Span {
            lo: usize::MAX,
            hi: 0,
        };
        replay(&mut g, &t.ops, &mut slots, &mut fp);
        fp.peak()
    };
    free_rest(&mut g, &mut slots);
    let mut samples = Vec::new();
    for _ in 0..reps {
        let start = Instant::now();
        replay(&mut g, &t.ops, &mut slots, &mut NoTrack);
        samples.push(start.elapsed().as_nanos() as f64 / t.ops.len() as f64);
        free_rest(&mut g, &mut slots);
    }
    assert_eq!(g.errors(), 0, "{}: a free was refused", G::NAME);
    println!("ops {}", t.ops.len());
    println!("skipped {}", t.skipped);
    println!("peak_live {}", t.peak_live);
    println!("footprint {peak}");
    let s: Vec<String> = samples.iter().map(|x| format!("{x}")).collect();
    println!("samples {}", s.join(" "));
}

const IMPLS: [&str; 5] = ["ours", "ours-nocache", "glibc", "rlsf", "talc"];

/// `replay-child TRACE IMPL [REPS]`.
pub fn replay_child(trace: &str, imp: &str) {
    let reps = std::env::var("VAIS_BENCH_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);
    let t = parse(Path::new(trace));
    match imp {
        "ours" => child::<Ours>(&t, reps, false),
        "ours-nocache" => child::<OursNoCache>(&t, reps, false),
        "glibc" => child::<Glibc>(&t, reps, true),
        "rlsf" => child::<Rlsf>(&t, reps, false),
        "talc" => child::<Talc>(&t, reps, false),
        _ => panic!("unknown implementation {imp}"),
    }
}

fn meta(imp: &str) -> (&'static str, Kind, &'static str) {
    match imp {
        "ours" => (
            Ours::NAME,
            Ours::KIND,
            "freelist_realloc (in place when it can)",
        ),
        "ours-nocache" => (
            OursNoCache::NAME,
            OursNoCache::KIND,
            "freelist_set_cache(h, 0); freelist_realloc",
        ),
        "glibc" => (
            Glibc::NAME,
            Glibc::KIND,
            "native realloc; footprint = brk growth + mmapped chunks",
        ),
        "rlsf" => (Rlsf::NAME, Rlsf::KIND, "native reallocate"),
        _ => (Talc::NAME, Talc::KIND, "realloc = alloc + copy + free"),
    }
}

/// The largest trace file in `dir` (the compiler proper, cc1, for gcc).
fn largest(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "trace"))
        .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .map(|e| e.path())
}

pub fn replay_all(cfg: &Cfg, dir: &Path) -> Vec<Workload> {
    let exe = std::env::current_exe().expect("current_exe");
    let mut out = Vec::new();
    for (prog, what) in [
        (
            "gcc",
            "gcc -O2 compiling a generated 5,000-line C file (cc1's trace)",
        ),
        (
            "python3",
            "python3 (PYTHONMALLOC=malloc) building and discarding objects",
        ),
    ] {
        let Some(path) = largest(&dir.join(prog)) else {
            eprintln!("  no trace in {}: skipped", dir.join(prog).display());
            continue;
        };
        let mut w = Workload::new(
            &format!("trace/{prog}"),
            "trace",
            &format!("Trace replay: {what}"),
            "one traced call (malloc, free or realloc); footprint = peak footprint / peak live bytes",
        );
        for imp in IMPLS {
            eprintln!("  trace {prog}: {imp} ...");
            let (name, kind, note) = meta(imp);
            let res = Command::new(&exe)
                .args(["replay-child", path.to_str().unwrap(), imp])
                .env("VAIS_BENCH_REPS", cfg.reps.to_string())
                .output();
            let text = match res {
                Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
                Ok(o) => {
                    let err = String::from_utf8_lossy(&o.stderr);
                    let msg = err
                        .lines()
                        .find(|l| l.contains("panicked") || l.contains("failed"))
                        .unwrap_or("");
                    w.rows.push(
                        Row::new(name, kind, Vec::new(), 0).note(format!("replay failed: {msg}")),
                    );
                    continue;
                }
                Err(e) => panic!("cannot run {}: {e}", exe.display()),
            };
            let field = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
                    .unwrap_or_default()
            };
            let samples: Vec<f64> = field("samples ")
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            let ops: u64 = field("ops ").parse().unwrap_or(0);
            let peak_live: f64 = field("peak_live ").parse().unwrap_or(0.0);
            let footprint: f64 = field("footprint ").parse().unwrap_or(0.0);
            let _ = median(&samples);
            let mut row = Row::new(name, kind, samples, ops).note(note);
            row.extra
                .push(("footprint/live".into(), footprint / peak_live.max(1.0)));
            row.extra
                .push(("peak_live_MiB".into(), peak_live / 1048576.0));
            row.extra
                .push(("footprint_MiB".into(), footprint / 1048576.0));
            w.params
                .retain(|(k, _)| k != "peak_live_bytes" && k != "ops");
            w.params.push(("peak_live_bytes".into(), peak_live));
            w.params.push(("ops".into(), ops as f64));
            out_row(&mut w, row);
        }
        out.push(w);
    }
    out
}

fn out_row(w: &mut Workload, row: Row) {
    w.rows.push(row);
}
