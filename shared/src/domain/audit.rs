//! The audit trail of forced offlines: who forced whom offline, with what effect. One
//! [`AuditRecord`] per forced offline that was authorised and valid (written by
//! [`crate::service::offline`], at most once per tenant and request id), read back through
//! [`AuditQuery`]: filters on `operatorUserId`, `targetType` and `datetime`, newest first by
//! default, paged by `pageNo` or by a signed page token exactly as session listings are.
//!
//! Both stores hand [`select_audit_page`] the records of the caller's scope within the time range
//! the query's `datetime` filters allow ([`AuditQuery::time_range`]), so a filter, an order or a
//! page means the same on both. Choices where the contract is silent:
//!
//! - records sort by `datetime` (stored to the millisecond) and then by `id`; `orderSort` turns
//!   both around, so the order is total and a page token's cursor is exact;
//! - `datetime` compares at the second, as session times do: `EQUAL 2026-11-28 10:00:00` matches
//!   a record written during that second;
//! - `targetType` values are read in any case (`user` is `USER`);
//! - the record's `id` is an int64 (serialised as a string like every id): the millisecond of the
//!   record shifted left by 20 bits, plus 20 random bits, so ids grow with time and two records of
//!   one millisecond almost never share one (the DynamoDB store refuses a duplicate and draws
//!   another).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize, Serializer};

use super::access::TenantScope;
use super::error::ApiError;
use super::filter::FilterValue;
use super::listing::ReadBudget;
use super::page_token::{self, PageTokenKey};
use super::{FilterOp, OrderSort, Paging, TenantId, Timestamp, UserId};

/// An audit record's id: see the module's notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub struct AuditId(pub i64);

impl AuditId {
    /// A new id for a record written at `at`.
    pub fn new_at(at: Timestamp) -> Self {
        let random = (ulid::Ulid::new().random() as i64) & 0xF_FFFF;
        AuditId((at.millis().max(0) << 20) | random)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for AuditId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for AuditId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// What a forced offline's ids named (the request's `receiveObjectType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetType {
    User,
    Tenant,
}

impl TargetType {
    pub const ALL: [TargetType; 2] = [TargetType::User, TargetType::Tenant];

    /// As the contract spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::User => "USER",
            TargetType::Tenant => "TENANT",
        }
    }

    /// `USER` or `TENANT`, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        TargetType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
    }
}

impl Serialize for TargetType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Where a request came from, as the audit trail records it: API Gateway's request id (what makes
/// a record once per request), the caller's address and user agent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestOrigin {
    pub request_id: String,
    pub remote_address: Option<String>,
    pub user_agent: Option<String>,
}

/// One forced offline, as the audit trail keeps it (and as the endpoint shows it: every id a
/// string, times as `yyyy-MM-dd HH:mm:ss`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub id: AuditId,
    /// The caller's tenant (a platform operator's records are its own tenant's).
    pub tenant_id: TenantId,
    pub operator_user_id: UserId,
    pub operator_full_name: String,
    pub target_type: TargetType,
    /// The ids as given, without repeats, in the order first given.
    #[serde(serialize_with = "ids_as_strings")]
    pub target_ids: Vec<i64>,
    pub broadcast: bool,
    pub users: u64,
    pub sessions: u64,
    pub tokens: u64,
    pub connections: u64,
    /// `USER` ids outside the caller's scope or unknown, as the answer listed them.
    pub skipped_ids: Vec<String>,
    /// The request that forced (API Gateway's request id): a record is written once per tenant
    /// and request id.
    pub request_id: String,
    /// The caller's address and user agent, as the request carried them.
    pub remote_address: Option<String>,
    pub user_agent: Option<String>,
    pub datetime: Timestamp,
}

fn ids_as_strings<S: Serializer>(ids: &[i64], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(ids.iter().map(ToString::to_string))
}

/// A field audit records may be filtered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKey {
    OperatorUserId,
    TargetType,
    Datetime,
}

impl AuditKey {
    pub const ALL: [AuditKey; 3] = [AuditKey::OperatorUserId, AuditKey::TargetType, AuditKey::Datetime];

