//! What a refusal tells a debugging user: the thread's error detail (a
//! sentence naming the function, the cause and its values) and the misuse
//! handler, called on every refusal that signals a caller bug.
//!
//! A refusal's cause is known where it is found: the code that refuses
//! may [`note`] a sentence for it (off the hot paths: only on the way to
//! an error). The C boundary then [`record`]s the failure: the detail is
//! `function: cause`, the noted cause if it was noted for this error, else
//! one made from the error and the call's arguments.

use crate::error::{set_last_error, Error};
use core::ffi::{c_char, c_void, CStr};
use core::fmt::Write;
use std::cell::RefCell;
use std::sync::{Mutex, OnceLock};

/// A misuse handler: `(code, function, ptr, ctx)`.
pub type Handler = unsafe extern "C" fn(i64, *const c_char, i64, *mut c_void);

/// Bytes of a detail sentence, its NUL included (a longer one is cut).
const TEXT_BYTES: usize = 320;

/// A NUL-terminated sentence in a fixed buffer: recording a failure never
/// allocates (it may be the system's lack of memory being reported).
struct Text {
    bytes: [u8; TEXT_BYTES],
    len: usize,
}

impl Text {
    const EMPTY: Text = Text {
        bytes: [0; TEXT_BYTES],
        len: 0,
    };

    fn clear(&mut self) {
        self.len = 0;
        self.bytes[0] = 0;
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl Write for Text {
    /// Appends what fits (whole characters), keeping the NUL after it.
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = TEXT_BYTES - 1 - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        self.bytes[self.len] = 0;
        Ok(())
    }
}

thread_local! {
    /// The cause noted for the failure on its way out, with its error.
    static CAUSE: RefCell<(Option<Error>, Text)> = const { RefCell::new((None, Text::EMPTY)) };
    /// The detail of the thread's last failure, NUL-terminated.
    static DETAIL: RefCell<Text> = const { RefCell::new(Text::EMPTY) };
}

/// The handler and its context, if one is set.
struct Installed {
    handler: Handler,
    ctx: usize,
}

static HANDLER: Mutex<Option<Installed>> = Mutex::new(None);

/// What `VAIS_ALLOC_MISUSE` asks of the default handler.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Default {
    Silent,
    Log,
    Abort,
}

fn default_action() -> Default {
    static ACTION: OnceLock<Default> = OnceLock::new();
    *ACTION.get_or_init(|| match std::env::var("VAIS_ALLOC_MISUSE").as_deref() {
        Ok("abort") => Default::Abort,
        Ok("log") => Default::Log,
        _ => Default::Silent,
    })
}

/// Notes `cause` as the reason of `error` (returned, so that a refusal
/// reads `Err(note(Error::X, format_args!(...)))`).
#[cold]
#[inline(never)]
pub fn note(error: Error, cause: core::fmt::Arguments<'_>) -> Error {
    let _ = CAUSE.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            slot.1.clear();
            let _ = slot.1.write_fmt(cause);
            slot.0 = Some(error);
        }
    });
    error
}

/// The call a failure happened in: the function, and the arguments a
/// detail may name.
#[derive(Clone, Copy)]
pub struct Call {
    /// The C function's name.
    pub function: &'static CStr,
    /// The pointer argument, or 0.
    pub ptr: i64,
    /// The layout argument (size, align), if any.
    pub layout: Option<(i64, i64)>,
    /// Another argument a detail names (a mark, a capacity), if any.
    pub value: Option<i64>,
}

impl Call {
    /// A call of `function` whose arguments need no mention.
    #[inline(always)]
    pub const fn new(function: &'static CStr) -> Call {
        Call {
            function,
            ptr: 0,
            layout: None,
            value: None,
        }
    }

    /// The same call, with its pointer argument.
    #[inline(always)]
    pub const fn ptr(self, ptr: i64) -> Call {
        Call { ptr, ..self }
    }

    /// The same call, with its layout argument.
    #[inline(always)]
    pub const fn layout(self, size: i64, align: i64) -> Call {
        Call {
            layout: Some((size, align)),
            ..self
        }
    }

