use super::*;
use crate::proto::command::mask;
use crate::proto::dbr::EpicsTime;
use crate::server::db::{parse, Macros};

fn record(text: &str) -> Record {
    let db = parse("t.db", text, &Macros::default()).unwrap();
    Record::new(&db.records[0]).unwrap()
}

const T: EpicsTime = EpicsTime { secs: 1, nanos: 0 };

fn put_process(r: &mut Record, v: Value) -> Processed {
    assert!(
        r.put_field("VAL", v).unwrap(),
        "a passive record processes on a VAL put"
    );
    r.process(&Inputs::default(), T)
}

#[test]
fn initial_alarm_follows_udf_as_softioc() {
    let ai = record(r#"record(ai, x) { field(VAL, "50") }"#);
    assert_eq!(ai.alarm(), (AlarmStatus::UDF, AlarmSeverity::NO_ALARM));
    let ao = record("record(ao, x) {}");
    assert_eq!(ao.alarm(), (AlarmStatus::UDF, AlarmSeverity::INVALID));
    assert_eq!(ao.get("UDF"), Some(Value::Char(vec![1])));
    let si = record("record(stringin, x) {}");
    assert_eq!(si.alarm().1, AlarmSeverity::NO_ALARM);
}

#[test]
fn drive_limits_clamp_and_alarm() {
    let mut ao = record(
        r#"record(ao, x) { field(DRVH, "10") field(DRVL, "-10") field(LOLO, "-8") field(LLSV, "MAJOR") }"#,
    );
    put_process(&mut ao, Value::Double(vec![50.0]));
    assert_eq!(ao.val(), &Value::Double(vec![10.0]));
    assert_eq!(ao.alarm(), (AlarmStatus::NO_ALARM, AlarmSeverity::NO_ALARM));
    let out = put_process(&mut ao, Value::Double(vec![-9.0]));
    assert_eq!(ao.alarm(), (AlarmStatus::LOLO, AlarmSeverity::MAJOR));
    assert_eq!(out.val_events, mask::VALUE | mask::LOG | mask::ALARM);
    assert_eq!(out.output, Some(Value::Double(vec![-9.0])));
    let mut lo = record(r#"record(longout, x) { field(DRVH, "7") field(DRVL, "1") }"#);
    put_process(&mut lo, Value::Long(vec![100]));
    assert_eq!(lo.val(), &Value::Long(vec![7]));
}

#[test]
fn deadbands_decide_value_and_log_events() {
    let mut ai = record(r#"record(ai, x) { field(MDEL, "1") field(ADEL, "5") field(VAL, "0") }"#);
    // First processing: UDF alarm clears (NO_ALARM was already the severity).
    assert_eq!(
        put_process(&mut ai, Value::Double(vec![0.5])).val_events & mask::VALUE,
        0
    );
    assert_eq!(
        put_process(&mut ai, Value::Double(vec![1.5])).val_events,
        mask::VALUE
    );
    assert_eq!(
        put_process(&mut ai, Value::Double(vec![6.0])).val_events,
        mask::VALUE | mask::LOG
    );
    assert_eq!(put_process(&mut ai, Value::Double(vec![6.5])).val_events, 0);
}

#[test]
fn binary_and_multibit_states() {
    let mut bi =
        record(r#"record(bi, x) { field(ZNAM, "Off") field(ONAM, "On") field(OSV, "MINOR") }"#);
    assert_eq!(bi.enum_strings(), ["Off", "On"]);
    put_process(&mut bi, Value::Enum(vec![1]));
    assert_eq!(bi.alarm(), (AlarmStatus::STATE, AlarmSeverity::MINOR));
    let mut mbbi = record(
        r#"record(mbbi, x) { field(ZRST, "zero") field(ONST, "one") field(TWST, "two") field(ONSV, "MAJOR") field(COSV, "MINOR") field(VAL, "1") }"#,
    );
    assert_eq!(mbbi.enum_strings(), ["zero", "one", "two"]);
    put_process(&mut mbbi, Value::Enum(vec![2]));
    assert_eq!(mbbi.alarm(), (AlarmStatus::COS, AlarmSeverity::MINOR));
    // As softIoc 7.0.8.1: a COS alarm that raised the severity leaves
    // LALM where it was, so the same value again is still a change.
    put_process(&mut mbbi, Value::Enum(vec![2]));
    assert_eq!(mbbi.alarm(), (AlarmStatus::COS, AlarmSeverity::MINOR));
    put_process(&mut mbbi, Value::Enum(vec![0]));
    assert_eq!(mbbi.alarm(), (AlarmStatus::COS, AlarmSeverity::MINOR));
    put_process(&mut mbbi, Value::Enum(vec![1]));
    assert_eq!(mbbi.alarm(), (AlarmStatus::STATE, AlarmSeverity::MAJOR));
}

#[test]
fn calc_reads_inputs_and_constants() {
    let mut c =
        record(r#"record(calc, x) { field(CALC, "A+B") field(INPA, "y") field(INPB, "2") }"#);
    assert_eq!(c.input_links().len(), 1);
    let inputs = Inputs {
        values: vec![Some((
            Value::Double(vec![40.0]),
            AlarmStatus::NO_ALARM,
            AlarmSeverity::NO_ALARM,
        ))],
    };
    c.process(&inputs, T);
    assert_eq!(c.val(), &Value::Double(vec![42.0]));
    assert_eq!(c.alarm(), (AlarmStatus::NO_ALARM, AlarmSeverity::NO_ALARM));
    c.process(&Inputs { values: vec![None] }, T);
    assert_eq!(c.alarm(), (AlarmStatus::LINK, AlarmSeverity::INVALID));
}

#[test]
fn disabled_records_take_diss() {
    let mut ai = record(r#"record(ai, x) { field(DISA, "1") field(DISS, "MINOR") }"#);
    assert!(ai.is_disabled());
    let out = ai.process_disabled();
    assert_eq!(ai.alarm(), (AlarmStatus::DISABLE, AlarmSeverity::MINOR));
    assert_eq!(out.val_events, mask::ALARM);
}

#[test]
fn refusals_name_the_fault() {
    let db = parse(
        "t.db",
        r#"record(sub, x) {}
record(ai, y) { field(NOPE, "1") }
record(ai, z) { field(HHSV, "LOUD") }
record(calc, w) { field(CALC, "A+") }
record(waveform, v) { field(NELM, "100000000") }"#,
        &Macros::default(),
    )
    .unwrap();
    let errs: Vec<_> = db
        .records
        .iter()
        .map(|d| Record::new(d).unwrap_err())
        .collect();
    assert!(matches!(&errs[0], (RecordError::UnsupportedType(t), 1) if t == "sub"));
    assert!(matches!(&errs[1], (RecordError::NoSuchField(f), 2) if f == "NOPE"));
    assert!(matches!(&errs[2], (RecordError::BadValue { field, .. }, 3) if field == "HHSV"));
    assert!(matches!(&errs[3], (RecordError::BadCalc { .. }, 4)));
    assert!(matches!(&errs[4], (RecordError::BadValue { field, .. }, 5) if field == "NELM"));
}

#[test]
fn waveform_type_and_nord() {
    let mut wf = record(r#"record(waveform, x) { field(NELM, "8") field(FTVL, "LONG") }"#);
    assert_eq!(wf.val_type(), (NativeType::Long, 8));
    assert_eq!(wf.get("NORD"), Some(Value::Double(vec![0.0])));
    wf.put_field("VAL", Value::Long(vec![1, 2, 3])).unwrap();
    wf.process(&Inputs::default(), T);
    assert_eq!(wf.get("NORD"), Some(Value::Double(vec![3.0])));
    let mut wf =
        record(r#"record(waveform, x) { field(NELM, "4") field(FTVL, "DOUBLE") field(INP, "y") }"#);
    let two = Value::Double(vec![1.0, 2.0]);
    let inputs = Inputs {
        values: vec![Some((
            two.clone(),
            AlarmStatus::NO_ALARM,
            AlarmSeverity::NO_ALARM,
        ))],
    };
    let out = wf.process(&inputs, T);
    assert_eq!(wf.val(), &two);
    assert!(out.changed.contains(&"NORD"));
}

#[test]
fn cached_fields_follow_every_write() {
    let mut ai = record(r#"record(ai, x) { field(MDEL, "5") field(FLNK, "a") }"#);
    // Read once: the cache is filled.
    assert!(ai.is_passive() && !ai.is_disabled());
    assert_eq!(ai.links().flnk, Link::parse("a"));
    put_process(&mut ai, Value::Double(vec![10.0]));
    assert_eq!(
        put_process(&mut ai, Value::Double(vec![12.0])).val_events & mask::VALUE,
        0,
        "inside MDEL 5"
    );
    let version = ai.meta_version();
    ai.put_field("MDEL", Value::Double(vec![1.0])).unwrap();
    assert_ne!(ai.meta_version(), version);
    assert_eq!(
        put_process(&mut ai, Value::Double(vec![14.0])).val_events & mask::VALUE,
        mask::VALUE,
        "the new MDEL counts at once"
    );
    ai.put_field("FLNK", Value::String(vec!["b".into()]))
        .unwrap();
    assert_eq!(ai.links().flnk, Link::parse("b"));
    ai.put_field("DISA", Value::Short(vec![1])).unwrap();
    assert!(ai.is_disabled());
    ai.put_field("SCAN", Value::Enum(vec![6])).unwrap();
    assert!(!ai.is_passive());
    assert!(
        !ai.put_field("VAL", Value::Double(vec![1.0])).unwrap(),
        "a scanned record does not process on a put"
    );
}

#[test]
fn calc_arguments_keep_the_caches() {
    let mut c = record(r#"record(calc, x) { field(CALC, "A+1") field(EGU, "V") }"#);
    let version = c.meta_version();
    c.put_field("A", Value::Double(vec![2.0])).unwrap();
    c.process(&Inputs::default(), T);
    assert_eq!(c.val(), &Value::Double(vec![3.0]));
    assert_eq!(c.meta_version(), version, "A..L are data, not metadata");
    c.put_field("EGU", Value::String(vec!["mV".into()]))
        .unwrap();
    assert_ne!(c.meta_version(), version);
    assert_eq!(c.metadata().graphics.units, "mV");
}

#[test]
fn mbb_severity_fields_are_the_state_prefixes() {
    for (field, prefix) in super::process::MBB_SEVERITIES
        .iter()
        .zip(fields::MBB_STATES)
    {
        assert_eq!(*field, format!("{prefix}SV"));
    }
}
