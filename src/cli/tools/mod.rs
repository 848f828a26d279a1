//! What each tool does once its arguments are parsed: the run loops of
//! caproto-get, -put and -monitor over the [`backend::Backend`] trait, the
//! real client behind it, the shared `main` ([`tool_main`]), signals, and the
//! repeater (served by caproto-repeater, started on demand by the clients), and
//! caproto-shark's capture decoding loop and its live view (`--top`).

pub mod backend;
pub mod client_backend;
pub mod get;
pub mod info;
pub mod ioc;
pub mod monitor;
pub mod put;
pub mod repeater;
pub mod shark;
mod shark_metrics;
pub mod shark_top;
pub mod signals;
pub mod spawn_repeater;
pub mod tool_main;
