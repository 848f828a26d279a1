//! Drawing one [`Snapshot`] with ratatui: a status line, the busiest PVs beside the busiest
//! clients and servers, then unanswered searches, searchers (storms marked), beacon anomalies
//! and errors, and a line of keys. Reads only the snapshot: no model, no lock.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row as TableRow, Table};
use ratatui::Frame;

use super::InputState;
use crate::capture::beacons::clock;
use crate::capture::top::{Basis, Row, Snapshot, SortKey, STORM_PER_SECOND};

/// What one picture shows.
#[derive(Debug)]
pub(super) struct Picture<'a> {
    pub snapshot: crate::capture::top::Snapshot,
    pub state: InputState,
    pub source: &'a str,
}

/// `1234` -> `1234`, `12345` -> `12.3k`, `1.5e6` -> `1.5M`: short enough for a column.
pub(super) fn human(v: f64) -> String {
    const UNITS: [(f64, f64, &str); 3] = [(1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")];
    for (from, scale, unit) in UNITS {
        if v >= from {
            return format!("{:.1}{unit}", v / scale);
        }
    }
    if v.fract() == 0.0 || v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Draws the picture over the whole frame.
pub(super) fn render(frame: &mut Frame<'_>, p: &Picture<'_>) {
    let [status, top, bottom, keys] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Percentage(58),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(Paragraph::new(status_lines(p)), status);
    let [pvs, hosts] =
        Layout::horizontal([Constraint::Percentage(56), Constraint::Fill(1)]).areas(top);
    let [clients, servers] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(hosts);
    let s = &p.snapshot;
    meter_table(
        frame,
        pvs,
        &format!("PVs ({})", s.pv_count),
        "PV",
        &s.pvs,
        s.sort,
        true,
    );
    meter_table(
        frame,
        clients,
        &format!("Clients ({})", s.client_count),
        "client host",
        &s.clients,
        s.sort,
        false,
    );
    meter_table(
        frame,
        servers,
        &format!("Servers ({})", s.server_count),
        "server",
        &s.servers,
        s.sort,
        false,
    );
    let [searches, searchers, events] = Layout::horizontal([
        Constraint::Percentage(34),
        Constraint::Percentage(26),
        Constraint::Fill(1),
    ])
    .areas(bottom);
    unanswered(frame, searches, s);
    searcher_table(frame, searchers, s);
    let [beacons, errors] =
        Layout::vertical([Constraint::Percentage(40), Constraint::Fill(1)]).areas(events);
    lines_box(
        frame,
        beacons,
        &format!(
            "Beacon anomalies ({}; {} servers beaconing)",
            s.anomaly_count, s.beacon_servers
        ),
        &s.anomalies,
    );
    let problems: u64 = s.problems.iter().map(|(_, n)| n).sum();
    lines_box(
        frame,
        errors,
        &format!(
            "Errors ({} CA errors, {problems} capture problems)",
            s.ca_errors
        ),
        &s.errors,
    );
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            " q ".reversed(),
            " quit  ".into(),
            " s ".reversed(),
            " next sort  ".into(),
            " 1 ".reversed(),
            " msg/s  ".into(),
            " 2 ".reversed(),
            " B/s  ".into(),
            " 3 ".reversed(),
            " messages  ".into(),
            " 4 ".reversed(),
            " bytes  ".into(),
            " 5 ".reversed(),
            " name".into(),
        ])),
        keys,
    );
}

fn status_lines<'a>(p: &Picture<'a>) -> Vec<Line<'a>> {
    let s = &p.snapshot;
    let state = match (&p.state, s.basis) {
        (InputState::Reading, _) => Span::from("live").green().bold(),
        (InputState::Ended, _) => {
            Span::from("end of capture: final picture, rates averaged over the capture").yellow()
        }
        (InputState::Failed(e), _) => Span::from(format!("input failed: {e}")).red().bold(),
    };
    let span = s
        .first
        .map_or(0.0, |f| s.last.as_secs_f64() - f.as_secs_f64());
    let time = if s.first.is_some() {
        format!("capture time {} ({span:.1} s)", clock(s.last))
    } else {
        "no CA message yet".to_owned()
    };
    let per = match s.basis {
        Basis::LastSecond { .. } => "last second",
        Basis::Whole => "average",
    };
    vec![
        Line::from(vec![
            "caproto-shark --top ".bold(),
            Span::from(p.source.to_owned()),
            "  ".into(),
            state,
        ]),
        Line::from(format!(
            "{time}  packets {}  messages {}  {} msg/s  {}B/s ({per})  problems {}  sort: {}{}",
            s.counters.packets,
            s.total.total.messages,
            human(s.total.msg_rate),
            human(s.total.byte_rate),
            s.counters.problems,
            s.sort.label(),
            if s.dropped > 0 {
                format!("  ({} quiet entries dropped)", s.dropped)
            } else {
                String::new()
            }
        )),
    ]
}

/// A header cell, highlighted when it is the sort column.
fn head(text: &str, key: Option<SortKey>, sort: SortKey) -> Cell<'static> {
    let style = Style::new().add_modifier(Modifier::BOLD);
    if key == Some(sort) {
        Cell::from(format!("{text}\u{25bc}")).style(style.add_modifier(Modifier::REVERSED))
    } else {
        Cell::from(text.to_owned()).style(style)
    }
}

