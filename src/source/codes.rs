//! Text columns of few distinct values (statuses, resolutions) built as dictionary codes.
//!
//! Why: a metrics-only read keeps its columns for the whole run, and the bot KPIs only ask
//! of a status which of a handful of values it is. As text, a status is its bytes and a
//! four-byte offset per row, copied in by the parse and compared against every vocabulary
//! value per row afterwards; as a code it is one byte, and the vocabulary is checked once
//! per distinct value (see `metrics::bot`).

use std::any::Any;
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, DictionaryArray, NullBufferBuilder, StringArray, StringBuilder,
    UInt8Array,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::UInt8Type;

/// The index in `words` (lower-case ASCII) of `text`, compared case-insensitively by ASCII
/// folding: how cxkpi tells a sender type, an outcome or a direction among a few words, in
/// the readers and the KPIs alike.
pub fn word_index(text: &str, words: &[&str]) -> Option<usize> {
    let text = text.as_bytes();
    words
        .iter()
        .position(|w| w.len() == text.len() && same_ignoring_case(text, w.as_bytes()))
}

/// `a.eq_ignore_ascii_case(b)` for slices of one length, eight bytes at a time from four
/// bytes on (the words are 3 to 9 bytes, the byte loop was 3% of a queue run): each word
/// of either, folded to lower case ([`ascii_lower`]), compared whole; from the first word
/// on, the last one overlaps it. A byte outside ASCII leaves the pair to the byte loop.
#[inline]
fn same_ignoring_case(a: &[u8], b: &[u8]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    if n < 4 {
        return a.eq_ignore_ascii_case(b);
    }
    // The word of `s` at `i` (8 bytes, or from 4 to 7 as two overlapping halves).
    let word = |s: &[u8], i: usize| -> u64 {
        if n >= 8 {
            u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or_default())
        } else {
            let half = |j: usize| u32::from_le_bytes(s[j..j + 4].try_into().unwrap_or_default());
            u64::from(half(0)) | u64::from(half(n - 4)) << 32
        }
    };
    let (mut i, last) = (0, n.saturating_sub(8));
    loop {
        let (x, y) = (word(a, i), word(b, i));
        if (x | y) & 0x8080_8080_8080_8080 != 0 {
            return a.eq_ignore_ascii_case(b);
        }
        if ascii_lower(x) != ascii_lower(y) {
            return false;
        }
        if i == last {
            return true;
        }
        i = (i + 8).min(last);
    }
}

/// Every byte of `x` (all ASCII) in lower case: 0x20 added to each from `A` to `Z`. Adding
/// 0x3f sets a byte's high bit from `A` up, adding 0x25 from `[` up; neither carries out of
/// an ASCII byte.
#[inline(always)]
fn ascii_lower(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let upper = x.wrapping_add(0x3f * ONES) & !x.wrapping_add(0x25 * ONES) & (0x80 * ONES);
    x | upper >> 2
}

/// The code of a text that is none of the words, or of a null (see [`WordCodes`]).
pub const NO_WORD: u8 = u8::MAX;

/// A text column read only to tell which of a few words (lower-case ASCII) each row holds:
/// kept as the word's index in one byte, [`NO_WORD`] for any other text or a null.
///
/// Why: the queue KPIs ask of a dialogue's direction and outcome only which word it is
/// (`metrics::with_word_codes`). Kept as text, each was copied into the chunk, copied
/// again into the table and then compared with the words row by row. As codes, a 30-day
/// queue run is 4-6% faster and 11 MB smaller (not reading the two columns at all, the
/// most this could buy, made it 10% faster).
pub struct WordCodes {
    words: &'static [&'static str],
    codes: Vec<u8>,
}

impl WordCodes {
    pub fn new(words: &'static [&'static str], rows: usize) -> Self {
        WordCodes {
            words,
            codes: Vec::with_capacity(rows),
        }
    }

    #[inline]
    pub fn append_option(&mut self, v: Option<&str>) {
        let code = v.and_then(|v| word_index(v, self.words));
        // A word's index fits a byte below NO_WORD (`metrics::with_word_codes` checks).
        self.codes.push(code.map_or(NO_WORD, |i| i as u8));
    }

    /// The codes as a `UInt8` column (no nulls: [`NO_WORD`] stands for one).
    pub fn finish(self) -> ArrayRef {
        Arc::new(UInt8Array::from(self.codes))
    }
}

/// Distinct values a chunk's column may hold as codes. Each row looks its value up among
/// those met so far, one comparison each, so a column of more values (not a status at
/// all) is cheaper as plain text: the builder turns into one when it meets one more.
const MAX_CODES: usize = 16;

/// Slots of [`CodesBuilder::slots`]: four times the codes, so few values share one.
const SLOTS: usize = 64;

/// The slot of a value: a hash of its length and its first eight bytes.
#[inline]
fn slot_of(v: &[u8]) -> usize {
    let head = match v.get(..8) {
        Some(h) => u64::from_le_bytes(h.try_into().unwrap_or_default()),
        None => v.iter().rev().fold(0u64, |h, &b| h << 8 | u64::from(b)),
    };
    let x = head ^ (v.len() as u64).rotate_right(8);
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SLOTS.trailing_zeros())) as usize
}

