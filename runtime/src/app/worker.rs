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
use std::sync::atomic::{AtomicBool, Ordering};
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

/// What the app keeps of its workers: the channel that wakes them after each commit (its
/// sender lives in the app, so that when the last clone of the app is dropped the channel
/// closes and every worker ends after its catch-up), the one that tells them to end, and
/// their tasks, for [`App::shutdown`](super::App::shutdown).
pub(super) struct Workers {
    committed: watch::Sender<u64>,
    stopping: watch::Sender<bool>,
    /// Held while a shutdown waits, so that a second one waits too.
    tasks: tokio::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
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
        let (stopping, _) = watch::channel(false);
        let mut tasks = Vec::with_capacity(runners.len());
        for runner in runners {
            let worker = Worker {
                store: Arc::clone(store),
                runner: Arc::clone(runner),
                committed: committed.subscribe(),
                stopping: stopping.subscribe(),
                head: store.subscribe(),
                poll,
                lease: Arc::clone(&lease),
                claimed: None,
                tried: None,
                held: Arc::new(AtomicBool::new(false)),
            };
            let span = tracing::info_span!("worker", projection = runner.name());
            tasks.push(tokio::spawn(worker.run().instrument(span)));
        }
        Workers { committed, stopping, tasks: tokio::sync::Mutex::new(tasks) }
    }

    /// Wakes the workers: this process committed up to `position`.
    pub(super) fn committed(&self, position: u64) {
        self.committed.send_if_modified(|last| {
            let moved = position > *last;
            *last = (*last).max(position);
            moved
        });
    }

    /// Ends the workers, each after the catch-up it is in, and waits until they have given
    /// their leases up.
    pub(super) async fn shutdown(&self) {
        self.stopping.send_replace(true);
        let mut tasks = self.tasks.lock().await;
        for task in tasks.drain(..) {
            if let Err(error) = task.await {
                tracing::warn!(%error, "a worker ended abnormally");
            }
        }
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
    /// Set by [`Workers::shutdown`].
    stopping: watch::Receiver<bool>,
    head: Option<watch::Receiver<u64>>,
    poll: Duration,
    lease: Arc<LeaseTerms>,
    /// When this worker last took or renewed the lease (the time it asked), while it holds
    /// it: a renewal is due a third of the lease after.
    claimed: Option<Instant>,
    /// When it last asked for the lease, held or not.
    tried: Option<Instant>,
    /// Whether it holds the lease, as its catch-up reads it between batches.
    held: Arc<AtomicBool>,
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
        // The app is gone or shutting down: another process's worker may take the
        // projection now rather than when the lease runs out.
        self.release().await;
    }

    /// A third of the lease: how often a holder renews it, and how often one that does not
    /// hold it asks at most.
    fn renewal(&self) -> Duration {
        self.lease.ttl / 3
    }

    /// When the holder's renewal is due, if it holds the lease.
    fn renewal_due(&self) -> Option<Instant> {
        self.claimed.map(|claimed| claimed + self.renewal())
    }

    /// Takes or renews the projection's lease when due: whether this worker holds it (a
    /// projection whose database keeps no leases is every worker's). A holder asks the
    /// database a third of the way through its lease, not at every wake, so that a busy
    /// app's commits cost its read-model database no lease writes. One that does not hold
    /// it reads the lease at most once per poll interval (and per third of a lease), and
    /// writes only when the lease is free or has run out. A worker whose projection
    /// stopped in this process gives the lease up: another process (with fixed code,
    /// perhaps) may take the projection on.
    async fn holds(&mut self) -> bool {
        if self.runner.stop().is_some() {
            if self.claimed.is_some() {
                self.release().await;
            }
            return false;
        }
        match (self.claimed, self.tried) {
            (Some(claimed), _) if claimed.elapsed() < self.renewal() => {
                self.held.store(true, Ordering::Release);
                return true;
            }
            (None, Some(tried)) if tried.elapsed() < self.poll.min(self.renewal()) => return false,
            _ => {}
        }
        let asked = Instant::now();
        self.tried = Some(asked);
        if self.claimed.is_none() {
            match self.runner.lease().await {
                Ok(Some(lease)) if !lease.expired && lease.holder != *self.lease.holder => return false,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "could not read the lease; trying again at the next wake");
                    return false;
                }
            }
        }
        let held = match self.runner.claim(&self.lease.holder, self.lease.ttl).await {
            Ok(None) => true,
            Ok(Some(lease)) => lease.held_by(&self.lease.holder),
            Err(error) => {
                tracing::warn!(%error, "could not take the lease; trying again at the next wake");
                false
            }
        };
        self.claimed = held.then_some(asked);
        self.held.store(held, Ordering::Release);
        held
    }

    /// Gives the lease up (a no-op unless this worker holds it). Until the database has
    /// said so, the worker counts itself the holder, so that a release cut short (a
    /// catch-up that ended meanwhile) or refused is made again.
    async fn release(&mut self) {
        self.held.store(false, Ordering::Release);
        match self.runner.release(&self.lease.holder).await {
            Ok(()) => self.claimed = None,
            Err(error) => tracing::warn!(%error, "could not give the lease up; it runs out on its own"),
        }
    }

    /// Catches the projection up while renewing the lease when due, beside it: the
    /// catch-up goes on while a renewal waits for a connection (the catch-up's batches
    /// hold one, and a pool may have no other). A lease lost meanwhile (a pause longer
    /// than the lease) costs work, not correctness: a batch commits only from the
    /// checkpoint it read.
    async fn catch_up(&mut self) {
        let (runner, store, held) = (Arc::clone(&self.runner), Arc::clone(&self.store), Arc::clone(&self.held));
        let catch_up = async move { runner.catch_up_holding(&*store, &held).await };
        let renewing = async {
            loop {
                let due = self.renewal_due().unwrap_or_else(|| Instant::now() + self.renewal());
                tokio::time::sleep_until(due.into()).await;
                if !self.holds().await {
                    tracing::warn!(
                        "this worker no longer holds the lease (another took it, the projection stopped, or the \
                         database failed); its catch-up ends after the batch in progress"
                    );
                }
            }
        };
        let caught_up = tokio::select! {
            caught_up = catch_up => caught_up,
            never = renewing => never,
        };
        match caught_up {
            // A stopped projection stays where it stopped until it is rebuilt; the
            // worker goes on waiting (without the lease), and catches the rebuilt one up.
            Ok(_) | Err(Error::ProjectionStopped(_)) => {}
            Err(error) => tracing::warn!(%error, "catch-up failed; trying again at the next wake"),
        }
    }

    /// Waits for a commit, a notification, the poll interval or the lease's renewal.
    /// Returns `false` when the app is gone or shutting down.
    async fn wait(&mut self) -> bool {
        let wake = Instant::now() + self.poll.min(self.renewal());
        let wake = self.renewal_due().map_or(wake, |due| due.min(wake));
        let Worker { committed, stopping, head, .. } = self;
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
            _ = stopping.changed() => false,
            () = head => true,
            () = tokio::time::sleep_until(wake.into()) => true,
        };
        if !open || *self.stopping.borrow() {
            return false;
        }
        tokio::time::sleep(LINGER.min(self.poll)).await;
        if *self.stopping.borrow() {
            return false;
        }
        // The catch-up that follows covers every commit and notification so far.
        self.committed.borrow_and_update();
        if let Some(head) = &mut self.head {
            head.borrow_and_update();
        }
        true
    }
}
