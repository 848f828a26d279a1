//! caproto's three record filters: by PV name, by address and by role.
//!
//! Each filter has a *barrier* level: records at or above it (by severity) always pass, so a
//! PV filter never hides a warning. Below the barrier, a record that carries the filter's field
//! passes only if the field matches; a record that lacks the field passes unless the filter is
//! `exclusive`. Several filters on one handler compose with logical AND.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use tracing::level_filters::LevelFilter;
use tracing::Level;

use super::glob::Glob;
use super::target_filter::TargetFilter;
use super::LogError;
use crate::net::{AddrError, HostPort};
use crate::proto::Role;

/// `--log-role` and filter values: `client` or `server`, any case.
impl FromStr for Role {
    type Err = LogError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::from_field(s.trim()).ok_or_else(|| LogError::InvalidRole(s.to_owned()))
    }
}

/// The barrier and exclusive settings every filter shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    /// Records at or above this severity pass regardless of their fields (default WARN).
    /// `LevelFilter::OFF` means no record passes by level alone.
    pub barrier: LevelFilter,
    /// If true, records that lack the filtered field are blocked (default false).
    pub exclusive: bool,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            barrier: LevelFilter::WARN,
            exclusive: false,
        }
    }
}

impl Gate {
    /// True if a record of `level` passes by the barrier alone.
    pub fn passes_by_level(&self, level: &Level) -> bool {
        *level <= self.barrier
    }
}

/// Passes records whose `pv` field matches one of several names or `*`/`?` patterns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PvFilter {
    names: Vec<Glob>,
    gate: Gate,
}

impl PvFilter {
    /// A filter for the given names or patterns, barrier WARN, not exclusive.
    /// Empty patterns are rejected (they could only ever match an empty PV name).
    pub fn new<I, S>(names: I) -> Result<Self, LogError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut globs = Vec::new();
        for n in names {
            let n = n.as_ref();
            if n.is_empty() {
                return Err(LogError::InvalidPvPattern(n.to_owned()));
            }
            globs.push(Glob::new(n));
        }
        Ok(PvFilter {
            names: globs,
            gate: Gate::default(),
        })
    }

    /// Sets the barrier level (records at or above it always pass).
    pub fn level(mut self, barrier: LevelFilter) -> Self {
        self.gate.barrier = barrier;
        self
    }

    /// Blocks records without a `pv` field when true.
    pub fn exclusive(mut self, exclusive: bool) -> Self {
        self.gate.exclusive = exclusive;
        self
    }

    /// The patterns, as given.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(Glob::as_str)
    }

    /// Whether a PV name matches any pattern.
    pub fn matches(&self, pv: &str) -> bool {
        self.names.iter().any(|g| g.matches(pv))
    }
}

/// One address entry: a host (any port) or an exact host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressSpec {
    /// Matches every port of these IP addresses (a host name may resolve to several).
    Host(Vec<IpAddr>),
    /// Matches exactly these socket addresses.
    Exact(Vec<SocketAddr>),
}

impl AddressSpec {
    /// Whether `addr` is covered by this entry.
    pub fn matches(&self, addr: &SocketAddr) -> bool {
        match self {
            AddressSpec::Host(ips) => ips.contains(&addr.ip()),
            AddressSpec::Exact(addrs) => addrs.contains(addr),
        }
    }
}

impl FromStr for AddressSpec {
    type Err = LogError;

    /// Accepts `HOST` or `HOST:PORT` as [`HostPort`] reads it: HOST is an IPv4 address, an
    /// IPv6 address (in brackets when a port follows, e.g. `[::1]:5064`) or a host name,
    /// resolved once here; port 0 is refused (no peer has it, so it would match nothing).
    fn from_str(input: &str) -> Result<Self, LogError> {
        let bad = |e: AddrError| LogError::InvalidAddress {
            input: input.to_owned(),
            reason: e.to_string(),
        };
        let hp: HostPort = input.parse().map_err(bad)?;
        // Any port will do for the look-up when none was written: only the IPs are kept.
        let resolved = hp.resolve(hp.port_or(0)).map_err(bad)?;
        Ok(match hp.port {
            Some(_) => AddressSpec::Exact(resolved),
            None => {
                let mut ips: Vec<IpAddr> = resolved.iter().map(SocketAddr::ip).collect();
                ips.dedup();
                AddressSpec::Host(ips)
            }
        })
    }
}

/// Passes records whose `our_addr` or `their_addr` matches one of several entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressFilter {
    specs: Vec<AddressSpec>,
    gate: Gate,
}

impl AddressFilter {
    /// A filter from already-parsed entries, barrier WARN, not exclusive.
    pub fn new(specs: Vec<AddressSpec>) -> Self {
        AddressFilter {
            specs,
            gate: Gate::default(),
        }
    }

    /// Parses each entry as `HOST` (all ports) or `HOST:PORT`.
    pub fn parse<I, S>(entries: I) -> Result<Self, LogError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let specs = entries
            .into_iter()
            .map(|e| e.as_ref().parse())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(specs))
    }

    /// Sets the barrier level (records at or above it always pass).
    pub fn level(mut self, barrier: LevelFilter) -> Self {
        self.gate.barrier = barrier;
        self
    }

    /// Blocks records without any address field when true.
    pub fn exclusive(mut self, exclusive: bool) -> Self {
        self.gate.exclusive = exclusive;
        self
    }

    /// Whether one address matches any entry.
    pub fn matches(&self, addr: &SocketAddr) -> bool {
        self.specs.iter().any(|s| s.matches(addr))
    }
}

/// Passes records whose `role` field equals the given role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleFilter {
    role: Role,
    gate: Gate,
}

