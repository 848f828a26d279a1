use super::*;
use crate::proto::command::mask;
use crate::proto::dbr::{DbrType, NativeType, Value};
use crate::proto::status::{AlarmSeverity, AlarmStatus};
use crate::server::db::{parse, Macros};
use crate::server::subscription::{CircuitEvents, Subscription};
use crate::server::{PutError, PvHandle};

fn serve(text: &str) -> (DbIoc, PvDatabase) {
    let db = parse("t.db", text, &Macros::default()).unwrap();
    let ioc = DbIoc::new(&db).unwrap();
    let mut pvs = PvDatabase::new();
    ioc.install(&mut pvs).unwrap();
    (ioc, pvs)
}

fn pv(db: &PvDatabase, name: &str) -> PvHandle {
    db.find(name).unwrap_or_else(|| panic!("{name} not served"))
}

#[test]
fn puts_follow_links_forward_links_and_cp() {
    let (_ioc, db) = serve(
        r#"record(ao, src) { field(OUT, "dst PP") field(FLNK, "fwd") field(DRVH, "10") field(DRVL, "-10") }
record(ai, dst) {}
record(calc, fwd) { field(CALC, "A*2") field(INPA, "src") }
record(calc, follow) { field(CALC, "A+1") field(INPA, "dst CP") }"#,
    );
    pv(&db, "src")
        .client_put_now(Value::Double(vec![20.0]))
        .unwrap();
    assert_eq!(
        pv(&db, "src").value(),
        Value::Double(vec![10.0]),
        "clamped to DRVH"
    );
    assert_eq!(
        pv(&db, "dst").value(),
        Value::Double(vec![10.0]),
        "OUT with PP"
    );
    assert_eq!(pv(&db, "fwd").value(), Value::Double(vec![20.0]), "FLNK");
    assert_eq!(pv(&db, "follow").value(), Value::Double(vec![11.0]), "CP");
}

#[test]
fn field_channels_have_their_types_and_val_is_the_record() {
    let (ioc, db) = serve(
        r#"record(ai, x) { field(EGU, "mm") field(HIHI, "5") field(HHSV, "MAJOR") }
alias(x, y)"#,
    );
    assert_eq!(ioc.names(), ["x", "y"]);
    assert!(
        db.serves("x.EGU") && db.serves("y.HIHI") && !db.serves("x.NOPE") && !db.serves("z.EGU")
    );
    assert_eq!(pv(&db, "x.EGU").value(), Value::String(vec!["mm".into()]));
    assert_eq!(pv(&db, "x.HHSV").value(), Value::Enum(vec![2]));
    assert!(pv(&db, "x.SEVR").is_read_only());
    assert_eq!(pv(&db, "x.VAL").name(), "x");
    // A limit written through its channel takes effect on the next processing.
    pv(&db, "x.HIHI")
        .client_put_now(Value::Double(vec![1.0]))
        .unwrap();
    pv(&db, "x")
        .client_put_now(Value::Double(vec![2.0]))
        .unwrap();
    assert_eq!(pv(&db, "x.SEVR").value(), Value::Enum(vec![2]));
    assert_eq!(pv(&db, "y").snapshot().meta.graphics.upper_alarm_limit, 1.0);
}

#[test]
fn sdis_disables_and_unknown_links_warn() {
    let (ioc, db) = serve(
        r#"record(bo, gate) {}
record(ai, x) { field(SDIS, "gate") field(DISS, "MINOR") }
record(ai, y) { field(INP, "elsewhere") }"#,
    );
    assert_eq!(ioc.warnings().len(), 1, "{:?}", ioc.warnings());
    assert!(
        ioc.warnings()[0].contains("t.db:3: y.INP"),
        "{:?}",
        ioc.warnings()
    );
    pv(&db, "gate")
        .client_put_now(Value::Enum(vec![1]))
        .unwrap();
    pv(&db, "x")
        .client_put_now(Value::Double(vec![3.0]))
        .unwrap();
    assert_eq!(pv(&db, "x.STAT").value(), Value::Enum(vec![18]), "DISABLE");
    pv(&db, "y")
        .client_put_now(Value::Double(vec![3.0]))
        .unwrap();
    assert_eq!(pv(&db, "y.STAT").value(), Value::Enum(vec![14]), "LINK");
}

