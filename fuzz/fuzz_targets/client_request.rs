#![no_main]
//! `cargo +nightly fuzz run client_request`: see zablab_fuzz_harness::decoders::client_request.
libfuzzer_sys::fuzz_target!(|data: &[u8]| zablab_fuzz_harness::decoders::client_request(data));
