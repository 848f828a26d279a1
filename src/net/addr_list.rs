//! Address-list policy: where client searches and server beacons go, as a
//! pure function of the host's interfaces and the environment.
//!
//! The rules follow EPICS base:
//! - Broadcast discovery (libCom's `osiSockDiscoverBroadcastAddresses`):
//!   every IPv4 interface that is up and not loopback contributes its
//!   broadcast address if it has one (`IFF_BROADCAST` and not 0.0.0.0), else
//!   its peer address if it is point-to-point, else nothing. Asked about
//!   127.0.0.1 specifically, the answer is 127.0.0.1 itself.
//! - Client (libca): with `EPICS_CA_AUTO_ADDR_LIST` not `NO`, the discovered
//!   addresses with the server port; if none were found (a host with only
//!   loopback), 127.0.0.1 so local servers are still found. Then the
//!   `EPICS_CA_ADDR_LIST` entries. Duplicates are dropped, first one wins.
//! - Server beacons (rsrv): with auto beacons on, the broadcast address of
//!   each interface named in `EPICS_CAS_INTF_ADDR_LIST`, or of every
//!   interface when the server binds the wildcard; plus
//!   `EPICS_CAS_BEACON_ADDR_LIST`. No loopback fallback: an empty list is
//!   allowed (and logged).
//!
//! Each destination carries its [`Origin`], so `-vv` can say why it is there.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use super::interfaces::{Interface, InterfaceSource};

/// Why an address is in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The broadcast address of the named interface (automatic list).
    Broadcast(String),
    /// The peer of the named point-to-point interface (automatic list).
    PointToPoint(String),
    /// 127.0.0.1: the client's automatic list found no usable interface, or
    /// a server interface is the loopback address.
    Loopback,
    /// Listed in this environment variable (or given on the command line).
    Listed(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Broadcast(name) => write!(f, "broadcast of {name}"),
            Origin::PointToPoint(name) => write!(f, "peer of point-to-point {name}"),
            Origin::Loopback => f.write_str("loopback: no other interface"),
            Origin::Listed(var) => f.write_str(var),
        }
    }
}

/// One destination and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Where datagrams go.
    pub addr: SocketAddr,
    /// Why.
    pub origin: Origin,
}

/// An address list with the reasoning behind it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddrList {
    /// What the list is for ("search", "beacon").
    pub purpose: &'static str,
    /// The automatic-list switch that was read and whether it was on
    /// (`None` when no switch applies).
    pub auto: Option<(&'static str, bool)>,
    /// The destinations, in sending order, without duplicates.
    pub entries: Vec<Listed>,
    /// Interfaces the automatic list looked at and left out, with the reason.
    pub skipped: Skipped,
}

impl AddrList {
    /// The bare destinations.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.entries.iter().map(|e| e.addr).collect()
    }

    fn push(&mut self, addr: SocketAddr, origin: Origin) {
        if !self.entries.iter().any(|e| e.addr == addr) {
            self.entries.push(Listed { addr, origin });
        }
    }
}

impl fmt::Display for AddrList {
    /// One line: `search list (EPICS_CA_AUTO_ADDR_LIST=YES): 10.0.0.255:5064
    /// (broadcast of eth0); skipped lo (loopback)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} list", self.purpose)?;
        if let Some((var, on)) = self.auto {
            write!(f, " ({var}={})", if on { "YES" } else { "NO" })?;
        }
        f.write_str(": ")?;
        if self.entries.is_empty() {
            f.write_str("empty")?;
        }
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} ({})", e.addr, e.origin)?;
        }
        if !self.skipped.is_empty() {
            f.write_str("; skipped ")?;
            for (i, (name, why)) in self.skipped.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{name} ({why})")?;
            }
        }
        Ok(())
    }
}

/// Whether an automatic-list variable is on: anything but `NO` (any case)
/// is yes, and so is an unset or empty variable, as in EPICS.
pub fn is_auto_on(value: Option<&str>) -> bool {
    value.is_none_or(|v| {
        let v = v.trim();
        v.is_empty() || !v.eq_ignore_ascii_case("no")
    })
}

