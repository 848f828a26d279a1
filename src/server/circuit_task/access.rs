//! Access security in a circuit: each channel's rights, recomputed when
//! the client renames itself or the rules are replaced; refused reads and
//! writes; put-log records for TRAPWRITE.
//!
//! What goes on the wire follows EPICS rsrv: ACCESS_RIGHTS before
//! CREATE_CHAN and again whenever a channel's rights change; a refused
//! WRITE gets an ERROR with `ECA_NOWTACCESS` and a refused WRITE_NOTIFY its
//! reply with that status; a refused READ_NOTIFY (and a monitor update)
//! carries `ECA_NORDACCESS` with zeroed data, a refused READ an ERROR.
//! Unlike rsrv, which refuses HOST_NAME/CLIENT_NAME once channels exist, a
//! rename is accepted and the channels' rights follow it (as in the CA
//! server library, pcas).

use std::borrow::Cow;
use std::sync::Arc;

use super::{Circuit, Subscription};
use crate::proto::command::{AccessRights, Command};
use crate::proto::dbr::{self, DbrType};
use crate::proto::header::Header;
use crate::server::access::{AccessRules, HostCheck, Rights};
use crate::server::error::{eca, PutError};
use crate::server::pv::{PvHandle, PvSnapshot};

/// The ACCESS_RIGHTS bits for `rights`.
pub(super) fn wire(rights: Rights) -> AccessRights {
    AccessRights {
        read: rights.read,
        write: rights.write,
    }
}

impl Circuit {
    /// The user and host the rules see for this client: CLIENT_NAME, and
    /// HOST_NAME or (client-IP mode) the address it connected from.
    pub(super) fn identity(&self) -> (&str, Cow<'_, str>) {
        let user = self.vc.client_username().unwrap_or("");
        let host = match self.rules.as_deref().map(AccessRules::host_check) {
            Some(HostCheck::ClientIp) => Cow::Owned(self.peer.ip().to_string()),
            _ => Cow::Borrowed(self.vc.client_hostname().unwrap_or("")),
        };
        (user, host)
    }

    /// This client's rights on `pv` under the rules in force.
    pub(super) fn rights_for(&self, pv: &PvHandle) -> Rights {
        let mut rights = match &self.rules {
            None => Rights::ALL,
            Some(rules) => {
                let (user, host) = self.identity();
                rules.rights(pv.access_group(), pv.access_level(), user, &host)
            }
        };
        if pv.is_read_only() {
            rights.write = false;
            rights.trapwrite = false;
        }
        rights
    }

    /// New rules are in force (a reload): recompute every channel.
    pub(super) fn set_rules(&mut self, rules: Option<Arc<AccessRules>>) {
        self.rules = rules;
        self.recompute_rights();
    }

    /// The client sent HOST_NAME or CLIENT_NAME (already recorded by the
    /// protocol state): its channels' rights may have changed.
    pub(super) fn client_renamed(&mut self) {
        if self.rules.is_some() && !self.channels.is_empty() {
            self.recompute_rights();
        }
    }

    /// Recompute each channel's rights; send ACCESS_RIGHTS where they
    /// changed, and update its monitors when read access came or went.
    fn recompute_rights(&mut self) {
        let sids: Vec<u32> = self.channels.keys().copied().collect();
        for sid in sids {
            let Some(ch) = self.channels.get(&sid) else {
                continue;
            };
            let (old, pv, cid) = (ch.rights, ch.pv.clone(), ch.cid);
            let new = self.rights_for(&pv);
            if new == old {
                continue;
            }
            let subs: Vec<Arc<Subscription>> = ch
                .subs
                .iter()
                .filter_map(|id| self.subs.get(id).cloned())
                .collect();
            if let Some(ch) = self.channels.get_mut(&sid) {
                ch.rights = new;
            }
            if wire(new) != wire(old) {
                let cmd = Command::AccessRightsResponse {
                    cid,
                    access_rights: wire(new),
                };
                self.send(cmd, Some(pv.name_arc()));
            }
            if old.read && !new.read {
                for sub in &subs {
                    self.send_event_denied(sub, &pv);
                }
            } else if new.read && !old.read {
                let current = pv.snapshot();
                for sub in &subs {
                    sub.offer(&current, u16::MAX);
                }
            }
        }
    }

    /// Whether the channel `sid` may write; a refusal is logged with the
    /// client's user and host. Also says whether the write is put-logged.
    pub(super) fn check_write(&self, sid: u32, pv: &PvHandle) -> Result<Rights, PutError> {
        let rights = self
            .channels
            .get(&sid)
            .map(|c| c.rights)
            .unwrap_or_default();
        if rights.write || pv.is_read_only() {
            // Read-only PVs are refused by the write itself, as before.
            return Ok(rights);
        }
        let (user, host) = self.identity();
        tracing::warn!(target: "caproto::access", pv = pv.name(), our_addr = %self.local,
            their_addr = %self.peer, role = "server", user, host = %host,
            "write to {} refused: no write access for user {user:?} on host {:?}",
            pv.name(), host);
        Err(PutError::AccessDenied)
    }

    /// One put-log record for a write a TRAPWRITE rule granted.
    pub(super) fn putlog(&self, pv: &PvHandle, old: &PvSnapshot) {
        let new = pv.snapshot();
        let (user, host) = self.identity();
        tracing::info!(target: "caproto::putlog", pv = pv.name(), our_addr = %self.local,
            their_addr = %self.peer, role = "server", user, host = %host,
            old = %old.value, new = %new.value,
            "{user}@{host} {} {} -> {}", pv.name(), old.value, new.value);
    }

    /// Answer a read the channel may not make: READ_NOTIFY gets its reply
    /// with `ECA_NORDACCESS` and zeroed data, READ an ERROR.
    pub(super) fn read_denied(&mut self, header: Header, args: DeniedRead) {
        let DeniedRead {
            pv,
            cid,
            data_type,
            count,
            ioid,
            notify,
        } = args;
        if notify {
            let n = denied_count(count, &pv);
            let cmd = Command::ReadNotifyResponse {
                data: vec![0; dbr::payload_size(data_type, n as usize)],
                data_type,
                data_count: n,
                status: eca::NORDACCESS,
                ioid,
            };
            self.send(cmd, Some(pv.name_arc()));
        } else {
            let msg = format!("no read access to {}", pv.name());
            self.send_error(header, cid, eca::NORDACCESS, msg, Some(pv.name_arc()));
        }
    }

    /// A monitor update saying the client lost (or never had) read access.
    pub(super) fn send_event_denied(&mut self, sub: &Subscription, pv: &PvHandle) {
        let n = denied_count(sub.count, pv);
        let cmd = Command::EventAddResponse {
            data: vec![0; dbr::payload_size(sub.data_type, n as usize)],
            data_type: sub.data_type,
            data_count: n,
            status: eca::NORDACCESS,
            subscriptionid: sub.subid,
        };
        self.send(cmd, Some(pv.name_arc()));
    }
}

/// A read refused for lack of read access, taken apart.
pub(super) struct DeniedRead {
    pub pv: PvHandle,
    pub cid: u32,
    pub data_type: DbrType,
    pub count: u32,
    pub ioid: u32,
    pub notify: bool,
}

/// Element count of a refused reply: what was asked, or the PV's full
/// length for a request of 0 (as rsrv answers).
fn denied_count(count: u32, pv: &PvHandle) -> u32 {
    if count == 0 {
        pv.max_count() as u32
    } else {
        count
    }
}
