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
//!
//! A rule with a `CALC` condition applies only while its expression of the
//! group's `INP` values is 1 (see the `calc` module for EPICS's rules). The
//! values come from outside: [`AccessRules::inputs`] lists the PVs to watch
//! and [`AccessRules::set_input`] records what they read.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::calc::GroupCalc;
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
    /// CALC state per group, in the order of `acf.asgs`.
    calcs: Vec<GroupCalc>,
    generation: u64,
}

/// One `INP` link of a group: the PV whose value is `letter` in its CALCs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcfInput {
    /// The access security group.
    pub group: String,
    /// `A`..`L`.
    pub letter: char,
    /// The PV to read.
    pub pv: String,
}

/// Source of [`AccessRules::generation`].
static GENERATION: AtomicU64 = AtomicU64::new(1);

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
        let calcs = acf.asgs.iter().map(GroupCalc::new).collect();
        AccessRules {
            acf,
            check,
            users,
            hosts,
            calcs,
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Identifies one load of a file: the same for copies with other input
    /// values ([`set_input`](Self::set_input)), new for every build.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Every `INP` link, for whoever feeds [`set_input`](Self::set_input).
    pub fn inputs(&self) -> Vec<AcfInput> {
        self.acf
            .asgs
            .iter()
            .flat_map(|a| {
                a.inputs.iter().map(|(letter, pv)| AcfInput {
                    group: a.name.clone(),
                    letter: *letter,
                    pv: pv.clone(),
                })
            })
            .collect()
    }

    /// Input `letter` of `group` reads `value` now, or is bad (`None`: its
    /// PV is disconnected, unreadable or in INVALID alarm). Recomputes the
    /// CALC conditions that read it; returns whether any rule's standing
    /// changed (and so clients' rights may have).
    pub fn set_input(&mut self, group: &str, letter: char, value: Option<f64>) -> bool {
        match self.acf.asgs.iter().position(|a| a.name == group) {
            Some(i) => self.calcs[i].set_input(letter, value),
            None => false,
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
        let index = self
            .acf
            .asgs
            .iter()
            .position(|a| a.name == group)
            .or_else(|| self.acf.asgs.iter().position(|a| a.name == DEFAULT_GROUP));
        let Some(index) = index else {
            return Rights::default();
        };
        let (asg, calc) = (&self.acf.asgs[index], &self.calcs[index]);
        let host = match self.check {
            HostCheck::Name => host.to_ascii_lowercase(),
            HostCheck::ClientIp => host.to_string(),
        };
        let mut access = Access::None;
        let mut trapwrite = false;
        for (i, rule) in asg.rules.iter().enumerate() {
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
            if !calc.applies(i) {
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

    /// EPICS's CALC rules (checked with softIoc -a): no result before the
    /// inputs read, result 1 within 0.99..1.01, a bad input disables the
    /// rules that read it, a CALC reading no input never applies.
    #[test]
    fn calc_rules_follow_their_inputs() {
        let mut r = AccessRules::parse(
            r#"
ASG(DEFAULT) { RULE(1, READ) }
ASG(CONST) { RULE(1, READ) RULE(1, WRITE) { CALC("1") } }
ASG(GATED) {
    INPA("gate") INPB("missing")
    RULE(1, READ)
    RULE(1, WRITE) { CALC("A>5") }
    RULE(1, WRITE, TRAPWRITE) { CALC("A=2||B") }
}
ASG(NEAR) { INPA("gate") RULE(1, READ) RULE(1, WRITE) { CALC("A") } }
"#,
        )
        .unwrap();
        let write = |r: &AccessRules, g: &str| r.rights(g, 0, "u", "h").write;
        assert_eq!(r.inputs().len(), 3);
        assert_eq!(
            r.inputs()[1],
            AcfInput {
                group: "GATED".into(),
                letter: 'B',
                pv: "missing".into()
            }
        );
        assert!(!write(&r, "GATED") && !write(&r, "CONST"));
        let generation = r.generation();
        assert!(r.set_input("GATED", 'A', Some(6.0)));
        assert!(write(&r, "GATED"));
        assert!(!r.rights("GATED", 0, "u", "h").trapwrite);
        assert_eq!(r.generation(), generation);
        // A=2 makes the third rule's expression 1, but it reads B, never connected.
        assert!(r.set_input("GATED", 'A', Some(2.0)));
        assert!(!write(&r, "GATED"));
        assert!(r.set_input("GATED", 'B', Some(0.0)));
        let rights = r.rights("GATED", 0, "u", "h");
        assert!(rights.write && rights.trapwrite);
        // INVALID or disconnected: the rules reading A stop applying.
        assert!(r.set_input("GATED", 'A', None));
        assert!(!write(&r, "GATED"));
        assert!(!r.set_input("GATED", 'C', Some(1.0)));
        for (v, w) in [(1.005, true), (1.2, false), (0.995, true), (0.5, false)] {
            r.set_input("NEAR", 'A', Some(v));
            assert_eq!(write(&r, "NEAR"), w, "A={v}");
        }
        assert!(!write(&r, "CONST"));
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
