//! A record walked field by field: the keys met before ([`KeyMemo`]), the walk over an
//! object's fields and an array's elements, and the reads of one field's value that the
//! readers call from it.

use super::*;

/// The keys a reader has met, with the field each resolved to, in the order objects write
/// them. Exports write every record with the same keys in the same order, so the next key is
/// nearly always the one after the last key matched: one byte comparison then replaces
/// finding the key's end, lower-casing it and looking it up. A record that leaves a key out
/// costs a search of the memo, not a miss for every key after it.
pub struct KeyMemo<'de, F> {
    slots: Vec<Slot<'de, F>>,
    lowered: String,
}

struct Slot<'de, F> {
    /// The key's content as written, its closing quote and, when the key was first met
    /// with one right after it (as in compact exports), the colon: complete string
    /// content (its backslashes pair up), so input starting with these bytes is this key
    /// and its end. Matching the colon with the key spares a separator check per key.
    quoted: &'de [u8],
    /// Whether `quoted` ends in the colon.
    colon: bool,
    /// As written, for messages.
    key: &'de str,
    field: Option<F>,
    /// `quoted` padded to 32 bytes, and one bit per byte of it (none when it is longer):
    /// two 16-byte comparisons match most keys (see [`Slot::at`]).
    padded: [u8; 32],
    mask: u32,
}

impl<'de, F> Slot<'de, F> {
    fn new(quoted: &'de [u8], colon: bool, key: &'de str, field: Option<F>) -> Self {
        let mut padded = [0u8; 32];
        let mask = match quoted.len() {
            n @ 1..=32 => {
                padded[..n].copy_from_slice(quoted);
                (((1u64 << n) - 1) & 0xffff_ffff) as u32
            }
            _ => 0,
        };
        Slot {
            quoted,
            colon,
            key,
            field,
            padded,
            mask,
        }
    }

    /// Whether the key at `at` of `buf` is this one (see [`Slot::quoted`]).
    #[inline]
    fn at(&self, buf: &[u8], at: usize) -> bool {
        #[cfg(target_arch = "x86_64")]
        if self.mask != 0 && at + 32 <= buf.len() {
            use std::arch::x86_64::*;
            // SAFETY: SSE2 is in the x86_64 baseline; the loads read buf[at..at + 32],
            // in bounds as checked above, and the 32 bytes of `padded`.
            let equal = unsafe {
                let eq = |k: usize| {
                    let a = _mm_loadu_si128(buf.as_ptr().add(at + k) as *const __m128i);
                    let b = _mm_loadu_si128(self.padded.as_ptr().add(k) as *const __m128i);
                    _mm_movemask_epi8(_mm_cmpeq_epi8(a, b)) as u32
                };
                eq(0) | eq(16) << 16
            };
            return equal & self.mask == self.mask;
        }
        bytes_at(buf, at, self.quoted)
    }
}

/// Keys remembered at most: far above any record's, but bounded for input whose keys
/// never repeat.
const MEMO_KEYS: usize = 256;

impl<F> Default for KeyMemo<'_, F> {
    fn default() -> Self {
        KeyMemo {
            slots: Vec::new(),
            lowered: String::new(),
        }
    }
}

/// Whether `buf` holds `pat` at `at`: eight bytes at a time (keys are short, and a call to
/// `memcmp` per key costs more than the comparison).
#[inline]
pub(crate) fn bytes_at(buf: &[u8], at: usize, pat: &[u8]) -> bool {
    let Some(b) = buf.get(at..at + pat.len()) else {
        return false;
    };
    let word = |s: &[u8], i: usize| u64::from_ne_bytes(s[i..i + 8].try_into().unwrap_or_default());
    let n = pat.len();
    if n < 8 {
        return b.iter().zip(pat).all(|(x, y)| x == y);
    }
    let mut i = 0;
    while i + 8 < n {
        if word(b, i) != word(pat, i) {
            return false;
        }
        i += 8;
    }
    // The last (possibly overlapping) eight.
    word(b, n - 8) == word(pat, n - 8)
}

