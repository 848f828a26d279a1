//! Our client against EPICS base's softIoc (tests/fixtures/ioc.db), on
//! loopback with per-test ports.

mod client_support;
mod common;

use std::time::Duration;

use caproto::client::{ClientError, Context};
use caproto::proto::command::mask;
use caproto::proto::dbr::{DbrClass, DbrType, NativeType, Value};
use client_support::{config, context, next, next_ok, scalar, WAIT};
use common::CaEnv;

fn ioc(env: &CaEnv, prefix: &str) -> Option<common::ChildGuard> {
    common::softioc_fixture(env, prefix)
}

#[tokio::test]
async fn connect_many_and_get_every_native_type() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "cs1:") else {
        return;
    };
    let ctx = context(&env);
    let names = [
        "cs1:ai",
        "cs1:stringin",
        "cs1:longin",
        "cs1:mbbi",
        "cs1:wave_s",
        "cs1:wave_f",
        "cs1:wave_c",
        "cs1:wave_l",
        "cs1:wave_str",
    ];
    let chans: Vec<_> = ctx
        .connect(&names, WAIT)
        .await
        .into_iter()
        .map(|c| c.expect("connects"))
        .collect();
    let expect_types = [
        NativeType::Double,
        NativeType::String,
        NativeType::Long,
        NativeType::Enum,
        NativeType::Short,
        NativeType::Float,
        NativeType::Char,
        NativeType::Long,
        NativeType::String,
    ];
    for (ch, ty) in chans.iter().zip(expect_types) {
        assert_eq!(ch.native_type(), Some(ty), "{}", ch.name());
        let info = ch.info().expect("connected");
        assert_eq!(info.server.port(), env.server_port());
        assert!(info.access_rights.read && info.access_rights.write);
    }
    assert_eq!(chans[0].count(), Some(1));
    assert_eq!(chans[4].count(), Some(16));

    let mut values = Vec::new();
    for ch in &chans {
        let r = ch
            .get(DbrType::plain(ch.native_type().unwrap()), None)
            .await
            .expect("get");
        assert_eq!(r.value.native_type(), ch.native_type().unwrap());
        values.push(r.value);
    }
    assert_eq!(values[0], Value::Double(vec![3.5]));
    assert_eq!(values[1], Value::String(vec!["hello".into()]));
    assert_eq!(values[2], Value::Long(vec![42]));
    assert_eq!(values[3], Value::Enum(vec![2]));
    assert_eq!(values[4], Value::Short(vec![1, -2, 3]));
    assert_eq!(values[5], Value::Float(vec![0.5, 1.25]));
    let text = b"a long string that does not fit in forty characters";
    match &values[6] {
        Value::Char(bytes) => assert!(bytes.starts_with(text), "{bytes:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(values[7], Value::Long(vec![100000, -100000, 7]));
    assert_eq!(
        values[8],
        Value::String(vec!["alpha".into(), "beta".into()])
    );

    // Asking for another type makes the server convert.
    let r = chans[2]
        .get(DbrType::plain(NativeType::String), None)
        .await
        .unwrap();
    assert_eq!(r.value, Value::String(vec!["42".into()]));
    // A fixed count gets exactly that many elements.
    let r = chans[4]
        .get(DbrType::plain(NativeType::Short), Some(2))
        .await
        .unwrap();
    assert_eq!(r.value, Value::Short(vec![1, -2]));
    ctx.close().await;
}

#[tokio::test]
async fn time_and_ctrl_metadata() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "cs2:") else {
        return;
    };
    let ctx = context(&env);
    let alarm = ctx.connect_one("cs2:ai_alarm", WAIT).await.unwrap();
    let r = alarm.get_class(DbrClass::Time, None).await.unwrap();
    assert_eq!(
        r.dbr_type,
        DbrType::Value(DbrClass::Time, NativeType::Double)
    );
    assert_eq!(r.value, Value::Double(vec![95.0]));
    assert_eq!(r.meta.severity.0, 2, "MAJOR");
    assert_eq!(r.meta.status.0, 3, "HIHI");
    assert!(r.meta.stamp.secs > 0, "timestamp set: {:?}", r.meta.stamp);

    let ai = ctx.connect_one("cs2:ai", WAIT).await.unwrap();
    let r = ai.get_class(DbrClass::Ctrl, None).await.unwrap();
    let g = &r.meta.graphics;
    assert_eq!(g.units, "mm");
    assert_eq!(g.precision, 3);
    assert_eq!((g.upper_disp_limit, g.lower_disp_limit), (100.0, -100.0));
    assert_eq!((g.upper_alarm_limit, g.lower_alarm_limit), (90.0, -90.0));
    assert_eq!(
        (g.upper_warning_limit, g.lower_warning_limit),
        (50.0, -50.0)
    );

    let ao = ctx.connect_one("cs2:ao", WAIT).await.unwrap();
    let r = ao.get_class(DbrClass::Ctrl, None).await.unwrap();
    assert_eq!(
        (
            r.meta.control.upper_ctrl_limit,
            r.meta.control.lower_ctrl_limit
        ),
        (8.0, -8.0)
    );

    let mbbi = ctx.connect_one("cs2:mbbi", WAIT).await.unwrap();
    let r = mbbi.get_class(DbrClass::Ctrl, None).await.unwrap();
    assert_eq!(r.value, Value::Enum(vec![2]));
    assert_eq!(r.meta.enum_strings, ["zero", "one", "two", "three", "four"]);
    ctx.close().await;
}

