//! Rights of one client on one PV, computed from a parsed [`Acf`] the way
//! EPICS base's `asComputePvt` computes them.
//!
//! The PV's group is looked up by name (unknown names fall back to
//! `DEFAULT`; a file without `DEFAULT` gives its PVs no access at all). Its
//! rules are walked in file order, and the best access of the rules that
//! apply wins: a rule applies when the PV's level is at most the rule's
//! level, the user is in one of its UAGs (if it names any) and the host in
//! one of its HAGs (if it names any). The first rule reaching the winning
//! access also decides TRAPWRITE, as in EPICS.
//!
//! Users are compared exactly. Hosts are compared in lower case: HAG members
//! are lowered when the rules are built and the client's host name when it
//! is checked. In client-IP mode (EPICS's `asCheckClientIP`) HAG members are
//! resolved to dotted IPv4 addresses when the rules are built and the client
//! is identified by the address it connected from, not by what it claims.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use super::error::AcfError;
use super::parse::{parse, Access, Acf, DEFAULT_GROUP};

/// How clients' hosts are identified for HAG conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostCheck {
    /// The host name the client sends in HOST_NAME (EPICS's default).
    #[default]
    Name,
    /// The IPv4 address the client connected from; HAG hosts are resolved
    /// to addresses when the rules are built (EPICS's `asCheckClientIP=1`).
    ClientIp,
}

/// What one client may do with one PV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rights {
    /// May read and monitor.
    pub read: bool,
    /// May write.
    pub write: bool,
    /// Writes are put-logged (the granting rule says TRAPWRITE).
    pub trapwrite: bool,
}

impl Rights {
    /// Full access without put logging: what every client has when no ACF is loaded.
    pub const ALL: Rights = Rights {
        read: true,
        write: true,
        trapwrite: false,
    };
}

/// Rules ready to answer "what may this user on this host do with a PV of
/// this group?". Built once per load of a file; cheap to query.
#[derive(Debug, Clone)]
pub struct AccessRules {
    acf: Acf,
    check: HostCheck,
    users: HashMap<String, HashSet<String>>,
    hosts: HashMap<String, HashSet<String>>,
}

impl AccessRules {
    /// Rules matching hosts by the names clients send.
    pub fn new(acf: Acf) -> AccessRules {
        let hosts = acf
            .hags
            .iter()
            .map(|h| {
                let set = h.hosts.iter().map(|s| s.to_ascii_lowercase()).collect();
                (h.name.clone(), set)
            })
            .collect();
        Self::build(acf, HostCheck::Name, hosts)
    }

    /// Rules matching hosts by the client's IP address. `resolve` turns each
    /// HAG member into an address (a name lookup, done by the caller: this
    /// module does no I/O); members it cannot resolve never match, as in EPICS.
    pub fn with_client_ip(
        acf: Acf,
        mut resolve: impl FnMut(&str) -> Option<Ipv4Addr>,
    ) -> AccessRules {
        let hosts = acf
            .hags
            .iter()
            .map(|h| {
                let set = h
                    .hosts
                    .iter()
                    .map(|s| match resolve(s) {
                        Some(ip) => ip.to_string(),
                        None => format!("unresolved:{s}"),
                    })
                    .collect();
                (h.name.clone(), set)
            })
            .collect();
        Self::build(acf, HostCheck::ClientIp, hosts)
    }

    /// Parse `text` and build name-matching rules from it.
    pub fn parse(text: &str) -> Result<AccessRules, AcfError> {
        parse(text).map(AccessRules::new)
    }

    fn build(acf: Acf, check: HostCheck, hosts: HashMap<String, HashSet<String>>) -> AccessRules {
        let users = acf
            .uags
            .iter()
            .map(|u| (u.name.clone(), u.users.iter().cloned().collect()))
            .collect();
        AccessRules {
            acf,
            check,
            users,
            hosts,
        }
    }

    /// The parsed file.
    pub fn acf(&self) -> &Acf {
        &self.acf
    }

    /// How hosts are identified.
    pub fn host_check(&self) -> HostCheck {
        self.check
    }

