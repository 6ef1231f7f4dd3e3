//! How a store reads a listing ([`plan`]): the cheapest read that still finds every match, and
//! the budget that bounds it ([`ReadBudget`]).
//!
//! - **Users**: a `userId` `EQUAL`/`IN` filter names the only users whose sessions can match, and
//!   the per-user index holds each user's sessions: O(their sessions).
//! - **Names**: a `fullName` `MATCH`, `MATCH_END` or `EQUAL` of [`GRAM_CHARS`] characters or more
//!   can match only names that contain its first [`GRAM_CHARS`] characters (folded); the name
//!   index keeps, per tenant and gram, the users whose names contain it: O(those users' sessions).
//! - **Key order**: below.
//! - **Scan**: anything else reads the tenant's sessions (or its online ones) in an id range and
//!   filters them in memory, at most [`ReadBudget`] of them.
//!
//! Session ids are ULIDs minted from the session's `onlineDate` (see [`SessionId::new_at`]), so a
//! tenant's sessions in id order are also in `onlineDate` order, and a bound on either field is a
//! range of ids. A listing sorted on `id` or `onlineDate` whose filters are such bounds (and
//! `online`) is read straight from a key-ordered index, about `pageNo x pageSize` items; its
//! `total` comes from the counters kept by the writes, or from a count of the id range.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::filter::{fold, FilterValue};
use super::listing::{ReadBudget, SessionPage};
use super::{
    ApiError, Filter, FilterKey, FilterOp, OrderBy, OrderSort, SessionId, SessionQuery, StoreError, Timestamp, UserId,
};

/// Characters in a gram of the name index: a search needs at least this many.
pub const GRAM_CHARS: usize = 3;

/// Counts what a listing reads against its budget; shared by the concurrent reads of one listing.
#[derive(Debug)]
pub struct ReadMeter {
    budget: usize,
    read: AtomicUsize,
}

impl ReadMeter {
    pub fn new(budget: ReadBudget) -> Self {
        ReadMeter {
            budget: budget.0,
            read: AtomicUsize::new(0),
        }
    }

    /// Counts `items` more sessions read; an error once the budget is passed.
    pub fn take(&self, items: usize) -> Result<(), StoreError> {
        let read = self.read.fetch_add(items, Ordering::Relaxed) + items;
        if read > self.budget {
            Err(StoreError::ReadBudget(self.budget))
        } else {
            Ok(())
        }
    }
}

/// How a store reads a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingPlan {
    /// A page at a time in key order (see [`KeyRange`]).
    KeyOrder(KeyRange),
    /// Only these users' sessions can match: each user's sessions, from the per-user index.
    Users(BTreeSet<UserId>),
    /// Only users whose name contains `gram` (folded) can match: the name index's users for the
    /// gram whose names contain `needle` (folded), then their sessions.
    Names { gram: String, needle: String },
    /// Every session in the range, filtered in memory.
    Scan(KeyRange),
}

/// The read that serves `query`.
pub fn plan(query: &SessionQuery) -> ListingPlan {
    if let Some(users) = named_users(&query.filters) {
        return ListingPlan::Users(users);
    }
    if let Some(needle) = name_needle(&query.filters) {
        let gram = needle.chars().take(GRAM_CHARS).collect();
        return ListingPlan::Names { gram, needle };
    }
    match key_range(query) {
        Some(range) if range.counter.is_some() || !range.residual => ListingPlan::KeyOrder(range),
        range => ListingPlan::Scan(range.unwrap_or_else(|| KeyRange::everything(wants_online_only(query)))),
    }
}

/// The users an `EQUAL`/`IN` filter on `userId` allows (all such filters together), if any.
fn named_users(filters: &[Filter]) -> Option<BTreeSet<UserId>> {
    filters
        .iter()
        .filter(|f| f.key == FilterKey::UserId && matches!(f.op, FilterOp::Equal | FilterOp::In))
        .map(|f| {
            f.values
                .iter()
                .filter_map(|v| match v {
                    FilterValue::Int64(id) => Some(UserId(*id)),
                    _ => None,
                })
                .collect::<BTreeSet<UserId>>()
        })
        .reduce(|a, b| a.intersection(&b).copied().collect())
}

