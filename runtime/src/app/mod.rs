//! The [`App`] engine: executes commands (load, decide, append, retry) and loads aggregates.

use std::any::type_name;
use std::fmt::Display;
use std::sync::Arc;

use tracing::{Instrument, info_span};

pub(crate) mod error;
pub(crate) mod runner;

mod batches;
mod builder;
mod cache;
mod catalog;
mod documents;
mod future;
mod inline;
pub mod metrics;
mod query;
mod replay;
mod sql;
mod stored;
mod tools;
mod worker;

use crate::aggregate::{Aggregate, HandledBy};
use crate::command::{Command, ExpectStream};
use crate::decode::decode_recorded;
use crate::documents::DocumentStore;
use crate::event::{Event, EventEnumInfo};
use crate::id::new_event_id;
use crate::projection::{Projection, Query};
use crate::recorded::{Metadata, Recorded};
use crate::sql::SqlStore;
use crate::store::{AppendOutcome, EventStore, ExpectedVersion, NewEvent, StoreError};
pub use builder::AppBuilder;
use cache::AggregateCache;
use error::{Error, ExecuteError};
pub use future::{Answer, Execution};
pub use query::{Answerable, InDocuments, InMemory, InSql};
use runner::{CommittedBatch, ProjectionRunner, Runner};
pub use sql::{sql_reached, sql_stopped};
pub use stored::StoredProjection;
pub use tools::{ProjectionStatus, Verification, VerifiedType};

/// How many events a load reads from the store at a time.
const READ_PAGE: usize = 1024;

/// How many times an append whose outcome is unknown is sent, in all, before the command
/// fails with [`ExecuteError::OutcomeUnknown`]; and the first pause between two (doubling).
const UNKNOWN_OUTCOME_ATTEMPTS: u32 = 6;
const UNKNOWN_OUTCOME_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Why [`App::append_once`] did not append.
enum AppendError {
    /// The store refused or failed, with a known outcome: nothing was written.
    Store(StoreError),
    /// The store kept failing in a way that leaves the outcome unknown.
    Unknown { attempts: u32, source: StoreError },
    /// An inline projection refused an event: nothing was written.
    Inline { projection: &'static str, source: crate::projection::ApplyError },
}

/// The engine that runs a domain over an event store: the seed's command model.
///
/// Cheap to clone; clones share the store.
///
/// ```
/// # use eventsmith::prelude::*;
/// # #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// # pub struct Opened { pub id: u32 }
/// # #[derive(Event, Debug, Clone, PartialEq)]
/// # pub enum CounterEvent { Opened(Opened), Bumped }
/// # #[derive(Command, Debug, Clone)]
/// # #[command(aggregate = Counter)]
/// # pub struct Bump { #[command(id)] pub id: u32 }
/// # #[derive(Debug, thiserror::Error)]
/// # #[error("never")]
/// # pub struct Never;
/// #[derive(Debug, Default)]
/// pub struct Counter { count: u32 }
///
/// #[aggregate(event = CounterEvent, error = Never)]
/// impl Counter {
///     #[command]
///     fn bump(&self, _: Bump) -> Result<CounterEvent, Never> { Ok(CounterEvent::Bumped) }
///     #[apply(CounterEvent::Bumped)]
///     fn bumped(&mut self) { self.count += 1; }
///     #[apply]
///     fn opened(&mut self, _: &Opened) {}
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let app = App::builder().store(MemoryStore::new()).build().await?;
/// app.execute(Bump { id: 7 }).await?;
/// let committed = app.execute(Bump { id: 7 }).await?;
/// assert_eq!(committed.version, 2);
/// assert_eq!(app.load::<Counter>(7).await?.state.count, 2);
/// # Ok::<(), eventsmith::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn EventStore>,
    max_retries: u32,
    /// Every projection, for lookups and [`App::follow_log`].
    projections: Vec<Arc<dyn Runner>>,
    /// The projections each command brings up to date after its commit: all of them, or,
    /// with [`AppBuilder::projection_workers`], those kept in memory.
    after_commit: Vec<Arc<dyn Runner>>,
    /// The workers that keep the stored projections up to date, when the app has them.
    workers: Option<worker::Workers>,
    /// The event enums of the aggregates and projections, for [`App::verify`].
    enums: Vec<EventEnumInfo>,
    cache: AggregateCache,
    documents: Option<Arc<dyn DocumentStore>>,
    sql: Option<Arc<dyn SqlStore>>,
    /// The projections applied in each append's transaction.
    inline: Option<inline::Inline>,
    /// How to describe the aggregates and projections, for [`App::catalog`].
    described: catalog::Described,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("max_retries", &self.inner.max_retries).finish_non_exhaustive()
    }
}

