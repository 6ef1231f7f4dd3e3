//! Items as DynamoDB holds them: keys, the session, connection, token and counter items, and
//! reading them back. Attribute names are [`super::schema::attr`]'s constants; a stored item that
//! does not read back is a [`StoreError::Failure`] naming the attribute, never a panic.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use super::schema::{attr, SESSIONS_TTL_ATTRIBUTE, TOKENS_TTL_ATTRIBUTE};
use super::{Item, SHARDS};
use crate::domain::access::{TokenHash, TokenRecord};
use crate::domain::error::StoreError;
use crate::domain::{OfflineReason, Session, SessionId, TenantId, Timestamp, UserId};
use crate::store::{BoundSession, SessionCounts};

/// The partition key of counter shard `shard`: [`COUNTER_SHARDS`] partitions, so no one key takes
/// every session change of a busy tenant.
pub(super) fn counters_pk(shard: u32) -> String {
    format!("COUNT#{shard}")
}
/// How long a connection item lives (DynamoDB TTL): API Gateway ends every WebSocket connection
/// within 2 hours, so after a day its id can no longer arrive.
pub(super) const CONNECTION_TTL_SECS: i64 = 24 * 3600;
pub(super) const SESSION_SK_PREFIX: &str = "S#";

pub(super) fn tenant_pk(tenant: TenantId) -> String {
    format!("T#{tenant}")
}

pub(super) fn session_key(tenant: TenantId, id: SessionId) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), s(tenant_pk(tenant))),
        (attr::SK.to_owned(), s(format!("{SESSION_SK_PREFIX}{id}"))),
    ])
}

pub(super) fn connection_key(connection_id: &str) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), s(format!("C#{connection_id}"))),
        (attr::SK.to_owned(), s("C")),
    ])
}

pub(super) fn counter_key(tenant: TenantId, shard: u32) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), s(counters_pk(shard))),
        (attr::SK.to_owned(), s(tenant_pk(tenant))),
    ])
}

/// Where a token sweep stands: a shard of `staleByShard` and the last key read there, as
/// `shard|pk|sk|lastSeenDate` (none of these holds a `|`), or `shard|` at a shard's start.
pub(super) struct SweepCursor;

impl SweepCursor {
    pub(super) fn format(shard: u32, key: &Item) -> Result<String, StoreError> {
        if key.is_empty() {
            return Ok(format!("{shard}|"));
        }
        Ok(format!(
            "{shard}|{}|{}|{}",
            read_s(key, attr::PK)?,
            read_s(key, attr::SK)?,
            read_n(key, attr::LAST_SEEN_DATE)?
        ))
    }

    pub(super) fn parse(cursor: &str) -> Result<(u32, Option<Item>), StoreError> {
        let bad = || StoreError::Failure(format!("not a sweep cursor: {cursor}"));
        let mut parts = cursor.split('|');
        let shard: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let rest: Vec<&str> = parts.collect();
        match rest.as_slice() {
            [""] => Ok((shard, None)),
            [pk, sk, seen] => {
                let seen: i64 = seen.parse().map_err(|_| bad())?;
                Ok((
                    shard,
                    Some(HashMap::from([
                        (attr::PK.to_owned(), s(*pk)),
                        (attr::SK.to_owned(), s(*sk)),
                        (attr::ONLINE_SHARD.to_owned(), s(shard.to_string())),
                        (attr::LAST_SEEN_DATE.to_owned(), n(seen)),
                    ])),
                ))
            }
            _ => Err(bad()),
        }
    }
}

/// The key of a user's connect-rate item for one minute.
pub(super) fn connect_rate_key(tenant: TenantId, user: UserId, minute: i64) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), s(format!("R#{tenant}#{user}"))),
        (attr::SK.to_owned(), s(minute.to_string())),
    ])
}

/// A session's cleanup-index shard, from its id's random bits.
pub(super) fn shard_of(id: SessionId) -> String {
    (id.0.random() % u128::from(SHARDS)).to_string()
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn put_opt(item: &mut Item, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), s(value));
    }
}

