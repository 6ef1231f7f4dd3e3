//! List and search: one handler, two modes (search matches string `EQUAL` as a substring). Pages
//! are reached by `pageNo`, or by the `pageToken` a previous page gave in `ext.nextPageToken`.

use lambda_http::Request;
use serde::Serialize;

use super::{to_data, App, Done, Outcome};
use crate::auth::{authenticate, Permission};
use serde_json::value::RawValue;

use crate::domain::{InfoScope, Position, Session, SessionView};
use crate::error::ApiError;
use crate::page_token::{self, PageTokenKey};
use crate::query::{parse_session_query, ListMode};

/// `data` of a listing.
#[derive(Serialize)]
struct ListData<'a> {
    /// A string: int64 values travel as strings.
    total: String,
    list: Vec<SessionView<'a>>,
}

pub async fn list(app: &App, req: &Request, mode: ListMode) -> Outcome {
    let caller = authenticate(app.store.as_ref(), req.headers(), Permission::List).await?;
    let mut query = parse_session_query(req.uri().query().unwrap_or_default(), mode)?;
    let scope = caller.scope(query.tenant_id)?;
    let key = PageTokenKey::from_env();
    if let Some(token) = &query.page_token {
        query.after = Some(page_token::decode(key, &query, scope, token)?);
    }
    let page = app.store.list_sessions(scope, &query).await?;
    let next_page_token = match page.sessions.last() {
        Some(last) if page.more => Some(page_token::encode(
            key,
            &query,
            scope,
            Position::of(last, query.order_by),
        )),
        _ => None,
    };
    let data = page_data(page.total, &page.sessions, query.info_scope)?;
    Ok(Done {
        data,
        next_page_token,
        unfinished: None,
    })
}

/// A page's `data`: `total` and the sessions as `scope` shows them.
pub fn page_data(total: u64, sessions: &[Session], scope: InfoScope) -> Result<Box<RawValue>, ApiError> {
    to_data(ListData {
        total: total.to_string(),
        list: sessions.iter().map(|s| SessionView::new(s, scope)).collect(),
    })
}
