#![no_main]
//! `cargo +nightly fuzz run client_connect`: see zablab_fuzz_harness::decoders::client_connect.
libfuzzer_sys::fuzz_target!(|data: &[u8]| zablab_fuzz_harness::decoders::client_connect(data));
