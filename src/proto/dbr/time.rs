//! The EPICS epoch (1990-01-01 00:00:00 UTC) and conversion of [`EpicsTime`]
//! to and from [`SystemTime`].
//!
//! The protocol core never reads the clock: shells take a `SystemTime` (or call
//! [`EpicsTime::now`]) and hand the result in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{DbrError, EpicsTime, EPICS_EPOCH_OFFSET_SECS};

const NANOS_PER_SEC: u32 = 1_000_000_000;

impl EpicsTime {
    /// The EPICS epoch itself (seconds and nanoseconds zero).
    pub const EPOCH: EpicsTime = EpicsTime { secs: 0, nanos: 0 };

    /// A timestamp from seconds and nanoseconds since the EPICS epoch.
    pub const fn new(secs: u32, nanos: u32) -> EpicsTime {
        EpicsTime { secs, nanos }
    }

    /// The EPICS timestamp of `time`. Fails for times before 1990 or past the
    /// 32-bit seconds range (early 2126).
    pub fn from_system_time(time: SystemTime) -> Result<EpicsTime, DbrError> {
        let since_unix = time
            .duration_since(UNIX_EPOCH)
            .map_err(|_| DbrError::TimeOutOfRange)?;
        let secs = since_unix
            .as_secs()
            .checked_sub(EPICS_EPOCH_OFFSET_SECS)
            .ok_or(DbrError::TimeOutOfRange)?;
        let secs = u32::try_from(secs).map_err(|_| DbrError::TimeOutOfRange)?;
        Ok(EpicsTime {
            secs,
            nanos: since_unix.subsec_nanos(),
        })
    }

    /// The `SystemTime` this timestamp names. Nanoseconds of a second or more
    /// (malformed input) carry into the seconds rather than failing.
    pub fn to_system_time(self) -> SystemTime {
        let secs = EPICS_EPOCH_OFFSET_SECS + u64::from(self.secs);
        let extra = u64::from(self.nanos / NANOS_PER_SEC);
        UNIX_EPOCH + Duration::new(secs + extra, self.nanos % NANOS_PER_SEC)
    }

    /// Seconds since the POSIX epoch as a float, as caproto reports timestamps.
    pub fn unix_secs_f64(self) -> f64 {
        (EPICS_EPOCH_OFFSET_SECS + u64::from(self.secs)) as f64 + f64::from(self.nanos) * 1e-9
    }

    /// The current time. Reads the system clock, so only the I/O shells call it;
    /// before 1990 (a badly set clock) it gives the epoch.
    pub fn now() -> EpicsTime {
        EpicsTime::from_system_time(SystemTime::now()).unwrap_or(EpicsTime::EPOCH)
    }
}

impl TryFrom<SystemTime> for EpicsTime {
    type Error = DbrError;

    fn try_from(time: SystemTime) -> Result<EpicsTime, DbrError> {
        EpicsTime::from_system_time(time)
    }
}

impl From<EpicsTime> for SystemTime {
    fn from(time: EpicsTime) -> SystemTime {
        time.to_system_time()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_1990() {
        let t = UNIX_EPOCH + Duration::from_secs(631_152_000);
        assert_eq!(EpicsTime::from_system_time(t).unwrap(), EpicsTime::EPOCH);
        assert_eq!(EpicsTime::EPOCH.to_system_time(), t);
    }

    #[test]
    fn round_trips_with_nanos() {
        // 2024-01-01T00:00:00.123456789Z
        let t = UNIX_EPOCH + Duration::new(1_704_067_200, 123_456_789);
        let e = EpicsTime::try_from(t).unwrap();
        assert_eq!(e, EpicsTime::new(1_704_067_200 - 631_152_000, 123_456_789));
        assert_eq!(SystemTime::from(e), t);
        assert!((e.unix_secs_f64() - 1_704_067_200.123_457).abs() < 1e-5);
    }

    #[test]
    fn out_of_range_times_are_errors() {
        let before = UNIX_EPOCH + Duration::from_secs(631_151_999);
        assert_eq!(
            EpicsTime::from_system_time(before),
            Err(DbrError::TimeOutOfRange)
        );
        let pre_unix = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(
            EpicsTime::from_system_time(pre_unix),
            Err(DbrError::TimeOutOfRange)
        );
        let after = UNIX_EPOCH + Duration::from_secs(631_152_000 + (1 << 32));
        assert_eq!(
            EpicsTime::from_system_time(after),
            Err(DbrError::TimeOutOfRange)
        );
    }

    #[test]
    fn oversized_nanos_carry_instead_of_panicking() {
        let e = EpicsTime::new(u32::MAX, u32::MAX);
        let t = e.to_system_time();
        let d = t.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(d.as_secs(), 631_152_000 + u64::from(u32::MAX) + 4);
        assert_eq!(d.subsec_nanos(), u32::MAX % 1_000_000_000);
    }

    #[test]
    fn now_is_after_2020() {
        assert!(EpicsTime::now().secs > 946_684_800);
    }
}
