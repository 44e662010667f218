//! Mapped input files, and what happens when another program truncates one mid-read.
//!
//! Reading a mapped page past the end of a file that was cut short after it was mapped
//! raises SIGBUS, whose default action kills the process with "Bus error" (exit 135) and
//! no word on which file. A nightly job can meet this: an export being re-uploaded in
//! place, an inbox synced while the job runs. So every mapping is registered here while it
//! lives, and a SIGBUS handler installed with the first one looks the faulting address up
//! among them: one of ours, it prints an error naming the file and exits with the I/O code
//! (3). Nothing was written by then: metrics write after reading everything, and an ingest
//! reads every file before its commit point (its staged files are cleared by the next run,
//! as after a kill). A fault elsewhere goes to the handler that was there before.
//!
//! The handler may only do what is async-signal-safe: it reads atomics, calls `write(2)`
//! and `_exit(2)`. It reads the message of a mapping only when the fault is inside that
//! mapping, which is then being read by the faulting thread and so cannot be dropped (and
//! its message freed) at the same time.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// A read-only private mapping of a whole file, registered for the SIGBUS handler while it
/// lives. Derefs to the mapping.
pub struct Mapped {
    map: memmap2::Mmap,
    /// The registry slot it holds, if one was free.
    slot: Option<usize>,
    /// The error the handler prints for it (the slot points into it).
    _message: Box<[u8]>,
}

impl Mapped {
    /// Maps `file`, read from `path` (named in the error if the file is cut short).
    pub fn new(file: &std::fs::File, path: &Path) -> std::io::Result<Self> {
        // SAFETY: the map is read-only and private to this process. The one hazard of a
        // mapped file, another process truncating it mid-run, is turned into an error
        // naming it (this module).
        let map = unsafe { memmap2::Mmap::map(file) }?;
        let message = truncated_message(path).into_boxed_slice();
        let slot = register(map.as_ptr() as usize, map.len(), &message);
        Ok(Mapped {
            map,
            slot,
            _message: message,
        })
    }
}

impl std::ops::Deref for Mapped {
    type Target = memmap2::Mmap;
    fn deref(&self) -> &memmap2::Mmap {
        &self.map
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            let s = &LIVE[i];
            s.start.store(0, Ordering::Release);
            s.claimed.store(false, Ordering::Release);
        }
    }
}

/// What the handler prints for a file cut short while mapped.
fn truncated_message(path: &Path) -> Vec<u8> {
    format!(
        "error: {}: the file was cut short by another program while cxkpi read it; nothing \
         was written (a lake is left as it was). Run again once the file is complete.\n",
        path.display()
    )
    .into_bytes()
}

/// One live mapping: `start` is 0 while the slot is free or being filled.
struct Slot {
    claimed: AtomicBool,
    start: AtomicUsize,
    len: AtomicUsize,
    message: AtomicPtr<u8>,
    message_len: AtomicUsize,
}

/// Mappings alive at once, at most: a file is mapped while its parts are parsed, so a few
/// per thread. A mapping that finds no free slot is read as before (a fault in it is the
/// default "Bus error").
const SLOTS: usize = 1024;

static LIVE: [Slot; SLOTS] = [const {
    Slot {
        claimed: AtomicBool::new(false),
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        message: AtomicPtr::new(std::ptr::null_mut()),
        message_len: AtomicUsize::new(0),
    }
}; SLOTS];

/// Registers the mapping of `len` bytes at `start`, installing the handler the first time;
/// returns its slot. An empty mapping has no pages to fault on and is not registered.
fn register(start: usize, len: usize, message: &[u8]) -> Option<usize> {
    if len == 0 || start == 0 {
        return None;
    }
    install_handler();
    let i = (0..SLOTS).find(|&i| {
        LIVE[i]
            .claimed
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    })?;
    let s = &LIVE[i];
    s.len.store(len, Ordering::Relaxed);
    s.message
        .store(message.as_ptr() as *mut u8, Ordering::Relaxed);
    s.message_len.store(message.len(), Ordering::Relaxed);
    // Published last: the handler reads the other fields only after seeing it.
    s.start.store(start, Ordering::Release);
    Some(i)
}

#[cfg(unix)]
mod handler {
    use super::{Ordering, LIVE};
    use std::sync::OnceLock;

    /// The SIGBUS action before ours, put back for faults that are not in our mappings.
    static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

    pub fn install() {
        PREVIOUS.get_or_init(|| {
            // SAFETY: plain sigaction calls; `on_sigbus` is async-signal-safe (see the
            // module documentation), and the zeroed structs are valid sigaction values.
            unsafe {
                let mut ours: libc::sigaction = std::mem::zeroed();
                ours.sa_sigaction = on_sigbus as *const () as usize;
                ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut ours.sa_mask);
                let mut previous: libc::sigaction = std::mem::zeroed();
                libc::sigaction(libc::SIGBUS, &ours, &mut previous);
                previous
            }
        });
    }

    extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
        let addr = unsafe { (*info).si_addr() } as usize;
        for s in &LIVE {
            let start = s.start.load(Ordering::Acquire);
            if start != 0 && addr.wrapping_sub(start) < s.len.load(Ordering::Relaxed) {
                let (message, len) = (
                    s.message.load(Ordering::Relaxed),
                    s.message_len.load(Ordering::Relaxed),
                );
                // SAFETY: the message lives as long as its mapping, which the faulting
                // thread is reading; write(2) and _exit(2) are async-signal-safe.
                unsafe {
                    libc::write(2, message as *const libc::c_void, len);
                    libc::_exit(i32::from(crate::error::exit::IO));
                }
            }
        }
        // Not ours: the previous action takes the fault when the instruction runs again.
        if let Some(previous) = PREVIOUS.get() {
            // SAFETY: puts back the action sigaction gave us.
            unsafe { libc::sigaction(libc::SIGBUS, previous, std::ptr::null_mut()) };
        }
    }
}

#[cfg(unix)]
fn install_handler() {
    handler::install();
}

#[cfg(not(unix))]
fn install_handler() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_freed_with_their_mappings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        std::fs::write(&path, vec![b' '; 8192]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let maps: Vec<Mapped> = (0..3).map(|_| Mapped::new(&file, &path).unwrap()).collect();
        assert!(maps.iter().all(|m| m.slot.is_some()));
        let s = &LIVE[maps[0].slot.unwrap()];
        assert_eq!(s.start.load(Ordering::Acquire), maps[0].as_ptr() as usize);
        assert_eq!(s.len.load(Ordering::Relaxed), 8192);
        let text = String::from_utf8(truncated_message(&path)).unwrap();
        assert!(text.contains("a.json") && text.ends_with('\n'), "{text}");
        let slots: Vec<usize> = maps.iter().map(|m| m.slot.unwrap()).collect();
        drop(maps);
        for i in slots {
            assert_eq!(LIVE[i].start.load(Ordering::Acquire), 0);
        }
    }
}
