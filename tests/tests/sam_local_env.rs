//! `infra/sam-local-env.json`, the `--env-vars` file of `sam local invoke` (README, "Deploying"),
//! against `template.yaml`, the local API and the README's recipe. SAM gives a function only the
//! variables its template declares (Globals merged), and takes a value for each from the file, so
//! the file names every function and, for each, exactly its declared variables; a variable the
//! file misses keeps the template's value, which SAM cannot resolve locally (a table's `!Ref` is
//! its logical id, not a table the local API created).

use std::collections::{BTreeMap, BTreeSet};

use message_center::http::cors::CorsPolicy;
use message_center::service::Config;
use message_center::store::dynamo::schema::TableNames;
use message_center_tests::events::{all_fixtures, fixtures_of};
use serde_json::Value as Json;
use serde_norway::Value as Yaml;

/// The file's path from the repository's root, as the README's recipe names it.
const ENV_FILE: &str = "infra/sam-local-env.json";

fn repo_file(path: &str) -> String {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn template() -> Yaml {
    serde_norway::from_str(&repo_file("template.yaml")).expect("template.yaml is YAML")
}

fn names_of(variables: &Yaml) -> BTreeSet<String> {
    match variables {
        Yaml::Null => BTreeSet::new(),
        Yaml::Mapping(map) => map
            .keys()
            .map(|k| k.as_str().expect("a variable name is a string").to_owned())
            .collect(),
        other => panic!("Environment.Variables is not a mapping: {other:?}"),
    }
}

/// Every `AWS::Serverless::Function` of the template: its logical id, its binary, and the names of
/// the variables it gets (Globals' and its own).
fn template_functions() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let template = template();
    let globals = names_of(&template["Globals"]["Function"]["Environment"]["Variables"]);
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
        .map(|(id, resource)| {
            let id = id.as_str().unwrap().to_owned();
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: no Metadata.BuildProperties.Binary"))
                .to_owned();
            let mut names = globals.clone();
            names.extend(names_of(&resource["Properties"]["Environment"]["Variables"]));
            (id, (binary, names))
        })
        .collect()
}

/// The file: logical id to its variables, every value a string (Lambda's environment is strings).
fn env_file() -> BTreeMap<String, BTreeMap<String, String>> {
    let file: Json = serde_json::from_str(&repo_file(ENV_FILE)).unwrap_or_else(|e| panic!("{ENV_FILE}: {e}"));
    file.as_object()
        .unwrap_or_else(|| panic!("{ENV_FILE}: an object of functions"))
        .iter()
        .map(|(id, variables)| {
            let variables = variables
                .as_object()
                .unwrap_or_else(|| panic!("{ENV_FILE}: {id} is not an object of variables"))
                .iter()
                .map(|(name, value)| {
                    let value = value
                        .as_str()
                        .unwrap_or_else(|| panic!("{ENV_FILE}: {id}.{name} is not a string: {value}"));
                    (name.clone(), value.to_owned())
                })
                .collect();
            (id.clone(), variables)
        })
        .collect()
}

