//! Plain-Rust bounded fuzz driver: runs on a stable toolchain without
//! libFuzzer. For each target it loads the corpus (or the built-in seeds),
//! applies structure-aware mutations from a seeded PRNG for a fixed time, and
//! reports every distinct panic (saved to `fuzz/artifacts/<target>/`).
//! A guard allocator turns any single allocation above 64 MiB into a finding
//! (decoders must not trust counts from the wire), and a watchdog reports an
//! input that runs for more than 10 s as a hang.
//!
//! Usage: `bounded [--secs N] [--seed S] [--corpus DIR] [--artifacts DIR] [TARGET...]`
//!        `bounded --replay TARGET FILE...`   (run saved inputs once, e.g. a crash)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use caproto_fuzz::mutate::mutate;
use caproto_fuzz::rng::Rng;
use caproto_fuzz::{Target, TARGETS};

/// Largest single allocation a target may make.
const ALLOC_LIMIT: usize = 64 << 20;
/// Largest input kept for artifacts (mutate caps inputs at 1 MiB).
const MAX_INPUT: usize = 1 << 20;
/// An input running longer than this is a hang.
const HANG_SECS: u64 = 10;

/// The input being run, readable from the allocator and the watchdog without
/// allocating or locking. Only the main thread writes it, between runs.
struct Current {
    len: AtomicUsize,
    target: AtomicUsize,
    buf: UnsafeCell<[u8; MAX_INPUT]>,
}
// SAFETY: written only by the main thread while no target runs; read by the
// allocator on the same thread, or by the watchdog once the main thread is stuck.
unsafe impl Sync for Current {}

static CURRENT: Current = Current {
    len: AtomicUsize::new(0),
    target: AtomicUsize::new(0),
    buf: UnsafeCell::new([0; MAX_INPUT]),
};
static ARTIFACTS: Mutex<Option<PathBuf>> = Mutex::new(None);
static RUNS: AtomicU64 = AtomicU64::new(0);

fn set_current(target: usize, input: &[u8]) {
    let n = input.len().min(MAX_INPUT);
    // SAFETY: see `Current`.
    unsafe { (&mut *CURRENT.buf.get())[..n].copy_from_slice(&input[..n]) };
    CURRENT.len.store(n, Ordering::Release);
    CURRENT.target.store(target, Ordering::Release);
}

fn current() -> Vec<u8> {
    let n = CURRENT.len.load(Ordering::Acquire);
    // SAFETY: see `Current`.
    unsafe { (&*CURRENT.buf.get())[..n].to_vec() }
}

/// Saves the current input as `<kind>-<hash>` and returns the path.
fn save_current(kind: &str) -> Option<PathBuf> {
    let input = current();
    let dir = ARTIFACTS.lock().ok()?.clone()?;
    let name = TARGETS.get(CURRENT.target.load(Ordering::Acquire))?.name;
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{kind}-{:016x}", fnv(&input)));
    std::fs::write(&path, &input).ok()?;
    Some(path)
}

struct Guard;

thread_local! {
    static IN_GUARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOC_LIMIT && !IN_GUARD.with(|g| g.replace(true)) {
            let path = save_current("oom");
            eprintln!(
                "bounded: FOUND huge allocation of {} bytes in target {}; input saved to {}",
                layout.size(),
                TARGETS[CURRENT.target.load(Ordering::Acquire)].name,
                path.map(|p| p.display().to_string()).unwrap_or_default()
            );
            std::process::exit(2);
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > ALLOC_LIMIT {
            let big = Layout::from_size_align_unchecked(new_size, layout.align());
            return self.alloc(big); // reports and exits
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Guard = Guard;

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "(non-string panic)".to_string()
        };
        let loc = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut slot) = LAST_PANIC.lock() {
            *slot = Some((loc, msg));
        }
    }));
}

fn start_watchdog() {
    std::thread::spawn(|| {
        let mut last = RUNS.load(Ordering::Relaxed);
        let mut since = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let now = RUNS.load(Ordering::Relaxed);
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() > Duration::from_secs(HANG_SECS) {
                let path = save_current("timeout");
                eprintln!(
                    "bounded: FOUND hang (> {HANG_SECS} s on one input) in target {}; input saved to {}",
                    TARGETS[CURRENT.target.load(Ordering::Acquire)].name,
                    path.map(|p| p.display().to_string()).unwrap_or_default()
                );
                std::process::exit(3);
            }
        }
    });
}

/// Runs one input; returns the panic location and message if it panicked.
fn run_one(index: usize, target: &Target, input: &[u8]) -> Option<(String, String)> {
    set_current(index, input);
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    RUNS.fetch_add(1, Ordering::Relaxed);
    match result {
        Ok(()) => None,
        Err(_) => Some(
            LAST_PANIC
                .lock()
                .ok()
                .and_then(|mut s| s.take())
                .unwrap_or_default(),
        ),
    }
}