    /// The same call, with another argument worth naming.
    #[inline(always)]
    pub const fn value(self, value: i64) -> Call {
        Call {
            value: Some(value),
            ..self
        }
    }
}

/// Why `(size, align)` is not a valid layout, as a sentence.
pub struct LayoutCause(pub i64, pub i64);

impl core::fmt::Display for LayoutCause {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let LayoutCause(size, align) = *self;
        if size < 0 {
            write!(f, "size {size} is negative")
        } else if align <= 0 || align & (align - 1) != 0 {
            write!(f, "align {align} is not a power of two")
        } else {
            write!(
                f,
                "size {size} rounded up to align {align} overflows int64_t"
            )
        }
    }
}

/// Writes the sentence for `error` in `call` when nothing more precise was
/// noted.
fn default_cause(out: &mut Text, call: &Call, error: Error) -> core::fmt::Result {
    let ptr = call.ptr;
    match (error, call.layout) {
        (Error::InvalidLayout, Some((size, align))) => write!(out, "{}", LayoutCause(size, align)),
        (Error::InvalidLayout, None) => write!(out, "the layout is invalid"),
        (Error::InvalidArgument, _) => write!(out, "an argument is out of range"),
        (Error::NullHandle, _) => write!(out, "the handle is NULL"),
        (Error::OutOfMemory, Some((size, align))) => write!(
            out,
            "the system or the upstream refused memory for {{size {size}, align {align}}}"
        ),
        (Error::OutOfMemory, None) => write!(out, "the system or the upstream refused the memory"),
        (Error::Exhausted, Some((size, align))) => {
            write!(
                out,
                "no room for {{size {size}, align {align}}}, and no way to grow"
            )
        }
        (Error::Exhausted, None) => write!(out, "no room left, and no way to grow"),
        (Error::ForeignPointer, _) => write!(out, "{ptr:#x} was not handed out by this allocator"),
        (Error::DoubleFree, _) => write!(out, "the block at {ptr:#x} is already free"),
        (Error::Empty, _) => write!(out, "nothing to pop: the stack is empty"),
        (Error::Unsupported, Some((size, align))) => {
            write!(
                out,
                "this allocator does not serve {{size {size}, align {align}}}"
            )
        }
        (Error::Unsupported, None) => write!(out, "this allocator never does this"),
        (Error::StaleMark, _) => match call.value {
            Some(mark) => write!(
                out,
                "mark {mark} is not a live checkpoint of this allocator (released, reset, \
                 of another allocator, or forged)"
            ),
            None => write!(out, "the mark is not a live checkpoint of this allocator"),
        },
        (Error::Corrupted, _) => write!(out, "the allocator's own data was found overwritten"),
    }
}

/// Whether `error` signals a bug of the caller (the misuse handler's
/// business), rather than a lack of memory or of a capability (which its
/// bits announce) that a correct program may meet.
pub fn is_misuse(error: Error) -> bool {
    !matches!(
        error,
        Error::Exhausted | Error::OutOfMemory | Error::Unsupported
    )
}

/// Records the failure of `call` with `error`: the thread's last error,
/// its detail, and the misuse handler for a caller bug.
#[cold]
#[inline(never)]
pub fn record(call: Call, error: Error) {
    set_last_error(error);
    // Recorded before the handler runs, which may read it. (At thread exit
    // the slots may be gone: the code alone is recorded then.)
    let _ = DETAIL.try_with(|slot| {
        let Ok(mut detail) = slot.try_borrow_mut() else {
            return;
        };
        detail.clear();
        let _ = write!(
            detail,
            "{}: ",
            call.function.to_str().unwrap_or("vais_alloc")
        );
        let noted = CAUSE.try_with(|cause| {
            let Ok(mut cause) = cause.try_borrow_mut() else {
                return false;
            };
            let matches = cause.0.take() == Some(error);
            if matches {
                let _ = detail.write_str(cause.1.as_str());
            }
            matches
        });
        if noted != Ok(true) {
            let _ = default_cause(&mut detail, &call, error);
        }
    });
    if is_misuse(error) {
        report(call, error);
    }
}