#[tokio::test]
async fn put_and_read_back() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "cs3:") else {
        return;
    };
    let ctx = context(&env);
    let ao = ctx.connect_one("cs3:ao", WAIT).await.unwrap();
    ao.put(&Value::Double(vec![2.25]), false).await.unwrap();
    // Requests on one circuit are served in order: the get sees the put.
    let r = ao.get(DbrType::DOUBLE, None).await.unwrap();
    assert_eq!(r.value, Value::Double(vec![2.25]));
    // DRVH clips.
    ao.put(&Value::Double(vec![100.0]), true).await.unwrap();
    assert_eq!(scalar(&ao.get(DbrType::DOUBLE, None).await.unwrap()), 8.0);
    // A string put is converted by the server.
    ao.put(&Value::String(vec!["-1.5".into()]), true)
        .await
        .unwrap();
    assert_eq!(scalar(&ao.get(DbrType::DOUBLE, None).await.unwrap()), -1.5);

    let so = ctx.connect_one("cs3:stringout", WAIT).await.unwrap();
    so.put(&Value::String(vec!["changed".into()]), true)
        .await
        .unwrap();
    let r = so
        .get(DbrType::plain(NativeType::String), None)
        .await
        .unwrap();
    assert_eq!(r.value, Value::String(vec!["changed".into()]));

    let wave = ctx.connect_one("cs3:wave_l", WAIT).await.unwrap();
    wave.put(&Value::Long(vec![9, 8, 7, 6]), true)
        .await
        .unwrap();
    let r = wave
        .get(DbrType::plain(NativeType::Long), None)
        .await
        .unwrap();
    assert_eq!(r.value, Value::Long(vec![9, 8, 7, 6]));
    ctx.close().await;
}

#[tokio::test]
async fn put_callback_completes_after_processing() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "cs4:") else {
        return;
    };
    let ctx = context(&env);
    let chans = ctx.connect(&["cs4:slow", "cs4:slow_out"], WAIT).await;
    let [slow, out] = [&chans[0], &chans[1]].map(|c| c.as_ref().expect("connects"));
    slow.put(&Value::Double(vec![7.0]), true).await.unwrap();
    // slow_out is written only when the delayed processing finishes, which is
    // when the callback fires: so it must hold the value already.
    assert_eq!(scalar(&out.get(DbrType::DOUBLE, None).await.unwrap()), 7.0);
    ctx.close().await;
}

#[tokio::test]
async fn subscription_receives_updates_from_a_scanning_calc() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "cs5:") else {
        return;
    };
    let ctx = context(&env);
    let calc = ctx.connect_one("cs5:calc", WAIT).await.unwrap();
    let mut sub = calc.subscribe(
        DbrType::Value(DbrClass::Time, NativeType::Double),
        None,
        mask::VALUE | mask::ALARM,
    );
    let first = scalar(&next(&mut sub).await.unwrap());
    let mut last = first;
    for _ in 0..3 {
        let r = next(&mut sub).await.unwrap();
        assert_eq!(
            r.dbr_type,
            DbrType::Value(DbrClass::Time, NativeType::Double)
        );
        assert!(r.meta.stamp.secs > 0);
        let v = scalar(&r);
        assert!(v > last, "counter increases: {last} then {v}");
        last = v;
    }
    // A second subscription on the same channel works independently, and
    // dropping the first (EVENT_CANCEL) leaves the second running.
    let mut sub2 = calc.subscribe(DbrType::DOUBLE, None, mask::VALUE);
    drop(sub);
    let a = scalar(&next(&mut sub2).await.unwrap());
    let b = scalar(&next(&mut sub2).await.unwrap());
    assert!(b > a);
    ctx.close().await;
}

