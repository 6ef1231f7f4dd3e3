//! The forced-offline request body: who to log out (`USER` ids or whole `TENANT`s) and whether to
//! tell their clients first, with a field-named 400 for anything the contract does not allow.

use serde_json::Value;

use super::query::parse_positive_id;
use crate::domain::ApiError;
use crate::service::offline::{OfflineRequest, ReceiveObjectType, MAX_TARGET_IDS};

/// Parses the body. Unknown fields are ignored; `receiveObjectType` is read without regard to case;
/// the id limit counts distinct ids (duplicates collapse first).
pub fn parse_offline_request(body: &[u8]) -> Result<OfflineRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(
            "body",
            "A JSON body is required: {\"receiveObjectType\": \"USER\", \"receiveObjectIds\": [\"1001\"]}",
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("The body is not valid JSON: {e}.")))?;
    let Value::Object(fields) = value else {
        return Err(ApiError::invalid("body", "The body must be a JSON object."));
    };

    let broadcast = match fields.get("broadcast") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid("broadcast", "broadcast must be true or false.")),
    };

    let object_type = match fields.get("receiveObjectType") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                "receiveObjectType",
                "receiveObjectType is required: USER or TENANT.",
            ))
        }
        Some(Value::String(s)) if s.eq_ignore_ascii_case("USER") => ReceiveObjectType::User,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("TENANT") => ReceiveObjectType::Tenant,
        Some(_) => {
            return Err(ApiError::invalid(
                "receiveObjectType",
                "receiveObjectType must be USER or TENANT.",
            ))
        }
    };

    let field = "receiveObjectIds";
    let given = match fields.get(field) {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                field,
                "receiveObjectIds is required: a list of 1 to 10000 ids.",
            ))
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ApiError::invalid(
                field,
                "receiveObjectIds must be a list of ids (numbers or numeric strings).",
            ))
        }
    };
    if given.is_empty() {
        return Err(ApiError::invalid(
            field,
            format!("receiveObjectIds is empty; give 1 to {MAX_TARGET_IDS} ids."),
        ));
    }
    let mut ids = Vec::with_capacity(given.len());
    let mut seen = std::collections::HashSet::with_capacity(given.len());
    for (index, item) in given.iter().enumerate() {
        let id = match item {
            // A whole number written as 1001.0 is still that id, as everywhere ids are read.
            Value::Number(n) => n.as_i64().or_else(|| whole_number(n.as_f64()?)).filter(|n| *n > 0),
            Value::String(s) => parse_positive_id(s),
            _ => None,
        }
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                format!("receiveObjectIds[{index}] is not a positive int64 (a number or a string of digits)."),
            )
        })?;
        if seen.insert(id) {
            ids.push(id);
        }
    }
    if ids.len() > MAX_TARGET_IDS {
        return Err(ApiError::invalid(
            field,
            format!(
                "receiveObjectIds lists {} distinct ids; give 1 to {MAX_TARGET_IDS}.",
                ids.len()
            ),
        ));
    }
    Ok(OfflineRequest {
        broadcast,
        object_type,
        ids,
    })
}

fn whole_number(value: f64) -> Option<i64> {
    (value.fract() == 0.0 && value.abs() < 9.0e18).then_some(value as i64)
}
