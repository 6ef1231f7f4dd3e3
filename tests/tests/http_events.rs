//! Every `events/*.json` fixture fed through the handler Lambda runs, as lambda_http deserializes
//! it, on both stores seeded with the demo data; each response checked for its status and envelope.
//! A fixture without a row here fails the suite, so fixtures and tests cannot drift apart.

use std::collections::BTreeSet;
use std::sync::Arc;

use lambda_http::{Body, Response};
use local_api::demo;
use message_center::domain::{Session, Timestamp};
use message_center::http::console::{self, ConsoleSettings, CONTENT_SECURITY_POLICY};
use message_center::http::handle;
use message_center::lambda::runtime::console_response;
use message_center::service::App;
use message_center::store::Store;
use message_center_tests::contract::code_and_key;
use message_center_tests::events::{endpoint_of, fixture_json, fixtures_of, http_fixtures, http_request};
use message_center_tests::gateway::RecordingGateway;
use message_center_tests::StoreKind;
use serde_json::Value;

struct Seeded {
    app: App,
    gateway: Arc<RecordingGateway>,
    sessions: Vec<Session>,
}

async fn seeded(store: Arc<dyn Store>) -> Seeded {
    let now = Timestamp::now();
    demo::seed(store.as_ref(), now).await.unwrap();
    let sessions = demo::sessions(now);
    let live = sessions.iter().filter(|s| s.online()).map(|s| s.connection_id.clone());
    let gateway = Arc::new(RecordingGateway::with_live(live));
    Seeded {
        app: App {
            store,
            gateway: gateway.clone(),
            config: Default::default(),
        },
        gateway,
        sessions,
    }
}

async fn invoke(app: &App, fixture: &str) -> (Response<Body>, Value) {
    let response = handle(app, endpoint_of(fixture), http_request(fixture)).await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).expect("the body is JSON");
    (response, body)
}