impl App {
    /// The store the app runs on.
    #[must_use]
    pub fn store(&self) -> &dyn EventStore {
        &*self.inner.store
    }

    /// Executes a command: loads its aggregate, lets the aggregate decide, and appends the
    /// events it produced with the loaded version as the expected version. On a version
    /// conflict the command is tried again on fresh state, up to the configured retries.
    ///
    /// Compiles only for a command whose aggregate has a `#[command]` handler for it.
    ///
    /// # Errors
    /// The aggregate's rejection, a missing or existing aggregate the command does not
    /// allow, conflicts past the retries, an event that does not decode or encode, or a
    /// store failure.
    pub fn execute<C, A>(&self, command: C) -> Execution<'_, A>
    where
        C: Command<Aggregate = A> + HandledBy<A>,
        A: Aggregate,
    {
        self.execute_with(command, Metadata::default())
    }

    /// [`execute`](Self::execute) with metadata stored on every event the command appends.
    /// Without a correlation id, the command's own id is used.
    ///
    /// # Errors
    /// As [`execute`](Self::execute).
    pub fn execute_with<C, A>(&self, command: C, mut metadata: Metadata) -> Execution<'_, A>
    where
        C: Command<Aggregate = A> + HandledBy<A>,
        A: Aggregate,
    {
        Box::pin(async move {
            let stream_id = stream_id::<A>(&command.aggregate_id());
            let command_id = new_event_id();
            metadata.correlation_id.get_or_insert(command_id);
            metadata.causation_id.get_or_insert(command_id);
            let span = info_span!(
                "execute",
                command = type_name::<C>(),
                stream = %stream_id,
                command_id = %command_id,
                correlation_id = %metadata.correlation_id.unwrap_or(command_id),
                causation_id = %metadata.causation_id.unwrap_or(command_id),
            );
            let started = std::time::Instant::now();
            let executed = self.execute_on_stream(stream_id, &command, metadata).instrument(span).await;
            metrics::command(A::NAME, outcome(&executed), started.elapsed());
            executed
        })
    }

