//! Reads the list/search query string into one typed [`SessionQuery`], refusing anything the
//! contract does not allow with a 400 that names the parameter and says what is allowed.
//!
//! It reads the raw query string (what API Gateway's HTTP API hands Lambda as `rawQueryString`,
//! and what lambda_http puts in the request URI), not the pre-split parameter map: that map joins
//! repeated parameters with commas, which would make `IN` values and commas in names ambiguous.
//!
//! Choices where the contract is silent:
//! - an empty optional parameter (`fullName=`) counts as absent, as admin consoles send empty
//!   form fields; an empty `filters[i].value` for an operator that needs one is a 400;
//! - a field parameter given twice is a 400 (use `filters[i]` with `IN` for several values);
//! - enum values (`orderSort`, `infoScope`, operators) are read without regard to case; parameter
//!   names and filter keys are exact;
//! - a value is at most [`MAX_VALUE_CHARS`] characters (each value of a comma-separated `IN` list);
//! - an RFC 3339 time whose `+` was not percent-encoded (it arrives as a space) is read as meant.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::domain::error::ApiError;
use crate::domain::filter::Arity;
use crate::domain::{
    Filter, FilterKey, FilterOp, FilterValue, InfoScope, OrderBy, OrderSort, Paging, SessionId, SessionQuery, TenantId,
    Timestamp, ValueType,
};

/// Which endpoint is asking: search matches string `EQUAL` as a case-insensitive substring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMode {
    List,
    Search,
}

/// Filters a query may carry, counting field parameters and `filters[i]` together.
pub const MAX_FILTERS: usize = 20;
/// Values an `IN`/`NOT_IN` filter may list.
pub const MAX_IN_VALUES: usize = 100;
/// Characters one value may have.
pub const MAX_VALUE_CHARS: usize = 512;
/// Characters a `pageToken` may have: it carries the last session's sort value (a name, say).
pub const MAX_PAGE_TOKEN_CHARS: usize = 4096;

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

/// The parts of one `filters[i]` as given.
#[derive(Default)]
struct RawFilter {
    key: Option<String>,
    op: Option<String>,
    values: Vec<String>,
}

/// Parses a raw (still percent-encoded) query string for the list or search endpoint.
pub fn parse_session_query(raw_query: &str, mode: ListMode) -> Result<SessionQuery, ApiError> {
    let mut fields: Vec<(FilterKey, String)> = Vec::new();
    let mut raw_filters: BTreeMap<usize, RawFilter> = BTreeMap::new();
    let mut others: BTreeMap<&'static str, String> = BTreeMap::new();

    for (name, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        if name.is_empty() {
            // Nothing to name as the field at fault but the query itself.
            return Err(ApiError::invalid(
                "query",
                format!("a query parameter has no name (`={value}`); every parameter is name=value"),
            ));
        }
        check_length(&name, &value)?;
        if let Some(key) = FIELD_PARAMETERS.into_iter().find(|k| k.name() == name) {
            if value.is_empty() {
                continue;
            }
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(ApiError::invalid(
                    name,
                    format!(
                        "`{}` may be given once; for several values use filters[i] with op IN",
                        key.name()
                    ),
                ));
            }
            fields.push((key, value.into_owned()));
        } else if let Some(other) = OTHER_PARAMETERS.into_iter().find(|p| *p == name) {
            if value.is_empty() {
                continue;
            }
            if others.insert(other, value.into_owned()).is_some() {
                return Err(ApiError::invalid(other, format!("`{other}` may be given once")));
            }
        } else if name.starts_with("filters[") {
            let (index, part) = filter_part(&name)?;
            let raw = raw_filters.entry(index).or_default();
            let slot = match part {
                FilterPart::Key => &mut raw.key,
                FilterPart::Op => &mut raw.op,
                FilterPart::Value => {
                    raw.values.push(value.into_owned());
                    continue;
                }
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(ApiError::invalid(
                    filter_field(index),
                    format!("`{name}` may be given once"),
                ));
            }
        } else {
            return Err(ApiError::invalid(
                name.as_ref(),
                format!(
                    "unknown query parameter `{name}`; allowed: {}, {}, filters[i].key, filters[i].op, filters[i].value",
                    FIELD_PARAMETERS.map(FilterKey::name).join(", "),
                    OTHER_PARAMETERS.join(", ")
                ),
            ));
        }
    }

    if fields.len() + raw_filters.len() > MAX_FILTERS {
        return Err(ApiError::invalid(
            "filters",
            format!("at most {MAX_FILTERS} filters, counting field parameters, may be given"),
        ));
    }

    // Checked on both endpoints; on search it can only confirm what search does anyway.
    let full_text_search = parse_bool_param(&others, "fullTextSearch")?.unwrap_or(false);
    let search = mode == ListMode::Search || full_text_search;
    let mut filters = Vec::with_capacity(fields.len() + raw_filters.len());
    for (key, value) in fields {
        let value = parse_value(key, &value).map_err(|why| ApiError::invalid(key.name(), why))?;
        filters.push(with_search(
            Filter {
                key,
                op: FilterOp::Equal,
                values: vec![value],
            },
            search,
        ));
    }
    for (index, raw) in raw_filters {
        filters.push(with_search(parse_filter(index, raw)?, search));
    }

    let paging = Paging {
        page_no: parse_bounded(&others, "pageNo", 1, Paging::MAX_PAGE_NO)?.unwrap_or(1),
        page_size: parse_bounded(&others, "pageSize", 1, Paging::MAX_PAGE_SIZE)?.unwrap_or(10),
    };
    let order_by = match others.get("orderBy") {
        None => OrderBy::default(),
        Some(text) => OrderBy::parse(text).ok_or_else(|| {
            ApiError::invalid(
                "orderBy",
                format!("orderBy must be one of {}", OrderBy::ALL.map(OrderBy::name).join(", ")),
            )
        })?,
    };
    let order_sort = match others.get("orderSort") {
        None => OrderSort::default(),
        Some(text) => {
            OrderSort::parse(text).ok_or_else(|| ApiError::invalid("orderSort", "orderSort must be ASC or DESC"))?
        }
    };
    let info_scope = match others.get("infoScope").map(|s| s.to_ascii_uppercase()).as_deref() {
        None | Some("BASIC") => InfoScope::Basic,
        Some("DETAIL") => InfoScope::Detail,
        Some(_) => return Err(ApiError::invalid("infoScope", "infoScope must be BASIC or DETAIL")),
    };
    let tenant_id = others.get("tenantId").map(|text| parse_tenant_id(text)).transpose()?;

    let page_token = others.get("pageToken").cloned();
    if page_token.is_some() && paging.page_no != 1 {
        return Err(ApiError::invalid(
            "pageNo",
            "pageNo may not be given with pageToken: the token says where the page starts",
        ));
    }

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

