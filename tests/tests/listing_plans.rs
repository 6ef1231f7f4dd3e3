//! The reads behind list and search (issue 16), on both stores: a `userId` `EQUAL`/`IN` filter
//! reads those users' sessions, a `fullName` needle of 3 characters or more reads the name index
//! and then its users' sessions, key-ordered listings read a page, anything else scans; whichever
//! read serves a listing, its answer is the model's, `select_page` over every session in scope.
//! Sessions reach the DynamoDB store both through `open_session` and through `import_sessions`
//! (the two writers of the name index). Then the read budget as callers meet it, through the HTTP
//! handler: a listing that would read more than `list_read_budget` sessions is a 400 naming what to
//! change (`pageNo`: follow `nextPageToken`; or the field to narrow), while the O(matches) reads
//! and page tokens stay within it.

use std::collections::BTreeSet;
use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use message_center::domain::access::{Permission, TenantScope};
use message_center::domain::{
    select_page, OfflineReason, OrderBy, Paging, ReadBudget, Session, SessionId, SessionQuery, TenantId, Timestamp,
};
use message_center::http::query::{parse_session_query, ListMode};
use message_center::http::{handle, Endpoint, BASE_PATH};
use message_center::service::{App, Config};
use message_center::store::Store;
use message_center_tests::contract::code_and_key;
use message_center_tests::fixtures::{at, ended, online, store_holding, token, url_encoded, Seeding};
use message_center_tests::gateway::RecordingGateway;
use message_center_tests::StoreKind;
use serde_json::Value;

const ADMIN_1: &str = "plans-admin-tenant-1-7d41";
const ADMIN_2: &str = "plans-admin-tenant-2-0c9e";
const OPERATOR: &str = "plans-platform-operator-5a2f";

const T1: TenantScope = TenantScope::Tenant(TenantId(1));
const T2: TenantScope = TenantScope::Tenant(TenantId(2));
const T3: TenantScope = TenantScope::Tenant(TenantId(3));
const NOBODY: TenantScope = TenantScope::Tenant(TenantId(99));

fn ids(sessions: &[Session]) -> Vec<SessionId> {
    sessions.iter().map(|s| s.id).collect()
}

/// Session `n` of a data set: starts spread over a day (each second its own), online two times in
/// three, devices and agents varied, some null.
fn session(tenant: i64, user: i64, name: &str, n: i64) -> Session {
    let started = at(-((n * 397) % 86_400) - n);
    let mut session = if n % 3 == 0 {
        ended(tenant, user, name, started, 30 + n, OfflineReason::Disconnected)
    } else {
        online(tenant, user, name, started)
    };
    session.device_id = Some(format!("{}-{user}-{n}", if n % 2 == 0 { "web" } else { "ios" }));
    session.user_agent = match n % 5 {
        0 => None,
        1 | 3 => Some("Mozilla/5.0 Firefox/140.0".into()),
        _ => Some("Mozilla/5.0 Safari/17.1".into()),
    };
    if n % 7 == 0 {
        session.remote_address = None;
    }
    session
}

/// Three tenants. User 1001 of tenant 1 reconnected under a new name; user ids 1001 and 1003 are
/// also users of tenant 2 (1003 of tenant 3 as well), under other or the same names; names in
/// several cases and scripts, and names shorter than a gram.
fn people() -> Vec<(i64, i64, &'static str, i64)> {
    vec![
        (1, 1001, "Élodie Durand", 3),
        (1, 1002, "élodie bernard", 2),
        (1, 1003, "Grace Hopper", 3),
        (1, 1004, "grace kelly", 2),
        (1, 1005, "Jürgen Straße", 2),
        (1, 1006, "Zoë Ångström", 2),
        (1, 1007, "李小龙", 2),
        (1, 1008, "Ab", 2),
        (1, 1009, "Ada Lovelace", 2),
        (1, 1010, "ÉLODIE ROUX", 1),
        (1, 1011, "Ñandú Pérez", 1),
        (1, 1012, "Al", 1),
        (1, 1001, "Élodie Martin", 2),
        (2, 2001, "Élodie Petit", 2),
        (2, 1003, "Grace Hopper", 2),
        (2, 1001, "Other Durand", 1),
        (2, 2002, "Ab", 1),
        (2, 2003, "Jürgen Strasse", 1),
        (3, 3001, "Grace Three", 1),
        (3, 1003, "Grace Hopper", 1),
    ]
}

fn dataset() -> Vec<Session> {
    let mut n = 0;
    let mut sessions = Vec::new();
    for (tenant, user, name, count) in people() {
        for _ in 0..count {
            n += 1;
            sessions.push(session(tenant, user, name, n));
        }
    }
    sessions
}