/// Builds a column as a `Dictionary(UInt8, Utf8)` array while it meets at most
/// [`MAX_CODES`] distinct values, as a `Utf8` array otherwise (or when made
/// [`CodesBuilder::plain`]). Readers of its arrays must accept both types.
pub struct CodesBuilder {
    /// The distinct values met, in order of first appearance: a value's code is its index.
    values: Vec<Box<str>>,
    /// Where the values met sit in `values`, by [`slot_of`] (the code plus one; 0 for
    /// none): a row finds its code with one comparison, where a search of `values`
    /// mispredicted a branch on nearly every row of statuses in no order (4% of a bot-KPI
    /// run). A value whose slot another holds is found by the search.
    slots: [u8; SLOTS],
    keys: Vec<u8>,
    nulls: NullBufferBuilder,
    /// The column as text, once it is no longer codes.
    plain: Option<StringBuilder>,
}

impl CodesBuilder {
    /// A builder of codes for about `rows` rows.
    pub fn codes(rows: usize) -> Self {
        CodesBuilder {
            values: Vec::new(),
            slots: [0; SLOTS],
            keys: Vec::with_capacity(rows),
            nulls: NullBufferBuilder::new(rows),
            plain: None,
        }
    }

    /// A builder of plain text: for tables whose schema says `Utf8`.
    pub fn plain(text: StringBuilder) -> Self {
        CodesBuilder {
            plain: Some(text),
            ..CodesBuilder::codes(0)
        }
    }

    #[inline]
    pub fn append_option(&mut self, v: Option<&str>) {
        if let Some(plain) = &mut self.plain {
            plain.append_option(v);
            return;
        }
        let Some(v) = v else {
            self.keys.push(0);
            self.nulls.append_null();
            return;
        };
        // Compared inline, eight bytes at a time: `==` on strings called `memcmp` per
        // candidate, 2% of a metrics run.
        let same =
            |m: &str| m.len() == v.len() && super::de::bytes_at(v.as_bytes(), 0, m.as_bytes());
        let slot = slot_of(v.as_bytes());
        let code = match usize::from(self.slots[slot]).checked_sub(1) {
            Some(code) if self.values.get(code).is_some_and(|m| same(m)) => code,
            _ => match self.values.iter().position(|m| same(m)) {
                Some(code) => code,
                None if self.values.len() < MAX_CODES => {
                    self.values.push(v.into());
                    let code = self.values.len() - 1;
                    if self.slots[slot] == 0 {
                        self.slots[slot] = code as u8 + 1;
                    }
                    code
                }
                None => {
                    self.make_plain().append_value(v);
                    return;
                }
            },
        };
        self.keys.push(code as u8);
        self.nulls.append_non_null();
    }

    /// Turns the builder into a plain one, the codes met so far into text.
    #[cold]
    fn make_plain(&mut self) -> &mut StringBuilder {
        let longest = self.values.iter().map(|v| v.len()).max().unwrap_or(0);
        let mut plain =
            StringBuilder::with_capacity(self.keys.capacity(), self.keys.len() * longest);
        let nulls = self.nulls.finish();
        for (i, &k) in self.keys.iter().enumerate() {
            match nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                true => plain.append_null(),
                false => plain.append_value(&self.values[k as usize]),
            }
        }
        self.keys = Vec::new();
        self.plain.insert(plain)
    }

    fn build(&mut self) -> ArrayRef {
        match &mut self.plain {
            Some(plain) => Arc::new(plain.finish()),
            None => {
                let a = dictionary(
                    std::mem::take(&mut self.keys),
                    self.nulls.finish(),
                    &self.values,
                );
                self.values.clear();
                self.slots = [0; SLOTS];
                a
            }
        }
    }
}

/// The dictionary array of `keys` (null where `nulls` says) into `values`.
fn dictionary(keys: Vec<u8>, nulls: Option<NullBuffer>, values: &[Box<str>]) -> ArrayRef {
    let keys = UInt8Array::new(keys.into(), nulls);
    let values = StringArray::from_iter_values(values.iter());
    // Every key is below `values.len()`, as `append_option` made them, so this cannot fail.
    Arc::new(DictionaryArray::<UInt8Type>::new(keys, Arc::new(values)))
}

