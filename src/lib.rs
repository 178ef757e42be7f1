//! # vais_alloc
//!
//! The memory allocators of the Vais runtime, usable from Rust (this crate's
//! core modules) and from C or Vais through the C ABI in [`ffi`] and the
//! generated header `include/vais_alloc.h`.
//!
//! | module | allocator |
//! |---|---|
//! | [`global`] | system `malloc` with any power-of-two alignment |
//! | [`bump`] | bump arena: pointer-bump allocation, free everything at once |
//! | [`pool`] | fixed-size blocks, O(1) allocate/free, every free checked |
//! | [`free_list`] | general purpose: two-level segregated fit, coalescing |
//! | [`stack`] | LIFO: each pop restores the state before its allocation |
//!
//! From Rust, use the cores directly; every one speaks the [`Allocator`]
//! trait, which is also what the C `VaisAllocator` vtables dispatch to:
//!
//! ```
//! use core::alloc::Layout;
//! use vais_alloc::{bump::Bump, pool::Pool, Allocator, Error};
//!
//! let mut arena = Bump::new(4096)?;
//! let block = arena.alloc(Layout::from_size_align(100, 64).unwrap())?;
//! assert_eq!(block.addr() % 64, 0);
//! let too_big = Layout::from_size_align(5000, 8).unwrap();
//! assert_eq!(arena.alloc(too_big), Err(Error::Exhausted));
//! arena.reset()?;
//! assert_eq!(arena.remaining(), 4096);
//!
//! let mut pool = Pool::new(64, 100)?;
//! let node = pool.alloc_block()?;
//! pool.dealloc(node)?;
//! assert_eq!(pool.dealloc(node), Err(Error::DoubleFree));
//! # Ok::<(), Error>(())
//! ```
//!
//! The core modules hold no `extern "C"` code and no raw handles; they
//! take `usize` sizes, [`core::alloc::Layout`]s and `NonNull<u8>`
//! pointers, return `Result<_, Error>` and never panic on any input. The
//! [`ffi`] module is the thin boundary: `int64_t` conversions, null and
//! family checks on handles, error codes, the thread's last error.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, missing_docs)]

// Sizes, offsets and addresses cross the C ABI as `int64_t` and are used as
// `usize` after validation: on a narrower target a valid 64-bit size would
// be truncated. Refuse to build there rather than be unsound.
#[cfg(not(target_pointer_width = "64"))]
compile_error!("vais_alloc supports 64-bit targets only");

pub mod allocator;
pub mod buffer;
pub mod bump;
pub mod error;
pub mod free_list;
pub mod global;
pub mod growth;
pub mod inspect;
mod keyed_check;
pub mod layout;
pub mod marks;
pub mod misuse;
pub mod pool;
pub mod stack;
pub mod tools;

pub mod ffi;

pub use allocator::{Allocator, Block, Caps};
pub use error::Error;
