//! Golden vectors: for every command caproto 1.3.0 produces (tests/golden/commands.json,
//! written by scripts/golden/gen_commands.py) and every message captured from EPICS base
//! traffic on loopback (tests/golden/commands_epics.json, scripts/golden/capture_epics.py),
//! our encoder must produce the identical bytes from the recorded field values, and our
//! decoder must read the bytes back to those same values.

use std::net::Ipv4Addr;
use std::path::Path;

use caproto::proto::command::{AccessRights, Command, Decoded};
use caproto::proto::dbr::DbrType;
use caproto::proto::{header::Header, Direction};
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn load(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    match serde_json::from_str(&text).expect("valid JSON") {
        Value::Array(items) => items,
        _ => panic!("{name}: expected an array"),
    }
}

/// Typed access to one vector's `fields` object.
struct Fields<'a>(&'a Value);

impl Fields<'_> {
    fn get(&self, key: &str) -> &Value {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("missing field {key} in {}", self.0))
    }
    fn u32(&self, key: &str) -> u32 {
        u32::try_from(self.get(key).as_u64().expect("integer")).expect("u32")
    }
    fn u16(&self, key: &str) -> u16 {
        u16::try_from(self.get(key).as_u64().expect("integer")).expect("u16")
    }
    fn f32(&self, key: &str) -> f32 {
        self.get(key).as_f64().expect("number") as f32
    }
    fn string(&self, key: &str) -> String {
        self.get(key).as_str().expect("string").to_owned()
    }
    fn bool(&self, key: &str) -> bool {
        self.get(key).as_bool().expect("bool")
    }
    fn ip(&self, key: &str) -> Ipv4Addr {
        self.get(key).as_str().expect("ip").parse().expect("IPv4")
    }
    fn dbr(&self) -> DbrType {
        DbrType::from_code(self.u16("data_type")).expect("valid DBR code")
    }
    fn data(&self) -> Vec<u8> {
        hex(self.get("data").as_str().expect("hex data"))
    }
    fn header(&self, key: &str) -> Header {
        let h = Fields(self.get(key));
        Header {
            command: h.u16("command"),
            payload_size: h.u32("payload_size"),
            data_type: h.u16("data_type"),
            data_count: h.u32("data_count"),
            parameter1: h.u32("parameter1"),
            parameter2: h.u32("parameter2"),
        }
    }
}

