//! Status codes: ECA (CA library) status codes carried in responses, and the
//! alarm status and severity carried in STS and richer DBR types.
//!
//! ECA codes are laid out as in EPICS `caerr.h`: the message number shifted left
//! by 3, ORed with a 3-bit severity whose bit 0 means success. The numbers,
//! names and messages below are EPICS base 7.0's.

/// Severity part of an ECA code (`CA_K_*`), its low 3 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcaSeverity {
    /// 0: unsuccessful.
    Warning = 0,
    /// 1: successful.
    Success = 1,
    /// 2: failed; continue.
    Error = 2,
    /// 3: successful, informational.
    Info = 3,
    /// 4: failed; quit.
    Severe = 4,
    /// 6 (`ERROR | SEVERE`): failed; quit.
    Fatal = 6,
}

impl EcaSeverity {
    /// From the low 3 bits of an ECA code; 5 and 7 are not defined by EPICS.
    pub fn from_bits(bits: u32) -> Option<EcaSeverity> {
        Some(match bits & 7 {
            0 => EcaSeverity::Warning,
            1 => EcaSeverity::Success,
            2 => EcaSeverity::Error,
            3 => EcaSeverity::Info,
            4 => EcaSeverity::Severe,
            6 => EcaSeverity::Fatal,
            _ => return None,
        })
    }
}

/// Build an ECA code from its severity and message number (EPICS `DEFMSG`).
pub const fn eca_code(severity: EcaSeverity, msg_no: u32) -> u32 {
    ((msg_no << 3) & 0xFFF8) | (severity as u32 & 7)
}

/// The message number of an ECA code (`CA_EXTRACT_MSG_NO`).
pub const fn eca_msg_no(code: u32) -> u32 {
    (code & 0xFFF8) >> 3
}

/// Whether an ECA code reports success (severity bit 0, `CA_EXTRACT_SUCCESS`).
pub const fn eca_is_success(code: u32) -> bool {
    code & 1 != 0
}

/// One ECA code with its EPICS name and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcaInfo {
    /// Name, e.g. `"ECA_NORMAL"`.
    pub name: &'static str,
    /// Full code as on the wire, e.g. 1 for ECA_NORMAL.
    pub code: u32,
    /// Message text, as `ca_message()` returns it.
    pub message: &'static str,
    /// EPICS no longer returns it (older servers might).
    pub defunct: bool,
}

macro_rules! eca_codes {
    ($( $name:ident = ($sev:ident, $no:expr, $defunct:expr, $msg:expr); )*) => {
        $(
            #[doc = concat!("`", stringify!($name), "`: ", $msg, ".")]
            pub const $name: u32 = eca_code(EcaSeverity::$sev, $no);
        )*
        /// Every ECA code, in message-number order (index = message number).
        pub const ECA_CODES: &[EcaInfo] = &[
            $( EcaInfo { name: stringify!($name), code: $name, message: $msg, defunct: $defunct }, )*
        ];
    };
}