/// Addresses found by discovery, each with its origin.
pub type Found = Vec<(Ipv4Addr, Origin)>;
/// Interfaces discovery left out, each with the reason.
pub type Skipped = Vec<(String, &'static str)>;

/// The broadcast (or point-to-point peer) addresses of `interfaces`, as
/// EPICS discovers them; with `only` set, of the interface with that
/// address only (127.0.0.1 answers itself). Also returns what was skipped.
pub fn broadcast_addresses(interfaces: &[Interface], only: Option<Ipv4Addr>) -> (Found, Skipped) {
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let only = only.filter(|a| !a.is_unspecified());
    if only == Some(Ipv4Addr::LOCALHOST) {
        return (vec![(Ipv4Addr::LOCALHOST, Origin::Loopback)], skipped);
    }
    for i in interfaces {
        if only.is_some_and(|a| a != i.addr) {
            continue;
        }
        let why = if !i.up {
            "down"
        } else if i.loopback {
            "loopback"
        } else if let Some(b) = i.broadcast.filter(|b| !b.is_unspecified()) {
            found.push((b, Origin::Broadcast(i.name.clone())));
            continue;
        } else if let Some(p) = i.point_to_point {
            found.push((p, Origin::PointToPoint(i.name.clone())));
            continue;
        } else {
            "no broadcast address"
        };
        skipped.push((i.name.clone(), why));
    }
    (found, skipped)
}

/// The client's search list: the automatic list (when `auto`) with the
/// server `port`, or 127.0.0.1 if it came out empty, then `listed`
/// (`EPICS_CA_ADDR_LIST`, ports already resolved). `interfaces` is only
/// asked when `auto` is on.
pub fn search_list(
    interfaces: &dyn InterfaceSource,
    auto: bool,
    listed: &[SocketAddr],
    port: u16,
) -> AddrList {
    let mut list = AddrList {
        purpose: "search",
        auto: Some(("EPICS_CA_AUTO_ADDR_LIST", auto)),
        ..AddrList::default()
    };
    if auto {
        let (found, skipped) = broadcast_addresses(&interfaces.interfaces(), None);
        list.skipped = skipped;
        for (ip, origin) in found {
            list.push(SocketAddr::V4(SocketAddrV4::new(ip, port)), origin);
        }
        if list.entries.is_empty() {
            let lo = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
            list.push(lo, Origin::Loopback);
        }
    }
    for addr in listed {
        list.push(*addr, Origin::Listed("EPICS_CA_ADDR_LIST"));
    }
    list
}

/// The server's beacon list: with `auto`, the broadcast address of each
/// specific interface in `served` (or of every interface when `served` is
/// the wildcard), then `listed` (`EPICS_CAS_BEACON_ADDR_LIST`, from
/// `listed_var`). Every destination uses `beacon_port` unless it named one.
pub fn beacon_list(
    interfaces: &dyn InterfaceSource,
    auto: (&'static str, bool),
    served: &[Ipv4Addr],
    listed: &[SocketAddrV4],
    listed_var: &'static str,
    beacon_port: u16,
) -> AddrList {
    let mut list = AddrList {
        purpose: "beacon",
        auto: Some(auto),
        ..AddrList::default()
    };
    let specific: Vec<Ipv4Addr> = served
        .iter()
        .copied()
        .filter(|a| !a.is_unspecified())
        .collect();
    let mut found = Vec::new();
    if auto.1 {
        let all = if !specific.is_empty() && specific.iter().all(|a| *a == Ipv4Addr::LOCALHOST) {
            Vec::new() // 127.0.0.1 answers itself without asking the OS.
        } else {
            interfaces.interfaces()
        };
        if specific.is_empty() {
            let (f, skipped) = broadcast_addresses(&all, None);
            found = f;
            list.skipped = skipped;
        } else {
            for a in &specific {
                let (f, skipped) = broadcast_addresses(&all, Some(*a));
                found.extend(f);
                list.skipped.extend(skipped);
            }
        }
    }
    // rsrv's order: per-interface broadcasts, the listed ones, then the
    // wildcard's broadcasts.
    let (first, last) = if specific.is_empty() {
        (Vec::new(), found)
    } else {
        (found, Vec::new())
    };
    let v4 = |ip| SocketAddr::V4(SocketAddrV4::new(ip, beacon_port));
    for (ip, origin) in first {
        list.push(v4(ip), origin);
    }
    for a in listed {
        list.push(SocketAddr::V4(*a), Origin::Listed(listed_var));
    }
    for (ip, origin) in last {
        list.push(v4(ip), origin);
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, addr: [u8; 4], bcast: Option<[u8; 4]>) -> Interface {
        Interface {
            name: name.into(),
            addr: addr.into(),
            up: true,
            loopback: false,
            broadcast: bcast.map(Ipv4Addr::from),
            point_to_point: None,
        }
    }

    fn lo() -> Interface {
        Interface {
            loopback: true,
            ..iface("lo", [127, 0, 0, 1], None)
        }
    }

    fn beamline_host() -> Vec<Interface> {
        let mut down = iface("eth2", [192, 168, 9, 4], Some([192, 168, 9, 255]));
        down.up = false;
        let mut tun = iface("tun0", [10, 8, 0, 6], None);
        tun.point_to_point = Some([10, 8, 0, 5].into());
        vec![
            lo(),
            iface("eth0", [10, 77, 0, 1], Some([10, 77, 0, 255])),
            iface("eth1", [172, 16, 4, 9], Some([172, 16, 255, 255])),
            down,
            tun,
            iface("nobcast", [10, 9, 9, 9], None),
            // A second address on eth0 in the same subnet: one destination.
            iface("eth0", [10, 77, 0, 7], Some([10, 77, 0, 255])),
        ]
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn auto_search_list_is_every_up_broadcast_interface_then_the_env_list() {
        let list = search_list(
            &beamline_host(),
            true,
            &[sa("10.0.0.5:5064"), sa("10.77.0.255:5064")],
            5064,
        );
        assert_eq!(
            list.addrs(),
            vec![
                sa("10.77.0.255:5064"),
                sa("172.16.255.255:5064"),
                sa("10.8.0.5:5064"),
                sa("10.0.0.5:5064"),
            ]
        );
        assert_eq!(list.entries[0].origin, Origin::Broadcast("eth0".into()));
        assert_eq!(list.entries[2].origin, Origin::PointToPoint("tun0".into()));
        assert_eq!(list.entries[3].origin, Origin::Listed("EPICS_CA_ADDR_LIST"));
        assert_eq!(
            list.skipped,
            vec![
                ("lo".to_string(), "loopback"),
                ("eth2".to_string(), "down"),
                ("nobcast".to_string(), "no broadcast address")
            ]
        );
        let text = list.to_string();
        assert!(
            text.starts_with(
                "search list (EPICS_CA_AUTO_ADDR_LIST=YES): 10.77.0.255:5064 (broadcast of eth0)"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("skipped lo (loopback), eth2 (down), nobcast (no broadcast address)"),
            "{text}"
        );
    }

    #[test]
    fn a_host_with_only_loopback_searches_127_0_0_1_as_libca_does() {
        let list = search_list(&vec![lo()], true, &[], 5999);
        assert_eq!(list.addrs(), vec![sa("127.0.0.1:5999")]);
        assert_eq!(list.entries[0].origin, Origin::Loopback);
        // Not even loopback up: still 127.0.0.1.
        let list = search_list(&Vec::new(), true, &[], 5064);
        assert_eq!(list.addrs(), vec![sa("127.0.0.1:5064")]);
    }

    #[test]
    fn the_loopback_fallback_does_not_apply_when_auto_is_off() {
        struct Panics;
        impl InterfaceSource for Panics {
            fn interfaces(&self) -> Vec<Interface> {
                panic!("interfaces must not be read when the automatic list is off")
            }
        }
        let list = search_list(&Panics, false, &[], 5064);
        assert!(list.entries.is_empty());
        let list = search_list(&Panics, false, &[sa("127.0.0.1:5064")], 5064);
        assert_eq!(list.addrs(), vec![sa("127.0.0.1:5064")]);
        assert_eq!(
            list.to_string(),
            "search list (EPICS_CA_AUTO_ADDR_LIST=NO): 127.0.0.1:5064 (EPICS_CA_ADDR_LIST)"
        );
    }

    #[test]
    fn auto_switch_reads_like_epics() {
        for (v, on) in [
            (None, true),
            (Some(""), true),
            (Some("YES"), true),
            (Some("no"), false),
            (Some(" NO "), false),
            (Some("No"), false),
        ] {
            assert_eq!(is_auto_on(v), on, "{v:?}");
        }
    }

    #[test]
    fn a_wildcard_server_beacons_to_every_broadcast_address_after_the_listed_ones() {
        let list = beacon_list(
            &beamline_host(),
            ("EPICS_CAS_AUTO_BEACON_ADDR_LIST", true),
            &[Ipv4Addr::UNSPECIFIED],
            &["10.1.1.1:5065".parse().unwrap()],
            "EPICS_CAS_BEACON_ADDR_LIST",
            5065,
        );
        assert_eq!(
            list.addrs(),
            vec![
                sa("10.1.1.1:5065"),
                sa("10.77.0.255:5065"),
                sa("172.16.255.255:5065"),
                sa("10.8.0.5:5065"),
            ]
        );
    }

    #[test]
    fn a_server_on_listed_interfaces_beacons_to_their_broadcasts_only() {
        let list = beacon_list(
            &beamline_host(),
            ("EPICS_CAS_AUTO_BEACON_ADDR_LIST", true),
            &[Ipv4Addr::new(172, 16, 4, 9), Ipv4Addr::LOCALHOST],
            &[],
            "EPICS_CAS_BEACON_ADDR_LIST",
            5065,
        );
        assert_eq!(
            list.addrs(),
            vec![sa("172.16.255.255:5065"), sa("127.0.0.1:5065")]
        );
        assert_eq!(list.entries[0].origin, Origin::Broadcast("eth1".into()));
    }

    #[test]
    fn no_auto_beacons_means_only_the_listed_ones_and_empty_is_allowed() {
        let list = beacon_list(
            &beamline_host(),
            ("EPICS_CAS_AUTO_BEACON_ADDR_LIST", false),
            &[Ipv4Addr::UNSPECIFIED],
            &[],
            "EPICS_CAS_BEACON_ADDR_LIST",
            5065,
        );
        assert!(list.entries.is_empty());
        assert_eq!(
            list.to_string(),
            "beacon list (EPICS_CAS_AUTO_BEACON_ADDR_LIST=NO): empty"
        );
        // Loopback only: nothing to broadcast to, and no fallback.
        let list = beacon_list(
            &vec![lo()],
            ("EPICS_CAS_AUTO_BEACON_ADDR_LIST", true),
            &[Ipv4Addr::UNSPECIFIED],
            &[],
            "EPICS_CAS_BEACON_ADDR_LIST",
            5065,
        );
        assert!(list.entries.is_empty());
    }
}
