//! The dedupe of Dialpad messages (there is no message id: a message is its sessionid, ts,
//! sendertype and text) by one parallel sort of compact [`Slot`]s, which also puts each
//! session's messages together in time order for the interactions derive (`derive.rs`).

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::TimestampMicrosecondType;

use super::derive::derive_interactions;
use crate::error::Result;
use crate::source::codes::NO_WORD;
use crate::table::{in_delivery_order, keep_last_of_runs, Deferred, MESSAGES};

pub(super) fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    let i = batch.schema().index_of(name)?;
    Ok(batch.column(i).as_string::<i32>())
}

/// A message's place in the dedupe sort and in the derive of its session, 32 bytes: the
/// first eight bytes and the length of its sessionid, its ts and its sender inline, so most
/// comparisons read no column (the messages of one session differ by ts) and the derive
/// walks the sorted slots instead of looking each message up in the parts it is scattered
/// over; sessionid, sendertype and text are looked up only on a tie. (It replaced 80-byte
/// tuples of borrowed strings: their building and sorting were a fifth of an
/// interactions-view run.)
#[derive(Clone, Copy)]
pub(super) struct Slot {
    /// The sessionid's first eight bytes, big-endian, zero-padded: ordered as the text.
    pub(super) head: u64,
    pub(super) len: u32,
    pub(super) part: u32,
    pub(super) row: u32,
    pub(super) timed: bool,
    pub(super) sender: Sender,
    /// 0 when not timed, so untimed messages tie on it.
    pub(super) ts: i64,
}

impl Slot {
    /// The message's `(part, row)`.
    pub(super) fn at(&self) -> (usize, usize) {
        (self.part as usize, self.row as usize)
    }

    pub(super) fn ts(&self) -> Option<i64> {
        self.timed.then_some(self.ts)
    }

    /// What orders the slot by [`Identity::session_time`] without a look-up: its sessionid
    /// (head and length) and time when the head holds the whole id, else the head alone
    /// (`LONG`: after every id the head holds whole, as a prefix sorts before what it
    /// starts). Unequal keys are ordered as `session_time` orders the slots; equal keys
    /// leave it to `session_time` (long ids of one head, or one session and time).
    ///
    /// Why: sorting 980k slots by the comparators alone took 105 ms of a 0.6 s run (a
    /// call and its branches per comparison); by this key first, 35 ms.
    #[inline(always)]
    pub(super) fn key(&self) -> (u64, u32, bool, i64) {
        const LONG: u32 = 9;
        if self.len <= 8 {
            (self.head, self.len, self.timed, self.ts)
        } else {
            (self.head, LONG, false, 0)
        }
    }
}

/// The slot of every message of `parts` (whose identity columns are `ids`), part after
/// part, each in row order.
///
/// Made into one allocation, every part's slots on whichever core takes the part (the
/// parts are contiguous in memory, so each core reads them in order): collecting them
/// through a parallel iterator's per-thread lists and then appending those took three
/// times as long.
pub(super) fn slots_of(parts: &[RecordBatch], ids: &Identity<'_>) -> Result<Vec<Slot>> {
    use rayon::prelude::*;
    let ts = primitive_parts::<TimestampMicrosecondType>(parts, "ts")?;
    let narrow = |v: usize| {
        u32::try_from(v).map_err(|_| {
            crate::error::Error::Internal(format!("{v} is past the dedupe's 32-bit index"))
        })
    };
    narrow(parts.len())?;
    let n = ts.iter().map(|t| t.len()).sum();
    // Written only by the parts' tasks, each its own piece: filled with a blank first on
    // one core (a `vec!` of a slot that is not all zero bits), the 31 MB of 980k slots
    // were most of the time between the parse and the sort, the other core idle.
    let mut slots: Vec<Slot> = Vec::with_capacity(n);
    let mut rest = &mut slots.spare_capacity_mut()[..n];
    let mut pieces = Vec::with_capacity(parts.len());
    for (p, t) in ts.iter().enumerate() {
        narrow(t.len())?;
        let (piece, tail) = rest.split_at_mut(t.len());
        pieces.push((p, piece));
        rest = tail;
    }
    pieces.into_par_iter().for_each(|(p, piece)| {
        let (sid, sender, ts) = (ids.sessionid.0[p], &ids.sendertype, ts[p]);
        for (r, slot) in piece.iter_mut().enumerate() {
            // The key is never null (a keyless message is left out when read).
            let id = sid.value(r).as_bytes();
            let mut head = [0u8; 8];
            let n = id.len().min(8);
            head[..n].copy_from_slice(&id[..n]);
            let timed = ts.is_valid(r);
            slot.write(Slot {
                head: u64::from_be_bytes(head),
                // Both checked above; a value of an Arrow string column is shorter than
                // 2 GiB.
                len: id.len() as u32,
                part: p as u32,
                row: r as u32,
                timed,
                sender: Sender::of(sender.at((p, r))),
                ts: if timed { ts.value(r) } else { 0 },
            });
        }
    });
    // SAFETY: the pieces cover the first `n` slots of the capacity (the parts' lengths
    // add up to `n`), and each task wrote every slot of its piece.
    unsafe { slots.set_len(n) };
    Ok(slots)
}