    async fn execute_on_stream<C, A>(
        &self,
        stream_id: String,
        command: &C,
        metadata: Metadata,
    ) -> Result<Committed<A>, ExecuteError<A::Error>>
    where
        C: Command<Aggregate = A> + HandledBy<A>,
        A: Aggregate,
    {
        let mut attempt = 0;
        let mut use_cache = true;
        loop {
            attempt += 1;
            let cached = if use_cache { self.inner.cache.take::<A>(&stream_id) } else { None };
            let from_cache = cached.is_some();
            let (mut state, version) = match cached {
                Some(cached) => cached,
                None => self.load_stream::<A>(&stream_id).await?,
            };
            match C::EXPECT {
                // Versions only grow: a cached version past 0 is proof enough.
                ExpectStream::New if version > 0 => return Err(ExecuteError::AlreadyExists { stream_id, version }),
                ExpectStream::Existing if version == 0 => return Err(ExecuteError::NotFound { stream_id }),
                _ => {}
            }
            let events = match command.decide(&state) {
                Ok(events) if !events.is_empty() => events,
                // A rejection, or a decision to write nothing, is only returned once made on
                // state read from the store: a cached state may be behind another writer's.
                _ if from_cache => {
                    tracing::debug!("deciding again on state read from the store");
                    (attempt, use_cache) = (attempt - 1, false);
                    continue;
                }
                Ok(_) => {
                    if let Some(copy) = state.cached_copy() {
                        self.inner.cache.put(&stream_id, copy, version);
                    }
                    return Ok(Committed { stream_id, version, state, events: Vec::new() });
                }
                Err(source) => {
                    self.inner.cache.put(&stream_id, state, version);
                    return Err(ExecuteError::Rejected { stream_id, source });
                }
            };
            if let Some(event) = events.iter().find(|event| event.is_deprecated()) {
                return Err(ExecuteError::Deprecated { stream_id, event_type: event.event_type() });
            }
            let new_events = events
                .iter()
                .map(|event| Ok(NewEvent::encode(event)?.with_metadata(metadata.clone())))
                .collect::<Result<Vec<_>, crate::codec::EncodeError>>()?;
            let ids: Vec<_> = new_events.iter().map(|event| event.id).collect();
            let expected = ExpectedVersion::Exact(version);
            let append = self.append_once(&stream_id, expected, &new_events);
            let started = std::time::Instant::now();
            match append.instrument(info_span!("append", stream = %stream_id, events = ids.len())).await {
                Ok((outcome, applied_inline)) => {
                    metrics::appended(ids.len(), started.elapsed());
                    let recorded = events
                        .into_iter()
                        .zip(ids)
                        .zip(outcome.positions.iter().copied())
                        .enumerate()
                        .map(|(offset, ((event, id), position))| {
                            state.apply(&event);
                            Recorded {
                                id,
                                stream_id: stream_id.clone(),
                                stream_version: outcome.first_version + offset as u64,
                                position,
                                recorded_at: outcome.recorded_at,
                                metadata: metadata.clone(),
                                event,
                            }
                        })
                        .collect();
                    if let Some(copy) = state.cached_copy() {
                        self.inner.cache.put(&stream_id, copy, outcome.last_version());
                    }
                    self.maybe_snapshot(&stream_id, &state, version, outcome.last_version()).await;
                    self.update_projections(&stream_id, &new_events, &outcome, &applied_inline).await;
                    return Ok(Committed { version: outcome.last_version(), stream_id, state, events: recorded });
                }
                Err(AppendError::Store(StoreError::Conflict { actual, .. })) if attempt > self.inner.max_retries => {
                    return Err(ExecuteError::Conflict { stream_id, attempts: attempt, expected, actual });
                }
                Err(AppendError::Store(StoreError::Conflict { .. })) => {
                    tracing::debug!(attempt, "version conflict, retrying on fresh state");
                }
                Err(AppendError::Unknown { attempts, source }) => {
                    return Err(ExecuteError::OutcomeUnknown { stream_id, event_ids: ids, attempts, source });
                }
                Err(AppendError::Inline { projection, source }) => {
                    return Err(ExecuteError::InlineRefused { stream_id, projection, source: Box::new(source) });
                }
                Err(AppendError::Store(other)) => return Err(other.into()),
            }
        }
    }

    /// Appends `events`, exactly once even when the store fails in a way that leaves the
    /// outcome unknown: the same events (the same ids) are sent again, and a store
    /// acknowledges an exact retry of an append that did commit without writing it twice.
    async fn append_once(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<(AppendOutcome, Vec<&'static str>), AppendError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let inline = self.inner.inline.as_ref().map(inline::Inline::for_append);
            let appended = match &inline {
                Some(inline) => {
                    let work = Arc::clone(inline) as Arc<dyn crate::sql::InlineWork>;
                    self.inner.store.append_inline(stream_id, expected, events.to_vec(), work).await
                }
                None => self.inner.store.append(stream_id, expected, events.to_vec()).await,
            };
            if let Some((projection, source)) = inline.as_ref().and_then(|inline| inline.refused()) {
                return Err(AppendError::Inline { projection, source });
            }
            match appended {
                Err(error @ StoreError::Backend { retryable: true, .. }) => {
                    if attempts >= UNKNOWN_OUTCOME_ATTEMPTS {
                        return Err(AppendError::Unknown { attempts, source: error });
                    }
                    let pause = UNKNOWN_OUTCOME_PAUSE * 2u32.pow(attempts - 1);
                    tracing::warn!(%error, attempts, "append outcome unknown; sending the same events again");
                    tokio::time::sleep(pause).await;
                }
                Ok(outcome) => {
                    // The inline projections that applied the events in the append's transaction.
                    let applied = inline.map(|inline| inline.applied()).unwrap_or_default();
                    return Ok((outcome, applied));
                }
                Err(other) => return Err(AppendError::Store(other)),
            }
        }
    }