/// The envelope every response wears, and the status, code and `eKey` of this one.
fn assert_envelope(fixture: &str, response: &Response<Body>, body: &Value, status: u16) {
    assert_eq!(response.status(), status, "{fixture}: {body}");
    assert_eq!(response.headers()["content-type"], "application/json", "{fixture}");
    let (code, key) = code_and_key(status).unwrap_or_else(|| panic!("{fixture}: unexpected status {status}"));
    assert_eq!(body["code"], code, "{fixture}");
    assert!(body["msg"].as_str().is_some_and(|m| !m.is_empty()), "{fixture}: msg");
    assert!(
        Timestamp::parse(body["datetime"].as_str().unwrap_or_default()).is_ok(),
        "{fixture}: datetime"
    );
    assert_eq!(
        body["ext"]["requestId"], "JKJaXmPLvHcESHA=",
        "{fixture}: API Gateway's request id"
    );
    assert_eq!(body["ext"].get("eKey").and_then(Value::as_str), key, "{fixture}");
    if status == 401 {
        assert_eq!(response.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
    }
}

fn list_of(body: &Value) -> &Vec<Value> {
    body["data"]["list"].as_array().expect("data.list")
}

fn total_of(body: &Value) -> u64 {
    body["data"]["total"]
        .as_str()
        .expect("total is a string")
        .parse()
        .unwrap()
}

async fn check(seeded: &Seeded, fixture: &str) {
    let (response, body) = invoke(&seeded.app, fixture).await;
    let tenant = |t: i64| seeded.sessions.iter().filter(move |s| s.tenant_id.get() == t);
    match fixture {
        "online-list.json" => {
            assert_envelope(fixture, &response, &body, 200);
            assert_eq!(total_of(&body), tenant(1).filter(|s| s.online()).count() as u64);
            assert_eq!(list_of(&body).len(), 5);
            for record in list_of(&body) {
                assert_eq!(record["online"], true);
                assert!(record.get("tenantId").is_none(), "BASIC has no tenantId");
                assert!(record["userId"].is_string() && record["id"].is_string());
            }
        }
        "online-list-filters.json" => {
            assert_envelope(fixture, &response, &body, 200);
            let records = list_of(&body);
            let expected = tenant(1)
                .filter(|s| [1001, 1002, 1005].contains(&s.user_id.get()))
                .filter(|s| s.device_id.as_deref().unwrap_or_default().starts_with("web"))
                .count();
            assert_eq!(total_of(&body), expected as u64);
            let dates: Vec<&str> = records.iter().map(|r| r["onlineDate"].as_str().unwrap()).collect();
            assert!(dates.windows(2).all(|w| w[0] <= w[1]), "ascending by onlineDate");
            assert!(
                records
                    .iter()
                    .all(|r| r["tenantId"] == "1" && r.get("lastSeenDate").is_some()),
                "DETAIL fields"
            );
        }
        "online-list-platform-tenant.json" => {
            assert_envelope(fixture, &response, &body, 200);
            assert_eq!(total_of(&body), tenant(2).count() as u64);
            assert!(list_of(&body)
                .iter()
                .all(|r| r["userId"].as_str().unwrap().starts_with('2')));
        }
        "online-list-bad-param.json" => {
            assert_envelope(fixture, &response, &body, 400);
            assert_eq!(body["ext"]["field"], "pageSize");
            assert!(body["msg"].as_str().unwrap().contains("1 to 2000"));
        }
        "online-list-bad-filter.json" => {
            assert_envelope(fixture, &response, &body, 400);
            assert_eq!(body["ext"]["field"], "filters[0]");
            assert!(
                body["msg"].as_str().unwrap().contains("MATCH"),
                "the message lists what is allowed"
            );
        }
        "online-list-bad-token.json" => assert_envelope(fixture, &response, &body, 401),
        "online-audit.json" => {
            assert_envelope(fixture, &response, &body, 200);
            assert_eq!(total_of(&body), 0, "no forced offline yet");
            // After one, the admin sees its record.
            handle(
                &seeded.app,
                endpoint_of("online-off.json"),
                http_request("online-off.json"),
            )
            .await;
            let (again, body) = invoke(&seeded.app, fixture).await;
            assert_envelope(fixture, &again, &body, 200);
            assert_eq!(total_of(&body), 1);
            let record = &list_of(&body)[0];
            assert_eq!(
                (record["tenantId"].as_str(), record["targetType"].as_str()),
                (Some("1"), Some("USER"))
            );
            assert_eq!(record["skippedIds"], serde_json::json!(["2001"]));
            assert_eq!(record["requestId"], "JKJaXmPLvHcESHA=", "API Gateway's request id");
        }
        "online-audit-bad-param.json" => {
            assert_envelope(fixture, &response, &body, 400);
            assert_eq!(body["ext"]["field"], "filters[0]");
            assert!(body["msg"].as_str().unwrap().contains("EQUAL, IN"), "what is allowed");
        }
        "online-list-no-permission.json" | "online-off-no-permission.json" | "online-audit-no-permission.json" => {
            assert_envelope(fixture, &response, &body, 403);
            assert!(body["msg"].as_str().unwrap().contains("message:center:"));
        }
        "online-list-other-tenant.json" => {
            assert_envelope(fixture, &response, &body, 403);
            assert_eq!(body["ext"]["field"], "tenantId");
        }
        "online-search.json" => {
            assert_envelope(fixture, &response, &body, 200);
            let expected = tenant(1)
                .filter(|s| s.online() && s.full_name.to_lowercase().contains("ada"))
                .count();
            assert!(expected > 0, "the demo has online Adas");
            assert_eq!(total_of(&body), expected as u64);
        }
        "online-search-past-the-end.json" => {
            assert_envelope(fixture, &response, &body, 200);
            assert!(list_of(&body).is_empty());
            assert!(total_of(&body) > 0, "the true total");
        }
        "online-detail.json" => {
            assert_envelope(fixture, &response, &body, 200);
            let data = &body["data"];
            let own: Vec<&Session> = tenant(1).filter(|s| s.user_id.get() == 1001).collect();
            assert_eq!(
                (data["userId"].as_str(), data["tenantId"].as_str()),
                (Some("1001"), Some("1"))
            );
            assert_eq!(data["onlineSessions"], own.iter().filter(|s| s.online()).count());
            assert_eq!(data["online"], own.iter().any(|s| s.online()));
            assert_eq!(data["sessions"].as_array().unwrap().len(), own.len());
        }
        "online-detail-not-found.json" => assert_envelope(fixture, &response, &body, 404),
        "online-detail-bad-user-id.json" => {
            assert_envelope(fixture, &response, &body, 400);
            assert_eq!(body["ext"]["field"], "userId");
        }
        "online-off.json" => {
            assert_envelope(fixture, &response, &body, 200);
            let targeted: Vec<&Session> = tenant(1)
                .filter(|s| s.online() && [1003, 1005].contains(&s.user_id.get()))
                .collect();
            let data = &body["data"];
            assert_eq!(data["users"], 2);
            assert_eq!(data["sessions"], targeted.len());
            assert_eq!(data["connections"], targeted.len());
            assert_eq!(data["tokens"], 0);
            assert_eq!(
                data["skippedIds"],
                serde_json::json!(["2001"]),
                "another tenant's user is skipped"
            );
            let sent: BTreeSet<String> = seeded.gateway.sent().into_iter().map(|(c, _)| c).collect();
            let closed: BTreeSet<String> = seeded.gateway.closed().into_iter().collect();
            let expected: BTreeSet<String> = targeted.iter().map(|s| s.connection_id.clone()).collect();
            assert_eq!(
                (sent, closed),
                (expected.clone(), expected),
                "broadcast: told, then closed"
            );
        }
        "online-off-tenant.json" => {
            assert_envelope(fixture, &response, &body, 200);
            let data = &body["data"];
            assert_eq!(data["sessions"], tenant(2).filter(|s| s.online()).count());
            assert_eq!(data["tokens"], 1, "the tenant-2 admin's own token");
            assert!(
                seeded.gateway.sent().is_empty(),
                "broadcast false: closed without a notice"
            );
            assert_eq!(seeded.gateway.closed().len(), tenant(2).filter(|s| s.online()).count());
            // The admin logged its own tenant out, itself included: its token is now refused.
            let (again, body) = invoke(&seeded.app, "online-off-tenant.json").await;
            assert_envelope(fixture, &again, &body, 401);
        }
        "online-off-other-tenant.json" => {
            assert_envelope(fixture, &response, &body, 403);
            assert_eq!(body["ext"]["field"], "receiveObjectIds");
        }
        "online-off-bad-body.json" => {
            assert_envelope(fixture, &response, &body, 400);
            assert_eq!(body["ext"]["field"], "receiveObjectType");
            assert!(body["msg"].as_str().unwrap().contains("USER or TENANT"));
        }
        other => panic!("events/{other} has no row in tests/tests/http_events.rs: add one"),
    }
}

async fn every_fixture(kind: StoreKind) {
    let fixtures = http_fixtures();
    assert!(fixtures.len() >= 18, "the fixtures are there");
    // A fresh store each, so a forced offline in one does not change another's answer.
    let runs = fixtures.into_iter().map(|fixture| async move {
        let seeded = seeded(kind.fresh().await).await;
        check(&seeded, &fixture).await;
    });
    futures::future::join_all(runs).await;
}

message_center_tests::both_stores!(each: every_fixture);

// ---- The admin console (`online-console`): its page and files, not the envelope ----

/// A console fixture changed before lambda_http reads it, as API Gateway would send it otherwise.
fn console_request(fixture: &str, change: impl FnOnce(&mut Value)) -> lambda_http::Request {
    let mut event: Value = serde_json::from_str(&fixture_json(fixture)).unwrap();
    change(&mut event);
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|value| value.to_str().ok())
}

