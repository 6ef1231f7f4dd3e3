//! The audit trail of forced offlines, on both stores, through the HTTP handler as Lambda runs it:
//! two tenants' admins and a platform operator force users offline; each sees exactly the records
//! the contract allows (a tenant's own; a platform caller every tenant's, narrowed by `tenantId`),
//! paged by `pageNo` and by page token, in either order, filtered on `operatorUserId`,
//! `targetType` and `datetime`; the same request delivered twice records once; the cleanup deletes
//! records past `AUDIT_RETENTION_DAYS` and keeps the rest.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::{Body, Request, Response};
use message_center::domain::access::{Permission, TenantScope};
use message_center::domain::audit::{AuditId, AuditRecord, TargetType, TimeRange};
use message_center::domain::{ReadBudget, TenantId, Timestamp, UserId};
use message_center::http::{handle, Endpoint, BASE_PATH};
use message_center::service::cleanup::CleanupSettings;
use message_center::service::App;
use message_center::store::Store;
use message_center_tests::fixtures::{at, online, token};
use message_center_tests::gateway::RecordingGateway;
use message_center_tests::run_cleanup;
use serde_json::{json, Value};

const DAY: i64 = 86_400;
const ADMIN_A: &str = "audit-admin-tenant-1";
const ADMIN_B: &str = "audit-admin-tenant-2";
const PLATFORM: &str = "audit-platform-operator";
const NO_PERMISSION: &str = "audit-lister-tenant-1";
/// Tenant 2's other admin, whose token is issued after admin B logged the whole tenant out (its
/// own token with it).
const ADMIN_B_LATER: &str = "audit-admin-tenant-2-later";

/// An API Gateway HTTP API (payload 2.0) event, deserialized as lambda_http does, with API
/// Gateway's request id `request_id`, from 198.51.100.9.
fn event(method: &str, route: &str, raw_query: &str, bearer: &str, body: Option<&str>, request_id: &str) -> Request {
    let path = format!("{BASE_PATH}{route}");
    let route_key = format!("{method} {path}");
    let event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {
            "authorization": format!("Bearer {bearer}"),
            "content-type": "application/json",
            "user-agent": "audit-suite/1.0",
            "x-forwarded-for": "203.0.113.250",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.9",
                "userAgent": "audit-suite/1.0"
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": "28/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795860000000u64
        },
        "body": body,
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event")
}

async fn answer(app: &App, endpoint: Endpoint, request: Request) -> (u16, Value) {
    let response: Response<Body> = handle(app, endpoint, request).await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).expect("a JSON body");
    (response.status().as_u16(), body)
}

async fn force(app: &App, bearer: &str, body: Value, request_id: &str) -> Value {
    // Records sort on their time to the millisecond, then on their (partly random) id: one
    // millisecond or more apart, the scenario's order is the records' order.
    tokio::time::sleep(Duration::from_millis(3)).await;
    let request = event("POST", "/off", "", bearer, Some(&body.to_string()), request_id);
    let (status, body) = answer(app, Endpoint::Offline, request).await;
    assert_eq!(status, 200, "{bearer} {request_id}: {body}");
    body
}

async fn audit(app: &App, bearer: &str, raw_query: &str) -> (u16, Value) {
    let request_id = ulid::Ulid::new().to_string();
    answer(
        app,
        Endpoint::Audit,
        event("GET", "/audit", raw_query, bearer, None, &request_id),
    )
    .await
}

/// `data` of a successful audit call, with `ext.nextPageToken`.
async fn page(app: &App, bearer: &str, raw_query: &str) -> (u64, Vec<Value>, Option<String>) {
    let (status, body) = audit(app, bearer, raw_query).await;
    assert_eq!(status, 200, "{raw_query}: {body}");
    assert_eq!(body["code"], "S");
    let total = body["data"]["total"]
        .as_str()
        .expect("total is a string")
        .parse()
        .unwrap();
    let list = body["data"]["list"].as_array().expect("data.list").clone();
    let next = body["ext"]["nextPageToken"].as_str().map(str::to_owned);
    (total, list, next)
}

fn request_ids(list: &[Value]) -> Vec<&str> {
    list.iter().map(|r| r["requestId"].as_str().unwrap()).collect()
}

