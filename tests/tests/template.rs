//! `template.yaml` against the code: the tables mirror `store::schema`, every function crate is
//! deployed, and every HTTP route the handlers serve is routed by API Gateway.

use std::collections::BTreeSet;

use message_center::http::Endpoint;
use message_center::lambda::runtime::CONSOLE_ROUTES;
use message_center::store::dynamo::schema::{
    TableSpec, AUDIT_TABLE, AUDIT_TTL_ATTRIBUTE, SESSIONS_TABLE, SESSIONS_TTL_ATTRIBUTE, TOKENS_TABLE,
    TOKENS_TTL_ATTRIBUTE,
};
use message_center::ws::WsRoute;
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

    let stream = properties["StreamSpecification"]["StreamViewType"].as_str();
    let expected = spec.stream.then_some("NEW_AND_OLD_IMAGES");
    assert_eq!(stream, expected, "{id} stream");
}

/// The presence events read the sessions stream as the contract needs: in order per session (one
/// batch at a time per shard), only the failed records retried, failing batches halved, given up
/// to the events DLQ after bounded retries, and only session starts and ends let through
/// (`tests/stream_filter_check.py` holds the filter patterns to stream records with moto's
/// EventBridge pattern matcher).
#[test]
fn presence_events_read_the_sessions_stream_in_order_with_partial_failures() {
    let template = template();
    let function = resource(&template, "OnlineEventsFunction");
    let events = function["Properties"]["Events"].as_mapping().unwrap();
    assert_eq!(events.len(), 1, "one event source");
    let source = &function["Properties"]["Events"]["SessionsStream"];
    assert_eq!(source["Type"], "DynamoDB");
    let properties = &source["Properties"];
    assert_eq!(
        tagged(&properties["Stream"], "GetAtt").map(text).as_deref(),
        Some("SessionsTable.StreamArn")
    );
    assert_eq!(
        properties["ParallelizationFactor"].as_u64(),
        Some(1),
        "in order per shard"
    );
    assert_eq!(properties["FunctionResponseTypes"][0], "ReportBatchItemFailures");
    assert_eq!(properties["BisectBatchOnFunctionError"].as_bool(), Some(true));
    assert!(properties["MaximumRetryAttempts"]
        .as_u64()
        .is_some_and(|n| n > 0 && n <= 10));
    assert!(properties["MaximumRecordAgeInSeconds"].as_u64().is_some());
    assert_eq!(properties["DestinationConfig"]["OnFailure"]["Type"], "SQS");
    assert_eq!(
        tagged(&properties["DestinationConfig"]["OnFailure"]["Destination"], "GetAtt")
            .map(text)
            .as_deref(),
        Some("EventsDeadLetterQueue.Arn")
    );
    assert_eq!(
        properties["FilterCriteria"]["Filters"].as_sequence().map(Vec::len),
        Some(2)
    );
    let variables = &function["Properties"]["Environment"]["Variables"];
    assert_eq!(variables["EVENT_BUS_NAME"], "default");
    assert!(tagged(&variables["WEBSOCKET_MANAGEMENT_ENDPOINT"], "Sub").is_some());
}

#[test]
fn tables_mirror_the_store_schema() {
    let template = template();
    assert_table_mirrors(&template, "SessionsTable", &SESSIONS_TABLE);
    assert_table_mirrors(&template, "TokensTable", &TOKENS_TABLE);
    assert_table_mirrors(&template, "AuditTable", &AUDIT_TABLE);
    for (table, attribute) in [
        ("TokensTable", TOKENS_TTL_ATTRIBUTE),
        ("SessionsTable", SESSIONS_TTL_ATTRIBUTE),
        ("AuditTable", AUDIT_TTL_ATTRIBUTE),
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
        ("online-audit", Endpoint::Audit),
    ]
    .into_iter()
    .map(|(binary, endpoint)| (binary.to_owned(), endpoint.route().to_owned()))
    // The admin console: its page at the root and its files, on the same origin as the API.
    .chain(CONSOLE_ROUTES.map(|route| ("online-console".to_owned(), route.to_owned())))
    .collect();
    assert_eq!(routes, expected);
}

