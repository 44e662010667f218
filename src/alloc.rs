//! Memory from and back to the operating system: the process's allocator (large aligned
//! buffers mapped, so zeroed ones stay untouched) and handing freed memory back.

/// Returns the free memory of every malloc arena to the operating system.
///
/// Why: glibc keeps memory freed inside its per-thread arenas, so when a read frees its
/// parsed chunks while building the final columns (which are new, large allocations), the
/// process would otherwise hold both at once.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only releases free pages of glibc's own heaps; it takes the
        // arena locks itself and has no preconditions.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// The process's allocator: the system's, except for large zeroed-or-not allocations with
/// an alignment above 16 bytes, which are mapped from the kernel directly.
///
/// Why: for such an alignment std's `alloc_zeroed` is `posix_memalign` and then a `memset`
/// of every byte, not `calloc`, whose fresh pages stay untouched until used. polars builds
/// an 8 MiB zero buffer on every run (any null it makes), and that `memset` cost 3.5 ms of
/// a 0.17 s bot-KPI run and 8 MiB of resident memory. A fresh anonymous mapping is zero
/// already. Arrow's and polars' other large buffers (64-byte aligned) are mapped the same
/// way, which is what glibc does for them anyway (they are past its mapping threshold), and
/// grow by `mremap` instead of a copy.
///
/// Which path an allocation took is told from its layout alone ([`mapped`]), the same in
/// `alloc`, `dealloc` and `realloc`, so no bookkeeping is needed.
pub struct Allocator;

/// Allocations from this size on, with an alignment above 16 and at most a page, are
/// mapped (see [`Allocator`]).
const MAP_FROM: usize = 1 << 20;

#[cfg(target_os = "linux")]
const PAGE: usize = 4096;

/// Whether an allocation of `layout` is mapped from the kernel rather than malloc'd.
#[cfg(target_os = "linux")]
fn mapped(layout: std::alloc::Layout) -> bool {
    layout.size() >= MAP_FROM && layout.align() > 16 && layout.align() <= PAGE
}

#[cfg(target_os = "linux")]
fn pages(size: usize) -> usize {
    size.next_multiple_of(PAGE)
}

#[cfg(target_os = "linux")]
unsafe fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping has no preconditions; failure is MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            pages(size),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

#[cfg(target_os = "linux")]
unsafe impl std::alloc::GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        match mapped(layout) {
            // SAFETY: see `map`.
            true => unsafe { map(layout.size()) },
            // SAFETY: the caller's contract is passed on.
            false => unsafe { std::alloc::System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        match mapped(layout) {
            // SAFETY: see `map`; a fresh anonymous mapping reads as zeros.
            true => unsafe { map(layout.size()) },
            // SAFETY: the caller's contract is passed on.
            false => unsafe { std::alloc::System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        match mapped(layout) {
            // SAFETY: `ptr` came from `map` with this layout's size (same rule).
            true => unsafe {
                libc::munmap(ptr.cast(), pages(layout.size()));
            },
            // SAFETY: `ptr` came from System with this layout (same rule).
            false => unsafe { std::alloc::System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        // SAFETY (every branch): the caller guarantees `ptr` is of `layout`, and `size` is
        // a valid size for its alignment; which allocator owns `ptr` follows `mapped`.
        unsafe {
            let new = std::alloc::Layout::from_size_align_unchecked(size, layout.align());
            match (mapped(layout), mapped(new)) {
                (false, false) => std::alloc::System.realloc(ptr, layout, size),
                (true, true) => {
                    let p = libc::mremap(
                        ptr.cast(),
                        pages(layout.size()),
                        pages(size),
                        libc::MREMAP_MAYMOVE,
                    );
                    if p == libc::MAP_FAILED {
                        std::ptr::null_mut()
                    } else {
                        p.cast()
                    }
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
        let big = Layout::from_size_align(3 * MAP_FROM + 5, 64).unwrap();
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
            let p = a.realloc(p, big, 5 * MAP_FROM);
            assert!(fill(p, big.size()));
            let grown = Layout::from_size_align(5 * MAP_FROM, 64).unwrap();
            let p = a.realloc(p, grown, 1000);
            assert!(fill(p, 1000));
            let small = Layout::from_size_align(1000, 64).unwrap();
            let p = a.realloc(p, small, 2 * MAP_FROM);
            assert!((p as usize).is_multiple_of(64) && fill(p, 1000));
            a.dealloc(p, Layout::from_size_align(2 * MAP_FROM, 64).unwrap());
            // Small or byte-aligned: the system's, zeroed too.
            let plain = Layout::from_size_align(2 * MAP_FROM, 8).unwrap();
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
        // written (the system's aligned `alloc_zeroed` writes every byte). Other tests
        // running meanwhile allocate far less than the margin.
        let resident = || {
            let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
            let pages: usize = statm.split(' ').nth(1).unwrap().parse().unwrap();
            pages * PAGE
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
