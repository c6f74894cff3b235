//! outlet's allocator: a bump arena in the binary's .bss, in front of the
//! C library's malloc.
//!
//! An outlet process lives for one command and allocates a few thousand
//! small blocks while it parses the config, builds the state and talks to
//! its init, then exits. musl's malloc (mallocng) spends most of a `run`'s
//! user time on that (its slot bookkeeping, plus brk/mmap/munmap calls of
//! its own, each munmap a TLB flush): measured in bench/README.md. Here an
//! allocation takes the next aligned bytes of a fixed arena (one atomic
//! add; fresh .bss pages are zero and cost a page fault each, like any new
//! heap page), a free of arena memory is nothing, and the newest block
//! grows or shrinks in place. What does not fit, and everything once the
//! arena is used up, goes to the C library's malloc as before, so a
//! long-lived command (a foreground `run` relaying a console, `events
//! --interval`) holds at most the arena's size in freed blocks.
//!
//! A cloned init gets its own copy of the arena (copy on write), as of any
//! heap. Threads take disjoint ranges (compare-and-swap on the offset).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
#[cfg(debug_assertions)]
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The arena outlet's binary uses: 1 MiB of address space, of which only
/// the pages touched are ever memory.
pub const SIZE: usize = 1 << 20;

#[repr(C, align(4096))]
struct Space<const N: usize>(UnsafeCell<[u8; N]>);

/// Debug builds only: once set (by `fault::fill_arena`), every arena is
/// full from its next allocation on, and everything goes to the C
/// library's malloc: for the test that nothing allocates after the init's
/// seccomp filter, where that malloc's brk and mmap may be denied. See
/// `to_system` for how a call that would get by without a syscall is
/// caught all the same.
#[cfg(debug_assertions)]
pub static FILL: AtomicBool = AtomicBool::new(false);

/// Debug builds only: set by `fault::fail_allocation` under
/// OUTLET_OOM_HOOK=off, the control of the test that an allocation failure
/// in a cloned child ends like a panic: the C library's null goes back to
/// std as it would without `or_die`.
#[cfg(debug_assertions)]
pub static PASS_NULL: AtomicBool = AtomicBool::new(false);

/// What becomes of the C library's answer `p` to a request of `size`
/// bytes. In outlet's own process a null goes back to std, as from any
/// allocator: std reports it and aborts, or `try_reserve` makes it an
/// error. In a child of outlet's raw clone (the init, exec's helper) std's
/// abort would go through musl's abort(), which signals the thread id
/// musl cached in the parent: the init would crash with SIGSEGV, and
/// exec's helper would kill the `outlet exec` waiting for it. There the
/// failure ends as a panic does: one line, SIGABRT to the child itself.
#[inline(always)]
fn or_die(p: *mut u8, size: usize) -> *mut u8 {
    #[cfg(debug_assertions)]
    if PASS_NULL.load(Ordering::Relaxed) {
        return p;
    }
    if p.is_null() && super::abort::in_raw_child() {
        super::abort::out_of_memory(size);
    }
    p
}

/// Every block starts at a multiple of this, whatever its layout asks:
/// what malloc guarantees (max_align_t), and what code written against
/// malloc relies on without saying so (nix's control-message buffers are
/// `Vec<u8>`s read as `cmsghdr`s).
const MIN_ALIGN: usize = 16;

/// A bump arena of N bytes in front of the system allocator.
pub struct Arena<const N: usize> {
    space: Space<N>,
    /// Bytes handed out from the start of `space`; only ever the end of
    /// the newest block.
    used: AtomicUsize,
}

// SAFETY: the bytes of `space` are only reached through pointers handed
// out by `bump`/`realloc`, and the compare-and-swap on `used` gives every
// range to one caller only; the arena itself never reads or writes them.
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Arena<N> {
    pub const fn new() -> Arena<N> {
        Arena {
            space: Space(UnsafeCell::new([0; N])),
            used: AtomicUsize::new(0),
        }
    }

    /// See `FILL`: nothing in release builds.
    #[inline(always)]
    fn fill_switch(&self) {
        #[cfg(debug_assertions)]
        if FILL.load(Ordering::Relaxed) {
            self.used.store(N, Ordering::Relaxed);
        }
    }

    /// With `FILL` set (debug builds), one brk(0) before each call handed
    /// to the C library's allocator. That allocator needs brk or mmap only
    /// when it has no free slot left, which depends on what came before:
    /// this makes every such call need a syscall, so that a filter that
    /// denies brk stops the process at the first one (SIGSYS, or exit 1
    /// with a line on stderr on EPERM) instead of letting a lucky slot
    /// hide it. Not abort(): after outlet's raw clone musl's cached thread
    /// id is the parent's, and its abort would signal that id.
    #[inline(always)]
    fn to_system(&self) {
        #[cfg(debug_assertions)]
        if FILL.load(Ordering::Relaxed) {
            // SAFETY: brk(0) moves nothing: it returns the current break.
            // The kernel's brk never fails (it returns the old break), so
            // -1 can only be a seccomp filter's errno.
            if unsafe { libc::syscall(libc::SYS_brk, 0usize) } == -1 {
                crate::logging::stderr_parts(&[
                    "outlet: memory asked of the C library while brk is denied \
                     (OUTLET_ARENA=full): an allocation after the seccomp filter",
                ]);
                crate::syscall::exit_now(1);
            }
        }
    }

    fn base(&self) -> usize {
        self.space.0.get() as usize
    }

    fn contains(&self, p: *mut u8) -> bool {
        let a = p as usize;
        a >= self.base() && a < self.base() + N
    }

    /// The next `layout.size()` bytes at `layout.align()`, or None when
    /// they do not fit.
    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        let base = self.base();
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let align = layout.align().max(MIN_ALIGN);
            let start = (base + cur).checked_next_multiple_of(align)? - base;
            let end = start.checked_add(layout.size())?;
            if end > N {
                return None;
            }
            match self
                .used
                .compare_exchange_weak(cur, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some((base + start) as *mut u8),
                Err(now) => cur = now,
            }
        }
    }
}

