//! Every exported function that can fail has its refusals walked by
//! `c_tests/test_detail.c`: each name in `include/vais_alloc.h` appears in
//! at least one `CHECK_REFUSAL(name(` there, except the few functions
//! that never fail.

use std::collections::BTreeSet;

/// Functions that cannot fail: constant layouts, the global view, the
/// library's own queries.
const NEVER_FAIL: &[&str] = &[
    "layout_new",
    "layout_for_i64",
    "layout_for_i32",
    "layout_for_ptr",
    "global_as_allocator",
    "vais_alloc_last_error",
    "vais_alloc_clear_error",
    "vais_alloc_last_error_detail",
    "vais_alloc_set_misuse_handler",
    "vais_alloc_error_message",
    "vais_alloc_version",
    "vais_alloc_memory_tools",
];

fn exported_functions(header: &str) -> BTreeSet<String> {
    header
        .lines()
        .filter(|line| !line.starts_with("//") && !line.starts_with(' ') && line.ends_with(");"))
        .filter_map(|line| {
            let name = line.split('(').next()?.rsplit([' ', '*']).next()?;
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn every_function_that_can_fail_has_its_refusals_walked() {
    let root = env!("CARGO_MANIFEST_DIR");
    let header = std::fs::read_to_string(format!("{root}/include/vais_alloc.h")).unwrap();
    let walk = std::fs::read_to_string(format!("{root}/c_tests/test_detail.c")).unwrap();
    let functions = exported_functions(&header);
    assert!(functions.len() > 80, "parsed {} functions", functions.len());
    let missing: Vec<&String> = functions
        .iter()
        .filter(|name| !NEVER_FAIL.contains(&name.as_str()))
        .filter(|name| !walk.contains(&format!("CHECK_REFUSAL({name}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "refusals not walked in test_detail.c: {missing:?}"
    );
}
