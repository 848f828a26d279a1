//! Writes the seed inputs of every target to `fuzz/corpus/<target>/<name>`
//! (existing files with other names are kept). Run from the `fuzz` folder:
//! `cargo run --bin gen-corpus`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for target in caproto_fuzz::TARGETS {
        let dir = root.join(target.name);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("gen-corpus: cannot create {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        let seeds = caproto_fuzz::seeds::for_target(target.name);
        for (name, bytes) in &seeds {
            let path = dir.join(name);
            if let Err(e) = std::fs::write(&path, bytes) {
                eprintln!("gen-corpus: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        println!(
            "{}: {} seeds in {}",
            target.name,
            seeds.len(),
            dir.display()
        );
    }
    ExitCode::SUCCESS
}
