//! A time budget for work that must answer before its caller gives up: API Gateway's HTTP API cuts
//! every integration off at 30 s, so a forced offline of a very large tenant stops starting new
//! batches once its budget (the configuration's `OFFLINE_TIME_BUDGET_SECONDS`, 25 by default) has passed and answers with what it
//! did, rather than be cut off mid-way with API Gateway's bare 503.
//!
//! The budget travels with the request's task ([`Budget::run`]) rather than through every store
//! method: the store's batch loop ([`Budget::exhausted`]) is the one place that checks it, and
//! work outside a budget (the cleanup has its own deadline, tests) never stops early. What is cut
//! is only ever the not-yet-started batches, so each batch stays whole and every count is exact.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

tokio::task_local! {
    static CURRENT: Budget;
}

/// A deadline, and whether any work was left undone because of it.
#[derive(Debug, Clone)]
pub struct Budget {
    deadline: Instant,
    cut: Arc<AtomicBool>,
}

impl Budget {
    pub fn new(duration: Duration) -> Self {
        Budget {
            deadline: Instant::now() + duration,
            cut: Arc::default(),
        }
    }

    /// Runs `work` under this budget; afterwards [`Budget::was_cut`] says whether it stopped early.
    pub async fn run<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        CURRENT.scope(self.clone(), work).await
    }

    /// Whether some work under this budget was skipped because the deadline had passed.
    pub fn was_cut(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }

    /// For a loop about to start its next batch: `true` when the current task's budget has run
    /// out (and it is recorded as cut); always `false` outside a budget.
    pub fn exhausted() -> bool {
        CURRENT
            .try_with(|budget| {
                let over = Instant::now() >= budget.deadline;
                if over {
                    budget.cut.store(true, Ordering::Relaxed);
                }
                over
            })
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_work_under_a_spent_budget_is_cut() {
        assert!(!Budget::exhausted(), "no budget, never exhausted");
        let roomy = Budget::new(Duration::from_secs(60));
        assert!(!roomy.run(async { Budget::exhausted() }).await);
        assert!(!roomy.was_cut());
        let spent = Budget::new(Duration::ZERO);
        assert!(spent.run(async { Budget::exhausted() }).await);
        assert!(spent.was_cut());
    }
}
