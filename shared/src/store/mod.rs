//! Where the service keeps its state: storage only, no rules. Traits by kind of use case
//! ([`TokenStore`], [`SessionStore`], [`SubscriptionStore`], [`OfflineStore`], [`CleanupStore`],
//! [`AuditStore`]), which [`Store`] puts
//! together, with [`DynamoStore`] for AWS and [`MemoryStore`] for the one-process local run. Both
//! answer listings through [`crate::domain::select_page`], so filters, order and paging mean the
//! same everywhere, and both pass the same conformance suite (`tests/tests/store_conformance.rs`).
//! What the service does with what they store (who may, in which order) is [`crate::service`]'s.
//!
//! # Data model (DynamoDB)
//!
//! Two tables, named by `SESSIONS_TABLE` and `TOKENS_TABLE`; [`dynamo::schema`] defines them once, for
//! the test bootstrap and the local API, and `template.yaml` mirrors it.
//!
//! Sessions table, key `pk` / `sk` (strings):
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | session | `T#<tenantId>` | `S#<sessionId>` | sparse GSI keys below while online |
//! | connection | `C#<connectionId>` | `C` | → tenant and session; without them, a tombstone (closed before opened); TTL `ttl` a day on |
//! | tenant counter shard | `COUNT#<0..32>` | `T#<tenantId>` | `sessions`, `online`: changed in the same transaction as the session, on a shard drawn at random (again on each retry); a tenant's counts are the sum of its shards |
//! | connect rate | `R#<tenantId>#<userId>` | `<epoch minute>` | `n`: sessions the user opened in that minute; TTL `ttl` two minutes on |
//! | name gram ([`dynamo`]'s `names`) | `G#<tenantId>#<gram>` | `<userId>#<name hash>` | `nameUser`, `fullName`: a user of the tenant had a name holding this 3-character gram (folded) |
//! | name seen | `N#<tenantId>#<userId>` | `<name hash>` | the name's grams are written |
//! | presence subscription ([`dynamo`]'s `subscriptions`) | `SUB#<tenantId>` or `SUB#*` (every tenant) | `<connectionId>` | TTL `ttl` a day on; the connection item's `subscribed` names it |
//!
//! | GSI | pk | sk | holds |
//! |---|---|---|---|
//! | `byUser` | `userId` (N) | `id` | every session |
//! | `onlineByTenant` | `onlineTenant` (N) | `id` | online sessions only (attribute removed at the end) |
//! | `onlineByUser` | `onlineUser` (N) | `id` | online sessions only |
//! | `staleByShard` | `onlineShard` (S) | `lastSeenDate` (N) | online sessions, by last heartbeat, in 4 shards |
//! | `endedByShard` | `endedShard` (S) | `offlineDate` (N) | ended sessions, by end time, in 4 shards |
//!
//! Tokens table, key `tokenHash` (the SHA-256 hex; the raw token is never stored), TTL on `ttl`:
//!
//! | GSI | pk | sk | holds |
//! |---|---|---|---|
//! | `byUser` | `userId` (N) | `tokenHash` | every token of a user |
//! | `byTenant` | `tenantId` (N) | `tokenHash` | every token of a tenant |
//! | `expiryByShard` | `expiryShard` (S) | `expiresAt` (N) | tokens that expire, in 4 shards |
//!
//! Audit table ([`AuditStore`]), named by `AUDIT_TABLE`, key `pk` / `sk` (strings), TTL on `ttl`
//! (a day past `AUDIT_RETENTION_DAYS`: a backstop, the cleanup deletes first):
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | audit record | `A#<tenantId>` | `<datetime epoch ms, 15 digits>#<id, 19 digits>` | the record's fields; `auditShard` `A` |
//! | request marker | `R#<tenantId>#<requestId>` | `R` | the record's `sk`: written in the record's transaction, only when absent, so a request is recorded once |
//!
//! | GSI | pk | sk | holds |
//! |---|---|---|---|
//! | `auditByTime` | `auditShard` (S) | `sk` | every record, by time: the platform listing and the cleanup |
//!
//! `auditByTime` has one partition key value: audit records come at the rate administrators
//! force users offline (a handful a minute, not a thousand a second), far below one index
//! partition's write rate, and one partition keeps the platform listing one key-ordered query.
//!
//! # Access patterns
//!
//! | pattern | served by | cost |
//! |---|---|---|
//! | a tenant's sessions in id (= `onlineDate`) order, either way | Query `pk = T#t`, `sk` BETWEEN id bounds, `Limit` | the page end + 1 |
//! | a tenant's online sessions in id order | Query `onlineByTenant`, `id` BETWEEN id bounds, `Limit` | the page end + 1 |
//! | every tenant (platform caller) | Query each `pk = COUNT#<shard>` for the tenants, then each tenant | per tenant, as above |
//! | `total` of a listing with no filter but `online` | the counter shards (BatchGetItem, one tenant; or the platform's query above) | 32 items per tenant |
//! | `total` with `id`/`onlineDate` bounds | Query `Select=COUNT` over the id range | the range's keys, no items returned |
//! | `userId` `EQUAL`/`IN` (any order, any other filters) | Query `byUser` per user, concurrently, kept in scope, filtered and sorted in memory | the users' sessions |
//! | search: `fullName` `MATCH`/`MATCH_END`/`EQUAL` of 3+ characters | Query `G#<t>#<first gram>` (per tenant), keep the users whose name holds the needle, then as `userId` | the gram's users, then their sessions |
//! | anything else the key order cannot serve (`orderBy` `fullName`/`userId`/`offlineDate`, other filters, a 1–2 character search) | Query of the id range (or the online index), a page at a time, filtered into a bounded page | the range, refused past the read budget |
//! | a `pageNo` whose page ends past the read budget, in key order | the counters: an empty page when it lies past the end; else refused (400: use `pageToken`) | 32 items |
//! | open a session: is its name indexed? | GetItem `N#<t>#<u>` / name hash, beside the transaction; when not, BatchWriteItem of its grams, then that item | 1 item (a new name: its grams + 1) |
//! | one user's sessions (detail) | Query `byUser` newest first, limit; `onlineByUser` | ≤ 50 + online items |
//! | connection → session (disconnect, heartbeat) | GetItem `C#<connectionId>` | 1 item |
//! | subscribe / unsubscribe (and disconnect) | UpdateItem of `C#<connectionId>`'s `subscribed` (returning the scope replaced), PutItem / DeleteItem of the subscription items | 2–3 writes |
//! | a tenant's presence subscribers (each batch of session changes) | Query `SUB#<t>` and `SUB#*`, consistent | the subscribers |
//! | session starts and ends, for presence events | the table's stream (new and old images), read by `online-events` (locally by the local API) | no table read |
//! | heartbeat: is the session's token still live? | GetItem `tokenHash` (the session item keeps the hash it was opened with) | 1 item |
//! | open a session | TransactWriteItems: session, connection, counter shard, the user's connect-rate item (conditioned on the limit), and a check that the token is not revoked | 4 writes, 1 condition check |
//! | end a session | TransactWriteItems conditioned on still online: session, counter shard | 2 writes |
//! | online sessions and their tokens (the cleanup's token sweep) | Query `staleByShard` per shard, pages of the batch size; BatchGetItem of their tokens | every online session, distinct tokens |
//! | stale sessions (cleanup) | Query `staleByShard` with `lastSeenDate < cutoff` per shard | stale items read |
//! | old ended sessions (cleanup) | Query `endedByShard` with `offlineDate < cutoff` per shard | old items read |
//! | token by hash (every request) | GetItem `tokenHash` | 1 item |
//! | a user's / tenant's tokens (revocation) | Query `byUser` / `byTenant` | tokens of the user / tenant |
//! | a user's tokens (the operator's listing) | Query `byUser`, then BatchGetItem of those hashes, consistent | tokens of the user, twice |
//! | many users of one tenant (forced offline by `USER` ids) | Query `byTenant` and `onlineByTenant` once, kept in memory by user | the tenant's tokens and online sessions |
//! | expired tokens (cleanup) | Query `expiryByShard` with `expiresAt < now` per shard | expired items read |
//! | write an audit record once per tenant and request id | TransactWriteItems: the record, and the request's marker put with `attribute_not_exists` | 2 writes |
//! | a tenant's audit records in a time range (audit listing) | Query `pk = A#t`, `sk` BETWEEN the range's bounds | the range's records, refused past the read budget |
//! | every tenant's audit records (platform audit listing) | Query `auditByTime` (`auditShard = A`), `sk` BETWEEN the bounds | the range's records, refused past the read budget |
//! | audit records past retention (cleanup) | Query `auditByTime` with `sk < cutoff`, then BatchWriteItem deletes of each record and its marker | old records read, 2 deletes each |
//!
//! Which listings take which row is decided by [`crate::domain::plan`]; a page token (a cursor)
//! turns any key-ordered page into a read of one page, whatever its number. Every listing counts
//! the sessions it reads against [`crate::domain::ReadBudget`] (`LIST_READ_BUDGET`, 100,000 by
//! default) and is refused past it with a 400 that says what to narrow, so no request's work grows
//! with the tenant beyond that bound.
//!
//! # Faults
//!
//! The SDK retries throttling, 5xx answers, timeouts and dropped connections (standard mode, 3
//! attempts with backoff). Retried writes land once in effect: every write is conditional on the
//! state it changes, and a transaction whose answer was lost and whose repeat then fails its
//! conditions recognises its own earlier write from the item (`ALL_OLD`), so it is still reported
//! as done by this call (DynamoDB's idempotency token does the same for ten minutes). When the
//! retries run out, the store answers [`StoreError::Unavailable`], which callers see as a 503 with
//! `Retry-After`; every operation is safe to repeat, and the repeat completes the work.
//!
//! # Concurrency (what AWS does and moto does not)
//!
//! A transaction that touches an item another transaction holds is cancelled with
//! `TransactionConflict`, and a single write on such an item gets `TransactionConflictException`;
//! neither is retried by the SDK. The store retries both itself, with jittered backoff, and draws
//! a new counter shard for each retry, so a burst of connects into one tenant spreads over the
//! shards instead of queueing on one item. When conflicts or throttling outlast the retries the
//! answer is [`StoreError::Unavailable`] (503 and `Retry-After`), never a 500.
//!
//! Global secondary indexes are eventually consistent: a query may miss a write made a moment
//! ago. Nothing that must be exact reads them alone: a forced offline revokes tokens on the base
//! table (each session keeps its token's hash), so a session its lagging read missed is ended at
//! its next heartbeat or by the cleanup's token sweep, never left online.

