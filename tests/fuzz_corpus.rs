//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the
//! fuzz targets' own functions under `cargo test`, so every input the
//! fuzzers kept, and every seed taken from real peer traffic (`golden_*`,
//! written by scripts/golden/seed_fuzz_corpus.py from tests/golden), stays
//! handled after any change. The target code is the fuzz crate's, included
//! by path (it uses only the `caproto` crate).

#[path = "../fuzz/src/peer_targets.rs"]
mod peer_targets;
#[allow(dead_code)] // prefix_len is for the fuzz crate's mutator
#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::path::Path;

#[test]
fn every_corpus_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut failures = Vec::new();
    for target in targets::TARGETS {
        let dir = root.join(target.name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no corpus for {}: {} ({e})", target.name, dir.display()))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let golden = files
            .iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("golden_"))
            })
            .count();
        assert!(
            golden > 0,
            "{}: no golden_* seeds from peer traffic; run scripts/golden/seed_fuzz_corpus.py",
            target.name
        );
        for path in &files {
            let data = std::fs::read(path).expect("read corpus file");
            let run = target.run;
            if let Err(e) = std::panic::catch_unwind(move || run(&data)) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: {msg}", path.display()));
            }
        }
        eprintln!("{}: {} inputs ({golden} golden)", target.name, files.len());
    }
    assert!(
        failures.is_empty(),
        "corpus inputs that fail:\n{}",
        failures.join("\n")
    );
}
