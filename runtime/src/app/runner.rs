//! Runs a projection: catch-up from its checkpoint in batches, live updates, checkpoints and
//! saved state, and stopping on the first event it cannot apply.

use std::any::Any;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use tracing::{Instrument, info_span};

use super::error::Error;
use crate::documents::Lease;
use crate::projection::{ApplyError, Projection};
use crate::store::{
    AppendOutcome, BoxFuture, Checkpoint, EventStore, EventStoreExt, LogEvent, LogFold, LogFolded, NewEvent,
};

/// How many events of the global log a projection folds per store call (and checks for a
/// checkpoint to save in between).
const CATCH_UP_BATCH: usize = 4096;

/// A projection that stopped on an event it could not apply.
#[derive(Debug, thiserror::Error)]
#[error("projection `{projection}` stopped: {source}")]
pub struct ProjectionStopped {
    /// The projection's name.
    pub projection: &'static str,
    /// The event it could not apply, and why.
    #[source]
    pub source: ApplyError,
}

/// The position up to which `runner` has seen the log, of a log whose head is `head`: its
/// checkpoint for one in memory (which moves over every event); for a stored one, whose
/// checkpoint stays at the last event it applied, the position before its next event, or
/// the head when none of its events lies after its checkpoint.
pub(crate) async fn caught_up_to(store: &dyn EventStore, runner: &dyn Runner, head: u64) -> Result<u64, Error> {
    let position = runner.position().await?;
    if !runner.stored() || position >= head {
        return Ok(position);
    }
    let types = runner.event_types();
    let next = store.read_all(position + 1, 1, &types).await?;
    Ok(next.first().map_or(head, |next| (next.position - 1).min(head)))
}

/// The type-erased face of a runner, as the app holds it.
pub(crate) trait Runner: Send + Sync {
    fn name(&self) -> &'static str;
    /// Applies every event after the checkpoint. Returns how many were applied.
    fn catch_up<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<u64, Error>>;
    /// [`catch_up`](Self::catch_up) by a worker, which ends between two batches once `held`
    /// is false (the worker's lease is another's). Only a stored one reads it.
    fn catch_up_holding<'a>(
        &'a self,
        store: &'a dyn EventStore,
        held: &'a AtomicBool,
    ) -> BoxFuture<'a, Result<u64, Error>> {
        let _ = held;
        self.catch_up(store)
    }
    /// After this process committed `committed` (one append's events, in log order): applies
    /// them as they are, without reading the log, when every event before them is applied
    /// already; else catches up from the store. Returns how many were applied.
    fn update<'a>(
        &'a self,
        store: &'a dyn EventStore,
        committed: &'a CommittedBatch<'a>,
    ) -> BoxFuture<'a, Result<u64, Error>> {
        let _ = committed;
        self.catch_up(store)
    }
    /// Restores the saved state and checkpoint, refusing a checkpoint past the log's end.
    fn restore<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<(), Error>>;
    /// Replaces the read model with a fresh one and replays the whole log into it.
    fn rebuild<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<u64, Error>>;
    /// The position a rebuild of this process has reached, while one builds the read model
    /// aside (the live one stays at [`position`](Self::position) meanwhile).
    fn rebuilding<'a>(&'a self) -> BoxFuture<'a, Result<Option<u64>, Error>> {
        Box::pin(async { Ok(None) })
    }
    fn as_any(&self) -> &dyn Any;
    /// Whether its read model and checkpoint are in a database (documents, SQL tables), so
    /// that a worker can keep it up to date instead of the commands.
    fn stored(&self) -> bool {
        false
    }
    /// The position up to which it has applied the log, as its checkpoint says (for a
    /// stored one, its database's).
    fn position<'a>(&'a self) -> BoxFuture<'a, Result<u64, Error>>;
    /// Why it stopped, if it did in this process.
    fn stop(&self) -> Option<Arc<ProjectionStopped>>;
    /// The stored type names of the events it consumes, for a stored one (whose checkpoint
    /// stays at the last event it applied): what [`caught_up_to`] looks for after it.
    fn event_types(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// Why it stopped as its read-model database keeps it, for a stored one: where and why
    /// a process (perhaps another) stopped it.
    fn recorded_stop<'a>(&'a self) -> BoxFuture<'a, Result<Option<crate::documents::RecordedStop>, Error>> {
        Box::pin(async { Ok(None) })
    }
    /// Takes or renews its worker lease in its read-model database, for a stored one: the
    /// lease as it stands after. `None` for one in memory, which every process runs.
    fn claim<'a>(&'a self, holder: &'a str, ttl: Duration) -> BoxFuture<'a, Result<Option<Lease>, Error>> {
        let _ = (holder, ttl);
        Box::pin(async { Ok(None) })
    }
    /// Gives its worker lease up, if `holder` holds it.
    fn release<'a>(&'a self, holder: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        let _ = holder;
        Box::pin(async { Ok(()) })
    }
    /// Its worker lease as its read-model database keeps it, for a stored one.
    fn lease<'a>(&'a self) -> BoxFuture<'a, Result<Option<Lease>, Error>> {
        Box::pin(async { Ok(None) })
    }
}