impl RoleFilter {
    /// A filter for `role`, barrier WARN, not exclusive.
    pub fn new(role: Role) -> Self {
        RoleFilter {
            role,
            gate: Gate::default(),
        }
    }

    /// Sets the barrier level (records at or above it always pass).
    pub fn level(mut self, barrier: LevelFilter) -> Self {
        self.gate.barrier = barrier;
        self
    }

    /// Blocks records without a `role` field when true.
    pub fn exclusive(mut self, exclusive: bool) -> Self {
        self.gate.exclusive = exclusive;
        self
    }

    /// The role this filter lets through.
    pub fn role(&self) -> Role {
        self.role
    }
}

/// Any of the filters a handler can carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldFilter {
    /// See [`PvFilter`].
    Pv(PvFilter),
    /// See [`AddressFilter`].
    Address(AddressFilter),
    /// See [`RoleFilter`].
    Role(RoleFilter),
    /// See [`TargetFilter`].
    Target(TargetFilter),
}

impl FieldFilter {
    /// Barrier and exclusive settings.
    pub fn gate(&self) -> &Gate {
        match self {
            FieldFilter::Pv(f) => &f.gate,
            FieldFilter::Address(f) => &f.gate,
            FieldFilter::Role(f) => &f.gate,
            FieldFilter::Target(f) => &f.gate,
        }
    }

    /// Decides a record of `target` below the barrier from the fields seen on it.
    pub(crate) fn decide(&self, target: &str, seen: &SeenFields, pv_match: bool) -> bool {
        let exclusive = self.gate().exclusive;
        match self {
            FieldFilter::Target(f) => f.matches(target),
            FieldFilter::Pv(_) => {
                if seen.pv_present {
                    pv_match
                } else {
                    !exclusive
                }
            }
            FieldFilter::Address(f) => {
                if seen.our_addr.is_none() && seen.their_addr.is_none() && !seen.addr_unparsed {
                    !exclusive
                } else {
                    seen.our_addr.is_some_and(|a| f.matches(&a))
                        || seen.their_addr.is_some_and(|a| f.matches(&a))
                }
            }
            FieldFilter::Role(f) => match (seen.role_present, seen.role) {
                (false, _) => !exclusive,
                (true, r) => r == Some(f.role),
            },
        }
    }
}

/// What the filter visitor saw on one record (all `Copy`, so it lives on the stack).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SeenFields {
    pub pv_present: bool,
    pub our_addr: Option<SocketAddr>,
    pub their_addr: Option<SocketAddr>,
    /// An address field was present but did not parse as a socket address.
    pub addr_unparsed: bool,
    pub role_present: bool,
    pub role: Option<Role>,
}

impl From<PvFilter> for FieldFilter {
    fn from(f: PvFilter) -> Self {
        FieldFilter::Pv(f)
    }
}

impl From<AddressFilter> for FieldFilter {
    fn from(f: AddressFilter) -> Self {
        FieldFilter::Address(f)
    }
}

impl From<TargetFilter> for FieldFilter {
    fn from(f: TargetFilter) -> Self {
        FieldFilter::Target(f)
    }
}

impl From<RoleFilter> for FieldFilter {
    fn from(f: RoleFilter) -> Self {
        FieldFilter::Role(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_spec_forms() {
        let a: AddressSpec = "127.0.0.1".parse().unwrap();
        assert_eq!(a, AddressSpec::Host(vec!["127.0.0.1".parse().unwrap()]));
        let a: AddressSpec = "127.0.0.1:5064".parse().unwrap();
        assert_eq!(
            a,
            AddressSpec::Exact(vec!["127.0.0.1:5064".parse().unwrap()])
        );
        let a: AddressSpec = "[::1]:5064".parse().unwrap();
        assert_eq!(a, AddressSpec::Exact(vec!["[::1]:5064".parse().unwrap()]));
        let a: AddressSpec = "::1".parse().unwrap();
        assert_eq!(a, AddressSpec::Host(vec!["::1".parse().unwrap()]));
        let a: AddressSpec = "localhost:5064".parse().unwrap();
        match a {
            AddressSpec::Exact(v) => {
                assert!(v.iter().all(|s| s.port() == 5064 && s.ip().is_loopback()))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn address_spec_rejects_garbage() {
        for bad in [
            "",
            "127.0.0.1:99999",
            "127.0.0.1:x",
            "[::1",
            "a:b:c",
            ":5064",
            "127.0.0.1:0",
            "localhost:0",
        ] {
            assert!(
                matches!(
                    bad.parse::<AddressSpec>(),
                    Err(LogError::InvalidAddress { .. })
                ),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn host_matches_all_ports_exact_matches_one() {
        let f = AddressFilter::parse(["10.0.0.1", "127.0.0.1:5064"]).unwrap();
        assert!(f.matches(&"10.0.0.1:1".parse().unwrap()));
        assert!(f.matches(&"10.0.0.1:65000".parse().unwrap()));
        assert!(f.matches(&"127.0.0.1:5064".parse().unwrap()));
        assert!(!f.matches(&"127.0.0.1:5065".parse().unwrap()));
    }

    #[test]
    fn role_parse() {
        assert_eq!("CLIENT".parse::<Role>().unwrap(), Role::Client);
        assert_eq!("server".parse::<Role>().unwrap(), Role::Server);
        assert!("both".parse::<Role>().is_err());
    }

    #[test]
    fn empty_pv_pattern_rejected() {
        assert!(PvFilter::new([""]).is_err());
        assert!(PvFilter::new(["a:*", "b"]).unwrap().matches("b"));
    }
}
