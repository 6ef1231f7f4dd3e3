//! `template.yaml` against the code: the tables mirror `store::schema`, every function crate is
//! deployed, and every HTTP route the handlers serve is routed by API Gateway.

use std::collections::BTreeSet;

use message_center::api::Endpoint;
use message_center::realtime::WsRoute;
use message_center::store::schema::{
    TableSpec, SESSIONS_TABLE, SESSIONS_TTL_ATTRIBUTE, TOKENS_TABLE, TOKENS_TTL_ATTRIBUTE,
};
use serde_norway::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).expect("template.yaml is YAML")
}

fn resource<'a>(template: &'a Value, id: &str) -> &'a Value {
    let found = &template["Resources"][id];
    assert!(!found.is_null(), "template.yaml has no resource {id}");
    found
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, found {value:?}"))
        .to_owned()
}

fn key_pair(schema: &Value) -> (String, Option<String>) {
    let keys = schema.as_sequence().expect("KeySchema is a list");
    let of = |kind: &str| {
        keys.iter()
            .find(|k| k["KeyType"] == kind)
            .map(|k| text(&k["AttributeName"]))
    };
    (of("HASH").expect("a HASH key"), of("RANGE"))
}

fn assert_table_mirrors(template: &Value, id: &str, spec: &TableSpec) {
    let properties = &resource(template, id)["Properties"];
    assert_eq!(properties["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(properties["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(
        key_pair(&properties["KeySchema"]),
        (spec.partition_key.to_owned(), spec.sort_key.map(str::to_owned)),
        "{id} key"
    );

    let attributes: BTreeSet<(String, String)> = properties["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| (text(&a["AttributeName"]), text(&a["AttributeType"])))
        .collect();
    let expected: BTreeSet<(String, String)> = spec
        .attributes
        .iter()
        .map(|(name, number)| (name.to_string(), if *number { "N" } else { "S" }.to_owned()))
        .collect();
    assert_eq!(attributes, expected, "{id} attribute definitions");

    let indexes: BTreeSet<(String, String, String, String)> = properties["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|index| {
            let (hash, range) = key_pair(&index["KeySchema"]);
            (
                text(&index["IndexName"]),
                hash,
                range.unwrap_or_default(),
                text(&index["Projection"]["ProjectionType"]),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String, String, String)> = spec
        .indexes
        .iter()
        .map(|(name, hash, range)| (name.to_string(), hash.to_string(), range.to_string(), "ALL".to_owned()))
        .collect();
    assert_eq!(indexes, expected, "{id} indexes");
}

#[test]
fn tables_mirror_the_store_schema() {
    let template = template();
    assert_table_mirrors(&template, "SessionsTable", &SESSIONS_TABLE);
    assert_table_mirrors(&template, "TokensTable", &TOKENS_TABLE);
    for (table, attribute) in [
        ("TokensTable", TOKENS_TTL_ATTRIBUTE),
        ("SessionsTable", SESSIONS_TTL_ATTRIBUTE),
    ] {
        let ttl = &resource(&template, table)["Properties"]["TimeToLiveSpecification"];
        assert_eq!(
            (ttl["AttributeName"].as_str(), ttl["Enabled"].as_bool()),
            (Some(attribute), Some(true)),
            "{table}"
        );
    }
}

/// `(binary, events)` of every function resource.
fn functions(template: &Value) -> Vec<(String, Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .map(|r| {
            assert_eq!(r["Metadata"]["BuildMethod"], "rust-cargolambda");
            (
                text(&r["Metadata"]["BuildProperties"]["Binary"]),
                r["Properties"]["Events"].clone(),
            )
        })
        .collect()
}

#[test]
fn every_function_crate_is_deployed_and_every_deployed_binary_exists() {
    let template = template();
    let deployed: BTreeSet<String> = functions(&template).into_iter().map(|(binary, _)| binary).collect();
    let crates: BTreeSet<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(deployed, crates);
}

#[test]
fn every_http_endpoint_is_routed_to_its_function() {
    let template = template();
    let routes: BTreeSet<(String, String)> = functions(&template)
        .into_iter()
        .flat_map(|(binary, events)| {
            events
                .as_mapping()
                .map(|m| m.values().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .filter(|event| event["Type"] == "HttpApi")
                .map(move |event| {
                    let properties = &event["Properties"];
                    (
                        binary.clone(),
                        format!("{} {}", text(&properties["Method"]), text(&properties["Path"])),
                    )
                })
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("online-list", Endpoint::List),
        ("online-search", Endpoint::Search),
        ("online-detail", Endpoint::Detail),
        ("online-off", Endpoint::Offline),
    ]
    .into_iter()
    .map(|(binary, endpoint)| (binary.to_owned(), endpoint.route().to_owned()))
    .collect();
    assert_eq!(routes, expected);
}

/// The first logical id a `!Sub "...${Name}..."` (or `${Name.Arn}`) refers to, past pseudo
/// parameters such as `${AWS::Region}`.
fn sub_reference(value: &Value) -> String {
    let Value::Tagged(tagged) = value else {
        panic!("expected !Sub, found {value:?}")
    };
    text(&tagged.value)
        .split("${")
        .skip(1)
        .map(|rest| rest[..rest.find(['}', '.']).unwrap()].to_owned())
        .find(|name| !name.starts_with("AWS::"))
        .expect("a reference to a resource")
}

fn ref_of(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => text(&tagged.value),
        other => panic!("expected !Ref, found {other:?}"),
    }
}

#[test]
fn every_websocket_route_reaches_its_function_and_may_invoke_it() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let of_type = |kind: &'static str| resources.iter().filter(move |(_, r)| r["Type"] == kind);
    let binary_of = |function: &str| text(&resource(&template, function)["Metadata"]["BuildProperties"]["Binary"]);

    let routes: BTreeSet<(String, String)> = of_type("AWS::ApiGatewayV2::Route")
        .map(|(_, route)| {
            let properties = &route["Properties"];
            let integration = sub_reference(&properties["Target"]);
            let function = sub_reference(&resource(&template, &integration)["Properties"]["IntegrationUri"]);
            (text(&properties["RouteKey"]), binary_of(&function))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        (WsRoute::Connect, "ws-connect"),
        (WsRoute::Disconnect, "ws-disconnect"),
        (WsRoute::Default, "ws-default"),
    ]
    .into_iter()
    .map(|(route, binary)| (route.key().to_owned(), binary.to_owned()))
    .collect();
    assert_eq!(routes, expected);

    let invokable: BTreeSet<String> = of_type("AWS::Lambda::Permission")
        .filter(|(_, p)| p["Properties"]["Principal"] == "apigateway.amazonaws.com")
        .map(|(_, p)| binary_of(&ref_of(&p["Properties"]["FunctionName"])))
        .collect();
    assert_eq!(invokable, expected.into_iter().map(|(_, binary)| binary).collect());
}

#[test]
fn every_function_has_an_event_fixture() {
    for (binary, _) in functions(&template()) {
        assert!(
            !message_center_tests::events::fixtures_of(&binary).is_empty(),
            "events/{binary}.json is missing"
        );
    }
}

#[test]
fn the_cleanup_runs_on_its_schedule_with_its_settings() {
    let template = template();
    let cleanup = resource(&template, "OnlineCleanupFunction");
    assert_eq!(cleanup["Metadata"]["BuildProperties"]["Binary"], "online-cleanup");
    let schedule = &cleanup["Properties"]["Events"]["Schedule"];
    assert_eq!(schedule["Type"], "Schedule");
    assert_eq!(ref_of(&schedule["Properties"]["Schedule"]), "CleanupSchedule");
    assert_eq!(template["Parameters"]["CleanupSchedule"]["Default"], "rate(5 minutes)");
    let variables = &cleanup["Properties"]["Environment"]["Variables"];
    assert_eq!(ref_of(&variables["STALE_AFTER_SECONDS"]), "StaleAfterSeconds");
    assert_eq!(ref_of(&variables["RETENTION_DAYS"]), "RetentionDays");
    assert_eq!(template["Parameters"]["StaleAfterSeconds"]["Default"], 600);
    assert_eq!(template["Parameters"]["RetentionDays"]["Default"], 30);
}

#[test]
fn list_and_search_sign_page_tokens_with_one_generated_key() {
    let template = template();
    let secret = resource(&template, "PageTokenSecret");
    assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
    assert!(secret["Properties"]["GenerateSecretString"]["PasswordLength"].as_u64() >= Some(32));
    for function in ["OnlineListFunction", "OnlineSearchFunction"] {
        let key = &resource(&template, function)["Properties"]["Environment"]["Variables"]["PAGE_TOKEN_KEY"];
        match key {
            Value::Tagged(tagged) if tagged.tag == "Sub" => assert_eq!(
                text(&tagged.value),
                "{{resolve:secretsmanager:${PageTokenSecret}:SecretString}}",
                "{function}"
            ),
            other => panic!("{function}: PAGE_TOKEN_KEY should be a !Sub of the secret, found {other:?}"),
        }
    }
}