#[test]
fn a_duplicate_alias_is_refused_with_its_line() {
    let db = parse(
        "t.db",
        "record(ai, x) {}\nrecord(ai, y) {}\nalias(x, y)\n",
        &Macros::default(),
    )
    .unwrap();
    let err = DbIoc::new(&db).unwrap_err();
    assert_eq!(err.line, 3, "{err}");
}

#[test]
fn posts_update_the_record_channel_and_leave_held_snapshots_alone() {
    use crate::proto::status::{AlarmSeverity, AlarmStatus};
    let (_ioc, db) =
        serve(r#"record(ai, x) { field(EGU, "mm") field(HIGH, "5") field(HSV, "MINOR") }"#);
    let x = pv(&db, "x");
    x.client_put_now(Value::Double(vec![1.0])).unwrap();
    // As a subscriber's queue holds the snapshot it has yet to send.
    let held = x.snapshot();
    x.client_put_now(Value::Double(vec![7.0])).unwrap();
    assert_eq!(held.value, Value::Double(vec![1.0]), "copied, not changed");
    assert_eq!(held.meta.severity, AlarmSeverity::NO_ALARM);
    let now = x.snapshot();
    assert_eq!(now.value, Value::Double(vec![7.0]));
    assert_eq!(
        (now.meta.status, now.meta.severity),
        (AlarmStatus::HIGH, AlarmSeverity::MINOR)
    );
    assert_eq!(now.meta.graphics.units, "mm");
    // A written property reaches the record's channel, and stays there
    // through the following posts.
    pv(&db, "x.EGU")
        .client_put_now(Value::String(vec!["um".into()]))
        .unwrap();
    assert_eq!(x.snapshot().meta.graphics.units, "um");
    x.client_put_now(Value::Double(vec![2.0])).unwrap();
    let now = x.snapshot();
    assert_eq!(now.meta.graphics.units, "um");
    assert_eq!(now.value, Value::Double(vec![2.0]));
    assert_eq!(now.meta.severity, AlarmSeverity::NO_ALARM);
}

#[test]
fn plain_writes_process_as_decoded_writes_do() {
    let text = r#"record(ai, x) { field(HIGH, "5") field(HSV, "MINOR") field(HYST, "1")
                   field(MDEL, "0.5") field(ADEL, "2") field(FLNK, "twice") }
record(calc, twice) { field(CALC, "A*2") field(INPA, "x") }
record(ao, out) { field(DRVH, "10") field(DRVL, "-10") field(OUT, "x PP") }
record(bo, b) { field(ZNAM, "off") field(ONAM, "on") field(OSV, "MAJOR") }
record(longout, l) { field(HIGH, "3") field(HSV, "MINOR") }
record(ai, scanned) { field(SCAN, "10 second") }"#;
    let names = ["x", "x.SEVR", "twice", "out", "b", "b.STAT", "l", "scanned"];
    let (_plain_ioc, plain) = serve(text);
    let (_decoded_ioc, decoded) = serve(text);
    let subscribe = |db: &PvDatabase| -> Vec<std::sync::Arc<Subscription>> {
        ["x", "twice", "b", "l", "scanned"]
            .iter()
            .enumerate()
            .map(|(n, name)| {
                let sub = std::sync::Arc::new(Subscription::new(
                    n as u32,
                    n as u32,
                    DbrType::DOUBLE,
                    1,
                    mask::VALUE | mask::ALARM,
                    std::sync::Arc::new(CircuitEvents::default()),
                ));
                pv(db, name).subscribe(&sub);
                sub
            })
            .collect()
    };
    let (plain_subs, decoded_subs) = (subscribe(&plain), subscribe(&decoded));
    let writes: [(&str, Value); 12] = [
        ("x", Value::Double(vec![1.0])),
        ("x", Value::Double(vec![1.2])),
        ("x", Value::Double(vec![6.0])),
        ("x", Value::Double(vec![4.5])),
        ("x", Value::Double(vec![3.0])),
        ("out", Value::Double(vec![20.0])),
        ("out", Value::Double(vec![-2.0])),
        ("b", Value::Enum(vec![1])),
        ("b", Value::Enum(vec![0])),
        ("l", Value::Long(vec![7])),
        ("l", Value::Long(vec![1])),
        ("scanned", Value::Double(vec![9.0])),
    ];
    for (name, v) in writes {
        write_both(&plain, &decoded, name, &v);
        assert_eq!(
            seen(&plain, &names, &plain_subs),
            seen(&decoded, &names, &decoded_subs),
            "after {name} <- {v:?}"
        );
    }
    // What the plain path does not take is left to the usual one, untouched.
    let x = pv(&plain, "x");
    let before = x.value();
    assert_eq!(before, Value::Double(vec![-2.0]), "written by out's OUT");
    let two = [0u8; 16];
    assert_eq!(
        x.client_write_plain(DbrType::plain(NativeType::Long), 1, &two),
        None
    );
    assert_eq!(
        x.client_write_plain(DbrType::DOUBLE, 2, &two),
        None,
        "longer than VAL"
    );
    assert_eq!(x.client_write_plain(DbrType::DOUBLE, 0, &two), None);
    assert_eq!(x.value(), before);
    let short = x.client_write_plain(DbrType::DOUBLE, 1, &two[..4]);
    assert!(
        matches!(short, Some(Err(PutError::Status(..)))),
        "{short:?}"
    );
    assert_eq!(x.value(), before);
}

