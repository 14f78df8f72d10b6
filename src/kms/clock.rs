//! Time, as the engine sees it: a [`Timestamp`] and a [`Clock`] it is handed.
//!
//! The engine never reads the system clock itself; the front ends give it one
//! (real time, a faster simulated clock for training, or a [`ManualClock`] in
//! tests), so every time-driven event can be driven step by step.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// An instant, in milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// The instant `secs` seconds after the Unix epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// An AWS wire timestamp (epoch seconds with a fraction). `None` when it
    /// is not a finite number or lies outside the representable range.
    pub fn from_epoch_seconds(secs: f64) -> Option<Self> {
        if !secs.is_finite() || secs.abs() > 1.0e14 {
            return None;
        }
        Some(Self((secs * 1000.0).round() as i64))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Seconds since the Unix epoch, with a fraction, as the AWS JSON protocol
    /// writes timestamps.
    pub fn epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// This instant plus `d` (saturating).
    pub fn plus(self, d: Duration) -> Self {
        Self(self.0.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    /// This instant minus `d` (saturating).
    pub fn minus(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// This instant as a UTC date-time.
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// ISO 8601 / RFC 3339 in UTC with a `Z`, as CloudTrail writes `eventTime`
    /// (`2025-06-01T12:00:00Z`; milliseconds only when there are any).
    pub fn to_rfc3339(self) -> String {
        let format = if self.0 % 1000 == 0 {
            SecondsFormat::Secs
        } else {
            SecondsFormat::Millis
        };
        self.to_datetime().to_rfc3339_opts(format, true)
    }

    /// Parses an ISO 8601 date-time (with offset), a date-time without offset
    /// (taken as UTC), a bare date (midnight UTC) or epoch seconds, the forms
    /// the AWS CLI accepts for timestamp parameters.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
            return Some(Self(dt.timestamp_millis()));
        }
        for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
            if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(text, format) {
                return Some(Self(dt.and_utc().timestamp_millis()));
            }
        }
        if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return date
                .and_hms_opt(0, 0, 0)
                .map(|dt| Self(dt.and_utc().timestamp_millis()));
        }
        text.parse::<f64>().ok().and_then(Self::from_epoch_seconds)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Where the engine's time comes from.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// A clock that only moves when told to: for tests and for replaying a
/// scenario. Cloning it gives a handle to the same clock.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(start.millis())))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `t` (which may be earlier: a clock can be wrong).
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// Shorthand for durations in days, as the key-management rules count them.
pub const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_the_aws_cli_accepts() {
        let t = Timestamp::from_secs(1_767_225_600); // 2026-01-01T00:00:00Z
        assert_eq!(Timestamp::parse("2026-01-01T00:00:00Z"), Some(t));
        assert_eq!(Timestamp::parse("2026-01-01T01:00:00+01:00"), Some(t));
        assert_eq!(Timestamp::parse("2026-01-01T00:00:00"), Some(t));
        assert_eq!(Timestamp::parse("2026-01-01"), Some(t));
        assert_eq!(Timestamp::parse("1767225600"), Some(t));
        assert_eq!(Timestamp::parse("1767225600.5"), Some(Timestamp::from_millis(1_767_225_600_500)));
        assert_eq!(Timestamp::parse("next tuesday"), None);
        assert_eq!(Timestamp::parse("NaN"), None);
    }

    #[test]
    fn formats_like_cloudtrail() {
        assert_eq!(Timestamp::from_secs(1_767_225_600).to_rfc3339(), "2026-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_millis(1_767_225_600_250).to_rfc3339(),
            "2026-01-01T00:00:00.250Z"
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Timestamp::from_secs(10));
        assert_eq!(c.now(), Timestamp::from_secs(10));
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now(), Timestamp::from_millis(11_500));
        let other = c.clone();
        other.set(Timestamp::from_secs(5));
        assert_eq!(c.now(), Timestamp::from_secs(5));
    }
}
