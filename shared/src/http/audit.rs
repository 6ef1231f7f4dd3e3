//! `GET /api/v1/message/center/online/audit`: the audit trail of forced offlines. The query is read
//! as list reads its own (by the `query_reader` both share): `pageNo`, `pageSize`, `pageToken` (not
//! with a `pageNo` other than 1), `orderSort` (`ASC`/`DESC`, newest first by default), `orderBy`
//! (only `datetime`, the one order), `tenantId` (a platform caller's narrowing) and
//! `filters[i].key/op/value` on `operatorUserId` (`EQUAL`, `IN`), `targetType` (`EQUAL`, `IN`) and
//! `datetime` (`EQUAL`, `IN`, `GREATER_THAN`, `GREATER_THAN_EQUAL`, `LESS_THAN`,
//! `LESS_THAN_EQUAL`). Anything else is a 400 naming the parameter (`filters[i]` for a filter).
//!
//! Also here: where a request came from ([`request_origin`]), which the forced offline records.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::Serialize;

use super::envelope::{request_id, to_data};
use super::query::parse_tenant_id;
use super::query_reader::{parse_time, Parameters, QueryKey};
use super::{bearer_token, Done, Outcome};
use crate::domain::access::Permission;
use crate::domain::audit::{AuditFilter, AuditKey, AuditQuery, AuditRecord, RequestOrigin, TargetType};
use crate::domain::filter::Arity;
use crate::domain::{ApiError, FilterOp, FilterValue};
use crate::service::audit::list_audit;
use crate::service::auth::authorize;
use crate::service::App;

const PARAMETERS: [&str; 6] = ["pageNo", "pageSize", "pageToken", "orderBy", "orderSort", "tenantId"];

/// Characters of a user agent or an address the audit trail keeps (API Gateway passes headers of
/// up to 10 KB; a record stays small).
const MAX_ORIGIN_CHARS: usize = 512;

/// `data` of the audit listing.
#[derive(Serialize)]
struct AuditData<'a> {
    /// A string: int64 values travel as strings.
    total: String,
    list: &'a [AuditRecord],
}

/// The audit listing's handler.
pub(super) async fn audit(app: &App, req: &Request) -> Outcome {
    let caller = authorize(app.store.as_ref(), bearer_token(req.headers())?, Permission::Offline).await?;
    let query = parse_audit_query(req.uri().query().unwrap_or_default())?;
    let listing = list_audit(app, &caller, query).await?;
    Ok(Done {
        data: to_data(AuditData {
            total: listing.total.to_string(),
            list: &listing.records,
        })?,
        next_page_token: listing.next_page_token,
        unfinished: None,
    })
}

/// Where `req` came from: API Gateway's request id (the one the envelope answers with), the
/// caller's address (the HTTP API's `requestContext.http.sourceIp`, else the first address of
/// `X-Forwarded-For`) and its `User-Agent`, each cut to 512 characters.
pub fn request_origin(req: &Request) -> RequestOrigin {
    let context = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => Some(context),
        _ => None,
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let remote_address = context
        .and_then(|c| c.http.source_ip.as_deref())
        .filter(|ip| !ip.is_empty())
        .or_else(|| {
            header("x-forwarded-for")
                .and_then(|list| list.split(',').next())
                .map(str::trim)
        })
        .filter(|ip| !ip.is_empty());
    let user_agent = header("user-agent").or_else(|| context.and_then(|c| c.http.user_agent.as_deref()));
    let cut = |text: &str| text.chars().take(MAX_ORIGIN_CHARS).collect::<String>();
    RequestOrigin {
        request_id: request_id(req),
        remote_address: remote_address.map(cut),
        user_agent: user_agent.map(cut),
    }
}

/// Parses the audit listing's raw (still percent-encoded) query string.
pub fn parse_audit_query(raw_query: &str) -> Result<AuditQuery, ApiError> {
    let query = Parameters::<AuditKey>::read(raw_query, &[], &PARAMETERS)?;
    let filters = query
        .filters()?
        .into_iter()
        .map(|(key, op, values)| AuditFilter { key, op, values })
        .collect();
    let paging = query.paging()?;
    if query.get("orderBy").is_some_and(|order_by| order_by != "datetime") {
        return Err(ApiError::invalid(
            "orderBy",
            "orderBy must be datetime: audit records are sorted by time (then id)",
        ));
    }
    let order_sort = query.order_sort()?;
    let tenant_id = query.get("tenantId").map(parse_tenant_id).transpose()?;
    let page_token = query.page_token(paging)?;
    Ok(AuditQuery {
        filters,
        order_sort,
        paging,
        tenant_id,
        page_token,
        after: None,
        read_budget: Default::default(),
    })
}

