//! Reads and writes, the requests catime, archivers and display managers
//! send by the thousand: answered straight from the PV into the circuit's
//! output buffer (see [`crate::proto::circuit::IoRequest`]).
//!
//! A read encodes the reply's payload from the PV's current snapshot under
//! the PV's lock, behind a header the protocol core puts in front: no owned
//! `Command`, no payload vector, no pending-ioid entry. A write of the PV's
//! own plain type with no put hook is decoded into the PV's current value
//! in place ([`PvHandle::client_write_in_place`]); other writes are decoded
//! into a new value and posted as before. Replies keep their order with the
//! replies queued for the general path: that queue is flushed first.

use std::borrow::Cow;
use std::sync::Arc;

use super::{access, Circuit};
use crate::proto::circuit::{IoOp, IoReply, IoRequest};
use crate::proto::command::Command;
use crate::proto::dbr::{self, DbrType, NativeType, Value};
use crate::server::error::{eca, PutError};
use crate::server::pv::{pad, truncate, PvHandle, PvSnapshot};

impl Circuit {
    /// Answer a read or a write that needs no waiting. `owned` is a
    /// write's payload when it came in a `Command`; otherwise it is the one
    /// the protocol core lends for the request it just returned.
    pub(super) fn io_now(&mut self, req: &IoRequest, owned: Option<&[u8]>) {
        if req.op.is_write() {
            self.write_now(req, owned);
        } else {
            self.read_now(req);
        }
    }

    fn read_now(&mut self, req: &IoRequest) {
        if !self.outq.is_empty() {
            self.flush();
        }
        let Some(ch) = self.channels.get(&req.sid) else {
            self.unknown_sid(req.header, req.sid);
            return;
        };
        if !ch.rights.read {
            let (pv, cid) = (ch.pv.clone(), ch.cid);
            self.read_denied(req, &pv, cid);
            return;
        }
        let pv = &ch.pv;
        let (data_type, count) = (req.data_type, req.data_count);
        let _written = self.vc.reply_io(req, &mut self.out, |out| {
            pv.with_snapshot(
                |snap| match encode_value_into(pv, snap, data_type, count, out) {
                    Ok(n) => IoReply {
                        status: eca::NORMAL,
                        data_count: n,
                    },
                    Err(status) => {
                        let n = if count == 0 {
                            1
                        } else {
                            count.min(pv.max_count() as u32)
                        };
                        out.resize(out.len() + dbr::payload_size(data_type, n as usize), 0);
                        IoReply {
                            status,
                            data_count: n,
                        }
                    }
                },
            )
        });
        #[cfg(test)]
        self.record_sent_io(_written);
    }

    /// A write applied at once: no put hook, or a synchronous one.
    fn write_now(&mut self, req: &IoRequest, owned: Option<&[u8]>) {
        let Some(ch) = self.channels.get(&req.sid) else {
            self.unknown_sid(req.header, req.sid);
            return;
        };
        let result = match self.check_write(ch.rights, &ch.pv) {
            Err(e) => Err(e),
            Ok(rights) => {
                let data = owned.unwrap_or_else(|| self.vc.io_payload());
                let old = rights.trapwrite.then(|| ch.pv.snapshot());
                // A record's VAL takes its writes undecoded; tried here
                // rather than in `write_value`, so that its call does not
                // pay for saving what the general path needs.
                let result = match ch
                    .pv
                    .client_write_plain(req.data_type, req.data_count, data)
                {
                    Some(done) => done,
                    None => write_value(&ch.pv, req, data),
                };
                if let (Ok(()), Some(old)) = (&result, old) {
                    self.putlog(&ch.pv, &old);
                }
                result
            }
        };
        if result.is_ok() && req.op != IoOp::WriteNotify {
            // A plain WRITE that worked is not answered: nothing to finish
            // (catime's async put sends nothing else).
            return;
        }
        let failed_on = result.as_ref().err().map(|_| (ch.pv.name_arc(), ch.cid));
        self.finish_write(req, failed_on, result);
    }

