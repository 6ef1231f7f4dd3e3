//! The token-records file: token records as the identity service would write them, in the one
//! JSON format both the local API's `--tokens` and the operator's `mco-tokens put` read, so that
//! a file that seeds a local run also seeds a deployed stack. Parsing only (no I/O): the callers
//! read the file. The text is a JSON array of
//! `{"token", "userId", "tenantId", "fullName", "avatar"?, "permissions"?, "platform"?, "expiresAt"?}`;
//! ids are numbers or numeric strings, `expiresAt` any of the contract's time forms. Each token is
//! hashed here ([`TokenHash::of`]): no record, and no error, carries a raw token.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::access::{is_token_syntax, TokenHash, TokenRecord};
use super::{TenantId, Timestamp, UserId};

/// The fields of an entry, in the order errors list them.
const FIELDS: &[&str] = &[
    "token",
    "userId",
    "tenantId",
    "fullName",
    "avatar",
    "permissions",
    "platform",
    "expiresAt",
];

/// Reads the file's text into records (tokens hashed). The error names the entry (its index in
/// the array, from 0) and the field at fault, and never holds a token: a file is refused whole.
pub fn parse(text: &str) -> Result<Vec<TokenRecord>, String> {
    let entries: Vec<Value> =
        serde_json::from_str(text).map_err(|e| format!("not a JSON array of token records: {e}"))?;
    let mut seen: Vec<TokenHash> = Vec::with_capacity(entries.len());
    let mut records = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let record = entry_record(entry).map_err(|e| format!("entry {index}: {e}"))?;
        if let Some(first) = seen.iter().position(|hash| *hash == record.hash) {
            return Err(format!("entry {index}: token: the same token as entry {first}"));
        }
        seen.push(record.hash.clone());
        records.push(record);
    }
    Ok(records)
}

fn entry_record(entry: Value) -> Result<TokenRecord, String> {
    let Value::Object(mut fields) = entry else {
        return Err("not a JSON object".into());
    };
    if let Some(unknown) = fields.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        return Err(format!("unknown field `{unknown}` (the fields: {})", FIELDS.join(", ")));
    }
    let token: String = required(&mut fields, "token")?;
    if !is_token_syntax(&token) {
        return Err("token: must be RFC 6750 token characters (letters, digits, -._~+/, then any =)".into());
    }
    let expires_at = match optional::<Option<String>>(&mut fields, "expiresAt")?.flatten() {
        None => None,
        Some(text) => Some(Timestamp::parse(&text).map_err(|e| format!("expiresAt: {e}"))?),
    };
    Ok(TokenRecord {
        hash: TokenHash::of(&token),
        user_id: required::<UserId>(&mut fields, "userId")?,
        tenant_id: required::<TenantId>(&mut fields, "tenantId")?,
        full_name: required(&mut fields, "fullName")?,
        avatar: optional::<Option<String>>(&mut fields, "avatar")?.flatten(),
        permissions: optional::<BTreeSet<String>>(&mut fields, "permissions")?.unwrap_or_default(),
        platform: optional(&mut fields, "platform")?.unwrap_or(false),
        expires_at,
        revoked_at: None,
    })
}

/// The field `name`, which must be there.
fn required<T: DeserializeOwned>(fields: &mut Map<String, Value>, name: &str) -> Result<T, String> {
    optional(fields, name)?.ok_or_else(|| format!("{name}: missing"))
}

