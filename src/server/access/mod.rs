//! Access security: EPICS ACF files and the rights they give each client.
//!
//! An ACF file names user access groups (UAG: user names), host access
//! groups (HAG: host names) and access security groups (ASG: rules). Every
//! PV belongs to one ASG (`DEFAULT` unless [`crate::server::Pv::access_group`]
//! says otherwise); a client's rights on the PV follow from that group's
//! rules, its user name (CLIENT_NAME) and its host (HOST_NAME, or its IP
//! address in [`HostCheck::ClientIp`] mode).
//!
//! The module is sans-I/O apart from [`load_file`]: [`parse`] turns text
//! into a typed [`Acf`] or an [`AcfError`] (line and [`AcfErrorKind`]);
//! [`AccessRules`] answers [`AccessRules::rights`]. The server keeps the
//! current rules behind an [`AccessControl`] handle; replacing them (a
//! reload) makes every circuit recompute its channels' rights and send
//! ACCESS_RIGHTS where they changed.
//!
//! `CALC` conditions are evaluated with the core's CALC engine
//! ([`crate::proto::calc`]) over the values of the group's `INP` PVs, which
//! the server follows with a Channel Access client of its own, as an IOC
//! does (see [`follow_inputs`]); rights are recomputed whenever an input's
//! value changes.

mod calc;
mod control;
mod error;
mod file;
mod inputs;
mod lex;
mod parse;
mod putlog;
mod rules;

pub use control::AccessControl;
pub use error::{AcfError, AcfErrorKind, AcfFileError};
pub use file::{load_file, resolve_ipv4};
pub use inputs::follow_inputs;
pub use parse::{parse, Access, Acf, Asg, Hag, Rule, Uag, DEFAULT_GROUP};
pub use putlog::{putlog_handler, PUTLOG_TARGET};
pub use rules::{AccessRules, AcfInput, HostCheck, Rights};

/// Tracing target of access-security records (refused writes, reloads).
pub const ACCESS_TARGET: &str = "caproto::access";

/// Compiles the examples in `docs/security.md` as doc tests, so the guide stays correct.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/security.md")]
pub struct SecurityGuide;
