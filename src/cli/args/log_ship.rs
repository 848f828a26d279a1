//! The value of `--log-ship`: a destination URL with optional per-destination settings in its
//! query string, so each destination carries its own level and filters:
//!
//! ```text
//! --log-ship 'tcp://logstash:5170?level=info'
//! --log-ship 'syslog://127.0.0.1:6514?level=debug&pv=xyz*&pv=abc&role=server'
//! --log-ship 'unixgram:///dev/log?facility=local3'
//! ```
//!
//! Keys: `level` (as `--log-ship-level`), `pv` (repeatable, as `--log-pv`), `addr` (repeatable,
//! as `--log-addr`), `role` (as `--log-role`), `queue` (records queued before dropping),
//! `facility` (syslog facility: a number 0-23, `user`, `daemon` or `local0`-`local7`),
//! `target` (repeatable: only records of that target or below it, e.g. `caproto::putlog` for
//! a put-log destination; strict, other targets' warnings do not pass either).
//! A key given in the URL replaces, for that destination only, the setting of the same kind
//! from the common flags; kinds not given follow the common flags.

use std::str::FromStr;

use tracing::level_filters::LevelFilter;

use crate::log::{self, AddressSpec, LogError, ShipTarget};
use crate::proto::Role;

/// One `--log-ship` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipSpec {
    /// Where records go.
    pub target: ShipTarget,
    /// `level=`: overrides `--log-ship-level`.
    pub level: Option<LevelFilter>,
    /// `pv=` patterns: replace `--log-pv` for this destination.
    pub pv: Option<Vec<String>>,
    /// `addr=` entries: replace `--log-addr` for this destination.
    pub addr: Option<Vec<AddressSpec>>,
    /// `role=`: replaces `--log-role` for this destination.
    pub role: Option<Role>,
    /// `queue=`: queue capacity in records.
    pub queue: Option<usize>,
    /// `facility=`: syslog facility code.
    pub facility: Option<u8>,
    /// `target=`: route only these targets (and their children) to the destination.
    pub targets: Vec<String>,
}

fn bad(input: &str, reason: impl Into<String>) -> LogError {
    LogError::InvalidShipUrl {
        input: input.to_owned(),
        reason: reason.into(),
    }
}

/// Decodes `%XX` escapes and `+` (so `pv=a%2Ab` can carry characters a shell or URL mangles).
fn unescape(input: &str, s: &str) -> Result<String, LogError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| bad(input, format!("bad %-escape in {s:?}")))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad(input, "escapes must decode to UTF-8"))
}

fn facility(input: &str, v: &str) -> Result<u8, LogError> {
    let v = v.to_ascii_lowercase();
    let code = match v.as_str() {
        "user" => 1,
        "daemon" => 3,
        _ => if let Some(n) = v.strip_prefix("local") {
            n.parse::<u8>().ok().filter(|n| *n <= 7).map(|n| 16 + n)
        } else {
            v.parse::<u8>().ok().filter(|n| *n <= 23)
        }
        .ok_or_else(|| bad(input, format!("unknown syslog facility {v:?}")))?,
    };
    Ok(code)
}

impl FromStr for ShipSpec {
    type Err = LogError;

    fn from_str(input: &str) -> Result<Self, LogError> {
        let (url, query) = match input.split_once('?') {
            Some((u, q)) => (u, Some(q)),
            None => (input, None),
        };
        let mut spec = ShipSpec {
            target: url.parse()?,
            level: None,
            pv: None,
            addr: None,
            role: None,
            queue: None,
            facility: None,
            targets: Vec::new(),
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| bad(input, format!("expected KEY=VALUE, got {pair:?}")))?;
            let v = unescape(input, v)?;
            match k {
                "level" => spec.level = Some(log::parse_level(&v)?),
                "pv" => {
                    if v.trim().is_empty() {
                        return Err(bad(input, "empty pv pattern"));
                    }
                    spec.pv.get_or_insert_with(Vec::new).push(v);
                }
                "addr" => {
                    let a = v.parse::<AddressSpec>()?;
                    spec.addr.get_or_insert_with(Vec::new).push(a);
                }
                "role" => {
                    spec.role = Some(match v.to_ascii_lowercase().as_str() {
                        "client" => Role::Client,
                        "server" => Role::Server,
                        _ => return Err(LogError::InvalidRole(v)),
                    })
                }
                "queue" => {
                    spec.queue =
                        Some(v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                            bad(input, format!("queue must be a positive number, got {v:?}"))
                        })?)
                }
                "facility" => spec.facility = Some(facility(input, &v)?),
                "target" => {
                    if v.is_empty() || v.contains(char::is_whitespace) {
                        return Err(bad(input, format!("invalid target {v:?}")));
                    }
                    spec.targets.push(v);
                }
                other => {
                    return Err(bad(
                        input,
                        format!(
                        "unknown option {other:?} (level, pv, addr, role, queue, facility, target)"
                    ),
                    ))
                }
            }
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_options() {
        let s: ShipSpec = "syslog://127.0.0.1:6514?level=debug&pv=xyz*&pv=a%3Ab&role=server&queue=10&facility=local3"
            .parse()
            .unwrap();
        assert_eq!(s.target.to_string(), "syslog://127.0.0.1:6514");
        assert_eq!(s.level, Some(LevelFilter::DEBUG));
        assert_eq!(s.pv, Some(vec!["xyz*".to_owned(), "a:b".to_owned()]));
        assert_eq!(s.role, Some(Role::Server));
        assert_eq!(s.queue, Some(10));
        assert_eq!(s.facility, Some(19));
        let plain: ShipSpec = "tcp://h:1".parse().unwrap();
        assert_eq!((plain.level, plain.pv, plain.addr), (None, None, None));
    }

    #[test]
    fn bad_options_are_named() {
        for (s, why) in [
            ("tcp://h:1?colour=red", "unknown option"),
            ("tcp://h:1?level", "KEY=VALUE"),
            ("tcp://h:1?level=loud", "loud"),
            ("tcp://h:1?queue=0", "positive"),
            ("tcp://h:1?facility=local9", "facility"),
            ("tcp://h:1?pv=%zz", "escape"),
            ("tcp://h:1?role=both", "both"),
        ] {
            let e = s.parse::<ShipSpec>().unwrap_err().to_string();
            assert!(e.contains(why), "{s}: {e}");
        }
    }
}
