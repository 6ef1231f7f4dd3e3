//! The AWS SDK configuration every function shares, built from the environment Lambda gives a
//! function: region (`AWS_REGION`), credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`) and, for a local DynamoDB-protocol server, an endpoint.
//!
//! Why not `aws_config::load_from_env()`: its default chain links every credential source (SSO,
//! STS web identity, ECS, the instance-metadata service, profile files) into every binary, and
//! its default HTTPS client brings rustls on aws-lc; Lambda needs neither. Here the credentials
//! come from the environment only and HTTPS is rustls on ring: together ~3 MB less per binary.
//! Nothing here makes a network call: clients connect on their first request.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::{AppName, BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::gateway::{EventBridgeBus, EventBus, NoEventBus};
use crate::store::dynamo::schema::TableNames;
use crate::store::DynamoStore;

/// The HTTP client every SDK client uses: HTTPS through rustls on ring (plain HTTP too, for a
/// local server).
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The region, from `AWS_REGION` (set by Lambda) or `AWS_DEFAULT_REGION`.
fn region_from_env() -> Option<Region> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .map(Region::new)
}

/// The shared configuration: region and credentials from the environment, standard retries (3
/// attempts with backoff, throttling included), the HTTPS client above. `app_name` (the function's
/// binary name, such as `ws-connect`) goes into every request's user agent as `app/<name>`: in
/// CloudTrail and in the test runs' traces, it says which function made a call.
pub fn sdk_config_from_env(app_name: &'static str) -> SdkConfig {
    SdkConfig::builder()
        .app_name(AppName::new(app_name).expect("a function name is a valid app name"))
        .behavior_version(BehaviorVersion::latest())
        .region(region_from_env())
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .retry_config(RetryConfig::standard())
        .http_client(http_client())
        .build()
}

/// The DynamoDB endpoint to use instead of AWS's: `DYNAMODB_ENDPOINT`, else the SDK's own
/// `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL`.
pub fn dynamodb_endpoint_from_env() -> Option<String> {
    ["DYNAMODB_ENDPOINT", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// The event bus presence events go to: `EVENT_BUS_NAME` (a name or ARN; the template sets the
/// account's `default` bus), at `EVENTBRIDGE_ENDPOINT` (or the SDK's `AWS_ENDPOINT_URL_EVENTBRIDGE`)
/// for a local server; without a name, no bus.
pub fn event_bus_from_env(config: &SdkConfig) -> std::sync::Arc<dyn EventBus> {
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    };
    match var(&["EVENT_BUS_NAME"]) {
        Some(bus) => std::sync::Arc::new(EventBridgeBus::new(
            config,
            &bus,
            var(&[
                "EVENTBRIDGE_ENDPOINT",
                "AWS_ENDPOINT_URL_EVENTBRIDGE",
                "AWS_ENDPOINT_URL",
            ]),
        )),
        None => std::sync::Arc::new(NoEventBus),
    }
}

/// The tables' names: `SESSIONS_TABLE`, `TOKENS_TABLE` and `AUDIT_TABLE` (set by the template), else the
/// defaults the local tools use.
pub fn tables_from_env() -> TableNames {
    let var = |name: &str, default: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.into())
    };
    TableNames {
        sessions: var("SESSIONS_TABLE", TableNames::DEFAULT_SESSIONS),
        tokens: var("TOKENS_TABLE", TableNames::DEFAULT_TOKENS),
        audit: var("AUDIT_TABLE", TableNames::DEFAULT_AUDIT),
    }
}

/// [`DynamoStore::from_config`] with everything from the environment, for the program
/// `app_name` (the local API, the benchmarks, tools).
pub fn dynamo_store_from_env(app_name: &'static str) -> DynamoStore {
    DynamoStore::from_config(
        &sdk_config_from_env(app_name),
        tables_from_env(),
        dynamodb_endpoint_from_env(),
    )
}
