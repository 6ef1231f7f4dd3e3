//! Presence events: a session that starts is an `ONLINE` event, a session that ends an `OFFLINE`
//! one. Both stores report their writes as [`SessionChange`]s (the memory store as it writes,
//! DynamoDB through the sessions table's stream, old and new image), and this module alone says
//! which changes are events and what a subscriber receives, so the local API and the
//! `online-events` function send the same messages.

use serde::Serialize;

use super::{InfoScope, Session, SessionView, TenantId, Timestamp};

/// A session as it was before a write and as it is after (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionChange {
    pub before: Option<Session>,
    pub after: Option<Session>,
}

/// What happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PresenceKind {
    Online,
    Offline,
}

impl PresenceKind {
    /// The EventBridge `detail-type` of this kind.
    pub fn detail_type(self) -> &'static str {
        match self {
            PresenceKind::Online => "Session Online",
            PresenceKind::Offline => "Session Offline",
        }
    }
}

/// The EventBridge `source` of presence events.
pub const EVENT_SOURCE: &str = "message-center.online";

/// A session that came online or went offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceEvent {
    pub kind: PresenceKind,
    /// The session as it is after the change (for `OFFLINE`: ended, with its reason).
    pub session: Session,
}

/// The `PRESENCE` message a subscriber receives.
#[derive(Serialize)]
struct PresenceMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    event: PresenceKind,
    session: SessionView<'a>,
    datetime: Timestamp,
}

impl PresenceEvent {
    /// The event a change is, if any: a session written online that was not online before is
    /// `ONLINE`; an online session written ended is `OFFLINE`. Heartbeats (an online session
    /// written online), the deletion of ended sessions, and items that are not sessions are not
    /// events. A session is only ever deleted after it ended, so a deletion is never an event.
    pub fn from_change(change: &SessionChange) -> Option<PresenceEvent> {
        let was_online = change.before.as_ref().is_some_and(Session::online);
        let after = change.after.as_ref()?;
        let kind = match (was_online, after.online()) {
            (false, true) => PresenceKind::Online,
            (true, false) => PresenceKind::Offline,
            _ => return None,
        };
        Some(PresenceEvent {
            kind,
            session: after.clone(),
        })
    }

    pub fn tenant(&self) -> TenantId {
        self.session.tenant_id
    }

    /// When the change happened: the session's start for `ONLINE`, its end for `OFFLINE`.
    pub fn at(&self) -> Timestamp {
        match self.kind {
            PresenceKind::Online => self.session.online_date,
            PresenceKind::Offline => self.session.offline_date.unwrap_or(self.session.last_seen_date),
        }
    }

    /// `{"type": "PRESENCE", "event", "session": <DETAIL record>, "datetime"}`.
    pub fn message(&self) -> String {
        serde_json::to_string(&PresenceMessage {
            kind: "PRESENCE",
            event: self.kind,
            session: self.detail(),
            datetime: self.at(),
        })
        .unwrap_or_default()
    }

    /// The session as its DETAIL record (the EventBridge event's `detail`).
    pub fn detail(&self) -> SessionView<'_> {
        SessionView::new(&self.session, InfoScope::Detail)
    }

    /// The DETAIL record as JSON text.
    pub fn detail_json(&self) -> String {
        serde_json::to_string(&self.detail()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OfflineReason, SessionId, UserId};

    fn online() -> Session {
        let at = Timestamp::from_millis(1_700_000_000_000);
        Session {
            id: SessionId::new_at(at),
            tenant_id: TenantId(7),
            user_id: UserId(1001),
            full_name: "Ada Lovelace".into(),
            avatar: None,
            user_agent: Some("wscat".into()),
            device_id: None,
            remote_address: Some("203.0.113.9".into()),
            connection_id: "c-1".into(),
            online_date: at,
            offline_date: None,
            last_seen_date: at,
            offline_reason: None,
        }
    }

    fn change(before: Option<Session>, after: Option<Session>) -> Option<PresenceKind> {
        PresenceEvent::from_change(&SessionChange { before, after }).map(|event| event.kind)
    }

    #[test]
    fn starts_and_ends_are_events_and_nothing_else_is() {
        let session = online();
        let ended = session
            .clone()
            .ended(session.online_date.plus_secs(5), OfflineReason::Forced);
        let mut touched = session.clone();
        touched.last_seen_date = touched.last_seen_date.plus_secs(1);
        assert_eq!(change(None, Some(session.clone())), Some(PresenceKind::Online));
        assert_eq!(
            change(Some(session.clone()), Some(ended.clone())),
            Some(PresenceKind::Offline)
        );
        assert_eq!(change(Some(session.clone()), Some(touched)), None, "a heartbeat");
        assert_eq!(
            change(Some(ended.clone()), Some(ended.clone())),
            None,
            "an ended session rewritten"
        );
        assert_eq!(change(Some(ended.clone()), None), None, "an old session deleted");
        assert_eq!(change(None, Some(ended)), None, "an ended session imported");
        assert_eq!(change(None, None), None);
    }

    #[test]
    fn the_message_carries_the_detail_record_and_the_time_of_the_change() {
        let session = online();
        let end = session.online_date.plus_secs(5);
        let ended = session.clone().ended(end, OfflineReason::Stale);
        let event = PresenceEvent::from_change(&SessionChange {
            before: Some(session),
            after: Some(ended),
        })
        .unwrap();
        let message: serde_json::Value = serde_json::from_str(&event.message()).unwrap();
        assert_eq!(message["type"], "PRESENCE");
        assert_eq!(message["event"], "OFFLINE");
        assert_eq!(message["datetime"], serde_json::to_value(end).unwrap());
        assert_eq!(message["session"]["offlineReason"], "STALE");
        assert_eq!(message["session"]["tenantId"], "7");
        assert_eq!(message["session"]["online"], false);
        assert_eq!(event.kind.detail_type(), "Session Offline");
    }
}