/// A session as stored; `token` is the hash of the token it was opened with, when there is one.
pub(super) fn session_item(session: &Session, token: Option<&TokenHash>) -> Item {
    let mut item = session_key(session.tenant_id, session.id);
    put_opt(&mut item, attr::TOKEN_HASH, token.map(TokenHash::as_str));
    item.insert(attr::ID.into(), s(session.id.to_string()));
    item.insert(attr::TENANT_ID.into(), n(session.tenant_id.get()));
    item.insert(attr::USER_ID.into(), n(session.user_id.get()));
    item.insert(attr::FULL_NAME.into(), s(&session.full_name));
    put_opt(&mut item, attr::AVATAR, session.avatar.as_deref());
    put_opt(&mut item, attr::USER_AGENT, session.user_agent.as_deref());
    put_opt(&mut item, attr::DEVICE_ID, session.device_id.as_deref());
    put_opt(&mut item, attr::REMOTE_ADDRESS, session.remote_address.as_deref());
    item.insert(attr::CONNECTION_ID.into(), s(&session.connection_id));
    item.insert(attr::ONLINE_DATE.into(), n(session.online_date.millis()));
    item.insert(attr::LAST_SEEN_DATE.into(), n(session.last_seen_date.millis()));
    match (session.offline_date, session.offline_reason) {
        (Some(offline), reason) => {
            item.insert(attr::OFFLINE_DATE.into(), n(offline.millis()));
            put_opt(&mut item, attr::OFFLINE_REASON, reason.map(OfflineReason::as_str));
            item.insert(attr::ENDED_SHARD.into(), s(shard_of(session.id)));
        }
        (None, _) => {
            item.insert(attr::ONLINE_TENANT.into(), n(session.tenant_id.get()));
            item.insert(attr::ONLINE_USER.into(), n(session.user_id.get()));
            item.insert(attr::ONLINE_SHARD.into(), s(shard_of(session.id)));
        }
    }
    item
}

pub(super) fn connection_item(session: &Session) -> Item {
    let mut item = connection_key(&session.connection_id);
    item.insert(attr::TENANT_ID.into(), n(session.tenant_id.get()));
    item.insert(attr::SESSION_ID.into(), s(session.id.to_string()));
    item.insert(
        SESSIONS_TTL_ATTRIBUTE.into(),
        n(session.online_date.secs() + CONNECTION_TTL_SECS),
    );
    item
}

/// What a connection item says of its session.
pub(super) enum SessionOf {
    /// No connection item.
    Unknown,
    /// A tombstone: closed before any session.
    None,
    Key(TenantId, SessionId),
}

/// What the store knows of a connection id.
pub(super) enum Connection {
    /// Never seen.
    Unknown,
    /// Seen closed before any session (a tombstone), or its session is gone.
    Closed,
    /// The session it carries (or carried), with its token.
    Of(Box<BoundSession>),
}

pub(super) fn token_item(token: &TokenRecord) -> Item {
    let mut item = HashMap::from([
        (attr::TOKEN_HASH.to_owned(), s(token.hash.as_str())),
        (attr::USER_ID.to_owned(), n(token.user_id.get())),
        (attr::TENANT_ID.to_owned(), n(token.tenant_id.get())),
        (attr::FULL_NAME.to_owned(), s(&token.full_name)),
        (
            attr::PERMISSIONS.to_owned(),
            AttributeValue::L(token.permissions.iter().map(s).collect()),
        ),
        (attr::PLATFORM.to_owned(), AttributeValue::Bool(token.platform)),
    ]);
    put_opt(&mut item, attr::AVATAR, token.avatar.as_deref());
    if let Some(expires) = token.expires_at {
        item.insert(attr::EXPIRES_AT.into(), n(expires.millis()));
        item.insert(
            attr::EXPIRY_SHARD.into(),
            s((u32::from(token.hash.as_str().as_bytes()[0]) % SHARDS).to_string()),
        );
        item.insert(TOKENS_TTL_ATTRIBUTE.into(), n(expires.secs()));
    }
    if let Some(revoked) = token.revoked_at {
        item.insert(attr::REVOKED_AT.into(), n(revoked.millis()));
    }
    item
}

pub(super) fn corrupt(name: &str) -> StoreError {
    StoreError::Failure(format!("stored item has a missing or malformed `{name}`"))
}

