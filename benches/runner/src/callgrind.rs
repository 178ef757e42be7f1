//! Instruction counts: callgrind runs of this binary (free-list scaling and
//! every fast path) and a static look at the machine code (objdump).

use crate::bench::{json_num, json_str};
use crate::ffi::*;
use crate::freelist::vais_bench_window;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The path of the shared object this binary is linked against.
pub const SO_PATH: &str = env!("VAIS_ALLOC_SO");

pub const HOT: [&str; 9] = [
    "bump_alloc",
    "stack_alloc",
    "stack_pop",
    "pool_alloc",
    "pool_dealloc",
    "freelist_alloc",
    "freelist_dealloc",
    "global_alloc",
    "global_dealloc",
];

/// Runs this binary under callgrind, collecting only inside
/// `vais_bench_window`; returns Ir per function (inclusive or self).
/// Instructions per function: (inclusive, self).
type IrByFunction = (BTreeMap<String, u64>, BTreeMap<String, u64>);

fn run_callgrind(out_dir: &Path, tag: &str, args: &[String]) -> Result<IrByFunction, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = out_dir.join(format!("callgrind.{tag}.out"));
    let st = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--collect-atstart=no")
        .arg("--toggle-collect=vais_bench_window")
        .arg(&exe)
        .args(args)
        .output()
        .map_err(|e| format!("valgrind: {e}"))?;
    if !st.status.success() {
        return Err(format!(
            "valgrind failed: {}",
            String::from_utf8_lossy(&st.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok((annotate(&out, false)?, annotate(&out, true)?))
}

/// Ir per function from `callgrind_annotate`, self or inclusive.
fn annotate(out: &Path, inclusive: bool) -> Result<BTreeMap<String, u64>, String> {
    let ann = Command::new("callgrind_annotate")
        .arg(format!(
            "--inclusive={}",
            if inclusive { "yes" } else { "no" }
        ))
        .arg("--threshold=100")
        .arg(out)
        .output()
        .map_err(|e| format!("callgrind_annotate: {e}"))?;
    let text = String::from_utf8_lossy(&ann.stdout);
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(first) = line.split_whitespace().next() else {
            continue;
        };
        let Ok(ir) = first.replace(',', "").parse::<u64>() else {
            continue;
        };
        // "<Ir> (<pct>%)  file:function [object]"
        let Some(rest) = line.split_once(')').map(|x| x.1.trim()) else {
            continue;
        };
        let rest = rest.split(" [").next().unwrap_or(rest);
        let func = rest.rsplit_once(':').map(|x| x.1).unwrap_or(rest);
        *map.entry(func.trim().to_string()).or_insert(0) += ir;
    }
    Ok(map)
}

pub struct ScalingCount {
    /// "libvais_alloc" or "glibc".
    pub implementation: &'static str,
    pub live: usize,
    pub aligned: bool,
    pub steps: usize,
    pub alloc_ir: f64,
    pub dealloc_ir: f64,
}

/// The free list's instructions per step at each N, and glibc's on the same
/// steps (malloc or posix_memalign, and free, callees included).
pub fn freelist_scaling(out_dir: &Path, quick: bool) -> Result<Vec<ScalingCount>, String> {
    let steps = if quick { 2_000 } else { 100_000 };
    let lives: &[usize] = if quick {
        &[100, 10_000]
    } else {
        &[100, 10_000, 100_000, 1_000_000]
    };
    // (name, callgrind file tag, the child's extra argument, the functions
    // whose inclusive counts are the allocation and the free)
    type Subject = (
        &'static str,
        &'static str,
        Option<&'static str>,
        &'static [&'static str],
        &'static [&'static str],
    );
    let subjects: [Subject; 2] = [
        (
            "libvais_alloc",
            "freelist",
            None,
            &["freelist_alloc"],
            &["freelist_dealloc"],
        ),
        (
            "glibc",
            "glibc",
            Some("glibc"),
            &["malloc", "posix_memalign"],
            &["free"],
        ),
    ];
    let mut v = Vec::new();
    for (who, prefix, extra, alloc_fns, free_fns) in subjects {
        for aligned in [false, true] {
            for &live in lives {
                eprintln!("  callgrind: {who}, N={live}, aligned={aligned} ...");
                let tag = format!("{prefix}.n{live}.{}", if aligned { "a256" } else { "a8" });
                let mut args = vec![
                    "callgrind-freelist".to_string(),
                    live.to_string(),
                    steps.to_string(),
                    (aligned as u8).to_string(),
                ];
                args.extend(extra.map(str::to_string));
                let (_, m) = run_callgrind(out_dir, &tag, &args)?;
                let per_call = |fs: &[&str]| {
                    fs.iter()
                        .map(|f| m.get(*f).copied().unwrap_or(0))
                        .sum::<u64>() as f64
                        / steps as f64
                };
                v.push(ScalingCount {
                    implementation: who,
                    live,
                    aligned,
                    steps,
                    alloc_ir: per_call(alloc_fns),
                    dealloc_ir: per_call(free_fns),
                });
            }
        }
    }
    Ok(v)
}

pub const FASTPATH_CALLS: usize = 10_000;