/// What identifies a message (Dialpad has no message id): sessionid, ts, sendertype, text,
/// which is also the canonical order of `messages` (nulls first). The columns of every part.
pub(super) struct Identity<'a> {
    pub(super) sessionid: Parted<'a>,
    pub(super) sendertype: Parted<'a>,
    pub(super) text: Parted<'a>,
}

impl<'a> Identity<'a> {
    pub(super) fn of(parts: &'a [RecordBatch]) -> Result<Self> {
        Ok(Identity {
            sessionid: Parted::of(parts, "sessionid")?,
            sendertype: Parted::of(parts, "sendertype")?,
            text: Parted::of(parts, "text")?,
        })
    }

    /// Orders two messages by sessionid, then ts (untimed first).
    pub(super) fn session_time(&self, a: &Slot, b: &Slot) -> std::cmp::Ordering {
        a.head
            .cmp(&b.head)
            .then_with(|| {
                if a.len <= 8 && b.len <= 8 {
                    // The heads hold both ids whole: equal heads differ only by padding.
                    a.len.cmp(&b.len)
                } else {
                    self.sessionid.at(a.at()).cmp(&self.sessionid.at(b.at()))
                }
            })
            .then_with(|| (a.timed, a.ts).cmp(&(b.timed, b.ts)))
    }

    /// Compares the identities of two messages (not their positions).
    fn cmp(&self, a: &Slot, b: &Slot) -> std::cmp::Ordering {
        self.session_time(a, b)
            .then_with(|| self.sendertype.at(a.at()).cmp(&self.sendertype.at(b.at())))
            .then_with(|| self.text.at(a.at()).cmp(&self.text.at(b.at())))
    }

    /// The message's sessionid: the slot's head when it holds it whole (given as `head`,
    /// its bytes), else the column's. (A look-up misses the cache: the messages are
    /// scattered over the parts.)
    pub(super) fn session<'h>(&self, s: &Slot, head: &'h [u8; 8]) -> &'h str
    where
        'a: 'h,
    {
        let whole = (s.len <= 8).then(|| std::str::from_utf8(&head[..s.len as usize]));
        match whole {
            Some(Ok(id)) => id,
            // The key is never null (a keyless message is left out when read).
            _ => self.sessionid.at(s.at()).unwrap_or_default(),
        }
    }

    /// Whether two messages are of one session.
    pub(super) fn same_session(&self, a: &Slot, b: &Slot) -> bool {
        a.head == b.head
            && a.len == b.len
            && (a.len <= 8 || self.sessionid.at(a.at()) == self.sessionid.at(b.at()))
    }
}

/// A slot with the columns to compare it by: equal when the messages are one message.
struct Keyed<'a>(Slot, &'a Identity<'a>);

impl PartialEq for Keyed<'_> {
    fn eq(&self, other: &Self) -> bool {
        // Unequal keys are unequal sessions or times (see `Slot::key`), found without a call.
        self.0.key() == other.0.key() && self.1.cmp(&self.0, &other.0).is_eq()
    }
}