/// The field `name` when it is there. A serde message may quote the value at fault; the token
/// field's is a string, the only type it accepts, so its value is never quoted.
fn optional<T: DeserializeOwned>(fields: &mut Map<String, Value>, name: &str) -> Result<Option<T>, String> {
    fields
        .remove(name)
        .map(|value| serde_json::from_value(value).map_err(|e| format!("{name}: {e}")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_records_and_hashes_tokens() {
        let records = parse(
            r#"[{"token": "abc", "userId": "7", "tenantId": 3, "fullName": "Ops", "permissions": ["message:center:offline"],
                 "platform": true, "expiresAt": "2030-01-01"}]"#,
        )
        .unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].hash, TokenHash::of("abc"));
        assert_eq!(
            (records[0].user_id, records[0].tenant_id, records[0].platform),
            (UserId(7), TenantId(3), true)
        );
        assert_eq!(records[0].expires_at, Some(Timestamp::parse("2030-01-01").unwrap()));
    }

    #[test]
    fn optional_fields_default_and_take_null() {
        let records = parse(
            r#"[{"token": "abc", "userId": 1, "tenantId": 1, "fullName": "x", "avatar": null, "expiresAt": null}]"#,
        )
        .unwrap();
        assert_eq!(records[0].avatar, None);
        assert_eq!(records[0].expires_at, None);
        assert!(records[0].permissions.is_empty());
        assert!(!records[0].platform);
        assert_eq!(parse("[]").unwrap(), Vec::new());
    }

    #[test]
    fn names_the_entry_at_fault() {
        let bad_time = r#"[{"token": "a", "userId": 1, "tenantId": 1, "fullName": "x", "expiresAt": "soon"}]"#;
        assert!(parse(bad_time).unwrap_err().starts_with("entry 0: expiresAt"));
        let bad_token = r#"[{"token": "has space", "userId": 1, "tenantId": 1, "fullName": "x"}]"#;
        assert!(parse(bad_token).unwrap_err().starts_with("entry 0: token"));
        assert!(parse(r#"{"token": "a"}"#).is_err());
        assert!(parse(r#"[{"token": "a", "userId": 1, "tenantId": 1, "fullName": "x", "role": "admin"}]"#).is_err());
    }

    #[test]
    fn names_the_field_at_fault() {
        let ok = r#"{"token": "a", "userId": 1, "tenantId": 1, "fullName": "x"}"#;
        let cases = [
            (
                r#"{"userId": 1, "tenantId": 1, "fullName": "x"}"#,
                "entry 1: token: missing",
            ),
            (
                r#"{"token": "b", "tenantId": 1, "fullName": "x"}"#,
                "entry 1: userId: missing",
            ),
            (
                r#"{"token": "b", "userId": "x1", "tenantId": 1, "fullName": "x"}"#,
                "entry 1: userId: ",
            ),
            (
                r#"{"token": "b", "userId": 1, "tenantId": 1.5, "fullName": "x"}"#,
                "entry 1: tenantId: ",
            ),
            (
                r#"{"token": "b", "userId": 1, "tenantId": 1, "fullName": 3}"#,
                "entry 1: fullName: ",
            ),
            (
                r#"{"token": "b", "userId": 1, "tenantId": 1, "fullName": "x", "platform": "yes"}"#,
                "entry 1: platform: ",
            ),
            (
                r#"{"token": "b", "userId": 1, "tenantId": 1, "fullName": "x", "permissions": "all"}"#,
                "entry 1: permissions: ",
            ),
            (
                r#"{"token": 7, "userId": 1, "tenantId": 1, "fullName": "x"}"#,
                "entry 1: token: ",
            ),
            (
                r#"{"token": "b", "userId": 1, "tenantId": 1, "fullName": "x", "role": 1}"#,
                "entry 1: unknown field `role`",
            ),
            (r#""b""#, "entry 1: not a JSON object"),
            (ok, "entry 1: token: the same token as entry 0"),
        ];
        for (second, expected) in cases {
            let error = parse(&format!("[{ok}, {second}]")).unwrap_err();
            assert!(error.starts_with(expected), "{second}: {error}");
        }
    }

    #[test]
    fn errors_never_hold_the_token() {
        let secret = "s3cret-Token-value";
        for entry in [
            format!(r#"{{"token": "{secret}", "userId": "x", "tenantId": 1, "fullName": "x"}}"#),
            format!(r#"{{"token": "{secret} ", "userId": 1, "tenantId": 1, "fullName": "x"}}"#),
            format!(r#"{{"token": "{secret}", "userId": 1, "tenantId": 1, "fullName": "x", "expiresAt": "no"}}"#),
            format!(
                r#"{{"token": "{secret}", "userId": 1, "tenantId": 1, "fullName": "x"}}, {{"token": "{secret}", "userId": 1, "tenantId": 1, "fullName": "x"}}"#
            ),
            format!(r#"{{"token": "{secret}", "userId": 1 "tenantId": 1}}"#),
        ] {
            let error = parse(&format!("[{entry}]")).unwrap_err();
            assert!(!error.contains(secret), "{error}");
        }
    }
}
