//! Identifiers: int64 ids that travel as decimal strings (browsers lose precision past 2^53) and
//! the time-ordered session id.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text is not an int64 id; the caller turns it into a field-named 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an integer of decimal digits within int64")]
pub struct BadInt64;

/// Parses an int64 from decimal digits with an optional leading `-` (no `+`, spaces or exponents).
pub fn parse_int64(text: &str) -> Result<i64, BadInt64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadInt64);
    }
    text.parse().map_err(|_| BadInt64)
}

macro_rules! int64_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl $name {
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = BadInt64;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                parse_int64(text).map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(Int64Visitor).map($name)
            }
        }
    };
}

int64_id!(
    /// A user of the platform, as the identity service numbers them.
    UserId
);
int64_id!(
    /// A tenant of the platform.
    TenantId
);

/// Reads an int64 from a JSON number or a string of decimal digits (the contract accepts both).
struct Int64Visitor;

impl Visitor<'_> for Int64Visitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an int64 as a JSON number or a string of decimal digits")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom("out of int64 range"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        // 1001.0 is a whole number a client may well send; 1001.5 is not an id.
        if v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 {
            Ok(v as i64)
        } else {
            Err(E::custom("not a whole number"))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        parse_int64(v).map_err(E::custom)
    }
}

/// A session's id: a ULID, so ids sort by creation time and are unique without coordination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub ulid::Ulid);

impl SessionId {
    pub const MIN: SessionId = SessionId(ulid::Ulid(0));
    pub const MAX: SessionId = SessionId(ulid::Ulid(u128::MAX));

    /// A new id whose time part is `at`.
    pub fn new_at(at: crate::domain::Timestamp) -> Self {
        let datetime = std::time::UNIX_EPOCH + std::time::Duration::from_millis(at.millis().max(0) as u64);
        SessionId(ulid::Ulid::from_datetime(datetime))
    }

    /// The next id up (saturating): turns an exclusive lower bound into an inclusive one.
    pub fn succ(self) -> Self {
        SessionId(ulid::Ulid(self.0 .0.saturating_add(1)))
    }

    /// The next id down (saturating).
    pub fn pred(self) -> Self {
        SessionId(ulid::Ulid(self.0 .0.saturating_sub(1)))
    }

    /// The smallest id created at `at` or later: turns a time bound into an id bound.
    pub fn lowest_at(at: crate::domain::Timestamp) -> Self {
        SessionId(ulid::Ulid::from_parts(at.millis().max(0) as u64, 0))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a text is not a session id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a session id: 26 characters of Crockford base32 (a ULID)")]
pub struct BadSessionId;

impl FromStr for SessionId {
    type Err = BadSessionId;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ulid::Ulid::from_string(text).map(SessionId).map_err(|_| BadSessionId)
    }
}

impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

impl Serialize for SessionId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_strings_and_read_numbers_or_strings() {
        assert_eq!(
            serde_json::to_string(&UserId(9007199254740993)).unwrap(),
            "\"9007199254740993\""
        );
        assert_eq!(serde_json::from_str::<UserId>("1002").unwrap(), UserId(1002));
        assert_eq!(serde_json::from_str::<UserId>("\"1002\"").unwrap(), UserId(1002));
        assert_eq!(
            serde_json::from_str::<UserId>("\"9223372036854775807\"").unwrap(),
            UserId(i64::MAX)
        );
        assert_eq!(serde_json::from_str::<UserId>("1002.0").unwrap(), UserId(1002));
    }

    #[test]
    fn ids_refuse_what_is_not_an_int64() {
        for bad in [
            "\"\"",
            "\"12a\"",
            "\" 12\"",
            "\"+12\"",
            "\"1e3\"",
            "\"9223372036854775808\"",
            "1.5",
            "true",
            "null",
            "[]",
        ] {
            assert!(serde_json::from_str::<UserId>(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn session_ids_order_by_time() {
        let early = SessionId::new_at(crate::domain::Timestamp::from_millis(1_000));
        let late = SessionId::new_at(crate::domain::Timestamp::from_millis(2_000));
        assert!(early < late);
        assert!(SessionId::lowest_at(crate::domain::Timestamp::from_millis(2_000)) <= late);
        assert_eq!(early.to_string().parse::<SessionId>().unwrap(), early);
        assert!("not-a-ulid".parse::<SessionId>().is_err());
    }
}
