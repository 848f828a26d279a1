//! The host's network surroundings: which IPv4 interfaces exist, and the
//! address lists (client searches, server beacons) that EPICS derives from
//! them and from the `EPICS_CA_*` / `EPICS_CAS_*` variables.
//!
//! Two layers, so the policy can be tested without a network:
//! - [`discover`] asks the operating system (`getifaddrs`) once and returns
//!   plain [`Interface`] values; the [`InterfaceSource`] trait lets tests
//!   and embedders hand in a made-up host instead.
//! - [`search_list`] and [`beacon_list`] turn (interfaces, environment) into an [`AddrList`]: the
//!   destinations in order, each with the reason it is there, which the
//!   client and server log once at `-vv` (DEBUG).
//!
//! Every `host[:port]` a user writes (address lists, `--log-addr`, `--log-ship`) is read by
//! [`HostPort`], which holds the one rule for port 0: refused.
//!
//! The rules are those of EPICS base (libca's address-list setup and
//! libCom's broadcast discovery, rsrv for the server side); see
//! `docs/networking.md` for the user-facing summary.

mod addr_list;
mod config_error;
mod host_port;
mod identity;
mod interfaces;

pub use addr_list::{
    beacon_list, broadcast_addresses, is_auto_on, search_list, AddrList, Found, Listed, Origin,
    Skipped,
};
pub use config_error::ConfigError;
pub(crate) use host_port::destination_port;
pub use host_port::{AddrError, Host, HostPort};
pub use identity::{account_name, host_name, user_name};
pub use interfaces::{discover, Interface, InterfaceSource, SystemInterfaces};