pub mod dynamo;
pub mod memory;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

pub use dynamo::DynamoStore;
pub use memory::MemoryStore;

use crate::domain::access::{TenantScope, TokenHash, TokenRecord};
use crate::domain::audit::{AuditRecord, TimeRange};
use crate::domain::error::StoreError;
use crate::domain::{
    Counter, OfflineReason, ReadBudget, Session, SessionPage, SessionQuery, TenantId, Timestamp, UserId,
};

/// A user and the tenant it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserRef {
    pub user_id: UserId,
    pub tenant_id: TenantId,
}

/// Session counts kept by the writes that change sessions, never by a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionCounts {
    /// Every stored session, online or ended.
    pub sessions: u64,
    pub online: u64,
}

/// What a store has asked of DynamoDB: the figures behind the per-request metrics and the
/// benchmarks. Snapshots subtract, so a request's share is `after - before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsageSnapshot {
    /// DynamoDB requests (each page of a query counts).
    pub calls: u64,
    /// Items read: a query's `ScannedCount`, one per item a GetItem finds.
    pub items_read: u64,
    /// Items written, each action of a transaction counting once.
    pub items_written: u64,
}

impl std::ops::Sub for UsageSnapshot {
    type Output = UsageSnapshot;
    fn sub(self, earlier: UsageSnapshot) -> UsageSnapshot {
        UsageSnapshot {
            calls: self.calls.saturating_sub(earlier.calls),
            items_read: self.items_read.saturating_sub(earlier.items_read),
            items_written: self.items_written.saturating_sub(earlier.items_written),
        }
    }
}

