//! Measurement, results and their presentation (terminal tables, JSON).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// How a row takes part in the ratios.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// libvais_alloc through its C ABI.
    Ours,
    /// A peer implementation; the fastest peer is "the best peer".
    Peer,
    /// The C floor: the trivial algorithm through a shared object.
    Floor,
    /// Shown for information, never ranked (e.g. frees timed separately).
    Info,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ours => "ours",
            Kind::Peer => "peer",
            Kind::Floor => "floor",
            Kind::Info => "info",
        }
    }
}

/// One implementation's result on one workload.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub kind: Kind,
    /// ns/op of every timed repetition (warm-up excluded); empty when the
    /// implementation was not timed (too slow).
    pub samples: Vec<f64>,
    /// Operations per timed repetition.
    pub ops: u64,
    pub note: String,
    /// Set when the implementation exceeded the time budget: a rough ns/op
    /// from a short probe, not a measurement.
    pub too_slow_estimate: Option<f64>,
    /// Further numbers (e.g. footprint ratios), by name.
    pub extra: Vec<(String, f64)>,
}

impl Row {
    pub fn new(name: &str, kind: Kind, samples: Vec<f64>, ops: u64) -> Row {
        Row {
            name: name.to_string(),
            kind,
            samples,
            ops,
            note: String::new(),
            too_slow_estimate: None,
            extra: Vec::new(),
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Row {
        self.note = note.into();
        self
    }

    pub fn too_slow(name: &str, kind: Kind, estimate: f64, note: impl Into<String>) -> Row {
        Row {
            name: name.to_string(),
            kind,
            samples: Vec::new(),
            ops: 0,
            note: note.into(),
            too_slow_estimate: Some(estimate),
            extra: Vec::new(),
        }
    }

    pub fn median(&self) -> Option<f64> {
        median(&self.samples)
    }

    pub fn min(&self) -> Option<f64> {
        self.samples.iter().copied().reduce(f64::min)
    }
}

pub fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// A workload and the result of every implementation on it.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Stable identifier, e.g. `freelist/align8/n=10000`.
    pub id: String,
    /// Issue group: bump, pool, freelist, trace, stack, global.
    pub group: String,
    pub title: String,
    /// What one "op" is in this workload.
    pub op: String,
    /// Numeric parameters (e.g. live blocks for the scaling chart).
    pub params: Vec<(String, f64)>,
    pub rows: Vec<Row>,
}

impl Workload {
    pub fn new(id: &str, group: &str, title: &str, op: &str) -> Workload {
        Workload {
            id: id.to_string(),
            group: group.to_string(),
            title: title.to_string(),
            op: op.to_string(),
            params: Vec::new(),
            rows: Vec::new(),
        }
    }

    pub fn param(mut self, name: &str, value: f64) -> Workload {
        self.params.push((name.to_string(), value));
        self
    }

    fn best(&self, kind: Kind) -> Option<f64> {
        self.rows
            .iter()
            .filter(|r| r.kind == kind)
            .filter_map(Row::median)
            .reduce(f64::min)
    }

    /// Median of the fastest peer.
    pub fn best_peer(&self) -> Option<f64> {
        self.best(Kind::Peer)
    }

    /// Median of the floor.
    pub fn floor(&self) -> Option<f64> {
        self.best(Kind::Floor)
    }

    /// The terminal table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "\n== {} [{}]\n   op = {}", self.title, self.id, self.op);
        let _ = writeln!(
            s,
            "   {:<34} {:>11} {:>11} {:>9} {:>9}  note",
            "implementation", "median ns", "min ns", "vs peer", "vs floor"
        );
        let best = self.best_peer();
        let floor = self.floor();
        let ratio = |v: Option<f64>, base: Option<f64>| match (v, base) {
            (Some(v), Some(b)) if b > 0.0 => format!("{:.2}x", v / b),
            _ => "-".to_string(),
        };
        for r in &self.rows {
            let (med, min) = match (r.median(), r.min()) {
                (Some(m), Some(n)) => (format!("{m:.2}"), format!("{n:.2}")),
                _ => match r.too_slow_estimate {
                    Some(e) => (format!("~{e:.0}"), "too slow".to_string()),
                    None => ("-".to_string(), "-".to_string()),
                },
            };
            let v = r.median().or(r.too_slow_estimate);
            let rp = if r.kind == Kind::Info {
                "-".into()
            } else {
                ratio(v, best)
            };
            let rf = if r.kind == Kind::Info {
                "-".into()
            } else {
                ratio(v, floor)
            };
            let mut note = r.note.clone();
            for (k, val) in &r.extra {
                if !note.is_empty() {
                    note.push_str("; ");
                }
                let _ = write!(note, "{k}={val:.3}");
            }
            let _ = writeln!(
                s,
                "   {:<34} {:>11} {:>11} {:>9} {:>9}  {}",
                r.name, med, min, rp, rf, note
            );
        }
        s
    }
}