/// Build the command a vector describes, from its name and field values.
fn expected(name: &str, f: &Fields) -> Command {
    match name {
        "VersionRequest" => Command::VersionRequest {
            priority: f.u16("priority"),
            version: f.u16("version"),
            sequence: f.u32("sequence"),
        },
        "VersionResponse" => Command::VersionResponse {
            version: f.u16("version"),
            sequence: (!f.get("sequence").is_null()).then(|| f.u32("sequence")),
        },
        "SearchRequest" => Command::SearchRequest {
            name: f.string("name"),
            cid: f.u32("cid"),
            version: f.u16("version"),
            reply: f.bool("reply"),
        },
        "SearchResponse" => Command::SearchResponse {
            port: f.u16("port"),
            ip: (!f.get("ip").is_null()).then(|| f.ip("ip")),
            cid: f.u32("cid"),
            version: f.u16("version"),
        },
        "NotFoundResponse" => Command::NotFoundResponse {
            version: f.u16("version"),
            cid: f.u32("cid"),
        },
        "EchoRequest" => Command::EchoRequest,
        "EchoResponse" => Command::EchoResponse,
        "Beacon" => Command::Beacon {
            version: f.u16("version"),
            server_port: f.u16("server_port"),
            beacon_id: f.u32("beacon_id"),
            address: f.ip("address"),
        },
        "RepeaterRegisterRequest" => Command::RepeaterRegisterRequest {
            client_address: f.ip("client_address"),
        },
        "RepeaterConfirmResponse" => Command::RepeaterConfirmResponse {
            repeater_address: f.ip("repeater_address"),
        },
        "EventAddRequest" => Command::EventAddRequest {
            data_type: f.dbr(),
            data_count: f.u32("data_count"),
            sid: f.u32("sid"),
            subscriptionid: f.u32("subscriptionid"),
            low: f.f32("low"),
            high: f.f32("high"),
            to: f.f32("to"),
            mask: f.u16("mask"),
        },
        "EventAddResponse" => Command::EventAddResponse {
            data: f.data(),
            data_type: f.dbr(),
            data_count: f.u32("data_count"),
            status: f.u32("status"),
            subscriptionid: f.u32("subscriptionid"),
        },
        "EventCancelRequest" => Command::EventCancelRequest {
            data_type: f.dbr(),
            data_count: f.u32("data_count"),
            sid: f.u32("sid"),
            subscriptionid: f.u32("subscriptionid"),
        },
        "EventCancelResponse" => Command::EventCancelResponse {
            data_type: f.dbr(),
            data_count: f.u32("data_count"),
            sid: f.u32("sid"),
            subscriptionid: f.u32("subscriptionid"),
        },
        "ReadRequest" => Command::ReadRequest {
            data_type: f.dbr(),
            data_count: f.u32("data_count"),
            sid: f.u32("sid"),
            ioid: f.u32("ioid"),
        },
        "ReadResponse" => Command::ReadResponse {
            data: f.data(),
            data_type: f.dbr(),
            data_count: f.u32("data_count"),
            sid: f.u32("sid"),
            ioid: f.u32("ioid"),
        },
        "WriteRequest" => Command::WriteRequest {
            data: f.data(),
            data_type: f.dbr(),
            data_count: f.u32("data_count"),
            sid: f.u32("sid"),
            ioid: f.u32("ioid"),
        },
        "EventsOffRequest" => Command::EventsOffRequest,
        "EventsOnRequest" => Command::EventsOnRequest,
        "ReadSyncRequest" => Command::ReadSyncRequest,
        "ErrorResponse" => Command::ErrorResponse {
            original_request: f.header("original_request"),
            cid: f.u32("cid"),
            status: f.u32("status"),
            error_message: f.string("error_message"),
        },
        "ClearChannelRequest" => Command::ClearChannelRequest {
            sid: f.u32("sid"),
            cid: f.u32("cid"),
        },
        "ClearChannelResponse" => Command::ClearChannelResponse {
            sid: f.u32("sid"),
            cid: f.u32("cid"),
        },
        "ReadNotifyRequest" => Command::ReadNotifyRequest {
            data_type: f.dbr(),
            data_count: f.u32("data_count"),
            sid: f.u32("sid"),
            ioid: f.u32("ioid"),
        },
        "ReadNotifyResponse" => Command::ReadNotifyResponse {
            data: f.data(),
            data_type: f.dbr(),
            data_count: f.u32("data_count"),
            status: f.u32("status"),
            ioid: f.u32("ioid"),
        },
        "CreateChanRequest" => Command::CreateChanRequest {
            name: f.string("name"),
            cid: f.u32("cid"),
            version: f.u16("version"),
        },
        "CreateChanResponse" => Command::CreateChanResponse {
            data_type: f.dbr(),
            data_count: f.u32("data_count"),
            cid: f.u32("cid"),
            sid: f.u32("sid"),
        },
        "WriteNotifyRequest" => Command::WriteNotifyRequest {
            data: f.data(),
            data_type: f.dbr(),
            data_count: f.u32("data_count"),
            sid: f.u32("sid"),
            ioid: f.u32("ioid"),
        },
        "WriteNotifyResponse" => Command::WriteNotifyResponse {
            data_type: f.dbr(),
            data_count: f.u32("data_count"),
            status: f.u32("status"),
            ioid: f.u32("ioid"),
        },
        "ClientNameRequest" => Command::ClientNameRequest {
            name: f.string("name"),
        },
        "HostNameRequest" => Command::HostNameRequest {
            name: f.string("name"),
        },
        "AccessRightsResponse" => Command::AccessRightsResponse {
            cid: f.u32("cid"),
            access_rights: AccessRights::from_bits(f.u32("access_rights")),
        },
        "CreateChFailResponse" => Command::CreateChFailResponse { cid: f.u32("cid") },
        "ServerDisconnResponse" => Command::ServerDisconnResponse { cid: f.u32("cid") },
        other => panic!("golden file names unknown command {other}"),
    }
}