    /// A write to a PV whose put hook is asynchronous: the circuit waits
    /// for it (as rsrv waits on a record's processing) before answering.
    pub(super) async fn write_waiting(&mut self, req: &IoRequest, data: &[u8]) {
        let Some(ch) = self.channels.get(&req.sid) else {
            self.unknown_sid(req.header, req.sid);
            return;
        };
        let (pv, cid, rights) = (ch.pv.clone(), ch.cid, ch.rights);
        let rights = match self.check_write(rights, &pv) {
            Ok(r) => r,
            Err(e) => return self.finish_write(req, Some((pv.name_arc(), cid)), Err(e)),
        };
        let old = rights.trapwrite.then(|| pv.snapshot());
        let result = match prepare_write(&pv, data, req.data_type, req.data_count) {
            Ok(Some(value)) => pv.client_put(value).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let (Ok(()), Some(old)) = (&result, old) {
            self.putlog(&pv, &old);
        }
        self.finish_write(req, Some((pv.name_arc(), cid)), result);
    }

    /// Whether a write on `sid` has to wait on an asynchronous put hook.
    pub(super) fn write_waits(&self, sid: u32) -> bool {
        self.channels.get(&sid).is_some_and(|ch| ch.pv.put_waits())
    }

    /// Answer a write: WRITE_NOTIFY always gets its status, a plain WRITE
    /// only an ERROR when it failed. `channel` (the PV's name and the cid)
    /// is needed for that ERROR only.
    fn finish_write(
        &mut self,
        req: &IoRequest,
        channel: Option<(Arc<str>, u32)>,
        result: Result<(), PutError>,
    ) {
        match (req.op, result) {
            (IoOp::WriteNotify, result) => {
                let status = match &result {
                    Ok(()) => eca::NORMAL,
                    Err(e) => e.eca(),
                };
                self.reply_status(req, status);
            }
            (_, Ok(())) => {}
            (_, Err(e)) => {
                let (pv, cid) = channel.map_or((None, req.sid), |(pv, cid)| (Some(pv), cid));
                self.send_error(req.header, cid, e.eca(), e.to_string(), pv);
            }
        }
    }

    /// Write the reply to `req` into the output buffer behind the replies
    /// still queued for the general path (flushed first, so replies keep
    /// request order). `read_now` does the same inline: its payload is
    /// encoded from a channel it holds borrowed.
    fn reply_now(&mut self, req: &IoRequest, fill: impl FnOnce(&mut Vec<u8>) -> IoReply) {
        if !self.outq.is_empty() {
            self.flush();
        }
        let _written = self.vc.reply_io(req, &mut self.out, fill);
        #[cfg(test)]
        self.record_sent_io(_written);
    }

    /// A reply with no payload, only `status` (WRITE_NOTIFY).
    fn reply_status(&mut self, req: &IoRequest, status: u32) {
        let data_count = req.data_count;
        self.reply_now(req, |_| IoReply { status, data_count });
    }

    /// A READ_NOTIFY reply saying the client may not read: zeroed data and
    /// `ECA_NORDACCESS` (a READ gets an ERROR instead).
    pub(super) fn read_denied(&mut self, req: &IoRequest, pv: &PvHandle, cid: u32) {
        self.shared.metrics.denied(crate::metrics::Denial::Read);
        if req.op != IoOp::ReadNotify {
            let msg = format!("no read access to {}", pv.name());
            self.send_error(req.header, cid, eca::NORDACCESS, msg, Some(pv.name_arc()));
            return;
        }
        let n = access::denied_count(req.data_count, pv);
        let size = dbr::payload_size(req.data_type, n as usize);
        self.reply_now(req, |out| {
            out.resize(out.len() + size, 0);
            IoReply {
                status: eca::NORDACCESS,
                data_count: n,
            }
        });
    }

    /// Unit tests read replies as commands: decode the `written` bytes of
    /// the reply just appended.
    #[cfg(test)]
    fn record_sent_io(&mut self, written: usize) {
        use crate::proto::command::Decoded;
        use crate::proto::Direction;
        let reply = &self.out[self.out.len() - written..];
        if let Ok(Decoded::Command(cmd, _)) =
            Command::decode_from(reply, Direction::Response, usize::MAX)
        {
            self.sent.push(cmd);
        }
    }
}

/// The payload of a write that came as a `Command` (unit tests, and a
/// request the protocol core did not hand out as an [`IoRequest`]).
pub(super) fn command_payload(cmd: &Command) -> &[u8] {
    match cmd {
        Command::WriteRequest { data, .. } | Command::WriteNotifyRequest { data, .. } => data,
        _ => &[],
    }
}

/// Store a client's write that the record the PV is bound to (if any)
/// did not take: in place when the PV allows it, else decoded into a new
/// value and put (running a synchronous put hook).
fn write_value(pv: &PvHandle, req: &IoRequest, data: &[u8]) -> Result<(), PutError> {
    if pv.client_write_in_place(req.data_type, req.data_count, data)? {
        return Ok(());
    }
    match prepare_write(pv, data, req.data_type, req.data_count)? {
        Some(value) => pv.client_put_now(value),
        None => Ok(()),
    }
}

/// Append the snapshot encoded as `data_type` with `count` elements (0 =
/// current length) to `out`. Returns the element count sent, or an ECA code
/// with nothing appended.
pub(super) fn encode_value_into(
    pv: &PvHandle,
    snap: &PvSnapshot,
    data_type: DbrType,
    count: u32,
    out: &mut Vec<u8>,
) -> Result<u32, u32> {
    let max = pv.max_count();
    let mut value: Cow<'_, Value> = match data_type {
        DbrType::PutAckt | DbrType::PutAcks => return Err(eca::BADTYPE),
        DbrType::ClassName => Cow::Owned(Value::String(vec![pv.record_type().to_string()])),
        other if other.native() == snap.value.native_type() => Cow::Borrowed(&snap.value),
        other => Cow::Owned(
            // Numbers become strings with the PV's precision, as an IOC's PREC does.
            snap.value
                .convert_with_precision(
                    other.native(),
                    &snap.meta.enum_strings,
                    snap.meta.graphics.precision,
                )
                .map_err(|_| eca::NOCONVERT)?,
        ),
    };
    let n = match data_type {
        DbrType::ClassName => 1,
        _ if count == 0 => value.len(),
        _ if count as usize > max => return Err(eca::BADCOUNT),
        _ => count as usize,
    };
    if value.len() < n {
        pad(value.to_mut(), n);
    } else if value.len() > n {
        truncate(value.to_mut(), n);
    }
    // A menu may have more choices than the 16 a GR/CTRL ENUM carries
    // (menuAlarmStat has 22): the first 16 go out, as from an IOC, while
    // string reads above used them all.
    let meta = if snap.meta.enum_strings.len() > dbr::MAX_ENUM_STATES {
        let mut m = snap.meta.clone();
        m.enum_strings.truncate(dbr::MAX_ENUM_STATES);
        Cow::Owned(m)
    } else {
        Cow::Borrowed(&snap.meta)
    };
    dbr::encode(data_type, &value, &meta, out).map_err(|_| eca::GETFAIL)?;
    Ok(n as u32)
}

