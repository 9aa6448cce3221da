//! Workers: a background task per stored projection (documents or SQL tables), so that a
//! command pays nothing for the read models kept in a database.
//!
//! A worker catches its projection up, then waits for a reason to look again: a commit of
//! this process, the store's notification of another process's append (where the store
//! has them), or the poll interval. Its database is what makes it safe beside other
//! workers of the same projection in other processes: every batch moves the checkpoint
//! from where it read it in the transaction that writes the batch, so an event is applied
//! exactly once whichever worker gets there first, and when one process dies another's
//! worker carries on from the last committed batch.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::Instrument;

use super::error::Error;
use super::runner::Runner;
use crate::store::EventStore;

/// What the app keeps of its workers: the channel that wakes them after each commit. Its
/// sender lives in the app, so that when the last clone of the app is dropped the channel
/// closes and every worker ends after the batch it is in.
pub(super) struct Workers {
    committed: watch::Sender<u64>,
}

impl Workers {
    /// Starts one worker per runner, on the current tokio runtime.
    pub(super) fn start(store: &Arc<dyn EventStore>, runners: &[Arc<dyn Runner>], poll: Duration) -> Self {
        let (committed, _) = watch::channel(0);
        for runner in runners {
            let worker = Worker {
                store: Arc::clone(store),
                runner: Arc::clone(runner),
                committed: committed.subscribe(),
                head: store.subscribe(),
                poll,
            };
            let span = tracing::info_span!("worker", projection = runner.name());
            tokio::spawn(worker.run().instrument(span));
        }
        Workers { committed }
    }

    /// Wakes the workers: this process committed up to `position`.
    pub(super) fn committed(&self, position: u64) {
        self.committed.send_if_modified(|last| {
            let moved = position > *last;
            *last = (*last).max(position);
            moved
        });
    }
}

/// How long a worker waits after a wake before it reads the log, so that the commits that
/// follow closely are applied in the same transaction: a projection's lag grows by as much,
/// where a transaction per command would cost the machine the commands run on.
const LINGER: Duration = Duration::from_millis(10);

struct Worker {
    store: Arc<dyn EventStore>,
    runner: Arc<dyn Runner>,
    committed: watch::Receiver<u64>,
    head: Option<watch::Receiver<u64>>,
    poll: Duration,
}

impl Worker {
    async fn run(mut self) {
        loop {
            match self.runner.catch_up(&*self.store).await {
                // A stopped projection stays where it stopped until it is rebuilt; the
                // worker goes on waiting, and catches the rebuilt one up.
                Ok(_) | Err(Error::ProjectionStopped(_)) => {}
                Err(error) => tracing::warn!(%error, "catch-up failed; trying again at the next wake"),
            }
            if super::metrics::ENABLED
                && let Ok(head) = self.store.head().await
            {
                super::metrics::projection(&*self.store, &*self.runner, head).await;
            }
            if !self.wait().await {
                return;
            }
        }
    }

    /// Waits for a commit, a notification or the poll interval. Returns `false` when the
    /// app is gone.
    async fn wait(&mut self) -> bool {
        let Worker { committed, head, poll, .. } = self;
        let head = async {
            // No notifications, or the store stopped sending them: the poll stays.
            let notified = match head {
                Some(head) => head.changed().await.is_ok(),
                None => false,
            };
            if !notified {
                std::future::pending::<()>().await;
            }
        };
        let open = tokio::select! {
            changed = committed.changed() => changed.is_ok(),
            () = head => true,
            () = tokio::time::sleep(*poll) => true,
        };
        if !open {
            return false;
        }
        tokio::time::sleep(LINGER.min(*poll)).await;
        // The catch-up that follows covers every commit and notification so far.
        committed.borrow_and_update();
        if let Some(head) = &mut self.head {
            head.borrow_and_update();
        }
        true
    }
}