/// `v` written to `name` as a client's plain write on `plain` (which must
/// take it) and as a decoded put on `decoded`.
fn write_both(plain: &PvDatabase, decoded: &PvDatabase, name: &str, v: &Value) {
    let mut data = Vec::new();
    let t = DbrType::plain(v.native_type());
    crate::proto::dbr::encode(t, v, &Default::default(), &mut data).unwrap();
    let taken = pv(plain, name).client_write_plain(t, 1, &data);
    assert_eq!(taken, Some(Ok(())), "{name} <- {v:?}");
    pv(decoded, name).client_put_now(v.clone()).unwrap();
}

/// A subscription on `name` wanting `events`.
fn watch(db: &PvDatabase, name: &str, events: u16) -> std::sync::Arc<Subscription> {
    let sub = std::sync::Arc::new(Subscription::new(
        0,
        0,
        DbrType::DOUBLE,
        1,
        events,
        std::sync::Arc::new(CircuitEvents::default()),
    ));
    pv(db, name).subscribe(&sub);
    sub
}

/// What a client sees after each write, time stamps aside: each channel's
/// value, alarm and whether it has a stamp, and the events (value, alarm)
/// each subscriber got.
fn seen(db: &PvDatabase, names: &[&str], subs: &[std::sync::Arc<Subscription>]) -> String {
    let mut seen = String::new();
    for name in names {
        let s = pv(db, name).snapshot();
        seen += &format!(
            "{name}={:?} {:?}/{:?} stamped {}; ",
            s.value,
            s.meta.status,
            s.meta.severity,
            s.meta.stamp.secs > 0
        );
    }
    for sub in subs {
        let mut out = Vec::new();
        sub.drain(100, &mut out);
        let got: Vec<_> = out
            .iter()
            .map(|s| (&s.value, s.meta.status, s.meta.severity))
            .collect();
        seen += &format!("events {got:?}; ");
    }
    seen
}

/// Records whose writes take the quick path (analog, passive, linkless),
/// written through it and the decoded way: alarms with HYST, limits and
/// severities set after start, deadbands, drive limits, NaN, field
/// channels opened and monitors attached half-way through.
#[test]
fn quick_puts_process_as_decoded_writes_do() {
    let text = r#"record(ai, q) { field(HIGH, "5") field(HSV, "MINOR") field(HIHI, "8") field(HHSV, "MAJOR")
                   field(LOW, "-5") field(LSV, "MINOR") field(HYST, "1") field(MDEL, "0.5") field(ADEL, "2") }
