//! [`PostgresStore`]: the production event store of eventsmith, on PostgreSQL.
//!
//! **Ordering.** A sequence number is not commit order: a transaction can take position 10,
//! stay open, and commit after another has taken and committed 11; a reader that moved its
//! checkpoint past 11 would never see 10. This store rules that out by construction: every
//! append (function, statement or `COPY`) takes a store-wide transaction-level advisory lock
//! before it takes any position, and PostgreSQL makes a transaction visible before it
//! releases its locks. So when position p exists, every transaction that took a smaller
//! position has already committed or rolled back, and a reader of `position > checkpoint`
//! can never skip an event. The cost: appends to one store commit one after another (the
//! lock is held from the version check to the commit), so throughput is bounded by commit
//! latency times batch size rather than by connections; batching appends recovers it.
//! Appends are one round trip; the paths an append takes are in the `append` module.
//!
//! **Names.** The schema is validated as an identifier and still never spliced into SQL: it
//! is bound as a parameter to `set_config('search_path', ...)`, and `CREATE SCHEMA` and
//! `LISTEN` go through `format('%I')`. Stream ids and event types are always parameters.
//!
//! **Privileges.** The application role needs `USAGE` on the schema, `SELECT` on `events`,
//! `SELECT, INSERT, UPDATE` on `checkpoints` and `snapshots`, and `EXECUTE` on the functions;
//! it needs no `INSERT` on `events`: `eventsmith_append` is `SECURITY DEFINER`, so nobody can
//! insert around the ordering lock. Events cannot be updated, deleted or truncated (triggers).

//!
//! The modules: `db` (what the store and its writer share), `migrations`, `append` (the
//! append paths, and the table of which is taken when), `read`, `notify` (live readers),
//! `error` (the server's errors and the SQLSTATEs of the functions).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod append;
mod db;
mod documents;
mod error;
pub mod migrations;
mod notify;
mod read;
mod sql;
mod tls;

use std::str::FromStr;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use eventsmith_runtime::store::batch::PendingAppend;
use eventsmith_runtime::store::sql::InlineWork;
use eventsmith_runtime::store::{
    AppendOutcome, BoxFuture, Capabilities, Checkpoint, EventStore, ExpectedVersion, FoldedLog, Head, LogFold,
    NewEvent, Snapshot, StoreError, StoredEvent, StreamAppend, StreamFold, StreamInfo, append_one_at_a_time,
};
use tokio::sync::{mpsc, watch};
use tokio_postgres::NoTls;

use append::{COPY_FROM, Writer};
use db::Db;
use notify::ListenTo;
use tls::Tls;

pub use documents::{PostgresDocumentOptions, PostgresDocuments};

/// Options for [`PostgresStore::connect_with`] and [`PostgresStore::from_pool`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The schema the store's tables live in: a lowercase identifier.
    pub schema: String,
    /// Create or migrate the schema on connect. Turn it off for a role that only has the
    /// privileges to use the store, once an owner has migrated it.
    pub migrate: bool,
    /// Connections in the pool the store creates from a URL.
    pub pool_size: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self { schema: "eventsmith".to_owned(), migrate: true, pool_size: 16 }
    }
}

/// The event store on PostgreSQL.
///
/// ```no_run
/// # async fn run() -> Result<(), eventsmith_runtime::StoreError> {
/// use eventsmith_postgres::PostgresStore;
///
/// let store = PostgresStore::connect("postgres://postgres@127.0.0.1:5432/test").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    shared: Arc<Shared>,
}

