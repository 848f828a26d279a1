//! `caproto-shark --top`: the live terminal view. The shell around the pure
//! [`TopModel`]:
//!
//! - a decoding thread reads the capture (a file, or standard input as written by
//!   `tcpdump -U -w -`) a chunk at a time and folds each chunk's events into the model under
//!   a lock taken once per chunk, never waiting for the screen;
//! - the main thread owns the terminal (ratatui on crossterm: raw mode and the alternate
//!   screen; keys come from the terminal even when standard input is the capture). It takes a
//!   [`Snapshot`](crate::capture::top::Snapshot) and draws it once a second, and at once
//!   after a key that changes the view;
//! - `q`, Esc or Ctrl-C (and SIGTERM, SIGHUP) leave the alternate screen and restore the
//!   terminal. When the input ends the view stays on the final picture, with rates averaged
//!   over the whole capture, until `q`.
//!
//! The capture second that rates are read at: on a live pipe, the last message's capture time
//! moved on by the wall time since it arrived (so a feed that goes quiet shows rates falling
//! to zero); on a file, the last message's time.

mod draw;

use std::io::{self, IsTerminal as _, Read};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};

use super::shark::{decoder_config, open_input, watch_termination};
use crate::capture::top::{Basis, SortKey, TopModel};
use crate::capture::{Config, Decoder, Timestamp};
use crate::cli::args::shark::SharkArgs;

/// Bytes read from the capture at a time.
const CHUNK: usize = 256 * 1024;

/// Time between two pictures.
const REFRESH: Duration = Duration::from_secs(1);

/// Where the input stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputState {
    /// Being read.
    Reading,
    /// Read to its end.
    Ended,
    /// Reading failed (the message says why).
    Failed(String),
}

/// What the decoding thread shares with the screen.
#[derive(Debug)]
struct Feed {
    model: TopModel,
    state: InputState,
    /// The last message's capture time and the wall time it was folded in.
    seen: (Timestamp, Instant),
}

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave.
    Quit,
    /// Sort by this column.
    Sort(SortKey),
}

/// The action of a key press given the current sort column.
pub fn key_action(code: KeyCode, mods: KeyModifiers, sort: SortKey) -> Option<Action> {
    match code {
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => Some(Action::Quit),
        KeyCode::Char('c') if mods.contains(KeyModifiers::CONTROL) => Some(Action::Quit),
        KeyCode::Char('s') | KeyCode::Tab => Some(Action::Sort(sort.next())),
        KeyCode::Char(c @ '1'..='5') => {
            Some(Action::Sort(SortKey::ALL[usize::from(c as u8 - b'1')]))
        }
        _ => None,
    }
}

/// The whole of `caproto-shark --top`.
pub fn run_top(args: &SharkArgs) -> ExitCode {
    if !io::stdout().is_terminal() {
        eprintln!("caproto-shark: error: --top draws on a terminal; standard output is not one");
        return ExitCode::from(2);
    }
    let Some(input) = open_input(args.file.as_deref()) else {
        return ExitCode::FAILURE;
    };
    let live = args.file.as_deref().is_none_or(|p| p == Path::new("-"));
    let source = match args.file.as_deref() {
        Some(p) if p != Path::new("-") => p.display().to_string(),
        _ => "standard input".to_owned(),
    };
    let feed = Arc::new(Mutex::new(Feed {
        model: TopModel::default(),
        state: InputState::Reading,
        seen: (Timestamp::default(), Instant::now()),
    }));
    let config = decoder_config(args, |k| std::env::var(k).ok());
    {
        let feed = Arc::clone(&feed);
        std::thread::spawn(move || decode(input, config, &feed));
    }
    let signal = watch_termination();
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            eprintln!("caproto-shark: error: cannot set up the terminal: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = show(&mut terminal, &feed, &signal, live, &source);
    ratatui::restore();
    if let Err(e) = result {
        eprintln!("caproto-shark: error: terminal: {e}");
        return ExitCode::FAILURE;
    }
    match signal.load(Ordering::SeqCst) {
        0 => ExitCode::SUCCESS,
        code => ExitCode::from(code),
    }
}

/// The decoding thread: reads chunks and folds their events into the model.
fn decode(mut input: Box<dyn Read + Send>, config: Config, feed: &Mutex<Feed>) {
    let mut decoder = Decoder::new(config);
    let mut buf = vec![0u8; CHUNK];
    let end = loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break InputState::Ended,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break InputState::Failed(e.to_string()),
        };
        let Ok(mut f) = feed.lock() else {
            return;
        };
        let model = &mut f.model;
        decoder.handle_bytes(&buf[..n], &mut |e| model.handle_event(&e));
        model.set_counters(decoder.counters());
        let last = model.last_time();
        if last != f.seen.0 {
            f.seen = (last, Instant::now());
        }
        if decoder.is_invalid() {
            break InputState::Failed("the input is not a pcap or pcapng capture".into());
        }
    };
    if let Ok(mut f) = feed.lock() {
        let model = &mut f.model;
        decoder.handle_eof(&mut |e| model.handle_event(&e));
        model.set_counters(decoder.counters());
        f.state = end;
    }
}

