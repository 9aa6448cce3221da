//! The [`App`] engine: executes commands (load, decide, append, retry) and loads aggregates.

use std::any::type_name;
use std::fmt::Display;
use std::sync::Arc;

use tracing::{Instrument, info_span};

pub(crate) mod error;
pub(crate) mod runner;

mod batches;
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
use crate::event::{Event, EventEnumInfo, EventSet};
use crate::id::new_event_id;
use crate::projection::{Projection, Query};
use crate::recorded::{Metadata, Recorded};
use crate::sql::SqlStore;
use crate::store::{AppendOutcome, EventStore, ExpectedVersion, NewEvent, StoreError};
use cache::{AggregateCache, DEFAULT_CACHED_AGGREGATES};
use documents::DEFAULT_DOCUMENT_BATCH;
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

/// Conflict retries per command unless [`AppBuilder::max_retries`] says otherwise.
const DEFAULT_MAX_RETRIES: u32 = 3;

/// A persisted projection saves its state after this many events unless
/// [`AppBuilder::save_projections_every`] says otherwise.
const DEFAULT_SAVE_EVERY: u64 = 1;

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

/// Configures and builds an [`App`].
#[must_use]
pub struct AppBuilder {
    store: Option<Arc<dyn EventStore>>,
    max_retries: u32,
    cached_aggregates: usize,
    aggregates: Vec<(&'static str, &'static str)>,
    projections: Vec<(Arc<dyn Runner>, bool)>,
    /// The event enums of the registered aggregates and projections.
    enums: Vec<EventEnumInfo>,
    save_every: u64,
    documents: Option<Arc<dyn DocumentStore>>,
    /// Document projections, made into runners once the document store is known.
    document_projections: Vec<MakeDocumentRunner>,
    document_batch: usize,
    sql: Option<Arc<dyn SqlStore>>,
    /// SQL projections, made into runners once the SQL store is known.
    sql_projections: Vec<MakeSqlRunner>,
    /// The poll interval of the stored projections' workers, when they have workers.
    workers: Option<std::time::Duration>,
    /// Whether `build` catches the projections up.
    catch_up_at_build: bool,
    /// How to describe the registered aggregates and projections.
    described: catalog::Described,
}

/// Makes the runner of a document projection on the app's document store, with its batch.
type MakeDocumentRunner = Box<dyn FnOnce(Arc<dyn DocumentStore>, usize) -> Arc<dyn Runner> + Send>;

/// Makes the runner of a SQL projection on the app's SQL store, with its batch; and the
/// projection as appends apply it, when it is inline.
type MakeSqlRunner =
    Box<dyn FnOnce(Arc<dyn SqlStore>, usize) -> (Arc<dyn Runner>, Option<Arc<dyn inline::InlineProjection>>) + Send>;

