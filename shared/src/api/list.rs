//! List and search: one handler, two modes (search matches string `EQUAL` as a substring).

use lambda_http::Request;
use serde::Serialize;

use super::{to_data, App, Outcome};
use crate::auth::{authenticate, Permission};
use crate::domain::SessionView;
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
    let query = parse_session_query(req.uri().query().unwrap_or_default(), mode)?;
    let scope = caller.scope(query.tenant_id)?;
    let page = app.store.list_sessions(scope, &query).await?;
    to_data(ListData {
        total: page.total.to_string(),
        list: page
            .sessions
            .iter()
            .map(|s| SessionView::new(s, query.info_scope))
            .collect(),
    })
}
