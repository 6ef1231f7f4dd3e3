//! `mco-tokens` (`infra/tokens`), the operator's command for a deployed stack's tokens table,
//! against moto behind the strict proxy: put from a JSON file, list, revoke, list again; a token
//! it puts authenticates through the service's own auth (the point of the command) and stops when
//! it revokes it; bad input and an unknown table fail with an error that names what is at fault;
//! and nothing it prints, nor any error, holds a raw token.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use message_center::domain::access::{Permission, TokenHash};
use message_center::domain::{ErrorKind, TenantId, Timestamp, UserId};
use message_center::service::auth::authenticate;
use message_center::store::dynamo::schema::TableNames;
use message_center::store::{DynamoStore, TokenStore};
use message_center_tests::dynamodb::{self, StrictModel};
use message_center_tests::logs;
use tokens::{execute, prefix, Cli, Failure};

const OPERATOR: &str = "cli-operator-4b1f0c9e7d2a3f6b8e5c1a0d9f7b3e2c";
const SECOND: &str = "cli-second-8a2e6f1c3b9d7e4a0c5f2b8d1e6a9c3f";
const OTHER_TENANT: &str = "cli-other-tenant-1d7c4a9e2f6b0c3e8a5d1f7b4c9e2a6d";

/// Every raw token these tests use: listed for the suite's log scan, and looked for in every
/// output below.
const RAW_TOKENS: [&str; 3] = [OPERATOR, SECOND, OTHER_TENANT];

/// The operator's file: a platform operator and a second token of the same user (tenant 1, user
/// 7), and user 7 of tenant 2, whom no listing or revocation of tenant 1's user 7 touches.
fn tokens_json() -> String {
    format!(
        r#"[
  {{"token": "{OPERATOR}", "userId": "7", "tenantId": 1, "fullName": "Platform Ops",
   "permissions": ["message:center:online:list", "message:center:online:detail", "message:center:offline"],
   "platform": true, "expiresAt": "2099-01-01 00:00:00"}},
  {{"token": "{SECOND}", "userId": 7, "tenantId": "1", "fullName": "Platform Ops", "avatar": null,
   "permissions": ["message:center:online:list"]}},
  {{"token": "{OTHER_TENANT}", "userId": 7, "tenantId": 2, "fullName": "Someone Else"}}
]"#
    )
}

/// A file of its own for one test, holding `text`.
fn file_with(text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("mco-tokens-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.json", ulid::Ulid::new()));
    std::fs::write(&path, text).unwrap();
    path
}

/// What one command did: its result and what it wrote to stdout and stderr.
struct Outcome {
    result: Result<(), Failure>,
    out: String,
    err: String,
}

impl Outcome {
    /// Everything the operator saw.
    fn seen(&self) -> String {
        let failure = self.result.as_ref().err().map(|f| f.0.clone()).unwrap_or_default();
        format!("{}\n{}\n{failure}", self.out, self.err)
    }

    fn ok(self) -> Self {
        if let Err(failure) = &self.result {
            panic!("the command failed: {failure}\n{}", self.err);
        }
        self
    }

    fn failure(&self) -> &str {
        &self.result.as_ref().expect_err("the command fails").0
    }
}

/// Runs `mco-tokens <args>` on `store` as the binary would, with `stdin`; no output ever holds a
/// raw token.
async fn mco_tokens(store: &DynamoStore, args: &[&str], stdin: &str) -> Outcome {
    for token in RAW_TOKENS {
        logs::remember_token(token);
    }
    let cli = Cli::try_parse_from(std::iter::once("mco-tokens").chain(args.iter().copied())).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = execute(
        store,
        cli.command,
        &mut stdin.as_bytes(),
        &mut out,
        &mut err,
        Timestamp::now(),
    )
    .await;
    let outcome = Outcome {
        result,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    };
    let seen = outcome.seen();
    for token in RAW_TOKENS {
        assert!(!seen.contains(token), "a raw token was printed: {seen}");
    }
    outcome
}

