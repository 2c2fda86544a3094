//! `prefetch`: asks the memory system for the cache lines of a range ahead
//! of their use, so that their misses overlap other work. With a thousand
//! connections, a socket's record and a task's state are out of the cache
//! between two of their events (the kernel's socket work in between
//! evicts them); asked for while the event or task before them is
//! handled, they are there when needed. The reactor asks for a batch's
//! ready connections' records together; the runtime for the next task's
//! state.
//!
//! Invariant: a hint reads nothing into the program and cannot fault,
//! whatever the address; nothing may depend on it.

/// The cache line size of every x86_64 and of most other targets; a wrong
/// guess only makes the hint cover more or fewer lines.
const LINE: usize = 64;

/// Asks for every cache line of the `len` bytes at `start`.
#[inline]
pub fn prefetch(start: *const u8, len: usize) {
    // A plain loop: `step_by` over an inclusive range cost several times
    // the hints themselves (a woken task asks for four ranges per run).
    let first = start.wrapping_sub((start as usize) & (LINE - 1));
    let lines = (((start as usize) & (LINE - 1)) + len.max(1)).div_ceil(LINE);
    for i in 0..lines {
        prefetch_line(first.wrapping_add(i * LINE));
    }
}

/// Asks for the allocation of an `Arc` whose `len` bytes of data are at
/// `data`: the data and the two reference counts `Arc` keeps in front of
/// it (a clone or a drop of the `Arc` touches them first). An `Rc` and an
/// `ArcStr` keep two words in front of their data too.
#[inline]
pub fn prefetch_counted(data: *const u8, len: usize) {
    let counts = 2 * std::mem::size_of::<usize>();
    prefetch(data.wrapping_sub(counts), counts + len);
}

#[inline(always)]
fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults and reads nothing into
    // the program, whatever the address; SSE is part of every x86_64.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
