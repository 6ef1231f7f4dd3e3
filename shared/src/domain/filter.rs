//! What a filter means: the keys callers may filter on, their types, the operators each type
//! allows, and how a filter matches a session. Both stores decide matches with this code alone.

use std::cmp::Ordering;

use super::{Session, SessionId, Timestamp};

/// The type of a filterable field; it decides which operators apply and how values parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Id,
    Int64,
    String,
    Bool,
    Time,
}

impl ValueType {
    pub fn describe(self) -> &'static str {
        match self {
            ValueType::Id => "a session id",
            ValueType::Int64 => "an int64",
            ValueType::String => "a string",
            ValueType::Bool => "true or false",
            ValueType::Time => "a time (yyyy-MM-dd HH:mm:ss, RFC 3339 or yyyy-MM-dd)",
        }
    }
}

/// A session field callers may filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterKey {
    Id,
    UserId,
    FullName,
    UserAgent,
    DeviceId,
    RemoteAddress,
    Online,
    OnlineDate,
    OfflineDate,
}

impl FilterKey {
    pub const ALL: [FilterKey; 9] = [
        FilterKey::Id,
        FilterKey::UserId,
        FilterKey::FullName,
        FilterKey::UserAgent,
        FilterKey::DeviceId,
        FilterKey::RemoteAddress,
        FilterKey::Online,
        FilterKey::OnlineDate,
        FilterKey::OfflineDate,
    ];

    /// The name callers use, which is also the stored attribute's name.
    pub fn name(self) -> &'static str {
        match self {
            FilterKey::Id => "id",
            FilterKey::UserId => "userId",
            FilterKey::FullName => "fullName",
            FilterKey::UserAgent => "userAgent",
            FilterKey::DeviceId => "deviceId",
            FilterKey::RemoteAddress => "remoteAddress",
            FilterKey::Online => "online",
            FilterKey::OnlineDate => "onlineDate",
            FilterKey::OfflineDate => "offlineDate",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        FilterKey::ALL.into_iter().find(|key| key.name() == name)
    }

    pub fn value_type(self) -> ValueType {
        match self {
            FilterKey::Id => ValueType::Id,
            FilterKey::UserId => ValueType::Int64,
            FilterKey::FullName | FilterKey::UserAgent | FilterKey::DeviceId | FilterKey::RemoteAddress => {
                ValueType::String
            }
            FilterKey::Online => ValueType::Bool,
            FilterKey::OnlineDate | FilterKey::OfflineDate => ValueType::Time,
        }
    }

    /// The field's value in `session`; `None` is null.
    pub fn value_of(self, session: &Session) -> Option<FieldValue<'_>> {
        match self {
            FilterKey::Id => Some(FieldValue::Id(session.id)),
            FilterKey::UserId => Some(FieldValue::Int64(session.user_id.get())),
            FilterKey::FullName => Some(FieldValue::Str(&session.full_name)),
            FilterKey::UserAgent => session.user_agent.as_deref().map(FieldValue::Str),
            FilterKey::DeviceId => session.device_id.as_deref().map(FieldValue::Str),
            FilterKey::RemoteAddress => session.remote_address.as_deref().map(FieldValue::Str),
            FilterKey::Online => Some(FieldValue::Bool(session.online())),
            FilterKey::OnlineDate => Some(FieldValue::Time(session.online_date)),
            FilterKey::OfflineDate => session.offline_date.map(FieldValue::Time),
        }
    }
}

