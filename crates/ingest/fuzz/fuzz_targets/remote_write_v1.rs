//! Fuzzes the `remote_write_v1` decoder; see `wk_ingest::fuzz_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wk_ingest::fuzz_decode("remote_write_v1", data);
});