/// The folded text every matching name contains, from a `fullName` `MATCH`, `MATCH_END` or
/// `EQUAL` filter of at least [`GRAM_CHARS`] characters (the longest, when there are several).
fn name_needle(filters: &[Filter]) -> Option<String> {
    filters
        .iter()
        .filter(|f| {
            f.key == FilterKey::FullName && matches!(f.op, FilterOp::Match | FilterOp::MatchEnd | FilterOp::Equal)
        })
        .filter_map(|f| match f.values.first() {
            Some(FilterValue::String(text)) => Some(fold(text)),
            _ => None,
        })
        .filter(|needle| needle.chars().count() >= GRAM_CHARS)
        .max_by_key(|needle| needle.chars().count())
}

/// The grams of `name` the name index keeps: every run of [`GRAM_CHARS`] characters of its
/// folded form. A folded needle inside the folded name starts with one of them.
pub fn name_grams(name: &str) -> BTreeSet<String> {
    let chars: Vec<char> = fold(name).chars().collect();
    chars.windows(GRAM_CHARS).map(|w| w.iter().collect()).collect()
}

/// Whether `name` may hold a match of a name plan's `needle` (the name index's own check).
pub fn name_may_match(name: &str, needle: &str) -> bool {
    fold(name).contains(needle)
}

/// Whether the query keeps only online sessions, so the online index holds every candidate.
pub fn wants_online_only(query: &SessionQuery) -> bool {
    query.filters.iter().any(|f| {
        f.key == FilterKey::Online
            && match f.op {
                FilterOp::Equal | FilterOp::In => f.values.iter().all(|v| *v == FilterValue::Bool(true)),
                FilterOp::NotEqual | FilterOp::NotIn => f.values.iter().all(|v| *v == FilterValue::Bool(false)),
                _ => false,
            }
    })
}

/// A listing whose page lies deeper than the budget reads, in key order, before reaching it:
/// the page end, plus one to know whether more follow.
pub fn deep_page(query: &SessionQuery) -> bool {
    query.end().saturating_add(1) > query.read_budget.0
}

/// The answer to a key-ordered listing whose page is [`deep_page`]: an empty page when `total`
/// (the counters' count, when the range has a [`KeyRange::counter`]) says the page lies past the
/// end, as the contract answers such a page; else [`StoreError::ReadBudget`] (a page token reaches
/// the page in one page's reads).
pub fn deep_page_answer(query: &SessionQuery, total: Option<u64>) -> Result<SessionPage, StoreError> {
    match total {
        Some(total) if query.skip() as u64 >= total => Ok(SessionPage {
            total,
            sessions: Vec::new(),
            more: false,
        }),
        _ => Err(StoreError::ReadBudget(query.read_budget.0)),
    }
}

/// What a caller is told when its listing would pass the read budget, naming what to change.
pub fn over_budget(query: &SessionQuery) -> ApiError {
    let budget = query.read_budget.0;
    if deep_page(query) {
        return ApiError::invalid(
            "pageNo",
            format!(
                "This page starts {} records in, past the {budget} a listing reads to reach a page: \
                 follow nextPageToken from an earlier page (pageToken), or narrow the filters.",
                query.skip()
            ),
        );
    }
    let cause = if !matches!(query.order_by, OrderBy::Id | OrderBy::OnlineDate) {
        format!("orderBy={} sorts every matching session", query.order_by.name())
    } else {
        "these filters are checked on every session".to_owned()
    };
    let field = if matches!(query.order_by, OrderBy::Id | OrderBy::OnlineDate) {
        query
            .filters
            .iter()
            .find(|f| !matches!(f.key, FilterKey::Online | FilterKey::Id | FilterKey::OnlineDate))
            .map_or("filters", |f| f.key.name())
    } else {
        "orderBy"
    };
    ApiError::invalid(
        field,
        format!(
            "This listing would read more than {budget} sessions ({cause}). Narrow it: a userId, \
             a fullName of {GRAM_CHARS} characters or more, or an onlineDate range."
        ),
    )
}

/// Which kept counter answers a listing's `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Every session.
    Sessions,
    /// Online sessions.
    Online,
    /// Ended sessions: sessions minus online.
    Ended,
}