/// The function each fixture is for, as `tests/emulator_scenario.json` pairs them (its binary).
fn scenario_functions() -> BTreeMap<String, String> {
    let scenario: Json = serde_json::from_str(&repo_file("tests/emulator_scenario.json")).unwrap();
    scenario["invocations"]
        .as_array()
        .expect("a list of invocations")
        .iter()
        .map(|step| {
            (
                step["event"].as_str().unwrap().to_owned(),
                step["function"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_file_gives_every_function_exactly_the_variables_the_template_declares() {
    let template = template_functions();
    let file = env_file();
    let expected: BTreeSet<&String> = template.keys().collect();
    let found: BTreeSet<&String> = file.keys().collect();
    assert_eq!(
        found, expected,
        "{ENV_FILE} names other functions than template.yaml's AWS::Serverless::Function resources"
    );
    for (id, (_, declared)) in &template {
        let given: BTreeSet<String> = file[id].keys().cloned().collect();
        let missing: Vec<&String> = declared.difference(&given).collect();
        let extra: Vec<&String> = given.difference(declared).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{ENV_FILE}: {id} misses {missing:?} (declared in template.yaml, Globals merged) and has \
             {extra:?} (not declared, so SAM would not pass them)"
        );
    }
}

/// The tables the functions look for are the ones `local-api --store dynamodb` creates and seeds
/// (it takes its names from the same variables, unset: [`TableNames`]' defaults), and every
/// function talks to the one local server.
#[test]
fn the_functions_find_the_local_apis_tables_on_one_local_server() {
    let file = env_file();
    let mut endpoints = BTreeSet::new();
    for (id, variables) in &file {
        for (name, table) in [
            ("SESSIONS_TABLE", TableNames::DEFAULT_SESSIONS),
            ("TOKENS_TABLE", TableNames::DEFAULT_TOKENS),
            ("AUDIT_TABLE", TableNames::DEFAULT_AUDIT),
        ] {
            assert_eq!(variables.get(name).map(String::as_str), Some(table), "{id}.{name}");
        }
        endpoints.insert(variables["DYNAMODB_ENDPOINT"].clone());
        // The Management API is moto's too, as under tests/lambda_emulator.sh (or none at all).
        if let Some(management) = variables.get("WEBSOCKET_MANAGEMENT_ENDPOINT") {
            assert!(
                management.is_empty() || *management == variables["DYNAMODB_ENDPOINT"],
                "{id}: WEBSOCKET_MANAGEMENT_ENDPOINT {management} is neither empty nor the local server"
            );
        }
    }
    let endpoint = endpoints.into_iter().collect::<Vec<_>>();
    assert_eq!(
        endpoint.len(),
        1,
        "one DYNAMODB_ENDPOINT for every function: {endpoint:?}"
    );
    port_of(&endpoint[0]);
}

/// `http://host.docker.internal:<port>`: the host as SAM's container sees it.
fn port_of(endpoint: &str) -> u16 {
    endpoint
        .strip_prefix("http://host.docker.internal:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("DYNAMODB_ENDPOINT {endpoint} is not http://host.docker.internal:<port>"))
}

/// Each value means what it says: the service's configuration reads the numbers as written (an
/// unreadable one would silently fall back to its default), the page-token key is one fixed key,
/// CORS and the log level parse.
#[test]
fn every_value_is_one_the_code_reads_as_written() {
    let file = env_file();
    let mut keys = BTreeSet::new();
    for (id, variables) in &file {
        let config = Config::from_vars(|name| variables.get(name).cloned());
        let number = |name: &str| variables.get(name).map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
        if let Some(days) = number("AUDIT_RETENTION_DAYS") {
            assert_eq!(config.audit_retention_days as f64, days, "{id}.AUDIT_RETENTION_DAYS");
        }
        if let Some(seconds) = number("STALE_AFTER_SECONDS") {
            assert_eq!(
                config.cleanup.stale_after_secs as f64, seconds,
                "{id}.STALE_AFTER_SECONDS"
            );
        }
        if let Some(days) = number("RETENTION_DAYS") {
            assert_eq!(config.cleanup.retention_days as f64, days, "{id}.RETENTION_DAYS");
        }
        if let Some(seconds) = number("OFFLINE_TIME_BUDGET_SECONDS") {
            assert_eq!(
                config.offline_budget.as_secs_f64(),
                seconds,
                "{id}.OFFLINE_TIME_BUDGET_SECONDS"
            );
        }
        if let Some(key) = variables.get("PAGE_TOKEN_KEY") {
            assert!(
                !key.trim().is_empty(),
                "{id}.PAGE_TOKEN_KEY is empty: a random key per container"
            );
            keys.insert(key.clone());
        }
        if let Some(origins) = variables.get("CORS_ALLOWED_ORIGINS") {
            CorsPolicy::from_list(origins).unwrap_or_else(|e| panic!("{id}.CORS_ALLOWED_ORIGINS: {e:?}"));
        }
        if let Some(level) = variables.get("LOG_LEVEL") {
            assert!(
                ["error", "warn", "info", "debug", "trace"].contains(&level.as_str()),
                "{id}.LOG_LEVEL {level}: one of the template's LogLevel values"
            );
        }
    }
    assert!(keys.len() <= 1, "one PAGE_TOKEN_KEY, as one secret per stack: {keys:?}");
}

/// Every `events/*.json` fixture is for a function the file configures: the function
/// `tests/emulator_scenario.json` pairs it with, which its name also says (`<binary>.json` or
/// `<binary>-<case>.json`).
#[test]
fn every_event_fixture_is_for_a_function_the_file_configures() {
    let binaries: BTreeMap<String, String> = template_functions()
        .into_iter()
        .map(|(id, (binary, _))| (binary, id))
        .collect();
    let file = env_file();
    let scenario = scenario_functions();
    for fixture in all_fixtures() {
        let binary = scenario
            .get(&fixture)
            .unwrap_or_else(|| panic!("events/{fixture} is not in tests/emulator_scenario.json"));
        assert!(
            fixtures_of(binary).contains(&fixture),
            "events/{fixture} is paired with {binary}, but its name is not {binary}[-<case>].json"
        );
        let id = binaries
            .get(binary)
            .unwrap_or_else(|| panic!("events/{fixture}: no function of template.yaml builds {binary}"));
        assert!(file.contains_key(id), "events/{fixture}: {id} is not in {ENV_FILE}");
    }
}

/// The `sam local invoke` commands of the README and docs/: each uses the file, a fixture of the
/// function it invokes, the host-gateway alias of `host.docker.internal`, and, in the same code
/// block, starts the server on the file's port and seeds it in the region the invoke gives SAM.
#[test]
fn the_documented_recipe_uses_the_file_and_a_fixture_of_its_function() {
    let functions = template_functions();
    let file = env_file();
    let scenario = scenario_functions();
    let port = port_of(&file.values().next().expect("functions")["DYNAMODB_ENDPOINT"]);
    let mut documents = vec!["README.md".to_owned()];
    let docs = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs")).unwrap();
    documents.extend(
        docs.map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".md"))
            .map(|name| format!("docs/{name}")),
    );
    let mut recipes = 0;
    for document in documents {
        for block in code_blocks(&repo_file(&document)) {
            let commands = block.replace("\\\n", " ");
            for command in commands.lines().filter(|line| line.contains("sam local invoke")) {
                recipes += 1;
                let words: Vec<&str> = command.split_whitespace().collect();
                let after = |flag: &str| {
                    words
                        .iter()
                        .position(|w| *w == flag)
                        .and_then(|i| words.get(i + 1))
                        .copied()
                        .unwrap_or_else(|| panic!("{document}: `{command}` has no {flag}"))
                };
                let id = after("invoke");
                let (binary, _) = functions
                    .get(id)
                    .unwrap_or_else(|| panic!("{document}: `{command}` invokes {id}, not a function"));
                let fixture = after("-e");
                let fixture = fixture
                    .strip_prefix("events/")
                    .unwrap_or_else(|| panic!("{document}: {fixture} is not an events/ fixture"));
                assert_eq!(
                    scenario.get(fixture),
                    Some(binary),
                    "{document}: events/{fixture} is not an event of {id}"
                );
                assert_eq!(after("--env-vars"), ENV_FILE, "{document}: `{command}`");
                assert_eq!(
                    after("--add-host"),
                    "host.docker.internal:host-gateway",
                    "{document}: `{command}`"
                );
                let region = after("--region");
                for needed in [
                    format!("AWS_REGION={region}"),
                    format!("-p {port}:"),
                    format!("DYNAMODB_ENDPOINT=http://127.0.0.1:{port}"),
                    "--store dynamodb".to_owned(),
                    "sam build".to_owned(),
                ] {
                    assert!(
                        block.contains(&needed),
                        "{document}: the recipe's block has no `{needed}`"
                    );
                }
            }
        }
    }
    assert!(recipes > 0, "the README shows `sam local invoke`");
}

/// The fenced code blocks of a Markdown text.
fn code_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut open: Option<String> = None;
    for line in markdown.lines() {
        match &mut open {
            None if line.trim_start().starts_with("```") => open = Some(String::new()),
            None => {}
            Some(_) if line.trim_start().starts_with("```") => blocks.push(open.take().unwrap()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}
