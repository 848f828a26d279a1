//! Names and descriptions of the CA library status codes (`ECA_*`) carried in
//! read, write and error responses, so the tools can print `ECA_NORMAL` or
//! "Write access denied". A status word is `(message number << 3) | severity`.
//!
//! The table itself lives in [`crate::proto::status`]; this module only adds
//! what the tools need on top: lookup by message number alone (as the tools
//! always did, whatever severity bits a server sends) and caproto's wording
//! where it differs from EPICS base's, because `{response.status.description}`
//! must print what caproto's tools print.

use crate::proto::status::{self, EcaInfo, ECA_CODES};

/// The status word of a successful operation (`ECA_NORMAL`).
pub const NORMAL: u32 = status::ECA_NORMAL;

/// The table entry for a status word's message number (`status >> 3`).
fn info(status: u32) -> Option<&'static EcaInfo> {
    ECA_CODES.get((status >> 3) as usize)
}

/// caproto's description where its text differs from EPICS base's (which
/// [`crate::proto::status`] carries): punctuation and spelling of a few
/// defunct codes.
fn caproto_wording(code: u32) -> Option<&'static str> {
    Some(match code {
        status::ECA_DBLCHNL => "Identical process variable name on multiple servers",
        status::ECA_NEEDSFP => "Unable to initialize without the vxWorks VX_FP_TASKtask option set",
        status::ECA_NOCACTX => "Specified task isnt a member of a CA context",
        status::ECA_NOREPEATER => {
            "Unable to spawn the CA repeater thread; auto reconnect will fail"
        }
        status::ECA_NOCHANMSG => "No channel id match for search reply; search reply ignored",
        status::ECA_DLCKREST => "Reseting dead connection; will try to reconnect",
        status::ECA_SERVBEHIND => {
            "Server (IOC) has fallen behind or is not responding; still waiting"
        }
        _ => return None,
    })
}

/// The `ECA_*` name of a status word, e.g. `eca_name(376) == "ECA_NOWTACCESS"`;
/// unknown message numbers give `None`.
pub fn eca_name(status: u32) -> Option<&'static str> {
    info(status).map(|i| i.name)
}

/// The human description of a status word as caproto words it, e.g.
/// "Write access denied".
pub fn eca_description(status: u32) -> Option<&'static str> {
    info(status).map(|i| caproto_wording(i.code).unwrap_or(i.message))
}

/// Whether the status word reports success (its low bit, as in EPICS base).
pub fn eca_success(status: u32) -> bool {
    status::eca_is_success(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        assert_eq!(eca_name(NORMAL), Some("ECA_NORMAL"));
        assert_eq!(eca_name(376), Some("ECA_NOWTACCESS"));
        assert_eq!(eca_description(376), Some("Write access denied"));
        assert_eq!(eca_name(480), Some("ECA_UNRESPTMO"));
        assert_eq!(eca_name(61 << 3), None);
        assert_eq!(eca_description(61 << 3), None);
        assert!(eca_success(NORMAL));
        assert!(!eca_success(376));
    }

    #[test]
    fn lookup_ignores_the_severity_bits() {
        // ECA_NOWTACCESS is a warning (376); other severity bits still name it.
        assert_eq!(eca_name(376 | 2), Some("ECA_NOWTACCESS"));
        assert_eq!(eca_description(376 | 6), Some("Write access denied"));
    }

    #[test]
    fn caproto_wording_where_it_differs_from_epics() {
        assert_eq!(
            eca_description(status::ECA_DBLCHNL),
            Some("Identical process variable name on multiple servers")
        );
        assert_eq!(
            eca_description(status::ECA_SERVBEHIND),
            Some("Server (IOC) has fallen behind or is not responding; still waiting")
        );
        // Everywhere else the text is EPICS base's.
        let same = ECA_CODES
            .iter()
            .filter(|i| eca_description(i.code) == Some(i.message))
            .count();
        assert_eq!(same, ECA_CODES.len() - 7);
    }
}