async fn app_over(store: Arc<dyn Store>) -> App {
    let offline = [Permission::Offline, Permission::List];
    for record in [
        token(ADMIN_A, 1, 1900, &offline, false),
        token(ADMIN_B, 2, 2900, &offline, false),
        token(PLATFORM, 9, 9900, &offline, true),
        token(NO_PERMISSION, 1, 1901, &[Permission::List], false),
        token("audit-user-1001", 1, 1001, &[], false),
        token("audit-user-1002", 1, 1002, &[], false),
        token("audit-user-2001", 2, 2001, &[], false),
        token("audit-user-2002", 2, 2002, &[], false),
    ] {
        store.put_token(&record).await.unwrap();
    }
    for (tenant, user) in [(1, 1001), (1, 1002), (2, 2001), (2, 2002)] {
        store
            .open_session(&online(tenant, user, &format!("User {user}"), Timestamp::now()), None)
            .await
            .unwrap();
    }
    App {
        store,
        gateway: Arc::new(RecordingGateway::default()),
        config: Default::default(),
    }
}

/// The forced offlines of the scenario, in order: admin A twice (one delivered twice), admin B
/// once (a whole tenant), the platform operator once, admin A once more.
async fn forced_offlines(app: &App) {
    let users = |ids: Value| json!({"broadcast": true, "receiveObjectType": "USER", "receiveObjectIds": ids});
    let first = force(app, ADMIN_A, users(json!(["1001", 2001, 1001])), "req-a1").await;
    assert_eq!(first["data"]["skippedIds"], json!(["2001"]));
    force(app, ADMIN_A, users(json!([1002])), "req-a2").await;
    force(
        app,
        ADMIN_B,
        json!({"broadcast": false, "receiveObjectType": "TENANT", "receiveObjectIds": [2]}),
        "req-b1",
    )
    .await;
    force(app, PLATFORM, users(json!([1001, 2001])), "req-p1").await;
    // The same request delivered again (a Lambda retry of one API Gateway request): it answers,
    // does nothing more, and records nothing more.
    let again = force(app, ADMIN_A, users(json!(["1001", 2001, 1001])), "req-a1").await;
    assert_eq!(again["data"]["tokens"], 0);
    // A new request for the same users records again, with what it did (nothing left to do).
    force(app, ADMIN_A, users(json!([1001])), "req-a3").await;
    let later = token(ADMIN_B_LATER, 2, 2901, &[Permission::Offline], false);
    app.store.put_token(&later).await.unwrap();
}