/// What a `$connect` asks of [`SessionStore::open_session`] besides recording the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectCheck {
    /// The token the connect authenticated with: the session is recorded only while it is
    /// unrevoked, and keeps its hash, so that the session ends when the token does.
    pub token: TokenHash,
    /// At most this many sessions opened by the user in one minute (UTC calendar minutes);
    /// `None`: no limit.
    pub per_minute: Option<u32>,
}

/// What became of [`SessionStore::open_session`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// The session and its connection are recorded.
    Recorded,
    /// Nothing written: the connection id is already known (a repeated or late `$connect`).
    ConnectionKnown,
    /// Nothing written: the token is revoked (or gone) since the `$connect` authenticated.
    TokenRevoked,
    /// Nothing written: the user has opened [`ConnectCheck::per_minute`] sessions this minute.
    RateLimited,
}

/// An online session and the hash of the token it was opened with (`None` for a session
/// recorded without one: seeded demo data, or a session from before sessions kept their token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundSession {
    pub session: Session,
    pub token: Option<TokenHash>,
}

/// One page of [`CleanupStore::online_sessions_page`] and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SweepPage {
    pub sessions: Vec<BoundSession>,
    /// `None`: the sweep has seen every online session.
    pub next: Option<String>,
}

/// What [`OfflineStore::revoke_tenant_tokens`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantRevocation {
    /// The users of the tenant with a token there (revoked by this call or before).
    pub users: Vec<UserId>,
    /// Tokens this call revoked.
    pub revoked: u64,
}

