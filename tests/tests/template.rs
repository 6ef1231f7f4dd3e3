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

// ---- Deploy readiness ----

/// The value under `!tag`, if `value` is one.
fn tagged<'a>(value: &'a Value, tag: &str) -> Option<&'a Value> {
    match value {
        Value::Tagged(tagged) if tagged.tag == tag => Some(&tagged.value),
        _ => None,
    }
}

/// `(logical id, resource)` of every resource of `kind`.
fn resources_of<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (text(id), r))
        .collect()
}

/// A function's property, or the `Globals` one it inherits.
fn function_property<'a>(template: &'a Value, function: &'a Value, name: &str) -> &'a Value {
    match &function["Properties"][name] {
        Value::Null => &template["Globals"]["Function"][name],
        own => own,
    }
}

/// `!If [condition, then, !Ref AWS::NoValue]`: `(condition, then)`.
fn if_or_nothing(value: &Value) -> Option<(String, &Value)> {
    let branches = tagged(value, "If")?.as_sequence()?;
    let [condition, then, otherwise] = branches.as_slice() else {
        return None;
    };
    (tagged(otherwise, "Ref")? == "AWS::NoValue").then(|| (text(condition), then))
}

#[test]
fn http_functions_answer_before_the_http_api_cuts_them_off() {
    // API Gateway HTTP APIs end an integration at 30 s.
    let template = template();
    let mut http = Vec::new();
    for (id, function) in resources_of(&template, "AWS::Serverless::Function") {
        let events = function["Properties"]["Events"]
            .as_mapping()
            .map(|m| m.values().cloned().collect::<Vec<_>>());
        if !events.unwrap_or_default().iter().any(|e| e["Type"] == "HttpApi") {
            continue;
        }
        let timeout = function_property(&template, function, "Timeout")
            .as_u64()
            .unwrap_or_else(|| panic!("{id}: Timeout"));
        assert!(timeout <= 29, "{id}: Timeout {timeout} s outlives the HTTP API's 30 s");
        http.push(id);
    }
    assert_eq!(http.len(), 4, "{http:?}");

    let off = resource(&template, "OnlineOffFunction");
    let budget: u64 = text(&off["Properties"]["Environment"]["Variables"]["OFFLINE_TIME_BUDGET_SECONDS"])
        .parse()
        .expect("OFFLINE_TIME_BUDGET_SECONDS is a number of seconds");
    let timeout = function_property(&template, off, "Timeout").as_u64().unwrap();
    assert!(
        budget < timeout,
        "the forced offline's budget {budget} s must end before its timeout {timeout} s"
    );
}

#[test]
fn no_function_reserves_concurrency_unconditionally() {
    // An account whose concurrency quota is 10 cannot reserve any: a reservation is opt-in.
    let template = template();
    let conditions = &template["Conditions"];
    for kind in ["AWS::Serverless::Function", "AWS::Lambda::Function"] {
        for (id, function) in resources_of(&template, kind) {
            let reserved = function_property(&template, function, "ReservedConcurrentExecutions");
            if reserved.is_null() {
                continue;
            }
            let (condition, _) = if_or_nothing(reserved).unwrap_or_else(|| {
                panic!("{id}: ReservedConcurrentExecutions must be !If [cond, n, !Ref AWS::NoValue]")
            });
            assert!(
                !conditions[condition.as_str()].is_null(),
                "{id}: no condition {condition}"
            );
        }
    }

    let cleanup = &resource(&template, "OnlineCleanupFunction")["Properties"]["ReservedConcurrentExecutions"];
    let (condition, then) = if_or_nothing(cleanup).expect("the cleanup's reservation is conditional");
    assert_eq!(condition, "HasCleanupReservedConcurrency");
    assert_eq!(ref_of(then), "CleanupReservedConcurrency");
    let parameter = &template["Parameters"]["CleanupReservedConcurrency"];
    assert_eq!(
        (parameter["Type"].as_str(), parameter["Default"].as_u64()),
        (Some("Number"), Some(0))
    );
    // The condition holds only for a non-zero parameter.
    let not = tagged(&conditions["HasCleanupReservedConcurrency"], "Not").expect("!Not [!Equals [...]]");
    let equals = tagged(&not[0], "Equals").expect("!Equals").as_sequence().unwrap();
    assert_eq!(ref_of(&equals[0]), "CleanupReservedConcurrency");
    assert!(equals[1] == "0" || equals[1] == 0, "{:?}", equals[1]);
}

