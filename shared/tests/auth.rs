//! Who is calling and what they may touch: the bearer header, the token's hash, its expiry and
//! revocation, the three permissions and the tenant scope. The raw token never shows in an error.

use std::collections::BTreeSet;

use lambda_http::http::header::AUTHORIZATION;
use lambda_http::http::{HeaderMap, HeaderValue};
use message_center::domain::access::{is_token_syntax, Caller, Permission, TenantScope, TokenHash, TokenRecord};
use message_center::domain::{TenantId, Timestamp, UserId};
use message_center::http::bearer_token;
use message_center::service::auth::{authenticate, authorize as authorize_token};
use message_center::store::{MemoryStore, OfflineStore, TokenStore, UserRef};
use message_center::{ApiError, ErrorKind};

// ---- helpers ----

/// 2026-11-28 10:00:00 UTC, the "now" of the token checks.
const NOW: Timestamp = Timestamp::from_secs(1_795_860_000);

/// A distinctive token, so a leak into any message is easy to spot.
const TOKEN: &str = "s3cr3t-T0ken_value.~+/==";

const LIST: &str = "message:center:online:list";
const DETAIL: &str = "message:center:online:detail";
const OFFLINE: &str = "message:center:offline";

fn headers(authorization: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(authorization).expect("a valid header value"),
    );
    headers
}

fn bearer(token: &str) -> HeaderMap {
    headers(&format!("Bearer {token}"))
}

/// A live, non-platform token of user 1001 in tenant 1 with every permission.
fn record(token: &str) -> TokenRecord {
    TokenRecord {
        hash: TokenHash::of(token),
        user_id: UserId(1001),
        tenant_id: TenantId(1),
        full_name: "Ada Lovelace".into(),
        avatar: Some("https://example.com/ada.png".into()),
        permissions: [LIST, DETAIL, OFFLINE].map(String::from).into(),
        platform: false,
        expires_at: None,
        revoked_at: None,
    }
}

async fn store_with(records: &[TokenRecord]) -> MemoryStore {
    let store = MemoryStore::new();
    for record in records {
        store.put_token(record).await.unwrap();
    }
    store
}

fn caller(tenant: i64, platform: bool, permissions: &[&str]) -> Caller {
    Caller {
        user_id: UserId(1001),
        tenant_id: TenantId(tenant),
        full_name: "Ada Lovelace".into(),
        avatar: None,
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
        platform,
    }
}

fn assert_unauthorized(result: Result<impl std::fmt::Debug, ApiError>, context: &str) -> ApiError {
    let e = result.expect_err(context);
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{context}: {e}");
    e
}

fn assert_no_token_in(e: &ApiError, token: &str) {
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(token), "the raw token {token:?} shows in {shown:?}");
    let secret_part = token.trim_end_matches('=');
    if secret_part.len() >= 6 {
        assert!(
            !shown.contains(secret_part),
            "the raw token {secret_part:?} shows in {shown:?}"
        );
    }
}

// ---- the Authorization header ----

#[test]
fn a_bearer_header_gives_its_token() {
    let cases = [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("Bearer abc==", "abc=="),
        ("Bearer abc=", "abc="),
        ("Bearer  abc ", "abc"),
        ("Bearer aZ09-._~+/", "aZ09-._~+/"),
        (&format!("Bearer {TOKEN}"), TOKEN),
    ];
    for (header, expected) in cases {
        assert_eq!(bearer_token(&headers(header)), Ok(expected), "{header:?}");
    }
}

#[test]
fn a_missing_authorization_header_is_401() {
    let e = assert_unauthorized(bearer_token(&HeaderMap::new()), "no header");
    assert_eq!(e.field, None);
    assert!(e.msg.contains("Bearer"), "{e}");
}

#[test]
fn a_malformed_authorization_header_is_401() {
    let cases = [
        "",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "BearerX abc",
        "Bearerabc",
        "abc",
        "Bearer abc def",
        "Bearer abc,def",
        "Bearer abc\"",
        "Bearer abc;",
        "Bearer a=b",
        "Bearer =abc",
        "Bearer ===",
        "Bearer abc\tdef",
        "Bearer\tabc",
        "Bearer %61bc",
    ];
    for header in cases {
        let e = assert_unauthorized(bearer_token(&headers(header)), header);
        assert_eq!(e.field, None, "{header:?}");
    }
}

#[test]
fn a_header_that_is_not_visible_ascii_is_401() {
    let mut map = HeaderMap::new();
    map.insert(AUTHORIZATION, HeaderValue::from_bytes(b"Bearer abc\xffdef").unwrap());
    assert_unauthorized(bearer_token(&map), "opaque bytes");
}