impl SessionCounts {
    /// The count `counter` names.
    pub fn counted(self, counter: Counter) -> u64 {
        match counter {
            Counter::Sessions => self.sessions,
            Counter::Online => self.online,
            Counter::Ended => self.sessions.saturating_sub(self.online),
        }
    }
}

/// Everything the service stores, as one object: the four traits below, and what the store has
/// asked of DynamoDB. Every read that serves a caller takes a [`TenantScope`], so tenant isolation
/// is decided by the store's keys, never by each handler.
pub trait Store:
    TokenStore + SessionStore + SubscriptionStore + OfflineStore + CleanupStore + AuditStore + 'static
{
    /// What this store has asked of DynamoDB since it was made; zeros for a store that is not
    /// DynamoDB.
    fn usage(&self) -> UsageSnapshot {
        UsageSnapshot::default()
    }
}

/// The audit trail of forced offlines ([`crate::domain::audit`]).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Writes `record` unless a record of its tenant and request id is already written; `true`
    /// when this call wrote it. A repeat (the same request delivered twice) writes nothing.
    /// `expires` is the backstop of the cleanup: DynamoDB's TTL may delete the record after it.
    async fn record_audit(&self, record: &AuditRecord, expires: Timestamp) -> Result<bool, StoreError>;

    /// The records of `scope` whose `datetime` lies in `range`, in any order; refused with
    /// [`StoreError::ReadBudget`] when that would read more than `budget` records.
    async fn audit_records(
        &self,
        scope: TenantScope,
        range: TimeRange,
        budget: ReadBudget,
    ) -> Result<Vec<AuditRecord>, StoreError>;

    /// Records written before `cutoff`, oldest first, at most `limit` (every tenant's: the
    /// cleanup's read).
    async fn audit_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;

    /// Deletes these records (and what makes their request recorded once); returns how many this
    /// call deleted.
    async fn delete_audit(&self, records: &[AuditRecord]) -> Result<u64, StoreError>;
}