/// The messages of `chunks` (in delivery order, each with its file), one copy per identity
/// (see [`Identity`]; the copy delivered last), in canonical order, with their interactions:
/// the `derived` columns of them, every column for `None`, and none derived for an empty
/// list (a view of messages alone reads none, and deriving them was a tenth of such a run).
/// The kept messages come as `listed` says.
///
/// One parallel sort does all three jobs: copies of a message end up adjacent and in
/// delivery order, so the last of each run is kept; the table is gathered once; and the
/// messages of a session come together in time order, so the interactions are derived
/// from the kept slots in the same order. (It replaced a concatenation, a hash map over
/// every message and an Arrow lexsort: 0.8 s of a 1.6 s run on 900k messages.)
pub(super) fn latest_in_canonical_order(
    chunks: Vec<(RecordBatch, Arc<str>)>,
    derived: Option<&[String]>,
    listed: Listed<'_>,
) -> Result<(Kept, RecordBatch)> {
    use rayon::prelude::*;
    let (chunks, sources): (Vec<RecordBatch>, Vec<Arc<str>>) = chunks.into_iter().unzip();
    let ids = Identity::of(&chunks)?;
    let mut slots = slots_of(&chunks, &ids)?;
    // Unstable, but ties are broken by position (delivery order), so the result is the
    // stable sort's, without a merge sort's copying of every row at every level.
    slots.par_sort_unstable_by(|a, b| {
        (a.key().cmp(&b.key())).then_with(|| ids.cmp(a, b).then(a.at().cmp(&b.at())))
    });
    let mut kept = slots;
    keep_last_of_runs(&mut kept, |s| Some(Keyed(*s, &ids)));
    let interactions = match derived {
        Some([]) => RecordBatch::new_empty(Arc::new(arrow::datatypes::Schema::empty())),
        columns => derive_interactions(&chunks, &ids, &kept, columns)?,
    };
    let positions = match listed {
        Listed::Delivery => in_delivery_order(&chunks, kept.iter().map(Slot::at)),
        // On every core: 16 MB of fresh pages for 980k messages.
        Listed::Canonical => kept.par_iter().map(Slot::at).collect(),
        Listed::Counted => return Ok((Kept::Built(counted(kept.len())?), interactions)),
        Listed::Held(columns, codes) => {
            return Ok((Kept::Built(held(&kept, columns, codes)?), interactions))
        }
    };
    let messages = Deferred {
        schema: MESSAGES.schema(),
        positions,
        parts: chunks,
        sources,
        parent_key: None,
    };
    Ok((Kept::Listed(messages), interactions))
}

/// How [`latest_in_canonical_order`] gives the messages it keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Listed<'a> {
    /// Listed in canonical order (see [`Identity`]): a full read's.
    Canonical,
    /// Listed in delivery order (see [`super::Lean::in_delivery_order`]).
    Delivery,
    /// Not listed, only counted: for a view that reads no message column (the list, 16 MB
    /// for 980k messages, was 9–10 ms of such a 0.28 s run).
    Counted,
    /// These columns, `ts` or `sendertype` (as these codes of the senders: see
    /// [`Sender::codes_in`]), built from the kept slots, in canonical order: for a view of
    /// counts. Why: listing the messages and gathering the two columns out of the parsed
    /// parts, the sender type as text, was 5% of an interactions-view run over 980k
    /// messages.
    Held(&'a [String], SenderCodes),
}

/// The code of each [`Sender`] (by its discriminant) in a column of sender types.
pub(super) type SenderCodes = [u8; 4];

/// The messages a dedupe kept, as [`Listed`] asked.
pub(super) enum Kept {
    /// Listed, their columns still in the parsed parts.
    Listed(Deferred),
    /// Their columns built already (none when only counted).
    Built(RecordBatch),
}

/// A batch of no column and `rows` rows.
fn counted(rows: usize) -> Result<RecordBatch> {
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
    let schema = Arc::new(arrow::datatypes::Schema::empty());
    Ok(RecordBatch::try_new_with_options(
        schema,
        Vec::new(),
        &options,
    )?)
}

