//! ASCII digits eight at a time: a word of input bytes (little-endian, so its low byte is
//! the first) checked and converted with integer arithmetic (SWAR), without a branch per
//! digit. The timestamp reader ([`super::json`]) reads a timestamp's clock and fraction
//! this way: the common shape's trims, searches and digit loops were 5% of a metrics run.
//!
//! (Tried for the runs of digits of JSON numbers as well, `37.855` or `100091`: no faster
//! than the byte loop against a fresh build of the same code, queue KPIs +1%, so the
//! number scan keeps its loop.)

/// Whether the bytes of `w` that `mask` covers (0xf0 each) are all ASCII digits: each is
/// 0x30–0x3f, and adding 6 keeps it there. Adding carries out of a byte only from 0xfa
/// up, and only into the byte above it: a covered byte has a covered or known byte below
/// it (a clock's colons are checked first), so no carry reaches one.
#[inline(always)]
pub fn digits_at(w: u64, mask: u64) -> bool {
    let zeros = 0x3030_3030_3030_3030 & mask;
    w & mask == zeros && w.wrapping_add(0x0606_0606_0606_0606) & mask == zeros
}

/// How many of the bytes of `w`, from the first, are ASCII digits before one that is not
/// (8 when all are). The test is [`digits_at`]'s for every byte; a carry out of a byte
/// (from 0xfa up, not a digit) reaches only bytes after the first non-digit, which are
/// not counted.
#[inline(always)]
pub fn leading(w: u64) -> usize {
    const HIGH: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let not_digit = (w & HIGH ^ ZEROS) | (w.wrapping_add(0x0606_0606_0606_0606) & HIGH ^ ZEROS);
    (not_digit.trailing_zeros() / 8) as usize
}

/// Each byte of a word of digits (and colons) with ten times its value plus the next
/// byte's: the value of the two-digit number that starts there. No byte carries: at most
/// 10 · 10 + 10 for a colon.
#[inline(always)]
pub fn pair_values(w: u64) -> u64 {
    let v = w.wrapping_sub(0x3030_3030_3030_3030);
    v.wrapping_mul(10).wrapping_add(v >> 8)
}

/// The number written by the first `n` bytes of `w`, 1 ≤ `n` ≤ 8, which must be digits
/// ([`leading`] or [`digits_at`] said so): moved to the top of the word behind zeros
/// (leading zeros change no value), then summed as pairs, fours, and the whole.
#[inline(always)]
pub fn value(w: u64, n: usize) -> u64 {
    debug_assert!((1..=8).contains(&n));
    // The subtraction borrows only from bytes past the `n` digits, which the shift drops.
    let v = w.wrapping_sub(0x3030_3030_3030_3030) << (64 - 8 * n);
    let pairs = v.wrapping_mul(10).wrapping_add(v >> 8) & 0x00ff_00ff_00ff_00ff;
    let fours = pairs.wrapping_mul(100).wrapping_add(pairs >> 16) & 0x0000_ffff_0000_ffff;
    fours.wrapping_mul(10_000).wrapping_add(fours >> 32) & 0xffff_ffff
}

/// The word of the eight bytes at `i`, when `buf` has them.
#[inline(always)]
pub fn word_at(buf: &[u8], i: usize) -> Option<u64> {
    let bytes: &[u8; 8] = buf.get(i..i.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(*bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(s: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        b[..s.len()].copy_from_slice(s);
        u64::from_le_bytes(b)
    }

    /// Every byte value at every position after a run of every length: the count and the
    /// value agree with a byte-by-byte reading.
    #[test]
    fn leading_digits_and_their_value_agree_with_a_byte_loop() {
        for len in 0..8 {
            for odd in 0..=255u8 {
                for fill in [b'0', b'9', b'5', 0xff, b'/', b':'] {
                    let mut b = [fill; 8];
                    for (k, c) in b.iter_mut().enumerate().take(len) {
                        *c = b"98765432"[(k + usize::from(odd)) % 8];
                    }
                    b[len] = odd;
                    let w = u64::from_le_bytes(b);
                    let want = b.iter().take_while(|c| c.is_ascii_digit()).count();
                    assert_eq!(leading(w), want, "{b:?}");
                    let text = std::str::from_utf8(&b[..want]).unwrap();
                    if want > 0 {
                        assert_eq!(value(w, want), text.parse::<u64>().unwrap(), "{b:?}");
                    }
                }
            }
        }
        assert_eq!(leading(word(b"12345678")), 8);
        assert_eq!(value(word(b"12345678"), 8), 12_345_678);
        assert_eq!(value(word(b"99999999"), 8), 99_999_999);
        assert_eq!(value(word(b"00000001"), 8), 1);
        assert_eq!(value(word(b"7"), 1), 7);
    }

    #[test]
    fn a_word_is_read_only_where_eight_bytes_are() {
        assert_eq!(word_at(b"12345678", 0), Some(word(b"12345678")));
        assert_eq!(word_at(b"12345678", 1), None);
        assert_eq!(word_at(b"x123456789", 2), Some(word(b"23456789")));
        assert_eq!(word_at(b"", usize::MAX), None);
    }
}