    /// Loads an aggregate by replaying its stream: its current state and version.
    /// An aggregate with no events loads as its `Default` state at version 0.
    ///
    /// # Errors
    /// A stored event that does not decode, or a store failure.
    pub async fn load<A: Aggregate>(&self, id: impl Display) -> Result<Loaded<A>, Error> {
        let stream_id = stream_id::<A>(&id);
        let span = info_span!("load", aggregate = A::NAME, stream = %stream_id);
        let (state, version) = self.load_stream::<A>(&stream_id).instrument(span).await?;
        Ok(Loaded { stream_id, state, version })
    }

    /// Reads an aggregate's whole stream as typed, recorded events.
    ///
    /// # Errors
    /// A stored event that does not decode, or a store failure.
    pub async fn read_stream<A: Aggregate>(&self, id: impl Display) -> Result<Vec<Recorded<A::Event>>, Error> {
        let stream_id = stream_id::<A>(&id);
        let mut recorded = Vec::new();
        loop {
            let page = self.inner.store.read_stream(&stream_id, recorded.len() as u64 + 1, READ_PAGE).await?;
            let full = page.len() == READ_PAGE;
            for stored in page {
                recorded.push(decode_recorded::<A::Event>(stored)?);
            }
            if !full {
                return Ok(recorded);
            }
        }
    }

    /// Answers a query from the projection that answers it (typed: `Q::Output`): a
    /// projection in memory, or a document projection's database, which any process with
    /// the database reads without running the projection.
    ///
    /// Within one process, a query sees every command that `execute` returned from (unless
    /// stored projections run in [workers](AppBuilder::projection_workers)); across
    /// processes, and with workers, wait for a command's position first with
    /// [`wait_for`](Self::wait_for).
    ///
    /// # Errors
    /// The projection is not registered (in memory) or the app has no document store, the
    /// projection stopped on an event it could not apply, or its database failed.
    pub fn query<Q, Via>(&self, query: Q) -> Answer<Q::Output>
    where
        Q: Answerable<Via>,
    {
        query.answer_in(self)
    }

    /// The answer to `query`, now.
    pub(crate) fn answer<Q: Query>(&self, query: Q) -> Result<Q::Output, Error> {
        self.runner::<Q::Projection>()?.with_model(|model| query.answer(model))
    }

    /// Replays a projection from the start of the log into a fresh read model, which then
    /// replaces the current one (also one that stopped on an event, after a fix).
    /// Returns how many events were applied.
    ///
    /// # Errors
    /// The projection is not registered, an event cannot be applied, or the store failed.
    pub async fn rebuild<P: Projection>(&self) -> Result<u64, Error> {
        let runner = self.runner::<P>()?;
        Runner::rebuild(runner, &*self.inner.store).instrument(info_span!("rebuild", projection = P::NAME)).await
    }

    /// The global position up to which projection `P` has applied the log.
    ///
    /// # Errors
    /// The projection is not registered.
    pub fn checkpoint<P: Projection>(&self) -> Result<u64, Error> {
        Ok(self.runner::<P>()?.checkpoint())
    }

    /// Ends this app's [workers](AppBuilder::projection_workers), each after the catch-up
    /// it is in, and waits until each has given its projection's lease up, so that another
    /// process's worker takes the projection on at its next poll. Call it before the
    /// process exits: when a tokio runtime ends, it drops the workers where they are, and
    /// their leases then run out on their own ([`worker_lease`](AppBuilder::worker_lease)).
    /// A catch-up follows the log to its head, so under appends that never pause it may
    /// take a while: bound the wait with `tokio::time::timeout` if need be. Commands still
    /// run afterwards, but nothing in this process updates its stored projections any more
    /// (other processes' workers do; without them, [`wait_for`](Self::wait_for) times out).
    /// Does nothing without workers; a second call waits for the first.
    pub async fn shutdown(&self) {
        if let Some(workers) = &self.inner.workers {
            workers.shutdown().await;
        }
    }

