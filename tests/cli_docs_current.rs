//! completions/ and man/ must match the clap definitions. To refresh them:
//! `UPDATE_DOCS=1 cargo test --test cli_docs_current`.

use std::path::Path;

use caproto::cli::docs::{render_all, stale_files, write_all};

#[test]
fn completions_and_man_pages_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_DOCS").is_some() {
        // CI checks what is committed; rewriting the files there would make
        // this test pass on stale files.
        assert!(
            std::env::var_os("CI").is_none_or(|v| v.is_empty()),
            "UPDATE_DOCS is set under CI: refusing to rewrite completions/ and man/"
        );
        write_all(root).unwrap();
    }
    let stale = stale_files(root).unwrap();
    assert!(
        stale.is_empty(),
        "stale generated files (run `UPDATE_DOCS=1 cargo test --test cli_docs_current`):\n  {}",
        stale
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

#[test]
fn a_changed_or_missing_file_is_reported() {
    let dir = std::env::temp_dir().join(format!("caproto-docs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_all(&dir).unwrap();
    assert_eq!(stale_files(&dir).unwrap(), Vec::<std::path::PathBuf>::new());
    let files = render_all().unwrap();
    assert!(files.len() >= 16, "4 tools x (3 shells + man)");
    std::fs::write(dir.join("man/caproto-get.1"), b"old").unwrap();
    std::fs::remove_file(dir.join("completions/_caproto-put")).unwrap();
    std::fs::write(dir.join("completions/leftover.bash"), b"").unwrap();
    let stale: Vec<String> = stale_files(&dir)
        .unwrap()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(
        stale,
        [
            "completions/_caproto-put",
            "completions/leftover.bash",
            "man/caproto-get.1"
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generated_docs_mention_caproto_flags() {
    let files = render_all().unwrap();
    let find = |name: &str| {
        let (_, b) = files.iter().find(|(p, _)| p.ends_with(name)).unwrap();
        String::from_utf8_lossy(b).into_owned()
    };
    let bash = find("caproto-get.bash");
    for flag in [
        "--terse",
        "--wide",
        "--list-types",
        "--lx",
        "--0x",
        "--no-repeater",
        "--log-pv",
    ] {
        assert!(bash.contains(flag), "{flag} missing from bash completion");
    }
    assert!(find("caproto-monitor.1").contains("mask"));
}

#[test]
fn every_binary_has_completions_and_a_man_page() {
    let bins = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
    let mut names: Vec<String> = std::fs::read_dir(&bins)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    let files = render_all().unwrap();
    for name in &names {
        for rel in [
            format!("completions/{name}.bash"),
            format!("completions/_{name}"),
            format!("completions/{name}.fish"),
            format!("man/{name}.1"),
        ] {
            assert!(
                files.iter().any(|(p, _)| *p == Path::new(&rel)),
                "{rel} is not generated: add {name}'s clap command to cli::docs::commands()"
            );
        }
    }
}
