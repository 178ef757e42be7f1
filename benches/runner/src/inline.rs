//! How much of the free list's gap to rlsf is the C ABI: the free list's
//! Rust core and rlsf, both inlined into one program (benches/inline_compare,
//! built next to this runner), on the align-8 steady state of workload 3.
//! Each repetition is a fresh child process (set-up, one untimed round, one
//! timed round), alternating the two implementations.

use crate::bench::{median, Cfg, Kind, Row, Workload};
use std::path::PathBuf;
use std::process::Command;

const STEPS: usize = 200_000;

fn program() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.join("vais_inline_compare");
    path.exists().then_some(path)
}

/// ns/step of the last round one child process reports.
fn one_run(program: &PathBuf, which: &str, live: usize, steps: usize) -> Option<f64> {
    let out = Command::new(program)
        .args([which, &live.to_string(), &steps.to_string(), "2"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last()?;
    let ns = last.split(": ").nth(1)?.strip_suffix(" ns/step")?;
    ns.parse().ok()
}

pub fn inlined(cfg: &Cfg) -> Vec<Workload> {
    let Some(program) = program() else {
        eprintln!("  vais_inline_compare not built (make -C benches build): skipped");
        return Vec::new();
    };
    let lives: Vec<usize> = if cfg.quick {
        vec![100, 10_000]
    } else {
        vec![100, 10_000, 1_000_000]
    };
    let steps = cfg.scale(STEPS, 5_000);
    let mut out = Vec::new();
    for n in lives {
        let mut w = Workload::new(
            &format!("inlined/align8/n={n}"),
            "inlined",
            &format!("Free list without the C ABI: {n} live blocks, sizes 16-1024 B, align 8, both cores inlined"),
            "one step: free a random live block + allocate a new one",
        )
        .param("live_blocks", n as f64);
        eprintln!("  {} ...", w.id);
        let (mut ours, mut rlsf) = (Vec::new(), Vec::new());
        for _ in 0..cfg.reps {
            ours.extend(one_run(&program, "ours", n, steps));
            rlsf.extend(one_run(&program, "rlsf", n, steps));
        }
        let complete = |v: &Vec<f64>| v.len() == cfg.reps && median(v).is_some();
        if !complete(&ours) || !complete(&rlsf) {
            eprintln!("  {}: a child process failed: skipped", w.id);
            continue;
        }
        w.rows.push(
            Row::new(
                "vais_alloc free list core (inlined Rust, no C ABI)",
                Kind::Ours,
                ours,
                steps as u64,
            )
            .note("same checks as through the C ABI; no call, no handle check"),
        );
        w.rows.push(Row::new(
            "rlsf TLSF (inlined Rust)",
            Kind::Peer,
            rlsf,
            steps as u64,
        ));
        out.push(w);
    }
    out
}