/// The `columns` (`ts` or `sendertype`) of the messages `kept`, from their slots: the
/// sender type as its sender's code in `codes`.
fn held(kept: &[Slot], columns: &[String], codes: SenderCodes) -> Result<RecordBatch> {
    use arrow::array::{ArrayRef, TimestampMicrosecondArray, UInt8Array};
    let schema = MESSAGES.schema();
    let arrays = columns.iter().map(|c| -> Result<(String, ArrayRef)> {
        let array: ArrayRef = match c.as_str() {
            "ts" => Arc::new(
                TimestampMicrosecondArray::from_iter(kept.iter().map(Slot::ts))
                    .with_data_type(schema.field_with_name("ts")?.data_type().clone()),
            ),
            "sendertype" => Arc::new(UInt8Array::from_iter_values(
                kept.iter().map(|s| codes[s.sender as usize]),
            )),
            other => {
                let held = format!("the column {other} is not held by the dedupe's slots");
                return Err(crate::error::Error::Internal(held));
            }
        };
        Ok((c.clone(), array))
    });
    let batch = RecordBatch::try_from_iter(arrays.collect::<Result<Vec<_>>>()?)?;
    Ok(batch)
}

/// The primitive column `name` of every part.
fn primitive_parts<'a, T: arrow::datatypes::ArrowPrimitiveType>(
    parts: &'a [RecordBatch],
    name: &str,
) -> Result<Vec<&'a arrow::array::PrimitiveArray<T>>> {
    parts
        .iter()
        .map(|b| Ok(b.column(b.schema().index_of(name)?).as_primitive::<T>()))
        .collect()
}

/// A Utf8 column of every part, read at a message's `(part, row)`.
pub(super) struct Parted<'a>(pub(super) Vec<&'a StringArray>);

impl<'a> Parted<'a> {
    pub(super) fn of(parts: &'a [RecordBatch], name: &str) -> Result<Self> {
        Ok(Parted(
            parts
                .iter()
                .map(|b| strings(b, name))
                .collect::<Result<_>>()?,
        ))
    }

    pub(super) fn at(&self, (p, r): (usize, usize)) -> Option<&'a str> {
        opt(self.0[p], r)
    }

    /// Whether every value is null (a column a metrics-only read left out).
    pub(super) fn all_null(&self) -> bool {
        self.0.iter().all(|a| a.null_count() == a.len())
    }

    /// The first non-null value among the messages `group` (in that order); none without
    /// a look when `all_null`.
    pub(super) fn first_some<'s>(
        &self,
        all_null: bool,
        group: impl Iterator<Item = &'s Slot>,
    ) -> Option<&'a str> {
        if all_null {
            return None;
        }
        group.into_iter().find_map(|s| self.at(s.at()))
    }
}

pub(super) fn opt(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

/// A message's `sendertype`, compared case-insensitively (ASCII: no other character
/// lower-cases to a letter of these words but the Kelvin sign, which none holds).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Sender {
    Customer = 0,
    Bot = 1,
    Agent = 2,
    Other = 3,
}

impl Sender {
    const WORDS: [&str; 3] = ["customer", "bot", "agent"];
    const BY_INDEX: [Sender; 3] = [Sender::Customer, Sender::Bot, Sender::Agent];

    pub(super) fn of(v: Option<&str>) -> Sender {
        match v.and_then(|v| crate::source::codes::word_index(v, &Self::WORDS)) {
            Some(i) => Self::BY_INDEX[i],
            None => Sender::Other,
        }
    }

    /// Each sender's code among `words` (indexed by the sender's discriminant), as
    /// `metrics::with_word_codes` codes a text: the index of its word there, else
    /// [`NO_WORD`] (as for [`Sender::Other`]); `None` when a word is none of the sender
    /// types (lower-case, as `word_index` compares), which the slots do not tell apart.
    pub(super) fn codes_in(words: &[&str]) -> Option<SenderCodes> {
        if !words.iter().all(|w| Self::WORDS.contains(w)) || words.len() >= usize::from(NO_WORD) {
            return None;
        }
        let mut codes = [NO_WORD; 4];
        for (sender, word) in Self::BY_INDEX.iter().zip(Self::WORDS) {
            if let Some(i) = words.iter().position(|w| *w == word) {
                codes[*sender as usize] = i as u8;
            }
        }
        Some(codes)
    }
}