impl<'de> Deserializer<'de> {
    /// Walks the object at the current position, which must be `what`. Each key is
    /// resolved to a field by `resolve` (given the key lower-cased: exports mix
    /// `startTimestamp`, `StartTimestamp` and UPPER_CASE), and `read` gets the field, the key
    /// as written (for messages) and the deserializer at its value; it reads the value with
    /// [`Deserializer::value`] or returns false to have it skipped unread, as the values
    /// of unknown keys are.
    ///
    /// This is the record loop of every reader, so it does not go through serde's map
    /// visitor: keys are matched against a [`KeyMemo`] and skipped values are only scanned.
    pub fn fields<F: Copy>(
        &mut self,
        what: &str,
        memo: &mut KeyMemo<'de, F>,
        resolve: impl Fn(&str) -> Option<F>,
        mut read: impl FnMut(&mut Self, F, &'de str) -> Result<bool, Error>,
    ) -> Result<(), Error> {
        if self.peek()? != b'{' {
            return self.fail(self.pos, format_args!("expected {what}"));
        }
        self.enter()?;
        let buf = self.buf;
        let mut b = self.peek()?;
        // The memo slot expected next.
        let mut next = 0;
        if b != b'}' {
            loop {
                if b != b'"' {
                    return self.fail(self.pos, "expected a key (a string) in an object");
                }
                let start = self.pos + 1;
                let at = |s: &Slot<F>| s.at(buf, start);
                // The slot after the last key's, else the one after it (a record without
                // one optional key skips its slot: Dialpad's bot messages have no
                // `topmatches`, two keys a message on average), else the next ones, else
                // the ones before.
                let from = next.min(memo.slots.len());
                let found = match (memo.slots.get(next), memo.slots.get(next + 1)) {
                    (Some(s), _) if at(s) => Some(next),
                    (_, Some(s)) if at(s) => Some(next + 1),
                    _ => (memo.slots[from..].iter().position(at).map(|j| from + j))
                        .or_else(|| memo.slots[..from].iter().position(at)),
                };
                let j = match found {
                    Some(j) => j,
                    None => self.new_key(next, memo, &resolve)?,
                };
                let slot = &memo.slots[j];
                let (key, f) = (slot.key, slot.field);
                self.pos = start + slot.quoted.len();
                next = j + 1;
                if !slot.colon {
                    if self.peek()? != b':' {
                        return self.fail(self.pos, "expected ':' after an object key");
                    }
                    self.pos += 1;
                }
                let read_it = match f {
                    Some(f) => read(self, f, key)?,
                    None => false,
                };
                if !read_it {
                    // Most skipped values are short strings: found here, without the calls
                    // of the general skip (a tenth of a metrics run's instructions).
                    match buf.get(self.pos) {
                        // Strict, only ASCII is taken here: other bytes must be checked
                        // as UTF-8, which the full skip does.
                        Some(b'"') => match short_string_end(buf, self.pos + 1, self.strict) {
                            Some(end) => self.pos = end,
                            None => self.skip_field(key)?,
                        },
                        // `[]` or `{}` (the closing bracket is two code points on).
                        Some(&open @ (b'[' | b'{'))
                            if buf.get(self.pos + 1) == Some(&(open + 2)) =>
                        {
                            self.pos += 2
                        }
                        _ => self.skip_field(key)?,
                    }
                }
                // The next key, in compact JSON.
                if buf.get(self.pos..self.pos + 2) == Some(b",\"") {
                    self.pos += 1;
                    b = b'"';
                    continue;
                }
                b = self.peek()?;
                match b {
                    b',' => {
                        self.pos += 1;
                        b = self.peek()?;
                    }
                    b'}' => break,
                    _ => return self.fail(self.pos, "expected ',' or '}' in an object"),
                }
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// Walks the array at the current position, calling `read` at each element, which must
    /// read exactly that element: the array form of [`Deserializer::fields`], for arrays of
    /// objects inside a record, walked without serde's sequence visitor.
    pub fn elements(
        &mut self,
        mut read: impl FnMut(&mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if self.peek()? != b'[' {
            return self.fail(self.pos, "expected an array");
        }
        self.enter()?;
        if self.peek()? != b']' {
            loop {
                read(self)?;
                match self.peek()? {
                    // A trailing comma fails in `read`, at the `]`.
                    b',' => self.pos += 1,
                    b']' => break,
                    _ => return self.fail(self.pos, "expected ',' or ']' in an array"),
                }
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// The key at `pos`, met for the first time: read, resolved, and remembered at `next`.
    /// Returns its slot; `pos` is left at its start.
    #[cold]
    fn new_key<F: Copy>(
        &mut self,
        next: usize,
        memo: &mut KeyMemo<'de, F>,
        resolve: impl Fn(&str) -> Option<F>,
    ) -> Result<usize, Error> {
        let (at, start) = (self.pos, self.pos + 1);
        let lowered = &mut memo.lowered;
        lowered.clear();
        match self.string()? {
            Text::Borrowed(s) | Text::Copied(s) => lowered.push_str(s),
        }
        lowered.make_ascii_lowercase();
        let field = resolve(lowered);
        let colon = self.buf.get(self.pos) == Some(&b':');
        let quoted = &self.buf[start..self.pos + usize::from(colon)];
        // As written, escapes and all: valid UTF-8 because its unescaped form was.
        let key = match std::str::from_utf8(&self.buf[start..self.pos - 1]) {
            Ok(key) => key,
            Err(_) => return self.fail(start, "invalid UTF-8 in a string"),
        };
        self.pos = at;
        if memo.slots.len() == MEMO_KEYS {
            memo.slots.clear();
        }
        let next = next.min(memo.slots.len());
        memo.slots
            .insert(next, Slot::new(quoted, colon, key, field));
        Ok(next)
    }

    /// Reads the value at the current position as a `T`, naming the field `key` in any
    /// error.
    pub fn value<T: Deserialize<'de>>(&mut self, key: &str) -> Result<T, Error> {
        T::deserialize(&mut *self).map_err(|e| Error(format!("field `{key}`: {}", e.0)))
    }

    /// [`Deserializer::value`] for a type read from text ([`FromText`]): a value written as
    /// a short ASCII string without escapes is handed to [`FromText::from_text`] straight
    /// from the input, the function `T`'s serde visitor calls on a string, so the result is
    /// the same; so are a short number, `true`, `false` and `null` to the functions that
    /// stand for the visitor's other calls. Anything else, and a value those refuse (for its
    /// error), is read by `T`'s `Deserialize`. Why: timestamps, durations, flags and counts
    /// are most of a record's values, and the general read and the visitor's dispatch
    /// around each cost more than parsing them.
    ///
    /// Strings and numbers, the usual values, are read inline; the others out of line
    /// ([`Deserializer::text_value_other`]).
    #[inline(always)]
    pub fn text_value<T: Deserialize<'de> + FromText>(&mut self, key: &str) -> Result<T, Error> {
        match self.buf.get(self.pos) {
            Some(b'"') => {
                if let Some((text, end)) = self.short_ascii() {
                    if let Ok(v) = T::from_text(text) {
                        self.pos = end;
                        return Ok(v);
                    }
                }
                self.general(key)
            }
            // A short number (durations, scores, epoch times): its value as `number` gives
            // it to the visitor, taken as the visitor takes it, without the dispatch; a long
            // one (no exact value from the scan) and a bad one go to the general read.
            Some(b'-' | b'0'..=b'9') => {
                if let Some(NumberScan {
                    end,
                    exact: Some(n),
                    ..
                }) = scan_number(self.buf, self.pos)
                {
                    if let Some(v) = T::from_number(n) {
                        self.pos = end;
                        return Ok(v);
                    }
                }
                self.general(key)
            }
            _ => self.text_value_other(key),
        }
    }

    /// [`Deserializer::text_value`] of a value that is neither a string nor a number.
    #[inline(never)]
    fn text_value_other<T: Deserialize<'de> + FromText>(&mut self, key: &str) -> Result<T, Error> {
        match self.buf.get(self.pos) {
            // A missing value (Anywhere365's `InSLA`, `QuickDrop` and `acceptTimestamp` of
            // a third of the dialogues): taken as the visitor takes it, without its dispatch.
            Some(b'n') => {
                if let Some(v) = bytes_at(self.buf, self.pos, b"null")
                    .then(T::from_null)
                    .flatten()
                {
                    self.pos += 4;
                    return Ok(v);
                }
            }
            // A flag written as a JSON literal (Ultimate's `test_mode`, `is_llm_conversation`):
            // taken as the visitor takes it, without its dispatch (2% of a bot-KPI run).
            Some(&b @ (b't' | b'f')) => {
                let word: &[u8] = if b == b't' { b"true" } else { b"false" };
                if let Some(v) = bytes_at(self.buf, self.pos, word)
                    .then(|| T::from_bool(b == b't'))
                    .flatten()
                {
                    self.pos += word.len();
                    return Ok(v);
                }
            }
            _ => {}
        }
        self.value(key)
    }

    /// [`Deserializer::value`] for a type that holds a string as it lies in the input
    /// (`From<&'de str>` is what its serde visitor makes of a borrowed string): a value
    /// written as a short ASCII string without escapes is taken straight from the input;
    /// anything else (numbers, escapes, null, long or non-ASCII text) is read by `T`'s
    /// `Deserialize`. Why: ids, sender types and codes are most of a record's strings, and
    /// serde's dispatch around each (a newtype token, then the any-value read) cost more than
    /// finding its end.
    ///
    /// Always inlined, the general read kept out of line ([`Deserializer::general`]): left
    /// to the compiler, whether it was inlined into a reader's record loop changed with the
    /// number of readers calling it (a Dialpad run read 2% more instructions when
    /// Anywhere365's reader began to call it too).
    #[inline(always)]
    pub fn str_value<T: Deserialize<'de> + From<&'de str>>(
        &mut self,
        key: &str,
    ) -> Result<T, Error> {
        let quoted = self.buf.get(self.pos) == Some(&b'"');
        if let Some((text, end)) = quoted.then(|| self.short_ascii()).flatten() {
            self.pos = end;
            return Ok(T::from(text));
        }
        self.general(key)
    }

    /// [`Deserializer::value`], never inlined: the rare path of the fast reads.
    #[inline(never)]
    fn general<T: Deserialize<'de>>(&mut self, key: &str) -> Result<T, Error> {
        self.value(key)
    }

    /// Skips the value of the field `key` (see [`Deserializer::skip`]) and says where it
    /// lay: for a caller that needs only the place of a value, without a [`Raw`]'s UTF-8
    /// check of its text. (Framing a Samespace report, a whole-file envelope, checked its
    /// whole record array that way only to find where it was: 4% of a calls run; the
    /// records' strings are checked when they are parsed.)
    pub fn value_span(&mut self, key: &str) -> Result<std::ops::Range<usize>, Error> {
        self.peek()?;
        let start = self.pos;
        self.skip_field(key)?;
        Ok(start..self.pos)
    }
}