    pub fn name(self) -> &'static str {
        match self {
            AuditKey::OperatorUserId => "operatorUserId",
            AuditKey::TargetType => "targetType",
            AuditKey::Datetime => "datetime",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        AuditKey::ALL.into_iter().find(|key| key.name() == name)
    }

    /// The operators the contract allows on this key: `EQUAL` and `IN` everywhere, and the
    /// comparisons on `datetime`.
    pub fn allows(self, op: FilterOp) -> bool {
        match op {
            FilterOp::Equal | FilterOp::In => true,
            FilterOp::GreaterThan | FilterOp::GreaterThanEqual | FilterOp::LessThan | FilterOp::LessThanEqual => {
                self == AuditKey::Datetime
            }
            _ => false,
        }
    }

    /// The names of [`AuditKey::allows`], for error messages.
    pub fn allowed(self) -> Vec<&'static str> {
        FilterOp::ALL
            .into_iter()
            .filter(|op| self.allows(*op))
            .map(FilterOp::name)
            .collect()
    }

    /// What a value of this key must be, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            AuditKey::OperatorUserId => "an int64",
            AuditKey::TargetType => "USER or TENANT",
            AuditKey::Datetime => "a time (yyyy-MM-dd HH:mm:ss, RFC 3339 or yyyy-MM-dd)",
        }
    }
}

/// One condition on audit records: `values` are typed by the key (`Int64` for
/// `operatorUserId`, `String` holding `USER`/`TENANT` for `targetType`, `Time` for `datetime`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    pub key: AuditKey,
    pub op: FilterOp,
    pub values: Vec<FilterValue>,
}

impl AuditFilter {
    /// Whether `record` passes.
    pub fn matches(&self, record: &AuditRecord) -> bool {
        let ordering = |value: &FilterValue| -> Option<Ordering> {
            match (self.key, value) {
                (AuditKey::OperatorUserId, FilterValue::Int64(id)) => Some(record.operator_user_id.get().cmp(id)),
                (AuditKey::TargetType, FilterValue::String(name)) => {
                    Some(record.target_type.as_str().cmp(name.as_str()))
                }
                (AuditKey::Datetime, FilterValue::Time(at)) => Some(record.datetime.secs().cmp(&at.secs())),
                _ => None,
            }
        };
        let first = || self.values.first().and_then(ordering);
        match self.op {
            FilterOp::Equal => first() == Some(Ordering::Equal),
            FilterOp::In => self.values.iter().any(|v| ordering(v) == Some(Ordering::Equal)),
            FilterOp::GreaterThan => first() == Some(Ordering::Greater),
            FilterOp::GreaterThanEqual => matches!(first(), Some(Ordering::Greater | Ordering::Equal)),
            FilterOp::LessThan => first() == Some(Ordering::Less),
            FilterOp::LessThanEqual => matches!(first(), Some(Ordering::Less | Ordering::Equal)),
            _ => false,
        }
    }

    /// The milliseconds a `datetime` filter lets through, as `[from, to]` (inclusive); `None` for
    /// a filter on another key.
    fn time_bounds(&self) -> Option<(i64, i64)> {
        if self.key != AuditKey::Datetime {
            return None;
        }
        let secs: Vec<i64> = self
            .values
            .iter()
            .filter_map(|value| match value {
                FilterValue::Time(at) => Some(at.secs()),
                _ => None,
            })
            .collect();
        let (low, high) = (*secs.iter().min()?, *secs.iter().max()?);
        let start = |s: i64| s.saturating_mul(1000);
        let end = |s: i64| s.saturating_add(1).saturating_mul(1000).saturating_sub(1);
        Some(match self.op {
            FilterOp::Equal | FilterOp::In => (start(low), end(high)),
            FilterOp::GreaterThan => (start(low.saturating_add(1)), i64::MAX),
            FilterOp::GreaterThanEqual => (start(low), i64::MAX),
            FilterOp::LessThan => (i64::MIN, start(low).saturating_sub(1)),
            FilterOp::LessThanEqual => (i64::MIN, end(low)),
            _ => (i64::MIN, i64::MAX),
        })
    }
}

/// A time range of records, inclusive at both ends; `None` is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

impl TimeRange {
    /// Whether no record can lie in it.
    pub fn is_empty(&self) -> bool {
        matches!((self.from, self.to), (Some(from), Some(to)) if from > to)
    }

