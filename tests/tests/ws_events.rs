//! The WebSocket fixtures (`events/ws-*.json`) through the handlers the ws-* Lambda functions run,
//! in the order API Gateway would send them, on both stores.

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;
use message_center::domain::access::TenantScope;
use message_center::domain::{OfflineReason, TenantId, Timestamp, UserId};
use message_center::http::query::{parse_session_query, ListMode};
use message_center::service::App;
use message_center::store::Store;
use message_center::ws::{handle, WsRoute};
use message_center_tests::events::{ws_event, ws_fixtures};
use message_center_tests::gateway::RecordingGateway;
use serde_json::Value;

fn body(response: &ApiGatewayProxyResponse) -> Value {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).expect("a JSON body"),
        other => panic!("no text body: {other:?}"),
    }
}

async fn run(app: &App, route: WsRoute, fixture: &str) -> ApiGatewayProxyResponse {
    handle(app, route, ws_event(fixture)).await
}

async fn the_fixtures_in_order(store: Arc<dyn Store>) {
    assert_eq!(ws_fixtures().len(), 7, "a new ws fixture needs a step here");
    local_api::demo::seed(store.as_ref(), Timestamp::now()).await.unwrap();
    let gateway = Arc::new(RecordingGateway::with_live(["L0SM9cOFvHcCIhw=".to_owned()]));
    let app = App {
        store: store.clone(),
        gateway: gateway.clone(),
        config: Default::default(),
    };
    let tenant_1 = TenantScope::Tenant(TenantId(1));
    let before = store.session_counts(tenant_1).await.unwrap();

    let refused = run(&app, WsRoute::Connect, "ws-connect-bad-token.json").await;
    assert_eq!(refused.status_code, 401);
    assert_eq!(body(&refused)["ext"]["eKey"], "unauthorized");
    assert_eq!(
        store.session_counts(tenant_1).await.unwrap(),
        before,
        "a refused connect leaves nothing"
    );

    let connected = run(&app, WsRoute::Connect, "ws-connect.json").await;
    assert_eq!(connected.status_code, 200, "{:?}", connected.body);
    let session_id = body(&connected)["data"]["sessionId"].as_str().unwrap().to_owned();
    let mine = store.user_sessions(tenant_1, UserId(1000), 50).await.unwrap();
    let session = mine
        .iter()
        .find(|s| s.id.to_string() == session_id)
        .expect("the session is recorded");
    assert!(session.online());
    assert_eq!(session.connection_id, "L0SM9cOFvHcCIhw=");
    assert_eq!(session.device_id.as_deref(), Some("safari-mac-1000"));
    assert_eq!(session.remote_address.as_deref(), Some("198.51.100.42"));
    assert!(session.user_agent.as_deref().unwrap().contains("Safari"));
    assert_eq!(
        (session.full_name.as_str(), session.tenant_id),
        ("Tenant 1 Admin", TenantId(1))
    );
    let after = store.session_counts(tenant_1).await.unwrap();
    assert_eq!((after.sessions, after.online), (before.sessions + 1, before.online + 1));

    let again = run(&app, WsRoute::Connect, "ws-connect.json").await;
    assert_eq!(
        again.status_code, 400,
        "a repeated connect of a known connection is refused"
    );

    let by_header = run(&app, WsRoute::Connect, "ws-connect-header-token.json").await;
    assert_eq!(
        by_header.status_code, 200,
        "the token may come in the Authorization header"
    );

    let ack = run(&app, WsRoute::Default, "ws-default-heartbeat.json").await;
    assert_eq!(
        (ack.status_code, body(&ack)["type"].as_str()),
        (200, Some("HEARTBEAT_ACK"))
    );
    let unknown = run(&app, WsRoute::Default, "ws-default-unknown.json").await;
    assert_eq!(body(&unknown)["type"], "ERROR");
    assert!(
        body(&unknown)["msg"].as_str().unwrap().contains("heartbeat"),
        "it says what is understood"
    );

    // The admin of tenant 1 subscribes to its tenant's presence; the disconnect ends it.
    let subscribed = run(&app, WsRoute::Default, "ws-default-subscribe.json").await;
    assert_eq!(
        (subscribed.status_code, body(&subscribed)["type"].as_str()),
        (200, Some("SUBSCRIBED"))
    );
    assert_eq!(store.subscribers(TenantId(1)).await.unwrap(), ["L0SM9cOFvHcCIhw="]);
    assert!(store.subscribers(TenantId(2)).await.unwrap().is_empty());

    let gone = run(&app, WsRoute::Disconnect, "ws-disconnect.json").await;
    assert_eq!(
        (gone.status_code, body(&gone)["data"]["ended"].as_bool()),
        (200, Some(true))
    );
    let query = parse_session_query("infoScope=DETAIL&deviceId=safari-mac-1000", ListMode::List).unwrap();
    let listed = store.list_sessions(tenant_1, &query).await.unwrap();
    assert_eq!(listed.sessions.len(), 1);
    assert_eq!(listed.sessions[0].offline_reason, Some(OfflineReason::Disconnected));
    assert_eq!(store.session_counts(tenant_1).await.unwrap().online, before.online);
    assert!(
        store.subscribers(TenantId(1)).await.unwrap().is_empty(),
        "the disconnect ended the subscription"
    );

    let twice = run(&app, WsRoute::Disconnect, "ws-disconnect.json").await;
    assert_eq!(
        (twice.status_code, body(&twice)["data"]["ended"].as_bool()),
        (200, Some(false)),
        "harmless"
    );

    // A heartbeat on the ended session's connection is told so, and the connection closed.
    let late = run(&app, WsRoute::Default, "ws-default-heartbeat.json").await;
    assert_eq!(body(&late)["type"], "ERROR");
    assert_eq!(gateway.closed(), ["L0SM9cOFvHcCIhw="]);
}

message_center_tests::both_stores!(the_fixtures_in_order);