async fn each_caller_sees_what_the_contract_allows(store: Arc<dyn Store>) {
    let app = app_over(store).await;
    forced_offlines(&app).await;

    let (total, list, next) = page(&app, ADMIN_A, "").await;
    assert_eq!(total, 3, "admin A: its own three requests, req-a1 once");
    assert_eq!(request_ids(&list), ["req-a3", "req-a2", "req-a1"], "newest first");
    assert_eq!(next, None);
    assert!(list
        .iter()
        .all(|r| r["tenantId"] == "1" && r["operatorUserId"] == "1900"));
    let first = &list[2];
    assert_eq!(first["targetType"], "USER");
    assert_eq!(first["targetIds"], json!(["1001", "2001"]), "as given, without repeats");
    assert_eq!(first["skippedIds"], json!(["2001"]));
    assert_eq!(
        (&first["users"], &first["sessions"], &first["tokens"]),
        (&json!(1), &json!(1), &json!(1))
    );
    assert_eq!(
        first["connections"], 0,
        "the recording gateway knows no live connection"
    );
    assert_eq!(first["broadcast"], true);
    assert_eq!(first["operatorFullName"], "User 1900");
    assert_eq!(first["remoteAddress"], "198.51.100.9", "API Gateway's source IP first");
    assert_eq!(first["userAgent"], "audit-suite/1.0");
    assert!(
        first["id"].as_str().is_some_and(|id| id.parse::<i64>().is_ok()),
        "an int64 as a string"
    );
    assert!(Timestamp::parse(first["datetime"].as_str().unwrap()).is_ok());
    assert_eq!(list[0]["tokens"], 0, "req-a3 found nothing left to revoke");

    let (status, _) = audit(&app, ADMIN_B, "").await;
    assert_eq!(status, 401, "admin B forced its own tenant offline, itself included");
    let (total, list, _) = page(&app, ADMIN_B_LATER, "").await;
    assert_eq!((total, request_ids(&list)), (1, vec!["req-b1"]));
    assert_eq!(list[0]["targetType"], "TENANT");
    assert_eq!(list[0]["targetIds"], json!(["2"]));
    assert_eq!(list[0]["broadcast"], false);
    assert_eq!(list[0]["users"], 3, "2001, 2002 and the admin itself");

    let (total, list, _) = page(&app, PLATFORM, "pageSize=100").await;
    assert_eq!(total, 5, "the platform sees every tenant's records");
    assert_eq!(request_ids(&list), ["req-a3", "req-p1", "req-b1", "req-a2", "req-a1"]);
    for (tenant, expected) in [(1, 3), (2, 1), (9, 1), (4, 0)] {
        let (total, list, _) = page(&app, PLATFORM, &format!("tenantId={tenant}")).await;
        assert_eq!(total, expected, "tenant {tenant}");
        assert!(list
            .iter()
            .all(|r| r["tenantId"].as_str() == Some(tenant.to_string().as_str())));
    }
    let (_, list, _) = page(&app, PLATFORM, "tenantId=9").await;
    assert_eq!(
        list[0]["skippedIds"],
        json!([]),
        "the platform reaches both tenants' users"
    );
    assert_eq!(list[0]["users"], 2);

    // Own tenant named explicitly: fine; another tenant: 403 on tenantId; no permission: 403.
    assert_eq!(page(&app, ADMIN_A, "tenantId=1").await.0, 3);
    let (status, body) = audit(&app, ADMIN_A, "tenantId=2").await;
    assert_eq!(
        (status, body["ext"]["field"].as_str()),
        (403, Some("tenantId")),
        "{body}"
    );
    let (status, body) = audit(&app, NO_PERMISSION, "").await;
    assert_eq!(status, 403, "{body}");
    assert!(body["msg"].as_str().unwrap().contains("message:center:offline"));
    let (status, _) = audit(&app, "audit-unknown-token", "").await;
    assert_eq!(status, 401);
}