/// A listing as a range of session ids, read in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    /// Read only online sessions (the online index).
    pub online_only: bool,
    /// Smallest id, inclusive.
    pub from: Option<SessionId>,
    /// Largest id, inclusive.
    pub to: Option<SessionId>,
    /// Newest first.
    pub descending: bool,
    /// Filters the range does not express, checked on each item read.
    pub residual: bool,
    /// The counter that gives `total`, when the filters say no more than it counts.
    pub counter: Option<Counter>,
}

impl KeyRange {
    /// Every session (or every online one), newest first, with filters left to check.
    pub fn everything(online_only: bool) -> KeyRange {
        KeyRange {
            online_only,
            from: None,
            to: None,
            descending: true,
            residual: true,
            counter: None,
        }
    }

    /// Whether no id can lie in the range.
    pub fn is_empty(&self) -> bool {
        matches!((self.from, self.to), (Some(from), Some(to)) if from > to)
    }

    /// The part of the range that lies past `after` in reading order.
    pub fn after(&self, after: Option<SessionId>) -> KeyRange {
        let mut range = self.clone();
        if let Some(id) = after {
            if self.descending {
                range.to = Some(min(range.to, id.pred()));
            } else {
                range.from = Some(max(range.from, id.succ()));
            }
        }
        range
    }
}

/// The key range that serves `query`, or `None` when its order is not the id order.
pub fn key_range(query: &SessionQuery) -> Option<KeyRange> {
    if !matches!(query.order_by, OrderBy::Id | OrderBy::OnlineDate) {
        return None;
    }
    let mut range = KeyRange {
        online_only: false,
        from: None,
        to: None,
        descending: query.order_sort == OrderSort::Desc,
        residual: false,
        counter: None,
    };
    for filter in &query.filters {
        match (filter.key, online_wanted(filter)) {
            (FilterKey::Online, Some(true)) => range.online_only = true,
            // No index holds only ended sessions: read them all, keep the ended ones.
            (FilterKey::Online, Some(false)) => range.residual = true,
            (FilterKey::Id | FilterKey::OnlineDate, _) => {
                match filter.values.first().and_then(|value| id_bounds(filter.op, value)) {
                    Some((from, to)) => {
                        if let Some(from) = from {
                            range.from = Some(max(range.from, from));
                        }
                        if let Some(to) = to {
                            range.to = Some(min(range.to, to));
                        }
                    }
                    None => range.residual = true,
                }
            }
            _ => range.residual = true,
        }
    }
    range.counter = counter_for(query);
    Some(range)
}

