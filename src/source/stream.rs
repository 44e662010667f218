//! A gzip file read piece by piece as it is decompressed, by `metrics` and `table` (the
//! ingest, and so `report`, reads a big one in windows of a decompressed copy: see
//! `Window`).
//!
//! Why: decompressing a gzip file into memory whole made a read's peak its content's size
//! (a 152 MB gzip of 1.42 GB of JSON: 1.55 GB for `metrics bot`), where a plain file is
//! mapped and its pages handed back as it is parsed. Here the content comes in pieces of
//! [`PIECE`] bytes, each cut just past a newline as a window is (so only files of one
//! record per line: NDJSON, or an array with one element per line), each parsed by the
//! same readers on every core while a thread of its own decompresses the next.
//!
//! This is a way of reading good files, not a second set of errors: when anything does not
//! fit (the content is not one record per line, UTF-16, an envelope, another vendor's; a
//! piece fails to parse, the stream is corrupt), the caller reads the file whole, as every
//! other file is read, and that read's error (with its line and column) is the one the
//! user sees. A bad file is decompressed twice then; a good one once, as before.

use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver};

use super::detect::vendor_of;
use super::load::{utf16_order, UTF8_BOM};
use super::records::{Layout, Origin, RECORDS_PER_TASK};
use super::{frame, Bytes, Candidate, Framed, Vendor};
use crate::error::Result;

/// How much content a piece holds (about: it ends at the last record boundary after this).
/// 64 MiB: a read holds two (one parsed, the next decompressed), and 8,192-record parse
/// tasks of 1 KiB records still give the two cores tens of tasks each.
pub(super) const PIECE: usize = 64 << 20;

/// What [`read_gzip`] did.
pub(super) enum Streamed<B> {
    /// Every record, read piece by piece, in file order.
    Read(Vec<B>),
    /// The whole content, which fit in one piece: to be framed as any file's.
    Whole(Bytes),
    /// Nothing kept: the file is to be read whole.
    NotHere,
}

/// A piece of content, and whether it ends the file.
type Piece = std::io::Result<(Vec<u8>, bool)>;

/// Reads the gzip file whose stored bytes are `stored` in pieces of about `size` bytes
/// ([`PIECE`]; tests use small ones) with `parse` (which parses a framed piece's records,
/// as `read_all` parses a file's). See the module's documentation for when it gives up.
pub(super) fn read_gzip<B: Send>(
    c: &Candidate,
    stored: &[u8],
    vendors: &[Vendor],
    size: usize,
    parse: impl Fn(&Framed) -> Result<Vec<B>>,
) -> Streamed<B> {
    let mut pieces = Pieces::new(stored, size);
    // The first piece here: most gzip files end within it, and a thread for each of
    // 5,000 small files made reading them 2.6 times slower.
    let Some(Ok((piece, end))) = pieces.next() else {
        return Streamed::NotHere;
    };
    if end {
        return Streamed::Whole(Bytes::Owned(piece));
    }
    // Only what the readers would frame by lines, as they would: plain UTF-8 JSON of one
    // record per line, of the expected vendor. Told before a thread is started.
    let plain = utf16_order(&piece).is_none() && !piece.starts_with(&UTF8_BOM);
    let first = match plain && (!c.from_dir || super::looks_like_json(&piece)) {
        true => frame::first_record(&piece).filter(|f| !f.envelope),
        false => None,
    };
    let Some(first) = first else {
        return Streamed::NotHere;
    };
    let Ok(vendor) = vendor_of(&c.path, &piece, std::slice::from_ref(&first.span), vendors) else {
        return Streamed::NotHere;
    };
    // Handed over, not queued: a piece parsed and the next decompressed at most.
    let (tx, rx) = sync_channel::<Piece>(0);
    std::thread::scope(|s| {
        let send = move || {
            for piece in pieces {
                if tx.send(piece).is_err() {
                    return;
                }
            }
        };
        let spawned =
            (std::thread::Builder::new().name("cxkpi-gunzip".into())).spawn_scoped(s, send);
        let Ok(thread) = spawned else {
            return Streamed::NotHere;
        };
        // `rx` goes with the reading: once it is dropped, the decompressing thread's next
        // send fails and it stops.
        let read = read_pieces(c, (&first, vendor), piece, rx, parse);
        // Joined, not only finished (all a scope waits for): its thread-locals are freed
        // before this returns, which a leak check right after (the fuzzers') counts on.
        let _ = thread.join();
        read
    })
}

