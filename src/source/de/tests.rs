use super::number::*;
use super::scan::*;
use super::*;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;

/// A small deterministic generator (xorshift), so the tests need no crate.
fn bytes(seed: u64, n: usize, alphabet: &[u8]) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % alphabet.len() as u64) as usize]
        })
        .collect()
}

#[test]
fn block_classification_matches_the_byte_by_byte_one() {
    let all: Vec<u8> = (0..=255).collect();
    for seed in 0..200 {
        let b: [u8; 64] = bytes(seed, 64, &all).try_into().unwrap();
        assert_eq!(classify(&b), classify_scalar(&b));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            assert_eq!(unsafe { classify_avx2(&b) }, classify_scalar(&b));
        }
    }
}

#[test]
fn string_scans_agree_with_the_byte_by_byte_one() {
    for seed in 0..2000 {
        let b = bytes(seed, 1 + seed as usize % 70, b"abcdefgh\"\\\x01\xc3\xa9");
        for start in [0, 1, 5].into_iter().filter(|s| *s < b.len()) {
            assert_eq!(
                string_scan(&b, start),
                string_scan_bytes(&b, start, true, start),
                "{b:?} from {start}"
            );
        }
    }
}

#[test]
fn prefix_xor_by_multiplication_matches_the_shifts() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("pclmulqdq") {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for v in [x, x & x >> 3, 1 << (x % 64), 0, !0] {
                // SAFETY: the CPU supports PCLMULQDQ, checked above.
                assert_eq!(unsafe { prefix_xor_clmul(v) }, prefix_xor(v), "{v:#x}");
            }
        }
    }
}

#[test]
fn short_string_ends_agree_with_the_full_scan() {
    let (mut short, mut long) = (0, 0);
    for seed in 0..3000 {
        let alphabet: &[u8] = match seed % 3 {
            0 => b"abcdefgh\\\"\"\x01\xc3\xa9",
            _ => b"abcdefghijklmnopqrstuvwxyz0123456789\"\\\x01\xc3\xa9",
        };
        let b = bytes(seed, 1 + seed as usize % 60, alphabet);
        for start in [1, 2, 7].into_iter().filter(|s| *s <= b.len()) {
            if let Some(end) = short_string_end(&b, start, false) {
                assert_eq!(Ok(end), string_end(&b, start), "{b:?} from {start}");
                short += 1;
                long += usize::from(end > start + 17);
            }
            if let Some(end) = short_string_end(&b, start, true) {
                assert_eq!(string_scan(&b, start), Ok((end - 1, true)), "{b:?}");
            }
        }
    }
    assert!(
        short > 500 && long > 50,
        "the generator makes short strings too ({short}, {long} past 16 bytes)"
    );
}

#[test]
fn string_ends_agree_with_a_byte_walk() {
    // Reference: the walk `string_end` replaces; a backslash skips the byte after it.
    fn walk(b: &[u8], mut i: usize) -> Result<usize, ScanError> {
        let open = i.saturating_sub(1);
        while i < b.len() {
            match b[i] {
                b'"' => return Ok(i + 1),
                b'\\' => i += 2,
                0..=0x1f => return Err((i.max(open), "control character inside a string")),
                _ => i += 1,
            }
        }
        Err((
            open,
            "unexpected end of input inside a string (truncated file?)",
        ))
    }
    let mut ended = 0;
    for seed in 0..3000 {
        let b = bytes(
            seed,
            1 + seed as usize % 200,
            b"abcdefgh\\\\\\\"\x01\xc3\xa9",
        );
        for start in [1, 2, 7].into_iter().filter(|s| *s <= b.len()) {
            let r = string_end(&b, start);
            assert_eq!(r, walk(&b, start), "{b:?} from {start}");
            ended += usize::from(r.is_ok());
        }
    }
    assert!(ended > 1000, "the generator closes strings too ({ended})");
}

#[test]
fn escapes_are_found_across_block_boundaries() {
    // Reference: walk the bytes, a backslash escapes the next byte unless escaped itself.
    for seed in 0..300 {
        let b = bytes(seed, 256, b"\\\\\\a\"");
        let mut expected = vec![false; b.len()];
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && i + 1 < b.len() {
                expected[i + 1] = true;
                i += 2;
            } else {
                i += 1;
            }
        }
        let mut carry = 0;
        for (k, chunk) in b.chunks(64).enumerate() {
            let m = classify_scalar(&chunk.try_into().unwrap());
            let e = escaped(m.backslash, &mut carry);
            for j in 0..64 {
                assert_eq!(
                    e >> j & 1 == 1,
                    expected[64 * k + j],
                    "seed {seed} at {}",
                    64 * k + j
                );
            }
        }
    }
}

