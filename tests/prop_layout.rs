//! The C ABI's layout rules agree with the arithmetic of
//! `core::alloc::Layout` wherever it succeeds, and fail with
//! `Error::InvalidLayout` exactly where it fails: `Layout::check` (the one
//! validation every ABI function applies to an `int64_t` layout, rule 4),
//! and `layout_array` / `layout_extend` (called as C calls them, via
//! `common::c_api`, which also checks that a failure returns `{-1, -1}`
//! and records its code).

mod common;

use common::c_api::{layout_array, layout_extend, Layout};
use common::{config, core_layout_ok, edge_i64, near_power_of_two};
use core::alloc::Layout as CoreLayout;
use proptest::prelude::*;
use vais_alloc::Error;

/// `core`'s layout for `(size, align)`, `None` when negative or refused.
fn core_layout(size: i64, align: i64) -> Option<CoreLayout> {
    let size = usize::try_from(size).ok()?;
    let align = usize::try_from(align).ok()?;
    CoreLayout::from_size_align(size, align).ok()
}

/// `core`'s answer as our type (sizes and alignments of a valid core
/// layout always fit in `i64`: both are at most `isize::MAX`).
fn ours(layout: CoreLayout) -> Layout {
    Layout::new(layout.size() as i64, layout.align() as i64)
}

/// The array layout computed the `core` way: stride = the element padded to
/// its alignment (`pad_to_align`), total = `stride.checked_mul(count)`,
/// then `from_size_align(total, align)`.
fn core_array(elem_size: i64, elem_align: i64, count: i64) -> Option<Layout> {
    let elem = core_layout(elem_size, elem_align)?;
    let count = usize::try_from(count).ok()?;
    let stride = elem.pad_to_align().size();
    let total = stride.checked_mul(count)?;
    CoreLayout::from_size_align(total, elem.align())
        .ok()
        .map(ours)
}

/// `core`'s `Layout::extend`: the resulting layout (size not padded to the
/// final alignment, alignment the larger of the two).
fn core_extend(base: Layout, ext: Layout) -> Option<(Layout, usize)> {
    let base = core_layout(base.size, base.align)?;
    let ext = core_layout(ext.size, ext.align)?;
    let (layout, offset) = base.extend(ext).ok()?;
    Some((ours(layout), offset))
}

/// An alignment: often a power of two (or one nudged off it), sometimes
/// anything.
fn align() -> BoxedStrategy<i64> {
    prop_oneof![
        4 => (0u32..64).prop_map(|k| (1u64 << k) as i64),
        1 => near_power_of_two(),
        2 => edge_i64(),
    ]
    .boxed()
}

/// A size or count: an edge value, or one that lands right at the overflow
/// boundary set by the other operands, resolved in the test once those are
/// known.
#[derive(Clone, Copy, Debug)]
enum Operand {
    Plain(i64),
    /// The largest value that still fits (a count for `array`, an
    /// extension size for `extend`), plus this delta.
    NearLimit(i64),
}

fn operand() -> BoxedStrategy<Operand> {
    prop_oneof![
        3 => edge_i64().prop_map(Operand::Plain),
        1 => (-3i64..=3).prop_map(Operand::NearLimit),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(config(4096))]

    #[test]
    fn check_agrees_with_core(size in edge_i64(), align in align()) {
        let got = Layout::new(size, align).check();
        if core_layout_ok(size, align) {
            let checked = got.expect("core accepts it");
            prop_assert_eq!((checked.size() as i64, checked.align() as i64), (size, align));
        } else {
            prop_assert_eq!(got, Err(Error::InvalidLayout));
        }
    }

    #[test]
    fn array_agrees_with_core(
        elem_size in edge_i64(),
        elem_align in align(),
        count in operand(),
    ) {
        let count = match count {
            Operand::Plain(count) => count,
            Operand::NearLimit(delta) => {
                // The largest count whose total still passes
                // `from_size_align`, nudged by `delta`.
                let stride = core_layout(elem_size, elem_align)
                    .map_or(1, |l| l.pad_to_align().size().max(1));
                let align = usize::try_from(elem_align).unwrap_or(1).max(1);
                let limit = (isize::MAX as usize).saturating_sub(align - 1) / stride;
                (limit as i64).wrapping_add(delta)
            }
        };
        let got = layout_array(elem_size, elem_align, count);
        match core_array(elem_size, elem_align, count) {
            Some(expected) => {
                prop_assert_eq!(got, Ok(expected), "array({}, {}, {})", elem_size, elem_align, count);
                prop_assert!(expected.check().is_ok());
            }
            None => prop_assert_eq!(
                got,
                Err(Error::InvalidLayout),
                "array({}, {}, {})",
                elem_size,
                elem_align,
                count
            ),
        }
    }

    #[test]
    fn extend_agrees_with_core(
        base_size in edge_i64(),
        base_align in align(),
        ext_size in operand(),
        ext_align in align(),
    ) {
        let ext_size = match ext_size {
            Operand::Plain(size) => size,
            Operand::NearLimit(delta) => {
                // What is left below `isize::MAX` after the base, padded to
                // the extension's alignment and the final alignment.
                let pad = |v: i64, a: i64| -> i64 {
                    let a = a.max(1);
                    v.checked_add(a - 1).map_or(i64::MAX, |v| v & !(a - 1))
                };
                let offset = pad(base_size.max(0), ext_align);
                let slack = ext_align.max(base_align).max(1) - 1;
                i64::MAX
                    .wrapping_sub(offset)
                    .wrapping_sub(slack)
                    .wrapping_add(delta)
            }
        };
        let base = Layout::new(base_size, base_align);
        let ext = Layout::new(ext_size, ext_align);
        let got = layout_extend(base, ext);
        match core_extend(base, ext) {
            Some((expected, offset)) => {
                prop_assert_eq!(got, Ok(expected), "extend({:?}, {:?})", base, ext);
                prop_assert!(expected.check().is_ok());
                // The extension starts aligned, after the base.
                prop_assert_eq!(offset as i64, expected.size - ext.size);
                prop_assert!(offset as i64 >= base.size && offset as i64 % ext.align == 0);
            }
            None => prop_assert_eq!(
                got,
                Err(Error::InvalidLayout),
                "extend({:?}, {:?})",
                base,
                ext
            ),
        }
    }
}
