//! The audit trail of forced offlines, read: a page of the records the caller may see. Reading
//! it takes `message:center:offline` (who may force users offline may see who did), and the
//! tenancy of every listing: a tenant's caller sees its own tenant's records, a platform caller
//! every tenant's, narrowed by `tenantId` when given. Records are written by
//! [`super::offline::force_offline`] and deleted past `AUDIT_RETENTION_DAYS` by
//! [`super::cleanup`].
//!
//! What a page reads: the records of the scope within the time range of the `datetime` filters
//! (every page, as `total` counts every match), at most `LIST_READ_BUDGET` of them; past that the
//! call is a 400 on `filters` that asks for a narrower `datetime` range. A page token saves the
//! sorting of what precedes the page, not its reading: audit records come at the pace of
//! administrators' actions, so a year of them is a few thousand items.

use super::App;
use crate::domain::access::{Caller, Permission};
use crate::domain::audit::{select_audit_page, AuditQuery, AuditRecord};
use crate::domain::{ApiError, StoreError};

/// One page of the audit trail, as the caller may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditListing {
    /// Every match in scope, not only this page's.
    pub total: u64,
    pub records: Vec<AuditRecord>,
    /// Where the next page starts, when there is one.
    pub next_page_token: Option<String>,
}

/// A page of the audit records in the caller's scope that match `query`.
pub async fn list_audit(app: &App, caller: &Caller, mut query: AuditQuery) -> Result<AuditListing, ApiError> {
    caller.require(Permission::Offline)?;
    let scope = caller.scope(query.tenant_id)?;
    let key = app.config.page_token_key.as_ref();
    query.resolve_page_token(key, scope)?;
    query.read_budget = app.config.list_read_budget;
    let records = match app
        .store
        .audit_records(scope, query.time_range(), query.read_budget)
        .await
    {
        Err(StoreError::ReadBudget(budget)) => {
            return Err(ApiError::invalid(
                "filters",
                format!(
                    "This listing would read more than {budget} audit records; narrow it with a datetime \
                     filter (filters[i].key=datetime with GREATER_THAN_EQUAL and LESS_THAN)."
                ),
            ))
        }
        records => records?,
    };
    let page = select_audit_page(records, &query);
    let next_page_token = match page.records.last() {
        Some(last) if page.more => Some(query.next_page_token(key, scope, last)),
        _ => None,
    };
    Ok(AuditListing {
        total: page.total,
        records: page.records,
        next_page_token,
    })
}