#[test]
fn containers_end_where_a_byte_walk_says() {
    // Reference: the straightforward walk the block scanner replaces. (A backslash
    // outside a string, invalid JSON anyway, escapes the next byte in both.)
    fn walk(b: &[u8]) -> Option<usize> {
        let (mut depth, mut i) = (0, 0);
        while i < b.len() {
            match b[i] {
                b'\\' => i += 1,
                b'"' => {
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                }
                b'[' => depth += 1,
                b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }
    let mut found = 0;
    for seed in 0..3000 {
        let mut b = b"[".to_vec();
        b.extend(bytes(seed, 50 + (seed as usize % 150), b"[]\"\\ab"));
        if let Some(end) = walk(&b) {
            found += 1;
            assert_eq!(
                container_end(&b, 0),
                Ok(end),
                "{}",
                String::from_utf8_lossy(&b)
            );
        } else {
            assert!(container_end(&b, 0).is_err());
        }
    }
    assert!(
        found > 100,
        "the generator makes closed arrays too ({found})"
    );
    for n in 0..130 {
        let s = format!("{{\"{}\":[1]}}", "é".repeat(n));
        assert_eq!(container_end(s.as_bytes(), 0), Ok(s.len()));
        assert_eq!(string_end(s.as_bytes(), 2), Ok(3 + 2 * n));
    }
    assert!(container_end(b"[\"a\nb\"]", 0).is_err());
}

#[test]
fn values_of_every_kind() {
    let v: BTreeMap<String, serde_json::Value> = from_str(
        r#" {"s":"a\"b\\c\u00e9\ud83d\ude00\n", "i":-12, "u":18446744073709551615,
            "f":1.5e3, "t":true, "n":null, "a":[1,[2,{"x":[]}]], "o":{} } "#,
    )
    .unwrap();
    assert_eq!(v["s"], "a\"b\\cé😀\n");
    assert_eq!(v["i"], -12);
    assert_eq!(v["u"], u64::MAX);
    assert_eq!(v["f"], 1500.0);
    assert_eq!(v["t"], true);
    assert!(v["n"].is_null());
    assert_eq!(v["a"], serde_json::json!([1, [2, {"x": []}]]));
    assert_eq!(v["o"], serde_json::json!({}));
    let raw: BTreeMap<&str, Raw> = from_str(r#"{"a": [1, "]"] , "b":12.10}"#).unwrap();
    assert_eq!(raw["a"].0, r#"[1, "]"]"#);
    assert_eq!(raw["b"].0, "12.10");
}

#[test]
fn numbers_are_correctly_rounded_and_the_skip_is_strict_unless_lenient() {
    for text in [
        "184467446744073709551615",
        "18446744073767440737161518446744073709551616",
        "0.1",
        "2.2250738585072011e-308",
        "-9223372036854775809",
    ] {
        let v: f64 = from_str(text).unwrap();
        assert_eq!(v, text.parse::<f64>().unwrap(), "{text}");
    }
    for bad in [
        "[tru]",
        "[1,]",
        "[01]",
        r#"["\u+041"]"#,
        r#"["\q"]"#,
        "{1:1}",
    ] {
        assert!(from_str::<de::IgnoredAny>(bad).is_err(), "strict: {bad}");
    }
    // Lenient: structure only.
    let mut d = Deserializer::new(b"[tru, 01, 1e]", 0).lenient();
    assert!(d
        .read(|d| de::Deserialize::deserialize(&mut *d).map(|_: de::IgnoredAny| ()))
        .is_ok());
    let mut d = Deserializer::new(b"[1, [2]", 0).lenient();
    assert!(d
        .read(|d| de::Deserialize::deserialize(&mut *d).map(|_: de::IgnoredAny| ()))
        .is_err());
}

/// The short path must give what the general one gives, bit for bit, and end where it
/// ends: on the edges of its limits (19 digits, 2^53, -2^63, a fraction of 18 digits)
/// and on random numbers of every shape.
#[test]
fn short_numbers_read_as_the_general_path_reads_them() {
    // The value parsed from the text, and where the number ends.
    let general = |text: &str| {
        let mut d = Deserializer::new(text.as_bytes(), 0);
        let n = d
            .number_text()
            .and_then(|(t, float)| d.parsed_number(0, t, float))
            .ok();
        (n, d.pos)
    };
    let short_number = |buf: &[u8], start: usize| {
        scan_number(buf, start).and_then(|s| s.exact.map(|n| (n, s.end)))
    };
    let same = |a: Number, b: Number| match (a, b) {
        (Number::F64(x), Number::F64(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    };
    let mut texts: Vec<String> = [
        "0",
        "-0",
        "0.0",
        "-0.0",
        "1",
        "-1",
        "0.1",
        "0.3",
        "37.855",
        "-2.5",
        "1.000",
        "01",
        "1.",
        "-",
        "1e5",
        "1.5E-3",
        "9999999999999999999",
        "-9999999999999999999",
        "10000000000000000000",
        "18446744073709551615",
        "9223372036854775807",
        "-9223372036854775808",
        "-9223372036854775809",
        "9007199254740992.0",
        "9007199254740993.0",
        "900719925474099.3",
        "0.000000000000000001",
        "0.9007199254740993",
        "123456789012345678.9",
        "1.7976931348623157",
        "5,",
        "7}",
        "2.5 ",
        "3.25]",
    ]
    .iter()
    .map(|t| t.to_string())
    .collect();
    let fixed = texts.len();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let digits = |n: u64, r: u64| -> String {
            (0..n)
                .map(|k| char::from(b'0' + ((r >> (k % 60)) % 10) as u8))
                .collect()
        };
        let r = next();
        let mut t = String::new();
        if r & 1 == 1 {
            t.push('-');
        }
        t += &digits(1 + (r >> 1) % 21, next());
        if r & 2 == 2 {
            t.push('.');
            t += &digits(1 + (r >> 8) % 21, next());
        }
        if r & 4 == 4 && r & 8 == 8 {
            t += "e-7";
        }
        texts.push(t);
    }
    let mut short = 0;
    for t in &texts {
        let Some((n, end)) = short_number(t.as_bytes(), 0) else {
            continue;
        };
        short += 1;
        let (g, g_end) = general(t);
        assert!(g.is_some_and(|g| same(n, g)), "{t}: {n:?} against {g:?}");
        assert_eq!(end, g_end, "{t}");
    }
    // The short path is taken for most of them (a test of nothing otherwise).
    assert!(short > texts.len() / 3, "{short} of {}", texts.len());
    // Inside a record: the number ends where its text does (found here without the
    // scan: the random numbers are JSON's but for an integer part with a leading zero,
    // which ends after that zero), and its value is the one it has alone.
    for t in &texts[fixed..] {
        let int = t.trim_start_matches('-');
        let leading_zero =
            int.starts_with('0') && int.as_bytes()[1..].first().is_some_and(u8::is_ascii_digit);
        let want_end = 5 + t.len() - if leading_zero { int.len() - 1 } else { 0 };
        for after in [
            ",\"k\":12345678}",
            "}\n{\"a\":1}",
            "]    ",
            " 9999999",
            "x0",
        ] {
            let buf = format!("{{\"a\":{t}{after}");
            let inside = scan_number(buf.as_bytes(), 5);
            assert_eq!(inside.as_ref().map(|s| s.end), Some(want_end), "{buf}");
            let alone = short_number(t.as_bytes(), 0).map(|(n, _)| n);
            let inside = inside.and_then(|s| s.exact);
            match (inside, alone) {
                (Some(a), Some(b)) => assert!(same(a, b), "{buf}: {a:?} against {b:?}"),
                (a, b) => assert_eq!(a.is_none(), b.is_none(), "{buf}"),
            }
        }
    }
    for t in [
        "1e5",
        "01.5",
        "-",
        "1.",
        "10000000000000000000",
        "9007199254740993.0",
    ] {
        let taken = short_number(t.as_bytes(), 0).map(|(_, end)| end);
        assert!(taken.is_none_or(|end| end < t.len()), "{t} is not short");
    }
}

#[test]
fn errors_point_at_the_failing_value() {
    let text = r#"{"a": 1, "b": [1, 2 3]}"#;
    let e = from_str::<serde_json::Value>(text).unwrap_err();
    assert_eq!(e.offset, text.find(" 3").unwrap() + 1, "{e:?}");
    let e = from_str::<BTreeMap<String, u32>>(r#"{"a": 1, "b": "x"}"#).unwrap_err();
    assert_eq!(e.offset, 14, "{e:?}");
    assert!(e.message.contains("invalid type"), "{e:?}");
    for bad in [
        r#"{"a":1,}"#,
        r#"{"a" 1}"#,
        r#"{"a":tru}"#,
        r#"{"a":"x"#,
        "{\"a\":\"x\ny\"}",
        r#"{"a":01}"#,
        r#"{"a":[1,]}"#,
        r#"{"a":1} x"#,
        r#"{"a":"\ud800"}"#,
        r#"{"a":"\q"}"#,
        r#"{"a":-}"#,
    ] {
        assert!(from_str::<serde_json::Value>(bad).is_err(), "{bad}");
    }
    // Skipped values are checked for structure.
    for bad in [r#"{"a":[1,{]}"#, r#"{"a":[1,"]}"#, r#"{"a":[[1]"#] {
        assert!(
            from_str::<BTreeMap<String, IgnoredAny>>(bad).is_err(),
            "{bad}"
        );
    }
    let deep = "[".repeat(200) + &"]".repeat(200);
    assert!(from_str::<serde_json::Value>(&deep).is_err());
    assert!(from_str::<IgnoredAny>(&deep).is_err());
}

/// Walks each object of `texts` with one memo, as a reader walks a chunk's records:
/// the (field, value) pairs read, or the first failure (offset, message).
fn walk(texts: &[&str]) -> Result<Vec<(u8, u64)>, (usize, String)> {
    walk_in(texts, true)
}

/// [`walk`], strict or lenient.
fn walk_in(texts: &[&str], strict: bool) -> Result<Vec<(u8, u64)>, (usize, String)> {
    let buf = texts.concat();
    let mut memo = KeyMemo::default();
    let mut out = Vec::new();
    let mut at = 0;
    for t in texts {
        let record = &buf.as_bytes()[at..at + t.len()];
        let resolve = |k: &str| match k {
            "a" => Some(b'a'),
            "b" => Some(b'b'),
            "c" => Some(b'c'),
            _ => None,
        };
        let mut d = Deserializer::new(record, 0);
        if !strict {
            d = d.lenient();
        }
        d.read(|d| {
            d.fields("a test object", &mut memo, resolve, |d, f, key| {
                out.push((f, d.value(key)?));
                Ok(f != b'c' || out.len() < 100)
            })
        })
        .and_then(|()| d.expect_end())
        .map_err(|e| (at + e.offset, e.message))?;
        at += t.len();
    }
    Ok(out)
}

#[test]
fn objects_walked_with_a_key_memo() {
    // The memo's guesses must never change what is read: keys left out, reordered,
    // in other cases, escaped, unknown (skipped whatever they hold), or a prefix of
    // another key.
    let texts = [
        r#"{"a":1,"B":2,"c":3}"#,
        r#"{"a":4,"c":5}"#,
        r#" { "c" : 6 , "a":7,"b":8,"x":[1,{"y":"}\""}],"ab":"q"} "#,
        r#"{"\u0061":9,"b\"":{"a":1},"A":10}"#,
        r#"{}"#,
        r#"{"aa":1,"a":11}"#,
        r#"{"x":[],"y":{},"z":[ ],"a":12,"w":{"a":[]},"b":13}"#,
    ];
    let read = walk(&texts).unwrap();
    let want: Vec<(u8, u64)> = [
        (b'a', 1),
        (b'b', 2),
        (b'c', 3),
        (b'a', 4),
        (b'c', 5),
        (b'c', 6),
        (b'a', 7),
        (b'b', 8),
        (b'a', 9),
        (b'a', 10),
        (b'a', 11),
        (b'a', 12),
        (b'b', 13),
    ]
    .to_vec();
    assert_eq!(read, want);
}

#[test]
fn keys_are_found_with_or_without_a_colon_right_after() {
    // A key's memo slot holds the colon when it was first met right after the key;
    // the same key met with space before its colon, in either order, reads the same.
    let texts = [
        r#"{"a" :1,"b": 2}"#,
        r#"{"a":3,"b":4}"#,
        r#"{ "b" : 5 , "a"	:6 }"#,
        r#"{"b":7,"a":8}"#,
    ];
    let want = [(b'a', 1), (b'b', 2), (b'a', 3), (b'b', 4)];
    let want = [&want[..], &[(b'b', 5), (b'a', 6), (b'b', 7), (b'a', 8)]].concat();
    assert_eq!(walk(&texts).unwrap(), want);
    assert_eq!(walk(&[r#"{"a":1}"#, r#"{"a"}"#]).unwrap_err().0, 11);
}

#[test]
fn keys_of_every_length_are_matched_exactly() {
    // Keys of 1 to 40 bytes, then the same keys with their last byte changed, then keys
    // one byte longer two ways, each followed by enough bytes that the 16-byte
    // comparisons apply.
    let key = |n: usize, last: char| format!("{}{last}", "k".repeat(n - 1));
    // `longer` adds a byte before the last one, `then` one after it (the old key is
    // then a prefix of the new one).
    let record = |last: char, longer: usize, then: &str| -> String {
        let fields: String = (1..=40)
            .map(|n| format!(r#""{}{then}":{n},"#, key(n + longer, last)))
            .collect();
        format!(r#"{{{fields}"pad":"{}"}}"#, "p".repeat(64))
    };
    let texts = [
        (record('z', 0, ""), 'z', 0),
        (record('z', 0, ""), 'z', 0),
        (record('y', 0, ""), 'y', 0),
        (record('z', 1, ""), 'z', 1),
        (record('z', 0, "x"), 'x', 1),
    ];
    let buf: String = texts.iter().map(|t| t.0.as_str()).collect();
    let mut memo = KeyMemo::default();
    let mut at = 0;
    for (t, last, longer) in &texts {
        let mut read = Vec::new();
        let resolve = |k: &str| Some((k.len(), k.as_bytes()[k.len() - 1]));
        from_slice_with(&buf.as_bytes()[at..at + t.len()], |d| {
            d.fields("a test object", &mut memo, resolve, |d, f, key| {
                if f.1 == b'd' {
                    return Ok(false); // "pad"
                }
                read.push((f, d.value::<usize>(key)?));
                Ok(true)
            })
        })
        .unwrap();
        at += t.len();
        let want: Vec<_> = (1..=40).map(|n| ((n + longer, *last as u8), n)).collect();
        assert_eq!(read, want, "{t}");
    }
}

#[test]
fn objects_with_more_keys_than_the_memo_holds() {
    // Unknown keys beyond the memo's bound clear it; the known ones are still found.
    let many: String = (0..300).map(|i| format!(r#""k{i}":{i},"#)).collect();
    let text = format!(r#"{{{many}"a":1,"b":2}}"#);
    let read = walk(&[&text, &text]).unwrap();
    assert_eq!(read, [(b'a', 1), (b'b', 2), (b'a', 1), (b'b', 2)]);
}

#[test]
fn skipped_literals_are_passed_over() {
    let text = r#"{"x":true,"a":1,"y":false,"z":null,"b":2,"w":[true,null]}"#;
    for strict in [true, false] {
        assert_eq!(walk_in(&[text], strict).unwrap(), [(b'a', 1), (b'b', 2)]);
    }
}

#[test]
fn object_walk_errors_point_at_the_spot() {
    let first = r#"{"a":1,"b":2}"#;
    for (bad, at, msg) in [
        ("[1]", 0, "expected a test object"),
        (r#"{"a":1,}"#, 7, "expected a key"),
        (r#"{"a" 1}"#, 5, "expected ':'"),
        (r#"{"a":1 "b":2}"#, 7, "expected ',' or '}'"),
        (r#"{"a":"x"}"#, 5, "field `a`: invalid type"),
        (r#"{"b":2,"x":[1}"#, 13, "mismatched closing bracket"),
        (r#"{"b":2,"x":[}"#, 12, "mismatched closing bracket"),
        (r#"{"b":2,"x":{]}"#, 12, "mismatched closing bracket"),
        (r#"{"a":1"#, 6, "unexpected end of input"),
        (r#"{"b":2,"x":tru}"#, 11, "expected a JSON value"),
        (r#"{"b":2,"x":nul,"a":1}"#, 11, "expected a JSON value"),
        (r#"{"b":2,"x":falsey}"#, 16, "expected ',' or '}'"),
    ] {
        // The structural skip (lenient) names the bracket; a skipped field is named.
        let (offset, message) = walk_in(&[first, bad], false).unwrap_err();
        assert_eq!(offset - first.len(), at, "{bad}: {message}");
        let message = message.trim_start_matches("field `x`: ");
        assert!(message.starts_with(msg), "{bad}: {message}");
        // The strict skip fails too, inside the bad record.
        let (offset, message) = walk_in(&[first, bad], true).unwrap_err();
        assert!(
            offset >= first.len() && offset <= first.len() + bad.len(),
            "{bad}: {message}"
        );
    }
}
