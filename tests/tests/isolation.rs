//! Tenant isolation as a matrix: every endpoint (list, search, detail, forced offline, WebSocket
//! `$connect`) crossed with every kind of caller and every target (own tenant, the other tenant,
//! ids of both, a `tenantId` naming the other tenant), each cell asserting the contract's exact
//! status and envelope code, that no record of a tenant out of the caller's reach appears anywhere
//! in the answer, and what the store holds afterwards: a refused or out-of-scope call changes
//! nothing, a permitted forced offline ends and revokes exactly the targeted users in scope.
//!
//! The table is [`GROUPS`]: one line per endpoint and target, with the answer each caller gets;
//! the callers whose token does not authenticate get 401 on every line. One runner walks it on
//! both stores. Cells expected to change the store get a world of their own; the others share
//! one, which each of them must leave exactly as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::encodings::Body as EventBody;
use lambda_http::http::HeaderMap;
use lambda_http::Body;
use message_center::domain::access::{Permission, TenantScope, TokenRecord};
use message_center::domain::{OfflineReason, Session, Timestamp};
use message_center::http::query::{parse_session_query, ListMode};
use message_center::http::{handle, Endpoint, BASE_PATH};
use message_center::service::App;
use message_center::store::{Opened, Store};
use message_center::ws::{self, WsRoute};
use message_center_tests::contract::code_and_key;
use message_center_tests::events::ws_event;
use message_center_tests::fixtures::{at, ended, online, token};
use message_center_tests::gateway::RecordingGateway;
use message_center_tests::StoreKind;
use serde_json::{json, Value};

const TENANT_A: i64 = 1;
const TENANT_B: i64 = 2;
/// The platform operator's home tenant: it has no sessions, so whatever a platform caller sees
/// it sees for being platform, not for belonging to tenant A or B.
const OPS_TENANT: i64 = 3;

/// Users of tenant A online beside 1001 to 1003 (no token): with 24 online sessions there, one
/// `USER` id of an admin of A is looked up by itself and two are reached by reading the tenant
/// once (README, "Forced offline of a tenant": one id per 20 online sessions), so the matrix
/// crosses both paths; tenant B, with 2, is always read once.
const CROWD: i64 = 21;

const ALL_PERMISSIONS: [Permission; 3] = [Permission::List, Permission::Detail, Permission::Offline];

/// Every kind of caller, by the token it presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallerKind {
    Platform,
    AdminA,
    AdminB,
    /// User 1001 of tenant A, holding no permission.
    NoPermissionA,
    /// User 1002 of tenant A, every permission, expired an hour ago.
    Expired,
    /// User 1003 of tenant A, every permission, revoked.
    Revoked,
    /// Well-formed, but no such token was ever issued.
    Unknown,
    Missing,
    /// Not RFC 6750 token syntax.
    Malformed,
}

/// The callers whose token does not authenticate: 401 on every endpoint and target.
const UNAUTHENTICATED: [CallerKind; 5] = [
    CallerKind::Expired,
    CallerKind::Revoked,
    CallerKind::Unknown,
    CallerKind::Missing,
    CallerKind::Malformed,
];

impl CallerKind {
    /// The raw token presented, if any.
    fn token(self) -> Option<&'static str> {
        match self {
            CallerKind::Platform => Some("platform-operator"),
            CallerKind::AdminA => Some("admin-a"),
            CallerKind::AdminB => Some("admin-b"),
            CallerKind::NoPermissionA => Some("user-a-1001"),
            CallerKind::Expired => Some("user-a-1002-expired"),
            CallerKind::Revoked => Some("user-a-1003-revoked"),
            CallerKind::Unknown => Some("never-issued-token"),
            CallerKind::Missing => None,
            CallerKind::Malformed => Some("not a token!"),
        }
    }

    /// `(tenant, user)` of the token record, for a caller that has one that authenticates.
    fn identity(self) -> Option<(i64, i64)> {
        match self {
            CallerKind::Platform => Some((OPS_TENANT, 3000)),
            CallerKind::AdminA => Some((TENANT_A, 1000)),
            CallerKind::AdminB => Some((TENANT_B, 2000)),
            CallerKind::NoPermissionA => Some((TENANT_A, 1001)),
            _ => None,
        }
    }
}

/// What a cell calls.
#[derive(Debug, Clone, Copy)]
enum Call {
    Http(Endpoint),
    WsConnect,
}

