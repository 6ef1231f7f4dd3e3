//! The scheduled cleanup on both stores: what it ends, deletes and keeps; a backlog larger than
//! one run's budget finished over several runs with nothing done twice or missed; two runs at
//! once; and, through the local API, a real client that stops sending heartbeats.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use message_center::domain::access::{TenantScope, TokenHash};
use message_center::domain::{OfflineReason, Session, TenantId, Timestamp, UserId};
use message_center::service::cleanup::{CleanupReport, CleanupSettings, CleanupTrigger};
use message_center::service::App;
use message_center::store::{Opened, SessionCounts, Store};
use message_center_tests::fixtures::{at, ended, online, token};
use message_center_tests::gateway::RecordingGateway;
use message_center_tests::run_cleanup;
use tokio_tungstenite::tungstenite::Message;

const SETTINGS: CleanupSettings = CleanupSettings {
    stale_after_secs: 600,
    retention_days: 30,
    batch: 100,
};
const DAY: i64 = 86_400;

fn seen_at(mut session: Session, seen: Timestamp) -> Session {
    session.last_seen_date = seen;
    session
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(600)
}

async fn counts(store: &dyn Store, tenant: i64) -> SessionCounts {
    store
        .session_counts(TenantScope::Tenant(TenantId(tenant)))
        .await
        .unwrap()
}

async fn what_a_run_ends_deletes_and_keeps(store: Arc<dyn Store>) {
    let stale = seen_at(online(1, 1001, "Stale", at(-3600)), at(-700));
    let fresh = seen_at(online(1, 1002, "Fresh", at(-3600)), at(-10));
    let two_devices_stale = seen_at(online(1, 1003, "Two devices", at(-3600)), at(-601));
    let two_devices_live = seen_at(online(1, 1003, "Two devices", at(-3000)), at(-5));
    let old = ended(1, 1004, "Old", at(-40 * DAY), 60, OfflineReason::Disconnected);
    let recent = ended(1, 1004, "Recent", at(-DAY), 60, OfflineReason::Disconnected);
    let other_tenant_old = ended(2, 2001, "Old elsewhere", at(-31 * DAY), 60, OfflineReason::Forced);
    for session in [
        &stale,
        &fresh,
        &two_devices_stale,
        &two_devices_live,
        &old,
        &recent,
        &other_tenant_old,
    ] {
        assert!(store.open_session(session, None).await.unwrap() == Opened::Recorded);
    }
    let mut expired = token("expired", 1, 1001, &[], false);
    expired.expires_at = Some(at(-3600));
    let mut live = token("live", 1, 1002, &[], false);
    live.expires_at = Some(at(3600));
    let forever = token("forever", 1, 1003, &[], false);
    for record in [&expired, &live, &forever] {
        store.put_token(record).await.unwrap();
    }
    let live_connections = [&stale, &fresh, &two_devices_stale, &two_devices_live].map(|s| s.connection_id.clone());
    let gateway = Arc::new(RecordingGateway::with_live(live_connections));
    let app = App {
        store: store.clone(),
        gateway: gateway.clone(),
        config: Default::default(),
    };

    let report = run_cleanup(&app, &SETTINGS, at(0), far_future()).await.unwrap();
    assert_eq!(
        (
            report.stale_ended,
            report.connections_closed,
            report.sessions_deleted,
            report.tokens_deleted
        ),
        (2, 2, 2, 1),
        "{report:?}"
    );
    assert_eq!(
        (
            report.out_of_time,
            report.left_stale,
            report.left_ended,
            report.left_tokens
        ),
        (false, 0, 0, 0)
    );
    let mut closed = gateway.closed();
    closed.sort();
    let mut expected = vec![stale.connection_id.clone(), two_devices_stale.connection_id.clone()];
    expected.sort();
    assert_eq!(closed, expected, "the stale sessions' connections are closed");

    let user = |id| store.user_sessions(TenantScope::All, UserId(id), 50);
    let ended_stale = &user(1001).await.unwrap()[0];
    assert_eq!(
        (ended_stale.offline_reason, ended_stale.offline_date),
        (Some(OfflineReason::Stale), Some(at(0)))
    );
    assert!(user(1002).await.unwrap()[0].online(), "a fresh session stays online");
    let both = user(1003).await.unwrap();
    assert_eq!(
        both.iter().filter(|s| s.online()).count(),
        1,
        "the live device keeps the user online"
    );
    let kept: Vec<_> = user(1004).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(kept, vec![recent.id], "retention removes only the old ended session");
    assert!(user(2001).await.unwrap().is_empty());
    assert_eq!(
        counts(store.as_ref(), 1).await,
        SessionCounts { sessions: 5, online: 2 }
    );
    assert_eq!(
        counts(store.as_ref(), 2).await,
        SessionCounts { sessions: 0, online: 0 }
    );
    assert_eq!(store.token(&TokenHash::of("expired")).await.unwrap(), None);
    assert!(store.token(&TokenHash::of("live")).await.unwrap().is_some());
    assert!(store.token(&TokenHash::of("forever")).await.unwrap().is_some());

    let again = run_cleanup(&app, &SETTINGS, at(0), far_future()).await.unwrap();
    assert_eq!(
        again,
        CleanupReport {
            duration_ms: again.duration_ms,
            ..Default::default()
        },
        "idempotent"
    );
}

