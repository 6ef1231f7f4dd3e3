//! Instants in UTC and the contract's time formats: written as `yyyy-MM-dd HH:mm:ss`, read from that
//! form, RFC 3339 (any offset) or a bare `yyyy-MM-dd` (midnight UTC).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use serde::{Serialize, Serializer};

/// Milliseconds since the Unix epoch, UTC. Stored at millisecond precision; shown, filtered and
/// compared by callers at second precision, the precision of the contract's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a text is not a time the contract accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a time as yyyy-MM-dd HH:mm:ss (UTC), RFC 3339, or yyyy-MM-dd")]
pub struct BadTime;

const DISPLAY_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }

    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (floor), the precision at which callers compare times.
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Whole minutes since the epoch (floor): the window of the per-user connect rate.
    pub const fn epoch_minute(self) -> i64 {
        self.0.div_euclid(60_000)
    }

    pub fn plus_secs(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// Parses any of the contract's input forms.
    pub fn parse(text: &str) -> Result<Self, BadTime> {
        let text = text.trim();
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, DISPLAY_FORMAT) {
            return Ok(Timestamp(naive.and_utc().timestamp_millis()));
        }
        if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
            return Ok(Timestamp(with_offset.timestamp_millis()));
        }
        if text.len() == 10 {
            if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                let midnight = date.and_hms_opt(0, 0, 0).ok_or(BadTime)?;
                return Ok(Timestamp(midnight.and_utc().timestamp_millis()));
            }
        }
        Err(BadTime)
    }
}

/// `yyyy-MM-dd HH:mm:ss` from the date's fields (a page of records writes several times each; the
/// fields cost a fraction of interpreting a format string every time).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(at) => write!(
                f,
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                at.year(),
                at.month(),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            ),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_contract_form() {
        let expected = Timestamp::from_secs(1_795_860_000); // 2026-11-28 10:00:00 UTC
        assert_eq!(Timestamp::parse("2026-11-28 10:00:00"), Ok(expected));
        assert_eq!(Timestamp::parse("2026-11-28T10:00:00Z"), Ok(expected));
        assert_eq!(Timestamp::parse("2026-11-28T18:00:00+08:00"), Ok(expected));
        assert_eq!(Timestamp::parse("2026-11-28"), Ok(Timestamp::from_secs(1_795_824_000)));
    }

    #[test]
    fn refuses_other_forms() {
        for bad in [
            "",
            "2026-11-28 10:00",
            "28/11/2026",
            "2026-13-01",
            "2026-11-28 25:00:00",
            "1795860000",
            "2026-11-28T10:00:00",
        ] {
            assert_eq!(Timestamp::parse(bad), Err(BadTime), "{bad:?}");
        }
    }

    #[test]
    fn writes_the_contract_form_at_second_precision() {
        assert_eq!(
            Timestamp::from_millis(1_795_860_000_999).to_string(),
            "2026-11-28 10:00:00"
        );
        assert_eq!(Timestamp::from_millis(-1).secs(), -1);
    }
}