fn parse_tenant_id(text: &str) -> Result<TenantId, ApiError> {
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

fn check_length(name: &str, value: &str) -> Result<(), ApiError> {
    // An IN list may carry its values comma-separated in one parameter: each value is checked
    // on its own once split (see `parse_filter`); the whole list is bounded here.
    let is_filter_value = name.starts_with("filters[") && name.ends_with("].value");
    let limit = if is_filter_value {
        MAX_IN_VALUES * (MAX_VALUE_CHARS + 1)
    } else if name == "pageToken" {
        MAX_PAGE_TOKEN_CHARS
    } else {
        MAX_VALUE_CHARS
    };
    if value.chars().count() > limit {
        let field = match filter_part(name) {
            Ok((index, _)) => filter_field(index),
            Err(_) => name.to_owned(),
        };
        return Err(ApiError::invalid(
            field,
            format!("`{name}` is longer than {limit} characters"),
        ));
    }
    Ok(())
}

enum FilterPart {
    Key,
    Op,
    Value,
}

fn filter_field(index: usize) -> String {
    format!("filters[{index}]")
}

/// Splits `filters[i].part` into its index (0 to 19) and part.
fn filter_part(name: &str) -> Result<(usize, FilterPart), ApiError> {
    let malformed = || {
        ApiError::invalid(
            name,
            format!("unknown query parameter `{name}`; filters are given as filters[i].key, filters[i].op and filters[i].value with i from 0 to {}", MAX_FILTERS - 1),
        )
    };
    let rest = name.strip_prefix("filters[").ok_or_else(malformed)?;
    let (index, part) = rest.split_once("].").ok_or_else(malformed)?;
    if index.is_empty() || index.len() > 6 || !index.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let index: usize = index.parse().map_err(|_| malformed())?;
    let part = match part {
        "key" => FilterPart::Key,
        "op" => FilterPart::Op,
        "value" => FilterPart::Value,
        _ => return Err(malformed()),
    };
    if index >= MAX_FILTERS {
        return Err(ApiError::invalid(
            filter_field(index),
            format!(
                "filter index {index} is out of range: i goes from 0 to {}",
                MAX_FILTERS - 1
            ),
        ));
    }
    Ok((index, part))
}

fn parse_filter(index: usize, raw: RawFilter) -> Result<Filter, ApiError> {
    let field = filter_field(index);
    let invalid = |msg: String| ApiError::invalid(field.clone(), msg);
    let key_name = raw
        .key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| invalid(format!("{field}.key is missing")))?;
    let key = FilterKey::parse(&key_name).ok_or_else(|| {
        invalid(format!(
            "{field}.key `{key_name}` is not a filterable field; allowed: {}",
            FilterKey::ALL.map(FilterKey::name).join(", ")
        ))
    })?;
    let op_name = raw
        .op
        .filter(|o| !o.is_empty())
        .ok_or_else(|| invalid(format!("{field}.op is missing")))?;
    let allowed = || FilterOp::allowed_on(key.value_type()).join(", ");
    let op = FilterOp::parse(&op_name).ok_or_else(|| {
        invalid(format!(
            "{field}.op `{op_name}` is not an operator; on {} use {}",
            key.name(),
            allowed()
        ))
    })?;
    if !op.applies_to(key.value_type()) {
        return Err(invalid(format!(
            "{field}.op {} does not apply to {} ({}); use {}",
            op.name(),
            key.name(),
            key.value_type().describe(),
            allowed()
        )));
    }

    let given: Vec<String> = raw.values.into_iter().filter(|v| !v.is_empty()).collect();
    let texts: Vec<Cow<str>> = match op.arity() {
        Arity::None => {
            if !given.is_empty() {
                return Err(invalid(format!("{field}.value must not be given with {}", op.name())));
            }
            Vec::new()
        }
        Arity::One => match given.as_slice() {
            [] => {
                return Err(invalid(format!(
                    "{field}.value is missing; {} needs one value",
                    op.name()
                )))
            }
            [one] => vec![Cow::Borrowed(one.as_str())],
            _ => return Err(invalid(format!("{field}.value may be given once with {}", op.name()))),
        },
        Arity::Many => {
            let values: Vec<Cow<str>> = given
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(Cow::Borrowed)
                .collect();
            if values.is_empty() {
                return Err(invalid(format!(
                    "{field}.value is missing; {} needs at least one value",
                    op.name()
                )));
            }
            if values.len() > MAX_IN_VALUES {
                return Err(invalid(format!(
                    "{field}.value lists {} values; {} takes at most {MAX_IN_VALUES}",
                    values.len(),
                    op.name()
                )));
            }
            values
        }
    };
    if let Some(long) = texts.iter().find(|text| text.chars().count() > MAX_VALUE_CHARS) {
        let start: String = long.chars().take(16).collect();
        return Err(invalid(format!(
            "{field}.value `{start}…` is longer than {MAX_VALUE_CHARS} characters"
        )));
    }
    let values = texts
        .iter()
        .map(|text| parse_value(key, text).map_err(|why| invalid(format!("{field}.value `{text}` {why}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Filter { key, op, values })
}

/// Parses one value as `key`'s type; the error says what the type wants.
fn parse_value(key: FilterKey, text: &str) -> Result<FilterValue, String> {
    let wants = || {
        format!(
            "is not valid for {}: it must be {}",
            key.name(),
            key.value_type().describe()
        )
    };
    match key.value_type() {
        ValueType::Id => text.parse::<SessionId>().map(FilterValue::Id).map_err(|_| wants()),
        ValueType::Int64 => crate::domain::ids::parse_int64(text)
            .map(FilterValue::Int64)
            .map_err(|_| wants()),
        ValueType::String => Ok(FilterValue::String(text.to_owned())),
        ValueType::Bool => parse_bool(text).map(FilterValue::Bool).ok_or_else(wants),
        ValueType::Time => Timestamp::parse(text)
            .or_else(|bad| match text.rsplit_once(' ') {
                // An unescaped `+` of an RFC 3339 offset arrives as a space: read it as the `+`.
                Some((date_time, offset)) if date_time.contains('T') => {
                    Timestamp::parse(&format!("{date_time}+{offset}"))
                }
                _ => Err(bad),
            })
            .map(FilterValue::Time)
            .map_err(|_| wants()),
    }
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

fn parse_bool_param(others: &BTreeMap<&'static str, String>, name: &'static str) -> Result<Option<bool>, ApiError> {
    others
        .get(name)
        .map(|text| parse_bool(text).ok_or_else(|| ApiError::invalid(name, format!("{name} must be true or false"))))
        .transpose()
}

fn parse_bounded(
    others: &BTreeMap<&'static str, String>,
    name: &'static str,
    min: u32,
    max: u32,
) -> Result<Option<u32>, ApiError> {
    let Some(text) = others.get(name) else {
        return Ok(None);
    };
    let bad = || ApiError::invalid(name, format!("{name} must be an integer from {min} to {max}"));
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = text.parse().map_err(|_| bad())?;
    if n < u64::from(min) || n > u64::from(max) {
        return Err(bad());
    }
    Ok(Some(n as u32))
}