/// A store holding `data`: on DynamoDB, every other session imported in bulk, the rest opened
/// one by one (so each name reaches the name index by both writers).
async fn holding(kind: StoreKind, data: &[Session]) -> Arc<dyn Store> {
    let imported: Vec<Session> = data.iter().step_by(2).cloned().collect();
    let opened: Vec<Session> = data.iter().skip(1).step_by(2).cloned().collect();
    store_holding(kind, &[(Seeding::Imported, &imported), (Seeding::Opened, &opened)]).await
}

/// The model's page of `query` over `data` in `scope`.
fn model(data: &[Session], scope: TenantScope, query: &SessionQuery) -> message_center::domain::SessionPage {
    select_page(data.iter().filter(|s| scope.contains(s.tenant_id)).cloned(), query)
}

/// Lists `raw` (in `mode`) in `scope` and checks the answer against the model: total, the page's
/// sessions (every field: a plan reads whole items) and whether more follow. The page, as a
/// second check's input.
async fn check(store: &dyn Store, data: &[Session], scope: TenantScope, mode: ListMode, raw: &str) -> Vec<Session> {
    let query = parse_session_query(raw, mode).unwrap_or_else(|e| panic!("{raw:?} parses: {e:?}"));
    let expected = model(data, scope, &query);
    let got = store
        .list_sessions(scope, &query)
        .await
        .unwrap_or_else(|e| panic!("{mode:?} {raw:?} in {scope:?}: {e:?}"));
    assert_eq!(got.total, expected.total, "total of {mode:?} {raw:?} in {scope:?}");
    assert_eq!(
        ids(&got.sessions),
        ids(&expected.sessions),
        "page of {mode:?} {raw:?} in {scope:?}"
    );
    assert_eq!(
        got.sessions, expected.sessions,
        "sessions of {mode:?} {raw:?} in {scope:?}"
    );
    assert_eq!(got.more, expected.more, "more after {mode:?} {raw:?} in {scope:?}");
    got.sessions
}

fn order_part(i: usize) -> String {
    let by = OrderBy::ALL[i % OrderBy::ALL.len()].name();
    let sort = if (i / OrderBy::ALL.len()) % 2 == 0 {
        "ASC"
    } else {
        "DESC"
    };
    let page = [
        "pageSize=3",
        "pageSize=3&pageNo=2",
        "pageSize=100",
        "pageSize=1&pageNo=4",
    ][i % 4];
    format!("orderBy={by}&orderSort={sort}&{page}")
}

/// `userId` `EQUAL` and `IN` (ten ids: users of this tenant, of other tenants only, of several,
/// and unknown ones), alone and with other filters, in every order, in every scope.
pub async fn user_ids_read_those_users_sessions(kind: StoreKind) {
    let data = dataset();
    let store = holding(kind, &data).await;
    let ten = "1001,1003,1005,1008,1012,2001,2003,3001,4040,9999";
    let users = [
        "userId=1001".to_owned(),
        format!("filters[0].key=userId&filters[0].op=IN&filters[0].value={ten}"),
        // Both filters hold: the users named by both.
        "userId=1001&filters[0].key=userId&filters[0].op=IN&filters[0].value=1001&filters[0].value=1002".to_owned(),
        "userId=1001&filters[0].key=userId&filters[0].op=IN&filters[0].value=1002,1003".to_owned(),
        "filters[0].key=userId&filters[0].op=EQUAL&filters[0].value=4040".to_owned(),
    ];
    let since = url_encoded(&at(-43_200).to_string());
    let others = [
        String::new(),
        "&online=true".to_owned(),
        "&online=false".to_owned(),
        "&filters[5].key=deviceId&filters[5].op=MATCH_END&filters[5].value=web".to_owned(),
        "&filters[5].key=fullName&filters[5].op=MATCH&filters[5].value=durand".to_owned(),
        format!("&filters[5].key=onlineDate&filters[5].op=GREATER_THAN_EQUAL&filters[5].value={since}"),
        "&filters[5].key=userAgent&filters[5].op=IS_NULL&filters[6].key=userId&filters[6].op=NOT_IN&filters[6].value=1005"
            .to_owned(),
    ];
    let mut i = 0;
    for user in &users {
        for other in &others {
            // Two orders each: every order and sort for each set of users, over the others.
            for _ in 0..2 {
                let raw = format!("{user}{other}&{}", order_part(i));
                i += 1;
                for scope in [T1, T2, TenantScope::All] {
                    check(store.as_ref(), &data, scope, ListMode::List, &raw).await;
                }
            }
        }
    }
    // Tenant isolation, spelled out: tenant 2 sees its own 1001 and 1003 only.
    let raw = format!("filters[0].key=userId&filters[0].op=IN&filters[0].value={ten}&pageSize=100");
    let page = check(store.as_ref(), &data, T2, ListMode::List, &raw).await;
    assert!(page.iter().all(|s| s.tenant_id == TenantId(2)), "{page:?}");
    let names: BTreeSet<&str> = page.iter().map(|s| s.full_name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["Grace Hopper", "Other Durand", "Élodie Petit", "Jürgen Strasse"])
    );
    check(store.as_ref(), &data, NOBODY, ListMode::List, &raw).await;
    check(store.as_ref(), &data, T3, ListMode::List, &raw).await;
}

