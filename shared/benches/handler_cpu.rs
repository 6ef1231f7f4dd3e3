//! CPU a handler spends outside DynamoDB: reading the largest query the contract allows (20
//! filters) and writing a page of 100 `DETAIL` records into the envelope. `cargo bench -p
//! message-center`; figures go to docs/performance.md.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use message_center::domain::{InfoScope, OfflineReason, Session, SessionId, TenantId, Timestamp, UserId};
use message_center::http::envelope::success;
use message_center::http::page_data;
use message_center::http::query::{parse_session_query, ListMode};

/// Twenty filters of every kind, percent-encoded as a console sends them.
fn twenty_filter_query() -> String {
    let filters = [
        ("userId", "IN", "1001,1002,1003,1004,1005,1006,1007,1008"),
        ("fullName", "MATCH", "ada"),
        ("deviceId", "MATCH_END", "web"),
        ("remoteAddress", "NOT_MATCH", "10.0."),
        ("online", "EQUAL", "true"),
        ("onlineDate", "GREATER_THAN_EQUAL", "2026-11-28 00:00:00"),
        ("onlineDate", "LESS_THAN", "2026-11-29T00:00:00Z"),
        ("offlineDate", "IS_NULL", ""),
        ("userAgent", "NOT_MATCH_END", "curl"),
        ("id", "NOT_IN", "01JB0000000000000000000001,01JB0000000000000000000002"),
    ];
    let mut parts: Vec<String> = Vec::new();
    for (i, (key, op, value)) in filters.iter().chain(filters.iter()).enumerate() {
        parts.push(format!("filters%5B{i}%5D.key={key}&filters%5B{i}%5D.op={op}"));
        if !value.is_empty() {
            let value: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
            parts.push(format!("filters%5B{i}%5D.value={value}"));
        }
    }
    parts.push("pageNo=3&pageSize=100&orderBy=onlineDate&orderSort=ASC&infoScope=DETAIL".into());
    parts.join("&")
}

fn page_of_100() -> Vec<Session> {
    (0..100)
        .map(|n| {
            let started = Timestamp::from_secs(1_795_000_000 + n * 60);
            Session {
                id: SessionId::new_at(started),
                tenant_id: TenantId(1),
                user_id: UserId(1000 + n),
                full_name: format!("User Number {n}"),
                avatar: Some(format!("https://cdn.example.com/avatars/{n}.png")),
                user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0".into()),
                device_id: Some(format!("web-{n:04}")),
                remote_address: Some(format!("198.51.100.{}", n % 250)),
                connection_id: format!("conn-{n}="),
                online_date: started,
                offline_date: (n % 2 == 0).then(|| started.plus_secs(30)),
                last_seen_date: started.plus_secs(25),
                offline_reason: (n % 2 == 0).then_some(OfflineReason::Disconnected),
            }
        })
        .collect()
}

fn handler_cpu(c: &mut Criterion) {
    let query = twenty_filter_query();
    parse_session_query(&query, ListMode::List).expect("the bench query is valid");
    c.bench_function("parse a 20-filter query", |b| {
        b.iter(|| parse_session_query(black_box(&query), ListMode::List).unwrap())
    });

    let sessions = page_of_100();
    c.bench_function("serialize a page of 100 DETAIL records in the envelope", |b| {
        b.iter(|| {
            let data = page_data(100_000, black_box(&sessions), InfoScope::Detail).unwrap();
            success("req-1", black_box(&data))
        })
    });
}

criterion_group!(benches, handler_cpu);
criterion_main!(benches);