eca_codes! {
    ECA_NORMAL = (Success, 0, false, "Normal successful completion");
    ECA_MAXIOC = (Error, 1, true, "Maximum simultaneous IOC connections exceeded");
    ECA_UKNHOST = (Error, 2, true, "Unknown internet host");
    ECA_UKNSERV = (Error, 3, true, "Unknown internet service");
    ECA_SOCK = (Error, 4, true, "Unable to allocate a new socket");
    ECA_CONN = (Warning, 5, true, "Unable to connect to internet host or service");
    ECA_ALLOCMEM = (Warning, 6, false, "Unable to allocate additional dynamic memory");
    ECA_UKNCHAN = (Warning, 7, true, "Unknown IO channel");
    ECA_UKNFIELD = (Warning, 8, true, "Record field specified inappropriate for channel specified");
    ECA_TOLARGE = (Warning, 9, false, "The requested data transfer is greater than available memory or EPICS_CA_MAX_ARRAY_BYTES");
    ECA_TIMEOUT = (Warning, 10, false, "User specified timeout on IO operation expired");
    ECA_NOSUPPORT = (Warning, 11, true, "Sorry, that feature is planned but not supported at this time");
    ECA_STRTOBIG = (Warning, 12, true, "The supplied string is unusually large");
    ECA_DISCONNCHID = (Error, 13, true, "The request was ignored because the specified channel is disconnected");
    ECA_BADTYPE = (Error, 14, false, "The data type specifed is invalid");
    ECA_CHIDNOTFND = (Info, 15, true, "Remote Channel not found");
    ECA_CHIDRETRY = (Info, 16, true, "Unable to locate all user specified channels");
    ECA_INTERNAL = (Fatal, 17, false, "Channel Access Internal Failure");
    ECA_DBLCLFAIL = (Warning, 18, true, "The requested local DB operation failed");
    ECA_GETFAIL = (Warning, 19, false, "Channel read request failed");
    ECA_PUTFAIL = (Warning, 20, false, "Channel write request failed");
    ECA_ADDFAIL = (Warning, 21, true, "Channel subscription request failed");
    ECA_BADCOUNT = (Warning, 22, false, "Invalid element count requested");
    ECA_BADSTR = (Error, 23, false, "Invalid string");
    ECA_DISCONN = (Warning, 24, false, "Virtual circuit disconnect");
    ECA_DBLCHNL = (Warning, 25, false, "Identical process variable names on multiple servers");
    ECA_EVDISALLOW = (Error, 26, false, "Request inappropriate within subscription (monitor) update callback");
    ECA_BUILDGET = (Warning, 27, true, "Database value get for that channel failed during channel search");
    ECA_NEEDSFP = (Warning, 28, true, "Unable to initialize without the vxWorks VX_FP_TASK task option set");
    ECA_OVEVFAIL = (Warning, 29, true, "Event queue overflow has prevented first pass event after event add");
    ECA_BADMONID = (Error, 30, false, "Bad event subscription (monitor) identifier");
    ECA_NEWADDR = (Warning, 31, true, "Remote channel has new network address");
    ECA_NEWCONN = (Info, 32, true, "New or resumed network connection");
    ECA_NOCACTX = (Warning, 33, true, "Specified task isn't a member of a CA context");
    ECA_DEFUNCT = (Fatal, 34, true, "Attempt to use defunct CA feature failed");
    ECA_EMPTYSTR = (Warning, 35, true, "The supplied string is empty");
    ECA_NOREPEATER = (Warning, 36, true, "Unable to spawn the CA repeater thread- auto reconnect will fail");
    ECA_NOCHANMSG = (Warning, 37, true, "No channel id match for search reply- search reply ignored");
    ECA_DLCKREST = (Warning, 38, true, "Reseting dead connection- will try to reconnect");
    ECA_SERVBEHIND = (Warning, 39, true, "Server (IOC) has fallen behind or is not responding- still waiting");
    ECA_NOCAST = (Warning, 40, true, "No internet interface with broadcast available");
    ECA_BADMASK = (Error, 41, false, "Invalid event selection mask");
    ECA_IODONE = (Info, 42, false, "IO operations have completed");
    ECA_IOINPROGRESS = (Info, 43, false, "IO operations are in progress");
    ECA_BADSYNCGRP = (Error, 44, false, "Invalid synchronous group identifier");
    ECA_PUTCBINPROG = (Error, 45, false, "Put callback timed out");
    ECA_NORDACCESS = (Warning, 46, false, "Read access denied");
    ECA_NOWTACCESS = (Warning, 47, false, "Write access denied");
    ECA_ANACHRONISM = (Error, 48, false, "Requested feature is no longer supported");
    ECA_NOSEARCHADDR = (Warning, 49, false, "Empty PV search address list");
    ECA_NOCONVERT = (Warning, 50, false, "No reasonable data conversion between client and server types");
    ECA_BADCHID = (Error, 51, false, "Invalid channel identifier");
    ECA_BADFUNCPTR = (Error, 52, false, "Invalid function pointer");
    ECA_ISATTACHED = (Warning, 53, false, "Thread is already attached to a client context");
    ECA_UNAVAILINSERV = (Warning, 54, false, "Not supported by attached service");
    ECA_CHANDESTROY = (Warning, 55, false, "User destroyed channel");
    ECA_BADPRIORITY = (Error, 56, false, "Invalid channel priority");
    ECA_NOTTHREADED = (Error, 57, false, "Preemptive callback not enabled - additional threads may not join context");
    ECA_16KARRAYCLIENT = (Warning, 58, false, "Client's protocol revision does not support transfers exceeding 16k bytes");
    ECA_CONNSEQTMO = (Warning, 59, false, "Virtual circuit connection sequence aborted");
    ECA_UNRESPTMO = (Warning, 60, false, "Virtual circuit unresponsive");
}

