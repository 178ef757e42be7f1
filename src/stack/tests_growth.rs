//! Unit tests of a stack that grows from an upstream.

use super::*;
use crate::allocator::tests::layout;
use crate::allocator::Allocator;
use crate::growth::Source;
use std::cell::Cell;
use std::rc::Rc;

/// A counting source over the global allocator: (calls, chunks live).
struct Counting(Rc<Cell<(usize, usize)>>);

impl Source for Counting {
    fn obtain(&mut self, layout: Layout, zeroed: bool) -> Result<Block, Error> {
        let (calls, live) = self.0.get();
        let block = if zeroed {
            crate::global::Global.alloc_zeroed(layout)?
        } else {
            crate::global::Global.alloc(layout)?
        };
        self.0.set((calls + 1, live + 1));
        Ok(block)
    }

    unsafe fn give_back(&mut self, block: Block, layout: Layout) {
        let (calls, live) = self.0.get();
        self.0.set((calls, live - 1));
        // SAFETY: the block came from `obtain`, from the global allocator.
        unsafe { crate::global::Global.free(block.ptr, layout) }.unwrap();
    }
}

fn growing(own: usize, first_chunk: usize) -> (Stack, Rc<Cell<(usize, usize)>>) {
    let counter = Rc::new(Cell::new((0, 0)));
    let mut stack = Stack::new(own).unwrap();
    stack
        .set_upstream(Box::new(Counting(counter.clone())), first_chunk)
        .unwrap();
    (stack, counter)
}

#[test]
fn pushes_cross_chunks_and_pops_unwind_them_exactly() {
    let (mut stack, counter) = growing(256, 1024);
    let mut remaining = vec![];
    let mut blocks = vec![];
    for i in 0..2000usize {
        remaining.push(stack.remaining());
        let b = stack.push(layout(8 + i % 90, 8 << (i % 4))).unwrap();
        assert_eq!(b.addr() % (8 << (i % 4)), 0);
        // SAFETY: the block is `size` bytes of this stack's.
        unsafe { b.ptr.as_ptr().write_bytes(i as u8, b.size) };
        blocks.push(b);
    }
    let (calls, live) = counter.get();
    assert!(calls <= 10, "{calls} upstream calls");
    assert_eq!(live, calls);
    assert_eq!(stack.depth(), 2000);
    for (i, b) in blocks.iter().enumerate() {
        // SAFETY: every block is live.
        let bytes = unsafe { core::slice::from_raw_parts(b.ptr.as_ptr(), b.size) };
        assert!(bytes.iter().all(|&x| x == i as u8), "block {i}");
    }
    let peak = stack.peak();
    for _ in 0..2000 {
        stack.pop().unwrap();
    }
    assert_eq!(stack.pop(), Err(Error::Empty));
    assert_eq!(stack.depth(), 0);
    // Back in the own buffer; the chunks stay held for reuse.
    assert_eq!(stack.remaining(), stack.capacity());
    assert!(stack.peak() >= peak);
    // A second round calls no upstream.
    for i in 0..2000usize {
        stack.push(layout(8 + i % 90, 8 << (i % 4))).unwrap();
    }
    assert_eq!(counter.get().0, calls);
    stack.clear();
    assert_eq!(counter.get().1, 1, "reset keeps the largest chunk");
    drop(stack);
    assert_eq!(counter.get().1, 0);
}

#[test]
fn frees_and_marks_work_across_chunks() {
    let (mut stack, counter) = growing(0, 256);
    let a = stack.push(layout(100, 8)).unwrap();
    let m = stack.mark().unwrap();
    let at_m = (stack.remaining(), stack.depth());
    let mut later = vec![];
    for _ in 0..50 {
        later.push(stack.push(layout(120, 16)).unwrap());
    }
    assert!(counter.get().0 > 3);
    // An out-of-order free in an older chunk, then a double free of it.
    // SAFETY: pointers of this stack.
    unsafe {
        stack.free(later[3].ptr, layout(120, 16)).unwrap();
        assert_eq!(
            stack.free(later[3].ptr, layout(120, 16)),
            Err(Error::DoubleFree)
        );
        assert_eq!(stack.readable(later[10].ptr, layout(500, 16)), Ok(120));
    }
    assert_eq!(stack.depth(), 1 + 49);
    stack.release_to(m).unwrap();
    assert_eq!(
        (stack.remaining() <= stack.capacity(), stack.depth()),
        (true, at_m.1)
    );
    // The chunks above the mark's region went back, but one.
    assert!(counter.get().1 <= 2, "{:?}", counter.get());
    // SAFETY: a pointer of this stack.
    unsafe { stack.free(a.ptr, layout(100, 8)).unwrap() };
    assert_eq!(stack.depth(), 0);
}

#[test]
fn upstream_limits_and_refusals_change_nothing() {
    let (mut stack, _counter) = growing(64, 256);
    stack.set_limit(64 + 256).unwrap();
    stack.push(layout(100, 8)).unwrap();
    let before = (stack.remaining(), stack.depth(), stack.capacity());
    assert_eq!(stack.push(layout(300, 8)), Err(Error::Exhausted));
    assert_eq!(before, (stack.remaining(), stack.depth(), stack.capacity()));
    assert_eq!(
        stack.push(layout(MAX_STACK_CHUNK, 8)),
        Err(Error::Exhausted)
    );
    // Setting an upstream on a stack in use is refused.
    let counter = Rc::new(Cell::new((0, 0)));
    assert_eq!(
        stack.set_upstream(Box::new(Counting(counter)), 0),
        Err(Error::InvalidArgument)
    );
}

use super::regions::MAX_STACK_CHUNK;
