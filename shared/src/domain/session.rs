//! Login sessions (one per WebSocket connection) and a user's presence, with the two views the
//! contract shows them in (`BASIC`, `DETAIL`).

use serde::Serialize;

use super::{SessionId, TenantId, Timestamp, UserId};

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OfflineReason {
    /// The client closed its connection (`$disconnect`).
    Disconnected,
    /// An administrator forced the user offline.
    Forced,
    /// No heartbeat within the stale period; ended by the scheduled cleanup.
    Stale,
    /// Its token expired, or its record was deleted by the identity service: a session lives no
    /// longer than its token (ended at its next heartbeat or by the cleanup).
    Expired,
}

impl OfflineReason {
    pub fn as_str(self) -> &'static str {
        match self {
            OfflineReason::Disconnected => "DISCONNECTED",
            OfflineReason::Forced => "FORCED",
            OfflineReason::Stale => "STALE",
            OfflineReason::Expired => "EXPIRED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "DISCONNECTED" => Some(OfflineReason::Disconnected),
            "FORCED" => Some(OfflineReason::Forced),
            "STALE" => Some(OfflineReason::Stale),
            "EXPIRED" => Some(OfflineReason::Expired),
            _ => None,
        }
    }
}

/// One login session, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub full_name: String,
    pub avatar: Option<String>,
    pub user_agent: Option<String>,
    pub device_id: Option<String>,
    pub remote_address: Option<String>,
    /// The API Gateway connection this session rides on.
    pub connection_id: String,
    pub online_date: Timestamp,
    pub offline_date: Option<Timestamp>,
    pub last_seen_date: Timestamp,
    pub offline_reason: Option<OfflineReason>,
}

impl Session {
    /// A session is online until it has an end.
    pub fn online(&self) -> bool {
        self.offline_date.is_none()
    }

    /// When this session ends if it is ended at `at`: never before it began. An ending call takes
    /// its time when it starts, and a connect that started later may land first (racing handlers).
    pub fn end_time(&self, at: Timestamp) -> Timestamp {
        at.max(self.online_date)
    }

    /// This session, ended at `at` (its [`Session::end_time`]) for `reason`; an ended session stays
    /// as it was.
    pub fn ended(mut self, at: Timestamp, reason: OfflineReason) -> Self {
        if self.online() {
            self.offline_date = Some(self.end_time(at));
            self.offline_reason = Some(reason);
        }
        self
    }
}

/// How much of a session a response shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InfoScope {
    #[default]
    Basic,
    Detail,
}

/// A session as a response shows it: `BASIC` fields always, `DETAIL` fields when asked for.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView<'a> {
    pub id: SessionId,
    pub user_id: UserId,
    pub full_name: &'a str,
    pub avatar: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub device_id: Option<&'a str>,
    pub remote_address: Option<&'a str>,
    pub online: bool,
    pub online_date: Timestamp,
    pub offline_date: Option<Timestamp>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub detail: Option<SessionDetailFields>,
}

/// The fields `DETAIL` adds.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionDetailFields {
    pub tenant_id: TenantId,
    pub last_seen_date: Timestamp,
    pub offline_reason: Option<OfflineReason>,
}

impl<'a> SessionView<'a> {
    pub fn new(session: &'a Session, scope: InfoScope) -> Self {
        SessionView {
            id: session.id,
            user_id: session.user_id,
            full_name: &session.full_name,
            avatar: session.avatar.as_deref(),
            user_agent: session.user_agent.as_deref(),
            device_id: session.device_id.as_deref(),
            remote_address: session.remote_address.as_deref(),
            online: session.online(),
            online_date: session.online_date,
            offline_date: session.offline_date,
            detail: (scope == InfoScope::Detail).then_some(SessionDetailFields {
                tenant_id: session.tenant_id,
                last_seen_date: session.last_seen_date,
                offline_reason: session.offline_reason,
            }),
        }
    }
}

/// One user's presence, the detail endpoint's answer: a summary of the newest sessions, then the
/// sessions themselves (online ones first, then the newest ended ones).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence<'a> {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub full_name: &'a str,
    pub avatar: Option<&'a str>,
    pub online: bool,
    pub online_date: Timestamp,
    pub offline_date: Option<Timestamp>,
    pub device_id: Option<&'a str>,
    pub remote_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub online_sessions: usize,
    pub sessions: Vec<SessionView<'a>>,
}

/// How many sessions the detail endpoint shows at most.
pub const PRESENCE_SESSION_LIMIT: usize = 50;

impl<'a> Presence<'a> {
    /// Summarises a user's sessions, given newest first (as the store returns them). `None` when
    /// there are none: the user does not exist for the caller.
    pub fn from_newest_first(sessions: &'a [Session]) -> Option<Self> {
        let newest = sessions.first()?;
        let newest_ended = sessions.iter().find(|s| !s.online());
        let online: Vec<&Session> = sessions.iter().filter(|s| s.online()).collect();
        let shown = online
            .iter()
            .copied()
            .chain(sessions.iter().filter(|s| !s.online()))
            .take(PRESENCE_SESSION_LIMIT)
            .map(|s| SessionView::new(s, InfoScope::Detail))
            .collect();
        Some(Presence {
            user_id: newest.user_id,
            tenant_id: newest.tenant_id,
            full_name: &newest.full_name,
            avatar: newest.avatar.as_deref(),
            online: !online.is_empty(),
            online_date: newest.online_date,
            offline_date: newest_ended.and_then(|s| s.offline_date),
            device_id: newest.device_id.as_deref(),
            remote_address: newest.remote_address.as_deref(),
            user_agent: newest.user_agent.as_deref(),
            online_sessions: online.len(),
            sessions: shown,
        })
    }
}
