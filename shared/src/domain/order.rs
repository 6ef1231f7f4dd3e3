//! Ordering and paging of session lists: the sort fields callers may use, ties broken on `id`,
//! null as the smallest value, and the page cut.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::filter::fold;
use super::{FilterKey, Session, SessionId, Timestamp};

/// A field a list may be sorted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderBy {
    #[default]
    Id,
    UserId,
    FullName,
    OnlineDate,
    OfflineDate,
}

impl OrderBy {
    pub const ALL: [OrderBy; 5] = [
        OrderBy::Id,
        OrderBy::UserId,
        OrderBy::FullName,
        OrderBy::OnlineDate,
        OrderBy::OfflineDate,
    ];

    pub fn name(self) -> &'static str {
        self.key().name()
    }

    pub fn parse(name: &str) -> Option<Self> {
        OrderBy::ALL.into_iter().find(|o| o.name() == name)
    }

    fn key(self) -> FilterKey {
        match self {
            OrderBy::Id => FilterKey::Id,
            OrderBy::UserId => FilterKey::UserId,
            OrderBy::FullName => FilterKey::FullName,
            OrderBy::OnlineDate => FilterKey::OnlineDate,
            OrderBy::OfflineDate => FilterKey::OfflineDate,
        }
    }
}

/// Sort direction; newest first by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderSort {
    Asc,
    #[default]
    Desc,
}

impl OrderSort {
    /// `ASC`/`DESC`, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("ASC") {
            Some(OrderSort::Asc)
        } else if text.eq_ignore_ascii_case("DESC") {
            Some(OrderSort::Desc)
        } else {
            None
        }
    }
}

/// A session's value for the field a list is sorted on, ordered as [`compare`] orders it (null
/// smallest; names by [`name_order`]). With the session id it is a
/// position in the list, which is what a page token remembers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SortKey {
    /// `orderBy=id`: the id alone.
    Id,
    UserId(i64),
    FullName(Name),
    OnlineDate(i64),
    /// `None` (still online) sorts first.
    OfflineDate(Option<i64>),
}

impl SortKey {
    pub fn of(session: &Session, by: OrderBy) -> SortKey {
        match by {
            OrderBy::Id => SortKey::Id,
            OrderBy::UserId => SortKey::UserId(session.user_id.get()),
            OrderBy::FullName => SortKey::FullName(Name(session.full_name.clone())),
            OrderBy::OnlineDate => SortKey::OnlineDate(session.online_date.millis()),
            OrderBy::OfflineDate => SortKey::OfflineDate(session.offline_date.map(Timestamp::millis)),
        }
    }
}

/// A full name as lists order names (see [`name_order`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Name(pub String);

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        name_order(&self.0, &other.0)
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Names sort without regard to case first (folded as [`fold`] folds), then exactly, so the
/// order is total.
fn name_order(a: &str, b: &str) -> Ordering {
    fold(a).cmp(&fold(b)).then_with(|| a.cmp(b))
}

/// Where a session stands in a list: its sort key, then its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub key: SortKey,
    pub id: SessionId,
}

impl Position {
    pub fn of(session: &Session, by: OrderBy) -> Position {
        Position {
            key: SortKey::of(session, by),
            id: session.id,
        }
    }

    /// Whether `session` comes after this position in a list sorted by `by` and `sort`.
    pub fn precedes(&self, session: &Session, by: OrderBy, sort: OrderSort) -> bool {
        let ascending = (&self.key, self.id).cmp(&(&SortKey::of(session, by), session.id));
        match sort {
            OrderSort::Asc => ascending == Ordering::Less,
            OrderSort::Desc => ascending == Ordering::Greater,
        }
    }
}

/// The order of two sessions for `by` and `sort`: on the field (see [`SortKey`]), then on `id`;
/// `DESC` reverses the whole order.
pub fn compare(a: &Session, b: &Session, by: OrderBy, sort: OrderSort) -> Ordering {
    let on_field = match by {
        OrderBy::Id => Ordering::Equal,
        OrderBy::UserId => a.user_id.cmp(&b.user_id),
        OrderBy::FullName => name_order(&a.full_name, &b.full_name),
        OrderBy::OnlineDate => a.online_date.cmp(&b.online_date),
        // `Option` orders `None` first: null is the smallest value.
        OrderBy::OfflineDate => a.offline_date.cmp(&b.offline_date),
    };
    let ascending = on_field.then_with(|| a.id.cmp(&b.id));
    match sort {
        OrderSort::Asc => ascending,
        OrderSort::Desc => ascending.reverse(),
    }
}

/// Which page to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based.
    pub page_no: u32,
    pub page_size: u32,
}

impl Paging {
    pub const MAX_PAGE_NO: u32 = 100_000;
    pub const MAX_PAGE_SIZE: u32 = 2_000;

    /// How many matches come before this page.
    pub fn offset(self) -> usize {
        (self.page_no as usize - 1) * self.page_size as usize
    }

    /// How many matches must be seen, from the first, to fill this page.
    pub fn end(self) -> usize {
        self.offset() + self.page_size as usize
    }
}

impl Default for Paging {
    fn default() -> Self {
        Paging {
            page_no: 1,
            page_size: 10,
        }
    }
}