/// Tokens, as the identity service issues them, keyed by their hash.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores (or replaces) a token record, as the identity service would.
    async fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError>;

    /// The token with this hash, live or not, read consistently.
    async fn token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError>;

    /// The records of those of these tokens that exist (revoked and expired ones included).
    async fn tokens(&self, hashes: &[TokenHash]) -> Result<Vec<TokenRecord>, StoreError>;

    /// Every token of `user` in its tenant (revoked and expired ones included, until the cleanup
    /// deletes them), by hash: the operator's listing (`mco-tokens list`). DynamoDB finds them
    /// through the `byUser` index, eventually consistent, so a token put a moment ago may be
    /// missing; the records themselves are read from the table, consistently.
    async fn user_tokens(&self, user: UserRef) -> Result<Vec<TokenRecord>, StoreError>;
}

/// Sessions and their connections: presence (connect, heartbeat, disconnect) and the reads that
/// serve listings and a user's presence.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records a new online session and its connection, in one step with `check` (`None` for
    /// seeding): the token it names is not revoked, and the user is within its connect rate. A
    /// forced offline revokes the tokens before it reads the online sessions, so a racing connect
    /// either lands first, and is ended by it (or, when its lagging index read missed it, at the
    /// session's next heartbeat or cleanup), or is refused here: a forced user never stays online.
    async fn open_session(&self, session: &Session, check: Option<&ConnectCheck>) -> Result<Opened, StoreError>;

    /// Ends the online session riding on `connection_id`; `None` when the connection is unknown
    /// or its session already ended. An unknown connection is remembered as closed, so that a
    /// `$connect` delivered after its `$disconnect` is refused by [`SessionStore::open_session`].
    async fn close_connection(
        &self,
        connection_id: &str,
        at: Timestamp,
        reason: OfflineReason,
    ) -> Result<Option<Session>, StoreError>;

    /// Moves the last-seen time of the online session on `connection_id` to `at`; `None` when the
    /// connection is unknown or its session ended.
    async fn touch_connection(&self, connection_id: &str, at: Timestamp) -> Result<Option<BoundSession>, StoreError>;

    /// Ends these sessions where they are still online, at `at` for `reason`; returns those this
    /// call ended (a session ended meanwhile by someone else is not returned).
    async fn end_sessions(
        &self,
        sessions: &[Session],
        at: Timestamp,
        reason: OfflineReason,
    ) -> Result<Vec<Session>, StoreError>;

    /// One page of the sessions in `scope` that match `query`, and the count of all matches.
    async fn list_sessions(&self, scope: TenantScope, query: &SessionQuery) -> Result<SessionPage, StoreError>;

    /// One user's sessions in `scope`, newest first: every online one and the newest
    /// `ended_limit` ended ones. Empty when the user has none in scope.
    async fn user_sessions(
        &self,
        scope: TenantScope,
        user_id: UserId,
        ended_limit: usize,
    ) -> Result<Vec<Session>, StoreError>;

    /// The session counts in `scope`.
    async fn session_counts(&self, scope: TenantScope) -> Result<SessionCounts, StoreError>;
}

/// The reads and writes a forced offline is made of. The order they run in (tokens first) is
/// the service's rule ([`crate::service::offline`]), not the store's.
#[async_trait]
pub trait OfflineStore: Send + Sync {
    /// Which of `user_ids` exist in `scope` (have a session or a token there), with their tenant:
    /// a user id known in two tenants of the scope is two users, one per tenant.
    async fn find_users(&self, scope: TenantScope, user_ids: &[UserId]) -> Result<Vec<UserRef>, StoreError>;

    /// Marks every unrevoked token of these users as revoked at `at`; returns how many this call
    /// revoked (a second call revokes none).
    async fn revoke_user_tokens(&self, users: &[UserRef], at: Timestamp) -> Result<u64, StoreError>;

