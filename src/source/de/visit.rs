//! The serde side of [`Deserializer`]: `deserialize_*` for the `Deserialize` types of the
//! readers (`Loose*`, records, intents), and the map and sequence access of their visitors.

use super::*;

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    // Inlined into each reader's value types: the call itself was a tenth of the cost of
    // reading a short value.
    #[inline]
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let first = self.peek()?;
        let start = self.pos;
        let r = match first {
            b'"' => match self.string()? {
                Text::Borrowed(s) => v.visit_borrowed_str(s),
                Text::Copied(s) => v.visit_str(s),
            },
            b'{' => {
                self.enter()?;
                let mut map = Map {
                    de: &mut *self,
                    first: true,
                    done: false,
                };
                let r = v.visit_map(&mut map);
                let done = map.done;
                self.depth -= 1;
                match r {
                    Ok(_) if !done => self.fail(self.pos, "expected the end of the object"),
                    r => r,
                }
            }
            b'[' => {
                self.enter()?;
                let mut seq = Seq {
                    de: &mut *self,
                    first: true,
                    done: false,
                };
                let r = v.visit_seq(&mut seq);
                let done = seq.done;
                self.depth -= 1;
                match r {
                    Ok(_) if !done => self.fail(self.pos, "expected the end of the array"),
                    r => r,
                }
            }
            b'n' => self.literal(b"null").and_then(|_| v.visit_unit()),
            b't' => self.literal(b"true").and_then(|_| v.visit_bool(true)),
            b'f' => self.literal(b"false").and_then(|_| v.visit_bool(false)),
            b'-' | b'0'..=b'9' => self.number(v),
            _ => self.fail(start, "expected a JSON value"),
        };
        if r.is_err() {
            self.err_at.get_or_insert(start);
        }
        r
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.skip()?;
        v.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        let start = match name {
            RAW_TOKEN => {
                self.peek()?;
                self.pos
            }
            TEXT_TOKEN => match self.peek()? {
                b'"' | b'n' => return self.deserialize_any(v),
                _ => self.pos,
            },
            NUMBER_TEXT_TOKEN => match self.peek()? {
                b'-' | b'0'..=b'9' => {
                    let (text, _) = self.number_text()?;
                    return v.visit_borrowed_str(text);
                }
                _ => return self.deserialize_any(v),
            },
            _ => return v.visit_newtype_struct(self),
        };
        self.skip()?;
        let buf = self.buf;
        match std::str::from_utf8(&buf[start..self.pos]) {
            Ok(text) => v.visit_borrowed_str(text),
            Err(_) => self.fail(start, "invalid UTF-8"),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier
    }
}

struct Map<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    first: bool,
    done: bool,
}

impl<'de> MapAccess<'de> for &mut Map<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.done {
            return Ok(None);
        }
        let de = &mut *self.de;
        let mut b = de.peek()?;
        if b == b'}' {
            if self.first {
                de.pos += 1;
                self.done = true;
                return Ok(None);
            }
            return de.fail(de.pos, "trailing comma in an object");
        }
        if !self.first {
            if b != b',' {
                return de.fail(de.pos, "expected ',' or '}' in an object");
            }
            de.pos += 1;
            b = de.peek()?;
        }
        self.first = false;
        if b != b'"' {
            return de.fail(de.pos, "expected a key (a string) in an object");
        }
        // Keys are nearly always plain ASCII: hand those over borrowed, straight to the
        // visitor (every field of every record comes through here).
        let (buf, start) = (de.buf, de.pos + 1);
        let key = match string_scan(buf, start) {
            Ok((end, true)) if buf[end] == b'"' => {
                de.pos = end + 1;
                // SAFETY: the scan saw only ASCII bytes, which are valid UTF-8.
                let key = unsafe { std::str::from_utf8_unchecked(&buf[start..end]) };
                seed.deserialize(de::value::BorrowedStrDeserializer::<Error>::new(key))?
            }
            _ => seed.deserialize(&mut *de)?,
        };
        if de.peek()? != b':' {
            return de.fail(de.pos, "expected ':' after an object key");
        }
        de.pos += 1;
        Ok(Some(key))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let value = seed.deserialize(&mut *self.de)?;
        // Look for the end here so a visitor that stops at the last key ends the object.
        let de = &mut *self.de;
        if de.peek()? == b'}' {
            de.pos += 1;
            self.done = true;
        }
        Ok(value)
    }
}

struct Seq<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    first: bool,
    done: bool,
}

impl<'de> SeqAccess<'de> for &mut Seq<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.done {
            return Ok(None);
        }
        let de = &mut *self.de;
        let b = de.peek()?;
        if b == b']' {
            if self.first {
                de.pos += 1;
                self.done = true;
                return Ok(None);
            }
            return de.fail(de.pos, "trailing comma in an array");
        }
        if !self.first {
            if b != b',' {
                return de.fail(de.pos, "expected ',' or ']' in an array");
            }
            de.pos += 1;
        }
        self.first = false;
        let value = seed.deserialize(&mut *de)?;
        if de.peek()? == b']' {
            de.pos += 1;
            self.done = true;
        }
        Ok(Some(value))
    }
}