    /// Keeps every projection up to date with events appended by other processes: waits for
    /// appends (woken by the store's notifications where it has them, else every `poll`)
    /// and catches up. Runs until the store fails; spawn it as a background task.
    ///
    /// # Errors
    /// A store failure.
    pub async fn follow_log(&self, poll: std::time::Duration) -> Result<(), Error> {
        let mut head = self.inner.store.subscribe();
        loop {
            for runner in &self.inner.projections {
                match runner.catch_up(&*self.inner.store).await {
                    Ok(_) | Err(Error::ProjectionStopped(_)) => {}
                    Err(other) => return Err(other),
                }
            }
            match &mut head {
                Some(head) => {
                    let _ = tokio::time::timeout(poll, head.changed()).await;
                }
                None => tokio::time::sleep(poll).await,
            }
        }
    }

    /// Brings every projection up to the log's head after a commit: a projection that had
    /// applied every event before the commit takes the committed events as they are, the
    /// others read the log. A projection that fails stops on its own (and says so in its
    /// queries); the command stays committed. The inline projections that applied the events
    /// in the append's transaction (`applied_inline`) are up to date already.
    async fn update_projections(
        &self,
        stream_id: &str,
        events: &[NewEvent],
        outcome: &AppendOutcome,
        applied_inline: &[&'static str],
    ) {
        if let (Some(workers), Some(&last)) = (&self.inner.workers, outcome.positions.last()) {
            workers.committed(last);
        }
        if self.inner.after_commit.is_empty() {
            return;
        }
        let committed = CommittedBatch { stream_id, events, outcome };
        for runner in &self.inner.after_commit {
            if applied_inline.contains(&runner.name()) {
                continue;
            }
            match runner.update(&*self.inner.store, &committed).await {
                Ok(_) | Err(Error::ProjectionStopped(_)) => {}
                Err(error) => tracing::warn!(projection = runner.name(), %error, "projection not updated"),
            }
            if metrics::ENABLED
                && let Some(&head) = outcome.positions.last()
            {
                metrics::projection(&*self.inner.store, &**runner, head).await;
            }
        }
    }

    fn runner<P: Projection>(&self) -> Result<&ProjectionRunner<P>, Error> {
        self.inner
            .projections
            .iter()
            .find_map(|runner| runner.as_any().downcast_ref::<ProjectionRunner<P>>())
            .ok_or(Error::ProjectionNotRegistered { projection: P::NAME, rust_type: type_name::<P>() })
    }
}

/// An aggregate's state as loaded from its stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<A> {
    /// The aggregate's stream.
    pub stream_id: String,
    /// The state after every stored event.
    pub state: A,
    /// The stream's version (0 when it has no events).
    pub version: u64,
}

/// What an executed command committed.
#[derive(Debug, Clone)]
pub struct Committed<A: Aggregate> {
    /// The aggregate's stream.
    pub stream_id: String,
    /// The stream's version after the command.
    pub version: u64,
    /// The aggregate's state after the command's events.
    pub state: A,
    /// The events the command appended, with their envelopes (empty if it produced none).
    pub events: Vec<Recorded<A::Event>>,
}

/// A command's outcome, as the metrics label it.
fn outcome<A: Aggregate>(executed: &Result<Committed<A>, ExecuteError<A::Error>>) -> &'static str {
    match executed {
        Ok(committed) if committed.events.is_empty() => "unchanged",
        Ok(_) => "committed",
        Err(
            ExecuteError::Rejected { .. }
            | ExecuteError::NotFound { .. }
            | ExecuteError::AlreadyExists { .. }
            | ExecuteError::Deprecated { .. },
        ) => "rejected",
        Err(ExecuteError::Conflict { .. }) => "conflict",
        Err(_) => "failed",
    }
}

/// The stream id of aggregate `A` with id `id`: `Name-id`.
pub fn stream_id<A: Aggregate>(id: &dyn Display) -> String {
    format!("{}-{id}", A::NAME)
}
