//! Random listings against the model (issue 16), on both stores: one fixed, seeded data set (four
//! tenants, user ids shared between tenants, users under several names in several scripts, online
//! and ended sessions, null fields, many sessions in one second), and generated queries over every
//! filter key and operator (`userId` `IN`, `fullName` needles cut from the stored names in any
//! case, `online`, `onlineDate` ranges...), every order, pages and cursors, in every scope. Whatever
//! read the store plans (users, name index, key order, scan), its page is `select_page` over every
//! session in scope. The generator is checked to reach each of the four plans.
//!
//! The sessions reach the DynamoDB store three ways: imported in bulk, opened (online or already
//! ended), and opened online then ended through `close_connection`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;

use futures::StreamExt;
use message_center::domain::access::TenantScope;
use message_center::domain::{
    plan, select_page, ListingPlan, OfflineReason, OrderBy, Paging, Position, Session, SessionId, SessionPage,
    TenantId, Timestamp, UserId,
};
use message_center::http::query::{parse_session_query, ListMode};
use message_center::store::Store;
use message_center_tests::fixtures::{store_holding, url_encoded, Seeding, NOW_SECS};
use message_center_tests::StoreKind;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, TestRng, TestRunner};

/// Generated listings on a store of `kind`. A listing in every tenant (a platform caller) costs
/// the DynamoDB store some 36 queries (the counter shards, then each tenant), a second or more
/// on a busy machine's moto: the DynamoDB half runs fewer, to stay within a minute or so.
fn cases(kind: StoreKind) -> u32 {
    match kind {
        StoreKind::Memory => 400,
        StoreKind::DynamoDb => 80,
    }
}

/// The seeded data set's size.
const SESSIONS: usize = 320;

const TENANTS: [i64; 4] = [1, 2, 3, 4];

/// Names in several scripts and cases; some shorter than a gram, some sharing grams.
const NAMES: [&str; 25] = [
    "Élodie Durand",
    "élodie bernard",
    "ÉLODIE ROUX",
    "Grace Hopper",
    "grace kelly",
    "Ada Lovelace",
    "Alan Turing",
    "Jürgen Straße",
    "Jürgen Strasse",
    "Zoë Ångström",
    "李小龙",
    "王小明",
    "Ñandú Pérez",
    "O'Neil Smith",
    "Ab",
    "Al",
    "Bo Li",
    "Søren Kierkegaard",
    "Ólafur Arnalds",
    "Émile Zola",
    "Member 01 Alpha",
    "José María",
    "Анна Каренина",
    "ΟΔΥΣΣΕΑΣ",
    "ada",
];

const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0 Safari/537.36",
    "curl/8.5.0",
];

/// SplitMix64: the data set is the same on every run and every store.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A user of the data set: its tenant, id and the names it connects under.
struct Person {
    tenant: i64,
    user: i64,
    names: Vec<&'static str>,
}

fn people(rng: &mut Seeded) -> Vec<Person> {
    let mut people = Vec::new();
    for tenant in TENANTS {
        // Users 7 and 8 are users of every tenant but the last, under names of their own there.
        let shared = if tenant < 4 { vec![7, 8] } else { vec![] };
        let own = (1..=9).map(|k| tenant * 100 + k);
        for user in shared.into_iter().chain(own) {
            let count = 1 + rng.below(3) as usize;
            let names = (0..count).map(|_| *rng.pick(&NAMES)).collect();
            people.push(Person { tenant, user, names });
        }
    }
    people
}

