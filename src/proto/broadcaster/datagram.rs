//! Splitting a datagram into commands.

use super::error::BroadcastError;
use crate::proto::command::{id, split_frame, Decoded, Frame};
use crate::proto::header::Header;
use crate::proto::{command::Command, Direction};

/// Decode the command at the front of `rest` (the unread part of a datagram).
///
/// `default` is the direction of what we expect to receive; beacons and
/// repeater registrations are decoded in their own direction whoever gets
/// them (a repeater receives both). Returns the command and its wire size.
pub(super) fn next_command(
    rest: &[u8],
    default: Direction,
) -> Result<(Command, usize), BroadcastError> {
    let (header, _) = Header::decode(rest).map_err(|_| BroadcastError::Truncated {
        needed: crate::proto::header::HEADER_LEN,
        available: rest.len(),
    })?;
    let direction = match header.command {
        id::RSRV_IS_UP | id::REPEATER_CONFIRM => Direction::Response,
        id::REPEATER_REGISTER => Direction::Request,
        _ => default,
    };
    // A datagram bounds the payload: nothing larger than it can be complete.
    match Command::decode_from(rest, direction, rest.len()) {
        Ok(Decoded::Command(cmd, used)) => Ok((cmd, used.clamp(1, rest.len()))),
        Ok(Decoded::Incomplete { needed }) => Err(BroadcastError::Truncated {
            needed,
            available: rest.len(),
        }),
        Err(e) => Err(BroadcastError::Decode(e)),
    }
}

/// Frame the message at the front of `rest` without interpreting it: its
/// header must be whole and its payload must fit in what is left.
pub(super) fn next_frame(rest: &[u8]) -> Result<Frame, BroadcastError> {
    let truncated = |needed| BroadcastError::Truncated {
        needed,
        available: rest.len(),
    };
    match split_frame(rest, rest.len()) {
        Ok(Ok(frame)) => Ok(frame),
        Ok(Err(needed)) => Err(truncated(needed)),
        Err(_) => {
            // The payload size alone is more than the datagram holds.
            let size = Header::decode(rest)
                .map_or(0, |(h, len)| (h.payload_size as usize).saturating_add(len));
            Err(truncated(size))
        }
    }
}