    /// Every online session of these users (each in its own tenant).
    async fn online_sessions_of_users(&self, users: &[UserRef]) -> Result<Vec<Session>, StoreError>;

    /// Revokes every unrevoked token of `tenant` (of the users in `only_users` alone, when
    /// given), reading the tenant's tokens once rather than once per user.
    async fn revoke_tenant_tokens(
        &self,
        tenant: TenantId,
        only_users: Option<&BTreeSet<UserId>>,
        at: Timestamp,
    ) -> Result<TenantRevocation, StoreError>;

    /// Every online session of `tenant` (of the users in `only_users` alone, when given), in one
    /// read of the tenant.
    async fn online_sessions_of_tenant(
        &self,
        tenant: TenantId,
        only_users: Option<&BTreeSet<UserId>>,
    ) -> Result<Vec<Session>, StoreError>;
}

/// What the scheduled cleanup reads and removes. Each read finds only what is still to do, so a
/// run may stop anywhere and the next one resumes.
#[async_trait]
pub trait CleanupStore: Send + Sync {
    /// Online sessions last seen before `cutoff`, least recently seen first, at most `limit`.
    async fn stale_sessions(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Session>, StoreError>;

    /// Ends these sessions with `STALE` at `at` where they are still online and still last seen
    /// before `cutoff` (a heartbeat meanwhile keeps a session online); returns those this call ended.
    async fn end_stale_sessions(
        &self,
        sessions: &[Session],
        cutoff: Timestamp,
        at: Timestamp,
    ) -> Result<Vec<Session>, StoreError>;

    /// Sessions that ended before `cutoff`, earliest end first, at most `limit`.
    async fn ended_sessions_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Session>, StoreError>;

    /// Deletes these sessions where they have ended; returns how many this call deleted (the
    /// counters move with them).
    async fn delete_ended_sessions(&self, sessions: &[Session]) -> Result<u64, StoreError>;

    /// A page of at most `limit` online sessions with their tokens' hashes, for the cleanup's
    /// token sweep; `after` is the previous page's [`SweepPage::next`] (`None`: from the start).
    /// A session that changes during a sweep may be seen twice or not at all; the next sweep
    /// sees it.
    async fn online_sessions_page(&self, after: Option<&str>, limit: usize) -> Result<SweepPage, StoreError>;

    /// Tokens that expired before `now`, at most `limit`.
    async fn expired_tokens(&self, now: Timestamp, limit: usize) -> Result<Vec<TokenHash>, StoreError>;

    /// Deletes these tokens where they have expired at `now`; returns how many this call deleted.
    async fn delete_expired_tokens(&self, hashes: &[TokenHash], now: Timestamp) -> Result<u64, StoreError>;
}

/// Who receives presence events: the connections subscribed to them, each with the tenants it
/// watches. A subscription lives with its connection: it is replaced by the connection's next
/// subscribe, ended by an unsubscribe or the disconnect, dropped when a push finds the
/// connection gone, and (DynamoDB) expires a day after it was made, when API Gateway has long
/// closed the connection.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Subscribes `connection_id` to the presence events of `scope`, replacing whatever the
    /// connection watched before.
    async fn subscribe(&self, connection_id: &str, scope: TenantScope, at: Timestamp) -> Result<(), StoreError>;

    /// Ends the connection's subscription; `false` when it had none.
    async fn unsubscribe(&self, connection_id: &str) -> Result<bool, StoreError>;

    /// For each of `tenants`, the connections that receive its events: those watching it and
    /// those watching every tenant (read once for all of them).
    async fn subscribers_of(&self, tenants: &BTreeSet<TenantId>)
        -> Result<BTreeMap<TenantId, Vec<String>>, StoreError>;

    /// The connections that receive the events of `tenant`.
    async fn subscribers(&self, tenant: TenantId) -> Result<Vec<String>, StoreError> {
        let mut found = self.subscribers_of(&BTreeSet::from([tenant])).await?;
        Ok(found.remove(&tenant).unwrap_or_default())
    }
}