fn meter_table(
    frame: &mut Frame<'_>,
    area: Rect,
    title: &str,
    what: &str,
    rows: &[Row],
    sort: SortKey,
    errors: bool,
) {
    let mut header = vec![
        head(what, Some(SortKey::Name), sort),
        head("msg/s", Some(SortKey::MessageRate), sort),
        head("B/s", Some(SortKey::ByteRate), sort),
        head("messages", Some(SortKey::Messages), sort),
        head("bytes", Some(SortKey::Bytes), sort),
    ];
    let mut widths = vec![
        Constraint::Fill(1),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(9),
    ];
    if errors {
        header.push(head("errors", None, sort));
        widths.push(Constraint::Length(7));
    }
    let body = rows.iter().map(|r| {
        let mut cells = vec![
            Cell::from(r.label.clone()),
            Cell::from(human(r.msg_rate)),
            Cell::from(human(r.byte_rate)),
            Cell::from(human(r.total.messages as f64)),
            Cell::from(human(r.total.bytes as f64)),
        ];
        if errors {
            let e = Cell::from(r.errors.to_string());
            cells.push(if r.errors > 0 { e.red() } else { e });
        }
        TableRow::new(cells)
    });
    frame.render_widget(
        Table::new(body, widths)
            .header(TableRow::new(header))
            .block(Block::bordered().title(title.to_owned())),
        area,
    );
}

fn unanswered(frame: &mut Frame<'_>, area: Rect, s: &Snapshot) {
    let body = s.unanswered.iter().map(|r| {
        TableRow::new(vec![
            Cell::from(r.name.clone()),
            Cell::from(human(r.rate)),
            Cell::from(human(r.requests as f64)),
        ])
    });
    let bold = Style::new().add_modifier(Modifier::BOLD);
    frame.render_widget(
        Table::new(
            body,
            [
                Constraint::Fill(1),
                Constraint::Length(7),
                Constraint::Length(9),
            ],
        )
        .header(TableRow::new(["unanswered name", "req/s", "requests"]).style(bold))
        .block(Block::bordered().title(format!(
            "Searches: {} req/s, {} names never answered",
            human(s.searches.msg_rate),
            s.unanswered_count
        ))),
        area,
    );
}

fn searcher_table(frame: &mut Frame<'_>, area: Rect, s: &Snapshot) {
    let body = s.searchers.iter().map(|r| {
        let row = TableRow::new(vec![
            Cell::from(r.label.clone()),
            Cell::from(human(r.msg_rate)),
            Cell::from(human(r.total.messages as f64)),
        ]);
        if r.msg_rate >= STORM_PER_SECOND {
            row.red().bold()
        } else {
            row
        }
    });
    let title = if s.storming > 0 {
        Line::from(vec![
            "Searchers ".into(),
            format!(
                "SEARCH STORM: {} at >= {STORM_PER_SECOND} req/s",
                s.storming
            )
            .red()
            .bold(),
        ])
    } else {
        Line::from("Searchers")
    };
    let bold = Style::new().add_modifier(Modifier::BOLD);
    frame.render_widget(
        Table::new(
            body,
            [
                Constraint::Fill(1),
                Constraint::Length(7),
                Constraint::Length(9),
            ],
        )
        .header(TableRow::new(["searcher", "req/s", "requests"]).style(bold))
        .block(Block::bordered().title(title)),
        area,
    );
}

fn lines_box(frame: &mut Frame<'_>, area: Rect, title: &str, lines: &[String]) {
    let text: Vec<Line<'_>> = lines.iter().map(|l| Line::from(l.as_str())).collect();
    frame.render_widget(
        Paragraph::new(text).block(Block::bordered().title(title.to_owned())),
        area,
    );
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use crate::capture::top::TopModel;

    #[test]
    fn human_numbers() {
        assert_eq!(human(0.0), "0");
        assert_eq!(human(2.5), "2.5");
        assert_eq!(human(9999.0), "9999");
        assert_eq!(human(12_345.0), "12.3k");
        assert_eq!(human(1_500_000.0), "1.5M");
        assert_eq!(human(15_000_000.0), "15.0M");
        assert_eq!(human(2e9), "2.0G");
    }

    #[test]
    fn an_empty_model_draws_on_a_small_screen() {
        let picture = Picture {
            snapshot: TopModel::default().snapshot(Basis::Whole, SortKey::Bytes, 5),
            state: InputState::Ended,
            source: "x.pcap",
        };
        for (w, h) in [(200, 50), (40, 10), (1, 1)] {
            let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
            t.draw(|f| render(f, &picture)).unwrap();
        }
        let mut t = Terminal::new(TestBackend::new(200, 50)).unwrap();
        t.draw(|f| render(f, &picture)).unwrap();
        let screen: String = t
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        assert!(screen.contains("end of capture"), "{screen}");
        assert!(
            screen.contains("bytes\u{25bc}"),
            "the sort column is marked"
        );
    }
}
