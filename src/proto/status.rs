//! Status codes: ECA (CA library) status codes carried in responses, and the
//! alarm status and severity carried in STS and richer DBR types.

/// Alarm status (`epicsAlarmCondition`): NO_ALARM, READ, WRITE, HIHI, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AlarmStatus(pub u16);

/// Alarm severity: NO_ALARM, MINOR, MAJOR, INVALID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct AlarmSeverity(pub u16);
