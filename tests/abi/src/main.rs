//! `make abi`: checks that the committed header `include/vais_alloc.h`
//! matches the Rust ABI of `vais_alloc`.
//!
//! Three links make the chain from the crate to the header:
//!
//! 1. crate -> `decls.rs`, at compile time: `decls.rs` re-exports the
//!    crate's real `Layout`, `Allocation` and handle types, and the
//!    `tie_functions!` / `tie_constants!` lists below make rustc prove that
//!    every declared function has exactly the type of the crate's own
//!    (same ABI, arguments and result) and every declared constant the
//!    crate's value;
//! 2. `decls.rs` -> header, when run: ctest2's checks (build.rs) compare
//!    sizes, alignments, field offsets and types, a by-value round trip of
//!    each struct, constant values and function addresses, and the C side
//!    only compiles if each function in the header has the declared
//!    signature;
//! 3. completeness, when run: every `#[no_mangle]` function and
//!    `VAIS_ALLOC_*` constant found in `src/ffi` must be declared and tied.
//!
//! Prints one summary line; exits 1 on any mismatch. The generated checks
//! run in a child process (see [`run_generated_checks`]).

mod decls;

use std::collections::BTreeSet;
use std::env;
use std::process::{Command, ExitCode, Stdio};

/// The checks ctest2 generated in build.rs, resolved against `decls`.
mod generated {
    // ctest2 writes old-style code: fn items cast straight to `usize`, its
    // own `main` that this crate never calls, `if !false`, index loops...
    // Those lints are not ours to fix. `unknown_lints`: older rustc lacks
    // `function_casts_as_integer`.
    #![allow(unknown_lints, function_casts_as_integer, dead_code)]
    #![allow(clippy::all)]

    use crate::decls::*;

    include!(concat!(env!("OUT_DIR"), "/abi_checks.rs"));

    /// Runs every generated check (each mismatch prints a `bad ...` line)
    /// and returns how many passed and whether any failed.
    pub fn run() -> (usize, bool) {
        run_all();
        (NTESTS.load(Ordering::SeqCst), FAILED.load(Ordering::SeqCst))
    }
}

/// The names build.rs found in `src/ffi` and `src/decls.rs`.
mod inventory {
    include!(concat!(env!("OUT_DIR"), "/inventory.rs"));
}

/// Ties each `decls` function to the crate's function of the same name:
/// both must coerce to one `unsafe extern "C" fn` pointer type, so any
/// difference in ABI, argument count, argument or result type is a compile
/// error. Also lists the tied names.
macro_rules! tie_functions {
    ($($module:ident :: $name:ident ($($arg:tt),*);)*) => {
        const _: () = {
            $(
                let _: [unsafe extern "C" fn($($arg),*) -> _; 2] =
                    [decls::$name, vais_alloc::ffi::$module::$name];
            )*
        };
        /// Functions whose declaration is tied to the crate.
        const TIED_FUNCTIONS: &[&str] = &[$(stringify!($name)),*];
    };
}

