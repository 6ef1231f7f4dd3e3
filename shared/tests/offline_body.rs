//! The forced-offline request body, as the contract defines it: what is accepted, the defaults,
//! and a field-named 400 for everything else, never a panic.

use message_center::http::offline_body::parse_offline_request;
use message_center::service::offline::{OfflineRequest, ReceiveObjectType};
use message_center::{ApiError, ErrorKind};
use serde_json::{json, Value};

// ---- helpers ----

fn parse(body: &str) -> OfflineRequest {
    parse_offline_request(body.as_bytes()).unwrap_or_else(|e| panic!("{body:?} was refused: {e}"))
}

fn parse_json(body: &Value) -> OfflineRequest {
    parse(&body.to_string())
}

/// The body is a 400 blaming `field`; returns the error for checks on its message.
fn invalid(body: &str, field: &str) -> ApiError {
    let shown: String = body.chars().take(120).collect();
    let e = match parse_offline_request(body.as_bytes()) {
        Ok(parsed) => panic!("{shown:?} was accepted as {parsed:?}"),
        Err(e) => e,
    };
    assert_eq!(e.kind, ErrorKind::InvalidParam, "{shown:?}: {e}");
    assert_eq!(e.field.as_deref(), Some(field), "{shown:?}: {e}");
    e
}

fn invalid_json(body: &Value, field: &str) -> ApiError {
    invalid(&body.to_string(), field)
}

fn assert_msg_has(e: &ApiError, parts: &[&str]) {
    for part in parts {
        assert!(e.msg.contains(part), "message {:?} does not mention {part:?}", e.msg);
    }
}

/// A body targeting these ids as users.
fn users(ids: Value) -> Value {
    json!({"receiveObjectType": "USER", "receiveObjectIds": ids})
}

// ---- what is accepted ----

