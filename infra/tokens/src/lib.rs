//! `mco-tokens`: the operator's way to put token records into a deployed stack's tokens table, to
//! list a user's tokens and to revoke them. Without it, the first token of a new stack would have
//! to be written by hand, and the item format (hash, permissions, expiry shard, TTL) lives only in
//! the store code; so this crate writes through that code ([`TokenStore`], [`OfflineStore`] of
//! `message_center::store`), and reads the records in the one file format the local API's
//! `--tokens` reads too ([`token_file`]). The logic is here, callable by the tests; `main.rs` only
//! parses the command line and sets the exit code.
//!
//! A raw token never leaves this crate: records carry hashes, and what is printed names a token
//! by the first [`HASH_PREFIX`] hex digits of its SHA-256.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use message_center::domain::access::{Permission, TokenHash, TokenRecord};
use message_center::domain::{token_file, StoreError, TenantId, Timestamp, UserId};
use message_center::lambda::aws::{dynamodb_endpoint_from_env, sdk_config_from_env};
use message_center::store::dynamo::schema::TableNames;
use message_center::store::{DynamoStore, OfflineStore, TokenStore, UserRef};

/// Hex digits of a token's SHA-256 that name it in the output: enough to tell an operator's
/// tokens apart, and never the token.
pub const HASH_PREFIX: usize = 12;

/// The permissions the service checks (a record may hold others; they grant nothing).
const KNOWN_PERMISSIONS: [Permission; 3] = [Permission::List, Permission::Detail, Permission::Offline];

/// Put, list and revoke token records in a deployed stack's tokens table.
#[derive(Parser, Debug)]
#[command(
    name = "mco-tokens",
    version,
    long_about = "Put, list and revoke token records in a deployed Message Center Online stack's \
        tokens table (the stack output TokensTableName), written by the service's own store code.\n\n\
        Credentials come from the environment only (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
        AWS_SESSION_TOKEN; with a profile or SSO: eval \"$(aws configure export-credentials \
        --format env)\"). DYNAMODB_ENDPOINT, AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL points \
        it at a local DynamoDB-protocol server; leave them unset for AWS.\n\n\
        A token is printed as the first 12 hex digits of its SHA-256, never raw."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Put token records from a JSON file (the local API's --tokens format) into the table.
    #[command(
        long_about = "Put token records from a JSON file into the table: the format the local \
        API's --tokens reads, an array of {\"token\", \"userId\", \"tenantId\", \"fullName\", \
        \"avatar\"?, \"permissions\"?, \"platform\"?, \"expiresAt\"?}. The whole file is checked \
        before anything is written. A record replaces the one of the same token, except a revoked \
        one: a revoked token is refused (issue a new token). Prints each record put."
    )]
    Put {
        #[command(flatten)]
        table: TableArgs,
        /// The JSON file of token records; stdin when absent or `-`.
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
    },
    /// List a user's tokens (revoked and expired ones too, until the cleanup deletes them).
    #[command(
        long_about = "List a user's tokens in a tenant: revoked and expired ones too, until \
        the cleanup deletes them. Found through the table's byUser index, which DynamoDB updates \
        a moment after a write, so a token put a second ago may be missing; the records shown \
        are read from the table itself."
    )]
    List {
        #[command(flatten)]
        table: TableArgs,
        #[command(flatten)]
        user: UserArgs,
    },
    /// Revoke every token of a user in a tenant; prints how many were revoked.
    #[command(
        long_about = "Revoke every unrevoked token of a user in a tenant, and print how many \
        this call revoked, then the user's tokens. It does not close the user's live sessions at \
        once: each ends at its next heartbeat (which finds its token revoked) or at the cleanup's \
        token sweep. To close them now, and tell the clients, use the API's forced offline \
        (POST /api/v1/message/center/online/off), which revokes the tokens too."
    )]
    Revoke {
        #[command(flatten)]
        table: TableArgs,
        #[command(flatten)]
        user: UserArgs,
    },
}

/// Which table, where.
#[derive(Args, Debug, Clone)]
pub struct TableArgs {
    /// The stack's tokens table: its TokensTableName output.
    #[arg(long, env = "TOKENS_TABLE", value_name = "NAME")]
    pub table: String,
    /// The stack's region; else AWS_REGION (or AWS_DEFAULT_REGION).
    #[arg(long, env = "AWS_REGION", value_name = "REGION")]
    pub region: Option<String>,
}