/// The admin console is served by the HTTP API itself (so page and API share one origin), told
/// where the WebSocket API is, and reads no table: its role holds nothing beyond what SAM adds
/// for its logs and traces, and it has no line in the expected trace.
#[test]
fn the_console_is_served_by_the_http_api_and_reads_no_table() {
    let template = template();
    let console = resource(&template, "OnlineConsoleFunction");
    assert_eq!(console["Metadata"]["BuildProperties"]["Binary"], "online-console");
    let properties = &console["Properties"];
    for forbidden in ["Policies", "Role", "PermissionsBoundary"] {
        assert!(
            properties[forbidden].is_null(),
            "online-console: no {forbidden}: SAM's role with its logs and X-Ray policies only"
        );
    }
    // No table named in its own properties (the Globals' table names are not grants).
    let own = serde_norway::to_string(properties).unwrap();
    for table in ["SessionsTable", "TokensTable", "AuditTable", "PageTokenSecret"] {
        assert!(!own.contains(table), "online-console names {table}: {own}");
    }

    // Its routes, on the stack's HTTP API, and nothing else invokes it.
    let events = properties["Events"].as_mapping().expect("Events");
    let routes: BTreeSet<String> = events
        .values()
        .map(|event| {
            assert_eq!(event["Type"], "HttpApi");
            assert_eq!(ref_of(&event["Properties"]["ApiId"]), "HttpApi");
            format!(
                "{} {}",
                text(&event["Properties"]["Method"]),
                text(&event["Properties"]["Path"])
            )
        })
        .collect();
    assert_eq!(routes, BTreeSet::from(CONSOLE_ROUTES.map(str::to_owned)));

    // The page finds the WebSocket API at its stage's wss URL.
    let url = tagged(&properties["Environment"]["Variables"]["WEBSOCKET_URL"], "Sub")
        .map(text)
        .expect("WEBSOCKET_URL: !Sub \"wss://${WebSocketApi}...\"");
    assert_eq!(
        url,
        "wss://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${WebSocketStageName}"
    );
    assert_eq!(
        text(tagged(&template["Outputs"]["WebSocketUrl"]["Value"], "Sub").unwrap()),
        url,
        "the URL clients are told"
    );
    // The stack says where the console is: the HTTP API's root.
    assert_eq!(
        tagged(&template["Outputs"]["ConsoleUrl"]["Value"], "Sub")
            .map(text)
            .as_deref(),
        Some("https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/")
    );

    // It makes no call a role would have to allow.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/iam_expected_trace.jsonl");
    let trace = std::fs::read_to_string(path).unwrap();
    assert!(
        !trace.contains("\"online-console\""),
        "online-console has no expected call"
    );
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
    for function in ["OnlineListFunction", "OnlineSearchFunction", "OnlineAuditFunction"] {
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
    assert_eq!(http.len(), 6, "{http:?}");

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
    if sub == "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${WebSocketStageName}/POST/@connections/*" {
        return "connections/POST".to_owned();
    }
    if let Some(bus) = sub.strip_prefix("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:") {
        return bus.to_owned();
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
            let resource = match (field("table"), field("resource"), field("method")) {
                // An EventBridge bus, by its full ARN: `event-bus/<name>`.
                (None, Some(arn), _) => arn.rsplit(':').next().unwrap_or_default().to_owned(),
                (None, None, Some(method)) => format!("connections/{method}"),
                (None, None, None) => "connections".to_owned(),
                (Some(table), _, _) => {
                    let logical = if table.ends_with("-sessions") {
                        "SessionsTable"
                    } else if table.ends_with("-tokens") {
                        "TokensTable"
                    } else if table.ends_with("-audit") {
                        "AuditTable"
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

// ---- Operations: alarms, access logs, the events DLQ ----

/// `(logical id, alarm)` of every alarm.
fn alarms(template: &Value) -> Vec<(String, &Value)> {
    resources_of(template, "AWS::CloudWatch::Alarm")
}

/// The logical id behind `!GetAtt <id>.<attribute>`.
fn get_att_of(value: &Value, attribute: &str) -> String {
    let target = text(tagged(value, "GetAtt").unwrap_or_else(|| panic!("expected !GetAtt, found {value:?}")));
    target
        .strip_suffix(&format!(".{attribute}"))
        .unwrap_or_else(|| panic!("expected !GetAtt <id>.{attribute}, found {target}"))
        .to_owned()
}

/// `(namespace, metric, dimension name, dimension value)` of a single-metric alarm or of one
/// `MetricStat` of a metric math alarm.
fn metric_of(metric: &Value) -> (String, String, String, &Value) {
    let dimensions = metric["Dimensions"].as_sequence().expect("Dimensions");
    assert_eq!(dimensions.len(), 1, "one dimension: {metric:?}");
    (
        text(&metric["Namespace"]),
        text(&metric["MetricName"]),
        text(&dimensions[0]["Name"]),
        &dimensions[0]["Value"],
    )
}

/// The single-metric alarms on `namespace`/`metric_name` whose dimension is `dimension` = `!Ref
/// target` (or `!GetAtt target.QueueName`).
fn alarms_on<'a>(template: &'a Value, namespace: &str, metric_name: &str, target: &str) -> Vec<(String, &'a Value)> {
    alarms(template)
        .into_iter()
        .filter(|(_, alarm)| {
            let properties = &alarm["Properties"];
            if properties["MetricName"].is_null() {
                return false;
            }
            let (ns, name, _, value) = metric_of(properties);
            let refers = tagged(value, "Ref").map(text).as_deref() == Some(target)
                || tagged(value, "GetAtt").map(text) == Some(format!("{target}.QueueName"));
            ns == namespace && name == metric_name && refers
        })
        .collect()
}

fn the_one<'a>(found: Vec<(String, &'a Value)>, what: &str) -> &'a Value {
    assert_eq!(
        found.len(),
        1,
        "one alarm on {what}, found {:?}",
        found.iter().map(|(id, _)| id).collect::<Vec<_>>()
    );
    found[0].1
}

#[test]
fn every_alarm_notifies_the_optional_topic() {
    let template = template();
    let parameter = &template["Parameters"]["AlarmTopicArn"];
    assert_eq!(
        (parameter["Type"].as_str(), parameter["Default"].as_str()),
        (Some("String"), Some("")),
        "no topic by default"
    );
    let not = tagged(&template["Conditions"]["HasAlarmTopic"], "Not").expect("!Not [!Equals [...]]");
    let equals = tagged(&not[0], "Equals").expect("!Equals").as_sequence().unwrap();
    assert_eq!(ref_of(&equals[0]), "AlarmTopicArn");
    assert_eq!(equals[1], "");

    let all = alarms(&template);
    // 2 per function (duration, throttles), both APIs, the cleanup's errors, the DLQ, the
    // presence events' stream age.
    assert_eq!(
        all.len(),
        2 * functions(&template).len() + 5,
        "{:?}",
        all.iter().map(|(id, _)| id).collect::<Vec<_>>()
    );
    for (id, alarm) in all {
        let properties = &alarm["Properties"];
        for actions in ["AlarmActions", "OKActions"] {
            let (condition, topics) = if_or_nothing(&properties[actions])
                .unwrap_or_else(|| panic!("{id}: {actions} must be !If [HasAlarmTopic, [...], !Ref AWS::NoValue]"));
            assert_eq!(condition, "HasAlarmTopic", "{id}: {actions}");
            let topics = topics.as_sequence().unwrap();
            assert_eq!(topics.len(), 1, "{id}: {actions}");
            assert_eq!(ref_of(&topics[0]), "AlarmTopicArn", "{id}: {actions}");
        }
        assert!(properties["InsufficientDataActions"].is_null(), "{id}");
        // A period without data is no traffic, not a fault.
        assert_eq!(properties["TreatMissingData"], "notBreaching", "{id}");
        assert!(
            properties["AlarmDescription"].as_str().is_some_and(|d| !d.is_empty()),
            "{id}"
        );
    }
}

#[test]
fn every_function_alarms_on_throttles_and_on_a_p99_near_its_timeout() {
    let template = template();
    for (id, function) in resources_of(&template, "AWS::Serverless::Function") {
        let timeout = function_property(&template, function, "Timeout").as_u64().unwrap();
        let duration = the_one(
            alarms_on(&template, "AWS/Lambda", "Duration", &id),
            &format!("{id} Duration"),
        );
        let properties = &duration["Properties"];
        assert_eq!(properties["ExtendedStatistic"], "p99", "{id}");
        assert_eq!(properties["ComparisonOperator"], "GreaterThanThreshold", "{id}");
        // 80 % of the timeout, in milliseconds.
        assert_eq!(
            properties["Threshold"].as_f64(),
            Some(timeout as f64 * 800.0),
            "{id}: timeout {timeout} s"
        );
        assert_eq!(properties["Period"], 300, "{id}");

        let throttles = the_one(
            alarms_on(&template, "AWS/Lambda", "Throttles", &id),
            &format!("{id} Throttles"),
        );
        let properties = &throttles["Properties"];
        assert_eq!(properties["Statistic"], "Sum", "{id}");
        assert_eq!(properties["ComparisonOperator"], "GreaterThanThreshold", "{id}");
        assert_eq!(properties["Threshold"].as_f64(), Some(0.0), "{id}");
    }
}

#[test]
fn the_cleanup_alarms_when_its_runs_keep_failing() {
    let template = template();
    let errors = the_one(
        alarms_on(&template, "AWS/Lambda", "Errors", "OnlineCleanupFunction"),
        "the cleanup's Errors",
    );
    let properties = &errors["Properties"];
    assert_eq!(properties["Statistic"], "Sum");
    assert_eq!(properties["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
    assert_eq!(properties["Threshold"].as_f64(), Some(1.0));
    assert_eq!(properties["EvaluationPeriods"], 2);
    assert_eq!(properties["DatapointsToAlarm"], 2);
}

/// `(errors, requests)` of a metric math alarm on an API: its `MetricStat`s by id, each on the
/// `ApiId` of `api`, and the one expression it returns.
fn api_rate_alarm(template: &Value, api: &str, errors_metric: &str) -> (Vec<(String, String)>, String) {
    let mut found = Vec::new();
    for (id, alarm) in alarms(template) {
        let Some(metrics) = alarm["Properties"]["Metrics"].as_sequence() else {
            continue;
        };
        let stats: Vec<(String, String)> = metrics
            .iter()
            .filter(|m| !m["MetricStat"].is_null())
            .map(|m| {
                let (namespace, name, dimension, value) = metric_of(&m["MetricStat"]["Metric"]);
                assert_eq!(namespace, "AWS/ApiGateway", "{id}");
                assert_eq!(dimension, "ApiId", "{id}");
                assert_eq!(m["ReturnData"], false, "{id}: only the expression is the alarm's");
                assert_eq!(m["MetricStat"]["Stat"], "Sum", "{id}");
                (text(&m["Id"]), format!("{name} {}", ref_of(value)))
            })
            .collect();
        if !stats
            .iter()
            .any(|(_, metric)| *metric == format!("{errors_metric} {api}"))
        {
            continue;
        }
        let returned: Vec<&Value> = metrics.iter().filter(|m| m["ReturnData"] != false).collect();
        assert_eq!(returned.len(), 1, "{id}: one returned expression");
        found.push((id, stats, text(&returned[0]["Expression"]), &alarm["Properties"]));
    }
    assert_eq!(found.len(), 1, "one alarm on {errors_metric} of {api}");
    let (id, stats, expression, properties) = found.remove(0);
    assert_eq!(
        properties["ComparisonOperator"], "GreaterThanOrEqualToThreshold",
        "{id}"
    );
    assert_eq!(properties["Threshold"].as_f64(), Some(5.0), "{id}: 5 %");
    for (stat_id, _) in &stats {
        assert!(
            expression.contains(stat_id.as_str()),
            "{id}: {expression} does not use {stat_id}"
        );
    }
    (stats, expression)
}

#[test]
fn both_apis_alarm_on_their_server_error_rate() {
    let template = template();
    let (stats, expression) = api_rate_alarm(&template, "HttpApi", "5xx");
    let metrics: BTreeSet<String> = stats.into_iter().map(|(_, metric)| metric).collect();
    assert_eq!(
        metrics,
        BTreeSet::from(["5xx HttpApi".to_owned(), "Count HttpApi".to_owned()])
    );
    assert!(
        expression.contains('/') && expression.contains("100"),
        "a percentage: {expression}"
    );

    // The WebSocket API has no 5xx: its execution errors, over connects and messages.
    let (stats, expression) = api_rate_alarm(&template, "WebSocketApi", "ExecutionError");
    let metrics: BTreeSet<String> = stats.into_iter().map(|(_, metric)| metric).collect();
    assert_eq!(
        metrics,
        BTreeSet::from([
            "ExecutionError WebSocketApi".to_owned(),
            "ConnectCount WebSocketApi".to_owned(),
            "MessageCount WebSocketApi".to_owned()
        ])
    );
    assert!(
        expression.contains('/') && expression.contains("100"),
        "a percentage: {expression}"
    );
}

#[test]
fn the_cleanup_schedule_dead_letters_into_the_events_dlq_which_alarms() {
    let template = template();
    let schedule = &resource(&template, "OnlineCleanupFunction")["Properties"]["Events"]["Schedule"]["Properties"];
    let dead_letters = &schedule["DeadLetterConfig"];
    assert!(
        dead_letters["Type"].is_null(),
        "the template's own queue, not one SAM makes"
    );
    let queue = get_att_of(&dead_letters["Arn"], "Arn");
    assert_eq!(queue, "EventsDeadLetterQueue");
    assert_eq!(resource(&template, &queue)["Type"], "AWS::SQS::Queue");
    // A run not delivered within the schedule's period goes to the DLQ rather than retrying for a day.
    assert!(schedule["RetryPolicy"]["MaximumEventAgeInSeconds"].as_u64() <= Some(300));

    // EventBridge may send to it, for the cleanup's rule (SAM names it <function><event>).
    let policies: Vec<_> = resources_of(&template, "AWS::SQS::QueuePolicy")
        .into_iter()
        .filter(|(_, p)| {
            p["Properties"]["Queues"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|q| ref_of(q) == queue)
        })
        .collect();
    assert_eq!(policies.len(), 1, "one policy on {queue}");
    let statements = policies[0].1["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    let sends: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Principal"]["Service"] == "events.amazonaws.com")
        .collect();
    assert_eq!(sends.len(), 1);
    let send = sends[0];
    assert_eq!(
        (send["Effect"].as_str(), send["Action"].as_str()),
        (Some("Allow"), Some("sqs:SendMessage"))
    );
    assert_eq!(get_att_of(&send["Resource"], "Arn"), queue);
    let sources: Vec<String> = one_or_many(&send["Condition"]["ArnEquals"]["aws:SourceArn"])
        .into_iter()
        .map(|s| get_att_of(s, "Arn"))
        .collect();
    assert_eq!(sources, ["OnlineCleanupFunctionSchedule"]);

    // Any message alarms.
    let alarm = the_one(
        alarms_on(&template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", &queue),
        "the events DLQ",
    );
    let properties = &alarm["Properties"];
    assert_eq!(properties["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(properties["Threshold"].as_f64(), Some(0.0));
    assert_eq!(properties["Statistic"], "Maximum");
    assert_eq!(properties["EvaluationPeriods"], 1);
}

/// The `$context` variables of an access log format, by key; every value must be exactly one
/// quoted variable (API Gateway writes `-` for one it lacks: unquoted, that is not JSON).
fn access_log_fields(settings: &Value, what: &str) -> BTreeSet<(String, String)> {
    let format: serde_json::Value = serde_json::from_str(&text(&settings["Format"]))
        .unwrap_or_else(|e| panic!("{what}: the access log format is not JSON: {e}"));
    format
        .as_object()
        .unwrap_or_else(|| panic!("{what}: a JSON object"))
        .iter()
        .map(|(key, value)| {
            let value = value
                .as_str()
                .unwrap_or_else(|| panic!("{what}: {key} is not a quoted string"));
            let variable = value
                .strip_prefix("$context.")
                .unwrap_or_else(|| panic!("{what}: {key} is {value}, not one $context variable"));
            assert!(
                variable.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'),
                "{what}: {key} is {value}"
            );
            (key.clone(), variable.to_owned())
        })
        .collect()
}

/// The log group `settings` write to, kept `LogRetentionDays`.
fn access_log_group<'a>(template: &'a Value, settings: &Value, what: &str) -> (String, &'a Value) {
    let group = get_att_of(&settings["DestinationArn"], "Arn");
    let found = resource(template, &group);
    assert_eq!(found["Type"], "AWS::Logs::LogGroup", "{what}: {group}");
    assert_eq!(
        ref_of(&found["Properties"]["RetentionInDays"]),
        "LogRetentionDays",
        "{what}: {group}"
    );
    (group, found)
}

#[test]
fn both_apis_write_json_access_logs_kept_log_retention_days() {
    let template = template();
    let common = [
        ("requestId", "requestId"),
        ("routeKey", "routeKey"),
        ("status", "status"),
        ("integrationStatus", "integration.status"),
        ("integrationLatency", "integration.latency"),
        ("integrationError", "integration.error"),
        ("error", "error.message"),
    ];

    let http = &resource(&template, "HttpApi")["Properties"]["AccessLogSettings"];
    let fields = access_log_fields(http, "HttpApi");
    for (key, variable) in common {
        assert!(
            fields.contains(&(key.to_owned(), variable.to_owned())),
            "HttpApi: no {key}: $context.{variable}"
        );
    }
    let (_, group) = access_log_group(&template, http, "HttpApi");
    assert!(
        group["Condition"].is_null(),
        "the HTTP API always logs (it needs no account role)"
    );

    let stage = resource(&template, "WebSocketStage");
    let (condition, websocket) = if_or_nothing(&stage["Properties"]["AccessLogSettings"])
        .expect("the WebSocket stage logs unless ApiGatewayLoggingRole=none");
    assert_eq!(condition, "HasWebSocketAccessLogs");
    let fields = access_log_fields(websocket, "WebSocketStage");
    for (key, variable) in common
        .into_iter()
        .chain([("connectionId", "connectionId"), ("eventType", "eventType")])
    {
        assert!(
            fields.contains(&(key.to_owned(), variable.to_owned())),
            "WebSocketStage: no {key}: $context.{variable}"
        );
    }
    let (_, group) = access_log_group(&template, websocket, "WebSocketStage");
    assert_eq!(
        group["Condition"], "HasWebSocketAccessLogs",
        "no empty group when nothing logs to it"
    );

    // Every log group of the stack, the functions' and the APIs', is kept LogRetentionDays.
    for (id, group) in resources_of(&template, "AWS::Logs::LogGroup") {
        assert_eq!(
            ref_of(&group["Properties"]["RetentionInDays"]),
            "LogRetentionDays",
            "{id}"
        );
    }
}

#[test]
fn websocket_access_logs_have_the_account_logging_role_first() {
    let template = template();
    let parameter = &template["Parameters"]["ApiGatewayLoggingRole"];
    let allowed: BTreeSet<String> = parameter["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    assert_eq!(
        allowed,
        BTreeSet::from(["create", "existing", "none"].map(str::to_owned))
    );
    // A first deploy into an account without the role works, and logs.
    assert_eq!(parameter["Default"], "create");

    let conditions = &template["Conditions"];
    let creates = tagged(&conditions["CreatesApiGatewayLoggingRole"], "Equals")
        .unwrap()
        .as_sequence()
        .unwrap();
    assert_eq!(
        (ref_of(&creates[0]), text(&creates[1])),
        ("ApiGatewayLoggingRole".to_owned(), "create".to_owned())
    );
    let not = tagged(&conditions["HasWebSocketAccessLogs"], "Not").expect("!Not [!Equals [...]]");
    let equals = tagged(&not[0], "Equals").unwrap().as_sequence().unwrap();
    assert_eq!(
        (ref_of(&equals[0]), text(&equals[1])),
        ("ApiGatewayLoggingRole".to_owned(), "none".to_owned())
    );

    // The account setting and its role: only with `create`, and kept when the stack goes (the
    // setting is the region's; a deleted role would leave it pointing at nothing).
    let account = resource(&template, "ApiGatewayAccount");
    assert_eq!(account["Type"], "AWS::ApiGateway::Account");
    let role_id = get_att_of(&account["Properties"]["CloudWatchRoleArn"], "Arn");
    let role = resource(&template, &role_id);
    assert_eq!(role["Type"], "AWS::IAM::Role");
    for (id, r) in [("ApiGatewayAccount", account), (role_id.as_str(), role)] {
        assert_eq!(r["Condition"], "CreatesApiGatewayLoggingRole", "{id}");
        assert_eq!(
            (r["DeletionPolicy"].as_str(), r["UpdateReplacePolicy"].as_str()),
            (Some("Retain"), Some("Retain")),
            "{id}"
        );
    }
    let trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    assert_eq!(trust.len(), 1);
    assert_eq!(trust[0]["Principal"]["Service"], "apigateway.amazonaws.com");
    assert_eq!(trust[0]["Action"], "sts:AssumeRole");
    let managed: Vec<String> = role["Properties"]["ManagedPolicyArns"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|arn| text(tagged(arn, "Sub").unwrap_or(arn)))
        .collect();
    assert_eq!(
        managed,
        ["arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"]
    );

    // The stage waits for the setting when the stack makes it: a reference under !If (DependsOn
    // cannot name a resource that may not exist).
    let stage = resource(&template, "WebSocketStage");
    assert!(stage["DependsOn"].is_null());
    let waits = stage["Metadata"]
        .as_mapping()
        .expect("WebSocketStage Metadata")
        .values()
        .filter_map(|value| {
            let branches = tagged(value, "If")?.as_sequence()?;
            (text(&branches[0]) == "CreatesApiGatewayLoggingRole").then(|| ref_of(&branches[1]))
        })
        .collect::<Vec<_>>();
    assert_eq!(waits, ["ApiGatewayAccount"]);
}
