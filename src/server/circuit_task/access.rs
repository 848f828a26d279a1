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

use crate::log::fields::ROLE_SERVER;
use std::borrow::Cow;
use std::sync::Arc;

use super::{Circuit, Subscription};
use crate::proto::command::{AccessRights, Command};
use crate::proto::dbr;
use crate::server::access::{AccessRules, HostCheck, Rights, PUTLOG_TARGET};
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
                    purge(sub);
                    self.send_event_denied(sub, &pv);
                }
            } else if new.read && !old.read {
                // Only the value as it is now: nothing queued while the
                // client could not read (e.g. under EVENTS_OFF) goes out.
                let current = pv.snapshot();
                for sub in &subs {
                    purge(sub);
                    sub.offer(&current, u16::MAX);
                }
            }
        }
    }

    /// Whether a channel with `rights` may write to `pv`; a refusal is
    /// logged with the client's user and host. Gives the rights back, which
    /// also say whether the write is put-logged.
    pub(super) fn check_write(&self, rights: Rights, pv: &PvHandle) -> Result<Rights, PutError> {
        if rights.write || pv.is_read_only() {
            // Read-only PVs are refused by the write itself, as before.
            return Ok(rights);
        }
        self.shared.metrics.denied(crate::metrics::Denial::Write);
        let (user, host) = self.identity();
        tracing::warn!(target: "caproto::access", pv = pv.name(), our_addr = %self.local,
            their_addr = %self.peer, role = ROLE_SERVER, user, host = %host,
            "write refused: no write access");
        Err(PutError::AccessDenied)
    }

    /// One put-log record for a write a TRAPWRITE rule granted.
    pub(super) fn putlog(&self, pv: &PvHandle, old: &PvSnapshot) {
        self.shared.metrics.putlog_record();
        let new = pv.snapshot();
        let (user, host) = self.identity();
        tracing::info!(target: PUTLOG_TARGET, pv = pv.name(), our_addr = %self.local,
            their_addr = %self.peer, role = ROLE_SERVER, user, host = %host,
            old = %old.value, new = %new.value,
            "put");
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

/// Drop every update queued on `sub`.
fn purge(sub: &Subscription) {
    let mut scratch = Vec::new();
    while sub.drain(usize::MAX, &mut scratch) {
        scratch.clear();
    }
}

/// Element count of a refused reply: what was asked, or the PV's full
/// length for a request of 0 (as rsrv answers).
pub(super) fn denied_count(count: u32, pv: &PvHandle) -> u32 {
    if count == 0 {
        pv.max_count() as u32
    } else {
        count
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::proto::command::mask;
    use crate::proto::dbr::{DbrType, Value};
    use crate::server::pv::{Pv, PvDatabase, PvGroup, ValueExt};

    const ACF: &str = "
UAG(ops) {alice}
HAG(ctrl) {CtrlRoom}
ASG(DEFAULT) {
    RULE(1, READ)
    RULE(1, WRITE, TRAPWRITE) { UAG(ops) HAG(ctrl) }
}
ASG(HIDDEN) {
    RULE(1, WRITE) { UAG(ops) }
}
";

    fn circuit() -> (Circuit, PvHandle, PvHandle) {
        let mut g = PvGroup::new("t:");
        let x = g.add(Pv::new("x", 1.5));
        let hidden = g.add(Pv::new("hidden", 7i32).access_group("HIDDEN"));
        let mut db = PvDatabase::new();
        db.add_group(g).unwrap();
        let mut c = Circuit::detached(db);
        c.set_rules(Some(Arc::new(AccessRules::parse(ACF).unwrap())));
        (c, x, hidden)
    }

    /// Feed `cmds` as wire bytes (so names reach the protocol state) and
    /// return the replies.
    async fn send(c: &mut Circuit, cmds: Vec<Command>) -> Vec<Command> {
        let mut wire = Vec::new();
        for cmd in cmds {
            cmd.encode(&mut wire).unwrap();
        }
        c.process(&wire).await.unwrap();
        c.flush();
        c.drain_events();
        c.flush();
        std::mem::take(&mut c.sent)
    }

    fn hello(user: &str, host: &str) -> Vec<Command> {
        vec![
            Command::VersionRequest {
                priority: 0,
                version: 13,
                sequence: 0,
            },
            Command::HostNameRequest { name: host.into() },
            Command::ClientNameRequest { name: user.into() },
        ]
    }

    fn create(name: &str, cid: u32) -> Command {
        Command::CreateChanRequest {
            name: name.into(),
            cid,
            version: 13,
        }
    }

    fn rights_of(replies: &[Command]) -> Vec<(u32, AccessRights)> {
        replies
            .iter()
            .filter_map(|r| match r {
                Command::AccessRightsResponse { cid, access_rights } => {
                    Some((*cid, *access_rights))
                }
                _ => None,
            })
            .collect()
    }

    fn sid_of(replies: &[Command], want: u32) -> u32 {
        replies
            .iter()
            .find_map(|r| match r {
                Command::CreateChanResponse { cid, sid, .. } if *cid == want => Some(*sid),
                _ => None,
            })
            .expect("channel created")
    }

    fn put(sid: u32, x: f64, notify: bool) -> Command {
        let data = x.to_be_bytes().to_vec();
        if notify {
            Command::WriteNotifyRequest {
                data,
                data_type: DbrType::DOUBLE,
                data_count: 1,
                sid,
                ioid: 9,
            }
        } else {
            Command::WriteRequest {
                data,
                data_type: DbrType::DOUBLE,
                data_count: 1,
                sid,
                ioid: 9,
            }
        }
    }

    const RO: AccessRights = AccessRights::READ_ONLY;
    const RW: AccessRights = AccessRights::READ_WRITE;
    const NO: AccessRights = AccessRights {
        read: false,
        write: false,
    };

    #[tokio::test]
    async fn rights_follow_user_and_host_and_refused_writes_get_nowtaccess() {
        let (buf, _guard) = capture();
        let (mut c, x, _) = circuit();
        let mut cmds = hello("mallory", "ctrlroom");
        cmds.push(create("t:x", 1));
        let r = send(&mut c, cmds).await;
        assert_eq!(rights_of(&r), [(1, RO)]);
        let sid = sid_of(&r, 1);
        let r = send(&mut c, vec![put(sid, 5.0, false), put(sid, 6.0, true)]).await;
        assert!(
            matches!(&r[..], [
                Command::ErrorResponse { status: s1, .. },
                Command::WriteNotifyResponse { status: s2, .. },
            ] if *s1 == eca::NOWTACCESS && *s2 == eca::NOWTACCESS),
            "{r:?}"
        );
        assert_eq!(x.value().as_f64(), Some(1.5));
        // Each refusal is logged naming the user, host and PV.
        let text = buf.text();
        let refused: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("write refused"))
            .collect();
        assert_eq!(refused.len(), 2, "{text}");
        let denials = c.shared.metrics.denials(crate::metrics::Denial::Write);
        assert_eq!(denials, 2);
        for field in [
            "caproto::access",
            "pv=\"t:x\"",
            "user=\"mallory\"",
            "host=ctrlroom",
        ] {
            assert!(refused[0].contains(field), "{field} not in {}", refused[0]);
        }

        // Host names are matched case-insensitively, users exactly.
        let (mut c, x, _) = circuit();
        let mut cmds = hello("alice", "CTRLROOM");
        cmds.push(create("t:x", 1));
        let r = send(&mut c, cmds).await;
        assert_eq!(rights_of(&r), [(1, RW)]);
        let r = send(&mut c, vec![put(sid_of(&r, 1), 5.0, true)]).await;
        assert!(
            matches!(&r[..], [Command::WriteNotifyResponse { status, .. }] if *status == eca::NORMAL),
            "{r:?}"
        );
        assert_eq!(x.value().as_f64(), Some(5.0));
    }

    #[tokio::test]
    async fn a_rename_after_channels_exist_recomputes_rights() {
        let (mut c, _, _) = circuit();
        let mut cmds = hello("mallory", "ctrlroom");
        cmds.extend([create("t:x", 1), create("t:hidden", 2)]);
        let r = send(&mut c, cmds).await;
        assert_eq!(rights_of(&r), [(1, RO), (2, NO)]);
        let r = send(
            &mut c,
            vec![Command::ClientNameRequest {
                name: "alice".into(),
            }],
        )
        .await;
        assert_eq!(rights_of(&r), [(1, RW), (2, RW)]);
        // Same rights again: nothing to say.
        let r = send(
            &mut c,
            vec![Command::HostNameRequest {
                name: "CtrlRoom".into(),
            }],
        )
        .await;
        assert_eq!(rights_of(&r), []);
        let r = send(
            &mut c,
            vec![Command::HostNameRequest {
                name: "elsewhere".into(),
            }],
        )
        .await;
        assert_eq!(rights_of(&r), [(1, RO)]);
    }

    #[tokio::test]
    async fn reads_and_monitors_without_read_access_carry_nordaccess() {
        let (mut c, _, hidden) = circuit();
        let mut cmds = hello("mallory", "h");
        cmds.push(create("t:hidden", 2));
        let r = send(&mut c, cmds).await;
        let sid = sid_of(&r, 2);
        let sub = Command::EventAddRequest {
            data_type: DbrType::plain(crate::proto::dbr::NativeType::Long),
            data_count: 1,
            sid,
            subscriptionid: 4,
            low: 0.0,
            high: 0.0,
            to: 0.0,
            mask: mask::VALUE,
        };
        let read = Command::ReadNotifyRequest {
            data_type: DbrType::plain(crate::proto::dbr::NativeType::Long),
            data_count: 1,
            sid,
            ioid: 3,
        };
        let r = send(&mut c, vec![read, sub]).await;
        let statuses: Vec<u32> = r
            .iter()
            .filter_map(|r| match r {
                Command::ReadNotifyResponse { status, data, .. }
                | Command::EventAddResponse { status, data, .. } => {
                    assert!(data.iter().all(|&b| b == 0), "data leaked: {data:?}");
                    Some(*status)
                }
                _ => None,
            })
            .collect();
        assert_eq!(statuses, [eca::NORDACCESS, eca::NORDACCESS], "{r:?}");
        // Updates stay hidden...
        hidden.post(8i32).unwrap();
        let r = send(&mut c, vec![]).await;
        assert!(r.is_empty(), "{r:?}");
        // ...until a reload grants read: then the current value arrives.
        let open = AccessRules::parse("ASG(DEFAULT) { RULE(1, READ) }").unwrap();
        c.set_rules(Some(Arc::new(open)));
        let r = send(&mut c, vec![]).await;
        assert_eq!(rights_of(&r), [(2, RO)]);
        let values: Vec<Value> = r
            .iter()
            .filter_map(|r| match r {
                Command::EventAddResponse { status, data, .. } if *status == eca::NORMAL => Some(
                    dbr::decode(DbrType::plain(crate::proto::dbr::NativeType::Long), 1, data)
                        .unwrap()
                        .0,
                ),
                _ => None,
            })
            .collect();
        assert_eq!(values, [Value::Long(vec![8])]);
        // Losing it again sends one NORDACCESS update.
        c.set_rules(Some(Arc::new(AccessRules::parse("ASG(DEFAULT)").unwrap())));
        let r = send(&mut c, vec![]).await;
        assert_eq!(rights_of(&r), [(2, NO)]);
        assert!(
            matches!(&r[1..], [Command::EventAddResponse { status, .. }] if *status == eca::NORDACCESS),
            "{r:?}"
        );
    }

    /// Values posted while a client could not read never reach it, even if
    /// they sat in its queue (EVENTS_OFF) when read access came back.
    #[tokio::test]
    async fn updates_queued_without_read_access_are_dropped() {
        let (mut c, x, _) = circuit();
        let mut cmds = hello("alice", "ctrlroom");
        cmds.push(create("t:x", 1));
        let r = send(&mut c, cmds).await;
        let sid = sid_of(&r, 1);
        let sub = Command::EventAddRequest {
            data_type: DbrType::DOUBLE,
            data_count: 1,
            sid,
            subscriptionid: 4,
            low: 0.0,
            high: 0.0,
            to: 0.0,
            mask: mask::VALUE,
        };
        let values = |r: &[Command]| -> Vec<f64> {
            r.iter()
                .filter_map(|r| match r {
                    Command::EventAddResponse { status, data, .. } if *status == eca::NORMAL => {
                        dbr::decode(DbrType::DOUBLE, 1, data).unwrap().0.as_f64()
                    }
                    _ => None,
                })
                .collect()
        };
        assert_eq!(values(&send(&mut c, vec![sub]).await), [1.5]);
        send(&mut c, vec![Command::EventsOffRequest]).await;
        x.post(2.0).unwrap();
        let rules = c.rules.clone();
        c.set_rules(Some(Arc::new(AccessRules::parse("ASG(DEFAULT)").unwrap())));
        x.post(3.0).unwrap();
        x.post(4.0).unwrap();
        c.set_rules(rules);
        let r = send(&mut c, vec![Command::EventsOnRequest]).await;
        assert_eq!(values(&r), [4.0], "{r:?}");
    }

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    /// Records of this thread (INFO and up), as text, while the guard lives.
    fn capture() -> (Buf, tracing::subscriber::DefaultGuard) {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .finish();
        (buf, tracing::subscriber::set_default(subscriber))
    }

    #[tokio::test]
    async fn trapwrite_logs_one_record_per_write_with_old_and_new_values() {
        let (buf, _guard) = capture();
        let (mut c, _, _) = circuit();
        let mut cmds = hello("alice", "ctrlroom");
        cmds.extend([create("t:x", 1), create("t:hidden", 2)]);
        let r = send(&mut c, cmds).await;
        let (x, hidden) = (sid_of(&r, 1), sid_of(&r, 2));
        send(
            &mut c,
            vec![
                put(x, 2.5, false),
                put(x, 3.5, true),
                put(hidden, 1.0, true),
            ],
        )
        .await;
        let text = buf.text();
        let logs: Vec<&str> = text.lines().filter(|l| l.contains(PUTLOG_TARGET)).collect();
        assert_eq!(logs.len(), 2, "{text}");
        assert_eq!(c.shared.metrics.putlog_records(), 2);
        for (line, old, new) in [(logs[0], "[1.5]", "[2.5]"), (logs[1], "[2.5]", "[3.5]")] {
            for field in [
                "pv=\"t:x\"".to_string(),
                "user=\"alice\"".into(),
                "host=ctrlroom".into(),
                format!("old={old} new={new}"),
            ] {
                assert!(line.contains(&field), "{field} not in {line}");
            }
        }
    }
}