/// One user of one tenant.
#[derive(Args, Debug, Clone, Copy)]
pub struct UserArgs {
    /// The tenant id.
    #[arg(long, value_name = "ID")]
    pub tenant: TenantId,
    /// The user id.
    #[arg(long, value_name = "ID")]
    pub user: UserId,
}

impl UserArgs {
    fn user_ref(self) -> UserRef {
        UserRef {
            user_id: self.user,
            tenant_id: self.tenant,
        }
    }
}

impl Command {
    pub fn table(&self) -> &TableArgs {
        match self {
            Command::Put { table, .. } | Command::List { table, .. } | Command::Revoke { table, .. } => table,
        }
    }
}

/// Why a command failed: what to print before exiting non-zero. Never holds a raw token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// The store on the table `table` names, configured as the functions configure theirs
/// (`message_center::lambda::aws`: credentials from the environment, standard retries, the
/// endpoint from `DYNAMODB_ENDPOINT` or `AWS_ENDPOINT_URL_DYNAMODB`), in `--region` when given.
/// No network call: the client connects on its first request.
pub fn store(table: &TableArgs) -> Result<DynamoStore, Failure> {
    let mut config = sdk_config_from_env("mco-tokens");
    if let Some(region) = &table.region {
        config = config
            .to_builder()
            .region(aws_config::Region::new(region.clone()))
            .build();
    }
    if config.region().is_none() {
        return Err(Failure("no region: give --region, or set AWS_REGION".into()));
    }
    Ok(DynamoStore::from_config(
        &config,
        tables(&table.table),
        dynamodb_endpoint_from_env(),
    ))
}

/// The table names of a store that touches only the tokens table (put, list and revoke read and
/// write nothing else); the others are left empty, so that a call to them fails loudly.
pub fn tables(tokens: &str) -> TableNames {
    TableNames {
        sessions: String::new(),
        tokens: tokens.to_owned(),
        audit: String::new(),
    }
}

/// Runs `cli` against the table it names: [`store`], then [`execute`].
pub async fn run(cli: Cli, stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), Failure> {
    let store = store(cli.command.table())?;
    execute(&store, cli.command, stdin, out, err, Timestamp::now()).await
}

/// Runs `command` on `store` at `now`: records to `out`, warnings to `err`.
pub async fn execute(
    store: &(impl TokenStore + OfflineStore + ?Sized),
    command: Command,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    now: Timestamp,
) -> Result<(), Failure> {
    let table = command.table().table.clone();
    let store_failure = |what: &str, e: StoreError| Failure(describe_store_error(what, &table, e));
    match command {
        Command::Put { file, .. } => {
            let (label, text) = read_input(file.as_deref(), stdin)?;
            let records = token_file::parse(&text).map_err(|e| Failure(format!("{label}: {e}")))?;
            for (index, record) in records.iter().enumerate() {
                for warning in warnings(record, now) {
                    writeln!(err, "warning: {label}: entry {index}: {warning}").map_err(output_failure)?;
                }
            }
            let hashes: Vec<TokenHash> = records.iter().map(|r| r.hash.clone()).collect();
            let stored = store
                .tokens(&hashes)
                .await
                .map_err(|e| store_failure("reading the tokens' current records", e))?;
            if let Some((index, revoked)) = records.iter().enumerate().find_map(|(index, record)| {
                stored
                    .iter()
                    .find(|s| s.hash == record.hash && s.revoked_at.is_some())
                    .map(|s| (index, s))
            }) {
                return Err(Failure(format!(
                    "{label}: entry {index}: token {} was revoked at {} UTC; a revoked token is not put \
                     again (issue a new token). Nothing was put.",
                    prefix(&revoked.hash),
                    revoked.revoked_at.map(|at| at.to_string()).unwrap_or_default(),
                )));
            }
            for (index, record) in records.iter().enumerate() {
                store.put_token(record).await.map_err(|e| {
                    let done = match index {
                        0 => "nothing was put".to_owned(),
                        1 => "entry 0 was put".to_owned(),
                        n => format!("entries 0 to {} were put", n - 1),
                    };
                    Failure(format!(
                        "{label}: entry {index} (token {}): {}; {done}",
                        prefix(&record.hash),
                        describe_store_error("put", &table, e)
                    ))
                })?;
            }
            writeln!(out, "put {} token(s) into {table}", records.len()).map_err(output_failure)?;
            write_records(out, &records)
        }
        Command::List { user, .. } => {
            let found = store
                .user_tokens(user.user_ref())
                .await
                .map_err(|e| store_failure("list", e))?;
            if found.is_empty() {
                writeln!(
                    out,
                    "no tokens of user {} in tenant {} in {table} (one put a second ago may not be listed yet)",
                    user.user, user.tenant
                )
                .map_err(output_failure)?;
                return Ok(());
            }
            write_records(out, &found)
        }
        Command::Revoke { user, .. } => {
            let revoked = store
                .revoke_user_tokens(&[user.user_ref()], now)
                .await
                .map_err(|e| store_failure("revoke", e))?;
            writeln!(
                out,
                "revoked {revoked} token(s) of user {} in tenant {} in {table}; live sessions end at their \
                 next heartbeat (the API's forced offline closes them at once)",
                user.user, user.tenant
            )
            .map_err(output_failure)?;
            let found = store
                .user_tokens(user.user_ref())
                .await
                .map_err(|e| store_failure("list after revoke", e))?;
            write_records(out, &found)
        }
    }
}

