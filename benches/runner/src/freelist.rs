//! Workload 3: steady state with N live blocks. Each step frees a random
//! live block and allocates a random size 16-1024 B in its place (fixed
//! seed); align 8, and a variant with random alignment 8-256.

use crate::bench::{Cfg, Row, Workload};
use crate::gp::*;
use crate::rng::Rng;
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
pub struct Step {
    pub idx: u32,
    pub size: u32,
    pub align: u32,
}

#[derive(Clone, Copy)]
struct Slot {
    ptr: usize,
    size: u32,
    align: u32,
}

pub struct Plan {
    pub live: usize,
    pub aligned: bool,
    /// The sizes of the initial N blocks.
    pub init: Vec<(u32, u32)>,
    /// One repetition's steps (repeated as needed).
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn new(live: usize, aligned: bool, steps: usize) -> Plan {
        let mut rng = Rng::new(0xF1EE_0000 ^ (live as u64) << 1 ^ aligned as u64);
        let layout = |rng: &mut Rng| {
            let size = rng.range(16, 1024) as u32;
            let align = if aligned { rng.pow2(8, 256) as u32 } else { 8 };
            (size, align)
        };
        let init = (0..live).map(|_| layout(&mut rng)).collect();
        let steps = (0..steps)
            .map(|_| {
                let idx = rng.below(live as u64) as u32;
                let (size, align) = layout(&mut rng);
                Step { idx, size, align }
            })
            .collect();
        Plan {
            live,
            aligned,
            init,
            steps,
        }
    }

    /// Arena bytes for N live blocks of at most 1024 B, alignment padding,
    /// headers and fragmentation.
    pub fn capacity(&self) -> usize {
        let per = if self.aligned { 1600 } else { 1200 };
        (self.live * per).max(64 << 20)
    }
}

pub struct Live<G: Gp> {
    pub g: G,
    slots: Vec<Slot>,
}

impl<G: Gp> Live<G> {
    pub fn setup(plan: &Plan) -> Live<G> {
        Self::setup_until(plan, None).unwrap()
    }

    /// Allocates the initial N blocks; None once `deadline` passes (checked
    /// every 1000 blocks).
    pub fn setup_until(plan: &Plan, deadline: Option<Instant>) -> Option<Live<G>> {
        let mut g = G::create(plan.capacity());
        let mut slots = Vec::with_capacity(plan.init.len());
        for (i, &(size, align)) in plan.init.iter().enumerate() {
            if i % 1000 == 0 && deadline.is_some_and(|d| Instant::now() > d) {
                return None;
            }
            let ptr = unsafe { g.alloc(size as usize, align as usize) };
            assert!(ptr != 0, "{}: initial allocation failed", G::NAME);
            slots.push(Slot { ptr, size, align });
        }
        Some(Live { g, slots })
    }

    /// Runs `steps`; panics if an allocation fails.
    #[inline(never)]
    pub fn run(&mut self, steps: &[Step]) {
        let mut failed = false;
        for s in steps {
            let slot = unsafe { self.slots.get_unchecked_mut(s.idx as usize) };
            unsafe {
                self.g
                    .free(slot.ptr, slot.size as usize, slot.align as usize);
                let p = self.g.alloc(s.size as usize, s.align as usize);
                failed |= p == 0;
                *slot = Slot {
                    ptr: p,
                    size: s.size,
                    align: s.align,
                };
            }
        }
        assert!(!failed, "{}: allocation failed in steady state", G::NAME);
    }

    /// Runs `count` steps cycling over `steps`, starting at `*pos`.
    pub fn run_n(&mut self, steps: &[Step], pos: &mut usize, mut count: usize) {
        while count > 0 {
            let k = count.min(steps.len() - *pos);
            self.run(&steps[*pos..*pos + k]);
            *pos = (*pos + k) % steps.len();
            count -= k;
        }
    }
}

impl<G: Gp> Drop for Live<G> {
    fn drop(&mut self) {
        if !G::FREE_AT_END {
            assert_eq!(self.g.errors(), 0, "{}: a free was refused", G::NAME);
            return;
        }
        for s in &self.slots {
            unsafe { self.g.free(s.ptr, s.size as usize, s.align as usize) };
        }
        assert_eq!(self.g.errors(), 0, "{}: a free was refused", G::NAME);
    }
}

/// Runs `count` steps in chunks, giving up (false) once `deadline` passes.
fn run_until<G: Gp>(
    live: &mut Live<G>,
    steps: &[Step],
    pos: &mut usize,
    count: usize,
    deadline: Instant,
) -> bool {
    let mut left = count;
    while left > 0 {
        if Instant::now() > deadline {
            return false;
        }
        let k = left.min(1000);
        live.run_n(steps, pos, k);
        left -= k;
    }
    true
}

/// One implementation's measurement in progress: set up, probed and warmed
/// up by [`prepare`], then timed one repetition at a time by [`Contender::rep`],
/// so that [`interleaved`] can take the implementations' repetitions in
/// turn.
trait Contender {
    /// One timed repetition (ns/step), or the final row once the
    /// implementation has run out of time.
    fn rep(&mut self) -> Result<f64, Box<Row>>;
    /// The row made of the repetitions' samples.
    fn into_row(self: Box<Self>, samples: Vec<f64>) -> Row;
}