#[test]
fn tokens_longer_than_4096_characters_are_401() {
    let longest = "a".repeat(4096);
    assert_eq!(bearer_token(&bearer(&longest)), Ok(longest.as_str()));
    assert_unauthorized(bearer_token(&bearer(&"a".repeat(4097))), "4097 characters");
}

#[test]
fn token_syntax_is_rfc_6750_b64token() {
    for good in ["a", "abc", "A-Z_0.9~+/", "abc=", "abc==", TOKEN] {
        assert!(is_token_syntax(good), "{good:?} was refused");
    }
    for bad in [
        "", "=", "==", "a b", "a=b", "=a", "a\"", "a,b", "a;b", "é", "a\n", "a\0",
    ] {
        assert!(!is_token_syntax(bad), "{bad:?} was accepted");
    }
}

#[test]
fn refused_headers_never_echo_the_token() {
    for header in [
        format!("Basic {TOKEN}"),
        format!("Bearer {TOKEN} extra"),
        format!("Bearer {TOKEN}\""),
        format!("Token {TOKEN}"),
        format!("Bearer {TOKEN}{}", "a".repeat(4096)),
    ] {
        let e = assert_unauthorized(bearer_token(&headers(&header)), &header);
        assert_no_token_in(&e, TOKEN);
    }
}

// ---- the token hash ----

