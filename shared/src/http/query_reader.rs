//! How a query string that carries filters is read, for every endpoint that takes one: list and
//! search ([`super::query`]) and the audit trail ([`super::audit`]) each only describe what they
//! accept (their filter keys as a [`QueryKey`], their field and other parameters), so both check
//! names, repeats, lengths, `filters[i]` and paging alike, with the same 400s naming the parameter.
//!
//! It reads the raw query string (what API Gateway's HTTP API hands Lambda as `rawQueryString`,
//! and what lambda_http puts in the request URI), not the pre-split parameter map: that map joins
//! repeated parameters with commas, which would make `IN` values and commas in names ambiguous.

use std::collections::BTreeMap;

use crate::domain::error::ApiError;
use crate::domain::filter::Arity;
use crate::domain::{FilterOp, FilterValue, OrderSort, Paging, Timestamp};

/// Filters a query may carry, counting field parameters and `filters[i]` together.
pub const MAX_FILTERS: usize = 20;
/// Values an `IN`/`NOT_IN` filter may list.
pub const MAX_IN_VALUES: usize = 100;
/// Characters one value may have.
pub const MAX_VALUE_CHARS: usize = 512;
/// Characters a `pageToken` may have: it carries the last session's sort value (a name, say).
pub const MAX_PAGE_TOKEN_CHARS: usize = 4096;

/// One endpoint's filter keys: their names, the operators each takes and how a value of each is
/// read. The errors are what a 400 says after `filters[i].op ` or ``filters[i].value `text` ``.
pub(crate) trait QueryKey: Copy + Eq + 'static {
    /// Every key, in the order a message lists them.
    const KEYS: &'static [Self];
    /// What a key is, in ``filters[i].key `x` is not {KIND}; allowed: …``.
    const KIND: &'static str;
    /// Whether the 400 for a value over [`MAX_VALUE_CHARS`] quotes its start.
    const QUOTES_LONG_VALUES: bool = true;

    fn name(self) -> &'static str;

    /// The operator named `name` (in any case) where it applies to this key.
    fn op(self, name: &str) -> Result<FilterOp, String>;

    /// `text` as a value of this key.
    fn value(self, text: &str) -> Result<FilterValue, String>;

    /// What an operator of `arity` needs, in `filters[i].value is missing; IN needs …`.
    fn needs(arity: Arity) -> &'static str {
        match arity {
            Arity::Many => "at least one value",
            _ => "one value",
        }
    }
}

/// A query string's parameters, checked for their names, lengths and repeats and for the number
/// of filters; the methods read each as its type, in the order the endpoint checks them.
pub(crate) struct Parameters<K> {
    /// The field parameters given (`userId=1001`), each an `EQUAL` filter on its key.
    pub fields: Vec<(K, String)>,
    filters: BTreeMap<usize, RawFilter>,
    others: BTreeMap<&'static str, String>,
}

/// The parts of one `filters[i]` as given.
#[derive(Default)]
struct RawFilter {
    key: Option<String>,
    op: Option<String>,
    values: Vec<String>,
}

