//! Reads the list/search query string into one typed [`SessionQuery`], refusing anything the
//! contract does not allow with a 400 that names the parameter and says what is allowed.
//!
//! This module says what list and search accept; `query_reader` reads the raw query string
//! as it does for the audit trail.
//!
//! Choices where the contract is silent:
//! - an empty optional parameter (`fullName=`) counts as absent, as admin consoles send empty
//!   form fields; an empty `filters[i].value` for an operator that needs one is a 400;
//! - a field parameter given twice is a 400 (use `filters[i]` with `IN` for several values);
//! - enum values (`orderSort`, `infoScope`, operators) are read without regard to case; parameter
//!   names and filter keys are exact;
//! - a value is at most [`MAX_VALUE_CHARS`] characters (each value of a comma-separated `IN` list);
//! - an RFC 3339 time whose `+` was not percent-encoded (it arrives as a space) is read as meant.

use super::query_reader::{parse_time, Parameters, QueryKey};
use crate::domain::error::ApiError;
use crate::domain::{
    Filter, FilterKey, FilterOp, FilterValue, InfoScope, OrderBy, SessionId, SessionQuery, TenantId, ValueType,
};

pub use super::query_reader::{MAX_FILTERS, MAX_IN_VALUES, MAX_PAGE_TOKEN_CHARS, MAX_VALUE_CHARS};

/// Which endpoint is asking: search matches string `EQUAL` as a case-insensitive substring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMode {
    List,
    Search,
}

/// The field parameters: each is an `EQUAL` filter on its field.
const FIELD_PARAMETERS: [FilterKey; 7] = [
    FilterKey::UserId,
    FilterKey::FullName,
    FilterKey::DeviceId,
    FilterKey::RemoteAddress,
    FilterKey::Online,
    FilterKey::OnlineDate,
    FilterKey::OfflineDate,
];

const OTHER_PARAMETERS: [&str; 8] = [
    "pageNo",
    "pageSize",
    "pageToken",
    "orderBy",
    "orderSort",
    "infoScope",
    "fullTextSearch",
    "tenantId",
];

/// Parses a raw (still percent-encoded) query string for the list or search endpoint.
pub fn parse_session_query(raw_query: &str, mode: ListMode) -> Result<SessionQuery, ApiError> {
    let query = Parameters::read(raw_query, &FIELD_PARAMETERS, &OTHER_PARAMETERS)?;

    // Checked on both endpoints; on search it can only confirm what search does anyway.
    let full_text_search = parse_bool_param(&query, "fullTextSearch")?.unwrap_or(false);
    let search = mode == ListMode::Search || full_text_search;
    let mut filters = Vec::with_capacity(query.fields.len());
    for (key, value) in &query.fields {
        let value = key.value(value).map_err(|why| ApiError::invalid(key.name(), why))?;
        filters.push(with_search(
            Filter {
                key: *key,
                op: FilterOp::Equal,
                values: vec![value],
            },
            search,
        ));
    }
    for (key, op, values) in query.filters()? {
        filters.push(with_search(Filter { key, op, values }, search));
    }

    let paging = query.paging()?;
    let order_by = match query.get("orderBy") {
        None => OrderBy::default(),
        Some(text) => OrderBy::parse(text).ok_or_else(|| {
            ApiError::invalid(
                "orderBy",
                format!("orderBy must be one of {}", OrderBy::ALL.map(OrderBy::name).join(", ")),
            )
        })?,
    };
    let order_sort = query.order_sort()?;
    let info_scope = match query.get("infoScope").map(|s| s.to_ascii_uppercase()).as_deref() {
        None | Some("BASIC") => InfoScope::Basic,
        Some("DETAIL") => InfoScope::Detail,
        Some(_) => return Err(ApiError::invalid("infoScope", "infoScope must be BASIC or DETAIL")),
    };
    let tenant_id = query.get("tenantId").map(parse_tenant_id).transpose()?;
    let page_token = query.page_token(paging)?;

    Ok(SessionQuery {
        filters,
        order_by,
        order_sort,
        paging,
        info_scope,
        tenant_id,
        page_token,
        after: None,
        read_budget: Default::default(),
    })
}