/// `fullName` needles: search substrings in any case and script, `MATCH_END` prefixes, list-mode
/// `EQUAL` (exact), needles shorter than a gram (scanned), and needles no name holds.
pub async fn names_are_found_by_any_needle(kind: StoreKind) {
    let data = dataset();
    let store = holding(kind, &data).await;
    let search = [
        "élo",
        "ÉLO",
        "Élodie",
        "LODIE",
        "lodie d",
        "durand",
        "MARTIN",
        "straße",
        "STRAßE",
        "STRASSE",
        "strasse",
        "ngström",
        "ÅNGS",
        "zoë",
        "李小龙",
        "小龙",
        "ñandú",
        "ÑAN",
        "grace",
        "GRACE HOPPER",
        "e h",
        "ace",
        "Ab",
        "a",
        "Al",
        "zzzz",
        "Élodie Durand et plus",
    ];
    let mut queries: Vec<(ListMode, String)> = search
        .iter()
        .map(|needle| (ListMode::Search, format!("fullName={}", url_encoded(needle))))
        .collect();
    for needle in ["elo", "ÉLODIE", "grace"] {
        queries.push((
            ListMode::List,
            format!("fullTextSearch=true&fullName={}", url_encoded(needle)),
        ));
    }
    for exact in [
        "Grace Hopper",
        "grace hopper",
        "Élodie Durand",
        "ÉLODIE ROUX",
        "élodie roux",
        "Ab",
        "李小龙",
    ] {
        queries.push((ListMode::List, format!("fullName={}", url_encoded(exact))));
    }
    for prefix in [
        "gra",
        "GRACE h",
        "élodie",
        "ÉLODIE R",
        "Ab",
        "ab",
        "li",
        "jürgen s",
        "李小",
        "lodie",
    ] {
        queries.push((
            ListMode::List,
            format!(
                "filters[0].key=fullName&filters[0].op=MATCH_END&filters[0].value={}",
                url_encoded(prefix)
            ),
        ));
    }
    // Two name filters (the longer needle is read, the other checked), a negative one (scanned),
    // and a name needle with other filters.
    queries.extend([
        (
            ListMode::List,
            "filters[0].key=fullName&filters[0].op=MATCH&filters[0].value=lod&filters[1].key=fullName&filters[1].op=MATCH_END&filters[1].value=%C3%A9lodie%20m".to_owned(),
        ),
        (
            ListMode::List,
            "filters[0].key=fullName&filters[0].op=NOT_MATCH&filters[0].value=%C3%A9lo".to_owned(),
        ),
        (
            ListMode::Search,
            "fullName=grace&online=true&filters[0].key=deviceId&filters[0].op=MATCH&filters[0].value=ios".to_owned(),
        ),
        (
            ListMode::Search,
            "fullName=%C3%A9lodie&filters[0].key=userAgent&filters[0].op=NOT_MATCH&filters[0].value=safari".to_owned(),
        ),
    ]);
    for (i, (mode, raw)) in queries.iter().enumerate() {
        // Every tenant (some 36 DynamoDB queries a listing) for every fifth query only.
        let scopes = if i % 5 == 0 {
            &[T1, T2, TenantScope::All][..]
        } else {
            &[T1, T2]
        };
        for &scope in scopes {
            check(store.as_ref(), &data, scope, *mode, raw).await;
            check(store.as_ref(), &data, scope, *mode, &format!("{raw}&{}", order_part(i))).await;
        }
    }
    // Spelled out: case-insensitive, in any script, and only where `to_lowercase` agrees.
    let names = |page: Vec<Session>| page.into_iter().map(|s| s.full_name).collect::<BTreeSet<String>>();
    let found = names(
        check(
            store.as_ref(),
            &data,
            T1,
            ListMode::Search,
            "fullName=%C3%89LO&pageSize=100",
        )
        .await,
    );
    assert_eq!(
        found,
        ["Élodie Durand", "Élodie Martin", "élodie bernard", "ÉLODIE ROUX"]
            .map(String::from)
            .into()
    );
    let found = names(
        check(
            store.as_ref(),
            &data,
            TenantScope::All,
            ListMode::Search,
            "fullName=stra%C3%9Fe&pageSize=100",
        )
        .await,
    );
    assert_eq!(found, ["Jürgen Straße".to_owned()].into(), "ß is not ss");
    let found = names(
        check(
            store.as_ref(),
            &data,
            TenantScope::All,
            ListMode::Search,
            "fullName=STRASSE&pageSize=100",
        )
        .await,
    );
    assert_eq!(found, ["Jürgen Strasse".to_owned()].into());
    let exact = check(store.as_ref(), &data, T1, ListMode::List, "fullName=grace%20hopper").await;
    assert!(exact.is_empty(), "list-mode EQUAL is exact: {exact:?}");
}

