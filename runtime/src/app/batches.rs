//! What the runners of stored read models (documents, SQL tables) share: the projection's
//! checkpoint lives in the read-model database and moves in the transaction of each batch,
//! and a batch whose checkpoint another process moved first is dropped and read again, so
//! that every event is applied once. After an event that cannot be applied, the events
//! before it are applied (again, without it) and the projection stops, saying why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::error::Error;
use super::runner::ProjectionStopped;
use crate::projection::ApplyError;
use crate::store::{BoxFuture, EventStore};

/// What one batch did.
pub(crate) enum Batch {
    /// Nothing after the checkpoint.
    Empty,
    /// Applied and committed this many events.
    Committed(u64),
    /// Another process moved the checkpoint first; nothing written.
    Lost,
    /// The event at `position` could not be applied.
    FailedAt { position: u64, error: ApplyError },
}

/// A stored read model, batch by batch.
pub(crate) trait Batches: Send + Sync {
    /// The position its checkpoint is at.
    fn position<'a>(&'a self) -> BoxFuture<'a, Result<u64, Error>>;

    /// Applies one batch of the log after the checkpoint (up to `until`'s position), and
    /// commits it with the new checkpoint.
    fn batch<'a>(&'a self, store: &'a dyn EventStore, until: Option<u64>) -> BoxFuture<'a, Result<Batch, Error>>;

    /// Keeps in the read-model database that the projection stopped at the event at
    /// `position`, and why, for every process to see.
    fn record_stop<'a>(&'a self, position: u64, reason: &'a str) -> BoxFuture<'a, Result<(), Error>>;
}

/// A stored projection's catch-ups in this process, and whether it stopped.
pub(crate) struct Applying {
    projection: &'static str,
    /// Serializes this process's catch-ups (other processes are kept out by the checkpoint).
    lock: tokio::sync::Mutex<()>,
    stopped: Mutex<Option<Arc<ProjectionStopped>>>,
}

impl Applying {
    pub(crate) fn new(projection: &'static str) -> Self {
        Applying { projection, lock: tokio::sync::Mutex::new(()), stopped: Mutex::new(None) }
    }

    pub(crate) fn stopped(&self) -> Option<Arc<ProjectionStopped>> {
        self.stopped.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Stops the projection in this process, and records why in its database.
    async fn stop(&self, batches: &dyn Batches, source: ApplyError) -> Error {
        tracing::error!(projection = self.projection, error = %source, "stored projection stopped");
        let stopped = Arc::new(ProjectionStopped { projection: self.projection, source });
        if let Err(error) = batches.record_stop(stopped.source.position(), &stopped.to_string()).await {
            tracing::warn!(projection = self.projection, %error, "the stop is not recorded in the read-model database");
        }
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&stopped));
        Error::ProjectionStopped(stopped)
    }

    /// Runs `reset` with no catch-up in flight, and forgets that the projection stopped.
    pub(crate) async fn reset<T>(&self, reset: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        let _applying = self.lock.lock().await;
        let done = reset.await?;
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(done)
    }

    /// Applies the log after the checkpoint, batch by batch; returns how many events this
    /// process applied. With `held` (a worker's), ends between two batches once it is
    /// false: the lease is another worker's, which goes on from the last committed batch.
    pub(crate) async fn catch_up(
        &self,
        batches: &dyn Batches,
        store: &dyn EventStore,
        held: Option<&AtomicBool>,
    ) -> Result<u64, Error> {
        let _applying = self.lock.lock().await;
        if let Some(stopped) = self.stopped() {
            return Err(Error::ProjectionStopped(stopped));
        }
        let mut applied = 0;
        // After an event failed: the position before it, up to which the rest is applied
        // (again without it, since what it touched may be half-changed), and why.
        let mut failed: Option<(u64, ApplyError)> = None;
        loop {
            if held.is_some_and(|held| !held.load(Ordering::Acquire)) {
                tracing::warn!(projection = self.projection, "the lease is lost: this catch-up ends here");
                return Ok(applied);
            }
            let until = failed.as_ref().map(|(last, _)| *last);
            if let Some(last) = until
                && batches.position().await? >= last
            {
                let (_, error) = failed.take().expect("a failure to report");
                return Err(self.stop(batches, error).await);
            }
            match batches.batch(store, until).await? {
                Batch::Empty => match failed.take() {
                    Some((_, error)) => return Err(self.stop(batches, error).await),
                    None => return Ok(applied),
                },
                Batch::Committed(count) => applied += count,
                // Another process applied the batch first: read on from where it got.
                Batch::Lost => {}
                Batch::FailedAt { position, error } => match failed {
                    None => failed = Some((position - 1, error)),
                    Some(_) => return Err(self.stop(batches, error).await),
                },
            }
        }
    }
}