/// The sessions' filter keys: each operator applies to the keys of the types it compares.
impl QueryKey for FilterKey {
    const KEYS: &'static [FilterKey] = &FilterKey::ALL;
    const KIND: &'static str = "a filterable field";

    fn name(self) -> &'static str {
        FilterKey::name(self)
    }

    fn op(self, name: &str) -> Result<FilterOp, String> {
        let allowed = || FilterOp::allowed_on(self.value_type()).join(", ");
        let op = FilterOp::parse(name)
            .ok_or_else(|| format!("`{name}` is not an operator; on {} use {}", self.name(), allowed()))?;
        if !op.applies_to(self.value_type()) {
            return Err(format!(
                "{} does not apply to {} ({}); use {}",
                op.name(),
                self.name(),
                self.value_type().describe(),
                allowed()
            ));
        }
        Ok(op)
    }

    /// Parses one value as this key's type; the error says what the type wants.
    fn value(self, text: &str) -> Result<FilterValue, String> {
        let wants = || {
            format!(
                "is not valid for {}: it must be {}",
                self.name(),
                self.value_type().describe()
            )
        };
        match self.value_type() {
            ValueType::Id => text.parse::<SessionId>().map(FilterValue::Id).map_err(|_| wants()),
            ValueType::Int64 => crate::domain::ids::parse_int64(text)
                .map(FilterValue::Int64)
                .map_err(|_| wants()),
            ValueType::String => Ok(FilterValue::String(text.to_owned())),
            ValueType::Bool => parse_bool(text).map(FilterValue::Bool).ok_or_else(wants),
            ValueType::Time => parse_time(text).map(FilterValue::Time).map_err(|_| wants()),
        }
    }
}

/// A `tenantId` given as text (a query parameter, or a WebSocket message's member).
pub fn parse_tenant_id(text: &str) -> Result<TenantId, ApiError> {
    parse_positive_id(text)
        .map(TenantId)
        .ok_or_else(|| ApiError::invalid("tenantId", "tenantId must be a positive int64 of decimal digits"))
}

/// The `tenantId` parameter of an endpoint that reads no other parameter (detail, forced
/// offline): the contract's tenancy rule holds on every HTTP endpoint, so a caller that is not
/// platform may not name another tenant there either. Empty counts as absent; twice is a 400.
pub fn tenant_id_parameter(raw_query: &str) -> Result<Option<TenantId>, ApiError> {
    let mut given =
        form_urlencoded::parse(raw_query.as_bytes()).filter(|(name, value)| name == "tenantId" && !value.is_empty());
    let tenant = given.next().map(|(_, text)| parse_tenant_id(&text)).transpose()?;
    if given.next().is_some() {
        return Err(ApiError::invalid("tenantId", "tenantId may be given once."));
    }
    Ok(tenant)
}

/// Parses a positive int64 (an id in a path or parameter).
pub fn parse_positive_id(text: &str) -> Option<i64> {
    crate::domain::ids::parse_int64(text).ok().filter(|n| *n > 0)
}

/// Search semantics: on the string fields, `EQUAL` is a case-insensitive substring match.
fn with_search(mut filter: Filter, search: bool) -> Filter {
    if search && filter.op == FilterOp::Equal && filter.key.value_type() == ValueType::String {
        filter.op = FilterOp::Match;
    }
    filter
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_bool_param(query: &Parameters<FilterKey>, name: &'static str) -> Result<Option<bool>, ApiError> {
    query
        .get(name)
        .map(|text| parse_bool(text).ok_or_else(|| ApiError::invalid(name, format!("{name} must be true or false"))))
        .transpose()
}