/// The data set: each session of a random user under one of its names, started in the last three
/// days (one in ten in a second another session started in), at a random millisecond.
fn dataset() -> Vec<Session> {
    let mut rng = Seeded(0x16_1157_0001);
    let people = people(&mut rng);
    let window = 3 * 86_400;
    let mut seconds: Vec<i64> = Vec::new();
    (0..SESSIONS)
        .map(|i| {
            let person = rng.pick(&people);
            let name = *rng.pick(&person.names);
            let second = if !seconds.is_empty() && rng.chance(10) {
                *rng.pick(&seconds)
            } else {
                NOW_SECS - rng.below(window) as i64
            };
            seconds.push(second);
            let started = Timestamp::from_millis(second * 1000 + rng.below(1000) as i64);
            let random = (u128::from(rng.next()) << 16) | u128::from(rng.next() & 0xFFFF);
            let id: SessionId = ulid::Ulid::from_parts(started.millis() as u64, random)
                .to_string()
                .parse()
                .unwrap();
            let mut session = Session {
                id,
                tenant_id: TenantId(person.tenant),
                user_id: UserId(person.user),
                full_name: name.to_owned(),
                avatar: rng
                    .chance(30)
                    .then(|| format!("https://example.com/a/{}.png", person.user)),
                user_agent: (!rng.chance(20)).then(|| (*rng.pick(&AGENTS)).to_owned()),
                device_id: (!rng.chance(15))
                    .then(|| format!("{}-{}", rng.pick(&["web", "ios", "android"]), rng.below(40))),
                remote_address: (!rng.chance(10)).then(|| {
                    if rng.chance(50) {
                        format!("203.0.113.{}", rng.below(255))
                    } else {
                        format!("2001:db8::{:x}", rng.below(4096))
                    }
                }),
                connection_id: format!("conn-model-{i}"),
                online_date: started,
                offline_date: None,
                last_seen_date: started.plus_secs(rng.below(600) as i64),
                offline_reason: None,
            };
            if rng.chance(55) {
                let reason = *rng.pick(&[
                    OfflineReason::Disconnected,
                    OfflineReason::Forced,
                    OfflineReason::Stale,
                    OfflineReason::Expired,
                ]);
                let end = session.last_seen_date.plus_secs(rng.below(7200) as i64);
                session = session.ended(end, reason);
            }
            session
        })
        .collect()
}

/// A store of `kind` holding `data`: a third imported, a third opened as they are, a third opened
/// online and, for those that ended, ended through `close_connection`. What the store holds, as
/// the model's input (a session ended by the store is as the store ended it).
async fn seeded(kind: StoreKind, data: &[Session]) -> (Arc<dyn Store>, Vec<Session>) {
    let imported: Vec<Session> = data.iter().step_by(3).cloned().collect();
    let opened: Vec<Session> = data.iter().skip(1).step_by(3).cloned().collect();
    let lived: Vec<Session> = data.iter().skip(2).step_by(3).cloned().collect();
    let store = store_holding(kind, &[(Seeding::Imported, &imported), (Seeding::Opened, &opened)]).await;
    let mut held: Vec<Session> = imported.into_iter().chain(opened).collect();
    let ended = futures::stream::iter(lived.iter().map(|session| {
        let store = store.clone();
        async move {
            let mut live = session.clone();
            live.offline_date = None;
            live.offline_reason = None;
            let opened = store.open_session(&live, None).await.unwrap();
            assert_eq!(opened, message_center::store::Opened::Recorded, "{}", live.id);
            match (session.offline_date, session.offline_reason) {
                (Some(at), Some(reason)) => store
                    .close_connection(&live.connection_id, at, reason)
                    .await
                    .unwrap()
                    .expect("the session was online"),
                _ => live,
            }
        }
    }))
    .buffer_unordered(8)
    .collect::<Vec<Session>>()
    .await;
    held.extend(ended);
    held.sort_by_key(|s| s.id);
    (store, held)
}

/// What a case's values are drawn from: the data set's ids, users, names, fields and times.
struct Pools {
    ids: Vec<String>,
    users: Vec<i64>,
    names: Vec<String>,
    agents: Vec<String>,
    devices: Vec<String>,
    addresses: Vec<String>,
    times: Vec<Timestamp>,
}

