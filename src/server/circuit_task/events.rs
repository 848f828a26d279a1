//! Subscription events: moved from the subscribers' queues into the
//! circuit's output buffer while it is under [`HIGH_WATER`], at most a
//! queue's depth per subscription per pass; subscriptions with more left
//! are queued again for the next pass.

use super::{io, Circuit, HIGH_WATER};
use crate::proto::command::Command;
use crate::proto::dbr;
use crate::server::error::eca;
use crate::server::subscription::QUEUE_DEPTH;

impl Circuit {
    /// Move pending subscription events into the output buffer while there is room.
    pub(in crate::server) fn drain_events(&mut self) {
        if !self.events_on {
            return;
        }
        let ready = self.events.take_ready();
        if ready.is_empty() {
            return;
        }
        let mut leftover = Vec::new();
        let mut snaps = std::mem::take(&mut self.snaps);
        for sub in ready {
            if sub.is_cancelled() {
                continue;
            }
            if self.out.len() >= HIGH_WATER {
                leftover.push(sub);
                continue;
            }
            let more = sub.drain(QUEUE_DEPTH, &mut snaps);
            let Some((pv, readable)) = self
                .channels
                .get(&sub.sid)
                .map(|c| (c.pv.clone(), c.rights.read))
            else {
                snaps.clear();
                continue;
            };
            if !readable {
                // No read access: updates are dropped (the client was told
                // with an ECA_NORDACCESS event) until access comes back.
                snaps.clear();
                while sub.drain(QUEUE_DEPTH, &mut snaps) {
                    snaps.clear();
                }
                snaps.clear();
                continue;
            }
            for snap in snaps.drain(..) {
                let mut data = Vec::new();
                let (data_count, status) =
                    match io::encode_value_into(&pv, &snap, sub.data_type, sub.count, &mut data) {
                        Ok(n) => (n, eca::NORMAL),
                        Err(status) => {
                            let n = sub.count.max(1);
                            data.resize(dbr::payload_size(sub.data_type, n as usize), 0);
                            (n, status)
                        }
                    };
                let cmd = Command::EventAddResponse {
                    data,
                    data_type: sub.data_type,
                    data_count,
                    status,
                    subscriptionid: sub.subid,
                };
                self.send(cmd, Some(pv.name_arc()));
            }
            self.flush();
            if more {
                leftover.push(sub);
            }
        }
        self.snaps = snaps;
        self.events.requeue(leftover);
    }
}
