#![no_main]
//! `cargo +nightly fuzz run client_reply`: see zablab_fuzz_harness::decoders::client_reply.
libfuzzer_sys::fuzz_target!(|data: &[u8]| zablab_fuzz_harness::decoders::client_reply(data));