impl Pools {
    fn of(data: &[Session]) -> Pools {
        let distinct = |values: Vec<String>| {
            let mut values = values;
            values.sort();
            values.dedup();
            values
        };
        let mut users: Vec<i64> = data.iter().map(|s| s.user_id.get()).collect();
        users.extend([9, 999, 123_456]);
        users.sort();
        users.dedup();
        Pools {
            ids: data.iter().map(|s| s.id.to_string()).collect(),
            users,
            names: distinct(data.iter().map(|s| s.full_name.clone()).collect()),
            agents: distinct(data.iter().filter_map(|s| s.user_agent.clone()).collect()),
            devices: distinct(data.iter().filter_map(|s| s.device_id.clone()).collect()),
            addresses: distinct(data.iter().filter_map(|s| s.remote_address.clone()).collect()),
            times: data
                .iter()
                .flat_map(|s| [Some(s.online_date), s.offline_date])
                .flatten()
                .collect(),
        }
    }
}

/// A piece of text cut from `texts`: the whole, a prefix, or any run of characters, as stored,
/// lower or upper case.
fn cut(texts: Vec<String>, prefix_only: bool) -> impl Strategy<Value = String> {
    (select(texts), any::<Index>(), any::<Index>(), 0..4u8).prop_map(move |(text, from, len, case)| {
        let chars: Vec<char> = text.chars().collect();
        let start = if prefix_only { 0 } else { from.index(chars.len()) };
        let take = 1 + len.index(chars.len() - start);
        let piece: String = chars[start..start + take].iter().collect();
        match case {
            0 => piece.to_lowercase(),
            1 => piece.to_uppercase(),
            _ => piece,
        }
    })
}

/// A time near the data: one it holds (so a bound falls on a session's second) or any second in
/// its window, written as the contract writes times, or as a bare date.
fn time(times: Vec<Timestamp>) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(times).prop_map(|t| t.to_string()),
        2 => (0..4 * 86_400i64).prop_map(|back| Timestamp::from_secs(NOW_SECS + 3600 - back).to_string()),
        1 => (0..4 * 86_400i64).prop_map(|back| Timestamp::from_secs(NOW_SECS - back).to_string()[..10].to_owned()),
    ]
}

/// One filter as `(key, op, values)`.
type Spec = (&'static str, &'static str, Vec<String>);

fn one(
    key: &'static str,
    ops: &'static [&'static str],
    value: impl Strategy<Value = String> + 'static,
) -> BoxedStrategy<Spec> {
    (select(ops), value)
        .prop_map(move |(op, value)| (key, op, vec![value]))
        .boxed()
}

fn many(
    key: &'static str,
    ops: &'static [&'static str],
    value: impl Strategy<Value = String> + 'static,
) -> BoxedStrategy<Spec> {
    (select(ops), proptest::collection::vec(value, 1..=10))
        .prop_map(move |(op, values)| (key, op, values))
        .boxed()
}

const ORDERINGS: &[&str] = &["GREATER_THAN", "GREATER_THAN_EQUAL", "LESS_THAN", "LESS_THAN_EQUAL"];
const EQUALITIES: &[&str] = &["EQUAL", "NOT_EQUAL"];
const MEMBERSHIPS: &[&str] = &["IN", "NOT_IN"];
const PATTERNS: &[&str] = &["MATCH", "MATCH_END", "NOT_MATCH", "NOT_MATCH_END"];
const NULLS: &[&str] = &["IS_NULL", "IS_NOT_NULL"];

/// A string field's filters: patterns and equality on pieces of its values, membership, nulls.
fn text_filter(key: &'static str, values: Vec<String>) -> BoxedStrategy<Spec> {
    prop_oneof![
        4 => one(key, PATTERNS, cut(values.clone(), false)),
        2 => one(key, &["MATCH_END"], cut(values.clone(), true)),
        2 => one(key, EQUALITIES, prop_oneof![select(values.clone()), cut(values.clone(), false)]),
        1 => many(key, MEMBERSHIPS, select(values)),
        1 => Just((key, "IS_NULL", vec![])).boxed(),
        1 => Just((key, "IS_NOT_NULL", vec![])).boxed(),
    ]
    .boxed()
}