    pub fn contains(&self, at: Timestamp) -> bool {
        self.from.is_none_or(|from| at >= from) && self.to.is_none_or(|to| at <= to)
    }
}

/// Where a record stands in the trail: what a page token remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AuditPosition {
    /// `datetime`, epoch milliseconds.
    pub at: i64,
    pub id: i64,
}

impl AuditPosition {
    pub fn of(record: &AuditRecord) -> Self {
        AuditPosition {
            at: record.datetime.millis(),
            id: record.id.get(),
        }
    }
}

/// A parsed audit listing request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditQuery {
    /// All must hold.
    pub filters: Vec<AuditFilter>,
    /// On `datetime`, then `id`; newest first by default.
    pub order_sort: OrderSort,
    pub paging: Paging,
    /// The tenant a platform caller narrowed to; checked against the caller by the use case.
    pub tenant_id: Option<TenantId>,
    /// `pageToken` as given; the use case checks it and turns it into `after`.
    pub page_token: Option<String>,
    /// Start after this position instead of at the page's offset.
    pub after: Option<AuditPosition>,
    /// Records the store may read to answer (the service sets it).
    pub read_budget: ReadBudget,
}

impl AuditQuery {
    /// The records the `datetime` filters let through (every filter must hold, so their ranges
    /// intersect): what the stores read, so a narrow time filter reads a narrow range.
    pub fn time_range(&self) -> TimeRange {
        let (mut from, mut to) = (i64::MIN, i64::MAX);
        for (low, high) in self.filters.iter().filter_map(AuditFilter::time_bounds) {
            from = from.max(low);
            to = to.min(high);
        }
        TimeRange {
            from: (from != i64::MIN).then_some(Timestamp::from_millis(from)),
            to: (to != i64::MAX).then_some(Timestamp::from_millis(to)),
        }
    }

    pub fn matches(&self, record: &AuditRecord) -> bool {
        self.filters.iter().all(|filter| filter.matches(record))
    }

    /// What a page token of this listing belongs to: the filters, the order and the scope (not
    /// the page size).
    fn fingerprint(&self, scope: TenantScope) -> String {
        page_token::fingerprint_of(&format!("audit|{:?}|{:?}|{:?}", self.filters, self.order_sort, scope))
    }

    /// The token of the page after the one that ended at `last`.
    pub fn next_page_token(&self, key: &PageTokenKey, scope: TenantScope, last: &AuditRecord) -> String {
        page_token::encode_signed(key, self.fingerprint(scope), &AuditPosition::of(last))
    }

    /// Reads `page_token` (when given) into `after`: a 400 on `pageToken` for a changed token or
    /// one of another listing, order or scope.
    pub fn resolve_page_token(&mut self, key: &PageTokenKey, scope: TenantScope) -> Result<(), ApiError> {
        if let Some(token) = &self.page_token {
            self.after = Some(page_token::decode_signed(key, &self.fingerprint(scope), token)?);
        }
        Ok(())
    }

    fn ascending(&self, a: &AuditRecord, b: &AuditRecord) -> Ordering {
        let ordering = AuditPosition::of(a).cmp(&AuditPosition::of(b));
        match self.order_sort {
            OrderSort::Asc => ordering,
            OrderSort::Desc => ordering.reverse(),
        }
    }

    fn is_after_cursor(&self, record: &AuditRecord) -> bool {
        self.after.is_none_or(|after| {
            let here = AuditPosition::of(record);
            match self.order_sort {
                OrderSort::Asc => here > after,
                OrderSort::Desc => here < after,
            }
        })
    }
}

/// One page of audit records and the count of every match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditPage {
    /// Every match, wherever the page is.
    pub total: u64,
    pub records: Vec<AuditRecord>,
    /// Whether matches follow this page.
    pub more: bool,
}