/// Calls the misuse handler, or does what `VAIS_ALLOC_MISUSE` says.
fn report(call: Call, error: Error) {
    let installed = HANDLER
        .lock()
        .map(|slot| slot.as_ref().map(|i| (i.handler, i.ctx)))
        .unwrap_or(None);
    if let Some((handler, ctx)) = installed {
        // SAFETY: the caller installed `handler` with this signature and
        // `ctx`; the function name is a static C string.
        unsafe {
            handler(
                error.code(),
                call.function.as_ptr(),
                call.ptr,
                ctx as *mut c_void,
            )
        };
        return;
    }
    let action = default_action();
    if action == Default::Silent {
        return;
    }
    let _ = DETAIL.try_with(|slot| {
        if let Ok(detail) = slot.try_borrow() {
            eprintln!(
                "vais_alloc: {} [{}]",
                detail.as_str(),
                error.message().to_str().unwrap_or("error")
            );
        }
    });
    if action == Default::Abort {
        std::process::abort();
    }
}

/// Installs `handler` (with `ctx`), or restores the default for `None`.
pub fn set_handler(handler: Option<Handler>, ctx: *mut c_void) {
    if let Ok(mut slot) = HANDLER.lock() {
        *slot = handler.map(|handler| Installed {
            handler,
            ctx: ctx as usize,
        });
    }
}

/// The detail of the thread's last failure ("" before the first): a
/// pointer into the thread's own buffer, which lives as long as the thread
/// (its text changes at the thread's next failure or [`clear_detail`]).
pub fn detail_ptr() -> *const c_char {
    DETAIL
        .try_with(|slot| {
            // SAFETY: the buffer is the thread-local's, which outlives every
            // call of this thread; only a pointer is formed, nothing read.
            unsafe { (*slot.as_ptr()).bytes.as_ptr().cast::<c_char>() }
        })
        .unwrap_or(c"".as_ptr())
}

/// The detail of the thread's last failure, as a string.
pub fn detail() -> String {
    DETAIL
        .try_with(|slot| {
            slot.try_borrow()
                .map(|d| d.as_str().to_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

/// Forgets the thread's last detail.
pub fn clear_detail() {
    let _ = DETAIL.try_with(|slot| {
        if let Ok(mut detail) = slot.try_borrow_mut() {
            detail.clear();
        }
    });
    let _ = CAUSE.try_with(|slot| {
        if let Ok(mut cause) = slot.try_borrow_mut() {
            cause.0 = None;
        }
    });
}

/// With `VAIS_ALLOC_LEAKS=1` (read once): prints to stderr the blocks
/// `core` still has live as `function` frees or drops it: their count,
/// their bytes and the first few addresses and sizes. The pool and the
/// free list only: freeing an arena (bump, stack) frees its blocks.
pub fn report_leaks<A: crate::tools::seen::Visible>(function: &CStr, core: &A) {
    static ON: OnceLock<bool> = OnceLock::new();
    if !*ON.get_or_init(|| std::env::var("VAIS_ALLOC_LEAKS").as_deref() == Ok("1")) {
        return;
    }
    if A::KIND != crate::tools::Kind::Heap {
        return;
    }
    const SHOWN: usize = 5;
    let (mut count, mut bytes, mut first) = (0usize, 0usize, Vec::new());
    core.for_each_live(&mut |ptr, size| {
        count += 1;
        bytes += size;
        if first.len() < SHOWN {
            first.push(format!("{ptr:#x} ({size} bytes)"));
        }
    });
    if count == 0 {
        return;
    }
    let more = if count > SHOWN { ", ..." } else { "" };
    eprintln!(
        "vais_alloc: {}: {count} block(s), {bytes} bytes, still live (leaked): {}{more}",
        function.to_str().unwrap_or("vais_alloc"),
        first.join(", ")
    );
}