#[test]
fn the_token_hash_is_lowercase_sha256_hex() {
    assert_eq!(
        TokenHash::of("abc").as_str(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        TokenHash::of("").as_str(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let hash = TokenHash::of(TOKEN);
    assert_eq!(hash.as_str().len(), 64);
    assert!(
        hash.as_str()
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{hash:?}"
    );
    assert!(!hash.as_str().contains(TOKEN));
}

#[test]
fn the_token_hash_tells_tokens_apart() {
    assert_ne!(TokenHash::of("abc"), TokenHash::of("abd"));
    assert_ne!(TokenHash::of("abc"), TokenHash::of("abc="));
    assert_ne!(TokenHash::of("abc"), TokenHash::of("ABC"));
    assert_eq!(
        TokenHash::of("abc"),
        TokenHash::from_stored(TokenHash::of("abc").as_str().to_owned())
    );
}

// ---- authenticate ----

#[tokio::test]
async fn a_live_token_without_expiry_gives_its_caller() {
    let mut rec = record(TOKEN);
    rec.user_id = UserId(9_007_199_254_740_993);
    rec.tenant_id = TenantId(42);
    rec.permissions = BTreeSet::from([LIST.to_owned()]);
    rec.platform = true;
    let store = store_with(&[rec.clone()]).await;

    let caller = authenticate(&store, TOKEN, NOW).await.unwrap();
    assert_eq!(
        caller,
        Caller {
            user_id: UserId(9_007_199_254_740_993),
            tenant_id: TenantId(42),
            full_name: "Ada Lovelace".into(),
            avatar: Some("https://example.com/ada.png".into()),
            permissions: BTreeSet::from([LIST.to_owned()]),
            platform: true,
        }
    );
}

#[tokio::test]
async fn a_token_with_a_future_expiry_is_live() {
    let mut rec = record(TOKEN);
    rec.expires_at = Some(NOW.plus_secs(3600));
    rec.avatar = None;
    let store = store_with(&[rec]).await;
    let caller = authenticate(&store, TOKEN, NOW).await.unwrap();
    assert_eq!(
        (caller.user_id, caller.tenant_id, caller.platform, caller.avatar),
        (UserId(1001), TenantId(1), false, None)
    );

    // One millisecond before expiry it still works.
    let mut rec = record("edge");
    rec.expires_at = Some(Timestamp::from_millis(NOW.millis() + 1));
    let store = store_with(&[rec]).await;
    assert!(authenticate(&store, "edge", NOW).await.is_ok());
}

#[tokio::test]
async fn an_unknown_token_is_401() {
    let store = store_with(&[record("another-token")]).await;
    let e = assert_unauthorized(authenticate(&store, TOKEN, NOW).await, "unknown");
    assert_no_token_in(&e, TOKEN);
}

#[tokio::test]
async fn the_stored_hash_is_not_a_credential() {
    let store = store_with(&[record(TOKEN)]).await;
    let hash = TokenHash::of(TOKEN);
    assert_unauthorized(authenticate(&store, hash.as_str(), NOW).await, "the hash as a token");
}

#[tokio::test]
async fn an_expired_token_is_401() {
    for expires_at in [NOW.plus_secs(-1), NOW, Timestamp::from_secs(0)] {
        let mut rec = record(TOKEN);
        rec.expires_at = Some(expires_at);
        let store = store_with(&[rec]).await;
        let e = assert_unauthorized(
            authenticate(&store, TOKEN, NOW).await,
            &format!("expired at {expires_at}"),
        );
        assert!(e.msg.contains("expired"), "{e}");
        assert_no_token_in(&e, TOKEN);
    }
}

#[tokio::test]
async fn a_revoked_token_is_401_even_before_it_expires() {
    for expires_at in [None, Some(NOW.plus_secs(3600)), Some(NOW.plus_secs(-3600))] {
        let mut rec = record(TOKEN);
        rec.expires_at = expires_at;
        rec.revoked_at = Some(NOW.plus_secs(-60));
        let store = store_with(&[rec]).await;
        let e = assert_unauthorized(authenticate(&store, TOKEN, NOW).await, "revoked");
        assert!(e.msg.contains("revoked"), "{e}");
        assert_no_token_in(&e, TOKEN);
    }
}

#[tokio::test]
async fn a_token_revoked_through_the_store_stops_working() {
    let store = store_with(&[record(TOKEN)]).await;
    assert!(authenticate(&store, TOKEN, NOW).await.is_ok());
    let revoked = store
        .revoke_user_tokens(
            &[UserRef {
                user_id: UserId(1001),
                tenant_id: TenantId(1),
            }],
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    assert_unauthorized(authenticate(&store, TOKEN, NOW).await, "after revocation");
}

#[tokio::test]
async fn a_malformed_token_is_401() {
    let store = store_with(&[record("abc def")]).await;
    // Even a record stored under the hash of a malformed token is never reached.
    for bad in ["", "abc def", "a=b", "with\"quote"] {
        assert_unauthorized(authenticate(&store, bad, NOW).await, bad);
    }
}

#[test]
fn is_live_needs_no_revocation_and_an_expiry_after_now() {
    let mut rec = record(TOKEN);
    assert!(rec.is_live(NOW));
    rec.expires_at = Some(NOW.plus_secs(1));
    assert!(rec.is_live(NOW));
    rec.expires_at = Some(NOW);
    assert!(!rec.is_live(NOW));
    rec.expires_at = None;
    rec.revoked_at = Some(NOW.plus_secs(60));
    assert!(!rec.is_live(NOW));
}

// ---- permissions and tenant scope ----

#[test]
fn permission_names_are_the_contract_ones() {
    assert_eq!(Permission::List.name(), LIST);
    assert_eq!(Permission::Detail.name(), DETAIL);
    assert_eq!(Permission::Offline.name(), OFFLINE);
}

#[test]
fn require_checks_the_exact_permission() {
    let c = caller(1, false, &[LIST]);
    assert_eq!(c.require(Permission::List), Ok(()));
    for missing in [Permission::Detail, Permission::Offline] {
        let e = c.require(missing).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(e.msg.contains(missing.name()), "{e}");
    }
    // Platform operators need the permission too.
    let platform = caller(1, true, &[]);
    assert_eq!(
        platform.require(Permission::List).unwrap_err().kind,
        ErrorKind::Forbidden
    );
    // Names are exact: no prefix or case match.
    let near = caller(
        1,
        false,
        &[
            "message:center:online",
            "MESSAGE:CENTER:ONLINE:LIST",
            "message:center:online:list:",
        ],
    );
    assert_eq!(near.require(Permission::List).unwrap_err().kind, ErrorKind::Forbidden);
}

#[test]
fn scope_confines_tenant_callers_and_frees_platform_callers() {
    let tenant_caller = caller(1, false, &[]);
    assert_eq!(tenant_caller.scope(None), Ok(TenantScope::Tenant(TenantId(1))));
    assert_eq!(
        tenant_caller.scope(Some(TenantId(1))),
        Ok(TenantScope::Tenant(TenantId(1)))
    );
    let e = tenant_caller.scope(Some(TenantId(2))).unwrap_err();
    assert_eq!((e.kind, e.field.as_deref()), (ErrorKind::Forbidden, Some("tenantId")));

    let platform = caller(1, true, &[]);
    assert_eq!(platform.scope(None), Ok(TenantScope::All));
    assert_eq!(platform.scope(Some(TenantId(2))), Ok(TenantScope::Tenant(TenantId(2))));
    assert_eq!(platform.scope(Some(TenantId(1))), Ok(TenantScope::Tenant(TenantId(1))));
}

#[test]
fn a_tenant_scope_contains_its_tenant_only() {
    assert!(TenantScope::All.contains(TenantId(1)) && TenantScope::All.contains(TenantId(i64::MAX)));
    assert!(TenantScope::Tenant(TenantId(1)).contains(TenantId(1)));
    assert!(!TenantScope::Tenant(TenantId(1)).contains(TenantId(2)));
}

// ---- authorize: the one door ----

/// The door as the HTTP adapter opens it: the bearer header, the token and the permission, then
/// the scope the request asked for.
async fn authorize(
    store: &MemoryStore,
    headers: &HeaderMap,
    permission: Permission,
    requested: Option<TenantId>,
) -> Result<(Caller, TenantScope), ApiError> {
    let caller = authorize_token(store, bearer_token(headers)?, permission).await?;
    let scope = caller.scope(requested)?;
    Ok((caller, scope))
}

#[tokio::test]
async fn authorize_without_a_header_is_401() {
    let store = store_with(&[record(TOKEN)]).await;
    let e = authorize(&store, &HeaderMap::new(), Permission::List, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    let e = authorize(&store, &headers(&format!("Basic {TOKEN}")), Permission::List, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert_no_token_in(&e, TOKEN);
}

#[tokio::test]
async fn authorize_refuses_unknown_expired_and_revoked_tokens() {
    let mut expired = record("expired-token");
    expired.expires_at = Some(Timestamp::from_secs(946_684_800)); // 2000-01-01
    let mut revoked = record("revoked-token");
    revoked.revoked_at = Some(Timestamp::from_secs(946_684_800));
    let store = store_with(&[expired, revoked]).await;
    for token in ["unknown-token", "expired-token", "revoked-token"] {
        let e = authorize(&store, &bearer(token), Permission::List, None)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized, "{token}");
        assert_no_token_in(&e, token);
    }
}

#[tokio::test]
async fn authorize_accepts_a_lower_case_scheme_and_padding() {
    let store = store_with(&[record("abc==")]).await;
    let (caller, scope) = authorize(&store, &headers("bearer abc=="), Permission::List, None)
        .await
        .unwrap();
    assert_eq!(
        (caller.user_id, scope),
        (UserId(1001), TenantScope::Tenant(TenantId(1)))
    );
}

#[tokio::test]
async fn authorize_without_the_permission_is_403_naming_it() {
    for (permission, held) in [
        (Permission::List, [DETAIL, OFFLINE]),
        (Permission::Detail, [LIST, OFFLINE]),
        (Permission::Offline, [LIST, DETAIL]),
    ] {
        let mut rec = record(TOKEN);
        rec.permissions = held.map(String::from).into();
        let store = store_with(&[rec]).await;
        let e = authorize(&store, &bearer(TOKEN), permission, None).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden, "{permission:?}");
        assert!(e.msg.contains(permission.name()), "{e}");
        assert_no_token_in(&e, TOKEN);
        assert_eq!((e.kind.status(), e.kind.code(), e.kind.key()), (403, "E0", "forbidden"));
    }
}

#[tokio::test]
async fn authorize_refuses_another_tenant_to_a_tenant_caller() {
    let store = store_with(&[record(TOKEN)]).await;
    let e = authorize(&store, &bearer(TOKEN), Permission::List, Some(TenantId(2)))
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.field.as_deref()), (ErrorKind::Forbidden, Some("tenantId")));
    assert_no_token_in(&e, TOKEN);
}

#[tokio::test]
async fn authorize_confines_a_tenant_caller_to_its_own_tenant() {
    let store = store_with(&[record(TOKEN)]).await;
    for requested in [None, Some(TenantId(1))] {
        let (caller, scope) = authorize(&store, &bearer(TOKEN), Permission::Detail, requested)
            .await
            .unwrap();
        assert_eq!(scope, TenantScope::Tenant(TenantId(1)), "{requested:?}");
        assert_eq!((caller.user_id, caller.tenant_id), (UserId(1001), TenantId(1)));
    }
}

#[tokio::test]
async fn authorize_gives_a_platform_caller_every_tenant_or_the_one_asked_for() {
    let mut rec = record(TOKEN);
    rec.platform = true;
    rec.expires_at = Some(Timestamp::now().plus_secs(3600));
    let store = store_with(&[rec]).await;
    let (caller, scope) = authorize(&store, &bearer(TOKEN), Permission::Offline, None)
        .await
        .unwrap();
    assert!(caller.platform);
    assert_eq!(scope, TenantScope::All);
    let (_, scope) = authorize(&store, &bearer(TOKEN), Permission::Offline, Some(TenantId(77)))
        .await
        .unwrap();
    assert_eq!(scope, TenantScope::Tenant(TenantId(77)));
}

#[test]
fn refusals_are_protocol_errors() {
    assert_eq!(
        (
            ErrorKind::Unauthorized.status(),
            ErrorKind::Unauthorized.code(),
            ErrorKind::Unauthorized.key()
        ),
        (401, "E0", "unauthorized")
    );
}
