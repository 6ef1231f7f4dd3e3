//! One conformance suite for the store traits, run against both stores: the embedded
//! `MemoryStore` and `DynamoStore` on a real DynamoDB-protocol server (moto, behind the strict
//! proxy). Each case is written once, against `dyn Store`; `both_stores!` at the bottom runs every
//! case on each store, so the test names (`memory::…`, `dynamodb::…`) show that both ran. The
//! forced-offline cases go through the service's rule (`force_tenant`, `force_users`), which is
//! made of the stores' offline reads and writes.

use std::collections::BTreeSet;
use std::sync::Arc;

use message_center::domain::access::{Permission, TenantScope, TokenHash, TokenRecord};
use message_center::domain::{
    select_page, OfflineReason, Paging, Position, Session, SessionId, SessionQuery, StoreError, TenantId, Timestamp,
    UserId,
};
use message_center::http::query::{parse_session_query, ListMode};
use message_center::service::offline::{force_tenant, force_users, Forced};
use message_center::store::{ConnectCheck, Opened, SessionCounts, Store, UserRef};
use message_center_tests::fixtures::{at, ended, online, token};

fn user(tenant: i64, user: i64) -> UserRef {
    UserRef {
        user_id: UserId(user),
        tenant_id: TenantId(tenant),
    }
}

/// What a `$connect` with `hash` checks, with no connect rate.
fn check(hash: &TokenHash) -> ConnectCheck {
    ConnectCheck {
        token: hash.clone(),
        per_minute: None,
    }
}

fn ids(sessions: &[Session]) -> Vec<SessionId> {
    sessions.iter().map(|s| s.id).collect()
}

/// Ends these users' online sessions as a forced offline does (their tokens first); the sessions
/// this call ended.
async fn end_user_sessions(store: &dyn Store, users: &[UserRef], at: Timestamp) -> Result<Vec<Session>, StoreError> {
    Ok(force_users(store, users.to_vec(), at).await?.ended)
}

async fn open_all(store: &dyn Store, sessions: &[Session]) {
    for session in sessions {
        assert!(
            store.open_session(session, None).await.unwrap() == Opened::Recorded,
            "session {} opened",
            session.id
        );
    }
}

async fn counts(store: &dyn Store, scope: TenantScope) -> (u64, u64) {
    let SessionCounts { sessions, online } = store.session_counts(scope).await.unwrap();
    (sessions, online)
}

pub async fn tokens_round_trip(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let mut record = token("secret-a", 1, 1001, &[Permission::List], false);
    store.put_token(&record).await.unwrap();
    assert_eq!(
        store.token(&TokenHash::of("secret-a")).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(store.token(&TokenHash::of("secret-b")).await.unwrap(), None);

    record.permissions.clear();
    record.platform = true;
    record.avatar = Some("https://example.com/a.png".into());
    record.expires_at = Some(at(3600));
    store.put_token(&record).await.unwrap();
    assert_eq!(
        store.token(&record.hash).await.unwrap(),
        Some(record),
        "put replaces, empty permissions survive"
    );
}

pub async fn revoking_tokens_touches_only_the_users_and_counts_once(store: Arc<dyn Store>) {
    let store = store.as_ref();
    for (secret, tenant, user) in [("a1", 1, 1001), ("a2", 1, 1001), ("b", 1, 1002), ("c", 2, 2001)] {
        store.put_token(&token(secret, tenant, user, &[], false)).await.unwrap();
    }
    let revoked = store
        .revoke_user_tokens(&[user(1, 1001), user(2, 2001)], at(0))
        .await
        .unwrap();
    assert_eq!(revoked, 3);
    for (secret, is_revoked) in [("a1", true), ("a2", true), ("b", false), ("c", true)] {
        let record = store.token(&TokenHash::of(secret)).await.unwrap().unwrap();
        assert_eq!(record.revoked_at.is_some(), is_revoked, "token {secret}");
    }
    assert_eq!(
        store
            .revoke_user_tokens(&[user(1, 1001), user(2, 2001)], at(5))
            .await
            .unwrap(),
        0,
        "idempotent"
    );
    let first = store.token(&TokenHash::of("a1")).await.unwrap().unwrap();
    assert_eq!(
        first.revoked_at,
        Some(at(0)),
        "a second revocation keeps the first time"
    );
    // A user id under the wrong tenant revokes nothing.
    assert_eq!(store.revoke_user_tokens(&[user(2, 1002)], at(0)).await.unwrap(), 0);
}

pub async fn a_users_tokens_are_its_own_in_its_tenant(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let mut expired = token("ut-expired-1001", 1, 1001, &[], false);
    expired.expires_at = Some(at(-60));
    let mut live = token("ut-live-1001", 1, 1001, &[Permission::List, Permission::Offline], true);
    live.avatar = Some("https://example.com/a.png".into());
    live.expires_at = Some(at(3600));
    let revoked = token("ut-revoked-1001", 1, 1001, &[], false);
    let others = [
        token("ut-other-user-1002", 1, 1002, &[], false),
        // The same user id in another tenant is another user.
        token("ut-other-tenant-1001", 2, 1001, &[], false),
    ];
    for record in [&expired, &live, &revoked].into_iter().chain(&others) {
        store.put_token(record).await.unwrap();
    }
    assert_eq!(store.revoke_user_tokens(&[user(1, 1001)], at(-30)).await.unwrap(), 3);
    // Put again: `live` and `expired` unrevoked, `revoked` stays revoked.
    store.put_token(&live).await.unwrap();
    store.put_token(&expired).await.unwrap();
    let revoked = TokenRecord {
        revoked_at: Some(at(-30)),
        ..revoked
    };

    let mut expected = vec![expired, live, revoked];
    expected.sort_by(|a, b| a.hash.cmp(&b.hash));
    assert_eq!(
        store.user_tokens(user(1, 1001)).await.unwrap(),
        expected,
        "the user's tokens in its tenant, revoked and expired ones included, by hash"
    );
    assert_eq!(store.user_tokens(user(2, 1001)).await.unwrap(), vec![others[1].clone()]);
    assert_eq!(store.user_tokens(user(1, 1002)).await.unwrap(), vec![others[0].clone()]);
    assert_eq!(store.user_tokens(user(3, 1001)).await.unwrap(), Vec::new());
    assert_eq!(store.user_tokens(user(1, 1003)).await.unwrap(), Vec::new());
}

pub async fn opening_a_session_records_it_once(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let session = online(1, 1001, "Ada Lovelace", at(-60));
    assert!(store.open_session(&session, None).await.unwrap() == Opened::Recorded);
    let mut again = online(1, 1001, "Ada Lovelace", at(-30));
    again.connection_id = session.connection_id.clone();
    assert!(
        store.open_session(&again, None).await.unwrap() == Opened::ConnectionKnown,
        "a known connection id is refused"
    );
    assert_eq!(counts(store, TenantScope::Tenant(TenantId(1))).await, (1, 1));

    let listed = store
        .list_sessions(TenantScope::Tenant(TenantId(1)), &Default::default())
        .await
        .unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.sessions, vec![session], "every field survives the round trip");
}