/// A user who reconnects under a new name is found by each name, and each of its sessions by its
/// own name only; the name index is per tenant.
pub async fn a_renamed_user_is_found_by_each_of_its_names(kind: StoreKind) {
    let first = [
        session(1, 1001, "Élodie Durand", 1),
        session(1, 1001, "Élodie Durand", 2),
    ];
    let renamed = [
        online(1, 1001, "Élodie Martin", at(-300)),
        online(1, 1001, "Élodie Martin", at(-200)),
    ];
    let back = [online(1, 1001, "Élodie Durand", at(-100))];
    let others = [
        online(2, 1001, "Zed Martin", at(-250)),
        session(1, 1002, "Marc Durandal", 4),
        session(2, 2001, "Élodie Durand", 5),
    ];
    let store = store_holding(
        kind,
        &[
            (Seeding::Imported, &first),
            (Seeding::Opened, &renamed),
            (Seeding::Imported, &back),
            (Seeding::Opened, &others),
        ],
    )
    .await;
    let mut data: Vec<Session> = [&first[..], &renamed, &back, &others].concat();
    // The renamed user's first session under the new name ends through the store.
    let closed = store
        .close_connection(&renamed[0].connection_id, at(-150), OfflineReason::Disconnected)
        .await
        .unwrap()
        .expect("the session was online");
    data.retain(|s| s.id != closed.id);
    data.push(closed);

    let named = |page: &[Session], name: &str| page.iter().all(|s| s.full_name == name);
    let durand = check(
        store.as_ref(),
        &data,
        T1,
        ListMode::Search,
        "fullName=DURAND&pageSize=100",
    )
    .await;
    assert_eq!(durand.len(), 4, "3 of Élodie Durand, 1 of Marc Durandal: {durand:?}");
    assert!(durand.iter().all(|s| s.tenant_id == TenantId(1)));
    let martin = check(
        store.as_ref(),
        &data,
        T1,
        ListMode::Search,
        "fullName=martin&pageSize=100",
    )
    .await;
    assert_eq!(ids(&martin), vec![renamed[1].id, renamed[0].id], "newest first");
    assert!(named(&martin, "Élodie Martin"));
    let exact = check(
        store.as_ref(),
        &data,
        T1,
        ListMode::List,
        "fullName=%C3%89lodie%20Durand",
    )
    .await;
    assert_eq!(exact.len(), 3);
    assert!(named(&exact, "Élodie Durand"));
    let martin_2 = check(store.as_ref(), &data, T2, ListMode::Search, "fullName=martin").await;
    assert_eq!(ids(&martin_2), vec![others[0].id], "tenant 2's own Martin only");
    let queries = [
        (ListMode::Search, "fullName=%C3%A9lodie"),
        (ListMode::Search, "fullName=lodie%20d"),
        (ListMode::Search, "fullName=durand&online=true"),
        (ListMode::Search, "fullName=martin&userId=1001"),
        (
            ListMode::List,
            "filters[0].key=fullName&filters[0].op=MATCH_END&filters[0].value=%C3%A9lodie%20m",
        ),
        (ListMode::List, "fullName=%C3%89lodie%20Martin&orderBy=offlineDate"),
        (ListMode::List, "userId=1001&orderBy=fullName&orderSort=ASC"),
    ];
    for (mode, raw) in queries {
        for scope in [T1, T2, TenantScope::All] {
            check(store.as_ref(), &data, scope, mode, raw).await;
        }
    }
}

/// An app over `store` with the test tokens, reading at most `budget` sessions a listing.
async fn app(store: Arc<dyn Store>, budget: ReadBudget) -> App {
    for (secret, tenant, platform) in [(ADMIN_1, 1, false), (ADMIN_2, 2, false), (OPERATOR, 0, true)] {
        store
            .put_token(&token(secret, tenant, 900, &[Permission::List], platform))
            .await
            .unwrap();
    }
    App {
        store,
        gateway: Arc::new(RecordingGateway::default()),
        config: Config {
            list_read_budget: budget,
            ..Config::default()
        },
    }
}