async fn pages_orders_and_filters(store: Arc<dyn Store>) {
    let app = app_over(store).await;
    forced_offlines(&app).await;

    // pageNo, both orders.
    let (total, list, next) = page(&app, PLATFORM, "pageSize=2").await;
    assert_eq!((total, request_ids(&list)), (5, vec!["req-a3", "req-p1"]));
    let second = page(&app, PLATFORM, "pageSize=2&pageNo=2").await;
    assert_eq!(request_ids(&second.1), ["req-b1", "req-a2"]);
    let (_, last, none) = page(&app, PLATFORM, "pageSize=2&pageNo=3").await;
    assert_eq!((request_ids(&last), none), (vec!["req-a1"], None));
    let (_, beyond, _) = page(&app, PLATFORM, "pageSize=2&pageNo=4").await;
    assert!(beyond.is_empty());
    let (_, ascending, _) = page(&app, PLATFORM, "pageSize=3&orderSort=asc").await;
    assert_eq!(request_ids(&ascending), ["req-a1", "req-a2", "req-b1"]);

    // The page token walks the same pages, in either order; the total stays.
    for (order, expected) in [
        ("", ["req-a3", "req-p1", "req-b1", "req-a2", "req-a1"]),
        ("&orderSort=ASC", ["req-a1", "req-a2", "req-b1", "req-p1", "req-a3"]),
    ] {
        let (_, first, mut next_token) = page(&app, PLATFORM, &format!("pageSize=2{order}")).await;
        let mut seen: Vec<String> = request_ids(&first).into_iter().map(str::to_owned).collect();
        while let Some(token) = next_token {
            let (total, list, token_after) =
                page(&app, PLATFORM, &format!("pageSize=2{order}&pageToken={token}")).await;
            assert_eq!(total, 5);
            seen.extend(request_ids(&list).into_iter().map(str::to_owned));
            next_token = token_after;
        }
        assert_eq!(seen, expected, "order `{order}`");
    }
    // A token belongs to its listing: another order, another tenant, or a changed token is a 400.
    let token = next.expect("a next page");
    for raw in [
        format!("pageSize=2&orderSort=ASC&pageToken={token}"),
        format!("pageSize=2&tenantId=1&pageToken={token}"),
        format!("pageSize=2&pageToken={token}x"),
    ] {
        let (status, body) = audit(&app, PLATFORM, &raw).await;
        assert_eq!(
            (status, body["ext"]["field"].as_str()),
            (400, Some("pageToken")),
            "{raw}"
        );
    }
    let (status, _) = audit(&app, ADMIN_A, &format!("pageToken={token}")).await;
    assert_eq!(status, 400, "a platform token is not admin A's");

    // Filters: operatorUserId EQUAL and IN, targetType, and all of them together.
    let filter = |i: usize, key: &str, op: &str, value: &str| {
        format!("filters%5B{i}%5D.key={key}&filters%5B{i}%5D.op={op}&filters%5B{i}%5D.value={value}")
    };
    let (total, list, _) = page(&app, PLATFORM, &filter(0, "operatorUserId", "EQUAL", "1900")).await;
    assert_eq!((total, request_ids(&list)), (3, vec!["req-a3", "req-a2", "req-a1"]));
    let (total, _, _) = page(&app, PLATFORM, &filter(0, "operatorUserId", "IN", "1900,9900")).await;
    assert_eq!(total, 4);
    let (total, list, _) = page(&app, PLATFORM, &filter(0, "targetType", "EQUAL", "tenant")).await;
    assert_eq!((total, request_ids(&list)), (1, vec!["req-b1"]));
    let both = format!(
        "{}&{}",
        filter(0, "operatorUserId", "IN", "2900,9900"),
        filter(1, "targetType", "IN", "USER")
    );
    let (total, list, _) = page(&app, PLATFORM, &both).await;
    assert_eq!((total, request_ids(&list)), (1, vec!["req-p1"]));
    let (total, _, _) = page(&app, ADMIN_A, &filter(0, "operatorUserId", "EQUAL", "9900")).await;
    assert_eq!(
        total, 0,
        "admin A does not see the platform's record, even by its operator"
    );

    // Bad input: a 400 naming the field.
    for (raw, field) in [
        (filter(0, "userId", "EQUAL", "1"), "filters[0]"),
        (filter(0, "operatorUserId", "GREATER_THAN", "1"), "filters[0]"),
        (filter(2, "datetime", "LESS_THAN", "soon"), "filters[2]"),
        (filter(0, "targetType", "EQUAL", "GROUP"), "filters[0]"),
        ("pageSize=0".to_owned(), "pageSize"),
        ("pageNo=0".to_owned(), "pageNo"),
        ("orderSort=sideways".to_owned(), "orderSort"),
        ("online=true".to_owned(), "online"),
        ("tenantId=abc".to_owned(), "tenantId"),
    ] {
        let (status, body) = audit(&app, PLATFORM, &raw).await;
        assert_eq!(status, 400, "{raw}: {body}");
        assert_eq!(body["code"], "E0");
        assert_eq!(body["ext"]["field"], field, "{raw}");
    }
}

/// A record of `tenant` at `datetime`, as the forced offline writes one.
fn record(tenant: i64, operator: i64, request_id: &str, datetime: Timestamp) -> AuditRecord {
    AuditRecord {
        id: AuditId::new_at(datetime),
        tenant_id: TenantId(tenant),
        operator_user_id: UserId(operator),
        operator_full_name: format!("Operator {operator}"),
        target_type: TargetType::User,
        target_ids: vec![1, 2],
        broadcast: false,
        users: 2,
        sessions: 3,
        tokens: 2,
        connections: 1,
        skipped_ids: vec!["7".into()],
        request_id: request_id.to_owned(),
        remote_address: Some("192.0.2.1".into()),
        user_agent: None,
        datetime,
    }
}