pub async fn no_session_is_opened_on_a_revoked_token(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let tenant = TenantScope::Tenant(TenantId(1));
    let record = token("connect-token-4f1e", 1, 1001, &[], false);
    store.put_token(&record).await.unwrap();
    let first = online(1, 1001, "Ada", at(-60));
    assert_eq!(
        store.open_session(&first, Some(&check(&record.hash))).await.unwrap(),
        Opened::Recorded
    );

    store.revoke_user_tokens(&[user(1, 1001)], at(-30)).await.unwrap();
    let overtaken = online(1, 1001, "Ada", at(-10));
    assert_eq!(
        store
            .open_session(&overtaken, Some(&check(&record.hash)))
            .await
            .unwrap(),
        Opened::TokenRevoked
    );
    let never_issued = TokenHash::of("never-issued");
    assert_eq!(
        store
            .open_session(&overtaken, Some(&check(&never_issued)))
            .await
            .unwrap(),
        Opened::TokenRevoked
    );
    assert_eq!(counts(store, tenant).await, (1, 1), "nothing written");
    let mut on_a_known_connection = online(1, 1001, "Ada", at(-5));
    on_a_known_connection.connection_id = first.connection_id.clone();
    assert_eq!(
        store
            .open_session(&on_a_known_connection, Some(&check(&record.hash)))
            .await
            .unwrap(),
        Opened::TokenRevoked,
        "the token is what refuses first"
    );
    assert_eq!(
        store.open_session(&overtaken, None).await.unwrap(),
        Opened::Recorded,
        "the refused connection was left unknown"
    );
}

pub async fn closing_a_connection_ends_its_session_once(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let first = online(1, 1001, "Ada", at(-60));
    let second = online(1, 1001, "Ada", at(-30));
    open_all(store, &[first.clone(), second.clone()]).await;

    let closed = store
        .close_connection(&first.connection_id, at(0), OfflineReason::Disconnected)
        .await
        .unwrap();
    let closed = closed.expect("the online session is ended");
    assert_eq!(
        (closed.id, closed.offline_date, closed.offline_reason),
        (first.id, Some(at(0)), Some(OfflineReason::Disconnected))
    );
    assert_eq!(
        counts(store, TenantScope::Tenant(TenantId(1))).await,
        (2, 1),
        "the other device stays online"
    );

    assert_eq!(
        store
            .close_connection(&first.connection_id, at(5), OfflineReason::Stale)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .close_connection("never-seen", at(5), OfflineReason::Disconnected)
            .await
            .unwrap(),
        None
    );
    let sessions = store.user_sessions(TenantScope::All, UserId(1001), 50).await.unwrap();
    let stored = sessions.iter().find(|s| s.id == first.id).unwrap();
    assert_eq!(
        (stored.offline_date, stored.offline_reason),
        (Some(at(0)), Some(OfflineReason::Disconnected)),
        "first end stands"
    );
    assert_eq!(counts(store, TenantScope::Tenant(TenantId(1))).await, (2, 1));
}