/// The audit records' filter keys: `EQUAL` and `IN` on each, comparisons on `datetime`.
impl QueryKey for AuditKey {
    const KEYS: &'static [AuditKey] = &AuditKey::ALL;
    const KIND: &'static str = "a filterable field of audit records";
    // The audit trail's own wording: a long value is not quoted, and an operator "needs a value".
    const QUOTES_LONG_VALUES: bool = false;

    fn name(self) -> &'static str {
        AuditKey::name(self)
    }

    fn op(self, name: &str) -> Result<FilterOp, String> {
        FilterOp::parse(name).filter(|op| self.allows(*op)).ok_or_else(|| {
            format!(
                "`{name}` does not apply to {}; use {}",
                self.name(),
                self.allowed().join(", ")
            )
        })
    }

    fn value(self, text: &str) -> Result<FilterValue, String> {
        let value = match self {
            AuditKey::OperatorUserId => crate::domain::ids::parse_int64(text).ok().map(FilterValue::Int64),
            AuditKey::TargetType => TargetType::parse(text).map(|t| FilterValue::String(t.as_str().to_owned())),
            AuditKey::Datetime => parse_time(text).ok().map(FilterValue::Time),
        };
        value.ok_or_else(|| format!("is not valid for {}: it must be {}", self.name(), self.describe()))
    }

    fn needs(_: Arity) -> &'static str {
        "a value"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrderSort, Timestamp};

    fn field_of(raw: &str) -> String {
        parse_audit_query(raw).unwrap_err().field.unwrap()
    }

    #[test]
    fn reads_paging_order_tenant_and_every_allowed_filter() {
        let query = parse_audit_query(
            "pageNo=2&pageSize=5&orderSort=asc&tenantId=7\
             &filters[0].key=operatorUserId&filters[0].op=IN&filters[0].value=1001,1002\
             &filters[1].key=targetType&filters[1].op=equal&filters[1].value=tenant\
             &filters[2].key=datetime&filters[2].op=GREATER_THAN_EQUAL&filters[2].value=2026-11-28%2010:00:00",
        )
        .unwrap();
        assert_eq!((query.paging.page_no, query.paging.page_size), (2, 5));
        assert_eq!(query.order_sort, OrderSort::Asc);
        assert_eq!(query.tenant_id.map(|t| t.get()), Some(7));
        assert_eq!(
            query.filters,
            vec![
                AuditFilter {
                    key: AuditKey::OperatorUserId,
                    op: FilterOp::In,
                    values: vec![FilterValue::Int64(1001), FilterValue::Int64(1002)],
                },
                AuditFilter {
                    key: AuditKey::TargetType,
                    op: FilterOp::Equal,
                    values: vec![FilterValue::String("TENANT".into())],
                },
                AuditFilter {
                    key: AuditKey::Datetime,
                    op: FilterOp::GreaterThanEqual,
                    values: vec![FilterValue::Time(Timestamp::from_secs(1_795_860_000))],
                },
            ]
        );
        assert_eq!(parse_audit_query("").unwrap(), AuditQuery::default());
    }

    #[test]
    fn bad_input_is_a_400_naming_the_field() {
        for (raw, field) in [
            ("pageSize=0", "pageSize"),
            ("pageNo=x", "pageNo"),
            ("orderSort=UP", "orderSort"),
            ("orderBy=id", "orderBy"),
            ("tenantId=-1", "tenantId"),
            ("online=true", "online"),
            ("pageNo=2&pageToken=abc", "pageNo"),
            (
                "filters[0].key=userId&filters[0].op=EQUAL&filters[0].value=1",
                "filters[0]",
            ),
            (
                "filters[1].key=operatorUserId&filters[1].op=GREATER_THAN&filters[1].value=1",
                "filters[1]",
            ),
            (
                "filters[0].key=operatorUserId&filters[0].op=EQUAL&filters[0].value=abc",
                "filters[0]",
            ),
            (
                "filters[0].key=targetType&filters[0].op=EQUAL&filters[0].value=GROUP",
                "filters[0]",
            ),
            (
                "filters[0].key=datetime&filters[0].op=LESS_THAN&filters[0].value=yesterday",
                "filters[0]",
            ),
            ("filters[0].key=datetime&filters[0].op=LESS_THAN", "filters[0]"),
            (
                "filters[0].key=targetType&filters[0].op=MATCH&filters[0].value=USER",
                "filters[0]",
            ),
            ("filters[0].op=EQUAL&filters[0].value=1", "filters[0]"),
            ("filters[20].key=datetime", "filters[20]"),
            ("pageSize=1&pageSize=2", "pageSize"),
        ] {
            assert_eq!(field_of(raw), field, "{raw}");
        }
    }
}