impl ArrayBuilder for CodesBuilder {
    fn len(&self) -> usize {
        match &self.plain {
            Some(plain) => plain.len(),
            None => self.keys.len(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        self.build()
    }

    fn finish_cloned(&self) -> ArrayRef {
        match &self.plain {
            Some(plain) => Arc::new(plain.finish_cloned()),
            None => dictionary(self.keys.clone(), self.nulls.finish_cloned(), &self.values),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn into_box_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::compute::cast;
    use arrow::datatypes::DataType;

    /// The word comparison agrees with `eq_ignore_ascii_case` on every length from 0 to 20,
    /// with each byte position changed to every byte value, in both orders.
    #[test]
    fn words_compare_as_eq_ignore_ascii_case_does() {
        let base = b"AbandonedQuickDropXyZ";
        for n in 0..=20 {
            let lower: Vec<u8> = base[..n].to_ascii_lowercase();
            let upper: Vec<u8> = base[..n].to_ascii_uppercase();
            assert!(same_ignoring_case(&lower, &upper));
            for at in 0..n {
                for v in 0..=255u8 {
                    let mut changed = upper.clone();
                    changed[at] = v;
                    assert_eq!(
                        same_ignoring_case(&changed, &lower),
                        changed.eq_ignore_ascii_case(&lower),
                        "{n} {at} {v}"
                    );
                    assert_eq!(
                        same_ignoring_case(&lower, &changed),
                        lower.eq_ignore_ascii_case(&changed),
                    );
                }
            }
        }
        assert_eq!(word_index("Accepted", &["abandoned", "accepted"]), Some(1));
        assert_eq!(word_index("ACCEPTED ", &["accepted"]), None);
        assert_eq!(word_index("bot", &["customer", "bot"]), Some(1));
        assert_eq!(word_index("", &["bot"]), None);
    }

    fn build(values: &[Option<&str>], mut b: CodesBuilder) -> ArrayRef {
        for v in values {
            b.append_option(*v);
        }
        assert_eq!(b.len(), values.len());
        let cloned = b.finish_cloned();
        let a = b.finish();
        assert_eq!(cloned.to_data(), a.to_data());
        a
    }

    fn texts(a: &ArrayRef) -> Vec<Option<String>> {
        let a = cast(a, &DataType::Utf8).expect("cast");
        let s = a.as_string::<i32>();
        s.iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn codes_hold_the_values_and_nulls() {
        let values = [
            Some("email"),
            None,
            Some("botHandled"),
            Some("email"),
            Some(""),
            None,
        ];
        let a = build(&values, CodesBuilder::codes(2));
        assert!(matches!(a.data_type(), DataType::Dictionary(..)));
        let d = a.as_dictionary::<UInt8Type>();
        assert_eq!(d.values().len(), 3);
        assert_eq!(d.keys().null_count(), 2);
        let want: Vec<Option<String>> = values.iter().map(|v| v.map(str::to_string)).collect();
        assert_eq!(texts(&a), want);
        let plain = build(&values, CodesBuilder::plain(StringBuilder::new()));
        assert_eq!(plain.data_type(), &DataType::Utf8);
        assert_eq!(texts(&plain), want);
    }

    #[test]
    fn too_many_values_become_text() {
        let owned: Vec<Option<String>> = (0..3 * MAX_CODES)
            .map(|i| (i % 5 != 3).then(|| format!("v{}", i % (MAX_CODES + 2))))
            .collect();
        let values: Vec<Option<&str>> = owned.iter().map(|v| v.as_deref()).collect();
        let a = build(&values, CodesBuilder::codes(4));
        assert_eq!(a.data_type(), &DataType::Utf8);
        assert_eq!(texts(&a), owned);
        // Exactly MAX_CODES values stay codes.
        let a = build(&values[..MAX_CODES], CodesBuilder::codes(4));
        assert!(matches!(a.data_type(), DataType::Dictionary(..)));
        assert_eq!(texts(&a), owned[..MAX_CODES]);
    }

    #[test]
    fn values_sharing_a_slot_keep_their_own_codes() {
        // Two values of one slot (found by trying), and values of every length around
        // the eight bytes hashed, in no order, over two columns built by one builder.
        let first = "status-0";
        let twin = (1..10_000)
            .map(|i| format!("status-{i}"))
            .find(|v| slot_of(v.as_bytes()) == slot_of(first.as_bytes()))
            .expect("a value sharing the slot");
        let mut owned = vec![first.to_string(), twin, String::new()];
        owned.extend(["a", "ab", "abcdefg", "abcdefgh", "abcdefghi", "abcdefgi"].map(String::from));
        owned.extend(["escalated", "botHandled", "email"].map(String::from));
        let mut x: u32 = 7;
        let rows: Vec<Option<&str>> = (0..500)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let i = (x >> 16) as usize % (owned.len() + 1);
                owned.get(i).map(String::as_str)
            })
            .collect();
        let mut b = CodesBuilder::codes(8);
        for _ in 0..2 {
            for v in &rows {
                b.append_option(*v);
            }
            let a = b.finish();
            assert!(matches!(a.data_type(), DataType::Dictionary(..)));
            assert_eq!(a.as_dictionary::<UInt8Type>().values().len(), owned.len());
            let want: Vec<Option<String>> = rows.iter().map(|v| v.map(str::to_string)).collect();
            assert_eq!(texts(&a), want);
        }
    }

    #[test]
    fn empty_columns() {
        assert_eq!(build(&[], CodesBuilder::codes(0)).len(), 0);
        assert_eq!(
            build(&[], CodesBuilder::plain(StringBuilder::new())).len(),
            0
        );
    }
}