record(ai, bare) { field(UDFS, "MAJOR") }
record(ao, o) { field(DRVH, "10") field(DRVL, "-10") field(LOLO, "-8") field(LLSV, "MAJOR") field(MDEL, "-1") }
record(longin, li) { field(HIGH, "3") field(HSV, "MINOR") }
record(ai, off) { field(DISV, "0") }"#;
    let (quick_ioc, quick) = serve(text);
    let (_decoded_ioc, decoded) = serve(text);
    let takes_quick = |name: &str| {
        let e = &quick_ioc.engine;
        e.cells[e.index[name]].rec().takes_quick_put()
    };
    for name in ["q", "bare", "o", "li"] {
        assert!(takes_quick(name), "{name}");
    }
    // `off` is disabled (DISA 0 == DISV 0): it takes the usual path.
    assert!(!takes_quick("off"));
    let names = ["q", "bare", "o", "li", "off", "off.STAT"];
    let mut names: Vec<&str> = names.to_vec();
    let mut quick_subs = Vec::new();
    let mut decoded_subs = Vec::new();
    for (name, events) in [
        ("q", mask::VALUE | mask::ALARM),
        ("q", mask::LOG),
        ("o", mask::VALUE | mask::ALARM),
        ("li", mask::VALUE | mask::ALARM),
    ] {
        quick_subs.push(watch(&quick, name, events));
        decoded_subs.push(watch(&decoded, name, events));
    }
    // "+NAME": subscribe from now on; "NAME.FIELD": a field write; else a
    // write to VAL, plain on one side and decoded on the other.
    let steps: Vec<(&str, Value)> = vec![
        ("q", Value::Double(vec![1.0])),
        ("q", Value::Double(vec![1.2])),
        ("q", Value::Double(vec![5.5])),
        ("q", Value::Double(vec![4.5])),
        ("q", Value::Double(vec![3.9])),
        ("q", Value::Double(vec![9.0])),
        ("q", Value::Double(vec![7.5])),
        ("q", Value::Double(vec![-6.0])),
        ("q", Value::Double(vec![f64::NAN])),
        ("q", Value::Double(vec![0.0])),
        // No monitor and no field channel yet on `bare`.
        ("bare", Value::Double(vec![2.0])),
        ("bare", Value::Double(vec![f64::NAN])),
        ("bare", Value::Double(vec![3.0])),
        ("+bare", Value::Double(vec![])),
        ("bare", Value::Double(vec![3.0])),
        ("bare", Value::Double(vec![4.0])),
        // Limits that were off, set after start through field channels.
        ("bare.HIHI", Value::Double(vec![10.0])),
        ("bare", Value::Double(vec![11.0])),
        ("bare.HHSV", Value::Enum(vec![2])),
        ("bare", Value::Double(vec![11.0])),
        ("bare.HYST", Value::Double(vec![2.0])),
        ("bare", Value::Double(vec![9.0])),
        ("bare", Value::Double(vec![7.0])),
        ("+bare.SEVR", Value::Double(vec![])),
        ("bare", Value::Double(vec![12.0])),
        ("bare.HHSV", Value::Enum(vec![0])),
        ("bare", Value::Double(vec![13.0])),
        ("bare.MDEL", Value::Double(vec![5.0])),
        ("bare", Value::Double(vec![14.0])),
        ("bare", Value::Double(vec![20.0])),
        ("o", Value::Double(vec![20.0])),
        ("o", Value::Double(vec![20.0])),
        ("o", Value::Double(vec![-9.0])),
        ("o", Value::Double(vec![f64::NAN])),
        ("li", Value::Long(vec![7])),
        ("li", Value::Long(vec![1])),
        ("off", Value::Double(vec![1.0])),
        ("off.DISA", Value::Short(vec![1])),
        ("off", Value::Double(vec![2.0])),
    ];
    for (step, v) in steps {
        if let Some(name) = step.strip_prefix('+') {
            let events = mask::VALUE | mask::LOG | mask::ALARM;
            quick_subs.push(watch(&quick, name, events));
            decoded_subs.push(watch(&decoded, name, events));
            if name.contains('.') {
                names.push(name);
            }
        } else if step.contains('.') {
            pv(&quick, step).client_put_now(v.clone()).unwrap();
            pv(&decoded, step).client_put_now(v.clone()).unwrap();
        } else {
            write_both(&quick, &decoded, step, &v);
        }
        assert_eq!(
            seen(&quick, &names, &quick_subs),
            seen(&decoded, &names, &decoded_subs),
            "after {step} <- {v:?}"
        );
    }
    assert!(takes_quick("off"), "enabled by its DISA write");
}

/// The VAL channels' write hooks hold their records' cells; nothing holds
/// the engine or a cell once the served database and the IOC are gone.
#[test]
fn dropping_the_database_frees_the_records() {
    let (ioc, db) = serve("record(ai, q) {}\nrecord(ai, r) { field(FLNK, \"q\") }");
    let _ = pv(&db, "q.SEVR");
    let engine = std::sync::Arc::downgrade(&ioc.engine);
    let cell = std::sync::Arc::downgrade(&ioc.engine.cells[0]);
    drop(ioc);
    assert!(engine.upgrade().is_some(), "the database serves it");
    drop(db);
    assert!(engine.upgrade().is_none());
    assert!(cell.upgrade().is_none());
}