async fn datetime_filters_compare_at_the_second(store: Arc<dyn Store>) {
    let app = app_over(store.clone()).await;
    let expires = at(400 * DAY);
    for (n, when) in [at(-3 * DAY), at(-2 * DAY), at(-2 * DAY + 1), at(-DAY)]
        .into_iter()
        .enumerate()
    {
        assert!(store
            .record_audit(&record(5, 5000, &format!("old-{n}"), when), expires)
            .await
            .unwrap());
    }
    let filter = |i: usize, op: &str, value: &str| {
        format!("filters%5B{i}%5D.key=datetime&filters%5B{i}%5D.op={op}&filters%5B{i}%5D.value={value}")
    };
    let time = |t: Timestamp| t.to_string().replace(' ', "%20");
    for (query, expected) in [
        (
            filter(0, "GREATER_THAN_EQUAL", &time(at(-2 * DAY))),
            vec!["old-3", "old-2", "old-1"],
        ),
        (filter(0, "GREATER_THAN", &time(at(-2 * DAY))), vec!["old-3", "old-2"]),
        (filter(0, "LESS_THAN", &time(at(-2 * DAY))), vec!["old-0"]),
        (
            filter(0, "LESS_THAN_EQUAL", &time(at(-2 * DAY))),
            vec!["old-1", "old-0"],
        ),
        (filter(0, "EQUAL", &time(at(-DAY))), vec!["old-3"]),
        (
            format!(
                "{}&orderSort=ASC",
                filter(0, "IN", &format!("{},{}", time(at(-DAY)), time(at(-3 * DAY))))
            ),
            vec!["old-0", "old-3"],
        ),
        (
            format!(
                "{}&{}",
                filter(0, "GREATER_THAN", &time(at(-3 * DAY))),
                filter(1, "LESS_THAN", &time(at(-DAY)))
            ),
            vec!["old-2", "old-1"],
        ),
        // RFC 3339 with an offset and a bare date.
        (
            filter(0, "LESS_THAN", "2026-11-26T12:00:01%2B02:00"),
            vec!["old-1", "old-0"],
        ),
        (filter(0, "GREATER_THAN_EQUAL", "2026-11-27"), vec!["old-3"]),
    ] {
        let (total, list, _) = page(&app, PLATFORM, &format!("tenantId=5&{query}")).await;
        assert_eq!(request_ids(&list), expected, "{query}");
        assert_eq!(total, expected.len() as u64, "{query}");
    }
    let (_, list, _) = page(&app, PLATFORM, "tenantId=5&pageSize=1").await;
    assert_eq!(list[0]["datetime"], at(-DAY).to_string());
    assert_eq!(list[0]["userAgent"], Value::Null);
    assert_eq!(list[0]["targetIds"], json!(["1", "2"]));
}