// SAFETY: `alloc` returns either a range of `space` that no other caller
// holds (see `bump`), aligned and `layout.size()` long, or System's block;
// `dealloc` and `realloc` tell the two apart by address and hand System's
// blocks back to it.
unsafe impl<const N: usize> GlobalAlloc for Arena<N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.fill_switch();
        match self.bump(layout) {
            Some(p) => p,
            None => {
                self.to_system();
                // SAFETY: the caller's layout contract, passed on.
                or_die(unsafe { System.alloc(layout) }, layout.size())
            }
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if !self.contains(p) {
            self.to_system();
            // SAFETY: not ours, so System's, with the caller's layout.
            unsafe { System.dealloc(p, layout) }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.contains(p) {
            self.to_system();
            // SAFETY: System's block, the caller's contract passed on.
            return or_die(unsafe { System.realloc(p, layout, new_size) }, new_size);
        }
        self.fill_switch();
        let start = p as usize - self.base();
        let old_end = start + layout.size();
        // The newest block ends where `used` does: it can move its end.
        if let Some(new_end) = start.checked_add(new_size)
            && new_end <= N
            && self
                .used
                .compare_exchange(old_end, new_end, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return p;
        }
        if new_size <= layout.size() {
            return p;
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return or_die(std::ptr::null_mut(), new_size);
        };
        // SAFETY: a nonzero size (larger than the old one).
        let q = unsafe { self.alloc(new_layout) };
        if !q.is_null() {
            // SAFETY: both blocks are at least layout.size() long and
            // distinct (q was handed out after p).
            unsafe { std::ptr::copy_nonoverlapping(p, q, layout.size()) };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_spill_to_the_system_allocator() {
        let a: Box<Arena<4096>> = Box::default();
        // SAFETY (all blocks below): nonzero layouts, each block freed
        // with the layout it was allocated with.
        unsafe {
            let p = a.alloc(layout(10, 1));
            let q = a.alloc(layout(16, 64));
            assert!(a.contains(p) && a.contains(q));
            assert_eq!(q as usize % 64, 0);
            assert!(q as usize >= p as usize + 10, "overlap");
            // A byte buffer after an odd-sized block still starts where
            // malloc's would: at a multiple of 16.
            let odd = a.alloc(layout(3, 1));
            let bytes = a.alloc(layout(24, 1));
            assert_eq!(bytes as usize % 16, 0, "{bytes:?}");
            assert!(bytes as usize >= odd as usize + 3, "overlap");
            std::ptr::write_bytes(q, 0xaa, 16);
            // Too big for what is left: the system's block, not ours.
            let big = a.alloc(layout(4050, 8));
            assert!(!big.is_null() && !a.contains(big));
            std::ptr::write_bytes(big, 0x55, 4050);
            a.dealloc(big, layout(4050, 8));
            a.dealloc(bytes, layout(24, 1));
            a.dealloc(odd, layout(3, 1));
            a.dealloc(q, layout(16, 64));
            a.dealloc(p, layout(10, 1));
        }
    }

    /// In outlet's own process (not a child of the raw clone) a request
    /// the C library cannot serve is still null, as from any allocator:
    /// `try_reserve` relies on it to return an error. (The child's side,
    /// one line and SIGABRT, is tests/child_oom.rs.)
    #[test]
    fn outside_a_cloned_child_a_failed_allocation_is_null() {
        let a: Box<Arena<4096>> = Box::default();
        assert!(!crate::syscall::abort::in_raw_child());
        // SAFETY: a nonzero layout; nothing is handed out to free.
        let p = unsafe { a.alloc(layout(1 << 60, 8)) };
        assert!(p.is_null());
    }

    #[test]
    fn the_newest_block_grows_in_place_an_older_one_moves_with_its_bytes() {
        let a: Box<Arena<4096>> = Box::default();
        // SAFETY: as above; each pointer is used only while its block lives.
        unsafe {
            let p = a.alloc(layout(8, 8));
            std::ptr::write_bytes(p, 7, 8);
            let p2 = a.realloc(p, layout(8, 8), 100);
            assert_eq!(p2, p, "newest block moved");
            let q = a.alloc(layout(8, 8));
            // p2 is no longer the newest: it moves, and keeps its bytes.
            let p3 = a.realloc(p2, layout(100, 8), 200);
            assert_ne!(p3, p2);
            assert!(a.contains(p3));
            assert_eq!(std::slice::from_raw_parts(p3, 8), &[7u8; 8]);
            // Grown past the arena: moved to the system's allocator.
            let p4 = a.realloc(p3, layout(200, 8), 8192);
            assert!(!p4.is_null() && !a.contains(p4));
            assert_eq!(std::slice::from_raw_parts(p4, 8), &[7u8; 8]);
            a.dealloc(p4, layout(8192, 8));
            a.dealloc(q, layout(8, 8));
        }
    }
}