/// Every value written `Architecture=<value>` (quotes and TOML escapes aside) in `text`.
fn architecture_overrides(text: &str) -> Vec<String> {
    text.split("Architecture=")
        .skip(1)
        .map(|rest| {
            rest.trim_start_matches(['\\', '"', '\''])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn one_architecture_for_the_template_samconfig_and_readme() {
    let template = template();
    let parameter = &template["Parameters"]["Architecture"];
    let default = text(&parameter["Default"]);
    // This build machine is x86_64 and cannot install an aarch64 Rust std; arm64 stays allowed.
    assert_eq!(default, "x86_64");
    let allowed: BTreeSet<String> = parameter["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    assert_eq!(allowed, BTreeSet::from(["x86_64".to_owned(), "arm64".to_owned()]));
    let architectures = template["Globals"]["Function"]["Architectures"].as_sequence().unwrap();
    assert_eq!(architectures.len(), 1);
    assert_eq!(ref_of(&architectures[0]), "Architecture");

    for file in ["samconfig.toml", "README.md"] {
        let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
        let overrides = architecture_overrides(&std::fs::read_to_string(path).unwrap());
        assert!(!overrides.is_empty(), "{file} names no Architecture= override");
        for value in overrides {
            assert_eq!(
                value, default,
                "{file}: Architecture={value} but the template's default is {default}"
            );
        }
    }
}

#[test]
fn every_function_logs_to_its_own_group_with_a_retention() {
    let template = template();
    let retention = &template["Parameters"]["LogRetentionDays"];
    assert_eq!(
        (retention["Type"].as_str(), retention["Default"].as_u64()),
        (Some("Number"), Some(30))
    );
    let groups = resources_of(&template, "AWS::Logs::LogGroup");
    let mut used = BTreeSet::new();
    for (id, function) in resources_of(&template, "AWS::Serverless::Function") {
        // Either LoggingConfig names the group, or the group has Lambda's default name.
        let group = match &function["Properties"]["LoggingConfig"]["LogGroup"] {
            Value::Null => groups
                .iter()
                .find(|(_, g)| {
                    tagged(&g["Properties"]["LogGroupName"], "Sub").map(text) == Some(format!("/aws/lambda/${{{id}}}"))
                })
                .map(|(group, _)| group.clone())
                .unwrap_or_else(|| panic!("{id}: no log group")),
            named => ref_of(named),
        };
        let properties = &resource(&template, &group)["Properties"];
        assert_eq!(
            resource(&template, &group)["Type"],
            "AWS::Logs::LogGroup",
            "{id}: {group}"
        );
        assert_eq!(
            ref_of(&properties["RetentionInDays"]),
            "LogRetentionDays",
            "{id}: {group}"
        );
        assert!(used.insert(group.clone()), "{group} serves two functions");
    }
}

#[test]
fn cors_answers_only_the_configured_origins() {
    let template = template();
    let parameter = &template["Parameters"]["CorsAllowedOrigins"];
    assert_eq!(parameter["Type"], "CommaDelimitedList");
    assert_eq!(parameter["Default"], "", "no CORS by default");

    // The condition: the list is not empty.
    let not = tagged(&template["Conditions"]["HasCorsAllowedOrigins"], "Not").expect("!Not [!Equals [...]]");
    let equals = tagged(&not[0], "Equals").unwrap().as_sequence().unwrap();
    let join = tagged(&equals[0], "Join").unwrap().as_sequence().unwrap();
    assert_eq!(ref_of(&join[1]), "CorsAllowedOrigins");
    assert_eq!(equals[1], "");

    let cors = &resource(&template, "HttpApi")["Properties"]["CorsConfiguration"];
    let (condition, cors) = if_or_nothing(cors).expect("CorsConfiguration only when origins are configured");
    assert_eq!(condition, "HasCorsAllowedOrigins");
    assert_eq!(ref_of(&cors["AllowOrigins"]), "CorsAllowedOrigins");
    let set = |v: &Value| -> BTreeSet<String> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|x| text(x).to_lowercase())
            .collect()
    };
    assert_eq!(
        set(&cors["AllowMethods"]),
        BTreeSet::from(["get", "post", "options"].map(str::to_owned))
    );
    assert_eq!(
        set(&cors["AllowHeaders"]),
        BTreeSet::from(["authorization", "content-type"].map(str::to_owned))
    );
    assert_eq!(cors["MaxAge"], 600);
    assert!(cors["AllowCredentials"].is_null() || cors["AllowCredentials"] == false);

    // The code sees the same list.
    let variable = &template["Globals"]["Function"]["Environment"]["Variables"]["CORS_ALLOWED_ORIGINS"];
    let join = tagged(variable, "Join").expect("CORS_ALLOWED_ORIGINS: !Join [\",\", !Ref CorsAllowedOrigins]");
    assert_eq!(join[0], ",");
    assert_eq!(ref_of(&join[1]), "CorsAllowedOrigins");
}

/// A statement resource in the symbolic form the expected trace uses: `SessionsTable`,
/// `SessionsTable/index/byUser`, or `connections` for the WebSocket stage's connections.
fn symbolic_resource(value: &Value) -> String {
    if let Some(target) = tagged(value, "GetAtt") {
        return text(target)
            .strip_suffix(".Arn")
            .expect("!GetAtt <table>.Arn")
            .to_owned();
    }
    let sub = text(tagged(value, "Sub").unwrap_or_else(|| panic!("a resource is !GetAtt or !Sub, found {value:?}")));
    if sub == "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${WebSocketStageName}/*/@connections/*" {
        return "connections".to_owned();
    }
    let (table, index) = sub
        .strip_prefix("${")
        .and_then(|rest| rest.split_once(".Arn}/index/"))
        .unwrap_or_else(|| panic!("unexpected resource {sub}"));
    assert!(!index.contains(['*', '?']), "{sub}: name each index");
    format!("{table}/index/{index}")
}

fn one_or_many(value: &Value) -> Vec<&Value> {
    match value.as_sequence() {
        Some(values) => values.iter().collect(),
        None => vec![value],
    }
}

#[test]
fn function_roles_grant_exactly_the_expected_trace() {
    // tests/iam_expected_trace.jsonl: the calls each function makes (tests/iam_check.py checks
    // the template against real traces with IAM's semantics; this keeps the two in step).
    let template = template();
    let mut granted = BTreeSet::new();
    for (id, function) in resources_of(&template, "AWS::Serverless::Function") {
        let binary = text(&function["Metadata"]["BuildProperties"]["Binary"]);
        for policy in function["Properties"]["Policies"].as_sequence().unwrap_or(&Vec::new()) {
            let keys: Vec<String> = policy
                .as_mapping()
                .map(|m| m.keys().map(text).collect())
                .unwrap_or_default();
            assert_eq!(
                keys,
                ["Statement"],
                "{id}: only explicit statements (no policy templates or managed policies)"
            );
            for statement in policy["Statement"].as_sequence().unwrap() {
                assert_eq!(statement["Effect"], "Allow", "{id}");
                assert!(statement["Condition"].is_null(), "{id}");
                for action in one_or_many(&statement["Action"]) {
                    let action = text(action);
                    assert!(!action.contains(['*', '?']), "{id}: {action}: name each action");
                    for resource in one_or_many(&statement["Resource"]) {
                        granted.insert((binary.clone(), action.clone(), symbolic_resource(resource)));
                    }
                }
            }
        }
    }

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/iam_expected_trace.jsonl");
    let expected: BTreeSet<(String, String, String)> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let field = |name: &str| entry[name].as_str().map(str::to_owned);
            let resource = match field("table") {
                None => "connections".to_owned(),
                Some(table) => {
                    let logical = if table.ends_with("-sessions") {
                        "SessionsTable"
                    } else if table.ends_with("-tokens") {
                        "TokensTable"
                    } else {
                        panic!("{line}: unknown table")
                    };
                    match field("index") {
                        Some(index) => format!("{logical}/index/{index}"),
                        None => logical.to_owned(),
                    }
                }
            };
            (field("principal").unwrap(), field("action").unwrap(), resource)
        })
        .collect();

    let missing: Vec<_> = expected.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not granted: {missing:#?}\ngranted, not expected: {extra:#?}"
    );

    // The grant whose absence denied every $connect: its transaction's token check.
    assert!(granted.contains(&(
        "ws-connect".to_owned(),
        "dynamodb:ConditionCheckItem".to_owned(),
        "TokensTable".to_owned()
    )));
}
