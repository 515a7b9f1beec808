#![no_main]
//! `cargo +nightly fuzz run quorum_packet`: see zablab_fuzz_harness::decoders::quorum_packet.
libfuzzer_sys::fuzz_target!(|data: &[u8]| zablab_fuzz_harness::decoders::quorum_packet(data));
