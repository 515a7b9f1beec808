#![no_main]
//! `cargo +nightly fuzz run peer`: see zablab_fuzz_harness::peer::peer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| zablab_fuzz_harness::peer::peer(data));
