#![no_main]
//! `cargo +nightly fuzz run zoo_cfg`: see zablab_fuzz_harness::decoders::zoo_cfg.
libfuzzer_sys::fuzz_target!(|data: &[u8]| zablab_fuzz_harness::decoders::zoo_cfg(data));
