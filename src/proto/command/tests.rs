//! Unit tests of the command codec: known wire forms, malformed input, and a
//! random-bytes loop asserting decoding never panics.

use std::net::Ipv4Addr;

use super::*;
use crate::proto::dbr::{DbrClass, NativeType};
use crate::proto::status::{ECA_BADTYPE, ECA_NORMAL};
use crate::rng::Rng;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn decode_all(bytes: &[u8], direction: Direction) -> Command {
    match Command::decode_from(bytes, direction, usize::MAX).unwrap() {
        Decoded::Command(cmd, used) => {
            assert_eq!(used, bytes.len());
            cmd
        }
        other => panic!("incomplete: {other:?}"),
    }
}

/// Encode, compare with `wire`, decode `wire` back and compare with `cmd`.
fn check(cmd: Command, direction: Direction, wire: &str) {
    let wire = hex(wire);
    assert_eq!(cmd.to_bytes().unwrap(), wire, "encoding {cmd}");
    assert_eq!(cmd.encoded_len(), wire.len());
    assert_eq!(decode_all(&wire, direction), cmd);
    assert_eq!(cmd.direction(), direction);
}

#[test]
fn known_wire_forms() {
    use Direction::*;
    // Bytes produced by caproto 1.3.0 / captured from EPICS base.
    check(
        Command::VersionRequest {
            priority: 0,
            version: 13,
            sequence: 0,
        },
        Request,
        "000000000000000d0000000000000000",
    );
    // EPICS base's UDP forms: search pass 2, and rsrv's echo of pass 1.
    check(
        Command::VersionRequest {
            priority: 1,
            version: 13,
            sequence: 2,
        },
        Request,
        "000000000001000d0000000200000000",
    );
    check(
        Command::VersionResponse {
            version: 13,
            sequence: Some(1),
        },
        Response,
        "000000000001000d0000000100000000",
    );
    // rsrv's TCP form.
    check(
        Command::VersionResponse {
            version: 13,
            sequence: None,
        },
        Response,
        "000000000000000d0000000000000000",
    );
    check(
        Command::SearchRequest {
            name: "cx:ai".into(),
            cid: 5,
            version: 13,
            reply: true,
        },
        Request,
        "00060008000a000d000000050000000563783a6169000000",
    );
    check(
        Command::SearchResponse {
            port: 5064,
            ip: Some(Ipv4Addr::LOCALHOST),
            cid: 5,
            version: 13,
        },
        Response,
        "0006000813c800007f00000100000005000d000000000000",
    );
    check(
        Command::SearchResponse {
            port: 47621,
            ip: None,
            cid: 9,
            version: 13,
        },
        Response,
        "00060008ba050000ffffffff00000009000d000000000000",
    );
    check(
        Command::EventAddRequest {
            data_type: DbrType::Value(DbrClass::Time, NativeType::Double),
            data_count: 1,
            sid: 2,
            subscriptionid: 3,
            low: 0.0,
            high: 0.0,
            to: 0.0,
            mask: 5,
        },
        Request,
        "0001001000140001000000020000000300000000000000000000000000050000",
    );
    check(
        Command::EventCancelResponse {
            data_type: DbrType::DOUBLE,
            data_count: 1,
            sid: 2,
            subscriptionid: 3,
        },
        Response,
        "00010000000600010000000200000003",
    );
    check(
        Command::ErrorResponse {
            original_request: Header {
                command: 15,
                payload_size: 0,
                data_type: 6,
                data_count: 1,
                parameter1: 2,
                parameter2: 3,
            },
            cid: 2,
            status: ECA_BADTYPE,
            error_message: "no such".into(),
        },
        Response,
        "000b0018000000000000000200000072000f00000006000100000002000000036e6f207375636800",
    );
    check(
        Command::ReadNotifyResponse {
            data: hex("0001000000000000"),
            data_type: DbrType::plain(NativeType::Short),
            data_count: 1,
            status: ECA_NORMAL,
            ioid: 3,
        },
        Response,
        "000f00080001000100000001000000030001000000000000",
    );
    check(
        Command::AccessRightsResponse {
            cid: 1,
            access_rights: AccessRights::READ_WRITE,
        },
        Response,
        "00160000000000000000000100000003",
    );
}