/// Decode a client's write payload for `pv`. Alarm acknowledgements
/// (DBR_PUT_ACKT/ACKS) are applied here and give `None`; a value to store is
/// returned for the caller to put, at once or awaiting the PV's hook.
fn prepare_write(
    pv: &PvHandle,
    data: &[u8],
    data_type: DbrType,
    count: u32,
) -> Result<Option<Value>, PutError> {
    if pv.is_read_only() {
        return Err(PutError::ReadOnly);
    }
    if let Some(mut value) = empty_plain(data_type, (count as usize).min(data.len())) {
        // A plain number array (a record's put, most often): decoded
        // straight into one vector, no metadata built and dropped.
        if dbr::decode_plain_into(data_type, count, data, &mut value)
            .map_err(|e| PutError::Status(eca::BADTYPE, e.to_string()))?
        {
            return Ok(Some(value));
        }
    }
    let data = pad_short_string(data, data_type, count);
    let (value, _meta) = dbr::decode(data_type, count, &data)
        .map_err(|e| PutError::Status(eca::BADTYPE, e.to_string()))?;
    match data_type {
        DbrType::PutAckt | DbrType::PutAcks => {
            let v = match &value {
                Value::Short(v) => v.first().map(|&x| x as u16),
                Value::Enum(v) => v.first().copied(),
                _ => None,
            }
            .ok_or_else(|| PutError::NoConvert("acknowledge needs one value".into()))?;
            if data_type == DbrType::PutAckt {
                pv.put_ack(Some(v), None)?;
            } else {
                pv.put_ack(None, Some(v))?;
            }
            Ok(None)
        }
        _ => Ok(Some(value)),
    }
}