/// Check every vector of a file; returns how many were checked.
fn check_file(file: &str) -> usize {
    let vectors = load(file);
    let mut failures = Vec::new();
    for v in &vectors {
        let label = v["label"].as_str().expect("label");
        let name = v["name"].as_str().expect("name");
        let direction = match v["direction"].as_str().expect("direction") {
            "request" => Direction::Request,
            "response" => Direction::Response,
            other => panic!("{label}: bad direction {other}"),
        };
        let wire = hex(v["hex"].as_str().expect("hex"));
        // Bytes whose re-encoding legitimately differs (see the capture script) say so.
        let exact = v
            .get("reencode_exact")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let want = expected(name, &Fields(&v["fields"]));

        assert_eq!(want.name(), name, "{label}: name()");
        match want.to_bytes() {
            Ok(bytes) if !exact || bytes == wire => {}
            Ok(bytes) => failures.push(format!(
                "{label}: encoded\n  ours   {}\n  golden {}",
                to_hex(&bytes),
                to_hex(&wire)
            )),
            Err(e) => failures.push(format!("{label}: encode failed: {e}")),
        }
        match Command::decode_from(&wire, direction, usize::MAX) {
            Ok(Decoded::Command(got, used)) if got == want && used == wire.len() => {}
            other => failures.push(format!("{label}: decoded {other:?}, want {want:?}")),
        }
        // Display never fails and names the command.
        assert!(want.to_string().starts_with(name), "{label}: {want}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    vectors.len()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn caproto_vectors() {
    let n = check_file("commands.json");
    assert!(n >= 60, "expected the full caproto set, found {n}");
}

#[test]
fn caproto_vectors_cover_every_command() {
    let vectors = load("commands.json");
    let names: std::collections::BTreeSet<&str> =
        vectors.iter().filter_map(|v| v["name"].as_str()).collect();
    for name in [
        "VersionRequest",
        "VersionResponse",
        "SearchRequest",
        "SearchResponse",
        "NotFoundResponse",
        "EchoRequest",
        "EchoResponse",
        "Beacon",
        "RepeaterRegisterRequest",
        "RepeaterConfirmResponse",
        "EventAddRequest",
        "EventAddResponse",
        "EventCancelRequest",
        "EventCancelResponse",
        "ReadRequest",
        "ReadResponse",
        "WriteRequest",
        "EventsOffRequest",
        "EventsOnRequest",
        "ReadSyncRequest",
        "ErrorResponse",
        "ClearChannelRequest",
        "ClearChannelResponse",
        "ReadNotifyRequest",
        "ReadNotifyResponse",
        "CreateChanRequest",
        "CreateChanResponse",
        "WriteNotifyRequest",
        "WriteNotifyResponse",
        "ClientNameRequest",
        "HostNameRequest",
        "AccessRightsResponse",
        "CreateChFailResponse",
        "ServerDisconnResponse",
    ] {
        assert!(names.contains(name), "no golden vector for {name}");
    }
    assert!(
        vectors
            .iter()
            .any(|v| v["hex"].as_str().is_some_and(|h| &h[4..8] == "ffff")),
        "no extended-header vector"
    );
}

#[test]
fn epics_base_vectors() {
    let n = check_file("commands_epics.json");
    assert!(n >= 40, "expected the captured EPICS set, found {n}");
    // The capture includes extended headers (a 70000-element waveform).
    let vectors = load("commands_epics.json");
    assert!(vectors
        .iter()
        .any(|v| v["hex"].as_str().is_some_and(|h| &h[4..8] == "ffff")));
}