#[test]
fn direction_decides_meaning() {
    let echo = hex("00170000000000000000000000000000");
    assert_eq!(decode_all(&echo, Direction::Request), Command::EchoRequest);
    assert_eq!(
        decode_all(&echo, Direction::Response),
        Command::EchoResponse
    );
    let clear = hex("000c0000000000000000000200000001");
    assert_eq!(
        decode_all(&clear, Direction::Request),
        Command::ClearChannelRequest { sid: 2, cid: 1 }
    );
    assert_eq!(
        decode_all(&clear, Direction::Response),
        Command::ClearChannelResponse { sid: 2, cid: 1 }
    );
    // EVENT_ADD from a server: with data an update, empty a cancel confirmation.
    let update = hex("000100080006000100000001000000033ff8000000000000");
    assert!(matches!(
        decode_all(&update, Direction::Response),
        Command::EventAddResponse { .. }
    ));
}

#[test]
fn extended_header_round_trip() {
    let data = vec![0u8; 8 * 70_000];
    let cmd = Command::ReadNotifyResponse {
        data: data.clone(),
        data_type: DbrType::DOUBLE,
        data_count: 70_000,
        status: ECA_NORMAL,
        ioid: 7,
    };
    let wire = cmd.to_bytes().unwrap();
    assert_eq!(wire.len(), 24 + data.len());
    assert_eq!(&wire[2..4], &[0xff, 0xff]);
    assert_eq!(decode_all(&wire, Direction::Response), cmd);
    // A request for the same count uses the extended form with an empty payload.
    let req = Command::ReadNotifyRequest {
        data_type: DbrType::DOUBLE,
        data_count: 70_000,
        sid: 1,
        ioid: 7,
    };
    let wire = req.to_bytes().unwrap();
    assert_eq!(wire.len(), 24);
    assert_eq!(decode_all(&wire, Direction::Request), req);
}

#[test]
fn unpadded_payload_is_tolerated_and_padding_added() {
    // CREATE_CHAN with a 6-byte (unpadded) payload, as some old clients send.
    let wire = hex("0012000600000000000000010000000d63783a616900");
    let cmd = decode_all(&wire, Direction::Request);
    assert_eq!(
        cmd,
        Command::CreateChanRequest {
            name: "cx:ai".into(),
            cid: 1,
            version: 13
        }
    );
    assert_eq!(cmd.to_bytes().unwrap().len(), 24);
}

#[test]
fn display_matches_caproto_style() {
    let cmd = Command::ReadNotifyRequest {
        data_type: DbrType::DOUBLE,
        data_count: 0,
        sid: 0,
        ioid: 0,
    };
    assert_eq!(
        cmd.to_string(),
        "ReadNotifyRequest(data_type=DOUBLE, data_count=0, sid=0, ioid=0)"
    );
    let cmd = Command::WriteNotifyResponse {
        data_type: DbrType::DOUBLE,
        data_count: 1,
        status: ECA_NORMAL,
        ioid: 3,
    };
    assert_eq!(
        cmd.to_string(),
        "WriteNotifyResponse(data_type=DOUBLE, data_count=1, status=ECA_NORMAL, ioid=3)"
    );
    let cmd = Command::SearchRequest {
        name: "it's".into(),
        cid: 1,
        version: 13,
        reply: false,
    };
    assert_eq!(
        cmd.to_string(),
        r"SearchRequest(name='it\'s', cid=1, version=13, reply=5)"
    );
}

#[test]
fn data_display_falls_back_to_byte_count() {
    // Undecodable data (a DOUBLE with 3 bytes) never fails formatting.
    let cmd = Command::EventAddResponse {
        data: vec![1, 2, 3],
        data_type: DbrType::DOUBLE,
        data_count: 1,
        status: ECA_NORMAL,
        subscriptionid: 9,
    };
    let text = cmd.to_string();
    assert!(
        text.starts_with("EventAddResponse(data=<3 bytes>, data_type=DOUBLE"),
        "{text}"
    );
}

#[test]
fn metadata_accessors() {
    let cmd = Command::EventCancelResponse {
        data_type: DbrType::DOUBLE,
        data_count: 1,
        sid: 2,
        subscriptionid: 3,
    };
    assert_eq!(cmd.command_id(), id::EVENT_ADD);
    assert_eq!(cmd.name(), "EventCancelResponse");
    assert_eq!(cmd.header().command, 1);
    assert_eq!(cmd.encoded_len(), 16);
    assert_eq!(id::name(id::READ_NOTIFY), Some("READ_NOTIFY"));
    assert_eq!(id::name(28), None);
}