/// The input's name for messages, and its text: the file, or stdin for none or `-`.
fn read_input(file: Option<&Path>, stdin: &mut dyn Read) -> Result<(String, String), Failure> {
    match file {
        Some(path) if path != Path::new("-") => {
            let label = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| Failure(format!("cannot read {label}: {e}")))?;
            Ok((label, text))
        }
        _ => {
            let mut text = String::new();
            stdin
                .read_to_string(&mut text)
                .map_err(|e| Failure(format!("cannot read stdin: {e}")))?;
            Ok(("stdin".into(), text))
        }
    }
}

/// What is worth saying of a record that is still put: a permission the service does not check
/// (a typo grants nothing), a token that is already expired.
fn warnings(record: &TokenRecord, now: Timestamp) -> Vec<String> {
    let known: Vec<&str> = KNOWN_PERMISSIONS.iter().map(|p| p.name()).collect();
    let mut found: Vec<String> = record
        .permissions
        .iter()
        .filter(|p| !known.contains(&p.as_str()))
        .map(|p| format!("permission `{p}` is not one the service checks ({})", known.join(", ")))
        .collect();
    if let Some(at) = record.expires_at.filter(|at| *at <= now) {
        found.push(format!(
            "expiresAt {at} UTC is past: the token is put expired, and the cleanup deletes it"
        ));
    }
    found
}

/// A token's name in the output: the first [`HASH_PREFIX`] hex digits of its SHA-256.
pub fn prefix(hash: &TokenHash) -> &str {
    let hex = hash.as_str();
    hex.get(..HASH_PREFIX).unwrap_or(hex)
}

/// A store error as the operator can act on it: a missing table names the flags to check.
fn describe_store_error(what: &str, table: &str, error: StoreError) -> String {
    let detail = error.to_string();
    if detail.contains("ResourceNotFoundException") {
        // The SDK's whole answer adds nothing to this.
        format!(
            "{what}: no table `{table}` in this region (ResourceNotFoundException): check --table, \
             the stack's TokensTableName output, and --region"
        )
    } else if detail.contains("CredentialsNotLoaded") {
        format!(
            "{what}: no AWS credentials in the environment: set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or with a profile or SSO run \
             eval \"$(aws configure export-credentials --format env)\" first"
        )
    } else {
        format!("{what}: {detail}")
    }
}

fn output_failure(error: std::io::Error) -> Failure {
    Failure(format!("cannot write the output: {error}"))
}

const COLUMNS: [&str; 8] = [
    "HASH",
    "TENANT",
    "USER",
    "FULL NAME",
    "PERMISSIONS",
    "PLATFORM",
    "EXPIRES AT (UTC)",
    "REVOKED AT (UTC)",
];

