//! caput's argument forms accepted by caproto-put, checked by what EPICS
//! `caget` reads back from softIoc afterwards (and against EPICS `caput`
//! doing the same): `-a PV N v1 ... vN`, several values joined by spaces,
//! and `-s` (no number parsing).

mod common;
mod tools_support;

use tools_support::{epics_caget, epics_caput, ours, ours_ok, Tool};

#[test]
fn count_form_several_values_and_force_string() {
    let env = common::CaEnv::new();
    let Some(_ioc) = common::softioc_fixture(&env, "tpf:") else {
        return;
    };
    // -a with a count, as caput takes it: the same record contents as
    // EPICS caput leaves (caget prints NELM elements, zero-filled).
    ours_ok(&env, Tool::Put, &["-a", "tpf:wave_l", "3", "4", "-5", "6"]);
    let ours_read = epics_caget(&env, &[], "tpf:wave_l").unwrap();
    assert!(ours_read.starts_with("16 4 -5 6 0 "), "{ours_read}");
    ours_ok(&env, Tool::Put, &["-a", "tpf:wave_l", "1 1 1"]);
    epics_caput(&env, &["-a", "tpf:wave_l", "3", "4", "-5", "6"]).unwrap();
    assert_eq!(epics_caget(&env, &[], "tpf:wave_l").unwrap(), ours_read);
    // A count that does not match: usage error, nothing written.
    let run = ours(&env, Tool::Put, &["-a", "tpf:wave_l", "3", "1", "2"]);
    assert_eq!(run.status.and_then(|s| s.code()), Some(2), "{run:?}");
    assert!(
        run.stderr.contains("count says 3 values, 2 given"),
        "{}",
        run.stderr
    );
    assert_eq!(epics_caget(&env, &[], "tpf:wave_l").unwrap(), ours_read);
    // Several values without -a: joined by spaces, as caput does.
    ours_ok(&env, Tool::Put, &["tpf:stringout", "two", "words"]);
    assert_eq!(
        epics_caget(&env, &[], "tpf:stringout").unwrap(),
        "two words"
    );
    // -s: written as the text typed, not as the number it reads as.
    ours_ok(&env, Tool::Put, &["-s", "tpf:stringout", "0x10"]);
    assert_eq!(epics_caget(&env, &[], "tpf:stringout").unwrap(), "0x10");
    ours_ok(&env, Tool::Put, &["tpf:stringout", "0x10"]);
    assert_eq!(epics_caget(&env, &[], "tpf:stringout").unwrap(), "16");
}
