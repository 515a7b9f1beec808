#![no_main]
//! `cargo +nightly fuzz run snapshot`: see zablab_fuzz_harness::decoders::snapshot.
libfuzzer_sys::fuzz_target!(|data: &[u8]| zablab_fuzz_harness::decoders::snapshot(data));
