//! Memory from and back to the operating system: the process's allocator (large aligned
//! zeroed buffers from `calloc`, so fresh pages stay untouched) and handing freed memory
//! back.

/// Returns the free memory of every malloc arena to the operating system.
///
/// Why: glibc keeps memory freed inside its per-thread arenas, so when a read frees its
/// parsed chunks while building the final columns (which are new, large allocations), the
/// process would otherwise hold both at once.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only releases free pages of glibc's own heaps; it takes the
        // arena locks itself and has no preconditions.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// The process's allocator: the system's, except that a large allocation with an alignment
/// above 16 bytes is aligned by hand inside a plain `malloc` or `calloc` block.
///
/// Why: for such an alignment std's `alloc_zeroed` is `posix_memalign` and then a `memset`
/// of every byte, where `calloc` leaves the fresh pages of a large block untouched (the
/// kernel gives them zeroed). polars builds an 8 MiB zero buffer on every run (any null it
/// makes): that `memset` cost 3.5 ms of a 0.17 s bot-KPI run and 8 MiB of resident memory.
/// The blocks stay glibc's, so freed ones are reused as before. (Mapping such allocations
/// straight from the kernel instead, tried first, made a five-year `table` read 1.5–2%
/// slower: every buffer came as fresh pages, where glibc reuses what was freed.)
///
/// Which path an allocation took is told from its layout alone ([`by_hand`]), the same in
/// `alloc`, `dealloc` and `realloc`. A block aligned by hand keeps the address `malloc`
/// returned in the word just before the aligned one.
pub struct Allocator;

/// Allocations from this size on, with an alignment above 16, are aligned by hand (see
/// [`Allocator`]).
const BY_HAND_FROM: usize = 1 << 20;

/// Whether an allocation of `layout` is aligned by hand inside a malloc block.
#[cfg(target_os = "linux")]
fn by_hand(layout: std::alloc::Layout) -> bool {
    layout.size() >= BY_HAND_FROM && layout.align() > 16
}

/// The first address aligned to `align` strictly past `raw`, a malloc block's start (16-byte
/// aligned): at least 16 bytes on, so the word before it is inside the block, and at most
/// `align` on, so `size` bytes from it fit in a block of `size + align`.
#[cfg(target_os = "linux")]
fn aligned_past(raw: usize, align: usize) -> usize {
    (raw + 1).next_multiple_of(align)
}

/// A block of `layout` aligned by hand, zeroed when `zeroed`; null on failure.
#[cfg(target_os = "linux")]
unsafe fn by_hand_alloc(layout: std::alloc::Layout, zeroed: bool) -> *mut u8 {
    let total = layout.size() + layout.align();
    // SAFETY: malloc and calloc have no preconditions; null is checked.
    let raw = unsafe {
        match zeroed {
            true => libc::calloc(1, total),
            false => libc::malloc(total),
        }
    } as usize;
    if raw == 0 {
        return std::ptr::null_mut();
    }
    let at = aligned_past(raw, layout.align());
    // SAFETY: `at - 8` is inside the block (see `aligned_past`) and 8-byte aligned.
    unsafe { *(at as *mut usize).sub(1) = raw };
    at as *mut u8
}

/// The malloc block of a pointer [`by_hand_alloc`] returned.
#[cfg(target_os = "linux")]
unsafe fn block_of(ptr: *mut u8) -> usize {
    // SAFETY: the word before `ptr` was written by `by_hand_alloc` (the caller's contract).
    unsafe { *(ptr as *const usize).sub(1) }
}

