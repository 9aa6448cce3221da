//! Workers: a background task per stored projection (documents or SQL tables), so that a
//! command pays nothing for the read models kept in a database.
//!
//! A worker catches its projection up, then waits for a reason to look again: a commit of
//! this process, the store's notification of another process's append (where the store
//! has them), or the poll interval. Across processes, the worker that holds the
//! projection's lease in its read-model database runs it, and renews the lease as it goes;
//! the others wait for the lease to be given up (their holder's app was dropped) or to run
//! out (their holder's process died), and one of them takes it. The database is what makes
//! that safe: every batch moves the checkpoint from where it read it in the transaction
//! that writes the batch, so an event is applied exactly once even when two workers
//! overlap, and the next holder carries on from the last committed batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::Instrument;

use super::error::Error;
use super::runner::Runner;
use crate::store::EventStore;

/// How long a worker's lease lasts unless [`AppBuilder::worker_lease`](super::AppBuilder::worker_lease)
/// says otherwise.
pub(super) const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// The shortest lease: a renewal, a third of the way through, must have time to reach the
/// database.
pub(super) const MIN_LEASE: Duration = Duration::from_millis(300);

/// Who the workers of an app are in their leases, and for how long they take them.
pub(super) struct LeaseTerms {
    pub(super) holder: Arc<str>,
    pub(super) ttl: Duration,
}

/// A worker name no other process shares: the host's name, the process id and a random
/// part (two apps in one process are two holders).
pub(super) fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|host| host.trim().to_owned())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    // The last bits of a UUIDv7 are random.
    let random = uuid::Uuid::now_v7().as_u128() & 0xff_ffff;
    format!("{host}/{}/{random:06x}", std::process::id())
}

/// What the app keeps of its workers: the channel that wakes them after each commit. Its
/// sender lives in the app, so that when the last clone of the app is dropped the channel
/// closes and every worker ends after the batch it is in.
pub(super) struct Workers {
    committed: watch::Sender<u64>,
}

impl Workers {
    /// Starts one worker per runner, on the current tokio runtime.
    pub(super) fn start(
        store: &Arc<dyn EventStore>,
        runners: &[Arc<dyn Runner>],
        poll: Duration,
        lease: LeaseTerms,
    ) -> Self {
        let lease = Arc::new(lease);
        let (committed, _) = watch::channel(0);
        for runner in runners {
            let worker = Worker {
                store: Arc::clone(store),
                runner: Arc::clone(runner),
                committed: committed.subscribe(),
                head: store.subscribe(),
                poll,
                lease: Arc::clone(&lease),
                claimed: None,
                tried: None,
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
    lease: Arc<LeaseTerms>,
    /// When this worker last took or renewed the lease (the time it asked), while it holds
    /// it: a renewal is due a third of the lease after.
    claimed: Option<Instant>,
    /// When it last asked for the lease, held or not.
    tried: Option<Instant>,
}

impl Worker {
    async fn run(mut self) {
        loop {
            if self.holds().await {
                self.catch_up().await;
            }
            if super::metrics::ENABLED
                && let Ok(head) = self.store.head().await
            {
                super::metrics::projection(&*self.store, &*self.runner, head).await;
            }
            if !self.wait().await {
                break;
            }
        }
        // The app is gone: another process's worker may take the projection now rather
        // than when the lease runs out.
        if let Err(error) = self.runner.release(&self.lease.holder).await {
            tracing::warn!(%error, "could not give the lease up; it runs out on its own");
        }
    }

    /// Takes or renews the projection's lease when due: whether this worker holds it (a
    /// projection whose database keeps no leases is every worker's). A holder asks the
    /// database a third of the way through its lease, not at every wake, so that a busy
    /// app's commits cost its read-model database no lease writes; a worker that does not
    /// hold it asks at most once per poll interval (and per third of a lease).
    async fn holds(&mut self) -> bool {
        let renewal = self.lease.ttl / 3;
        match (self.claimed, self.tried) {
            (Some(claimed), _) if claimed.elapsed() < renewal => return true,
            (None, Some(tried)) if tried.elapsed() < self.poll.min(renewal) => return false,
            _ => {}
        }
        let asked = Instant::now();
        self.tried = Some(asked);
        let held = match self.runner.claim(&self.lease.holder, self.lease.ttl).await {
            Ok(None) => true,
            Ok(Some(lease)) => lease.held_by(&self.lease.holder),
            Err(error) => {
                tracing::warn!(%error, "could not take the lease; trying again at the next wake");
                false
            }
        };
        self.claimed = held.then_some(asked);
        held
    }

    /// Catches the projection up, renewing the lease a third of the way through it for as
    /// long as that takes.
    async fn catch_up(&mut self) {
        let (runner, store) = (Arc::clone(&self.runner), Arc::clone(&self.store));
        let mut catch_up = std::pin::pin!(async move { runner.catch_up(&*store).await });
        let caught_up = loop {
            tokio::select! {
                caught_up = &mut catch_up => break caught_up,
                () = tokio::time::sleep(self.lease.ttl / 3) => {
                    // A lease lost mid-batch (a pause longer than the lease) costs nothing
                    // but work: the batch commits only from the checkpoint it read.
                    if !self.holds().await {
                        tracing::warn!("another worker took the lease during a catch-up");
                    }
                }
            }
        };
        match caught_up {
            // A stopped projection stays where it stopped until it is rebuilt; the
            // worker goes on waiting, and catches the rebuilt one up.
            Ok(_) | Err(Error::ProjectionStopped(_)) => {}
            Err(error) => tracing::warn!(%error, "catch-up failed; trying again at the next wake"),
        }
    }

    /// Waits for a commit, a notification or the poll interval. Returns `false` when the
    /// app is gone.
    async fn wait(&mut self) -> bool {
        let Worker { committed, head, poll, lease, .. } = self;
        // The lease is renewed at a wake, so a wake comes before a third of it is gone.
        let poll = (*poll).min(lease.ttl / 3);
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
            () = tokio::time::sleep(poll) => true,
        };
        if !open {
            return false;
        }
        tokio::time::sleep(LINGER.min(poll)).await;
        // The catch-up that follows covers every commit and notification so far.
        committed.borrow_and_update();
        if let Some(head) = &mut self.head {
            head.borrow_and_update();
        }
        true
    }
}