#[test]
fn the_contract_example_parses() {
    let parsed = parse(r#"{"broadcast": true, "receiveObjectType": "USER", "receiveObjectIds": ["1001", 1002]}"#);
    assert_eq!(
        parsed,
        OfflineRequest {
            broadcast: true,
            object_type: ReceiveObjectType::User,
            ids: vec![1001, 1002]
        }
    );
}

#[test]
fn broadcast_defaults_to_true() {
    assert!(parse_json(&users(json!([1]))).broadcast);
    assert!(parse(r#"{"broadcast": null, "receiveObjectType": "USER", "receiveObjectIds": [1]}"#).broadcast);
    assert!(!parse(r#"{"broadcast": false, "receiveObjectType": "USER", "receiveObjectIds": [1]}"#).broadcast);
    assert!(parse(r#"{"broadcast": true, "receiveObjectType": "USER", "receiveObjectIds": [1]}"#).broadcast);
}

#[test]
fn receive_object_type_is_user_or_tenant_in_any_case() {
    let cases = [
        ("USER", ReceiveObjectType::User),
        ("user", ReceiveObjectType::User),
        ("User", ReceiveObjectType::User),
        ("TENANT", ReceiveObjectType::Tenant),
        ("tenant", ReceiveObjectType::Tenant),
        ("Tenant", ReceiveObjectType::Tenant),
    ];
    for (text, expected) in cases {
        let parsed = parse_json(&json!({"receiveObjectType": text, "receiveObjectIds": [7]}));
        assert_eq!(parsed.object_type, expected, "{text}");
    }
}

#[test]
fn ids_may_be_numbers_or_numeric_strings_mixed() {
    let parsed = parse(
        r#"{"receiveObjectType": "USER", "receiveObjectIds": ["1001", 1002, "9223372036854775807", 9223372036854775807, "0042"]}"#,
    );
    assert_eq!(parsed.ids, [1001, 1002, i64::MAX, 42]);
}

#[test]
fn duplicate_ids_collapse_keeping_the_first_order() {
    let parsed = parse_json(&users(json!([3, "1", 3, 2, "3", 1, "2"])));
    assert_eq!(parsed.ids, [3, 1, 2]);
}

#[test]
fn ten_thousand_ids_are_allowed() {
    let ids: Vec<Value> = (1..=10_000)
        .map(|n| if n % 2 == 0 { json!(n) } else { json!(n.to_string()) })
        .collect();
    let parsed = parse_json(&users(Value::Array(ids)));
    assert_eq!(parsed.ids, (1..=10_000).collect::<Vec<i64>>());
}

#[test]
fn unknown_fields_are_ignored() {
    let parsed = parse_json(&json!({
        "receiveObjectType": "TENANT",
        "receiveObjectIds": ["9"],
        "reason": "security",
        "extra": {"nested": [1, 2, {"deep": null}]},
        "Broadcast": "not the broadcast field",
    }));
    assert_eq!(
        parsed,
        OfflineRequest {
            broadcast: true,
            object_type: ReceiveObjectType::Tenant,
            ids: vec![9]
        }
    );
}

#[test]
fn whitespace_around_the_json_is_fine() {
    let parsed = parse("\n\t {\"receiveObjectType\": \"USER\", \"receiveObjectIds\": [5]}  \r\n");
    assert_eq!(parsed.ids, [5]);
}

// ---- receiveObjectIds refused ----

#[test]
fn more_than_ten_thousand_ids_are_refused() {
    let ids: Vec<Value> = (1..=10_001).map(|n| json!(n)).collect();
    let e = invalid_json(&users(Value::Array(ids)), "receiveObjectIds");
    assert_msg_has(&e, &["10001", "10000"]);
}

#[test]
fn the_id_limit_counts_distinct_ids() {
    let mut ids: Vec<Value> = (1..=10_000).map(|n| json!(n)).collect();
    ids.push(json!("1"));
    let request = parse_offline_request(users(Value::Array(ids)).to_string().as_bytes()).unwrap();
    assert_eq!(request.ids.len(), 10_000);
}

#[test]
fn a_whole_number_written_with_a_fraction_or_exponent_is_that_id() {
    let request = parse_offline_request(users(json!([1001.0, 1e3])).to_string().as_bytes()).unwrap();
    assert_eq!(request.ids, vec![1001, 1000]);
}

#[test]
fn an_empty_id_list_is_refused() {
    let e = invalid_json(&users(json!([])), "receiveObjectIds");
    assert_msg_has(&e, &["1 to 10000"]);
}

#[test]
fn an_id_that_is_not_a_positive_int64_is_refused_naming_its_index() {
    let bad_items = [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("abc"),
        json!(""),
        json!("0"),
        json!("-1"),
        json!("1.5"),
        json!(" 12"),
        json!("+12"),
        json!("1e3"),
        json!("9223372036854775808"),
        json!(9_223_372_036_854_775_808_u64),
        json!(true),
        json!(null),
        json!([1]),
        json!({"id": 1}),
    ];
    for bad in bad_items {
        let e = invalid_json(&users(json!([1, "2", bad])), "receiveObjectIds");
        assert_msg_has(&e, &["receiveObjectIds[2]"]);
    }
    let e = invalid_json(&users(json!([0])), "receiveObjectIds");
    assert_msg_has(&e, &["receiveObjectIds[0]"]);
}

#[test]
fn receive_object_ids_must_be_a_list() {
    for bad in [json!("1,2"), json!("1001"), json!(1001), json!({"0": 1}), json!(true)] {
        let e = invalid_json(&users(bad.clone()), "receiveObjectIds");
        assert_msg_has(&e, &["list"]);
    }
}

#[test]
fn receive_object_ids_are_required() {
    for body in [
        json!({"receiveObjectType": "USER"}),
        json!({"receiveObjectType": "USER", "receiveObjectIds": null}),
    ] {
        let e = invalid_json(&body, "receiveObjectIds");
        assert_msg_has(&e, &["required"]);
    }
}

// ---- receiveObjectType refused ----

#[test]
fn receive_object_type_is_required() {
    for body in [
        json!({"receiveObjectIds": [1]}),
        json!({"receiveObjectType": null, "receiveObjectIds": [1]}),
    ] {
        let e = invalid_json(&body, "receiveObjectType");
        assert_msg_has(&e, &["required", "USER", "TENANT"]);
    }
}

#[test]
fn any_other_receive_object_type_is_refused_listing_user_and_tenant() {
    for bad in [
        json!("GROUP"),
        json!(""),
        json!(" USER"),
        json!("USERS"),
        json!(3),
        json!(true),
        json!(["USER"]),
        json!({}),
    ] {
        let e = invalid_json(
            &json!({"receiveObjectType": bad, "receiveObjectIds": [1]}),
            "receiveObjectType",
        );
        assert_msg_has(&e, &["USER", "TENANT"]);
    }
}

// ---- broadcast refused ----

#[test]
fn broadcast_must_be_a_boolean() {
    for bad in [json!("yes"), json!("true"), json!(1), json!(0), json!([]), json!({})] {
        let mut body = users(json!([1]));
        body["broadcast"] = bad;
        let e = invalid_json(&body, "broadcast");
        assert_msg_has(&e, &["true or false"]);
    }
}

// ---- the body as a whole ----

#[test]
fn a_body_that_is_not_a_json_object_is_refused_as_body() {
    let bodies = [
        "",
        "   \n\t",
        "not json",
        "{",
        "{\"receiveObjectType\": \"USER\",}",
        "{\"receiveObjectType\": \"USER\", \"receiveObjectIds\": [1]} trailing",
        "receiveObjectType=USER&receiveObjectIds=1",
        "[]",
        "[{\"receiveObjectType\": \"USER\", \"receiveObjectIds\": [1]}]",
        "null",
        "\"USER\"",
        "42",
        "true",
    ];
    for body in bodies {
        invalid(body, "body");
    }
}

#[test]
fn an_empty_body_says_what_to_send() {
    let e = invalid("", "body");
    assert_msg_has(&e, &["receiveObjectType", "receiveObjectIds"]);
}

#[test]
fn a_body_that_is_not_utf8_is_refused_as_body() {
    let e = parse_offline_request(b"{\"receiveObjectType\": \"US\xffER\", \"receiveObjectIds\": [1]}").unwrap_err();
    assert_eq!((e.kind, e.field.as_deref()), (ErrorKind::InvalidParam, Some("body")));
}

#[test]
fn deeply_nested_json_is_a_400_not_a_crash() {
    let depth = 10_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    invalid(&arrays, "body");

    let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    invalid(&objects, "body");

    // Nested where an id list belongs.
    let inside = format!(
        "{{\"receiveObjectType\": \"USER\", \"receiveObjectIds\": {}1{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    invalid(&inside, "body");

    // Unclosed nesting: the parser must stop, not recurse to the end.
    invalid(&"[".repeat(100_000), "body");
}

#[test]
fn every_refusal_is_a_400_protocol_error() {
    let e = invalid("[]", "body");
    assert_eq!(
        (e.kind.status(), e.kind.code(), e.kind.key()),
        (400, "E0", "invalid_param")
    );
}
