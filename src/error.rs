//! The error model: one stable enum of failure codes, their static messages,
//! and the calling thread's "last error" slot (errno-like).

use core::cell::Cell;
use core::ffi::CStr;

/// Why an operation failed. The discriminants are the stable negative codes
/// of the C ABI (`VAIS_ALLOC_E_*`); they never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i64)]
pub enum Error {
    /// Size below zero, alignment not a power of two, or a size whose
    /// rounding to the alignment overflows `i64`.
    InvalidLayout = -1,
    /// A bad capacity, block size, block count or buffer, or a handle of
    /// another allocator family.
    InvalidArgument = -2,
    /// The handle is NULL.
    NullHandle = -3,
    /// The system allocator refused the request.
    OutOfMemory = -4,
    /// This allocator has no room for the request.
    Exhausted = -5,
    /// The pointer was not handed out by this allocator.
    ForeignPointer = -6,
    /// The block is already free.
    DoubleFree = -7,
    /// There is nothing to pop.
    Empty = -8,
    /// This allocator never does this operation or serves this layout
    /// shape (its capability bits say so in advance); nothing changed.
    Unsupported = -9,
    /// The mark is not a live checkpoint of this allocator.
    StaleMark = -10,
    /// An integrity check found the allocator's own data overwritten.
    Corrupted = -11,
}

/// Every error, in code order (useful for tests and message tables).
pub const ALL_ERRORS: [Error; 11] = [
    Error::InvalidLayout,
    Error::InvalidArgument,
    Error::NullHandle,
    Error::OutOfMemory,
    Error::Exhausted,
    Error::ForeignPointer,
    Error::DoubleFree,
    Error::Empty,
    Error::Unsupported,
    Error::StaleMark,
    Error::Corrupted,
];

impl Error {
    /// The stable C code of this error (always negative).
    pub const fn code(self) -> i64 {
        self as i64
    }

    /// The error whose code is `code`, if any.
    pub fn from_code(code: i64) -> Option<Error> {
        ALL_ERRORS.iter().copied().find(|e| e.code() == code)
    }

    /// A static, human-readable description.
    pub const fn message(self) -> &'static CStr {
        match self {
            Error::InvalidLayout => {
                c"invalid layout: size is negative, align is not a power of two, or the size overflows"
            }
            Error::InvalidArgument => {
                c"invalid argument: bad capacity, block size, block count or buffer, or a handle of another allocator family"
            }
            Error::NullHandle => c"null handle: the allocator handle is NULL",
            Error::OutOfMemory => c"out of memory: the system allocator refused the request",
            Error::Exhausted => c"exhausted: this allocator has no room for the request",
            Error::ForeignPointer => {
                c"foreign pointer: the pointer was not handed out by this allocator"
            }
            Error::DoubleFree => c"double free: the block is already free",
            Error::Empty => c"empty: there is no allocation to pop",
            Error::Unsupported => {
                c"unsupported: this allocator never does this operation or serves this layout"
            }
            Error::StaleMark => {
                c"stale mark: the mark is not a live checkpoint of this allocator"
            }
            Error::Corrupted => {
                c"corrupted: an integrity check found the allocator's own data overwritten"
            }
        }
    }
}

/// Message for success (code 0).
pub const OK_MESSAGE: &CStr = c"ok: no error";
/// Message for any code that is not one of ours.
pub const UNKNOWN_MESSAGE: &CStr = c"unknown error code";

/// The message for any code: ours, success, or unknown.
pub fn message_for_code(code: i64) -> &'static CStr {
    match code {
        0 => OK_MESSAGE,
        _ => Error::from_code(code).map_or(UNKNOWN_MESSAGE, Error::message),
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message().to_str().unwrap_or("error"))
    }
}

impl std::error::Error for Error {}

thread_local! {
    static LAST_ERROR: Cell<i64> = const { Cell::new(0) };
}

/// Records `error` as the calling thread's last error.
pub fn set_last_error(error: Error) {
    LAST_ERROR.with(|slot| slot.set(error.code()));
}

/// The calling thread's last recorded error code, or 0 if none since the
/// last [`clear_last_error`].
pub fn last_error() -> i64 {
    LAST_ERROR.with(Cell::get)
}

/// Resets the calling thread's last error to 0.
pub fn clear_last_error() {
    LAST_ERROR.with(|slot| slot.set(0));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_stable_contract() {
        let codes: Vec<i64> = ALL_ERRORS.iter().map(|e| e.code()).collect();
        assert_eq!(codes, (-11..=-1).rev().collect::<Vec<i64>>());
        for e in ALL_ERRORS {
            assert_eq!(Error::from_code(e.code()), Some(e));
        }
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::from_code(-12), None);
    }

    #[test]
    fn every_code_has_a_distinct_message() {
        let mut seen = std::collections::HashSet::new();
        for e in ALL_ERRORS {
            let text = e.message().to_str().unwrap();
            assert!(text.len() > 10, "{text}");
            assert!(seen.insert(text));
        }
        assert_eq!(message_for_code(0), OK_MESSAGE);
        assert_eq!(message_for_code(12345), UNKNOWN_MESSAGE);
        assert_eq!(message_for_code(i64::MIN), UNKNOWN_MESSAGE);
    }

    #[test]
    fn last_error_is_sticky_until_cleared_and_per_thread() {
        clear_last_error();
        assert_eq!(last_error(), 0);
        set_last_error(Error::Exhausted);
        assert_eq!(last_error(), -5);
        let other = std::thread::spawn(|| {
            let before = last_error();
            set_last_error(Error::Empty);
            (before, last_error())
        })
        .join()
        .unwrap();
        assert_eq!(other, (0, -8));
        assert_eq!(last_error(), -5);
        clear_last_error();
        assert_eq!(last_error(), 0);
    }
}
