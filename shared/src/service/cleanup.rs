//! The scheduled cleanup: ends stale sessions (no heartbeat for `STALE_AFTER_SECONDS`) and closes
//! their connections, ends sessions whose token has expired, been revoked or deleted (the token
//! sweep: a session lives no longer than its token), deletes sessions that ended more than
//! `RETENTION_DAYS` ago, deletes expired tokens, and deletes audit records of forced offlines
//! older than `AUDIT_RETENTION_DAYS` (the contract's retention; DynamoDB's TTL, a day later, is
//! only a backstop). Audit records are read oldest first from one time-ordered index, so each
//! batch is what is still to delete, like every other phase.
//!
//! The token sweep reads every online session and its token each run (pages of the batch size,
//! one batched token read a page): the one way to find a session whose token record the identity
//! service deleted, and the net under a forced offline whose lagging index read missed a racing
//! connect. A run out of time stops the sweep where it is, and the next run sweeps from the start;
//! live clients meet the same check at every heartbeat. Each kind of work goes in batches from a query that only finds what is still
//! to do (acted-on items leave the index), so a run may stop at its time budget anywhere and the
//! next run resumes where it stopped; every write is conditional, so two runs at once never do
//! the same work twice. Each kind gets at least one batch per run, so every run makes progress.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use std::collections::HashMap;

pub use super::config::CleanupSettings;
use super::App;
use crate::domain::access::session_end_reason;
use crate::domain::error::StoreError;
use crate::domain::{OfflineReason, Session, Timestamp};
use crate::gateway::{close_all, Notice};

/// What a run did, and what it left for the next one (counted only when it ran out of time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupReport {
    pub stale_ended: u64,
    /// Sessions ended because their token expired or was deleted (`EXPIRED`) or revoked (`FORCED`).
    pub token_ended: u64,
    /// Online sessions whose token the sweep checked.
    pub tokens_checked: u64,
    pub connections_closed: u64,
    pub sessions_deleted: u64,
    pub tokens_deleted: u64,
    /// Audit records past `AUDIT_RETENTION_DAYS` deleted.
    pub audit_deleted: u64,
    /// Stale sessions left (at most [`LEFT_COUNT_CAP`]).
    pub left_stale: u64,
    /// Expired sessions left (at most [`LEFT_COUNT_CAP`]).
    pub left_ended: u64,
    /// Expired tokens left (at most [`LEFT_COUNT_CAP`]).
    pub left_tokens: u64,
    /// Audit records past retention left (at most [`LEFT_COUNT_CAP`]).
    pub left_audit: u64,
    /// The run stopped at its time budget.
    pub out_of_time: bool,
    pub duration_ms: u64,
}

/// How far the backlog is counted when a run ends out of time.
pub const LEFT_COUNT_CAP: usize = 1000;

/// What triggered the run: an EventBridge scheduled event, or anything at all for an on-demand
/// run (an empty `{}` event, or `null`). Only logged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CleanupTrigger {
    pub source: Option<String>,
    pub detail_type: Option<String>,
    pub time: Option<String>,
}

/// One cleanup run at `now`, as the configuration says ([`super::config::CleanupSettings`]),
/// stopping after the batch in progress once `deadline` has passed.
pub async fn cleanup(app: &App, now: Timestamp, deadline: Instant) -> Result<CleanupReport, StoreError> {
    let settings = &app.config.cleanup;
    let started = Instant::now();
    let store = app.store.as_ref();
    let batch = settings.batch.max(1);
    let stale_cutoff = now.plus_secs(-settings.stale_after_secs);
    let retention_cutoff = now.plus_secs(-settings.retention_days * 86_400);
    let audit_cutoff = now.plus_secs(-app.config.audit_retention_days.saturating_mul(86_400));
    let mut report = CleanupReport::default();

    loop {
        let stale = store.stale_sessions(stale_cutoff, batch).await?;
        let ended = store.end_stale_sessions(&stale, stale_cutoff, now).await?;
        report.stale_ended += ended.len() as u64;
        report.connections_closed += close_all(app.gateway.as_ref(), &ended, None).await as u64;
        if stale.len() < batch || out_of_time(deadline, &mut report) {
            break;
        }
    }
    let mut cursor: Option<String> = None;
    loop {
        let page = store.online_sessions_page(cursor.as_deref(), batch).await?;
        let hashes: Vec<_> = page.sessions.iter().filter_map(|bound| bound.token.clone()).collect();
        let records: HashMap<_, _> = store
            .tokens(&hashes)
            .await?
            .into_iter()
            .map(|record| (record.hash.clone(), record))
            .collect();
        report.tokens_checked += hashes.len() as u64;
        let mut ending: [(OfflineReason, Vec<Session>); 2] = [
            (OfflineReason::Forced, Vec::new()),
            (OfflineReason::Expired, Vec::new()),
        ];
        for bound in page.sessions {
            let Some(hash) = &bound.token else { continue };
            if let Some(reason) = session_end_reason(records.get(hash), now) {
                if let Some((_, sessions)) = ending.iter_mut().find(|(r, _)| *r == reason) {
                    sessions.push(bound.session);
                }
            }
        }
        for (reason, sessions) in ending.iter().filter(|(_, sessions)| !sessions.is_empty()) {
            let ended = store.end_sessions(sessions, now, *reason).await?;
            report.token_ended += ended.len() as u64;
            let notice = Notice::session_ended(now, *reason);
            report.connections_closed += close_all(app.gateway.as_ref(), &ended, Some(&notice)).await as u64;
        }
        cursor = page.next;
        if cursor.is_none() || out_of_time(deadline, &mut report) {
            break;
        }
    }
    loop {
        let old = store.ended_sessions_before(retention_cutoff, batch).await?;
        report.sessions_deleted += store.delete_ended_sessions(&old).await?;
        if old.len() < batch || out_of_time(deadline, &mut report) {
            break;
        }
    }
    loop {
        let expired = store.expired_tokens(now, batch).await?;
        report.tokens_deleted += store.delete_expired_tokens(&expired, now).await?;
        if expired.len() < batch || out_of_time(deadline, &mut report) {
            break;
        }
    }
    loop {
        let old = store.audit_before(audit_cutoff, batch).await?;
        report.audit_deleted += store.delete_audit(&old).await?;
        if old.len() < batch || out_of_time(deadline, &mut report) {
            break;
        }
    }
    if report.out_of_time {
        report.left_stale = store.stale_sessions(stale_cutoff, LEFT_COUNT_CAP).await?.len() as u64;
        report.left_ended = store
            .ended_sessions_before(retention_cutoff, LEFT_COUNT_CAP)
            .await?
            .len() as u64;
        report.left_tokens = store.expired_tokens(now, LEFT_COUNT_CAP).await?.len() as u64;
        report.left_audit = store.audit_before(audit_cutoff, LEFT_COUNT_CAP).await?.len() as u64;
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        staleEnded = report.stale_ended,
        tokenEnded = report.token_ended,
        tokensChecked = report.tokens_checked,
        connectionsClosed = report.connections_closed,
        sessionsDeleted = report.sessions_deleted,
        tokensDeleted = report.tokens_deleted,
        auditDeleted = report.audit_deleted,
        leftStale = report.left_stale,
        leftEnded = report.left_ended,
        leftTokens = report.left_tokens,
        leftAudit = report.left_audit,
        outOfTime = report.out_of_time,
        durationMs = report.duration_ms,
        "cleanup"
    );
    Ok(report)
}

fn out_of_time(deadline: Instant, report: &mut CleanupReport) -> bool {
    if Instant::now() >= deadline {
        report.out_of_time = true;
    }
    report.out_of_time
}