pub async fn heartbeats_move_last_seen_of_online_sessions_only(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let session = online(1, 1001, "Ada", at(-60));
    open_all(store, std::slice::from_ref(&session)).await;
    let touched = store
        .touch_connection(&session.connection_id, at(-10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(touched.session.last_seen_date, at(-10));
    assert_eq!(touched.session.id, session.id);
    assert_eq!(touched.token, None, "opened without a token, bound to none");
    assert_eq!(store.touch_connection("never-seen", at(0)).await.unwrap(), None);
    store
        .close_connection(&session.connection_id, at(0), OfflineReason::Disconnected)
        .await
        .unwrap();
    assert_eq!(
        store.touch_connection(&session.connection_id, at(1)).await.unwrap(),
        None
    );
}

pub async fn a_connect_after_its_disconnect_is_refused(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let late = online(1, 1001, "Ada", at(-1));
    // `$disconnect` delivered first: nothing to end, but the connection is remembered as closed.
    assert_eq!(
        store
            .close_connection(&late.connection_id, at(0), OfflineReason::Disconnected)
            .await
            .unwrap(),
        None
    );
    assert!(
        store.open_session(&late, None).await.unwrap() == Opened::ConnectionKnown,
        "the late connect leaves nothing"
    );
    assert_eq!(counts(store, TenantScope::Tenant(TenantId(1))).await, (0, 0));
    assert!(store
        .user_sessions(TenantScope::All, UserId(1001), 50)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.touch_connection(&late.connection_id, at(1)).await.unwrap(), None);
}

pub async fn racing_connects_and_disconnects_leave_exact_counts(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let sessions: Vec<Session> = (0..40)
        .map(|n| online(3, 3000 + n % 4, "Racer", at(-100 + n)))
        .collect();
    let opens = sessions.iter().map(|s| store.open_session(s, None));
    let closes = sessions
        .iter()
        .step_by(2)
        .map(|s| store.close_connection(&s.connection_id, at(0), OfflineReason::Disconnected));
    let (opened, _) = futures::join!(futures::future::join_all(opens), futures::future::join_all(closes));
    let opened = opened
        .into_iter()
        .filter(|r| *r.as_ref().unwrap() == Opened::Recorded)
        .count() as u64;
    let listed = store
        .list_sessions(
            TenantScope::Tenant(TenantId(3)),
            &parse_session_query("pageSize=2000", ListMode::List).unwrap(),
        )
        .await
        .unwrap();
    let online_now = listed.sessions.iter().filter(|s| s.online()).count() as u64;
    assert_eq!(listed.total, opened, "every opened session is listed once");
    assert_eq!(
        counts(store, TenantScope::Tenant(TenantId(3))).await,
        (opened, online_now),
        "counters match the sessions"
    );
}

/// Two tenants, a mix of online and ended sessions, names in several cases, null fields.
fn dataset() -> Vec<Session> {
    let names = [
        "Ada Lovelace",
        "ada byron",
        "Grace Hopper",
        "Alan Turing",
        "Édith Piaf",
        "grace kelly",
    ];
    let mut sessions = Vec::new();
    for n in 0..36i64 {
        let tenant = 1 + n % 2;
        let user = tenant * 1000 + n % 7;
        let name = names[(n % 6) as usize];
        let started = at(-3600 * (n % 9) - 60 * n);
        let mut session = if n % 3 == 0 {
            ended(
                tenant,
                user,
                name,
                started,
                30 + n,
                [OfflineReason::Disconnected, OfflineReason::Forced, OfflineReason::Stale][(n % 4 % 3) as usize],
            )
        } else {
            online(tenant, user, name, started)
        };
        if n % 5 == 0 {
            session.device_id = None;
            session.user_agent = None;
        }
        if n % 4 == 1 {
            session.remote_address = Some(format!("198.51.100.{n}"));
        }
        sessions.push(session);
    }
    sessions
}

pub async fn listings_match_the_model_for_every_scope_and_query(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let data = dataset();
    open_all(store, &data).await;
    let queries = [
        (ListMode::List, ""),
        (ListMode::List, "pageSize=5&pageNo=2"),
        (ListMode::List, "pageNo=100"),
        (ListMode::List, "online=true"),
        (ListMode::List, "online=false&orderBy=offlineDate&orderSort=ASC"),
        (ListMode::List, "filters[0].key=online&filters[0].op=NOT_EQUAL&filters[0].value=false&orderBy=onlineDate"),
        (ListMode::List, "fullName=ada%20byron"),
        (ListMode::Search, "fullName=ADA"),
        (ListMode::List, "fullTextSearch=true&fullName=grace"),
        (ListMode::List, "filters[0].key=fullName&filters[0].op=MATCH_END&filters[0].value=gr&orderBy=fullName&orderSort=ASC&pageSize=100"),
        (ListMode::List, "filters[0].key=deviceId&filters[0].op=IS_NULL"),
        (ListMode::List, "filters[3].key=userId&filters[3].op=IN&filters[3].value=1001,2002&filters[3].value=1003"),
        (ListMode::List, "filters[0].key=onlineDate&filters[0].op=GREATER_THAN_EQUAL&filters[0].value=2026-11-28 07:00:00&orderBy=userId&orderSort=ASC"),
        (ListMode::List, "filters[0].key=offlineDate&filters[0].op=IS_NOT_NULL&filters[1].key=remoteAddress&filters[1].op=NOT_MATCH&filters[1].value=198.51"),
        (ListMode::List, "orderBy=fullName&pageSize=2000&infoScope=DETAIL"),
        // Served in key order: counted, ranged, and with filters checked on each item read.
        (ListMode::List, "pageSize=7&pageNo=3"),
        (ListMode::List, "online=true&orderSort=ASC&pageSize=4&pageNo=2"),
        (ListMode::List, "online=false&pageSize=3&pageNo=2"),
        (ListMode::List, "filters[0].key=onlineDate&filters[0].op=LESS_THAN&filters[0].value=2026-11-28 07:00:00&orderBy=onlineDate&orderSort=ASC&pageSize=3"),
        (ListMode::List, "filters[0].key=onlineDate&filters[0].op=GREATER_THAN&filters[0].value=2026-11-28 05:00:00&online=true&pageSize=4"),
        (ListMode::List, "filters[0].key=onlineDate&filters[0].op=LESS_THAN_EQUAL&filters[0].value=2026-11-28 09:59:00&filters[1].key=onlineDate&filters[1].op=GREATER_THAN_EQUAL&filters[1].value=2026-11-28 09:59:00"),
        (ListMode::List, "onlineDate=2026-11-28 09:59:00"),
        (ListMode::List, "online=true&deviceId=no-such-device"),
        (ListMode::List, "userId=1001&orderBy=id&orderSort=ASC"),
    ];
    for scope in [
        TenantScope::Tenant(TenantId(1)),
        TenantScope::Tenant(TenantId(2)),
        TenantScope::All,
        TenantScope::Tenant(TenantId(99)),
    ] {
        for (mode, raw) in queries {
            let query = parse_session_query(raw, mode).unwrap();
            let expected = select_page(data.iter().filter(|s| scope.contains(s.tenant_id)).cloned(), &query);
            let got = store.list_sessions(scope, &query).await.unwrap();
            assert_eq!(got.total, expected.total, "total of {raw:?} in {scope:?}");
            assert_eq!(
                ids(&got.sessions),
                ids(&expected.sessions),
                "page of {raw:?} in {scope:?}"
            );
        }
    }
    assert_eq!(counts(store, TenantScope::All).await, (36, 24));
    assert_eq!(counts(store, TenantScope::Tenant(TenantId(1))).await, (18, 12));
    assert_eq!(counts(store, TenantScope::Tenant(TenantId(99))).await, (0, 0));
}

/// Follows `after` cursors from the first page to the last, as page tokens do.
async fn every_page(store: &dyn Store, scope: TenantScope, mut query: SessionQuery) -> (Vec<SessionId>, Vec<u64>) {
    let mut seen = Vec::new();
    let mut totals = Vec::new();
    loop {
        let page = store.list_sessions(scope, &query).await.unwrap();
        seen.extend(ids(&page.sessions));
        totals.push(page.total);
        match page.sessions.last() {
            Some(last) if page.more => query.after = Some(Position::of(last, query.order_by)),
            _ => return (seen, totals),
        }
        assert!(totals.len() <= 40, "the cursor makes progress");
    }
}

pub async fn cursors_walk_every_match_once_in_order(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let data = dataset();
    open_all(store, &data).await;
    let queries = [
        "pageSize=5",
        "pageSize=4&online=true&orderSort=ASC",
        "pageSize=3&online=false&orderBy=onlineDate",
        "pageSize=5&filters[0].key=onlineDate&filters[0].op=GREATER_THAN_EQUAL&filters[0].value=2026-11-28 04:00:00",
        "pageSize=4&orderBy=fullName&orderSort=ASC",
        "pageSize=6&orderBy=offlineDate",
        "pageSize=2&userId=1001&orderBy=userId",
        "pageSize=18",
    ];
    for scope in [TenantScope::Tenant(TenantId(1)), TenantScope::All] {
        for raw in queries {
            let query = parse_session_query(raw, ListMode::List).unwrap();
            let everything = SessionQuery {
                paging: Paging {
                    page_no: 1,
                    page_size: Paging::MAX_PAGE_SIZE,
                },
                ..query.clone()
            };
            let expected = select_page(
                data.iter().filter(|s| scope.contains(s.tenant_id)).cloned(),
                &everything,
            );
            let (seen, totals) = every_page(store, scope, query).await;
            assert_eq!(seen, ids(&expected.sessions), "pages of {raw:?} in {scope:?}");
            assert!(
                totals.iter().all(|t| *t == expected.total),
                "total of {raw:?} on every page"
            );
        }
    }
}

pub async fn a_users_sessions_are_online_ones_then_newest_ended(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let old_online = online(1, 1001, "Ada", at(-86_400));
    let mut history: Vec<Session> = (0..5)
        .map(|n| ended(1, 1001, "Ada", at(-3600 + n * 60), 10, OfflineReason::Disconnected))
        .collect();
    let fresh_online = online(1, 1001, "Ada", at(-5));
    history.push(old_online.clone());
    history.push(fresh_online.clone());
    history.push(online(1, 1002, "Someone else", at(-1)));
    open_all(store, &history).await;

    let sessions = store
        .user_sessions(TenantScope::Tenant(TenantId(1)), UserId(1001), 3)
        .await
        .unwrap();
    let newest_three_ended: Vec<SessionId> = history[2..5].iter().rev().map(|s| s.id).collect();
    let mut expected = vec![fresh_online.id];
    expected.extend(newest_three_ended);
    expected.push(old_online.id);
    assert_eq!(
        ids(&sessions),
        expected,
        "all online ones, the newest 3 ended, newest first"
    );

    assert!(
        store
            .user_sessions(TenantScope::Tenant(TenantId(2)), UserId(1001), 50)
            .await
            .unwrap()
            .is_empty(),
        "another tenant's user does not exist"
    );
    assert_eq!(
        store
            .user_sessions(TenantScope::All, UserId(1001), 50)
            .await
            .unwrap()
            .len(),
        7
    );
    assert!(store
        .user_sessions(TenantScope::All, UserId(4242), 50)
        .await
        .unwrap()
        .is_empty());
}

pub async fn users_are_found_in_scope_only(store: Arc<dyn Store>) {
    let store = store.as_ref();
    open_all(
        store,
        &[
            online(1, 1001, "Ada", at(-60)),
            ended(2, 2001, "Grace", at(-600), 60, OfflineReason::Forced),
        ],
    )
    .await;
    store.put_token(&token("t-1002", 1, 1002, &[], false)).await.unwrap();

    let wanted = [UserId(1001), UserId(1002), UserId(2001), UserId(9999)];
    let mut in_one = store
        .find_users(TenantScope::Tenant(TenantId(1)), &wanted)
        .await
        .unwrap();
    in_one.sort();
    assert_eq!(in_one, vec![user(1, 1001), user(1, 1002)]);
    let mut everywhere = store.find_users(TenantScope::All, &wanted).await.unwrap();
    everywhere.sort();
    assert_eq!(everywhere, vec![user(1, 1001), user(1, 1002), user(2, 2001)]);
}

pub async fn ending_users_sessions_ends_each_once(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let targets = [
        online(1, 1001, "Ada", at(-60)),
        online(1, 1001, "Ada", at(-30)),
        online(2, 2001, "Grace", at(-10)),
    ];
    let bystander = online(1, 1002, "Bystander", at(-20));
    let history = ended(1, 1001, "Ada", at(-900), 60, OfflineReason::Disconnected);
    open_all(store, &targets).await;
    open_all(store, &[bystander.clone(), history.clone()]).await;

    let mut ended_now = end_user_sessions(store, &[user(1, 1001), user(2, 2001)], at(0))
        .await
        .unwrap();
    ended_now.sort_by_key(|s| s.id);
    assert_eq!(ids(&ended_now), ids(&targets));
    assert!(ended_now
        .iter()
        .all(|s| s.offline_reason == Some(OfflineReason::Forced) && s.offline_date == Some(at(0))));
    assert!(
        ended_now.iter().all(|s| !s.connection_id.is_empty()),
        "ended sessions carry their connection to close"
    );

    assert!(
        end_user_sessions(store, &[user(1, 1001), user(2, 2001)], at(5))
            .await
            .unwrap()
            .is_empty(),
        "idempotent"
    );
    assert_eq!(counts(store, TenantScope::Tenant(TenantId(1))).await, (4, 1));
    assert_eq!(counts(store, TenantScope::Tenant(TenantId(2))).await, (1, 0));
    let kept = store.user_sessions(TenantScope::All, UserId(1001), 50).await.unwrap();
    let old = kept.iter().find(|s| s.id == history.id).unwrap();
    assert_eq!(
        old.offline_reason,
        Some(OfflineReason::Disconnected),
        "an already ended session keeps its reason"
    );
    assert!(store.user_sessions(TenantScope::All, UserId(1002), 50).await.unwrap()[0].online());
}

/// Tokens of users 1001 (`t1a`) and 1003 (`t1b`) of tenant 1, and of user 2001 (`t2`) of tenant 2.
async fn put_three_tokens(store: &dyn Store) {
    for (secret, tenant, user) in [("t1a", 1, 1001), ("t1b", 1, 1003), ("t2", 2, 2001)] {
        store
            .put_token(&token(secret, tenant, user, &[Permission::List], false))
            .await
            .unwrap();
    }
}

pub async fn forcing_a_tenant_offline_reaches_its_users_once(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let mut data = dataset();
    data.push(ended(
        1,
        1099,
        "Only history",
        at(-600),
        60,
        OfflineReason::Disconnected,
    ));
    open_all(store, &data).await;
    put_three_tokens(store).await;
    let tenant_1 = TenantId(1);
    let online_1: Vec<&Session> = data.iter().filter(|s| s.tenant_id == tenant_1 && s.online()).collect();
    // Users with a token or an online session there; those with only history are not reached.
    let mut expected_users: Vec<UserRef> = online_1
        .iter()
        .map(|s| user(1, s.user_id.get()))
        .chain([user(1, 1001), user(1, 1003)])
        .collect();
    expected_users.sort();
    expected_users.dedup();
    let mut expected_ended: Vec<SessionId> = online_1.iter().map(|s| s.id).collect();
    expected_ended.sort();

    let done = force_tenant(store, tenant_1, None, at(5)).await.unwrap();
    assert_eq!(done.users, expected_users);
    assert_eq!(done.tokens, 2);
    let mut ended = ids(&done.ended);
    ended.sort();
    assert_eq!(ended, expected_ended);
    assert!(done
        .ended
        .iter()
        .all(|s| s.offline_reason == Some(OfflineReason::Forced)));
    assert_eq!(counts(store, TenantScope::Tenant(tenant_1)).await, (19, 0));
    assert_eq!(
        counts(store, TenantScope::Tenant(TenantId(2))).await,
        (18, 12),
        "tenant 2 untouched"
    );
    assert_eq!(
        store.token(&TokenHash::of("t2")).await.unwrap().unwrap().revoked_at,
        None
    );

    let again = force_tenant(store, tenant_1, None, at(6)).await.unwrap();
    assert_eq!((again.tokens, again.ended.len()), (0, 0), "a repeat changes nothing");
    assert_eq!(
        again.users,
        vec![user(1, 1001), user(1, 1003)],
        "token holders are still its users"
    );
    let nobody = force_tenant(store, TenantId(3), None, at(6)).await.unwrap();
    assert_eq!(nobody, Forced::default());
}

pub async fn forcing_some_users_of_a_tenant_offline_reaches_only_them(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let data = dataset();
    open_all(store, &data).await;
    put_three_tokens(store).await;
    let tenant_1 = TenantId(1);
    let online_user = data
        .iter()
        .find(|s| s.tenant_id == tenant_1 && s.online() && s.user_id != UserId(1001))
        .expect("the dataset has another online user in tenant 1")
        .user_id;
    // 1001 (a token), an online user, 2001 (tenant 2's token holder) and an unknown id.
    let only: BTreeSet<UserId> = [UserId(1001), online_user, UserId(2001), UserId(9999)].into();
    let (sessions_before, online_before) = counts(store, TenantScope::Tenant(tenant_1)).await;

    let done = force_tenant(store, tenant_1, Some(&only), at(5)).await.unwrap();
    let mut expected_users = vec![user(1, 1001), user(1, online_user.get())];
    expected_users.sort();
    expected_users.dedup();
    assert_eq!(done.users, expected_users, "only the targeted users of that tenant");
    assert_eq!(done.tokens, 1, "1001's token; 1003's and tenant 2's stay");
    let mut expected_ended: Vec<SessionId> = data
        .iter()
        .filter(|s| s.tenant_id == tenant_1 && s.online() && only.contains(&s.user_id))
        .map(|s| s.id)
        .collect();
    expected_ended.sort();
    let mut ended = ids(&done.ended);
    ended.sort();
    assert_eq!(ended, expected_ended);
    for (secret, revoked) in [("t1a", true), ("t1b", false), ("t2", false)] {
        let record = store.token(&TokenHash::of(secret)).await.unwrap().unwrap();
        assert_eq!(record.revoked_at.is_some(), revoked, "{secret}");
    }
    assert_eq!(
        counts(store, TenantScope::Tenant(tenant_1)).await,
        (sessions_before, online_before - expected_ended.len() as u64),
        "the counter moved by the sessions ended"
    );
    let again = force_tenant(store, tenant_1, Some(&only), at(6)).await.unwrap();
    assert_eq!((again.tokens, again.ended.len()), (0, 0), "a repeat changes nothing");
}

pub async fn ending_many_sessions_of_one_tenant_spans_transactions(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let sessions: Vec<Session> = (0..230)
        .map(|n| online(7, 7000 + n % 150, "Many", at(-1000 + n)))
        .collect();
    open_all(store, &sessions).await;
    let users: Vec<UserRef> = (0..150).map(|n| user(7, 7000 + n)).collect();
    // One session ended by a disconnect first: it must not be counted twice.
    store
        .close_connection(&sessions[17].connection_id, at(-1), OfflineReason::Disconnected)
        .await
        .unwrap();
    let ended_now = end_user_sessions(store, &users, at(0)).await.unwrap();
    assert_eq!(ended_now.len(), 229);
    assert_eq!(counts(store, TenantScope::Tenant(TenantId(7))).await, (230, 0));
}

pub async fn a_session_keeps_the_token_it_was_opened_with(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let record = token("bound-token-5b8e", 1, 1001, &[], false);
    store.put_token(&record).await.unwrap();
    let bound = online(1, 1001, "Ada", at(-60));
    assert_eq!(
        store.open_session(&bound, Some(&check(&record.hash))).await.unwrap(),
        Opened::Recorded
    );
    let touched = store
        .touch_connection(&bound.connection_id, at(-1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(touched.token, Some(record.hash.clone()));
    assert_eq!(touched.session.id, bound.id);

    let unknown = TokenHash::of("not-stored-9d1c");
    let found = store
        .tokens(&[record.hash.clone(), unknown, record.hash.clone()])
        .await
        .unwrap();
    assert_eq!(found, vec![record], "existing tokens only, each once");
}

pub async fn a_user_opens_at_most_its_rate_of_sessions_a_minute(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let tenant = TenantScope::Tenant(TenantId(1));
    let record = token("rate-token-7c2d", 1, 1001, &[], false);
    let other = token("rate-token-other-31aa", 1, 1002, &[], false);
    store.put_token(&record).await.unwrap();
    store.put_token(&other).await.unwrap();
    let limited = |hash: &TokenHash| ConnectCheck {
        token: hash.clone(),
        per_minute: Some(3),
    };
    // `at(0)` starts a minute: all of these fall in it.
    for second in 0..3 {
        let session = online(1, 1001, "Ada", at(second));
        assert_eq!(
            store
                .open_session(&session, Some(&limited(&record.hash)))
                .await
                .unwrap(),
            Opened::Recorded
        );
    }
    let fourth = online(1, 1001, "Ada", at(30));
    assert_eq!(
        store.open_session(&fourth, Some(&limited(&record.hash))).await.unwrap(),
        Opened::RateLimited
    );
    assert_eq!(counts(store, tenant).await, (3, 3), "a refused connect records nothing");
    let neighbour = online(1, 1002, "Bob", at(30));
    assert_eq!(
        store
            .open_session(&neighbour, Some(&limited(&other.hash)))
            .await
            .unwrap(),
        Opened::Recorded,
        "the limit is per user"
    );
    let mut next_minute = online(1, 1001, "Ada", at(61));
    next_minute.connection_id = fourth.connection_id.clone();
    assert_eq!(
        store
            .open_session(&next_minute, Some(&limited(&record.hash)))
            .await
            .unwrap(),
        Opened::Recorded,
        "a new minute, and the refused connection id was left unknown"
    );
    assert_eq!(counts(store, tenant).await, (5, 5));
}

pub async fn ending_sessions_ends_each_once_with_its_reason(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let a = online(1, 1001, "Ada", at(-60));
    let b = online(2, 2001, "Bea", at(-50));
    let gone = ended(1, 1002, "Cy", at(-40), 5, OfflineReason::Disconnected);
    open_all(store, &[a.clone(), b.clone(), gone.clone()]).await;
    let ended_now = store
        .end_sessions(&[a.clone(), b.clone(), gone], at(0), OfflineReason::Expired)
        .await
        .unwrap();
    let mut ended_ids = ids(&ended_now);
    ended_ids.sort();
    assert_eq!(ended_ids, vec![a.id, b.id]);
    assert!(ended_now
        .iter()
        .all(|s| s.offline_reason == Some(OfflineReason::Expired) && s.offline_date == Some(at(0))));
    assert_eq!(counts(store, TenantScope::Tenant(TenantId(1))).await, (2, 0));
    assert_eq!(counts(store, TenantScope::Tenant(TenantId(2))).await, (1, 0));
    assert_eq!(counts(store, TenantScope::All).await, (3, 0));
    assert!(
        store
            .end_sessions(&[a, b], at(5), OfflineReason::Forced)
            .await
            .unwrap()
            .is_empty(),
        "a repeat ends nothing"
    );
}

pub async fn a_sweep_sees_every_online_session_once(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let record = token("sweep-token-0e4a", 3, 3001, &[], false);
    store.put_token(&record).await.unwrap();
    let mut online_ids = Vec::new();
    for n in 0..7 {
        let session = online(3 + n % 2, 3001 + n, "Sweep", at(-100 + n));
        let opened = store.open_session(&session, Some(&check(&record.hash))).await.unwrap();
        assert_eq!(opened, Opened::Recorded);
        online_ids.push(session.id);
    }
    open_all(store, &[ended(3, 3100, "Gone", at(-90), 5, OfflineReason::Stale)]).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let page = store.online_sessions_page(cursor.as_deref(), 2).await.unwrap();
        assert!(page.sessions.len() <= 2);
        for bound in page.sessions {
            assert_eq!(bound.token.as_ref(), Some(&record.hash));
            seen.push(bound.session.id);
        }
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "the sweep ends");
    seen.sort();
    online_ids.sort();
    assert_eq!(seen, online_ids, "every online session once, no ended one");
}

/// A user id is the identity service's, and two tenants may both know one: each tenant's admin
/// reaches its own user, a platform caller reaches both. (The DynamoDB store once took the tenant
/// of the user's oldest session only, so one tenant's admin skipped the user.)
pub async fn a_user_id_known_in_two_tenants_is_two_users(store: Arc<dyn Store>) {
    let store = store.as_ref();
    // Tenant 2's session is the older one.
    open_all(
        store,
        &[online(2, 5005, "Twin B", at(-600)), online(1, 5005, "Twin A", at(-60))],
    )
    .await;
    // User 6006 has a token in tenant 2 and a session in tenant 1.
    store
        .put_token(&token("twin-token-2f9b", 2, 6006, &[], false))
        .await
        .unwrap();
    open_all(store, &[online(1, 6006, "Other twin", at(-30))]).await;

    let ids = [UserId(5005), UserId(6006), UserId(7007)];
    assert_eq!(
        store.find_users(TenantScope::Tenant(TenantId(1)), &ids).await.unwrap(),
        vec![user(1, 5005), user(1, 6006)]
    );
    assert_eq!(
        store.find_users(TenantScope::Tenant(TenantId(2)), &ids).await.unwrap(),
        vec![user(2, 5005), user(2, 6006)]
    );
    let mut everywhere = store.find_users(TenantScope::All, &ids).await.unwrap();
    everywhere.sort();
    assert_eq!(
        everywhere,
        vec![user(1, 5005), user(2, 5005), user(1, 6006), user(2, 6006)]
    );
    let ended_now = end_user_sessions(store, &[user(1, 5005)], at(0)).await.unwrap();
    assert_eq!(ended_now.len(), 1);
    assert_eq!(ended_now[0].tenant_id, TenantId(1), "tenant 2's twin stays online");
    assert_eq!(counts(store, TenantScope::Tenant(TenantId(2))).await, (1, 1));
}

/// Sorted, for comparing sets of connection ids.
fn sorted(mut connections: Vec<String>) -> Vec<String> {
    connections.sort();
    connections
}

/// A subscription reaches the events of the tenants it watches and no others; a re-subscribe
/// replaces the scope; an unsubscribe (or a second one) ends it; an unknown connection
/// subscribes nothing.
async fn subscriptions_reach_the_tenants_they_watch(store: Arc<dyn Store>) {
    let started = at(-60);
    let (a, b, platform) = (
        online(1, 10, "Ada", started),
        online(2, 20, "Bo", started),
        online(1, 11, "Op", started),
    );
    open_all(store.as_ref(), &[a.clone(), b.clone(), platform.clone()]).await;
    let now = at(0);
    store
        .subscribe(&a.connection_id, TenantScope::Tenant(TenantId(1)), now)
        .await
        .unwrap();
    store
        .subscribe(&b.connection_id, TenantScope::Tenant(TenantId(2)), now)
        .await
        .unwrap();
    store
        .subscribe(&platform.connection_id, TenantScope::All, now)
        .await
        .unwrap();
    assert_eq!(
        sorted(store.subscribers(TenantId(1)).await.unwrap()),
        sorted(vec![a.connection_id.clone(), platform.connection_id.clone()])
    );
    assert_eq!(
        sorted(store.subscribers(TenantId(2)).await.unwrap()),
        sorted(vec![b.connection_id.clone(), platform.connection_id.clone()])
    );
    assert_eq!(
        store.subscribers(TenantId(3)).await.unwrap(),
        vec![platform.connection_id.clone()]
    );

    // The platform caller narrows to tenant 2: no longer tenant 1's, nor tenant 3's.
    store
        .subscribe(&platform.connection_id, TenantScope::Tenant(TenantId(2)), now)
        .await
        .unwrap();
    assert_eq!(
        store.subscribers(TenantId(1)).await.unwrap(),
        vec![a.connection_id.clone()]
    );
    assert_eq!(store.subscribers(TenantId(3)).await.unwrap(), Vec::<String>::new());
    assert_eq!(
        sorted(store.subscribers(TenantId(2)).await.unwrap()),
        sorted(vec![b.connection_id.clone(), platform.connection_id.clone()])
    );
    // The same scope again changes nothing.
    store
        .subscribe(&a.connection_id, TenantScope::Tenant(TenantId(1)), now)
        .await
        .unwrap();
    assert_eq!(
        store.subscribers(TenantId(1)).await.unwrap(),
        vec![a.connection_id.clone()]
    );

    assert!(store.unsubscribe(&a.connection_id).await.unwrap());
    assert!(
        !store.unsubscribe(&a.connection_id).await.unwrap(),
        "a second unsubscribe finds none"
    );
    assert_eq!(store.subscribers(TenantId(1)).await.unwrap(), Vec::<String>::new());
    assert!(store.unsubscribe(&platform.connection_id).await.unwrap());
    assert_eq!(
        store.subscribers(TenantId(2)).await.unwrap(),
        vec![b.connection_id.clone()]
    );
    store.subscribe("never-connected", TenantScope::All, now).await.unwrap();
    assert_eq!(
        store.subscribers(TenantId(2)).await.unwrap(),
        vec![b.connection_id.clone()]
    );
    assert!(!store.unsubscribe("never-connected").await.unwrap());
}

message_center_tests::both_stores!(
    subscriptions_reach_the_tenants_they_watch,
    tokens_round_trip,
    a_connect_after_its_disconnect_is_refused,
    racing_connects_and_disconnects_leave_exact_counts,
    revoking_tokens_touches_only_the_users_and_counts_once,
    a_users_tokens_are_its_own_in_its_tenant,
    opening_a_session_records_it_once,
    no_session_is_opened_on_a_revoked_token,
    closing_a_connection_ends_its_session_once,
    heartbeats_move_last_seen_of_online_sessions_only,
    listings_match_the_model_for_every_scope_and_query,
    cursors_walk_every_match_once_in_order,
    a_users_sessions_are_online_ones_then_newest_ended,
    users_are_found_in_scope_only,
    ending_users_sessions_ends_each_once,
    ending_many_sessions_of_one_tenant_spans_transactions,
    forcing_a_tenant_offline_reaches_its_users_once,
    forcing_some_users_of_a_tenant_offline_reaches_only_them,
    a_session_keeps_the_token_it_was_opened_with,
    a_user_opens_at_most_its_rate_of_sessions_a_minute,
    ending_sessions_ends_each_once_with_its_reason,
    a_sweep_sees_every_online_session_once,
    a_user_id_known_in_two_tenants_is_two_users,
);