/// The consuming side of [`read_gzip`], from its first piece (which does not end the file)
/// with the file's first record in it and its vendor.
fn read_pieces<B>(
    c: &Candidate,
    (first, vendor): (&frame::First, Vendor),
    piece: Vec<u8>,
    rx: Receiver<Piece>,
    parse: impl Fn(&Framed) -> Result<Vec<B>>,
) -> Streamed<B> {
    let mut out = Vec::new();
    let mut origin = Origin::default();
    let mut next = Some((piece, false));
    while let Some((piece, end)) = next.take() {
        // The first piece's records begin after the array's bracket.
        let start = match origin.offset {
            0 => first.span.start,
            _ => 0,
        };
        let lines = memchr::memchr_iter(b'\n', &piece).count();
        let len = piece.len();
        let file = Framed {
            path: c.path.clone(),
            layout: Layout::Pieces {
                pieces: frame::pieces(&piece, first, RECORDS_PER_TASK, start..len, &|_| {}),
                array: first.array,
                closes: end,
            },
            bytes: Bytes::Owned(piece),
            vendor,
            by_lines: true,
            window: None,
            origin,
        };
        match parse(&file) {
            Ok(chunks) => out.extend(chunks),
            Err(_) => return Streamed::NotHere,
        }
        if end {
            return Streamed::Read(out);
        }
        origin.offset += len;
        origin.lines += lines;
        next = match rx.recv() {
            Ok(Ok(piece)) => Some(piece),
            _ => return Streamed::NotHere,
        };
    }
    Streamed::NotHere
}

/// The content of a gzip file's stored bytes in pieces of at least `size` bytes, each but
/// the last ending just past a newline that ends a record (in an array, a newline after a
/// comma); after the last piece or an error, nothing.
struct Pieces<'a> {
    gz: flate2::read::MultiGzDecoder<&'a [u8]>,
    size: usize,
    carry: Vec<u8>,
    /// Whether the content is an array: its first byte that is not blank is a bracket.
    array: Option<bool>,
    done: bool,
    /// The size of the stored bytes.
    stored: usize,
}

impl<'a> Pieces<'a> {
    fn new(stored: &'a [u8], size: usize) -> Self {
        Pieces {
            gz: flate2::read::MultiGzDecoder::new(stored),
            size,
            carry: Vec::new(),
            array: None,
            done: false,
            stored: stored.len(),
        }
    }
}

impl Iterator for Pieces<'_> {
    type Item = Piece;

    fn next(&mut self) -> Option<Piece> {
        if self.done {
            return None;
        }
        // A 16th more than a piece, for the records cut at its end.
        let more = (self.size / 16).max(1);
        // A small file's content is about as small (no 68 MiB buffer for each of 5,000
        // files): room for eight times what is stored, as a whole read makes, at first.
        let room = (self.size + more).min(self.stored.saturating_mul(8));
        let mut piece = Vec::with_capacity(room.max(self.carry.len()));
        piece.append(&mut self.carry);
        loop {
            let want = piece.len().max(self.size) + more;
            let read = (&mut self.gz)
                .take((want - piece.len()) as u64)
                .read_to_end(&mut piece);
            let end = match read {
                Ok(n) => n == 0,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            let array = *(self.array)
                .get_or_insert_with(|| piece.iter().find(|b| !frame::is_blank(b)) == Some(&b'['));
            if end {
                self.done = true;
                return Some(Ok((piece, true)));
            }
            if piece.len() < self.size {
                continue;
            }
            // A record longer than a piece: read on until its end.
            if let Some(cut) = last_cut(&piece, array) {
                self.carry = piece.split_off(cut);
                return Some(Ok((piece, false)));
            }
        }
    }
}

/// Just past the last newline of `buf` that ends a record: any newline, or in an array
/// one after a comma (blanks between them allowed), as [`frame::pieces`] cuts.
fn last_cut(buf: &[u8], array: bool) -> Option<usize> {
    let mut to = buf.len();
    while let Some(i) = memchr::memrchr(b'\n', &buf[..to]) {
        if !array || buf[..i].iter().rev().find(|b| !frame::is_blank(b)) == Some(&b',') {
            return Some(i + 1);
        }
        to = i;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_ends_a_record_line() {
        assert_eq!(last_cut(b"{}\n{}\n{", false), Some(6));
        assert_eq!(last_cut(b"{}", false), None);
        // In an array, past a newline after a comma only.
        assert_eq!(last_cut(b"[\n{},\n{}\n]", true), Some(6));
        assert_eq!(last_cut(b"[\n{}, \n{", true), Some(7));
        assert_eq!(last_cut(b"[\n{}\n", true), None);
    }
}
