//! Shell completions and man pages generated from the tools' clap
//! definitions. `completions/` and `man/` in the repository are the output of
//! [`render_all`]; the test `cli_docs_current` fails, listing stale files,
//! when they drift (`UPDATE_DOCS=1 cargo test --test cli_docs_current`
//! rewrites them).

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::args::get::GetArgs;
use crate::cli::args::info::InfoArgs;
use crate::cli::args::ioc::IocArgs;
use crate::cli::args::monitor::MonitorArgs;
use crate::cli::args::put::PutArgs;
use crate::cli::args::repeater::RepeaterArgs;
use crate::cli::args::shark::SharkArgs;

/// The clap commands of every tool, named as their binaries.
pub fn commands() -> Vec<clap::Command> {
    vec![
        GetArgs::command(),
        PutArgs::command(),
        MonitorArgs::command(),
        RepeaterArgs::command(),
        IocArgs::command(),
        InfoArgs::command(),
        SharkArgs::command(),
    ]
}

/// Every generated file: its path relative to the repository root, and its bytes.
pub fn render_all() -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    for cmd in commands() {
        let name = cmd.get_name().to_string();
        for (shell, file) in [
            (Shell::Bash, format!("{name}.bash")),
            (Shell::Zsh, format!("_{name}")),
            (Shell::Fish, format!("{name}.fish")),
        ] {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd.clone(), name.clone(), &mut buf);
            files.push((Path::new("completions").join(file), buf));
        }
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
        files.push((Path::new("man").join(format!("{name}.1")), page));
    }
    Ok(files)
}

/// Files under `root` that differ from what [`render_all`] produces, are
/// missing, or are in `completions/` or `man/` without being generated.
pub fn stale_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let files = render_all()?;
    let mut stale = Vec::new();
    for (rel, bytes) in &files {
        match std::fs::read(root.join(rel)) {
            Ok(current) if current == *bytes => {}
            _ => stale.push(rel.clone()),
        }
    }
    for dir in ["completions", "man"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let rel = Path::new(dir).join(entry.file_name());
            if !files.iter().any(|(p, _)| *p == rel) {
                stale.push(rel);
            }
        }
    }
    stale.sort();
    Ok(stale)
}

/// Write every generated file under `root` (creating the folders).
pub fn write_all(root: &Path) -> std::io::Result<()> {
    for (rel, bytes) in render_all()? {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, bytes)?;
    }
    Ok(())
}
