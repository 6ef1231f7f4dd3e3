//! `--tokens <file.json>`: token records to load at start-up, as the identity service would have
//! written them. The file is a JSON array of
//! `{"token", "userId", "tenantId", "fullName", "avatar"?, "permissions", "platform", "expiresAt"?}`;
//! ids are numbers or numeric strings, `expiresAt` any of the contract's time forms.

use std::collections::BTreeSet;
use std::path::Path;

use message_center::domain::access::{is_token_syntax, TokenHash, TokenRecord};
use message_center::domain::{TenantId, Timestamp, UserId};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Entry {
    token: String,
    user_id: UserId,
    tenant_id: TenantId,
    full_name: String,
    #[serde(default)]
    avatar: Option<String>,
    #[serde(default)]
    permissions: BTreeSet<String>,
    #[serde(default)]
    platform: bool,
    #[serde(default)]
    expires_at: Option<String>,
}

/// Reads the file into records (tokens hashed); the error names the entry at fault.
pub fn read(path: &Path) -> Result<Vec<TokenRecord>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<Vec<TokenRecord>, String> {
    let entries: Vec<Entry> =
        serde_json::from_str(text).map_err(|e| format!("not a JSON array of token records: {e}"))?;
    entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            if !is_token_syntax(&entry.token) {
                return Err(format!(
                    "entry {index}: token must be RFC 6750 token characters (letters, digits, -._~+/)"
                ));
            }
            let expires_at = match &entry.expires_at {
                None => None,
                Some(text) => Some(Timestamp::parse(text).map_err(|e| format!("entry {index}: expiresAt {e}"))?),
            };
            Ok(TokenRecord {
                hash: TokenHash::of(&entry.token),
                user_id: entry.user_id,
                tenant_id: entry.tenant_id,
                full_name: entry.full_name,
                avatar: entry.avatar,
                permissions: entry.permissions,
                platform: entry.platform,
                expires_at,
                revoked_at: None,
            })
        })
        .collect()
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
    fn names_the_entry_at_fault() {
        let bad_time = r#"[{"token": "a", "userId": 1, "tenantId": 1, "fullName": "x", "expiresAt": "soon"}]"#;
        assert!(parse(bad_time).unwrap_err().starts_with("entry 0: expiresAt"));
        let bad_token = r#"[{"token": "has space", "userId": 1, "tenantId": 1, "fullName": "x"}]"#;
        assert!(parse(bad_token).unwrap_err().starts_with("entry 0: token"));
        assert!(parse(r#"{"token": "a"}"#).is_err());
        assert!(parse(r#"[{"token": "a", "userId": 1, "tenantId": 1, "fullName": "x", "role": "admin"}]"#).is_err());
    }
}