fn get(token: &str, endpoint: Endpoint, query: &str) -> Request {
    let path = match endpoint {
        Endpoint::Search => format!("{BASE_PATH}/search"),
        _ => BASE_PATH.to_owned(),
    };
    lambda_http::http::Request::builder()
        .method("GET")
        .uri(format!("https://api.example.com{path}?{query}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::Empty)
        .unwrap()
}

/// The answer to a GET of `query`: status and body, after checking the envelope every answer
/// wears (code and `eKey` of the status, a message, a time, a request id).
async fn call(app: &App, token: &str, endpoint: Endpoint, query: &str) -> (u16, Value) {
    let response: Response<Body> = handle(app, endpoint, get(token, endpoint, query)).await;
    let status = response.status().as_u16();
    let body: Value = match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("a JSON envelope"),
        other => panic!("not a text body: {other:?}"),
    };
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{query}: {body}"
    );
    let (code, key) = code_and_key(status).unwrap_or_else(|| panic!("{query}: status {status}: {body}"));
    assert_eq!(body["code"], code, "{query}: {body}");
    assert_eq!(body["ext"].get("eKey").and_then(Value::as_str), key, "{query}: {body}");
    assert!(body["msg"].as_str().is_some_and(|m| !m.is_empty()), "{query}: {body}");
    assert!(
        Timestamp::parse(body["datetime"].as_str().unwrap_or_default()).is_ok(),
        "{query}: {body}"
    );
    assert!(
        body["ext"]["requestId"].as_str().is_some_and(|r| !r.is_empty()),
        "{query}: {body}"
    );
    (status, body)
}

fn listed_ids(body: &Value) -> Vec<String> {
    body["data"]["list"]
        .as_array()
        .unwrap_or_else(|| panic!("data.list: {body}"))
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect()
}

fn total(body: &Value) -> u64 {
    body["data"]["total"]
        .as_str()
        .unwrap_or_else(|| panic!("total is a string: {body}"))
        .parse()
        .unwrap()
}

