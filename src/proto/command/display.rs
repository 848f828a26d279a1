//! caproto-style `Display` for commands, e.g.
//! `ReadNotifyRequest(data_type=DOUBLE, data_count=0, sid=0, ioid=0)`.
//!
//! Field order follows the arguments of caproto's command classes. Types print
//! by caproto name (`TIME_DOUBLE`), statuses by ECA name, strings and addresses
//! quoted like Python's `repr`. Data payloads are decoded with
//! [`crate::proto::dbr::decode`] only here, i.e. only when a record is really
//! formatted; if that fails the line says `data=<N bytes>`.

use std::fmt::{self, Formatter, Write};

use super::{AccessRights, Command};
use crate::proto::dbr::{self, DbrClass, DbrType, Metadata, Value};
use crate::proto::header::Header;
use crate::proto::status;

/// Arrays longer than this print their first elements and a count.
const MAX_ELEMENTS_SHOWN: usize = 10;

impl fmt::Display for Command {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use Command::*;
        write!(f, "{}(", self.name())?;
        match self {
            VersionRequest {
                priority, version, ..
            } => {
                write!(f, "priority={priority}, version={version}")
            }
            VersionResponse { version, .. } => write!(f, "version={version}"),
            SearchRequest {
                name,
                cid,
                version,
                reply,
            } => {
                let reply = if *reply {
                    super::SEARCH_DO_REPLY
                } else {
                    super::SEARCH_NO_REPLY
                };
                write!(f, "name=")?;
                quoted(f, name)?;
                write!(f, ", cid={cid}, version={version}, reply={reply}")
            }
            SearchResponse {
                port,
                ip,
                cid,
                version,
            } => {
                let ip = ip.map_or_else(|| "255.255.255.255".to_string(), |ip| ip.to_string());
                write!(f, "port={port}, ip='{ip}', cid={cid}, version={version}")
            }
            NotFoundResponse { version, cid } => write!(f, "version={version}, cid={cid}"),
            EchoRequest | EchoResponse | EventsOffRequest | EventsOnRequest | ReadSyncRequest => {
                Ok(())
            }
            Beacon {
                version,
                server_port,
                beacon_id,
                address,
            } => write!(
                f,
                "version={version}, server_port={server_port}, beacon_id={beacon_id}, address='{address}'"
            ),
            RepeaterRegisterRequest { client_address } => {
                write!(f, "client_address='{client_address}'")
            }
            RepeaterConfirmResponse { repeater_address } => {
                write!(f, "repeater_address='{repeater_address}'")
            }
            EventAddRequest {
                data_type,
                data_count,
                sid,
                subscriptionid,
                low,
                high,
                to,
                mask,
            } => write!(
                f,
                "data_type={data_type}, data_count={data_count}, sid={sid}, \
                 subscriptionid={subscriptionid}, low={low:?}, high={high:?}, to={to:?}, mask={mask}"
            ),
            EventAddResponse {
                data,
                data_type,
                data_count,
                status,
                subscriptionid,
            } => {
                data_field(f, *data_type, *data_count, data)?;
                write!(f, ", data_type={data_type}, data_count={data_count}, status=")?;
                eca(f, *status)?;
                write!(f, ", subscriptionid={subscriptionid}")
            }
            EventCancelRequest {
                data_type,
                sid,
                subscriptionid,
                ..
            } => write!(
                f,
                "data_type={data_type}, sid={sid}, subscriptionid={subscriptionid}"
            ),
            EventCancelResponse {
                data_type,
                data_count,
                sid,
                subscriptionid,
            } => write!(
                f,
                "data_type={data_type}, sid={sid}, subscriptionid={subscriptionid}, data_count={data_count}"
            ),
            ReadRequest {
                data_type,
                data_count,
                sid,
                ioid,
            }
            | ReadNotifyRequest {
                data_type,
                data_count,
                sid,
                ioid,
            } => write!(
                f,
                "data_type={data_type}, data_count={data_count}, sid={sid}, ioid={ioid}"
            ),
            ReadResponse {
                data,
                data_type,
                data_count,
                sid,
                ioid,
            }
            | WriteRequest {
                data,
                data_type,
                data_count,
                sid,
                ioid,
            }
            | WriteNotifyRequest {
                data,
                data_type,
                data_count,
                sid,
                ioid,
            } => {
                data_field(f, *data_type, *data_count, data)?;
                write!(
                    f,
                    ", data_type={data_type}, data_count={data_count}, sid={sid}, ioid={ioid}"
                )
            }
            ErrorResponse {
                original_request,
                cid,
                status,
                error_message,
            } => {
                write!(f, "original_request=")?;
                header(f, original_request)?;
                write!(f, ", cid={cid}, status=")?;
                eca(f, *status)?;
                write!(f, ", error_message=")?;
                quoted(f, error_message)
            }
            ClearChannelRequest { sid, cid } | ClearChannelResponse { sid, cid } => {
                write!(f, "sid={sid}, cid={cid}")
            }
            ReadNotifyResponse {
                data,
                data_type,
                data_count,
                status,
                ioid,
            } => {
                data_field(f, *data_type, *data_count, data)?;
                write!(f, ", data_type={data_type}, data_count={data_count}, status=")?;
                eca(f, *status)?;
                write!(f, ", ioid={ioid}")
            }
            CreateChanRequest { name, cid, version } => {
                write!(f, "name=")?;
                quoted(f, name)?;
                write!(f, ", cid={cid}, version={version}")
            }
            CreateChanResponse {
                data_type,
                data_count,
                cid,
                sid,
            } => write!(
                f,
                "data_type={data_type}, data_count={data_count}, cid={cid}, sid={sid}"
            ),
            WriteNotifyResponse {
                data_type,
                data_count,
                status,
                ioid,
            } => {
                write!(f, "data_type={data_type}, data_count={data_count}, status=")?;
                eca(f, *status)?;
                write!(f, ", ioid={ioid}")
            }
            ClientNameRequest { name } | HostNameRequest { name } => {
                write!(f, "name=")?;
                quoted(f, name)
            }
            AccessRightsResponse { cid, access_rights } => {
                write!(f, "cid={cid}, access_rights={access_rights}")
            }
            CreateChFailResponse { cid } | ServerDisconnResponse { cid } => write!(f, "cid={cid}"),
            Obsolete { header: h, payload } => {
                let name = super::id::name(h.command).unwrap_or("?");
                write!(f, "command={name}, header=")?;
                header(f, h)?;
                write!(f, ", payload=<{} bytes>", payload.len())
            }
        }?;
        f.write_char(')')
    }
}