/// With no monitor on VAL, a quick put leaves the channel's snapshot
/// behind the record (it is copied on the next read), yet every read and
/// every monitor that comes later sees the last write, alarm and time
/// included; while a monitor is on, puts post at once again.
#[test]
fn unwatched_quick_puts_are_copied_on_read_and_monitors_start_current() {
    let (_ioc, db) = serve(r#"record(ai, q) { field(HIGH, "5") field(HSV, "MINOR") }"#);
    let q = pv(&db, "q");
    let double = |v: f64| Value::Double(vec![v]);
    let write = |v: f64| {
        let mut data = Vec::new();
        crate::proto::dbr::encode(DbrType::DOUBLE, &double(v), &Default::default(), &mut data)
            .unwrap();
        assert_eq!(
            q.client_write_plain(DbrType::DOUBLE, 1, &data),
            Some(Ok(()))
        );
    };
    let alarm = |s: &crate::server::PvSnapshot| (s.meta.status, s.meta.severity);
    let high = (AlarmStatus::HIGH, AlarmSeverity::MINOR);

    write(1.0);
    write(7.0);
    assert_eq!(q.snapshot_as_is().value, double(0.0), "not copied yet");
    let read = q.snapshot();
    assert_eq!((read.value.clone(), alarm(&read)), (double(7.0), high));
    assert!(read.meta.stamp.secs > 0);
    assert_eq!(q.snapshot_as_is().value, double(7.0), "copied by the read");

    write(2.0);
    let sub = watch(&db, "q", mask::VALUE | mask::ALARM);
    let mut got = Vec::new();
    sub.drain(10, &mut got);
    let first: Vec<_> = got.iter().map(|s| (s.value.clone(), alarm(s))).collect();
    assert_eq!(
        first,
        [(
            double(2.0),
            (AlarmStatus::NO_ALARM, AlarmSeverity::NO_ALARM)
        )]
    );

    write(6.0);
    assert_eq!(q.snapshot_as_is().value, double(6.0), "posted at once");
    got.clear();
    sub.drain(10, &mut got);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].value.clone(), alarm(&got[0])), (double(6.0), high));

    q.unsubscribe(&sub);
    write(3.0);
    assert_eq!(q.snapshot_as_is().value, double(6.0), "behind again");
    assert_eq!(q.value(), double(3.0));
}

/// Quick puts racing with reads on other threads and with monitors that
/// come and go (so that the channel is watched only part of the time): a
/// read never misses a put that returned before it began, nor goes back
/// in time; a monitor never starts from before such a put; and after the
/// last put a read and a new monitor both see it.
#[test]
fn racing_puts_reads_and_monitors_never_see_an_older_value() {
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
    const N: u64 = 20_000;
    let (_ioc, db) = serve("record(ai, q) {}");
    let q = pv(&db, "q");
    let as_u64 = |v: &Value| match v {
        Value::Double(d) => d[0] as u64,
        other => panic!("{other:?}"),
    };
    // The last value whose put has returned.
    let done = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            for v in 1..=N {
                let mut data = Vec::new();
                let value = Value::Double(vec![v as f64]);
                crate::proto::dbr::encode(DbrType::DOUBLE, &value, &Default::default(), &mut data)
                    .unwrap();
                assert_eq!(
                    q.client_write_plain(DbrType::DOUBLE, 1, &data),
                    Some(Ok(()))
                );
                done.store(v, SeqCst);
            }
        });
        for _ in 0..2 {
            s.spawn(|| {
                let mut last = 0;
                while last < N {
                    let before = done.load(SeqCst);
                    let seen = as_u64(&q.snapshot().value);
                    assert!(seen >= before, "read {seen} after put {before} returned");
                    assert!(seen >= last, "read {seen} after reading {last}");
                    last = seen;
                }
            });
        }
        s.spawn(|| {
            let mut got = Vec::new();
            while done.load(SeqCst) < N {
                let before = done.load(SeqCst);
                let sub = watch(&db, "q", mask::VALUE);
                got.clear();
                sub.drain(100, &mut got);
                let first = as_u64(&got[0].value);
                assert!(
                    first >= before,
                    "monitor began at {first} after put {before} returned"
                );
                q.unsubscribe(&sub);
            }
        });
    });
    assert_eq!(as_u64(&q.value()), N);
    let sub = watch(&db, "q", mask::VALUE);
    let mut got = Vec::new();
    sub.drain(100, &mut got);
    assert_eq!(as_u64(&got[0].value), N);
}
