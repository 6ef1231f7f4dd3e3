//! Page tokens: the cursor that makes any page of a listing cost one page. A token is opaque to
//! callers and tamper-evident: it carries the position of the last session shown and a
//! fingerprint of the query and the caller's tenant scope, signed with HMAC-SHA256. A token that
//! was changed, or that belongs to another query or another tenant, is a 400 on `pageToken`.
//!
//! The key comes from `PAGE_TOKEN_KEY` (the template generates one per stack in Secrets Manager).
//! Without it the process makes a random key: tokens then hold only within that process, which
//! is right for the local API and is logged as a warning in Lambda.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::access::TenantScope;
use crate::domain::error::ApiError;
use crate::domain::{Position, SessionQuery};

/// The parameter the token comes in, named in errors.
const FIELD: &str = "pageToken";
/// Bytes of the HMAC kept in a token.
const TAG_BYTES: usize = 16;
/// The token format; a token of another version is refused like a changed one.
const VERSION: u8 = 1;

/// The signing key, from the configuration (read once per process).
pub struct PageTokenKey(Vec<u8>);

impl PageTokenKey {
    pub fn new(secret: &[u8]) -> Self {
        PageTokenKey(secret.to_vec())
    }

    /// A key of 256 random bits: page tokens then hold only within this process (the service's
    /// configuration uses it when `PAGE_TOKEN_KEY` is unset).
    pub fn random() -> Self {
        PageTokenKey((0..2).flat_map(|_| ulid::Ulid::new().0.to_le_bytes()).collect())
    }

    fn tag(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(payload);
        mac
    }
}

#[derive(Serialize, Deserialize)]
struct Payload<P> {
    v: u8,
    /// Fingerprint of the query and scope.
    q: String,
    /// The last record shown (a session's [`Position`], or another listing's own cursor).
    p: P,
}

/// What a token must belong to: the filters, the order and the caller's scope (not the page size
/// or the view, which may change from page to page). Read from the parsed query's debug form, so a
/// release that changes the query types turns older tokens into a 400: callers start again.
fn fingerprint(query: &SessionQuery, scope: TenantScope) -> String {
    fingerprint_of(&format!(
        "{:?}|{:?}|{:?}|{:?}",
        query.filters, query.order_by, query.order_sort, scope
    ))
}

/// The fingerprint of a listing's canonical text (what a token must belong to): other listings
/// (the audit trail's, [`crate::domain::audit`]) sign their own cursors with it through
/// [`encode_signed`] and [`decode_signed`].
pub fn fingerprint_of(canonical: &str) -> String {
    hex::encode(&Sha256::digest(canonical.as_bytes())[..8])
}

/// The token for the page after the one that ended at `last`.
pub fn encode(key: &PageTokenKey, query: &SessionQuery, scope: TenantScope, last: Position) -> String {
    encode_signed(key, fingerprint(query, scope), &last)
}

/// A token carrying `last` (any cursor), bound to `fingerprint` (see [`fingerprint_of`]).
pub fn encode_signed<P: Serialize>(key: &PageTokenKey, fingerprint: String, last: &P) -> String {
    let payload = serde_json::to_vec(&Payload {
        v: VERSION,
        q: fingerprint,
        p: last,
    })
    .expect("a position always serializes");
    let tag = key.tag(&payload).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES])
    )
}

/// The position a token continues after, when it is genuine and belongs to `query` and `scope`.
pub fn decode(key: &PageTokenKey, query: &SessionQuery, scope: TenantScope, token: &str) -> Result<Position, ApiError> {
    decode_signed(key, &fingerprint(query, scope), token)
}

/// The cursor a token carries, when it is genuine and bound to `fingerprint`; else a 400 on
/// `pageToken`.
pub fn decode_signed<P: serde::de::DeserializeOwned>(
    key: &PageTokenKey,
    fingerprint: &str,
    token: &str,
) -> Result<P, ApiError> {
    let malformed = || ApiError::invalid(FIELD, "pageToken is not a token this service gave (or it was changed)");
    let (payload, tag) = token.split_once('.').ok_or_else(malformed)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed())?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| malformed())?;
    if tag.len() != TAG_BYTES {
        return Err(malformed());
    }
    key.tag(&payload).verify_truncated_left(&tag).map_err(|_| malformed())?;
    let payload: Payload<P> = serde_json::from_slice(&payload).map_err(|_| malformed())?;
    if payload.v != VERSION {
        return Err(malformed());
    }
    if payload.q != fingerprint {
        return Err(ApiError::invalid(
            FIELD,
            "pageToken belongs to another listing: keep the filters, order and tenant of the call that gave it",
        ));
    }
    Ok(payload.p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::Name;
    use crate::domain::{SessionId, SortKey, TenantId};
    use crate::http::query::{parse_session_query, ListMode};

    fn query(text: &str) -> SessionQuery {
        parse_session_query(text, ListMode::List).unwrap()
    }

    fn position() -> Position {
        Position {
            key: SortKey::FullName(Name("Ada".into())),
            id: "01JB0000000000000000000005".parse::<SessionId>().unwrap(),
        }
    }

    const TENANT: TenantScope = TenantScope::Tenant(TenantId(1));

    #[test]
    fn a_token_round_trips_for_its_own_query_and_scope() {
        let key = PageTokenKey::new(b"k");
        let q = query("orderBy=fullName&online=true");
        let token = encode(&key, &q, TENANT, position());
        assert_eq!(decode(&key, &q, TENANT, &token).unwrap(), position());
        // The page size and the view may change between pages.
        let bigger = query("orderBy=fullName&online=true&pageSize=50&infoScope=DETAIL");
        assert_eq!(decode(&key, &bigger, TENANT, &token).unwrap(), position());
    }

    #[test]
    fn a_token_for_a_long_name_fits_the_parameter_limit() {
        let key = PageTokenKey::new(b"k");
        let q = query("orderBy=fullName");
        let name = "Ä".repeat(1000);
        let long = Position {
            key: SortKey::FullName(Name(name)),
            id: position().id,
        };
        let token = encode(&key, &q, TENANT, long.clone());
        assert!(
            token.len() <= crate::http::query::MAX_PAGE_TOKEN_CHARS,
            "{} chars",
            token.len()
        );
        let raw = format!("orderBy=fullName&pageToken={token}");
        let parsed = parse_session_query(&raw, ListMode::List).expect("our own token is accepted");
        assert_eq!(decode(&key, &parsed, TENANT, &token).unwrap(), long);
    }

    #[test]
    fn a_changed_foreign_or_garbled_token_is_a_400_on_page_token() {
        let key = PageTokenKey::new(b"k");
        let q = query("orderBy=fullName");
        let token = encode(&key, &q, TENANT, position());
        let mut changed = token.clone().into_bytes();
        changed[3] = if changed[3] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).unwrap();
        let other_tenant = TenantScope::Tenant(TenantId(2));
        let cases = [
            decode(&key, &q, TENANT, &changed),
            decode(&key, &q, other_tenant, &token),
            decode(&key, &query("orderBy=fullName&orderSort=ASC"), TENANT, &token),
            decode(&PageTokenKey::new(b"other key"), &q, TENANT, &token),
            decode(&key, &q, TENANT, "not-a-token"),
            decode(&key, &q, TENANT, "a.b"),
            decode(&key, &q, TENANT, &token[..token.len() - 2]),
        ];
        for (n, case) in cases.into_iter().enumerate() {
            let error = case.expect_err("refused");
            assert_eq!(
                (error.kind.status(), error.field.as_deref()),
                (400, Some(FIELD)),
                "case {n}"
            );
        }
    }
}