#[tokio::test]
async fn unknown_pv_times_out_with_a_typed_error() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "cs6:") else {
        return;
    };
    let ctx = context(&env);
    let timeout = Duration::from_millis(300);
    let results = ctx.connect(&["cs6:ai", "cs6:no_such_pv"], timeout).await;
    let ai = results[0].as_ref().expect("cs6:ai connects");
    let got = ai.get(DbrType::DOUBLE, None).await.expect("read cs6:ai");
    assert_eq!(got.value, Value::Double(vec![3.5]), "the fixture's cs6:ai");
    assert_eq!(ai.name(), "cs6:ai");
    match &results[1] {
        Err(ClientError::Timeout { pv, timeout: t }) => {
            assert_eq!(pv, "cs6:no_such_pv");
            assert_eq!(*t, timeout);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    match ctx.connect_one("", timeout).await {
        Err(ClientError::InvalidName(_)) => {}
        other => panic!("expected InvalidName, got {other:?}"),
    }
    ctx.close().await;
}

#[tokio::test]
async fn reconnects_and_resubscribes_after_server_restart() {
    let env = CaEnv::new();
    let Some(mut ioc1) = ioc(&env, "cs7:") else {
        return;
    };
    // Beacons through a repeater speed up the re-search (beacon anomaly).
    env.ensure_repeater();
    let ctx = Context::new(config(&env, true)).unwrap();
    let calc = ctx.connect_one("cs7:calc", WAIT).await.unwrap();
    let ao = ctx.connect_one("cs7:ao", WAIT).await.unwrap();
    let mut sub = calc.subscribe(DbrType::DOUBLE, None, mask::VALUE);
    next(&mut sub).await.unwrap();
    ao.put(&Value::Double(vec![4.0]), true).await.unwrap();

    ioc1.kill();
    // The subscription reports the loss...
    loop {
        match next(&mut sub).await {
            Err(ClientError::Disconnected { pv }) => {
                assert_eq!(pv, "cs7:calc");
                break;
            }
            Ok(_) => continue, // updates already queued before the kill
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(!calc.is_connected());
    assert!(matches!(
        ao.get(DbrType::DOUBLE, None).await,
        Err(ClientError::Disconnected { .. })
    ));

    // ... and resumes on a new server at the same address, without any call.
    let Some(_ioc2) = ioc(&env, "cs7:") else {
        return;
    };
    let (r, errors) = next_ok(&mut sub).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert!(scalar(&r) >= 0.0);
    ao.wait_connected(WAIT).await.unwrap();
    // The new IOC starts from the database default, so the earlier put is gone.
    assert_eq!(scalar(&ao.get(DbrType::DOUBLE, None).await.unwrap()), 1.5);
    ctx.close().await;
}

#[tokio::test]
async fn array_sizes_and_max_array_bytes() {
    let env = CaEnv::new();
    let Some(mut ioc) = ioc(&env, "cs8:") else {
        return;
    };
    let ctx = context(&env);
    let wave = ctx.connect_one("cs8:wave_d", WAIT).await.unwrap();
    assert_eq!(wave.count(), Some(100_000));
    // The current length (5) fits the default limit...
    let r = wave.get(DbrType::DOUBLE, None).await.unwrap();
    assert_eq!(r.value, Value::Double(vec![1.5, 2.5, 3.5, 4.5, 5.5]));
    // ...the full capacity does not: refused before anything is sent.
    match wave.get(DbrType::DOUBLE, Some(100_000)).await {
        Err(ClientError::TooLarge { pv, bytes, limit }) => {
            assert_eq!(pv, "cs8:wave_d");
            assert!(bytes >= 800_000 && limit < bytes);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // The channel is still usable.
    assert_eq!(
        wave.get(DbrType::DOUBLE, Some(2))
            .await
            .unwrap()
            .value
            .len(),
        2
    );
    ctx.close().await;

    // With a larger EPICS_CA_MAX_ARRAY_BYTES a long array arrives whole
    // (extended headers both ways).
    let mut cfg = config(&env, false);
    cfg.max_array_bytes = 2_000_000;
    let ctx = Context::new(cfg).unwrap();
    let wave = ctx.connect_one("cs8:wave_d", WAIT).await.unwrap();
    let long: Vec<f64> = (0..70_000).map(f64::from).collect();
    // EPICS 7's server sizes its buffers itself (EPICS_CA_AUTO_ARRAY_BYTES).
    wave.put(&Value::Double(long.clone()), true).await.unwrap();
    let r = wave.get(DbrType::DOUBLE, None).await.unwrap();
    assert_eq!(r.value, Value::Double(long));
    ioc.assert_running();
    ctx.close().await;
}

#[tokio::test]
async fn name_server_search_over_tcp() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "cs9:") else {
        return;
    };
    // No UDP search at all: only EPICS_CA_NAME_SERVERS (loopback).
    let mut cfg = config(&env, false);
    cfg.search_addrs.clear();
    cfg.name_servers = vec![std::net::SocketAddr::from((
        [127, 0, 0, 1],
        env.server_port(),
    ))];
    let ctx = Context::new(cfg).unwrap();
    let chans = ctx.connect(&["cs9:ai", "cs9:longin"], WAIT).await;
    let ai = chans[0].as_ref().expect("found through the name server");
    assert_eq!(scalar(&ai.get(DbrType::DOUBLE, None).await.unwrap()), 3.5);
    let longin = chans[1].as_ref().expect("found through the name server");
    assert_eq!(
        scalar(&longin.get(DbrType::DOUBLE, None).await.unwrap()),
        42.0
    );
    ctx.close().await;
}