/// Filters `records`, sorts the matches (on `datetime`, then `id`) and cuts the page: after the
/// cursor when the query has one, else at the page's offset.
pub fn select_audit_page(records: impl IntoIterator<Item = AuditRecord>, query: &AuditQuery) -> AuditPage {
    let mut total = 0;
    let mut kept: Vec<AuditRecord> = records
        .into_iter()
        .filter(|record| query.matches(record))
        .inspect(|_| total += 1)
        .filter(|record| query.is_after_cursor(record))
        .collect();
    kept.sort_unstable_by(|a, b| query.ascending(a, b));
    let skip = if query.after.is_some() {
        0
    } else {
        query.paging.offset()
    };
    let end = skip + query.paging.page_size as usize;
    let more = kept.len() > end;
    kept.truncate(end);
    AuditPage {
        total,
        records: kept.into_iter().skip(skip).collect(),
        more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: i64, operator: i64, target: TargetType, secs: i64) -> AuditRecord {
        let datetime = Timestamp::from_secs(1_795_860_000 + secs);
        AuditRecord {
            id: AuditId((datetime.millis() << 20) + n),
            tenant_id: TenantId(1),
            operator_user_id: UserId(operator),
            operator_full_name: format!("Op {operator}"),
            target_type: target,
            target_ids: vec![n],
            broadcast: true,
            users: 1,
            sessions: 1,
            tokens: 1,
            connections: 1,
            skipped_ids: Vec::new(),
            request_id: format!("req-{n}"),
            remote_address: None,
            user_agent: None,
            datetime,
        }
    }

    fn trail() -> Vec<AuditRecord> {
        (0..25)
            .map(|n| {
                let target = if n % 5 == 0 {
                    TargetType::Tenant
                } else {
                    TargetType::User
                };
                record(n, 100 + n % 3, target, n / 2)
            })
            .collect()
    }

    fn ids(page: &AuditPage) -> Vec<i64> {
        page.records.iter().map(|r| r.target_ids[0]).collect()
    }

    fn filter(key: AuditKey, op: FilterOp, values: Vec<FilterValue>) -> AuditFilter {
        AuditFilter { key, op, values }
    }

    #[test]
    fn newest_first_by_default_ties_on_id_and_pages_cut_after_filtering() {
        let mut query = AuditQuery {
            paging: Paging {
                page_no: 2,
                page_size: 10,
            },
            ..Default::default()
        };
        let page = select_audit_page(trail(), &query);
        assert_eq!(page.total, 25);
        assert_eq!(ids(&page), (5..15).rev().collect::<Vec<_>>());
        assert!(page.more);
        query.order_sort = OrderSort::Asc;
        assert_eq!(ids(&select_audit_page(trail(), &query)), (10..20).collect::<Vec<_>>());
        query.paging.page_no = 3;
        let last = select_audit_page(trail(), &query);
        assert_eq!((ids(&last), last.more), ((20..25).collect::<Vec<_>>(), false));
        query.paging.page_no = 4;
        assert_eq!(select_audit_page(trail(), &query).records.len(), 0);
    }

    #[test]
    fn a_cursor_continues_where_the_page_ended_in_either_order() {
        for sort in [OrderSort::Desc, OrderSort::Asc] {
            let mut query = AuditQuery {
                order_sort: sort,
                paging: Paging {
                    page_no: 1,
                    page_size: 7,
                },
                ..Default::default()
            };
            let mut seen = Vec::new();
            loop {
                let page = select_audit_page(trail(), &query);
                assert_eq!(page.total, 25);
                seen.extend(ids(&page));
                if !page.more {
                    break;
                }
                query.after = Some(AuditPosition::of(page.records.last().unwrap()));
            }
            let mut expected: Vec<i64> = (0..25).collect();
            if sort == OrderSort::Desc {
                expected.reverse();
            }
            assert_eq!(seen, expected, "{sort:?}");
        }
    }

    #[test]
    fn filters_on_operator_target_type_and_datetime() {
        let query = |filters| AuditQuery {
            filters,
            paging: Paging {
                page_no: 1,
                page_size: 100,
            },
            ..Default::default()
        };
        let op = |values: &[i64], op| {
            filter(
                AuditKey::OperatorUserId,
                op,
                values.iter().map(|v| FilterValue::Int64(*v)).collect(),
            )
        };
        assert_eq!(
            select_audit_page(trail(), &query(vec![op(&[100], FilterOp::Equal)])).total,
            9
        );
        assert_eq!(
            select_audit_page(trail(), &query(vec![op(&[100, 102], FilterOp::In)])).total,
            17
        );
        let tenant = filter(
            AuditKey::TargetType,
            FilterOp::Equal,
            vec![FilterValue::String("TENANT".into())],
        );
        assert_eq!(
            ids(&select_audit_page(trail(), &query(vec![tenant]))),
            [20, 15, 10, 5, 0]
        );
        let at = |secs: i64| FilterValue::Time(Timestamp::from_secs(1_795_860_000 + secs));
        // Record n is at second n / 2: seconds 3 to 5 are records 6 to 11.
        let between = vec![
            filter(AuditKey::Datetime, FilterOp::GreaterThanEqual, vec![at(3)]),
            filter(AuditKey::Datetime, FilterOp::LessThan, vec![at(6)]),
        ];
        assert_eq!(
            ids(&select_audit_page(trail(), &query(between.clone()))),
            [11, 10, 9, 8, 7, 6]
        );
        let range = query(between).time_range();
        assert_eq!(
            (range.from, range.to),
            (
                Some(Timestamp::from_secs(1_795_860_003)),
                Some(Timestamp::from_millis(1_795_860_005_999))
            )
        );
        let equal = query(vec![filter(AuditKey::Datetime, FilterOp::Equal, vec![at(4)])]);
        assert_eq!(ids(&select_audit_page(trail(), &equal)), [9, 8]);
        let over = query(vec![filter(AuditKey::Datetime, FilterOp::GreaterThan, vec![at(11)])]);
        assert_eq!(ids(&select_audit_page(trail(), &over)), [24]);
        let contradiction = query(vec![
            filter(AuditKey::Datetime, FilterOp::GreaterThan, vec![at(5)]),
            filter(AuditKey::Datetime, FilterOp::LessThanEqual, vec![at(5)]),
        ]);
        assert!(contradiction.time_range().is_empty());
        assert_eq!(select_audit_page(trail(), &contradiction).total, 0);
    }

    #[test]
    fn operators_fit_keys() {
        assert!(AuditKey::Datetime.allows(FilterOp::LessThan));
        assert!(!AuditKey::OperatorUserId.allows(FilterOp::GreaterThan));
        assert!(!AuditKey::TargetType.allows(FilterOp::Match));
        assert_eq!(AuditKey::TargetType.allowed(), ["EQUAL", "IN"]);
        assert_eq!(TargetType::parse("tenant"), Some(TargetType::Tenant));
        assert_eq!(AuditKey::parse("DateTime"), None);
    }

    #[test]
    fn page_tokens_belong_to_their_listing_and_scope() {
        let key = PageTokenKey::new(b"k");
        let scope = TenantScope::Tenant(TenantId(1));
        let query = AuditQuery::default();
        let token = query.next_page_token(&key, scope, &trail()[3]);
        let mut next = AuditQuery {
            page_token: Some(token.clone()),
            ..Default::default()
        };
        next.resolve_page_token(&key, scope).unwrap();
        assert_eq!(next.after, Some(AuditPosition::of(&trail()[3])));
        let mut other_scope = next.clone();
        assert_eq!(
            other_scope
                .resolve_page_token(&key, TenantScope::All)
                .unwrap_err()
                .field
                .as_deref(),
            Some("pageToken")
        );
        let mut other_order = AuditQuery {
            order_sort: OrderSort::Asc,
            page_token: Some(token),
            ..Default::default()
        };
        assert!(other_order.resolve_page_token(&key, scope).is_err());
    }

    #[test]
    fn records_serialise_ids_as_strings() {
        let json = serde_json::to_value(record(7, 1001, TargetType::User, 0)).unwrap();
        assert!(json["id"].is_string());
        assert_eq!(json["tenantId"], "1");
        assert_eq!(json["operatorUserId"], "1001");
        assert_eq!(json["targetType"], "USER");
        assert_eq!(json["targetIds"], serde_json::json!(["7"]));
        assert_eq!(json["datetime"], "2026-11-28 10:00:00");
        assert_eq!(json["users"], 1);
        assert!(json["remoteAddress"].is_null());
    }

    #[test]
    fn ids_grow_with_time() {
        let early = AuditId::new_at(Timestamp::from_millis(1_000));
        let late = AuditId::new_at(Timestamp::from_millis(1_001));
        assert!(early < late && early.get() > 0);
    }
}
