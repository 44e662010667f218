//! Which vendor's export a file is, told by the keys of its first record.

use std::ops::Range;
use std::path::Path;

use super::load::{gzip_head, load, looks_like_json};
use super::records::{frame_loaded, locate};
use super::{de, frame, Candidate};
use crate::error::{Error, Result};

/// How much of a gzip file [`sniff`] decompresses to tell its format first.
const SNIFF_BYTES: u64 = 1 << 20;

/// The export formats cxkpi reads, told apart by the keys of the first record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Vendor {
    Ultimate,
    Dialpad,
    Anywhere365,
    SamespaceCalls,
    SamespaceLogs,
    SamespaceProductivity,
    SamespaceCsat,
}

/// Every format cxkpi reads.
pub const ALL: &[Vendor] = &[
    Vendor::Ultimate,
    Vendor::Dialpad,
    Vendor::Anywhere365,
    Vendor::SamespaceCalls,
    Vendor::SamespaceLogs,
    Vendor::SamespaceProductivity,
    Vendor::SamespaceCsat,
];

/// The format of one file, from its first record (`None`: not JSON, below a directory).
///
/// Most files are NDJSON, whose first line alone names the format: framing (and so paging
/// in) the whole file here, only for the read to frame it again, was a twentieth of an
/// ingest. Any other layout is framed whole, as the read will.
pub fn sniff(c: &Candidate) -> Result<Option<Vendor>> {
    // A gzip file's first MiB first: loading it whole decompressed all of it into memory
    // here (every new file at once, in parallel), and its read decompresses it again.
    if let Some(head) = gzip_head(&c.path, SNIFF_BYTES)? {
        if let Some(vendor) = first_line_vendor(&c.path, &head) {
            return Ok(Some(vendor));
        }
    }
    let bytes = load(&c.path)?;
    if c.from_dir && !looks_like_json(&bytes) {
        return Ok(None);
    }
    if let Some(vendor) = first_line_vendor(&c.path, &bytes) {
        return Ok(Some(vendor));
    }
    Ok(frame_loaded(c, bytes, ALL)?.map(|f| f.vendor))
}

/// The format told by the first line of `bytes`, when that line is a whole record (or
/// envelope) of a known vendor.
fn first_line_vendor(path: &Path, bytes: &[u8]) -> Option<Vendor> {
    let first = &bytes[..memchr::memchr(b'\n', bytes).map_or(bytes.len(), |i| i + 1)];
    frame::line_spans(first, &|_| ())
        .and_then(|s| frame::unwrap_envelopes(first, s).ok())
        .and_then(|spans| vendor_of(path, first, &spans, ALL).ok())
}

/// The Samespace reports: one directory may hold all of them.
pub const SAMESPACE: &[Vendor] = &[
    Vendor::SamespaceCalls,
    Vendor::SamespaceLogs,
    Vendor::SamespaceProductivity,
    Vendor::SamespaceCsat,
];

impl Vendor {
    /// The vendor's short name: Ultimate, Dialpad, Anywhere365, Samespace.
    pub fn short_name(self) -> &'static str {
        match self {
            Vendor::Ultimate => "Ultimate",
            Vendor::Dialpad => "Dialpad",
            Vendor::Anywhere365 => "Anywhere365",
            _ => "Samespace",
        }
    }

    /// The format's name with its article, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Ultimate => "an Ultimate / Zendesk AI agents export",
            Vendor::Dialpad => "a Dialpad Digital Engagement message dump",
            Vendor::Anywhere365 => "an Anywhere365 Insights Dialogues export",
            Vendor::SamespaceCalls
            | Vendor::SamespaceLogs
            | Vendor::SamespaceProductivity
            | Vendor::SamespaceCsat => "a Samespace report (calls, logs, productivity or CSAT)",
        }
    }
}

