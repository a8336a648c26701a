//! Fuzzes the `otlp_json` decoder; see `wk_ingest::fuzz_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wk_ingest::fuzz_decode("otlp_json", data);
});