/// The events one append of this process committed, as the log holds them.
pub(crate) struct CommittedBatch<'a> {
    pub(crate) stream_id: &'a str,
    pub(crate) events: &'a [NewEvent],
    pub(crate) outcome: &'a AppendOutcome,
}

impl CommittedBatch<'_> {
    /// The events as a read of the log would return them: the stored fields are the ones
    /// sent, and the store's outcome gives the positions, versions and commit time.
    pub(crate) fn logged(&self) -> impl Iterator<Item = LogEvent<'_>> {
        self.events.iter().zip(&self.outcome.positions).enumerate().map(|(offset, (event, &position))| LogEvent {
            id: event.id,
            stream_id: self.stream_id,
            stream_version: self.outcome.first_version + offset as u64,
            position,
            recorded_at: self.outcome.recorded_at,
            namespace: event.namespace.as_deref(),
            event_type: &event.event_type,
            event_version: event.event_version,
            payload: &event.payload,
            metadata: std::borrow::Cow::Borrowed(&event.metadata),
        })
    }
}

pub(crate) struct ProjectionRunner<P> {
    /// Shared with the fold that applies the log as the store reads it.
    state: Arc<RwLock<RunnerState<P>>>,
    /// Serializes catch-ups, so that events are applied once and in log order.
    applying: tokio::sync::Mutex<()>,
    types: Vec<&'static str>,
    save_every: u64,
}

struct RunnerState<P> {
    model: P,
    /// The position of the last event applied.
    checkpoint: u64,
    /// A position up to which every event of the log of the projection's types is applied:
    /// at least `checkpoint`, and further when the log was read past its last event or this
    /// process committed the events after it. A commit whose first position follows it
    /// directly is applied without reading the log.
    scanned: u64,
    /// Whether `scanned` is the last position of an append (this process's), which the
    /// store can tell the next append's first position follows.
    scanned_at_append_end: bool,
    unsaved: u64,
    stopped: Option<Arc<ProjectionStopped>>,
}

