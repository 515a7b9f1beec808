//! Replays the checked-in regression corpora (`fuzz/regressions/<target>/*`) through the fuzz
//! targets' bodies on stable: every crash the fuzzers found (fixed since) and a few hundred small
//! inputs that reach the decoders' branches. A panic fails the test and names the file.

use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn every_target_has_a_regression_corpus_and_replays_it_without_a_panic() {
    let mut total = 0;
    for (name, body) in zablab_fuzz_harness::TARGETS {
        let inputs = files(&corpus_dir(name));
        assert!(
            inputs.len() >= 10,
            "{name}: only {} regression inputs",
            inputs.len()
        );
        for path in inputs {
            let data = std::fs::read(&path).expect("readable corpus file");
            let run = std::panic::catch_unwind(|| body(&data));
            assert!(run.is_ok(), "{name}: {} panicked", path.display());
            total += 1;
        }
    }
    println!("replayed {total} inputs");
}
