use super::*;

const SAMPLE: &str = r#"
# a pump and its readback
record(ao, "$(P)SP") {
    field(DESC, "Set \"point\"")
    field(EGU, mm)
    field(DRVH, "$(MAX=100)")
    info(autosaveFields, "VAL")
    alias("$(P)setpoint")
}
grecord(ai, $(P)RB) { field(INP, "$(P)SP CP MS") }
alias("$(P)RB", "$(P)readback")
record(ao, "$(P)SP") { field(EGU, "cm") field(PREC, 2) }
"#;

fn macros(list: &str) -> Macros {
    Macros::parse(list).unwrap()
}

#[test]
fn records_fields_aliases_and_merges() {
    let db = parse("pump.db", SAMPLE, &macros("P=pu:")).unwrap();
    assert_eq!(db.records.len(), 2);
    let sp = db.record("pu:SP").unwrap();
    assert_eq!(sp.rtyp, "ao");
    assert_eq!(sp.field("DESC"), Some("Set \"point\""));
    // Defined again with the same type: the new EGU replaces the old one.
    assert_eq!(sp.field("EGU"), Some("cm"));
    assert_eq!(sp.field("PREC"), Some("2"));
    assert_eq!(sp.field("DRVH"), Some("100"));
    assert_eq!(sp.infos[0].0, "autosaveFields");
    assert_eq!(sp.aliases[0].0, "pu:setpoint");
    assert_eq!(sp.location.line, 3);
    let rb = db.record("pu:RB").unwrap();
    assert_eq!(
        (rb.rtyp.as_str(), rb.field("INP")),
        ("ai", Some("pu:SP CP MS"))
    );
    assert_eq!(db.aliases[0].0, "pu:RB");
    assert_eq!(db.aliases[0].1, "pu:readback");
    assert_eq!(db.aliases[0].2.line, 11);
}

fn err(text: &str, list: &str) -> DbError {
    parse("x.db", text, &macros(list)).expect_err(text)
}

/// The refusals softIoc makes (checked with softIoc 7.0.8.1), with file and line.
#[test]
fn refusals_carry_file_and_line() {
    let e = err(
        "record(ai, \"$(P)a\") {\n field(DESC, \"$(D)\")\n}\n",
        "P=x",
    );
    assert_eq!(
        (e.line, e.kind.clone()),
        (2, DbErrorKind::UndefinedMacro("D".into()))
    );
    assert_eq!(e.to_string(), "x.db:2: macro D is undefined");
    let e = err("record(ai, \"a\") {\n field(DESC, \"x\"\n}\n", "");
    assert_eq!(e.line, 3);
    assert!(matches!(e.kind, DbErrorKind::Unexpected { .. }), "{e}");
    let e = err("record(ai, \"a\")\nrecord(ao, \"a\")\n", "");
    assert_eq!(e.line, 2);
    assert!(matches!(e.kind, DbErrorKind::RecordRedefined { .. }), "{e}");
    let e = err("include \"missing.db\"\n", "");
    assert_eq!(e.kind, DbErrorKind::IncludeNotFound("missing.db".into()));
    let e = err("\n\nrecordtype(ai) {}", "");
    assert_eq!(
        (e.line, e.kind),
        (3, DbErrorKind::Unsupported("recordtype".into()))
    );
    let e = err("record(\"*\", \"nope\") { field(A, 1) }", "");
    assert_eq!(e.kind, DbErrorKind::NoSuchRecord("nope".into()));
    let e = err("record(ai, \"a\") {\n field(DESC, \"open\n}\n", "");
    assert_eq!((e.line, e.kind), (2, DbErrorKind::UnterminatedString));
}

#[test]
fn includes_are_read_through_the_callback() {
    let mut db = Database::new();
    let mut reads = Vec::new();
    let mut include = |name: &str| {
        reads.push(name.to_string());
        match name {
            "inner.db" => Ok((
                "dir/inner.db".to_string(),
                "\nrecord(bo, \"$(P)in\") { field(ZNAM, Off) }\nbad".to_string(),
            )),
            "loop.db" => Ok(("loop.db".to_string(), "include \"loop.db\"".to_string())),
            _ => Err(DbErrorKind::IncludeNotFound(name.to_string())),
        }
    };
    let e = db
        .parse(
            "top.db",
            "record(ai, a)\ninclude \"inner.db\"\n",
            &macros("P=p:"),
            &mut include,
        )
        .unwrap_err();
    // The error names the included file and its line.
    assert_eq!((e.file.as_str(), e.line), ("dir/inner.db", 3));
    assert_eq!(db.record("p:in").unwrap().field("ZNAM"), Some("Off"));
    let e = db
        .parse("top.db", "include \"loop.db\"", &macros(""), &mut include)
        .unwrap_err();
    assert_eq!(e.kind, DbErrorKind::IncludeTooDeep);
    assert_eq!(reads.len(), 1 + MAX_INCLUDE_DEPTH);
}

#[test]
fn random_input_never_panics() {
    let pieces = [
        "record",
        "grecord",
        "alias",
        "include",
        "field",
        "info",
        "(",
        ")",
        "{",
        "}",
        ",",
        "\"s\"",
        "\"a\\\"b\"",
        "\"open",
        "$(P)",
        "${Q=1}",
        "$(",
        "$",
        "VAL",
        "ai",
        "*",
        "\n",
        "# c\n",
        " ",
        "@",
        "é",
        "menu",
    ];
    let mut rng = crate::rng::Rng(0x5eed_db01);
    let m = macros("P=p:");
    for round in 0..4000 {
        let mut text = String::new();
        if round % 2 == 0 {
            for _ in 0..rng.next_u64() % 40 {
                text.push_str(pieces[(rng.next_u64() % pieces.len() as u64) as usize]);
            }
        } else {
            let mut bytes = SAMPLE.as_bytes().to_vec();
            for _ in 0..1 + rng.next_u64() % 4 {
                let i = (rng.next_u64() % bytes.len() as u64) as usize;
                bytes[i] = b"(){},\"#\n$aZ1"[(rng.next_u64() % 12) as usize];
            }
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        if let Err(e) = parse("r.db", &text, &m) {
            let lines = text.matches('\n').count() as u32 + 1;
            assert!((1..=lines).contains(&e.line), "{e} for {text:?}");
        }
    }
}

/// Every case of tests/golden/db_epics.json (written from softIoc by
/// scripts/golden/db_epics.py): grammar and macro cases are loaded or
/// refused as softIoc does, at the line it names; cases softIoc refuses for
/// their field names or values pass the parser (the record types check those).
#[test]
fn loads_and_refusals_match_softioc() {
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/golden/db_epics.json")).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let text = case["text"].as_str().unwrap();
        let got = parse("x.db", text, &macros(case["macros"].as_str().unwrap()));
        if case["layer"] == "records" {
            assert!(got.is_ok(), "{name}: {got:?}");
            continue;
        }
        match (case["loaded"].as_bool().unwrap(), got) {
            (true, Ok(_)) => {}
            (false, Err(e)) => assert_eq!(
                u64::from(e.line),
                case["line"].as_u64().unwrap(),
                "{name}: {e}"
            ),
            (loaded, got) => panic!("{name}: softIoc loaded={loaded}, we gave {got:?}"),
        }
    }
}