/// Detects the vendor from the keys of one record (case-insensitively).
pub fn detect(keys: &[String]) -> Option<Vendor> {
    let has = |k: &str| keys.iter().any(|x| x.eq_ignore_ascii_case(k));
    if has("conversation_id")
        && (has("conversation_status")
            || has("bot_id")
            || has("triggered_intent_replies")
            || has("conversation_start_time"))
    {
        return Some(Vendor::Ultimate);
    }
    if has("sessionid") && (has("ts") || has("customersessionid") || has("chattype")) {
        return Some(Vendor::Dialpad);
    }
    if has("id") && (has("outcome") || has("queueentertimestamp") || has("starttimestamp")) {
        return Some(Vendor::Anywhere365);
    }
    if has("csat") {
        return Some(Vendor::SamespaceCsat);
    }
    if has("uuid") && (has("answer_time") || has("hold_duration") || has("termination_cause")) {
        return Some(Vendor::SamespaceCalls);
    }
    if has("session_id") && (has("activity") || has("logout_reason") || has("session_duration")) {
        return Some(Vendor::SamespaceLogs);
    }
    if has("user") && (has("away_time") || has("acw") || has("asa") || has("acd")) {
        return Some(Vendor::SamespaceProductivity);
    }
    None
}

/// The top-level keys of a JSON object record (as written), for detection and error
/// messages; a record that is not a JSON object fails where it goes wrong. Values are
/// checked for structure only: the reader parses this record again, strictly in a full
/// read, and then names the field of a bad value.
pub fn record_keys(record: &[u8]) -> std::result::Result<Vec<String>, de::Failure> {
    let mut keys = Vec::new();
    let mut memo = de::KeyMemo::default();
    let mut d = de::Deserializer::new(record, 0).lenient();
    d.read(|d| {
        d.fields(
            "an object (a record)",
            &mut memo,
            |_| Some(()),
            |_, (), key| {
                keys.push(key.to_string());
                Ok(false)
            },
        )
    })?;
    d.expect_end()?;
    Ok(keys)
}

/// The format of a file, detected from its first record (the first of `vendors` if it has
/// none); an error when that is not one of `vendors`.
pub(super) fn vendor_of(
    path: &Path,
    bytes: &[u8],
    spans: &[Range<usize>],
    vendors: &[Vendor],
) -> Result<Vendor> {
    let Some(first) = spans.first() else {
        return Ok(vendors[0]);
    };
    // A first record that is not valid says so where it fails, not as "no keys".
    let keys = record_keys(&bytes[first.clone()]).map_err(|f| Error::Data {
        location: locate(path, bytes, first.start + f.offset),
        message: format!("the first record, read to tell the format: {}", f.message),
    })?;
    let detected = detect(&keys);
    if let Some(v) = detected.filter(|v| vendors.contains(v)) {
        return Ok(v);
    }
    let mut shown: Vec<&str> = keys.iter().map(String::as_str).take(8).collect();
    if keys.len() > 8 {
        shown.push("…");
    }
    let expected = if vendors.len() == ALL.len() {
        "a recognized export (Ultimate, Dialpad, Anywhere365 or Samespace)"
    } else {
        vendors[0].name()
    };
    match detected {
        Some(found) => Err(Error::OtherVendor {
            path: path.to_path_buf(),
            expected,
            found,
        }),
        None => Err(Error::Format {
            path: path.to_path_buf(),
            message: format!(
                "not {expected}: the first record has keys [{}]",
                shown.join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_ultimate_by_keys() {
        let keys =
            record_keys(br#"{"CONVERSATION_ID":"a","CONVERSATION_STATUS":"agent"}"#).unwrap();
        assert_eq!(detect(&keys), Some(Vendor::Ultimate));
        let keys = record_keys(br#"{"sessionid":"1.1","ts":1}"#).unwrap();
        assert_eq!(detect(&keys), Some(Vendor::Dialpad));
        let keys = record_keys(br#"{"Id":"1","StartTimestamp":"x","Outcome":"Accepted"}"#).unwrap();
        assert_eq!(detect(&keys), Some(Vendor::Anywhere365));
        let keys = record_keys(br#"{"_id":"1","csat":[]}"#).unwrap();
        assert_eq!(detect(&keys), Some(Vendor::SamespaceCsat));
        let keys = record_keys(br#"{"name":"x","value":1}"#).unwrap();
        assert_eq!(detect(&keys), None);
    }
}