/// Every page of `query`, first by `pageSize=size`, then by the page tokens with `pageSize=size + 1`
/// (a token's page may change size): the ids in order, and each page's total.
async fn walk(app: &App, token: &str, endpoint: Endpoint, query: &str, size: u32) -> (Vec<String>, Vec<u64>) {
    let (status, mut body) = call(app, token, endpoint, &format!("{query}&pageSize={size}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    let (mut seen, mut totals) = (Vec::new(), Vec::new());
    loop {
        seen.extend(listed_ids(&body));
        totals.push(total(&body));
        let Some(next) = body["ext"]["nextPageToken"].as_str() else {
            return (seen, totals);
        };
        assert!(totals.len() < 200, "{query}: the tokens make progress");
        let page = format!("{query}&pageSize={}&pageToken={}", size + 1, url_encoded(next));
        let (status, next_body) = call(app, token, endpoint, &page).await;
        assert_eq!(status, 200, "{page}: {next_body}");
        body = next_body;
    }
}

/// Every match of `query` in `scope`, in order, by the model.
fn model_all(data: &[Session], scope: TenantScope, mode: ListMode, query: &str) -> (Vec<String>, u64) {
    let mut query = parse_session_query(query, mode).unwrap();
    query.paging = Paging {
        page_no: 1,
        page_size: Paging::MAX_PAGE_SIZE,
    };
    let page = model(data, scope, &query);
    (page.sessions.iter().map(|s| s.id.to_string()).collect(), page.total)
}

/// Page tokens through every plan, for a tenant admin and a platform caller (every tenant, and
/// narrowed to one), on both endpoints: every match once, in order, with the same total on every
/// page.
pub async fn page_tokens_walk_every_plan(kind: StoreKind) {
    let data = dataset();
    let store = holding(kind, &data).await;
    let app = app(store, ReadBudget::default()).await;
    let queries = [
        (
            Endpoint::List,
            "filters[0].key=userId&filters[0].op=IN&filters[0].value=1001,1003,1005,2001",
        ),
        (
            Endpoint::List,
            "filters[0].key=userId&filters[0].op=IN&filters[0].value=1001,1003&orderBy=fullName&orderSort=ASC",
        ),
        (Endpoint::Search, "fullName=%C3%A9lodie&orderBy=fullName&orderSort=ASC"),
        (Endpoint::Search, "fullName=gra&orderBy=userId"),
        (Endpoint::Search, "fullName=durand&orderBy=offlineDate&orderSort=ASC"),
        (Endpoint::List, "orderSort=ASC"),
        (Endpoint::List, "online=true"),
        (
            Endpoint::List,
            "filters[0].key=userAgent&filters[0].op=MATCH&filters[0].value=FIRE",
        ),
        (Endpoint::List, "orderBy=offlineDate"),
        (Endpoint::List, "fullName=Ab"),
    ];
    let callers = [
        (ADMIN_1, "", T1),
        (ADMIN_2, "", T2),
        (OPERATOR, "", TenantScope::All),
        (OPERATOR, "&tenantId=2", T2),
    ];
    for (token, narrowed, scope) in callers {
        for (i, (endpoint, query)) in queries.iter().enumerate() {
            // Every tenant: one query of each plan (each page costs the DynamoDB store some 36
            // queries there).
            if scope == TenantScope::All && ![0, 3, 5, 7, 9].contains(&i) {
                continue;
            }
            let query = format!("{query}{narrowed}");
            let mode = if *endpoint == Endpoint::Search {
                ListMode::Search
            } else {
                ListMode::List
            };
            let (expected, expected_total) = model_all(&data, scope, mode, &query);
            let (seen, totals) = walk(&app, token, *endpoint, &query, 1 + (i as u32 % 3)).await;
            assert_eq!(seen, expected, "pages of {query} in {scope:?}");
            assert!(
                totals.iter().all(|t| *t == expected_total),
                "total {expected_total} of {query} in {scope:?} on every page: {totals:?}"
            );
        }
    }
}

/// A platform caller lists every tenant, or the one it names; an admin only its own.
pub async fn platform_callers_list_every_tenant_or_the_one_they_name(kind: StoreKind) {
    let data = dataset();
    let store = holding(kind, &data).await;
    let app = app(store, ReadBudget::default()).await;
    let cases = [
        (OPERATOR, Endpoint::List, "userId=1003&pageSize=100", TenantScope::All),
        (OPERATOR, Endpoint::List, "userId=1003&tenantId=2&pageSize=100", T2),
        (
            OPERATOR,
            Endpoint::Search,
            "fullName=grace&pageSize=100",
            TenantScope::All,
        ),
        (OPERATOR, Endpoint::Search, "fullName=grace&tenantId=3&pageSize=100", T3),
        (OPERATOR, Endpoint::Search, "fullName=durand&tenantId=99", NOBODY),
        (
            OPERATOR,
            Endpoint::List,
            "tenantId=1&orderBy=fullName&pageSize=7&pageNo=2",
            T1,
        ),
        (ADMIN_1, Endpoint::List, "userId=1003&pageSize=100", T1),
        (ADMIN_2, Endpoint::Search, "fullName=%C3%A9lodie&pageSize=100", T2),
        (
            ADMIN_1,
            Endpoint::Search,
            "fullName=%C3%A9lodie&tenantId=1&pageSize=100",
            T1,
        ),
    ];
    for (token, endpoint, query, scope) in cases {
        let mode = if endpoint == Endpoint::Search {
            ListMode::Search
        } else {
            ListMode::List
        };
        let expected = model(&data, scope, &parse_session_query(query, mode).unwrap());
        let (status, body) = call(&app, token, endpoint, query).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(total(&body), expected.total, "{query}");
        let expected_ids: Vec<String> = expected.sessions.iter().map(|s| s.id.to_string()).collect();
        assert_eq!(listed_ids(&body), expected_ids, "{query}");
    }
    let (status, body) = call(&app, ADMIN_1, Endpoint::List, "userId=1003&tenantId=2").await;
    assert_eq!(status, 403, "another tenant: {body}");
    let everywhere = call(&app, OPERATOR, Endpoint::List, "userId=1003&pageSize=100").await.1;
    let tenants: BTreeSet<i64> = data
        .iter()
        .filter(|s| listed_ids(&everywhere).contains(&s.id.to_string()))
        .map(|s| s.tenant_id.get())
        .collect();
    assert_eq!(tenants, BTreeSet::from([1, 2, 3]), "user 1003 of every tenant");
}

// The read budget, through the handler: a tenant of 200 sessions and a budget of 50.

const BUDGET: ReadBudget = ReadBudget(50);

/// Tenant 1: 40 users of 5 sessions each, one a minute back from now, online two in three;
/// 39 users are "Member NN Alpha", user 1139 is "Zéphyrin Quist". Tenant 2: 10 sessions.
fn crowd() -> Vec<Session> {
    let mut sessions: Vec<Session> = (0..200i64)
        .map(|i| {
            let user = 1100 + i % 40;
            let name = if user == 1139 {
                "Zéphyrin Quist".to_owned()
            } else {
                format!("Member {:02} Alpha", user - 1100)
            };
            let started = at(-60 * i - 30);
            if i % 3 == 0 {
                ended(1, user, &name, started, 20, OfflineReason::Disconnected)
            } else {
                online(1, user, &name, started)
            }
        })
        .collect();
    sessions.extend((0..10).map(|i| online(2, 2100 + i % 3, "Member 99 Beta", at(-45 * i - 10))));
    sessions
}

/// An app with [`BUDGET`] over a store holding [`crowd`]: on DynamoDB, most sessions imported
/// in bulk, Quist's and tenant 2's opened.
async fn crowded(kind: StoreKind) -> (App, Vec<Session>) {
    let data = crowd();
    let (opened, imported): (Vec<Session>, Vec<Session>) = data
        .iter()
        .cloned()
        .partition(|s| s.user_id.get() == 1139 || s.tenant_id == TenantId(2));
    let store = store_holding(kind, &[(Seeding::Imported, &imported), (Seeding::Opened, &opened)]).await;
    (app(store, BUDGET).await, data)
}

fn assert_refused(query: &str, status: u16, body: &Value, field: &str) {
    assert_eq!(status, 400, "{query}: {body}");
    assert_eq!(body["ext"]["field"], field, "{query}: {body}");
}

/// A `pageNo` deeper than the budget reads is refused, naming `pageNo` and pointing to the page
/// token, when the page lies within the listing.
pub async fn deep_page_numbers_are_refused_with_a_pointer_to_the_page_token(kind: StoreKind) {
    let (app, _) = crowded(kind).await;
    for query in [
        "pageSize=10&pageNo=6",
        "pageSize=10&pageNo=20",
        "online=true&pageSize=10&pageNo=6",
        "orderSort=ASC&pageSize=25&pageNo=3",
        "online=false&pageSize=10&pageNo=6",
    ] {
        let (status, body) = call(&app, ADMIN_1, Endpoint::List, query).await;
        assert_refused(query, status, &body, "pageNo");
        let msg = body["msg"].as_str().unwrap();
        assert!(
            msg.contains("pageToken"),
            "{query}: the message says to follow the token: {msg}"
        );
        assert!(body.get("data").is_none_or(Value::is_null), "{query}: {body}");
    }
    let (status, body) = call(&app, OPERATOR, Endpoint::List, "tenantId=1&pageSize=10&pageNo=6").await;
    assert_refused("platform, narrowed", status, &body, "pageNo");
}

/// The same deep `pageNo`, past the end of a listing whose total is counted: an empty page with
/// the true total, not a refusal.
pub async fn deep_pages_past_the_end_of_a_counted_listing_are_empty_with_the_total(kind: StoreKind) {
    let (app, data) = crowded(kind).await;
    let tenant_1: Vec<&Session> = data.iter().filter(|s| s.tenant_id == TenantId(1)).collect();
    let online_1 = tenant_1.iter().filter(|s| s.online()).count() as u64;
    let ended_1 = tenant_1.len() as u64 - online_1;
    assert_eq!((online_1, ended_1), (133, 67));
    for (query, expected_total) in [
        ("pageSize=10&pageNo=21", 200),
        ("pageSize=10&pageNo=25&orderSort=ASC", 200),
        ("pageSize=2000&pageNo=100000", 200),
        ("orderBy=onlineDate&pageSize=100&pageNo=3", 200),
        ("online=true&pageSize=10&pageNo=15", online_1),
        ("online=false&pageSize=10&pageNo=8", ended_1),
    ] {
        let (status, body) = call(&app, ADMIN_1, Endpoint::List, query).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(total(&body), expected_total, "{query}: {body}");
        assert!(listed_ids(&body).is_empty(), "{query}: {body}");
        assert!(body["ext"].get("nextPageToken").is_none(), "{query}: {body}");
    }
}

/// Listings that would read the whole tenant are refused, naming what to narrow: the order
/// (`orderBy` other than the key order sorts every match), or the first filter that is checked
/// on every session.
pub async fn listings_over_the_whole_tenant_are_refused_naming_what_to_narrow(kind: StoreKind) {
    let (app, _) = crowded(kind).await;
    for (endpoint, query, field) in [
        (Endpoint::List, "orderBy=fullName", "orderBy"),
        (Endpoint::List, "orderBy=userId&orderSort=ASC&online=true", "orderBy"),
        (Endpoint::List, "orderBy=offlineDate", "orderBy"),
        (
            Endpoint::List,
            "filters[0].key=userAgent&filters[0].op=MATCH&filters[0].value=firefox",
            "userAgent",
        ),
        (
            Endpoint::List,
            "online=true&filters[0].key=userAgent&filters[0].op=MATCH&filters[0].value=firefox",
            "userAgent",
        ),
        // Names shorter than a gram are checked on every session.
        (Endpoint::Search, "fullName=me", "fullName"),
        // A name most of the tenant holds: its users' sessions are most of the tenant.
        (Endpoint::Search, "fullName=member", "fullName"),
    ] {
        let (status, body) = call(&app, ADMIN_1, endpoint, query).await;
        assert_refused(query, status, &body, field);
        let msg = body["msg"].as_str().unwrap();
        assert!(msg.contains("50"), "{query}: the message names the budget: {msg}");
    }
}

/// Reads of O(matches) answer within the budget in the same tenant: a `userId`, a name of a gram
/// or more, an `onlineDate` range narrow enough; and so do deep pages of such reads.
pub async fn narrowed_listings_answer_within_the_budget(kind: StoreKind) {
    let (app, data) = crowded(kind).await;
    let since = url_encoded(&at(-60 * 30).to_string());
    let cases = [
        (Endpoint::List, "userId=1103".to_owned()),
        (Endpoint::List, "userId=1103&orderBy=fullName&orderSort=ASC".to_owned()),
        (
            Endpoint::List,
            "filters[0].key=userId&filters[0].op=IN&filters[0].value=1101,1102,1139,2100,9999&orderBy=offlineDate"
                .to_owned(),
        ),
        (
            Endpoint::List,
            "filters[0].key=userId&filters[0].op=IN&filters[0].value=1101,1102&pageSize=10&pageNo=6".to_owned(),
        ),
        (Endpoint::Search, "fullName=quist".to_owned()),
        (Endpoint::Search, "fullName=Z%C3%89PHYRIN&orderBy=fullName".to_owned()),
        (
            Endpoint::List,
            "filters[0].key=fullName&filters[0].op=MATCH_END&filters[0].value=z%C3%A9ph&online=true".to_owned(),
        ),
        (
            Endpoint::List,
            "fullName=Z%C3%A9phyrin%20Quist&pageSize=10&pageNo=6".to_owned(),
        ),
        (
            Endpoint::List,
            format!(
                "filters[0].key=onlineDate&filters[0].op=GREATER_THAN_EQUAL&filters[0].value={since}\
                 &filters[1].key=userAgent&filters[1].op=MATCH&filters[1].value=firefox"
            ),
        ),
        (Endpoint::List, "pageSize=10&pageNo=4".to_owned()),
    ];
    for (endpoint, query) in cases {
        let mode = if endpoint == Endpoint::Search {
            ListMode::Search
        } else {
            ListMode::List
        };
        let expected = model(&data, T1, &parse_session_query(&query, mode).unwrap());
        let (status, body) = call(&app, ADMIN_1, endpoint, &query).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(total(&body), expected.total, "{query}: {body}");
        let expected_ids: Vec<String> = expected.sessions.iter().map(|s| s.id.to_string()).collect();
        assert_eq!(listed_ids(&body), expected_ids, "{query}");
    }
    let (status, body) = call(&app, OPERATOR, Endpoint::Search, "fullName=quist").await;
    assert_eq!(
        (status, total(&body)),
        (200, 5),
        "a platform caller, every tenant: {body}"
    );
}

/// What a refused deep page points to works: the page tokens walk the whole tenant, far past the
/// budget, a page at a time.
pub async fn page_tokens_walk_past_the_budget(kind: StoreKind) {
    let (app, data) = crowded(kind).await;
    for (query, size) in [("orderSort=DESC", 10), ("online=true&orderSort=ASC", 15)] {
        let (expected, expected_total) = model_all(&data, T1, ListMode::List, query);
        let (seen, totals) = walk(&app, ADMIN_1, Endpoint::List, query, size).await;
        assert_eq!(seen, expected, "pages of {query}");
        assert!(totals.iter().all(|t| *t == expected_total), "{query}: {totals:?}");
    }
}

message_center_tests::both_stores!(each:
    user_ids_read_those_users_sessions,
    names_are_found_by_any_needle,
    a_renamed_user_is_found_by_each_of_its_names,
    page_tokens_walk_every_plan,
    platform_callers_list_every_tenant_or_the_one_they_name,
    deep_page_numbers_are_refused_with_a_pointer_to_the_page_token,
    deep_pages_past_the_end_of_a_counted_listing_are_empty_with_the_total,
    listings_over_the_whole_tenant_are_refused_naming_what_to_narrow,
    narrowed_listings_answer_within_the_budget,
    page_tokens_walk_past_the_budget,
);