struct Prepared<'a, G: Gp> {
    live: Live<G>,
    steps: &'a [Step],
    pos: usize,
    per_rep: usize,
    note: String,
    /// Time this implementation has taken so far (set-up, probe, warm-up,
    /// repetitions): the deadline is twice the budget of its own time, not
    /// of the wall clock, which the other implementations share.
    spent: Duration,
    limit: Duration,
}

impl<G: Gp> Contender for Prepared<'_, G> {
    fn rep(&mut self) -> Result<f64, Box<Row>> {
        let started = Instant::now();
        let deadline = started + self.limit.saturating_sub(self.spent);
        // A short untimed run first: the other implementations' turns have
        // just filled the caches with their own heaps.
        let rewarm = (self.per_rep / 10).max(1);
        let mut ok = run_until(&mut self.live, self.steps, &mut self.pos, rewarm, deadline);
        let t = Instant::now();
        ok = ok
            && run_until(
                &mut self.live,
                self.steps,
                &mut self.pos,
                self.per_rep,
                deadline,
            );
        let elapsed = t.elapsed();
        self.spent += started.elapsed();
        if ok {
            return Ok(elapsed.as_nanos() as f64 / self.per_rep as f64);
        }
        let t = Instant::now();
        self.live.run_n(self.steps, &mut self.pos, 100);
        let r = t.elapsed().as_secs_f64() / 100.0;
        Err(Box::new(Row::too_slow(
            G::NAME,
            G::KIND,
            r * 1e9,
            format!(
                "too slow: steps slowed to ~{:.0} us as the heap fragmented; passed the {:.0} s deadline",
                r * 1e6,
                self.limit.as_secs_f64()
            ),
        )))
    }

    fn into_row(self: Box<Self>, samples: Vec<f64>) -> Row {
        let (per_rep, note) = (self.per_rep, self.note.clone());
        drop(self);
        Row::new(G::NAME, G::KIND, samples, per_rep as u64).note(note)
    }
}

/// Sets up one implementation on `plan` within the time budget: the N
/// initial blocks, a probe and a warm-up.
///
/// After a full warm-up (so every heap has the same age), a short probe
/// estimates the cost of a step; an implementation too slow for the full
/// plan runs fewer steps per repetition. Since the cost of a
/// step can grow as the heap fragments (linked_list_allocator's list of
/// holes grows with every free), a hard deadline of twice the budget (of
/// the implementation's own time) ends the measurement: the row is then
/// marked too slow, with the rate of the last chunk as the estimate.
fn prepare<'a, G: Gp + 'a>(cfg: &Cfg, plan: &'a Plan) -> Result<Box<dyn Contender + 'a>, Box<Row>> {
    let steps = &plan.steps;
    let mut pos = 0;
    let budget = cfg.budget.as_secs_f64();
    let t0 = Instant::now();
    let deadline = t0 + cfg.budget * 2;
    let too_slow =
        |per_step: f64, why: String| Box::new(Row::too_slow(G::NAME, G::KIND, per_step * 1e9, why));
    let Some(mut live) = Live::<G>::setup_until(plan, Some(deadline)) else {
        // An estimate of the set-up's own cost per allocation.
        return Err(too_slow(
            t0.elapsed().as_secs_f64() / plan.live as f64,
            format!(
                "too slow: allocating the {} initial blocks passed the {:.0} s deadline; estimate = time so far / N (a lower bound)",
                plan.live,
                2.0 * budget
            ),
        ));
    };

    // Warm-up first, in full: every implementation's heap then has the same
    // age when the timing starts, and a probe taken now no longer pays
    // the first touches of fresh pages (which made an early probe
    // overestimate a step by 30x for an arena with huge pages).
    let full = steps.len();
    let warm = full.max(plan.live);
    if !run_until(&mut live, steps, &mut pos, warm, deadline) {
        let t = Instant::now();
        live.run_n(steps, &mut pos, 100);
        let r = t.elapsed().as_secs_f64() / 100.0;
        return Err(too_slow(r, format!("too slow: steps slowed to ~{:.0} us as the heap fragmented; warm-up passed the {:.0} s deadline", r * 1e6, 2.0 * budget)));
    }

    // Probe: up to 2000 steps or 0.5 s, whichever comes first.
    let t = Instant::now();
    let mut probed = 0;
    while probed < 2000 && t.elapsed() < Duration::from_millis(500) {
        live.run_n(steps, &mut pos, 100);
        probed += 100;
    }
    let per_step = t.elapsed().as_secs_f64() / probed as f64;

    // The repetitions (each also runs a tenth of its steps untimed first)
    // get the budget, or what the deadline leaves of it.
    let reps = cfg.reps as f64 * 1.1;
    let left = (2.0 * budget - t0.elapsed().as_secs_f64()).min(budget);
    let mut note = G::NOTE.to_string();
    let per_rep = if per_step * reps * full as f64 <= left {
        full
    } else {
        let k = (left.max(0.0) / per_step / reps) as usize;
        if k < 1000 {
            return Err(too_slow(
                per_step,
                format!(
                    "too slow: ~{:.0} us/step over {probed} probe steps after the warm-up; {} reps of 1000 steps exceed the {:.0} s budget",
                    per_step * 1e6,
                    cfg.reps,
                    budget
                ),
            ));
        }
        if !note.is_empty() {
            note.push_str("; ");
        }
        note.push_str(&format!(
            "time budget: {k} steps/rep instead of {full} (after the full warm-up)"
        ));
        k
    };
    Ok(Box::new(Prepared {
        live,
        steps,
        pos,
        per_rep,
        note,
        spent: t0.elapsed(),
        limit: cfg.budget * 2,
    }))
}

/// Measures the prepared implementations with their repetitions
/// interleaved (one repetition of each in turn, `cfg.reps` rounds), so
/// that a slow spell of a shared machine falls on all of them alike rather
/// than on whichever ran then; the rows keep the order given.
fn interleaved<'a>(
    cfg: &Cfg,
    prepared: Vec<Result<Box<dyn Contender + 'a>, Box<Row>>>,
) -> Vec<Row> {
    enum Slot<'a> {
        Running(Box<dyn Contender + 'a>, Vec<f64>),
        Done(Box<Row>),
    }
    let mut slots: Vec<Slot> = prepared
        .into_iter()
        .map(|p| match p {
            Ok(c) => Slot::Running(c, Vec::with_capacity(cfg.reps)),
            Err(row) => Slot::Done(row),
        })
        .collect();
    let count = slots.len();
    for round in 0..cfg.reps {
        // Each round starts with the next implementation, so none always
        // runs right after the same other one.
        for i in (0..count).map(|i| (i + round) % count) {
            let slot = &mut slots[i];
            if let Slot::Running(c, samples) = slot {
                match c.rep() {
                    Ok(ns) => samples.push(ns),
                    Err(row) => *slot = Slot::Done(row),
                }
            }
        }
    }
    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Running(c, samples) => c.into_row(samples),
            Slot::Done(row) => *row,
        })
        .collect()
}

