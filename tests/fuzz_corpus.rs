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

/// The capture target's file formats: the same records written as legacy pcap and pcapng,
/// little- and big-endian (`targets::capture_file`), and the real captures (tcpdump's pcap and
/// dpkt's pcapng of it, both byte orders) decode to the same messages with no problem, so the
/// fuzzer's pcapng and big-endian inputs start from files the decoder reads, not from noise.
#[test]
fn capture_formats_decode_alike() {
    use caproto::capture::{Config, Decoder};
    let decode = |file: &[u8], port: u16| {
        let config = Config {
            server_ports: vec![port],
            ..Config::default()
        };
        let mut decoder = Decoder::new(config);
        decoder.handle_bytes(file, &mut |_| {});
        decoder.handle_eof(&mut |_| {});
        let c = decoder.counters();
        (c.messages, c.problems)
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/capture_decode");
    let read = |name: &str| std::fs::read(dir.join(name)).expect(name);
    let records = &read("golden_epics_ethernet_whole")[2..];
    let per_format: Vec<(u64, u64)> = (0..4)
        .map(|format| decode(&targets::capture_file(format, 1, records), 5064))
        .collect();
    assert!(per_format[0].0 > 20, "{per_format:?}");
    assert!(
        per_format.iter().all(|d| *d == (per_format[0].0, 0)),
        "messages, problems per format (pcap LE, pcap BE, pcapng LE, pcapng BE): {per_format:?}"
    );
    let real: Vec<(u64, u64)> = [
        "real_pcap_whole",
        "real_pcapng_whole",
        "real_pcapng_be_whole",
    ]
    .iter()
    .map(|name| {
        let input = read(name);
        assert_eq!(input[1], 4, "{name}: format 4 (a whole file)");
        decode(&targets::capture_file(input[1], 1, &input[2..]), 27411)
    })
    .collect();
    assert!(real[0].0 > 20, "{real:?}");
    assert!(
        real.iter().all(|d| *d == (real[0].0, 0)),
        "messages, problems (tcpdump pcap, pcapng LE, pcapng BE): {real:?}"
    );
}