/// 60 stale sessions, 30 expired ended ones and 20 expired tokens, in batches of 10 with no time
/// budget at all: each run does one batch of each kind, and the runs add up exactly.
async fn seed_backlog(store: &dyn Store) {
    for n in 0..60 {
        let session = seen_at(online(3, 3000 + n % 7, "Backlog", at(-7200 + n)), at(-3600 + n));
        assert!(store.open_session(&session, None).await.unwrap() == Opened::Recorded);
    }
    for n in 0..30 {
        let session = ended(
            4,
            4000 + n % 5,
            "Old",
            at(-60 * DAY + n),
            60,
            OfflineReason::Disconnected,
        );
        assert!(store.open_session(&session, None).await.unwrap() == Opened::Recorded);
    }
    for n in 0..20 {
        let mut record = token(&format!("old-token-{n}"), 3, 3000, &[], false);
        record.expires_at = Some(at(-DAY + n));
        store.put_token(&record).await.unwrap();
    }
}

fn app_over(store: Arc<dyn Store>) -> App {
    App {
        store,
        gateway: Arc::new(RecordingGateway::default()),
        config: Default::default(),
    }
}

async fn a_backlog_is_finished_over_several_runs(store: Arc<dyn Store>) {
    seed_backlog(store.as_ref()).await;
    let app = app_over(store.clone());
    let tiny = CleanupSettings { batch: 10, ..SETTINGS };
    let mut runs = Vec::new();
    loop {
        let report = run_cleanup(&app, &tiny, at(0), Instant::now()).await.unwrap();
        let done = report.stale_ended + report.sessions_deleted + report.tokens_deleted == 0;
        runs.push(report);
        if done || runs.len() > 20 {
            break;
        }
    }
    let total = |f: fn(&CleanupReport) -> u64| runs.iter().map(f).sum::<u64>();
    assert_eq!(
        (
            total(|r| r.stale_ended),
            total(|r| r.sessions_deleted),
            total(|r| r.tokens_deleted)
        ),
        (60, 30, 20)
    );
    assert_eq!(runs.len(), 7, "six runs of 10, then one that finds nothing: {runs:?}");
    assert!(runs[0].out_of_time);
    assert_eq!(
        (runs[0].left_stale, runs[0].left_ended, runs[0].left_tokens),
        (50, 20, 10),
        "what the first run left"
    );
    assert_backlog_counts(store.as_ref()).await;
}

/// The counters once the backlog is done: tenant 3 keeps its 60 sessions, all ended; tenant 4's
/// old ended sessions are gone.
async fn assert_backlog_counts(store: &dyn Store) {
    assert_eq!(
        counts(store, 3).await,
        SessionCounts {
            sessions: 60,
            online: 0
        }
    );
    assert_eq!(counts(store, 4).await, SessionCounts { sessions: 0, online: 0 });
}

async fn two_runs_at_once_never_double_count(store: Arc<dyn Store>) {
    seed_backlog(store.as_ref()).await;
    let app = app_over(store.clone());
    let small = CleanupSettings { batch: 7, ..SETTINGS };
    let (a, b) = futures::join!(
        run_cleanup(&app, &small, at(0), far_future()),
        run_cleanup(&app, &small, at(0), far_future())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.stale_ended + b.stale_ended, 60, "{a:?} {b:?}");
    assert_eq!(a.sessions_deleted + b.sessions_deleted, 30);
    assert_eq!(a.tokens_deleted + b.tokens_deleted, 20);
    assert_backlog_counts(store.as_ref()).await;
}

/// A client that stops sending heartbeats is shown offline with `STALE` after the stale time
/// plus one cleanup period, and its socket is closed.
async fn a_silent_client_goes_stale(store: Arc<dyn Store>) {
    store
        .put_token(&token("silent-client", 1, 1777, &[], false))
        .await
        .unwrap();
    local_api::demo::seed(store.as_ref(), Timestamp::now()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let schedule = local_api::CleanupSchedule {
        every: Duration::from_secs(1),
        settings: CleanupSettings {
            stale_after_secs: 2,
            ..SETTINGS
        },
    };
    tokio::spawn(local_api::serve(
        listener,
        store.clone(),
        Some(schedule),
        std::future::pending(),
    ));

    let url = format!("ws://{address}/ws?token=silent-client&deviceId=silent-device");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    socket
        .send(Message::Text(r#"{"action":"heartbeat"}"#.into()))
        .await
        .unwrap();
    assert!(
        matches!(socket.next().await, Some(Ok(Message::Text(_)))),
        "the heartbeat is answered"
    );
    let started = Instant::now();
    // Silent from now on: within stale time (2 s) + one period (1 s) + slack, the server closes it.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the socket was closed by the cleanup");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "not before the session was stale"
    );
    let sessions = store.user_sessions(TenantScope::All, UserId(1777), 50).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].offline_reason, Some(OfflineReason::Stale));
}

#[test]
fn the_scheduled_and_on_demand_events_are_accepted() {
    let fixtures = message_center_tests::events::fixtures_of("online-cleanup");
    assert_eq!(fixtures, ["online-cleanup-on-demand.json", "online-cleanup.json"]);
    let scheduled: Option<CleanupTrigger> =
        serde_json::from_str(&message_center_tests::events::fixture_json("online-cleanup.json")).unwrap();
    let scheduled = scheduled.unwrap();
    assert_eq!(
        (scheduled.source.as_deref(), scheduled.detail_type.as_deref()),
        (Some("aws.events"), Some("Scheduled Event"))
    );
    let on_demand: Option<CleanupTrigger> = serde_json::from_str(&message_center_tests::events::fixture_json(
        "online-cleanup-on-demand.json",
    ))
    .unwrap();
    assert!(on_demand.is_some_and(|t| t.source.is_none()));
    assert!(
        serde_json::from_str::<Option<CleanupTrigger>>("null")
            .unwrap()
            .is_none(),
        "an invoke with no payload"
    );
}

message_center_tests::both_stores!(
    what_a_run_ends_deletes_and_keeps,
    a_backlog_is_finished_over_several_runs,
    two_runs_at_once_never_double_count,
    a_silent_client_goes_stale,
);
