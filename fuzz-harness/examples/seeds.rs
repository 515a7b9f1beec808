//! Writes the seed inputs ([`zablab_fuzz_harness::seeds`]) to `DIR/<target>/seed-<n>`, e.g.
//! `cargo run -p zablab-fuzz-harness --example seeds -- fuzz/corpus` before the first
//! `cargo +nightly fuzz run`.

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus".into());
    let mut n = 0;
    for (i, (target, bytes)) in zablab_fuzz_harness::seeds::seeds().into_iter().enumerate() {
        let d = std::path::Path::new(&dir).join(target);
        std::fs::create_dir_all(&d).expect("create the corpus directory");
        std::fs::write(d.join(format!("seed-{i:03}")), bytes).expect("write a seed");
        n += 1;
    }
    println!("wrote {n} seeds under {dir}");
}