fn load_dir(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    files
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

struct Options {
    secs: f64,
    seed: u64,
    corpus: PathBuf,
    artifacts: PathBuf,
    targets: Vec<usize>,
    replay: Vec<PathBuf>,
}

fn parse() -> Result<Options, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut o = Options {
        secs: std::env::var("FUZZ_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60.0),
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        corpus: root.join("corpus"),
        artifacts: root.join("artifacts"),
        targets: Vec::new(),
        replay: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    let mut replay = false;
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--secs" => {
                o.secs = value("--secs")?
                    .parse()
                    .map_err(|e| format!("--secs: {e}"))?
            }
            "--seed" => {
                o.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--corpus" => o.corpus = value("--corpus")?.into(),
            "--artifacts" => o.artifacts = value("--artifacts")?.into(),
            "--replay" => replay = true,
            name if replay && !o.targets.is_empty() => o.replay.push(name.into()),
            name => match TARGETS.iter().position(|t| t.name == name) {
                Some(i) => o.targets.push(i),
                None => return Err(format!("unknown target {name:?}")),
            },
        }
    }
    if o.targets.is_empty() {
        o.targets = (0..TARGETS.len()).collect();
    }
    if replay && (o.targets.len() != 1 || o.replay.is_empty()) {
        return Err("--replay needs one TARGET and at least one FILE".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    let opts = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bounded: {e}");
            return ExitCode::from(64);
        }
    };
    install_panic_hook();
    if let Ok(mut a) = ARTIFACTS.lock() {
        *a = Some(opts.artifacts.clone());
    }
    start_watchdog();
    if !opts.replay.is_empty() {
        let index = opts.targets[0];
        let mut failed = false;
        for file in &opts.replay {
            let input = std::fs::read(file).unwrap_or_default();
            match run_one(index, &TARGETS[index], &input) {
                Some((loc, msg)) => {
                    failed = true;
                    println!("{}: PANIC at {loc}: {msg}", file.display());
                }
                None => println!("{}: ok", file.display()),
            }
        }
        return if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    println!("bounded: seed {} ({} s per target)", opts.seed, opts.secs);
    let mut found = 0usize;
    for &index in &opts.targets {
        found += fuzz_target(index, &opts);
    }
    if found > 0 {
        println!("bounded: {found} distinct crash(es) found");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Fuzzes one target for the configured time; returns distinct crashes found.
fn fuzz_target(index: usize, opts: &Options) -> usize {
    let target = &TARGETS[index];
    let mut pool = load_dir(&opts.corpus.join(target.name));
    let from_disk = pool.len();
    if pool.is_empty() {
        pool = caproto_fuzz::seeds::for_target(target.name)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
    }
    let seeds = pool.len();
    let mut rng = Rng::new(opts.seed ^ fnv(target.name.as_bytes()));
    let mut crashes: BTreeMap<String, (String, PathBuf)> = BTreeMap::new();
    let mut report = |input: &[u8], loc: String, msg: String| {
        if crashes.contains_key(&loc) {
            return;
        }
        let path = save_current("crash").unwrap_or_default();
        println!(
            "bounded: FOUND panic in {} at {loc}: {msg}\n  input ({} bytes) saved to {}\n  first bytes: {:02x?}",
            target.name,
            input.len(),
            path.display(),
            &input[..input.len().min(48)]
        );
        crashes.insert(loc, (msg, path));
    };
    // Every seed once, as is.
    for input in pool.clone() {
        if let Some((loc, msg)) = run_one(index, target, &input) {
            report(&input, loc, msg);
        }
    }
    let start = Instant::now();
    let budget = Duration::from_secs_f64(opts.secs.max(0.0));
    let mut runs = 0u64;
    let mut input = Vec::new();
    while start.elapsed() < budget {
        for _ in 0..256 {
            input.clear();
            input.extend_from_slice(&pool[rng.below(pool.len())]);
            mutate(&mut rng, &mut input, target.prefix_len, &pool);
            if let Some((loc, msg)) = run_one(index, target, &input) {
                report(&input, loc, msg);
            } else if rng.one_in(64) && pool.len() < seeds + 4096 {
                // Keep some mutants so mutations stack across generations.
                pool.push(input.clone());
            }
            runs += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "bounded: {:<15} {runs:>10} runs in {secs:.1} s ({:.0}/s), {} seeds ({} from corpus), {} distinct crash(es)",
        target.name,
        runs as f64 / secs.max(1e-9),
        seeds,
        from_disk,
        crashes.len()
    );
    crashes.len()
}