#[cfg(target_os = "linux")]
unsafe impl std::alloc::GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        match by_hand(layout) {
            // SAFETY: see `by_hand_alloc`.
            true => unsafe { by_hand_alloc(layout, false) },
            // SAFETY: the caller's contract is passed on.
            false => unsafe { std::alloc::System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        match by_hand(layout) {
            // SAFETY: see `by_hand_alloc`; calloc's block reads as zeros throughout.
            true => unsafe { by_hand_alloc(layout, true) },
            // SAFETY: the caller's contract is passed on.
            false => unsafe { std::alloc::System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        match by_hand(layout) {
            // SAFETY: `ptr` came from `by_hand_alloc` (same rule): its block is malloc's.
            true => unsafe { libc::free(block_of(ptr) as *mut libc::c_void) },
            // SAFETY: `ptr` came from System with this layout (same rule).
            false => unsafe { std::alloc::System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        // SAFETY (every branch): the caller guarantees `ptr` is of `layout`, and `size` is
        // a valid size for its alignment; which allocator owns `ptr` follows `by_hand`.
        unsafe {
            let new = std::alloc::Layout::from_size_align_unchecked(size, layout.align());
            match (by_hand(layout), by_hand(new)) {
                (false, false) => std::alloc::System.realloc(ptr, layout, size),
                (true, true) => {
                    // glibc's realloc (a large block grows in place or by mremap), then
                    // the bytes moved to the new block's aligned address if its offset
                    // from the block's start changed.
                    let raw = block_of(ptr);
                    let offset = ptr as usize - raw;
                    let moved = libc::realloc(raw as *mut libc::c_void, size + layout.align());
                    if moved.is_null() {
                        return std::ptr::null_mut();
                    }
                    let moved = moved as usize;
                    let at = aligned_past(moved, layout.align());
                    if at - moved != offset {
                        let n = layout.size().min(size);
                        std::ptr::copy((moved + offset) as *const u8, at as *mut u8, n);
                    }
                    *(at as *mut usize).sub(1) = moved;
                    at as *mut u8
                }
                _ => {
                    let p = self.alloc(new);
                    if !p.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(size));
                        self.dealloc(ptr, layout);
                    }
                    p
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
unsafe impl std::alloc::GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{GlobalAlloc, Layout};

    #[test]
    fn every_path_keeps_the_bytes_and_zeroed_is_zero() {
        let a = Allocator;
        let big = Layout::from_size_align(3 * BY_HAND_FROM + 5, 64).unwrap();
        // SAFETY: each pointer is used within its layout's size and freed with it.
        unsafe {
            let p = a.alloc_zeroed(big);
            assert!(!p.is_null() && (p as usize).is_multiple_of(64));
            let bytes = std::slice::from_raw_parts_mut(p, big.size());
            assert!(bytes.iter().all(|&b| b == 0));
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = (i % 251) as u8;
            }
            let fill = |p: *const u8, n: usize| {
                let bytes = std::slice::from_raw_parts(p, n);
                bytes.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8)
            };
            // Mapped to mapped (grown), mapped to malloc'd (shrunk below the threshold),
            // malloc'd to mapped (grown past it), with the bytes kept each time.
            let p = a.realloc(p, big, 5 * BY_HAND_FROM);
            assert!((p as usize).is_multiple_of(64) && fill(p, big.size()));
            let grown = Layout::from_size_align(5 * BY_HAND_FROM, 64).unwrap();
            let p = a.realloc(p, grown, 1000);
            assert!(fill(p, 1000));
            let small = Layout::from_size_align(1000, 64).unwrap();
            let p = a.realloc(p, small, 2 * BY_HAND_FROM);
            assert!((p as usize).is_multiple_of(64) && fill(p, 1000));
            a.dealloc(p, Layout::from_size_align(2 * BY_HAND_FROM, 64).unwrap());
            // A block freed dirty and handed out again (glibc reuses it once a freed
            // mapped block has raised its threshold) still comes back zeroed.
            let layout = Layout::from_size_align(2 * BY_HAND_FROM, 64).unwrap();
            for _ in 0..4 {
                let d = a.alloc(layout);
                std::ptr::write_bytes(d, 0xff, layout.size());
                a.dealloc(d, layout);
                let z = a.alloc_zeroed(layout);
                let zeros = std::slice::from_raw_parts(z, layout.size());
                assert!(zeros.iter().all(|&b| b == 0));
                a.dealloc(z, layout);
            }
            // Small or byte-aligned: the system's, zeroed too.
            let plain = Layout::from_size_align(2 * BY_HAND_FROM, 8).unwrap();
            let q = a.alloc_zeroed(plain);
            assert!(std::slice::from_raw_parts(q, plain.size())
                .iter()
                .all(|&b| b == 0));
            a.dealloc(q, plain);
        }
    }

    #[test]
    fn a_large_aligned_zeroed_allocation_touches_no_memory() {
        // The point of the allocator: 256 MiB of zeros cost no resident memory until
        // written (the system's aligned `alloc_zeroed` writes every byte; calloc leaves a
        // block this large as the kernel's fresh zero pages). Other tests
        // running meanwhile allocate far less than the margin.
        let resident = || {
            let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
            let pages: usize = statm.split(' ').nth(1).unwrap().parse().unwrap();
            pages * 4096
        };
        let layout = Layout::from_size_align(256 << 20, 64).unwrap();
        let before = resident();
        // SAFETY: allocated and freed with the same layout; read within it.
        unsafe {
            let p = Allocator.alloc_zeroed(layout);
            assert!(!p.is_null());
            let grown = resident().saturating_sub(before);
            assert_eq!(*p.add(layout.size() - 1), 0);
            Allocator.dealloc(p, layout);
            assert!(
                grown < 64 << 20,
                "{grown} bytes resident after alloc_zeroed"
            );
        }
    }
}