impl<P: Projection> ProjectionRunner<P> {
    pub(crate) fn new(save_every: u64) -> Self {
        Self {
            state: Arc::new(RwLock::new(RunnerState::fresh())),
            applying: tokio::sync::Mutex::new(()),
            types: P::event_types(),
            save_every: save_every.max(1),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, RunnerState<P>> {
        // `apply_event` catches panics of user code, so a writer never panics mid-update.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the read model, unless the projection stopped.
    pub(crate) fn with_model<R>(&self, f: impl FnOnce(&P) -> R) -> Result<R, Error> {
        let state = self.read();
        if let Some(stopped) = &state.stopped {
            return Err(Error::ProjectionStopped(Arc::clone(stopped)));
        }
        Ok(f(&state.model))
    }

    pub(crate) fn checkpoint(&self) -> u64 {
        self.read().checkpoint
    }

    /// Applies the events this process just committed, when every event before the first is
    /// applied (stores number the log densely, and an append commits after every position
    /// before its own); else catches up, knowing the log holds them.
    async fn update_inner(&self, store: &dyn EventStore, committed: &CommittedBatch<'_>) -> Result<u64, Error> {
        let (Some(&first), Some(&last)) = (committed.outcome.positions.first(), committed.outcome.positions.last())
        else {
            return self.catch_up_inner(store, 0).await;
        };
        let applying = self.applying.lock().await;
        let follows = {
            let state = self.read();
            state.stopped.is_none()
                && (state.scanned.checked_add(1) == Some(first)
                    || (state.scanned_at_append_end && store.follows_directly(state.scanned, first)))
        };
        if !follows {
            drop(applying);
            return self.catch_up_inner(store, last).await;
        }
        let mut fold = Applying { state: Arc::clone(&self.state), applied: 0 };
        for event in committed.logged() {
            // As the store's filter would: the projection's type names, all when it names
            // none (its `apply_event` checks the namespace).
            let wanted = self.types.is_empty() || self.types.contains(&event.event_type);
            if wanted && !fold.fold(event) {
                break;
            }
        }
        let applied = fold.applied;
        self.after_batch(store, last).await?;
        Ok(applied)
    }

    /// After a batch: notes how far the log is applied (`scanned`: the last position of an
    /// append of this process, or 0), saves the state of a persisted
    /// projection when due, and reports a stop.
    async fn after_batch(&self, store: &dyn EventStore, scanned: u64) -> Result<(), Error> {
        let saved = {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            if state.stopped.is_none() && scanned > 0 && scanned >= state.scanned {
                (state.scanned, state.scanned_at_append_end) = (scanned, true);
            }
            (P::PERSIST && state.stopped.is_none() && state.unsaved >= self.save_every).then(|| snapshot(&mut state))
        };
        if let Some(checkpoint) = saved {
            store.save_checkpoint(P::NAME, checkpoint?).await?;
        }
        match &self.read().stopped {
            Some(stopped) => Err(Error::ProjectionStopped(Arc::clone(stopped))),
            None => Ok(()),
        }
    }

    /// Applies every event after the checkpoint; `visible` is a position the log is known
    /// to hold (committed before this call), so that a read that ends short of a batch
    /// covers it.
    async fn catch_up_inner(&self, store: &dyn EventStore, visible: u64) -> Result<u64, Error> {
        let _applying = self.applying.lock().await;
        let mut applied = 0;
        loop {
            let from = {
                let state = self.read();
                if let Some(stopped) = &state.stopped {
                    return Err(Error::ProjectionStopped(Arc::clone(stopped)));
                }
                state.checkpoint + 1
            };
            let (folded, count) = fold_log(store, &self.state, from, &self.types).await?;
            let full = folded.folded == CATCH_UP_BATCH;
            applied += count;
            // A read that ended short of a batch read the log to its end, past `visible`.
            self.after_batch(store, if full { 0 } else { visible }).await?;
            if !full {
                return Ok(applied);
            }
        }
    }
}

impl<P: Projection> RunnerState<P> {
    fn fresh() -> Self {
        RunnerState {
            model: P::initial(),
            checkpoint: 0,
            scanned: 0,
            scanned_at_append_end: false,
            unsaved: 0,
            stopped: None,
        }
    }
}

/// Applies the log's events from `from` on to the shared state as the store reads them, one
/// batch's worth; the first event that fails stops the projection, with the checkpoint on
/// the last event applied.
/// Returns where the read ended and how many of the events read were applied (the others
/// were of the projection's type names but another enum's).
async fn fold_log<P: Projection>(
    store: &dyn EventStore,
    state: &Arc<RwLock<RunnerState<P>>>,
    from: u64,
    types: &[&'static str],
) -> Result<(LogFolded, u64), Error> {
    let fold = Applying { state: Arc::clone(state), applied: 0 };
    let (fold, folded) = store.fold_log_into(from, CATCH_UP_BATCH, types, fold).await?;
    Ok((folded, fold.applied))
}

struct Applying<P> {
    state: Arc<RwLock<RunnerState<P>>>,
    applied: u64,
}

impl<P: Projection> LogFold for Applying<P> {
    fn fold(&mut self, event: LogEvent<'_>) -> bool {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let position = event.position;
        match state.model.apply_event(event) {
            Ok(applied) => self.applied += u64::from(applied),
            Err(source) => {
                tracing::error!(projection = P::NAME, error = %source, "projection stopped");
                state.stopped = Some(Arc::new(ProjectionStopped { projection: P::NAME, source }));
                return false;
            }
        }
        // Read in log order from after the checkpoint: every event up to here is applied.
        state.checkpoint = position;
        if position > state.scanned {
            (state.scanned, state.scanned_at_append_end) = (position, false);
        }
        state.unsaved += 1;
        true
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// The checkpoint and state to save, taken under the write lock so they match.
fn snapshot<P: Projection>(state: &mut RunnerState<P>) -> Result<Checkpoint, Error> {
    let saved =
        state.model.save_state().transpose().map_err(|source| Error::SaveState { projection: P::NAME, source })?;
    state.unsaved = 0;
    Ok(Checkpoint { position: state.checkpoint, state: saved })
}

impl<P: Projection> Runner for ProjectionRunner<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn position<'a>(&'a self) -> BoxFuture<'a, Result<u64, Error>> {
        let position = self.checkpoint();
        Box::pin(async move { Ok(position) })
    }

    fn stop(&self) -> Option<Arc<ProjectionStopped>> {
        self.read().stopped.clone()
    }

    fn catch_up<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(self.catch_up_inner(store, 0).instrument(info_span!("catch_up", projection = P::NAME)))
    }

    fn update<'a>(
        &'a self,
        store: &'a dyn EventStore,
        committed: &'a CommittedBatch<'a>,
    ) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(self.update_inner(store, committed).instrument(info_span!("update", projection = P::NAME)))
    }