/// One row per record, in aligned columns under [`COLUMNS`].
fn write_records(out: &mut dyn Write, records: &[TokenRecord]) -> Result<(), Failure> {
    let rows: Vec<[String; 8]> = records
        .iter()
        .map(|r| {
            [
                prefix(&r.hash).to_owned(),
                r.tenant_id.to_string(),
                r.user_id.to_string(),
                r.full_name.clone(),
                if r.permissions.is_empty() {
                    "-".to_owned()
                } else {
                    r.permissions.iter().cloned().collect::<Vec<_>>().join(",")
                },
                if r.platform { "yes" } else { "no" }.to_owned(),
                r.expires_at.map_or_else(|| "never".to_owned(), |at| at.to_string()),
                r.revoked_at.map_or_else(|| "-".to_owned(), |at| at.to_string()),
            ]
        })
        .collect();
    let mut widths = COLUMNS.map(|c| c.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = COLUMNS.map(str::to_owned);
    for row in std::iter::once(&header).chain(&rows) {
        let line = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ");
        writeln!(out, "{}", line.trim_end()).map_err(output_failure)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use message_center::store::MemoryStore;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("mco-tokens").chain(args.iter().copied())).unwrap()
    }

    async fn exec(store: &MemoryStore, args: &[&str], stdin: &str) -> (Result<(), Failure>, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = execute(
            store,
            parse(args).command,
            &mut stdin.as_bytes(),
            &mut out,
            &mut err,
            Timestamp::from_secs(1_800_000_000),
        )
        .await;
        (result, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    const FILE: &str = r#"[
        {"token": "unit-secret-token-aaaa", "userId": 7, "tenantId": 1, "fullName": "Ops One",
         "permissions": ["message:center:offline", "message:center:online:lists"], "platform": true},
        {"token": "unit-secret-token-bbbb", "userId": 7, "tenantId": 1, "fullName": "Ops One",
         "expiresAt": "2020-01-01"}
    ]"#;

    #[test]
    fn the_table_and_region_come_from_flags_or_the_environment() {
        let cli = parse(&[
            "list",
            "--table",
            "t",
            "--region",
            "eu-west-1",
            "--tenant",
            "1",
            "--user",
            "7",
        ]);
        assert_eq!(cli.command.table().table, "t");
        assert_eq!(cli.command.table().region.as_deref(), Some("eu-west-1"));
        assert!(Cli::try_parse_from(["mco-tokens", "list", "--table", "t", "--tenant", "x", "--user", "7"]).is_err());
    }

    #[tokio::test]
    async fn put_then_list_then_revoke_never_printing_a_token() {
        let store = MemoryStore::new();
        let (result, out, err) = exec(&store, &["put", "--table", "t"], FILE).await;
        result.unwrap();
        assert!(out.starts_with("put 2 token(s) into t\nHASH"), "{out}");
        assert!(out.contains(prefix(&TokenHash::of("unit-secret-token-aaaa"))));
        assert!(
            err.contains("entry 0: permission `message:center:online:lists`"),
            "{err}"
        );
        assert!(
            err.contains("entry 1: expiresAt 2020-01-01 00:00:00 UTC is past"),
            "{err}"
        );

        let (result, out, _) = exec(&store, &["list", "--table", "t", "--tenant", "1", "--user", "7"], "").await;
        result.unwrap();
        assert_eq!(out.lines().count(), 3, "{out}");
        let (result, out, _) = exec(&store, &["revoke", "--table", "t", "--tenant", "1", "--user", "7"], "").await;
        result.unwrap();
        assert!(out.starts_with("revoked 2 token(s) of user 7 in tenant 1"), "{out}");
        assert!(out.contains("2027-01-15 08:00:00"), "revokedAt shown: {out}");

        let (result, _, _) = exec(&store, &["put", "--table", "t", "--file", "-"], FILE).await;
        let error = result.unwrap_err().0;
        assert!(error.starts_with("stdin: entry 0: token "), "{error}");
        assert!(error.contains("was revoked"), "{error}");
        for text in [out, err, error] {
            assert!(!text.contains("unit-secret-token"), "{text}");
        }
    }

    #[tokio::test]
    async fn an_empty_listing_says_so() {
        let (result, out, _) = exec(
            &MemoryStore::new(),
            &["list", "--table", "t", "--tenant", "1", "--user", "2"],
            "",
        )
        .await;
        result.unwrap();
        assert!(out.starts_with("no tokens of user 2 in tenant 1 in t"), "{out}");
    }
}
