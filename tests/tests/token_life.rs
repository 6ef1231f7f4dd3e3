//! "A session lives no longer than its token", through the handlers the ws-* functions and the
//! cleanup run, on both stores: a heartbeat on a session whose token expired, was revoked or was
//! deleted ends it (`EXPIRED` or `FORCED`), tells the client `SESSION_ENDED` and closes the
//! connection; the cleanup's token sweep does the same for clients that send no heartbeat; and a
//! user over `CONNECTS_PER_MINUTE` is refused with 429 and leaves nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;
use message_center::domain::access::{TenantScope, TokenRecord};
use message_center::domain::{OfflineReason, Session, TenantId, Timestamp, UserId};
use message_center::service::cleanup::CleanupSettings;
use message_center::service::config::DEFAULT_CONNECTS_PER_MINUTE;
use message_center::service::App;
use message_center::store::{Store, UserRef};
use message_center::ws::{handle, WsRoute};
use message_center_tests::events::ws_event_on;
use message_center_tests::fixtures::token;
use message_center_tests::gateway::RecordingGateway;
use message_center_tests::run_cleanup;
use serde_json::Value;

const HEARTBEAT: &str = r#"{"action":"heartbeat"}"#;

fn body(response: &ApiGatewayProxyResponse) -> Option<Value> {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).ok(),
        _ => None,
    }
}

/// An app over `store` whose gateway knows `connections` as live.
fn app(store: Arc<dyn Store>, connections: &[&str]) -> (App, Arc<RecordingGateway>) {
    let gateway = Arc::new(RecordingGateway::with_live(connections.iter().map(|c| c.to_string())));
    (
        App {
            store,
            gateway: gateway.clone(),
            config: Default::default(),
        },
        gateway,
    )
}

/// Connects `connection` with `secret`, and answers with the status.
async fn connect(app: &App, connection: &str, secret: &str) -> ApiGatewayProxyResponse {
    let event = ws_event_on(
        connection,
        &[("token", secret), ("deviceId", "token-life-device")],
        None,
    );
    handle(app, WsRoute::Connect, event).await
}

async fn heartbeat(app: &App, connection: &str) -> ApiGatewayProxyResponse {
    handle(app, WsRoute::Default, ws_event_on(connection, &[], Some(HEARTBEAT))).await
}

/// The only session of `user`.
async fn session_of(store: &dyn Store, user: i64) -> Session {
    let sessions = store.user_sessions(TenantScope::All, UserId(user), 50).await.unwrap();
    assert_eq!(sessions.len(), 1, "user {user} has one session");
    sessions.into_iter().next().unwrap()
}