tie_functions! {
    layout::layout_new(_, _);
    layout::layout_for_i64();
    layout::layout_for_i32();
    layout::layout_for_ptr();
    layout::layout_array(_, _, _);
    layout::layout_extend(_, _);

    global::global_alloc(_);
    global::global_alloc_zeroed(_);
    global::global_dealloc(_, _);
    global::global_realloc(_, _, _);

    allocator::global_as_allocator();
    allocator::bump_as_allocator(_);
    allocator::pool_as_allocator(_);
    allocator::freelist_as_allocator(_);
    allocator::stack_as_allocator(_);
    allocator::allocator_alloc(_, _);
    allocator::allocator_alloc_zeroed(_, _);
    allocator::allocator_resize(_, _, _, _);
    allocator::allocator_realloc(_, _, _, _);
    allocator::allocator_free(_, _, _);
    allocator::allocator_reset(_);
    allocator::allocator_caps(_);

    bump::bump_new(_);
    bump::bump_from_buffer(_, _);
    bump::bump_alloc(_, _);
    bump::bump_alloc_zeroed(_, _);
    bump::bump_reset(_);
    bump::bump_remaining(_);
    bump::bump_total_allocated(_);
    bump::bump_capacity(_);
    bump::bump_owns(_, _);
    bump::bump_drop(_);
    bump::bump_free(_);
    bump::bump_set_upstream(_, _, _);
    bump::bump_set_limit(_, _);
    bump::bump_mark(_);
    bump::bump_release_to(_, _);
    bump::bump_peak(_);

    pool::pool_new(_, _);
    pool::pool_alloc(_);
    pool::pool_dealloc(_, _);
    pool::pool_num_free_blocks(_);
    pool::pool_num_allocated(_);
    pool::pool_block_size(_);
    pool::pool_owns(_, _);
    pool::pool_reset(_);
    pool::pool_drop(_);
    pool::pool_free(_);
    pool::pool_set_upstream(_, _, _);
    pool::pool_set_limit(_, _);
    pool::pool_capacity(_);

    free_list::freelist_new(_);
    free_list::freelist_alloc(_, _);
    free_list::freelist_realloc(_, _, _);
    free_list::freelist_dealloc(_, _);
    free_list::freelist_total_allocated(_);
    free_list::freelist_remaining(_);
    free_list::freelist_largest_free_block(_);
    free_list::freelist_reset(_);
    free_list::freelist_drop(_);
    free_list::freelist_free(_);
    free_list::freelist_set_upstream(_, _, _);
    free_list::freelist_add_region(_, _, _);
    free_list::freelist_set_limit(_, _);
    free_list::freelist_capacity(_);
    free_list::freelist_set_cache(_, _);

    stack::stack_new(_);
    stack::stack_alloc(_, _);
    stack::stack_pop(_);
    stack::stack_reset(_);
    stack::stack_remaining(_);
    stack::stack_depth(_);
    stack::stack_drop(_);
    stack::stack_free(_);
    stack::stack_mark(_);
    stack::stack_release_to(_, _);
    stack::stack_peak(_);
    stack::stack_set_upstream(_, _, _);
    stack::stack_set_limit(_, _);
    stack::stack_capacity(_);

    inspect::allocator_stats(_, _);
    inspect::allocator_check(_);
    inspect::freelist_walk(_, _, _);

    library::vais_alloc_last_error();
    library::vais_alloc_clear_error();
    library::vais_alloc_error_message(_);
    library::vais_alloc_version();
    library::vais_alloc_memory_tools();
    library::vais_alloc_last_error_detail();
    library::vais_alloc_set_misuse_handler(_, _);
}

/// Ties each `decls` constant to the crate's value (a compile error if they
/// differ). Also lists the tied names.
macro_rules! tie_constants {
    ($($name:ident),* $(,)?) => {
        $(
            const _: () = assert!(
                decls::$name == vais_alloc::ffi::$name,
                concat!("decls.rs: ", stringify!($name), " differs from vais_alloc::ffi")
            );
        )*
        /// Constants whose declaration is tied to the crate.
        const TIED_CONSTANTS: &[&str] = &[$(stringify!($name)),*];
    };
}

tie_constants! {
    VAIS_ALLOC_OK,
    VAIS_ALLOC_E_INVALID_LAYOUT,
    VAIS_ALLOC_E_INVALID_ARGUMENT,
    VAIS_ALLOC_E_NULL_HANDLE,
    VAIS_ALLOC_E_OUT_OF_MEMORY,
    VAIS_ALLOC_E_EXHAUSTED,
    VAIS_ALLOC_E_FOREIGN_POINTER,
    VAIS_ALLOC_E_DOUBLE_FREE,
    VAIS_ALLOC_E_EMPTY,
    VAIS_ALLOC_E_UNSUPPORTED,
    VAIS_ALLOC_E_STALE_MARK,
    VAIS_ALLOC_E_CORRUPTED,
    VAIS_ALLOCATOR_VTABLE_VERSION,
    VAIS_ALLOC_CAP_FREE,
    VAIS_ALLOC_CAP_FREE_LAST,
    VAIS_ALLOC_CAP_RESIZE,
    VAIS_ALLOC_CAP_RESET,
    VAIS_ALLOC_CAP_ANY_SIZE,
    VAIS_ALLOC_CAP_ANY_ALIGN,
    VAIS_ALLOC_CAP_GROWS,
    VAIS_ALLOC_CAP_THREAD_SAFE,
}