/// What a cell asks for. `tenant_id` is the `tenantId` query parameter.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// List or search (DETAIL records, one page of everything), optionally only these users.
    Listing {
        tenant_id: Option<i64>,
        users: Option<&'static [i64]>,
    },
    /// Detail of one user.
    User { user: i64, tenant_id: Option<i64> },
    /// Forced offline: `receiveObjectType` `USER` or `TENANT` and the ids.
    Off {
        kind: &'static str,
        ids: &'static [i64],
        tenant_id: Option<i64>,
    },
    /// `$connect` with `?token=` or `Authorization: Bearer` (and `?tenantId=` when given), on a
    /// fresh connection id or on the live connection of another user's session.
    Connect {
        tenant_id: Option<i64>,
        connection_of: Option<i64>,
        /// The token in `Authorization: Bearer` rather than `?token=`.
        by_header: bool,
    },
}

/// The contract's answer to a cell.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// 200: exactly the target's sessions of these tenants, every one of them.
    Listed(&'static [i64]),
    /// 200: the target user's presence, in this tenant.
    Presence(i64),
    /// 200: exactly these users forced offline (every online session ended `FORCED`, every token
    /// revoked), these ids skipped, nothing else touched.
    Offline { ends: Ends, skipped: &'static [i64] },
    /// 200: one new online session, of the caller in its own tenant, and nothing else.
    Connected,
    /// An error with this status, `ext.field` (if one input is to blame); nothing changed.
    Refused(u16, Option<&'static str>),
}

const FORBIDDEN: Expect = Expect::Refused(403, None);
const FORBIDDEN_TENANT: Expect = Expect::Refused(403, Some("tenantId"));
const FORBIDDEN_TARGET: Expect = Expect::Refused(403, Some("receiveObjectIds"));
const NOT_FOUND: Expect = Expect::Refused(404, None);
const UNAUTHORIZED: Expect = Expect::Refused(401, None);
const NOTHING_ENDED: &[i64] = &[];

/// One line of the table: an endpoint and a target, and what each authenticated caller gets.
struct Group {
    call: Call,
    target: Target,
    platform: Expect,
    admin_a: Expect,
    admin_b: Expect,
    no_permission_a: Expect,
}

const fn listing(tenant_id: Option<i64>, users: Option<&'static [i64]>) -> Target {
    Target::Listing { tenant_id, users }
}

const fn user(user: i64, tenant_id: Option<i64>) -> Target {
    Target::User { user, tenant_id }
}

const fn off(kind: &'static str, ids: &'static [i64], tenant_id: Option<i64>) -> Target {
    Target::Off { kind, ids, tenant_id }
}

/// Whom a permitted forced offline logs out.
#[derive(Debug, Clone, Copy)]
enum Ends {
    Users(&'static [i64]),
    /// Every user with a token or an online session in these tenants.
    AllOf(&'static [i64]),
}

const fn ends(users: &'static [i64], skipped: &'static [i64]) -> Expect {
    Expect::Offline {
        ends: Ends::Users(users),
        skipped,
    }
}

const fn ends_all_of(tenants: &'static [i64]) -> Expect {
    Expect::Offline {
        ends: Ends::AllOf(tenants),
        skipped: &[],
    }
}

const fn connect(tenant_id: Option<i64>, connection_of: Option<i64>) -> Target {
    Target::Connect {
        tenant_id,
        connection_of,
        by_header: false,
    }
}

/// A `$connect` with the token in the `Authorization` header.
const fn connect_by_header(tenant_id: Option<i64>) -> Target {
    Target::Connect {
        tenant_id,
        connection_of: None,
        by_header: true,
    }
}

const fn group(call: Call, target: Target, answers: [Expect; 4]) -> Group {
    let [platform, admin_a, admin_b, no_permission_a] = answers;
    Group {
        call,
        target,
        platform,
        admin_a,
        admin_b,
        no_permission_a,
    }
}

const LIST: Call = Call::Http(Endpoint::List);
const SEARCH: Call = Call::Http(Endpoint::Search);
const DETAIL: Call = Call::Http(Endpoint::Detail);
const OFF: Call = Call::Http(Endpoint::Offline);
const A: Option<i64> = Some(TENANT_A);
const B: Option<i64> = Some(TENANT_B);
const BOTH: &[i64] = &[TENANT_A, TENANT_B];
const USERS_OF_BOTH: &[i64] = &[1001, 2001];

/// The matrix. Columns: platform operator, admin of A, admin of B, user of A without permission.
#[rustfmt::skip]
const GROUPS: &[Group] = &[
    // ---- list and search: the same rules ----
    group(LIST, listing(None, None),             [Expect::Listed(BOTH), Expect::Listed(&[TENANT_A]), Expect::Listed(&[TENANT_B]), FORBIDDEN]),
    group(LIST, listing(A, None),                [Expect::Listed(&[TENANT_A]), Expect::Listed(&[TENANT_A]), FORBIDDEN_TENANT, FORBIDDEN]),
    group(LIST, listing(B, None),                [Expect::Listed(&[TENANT_B]), FORBIDDEN_TENANT, Expect::Listed(&[TENANT_B]), FORBIDDEN]),
    group(LIST, listing(None, Some(USERS_OF_BOTH)), [Expect::Listed(BOTH), Expect::Listed(&[TENANT_A]), Expect::Listed(&[TENANT_B]), FORBIDDEN]),
    group(SEARCH, listing(None, None),           [Expect::Listed(BOTH), Expect::Listed(&[TENANT_A]), Expect::Listed(&[TENANT_B]), FORBIDDEN]),
    group(SEARCH, listing(A, None),              [Expect::Listed(&[TENANT_A]), Expect::Listed(&[TENANT_A]), FORBIDDEN_TENANT, FORBIDDEN]),
    group(SEARCH, listing(B, None),              [Expect::Listed(&[TENANT_B]), FORBIDDEN_TENANT, Expect::Listed(&[TENANT_B]), FORBIDDEN]),
    group(SEARCH, listing(None, Some(USERS_OF_BOTH)), [Expect::Listed(BOTH), Expect::Listed(&[TENANT_A]), Expect::Listed(&[TENANT_B]), FORBIDDEN]),
    // ---- detail: another tenant's user does not exist (404); another tenantId is 403 ----
    group(DETAIL, user(1001, None),              [Expect::Presence(TENANT_A), Expect::Presence(TENANT_A), NOT_FOUND, FORBIDDEN]),
    group(DETAIL, user(2001, None),              [Expect::Presence(TENANT_B), NOT_FOUND, Expect::Presence(TENANT_B), FORBIDDEN]),
    group(DETAIL, user(1001, A),                 [Expect::Presence(TENANT_A), Expect::Presence(TENANT_A), FORBIDDEN_TENANT, FORBIDDEN]),
    group(DETAIL, user(1001, B),                 [NOT_FOUND, FORBIDDEN_TENANT, NOT_FOUND, FORBIDDEN]),
    // ---- forced offline: foreign USER ids are skipped and listed, a foreign TENANT is 403 ----
    group(OFF, off("USER", &[1001], None),       [ends(&[1001], &[]), ends(&[1001], &[]), ends(NOTHING_ENDED, &[1001]), FORBIDDEN]),
    group(OFF, off("USER", &[2001], None),       [ends(&[2001], &[]), ends(NOTHING_ENDED, &[2001]), ends(&[2001], &[]), FORBIDDEN]),
    group(OFF, off("USER", USERS_OF_BOTH, None), [ends(USERS_OF_BOTH, &[]), ends(&[1001], &[2001]), ends(&[2001], &[1001]), FORBIDDEN]),
    group(OFF, off("USER", &[1001], A),          [ends(&[1001], &[]), ends(&[1001], &[]), FORBIDDEN_TENANT, FORBIDDEN]),
    group(OFF, off("USER", &[1001], B),          [ends(NOTHING_ENDED, &[1001]), FORBIDDEN_TENANT, ends(NOTHING_ENDED, &[1001]), FORBIDDEN]),
    group(OFF, off("TENANT", &[TENANT_A], None), [ends_all_of(&[TENANT_A]), ends_all_of(&[TENANT_A]), FORBIDDEN_TARGET, FORBIDDEN]),
    group(OFF, off("TENANT", &[TENANT_B], None), [ends_all_of(&[TENANT_B]), FORBIDDEN_TARGET, ends_all_of(&[TENANT_B]), FORBIDDEN]),
    group(OFF, off("TENANT", BOTH, None),        [ends_all_of(BOTH), FORBIDDEN_TARGET, FORBIDDEN_TARGET, FORBIDDEN]),
    group(OFF, off("TENANT", &[TENANT_A], B),    [FORBIDDEN_TARGET, FORBIDDEN_TENANT, FORBIDDEN_TARGET, FORBIDDEN]),
    // ---- $connect: no permission needed; the session is the token's, whatever the query says ----
    group(Call::WsConnect, connect(None, None),  [Expect::Connected, Expect::Connected, Expect::Connected, Expect::Connected]),
    group(Call::WsConnect, connect(B, None),     [Expect::Connected, Expect::Connected, Expect::Connected, Expect::Connected]),
    group(Call::WsConnect, connect_by_header(None), [Expect::Connected, Expect::Connected, Expect::Connected, Expect::Connected]),
    group(Call::WsConnect, connect_by_header(B), [Expect::Connected, Expect::Connected, Expect::Connected, Expect::Connected]),
    group(Call::WsConnect, connect(None, Some(2001)), [
        Expect::Refused(400, Some("connectionId")), Expect::Refused(400, Some("connectionId")),
        Expect::Refused(400, Some("connectionId")), Expect::Refused(400, Some("connectionId")),
    ]),
];

/// One cell of the matrix.
struct Cell {
    call: Call,
    target: Target,
    caller: CallerKind,
    expect: Expect,
}

impl Cell {
    fn name(&self) -> String {
        format!("{:?} {:?} as {:?}", self.call, self.target, self.caller)
    }

    /// Whether the contract has this cell change the store (so it gets a world of its own).
    fn changes_the_store(&self) -> bool {
        match self.expect {
            Expect::Offline {
                ends: Ends::Users(users),
                ..
            } => !users.is_empty(),
            Expect::Offline {
                ends: Ends::AllOf(_), ..
            } => true,
            Expect::Connected => true,
            Expect::Listed(_) | Expect::Presence(_) | Expect::Refused(..) => false,
        }
    }
}

/// Every cell: each line of [`GROUPS`] for each caller kind.
fn cells() -> Vec<Cell> {
    GROUPS
        .iter()
        .flat_map(|line| {
            let authenticated = [
                (CallerKind::Platform, line.platform),
                (CallerKind::AdminA, line.admin_a),
                (CallerKind::AdminB, line.admin_b),
                (CallerKind::NoPermissionA, line.no_permission_a),
            ];
            let unauthenticated = UNAUTHENTICATED.map(|caller| (caller, UNAUTHORIZED));
            authenticated
                .into_iter()
                .chain(unauthenticated)
                .map(|(caller, expect)| Cell {
                    call: line.call,
                    target: line.target,
                    caller,
                    expect,
                })
        })
        .collect()
}

/// The seeded data: two tenants with online and ended sessions, and every caller's token.
struct World {
    app: App,
    gateway: Arc<RecordingGateway>,
    sessions: Vec<Session>,
    /// Raw token and the record stored for it.
    tokens: Vec<(&'static str, TokenRecord)>,
}

/// What the store holds: every session by id, every token record by raw token.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    sessions: BTreeMap<String, Session>,
    tokens: BTreeMap<&'static str, TokenRecord>,
}

impl World {
    async fn seed(store: Arc<dyn Store>) -> World {
        let crowd = (0..CROWD).map(|n| online(TENANT_A, 1100 + n, "Crowd Alpha", at(-400 + n)));
        let sessions: Vec<Session> = [
            online(TENANT_A, 1001, "Ada Alpha", at(-300)),
            online(TENANT_A, 1002, "Alan Alpha", at(-200)),
            ended(TENANT_A, 1002, "Alan Alpha", at(-900), 60, OfflineReason::Disconnected),
            online(TENANT_A, 1003, "Amy Alpha", at(-100)),
            online(TENANT_B, 2001, "Bea Beta", at(-250)),
            online(TENANT_B, 2002, "Bob Beta", at(-150)),
            ended(TENANT_B, 2002, "Bob Beta", at(-800), 60, OfflineReason::Stale),
        ]
        .into_iter()
        .chain(crowd)
        .collect();
        let record = |kind: CallerKind, tenant: i64, user: i64, permissions: &[Permission], platform: bool| {
            let raw = kind.token().expect("a caller with a token");
            (raw, token(raw, tenant, user, permissions, platform))
        };
        let mut expired = record(CallerKind::Expired, TENANT_A, 1002, &ALL_PERMISSIONS, false);
        expired.1.expires_at = Some(Timestamp::now().plus_secs(-3600));
        let mut revoked = record(CallerKind::Revoked, TENANT_A, 1003, &ALL_PERMISSIONS, false);
        revoked.1.revoked_at = Some(at(-60));
        let tokens = vec![
            record(CallerKind::Platform, OPS_TENANT, 3000, &ALL_PERMISSIONS, true),
            record(CallerKind::AdminA, TENANT_A, 1000, &ALL_PERMISSIONS, false),
            record(CallerKind::AdminB, TENANT_B, 2000, &ALL_PERMISSIONS, false),
            record(CallerKind::NoPermissionA, TENANT_A, 1001, &[], false),
            expired,
            revoked,
            ("user-b-2001", token("user-b-2001", TENANT_B, 2001, &[], false)),
            ("user-b-2002", token("user-b-2002", TENANT_B, 2002, &[], false)),
        ];
        for session in &sessions {
            assert!(store.open_session(session, None).await.unwrap() == Opened::Recorded);
        }
        for (_, record) in &tokens {
            store.put_token(record).await.unwrap();
        }
        let live = sessions.iter().filter(|s| s.online()).map(|s| s.connection_id.clone());
        let gateway = Arc::new(RecordingGateway::with_live(live));
        World {
            app: App {
                store,
                gateway: gateway.clone(),
                config: Default::default(),
            },
            gateway,
            sessions,
            tokens,
        }
    }

    async fn snapshot(&self) -> Snapshot {
        let everything = parse_session_query("pageSize=2000&infoScope=DETAIL", ListMode::List).unwrap();
        let page = self
            .app
            .store
            .list_sessions(TenantScope::All, &everything)
            .await
            .unwrap();
        assert!(!page.more, "one page holds the world");
        let mut tokens = BTreeMap::new();
        for (raw, record) in &self.tokens {
            let stored = self
                .app
                .store
                .token(&record.hash)
                .await
                .unwrap()
                .expect("a seeded token");
            tokens.insert(*raw, stored);
        }
        Snapshot {
            sessions: page.sessions.into_iter().map(|s| (s.id.to_string(), s)).collect(),
            tokens,
        }
    }

    /// The users a forced offline expected to end `ends` logs out.
    fn users_ended(&self, ends: Ends) -> BTreeSet<i64> {
        match ends {
            Ends::Users(users) => users.iter().copied().collect(),
            Ends::AllOf(tenants) => {
                let in_tenants = |tenant: i64| tenants.contains(&tenant);
                let with_session = self
                    .sessions
                    .iter()
                    .filter(|s| s.online() && in_tenants(s.tenant_id.get()))
                    .map(|s| s.user_id.get());
                let with_token = self
                    .tokens
                    .iter()
                    .filter(|(_, t)| in_tenants(t.tenant_id.get()))
                    .map(|(_, t)| t.user_id.get());
                with_session.chain(with_token).collect()
            }
        }
    }

    /// The tenant of a seeded user (or of a token's user).
    fn tenant_of_user(&self, user: i64) -> Option<i64> {
        let of_session = self
            .sessions
            .iter()
            .find(|s| s.user_id.get() == user)
            .map(|s| s.tenant_id.get());
        of_session.or_else(|| {
            self.tokens
                .iter()
                .find(|(_, t)| t.user_id.get() == user)
                .map(|(_, t)| t.tenant_id.get())
        })
    }

    /// Every string that identifies a record of `tenant`: session ids, connection ids, names, devices.
    fn markers_of(&self, tenant: i64) -> Vec<String> {
        self.sessions
            .iter()
            .filter(|s| s.tenant_id.get() == tenant)
            .flat_map(|s| {
                [
                    Some(s.id.to_string()),
                    Some(s.connection_id.clone()),
                    Some(s.full_name.clone()),
                    s.device_id.clone(),
                ]
            })
            .flatten()
            .collect()
    }
}

/// An answer, HTTP or WebSocket, as status, headers and JSON body.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

/// `name=value&...`, each part percent-encoded but for RFC 3986's unreserved characters.
fn query_string(pairs: &[(&str, String)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn comma_separated(ids: &[i64]) -> String {
    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

async fn call_http(world: &World, endpoint: Endpoint, target: Target, caller: CallerKind) -> Answer {
    let tenant_param = |tenant_id: Option<i64>| tenant_id.map(|t| ("tenantId", t.to_string()));
    let (method, path, params, body) = match (endpoint, target) {
        (Endpoint::List | Endpoint::Search, Target::Listing { tenant_id, users }) => {
            let mut params = vec![("pageSize", "2000".to_owned()), ("infoScope", "DETAIL".to_owned())];
            if endpoint == Endpoint::Search {
                // Search semantics on a string field: "device" is in every seeded deviceId.
                params.push(("deviceId", "DEVICE".to_owned()));
            }
            if let Some(users) = users {
                params.push(("filters[0].key", "userId".to_owned()));
                params.push(("filters[0].op", "IN".to_owned()));
                params.push(("filters[0].value", comma_separated(users)));
            }
            params.extend(tenant_param(tenant_id));
            let path = match endpoint {
                Endpoint::Search => format!("{BASE_PATH}/search"),
                _ => BASE_PATH.to_owned(),
            };
            ("GET", path, params, String::new())
        }
        (Endpoint::Detail, Target::User { user, tenant_id }) => (
            "GET",
            format!("{BASE_PATH}/{user}"),
            tenant_param(tenant_id).into_iter().collect(),
            String::new(),
        ),
        (Endpoint::Offline, Target::Off { kind, ids, tenant_id }) => (
            "POST",
            format!("{BASE_PATH}/off"),
            tenant_param(tenant_id).into_iter().collect(),
            json!({"broadcast": true, "receiveObjectType": kind, "receiveObjectIds": ids}).to_string(),
        ),
        (endpoint, target) => panic!("{endpoint:?} takes no {target:?}: fix the table"),
    };
    let uri = if params.is_empty() {
        path
    } else {
        format!("{path}?{}", query_string(&params))
    };
    let mut request = lambda_http::http::Request::builder().method(method).uri(uri);
    if let Some(token) = caller.token() {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    if method == "POST" {
        request = request.header("Content-Type", "application/json");
    }
    let response = handle(&world.app, endpoint, request.body(Body::from(body)).unwrap()).await;
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: serde_json::from_slice(response.body().as_ref()).expect("a JSON body"),
    }
}

async fn call_ws_connect(world: &World, target: Target, caller: CallerKind, connection_id: String) -> Answer {
    let Target::Connect {
        tenant_id,
        connection_of,
        by_header,
    } = target
    else {
        panic!("$connect takes no {target:?}: fix the table");
    };
    let mut event: ApiGatewayWebsocketProxyRequest = ws_event("ws-connect.json");
    let mut query = std::collections::HashMap::new();
    match caller.token() {
        Some(token) if by_header => {
            let bearer = format!("Bearer {token}").parse().expect("a header value");
            event.headers.insert("authorization", bearer);
        }
        Some(token) => {
            query.insert("token".to_owned(), token.to_owned());
        }
        None => {}
    }
    if let Some(tenant) = tenant_id {
        query.insert("tenantId".to_owned(), tenant.to_string());
    }
    event.query_string_parameters = query.into();
    event.request_context.connection_id = Some(match connection_of {
        Some(user) => world
            .sessions
            .iter()
            .find(|s| s.user_id.get() == user && s.online())
            .expect("a live session of that user")
            .connection_id
            .clone(),
        None => connection_id,
    });
    let response = ws::handle(&world.app, WsRoute::Connect, event).await;
    let body = match &response.body {
        Some(EventBody::Text(text)) => serde_json::from_str(text).expect("a JSON body"),
        other => panic!("no text body: {other:?}"),
    };
    Answer {
        status: u16::try_from(response.status_code).unwrap(),
        headers: response.headers,
        body,
    }
}

/// Status, envelope code and `ext` of an answer.
fn assert_envelope(cell: &str, answer: &Answer, status: u16, field: Option<&str>) {
    let body = &answer.body;
    assert_eq!(answer.status, status, "{cell}: {body}");
    let (code, key) = code_and_key(status).unwrap_or_else(|| panic!("{cell}: no envelope code for {status}"));
    assert_eq!(body["code"], code, "{cell}: {body}");
    assert_eq!(body["ext"].get("eKey").and_then(Value::as_str), key, "{cell}: {body}");
    assert_eq!(
        body["ext"].get("field").and_then(Value::as_str),
        field,
        "{cell}: {body}"
    );
    assert!(
        body["ext"]["requestId"].as_str().is_some_and(|id| !id.is_empty()),
        "{cell}: requestId"
    );
    assert!(body["msg"].as_str().is_some_and(|m| !m.is_empty()), "{cell}: msg");
    if status != 200 {
        assert!(body["data"].is_null(), "{cell}: an error carries no data: {body}");
    }
    assert_eq!(
        answer.headers.get("www-authenticate").and_then(|v| v.to_str().ok()),
        (status == 401).then_some("Bearer error=\"invalid_token\""),
        "{cell}: WWW-Authenticate"
    );
}

/// No trace of a tenant outside `visible` anywhere in `value`: every `tenantId` is visible, every
/// `userId` is a visible tenant's user, and no string holds another tenant's session id,
/// connection id, name or device. `skippedIds` is exempt: it echoes the caller's own input.
fn assert_no_foreign_records(cell: &str, world: &World, value: &Value, visible: &BTreeSet<i64>) {
    let foreign: Vec<String> = [TENANT_A, TENANT_B]
        .into_iter()
        .filter(|t| !visible.contains(t))
        .flat_map(|t| world.markers_of(t))
        .collect();
    fn id_of(value: &Value) -> Option<i64> {
        value.as_str().and_then(|s| s.parse().ok()).or_else(|| value.as_i64())
    }
    fn walk(cell: &str, world: &World, value: &Value, visible: &BTreeSet<i64>, foreign: &[String]) {
        match value {
            Value::Object(fields) => {
                for (key, inner) in fields {
                    match key.as_str() {
                        "skippedIds" => continue,
                        "tenantId" => {
                            let tenant = id_of(inner).unwrap_or_else(|| panic!("{cell}: tenantId {inner}"));
                            assert!(visible.contains(&tenant), "{cell}: tenant {tenant} leaked");
                        }
                        "userId" => {
                            let user = id_of(inner).unwrap_or_else(|| panic!("{cell}: userId {inner}"));
                            let tenant = world.tenant_of_user(user);
                            assert!(
                                tenant.is_some_and(|t| visible.contains(&t)),
                                "{cell}: user {user} of tenant {tenant:?} leaked"
                            );
                        }
                        _ => {}
                    }
                    walk(cell, world, inner, visible, foreign);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(cell, world, item, visible, foreign)),
            Value::String(text) => {
                if let Some(marker) = foreign.iter().find(|m| text.contains(m.as_str())) {
                    panic!("{cell}: {marker:?} of a foreign tenant in {text:?}");
                }
            }
            _ => {}
        }
    }
    walk(cell, world, value, visible, &foreign);
}

/// The session ids a list of records names.
fn ids_listed(body: &Value) -> BTreeSet<String> {
    body["data"]["list"]
        .as_array()
        .expect("data.list")
        .iter()
        .map(|r| r["id"].as_str().expect("a string id").to_owned())
        .collect()
}

/// Runs one cell on `world`, which held `before`, and checks the answer against the table, and
/// the store too unless the cell's endpoint never writes (`check_store` false: its caller checks
/// the store once after a run of such cells, since reading the whole store is most of the cost of
/// a cell on moto).
async fn run_cell(world: &World, cell: &Cell, before: &Snapshot, check_store: bool) {
    let name = cell.name();
    let answer = match cell.call {
        Call::Http(endpoint) => call_http(world, endpoint, cell.target, cell.caller).await,
        Call::WsConnect => {
            call_ws_connect(
                world,
                cell.target,
                cell.caller,
                format!("isolation-{}", ulid::Ulid::new()),
            )
            .await
        }
    };
    let after = match check_store {
        true => Some(world.snapshot().await),
        false => None,
    };
    let unchanged = |what: &str| {
        if let Some(after) = &after {
            assert_eq!(after, before, "{name}: {what} changes nothing");
        }
    };
    let body = &answer.body;
    let visible: BTreeSet<i64> = match cell.expect {
        Expect::Refused(status, field) => {
            assert_envelope(&name, &answer, status, field);
            unchanged("a refused call");
            BTreeSet::new()
        }
        Expect::Listed(tenants) => {
            assert_envelope(&name, &answer, 200, None);
            let Target::Listing { users, .. } = cell.target else {
                panic!("{name}: Listed needs a listing target")
            };
            let expected: BTreeSet<String> = world
                .sessions
                .iter()
                .filter(|s| tenants.contains(&s.tenant_id.get()))
                .filter(|s| users.is_none_or(|u| u.contains(&s.user_id.get())))
                .map(|s| s.id.to_string())
                .collect();
            assert!(!expected.is_empty(), "{name}: the cell lists something");
            assert_eq!(ids_listed(body), expected, "{name}: exactly the sessions in scope");
            assert_eq!(body["data"]["total"], expected.len().to_string(), "{name}: total");
            unchanged("a read");
            tenants.iter().copied().collect()
        }
        Expect::Presence(tenant) => {
            assert_envelope(&name, &answer, 200, None);
            let Target::User { user, .. } = cell.target else {
                panic!("{name}: Presence needs a user target")
            };
            let data = &body["data"];
            assert_eq!(data["userId"], user.to_string(), "{name}");
            assert_eq!(data["tenantId"], tenant.to_string(), "{name}");
            let theirs = world.sessions.iter().filter(|s| s.user_id.get() == user).count();
            assert_eq!(
                data["sessions"].as_array().map(Vec::len),
                Some(theirs),
                "{name}: sessions"
            );
            unchanged("a read");
            BTreeSet::from([tenant])
        }
        Expect::Offline { ends, skipped } => {
            assert_envelope(&name, &answer, 200, None);
            let after = after.as_ref().expect("a forced offline has its store checked");
            let ends = world.users_ended(ends);
            assert_forced_offline(world, &name, body, before, after, &ends, skipped);
            ends.iter().filter_map(|u| world.tenant_of_user(*u)).collect()
        }
        Expect::Connected => {
            assert_envelope(&name, &answer, 200, None);
            let (tenant, user) = cell.caller.identity().expect("an authenticated caller");
            let session_id = body["data"]["sessionId"].as_str().expect("data.sessionId");
            let after = after.as_ref().expect("a connect has its store checked");
            let mut grown = before.sessions.clone();
            let new = after.sessions.get(session_id).expect("the new session is stored");
            assert!(new.online(), "{name}");
            assert_eq!(
                (new.tenant_id.get(), new.user_id.get()),
                (tenant, user),
                "{name}: the token's tenant and user"
            );
            grown.insert(session_id.to_owned(), new.clone());
            assert_eq!(after.sessions, grown, "{name}: one new session, nothing else");
            assert_eq!(after.tokens, before.tokens, "{name}: tokens untouched");
            BTreeSet::new()
        }
    };
    if !cell.changes_the_store() {
        assert!(world.gateway.sent().is_empty(), "{name}: no notice sent");
        assert!(world.gateway.closed().is_empty(), "{name}: no connection closed");
    }
    assert_no_foreign_records(&name, world, body, &visible);
}

/// A permitted forced offline: exactly the `ends` users' online sessions ended `FORCED` and their
/// tokens revoked, their live connections told and closed; nothing else changed; `data` counts it.
fn assert_forced_offline(
    world: &World,
    name: &str,
    body: &Value,
    before: &Snapshot,
    after: &Snapshot,
    ends: &BTreeSet<i64>,
    skipped: &[i64],
) {
    let data = &body["data"];
    let targeted = |user: i64| ends.contains(&user);
    let mut ended = BTreeSet::new();
    for (id, was) in &before.sessions {
        let now = &after.sessions[id];
        if was.online() && targeted(was.user_id.get()) {
            assert!(!now.online(), "{name}: session {id} of {} ended", was.user_id);
            assert_eq!(now.offline_reason, Some(OfflineReason::Forced), "{name}");
            ended.insert(was.connection_id.clone());
        } else {
            assert_eq!(now, was, "{name}: session {id} of user {} untouched", was.user_id);
        }
    }
    assert_eq!(after.sessions.len(), before.sessions.len(), "{name}: no session added");
    let mut revoked = 0;
    for (raw, was) in &before.tokens {
        let now = &after.tokens[raw];
        if targeted(was.user_id.get()) {
            assert!(now.revoked_at.is_some(), "{name}: token {raw} revoked");
            revoked += usize::from(was.revoked_at.is_none());
        } else {
            assert_eq!(now, was, "{name}: token {raw} untouched");
        }
    }
    assert_eq!(data["users"], ends.len(), "{name}: users");
    assert_eq!(data["sessions"], ended.len(), "{name}: sessions");
    assert_eq!(data["tokens"], revoked, "{name}: tokens");
    assert_eq!(data["connections"], ended.len(), "{name}: connections");
    let skipped: Vec<String> = skipped.iter().map(ToString::to_string).collect();
    assert_eq!(data["skippedIds"], json!(skipped), "{name}: skippedIds");
    let told: BTreeSet<String> = world.gateway.sent().into_iter().map(|(c, _)| c).collect();
    let closed: BTreeSet<String> = world.gateway.closed().into_iter().collect();
    assert_eq!(
        (told, closed),
        (ended.clone(), ended),
        "{name}: the ended connections told and closed"
    );
}

/// Whether an endpoint has a write path at all (list, search and detail have none).
fn can_write(call: Call) -> bool {
    matches!(call, Call::Http(Endpoint::Offline) | Call::WsConnect)
}

/// Walks the whole matrix on fresh stores of `kind`. Cells that change the store run each on a
/// world of their own, concurrently. The rest run one after another on one shared world they
/// must leave as it was: each cell of an endpoint that can write is checked against the store
/// right after it; the reads first, with one check after them all.
async fn the_matrix(kind: StoreKind) {
    let cells = cells();
    assert_eq!(cells.len(), GROUPS.len() * 9, "every line has every caller");
    eprintln!(
        "isolation matrix: {} lines x 9 callers = {} cells",
        GROUPS.len(),
        cells.len()
    );
    let (changing, keeping): (Vec<&Cell>, Vec<&Cell>) = cells.iter().partition(|cell| cell.changes_the_store());
    let (writers, readers): (Vec<&Cell>, Vec<&Cell>) = keeping.into_iter().partition(|cell| can_write(cell.call));

    let shared = World::seed(kind.fresh().await).await;
    let seeded = shared.snapshot().await;
    for cell in readers {
        run_cell(&shared, cell, &seeded, false).await;
    }
    assert_eq!(
        shared.snapshot().await,
        seeded,
        "list, search and detail change nothing"
    );
    for cell in writers {
        run_cell(&shared, cell, &seeded, true).await;
    }

    let own_worlds = changing.into_iter().map(|cell| async move {
        let world = World::seed(kind.fresh().await).await;
        let seeded = world.snapshot().await;
        run_cell(&world, cell, &seeded, true).await;
    });
    futures::future::join_all(own_worlds).await;
}

message_center_tests::both_stores!(each: the_matrix);