fn filter(pools: &Pools) -> BoxedStrategy<Spec> {
    let users = || select(pools.users.clone()).prop_map(|u| u.to_string());
    let ids = || select(pools.ids.clone());
    let times = || time(pools.times.clone());
    let bools = || select(vec!["true".to_owned(), "false".to_owned()]);
    prop_oneof![
        // The users plan: userId EQUAL / IN, often.
        4 => one("userId", &["EQUAL"], users()),
        4 => many("userId", &["IN"], users()),
        2 => prop_oneof![
            one("userId", &["NOT_EQUAL", "GREATER_THAN", "LESS_THAN_EQUAL"], users()),
            many("userId", &["NOT_IN"], users()),
            Just(("userId", "IS_NOT_NULL", vec![])).boxed(),
        ],
        // The names plan: pieces of stored names, often.
        12 => text_filter("fullName", pools.names.clone()),
        2 => text_filter("userAgent", pools.agents.clone()),
        2 => text_filter("deviceId", pools.devices.clone()),
        2 => text_filter("remoteAddress", pools.addresses.clone()),
        4 => one("online", EQUALITIES, bools()),
        1 => many("online", MEMBERSHIPS, bools()),
        5 => one("onlineDate", ORDERINGS, times()),
        1 => one("onlineDate", EQUALITIES, times()),
        2 => prop_oneof![
            one("offlineDate", ORDERINGS, times()),
            one("offlineDate", EQUALITIES, times()),
            one("offlineDate", NULLS, Just(String::new())).prop_map(|(k, op, _)| (k, op, vec![])).boxed(),
        ],
        2 => prop_oneof![
            one("id", ORDERINGS, ids()),
            one("id", EQUALITIES, ids()),
            many("id", MEMBERSHIPS, ids()),
        ],
    ]
    .boxed()
}

/// A generated listing: where, in which mode, the query string, and where a cursor starts (a
/// fraction of the full listing), if any.
#[derive(Debug, Clone)]
struct Case {
    scope: TenantScope,
    mode: ListMode,
    raw: String,
    cursor: Option<Index>,
}

fn case(pools: &Pools) -> impl Strategy<Value = Case> {
    let scope = select(vec![
        TenantScope::Tenant(TenantId(1)),
        TenantScope::Tenant(TenantId(2)),
        TenantScope::Tenant(TenantId(3)),
        TenantScope::Tenant(TenantId(4)),
        TenantScope::Tenant(TenantId(99)),
        TenantScope::All,
    ]);
    let mode = select(vec![ListMode::List, ListMode::Search]);
    let filters = proptest::collection::vec(filter(pools), 0..=3);
    // Field parameters: each an EQUAL (a MATCH on search, for strings).
    let user = proptest::option::weighted(0.1, select(pools.users.clone()));
    let name = proptest::option::weighted(0.25, cut(pools.names.clone(), false));
    let online = proptest::option::weighted(0.2, any::<bool>());
    let order = (select(OrderBy::ALL.to_vec()), any::<bool>());
    let page = (
        select(vec![1u32, 2, 3, 5, 10, 25, 100, 2000]),
        prop_oneof![6 => 1..=4u32, 2 => 5..=12u32, 1 => Just(45u32)],
    );
    let cursor = proptest::option::weighted(0.25, any::<Index>());
    (scope, mode, filters, (user, name, online), order, page, cursor).prop_map(
        |(scope, mode, filters, (user, name, online), (by, ascending), (size, page_no), cursor)| {
            let mut parts: Vec<String> = Vec::new();
            for (i, (key, op, values)) in filters.iter().enumerate() {
                parts.push(format!("filters[{i}].key={key}&filters[{i}].op={op}"));
                parts.extend(values.iter().map(|v| format!("filters[{i}].value={}", url_encoded(v))));
            }
            if let Some(user) = user {
                parts.push(format!("userId={user}"));
            }
            if let Some(name) = name {
                parts.push(format!("fullName={}", url_encoded(&name)));
            }
            if let Some(online) = online {
                parts.push(format!("online={online}"));
            }
            parts.push(format!("orderBy={}", by.name()));
            parts.push(format!("orderSort={}", if ascending { "ASC" } else { "DESC" }));
            parts.push(format!("pageSize={size}"));
            if cursor.is_none() {
                parts.push(format!("pageNo={page_no}"));
            }
            Case {
                scope,
                mode,
                raw: parts.join("&"),
                cursor,
            }
        },
    )
}

