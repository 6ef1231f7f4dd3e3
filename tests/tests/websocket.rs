//! Real WebSocket clients (tokio-tungstenite) against the local API, on both stores: connect,
//! heartbeat, disconnect, two devices, forced offline with and without a notice, and a crowd of
//! clients whose final state must match what happened.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use message_center::domain::access::{Permission, TenantScope};
use message_center::domain::{TenantId, Timestamp};
use message_center::store::Store;
use message_center_tests::fixtures::token;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const BASE: &str = "/api/v1/message/center/online";
const ADMIN_1: &str = "demo-admin-tenant-1";

struct Server {
    address: String,
}

impl Server {
    async fn start(store: Arc<dyn Store>) -> Server {
        local_api::demo::seed(store.as_ref(), Timestamp::now()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(local_api::serve(listener, store, None, std::future::pending()));
        Server { address }
    }

    async fn connect(&self, query: &str) -> Result<Socket, WsError> {
        let mut request = format!("ws://{}/ws?{query}", self.address)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("user-agent", "PresenceTest/1.0 (tokio-tungstenite)".parse().unwrap());
        tokio_tungstenite::connect_async(request)
            .await
            .map(|(socket, _)| socket)
    }

    /// The HTTP status a refused connect gets.
    async fn refused_status(&self, query: &str) -> u16 {
        match self.connect(query).await {
            Err(WsError::Http(response)) => response.status().as_u16(),
            Ok(_) => panic!("the connect with {query:?} was accepted"),
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(path, token, None).await
    }

    /// A GET, or a POST of `body`.
    async fn call(&self, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("http://{}{path}", self.address);
        let auth = format!("Bearer {token}");
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
            let mut response = match body {
                None => agent.get(&url).header("Authorization", &auth).call(),
                Some(body) => agent
                    .post(&url)
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .send(body.to_string()),
            }
            .unwrap();
            let text = response.body_mut().read_to_string().unwrap();
            (response.status().as_u16(), serde_json::from_str(&text).unwrap())
        })
        .await
        .unwrap()
    }

    async fn off(&self, body: Value) -> Value {
        let (status, answer) = self.call(&format!("{BASE}/off"), ADMIN_1, Some(body)).await;
        assert_eq!(status, 200, "{answer}");
        answer["data"].clone()
    }

    /// The DETAIL records of tenant 1 on `deviceId`.
    async fn on_device(&self, device: &str) -> Vec<Value> {
        let (status, body) = self
            .get(
                &format!("{BASE}?deviceId={device}&infoScope=DETAIL&pageSize=100"),
                ADMIN_1,
            )
            .await;
        assert_eq!(status, 200);
        body["data"]["list"].as_array().unwrap().clone()
    }