pub(super) fn read_s(item: &Item, name: &str) -> Result<String, StoreError> {
    opt_s(item, name)?.ok_or_else(|| corrupt(name))
}

pub(super) fn opt_s(item: &Item, name: &str) -> Result<Option<String>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
        Some(_) => Err(corrupt(name)),
    }
}

pub(super) fn read_n(item: &Item, name: &str) -> Result<i64, StoreError> {
    opt_n(item, name)?.ok_or_else(|| corrupt(name))
}

pub(super) fn opt_n(item: &Item, name: &str) -> Result<Option<i64>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(value)) => value.parse().map(Some).map_err(|_| corrupt(name)),
        Some(_) => Err(corrupt(name)),
    }
}

pub(super) fn read_session_id(item: &Item, name: &str) -> Result<SessionId, StoreError> {
    read_s(item, name)?.parse().map_err(|_| corrupt(name))
}

pub(super) fn session_from(item: &Item) -> Result<Session, StoreError> {
    Ok(Session {
        id: read_session_id(item, attr::ID)?,
        tenant_id: TenantId(read_n(item, attr::TENANT_ID)?),
        user_id: UserId(read_n(item, attr::USER_ID)?),
        full_name: read_s(item, attr::FULL_NAME)?,
        avatar: opt_s(item, attr::AVATAR)?,
        user_agent: opt_s(item, attr::USER_AGENT)?,
        device_id: opt_s(item, attr::DEVICE_ID)?,
        remote_address: opt_s(item, attr::REMOTE_ADDRESS)?,
        connection_id: read_s(item, attr::CONNECTION_ID)?,
        online_date: Timestamp::from_millis(read_n(item, attr::ONLINE_DATE)?),
        offline_date: opt_n(item, attr::OFFLINE_DATE)?.map(Timestamp::from_millis),
        last_seen_date: Timestamp::from_millis(read_n(item, attr::LAST_SEEN_DATE)?),
        offline_reason: match opt_s(item, attr::OFFLINE_REASON)? {
            None => None,
            Some(text) => Some(OfflineReason::parse(&text).ok_or_else(|| corrupt(attr::OFFLINE_REASON))?),
        },
    })
}

pub(super) fn bound_session_from(item: &Item) -> Result<BoundSession, StoreError> {
    Ok(BoundSession {
        session: session_from(item)?,
        token: opt_s(item, attr::TOKEN_HASH)?.map(TokenHash::from_stored),
    })
}

pub(super) fn token_from(item: &Item) -> Result<TokenRecord, StoreError> {
    let permissions = match item.get(attr::PERMISSIONS) {
        None => BTreeSet::new(),
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| v.as_s().cloned().map_err(|_| corrupt(attr::PERMISSIONS)))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(corrupt(attr::PERMISSIONS)),
    };
    Ok(TokenRecord {
        hash: TokenHash::from_stored(read_s(item, attr::TOKEN_HASH)?),
        user_id: UserId(read_n(item, attr::USER_ID)?),
        tenant_id: TenantId(read_n(item, attr::TENANT_ID)?),
        full_name: read_s(item, attr::FULL_NAME)?,
        avatar: opt_s(item, attr::AVATAR)?,
        permissions,
        platform: matches!(item.get(attr::PLATFORM), Some(AttributeValue::Bool(true))),
        expires_at: opt_n(item, attr::EXPIRES_AT)?.map(Timestamp::from_millis),
        revoked_at: opt_n(item, attr::REVOKED_AT)?.map(Timestamp::from_millis),
    })
}

/// A tenant's counts from its counter shards. One shard may hold a negative count (a session
/// counted in on one shard and out on another); the sum never is.
pub(super) fn counts_from<'a>(shards: impl IntoIterator<Item = &'a Item>) -> Result<SessionCounts, StoreError> {
    let (mut sessions, mut online) = (0i64, 0i64);
    for item in shards {
        sessions += opt_n(item, attr::SESSIONS)?.unwrap_or(0);
        online += opt_n(item, attr::ONLINE)?.unwrap_or(0);
    }
    Ok(SessionCounts {
        sessions: sessions.max(0) as u64,
        online: online.max(0) as u64,
    })
}
