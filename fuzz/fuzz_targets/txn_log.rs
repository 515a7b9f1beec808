#![no_main]
//! `cargo +nightly fuzz run txn_log`: see zablab_fuzz_harness::decoders::txn_log.
libfuzzer_sys::fuzz_target!(|data: &[u8]| zablab_fuzz_harness::decoders::txn_log(data));