    /// Waits (bounded) until the sessions on `device` satisfy `done`: a disconnect is handled
    /// after the socket closes, as API Gateway runs `$disconnect` after the fact.
    async fn eventually(&self, device: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        for _ in 0..50 {
            let records = self.on_device(device).await;
            if done(&records) {
                return records;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "sessions on {device} never reached the expected state: {:?}",
            self.on_device(device).await
        );
    }
}

async fn next_text(socket: &mut Socket) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
        {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Reads until the server closes; returns the text messages seen before.
async fn until_closed(socket: &mut Socket) -> Vec<Value> {
    let mut texts = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("closed within 5 s")
        {
            Some(Ok(Message::Text(text))) => texts.push(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return texts,
            Some(Ok(_)) => {}
        }
    }
}

async fn presence_lifecycle(store: Arc<dyn Store>) {
    let server = Server::start(store).await;

    assert_eq!(server.refused_status("token=not-a-known-token&deviceId=x").await, 401);
    assert_eq!(server.refused_status("deviceId=no-token").await, 401);
    assert!(
        server.on_device("x").await.is_empty(),
        "a refused connect leaves nothing"
    );

    let mut laptop = server
        .connect(&format!("token={ADMIN_1}&deviceId=laptop-e2e"))
        .await
        .unwrap();
    let records = server.on_device("laptop-e2e").await;
    assert_eq!(records.len(), 1);
    let session = &records[0];
    assert_eq!(
        (session["online"].as_bool(), session["userId"].as_str()),
        (Some(true), Some("1000"))
    );
    assert_eq!(session["userAgent"], "PresenceTest/1.0 (tokio-tungstenite)");
    assert_eq!(session["remoteAddress"], "127.0.0.1");
    let (_, detail) = server.get(&format!("{BASE}/1000"), ADMIN_1).await;
    assert_eq!(
        (detail["data"]["online"].as_bool(), detail["data"]["deviceId"].as_str()),
        (Some(true), Some("laptop-e2e"))
    );

    // Heartbeats are acknowledged and move lastSeenDate (shown to the second).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    laptop
        .send(Message::Text(json!({"action": "heartbeat"}).to_string().into()))
        .await
        .unwrap();
    assert_eq!(next_text(&mut laptop).await["type"], "HEARTBEAT_ACK");
    let seen = &server.on_device("laptop-e2e").await[0];
    assert!(
        seen["lastSeenDate"].as_str() > session["lastSeenDate"].as_str(),
        "{seen} vs {session}"
    );
    laptop.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(next_text(&mut laptop).await["type"], "ERROR");

    // A second device; closing the first leaves the user online on the second.
    let mut phone = server
        .connect(&format!("token={ADMIN_1}&deviceId=phone-e2e"))
        .await
        .unwrap();
    laptop.close(None).await.unwrap();
    let ended = server.eventually("laptop-e2e", |r| r[0]["online"] == false).await;
    assert_eq!(ended[0]["offlineReason"], "DISCONNECTED");
    let (_, detail) = server.get(&format!("{BASE}/1000"), ADMIN_1).await;
    assert_eq!(
        (
            detail["data"]["online"].as_bool(),
            detail["data"]["onlineSessions"].as_u64()
        ),
        (Some(true), Some(1))
    );
    phone.close(None).await.unwrap();
    server.eventually("phone-e2e", |r| r[0]["online"] == false).await;
}

async fn forced_offline_reaches_the_clients(store: Arc<dyn Store>) {
    let server = Server::start(store.clone()).await;
    for (secret, user) in [("kick-told", 1101), ("kick-silent", 1102)] {
        store
            .put_token(&token(secret, 1, user, &[Permission::List], false))
            .await
            .unwrap();
    }
    let mut told = server.connect("token=kick-told&deviceId=told-e2e").await.unwrap();
    let mut silent = server.connect("token=kick-silent&deviceId=silent-e2e").await.unwrap();

    let data = server
        .off(json!({"broadcast": true, "receiveObjectType": "USER", "receiveObjectIds": [1101]}))
        .await;
    assert_eq!(
        data,
        json!({"users": 1, "sessions": 1, "tokens": 1, "connections": 1, "skippedIds": []})
    );
    let messages = until_closed(&mut told).await;
    assert_eq!(messages.len(), 1, "the notice, then the close: {messages:?}");
    assert_eq!(messages[0]["type"], "FORCED_OFFLINE");
    assert!(messages[0]["msg"].as_str().is_some_and(|m| !m.is_empty()));

    let data = server
        .off(json!({"broadcast": false, "receiveObjectType": "USER", "receiveObjectIds": ["1102"]}))
        .await;
    assert_eq!(data["connections"], 1);
    assert!(until_closed(&mut silent).await.is_empty(), "closed without a notice");

    for secret in ["kick-told", "kick-silent"] {
        assert_eq!(
            server.get(BASE, secret).await.0,
            401,
            "the kicked token cannot call the API"
        );
        assert_eq!(
            server.refused_status(&format!("token={secret}")).await,
            401,
            "nor connect again"
        );
    }
    let record = &server.on_device("told-e2e").await[0];
    assert_eq!(
        (record["online"].as_bool(), record["offlineReason"].as_str()),
        (Some(false), Some("FORCED"))
    );
}

/// 200 clients (50 users x 4 devices) connect at once; a random third disconnect, a random
/// fifth of the users are forced offline; then the list and the counters must say exactly that.
async fn a_crowd_of_clients(store: Arc<dyn Store>) {
    let server = Server::start(store.clone()).await;
    let before = store.session_counts(TenantScope::Tenant(TenantId(1))).await.unwrap();
    let users: Vec<i64> = (0..50).map(|n| 5000 + n).collect();
    for user in &users {
        store
            .put_token(&token(&format!("crowd-{user}"), 1, *user, &[], false))
            .await
            .unwrap();
    }
    let connects = users
        .iter()
        .flat_map(|user| (0..4).map(move |device| (*user, device)))
        .map(|(user, device)| {
            let server = &server;
            async move {
                let socket = server
                    .connect(&format!("token=crowd-{user}&deviceId=crowd-{user}-{device}"))
                    .await
                    .unwrap();
                ((user, device), socket)
            }
        });
    let mut sockets: BTreeMap<(i64, i32), Socket> = futures::future::join_all(connects).await.into_iter().collect();
    assert_eq!(sockets.len(), 200);

    // A fixed pseudo-random choice, so a failure can be replayed.
    let mut dice = 0x2545_f491_4f6c_dd1du64;
    let mut roll = |sides: u64| {
        dice ^= dice << 13;
        dice ^= dice >> 7;
        dice ^= dice << 17;
        dice % sides
    };
    let leaving: Vec<(i64, i32)> = sockets.keys().copied().filter(|_| roll(3) == 0).collect();
    let kicked: Vec<i64> = users.iter().copied().filter(|_| roll(5) == 0).collect();
    let closes = leaving
        .iter()
        .map(|key| sockets.remove(key).unwrap())
        .map(|mut socket| async move {
            socket.close(None).await.unwrap();
            while socket.next().await.is_some() {}
        });
    let kick = server.off(json!({"broadcast": true, "receiveObjectType": "USER", "receiveObjectIds": kicked}));
    let (_, kick) = futures::join!(futures::future::join_all(closes), kick);
    assert_eq!(kick["users"], kicked.len());

    // Every kicked user's remaining sockets are told and closed.
    for ((user, _), socket) in sockets.iter_mut().filter(|((user, _), _)| kicked.contains(user)) {
        let messages = until_closed(socket).await;
        assert_eq!(
            messages.iter().filter(|m| m["type"] == "FORCED_OFFLINE").count(),
            1,
            "user {user}"
        );
    }
    let still_online: usize = sockets.keys().filter(|(user, _)| !kicked.contains(user)).count();

    // Disconnects land after the sockets close: wait (bounded) for the list to settle.
    let mut listed = 0;
    for _ in 0..100 {
        let (_, body) = server.get(&format!("{BASE}?online=true&filters%5B0%5D.key=userId&filters%5B0%5D.op=GREATER_THAN_EQUAL&filters%5B0%5D.value=5000"), ADMIN_1).await;
        listed = body["data"]["total"].as_str().unwrap().parse::<usize>().unwrap();
        if listed == still_online {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed, still_online, "online sessions listed");
    let after = store.session_counts(TenantScope::Tenant(TenantId(1))).await.unwrap();
    assert_eq!(after.sessions, before.sessions + 200, "one session per connection");
    assert_eq!(
        after.online,
        before.online + still_online as u64,
        "the counter agrees with the list"
    );
    let (_, all) = server.get(&format!("{BASE}?filters%5B0%5D.key=userId&filters%5B0%5D.op=GREATER_THAN_EQUAL&filters%5B0%5D.value=5000&infoScope=DETAIL&pageSize=2000"), ADMIN_1).await;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for record in all["data"]["list"].as_array().unwrap() {
        *reasons
            .entry(record["offlineReason"].as_str().unwrap_or("ONLINE").to_owned())
            .or_default() += 1;
    }
    let forced = reasons.get("FORCED").copied().unwrap_or_default();
    assert_eq!(kick["sessions"], forced, "{reasons:?}");
    assert_eq!(reasons.values().sum::<usize>(), 200);
    for socket in sockets.values_mut() {
        let _ = socket.close(None).await;
    }
}

message_center_tests::both_stores!(
    presence_lifecycle,
    forced_offline_reaches_the_clients,
    #[multi_thread]
    a_crowd_of_clients,
);