/// The rows of a listing (the lines after the header), split on runs of two spaces or more.
fn rows(out: &str) -> Vec<Vec<String>> {
    let mut lines = out.lines().skip_while(|line| !line.starts_with("HASH"));
    let header = lines.next().expect("a header line");
    assert!(header.contains("REVOKED AT (UTC)"), "{header}");
    lines
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn hash_prefix(token: &str) -> String {
    prefix(&TokenHash::of(token)).to_owned()
}

#[tokio::test]
async fn put_list_revoke_and_list_again() {
    let store = dynamodb::fresh_store().await;
    let table = store.tables().tokens.clone();
    let file = file_with(&tokens_json());
    let put = mco_tokens(
        &store,
        &["put", "--table", &table, "--file", file.to_str().unwrap()],
        "",
    )
    .await
    .ok();
    assert!(
        put.out.starts_with(&format!("put 3 token(s) into {table}\n")),
        "{}",
        put.out
    );
    assert_eq!(put.err, "", "no warnings");
    let put_rows = rows(&put.out);
    assert_eq!(put_rows.len(), 3);
    assert_eq!(
        put_rows[0],
        [
            hash_prefix(OPERATOR).as_str(),
            "1",
            "7",
            "Platform Ops",
            "message:center:offline,message:center:online:detail,message:center:online:list",
            "yes",
            "2099-01-01 00:00:00",
            "-"
        ]
    );
    assert_eq!(hash_prefix(OPERATOR).len(), 12);

    let user_7 = ["--table", table.as_str(), "--tenant", "1", "--user", "7"];
    let list = mco_tokens(&store, &[&["list"][..], &user_7].concat(), "").await.ok();
    let listed = rows(&list.out);
    let mut expected = vec![hash_prefix(OPERATOR), hash_prefix(SECOND)];
    expected.sort();
    assert_eq!(
        listed.iter().map(|row| row[0].clone()).collect::<Vec<_>>(),
        expected,
        "tenant 1's user 7 only, by hash: {}",
        list.out
    );
    let second = listed.iter().find(|row| row[0] == hash_prefix(SECOND)).unwrap();
    assert_eq!(
        second[1..],
        [
            "1",
            "7",
            "Platform Ops",
            "message:center:online:list",
            "no",
            "never",
            "-"
        ]
    );

    let revoke = mco_tokens(&store, &[&["revoke"][..], &user_7].concat(), "").await.ok();
    assert!(
        revoke.out.starts_with("revoked 2 token(s) of user 7 in tenant 1"),
        "{}",
        revoke.out
    );
    let again = mco_tokens(&store, &[&["revoke"][..], &user_7].concat(), "").await.ok();
    assert!(again.out.starts_with("revoked 0 token(s)"), "{}", again.out);

    let list = mco_tokens(&store, &[&["list"][..], &user_7].concat(), "").await.ok();
    let listed = rows(&list.out);
    assert_eq!(listed.len(), 2);
    for row in &listed {
        let revoked_at = Timestamp::parse(&row[7]).unwrap_or_else(|_| panic!("revokedAt shown: {row:?}"));
        assert!(revoked_at.secs().abs_diff(Timestamp::now().secs()) < 120, "{row:?}");
    }
    // The other tenant's user 7 is untouched.
    let other = store.token(&TokenHash::of(OTHER_TENANT)).await.unwrap().unwrap();
    assert_eq!(other.revoked_at, None);
    let list = mco_tokens(&store, &["list", "--table", &table, "--tenant", "2", "--user", "7"], "")
        .await
        .ok();
    assert_eq!(rows(&list.out).len(), 1);
    assert_eq!(rows(&list.out)[0][7], "-");

    // Putting the file again is refused: it would make the revoked tokens live.
    let put = mco_tokens(
        &store,
        &["put", "--table", &table, "--file", file.to_str().unwrap()],
        "",
    )
    .await;
    assert!(put.failure().contains("entry 0: token "), "{}", put.failure());
    assert!(put.failure().contains("was revoked"), "{}", put.failure());
    assert!(
        store
            .token(&TokenHash::of(OPERATOR))
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some(),
        "still revoked"
    );
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn a_token_put_by_the_command_authenticates_through_the_service() {
    let store = dynamodb::fresh_store().await;
    let table = store.tables().tokens.clone();
    // From stdin, as `mco-tokens put --table T < tokens.json` reads it.
    mco_tokens(&store, &["put", "--table", &table], &tokens_json())
        .await
        .ok();

    let caller = authenticate(&store, OPERATOR, Timestamp::now()).await.unwrap();
    assert_eq!((caller.tenant_id, caller.user_id), (TenantId(1), UserId(7)));
    assert_eq!(caller.full_name, "Platform Ops");
    assert!(caller.platform);
    for permission in [Permission::List, Permission::Detail, Permission::Offline] {
        caller.require(permission).unwrap();
    }
    let second = authenticate(&store, SECOND, Timestamp::now()).await.unwrap();
    assert!(!second.platform);
    assert!(second.require(Permission::Offline).is_err());
    // The expiry the file gave holds: past it, the token no longer authenticates.
    let after_expiry = Timestamp::parse("2099-01-01 00:00:01").unwrap();
    assert!(authenticate(&store, OPERATOR, after_expiry).await.is_err());

    mco_tokens(
        &store,
        &["revoke", "--table", &table, "--tenant", "1", "--user", "7"],
        "",
    )
    .await
    .ok();
    let refused = authenticate(&store, OPERATOR, Timestamp::now()).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Unauthorized);
    assert_eq!(refused.msg, "The token has been revoked.");
    assert!(authenticate(&store, OTHER_TENANT, Timestamp::now()).await.is_ok());
}

#[tokio::test]
async fn bad_input_fails_naming_the_entry_and_field_and_writes_nothing() {
    let store = dynamodb::fresh_store().await;
    let table = store.tables().tokens.clone();
    let good = format!(r#"{{"token": "{OPERATOR}", "userId": 7, "tenantId": 1, "fullName": "Ops"}}"#);
    let cases = [
        (format!("[{good},"), "not a JSON array of token records"),
        (
            format!(r#"{{"token": "{OPERATOR}"}}"#),
            "not a JSON array of token records",
        ),
        (
            format!(r#"[{good}, {{"token": "{SECOND} with spaces", "userId": 7, "tenantId": 1, "fullName": "x"}}]"#),
            "entry 1: token: must be RFC 6750 token characters",
        ),
        (
            format!(r#"[{good}, {{"token": "{SECOND}", "userId": "seven", "tenantId": 1, "fullName": "x"}}]"#),
            "entry 1: userId: ",
        ),
        (
            format!(r#"[{good}, {{"token": "{SECOND}", "tenantId": 1, "fullName": "x"}}]"#),
            "entry 1: userId: missing",
        ),
        (
            format!(
                r#"[{good}, {{"token": "{SECOND}", "userId": 7, "tenantId": 1, "fullName": "x", "expiresAt": "soon"}}]"#
            ),
            "entry 1: expiresAt: must be a time",
        ),
        (
            format!(
                r#"[{good}, {{"token": "{SECOND}", "userId": 7, "tenantId": 1, "fullName": "x", "role": "admin"}}]"#
            ),
            "entry 1: unknown field `role`",
        ),
        (format!("[{good}, {good}]"), "entry 1: token: the same token as entry 0"),
    ];
    for (text, expected) in cases {
        let file = file_with(&text);
        let path = file.to_str().unwrap();
        let put = mco_tokens(&store, &["put", "--table", &table, "--file", path], "").await;
        assert_eq!(put.failure(), put.failure().trim(), "one line");
        assert!(
            put.failure().starts_with(&format!("{path}: {expected}")),
            "expected {expected:?}: {}",
            put.failure()
        );
        std::fs::remove_file(file).unwrap();
    }
    let missing = mco_tokens(
        &store,
        &["put", "--table", &table, "--file", "/nonexistent/tokens.json"],
        "",
    )
    .await;
    assert!(
        missing.failure().starts_with("cannot read /nonexistent/tokens.json"),
        "{}",
        missing.failure()
    );
    let stdin = mco_tokens(&store, &["put", "--table", &table, "--file", "-"], "[1]").await;
    assert_eq!(stdin.failure(), "stdin: entry 0: not a JSON object");

    // A file is refused whole: nothing of the good entries was written.
    assert_eq!(store.token(&TokenHash::of(OPERATOR)).await.unwrap(), None);
    let list = mco_tokens(&store, &["list", "--table", &table, "--tenant", "1", "--user", "7"], "")
        .await
        .ok();
    assert!(list.out.starts_with("no tokens of user 7 in tenant 1"), "{}", list.out);

    // A bad id on the command line is clap's error (exit status 2), naming the flag.
    let error =
        Cli::try_parse_from(["mco-tokens", "list", "--table", "t", "--tenant", "one", "--user", "7"]).unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert!(error.to_string().contains("--tenant"), "{error}");
}

#[tokio::test]
async fn an_unknown_table_is_named_in_the_error() {
    let store = DynamoStore::new(dynamodb::client(), tokens::tables("no-such-tokens-table"));
    let file = file_with(&tokens_json());
    let path = file.to_str().unwrap();
    let user = ["--tenant", "1", "--user", "7"];
    for args in [
        vec!["put", "--table", "no-such-tokens-table", "--file", path],
        [&["list", "--table", "no-such-tokens-table"][..], &user].concat(),
        [&["revoke", "--table", "no-such-tokens-table"][..], &user].concat(),
    ] {
        let outcome = mco_tokens(&store, &args, "").await;
        assert!(
            outcome
                .failure()
                .contains("no table `no-such-tokens-table` in this region"),
            "{args:?}: {}",
            outcome.failure()
        );
        assert_eq!(outcome.out, "", "{args:?}");
    }
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn revoked_tokens_are_listed_revoked_while_the_index_lags() {
    // On AWS the `byUser` index trails the table; the listing reads the records from the table.
    let store = dynamodb::strict_store(StrictModel::aws(1500)).await;
    let table = store.tables().tokens.clone();
    mco_tokens(&store, &["put", "--table", &table], &tokens_json())
        .await
        .ok();
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let user_7 = ["--table", table.as_str(), "--tenant", "1", "--user", "7"];
    let revoke = mco_tokens(&store, &[&["revoke"][..], &user_7].concat(), "").await.ok();
    assert!(revoke.out.starts_with("revoked 2 token(s)"), "{}", revoke.out);
    let listed = rows(
        &mco_tokens(&store, &[&["list"][..], &user_7].concat(), "")
            .await
            .ok()
            .out,
    );
    assert_eq!(listed.len(), 2);
    assert!(
        listed.iter().all(|row| row[7] != "-"),
        "revokedAt read from the table: {listed:?}"
    );
}

#[tokio::test]
async fn the_binary_reaches_its_table_through_its_flags_and_the_environment() {
    // What `main` does: the store from `--table`, `--region` and the environment's endpoint and
    // credentials (`message_center::lambda::aws`), then the command.
    let store = dynamodb::fresh_store().await;
    let table = store.tables().tokens.clone();
    // The endpoint the harness answers on; the harness has read DYNAMODB_ENDPOINT already, and
    // reads the same value.
    std::env::set_var("DYNAMODB_ENDPOINT", dynamodb::endpoint());
    for (name, value) in [("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")] {
        if std::env::var(name).is_err() {
            std::env::set_var(name, value);
        }
    }
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let file = file_with(&tokens_json());
    let run = |args: Vec<&str>, input: &str| {
        let cli = Cli::try_parse_from(std::iter::once("mco-tokens").chain(args)).unwrap();
        let input = input.to_owned();
        async move {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let result = tokens::run(cli, &mut input.as_bytes(), &mut out, &mut err).await;
            (result, String::from_utf8(out).unwrap())
        }
    };
    let (result, out) = run(
        vec![
            "put",
            "--table",
            &table,
            "--region",
            "us-east-1",
            "--file",
            file.to_str().unwrap(),
        ],
        "",
    )
    .await;
    result.unwrap();
    assert!(out.starts_with("put 3 token(s)"), "{out}");
    assert!(authenticate(&store, OPERATOR, Timestamp::now()).await.is_ok());
    let (result, out) = run(
        vec![
            "list",
            "--table",
            &table,
            "--region",
            "us-east-1",
            "--tenant",
            "1",
            "--user",
            "7",
        ],
        "",
    )
    .await;
    result.unwrap();
    assert_eq!(rows(&out).len(), 2, "{out}");
    for token in RAW_TOKENS {
        assert!(!out.contains(token));
    }
    std::fs::remove_file(file).unwrap();
}

#[test]
fn a_store_for_the_command_touches_only_the_tokens_table() {
    assert_eq!(
        tokens::tables("stack-TokensTable-ABC"),
        TableNames {
            sessions: String::new(),
            tokens: "stack-TokensTable-ABC".into(),
            audit: String::new(),
        }
    );
}