/// What `console::answer` says for `path`: the function serves exactly that.
fn served(path: &str, settings: &ConsoleSettings) -> console::ConsoleAnswer {
    console::answer(path, None, settings).unwrap_or_else(|| panic!("{path} is a console file"))
}

/// A page or file as the console serves it: its status, type, body and every security header.
fn assert_console_file(fixture: &str, response: &Response<Body>, path: &str, settings: &ConsoleSettings) {
    let expected = served(path, settings);
    assert_eq!(response.status(), 200, "{fixture}");
    for (name, value) in &expected.headers {
        assert_eq!(header(response, name), Some(value.as_str()), "{fixture}: {name}");
    }
    assert_eq!(
        header(response, "content-security-policy"),
        Some(CONTENT_SECURITY_POLICY),
        "{fixture}"
    );
    assert_eq!(header(response, "x-content-type-options"), Some("nosniff"), "{fixture}");
    assert_eq!(header(response, "cache-control"), Some("no-cache"), "{fixture}");
    assert!(header(response, "etag").is_some(), "{fixture}");
    assert!(
        matches!(response.body(), Body::Text(text) if *text == expected.body),
        "{fixture}: the body of {path}"
    );
}

/// Every `events/online-console*.json` fixture through the function's own handler (what
/// `serve_console` runs per request), with the settings the deployed function gets.
#[test]
fn console_fixtures_answer_the_page_its_files_a_304_and_the_envelope_404() {
    let settings = ConsoleSettings {
        websocket_url: Some("wss://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/live".into()),
    };
    let fixtures = fixtures_of("online-console");
    assert_eq!(
        fixtures.len(),
        4,
        "a new console fixture needs a row here: {fixtures:?}"
    );
    for fixture in &fixtures {
        let response = console_response(&settings, &http_request(fixture));
        match fixture.as_str() {
            "online-console.json" => {
                assert_console_file(fixture, &response, "/", &settings);
                assert_eq!(header(&response, "content-type"), Some("text/html; charset=utf-8"));
            }
            "online-console-asset.json" => {
                assert_console_file(fixture, &response, "/console/app.js", &settings);
                assert_eq!(
                    header(&response, "content-type"),
                    Some("text/javascript; charset=utf-8")
                );
            }
            "online-console-not-modified.json" => {
                // `If-None-Match: *`: the browser's copy is current, whatever it is.
                assert_eq!(response.status(), 304, "{fixture}");
                assert!(matches!(response.body(), Body::Empty), "{fixture}: no body");
                let current = served("/console/app.css", &settings);
                let etag = current.headers.iter().find(|(name, _)| *name == "etag").unwrap();
                assert_eq!(header(&response, "etag"), Some(etag.1.as_str()));
                assert_eq!(
                    header(&response, "content-security-policy"),
                    Some(CONTENT_SECURITY_POLICY)
                );
                assert_eq!(header(&response, "content-type"), None);
            }
            "online-console-not-found.json" => {
                let body: Value = serde_json::from_slice(response.body().as_ref()).expect("the envelope");
                assert_envelope(fixture, &response, &body, 404);
                assert!(body["msg"].as_str().unwrap().contains("/console/missing.js"), "{body}");
            }
            other => panic!("events/{other} has no row in tests/tests/http_events.rs: add one"),
        }
    }
}

