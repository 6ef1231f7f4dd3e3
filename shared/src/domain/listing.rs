//! A typed session listing (filters, order, page, view) and the one function that applies it to
//! a set of candidate sessions, so both stores answer a listing identically.

use std::cmp::Ordering;

use super::filter::{fold, Matcher};
use super::order::{compare, Position};
use super::{Filter, InfoScope, OrderBy, OrderSort, Paging, Session, TenantId};

/// A parsed list or search request. Search semantics are already folded into the filters by the
/// parser (a string `EQUAL` became `MATCH`), so stores never need to know which endpoint asked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionQuery {
    /// All must hold.
    pub filters: Vec<Filter>,
    pub order_by: OrderBy,
    pub order_sort: OrderSort,
    pub paging: Paging,
    pub info_scope: InfoScope,
    /// The tenant a platform caller narrowed to; checked against the caller by auth.
    pub tenant_id: Option<TenantId>,
    /// `pageToken` as given; the handler checks it and turns it into `after`.
    pub page_token: Option<String>,
    /// Start after this position instead of at the page's offset (a page token's cursor).
    pub after: Option<Position>,
    /// How many sessions the store may read to answer (the service sets it).
    pub read_budget: ReadBudget,
}

impl SessionQuery {
    /// Whether `session` passes every filter. To test many sessions, [`SessionQuery::matcher`].
    pub fn matches(&self, session: &Session) -> bool {
        self.matcher().matches(session)
    }

    /// The filters, ready to test many sessions.
    pub fn matcher(&self) -> Matcher<'_> {
        Matcher::new(&self.filters)
    }

    /// Whether `session` lies past the cursor, when there is one.
    pub fn is_after_cursor(&self, session: &Session) -> bool {
        self.after
            .as_ref()
            .is_none_or(|after| after.precedes(session, self.order_by, self.order_sort))
    }

    /// How many matches come before the page: none after a cursor, else the page's offset.
    pub fn skip(&self) -> usize {
        if self.after.is_some() {
            0
        } else {
            self.paging.offset()
        }
    }

    /// How many matches, from the first (after the cursor, if any), fill the page.
    pub fn end(&self) -> usize {
        self.skip() + self.paging.page_size as usize
    }
}

/// Sessions one listing may read at most, unless the query says otherwise: some 40 MB of items,
/// a few seconds of DynamoDB queries, well inside a function's memory and timeout.
pub const DEFAULT_READ_BUDGET: usize = 100_000;

/// How many sessions a listing may read ([`SessionQuery::read_budget`]); a listing that would
/// read more is refused ([`StoreError::ReadBudget`]) rather than run for its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadBudget(pub usize);

impl Default for ReadBudget {
    fn default() -> Self {
        ReadBudget(DEFAULT_READ_BUDGET)
    }
}

/// One page of a listing and the count of every match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionPage {
    /// Every match of the query's filters, wherever the page is.
    pub total: u64,
    pub sessions: Vec<Session>,
    /// Whether matches follow this page (a next page token is worth giving).
    pub more: bool,
}

/// Filters `candidates`, sorts the matches and cuts the requested page (see [`PageSelector`]).
pub fn select_page(candidates: impl IntoIterator<Item = Session>, query: &SessionQuery) -> SessionPage {
    let mut selector = PageSelector::new(query);
    candidates.into_iter().for_each(|session| selector.offer(session));
    selector.finish()
}

/// Builds one page of a listing from candidates offered one at a time, in any order: counts the
/// matches and keeps only what the page needs in order (a bounded selection, not a full sort), so
/// a deep page of a large tenant costs memory for one page-end of sessions, not the whole tenant,
/// and a store can offer each page of a query as it arrives.
pub struct PageSelector<'q> {
    query: &'q SessionQuery,
    matcher: Matcher<'q>,
    end: usize,
    total: u64,
    past_cursor: usize,
    kept: Vec<Kept>,
}

/// A session kept for the page, with its name folded once when the page is sorted by name (the
/// sort compares it many times).
struct Kept {
    folded_name: Option<String>,
    session: Session,
}

impl Kept {
    fn new(session: Session, by: OrderBy) -> Self {
        Kept {
            folded_name: (by == OrderBy::FullName).then(|| fold(&session.full_name)),
            session,
        }
    }

    /// [`compare`], with the folded names compared as they are.
    fn compare(&self, other: &Kept, by: OrderBy, sort: OrderSort) -> Ordering {
        match (&self.folded_name, &other.folded_name) {
            (Some(a), Some(b)) => {
                let ascending = a
                    .cmp(b)
                    .then_with(|| self.session.full_name.cmp(&other.session.full_name))
                    .then_with(|| self.session.id.cmp(&other.session.id));
                match sort {
                    OrderSort::Asc => ascending,
                    OrderSort::Desc => ascending.reverse(),
                }
            }
            _ => compare(&self.session, &other.session, by, sort),
        }
    }
}

impl<'q> PageSelector<'q> {
    pub fn new(query: &'q SessionQuery) -> Self {
        PageSelector {
            query,
            matcher: query.matcher(),
            end: query.end(),
            total: 0,
            past_cursor: 0,
            kept: Vec::new(),
        }
    }