// ---- malformed input ----

#[test]
fn truncated_header_is_incomplete() {
    let wire = hex("000f0000000600000000000000000000");
    for n in 0..16 {
        assert_eq!(
            Command::decode_from(&wire[..n], Direction::Request, 1 << 20),
            Ok(Decoded::Incomplete { needed: 16 })
        );
    }
    // Extended header cut short.
    let ext = hex("000fffff000600000000000100000007");
    assert_eq!(
        Command::decode_from(&ext, Direction::Request, 1 << 20),
        Ok(Decoded::Incomplete { needed: 24 })
    );
    // Payload missing.
    let wire = hex("00060008000a000d0000000500000005");
    assert_eq!(
        Command::decode_from(&wire, Direction::Request, 1 << 20),
        Ok(Decoded::Incomplete { needed: 24 })
    );
}

#[test]
fn absurd_payload_size_refused_from_header() {
    // Extended header announcing 4 GiB - 8; only the 24 header bytes are present.
    let wire = hex("0001ffff0006000000000001000000077ffffff800000001");
    assert_eq!(
        Command::decode_from(&wire, Direction::Response, 16384),
        Err(CommandError::PayloadTooLarge {
            size: 0x7fff_fff8,
            max: 16384
        })
    );
    // A standard header just above the limit.
    let wire = hex("00014008000600010000000100000007");
    assert!(matches!(
        Command::decode_from(&wire, Direction::Response, 16384),
        Err(CommandError::PayloadTooLarge { size: 16392, .. })
    ));
}

#[test]
fn unknown_command_and_wrong_direction() {
    let wire = hex("00630000000000000000000000000000");
    assert_eq!(
        Command::decode_from(&wire, Direction::Request, 1024),
        Err(CommandError::UnknownCommand(99))
    );
    // Refused from the first two bytes, without waiting for the rest.
    assert_eq!(
        Command::decode_from(&wire[..2], Direction::Request, 1024),
        Err(CommandError::UnknownCommand(99))
    );
    let not_found = hex("000e0000000a000d0000000500000005");
    assert_eq!(
        Command::decode_from(&not_found, Direction::Request, 1024),
        Err(CommandError::WrongDirection {
            command: id::NOT_FOUND,
            direction: Direction::Request
        })
    );
    let host = hex("00150008000000000000000000000000686f737400000000");
    assert!(matches!(
        Command::decode_from(&host, Direction::Response, 1024),
        Err(CommandError::WrongDirection { command: 21, .. })
    ));
}

#[test]
fn short_fixed_payloads() {
    // EVENT_ADD request with 8 of its 16 payload bytes.
    let wire = hex("000100080006000100000002000000030000000000000000");
    assert_eq!(
        Command::decode_from(&wire, Direction::Request, 1024),
        Err(CommandError::Truncated {
            command: "EVENT_ADD",
            needed: 16,
            got: 8
        })
    );
    // ERROR response whose payload cannot hold the original header.
    let wire = hex("000b0008000000000000000200000072000f000000060001");
    assert!(matches!(
        Command::decode_from(&wire, Direction::Response, 1024),
        Err(CommandError::Truncated {
            command: "ERROR",
            needed: 16,
            got: 8
        })
    ));
}

#[test]
fn strings_without_nul() {
    let wire = hex("000600080005000d000000050000000561626364656667ff");
    assert_eq!(
        Command::decode_from(&wire, Direction::Request, 1024),
        Err(CommandError::UnterminatedString { command: "SEARCH" })
    );
    // CREATE_CHAN with no payload at all.
    let wire = hex("0012000000000000000000010000000d");
    assert_eq!(
        Command::decode_from(&wire, Direction::Request, 1024),
        Err(CommandError::UnterminatedString {
            command: "CREATE_CHAN"
        })
    );
    // Encoding refuses a name that would be cut at an inner NUL.
    let cmd = Command::ClientNameRequest {
        name: "a\0b".into(),
    };
    let mut out = vec![7];
    assert_eq!(
        cmd.encode(&mut out),
        Err(CommandError::InteriorNul {
            command: "CLIENT_NAME"
        })
    );
    assert_eq!(out, [7], "nothing appended on error");
}

