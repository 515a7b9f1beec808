#![no_main]
//! `cargo +nightly fuzz run election`: see zablab_fuzz_harness::decoders::election.
libfuzzer_sys::fuzz_target!(|data: &[u8]| zablab_fuzz_harness::decoders::election(data));