/// The inclusive id bounds that an `id` or `onlineDate` filter means, when it is a bound.
fn id_bounds(op: FilterOp, value: &FilterValue) -> Option<(Option<SessionId>, Option<SessionId>)> {
    match value {
        FilterValue::Id(id) => match op {
            FilterOp::Equal => Some((Some(*id), Some(*id))),
            FilterOp::GreaterThan => Some((Some(id.succ()), None)),
            FilterOp::GreaterThanEqual => Some((Some(*id), None)),
            FilterOp::LessThan => Some((None, Some(id.pred()))),
            FilterOp::LessThanEqual => Some((None, Some(*id))),
            _ => None,
        },
        // Times compare at the second: `onlineDate = T` is every id minted during T's second.
        FilterValue::Time(at) => {
            let second = Timestamp::from_secs(at.secs());
            let first_of_second = SessionId::lowest_at(second);
            let first_of_next = SessionId::lowest_at(second.plus_secs(1));
            match op {
                FilterOp::Equal => Some((Some(first_of_second), Some(first_of_next.pred()))),
                FilterOp::GreaterThan => Some((Some(first_of_next), None)),
                FilterOp::GreaterThanEqual => Some((Some(first_of_second), None)),
                FilterOp::LessThan => Some((None, Some(first_of_second.pred()))),
                FilterOp::LessThanEqual => Some((None, Some(first_of_next.pred()))),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `Some(wanted)` for a filter that asks for online (`true`) or ended (`false`) sessions only.
fn online_wanted(filter: &Filter) -> Option<bool> {
    match (filter.key, filter.op, filter.values.as_slice()) {
        (FilterKey::Online, FilterOp::Equal, [FilterValue::Bool(online)]) => Some(*online),
        (FilterKey::Online, FilterOp::NotEqual, [FilterValue::Bool(online)]) => Some(!*online),
        _ => None,
    }
}

/// The counter that is the listing's `total`: when the filters ask at most online or ended.
fn counter_for(query: &SessionQuery) -> Option<Counter> {
    let wanted: Option<Vec<bool>> = query.filters.iter().map(online_wanted).collect();
    let wanted = wanted?;
    if wanted.is_empty() {
        Some(Counter::Sessions)
    } else if wanted.iter().all(|online| *online) {
        Some(Counter::Online)
    } else if wanted.iter().all(|online| !*online) {
        Some(Counter::Ended)
    } else {
        None
    }
}

fn max(current: Option<SessionId>, bound: SessionId) -> SessionId {
    current.map_or(bound, |c| c.max(bound))
}

fn min(current: Option<SessionId>, bound: SessionId) -> SessionId {
    current.map_or(bound, |c| c.min(bound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::query::{parse_session_query, ListMode};
    use std::collections::BTreeSet;

    fn plan(query: &str) -> Option<KeyRange> {
        key_range(&parse_session_query(query, ListMode::List).expect("a valid query"))
    }

    #[test]
    fn the_default_listing_and_online_are_counted_ranges() {
        let all = plan("").unwrap();
        assert_eq!(
            (all.online_only, all.residual, all.counter),
            (false, false, Some(Counter::Sessions))
        );
        assert!(all.descending && all.from.is_none() && all.to.is_none());
        let online = plan("online=true&orderBy=onlineDate&orderSort=ASC").unwrap();
        assert_eq!(
            (online.online_only, online.residual, online.counter),
            (true, false, Some(Counter::Online))
        );
        assert!(!online.descending);
        let ended = plan("online=false").unwrap();
        assert_eq!(
            (ended.online_only, ended.residual, ended.counter),
            (false, true, Some(Counter::Ended))
        );
    }

    #[test]
    fn time_and_id_bounds_become_id_ranges_without_a_counter() {
        let range = plan(
            "filters[0].key=onlineDate&filters[0].op=GREATER_THAN_EQUAL&filters[0].value=2026-11-28 10:00:00\
             &filters[1].key=onlineDate&filters[1].op=LESS_THAN&filters[1].value=2026-11-28 11:00:00",
        )
        .unwrap();
        let ten = Timestamp::parse("2026-11-28 10:00:00").unwrap();
        assert_eq!(range.from, Some(SessionId::lowest_at(ten)));
        assert_eq!(range.to, Some(SessionId::lowest_at(ten.plus_secs(3600)).pred()));
        assert_eq!((range.residual, range.counter), (false, None));
        // One second, `onlineDate=` meaning that whole second.
        let second = plan("onlineDate=2026-11-28 10:00:00").unwrap();
        assert_eq!(second.from, Some(SessionId::lowest_at(ten)));
        assert_eq!(second.to, Some(SessionId::lowest_at(ten.plus_secs(1)).pred()));
    }

    #[test]
    fn other_filters_are_residual_and_other_orders_are_not_ranges() {
        let range = plan("userId=1001&online=true").unwrap();
        assert_eq!((range.online_only, range.residual, range.counter), (true, true, None));
        assert!(plan("orderBy=fullName").is_none());
        assert!(plan("orderBy=offlineDate").is_none());
        let ids = "filters[0].key=id&filters[0].op=GREATER_THAN&filters[0].value=01JB0000000000000000000002\
                   &filters[1].key=id&filters[1].op=LESS_THAN_EQUAL&filters[1].value=01JB0000000000000000000001";
        assert!(plan(ids).unwrap().is_empty());
        let both = plan("filters[0].key=online&filters[0].op=EQUAL&filters[0].value=true&online=false").unwrap();
        assert_eq!(both.counter, None);
    }

    #[test]
    fn a_cursor_cuts_the_range_in_reading_order() {
        let id: SessionId = "01JB0000000000000000000005".parse().unwrap();
        let newest_first = plan("").unwrap().after(Some(id));
        assert_eq!((newest_first.from, newest_first.to), (None, Some(id.pred())));
        let oldest_first = plan("orderSort=ASC").unwrap().after(Some(id));
        assert_eq!((oldest_first.from, oldest_first.to), (Some(id.succ()), None));
    }
    fn chosen(query: &str, mode: ListMode) -> ListingPlan {
        super::plan(&parse_session_query(query, mode).expect("a valid query"))
    }

    #[test]
    fn named_users_are_read_per_user_whatever_else_the_query_says() {
        let users = |ids: &[i64]| ListingPlan::Users(ids.iter().copied().map(UserId).collect());
        assert_eq!(chosen("userId=1001&orderBy=fullName", ListMode::List), users(&[1001]));
        assert_eq!(
            chosen(
                "filters[0].key=userId&filters[0].op=IN&filters[0].value=3,1,2&fullName=ada",
                ListMode::Search
            ),
            users(&[1, 2, 3])
        );
        // Two filters on userId: only ids both allow.
        assert_eq!(
            chosen(
                "userId=2&filters[0].key=userId&filters[0].op=IN&filters[0].value=1,2",
                ListMode::List
            ),
            users(&[2])
        );
        assert_eq!(
            chosen(
                "userId=2&filters[0].key=userId&filters[0].op=IN&filters[0].value=1",
                ListMode::List
            ),
            users(&[])
        );
        // NOT_IN and orderings on userId say nothing of which users: not a per-user read.
        assert!(matches!(
            chosen(
                "filters[0].key=userId&filters[0].op=NOT_IN&filters[0].value=1",
                ListMode::List
            ),
            ListingPlan::Scan(_)
        ));
    }

    #[test]
    fn names_of_three_characters_or_more_use_the_name_index() {
        assert_eq!(
            chosen("fullName=LoVe", ListMode::Search),
            ListingPlan::Names {
                gram: "lov".into(),
                needle: "love".into()
            }
        );
        // The longest needle of several; MATCH_END and list-mode EQUAL are served too.
        assert_eq!(
            chosen(
                "fullName=Ada Lovelace&filters[0].key=fullName&filters[0].op=MATCH_END&filters[0].value=ad",
                ListMode::List
            ),
            ListingPlan::Names {
                gram: "ada".into(),
                needle: "ada lovelace".into()
            }
        );
        // Two characters, or a negative pattern, cannot use it.
        assert!(matches!(chosen("fullName=ad", ListMode::Search), ListingPlan::Scan(_)));
        assert!(matches!(
            chosen(
                "filters[0].key=fullName&filters[0].op=NOT_MATCH&filters[0].value=ada",
                ListMode::List
            ),
            ListingPlan::Scan(_)
        ));
        // Key order where it serves, else a scan.
        assert!(matches!(
            chosen("online=true", ListMode::List),
            ListingPlan::KeyOrder(_)
        ));
        assert!(matches!(
            chosen("orderBy=offlineDate", ListMode::List),
            ListingPlan::Scan(_)
        ));
    }

    #[test]
    fn a_name_yields_every_folded_window_and_a_needle_starts_on_one() {
        let grams = name_grams("ÉLO Dé");
        assert_eq!(
            grams.iter().map(String::as_str).collect::<Vec<_>>(),
            ["lo ", "o d", "élo", " dé"]
                .iter()
                .copied()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        );
        assert!(name_grams("Al").is_empty());
        assert!(name_may_match("Élodie Dupont", "élodie"));
    }

    #[test]
    fn over_budget_names_what_to_change() {
        let query = |text: &str| {
            let mut query = parse_session_query(text, ListMode::List).expect("a valid query");
            query.read_budget = ReadBudget(1000);
            query
        };
        let deep = over_budget(&query("pageNo=200&pageSize=10"));
        assert_eq!(deep.field.as_deref(), Some("pageNo"));
        assert!(deep.msg.contains("pageToken"), "{}", deep.msg);
        assert_eq!(
            over_budget(&query("orderBy=fullName")).field.as_deref(),
            Some("orderBy")
        );
        let agent = "filters[0].key=userAgent&filters[0].op=MATCH&filters[0].value=Firefox";
        assert_eq!(over_budget(&query(agent)).field.as_deref(), Some("userAgent"));
        let meter = ReadMeter::new(ReadBudget(10));
        assert!(meter.take(10).is_ok());
        assert!(matches!(meter.take(1), Err(StoreError::ReadBudget(10))));
    }
}