fn plan_kind(plan: &ListingPlan) -> &'static str {
    match plan {
        ListingPlan::Users(_) => "users",
        ListingPlan::Names { .. } => "names",
        ListingPlan::KeyOrder(_) => "key order",
        ListingPlan::Scan(_) => "scan",
    }
}

/// What the listings of one plan cost: how many, how long the store took, what it asked of
/// DynamoDB (zeros on the memory store).
#[derive(Debug, Default)]
#[allow(dead_code)] // Read by the Debug print alone.
struct Tally {
    listings: u32,
    took: std::time::Duration,
    calls: u64,
    items_read: u64,
}

fn ids(page: &SessionPage) -> Vec<String> {
    page.sessions.iter().map(|s| s.id.to_string()).collect()
}

/// [`cases`] generated listings on a store of `kind` holding the data set, each against the model.
pub async fn random_listings_match_the_model(kind: StoreKind) {
    let seeding = std::time::Instant::now();
    let (store, data) = seeded(kind, &dataset()).await;
    assert_eq!(data.len(), SESSIONS);
    eprintln!(
        "listing model on {kind:?}: {SESSIONS} sessions seeded in {:.1?}",
        seeding.elapsed()
    );
    let pools = Pools::of(&data);
    let strategy = case(&pools);
    let cases = cases(kind);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config.clone(), TestRng::deterministic_rng(config.rng_algorithm));
    let plans: Mutex<BTreeMap<&'static str, Tally>> = Mutex::default();
    let started = std::time::Instant::now();
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |case| {
            let mut query = parse_session_query(&case.raw, case.mode)
                .map_err(|e| TestCaseError::fail(format!("{:?} does not parse: {e:?}", case.raw)))?;
            let in_scope = || data.iter().filter(|s| case.scope.contains(s.tenant_id)).cloned();
            if let Some(cursor) = case.cursor {
                let everything = select_page(
                    in_scope(),
                    &message_center::domain::SessionQuery {
                        paging: Paging {
                            page_no: 1,
                            page_size: Paging::MAX_PAGE_SIZE,
                        },
                        ..query.clone()
                    },
                );
                if !everything.sessions.is_empty() {
                    let at = &everything.sessions[cursor.index(everything.sessions.len())];
                    query.after = Some(Position::of(at, query.order_by));
                }
            }
            let expected = select_page(in_scope(), &query);
            let usage = store.usage();
            let asked = std::time::Instant::now();
            let got = tokio::runtime::Handle::current().block_on(store.list_sessions(case.scope, &query));
            let used = store.usage() - usage;
            let mut plans = plans.lock().unwrap();
            let tally = plans.entry(plan_kind(&plan(&query))).or_default();
            tally.listings += 1;
            tally.took += asked.elapsed();
            tally.calls += used.calls;
            tally.items_read += used.items_read;
            drop(plans);
            let got = got.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            let what = format!(
                "{:?} {:?} in {:?}, cursor {:?}, plan {:?}",
                case.mode,
                case.raw,
                case.scope,
                query.after,
                plan(&query)
            );
            prop_assert_eq!(got.total, expected.total, "total of {}", what);
            prop_assert_eq!(ids(&got), ids(&expected), "page of {}", what);
            prop_assert_eq!(&got.sessions, &expected.sessions, "sessions of {}", what);
            prop_assert_eq!(got.more, expected.more, "more after {}", what);
            Ok(())
        })
    });
    let plans = plans.into_inner().unwrap();
    eprintln!(
        "listing model on {kind:?}: {cases} listings in {:.1?}, by plan (shrinking included): {plans:#?}",
        started.elapsed()
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
    for kind in ["users", "names", "key order", "scan"] {
        let count = plans.get(kind).map_or(0, |tally| tally.listings);
        assert!(
            count >= cases / 20,
            "the generator reaches the {kind} plan often enough: {plans:?}"
        );
    }
}

message_center_tests::both_stores!(each: #[multi_thread] random_listings_match_the_model);
