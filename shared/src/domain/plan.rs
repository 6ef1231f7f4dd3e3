//! Which listings a store can read in key order, page by page, instead of reading a tenant whole.
//!
//! Session ids are ULIDs minted from the session's `onlineDate` (see [`SessionId::new_at`]), so a
//! tenant's sessions in id order are also in `onlineDate` order, and a bound on either field is a
//! range of ids. A listing sorted on `id` or `onlineDate` whose filters are such bounds (and
//! `online`) is read straight from a key-ordered index, about `pageNo x pageSize` items; its
//! `total` comes from the counters kept by the writes, or from a count of the id range.

use super::filter::FilterValue;
use super::{Filter, FilterKey, FilterOp, OrderBy, OrderSort, SessionId, SessionQuery, Timestamp};

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
}