/// libca sends a one-element DBR_STRING put with only the text's length
/// (plus its NUL, rounded up to 8 bytes), not the full 40-byte field; the last
/// string of an array may be short the same way. Pad such a payload with
/// NULs to the size the codec expects; other types are left alone (a short
/// numeric payload is a real error).
/// An empty value to decode a plain, non-string `data_type` into, with
/// room for `room` elements (the caller bounds it by the payload's size,
/// so a client's count cannot make it allocate more than it sent).
fn empty_plain(data_type: DbrType, room: usize) -> Option<Value> {
    let DbrType::Value(dbr::DbrClass::Plain, native) = data_type else {
        return None;
    };
    Some(match native {
        NativeType::Short => Value::Short(Vec::with_capacity(room)),
        NativeType::Float => Value::Float(Vec::with_capacity(room)),
        NativeType::Enum => Value::Enum(Vec::with_capacity(room)),
        NativeType::Char => Value::Char(Vec::with_capacity(room)),
        NativeType::Long => Value::Long(Vec::with_capacity(room)),
        NativeType::Double => Value::Double(Vec::with_capacity(room)),
        NativeType::String => return None,
    })
}

fn pad_short_string(data: &[u8], data_type: DbrType, count: u32) -> Cow<'_, [u8]> {
    let is_string = matches!(data_type, DbrType::Value(_, n) if n == NativeType::String);
    let needed = dbr::payload_size(data_type, count as usize);
    if is_string && data.len() < needed && needed - data.len() < dbr::MAX_STRING_SIZE {
        let mut padded = data.to_vec();
        padded.resize(needed, 0);
        Cow::Owned(padded)
    } else {
        Cow::Borrowed(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dbr::DbrClass;
    use crate::server::pv::{Pv, PvGroup};

    /// What the circuit does for a write, minus the reply.
    async fn apply_write(
        pv: &PvHandle,
        data: &[u8],
        data_type: DbrType,
        count: u32,
    ) -> Result<(), PutError> {
        match prepare_write(pv, data, data_type, count)? {
            Some(value) => pv.client_put(value).await,
            None => Ok(()),
        }
    }

    fn pvs() -> (PvHandle, PvHandle, PvHandle) {
        let mut g = PvGroup::new("");
        let d = g.add(Pv::new("d", 3.25).units("mm").precision(2));
        let e = g.add(Pv::enumerated("e", &["Off", "On"], 1));
        let w = g.add(Pv::new("w", vec![1i32, 2, 3]).max_count(5));
        (d, e, w)
    }

    /// The payload and element count of a read of `pv`, or the ECA code.
    fn encode_value(
        pv: &PvHandle,
        snap: &PvSnapshot,
        t: DbrType,
        count: u32,
    ) -> Result<(Vec<u8>, u32), u32> {
        let mut data = Vec::new();
        encode_value_into(pv, snap, t, count, &mut data).map(|n| (data, n))
    }

    fn decoded(pv: &PvHandle, t: DbrType, count: u32) -> (Value, u32) {
        let (data, n) = encode_value(pv, &pv.snapshot(), t, count).unwrap();
        assert_eq!(data.len(), dbr::payload_size(t, n as usize));
        (dbr::decode(t, n, &data).unwrap().0, n)
    }

    #[test]
    fn converts_to_the_requested_type() {
        let (d, e, _) = pvs();
        let s = DbrType::plain(NativeType::String);
        assert_eq!(decoded(&d, s, 1).0, Value::String(vec!["3.25".into()]));
        assert_eq!(decoded(&e, s, 1).0, Value::String(vec!["On".into()]));
        let l = DbrType::plain(NativeType::Long);
        assert_eq!(decoded(&d, l, 1).0, Value::Long(vec![3]));
        let ctrl = DbrType::Value(DbrClass::Ctrl, NativeType::Double);
        let (data, _) = encode_value(&d, &d.snapshot(), ctrl, 1).unwrap();
        let (_, meta) = dbr::decode(ctrl, 1, &data).unwrap();
        assert_eq!(meta.graphics.units, "mm");
        assert_eq!(meta.graphics.precision, 2);
    }

    #[test]
    fn counts_dynamic_padded_and_bad() {
        let (_, _, w) = pvs();
        let l = DbrType::plain(NativeType::Long);
        assert_eq!(decoded(&w, l, 0), (Value::Long(vec![1, 2, 3]), 3));
        assert_eq!(decoded(&w, l, 5), (Value::Long(vec![1, 2, 3, 0, 0]), 5));
        assert_eq!(decoded(&w, l, 2), (Value::Long(vec![1, 2]), 2));
        assert_eq!(
            encode_value(&w, &w.snapshot(), l, 6).unwrap_err(),
            eca::BADCOUNT
        );
        assert_eq!(
            encode_value(&w, &w.snapshot(), DbrType::PutAckt, 1).unwrap_err(),
            eca::BADTYPE
        );
        assert_eq!(
            decoded(&w, DbrType::ClassName, 1).0,
            Value::String(vec!["waveform".into()])
        );
    }

    #[tokio::test]
    async fn client_writes_are_decoded_and_converted() {
        let (d, e, _) = pvs();
        let s = DbrType::plain(NativeType::String);
        let mut data = Vec::new();
        dbr::encode(
            s,
            &Value::String(vec!["1.5".into()]),
            &Default::default(),
            &mut data,
        )
        .unwrap();
        apply_write(&d, &data, s, 1).await.unwrap();
        assert_eq!(d.value(), Value::Double(vec![1.5]));
        data.clear();
        dbr::encode(
            s,
            &Value::String(vec!["Off".into()]),
            &Default::default(),
            &mut data,
        )
        .unwrap();
        apply_write(&e, &data, s, 1).await.unwrap();
        assert_eq!(e.value(), Value::Enum(vec![0]));
        data.clear();
        dbr::encode(
            s,
            &Value::String(vec!["bogus".into()]),
            &Default::default(),
            &mut data,
        )
        .unwrap();
        let err = apply_write(&e, &data, s, 1).await.unwrap_err();
        assert_eq!(err.eca(), eca::NOCONVERT);
        assert_eq!(e.value(), Value::Enum(vec![0]));

        // libca's short form of a one-element string put: "2.25\0" padded to 8.
        apply_write(&d, b"2.25\0\0\0\0", s, 1).await.unwrap();
        assert_eq!(d.value(), Value::Double(vec![2.25]));
        // A short numeric payload is still refused.
        let err = apply_write(&d, &[0; 4], DbrType::DOUBLE, 1)
            .await
            .unwrap_err();
        assert_eq!(err.eca(), eca::BADTYPE);
    }

    /// A write of the PV's own type goes into the current value in place
    /// only when nothing else holds that snapshot; subscribers get it like
    /// any post; everything the in-place path cannot do is left alone.
    #[test]
    fn writes_in_place_only_when_the_snapshot_is_not_shared() {
        use crate::proto::command::mask;
        use crate::server::subscription::{CircuitEvents, Subscription};
        use std::sync::Arc;

        let (d, _, w) = pvs();
        let two = 2.0f64.to_be_bytes();
        let held = d.snapshot();
        assert_eq!(d.client_write_in_place(DbrType::DOUBLE, 1, &two), Ok(false));
        assert_eq!(
            held.value,
            Value::Double(vec![3.25]),
            "a reader's snapshot never changes"
        );
        assert_eq!(d.value(), Value::Double(vec![3.25]));
        drop(held);
        let before = d.snapshot().meta.stamp;
        assert_eq!(d.client_write_in_place(DbrType::DOUBLE, 1, &two), Ok(true));
        let after = d.snapshot();
        assert_eq!(after.value, Value::Double(vec![2.0]));
        assert!(after.meta.stamp >= before, "timestamped now");
        assert_eq!(after.meta.graphics.units, "mm", "metadata kept");
        drop(after);

        // A subscriber gets the write; while it holds the snapshot queued,
        // the next write makes a new one instead.
        let sub = Arc::new(Subscription::new(
            1,
            1,
            DbrType::DOUBLE,
            1,
            mask::VALUE,
            Arc::new(CircuitEvents::default()),
        ));
        d.subscribe(&sub);
        let mut got = Vec::new();
        sub.drain(10, &mut got);
        got.clear();
        let three = 3.0f64.to_be_bytes();
        assert_eq!(
            d.client_write_in_place(DbrType::DOUBLE, 1, &three),
            Ok(true)
        );
        sub.drain(10, &mut got);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].value, Value::Double(vec![3.0]));
        assert_eq!(d.client_write_in_place(DbrType::DOUBLE, 1, &two), Ok(false));
        assert_eq!(got[0].value, Value::Double(vec![3.0]));
        d.unsubscribe(&sub);
        drop(got);

        // Not for this path: another type, a count beyond the PV's, a put
        // hook, count 0. A short payload is the client's error.
        let long = DbrType::plain(NativeType::Long);
        assert_eq!(d.client_write_in_place(long, 1, &[0, 0, 0, 7]), Ok(false));
        assert_eq!(
            d.client_write_in_place(DbrType::DOUBLE, 2, &[0; 16]),
            Ok(false)
        );
        assert_eq!(d.client_write_in_place(DbrType::DOUBLE, 0, &[]), Ok(false));
        let mut g = PvGroup::new("");
        let hooked = g.add(Pv::new("h", 1.0).on_put(|_, _| Ok(None)));
        assert_eq!(
            hooked.client_write_in_place(DbrType::DOUBLE, 1, &two),
            Ok(false)
        );
        let err = d
            .client_write_in_place(DbrType::DOUBLE, 1, &[0; 4])
            .unwrap_err();
        assert_eq!(err.eca(), eca::BADTYPE);
        assert_eq!(
            d.value(),
            Value::Double(vec![3.0]),
            "refused writes change nothing"
        );
        // An array PV takes a shorter or longer (up to its maximum) write.
        let wire: Vec<u8> = [9i32, 8, 7, 6, 5]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        assert_eq!(w.client_write_in_place(long, 5, &wire), Ok(true));
        assert_eq!(w.value(), Value::Long(vec![9, 8, 7, 6, 5]));
        assert_eq!(w.client_write_in_place(long, 1, &wire), Ok(true));
        assert_eq!(w.value(), Value::Long(vec![9]));
    }
}
