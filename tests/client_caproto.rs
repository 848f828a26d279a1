//! Our client against caproto 1.3.0's example servers (Python), on loopback
//! with per-test ports.

mod client_support;
mod common;

use caproto::proto::command::mask;
use caproto::proto::dbr::{DbrClass, DbrType, NativeType, Value};
use client_support::{context, next, scalar, WAIT};
use common::CaEnv;

#[tokio::test]
async fn get_put_and_put_callback_on_the_simple_example() {
    let env = CaEnv::new();
    let Some(_server) = common::caproto_example(&env, "simple", "cc1:", "A") else {
        return;
    };
    let ctx = context(&env);
    let chans: Vec<_> = ctx
        .connect(&["cc1:A", "cc1:B", "cc1:C"], WAIT)
        .await
        .into_iter()
        .map(|c| c.expect("connects"))
        .collect();
    let (a, b, c) = (&chans[0], &chans[1], &chans[2]);
    assert_eq!(a.native_type(), Some(NativeType::Long));
    assert_eq!(b.native_type(), Some(NativeType::Double));
    assert_eq!(c.native_type(), Some(NativeType::Long));
    assert_eq!(c.count(), Some(3));
    // One circuit serves all three.
    assert_eq!(a.host(), b.host());

    let r = a.get(DbrType::plain(NativeType::Long), None).await.unwrap();
    assert_eq!(r.value, Value::Long(vec![1]));
    let r = b.get_class(DbrClass::Time, None).await.unwrap();
    assert_eq!(r.value, Value::Double(vec![2.0]));
    assert!(r.meta.stamp.secs > 0);
    let r = c.get(DbrType::plain(NativeType::Long), None).await.unwrap();
    assert_eq!(r.value, Value::Long(vec![1, 2, 3]));

    b.put(&Value::Double(vec![-3.25]), true).await.unwrap();
    assert_eq!(scalar(&b.get(DbrType::DOUBLE, None).await.unwrap()), -3.25);
    // Without a callback nothing says when the server has applied the
    // write: poll (bounded) until a read shows it.
    a.put(&Value::Long(vec![17]), false).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while scalar(&a.get(DbrType::DOUBLE, None).await.unwrap()) != 17.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "write never applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    ctx.close().await;
}

#[tokio::test]
async fn strings_enums_and_ctrl_on_scalars_and_arrays() {
    let env = CaEnv::new();
    let Some(_server) = common::caproto_example(&env, "scalars_and_arrays", "cc2:", "scalar_int")
    else {
        return;
    };
    let ctx = context(&env);
    let s = ctx.connect_one("cc2:array_string", WAIT).await.unwrap();
    let r = s
        .get(DbrType::plain(NativeType::String), None)
        .await
        .unwrap();
    assert_eq!(
        r.value,
        Value::String(vec!["string1".into(), "string2".into()])
    );
    let e = ctx.connect_one("cc2:enum", WAIT).await.unwrap();
    assert_eq!(e.native_type(), Some(NativeType::Enum));
    let r = e.get_class(DbrClass::Ctrl, None).await.unwrap();
    assert_eq!(r.value, Value::Enum(vec![0]));
    assert_eq!(r.meta.enum_strings, ["no", "yes"]);
    e.put(&Value::Enum(vec![1]), true).await.unwrap();
    let r = e
        .get(DbrType::plain(NativeType::String), None)
        .await
        .unwrap();
    assert_eq!(r.value, Value::String(vec!["yes".into()]));
    let f = ctx.connect_one("cc2:scalar_float", WAIT).await.unwrap();
    let r = f.get_class(DbrClass::Ctrl, None).await.unwrap();
    assert_eq!(r.meta.graphics.precision, 5);
    ctx.close().await;
}

#[tokio::test]
async fn subscription_follows_the_random_walk() {
    let env = CaEnv::new();
    let Some(_server) = common::caproto_example(&env, "random_walk", "cc3:", "x") else {
        return;
    };
    let ctx = context(&env);
    let chans = ctx.connect(&["cc3:dt", "cc3:x"], WAIT).await;
    let dt = chans[0].as_ref().unwrap();
    let x = chans[1].as_ref().unwrap();
    dt.put(&Value::Double(vec![0.05]), true).await.unwrap();
    let mut sub = x.subscribe(
        DbrType::Value(DbrClass::Time, NativeType::Double),
        None,
        mask::VALUE,
    );
    let mut stamps = Vec::new();
    for _ in 0..4 {
        let r = next(&mut sub).await.unwrap();
        stamps.push(r.meta.stamp);
    }
    assert!(
        stamps.windows(2).all(|w| w[0] < w[1]),
        "each update is a new step: {stamps:?}"
    );
    ctx.close().await;
}