impl App {
    /// Starts configuring an app.
    pub fn builder() -> AppBuilder {
        AppBuilder {
            store: None,
            max_retries: DEFAULT_MAX_RETRIES,
            cached_aggregates: DEFAULT_CACHED_AGGREGATES,
            aggregates: Vec::new(),
            projections: Vec::new(),
            enums: Vec::new(),
            save_every: DEFAULT_SAVE_EVERY,
            documents: None,
            document_projections: Vec::new(),
            document_batch: DEFAULT_DOCUMENT_BATCH,
            sql: None,
            sql_projections: Vec::new(),
            workers: None,
            catch_up_at_build: true,
            described: catalog::Described::default(),
        }
    }

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
                Ok(outcome) => {
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
                    self.update_projections(&stream_id, &new_events, &outcome).await;
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
    ) -> Result<AppendOutcome, AppendError> {
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
            if let Some((projection, source)) = inline.and_then(|inline| inline.refused()) {
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
                other => return other.map_err(AppendError::Store),
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
    /// queries); the command stays committed.
    async fn update_projections(&self, stream_id: &str, events: &[NewEvent], outcome: &AppendOutcome) {
        if let (Some(workers), Some(&last)) = (&self.inner.workers, outcome.positions.last()) {
            workers.committed(last);
        }
        if self.inner.after_commit.is_empty() {
            return;
        }
        let committed = CommittedBatch { stream_id, events, outcome };
        for runner in &self.inner.after_commit {
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

impl AppBuilder {
    /// The event store to run on.
    pub fn store(mut self, store: impl EventStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// A store shared with other apps or with code that reads it directly.
    pub fn shared_store(mut self, store: Arc<dyn EventStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Runs each stored projection (documents or SQL tables, inline ones too) in a worker: a
    /// background task that catches it up after every commit of this app, on the store's
    /// notification of another process's append (PostgreSQL, NATS), and every `poll`
    /// otherwise. A command then returns as soon as its events are committed, whatever the
    /// number of stored projections, and `build` returns without waiting for them to catch
    /// up (but for an inline one, which its appends need caught up); [`App::wait_for`]
    /// waits until one has applied
    /// a command's events (read-your-writes). Workers of the same projection in several
    /// processes are safe together: each batch moves the checkpoint in the read model's own
    /// transaction, so every event is applied once, and the others carry on when one
    /// process dies. The workers end when the last clone of the app is dropped.
    ///
    /// Without it (the default), each command brings every projection up to date before it
    /// returns. Projections kept in memory are always updated that way.
    pub fn projection_workers(mut self, poll: std::time::Duration) -> Self {
        // A zero interval would have the workers read the database without pause.
        self.workers = Some(poll.max(std::time::Duration::from_millis(1)));
        self
    }

    /// Whether [`build`](Self::build) catches the projections up (default: yes). A tool that
    /// only reads the store, lists the projections' checkpoints or rebuilds one by name
    /// turns it off, so that it starts without replaying the log; the projections are then
    /// where their checkpoints are (in memory: at the start, unless persisted), and no
    /// [worker](Self::projection_workers) starts.
    pub fn catch_up_at_build(mut self, catch_up: bool) -> Self {
        self.catch_up_at_build = catch_up;
        self
    }

    /// How many times a command is tried again after a version conflict (default 3).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// How many recently used aggregates the app keeps in memory with their versions
    /// (default 4096; 0 turns the cache off). A command on a cached aggregate skips the load
    /// and costs only its append, whose expected version is the cached one: if the stream
    /// moved on (another process, or a direct append to the store), the append conflicts
    /// and the command is retried on the stream as stored. A rejection, or a decision to
    /// write nothing, is returned only after deciding on state read from the store. Only
    /// aggregates whose state is `Clone` are cached.
    pub fn aggregate_cache(mut self, aggregates: usize) -> Self {
        self.cached_aggregates = aggregates;
        self
    }

    /// Registers an aggregate, so that `build` checks that no two registered aggregates
    /// share a stream name, and that its events are not stored under the names of another
    /// registered enum's.
    pub fn aggregate<A: Aggregate>(mut self) -> Self {
        self.aggregates.push((A::NAME, type_name::<A>()));
        self.described.aggregate::<A>();
        self.enums.push(EventEnumInfo::of::<A::Event>());
        self
    }

    /// Registers a projection. `build` catches it up from its checkpoint (or from the start
    /// of the log), and every `execute` brings it up to date before returning.
    pub fn projection<P: Projection>(mut self) -> Self {
        let runner: Arc<dyn Runner> = Arc::new(ProjectionRunner::<P>::new(self.save_every));
        self.projections.push((runner, P::PERSIST));
        self.described.projection::<P>();
        self.enums.extend(<P::Events as EventSet>::enums());
        self
    }

    /// How many events a persisted projection applies between saves of its state and
    /// checkpoint (default 1: after every command). Applies to projections registered after.
    pub fn save_projections_every(mut self, events: u64) -> Self {
        self.save_every = events;
        self
    }

    /// Builds the app: restores and catches up every projection.
    ///
    /// # Errors
    /// [`Error::Config`] when no store was given, two aggregates or projections share a
    /// name, two registered event enums store a type under the same name and namespace, or
    /// a persisted projection runs on a store without checkpoints;
    /// [`Error::CheckpointAhead`]; a store failure.
    pub async fn build(self) -> Result<App, Error> {
        let store =
            self.store.ok_or_else(|| Error::Config("no event store: call `.store(...)` on the builder".into()))?;
        for (index, (name, rust_type)) in self.aggregates.iter().enumerate() {
            if let Some((_, other)) = self.aggregates[..index].iter().find(|(other, _)| other == name)
                && other != rust_type
            {
                return Err(Error::Config(format!(
                    "aggregates `{other}` and `{rust_type}` share the stream name `{name}`; give one `#[aggregate(name = \"...\")]`"
                )));
            }
        }
        check_enums(&self.enums)?;
        let mut registered = self.projections;
        if !self.document_projections.is_empty() {
            let documents = self.documents.clone().ok_or_else(|| {
                Error::Config(
                    "document projections need a document store: call `.documents_in(...)` on the builder".into(),
                )
            })?;
            for runner in self.document_projections {
                registered.push((runner(Arc::clone(&documents), self.document_batch), false));
            }
        }
        let mut inline = Vec::new();
        // The runners that also apply inside appends: caught up at build even with workers,
        // as an append applies them only when their checkpoint is right before its events.
        let mut inline_runners: Vec<&'static str> = Vec::new();
        if !self.sql_projections.is_empty() {
            let sql = self.sql.clone().ok_or_else(|| {
                Error::Config(
                    "SQL projections need a SQL read-model database: call `.sql_in(...)` on the builder".into(),
                )
            })?;
            for make in self.sql_projections {
                let (runner, inline_projection) = make(Arc::clone(&sql), self.document_batch);
                if inline_projection.is_some() {
                    inline_runners.push(runner.name());
                }
                registered.push((runner, false));
                inline.extend(inline_projection);
            }
            if !inline.is_empty() {
                App::check_inline(&*store, &*sql).await?;
            }
        }
        let inline = (!inline.is_empty())
            .then(|| inline::Inline { sql: self.sql.clone().expect("checked above"), projections: inline });
        // A tool that does not catch up at build starts no workers either: they would write.
        let workers = self.workers.filter(|_| self.catch_up_at_build);
        let mut projections = Vec::with_capacity(registered.len());
        for (runner, persist) in registered {
            if projections.iter().any(|other: &Arc<dyn Runner>| other.name() == runner.name()) {
                return Err(Error::Config(format!("two projections are named `{}`", runner.name())));
            }
            if persist && !store.capabilities().checkpoints {
                return Err(Error::Config(format!(
                    "projection `{}` persists its state, but the store does not keep checkpoints",
                    runner.name()
                )));
            }
            runner.restore(&*store).await?;
            // A worker catches its projection up as it starts: the build does not wait (but
            // for an inline one).
            let by_worker = workers.is_some() && runner.stored() && !inline_runners.contains(&runner.name());
            if self.catch_up_at_build && !by_worker {
                match runner.catch_up(&*store).await {
                    Ok(_) | Err(Error::ProjectionStopped(_)) => {}
                    Err(other) => return Err(other),
                }
            }
            projections.push(runner);
        }
        let (after_commit, workers) = match workers {
            None => (projections.clone(), None),
            Some(poll) => {
                let (stored, in_memory): (Vec<_>, Vec<_>) =
                    projections.iter().cloned().partition(|runner| runner.stored());
                (in_memory, Some(worker::Workers::start(&store, &stored, poll)))
            }
        };
        let cache = AggregateCache::new(self.cached_aggregates);
        let (documents, sql) = (self.documents, self.sql);
        let inner = Inner {
            store,
            max_retries: self.max_retries,
            projections,
            after_commit,
            workers,
            enums: self.enums,
            cache,
            documents,
            sql,
            inline,
            described: self.described,
        };
        Ok(App { inner: Arc::new(inner) })
    }
}

/// Refuses two event enums that store a type under the same name in the same namespace:
/// stored events of one could not be told from the other's.
fn check_enums(enums: &[EventEnumInfo]) -> Result<(), Error> {
    for (index, first) in enums.iter().enumerate() {
        for second in &enums[index + 1..] {
            if let Some(name) = first.clash(second) {
                return Err(Error::Config(format!(
                    "event enums `{}` and `{}` both store events named `{name}` in namespace `{}`, so stored \
                     events of one would be read as the other's; give one enum a namespace of its own with \
                     `#[event(namespace = \"...\")]` on the enum, or the variant another stored name with \
                     `#[event(name = \"...\")]`",
                    first.rust_type, second.rust_type, first.namespace
                )));
            }
        }
    }
    Ok(())
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