struct Shared {
    db: Arc<Db>,
    /// Appends go to the writer task, which coalesces those that wait into one call.
    appends: mpsc::UnboundedSender<PendingAppend>,
    head: Head,
    /// The task that listens for other processes' appends, started by the first `subscribe`.
    listener: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The URL the store connected with (none for a pool of the application's): the listener
    /// opens a connection of its own.
    /// Where the listener connects: the settings of a store that made its own pool.
    listen_to: Option<ListenTo>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.lock().ok().and_then(|mut listener| listener.take()) {
            listener.abort();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("schema", &self.shared.db.schema).finish_non_exhaustive()
    }
}

/// Whether `schema` is a plain lowercase identifier that needs no quoting.
fn valid_schema(schema: &str) -> bool {
    let mut chars = schema.chars();
    chars.next().is_some_and(|first| first.is_ascii_lowercase() || first == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 50
}

/// A pool of the store's own for `url` (TLS as its `sslmode` says), whose connections start
/// with `schema` as their `search_path`; and where a listener connects.
pub(crate) fn own_pool(url: &str, schema: &str, size: usize) -> Result<(Pool, ListenTo), StoreError> {
    let secured = tls::secure(url)?;
    let mut config = tokio_postgres::Config::from_str(&secured.url).map_err(|error| StoreError::Backend {
        operation: "parse the connection URL",
        retryable: false,
        source: Box::new(error),
    })?;
    config.ssl_mode(secured.mode);
    let listen_to = ListenTo { config: config.clone(), tls: secured.tls.clone() };
    if valid_schema(schema) {
        // The pool's connections start with the store's schema as their search_path: a
        // startup parameter of the protocol, not SQL, and no round trip per checkout.
        // Every statement of the store is an index lookup or an index range; with
        // sequential scans off, a plan cached while the table was small (a generic plan
        // made on the first executions) stays an index plan as the table grows, where
        // it would otherwise scan the whole table on every append (measured: appends
        // slowing down linearly with the table).
        let existing = config.get_options().map(str::to_owned).unwrap_or_default();
        config.options(format!("{existing} -c search_path={schema} -c enable_seqscan=off").trim());
    }
    let recycling = ManagerConfig { recycling_method: RecyclingMethod::Fast };
    let manager = match secured.tls {
        Tls::None => Manager::from_config(config, NoTls, recycling),
        Tls::Rustls(connector) => Manager::from_config(config, connector, recycling),
    };
    let pool = Pool::builder(manager).max_size(size.max(1)).build().map_err(|error| StoreError::Backend {
        operation: "build the pool",
        retryable: false,
        source: Box::new(error),
    })?;
    Ok((pool, listen_to))
}

impl PostgresStore {
    /// Connects to `url` (e.g. `postgres://user@127.0.0.1/db`), with a pool of its own, and
    /// creates or migrates the store's schema (`eventsmith`).
    ///
    /// # Errors
    /// An invalid URL or schema, a server that cannot be reached, a schema written by a newer
    /// release.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// [`connect`](Self::connect) with options.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let (pool, listen_to) = own_pool(url, &options.schema, options.pool_size)?;
        Self::open(pool, options, Some(listen_to), true).await
    }

    /// A store on the application's own pool.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn from_pool(pool: Pool, options: PostgresOptions) -> Result<Self, StoreError> {
        Self::open(pool, options, None, false).await
    }

    async fn open(
        pool: Pool,
        options: PostgresOptions,
        listen_to: Option<ListenTo>,
        own_pool: bool,
    ) -> Result<Self, StoreError> {
        if !valid_schema(&options.schema) {
            return Err(StoreError::Backend {
                operation: "open",
                retryable: false,
                source: format!(
                    "invalid schema name `{}`: use lowercase letters, digits and `_`, starting with a letter or `_`, at most 50 characters",
                    options.schema
                )
                .into(),
            });
        }
        let db = Arc::new(Db::new(pool, options.schema, own_pool));
        if options.migrate {
            db.migrate().await?;
        } else {
            db.check_version().await?;
        }
        db.probe_privileges().await?;
        let head = Head::new(db.head().await?);
        let appends = Writer::spawn(Arc::clone(&db));
        let shared = Shared { db, appends, head, listener: std::sync::Mutex::new(None), listen_to };
        Ok(Self { shared: Arc::new(shared) })
    }

    /// Starts the task that listens for appends (LISTEN/NOTIFY) and moves the head.
    fn start_listener(&self) {
        let Some(listen_to) = self.shared.listen_to.clone() else { return };
        let Ok(mut guard) = self.shared.listener.lock() else { return };
        if guard.is_none() {
            let db = &self.shared.db;
            let listen =
                notify::listen_for_ever(listen_to, db.schema.clone(), db.channel.clone(), self.shared.head.clone());
            *guard = Some(tokio::spawn(listen));
        }
    }