pub fn scaling(cfg: &Cfg) -> Vec<Workload> {
    let mut out = Vec::new();
    let lives: Vec<usize> = if cfg.quick {
        vec![100, 10_000]
    } else {
        vec![100, 10_000, 1_000_000]
    };
    for aligned in [false, true] {
        for &n in &lives {
            let steps = cfg.scale(200_000, 5_000);
            let plan = Plan::new(n, aligned, steps);
            let variant = if aligned { "align8-256" } else { "align8" };
            let mut w = Workload::new(
                &format!("freelist/{variant}/n={n}"),
                "freelist",
                &format!(
                    "Free list: steady state, {n} live blocks, sizes 16-1024 B, {}",
                    if aligned {
                        "random align 8-256"
                    } else {
                        "align 8"
                    }
                ),
                "one step: free a random live block + allocate a new one",
            )
            .param("live_blocks", n as f64)
            .param("aligned", aligned as u8 as f64);
            eprintln!("  {} ...", w.id);
            let prepared = vec![
                prepare::<Ours>(cfg, &plan),
                prepare::<OursNoCache>(cfg, &plan),
                prepare::<Floor>(cfg, &plan),
                prepare::<Glibc>(cfg, &plan),
                prepare::<Rlsf>(cfg, &plan),
                prepare::<Talc>(cfg, &plan),
                prepare::<Lla>(cfg, &plan),
            ];
            w.rows = interleaved(cfg, prepared);
            out.push(w);
        }
    }
    out
}

/// `callgrind-freelist N STEPS ALIGNED [glibc]`: set up N live blocks, warm
/// up, then run STEPS steps inside [`vais_bench_window`], the only function
/// whose cost callgrind collects (`--collect-atstart=no --toggle-collect=...`).
/// The same steps run over libvais_alloc's free list or over glibc's malloc.
pub fn callgrind_child(live: usize, steps: usize, aligned: bool, glibc: bool) {
    if glibc {
        callgrind_steps::<Glibc>(live, steps, aligned)
    } else {
        callgrind_steps::<Ours>(live, steps, aligned)
    }
}

fn callgrind_steps<G: Gp>(live: usize, steps: usize, aligned: bool) {
    let plan = Plan::new(live, aligned, steps);
    let mut l = Live::<G>::setup(&plan);
    let mut pos = 0;
    l.run_n(&plan.steps, &mut pos, live.clamp(10_000, 200_000));
    vais_bench_window(&mut || l.run_n(&plan.steps, &mut pos, steps));
    println!("steps {steps}");
}

/// The measured window of the callgrind runs (a fixed, unmangled name).
#[no_mangle]
#[inline(never)]
pub extern "Rust" fn vais_bench_window(f: &mut dyn FnMut()) {
    f();
}