#[test]
fn wrong_dbr_type_codes() {
    let wire = hex("000f0000002700010000000200000003");
    assert_eq!(
        Command::decode_from(&wire, Direction::Request, 1024),
        Err(CommandError::UnknownDbrType(39))
    );
    // The frame can still be skipped.
    let frame = split_frame(&wire, 1024).unwrap().unwrap();
    assert_eq!(frame.total_len, 16);
}

#[test]
fn out_of_range_fields() {
    // VERSION with a 32-bit count only an extended header can carry.
    let wire = hex("0000ffff000000000000000000000000000000000001000d");
    assert!(matches!(
        Command::decode_from(&wire, Direction::Request, 1024),
        Err(CommandError::FieldOutOfRange {
            field: "version",
            ..
        })
    ));
}

#[test]
fn errors_display_clearly() {
    assert_eq!(
        CommandError::UnknownCommand(99).to_string(),
        "unknown CA command id 99 (0x0063)"
    );
    assert_eq!(
        CommandError::WrongDirection {
            command: 14,
            direction: Direction::Request
        }
        .to_string(),
        "CA command NOT_FOUND (14) cannot travel client to server (request)"
    );
    assert_eq!(
        CommandError::Truncated {
            command: "EVENT_ADD",
            needed: 16,
            got: 8
        }
        .to_string(),
        "EVENT_ADD payload too short: needs 16 bytes, has 8"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut buf = Vec::new();
    let mut decoded = 0usize;
    for round in 0..200_000 {
        buf.clear();
        let len = (rng.next_u64() % 64) as usize;
        for _ in 0..len {
            buf.push(rng.next_u64() as u8);
        }
        if len >= 8 {
            // Bias towards plausible headers: a known id, small sizes.
            buf[0] = 0;
            buf[1] = (rng.next_u64() % 30) as u8;
            if round % 2 == 0 {
                buf[2] = 0;
                buf[3] = (rng.next_u64() % 48) as u8;
            }
            if round % 3 == 0 {
                buf[4] = 0;
                buf[5] = (rng.next_u64() % 40) as u8;
            }
        }
        for direction in [Direction::Request, Direction::Response] {
            if let Ok(Decoded::Command(cmd, used)) = Command::decode_from(&buf, direction, 4096) {
                decoded += 1;
                assert!(used <= buf.len());
                // Whatever decodes must format and re-encode without panicking, and
                // its encoding must be a fixed point (an unpadded payload gains
                // padding once, then stays the same).
                let _ = cmd.to_string();
                if let Ok(bytes) = cmd.to_bytes() {
                    if let Ok(Decoded::Command(again, _)) =
                        Command::decode_from(&bytes, direction, usize::MAX)
                    {
                        assert_eq!(again.to_bytes().unwrap(), bytes, "from {buf:02x?}");
                    }
                }
            }
        }
    }
    assert!(decoded > 1000, "the loop should exercise real decoding");
}

/// The borrowed-name encoders write what the commands write, refusals included.
#[test]
fn borrowed_name_encoders_match_the_commands() {
    for name in ["a", "1234567", "12345678", "some:rather:long:pv:name", ""] {
        for reply in [false, true] {
            let cmd = Command::SearchRequest {
                name: name.into(),
                cid: 77,
                version: 13,
                reply,
            };
            let mut out = vec![9];
            let written = encode_search_request(name, 77, 13, reply, &mut out).unwrap();
            assert_eq!(out[1..], cmd.to_bytes().unwrap()[..], "{name:?}");
            assert_eq!(written, out.len() - 1);
        }
        let cmd = Command::CreateChanRequest {
            name: name.into(),
            cid: 5,
            version: 13,
        };
        let mut out = Vec::new();
        encode_create_chan_request(name, 5, 13, &mut out).unwrap();
        assert_eq!(out, cmd.to_bytes().unwrap(), "{name:?}");
    }
    let bad = Command::SearchRequest {
        name: "a\0b".into(),
        cid: 1,
        version: 13,
        reply: false,
    };
    let mut out = Vec::new();
    assert_eq!(
        encode_search_request("a\0b", 1, 13, false, &mut out).unwrap_err(),
        bad.encode(&mut Vec::new()).unwrap_err()
    );
    assert!(out.is_empty(), "nothing written on a refusal");
}
