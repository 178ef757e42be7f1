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
use std::ffi::CString;
use std::sync::{Mutex, OnceLock};

/// A misuse handler: `(code, function, ptr, ctx)`.
pub type Handler = unsafe extern "C" fn(i64, *const c_char, i64, *mut c_void);

thread_local! {
    /// The cause noted for the failure on its way out, with its error.
    static CAUSE: RefCell<Option<(Error, String)>> = const { RefCell::new(None) };
    /// The detail of the thread's last failure, NUL-terminated.
    static DETAIL: RefCell<CString> = RefCell::new(CString::default());
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
    let mut text = String::new();
    let _ = text.write_fmt(cause);
    CAUSE.with(|slot| *slot.borrow_mut() = Some((error, text)));
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

/// Why `(size, align)` is not a valid layout.
pub fn layout_cause(size: i64, align: i64) -> String {
    if size < 0 {
        format!("size {size} is negative")
    } else if align <= 0 || align & (align - 1) != 0 {
        format!("align {align} is not a power of two")
    } else {
        format!("size {size} rounded up to align {align} overflows int64_t")
    }
}

/// The sentence for `error` in `call` when nothing more precise was noted.
fn default_cause(call: &Call, error: Error) -> String {
    let ptr = call.ptr;
    let layout = call
        .layout
        .map(|(size, align)| format!("{{size {size}, align {align}}}"));
    match error {
        Error::InvalidLayout => match call.layout {
            Some((size, align)) => layout_cause(size, align),
            None => "the layout is invalid".into(),
        },
        Error::InvalidArgument => match call.value {
            Some(value) => format!("argument {value} is out of range"),
            None => "an argument is out of range".into(),
        },
        Error::NullHandle => "the handle is NULL".into(),
        Error::OutOfMemory => match layout {
            Some(layout) => format!("the system or the upstream refused memory for {layout}"),
            None => "the system or the upstream refused the memory".into(),
        },
        Error::Exhausted => match layout {
            Some(layout) => format!("no room for {layout}, and no way to grow"),
            None => "no room left, and no way to grow".into(),
        },
        Error::ForeignPointer => format!("{ptr:#x} was not handed out by this allocator"),
        Error::DoubleFree => format!("the block at {ptr:#x} is already free"),
        Error::Empty => "nothing to pop: the stack is empty".into(),
        Error::Unsupported => match layout {
            Some(layout) => format!("this allocator does not serve {layout}"),
            None => "this allocator never does this".into(),
        },
        Error::StaleMark => match call.value {
            Some(mark) => format!(
                "mark {mark} is not a live checkpoint of this allocator (released, reset, \
                 of another allocator, or forged)"
            ),
            None => "the mark is not a live checkpoint of this allocator".into(),
        },
        Error::Corrupted => "the allocator's own data was found overwritten".into(),
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
    let cause = CAUSE
        .with(|slot| slot.borrow_mut().take())
        .filter(|(noted, _)| *noted == error)
        .map(|(_, text)| text)
        .unwrap_or_else(|| default_cause(&call, error));
    let function = call.function.to_str().unwrap_or("vais_alloc");
    let sentence = format!("{function}: {cause}");
    let detail = CString::new(sentence).unwrap_or_default();
    let line = detail.to_string_lossy().into_owned();
    // Recorded before the handler runs, which may read it.
    DETAIL.with(|slot| *slot.borrow_mut() = detail);
    if is_misuse(error) {
        report(call, error, &line);
    }
}

/// Calls the misuse handler, or does what `VAIS_ALLOC_MISUSE` says.
fn report(call: Call, error: Error, detail: &str) {
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
    eprintln!(
        "vais_alloc: {} [{}]",
        detail,
        error.message().to_str().unwrap_or("error")
    );
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

/// The detail of the thread's last failure ("" before the first), valid
/// until its next failure or [`clear_detail`].
pub fn detail_ptr() -> *const c_char {
    DETAIL.with(|slot| slot.borrow().as_ptr())
}

/// The detail of the thread's last failure, as a string.
pub fn detail() -> String {
    DETAIL.with(|slot| slot.borrow().to_string_lossy().into_owned())
}

/// Forgets the thread's last detail.
pub fn clear_detail() {
    DETAIL.with(|slot| *slot.borrow_mut() = CString::default());
    CAUSE.with(|slot| *slot.borrow_mut() = None);
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