    /// Rights of `user` on `host` for a PV in access security group `group`
    /// at level `level`. In [`HostCheck::ClientIp`] mode `host` is the
    /// client's dotted IPv4 address.
    pub fn rights(&self, group: &str, level: u32, user: &str, host: &str) -> Rights {
        let asg = self
            .acf
            .asgs
            .iter()
            .find(|a| a.name == group)
            .or_else(|| self.acf.asgs.iter().find(|a| a.name == DEFAULT_GROUP));
        let Some(asg) = asg else {
            return Rights::default();
        };
        let host = match self.check {
            HostCheck::Name => host.to_ascii_lowercase(),
            HostCheck::ClientIp => host.to_string(),
        };
        let mut access = Access::None;
        let mut trapwrite = false;
        for rule in &asg.rules {
            if access == Access::Write {
                break;
            }
            if access >= rule.access || level > rule.level {
                continue;
            }
            let member = |map: &HashMap<String, HashSet<String>>, groups: &[String], who: &str| {
                groups.is_empty()
                    || groups
                        .iter()
                        .any(|g| map.get(g).is_some_and(|set| set.contains(who)))
            };
            if !member(&self.users, &rule.uags, user) || !member(&self.hosts, &rule.hags, &host) {
                continue;
            }
            access = rule.access;
            trapwrite = rule.trapwrite;
        }
        Rights {
            read: access >= Access::Read,
            write: access == Access::Write,
            trapwrite: access == Access::Write && trapwrite,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACF: &str = r#"
UAG(ops) {alice, bob}
UAG(eng) {carol}
HAG(ctrl) {CtrlRoom, localhost}
ASG(DEFAULT) {
    RULE(1, READ)
    RULE(1, WRITE) { UAG(ops) HAG(ctrl) }
    RULE(1, WRITE, TRAPWRITE) { UAG(eng) }
}
ASG(LOCKED) {
    RULE(0, READ) { UAG(ops) }
}
ASG(HIGH) {
    RULE(0, READ)
    RULE(1, WRITE)
}
"#;

    fn rules() -> AccessRules {
        AccessRules::parse(ACF).unwrap()
    }

    const NONE: Rights = Rights {
        read: false,
        write: false,
        trapwrite: false,
    };
    const READ: Rights = Rights {
        read: true,
        write: false,
        trapwrite: false,
    };

    #[test]
    fn uag_and_hag_must_both_match() {
        let r = rules();
        assert_eq!(r.rights("DEFAULT", 0, "alice", "ctrlroom"), Rights::ALL);
        assert_eq!(r.rights("DEFAULT", 0, "alice", "elsewhere"), READ);
        assert_eq!(r.rights("DEFAULT", 0, "mallory", "ctrlroom"), READ);
    }

    #[test]
    fn users_are_case_sensitive_hosts_are_not() {
        let r = rules();
        assert_eq!(r.rights("DEFAULT", 0, "Alice", "ctrlroom"), READ);
        assert_eq!(r.rights("DEFAULT", 0, "alice", "CTRLROOM"), Rights::ALL);
        assert_eq!(r.rights("DEFAULT", 0, "bob", "LocalHost"), Rights::ALL);
    }

    #[test]
    fn trapwrite_comes_from_the_rule_that_grants_write() {
        let r = rules();
        let carol = r.rights("DEFAULT", 0, "carol", "anywhere");
        assert!(carol.write && carol.trapwrite);
        assert!(!r.rights("DEFAULT", 0, "alice", "ctrlroom").trapwrite);
    }

    #[test]
    fn unknown_groups_use_default_and_levels_filter_rules() {
        let r = rules();
        assert_eq!(r.rights("NO_SUCH", 0, "alice", "ctrlroom"), Rights::ALL);
        assert_eq!(r.rights("LOCKED", 0, "alice", "x"), READ);
        assert_eq!(r.rights("LOCKED", 0, "carol", "x"), NONE);
        // A level-1 PV (EPICS: an ASL1 field) only gets level-1 rules.
        assert_eq!(r.rights("LOCKED", 1, "alice", "x"), NONE);
        assert_eq!(r.rights("HIGH", 1, "x", "y"), Rights::ALL);
        assert_eq!(r.rights("HIGH", 2, "x", "y"), NONE);
    }

    #[test]
    fn no_default_group_means_no_access() {
        let r = AccessRules::parse("ASG(OTHER) { RULE(1, WRITE) }").unwrap();
        assert_eq!(r.rights("DEFAULT", 0, "u", "h"), NONE);
        assert_eq!(r.rights("OTHER", 0, "u", "h"), Rights::ALL);
    }

    #[test]
    fn client_ip_mode_matches_resolved_addresses() {
        let acf = parse(ACF).unwrap();
        let r =
            AccessRules::with_client_ip(acf, |h| (h == "localhost").then_some(Ipv4Addr::LOCALHOST));
        assert_eq!(r.host_check(), HostCheck::ClientIp);
        assert_eq!(r.rights("DEFAULT", 0, "alice", "127.0.0.1"), Rights::ALL);
        assert_eq!(r.rights("DEFAULT", 0, "alice", "localhost"), READ);
        // Unresolved members never match, even by their name.
        assert_eq!(r.rights("DEFAULT", 0, "alice", "ctrlroom"), READ);
    }
}