/// The entry for an ECA code; the full code (severity included) must match.
pub fn eca_info(code: u32) -> Option<&'static EcaInfo> {
    ECA_CODES
        .get(eca_msg_no(code) as usize)
        .filter(|info| info.code == code)
}

/// Name of an ECA code (`"ECA_NORMAL"`), or `None` for codes EPICS does not define.
pub fn eca_name(code: u32) -> Option<&'static str> {
    eca_info(code).map(|info| info.name)
}

/// EPICS's message for an ECA code (`"Write access denied"`), or `None` if unknown.
pub fn eca_message(code: u32) -> Option<&'static str> {
    eca_info(code).map(|info| info.message)
}

/// Alarm status (`epicsAlarmCondition`): NO_ALARM, READ, WRITE, HIHI, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AlarmStatus(pub u16);

/// Alarm severity: NO_ALARM, MINOR, MAJOR, INVALID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct AlarmSeverity(pub u16);

/// Every alarm status name, by value (`epicsAlarmCondition`, EPICS's menuAlarmStat; Channel
/// Access shows the first 16 as enum strings).
pub const ALARM_STATUS_NAMES: [&str; 22] = [
    "NO_ALARM",
    "READ",
    "WRITE",
    "HIHI",
    "HIGH",
    "LOLO",
    "LOW",
    "STATE",
    "COS",
    "COMM",
    "TIMEOUT",
    "HWLIMIT",
    "CALC",
    "SCAN",
    "LINK",
    "SOFT",
    "BAD_SUB",
    "UDF",
    "DISABLE",
    "SIMM",
    "READ_ACCESS",
    "WRITE_ACCESS",
];

/// Every alarm severity name, by value (menuAlarmSevr).
pub const ALARM_SEVERITY_NAMES: [&str; 4] = ["NO_ALARM", "MINOR", "MAJOR", "INVALID"];

#[allow(missing_docs)]
impl AlarmStatus {
    pub const NO_ALARM: AlarmStatus = AlarmStatus(0);
    pub const READ: AlarmStatus = AlarmStatus(1);
    pub const WRITE: AlarmStatus = AlarmStatus(2);
    pub const HIHI: AlarmStatus = AlarmStatus(3);
    pub const HIGH: AlarmStatus = AlarmStatus(4);
    pub const LOLO: AlarmStatus = AlarmStatus(5);
    pub const LOW: AlarmStatus = AlarmStatus(6);
    pub const STATE: AlarmStatus = AlarmStatus(7);
    pub const COS: AlarmStatus = AlarmStatus(8);
    pub const COMM: AlarmStatus = AlarmStatus(9);
    pub const TIMEOUT: AlarmStatus = AlarmStatus(10);
    pub const HWLIMIT: AlarmStatus = AlarmStatus(11);
    pub const CALC: AlarmStatus = AlarmStatus(12);
    pub const SCAN: AlarmStatus = AlarmStatus(13);
    pub const LINK: AlarmStatus = AlarmStatus(14);
    pub const SOFT: AlarmStatus = AlarmStatus(15);
    pub const BAD_SUB: AlarmStatus = AlarmStatus(16);
    pub const UDF: AlarmStatus = AlarmStatus(17);
    pub const DISABLE: AlarmStatus = AlarmStatus(18);
    pub const SIMM: AlarmStatus = AlarmStatus(19);
    pub const READ_ACCESS: AlarmStatus = AlarmStatus(20);
    pub const WRITE_ACCESS: AlarmStatus = AlarmStatus(21);
}