async fn a_request_is_recorded_once_per_tenant(store: Arc<dyn Store>) {
    let expires = at(400 * DAY);
    assert!(store
        .record_audit(&record(1, 10, "same", at(0)), expires)
        .await
        .unwrap());
    // Another delivery of the same request (another id, another millisecond): nothing written.
    assert!(!store
        .record_audit(&record(1, 10, "same", at(1)), expires)
        .await
        .unwrap());
    assert!(!store
        .record_audit(&record(1, 10, "same", at(0)), expires)
        .await
        .unwrap());
    // The same request id in another tenant is another request.
    assert!(store
        .record_audit(&record(2, 20, "same", at(0)), expires)
        .await
        .unwrap());
    let all = store
        .audit_records(TenantScope::All, TimeRange::default(), ReadBudget::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let one = store
        .audit_records(
            TenantScope::Tenant(TenantId(1)),
            TimeRange::default(),
            ReadBudget::default(),
        )
        .await
        .unwrap();
    assert_eq!(one, vec![record_with_id(record(1, 10, "same", at(0)), one[0].id)]);
    // Past the read budget: refused, not cut.
    let refused = store
        .audit_records(TenantScope::All, TimeRange::default(), ReadBudget(1))
        .await;
    assert!(
        matches!(refused, Err(message_center::StoreError::ReadBudget(1))),
        "{refused:?}"
    );
}

fn record_with_id(mut record: AuditRecord, id: AuditId) -> AuditRecord {
    record.id = id;
    record
}

async fn the_cleanup_deletes_records_past_retention(store: Arc<dyn Store>) {
    let expires = at(400 * DAY);
    let old: Vec<AuditRecord> = (0..25)
        .map(|n| record(1 + n % 3, 10, &format!("old-{n}"), at(-400 * DAY + n)))
        .collect();
    for record in &old {
        assert!(store.record_audit(record, expires).await.unwrap());
    }
    let kept = [
        record(1, 10, "recent", at(-10 * DAY)),
        record(2, 10, "just-inside", at(-365 * DAY + 60)),
    ];
    for record in &kept {
        assert!(store.record_audit(record, expires).await.unwrap());
    }
    let app = App::new(store.clone(), Arc::new(RecordingGateway::default()));
    assert_eq!(app.config.audit_retention_days, 365, "the contract's default");
    let settings = CleanupSettings {
        batch: 10,
        ..CleanupSettings::default()
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    let report = run_cleanup(&app, &settings, at(0), deadline).await.unwrap();
    assert_eq!(report.audit_deleted, 25, "in batches of 10: {report:?}");
    let left = store
        .audit_records(TenantScope::All, TimeRange::default(), ReadBudget::default())
        .await
        .unwrap();
    let mut left: Vec<&str> = left.iter().map(|r| r.request_id.as_str()).collect();
    left.sort();
    assert_eq!(left, ["just-inside", "recent"]);
    let again = run_cleanup(&app, &settings, at(0), deadline).await.unwrap();
    assert_eq!(again.audit_deleted, 0, "nothing twice");
    // A shorter retention (AUDIT_RETENTION_DAYS=7) reaches the recent ones too.
    let mut short = app.clone();
    short.config.audit_retention_days = 7;
    let report = run_cleanup(&short, &settings, at(0), deadline).await.unwrap();
    assert_eq!(report.audit_deleted, 2);
    // A deleted record's request is forgotten with it.
    assert!(store.record_audit(&kept[0], expires).await.unwrap());
}

/// What a record write and an audit page cost on DynamoDB (zeros on the memory store).
async fn what_writes_and_pages_cost(store: Arc<dyn Store>) {
    let expires = at(400 * DAY);
    let before = store.usage();
    assert!(store
        .record_audit(&record(1, 10, "cost-1", at(0)), expires)
        .await
        .unwrap());
    let write = store.usage() - before;
    let before = store.usage();
    assert!(!store
        .record_audit(&record(1, 10, "cost-1", at(1)), expires)
        .await
        .unwrap());
    let repeat = store.usage() - before;
    for n in 0..30 {
        store
            .record_audit(&record(1 + n % 2, 10, &format!("more-{n}"), at(n)), expires)
            .await
            .unwrap();
    }
    let before = store.usage();
    let all = store
        .audit_records(TenantScope::All, TimeRange::default(), ReadBudget::default())
        .await
        .unwrap();
    let read_all = store.usage() - before;
    let before = store.usage();
    let one = store
        .audit_records(
            TenantScope::Tenant(TenantId(2)),
            TimeRange::default(),
            ReadBudget::default(),
        )
        .await
        .unwrap();
    let read_one = store.usage() - before;
    eprintln!(
        "audit costs: write {write:?}; repeated write {repeat:?}; all tenants ({} records) {read_all:?}; one tenant ({} records) {read_one:?}",
        all.len(),
        one.len()
    );
    assert_eq!((all.len(), one.len()), (31, 15));
    if store.usage().calls > 0 {
        assert_eq!(
            (write.calls, write.items_written),
            (1, 2),
            "one transaction: record and marker"
        );
        assert_eq!(repeat.calls, 1, "refused by the marker's condition, not retried");
        assert_eq!(
            (read_all.calls, read_all.items_read),
            (1, 31),
            "one query page of the index"
        );
        assert_eq!(
            (read_one.calls, read_one.items_read),
            (1, 15),
            "the tenant's partition only"
        );
    }
}

message_center_tests::both_stores!(
    each_caller_sees_what_the_contract_allows,
    pages_orders_and_filters,
    datetime_filters_compare_at_the_second,
    a_request_is_recorded_once_per_tenant,
    the_cleanup_deletes_records_past_retention,
    what_writes_and_pages_cost,
);