/// The screen loop: a picture a second, keys in between.
fn show(
    terminal: &mut ratatui::DefaultTerminal,
    feed: &Mutex<Feed>,
    signal: &AtomicU8,
    live: bool,
    source: &str,
) -> io::Result<()> {
    let mut sort = SortKey::default();
    let mut next = Instant::now();
    loop {
        if signal.load(Ordering::SeqCst) != 0 {
            return Ok(());
        }
        let now = Instant::now();
        if now >= next {
            let rows = usize::from(terminal.size()?.height);
            let picture = {
                let f = feed
                    .lock()
                    .map_err(|_| io::Error::other("the decoding thread failed"))?;
                let basis = match f.state {
                    InputState::Reading => {
                        let (last, at) = f.seen;
                        let moved = if live {
                            now.duration_since(at).as_secs()
                        } else {
                            0
                        };
                        Basis::LastSecond {
                            now: (last.secs.max(0) as u64).saturating_add(moved),
                        }
                    }
                    _ => Basis::Whole,
                };
                draw::Picture {
                    snapshot: f.model.snapshot(basis, sort, rows),
                    state: f.state.clone(),
                    source,
                }
            };
            terminal.draw(|frame| draw::render(frame, &picture))?;
            next = now + REFRESH;
        }
        // Wake at least every 200 ms to notice a signal.
        let wait = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(200));
        if event::poll(wait)? {
            if let TermEvent::Key(k) = event::read()? {
                if k.kind != KeyEventKind::Press {
                    continue;
                }
                match key_action(k.code, k.modifiers, sort) {
                    Some(Action::Quit) => return Ok(()),
                    Some(Action::Sort(s)) => {
                        sort = s;
                        next = Instant::now();
                    }
                    None => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let none = KeyModifiers::NONE;
        let s = SortKey::MessageRate;
        assert_eq!(key_action(KeyCode::Char('q'), none, s), Some(Action::Quit));
        assert_eq!(key_action(KeyCode::Esc, none, s), Some(Action::Quit));
        assert_eq!(
            key_action(KeyCode::Char('c'), KeyModifiers::CONTROL, s),
            Some(Action::Quit)
        );
        assert_eq!(key_action(KeyCode::Char('c'), none, s), None);
        assert_eq!(
            key_action(KeyCode::Char('s'), none, s),
            Some(Action::Sort(SortKey::ByteRate))
        );
        assert_eq!(
            key_action(KeyCode::Char('s'), none, SortKey::Name),
            Some(Action::Sort(SortKey::MessageRate))
        );
        assert_eq!(
            key_action(KeyCode::Char('4'), none, s),
            Some(Action::Sort(SortKey::Bytes))
        );
        assert_eq!(key_action(KeyCode::Char('6'), none, s), None);
    }
}