/// How many values an operator takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    None,
    One,
    Many,
}

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterOp {
    Equal,
    NotEqual,
    GreaterThan,
    GreaterThanEqual,
    LessThan,
    LessThanEqual,
    Match,
    MatchEnd,
    NotMatch,
    NotMatchEnd,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl FilterOp {
    pub const ALL: [FilterOp; 14] = [
        FilterOp::Equal,
        FilterOp::NotEqual,
        FilterOp::GreaterThan,
        FilterOp::GreaterThanEqual,
        FilterOp::LessThan,
        FilterOp::LessThanEqual,
        FilterOp::Match,
        FilterOp::MatchEnd,
        FilterOp::NotMatch,
        FilterOp::NotMatchEnd,
        FilterOp::In,
        FilterOp::NotIn,
        FilterOp::IsNull,
        FilterOp::IsNotNull,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FilterOp::Equal => "EQUAL",
            FilterOp::NotEqual => "NOT_EQUAL",
            FilterOp::GreaterThan => "GREATER_THAN",
            FilterOp::GreaterThanEqual => "GREATER_THAN_EQUAL",
            FilterOp::LessThan => "LESS_THAN",
            FilterOp::LessThanEqual => "LESS_THAN_EQUAL",
            FilterOp::Match => "MATCH",
            FilterOp::MatchEnd => "MATCH_END",
            FilterOp::NotMatch => "NOT_MATCH",
            FilterOp::NotMatchEnd => "NOT_MATCH_END",
            FilterOp::In => "IN",
            FilterOp::NotIn => "NOT_IN",
            FilterOp::IsNull => "IS_NULL",
            FilterOp::IsNotNull => "IS_NOT_NULL",
        }
    }

    /// Operator names are matched without regard to case (`equal` is `EQUAL`).
    pub fn parse(name: &str) -> Option<Self> {
        FilterOp::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(name))
    }

    pub fn arity(self) -> Arity {
        match self {
            FilterOp::IsNull | FilterOp::IsNotNull => Arity::None,
            FilterOp::In | FilterOp::NotIn => Arity::Many,
            _ => Arity::One,
        }
    }

    /// Whether this operator applies to a field of type `ty`: orderings on ids, numbers and
    /// times; pattern matches on strings; equality, membership and null tests on every type.
    pub fn applies_to(self, ty: ValueType) -> bool {
        match self {
            FilterOp::GreaterThan | FilterOp::GreaterThanEqual | FilterOp::LessThan | FilterOp::LessThanEqual => {
                matches!(ty, ValueType::Id | ValueType::Int64 | ValueType::Time)
            }
            FilterOp::Match | FilterOp::MatchEnd | FilterOp::NotMatch | FilterOp::NotMatchEnd => {
                ty == ValueType::String
            }
            _ => true,
        }
    }

    /// The operators allowed on `ty`, for error messages.
    pub fn allowed_on(ty: ValueType) -> Vec<&'static str> {
        FilterOp::ALL
            .into_iter()
            .filter(|op| op.applies_to(ty))
            .map(FilterOp::name)
            .collect()
    }
}

/// A typed filter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterValue {
    Id(SessionId),
    Int64(i64),
    /// Kept as given; pattern operators compare it in lower case.
    String(String),
    Bool(bool),
    Time(Timestamp),
}

/// A field's value in a session, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    Id(SessionId),
    Int64(i64),
    Str(&'a str),
    Bool(bool),
    Time(Timestamp),
}

impl FieldValue<'_> {
    /// Compares with a filter value of the same type; `None` when types differ (never after
    /// parsing, which types each value by its key). Times compare at second precision.
    fn compare(&self, value: &FilterValue) -> Option<Ordering> {
        match (self, value) {
            (FieldValue::Id(a), FilterValue::Id(b)) => Some(a.cmp(b)),
            (FieldValue::Int64(a), FilterValue::Int64(b)) => Some(a.cmp(b)),
            (FieldValue::Str(a), FilterValue::String(b)) => Some((*a).cmp(b.as_str())),
            (FieldValue::Bool(a), FilterValue::Bool(b)) => Some(a.cmp(b)),
            (FieldValue::Time(a), FilterValue::Time(b)) => Some(a.secs().cmp(&b.secs())),
            _ => None,
        }
    }
}

/// One condition on one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub key: FilterKey,
    pub op: FilterOp,
    /// Empty for `IS_NULL`/`IS_NOT_NULL`, one value for the single-value operators, one or more
    /// for `IN`/`NOT_IN`.
    pub values: Vec<FilterValue>,
}

impl Filter {
    /// Whether `session` passes. A null field matches only `IS_NULL` and the negative operators
    /// (`NOT_EQUAL`, `NOT_IN`, `NOT_MATCH`, `NOT_MATCH_END`), each being "not" its positive twin.
    /// To test many sessions against several filters, [`Matcher`] folds each value only once.
    pub fn matches(&self, session: &Session) -> bool {
        Matcher::new(std::slice::from_ref(self)).matches(session)
    }

    /// Whether this is a pattern filter (`MATCH` and its kin), whose values compare folded.
    fn is_pattern(&self) -> bool {
        matches!(
            self.op,
            FilterOp::Match | FilterOp::MatchEnd | FilterOp::NotMatch | FilterOp::NotMatchEnd
        )
    }
}