/// The child of [`fastpath`]: each hot function `FASTPATH_CALLS` times on
/// its fast path.
pub fn fastpath_child() {
    let k = FASTPATH_CALLS;
    let l16 = Layout { size: 16, align: 8 };
    let l64 = Layout { size: 64, align: 8 };
    let g = Layout {
        size: 64,
        align: 16,
    };
    unsafe {
        let b = bump_new((k * 16 + 64) as i64);
        let s = stack_new(1 << 16);
        let p = pool_new(64, 16);
        let f = freelist_new(1 << 20);
        check(
            !b.is_null() && !s.is_null() && !p.is_null() && !f.is_null(),
            "new",
        );
        // A 64-byte hole between two live blocks: each alloc takes it back
        // (its own class, no split) and each free finds both neighbours in
        // use (no merge), the common case in a busy heap.
        let keep = freelist_alloc(f, l64);
        let hole = freelist_alloc(f, l64);
        let guard = freelist_alloc(f, l64);
        freelist_dealloc(f, hole.ptr);
        vais_bench_window(&mut || {
            let mut acc = 0i64;
            for _ in 0..k {
                acc = acc.wrapping_add(bump_alloc(b, l16).ptr);
                acc = acc.wrapping_add(stack_alloc(s, l64).ptr);
                acc |= stack_pop(s);
                let q = pool_alloc(p);
                acc |= pool_dealloc(p, q);
                let a = freelist_alloc(f, l64);
                acc |= freelist_dealloc(f, a.ptr);
                let a = global_alloc(g);
                global_dealloc(a.ptr, g);
                acc = acc.wrapping_add(a.ptr);
            }
            check(acc != 0, "fast paths");
        });
        freelist_dealloc(f, keep.ptr);
        freelist_dealloc(f, guard.ptr);
        bump_free(b);
        stack_free(s);
        pool_free(p);
        freelist_free(f);
    }
    println!("calls {k}");
}

pub struct FastPath {
    pub func: String,
    /// Instructions executed per call on the fast path, callees included
    /// (callgrind; for global_* that includes glibc's malloc/free).
    pub dynamic: Option<f64>,
    /// The same, in the exported function's own code only.
    pub self_only: Option<f64>,
    /// Instructions in the function's machine code (objdump).
    pub static_len: Option<usize>,
    /// Calls and jumps leaving the function in its machine code.
    pub calls: Vec<String>,
}

/// Disassembles every hot function (written to `out_dir/disasm.txt`) and
/// counts its fast-path instructions under callgrind.
pub fn fastpath(out_dir: &Path) -> Vec<FastPath> {
    let (selfs, incl) = run_callgrind(out_dir, "fastpath", &["fastpath".to_string()])
        .map_err(|e| eprintln!("  callgrind fast paths: {e}"))
        .unwrap_or_default();
    let dis = Command::new("objdump")
        .args(["-d", "--no-show-raw-insn", "-M", "intel", SO_PATH])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut funcs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in dis.lines() {
        if line.ends_with(">:") {
            let name = line.split('<').nth(1).unwrap_or("").trim_end_matches(">:");
            cur = HOT.contains(&name).then(|| name.to_string());
            if let Some(c) = &cur {
                funcs.insert(c.clone(), vec![line.to_string()]);
            }
        } else if line.trim().is_empty() {
            cur = None;
        } else if let Some(c) = &cur {
            funcs.get_mut(c).unwrap().push(line.to_string());
        }
    }
    let mut text = String::new();
    for f in HOT {
        if let Some(lines) = funcs.get(f) {
            text.push_str(&lines.join("\n"));
            text.push_str("\n\n");
        }
    }
    let _ = std::fs::write(out_dir.join("disasm.txt"), text);
    HOT.iter()
        .map(|&f| {
            let lines = funcs.get(f);
            let calls = lines
                .map(|ls| {
                    ls.iter()
                        .filter(|l| {
                            l.contains("\tcall")
                                || (l.contains("\tjmp")
                                    && (l.contains("@") || l.contains("_DYNAMIC")))
                        })
                        .filter_map(|l| {
                            l.split('<')
                                .nth(1)
                                .map(|x| x.trim_end_matches('>').to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            FastPath {
                func: f.to_string(),
                dynamic: incl.get(f).map(|&ir| ir as f64 / FASTPATH_CALLS as f64),
                self_only: selfs.get(f).map(|&ir| ir as f64 / FASTPATH_CALLS as f64),
                static_len: lines.map(|l| l.len() - 1),
                calls,
            }
        })
        .collect()
}

pub fn scaling_json(v: &[ScalingCount]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|c| {
            format!(
                "    {{\"implementation\": {}, \"live_blocks\": {}, \"aligned\": {}, \"steps\": {}, \
                 \"alloc_ir_per_call\": {}, \"dealloc_ir_per_call\": {}, \"ir_per_step\": {}}}",
                json_str(c.implementation),
                c.live,
                c.aligned,
                c.steps,
                json_num(c.alloc_ir),
                json_num(c.dealloc_ir),
                json_num(c.alloc_ir + c.dealloc_ir)
            )
        })
        .collect();
    format!("[\n{}\n  ]", items.join(",\n"))
}

pub fn fastpath_json(v: &[FastPath]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|f| {
            let calls: Vec<String> = f.calls.iter().map(|c| json_str(c)).collect();
            format!(
                "    {{\"function\": {}, \"fast_path_instructions\": {}, \"fast_path_self\": {}, \"static_instructions\": {}, \"calls_out\": [{}]}}",
                json_str(&f.func),
                f.dynamic.map(json_num).unwrap_or_else(|| "null".into()),
                f.self_only.map(json_num).unwrap_or_else(|| "null".into()),
                f.static_len.map(|n| n.to_string()).unwrap_or_else(|| "null".into()),
                calls.join(", ")
            )
        })
        .collect();
    format!("[\n{}\n  ]", items.join(",\n"))
}