/// Run-wide settings.
#[derive(Clone, Debug)]
pub struct Cfg {
    /// Timed repetitions after warm-up (at least 7 in a full run).
    pub reps: usize,
    /// Shrinks every workload (for testing the harness, not for numbers).
    pub quick: bool,
    /// Per implementation and workload: past this, fewer steps, then "too slow".
    pub budget: Duration,
}

impl Cfg {
    /// `full` in a full run, `quick` with BENCH_QUICK set.
    pub fn scale(&self, full: usize, quick: usize) -> usize {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// Times `f`, returning its elapsed time and the op count it reports.
#[inline(never)]
pub fn timed(f: impl FnOnce() -> u64) -> (Duration, u64) {
    let t = Instant::now();
    let ops = f();
    (t.elapsed(), ops)
}

/// Measures several implementations of one workload at once: `warmup`
/// untimed repetitions of each, then `cfg.reps` rounds of one timed
/// repetition of each in turn (each `rep` times itself, so it can keep
/// set-up and tear-down out of the clock, and returns (elapsed, ops)), so that a slow spell of a shared machine falls on all of them
/// alike rather than on whichever ran then. Returns the ns/op samples of
/// each, in the order given.
pub fn measure_each<const K: usize>(
    cfg: &Cfg,
    warmup: usize,
    mut reps: [&mut dyn FnMut() -> (Duration, u64); K],
) -> [Vec<f64>; K] {
    for rep in reps.iter_mut() {
        for _ in 0..warmup {
            rep();
        }
    }
    let mut out: [Vec<f64>; K] = std::array::from_fn(|_| Vec::with_capacity(cfg.reps));
    for round in 0..cfg.reps {
        // Each round starts with the next implementation, so none always
        // runs right after the same other one.
        for i in (0..K).map(|i| (i + round) % K) {
            let (d, ops) = reps[i]();
            out[i].push(d.as_nanos() as f64 / ops.max(1) as f64);
        }
    }
    out
}

// ---- JSON ------------------------------------------------------------------

pub fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

pub fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

fn json_opt(v: Option<f64>) -> String {
    v.map(json_num).unwrap_or_else(|| "null".into())
}

fn json_pairs(pairs: &[(String, f64)]) -> String {
    let items: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}: {}", json_str(k), json_num(*v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

impl Row {
    pub fn json(&self, best: Option<f64>, floor: Option<f64>) -> String {
        let v = self.median().or(self.too_slow_estimate);
        let ratio = |b: Option<f64>| match (v, b) {
            (Some(v), Some(b)) if b > 0.0 && self.kind != Kind::Info => Some(v / b),
            _ => None,
        };
        let samples: Vec<String> = self.samples.iter().map(|s| json_num(*s)).collect();
        format!(
            "{{\"name\": {}, \"kind\": {}, \"median_ns\": {}, \"min_ns\": {}, \"reps\": {}, \
             \"ops_per_rep\": {}, \"vs_best_peer\": {}, \"vs_floor\": {}, \"too_slow_estimate_ns\": {}, \
             \"note\": {}, \"extra\": {}, \"samples_ns\": [{}]}}",
            json_str(&self.name),
            json_str(self.kind.as_str()),
            json_opt(self.median()),
            json_opt(self.min()),
            self.samples.len(),
            self.ops,
            json_opt(ratio(best)),
            json_opt(ratio(floor)),
            json_opt(self.too_slow_estimate),
            json_str(&self.note),
            json_pairs(&self.extra),
            samples.join(", ")
        )
    }
}

impl Workload {
    pub fn json(&self) -> String {
        let best = self.best_peer();
        let floor = self.floor();
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|r| format!("        {}", r.json(best, floor)))
            .collect();
        format!(
            "    {{\"id\": {}, \"group\": {}, \"title\": {}, \"op\": {}, \"params\": {}, \
             \"best_peer_ns\": {}, \"floor_ns\": {}, \"rows\": [\n{}\n    ]}}",
            json_str(&self.id),
            json_str(&self.group),
            json_str(&self.title),
            json_str(&self.op),
            json_pairs(&self.params),
            json_opt(best),
            json_opt(floor),
            rows.join(",\n")
        )
    }
}
