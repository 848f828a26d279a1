//! Names and descriptions of the CA library status codes (`ECA_*`) carried in
//! read, write and error responses, so the tools can print `ECA_NORMAL` or
//! "Write access denied". A status word is `(message number << 3) | severity`.

/// `(name, description)` by message number (the status word shifted right by 3).
const MESSAGES: [(&str, &str); 61] = [
    ("ECA_NORMAL", "Normal successful completion"),
    (
        "ECA_MAXIOC",
        "Maximum simultaneous IOC connections exceeded",
    ),
    ("ECA_UKNHOST", "Unknown internet host"),
    ("ECA_UKNSERV", "Unknown internet service"),
    ("ECA_SOCK", "Unable to allocate a new socket"),
    ("ECA_CONN", "Unable to connect to internet host or service"),
    (
        "ECA_ALLOCMEM",
        "Unable to allocate additional dynamic memory",
    ),
    ("ECA_UKNCHAN", "Unknown IO channel"),
    (
        "ECA_UKNFIELD",
        "Record field specified inappropriate for channel specified",
    ),
    (
        "ECA_TOLARGE",
        "The requested data transfer is greater than available memory or EPICS_CA_MAX_ARRAY_BYTES",
    ),
    (
        "ECA_TIMEOUT",
        "User specified timeout on IO operation expired",
    ),
    (
        "ECA_NOSUPPORT",
        "Sorry, that feature is planned but not supported at this time",
    ),
    ("ECA_STRTOBIG", "The supplied string is unusually large"),
    (
        "ECA_DISCONNCHID",
        "The request was ignored because the specified channel is disconnected",
    ),
    ("ECA_BADTYPE", "The data type specifed is invalid"),
    ("ECA_CHIDNOTFND", "Remote Channel not found"),
    (
        "ECA_CHIDRETRY",
        "Unable to locate all user specified channels",
    ),
    ("ECA_INTERNAL", "Channel Access Internal Failure"),
    ("ECA_DBLCLFAIL", "The requested local DB operation failed"),
    ("ECA_GETFAIL", "Channel read request failed"),
    ("ECA_PUTFAIL", "Channel write request failed"),
    ("ECA_ADDFAIL", "Channel subscription request failed"),
    ("ECA_BADCOUNT", "Invalid element count requested"),
    ("ECA_BADSTR", "Invalid string"),
    ("ECA_DISCONN", "Virtual circuit disconnect"),
    (
        "ECA_DBLCHNL",
        "Identical process variable name on multiple servers",
    ),
    (
        "ECA_EVDISALLOW",
        "Request inappropriate within subscription (monitor) update callback",
    ),
    (
        "ECA_BUILDGET",
        "Database value get for that channel failed during channel search",
    ),
    (
        "ECA_NEEDSFP",
        "Unable to initialize without the vxWorks VX_FP_TASKtask option set",
    ),
    (
        "ECA_OVEVFAIL",
        "Event queue overflow has prevented first pass event after event add",
    ),
    (
        "ECA_BADMONID",
        "Bad event subscription (monitor) identifier",
    ),
    ("ECA_NEWADDR", "Remote channel has new network address"),
    ("ECA_NEWCONN", "New or resumed network connection"),
    (
        "ECA_NOCACTX",
        "Specified task isnt a member of a CA context",
    ),
    ("ECA_DEFUNCT", "Attempt to use defunct CA feature failed"),
    ("ECA_EMPTYSTR", "The supplied string is empty"),
    (
        "ECA_NOREPEATER",
        "Unable to spawn the CA repeater thread; auto reconnect will fail",
    ),
    (
        "ECA_NOCHANMSG",
        "No channel id match for search reply; search reply ignored",
    ),
    (
        "ECA_DLCKREST",
        "Reseting dead connection; will try to reconnect",
    ),
    (
        "ECA_SERVBEHIND",
        "Server (IOC) has fallen behind or is not responding; still waiting",
    ),
    (
        "ECA_NOCAST",
        "No internet interface with broadcast available",
    ),
    ("ECA_BADMASK", "Invalid event selection mask"),
    ("ECA_IODONE", "IO operations have completed"),
    ("ECA_IOINPROGRESS", "IO operations are in progress"),
    ("ECA_BADSYNCGRP", "Invalid synchronous group identifier"),
    ("ECA_PUTCBINPROG", "Put callback timed out"),
    ("ECA_NORDACCESS", "Read access denied"),
    ("ECA_NOWTACCESS", "Write access denied"),
    (
        "ECA_ANACHRONISM",
        "Requested feature is no longer supported",
    ),
    ("ECA_NOSEARCHADDR", "Empty PV search address list"),
    (
        "ECA_NOCONVERT",
        "No reasonable data conversion between client and server types",
    ),
    ("ECA_BADCHID", "Invalid channel identifier"),
    ("ECA_BADFUNCPTR", "Invalid function pointer"),
    (
        "ECA_ISATTACHED",
        "Thread is already attached to a client context",
    ),
    ("ECA_UNAVAILINSERV", "Not supported by attached service"),
    ("ECA_CHANDESTROY", "User destroyed channel"),
    ("ECA_BADPRIORITY", "Invalid channel priority"),
    (
        "ECA_NOTTHREADED",
        "Preemptive callback not enabled - additional threads may not join context",
    ),
    (
        "ECA_16KARRAYCLIENT",
        "Client's protocol revision does not support transfers exceeding 16k bytes",
    ),
    (
        "ECA_CONNSEQTMO",
        "Virtual circuit connection sequence aborted",
    ),
    ("ECA_UNRESPTMO", "Virtual circuit unresponsive"),
];

/// The status word of a successful operation (`ECA_NORMAL`).
pub const NORMAL: u32 = 1;

/// The `ECA_*` name of a status word, e.g. `eca_name(376) == "ECA_NOWTACCESS"`;
/// unknown message numbers give `None`.
pub fn eca_name(status: u32) -> Option<&'static str> {
    MESSAGES.get((status >> 3) as usize).map(|(n, _)| *n)
}

/// The human description of a status word, e.g. "Write access denied".
pub fn eca_description(status: u32) -> Option<&'static str> {
    MESSAGES.get((status >> 3) as usize).map(|(_, d)| *d)
}

/// Whether the status word reports success (its low bit, as in EPICS base).
pub fn eca_success(status: u32) -> bool {
    status & 1 == 1
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
        assert!(eca_success(NORMAL));
        assert!(!eca_success(376));
    }
}