    /// Refuses what the server would refuse less clearly: an append of nothing, and text
    /// with a NUL byte (which PostgreSQL text cannot hold).
    fn check_append(stream_id: &str, events: &[NewEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Err(StoreError::EmptyAppend { stream_id: stream_id.to_owned() });
        }
        const NUL: &str = "PostgreSQL text cannot hold a NUL byte";
        if stream_id.contains('\0') {
            return Err(StoreError::invalid_identifier("stream id", stream_id, NUL));
        }
        if let Some(event) = events.iter().find(|event| event.event_type.contains('\0')) {
            return Err(StoreError::invalid_identifier("event type", &event.event_type, NUL));
        }
        Ok(())
    }

    async fn append_events(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        Self::check_append(stream_id, &events)?;
        let outcome = if events.len() >= COPY_FROM && self.shared.db.can_insert() {
            self.shared.db.append_copy(stream_id, expected, &events).await?
        } else {
            let (pending, reply) = PendingAppend::new(stream_id, expected, events);
            self.shared
                .appends
                .send(pending)
                .map_err(|_| StoreError::backend("append", true, "the store's writer stopped"))?;
            reply.outcome().await?
        };
        if let Some(&last) = outcome.positions.last() {
            self.shared.head.advance(last);
        }
        Ok(outcome)
    }
}

impl EventStore for PostgresStore {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        Box::pin(self.append_events(stream_id, expected, events))
    }

    /// One transaction and one `COPY` for all (when the role may insert into the table);
    /// when an append is refused, nothing of it is written and they go one at a time.
    fn append_streams(&self, appends: Vec<StreamAppend>) -> BoxFuture<'_, Vec<Result<AppendOutcome, StoreError>>> {
        Box::pin(async move {
            let together = appends.len() > 1
                && self.shared.db.can_insert()
                && appends.iter().all(|append| {
                    !append.events.is_empty() && Self::check_append(&append.stream_id, &append.events).is_ok()
                });
            if together {
                match self.shared.db.append_streams_copy(&appends).await {
                    Ok(outcomes) => {
                        if let Some(&last) = outcomes.iter().filter_map(|outcome| outcome.positions.last()).max() {
                            self.shared.head.advance(last);
                        }
                        return outcomes.into_iter().map(Ok).collect();
                    }
                    Err(Some(failure)) => return vec![Err(failure)],
                    Err(None) => {}
                }
            }
            append_one_at_a_time(self, appends).await
        })
    }

    fn append_inline<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        inline: Arc<dyn InlineWork>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        Box::pin(async move {
            Self::check_append(stream_id, &events)?;
            let outcome = self.shared.db.append_inline(stream_id, expected, &events, &*inline).await?;
            if let Some(&last) = outcome.positions.last() {
                self.shared.head.advance(last);
            }
            Ok(outcome)
        })
    }

    fn database_identity(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        Box::pin(self.shared.db.identity())
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        max_count: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(self.shared.db.read_stream(stream_id, from_version, max_count))
    }

    fn streams<'a>(
        &'a self,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<StreamInfo>, StoreError>> {
        Box::pin(self.shared.db.streams(prefix, after, limit))
    }

    fn read_all<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(self.shared.db.read_all(from_position, max_count, types))
    }

    fn fold_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        fold: Box<dyn StreamFold>,
    ) -> BoxFuture<'a, Result<Box<dyn StreamFold>, StoreError>> {
        Box::pin(self.shared.db.fold_stream(stream_id, from_version, fold))
    }

    fn fold_log<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
        fold: Box<dyn LogFold>,
    ) -> BoxFuture<'a, Result<FoldedLog, StoreError>> {
        Box::pin(self.shared.db.fold_log(from_position, max_count, types, fold))
    }

    fn head(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(self.shared.db.head())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            checkpoints: true,
            notifications: true,
            snapshots: true,
            unique_event_ids: true,
            inline: self.shared.db.can_insert(),
        }
    }

    fn load_checkpoint<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Checkpoint>, StoreError>> {
        Box::pin(self.shared.db.load_checkpoint(name))
    }

    fn save_checkpoint<'a>(&'a self, name: &'a str, checkpoint: Checkpoint) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.shared.db.save_checkpoint(name, checkpoint))
    }

    fn subscribe(&self) -> Option<watch::Receiver<u64>> {
        self.start_listener();
        Some(self.shared.head.subscribe())
    }

    fn load_snapshot<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, StoreError>> {
        Box::pin(self.shared.db.load_snapshot(stream_id))
    }

    fn save_snapshot<'a>(&'a self, stream_id: &'a str, snapshot: Snapshot) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.shared.db.save_snapshot(stream_id, snapshot))
    }
}