/// Reports each name of `exported` (from `src/ffi`) missing from
/// `declared` (in decls.rs) or `tied` (in main.rs), and each declared or
/// tied name that is not exported. Returns the number of problems.
fn check_coverage(kind: &str, exported: &[&str], declared: &[&str], tied: &[&str]) -> usize {
    let exported: BTreeSet<_> = exported.iter().collect();
    let declared: BTreeSet<_> = declared.iter().collect();
    let tied: BTreeSet<_> = tied.iter().collect();
    let mut problems = 0;
    let mut report = |name: &str, message: &str| {
        eprintln!("abi: {kind} `{name}` {message}");
        problems += 1;
    };
    for name in &exported {
        if !declared.contains(name) {
            report(
                name,
                "is exported by src/ffi but not declared in src/decls.rs",
            );
        }
        if !tied.contains(name) {
            report(name, "is exported by src/ffi but not tied in src/main.rs");
        }
    }
    for name in declared.union(&tied) {
        if !exported.contains(name) {
            report(name, "is declared but not exported by src/ffi");
        }
    }
    problems
}

/// The argument with which the binary runs the generated checks itself.
const RUN_GENERATED: &str = "--run-generated-checks";

/// Runs the generated checks in a child process (this binary with
/// [`RUN_GENERATED`]) and returns how many passed, or why they failed.
///
/// A child, because when a struct's size differs between C and Rust,
/// ctest2's by-value round trip is undefined behaviour and can crash; the
/// summary must still be printed.
fn run_generated_checks() -> Result<usize, String> {
    let exe = env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let output = Command::new(exe)
        .arg(RUN_GENERATED)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run the generated checks: {e}"))?;
    let passed = String::from_utf8_lossy(&output.stdout).trim().parse().ok();
    match (output.status.code(), passed) {
        (Some(0), Some(passed)) => Ok(passed),
        (Some(_), Some(passed)) => Err(format!("{passed} checks passed, some failed")),
        _ => Err(format!("the generated checks crashed ({})", output.status)),
    }
}

fn main() -> ExitCode {
    if env::args().nth(1).as_deref() == Some(RUN_GENERATED) {
        let (passed, failed) = generated::run();
        println!("{passed}");
        return if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }

    let uncovered = check_coverage(
        "function",
        inventory::EXPORTED_FUNCTIONS,
        inventory::DECLARED_FUNCTIONS,
        TIED_FUNCTIONS,
    ) + check_coverage(
        "constant",
        inventory::EXPORTED_CONSTANTS,
        inventory::DECLARED_CONSTANTS,
        TIED_CONSTANTS,
    );
    let checks = run_generated_checks();

    let scope = format!(
        "{} structs, {} constants, {} functions",
        inventory::DECLARED_STRUCTS.len(),
        inventory::DECLARED_CONSTANTS.len(),
        inventory::DECLARED_FUNCTIONS.len(),
    );
    match checks {
        Ok(passed) if uncovered == 0 => {
            println!(
                "abi: include/vais_alloc.h matches the Rust ABI: {scope}, {passed} checks passed"
            );
            ExitCode::SUCCESS
        }
        Ok(passed) => {
            println!(
                "abi: FAILED: {uncovered} exported names are not checked ({scope}, \
                 {passed} checks passed; see the lines above)"
            );
            ExitCode::FAILURE
        }
        Err(why) => {
            println!(
                "abi: FAILED: include/vais_alloc.h and the Rust ABI differ ({scope}; {why}; \
                 {uncovered} exported names unchecked; see the lines above)"
            );
            ExitCode::FAILURE
        }
    }
}
