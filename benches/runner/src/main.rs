//! `vais_bench`: the benchmarks of libvais_alloc against its peers.
//!
//! `make bench` (benches/Makefile) builds everything in release mode and
//! runs `vais_bench --out benches/results`, which prints one table per
//! workload and writes benches/results/results.json; benches/report.py then
//! turns that into BENCHMARKS.md and the free-list scaling chart.
//!
//! Usage:
//!   vais_bench [--quick] [--reps N] [--only GROUP,...] [--out DIR]
//!              [--budget SECONDS] [--traces DIR] [--no-callgrind]
//!   vais_bench callgrind-freelist N STEPS ALIGNED [glibc]   (child, under callgrind)
//!   vais_bench fastpath                             (child, under callgrind)
//!   vais_bench replay-child TRACE IMPL              (child, fresh heap)
//!
//! Groups: bump, pool, freelist, inlined, trace, stack, global.

mod bench;
mod callgrind;
mod ffi;
mod freelist;
mod gp;
mod rng;
mod simple;
mod inline;
mod trace;

use bench::{json_str, Cfg, Workload};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn usage() -> ! {
    eprintln!(
        "usage: vais_bench [--quick] [--reps N] [--only GROUP,...] [--out DIR] [--budget S] \
         [--traces DIR] [--no-callgrind]\n       groups: bump,pool,freelist,inlined,trace,stack,global"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("callgrind-freelist") => {
            let n = |i: usize| {
                args.get(i)
                    .and_then(|a| a.parse::<usize>().ok())
                    .unwrap_or_else(|| usage())
            };
            let glibc = args.get(4).map(String::as_str) == Some("glibc");
            freelist::callgrind_child(n(1), n(2), n(3) != 0, glibc);
            return;
        }
        Some("fastpath") => {
            callgrind::fastpath_child();
            return;
        }
        Some("replay-child") => {
            let (Some(t), Some(i)) = (args.get(1), args.get(2)) else {
                usage()
            };
            trace::replay_child(t, i);
            return;
        }
        _ => {}
    }

    let mut cfg = Cfg {
        reps: 9,
        quick: std::env::var_os("BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0"),
        budget: Duration::from_secs(8),
    };
    let mut only: Option<Vec<String>> = None;
    let mut out = PathBuf::from("results");
    let mut traces: Option<PathBuf> = None;
    let mut callgrind = true;
    let mut reps_given = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => cfg.quick = true,
            "--reps" => {
                cfg.reps = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage());
                reps_given = true;
            }
            "--only" => {
                only = Some(
                    it.next()
                        .unwrap_or_else(|| usage())
                        .split(',')
                        .map(String::from)
                        .collect(),
                )
            }
            "--out" => out = PathBuf::from(it.next().unwrap_or_else(|| usage())),
            "--budget" => {
                let s: f64 = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage());
                cfg.budget = Duration::from_secs_f64(s);
            }
            "--traces" => traces = Some(PathBuf::from(it.next().unwrap_or_else(|| usage()))),
            "--no-callgrind" => callgrind = false,
            _ => usage(),
        }
    }
    if cfg.quick && !reps_given {
        cfg.reps = 3;
    }
    if cfg.quick {
        cfg.budget = cfg.budget.min(Duration::from_secs(1));
    }
    let want = |g: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == g));
    std::fs::create_dir_all(&out).expect("cannot create the output directory");

    let start = Instant::now();
    println!(
        "vais_bench: libvais_alloc {} ({}), {} timed repetitions after warm-up{}",
        ffi::version(),
        repo_relative(Path::new(callgrind::SO_PATH)),
        cfg.reps,
        if cfg.quick {
            ", QUICK mode (numbers not representative)"
        } else {
            ""
        }
    );
    let mut all: Vec<Workload> = Vec::new();
    let emit = |ws: Vec<Workload>, all: &mut Vec<Workload>| {
        for w in ws {
            print!("{}", w.table());
            let _ = std::io::Write::flush(&mut std::io::stdout());
            all.push(w);
        }
    };
    type Group = fn(&Cfg) -> Vec<Workload>;
    let groups: [(&str, Group); 6] = [
        ("bump", simple::bump),
        ("pool", simple::pool),
        ("freelist", freelist::scaling),
        ("inlined", inline::inlined),
        ("stack", simple::stack),
        ("global", simple::global),
    ];
    for (g, f) in groups {
        if want(g) {
            eprintln!("[{:>6.1}s] {g} ...", start.elapsed().as_secs_f64());
            emit(f(&cfg), &mut all);
        }
    }
    if want("trace") {
        eprintln!("[{:>6.1}s] trace ...", start.elapsed().as_secs_f64());
        match &traces {
            Some(dir) => emit(trace::replay_all(&cfg, dir), &mut all),
            None => eprintln!("  no --traces DIR given: trace replay skipped"),
        }
    }

    let mut scaling = String::from("[]");
    let mut fast = String::from("[]");
    if callgrind && want("freelist") {
        eprintln!("[{:>6.1}s] callgrind ...", start.elapsed().as_secs_f64());
        match callgrind::freelist_scaling(&out, cfg.quick) {
            Ok(v) => {
                println!(
                    "\n== Instructions per step under callgrind (libvais_alloc: freelist_alloc + \
                     freelist_dealloc; glibc: malloc or posix_memalign + free)"
                );
                for c in &v {
                    println!(
                        "   {:<13} N={:<8} {:<10} alloc {:>7.1}  dealloc {:>7.1}  step {:>7.1} Ir",
                        c.implementation,
                        c.live,
                        if c.aligned { "align8-256" } else { "align8" },
                        c.alloc_ir,
                        c.dealloc_ir,
                        c.alloc_ir + c.dealloc_ir
                    );
                }
                for aligned in [false, true] {
                    let step = |who: &str, n: usize| {
                        v.iter()
                            .find(|c| {
                                c.implementation == who && c.live == n && c.aligned == aligned
                            })
                            .map(|c| c.alloc_ir + c.dealloc_ir)
                    };
                    let big = v
                        .iter()
                        .filter(|c| c.aligned == aligned)
                        .map(|c| c.live)
                        .max();
                    let name = if aligned { "align8-256" } else { "align8" };
                    if let (Some(a), Some(b)) = (
                        step("libvais_alloc", 100),
                        big.and_then(|n| step("libvais_alloc", n)),
                    ) {
                        println!(
                            "   {name}: N={} / N=100 = {:.3} (target <= 1.2)",
                            big.unwrap(),
                            b / a
                        );
                    }
                    if let (Some(a), Some(b)) =
                        (step("libvais_alloc", 100_000), step("glibc", 100_000))
                    {
                        println!(
                            "   {name}: N=100000 libvais_alloc / glibc = {:.3} (target < 1)",
                            a / b
                        );
                    }
                }
                scaling = callgrind::scaling_json(&v);
            }
            Err(e) => eprintln!("  callgrind skipped: {e}"),
        }
    }
    if callgrind {
        let v = callgrind::fastpath(&out);
        println!("\n== Fast paths of libvais_alloc.so (instructions per call under callgrind; static size from objdump)");
        for f in &v {
            println!(
                "   {:<18} fast path {:>6} (own code {:>6})  static {:>5}  calls out: {}",
                f.func,
                f.dynamic.map(|d| format!("{d:.1}")).unwrap_or("-".into()),
                f.self_only.map(|d| format!("{d:.1}")).unwrap_or("-".into()),
                f.static_len.map(|d| d.to_string()).unwrap_or("-".into()),
                if f.calls.is_empty() {
                    "-".to_string()
                } else {
                    f.calls.join(", ")
                }
            );
        }
        fast = callgrind::fastpath_json(&v);
    }

    let wall = start.elapsed().as_secs_f64();
    let ws: Vec<String> = all.iter().map(Workload::json).collect();
    let json = format!(
        "{{\n  \"vais_alloc_version\": {},\n  \"library\": {},\n  \"reps\": {},\n  \"quick\": {},\n  \
         \"budget_s\": {},\n  \"wall_seconds\": {:.1},\n  \"workloads\": [\n{}\n  ],\n  \
         \"callgrind_freelist\": {},\n  \"fast_paths\": {}\n}}\n",
        json_str(&ffi::version()),
        json_str(&repo_relative(Path::new(callgrind::SO_PATH))),
        cfg.reps,
        cfg.quick,
        cfg.budget.as_secs_f64(),
        wall,
        ws.join(",\n"),
        scaling,
        fast
    );
    let path = out.join("results.json");
    std::fs::write(&path, json).expect("cannot write results.json");
    println!(
        "\nvais_bench: {wall:.0} s; results in {}",
        repo_relative(&path)
    );
}

/// `path` relative to the repository's root when it lies inside it, so that
/// the committed results name no particular machine's directories.
fn repo_relative(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    match path.strip_prefix(&root) {
        Ok(relative) => relative.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}
