//! `local-api`: runs the whole service on 127.0.0.1 (see `--help`).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use std::time::Duration;

use local_api::presence::{Feed, StreamReader};
use local_api::{demo, CleanupSchedule, Options};
use message_center::domain::{token_file, Timestamp};
use message_center::http::cors::CorsPolicy;
use message_center::http::BASE_PATH;
use message_center::lambda::aws::{
    dynamodb_endpoint_from_env, event_bus_from_env, sdk_config_from_env, tables_from_env,
};
use message_center::service::cleanup::CleanupSettings;
use message_center::store::dynamo::schema::ensure_tables;
use message_center::store::{DynamoStore, MemoryStore, Store};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StoreKind {
    /// The embedded in-memory store: nothing to install, gone at exit.
    Memory,
    /// DynamoDB from the normal AWS configuration; `DYNAMODB_ENDPOINT` points it at a local server.
    Dynamodb,
}

/// Message Center Online, the whole service in one local process.
#[derive(Parser, Debug)]
#[command(name = "local-api", version)]
struct Args {
    /// Port on 127.0.0.1.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    /// Where state is kept.
    #[arg(long, env = "LOCAL_API_STORE", value_enum, default_value = "memory")]
    store: StoreKind,
    /// Start with no demo data and no demo tokens.
    #[arg(long, env = "LOCAL_API_NO_DEMO")]
    no_demo: bool,
    /// Seconds between the demo clients' comings and goings (a demo user comes online on another
    /// device, or a demo session goes offline), which an open admin console shows live; the demo's
    /// online sessions also heartbeat, so they stay online. 0 turns the demo clients off (the demo
    /// data as seeded, its online sessions ended as stale by the cleanup after 10 minutes).
    #[arg(long, env = "LOCAL_API_DEMO_ACTIVITY_SECONDS", default_value_t = 20)]
    demo_activity_every: u64,
    /// Seconds between cleanup runs (stale sessions, retention, expired tokens); 0 turns it off.
    #[arg(long, env = "CLEANUP_EVERY_SECONDS", default_value_t = 300)]
    cleanup_every: u64,
    /// Seconds without a heartbeat after which a session is stale.
    #[arg(long, env = "STALE_AFTER_SECONDS", default_value_t = 600)]
    stale_after: i64,
    /// Days an ended session is kept.
    #[arg(long, env = "RETENTION_DAYS", default_value_t = 30)]
    retention_days: i64,
    /// Token records to load: a JSON array of {token, userId, tenantId, fullName, avatar?, permissions, platform, expiresAt?}.
    #[arg(long, env = "LOCAL_API_TOKENS")]
    tokens: Option<PathBuf>,
    /// Origins a browser may call the HTTP API from (CORS), comma-separated, e.g.
    /// `http://localhost:5173,https://app.example.com`; none by default (a page served by the API
    /// itself is the same origin and needs none).
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", default_value = "", hide_default_value = true, value_parser = CorsPolicy::from_list)]
    cors_allowed_origins: CorsPolicy,
    /// Create the tables, load the demo data and any --tokens, then exit without serving: seeds a
    /// DynamoDB-protocol server for the function binaries (tests/lambda_emulator.sh).
    #[arg(long)]
    seed_only: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    message_center::lambda::telemetry::init();

    let sdk = sdk_config_from_env("local-api");
    let (store, feed): (Arc<dyn Store>, Feed) = match args.store {
        StoreKind::Memory => {
            let store = MemoryStore::new();
            let feed = Feed::of_memory(&store);
            (Arc::new(store), feed)
        }
        StoreKind::Dynamodb => {
            let store = DynamoStore::from_config(&sdk, tables_from_env(), dynamodb_endpoint_from_env());
            ensure_tables(store.client(), store.tables()).await?;
            let feed = if args.seed_only {
                Feed::None
            } else {
                let reader = StreamReader::open(
                    &sdk,
                    store.client(),
                    &store.tables().sessions,
                    dynamodb_endpoint_from_env(),
                )
                .await
                .map_err(|e| e.to_string())?;
                Feed::Stream(reader)
            };
            (Arc::new(store), feed)
        }
    };
    if let Some(path) = &args.tokens {
        // The format `mco-tokens put` reads too (`message_center::domain::token_file`).
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let records = token_file::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for record in &records {
            store.put_token(record).await?;
        }
        println!("loaded {} tokens from {}", records.len(), path.display());
    }
    if !args.no_demo {
        demo::seed(store.as_ref(), Timestamp::now()).await?;
    }
    if args.seed_only {
        println!("seeded; not serving (--seed-only)");
        return Ok(());
    }

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let address = listener.local_addr()?;
    if !args.no_demo {
        println!("demo tokens:");
        for token in demo::tokens() {
            println!("  {:<26} {}", token.token, token.role);
        }
        if args.demo_activity_every > 0 {
            println!(
                "demo clients: every {} s a demo user comes online or goes offline (--demo-activity-every 0: off)",
                args.demo_activity_every
            );
        }
        println!("try:\n  curl -s -H 'Authorization: Bearer demo-admin-tenant-1' 'http://{address}{BASE_PATH}?online=true&pageSize=5'");
    }
    println!("WebSocket: ws://{address}/ws?token=<token>&deviceId=<device>");
    println!("listening on http://{address}");
    println!(
        "admin console: http://{address}/ (sign in with a token{})",
        if args.no_demo {
            ""
        } else {
            ", e.g. demo-platform-operator"
        }
    );
    let cleanup = (args.cleanup_every > 0).then(|| CleanupSchedule {
        every: Duration::from_secs(args.cleanup_every),
        settings: CleanupSettings {
            stale_after_secs: args.stale_after.max(1),
            retention_days: args.retention_days.max(1),
            ..CleanupSettings::default()
        },
    });
    let options = Options {
        cleanup,
        cors: args.cors_allowed_origins,
        feed,
        bus: event_bus_from_env(&sdk),
    };
    if !args.no_demo && args.demo_activity_every > 0 {
        tokio::spawn(demo::run_clients(
            store.clone(),
            Duration::from_secs(args.demo_activity_every),
            demo::DEMO_HEARTBEAT,
        ));
    }
    local_api::serve_with(listener, store, options, shutdown_signal()).await?;
    println!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CORS_ALLOWED_ORIGINS`, or the flag over it, is the policy the API serves with; a list
    /// that is not origins stops the start. The only test here that reads the environment.
    #[test]
    fn the_allowed_origins_come_from_the_variable_or_the_flag() {
        std::env::remove_var("CORS_ALLOWED_ORIGINS");
        assert!(Args::try_parse_from(["local-api"])
            .unwrap()
            .cors_allowed_origins
            .is_empty());

        std::env::set_var(
            "CORS_ALLOWED_ORIGINS",
            " http://localhost:5173 , https://app.example.com",
        );
        let policy = Args::try_parse_from(["local-api"]).unwrap().cors_allowed_origins;
        assert!(policy.allows("http://localhost:5173") && policy.allows("https://app.example.com"));
        assert_eq!(policy, CorsPolicy::from_env().unwrap());

        let flag = Args::try_parse_from(["local-api", "--cors-allowed-origins", "https://other.example"])
            .unwrap()
            .cors_allowed_origins;
        assert!(flag.allows("https://other.example") && !flag.allows("http://localhost:5173"));

        std::env::set_var("CORS_ALLOWED_ORIGINS", "*");
        let error = Args::try_parse_from(["local-api"]).unwrap_err().to_string();
        assert!(error.contains("a wildcard is not supported"), "{error}");
        std::env::remove_var("CORS_ALLOWED_ORIGINS");
    }
}
