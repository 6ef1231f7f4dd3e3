//! Presence, as the WebSocket routes drive it: a client connects with its token and becomes an
//! online session, sends heartbeats while it stays, and disconnects. A session lives no longer
//! than its token: a heartbeat on a session whose token has expired, been revoked or deleted
//! ends it, tells the client and closes the connection. A client whose token may list sessions
//! may also subscribe to presence events ([`subscribe`]); [`super::events`] delivers them.

use super::auth::authenticate;
use super::App;
use crate::domain::access::{session_end_reason, Caller, Permission, TenantScope, TokenHash, TokenRecord};
use crate::domain::{ApiError, OfflineReason, Session, SessionId, TenantId, Timestamp};
use crate::gateway::Notice;
use crate::store::{ConnectCheck, Opened};

/// Longest `deviceId` accepted at connect.
pub const MAX_DEVICE_ID_CHARS: usize = 128;
/// User agents are kept to this many characters.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// What a connecting client brings besides its token, as API Gateway reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectRequest {
    /// API Gateway's id for the connection; an event without one is refused.
    pub connection_id: Option<String>,
    /// The client's own name for its device (`?deviceId=`), at most [`MAX_DEVICE_ID_CHARS`].
    pub device_id: Option<String>,
    /// Kept to its first [`MAX_USER_AGENT_CHARS`] characters.
    pub user_agent: Option<String>,
    pub remote_address: Option<String>,
}

/// `$connect`: authenticates `token`, then records the online session and its connection in one
/// step with a check that the token is still unrevoked and that the user is within its connect
/// rate (`CONNECTS_PER_MINUTE`). 401 for a bad token, 429 over the rate, 400 for a bad request;
/// each leaves nothing behind.
pub async fn connect(app: &App, token: &str, request: ConnectRequest, now: Timestamp) -> Result<Session, ApiError> {
    let caller = authenticate(app.store.as_ref(), token, now).await?;
    let connection_id = request
        .connection_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::invalid("connectionId", "The event has no connection id."))?;
    let device_id = request.device_id.filter(|d| !d.is_empty());
    if device_id
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DEVICE_ID_CHARS)
    {
        return Err(ApiError::invalid(
            "deviceId",
            format!("deviceId is longer than {MAX_DEVICE_ID_CHARS} characters."),
        ));
    }
    let session = Session {
        id: SessionId::new_at(now),
        tenant_id: caller.tenant_id,
        user_id: caller.user_id,
        full_name: caller.full_name,
        avatar: caller.avatar,
        user_agent: request
            .user_agent
            .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect::<String>())
            .filter(|agent| !agent.is_empty()),
        device_id,
        remote_address: request.remote_address.filter(|ip| !ip.is_empty()),
        connection_id,
        online_date: now,
        offline_date: None,
        last_seen_date: now,
        offline_reason: None,
    };
    // Recorded only while the token is still unrevoked: a forced offline that revoked it since
    // the check above refuses the connect here, rather than leave a forced user online.
    // The minutes are UTC calendar minutes, so a user may open up to twice the limit across a
    // minute's turn: the bound one counter item per user and minute buys (one conditional write
    // inside the connect's own transaction).
    let check = ConnectCheck {
        token: TokenHash::of(token),
        per_minute: app.config.connects_per_minute,
    };
    match app.store.open_session(&session, Some(&check)).await? {
        Opened::Recorded => Ok(session),
        Opened::ConnectionKnown => Err(ApiError::invalid(
            "connectionId",
            "This connection is already known (a repeated or late connect).",
        )),
        Opened::TokenRevoked => Err(ApiError::unauthorized("The token has been revoked.")),
        Opened::RateLimited => Err(ApiError::rate_limited(format!(
            "This user has opened {} sessions this minute, the most allowed; connect again next minute.",
            check.per_minute.unwrap_or_default()
        ))),
    }
}

/// `$disconnect`: ends the connection's session and its presence subscription; `false` when the
/// session was unknown or already ended (harmless: a disconnect may come late, twice, or before its
/// connect). A subscription that cannot be ended now is logged, not an error: the first event
/// pushed to the closed connection drops it.
pub async fn disconnect(app: &App, connection_id: &str, now: Timestamp) -> Result<bool, ApiError> {
    let (ended, unsubscribed) = futures::join!(
        app.store
            .close_connection(connection_id, now, OfflineReason::Disconnected),
        app.store.unsubscribe(connection_id)
    );
    if let Err(error) = unsubscribed {
        tracing::warn!(%error, connectionId = connection_id, "subscription not ended at disconnect");
    }
    Ok(ended?.is_some())
}

/// What became of a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// The session is online and its last-seen time moved.
    Acknowledged,
    /// The session's token has ended (`reason`: `EXPIRED`, or `FORCED` for a revoked token):
    /// this heartbeat ended the session, told the client `SESSION_ENDED` through the gateway and
    /// closed the connection.
    SessionEnded(OfflineReason),
    /// The session had already ended (forced offline, stale, disconnected): the connection is
    /// closed.
    AlreadyEnded,
}

