//! `source::de` against serde_json: same acceptance, same values (`cxkpi::fuzz::check_json`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cxkpi::fuzz::check_json(data);
});
