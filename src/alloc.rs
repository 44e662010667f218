//! Handing freed memory back to the operating system.

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