impl fmt::Display for AccessRights {
    /// caproto's spelling: `NO_ACCESS`, `READ`, `WRITE` or `READ|WRITE`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.read, self.write) {
            (false, false) => "NO_ACCESS",
            (true, false) => "READ",
            (false, true) => "WRITE",
            (true, true) => "READ|WRITE",
        })
    }
}

/// A string the way Python's `repr` quotes it (single quotes, escapes).
fn quoted(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            c if c.is_control() => write!(f, "\\x{:02x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}

/// An ECA status by name, or its number when EPICS does not define it.
fn eca(f: &mut Formatter<'_>, code: u32) -> fmt::Result {
    match status::eca_name(code) {
        Some(name) => f.write_str(name),
        None => write!(f, "{code}"),
    }
}

fn header(f: &mut Formatter<'_>, h: &Header) -> fmt::Result {
    write!(
        f,
        "MessageHeader(command={}, payload_size={}, data_type={}, data_count={}, parameter1={}, parameter2={})",
        h.command, h.payload_size, h.data_type, h.data_count, h.parameter1, h.parameter2
    )
}

/// `data=[...]` (plus `metadata=(...)` for types that carry it), or `data=<N bytes>`.
fn data_field(f: &mut Formatter<'_>, data_type: DbrType, count: u32, data: &[u8]) -> fmt::Result {
    match dbr::decode(data_type, count, data) {
        Ok((value, meta)) => {
            f.write_str("data=")?;
            write_value(f, &value)?;
            write_metadata(f, data_type, &meta)
        }
        Err(_) => write!(f, "data=<{} bytes>", data.len()),
    }
}

/// The elements in brackets, the first [`MAX_ELEMENTS_SHOWN`] of long arrays then `...`.
pub(super) fn write_value(f: &mut impl Write, value: &Value) -> fmt::Result {
    fn list<T>(
        f: &mut impl Write,
        items: &[T],
        mut one: impl FnMut(&mut dyn Write, &T) -> fmt::Result,
    ) -> fmt::Result {
        f.write_char('[')?;
        for (i, item) in items.iter().take(MAX_ELEMENTS_SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            one(f, item)?;
        }
        if items.len() > MAX_ELEMENTS_SHOWN {
            write!(f, ", ... ({} elements)", items.len())?;
        }
        f.write_char(']')
    }
    match value {
        Value::String(v) => list(f, v, |f, s| write!(f, "{}", Quoted(s))),
        Value::Short(v) => list(f, v, |f, x| write!(f, "{x}")),
        Value::Float(v) => list(f, v, |f, x| write!(f, "{x:?}")),
        Value::Enum(v) => list(f, v, |f, x| write!(f, "{x}")),
        Value::Char(v) => list(f, v, |f, x| write!(f, "{x}")),
        Value::Long(v) => list(f, v, |f, x| write!(f, "{x}")),
        Value::Double(v) => list(f, v, |f, x| write!(f, "{x:?}")),
    }
}

/// Display adapter for [`quoted`].
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        quoted(f, self.0)
    }
}

/// The alarm and time fields of STS/TIME/GR/CTRL types, which caproto shows as `metadata=`.
fn write_metadata(f: &mut Formatter<'_>, data_type: DbrType, meta: &Metadata) -> fmt::Result {
    let class = match data_type {
        DbrType::Value(class, _) => class,
        DbrType::StsackString => DbrClass::Sts,
        _ => return Ok(()),
    };
    if class == DbrClass::Plain {
        return Ok(());
    }
    write!(
        f,
        ", metadata=(status={}, severity={}",
        meta.status, meta.severity
    )?;
    if class == DbrClass::Time {
        write!(f, ", stamp={}.{:09}", meta.stamp.secs, meta.stamp.nanos)?;
    }
    f.write_char(')')
}

#[cfg(test)]
mod tests {
    use super::*;

    struct V<'a>(&'a Value);
    impl fmt::Display for V<'_> {
        fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
            write_value(f, self.0)
        }
    }

    #[test]
    fn values_print_like_python_and_truncate() {
        assert_eq!(V(&Value::Double(vec![1.0, 2.5])).to_string(), "[1.0, 2.5]");
        assert_eq!(
            V(&Value::String(vec!["a'b".into()])).to_string(),
            r"['a\'b']"
        );
        let long = Value::Long((0..100).collect());
        assert_eq!(
            V(&long).to_string(),
            "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... (100 elements)]"
        );
        assert_eq!(V(&Value::Char(vec![])).to_string(), "[]");
    }
}
