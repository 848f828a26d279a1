//! Runtime log control for long-running servers (`caproto-ioc --log-control PREFIX`): PVs that
//! change the terminal and file handlers in place, the shell form of caproto's
//! `get_handler().addFilter(...)`:
//!
//! | PV | type | effect |
//! | --- | --- | --- |
//! | `PREFIX:level` | enum `OFF ERROR WARNING INFO DEBUG TRACE` | level of every controlled handler |
//! | `PREFIX:pv` | string | PV filter: patterns separated by spaces or commas (`*`, `?`); empty = all |
//! | `PREFIX:addr` | string | address filter: `HOST` or `HOST:PORT` entries; empty = all |
//! | `PREFIX:role` | enum `ANY CLIENT SERVER` | role filter |
//!
//! The filters the PVs set *replace* the handlers' filters (the start-up `--log-pv`, `--log-addr`
//! and `--log-role` are the PVs' initial values). A rejected value (bad pattern or address)
//! fails the put with `ECA_PUTFAIL` and changes nothing. Every change is logged at WARN (target
//! `caproto::log`), so it shows in every handler whatever its level and filters.
//!
//! Access: these PVs belong to the access-security group [`LOG_CONTROL_ASG`], so an ACF file
//! (`caproto-ioc --acf`) can give them rules of their own; a file without that group applies
//! its `DEFAULT` rules, as EPICS does for unknown groups, and without `--acf` anyone who can
//! reach the IOC may write them, like any writable PV.

use std::sync::{Arc, Mutex};

use tracing::level_filters::LevelFilter;

use crate::log::{self, AddressSpec, FieldFilter, Handler, LogError, PvFilter};
use crate::proto::dbr::Value;
use crate::proto::Role;
use crate::server::{PutError, Pv, PvGroup};

/// Access-security group of the log-control PVs, for ACF rules such as
/// `ASG(CAPROTO_LOG) { RULE(1, READ) RULE(1, WRITE) { UAG(operators) } }`.
pub const LOG_CONTROL_ASG: &str = "CAPROTO_LOG";

/// States of `PREFIX:level`, least to most verbose.
pub const LEVEL_STATES: [&str; 6] = ["OFF", "ERROR", "WARNING", "INFO", "DEBUG", "TRACE"];

/// States of `PREFIX:role`.
pub const ROLE_STATES: [&str; 3] = ["ANY", "CLIENT", "SERVER"];

const LEVELS: [LevelFilter; 6] = [
    LevelFilter::OFF,
    LevelFilter::ERROR,
    LevelFilter::WARN,
    LevelFilter::INFO,
    LevelFilter::DEBUG,
    LevelFilter::TRACE,
];

/// The start-up settings the PVs begin with.
#[derive(Clone, Debug)]
pub struct LogControlInit {
    /// Initial `PREFIX:level` (the terminal handler's level).
    pub level: LevelFilter,
    /// Initial PV patterns (`--log-pv`).
    pub pv: Vec<String>,
    /// Initial address entries (`--log-addr`).
    pub addr: Vec<AddressSpec>,
    /// Initial role (`--log-role`).
    pub role: Option<Role>,
}

#[derive(Default)]
struct Filters {
    pv: Vec<String>,
    addr: Vec<AddressSpec>,
    role: Option<Role>,
}

impl Filters {
    fn build(&self) -> Result<Vec<FieldFilter>, LogError> {
        let mut out = Vec::new();
        if !self.pv.is_empty() {
            out.push(PvFilter::new(&self.pv)?.into());
        }
        if !self.addr.is_empty() {
            out.push(log::AddressFilter::new(self.addr.clone()).into());
        }
        if let Some(r) = self.role {
            out.push(log::RoleFilter::new(r).into());
        }
        Ok(out)
    }
}

struct Control {
    handlers: Vec<Handler>,
    filters: Mutex<Filters>,
}

