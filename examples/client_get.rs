//! Minimal one-shot read with the client library: `client_get PV...`.
//! Prints `name value` per PV (debug format), using the EPICS_CA_* environment.
//! A usage example of `caproto::client`; the real tool is `caproto-get`.

use std::time::Duration;

use caproto::client::Context;
use caproto::proto::dbr::DbrClass;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `CLIENT_GET_DEBUG=1` shows every CA command in caproto's log format.
    if std::env::var_os("CLIENT_GET_DEBUG").is_some() {
        let config = caproto::log::LogConfig::terminal()
            .level(tracing_subscriber::filter::LevelFilter::DEBUG);
        caproto::log::config_logging(config)?;
    }
    let names: Vec<String> = std::env::args().skip(1).collect();
    let mut config = caproto::client::Config::from_env()?;
    config.use_repeater = false;
    let ctx = Context::new(config)?;
    for ch in ctx.connect(&names, Duration::from_secs(1)).await {
        match ch {
            Ok(ch) => {
                let r = ch.get_class(DbrClass::Plain, None).await?;
                println!("{} {:?}", ch.name(), r.value);
            }
            Err(e) => eprintln!("{e}"),
        }
    }
    ctx.close().await;
    Ok(())
}