    fn restore<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if !P::PERSIST {
                return Ok(());
            }
            let Some(checkpoint) = store.load_checkpoint(P::NAME).await? else { return Ok(()) };
            if checkpoint.position > 0 {
                let at = store.read_all(checkpoint.position, 1, &[]).await?;
                if at.first().is_none_or(|event| event.position != checkpoint.position) {
                    return Err(Error::CheckpointAhead { projection: P::NAME, checkpoint: checkpoint.position });
                }
            }
            let model = match checkpoint.state.as_deref().map(P::restore_state) {
                Some(Ok(model)) => model,
                Some(Err(error)) => {
                    tracing::warn!(projection = P::NAME, %error, "saved state does not decode; replaying from zero");
                    return Ok(());
                }
                None => return Ok(()),
            };
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            state.model = model;
            state.checkpoint = checkpoint.position;
            state.scanned = checkpoint.position;
            Ok(())
        })
    }

    fn rebuild<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            // The fresh model is built aside and swapped in whole, so queries never see it
            // half-built; live updates wait for the swap and then continue from its checkpoint.
            let _applying = self.applying.lock().await;
            let building = Arc::new(RwLock::new(RunnerState::<P>::fresh()));
            let mut applied = 0;
            loop {
                let from = building.read().unwrap_or_else(PoisonError::into_inner).checkpoint + 1;
                let (folded, count) = fold_log(store, &building, from, &self.types).await?;
                applied += count;
                if let Some(stopped) = &building.read().unwrap_or_else(PoisonError::into_inner).stopped {
                    return Err(Error::ProjectionStopped(Arc::clone(stopped)));
                }
                if folded.folded < CATCH_UP_BATCH {
                    break;
                }
            }
            let mut fresh =
                std::mem::replace(&mut *building.write().unwrap_or_else(PoisonError::into_inner), RunnerState::fresh());
            fresh.scanned = fresh.checkpoint;
            let saved = P::PERSIST.then(|| snapshot(&mut fresh)).transpose()?;
            *self.state.write().unwrap_or_else(PoisonError::into_inner) = fresh;
            if let Some(checkpoint) = saved {
                store.save_checkpoint(P::NAME, checkpoint).await?;
            }
            Ok(applied)
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