/// Case folding for the pattern operators, the one definition both stores and the name index use.
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// A list of filters made ready to test many sessions: each pattern value folded once, when the
/// matcher is made, and each session's string fields folded at most once, however many filters
/// read them.
pub struct Matcher<'q> {
    filters: &'q [Filter],
    /// Per filter, its first value folded (pattern filters only).
    patterns: Vec<Option<String>>,
}

impl<'q> Matcher<'q> {
    pub fn new(filters: &'q [Filter]) -> Self {
        let patterns = filters
            .iter()
            .map(|filter| match filter.values.first() {
                Some(FilterValue::String(pattern)) if filter.is_pattern() => Some(fold(pattern)),
                _ => None,
            })
            .collect();
        Matcher { filters, patterns }
    }

    /// Whether `session` passes every filter.
    pub fn matches(&self, session: &Session) -> bool {
        let mut row = FoldedRow::default();
        self.filters
            .iter()
            .zip(&self.patterns)
            .all(|(filter, pattern)| Self::passes(filter, pattern.as_deref(), session, &mut row))
    }

    fn passes(filter: &Filter, pattern: Option<&str>, session: &Session, row: &mut FoldedRow) -> bool {
        let field = filter.key.value_of(session);
        let mut positive = |op| match (op, pattern) {
            (FilterOp::Match | FilterOp::MatchEnd, Some(pattern)) => match field {
                Some(FieldValue::Str(text)) => {
                    let text = row.folded(filter.key, text);
                    if op == FilterOp::Match {
                        text.contains(pattern)
                    } else {
                        text.starts_with(pattern)
                    }
                }
                _ => false,
            },
            _ => filter.positive(field, op),
        };
        match filter.op {
            FilterOp::IsNull => field.is_none(),
            FilterOp::IsNotNull => field.is_some(),
            FilterOp::NotEqual => !positive(FilterOp::Equal),
            FilterOp::NotIn => !positive(FilterOp::In),
            FilterOp::NotMatch => !positive(FilterOp::Match),
            FilterOp::NotMatchEnd => !positive(FilterOp::MatchEnd),
            op => positive(op),
        }
    }
}

/// A session's string fields, folded on first use.
#[derive(Default)]
struct FoldedRow {
    fields: [Option<String>; 4],
}

impl FoldedRow {
    fn folded(&mut self, key: FilterKey, text: &str) -> &str {
        let slot = match key {
            FilterKey::FullName => 0,
            FilterKey::UserAgent => 1,
            FilterKey::DeviceId => 2,
            _ => 3,
        };
        self.fields[slot].get_or_insert_with(|| fold(text))
    }
}