/// How each way a token ends shows up: (secret, user, what happens to the token, the reason).
type Ending = (&'static str, i64, fn(TokenRecord) -> TokenEnd, OfflineReason);

enum TokenEnd {
    /// The record now says this (expired, or revoked).
    Becomes(TokenRecord),
    /// The record is gone (deleted by the identity service, or by the cleanup once expired).
    Deleted(TokenRecord),
    /// Revoked by a forced offline of its user.
    Revoked(UserRef),
}

const ENDINGS: [Ending; 3] = [
    ("life-expiring-3c1f", 8101, expire, OfflineReason::Expired),
    ("life-revoked-77ab", 8102, revoke, OfflineReason::Forced),
    ("life-deleted-e0d2", 8103, delete, OfflineReason::Expired),
];

fn expire(mut record: TokenRecord) -> TokenEnd {
    record.expires_at = Some(Timestamp::now().plus_secs(-1));
    TokenEnd::Becomes(record)
}

fn revoke(record: TokenRecord) -> TokenEnd {
    TokenEnd::Revoked(UserRef {
        user_id: record.user_id,
        tenant_id: record.tenant_id,
    })
}

fn delete(record: TokenRecord) -> TokenEnd {
    TokenEnd::Deleted(record)
}

/// Ends a token the way `end` says, as the identity service or a forced offline would.
async fn end_token(store: &dyn Store, end: TokenEnd) {
    match end {
        TokenEnd::Becomes(record) => store.put_token(&record).await.unwrap(),
        TokenEnd::Revoked(user) => {
            store.revoke_user_tokens(&[user], Timestamp::now()).await.unwrap();
        }
        TokenEnd::Deleted(mut record) => {
            // Expired a minute ago, then deleted: the record is gone.
            record.expires_at = Some(Timestamp::now().plus_secs(-60));
            store.put_token(&record).await.unwrap();
            let deleted = store
                .delete_expired_tokens(std::slice::from_ref(&record.hash), Timestamp::now())
                .await
                .unwrap();
            assert_eq!(deleted, 1);
        }
    }
}

async fn a_heartbeat_ends_a_session_whose_token_ended(store: Arc<dyn Store>) {
    for (secret, user, ending, reason) in ENDINGS {
        let connection = format!("life-{user}");
        let (app, gateway) = app(store.clone(), &[&connection]);
        let record = token(secret, 81, user, &[], false);
        store.put_token(&record).await.unwrap();
        assert_eq!(connect(&app, &connection, secret).await.status_code, 200);
        let ack = heartbeat(&app, &connection).await;
        assert_eq!(body(&ack).unwrap()["type"], "HEARTBEAT_ACK", "{secret}: live token");

        end_token(store.as_ref(), ending(record)).await;
        let answer = heartbeat(&app, &connection).await;
        assert_eq!(answer.status_code, 200);
        assert!(
            body(&answer).is_none(),
            "the notice goes through the gateway, before the close"
        );
        let sent = gateway.sent();
        assert_eq!(sent.len(), 1, "{secret}: one notice");
        let notice: Value = serde_json::from_str(&sent[0].1).unwrap();
        assert_eq!(
            (notice["type"].as_str(), notice["reason"].as_str()),
            (Some("SESSION_ENDED"), Some(reason.as_str())),
            "{secret}"
        );
        assert!(notice["datetime"].is_string());
        assert_eq!(gateway.closed(), std::slice::from_ref(&connection), "{secret}: closed");
        let session = session_of(store.as_ref(), user).await;
        assert!(!session.online(), "{secret}: ended");
        assert_eq!(session.offline_reason, Some(reason), "{secret}");

        let late = heartbeat(&app, &connection).await;
        assert_eq!(
            body(&late).unwrap()["type"],
            "ERROR",
            "{secret}: a later heartbeat finds it ended"
        );
    }
    let counts = store.session_counts(TenantScope::Tenant(TenantId(81))).await.unwrap();
    assert_eq!((counts.sessions, counts.online), (3, 0));
}

async fn the_cleanup_ends_sessions_whose_token_ended(store: Arc<dyn Store>) {
    let live_connection = "life-sweep-live";
    let connections: Vec<String> = ENDINGS.iter().map(|(_, user, _, _)| format!("sweep-{user}")).collect();
    let mut all: Vec<&str> = connections.iter().map(String::as_str).collect();
    all.push(live_connection);
    let (app, gateway) = app(store.clone(), &all);

    store
        .put_token(&token("sweep-live-a41c", 82, 8200, &[], false))
        .await
        .unwrap();
    assert_eq!(connect(&app, live_connection, "sweep-live-a41c").await.status_code, 200);
    let mut records = Vec::new();
    for ((secret, user, _, _), connection) in ENDINGS.iter().zip(&connections) {
        let record = token(secret, 82, *user, &[], false);
        store.put_token(&record).await.unwrap();
        assert_eq!(connect(&app, connection, secret).await.status_code, 200);
        records.push(record);
    }
    for ((_, _, ending, _), record) in ENDINGS.iter().zip(records) {
        end_token(store.as_ref(), ending(record)).await;
    }

    let settings = CleanupSettings {
        batch: 2,
        ..CleanupSettings::default()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = run_cleanup(&app, &settings, Timestamp::now(), deadline).await.unwrap();
    assert_eq!(report.token_ended, 3);
    assert_eq!(
        report.tokens_checked, 4,
        "every online session's token, across pages of 2"
    );
    assert_eq!(report.stale_ended, 0);
    let mut closed = gateway.closed();
    closed.sort();
    assert_eq!(closed, connections, "the live client stays connected");
    for (_, user, _, reason) in ENDINGS {
        let session = session_of(store.as_ref(), user).await;
        assert_eq!(session.offline_reason, Some(reason), "user {user}");
    }
    for (connection, message) in gateway.sent() {
        let notice: Value = serde_json::from_str(&message).unwrap();
        assert_eq!(notice["type"], "SESSION_ENDED", "{connection}");
    }
    assert!(session_of(store.as_ref(), 8200).await.online());

    let again = run_cleanup(&app, &settings, Timestamp::now(), deadline).await.unwrap();
    assert_eq!(
        (again.token_ended, again.tokens_checked),
        (0, 1),
        "a repeat ends nothing"
    );
}

async fn a_user_over_its_connect_rate_is_refused_with_429(store: Arc<dyn Store>) {
    let limit = DEFAULT_CONNECTS_PER_MINUTE as usize;
    let connections: Vec<String> = (0..=limit).map(|n| format!("rate-{n}-{}", ulid::Ulid::new())).collect();
    let (app, _) = app(store.clone(), &[]);
    store
        .put_token(&token("rate-client-5e0b", 83, 8300, &[], false))
        .await
        .unwrap();
    // The same minute for all of them, unless the test straddles a minute's turn: then the rest
    // of the minute's connects are tried again in the next.
    let mut statuses = Vec::new();
    for attempt in 0..2 {
        statuses.clear();
        let minute = Timestamp::now().epoch_minute();
        for connection in &connections[..limit] {
            statuses.push(connect(&app, connection, "rate-client-5e0b").await.status_code);
        }
        let refused = connect(&app, &connections[limit], "rate-client-5e0b").await;
        statuses.push(refused.status_code);
        if Timestamp::now().epoch_minute() == minute {
            assert_eq!(refused.status_code, 429);
            let answer: Value = match &refused.body {
                Some(Body::Text(text)) => serde_json::from_str(text).unwrap(),
                other => panic!("{other:?}"),
            };
            assert_eq!(
                (answer["code"].as_str(), answer["ext"]["eKey"].as_str()),
                (Some("E3"), Some("throttled"))
            );
            assert!(answer["msg"].as_str().unwrap().contains("this minute"));
            assert_eq!(
                refused.headers.get("retry-after").and_then(|v| v.to_str().ok()),
                Some("60")
            );
            break;
        }
        assert_eq!(attempt, 0, "two minute turns in one test");
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), limit);
    let counts = store.session_counts(TenantScope::Tenant(TenantId(83))).await.unwrap();
    assert_eq!(counts.online as usize, limit, "the refused connect recorded nothing");
}

message_center_tests::both_stores!(
    a_heartbeat_ends_a_session_whose_token_ended,
    the_cleanup_ends_sessions_whose_token_ended,
    a_user_over_its_connect_rate_is_refused_with_429,
);
