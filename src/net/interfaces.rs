//! IPv4 interface discovery through `getifaddrs` (via the `nix` crate).
//!
//! [`SystemInterfaces`] is the only place that asks the operating system;
//! everything that decides what to do with the answer is a pure function in
//! [`super::addr_list`], fed through [`InterfaceSource`].

use std::net::Ipv4Addr;

/// One IPv4 address of one network interface, as `getifaddrs` reports it
/// (an interface with two IPv4 addresses appears twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// The interface's name (`eth0`, `lo`, ...), for log messages.
    pub name: String,
    /// The interface's own IPv4 address.
    pub addr: Ipv4Addr,
    /// `IFF_UP`: the interface is enabled.
    pub up: bool,
    /// `IFF_LOOPBACK`.
    pub loopback: bool,
    /// The broadcast address, when the interface has `IFF_BROADCAST` set.
    pub broadcast: Option<Ipv4Addr>,
    /// The peer address of a point-to-point link (`IFF_POINTOPOINT`).
    pub point_to_point: Option<Ipv4Addr>,
}

/// Something that can list the host's IPv4 interfaces: the real host
/// ([`SystemInterfaces`]) or, in tests, a fixed list.
pub trait InterfaceSource {
    /// The IPv4 interfaces; an empty list when they cannot be read (the
    /// reason is logged by the implementation).
    fn interfaces(&self) -> Vec<Interface>;
}

impl InterfaceSource for [Interface] {
    fn interfaces(&self) -> Vec<Interface> {
        self.to_vec()
    }
}

impl InterfaceSource for Vec<Interface> {
    fn interfaces(&self) -> Vec<Interface> {
        self.clone()
    }
}

/// The host's interfaces, read with `getifaddrs` each time they are asked
/// for (configuration is built once per client context or server, so this
/// is not on any hot path).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemInterfaces;

impl InterfaceSource for SystemInterfaces {
    fn interfaces(&self) -> Vec<Interface> {
        match discover() {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(target: "caproto::ctx", "cannot list network interfaces: {e}");
                Vec::new()
            }
        }
    }
}

/// Read the IPv4 interfaces from the operating system.
pub fn discover() -> std::io::Result<Vec<Interface>> {
    use nix::net::if_::InterfaceFlags as F;
    let v4 = |a: Option<nix::sys::socket::SockaddrStorage>| {
        a.and_then(|s| s.as_sockaddr_in().map(|sin| sin.ip()))
    };
    let mut out = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(std::io::Error::from)? {
        let Some(addr) = v4(ifa.address) else {
            continue;
        };
        let flags = ifa.flags;
        out.push(Interface {
            name: ifa.interface_name,
            addr,
            up: flags.contains(F::IFF_UP),
            loopback: flags.contains(F::IFF_LOOPBACK),
            broadcast: if flags.contains(F::IFF_BROADCAST) {
                v4(ifa.broadcast)
            } else {
                None
            },
            point_to_point: if flags.contains(F::IFF_POINTOPOINT) {
                v4(ifa.destination)
            } else {
                None
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Linux host (and namespace) has a loopback interface with
    /// 127.0.0.1 once it is up; this checks the flag and address decoding.
    #[test]
    fn the_real_host_lists_loopback_with_its_flags() {
        let list = discover().expect("getifaddrs works");
        if let Some(lo) = list.iter().find(|i| i.addr == Ipv4Addr::LOCALHOST) {
            assert!(lo.loopback, "{lo:?}");
            assert_eq!(lo.broadcast, None, "{lo:?}");
        }
        for i in &list {
            if let Some(b) = i.broadcast {
                assert!(!i.loopback, "{i:?}");
                assert_ne!(b, Ipv4Addr::UNSPECIFIED, "{i:?}");
            }
        }
    }
}