impl AlarmStatus {
    /// EPICS name (`"HIHI"`), or `None` above WRITE_ACCESS.
    pub fn name(self) -> Option<&'static str> {
        ALARM_STATUS_NAMES.get(usize::from(self.0)).copied()
    }

    /// From an EPICS name (`"HIHI"`).
    pub fn from_name(name: &str) -> Option<AlarmStatus> {
        let i = ALARM_STATUS_NAMES.iter().position(|n| *n == name)?;
        Some(AlarmStatus(i as u16))
    }
}

#[allow(missing_docs)]
impl AlarmSeverity {
    pub const NO_ALARM: AlarmSeverity = AlarmSeverity(0);
    pub const MINOR: AlarmSeverity = AlarmSeverity(1);
    pub const MAJOR: AlarmSeverity = AlarmSeverity(2);
    pub const INVALID: AlarmSeverity = AlarmSeverity(3);
}

impl AlarmSeverity {
    /// EPICS name (`"MINOR"`), or `None` above INVALID.
    pub fn name(self) -> Option<&'static str> {
        ALARM_SEVERITY_NAMES.get(usize::from(self.0)).copied()
    }

    /// From an EPICS name (`"MAJOR"`).
    pub fn from_name(name: &str) -> Option<AlarmSeverity> {
        let i = ALARM_SEVERITY_NAMES.iter().position(|n| *n == name)?;
        Some(AlarmSeverity(i as u16))
    }
}

impl std::fmt::Display for AlarmStatus {
    /// The EPICS name, or the number for codes EPICS does not define.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::fmt::Display for AlarmSeverity {
    /// The EPICS name, or the number for codes EPICS does not define.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eca_values_match_epics() {
        // Spot values from EPICS caerr.h (and caproto's code_with_severity).
        assert_eq!(ECA_NORMAL, 1);
        assert_eq!(ECA_TIMEOUT, 80);
        assert_eq!(ECA_BADTYPE, 114);
        assert_eq!(ECA_INTERNAL, 142);
        assert_eq!(ECA_IODONE, 339);
        assert_eq!(ECA_NORDACCESS, 368);
        assert_eq!(ECA_NOWTACCESS, 376);
        assert_eq!(ECA_ISATTACHED, 424);
        assert_eq!(ECA_UNRESPTMO, 480);
        assert_eq!(ECA_CODES.len(), 61);
        for (i, info) in ECA_CODES.iter().enumerate() {
            assert_eq!(eca_msg_no(info.code) as usize, i, "{}", info.name);
            assert_eq!(eca_name(info.code), Some(info.name));
        }
    }

    #[test]
    fn eca_lookup_and_success() {
        assert_eq!(eca_name(ECA_NOWTACCESS), Some("ECA_NOWTACCESS"));
        assert_eq!(eca_message(ECA_NOWTACCESS), Some("Write access denied"));
        assert!(eca_is_success(ECA_NORMAL));
        assert!(eca_is_success(ECA_IODONE));
        assert!(!eca_is_success(ECA_BADTYPE));
        assert!(!eca_is_success(ECA_PUTFAIL));
        // Right message number, wrong severity bits: not a code EPICS defines.
        assert_eq!(eca_name(ECA_BADTYPE ^ 1), None);
        assert_eq!(eca_name(61 << 3), None);
        assert_eq!(
            EcaSeverity::from_bits(ECA_INTERNAL),
            Some(EcaSeverity::Fatal)
        );
        assert_eq!(EcaSeverity::from_bits(5), None);
    }

    #[test]
    fn alarm_names() {
        assert_eq!(AlarmStatus::HIHI.to_string(), "HIHI");
        assert_eq!(AlarmStatus::WRITE_ACCESS.to_string(), "WRITE_ACCESS");
        assert_eq!(AlarmStatus(22).to_string(), "22");
        assert_eq!(AlarmStatus::from_name("UDF"), Some(AlarmStatus::UDF));
        assert_eq!(AlarmSeverity::MAJOR.to_string(), "MAJOR");
        assert_eq!(AlarmSeverity(4).to_string(), "4");
        assert_eq!(
            AlarmSeverity::from_name("INVALID"),
            Some(AlarmSeverity::INVALID)
        );
        assert!(AlarmSeverity::MINOR < AlarmSeverity::INVALID);
    }
}
