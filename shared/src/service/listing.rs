//! List and search: one use case, two modes (search matches string `EQUAL` as a substring, which
//! the query parser has already written into the filters). Pages are reached by `pageNo`, or by
//! the page token a previous page gave, which turns any page into a read of one page. A listing
//! that would read more than the configured budget of sessions is refused with a 400 that names
//! what to narrow (a `pageNo` too deep for its key order: follow the page token instead).

use super::App;
use crate::domain::access::{Caller, Permission};
use crate::domain::page_token;
use crate::domain::plan::over_budget;
use crate::domain::{ApiError, InfoScope, Position, Session, SessionQuery, StoreError};

/// One page of a listing, as the caller may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// Every match in scope, not only this page's.
    pub total: u64,
    pub sessions: Vec<Session>,
    /// How much of each session the caller asked to see.
    pub view: InfoScope,
    /// Where the next page starts, when there is one.
    pub next_page_token: Option<String>,
}

/// A page of the sessions in the caller's scope that match `query`.
pub async fn list(app: &App, caller: &Caller, mut query: SessionQuery) -> Result<Listing, ApiError> {
    caller.require(Permission::List)?;
    let scope = caller.scope(query.tenant_id)?;
    let key = app.config.page_token_key.as_ref();
    if let Some(token) = &query.page_token {
        query.after = Some(page_token::decode(key, &query, scope, token)?);
    }
    query.read_budget = app.config.list_read_budget;
    let page = match app.store.list_sessions(scope, &query).await {
        Err(StoreError::ReadBudget(_)) => return Err(over_budget(&query)),
        page => page?,
    };
    let next_page_token = match page.sessions.last() {
        Some(last) if page.more => Some(page_token::encode(
            key,
            &query,
            scope,
            Position::of(last, query.order_by),
        )),
        _ => None,
    };
    Ok(Listing {
        total: page.total,
        sessions: page.sessions,
        view: query.info_scope,
        next_page_token,
    })
}

/// [`list`] of a query parsed in search mode: the same reads, the same answer.
pub async fn search(app: &App, caller: &Caller, query: SessionQuery) -> Result<Listing, ApiError> {
    list(app, caller, query).await
}