impl Filter {
    /// The positive operators other than the patterns (which [`Matcher`] answers folded).
    fn positive(&self, field: Option<FieldValue<'_>>, op: FilterOp) -> bool {
        let Some(field) = field else { return false };
        let Some(first) = self.values.first() else {
            return false;
        };
        let ordering = || field.compare(first);
        match op {
            FilterOp::Equal => ordering() == Some(Ordering::Equal),
            FilterOp::GreaterThan => ordering() == Some(Ordering::Greater),
            FilterOp::GreaterThanEqual => {
                matches!(ordering(), Some(Ordering::Greater | Ordering::Equal))
            }
            FilterOp::LessThan => ordering() == Some(Ordering::Less),
            FilterOp::LessThanEqual => matches!(ordering(), Some(Ordering::Less | Ordering::Equal)),
            FilterOp::In => self.values.iter().any(|v| field.compare(v) == Some(Ordering::Equal)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OfflineReason, TenantId, UserId};

    fn session() -> Session {
        Session {
            id: SessionId::new_at(Timestamp::from_secs(1_795_860_000)),
            tenant_id: TenantId(1),
            user_id: UserId(1001),
            full_name: "Ada Lovelace".into(),
            avatar: None,
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into()),
            device_id: None,
            remote_address: Some("203.0.113.7".into()),
            connection_id: "conn-1".into(),
            online_date: Timestamp::from_millis(1_795_860_000_500),
            offline_date: None,
            last_seen_date: Timestamp::from_secs(1_795_860_000),
            offline_reason: None,
        }
    }

    fn filter(key: FilterKey, op: FilterOp, values: Vec<FilterValue>) -> Filter {
        Filter { key, op, values }
    }

    fn text(s: &str) -> FilterValue {
        FilterValue::String(s.into())
    }

    #[test]
    fn string_equality_is_exact_and_patterns_ignore_case() {
        let s = session();
        assert!(filter(FilterKey::FullName, FilterOp::Equal, vec![text("Ada Lovelace")]).matches(&s));
        assert!(!filter(FilterKey::FullName, FilterOp::Equal, vec![text("ada lovelace")]).matches(&s));
        assert!(filter(FilterKey::FullName, FilterOp::Match, vec![text("LOVE")]).matches(&s));
        assert!(filter(FilterKey::FullName, FilterOp::MatchEnd, vec![text("ada")]).matches(&s));
        assert!(!filter(FilterKey::FullName, FilterOp::MatchEnd, vec![text("love")]).matches(&s));
        assert!(filter(FilterKey::FullName, FilterOp::NotMatch, vec![text("babbage")]).matches(&s));
        assert!(!filter(FilterKey::FullName, FilterOp::NotMatchEnd, vec![text("ADA")]).matches(&s));
    }

    #[test]
    fn null_fields_match_only_null_tests_and_negations() {
        let s = session();
        let device = |op, values| filter(FilterKey::DeviceId, op, values);
        assert!(device(FilterOp::IsNull, vec![]).matches(&s));
        assert!(!device(FilterOp::IsNotNull, vec![]).matches(&s));
        assert!(!device(FilterOp::Equal, vec![text("x")]).matches(&s));
        assert!(device(FilterOp::NotEqual, vec![text("x")]).matches(&s));
        assert!(!device(FilterOp::Match, vec![text("")]).matches(&s));
        assert!(device(FilterOp::NotIn, vec![text("x")]).matches(&s));
        assert!(!filter(
            FilterKey::OfflineDate,
            FilterOp::LessThan,
            vec![FilterValue::Time(Timestamp::now())]
        )
        .matches(&s));
    }

    #[test]
    fn times_compare_at_second_precision() {
        let s = session();
        let at = |t: &str| vec![FilterValue::Time(Timestamp::parse(t).unwrap())];
        assert!(filter(FilterKey::OnlineDate, FilterOp::Equal, at("2026-11-28 10:00:00")).matches(&s));
        assert!(filter(FilterKey::OnlineDate, FilterOp::GreaterThanEqual, at("2026-11-28")).matches(&s));
        assert!(!filter(FilterKey::OnlineDate, FilterOp::GreaterThan, at("2026-11-28 10:00:00")).matches(&s));
        assert!(filter(FilterKey::OnlineDate, FilterOp::LessThan, at("2026-11-28T10:00:01Z")).matches(&s));
    }

    #[test]
    fn numbers_bools_and_sets() {
        let mut s = session();
        assert!(filter(
            FilterKey::UserId,
            FilterOp::In,
            vec![FilterValue::Int64(7), FilterValue::Int64(1001)]
        )
        .matches(&s));
        assert!(!filter(FilterKey::UserId, FilterOp::NotIn, vec![FilterValue::Int64(1001)]).matches(&s));
        assert!(filter(FilterKey::UserId, FilterOp::GreaterThan, vec![FilterValue::Int64(1000)]).matches(&s));
        assert!(filter(FilterKey::Online, FilterOp::Equal, vec![FilterValue::Bool(true)]).matches(&s));
        s = s.ended(Timestamp::now(), OfflineReason::Forced);
        assert!(filter(FilterKey::Online, FilterOp::Equal, vec![FilterValue::Bool(false)]).matches(&s));
        assert!(filter(FilterKey::OfflineDate, FilterOp::IsNotNull, vec![]).matches(&s));
    }

    #[test]
    fn operators_fit_types() {
        assert!(FilterOp::GreaterThan.applies_to(ValueType::Time));
        assert!(!FilterOp::GreaterThan.applies_to(ValueType::String));
        assert!(!FilterOp::GreaterThan.applies_to(ValueType::Bool));
        assert!(!FilterOp::Match.applies_to(ValueType::Int64));
        assert!(FilterOp::In.applies_to(ValueType::Bool));
        assert_eq!(FilterOp::parse("match_end"), Some(FilterOp::MatchEnd));
        assert_eq!(FilterKey::parse("fullname"), None);
    }
}