/// `$default` `{"action": "heartbeat"}`: moves the session's `lastSeenDate` while its token lives.
pub async fn heartbeat(app: &App, connection_id: &str, now: Timestamp) -> Result<Heartbeat, ApiError> {
    Ok(match live(app, connection_id, now).await? {
        Liveness::Live(_) => Heartbeat::Acknowledged,
        Liveness::Over(heartbeat) => heartbeat,
    })
}

/// Whether a connection's session is still online, after a message from its client.
enum Liveness {
    /// Online, its last-seen time moved; the record of its token (`None`: a session recorded
    /// without one, seeded data).
    Live(Option<TokenRecord>),
    /// Not any more: what a heartbeat would have been answered (the connection is closed).
    Over(Heartbeat),
}

/// A message from a connection's client counts as a heartbeat: the session's last-seen time
/// moves while its token lives, and the session ends (told and closed) when the token has.
async fn live(app: &App, connection_id: &str, now: Timestamp) -> Result<Liveness, ApiError> {
    let Some(bound) = app.store.touch_connection(connection_id, now).await? else {
        return Ok(Liveness::Over(already_ended(app, connection_id).await));
    };
    let Some(hash) = bound.token.as_ref() else {
        return Ok(Liveness::Live(None));
    };
    let record = app.store.token(hash).await?;
    match session_end_reason(record.as_ref(), now) {
        None => Ok(Liveness::Live(record)),
        Some(reason) => Ok(Liveness::Over(end_with_token(app, bound.session, reason, now).await?)),
    }
}

/// What became of a subscribe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    /// The connection now receives the presence events of these tenants.
    Watching(TenantScope),
    /// The connection's session is over (as a heartbeat would have found): nothing subscribed.
    SessionOver(Heartbeat),
}

/// `$default` `{"action": "subscribe"}` (a platform caller may add `"tenantId"`): the connection
/// receives the presence events of its tenant (a platform caller: every tenant, or the one it
/// named) from now on, replacing what it watched before. The connection's token must still live
/// and hold `message:center:online:list` (403 otherwise); a caller who is not a platform caller
/// naming another tenant is 403 as in a listing. The subscribe counts as a heartbeat.
pub async fn subscribe(
    app: &App,
    connection_id: &str,
    tenant: Option<TenantId>,
    now: Timestamp,
) -> Result<Subscribed, ApiError> {
    let record = match live(app, connection_id, now).await? {
        Liveness::Live(record) => record,
        Liveness::Over(heartbeat) => return Ok(Subscribed::SessionOver(heartbeat)),
    };
    let caller = Caller::from(record.ok_or_else(|| {
        ApiError::forbidden("This connection was opened without a token, so it holds no permission.")
    })?);
    caller.require(Permission::List)?;
    let scope = caller.scope(tenant)?;
    app.store.subscribe(connection_id, scope, now).await?;
    Ok(Subscribed::Watching(scope))
}

/// `$default` `{"action": "unsubscribe"}`: no more presence events on this connection; `false`
/// when it had no subscription (harmless).
pub async fn unsubscribe(app: &App, connection_id: &str) -> Result<bool, ApiError> {
    Ok(app.store.unsubscribe(connection_id).await?)
}

/// A heartbeat on a session that has ended: its connection closed.
async fn already_ended(app: &App, connection_id: &str) -> Heartbeat {
    if let Err(error) = app.gateway.close(connection_id).await {
        tracing::warn!(%error, connectionId = connection_id, "ended session's connection not closed");
    }
    Heartbeat::AlreadyEnded
}

/// Ends a session whose token has ended, tells its client `SESSION_ENDED` and closes its
/// connection. The notice goes through the gateway before the close (API Gateway drops a route
/// response to a connection closed meanwhile). When another call (a disconnect, a forced
/// offline, the cleanup) ended the session first, the heartbeat is answered as any heartbeat on
/// an ended session.
async fn end_with_token(
    app: &App,
    session: Session,
    reason: OfflineReason,
    now: Timestamp,
) -> Result<Heartbeat, ApiError> {
    let ended = app
        .store
        .end_sessions(std::slice::from_ref(&session), now, reason)
        .await?;
    if ended.is_empty() {
        return Ok(already_ended(app, &session.connection_id).await);
    }
    let connection = session.connection_id.as_str();
    if let Err(error) = app.gateway.send(connection, &Notice::session_ended(now, reason)).await {
        tracing::warn!(%error, connectionId = connection, "session-ended notice not delivered");
    }
    if let Err(error) = app.gateway.close(connection).await {
        tracing::warn!(%error, connectionId = connection, "ended session's connection not closed");
    }
    Ok(Heartbeat::SessionEnded(reason))
}
