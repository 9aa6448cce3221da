//! Configuring an [`App`] and building it: the store, the aggregates, the projections of each
//! form, and the checks `build` makes before anything runs.

use std::any::type_name;
use std::sync::Arc;

use super::cache::{AggregateCache, DEFAULT_CACHED_AGGREGATES};
use super::documents::DEFAULT_DOCUMENT_BATCH;
use super::error::Error;
use super::runner::{ProjectionRunner, Runner};
use super::{App, Inner, catalog, inline, worker};
use crate::aggregate::Aggregate;
use crate::documents::DocumentStore;
use crate::event::{EventEnumInfo, EventSet};
use crate::projection::Projection;
use crate::sql::SqlStore;
use crate::store::EventStore;

/// Conflict retries per command unless [`AppBuilder::max_retries`] says otherwise.
const DEFAULT_MAX_RETRIES: u32 = 3;

/// A persisted projection saves its state after this many events unless
/// [`AppBuilder::save_projections_every`] says otherwise.
const DEFAULT_SAVE_EVERY: u64 = 1;

/// Configures and builds an [`App`].
#[must_use]
pub struct AppBuilder {
    pub(super) store: Option<Arc<dyn EventStore>>,
    pub(super) max_retries: u32,
    pub(super) cached_aggregates: usize,
    pub(super) aggregates: Vec<(&'static str, &'static str)>,
    pub(super) projections: Vec<(Arc<dyn Runner>, bool)>,
    /// The event enums of the registered aggregates and projections.
    pub(super) enums: Vec<EventEnumInfo>,
    pub(super) save_every: u64,
    pub(super) documents: Option<Arc<dyn DocumentStore>>,
    /// Document projections, made into runners once the document store is known.
    pub(super) document_projections: Vec<MakeDocumentRunner>,
    pub(super) document_batch: usize,
    pub(super) sql: Option<Arc<dyn SqlStore>>,
    /// SQL projections, made into runners once the SQL store is known.
    pub(super) sql_projections: Vec<MakeSqlRunner>,
    /// The poll interval of the stored projections' workers, when they have workers.
    pub(super) workers: Option<std::time::Duration>,
    /// The workers' name in their leases, when given.
    pub(super) worker_name: Option<String>,
    /// How long a worker's lease lasts unless renewed.
    pub(super) worker_lease: std::time::Duration,
    /// Whether `build` catches the projections up.
    pub(super) catch_up_at_build: bool,
    /// How to describe the registered aggregates and projections.
    pub(super) described: catalog::Described,
}

/// Makes the runner of a document projection on the app's document store, with its batch.
/// Makes the runner of a document projection on the app's document store, with its batch;
/// and the projection as appends apply it, when it is inline.
pub(super) type MakeDocumentRunner = Box<
    dyn FnOnce(Arc<dyn DocumentStore>, usize) -> (Arc<dyn Runner>, Option<Arc<dyn inline::InlineProjection>>) + Send,
>;

/// Makes the runner of a SQL projection on the app's SQL store, with its batch; and the
/// projection as appends apply it, when it is inline.
pub(super) type MakeSqlRunner =
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
            worker_name: None,
            worker_lease: worker::DEFAULT_LEASE,
            catch_up_at_build: true,
            described: catalog::Described::default(),
        }
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
    /// a command's events (read-your-writes).
    ///
    /// Across processes, one worker runs each projection: the one that holds its lease in
    /// the read-model database ([`Lease`](crate::documents::Lease)). The others wait; when the
    /// holder's app shuts down ([`App::shutdown`]) it gives the lease up, and when its
    /// process dies the lease runs out ([`worker_lease`](Self::worker_lease)); then another
    /// takes it, from the last committed batch. Every batch moves the checkpoint in the read model's own
    /// transaction, so an event is applied once also when two workers overlap (a holder
    /// paused past its lease). The workers end when the last clone of the app is dropped,
    /// or at [`App::shutdown`].
    ///
    /// Without it (the default), each command brings every projection up to date before it
    /// returns. Projections kept in memory are always updated that way.
    pub fn projection_workers(mut self, poll: std::time::Duration) -> Self {
        // A zero interval would have the workers read the database without pause.
        self.workers = Some(poll.max(std::time::Duration::from_millis(1)));
        self
    }

    /// The name this app's [workers](Self::projection_workers) hold their leases under, as
    /// `eventsmith projections` and the dashboard show it (default: the host's name, the
    /// process id and a random part, `host/4242/9f3a1c`). Two apps with the same name would
    /// take each other's leases for their own: give each process its own.
    pub fn worker_name(mut self, name: impl Into<String>) -> Self {
        self.worker_name = Some(name.into());
        self
    }

    /// How long a [worker](Self::projection_workers)'s lease on its projection lasts unless
    /// it renews it (default 10 s, at least 300 ms). The holder renews it a third of the way
    /// through, also while a catch-up runs; after its process dies, the projection goes
    /// without a worker for up to the lease (from the last renewal), plus the others' next
    /// poll. Workers without the lease look at it every third of a lease at most, so the
    /// poll interval is capped at a third of it. On SQLite, where a process's read models
    /// share one connection, a renewal waits for the batch in progress: keep a batch's work
    /// well under a third of the lease.
    pub fn worker_lease(mut self, ttl: std::time::Duration) -> Self {
        self.worker_lease = ttl.max(worker::MIN_LEASE);
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
        let mut inline = Vec::new();
        // The runners that also apply inside appends: caught up at build even with workers,
        // as an append applies them only when their checkpoint is right before its events.
        let mut inline_runners: Vec<&'static str> = Vec::new();
        let mut add = |(runner, inline_projection): (Arc<dyn Runner>, Option<_>)| {
            if inline_projection.is_some() {
                inline_runners.push(runner.name());
            }
            inline.extend(inline_projection);
            registered.push((runner, false));
        };
        let mut inline_documents = false;
        if !self.document_projections.is_empty() {
            let documents = self.documents.clone().ok_or_else(|| {
                Error::Config(
                    "document projections need a document store: call `.documents_in(...)` on the builder".into(),
                )
            })?;
            for make in self.document_projections {
                let made = make(Arc::clone(&documents), self.document_batch);
                inline_documents |= made.1.is_some();
                add(made);
            }
            if inline_documents {
                App::check_inline(&*store, documents.database_identity().await?, "documents_in").await?;
            }
        }
        if !self.sql_projections.is_empty() {
            let sql = self.sql.clone().ok_or_else(|| {
                Error::Config(
                    "SQL projections need a SQL read-model database: call `.sql_in(...)` on the builder".into(),
                )
            })?;
            let mut inline_sql = false;
            for make in self.sql_projections {
                let made = make(Arc::clone(&sql), self.document_batch);
                inline_sql |= made.1.is_some();
                add(made);
            }
            if inline_sql {
                App::check_inline(&*store, sql.database_identity().await?, "sql_in").await?;
            }
        }
        let inline = (!inline.is_empty()).then_some(inline::Inline { projections: inline });
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
                let lease = worker::LeaseTerms {
                    holder: self.worker_name.clone().unwrap_or_else(worker::default_name).into(),
                    ttl: self.worker_lease,
                };
                (in_memory, Some(worker::Workers::start(&store, &stored, poll, lease)))
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
