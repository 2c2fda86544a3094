//! `MiMalloc`: the process's global allocator, mimalloc called the way
//! Rust's own system allocator calls `malloc`.
//!
//! The `mimalloc` crate sends every allocation to `mi_malloc_aligned`,
//! whose fast path needs a free block in the page of the size class; when
//! that list is empty it does not refill it (only `mi_malloc`'s slow path
//! collects the blocks freed since) but over-allocates in another class,
//! at about three times the cost, and keeps doing so for that size. A
//! socket round trip met that path once (~155 instructions). Here an
//! alignment that `mi_malloc` already guarantees (at most 16 bytes, and no
//! more than the size: on 64-bit targets mimalloc's size classes above 8
//! bytes are multiples of 16 and every block of 16 bytes or more is
//! 16-aligned, `MI_MAX_ALIGN_SIZE`; an 8-byte block is 8-aligned) takes the
//! plain calls, as Rust's system allocator does with `malloc`; anything
//! else keeps the aligned ones. Each allocation then asks the cache for
//! the block the next one of its size will get (`ask_for_next`).
//!
//! Invariant: a block is freed, resized and zeroed by the same family of
//! calls that fits its layout, and every pointer returned satisfies the
//! layout's alignment.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The largest alignment `mi_malloc` guarantees for a block at least that
/// large (`MI_MAX_ALIGN_SIZE` on 64-bit targets).
const PLAIN_ALIGN: usize = 16;

pub struct MiMalloc;

/// Whether `mi_malloc(size)` is aligned enough for `layout`.
fn plain(align: usize, size: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

/// A new block for `layout` from `plain_call` (`mi_malloc` or `mi_zalloc`)
/// when `plain` allows it, else from `aligned_call`, its aligned twin.
///
/// # Safety
///
/// `layout` has a non-zero size (GlobalAlloc's contract).
#[inline]
unsafe fn new_block(
    layout: Layout,
    plain_call: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned_call: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    let (size, align) = (layout.size(), layout.align());
    // SAFETY: plain mimalloc calls with the caller's non-zero size.
    unsafe {
        if plain(align, size) {
            plain_call(size).cast()
        } else {
            aligned_call(size, align).cast()
        }
    }
}

/// Asks the cache for the block the next allocation of `block`'s size
/// will return. mimalloc hands out a page's free blocks in list order,
/// and a block freed long ago is out of the cache: the next allocation
/// would wait for its line when it reads the link to the one after (at
/// 1,000 echo connections 4-7.5% of the user time waited there, 3.4%
/// with the hint: `bench/tcp/profile.sh`). A block just taken from the list still holds that link in its
/// first word (mimalloc encodes links only in its secure and debug
/// builds, which this is not; a wrong guess is a wasted hint). A large
/// block fresh from the system has its first page committed by the read,
/// as its first write would.
#[inline(always)]
fn ask_for_next(block: *mut u8) {
    #[cfg(target_arch = "x86_64")]
    if !block.is_null() {
        // SAFETY: reads the first word of a block this allocator just
        // returned (mimalloc's blocks are at least 8 bytes), whatever its
        // contents, in assembly, where it is only bits; a prefetch never
        // faults, whatever the address. Touches no stack or flags.
        unsafe {
            std::arch::asm!(
                "mov {next}, qword ptr [{block}]",
                "prefetcht0 byte ptr [{next}]",
                block = in(reg) block,
                next = out(reg) _,
                options(nostack, readonly, preserves_flags),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = block;
}

// SAFETY: every method forwards to mimalloc, which returns blocks of at
// least the size asked for (or null), aligned as `plain` states for the
// plain calls and as asked for the aligned ones; `mi_free` frees either.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: GlobalAlloc's contract gives a non-zero size.
        let block = unsafe { new_block(layout, mi::mi_malloc, mi::mi_malloc_aligned) };
        ask_for_next(block);
        block
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe { new_block(layout, mi::mi_zalloc, mi::mi_zalloc_aligned) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (GlobalAlloc's contract).
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        // SAFETY: `ptr` came from this allocator with `layout`; the new
        // block keeps the alignment (`plain` for the new size, else asked).
        unsafe {
            if plain(align, new_size) {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, align).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MiMalloc;
    use std::alloc::{GlobalAlloc, Layout};

    /// Every block is aligned as its layout asks, by either family of
    /// calls, through allocation, zeroing and resizing.
    #[test]
    fn blocks_meet_their_layout() {
        let a = MiMalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 3, 8, 9, 15, 16, 17, 24, 40, 48, 100, 112, 1000, 5000] {
                let Ok(layout) = Layout::from_size_align(size, align) else { continue };
                // SAFETY: a non-zero size; each block is freed once, with
                // the layout it was made with (then resized to).
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null() && (p as usize).is_multiple_of(align), "alloc {size} at {align}");
                    let z = a.alloc_zeroed(layout);
                    assert!(!z.is_null() && (z as usize).is_multiple_of(align), "zalloc {size} at {align}");
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                    let r = a.realloc(p, layout, size * 3);
                    assert!(!r.is_null() && (r as usize).is_multiple_of(align), "realloc {size} at {align}");
                    a.dealloc(r, Layout::from_size_align_unchecked(size * 3, align));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