#[test]
fn the_console_tells_the_page_its_websocket_url_and_serves_its_current_copy_as_304() {
    let settings = ConsoleSettings {
        websocket_url: Some("wss://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/live".into()),
    };
    let config = console_request("online-console-asset.json", |event| {
        event["rawPath"] = "/console/config.json".into();
        event["requestContext"]["http"]["path"] = "/console/config.json".into();
        event["pathParameters"]["file"] = "config.json".into();
    });
    let response = console_response(&settings, &config);
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let config: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(config["websocketUrl"], settings.websocket_url.clone().unwrap());

    // A browser revalidating with the tag it was given gets a 304; with a stale one, the file.
    let etag = header(
        &console_response(&settings, &http_request("online-console.json")),
        "etag",
    )
    .unwrap()
    .to_owned();
    for (if_none_match, status) in [(etag.as_str(), 304), ("\"stale\"", 200)] {
        let request = console_request("online-console.json", |event| {
            event["headers"]["if-none-match"] = if_none_match.into();
        });
        assert_eq!(
            console_response(&settings, &request).status(),
            status,
            "{if_none_match}"
        );
    }
}

#[test]
fn the_console_serves_its_routes_whatever_the_stage_and_nothing_but_get() {
    let settings = ConsoleSettings::default();
    // A named stage puts itself in the raw path (lambda_http puts it in the URI too): the route
    // and its `file` say what is asked for.
    let staged = console_request("online-console-asset.json", |event| {
        event["rawPath"] = "/prod/console/app.js".into();
        event["requestContext"]["http"]["path"] = "/prod/console/app.js".into();
        event["requestContext"]["stage"] = "prod".into();
    });
    assert_console_file(
        "a named stage",
        &console_response(&settings, &staged),
        "/console/app.js",
        &settings,
    );
    let staged_page = console_request("online-console.json", |event| {
        event["rawPath"] = "/prod/".into();
        event["requestContext"]["stage"] = "prod".into();
    });
    assert_console_file(
        "a named stage",
        &console_response(&settings, &staged_page),
        "/",
        &settings,
    );

    // Nothing outside its files, and only GET.
    for (method, file) in [("GET", "../Cargo.toml"), ("GET", "index.html"), ("POST", "app.js")] {
        let request = console_request("online-console-asset.json", |event| {
            event["requestContext"]["http"]["method"] = method.into();
            event["pathParameters"]["file"] = file.into();
        });
        let response = console_response(&settings, &request);
        let body: Value = serde_json::from_slice(response.body().as_ref()).expect("the envelope");
        assert_envelope(&format!("{method} {file}"), &response, &body, 404);
    }
}

#[test]
fn the_console_logs_a_line_per_request_with_its_status_and_no_header() {
    let settings = ConsoleSettings::default();
    let request = http_request("online-console-not-modified.json");
    assert_eq!(console_response(&settings, &request).status(), 304);
    let captured = message_center_tests::logs::captured();
    let lines: Vec<Value> = captured
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["path"] == "/console/app.css" && line["status"] == 304)
        .collect();
    assert!(!lines.is_empty(), "no log line for the request: {captured}");
    for line in lines {
        assert_eq!(line["message"], "request");
        assert_eq!(line["route"], "GET /console/{file}");
        assert_eq!(line["requestId"], "JKJaXmPLvHcESHA=");
        assert!(line["durationMs"].is_number());
        let text = line.to_string();
        for header in ["Firefox", "198.51.100.23", "if-none-match", "gzip"] {
            assert!(!text.contains(header), "a header in the log line: {text}");
        }
    }
}