    /// Counts `session` if it matches, and keeps it if it may be on the page.
    pub fn offer(&mut self, session: Session) {
        if !self.matcher.matches(&session) {
            return;
        }
        self.total += 1;
        if !self.query.is_after_cursor(&session) {
            return;
        }
        self.past_cursor += 1;
        self.kept.push(Kept::new(session, self.query.order_by));
        // Once twice the page end is held, drop everything past the page end.
        if self.kept.len() >= self.end.saturating_mul(2).max(64) {
            self.cut();
        }
    }

    /// Takes in what `other` (the same query, other candidates) has selected.
    pub fn merge(&mut self, other: PageSelector<'q>) {
        self.total += other.total;
        self.past_cursor += other.past_cursor;
        self.kept.extend(other.kept);
        if self.kept.len() >= self.end.saturating_mul(2).max(64) {
            self.cut();
        }
    }

    fn cut(&mut self) {
        let (by, sort) = (self.query.order_by, self.query.order_sort);
        self.kept.sort_unstable_by(|a, b| a.compare(b, by, sort));
        self.kept.truncate(self.end);
    }

    /// The page, and the count of every match offered.
    pub fn finish(mut self) -> SessionPage {
        self.cut();
        let sessions = self
            .kept
            .into_iter()
            .skip(self.query.skip())
            .map(|kept| kept.session)
            .collect();
        SessionPage {
            total: self.total,
            sessions,
            more: self.past_cursor > self.end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FilterKey, FilterOp, FilterValue, SessionId, Timestamp, UserId};

    fn session(n: i64, name: &str, offline: Option<i64>) -> Session {
        Session {
            id: SessionId::new_at(Timestamp::from_secs(1_700_000_000 + n)),
            tenant_id: TenantId(1),
            user_id: UserId(100 + n % 3),
            full_name: name.into(),
            avatar: None,
            user_agent: None,
            device_id: None,
            remote_address: None,
            connection_id: format!("c{n}"),
            online_date: Timestamp::from_secs(1_700_000_000 + n),
            offline_date: offline.map(Timestamp::from_secs),
            last_seen_date: Timestamp::from_secs(1_700_000_000 + n),
            offline_reason: None,
        }
    }

    fn names(page: &SessionPage) -> Vec<&str> {
        page.sessions.iter().map(|s| s.full_name.as_str()).collect()
    }

    #[test]
    fn newest_first_by_default_and_pages_cut_after_filtering() {
        let all: Vec<Session> = (0..25).map(|n| session(n, &format!("u{n}"), None)).collect();
        let mut query = SessionQuery {
            paging: Paging {
                page_no: 2,
                page_size: 10,
            },
            ..Default::default()
        };
        let page = select_page(all.clone(), &query);
        assert_eq!(page.total, 25);
        assert_eq!(names(&page), (5..15).rev().map(|n| format!("u{n}")).collect::<Vec<_>>());

        query.paging = Paging {
            page_no: 4,
            page_size: 10,
        };
        let past_the_end = select_page(all.clone(), &query);
        assert_eq!((past_the_end.total, past_the_end.sessions.len()), (25, 0));

        query.paging = Paging::default();
        query.filters = vec![Filter {
            key: FilterKey::UserId,
            op: FilterOp::Equal,
            values: vec![FilterValue::Int64(100)],
        }];
        assert_eq!(select_page(all, &query).total, 9);
    }

    #[test]
    fn nulls_sort_smallest_and_ties_break_on_id() {
        let all = vec![
            session(1, "b", Some(1_800_000_000)),
            session(2, "B", None),
            session(3, "a", None),
            session(4, "b", None),
        ];
        let query = SessionQuery {
            order_by: OrderBy::OfflineDate,
            order_sort: OrderSort::Asc,
            ..Default::default()
        };
        assert_eq!(names(&select_page(all.clone(), &query)), ["B", "a", "b", "b"]);
        let query = SessionQuery {
            order_by: OrderBy::FullName,
            order_sort: OrderSort::Asc,
            ..Default::default()
        };
        assert_eq!(names(&select_page(all.clone(), &query)), ["a", "B", "b", "b"]);
        let by_name_desc = select_page(
            all,
            &SessionQuery {
                order_by: OrderBy::FullName,
                ..Default::default()
            },
        );
        // Equal names: the newer id first when descending.
        assert_eq!(by_name_desc.sessions[0].connection_id, "c4");
        assert_eq!(by_name_desc.sessions[1].connection_id, "c1");
    }

    #[test]
    fn bounded_selection_equals_a_full_sort() {
        let all: Vec<Session> = (0..500)
            .map(|n| session((n * 7919) % 500, &format!("u{}", n % 37), None))
            .collect();
        for page_no in [1, 3, 17] {
            let query = SessionQuery {
                order_by: OrderBy::FullName,
                paging: Paging { page_no, page_size: 7 },
                ..Default::default()
            };
            let mut sorted = all.clone();
            sorted.sort_by(|a, b| compare(a, b, query.order_by, query.order_sort));
            let expected: Vec<_> = sorted.into_iter().skip(query.paging.offset()).take(7).collect();
            assert_eq!(select_page(all.clone(), &query).sessions, expected);
        }
    }
}