impl<K: QueryKey> Parameters<K> {
    /// Reads a raw (still percent-encoded) query string whose field parameters are `fields` and
    /// whose other parameters are `others`; an empty one counts as absent.
    pub fn read(raw_query: &str, fields: &[K], others: &[&'static str]) -> Result<Self, ApiError> {
        let mut read = Parameters {
            fields: Vec::new(),
            filters: BTreeMap::new(),
            others: BTreeMap::new(),
        };
        for (name, value) in form_urlencoded::parse(raw_query.as_bytes()) {
            if name.is_empty() {
                // Nothing to name as the field at fault but the query itself.
                return Err(ApiError::invalid(
                    "query",
                    format!("a query parameter has no name (`={value}`); every parameter is name=value"),
                ));
            }
            check_length(&name, &value)?;
            if let Some(key) = fields.iter().copied().find(|k| k.name() == name) {
                if value.is_empty() {
                    continue;
                }
                if read.fields.iter().any(|(k, _)| *k == key) {
                    return Err(ApiError::invalid(
                        name,
                        format!(
                            "`{}` may be given once; for several values use filters[i] with op IN",
                            key.name()
                        ),
                    ));
                }
                read.fields.push((key, value.into_owned()));
            } else if let Some(other) = others.iter().copied().find(|p| *p == name) {
                if value.is_empty() {
                    continue;
                }
                if read.others.insert(other, value.into_owned()).is_some() {
                    return Err(ApiError::invalid(other, format!("`{other}` may be given once")));
                }
            } else if name.starts_with("filters[") {
                let (index, part) = filter_part(&name)?;
                let raw = read.filters.entry(index).or_default();
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
                let allowed: Vec<&str> = fields.iter().map(|k| k.name()).chain(others.iter().copied()).collect();
                return Err(ApiError::invalid(
                    name.as_ref(),
                    format!(
                        "unknown query parameter `{name}`; allowed: {}, filters[i].key, filters[i].op, filters[i].value",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        if read.fields.len() + read.filters.len() > MAX_FILTERS {
            let counting = if fields.is_empty() {
                ""
            } else {
                ", counting field parameters,"
            };
            return Err(ApiError::invalid(
                "filters",
                format!("at most {MAX_FILTERS} filters{counting} may be given"),
            ));
        }
        Ok(read)
    }

    /// The value of one of the other parameters, when given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.others.get(name).map(String::as_str)
    }

    /// Each `filters[i]`, by index, as its key, operator and values.
    pub fn filters(&self) -> Result<Vec<(K, FilterOp, Vec<FilterValue>)>, ApiError> {
        self.filters
            .iter()
            .map(|(index, raw)| read_filter(*index, raw))
            .collect()
    }

    /// `pageNo` (from 1) and `pageSize` (10 unless given).
    pub fn paging(&self) -> Result<Paging, ApiError> {
        Ok(Paging {
            page_no: self.bounded("pageNo", 1, Paging::MAX_PAGE_NO)?.unwrap_or(1),
            page_size: self.bounded("pageSize", 1, Paging::MAX_PAGE_SIZE)?.unwrap_or(10),
        })
    }

    /// `orderSort`: `ASC` or `DESC`, in any case.
    pub fn order_sort(&self) -> Result<OrderSort, ApiError> {
        match self.get("orderSort") {
            None => Ok(OrderSort::default()),
            Some(text) => {
                OrderSort::parse(text).ok_or_else(|| ApiError::invalid("orderSort", "orderSort must be ASC or DESC"))
            }
        }
    }

    /// `pageToken`, which says where the page starts: `paging` may not name another page.
    pub fn page_token(&self, paging: Paging) -> Result<Option<String>, ApiError> {
        let page_token = self.get("pageToken").map(str::to_owned);
        if page_token.is_some() && paging.page_no != 1 {
            return Err(ApiError::invalid(
                "pageNo",
                "pageNo may not be given with pageToken: the token says where the page starts",
            ));
        }
        Ok(page_token)
    }

    fn bounded(&self, name: &'static str, min: u32, max: u32) -> Result<Option<u32>, ApiError> {
        let Some(text) = self.get(name) else {
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
}

/// 400 when `value` of the parameter `name` is longer than its kind allows.
fn check_length(name: &str, value: &str) -> Result<(), ApiError> {
    // An IN list may carry its values comma-separated in one parameter: each value is checked
    // on its own once split (see `read_filter`); the whole list is bounded here.
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

/// Reads one `filters[i]`: its key, its operator, and as many values as the operator takes
/// (those of `IN` may also come comma-separated).
fn read_filter<K: QueryKey>(index: usize, raw: &RawFilter) -> Result<(K, FilterOp, Vec<FilterValue>), ApiError> {
    let field = filter_field(index);
    let invalid = |msg: String| ApiError::invalid(field.clone(), msg);
    let key_name = raw
        .key
        .as_deref()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| invalid(format!("{field}.key is missing")))?;
    let key = K::KEYS.iter().copied().find(|k| k.name() == key_name).ok_or_else(|| {
        let allowed: Vec<&str> = K::KEYS.iter().map(|k| k.name()).collect();
        invalid(format!(
            "{field}.key `{key_name}` is not {}; allowed: {}",
            K::KIND,
            allowed.join(", ")
        ))
    })?;
    let op_name = raw
        .op
        .as_deref()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| invalid(format!("{field}.op is missing")))?;
    let op = key.op(op_name).map_err(|why| invalid(format!("{field}.op {why}")))?;

    let given: Vec<&str> = raw
        .values
        .iter()
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .collect();
    let texts: Vec<&str> = match op.arity() {
        Arity::None if !given.is_empty() => {
            return Err(invalid(format!("{field}.value must not be given with {}", op.name())));
        }
        Arity::One if given.len() > 1 => {
            return Err(invalid(format!("{field}.value may be given once with {}", op.name())));
        }
        Arity::None | Arity::One => given,
        Arity::Many => given
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect(),
    };
    if texts.is_empty() && op.arity() != Arity::None {
        return Err(invalid(format!(
            "{field}.value is missing; {} needs {}",
            op.name(),
            K::needs(op.arity())
        )));
    }
    if texts.len() > MAX_IN_VALUES {
        return Err(invalid(format!(
            "{field}.value lists {} values; {} takes at most {MAX_IN_VALUES}",
            texts.len(),
            op.name()
        )));
    }
    if let Some(long) = texts.iter().find(|text| text.chars().count() > MAX_VALUE_CHARS) {
        let start = match K::QUOTES_LONG_VALUES {
            true => format!(" `{}…`", long.chars().take(16).collect::<String>()),
            false => String::new(),
        };
        return Err(invalid(format!(
            "{field}.value{start} is longer than {MAX_VALUE_CHARS} characters"
        )));
    }
    let values = texts
        .iter()
        .map(|text| {
            key.value(text)
                .map_err(|why| invalid(format!("{field}.value `{text}` {why}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((key, op, values))
}

/// A time in any of the contract's forms, as a query parameter carries it.
pub(super) fn parse_time(text: &str) -> Result<Timestamp, crate::domain::time::BadTime> {
    Timestamp::parse(text).or_else(|bad| match text.rsplit_once(' ') {
        // An unescaped `+` of an RFC 3339 offset arrives as a space: read it as the `+`.
        Some((date_time, offset)) if date_time.contains('T') => Timestamp::parse(&format!("{date_time}+{offset}")),
        _ => Err(bad),
    })
}