impl Control {
    /// Applies `edit` to a copy of the filters; on success installs them on every handler.
    fn change(&self, edit: impl FnOnce(&mut Filters)) -> Result<(), PutError> {
        let mut cur = crate::sync::lock(&self.filters);
        let mut next = Filters {
            pv: cur.pv.clone(),
            addr: cur.addr.clone(),
            role: cur.role,
        };
        edit(&mut next);
        let built = next
            .build()
            .map_err(|e| PutError::Rejected(e.to_string()))?;
        for h in &self.handlers {
            // A handler removed meanwhile is simply no longer controlled.
            let _ = h.set_filters(built.clone());
        }
        *cur = next;
        Ok(())
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.first().cloned().unwrap_or_default(),
        Value::Char(b) => {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).into_owned()
        }
        _ => String::new(),
    }
}

fn index_of(v: &Value) -> Option<usize> {
    match v {
        Value::Enum(e) => e.first().map(|&i| usize::from(i)),
        _ => None,
    }
}

fn tokens(s: &str) -> Vec<String> {
    s.split([' ', ',', '\t'])
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An address entry as text that parses back to it.
fn spec_text(a: &AddressSpec) -> String {
    match a {
        AddressSpec::Host(ips) => ips
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        AddressSpec::Exact(addrs) => addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn logged(pv: &str, value: &str) {
    tracing::warn!(target: "caproto::log", control = pv, value,
        "log control: {pv} set to {value:?}");
}

/// The log-control PVs under `PREFIX:` acting on `handlers` (typically the terminal and
/// `--log-file` handlers of [`crate::log::LogGuard`]).
pub fn log_control_group(prefix: &str, handlers: Vec<Handler>, init: &LogControlInit) -> PvGroup {
    let base = format!("{prefix}:");
    let addr_text: Vec<String> = init.addr.iter().map(spec_text).collect();
    let control = Arc::new(Control {
        handlers,
        filters: Mutex::new(Filters {
            pv: init.pv.clone(),
            addr: init.addr.clone(),
            role: init.role,
        }),
    });
    let mut g = PvGroup::new(base.clone());

    let level_index = LEVELS.iter().position(|l| *l == init.level).unwrap_or(2) as u16;
    let c = Arc::clone(&control);
    let name = format!("{base}level");
    g.add(
        Pv::enumerated("level", &LEVEL_STATES, level_index)
            .access_group(LOG_CONTROL_ASG)
            .on_put(move |_, v| {
                let i = index_of(&v)
                    .filter(|i| *i < LEVELS.len())
                    .ok_or_else(|| PutError::OutOfRange(format!("level index {v:?}")))?;
                for h in &c.handlers {
                    let _ = h.set_level(LEVELS[i]);
                }
                logged(&name, LEVEL_STATES[i]);
                Ok(None)
            }),
    );

    let c = Arc::clone(&control);
    let name = format!("{base}pv");
    g.add(
        Pv::new("pv", init.pv.join(" "))
            .access_group(LOG_CONTROL_ASG)
            .on_put(move |_, v| {
                let s = text_of(&v);
                let pats = tokens(&s);
                c.change(|f| f.pv = pats)?;
                logged(&name, &s);
                Ok(None)
            }),
    );

    let c = Arc::clone(&control);
    let name = format!("{base}addr");
    g.add(
        Pv::new("addr", addr_text.join(" "))
            .access_group(LOG_CONTROL_ASG)
            .on_put(move |_, v| {
                let s = text_of(&v);
                let specs = tokens(&s)
                    .iter()
                    .map(|t| t.parse::<AddressSpec>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| PutError::Rejected(e.to_string()))?;
                c.change(|f| f.addr = specs)?;
                logged(&name, &s);
                Ok(None)
            }),
    );

    let c = Arc::clone(&control);
    let name = format!("{base}role");
    let role_index = match init.role {
        None => 0,
        Some(Role::Client) => 1,
        Some(Role::Server) => 2,
    };
    g.add(
        Pv::enumerated("role", &ROLE_STATES, role_index)
            .access_group(LOG_CONTROL_ASG)
            .on_put(move |_, v| {
                let role = match index_of(&v) {
                    Some(0) => None,
                    Some(1) => Some(Role::Client),
                    Some(2) => Some(Role::Server),
                    _ => return Err(PutError::OutOfRange(format!("role index {v:?}"))),
                };
                c.change(|f| f.role = role)?;
                let shown = match role {
                    None => ROLE_STATES[0],
                    Some(Role::Client) => ROLE_STATES[1],
                    Some(Role::Server) => ROLE_STATES[2],
                };
                logged(&name, shown);
                Ok(None)
            }),
    );
    g
}
