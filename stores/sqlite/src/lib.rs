//! [`SqliteStore`]: the embedded, durable default store of eventsmith. One file, WAL mode, no
//! server; SQLite bundled, nothing to install.
//!
//! SQLite allows one writer at a time, and this store keeps it so explicitly: appends go
//! through one write connection behind a mutex and each runs in a `BEGIN IMMEDIATE`
//! transaction, which also excludes writers in other processes. A position is taken inside
//! that transaction, so positions are handed out in commit order and a reader of the global
//! log can never see a later position before an earlier one commits. Appends that arrive
//! while the write connection is busy are committed together by whoever holds it next, each
//! in a savepoint of its own (group commit). Reads use their own connections and see the last
//! committed state (WAL), without blocking the writer. All SQLite work runs off the async
//! executor: inside `block_in_place` on tokio's multi-threaded runtime (the worker first hands
//! its other tasks to another thread, and no thread switch is paid per call), or on
//! `spawn_blocking`'s threads elsewhere.
//!
//! The modules: [`schema`] (opening a file: checks, migrations, WAL), `append` (the group
//! commit and the checks of one append), `read` (the rows read back).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod append;
mod documents;
mod read;
pub mod schema;
mod sql;

pub use documents::SqliteDocuments;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eventsmith_runtime::store::batch::PendingAppend;
use eventsmith_runtime::store::sql::InlineWork;
use eventsmith_runtime::store::{
    AppendOutcome, BoxFuture, Capabilities, Checkpoint, EventStore, ExpectedVersion, FoldedLog, Head, LogFold,
    LogFolded, NewEvent, RawEvent, Snapshot, StoreError, StoredEvent, StreamAppend, StreamFold, StreamInfo, prefix_end,
};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::watch;

use read::{COLUMNS, collect, log_sql, stored_event, with_logged};
use schema::Location;

/// How many read connections a file-backed store keeps open.
const READERS: usize = 4;

/// How commits are made durable (SQLite's `synchronous` setting in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every commit is on disk when the append returns, even across a power loss (`FULL`).
    #[default]
    Full,
    /// A commit survives a crash of the process, but the last commits may be lost on a
    /// power loss or OS crash (`NORMAL`); several times faster for single-event appends.
    Normal,
}

/// Options for [`SqliteStore::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How commits are made durable.
    pub durability: Durability,
    /// How long an append waits for another process's write lock before failing.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self { durability: Durability::Full, busy_timeout: Duration::from_secs(5) }
    }
}

/// The embedded event store on SQLite.
///
/// ```
/// # tokio::runtime::Builder::new_multi_thread().build().unwrap().block_on(async {
/// use eventsmith_sqlite::SqliteStore;
///
/// let store = SqliteStore::in_memory().await?;            // or SqliteStore::open("orders.db")
/// # Ok::<(), eventsmith_runtime::StoreError>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

struct Shared {
    location: Location,
    writer: Mutex<Connection>,
    /// Appends waiting for the write connection. Whoever holds it next commits every one of
    /// them in one transaction (group commit): one sync to disk for all.
    pending: Mutex<Vec<PendingAppend>>,
    readers: Mutex<Vec<Connection>>,
    options: SqliteOptions,
    head: Head,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let location = match &self.shared.location {
            Location::File(path) => path.display().to_string(),
            Location::Memory => ":memory:".to_owned(),
        };
        f.debug_struct("SqliteStore").field("location", &location).finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the store in the file at `path`, with durable commits.
    ///
    /// # Errors
    /// A file that is not an eventsmith store or was written by a newer release, or that
    /// cannot be opened.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens (or creates) the store in the file at `path`.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        blocking(move || {
            let writer = schema::open_writer(&Location::File(path.clone()), options)?;
            Ok(Self::from_writer(Location::File(path), writer, options))
        })
        .await
    }

    /// A store in memory, for tests: the same SQL, nothing on disk.
    ///
    /// # Errors
    /// When SQLite cannot be initialized.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteOptions::default();
        blocking(move || {
            let writer = schema::open_writer(&Location::Memory, options)?;
            Ok(Self::from_writer(Location::Memory, writer, options))
        })
        .await
    }

    fn from_writer(location: Location, writer: Connection, options: SqliteOptions) -> Self {
        let head = writer.query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |row| row.get::<_, i64>(0));
        let head = u64::try_from(head.unwrap_or(0)).unwrap_or(0);
        let shared = Shared {
            location,
            writer: Mutex::new(writer),
            pending: Mutex::new(Vec::new()),
            readers: Mutex::new(Vec::new()),
            options,
            head: Head::new(head),
        };
        Self { shared: Arc::new(shared) }
    }

    /// Runs `f` on the write connection, on a blocking thread.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let shared = Arc::clone(&self.shared);
        blocking(move || f(&mut lock(&shared.writer))).await
    }

    /// Runs `f` on a read connection (the write connection for an in-memory store).
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let shared = Arc::clone(&self.shared);
        blocking(move || {
            if matches!(shared.location, Location::Memory) {
                return f(&lock(&shared.writer));
            }
            let pooled = lock(&shared.readers).pop();
            let connection = match pooled {
                Some(connection) => connection,
                None => schema::connect(&shared.location, shared.options)?,
            };
            let result = f(&connection);
            let mut readers = lock(&shared.readers);
            if readers.len() < READERS {
                readers.push(connection);
            }
            result
        })
        .await
    }
}

/// Keeps each statement's plan whatever values are bound to it (SQLite's query planner
/// stability guarantee). Without it, a statement whose plan may depend on a bound value
/// (`LIMIT ?`, `x = ?` under `MAX(..)` or `ORDER BY`) is compiled again at its next step
/// whenever its bindings are cleared, and rusqlite's statement cache clears them each time
/// it takes a statement back: the lookup of an append's stream version and every read of
/// the log were compiled afresh at each use, about 40% of an append's work.
fn stable_plans(connection: &Connection) -> Result<(), StoreError> {
    connection
        .set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map(|_| ())
        .map_err(|error| sqlite("open", error))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection leaves no transaction open: rusqlite rolls back
    // an unfinished transaction when it is dropped during the unwind.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => tokio::task::spawn_blocking(f).await.map_err(|error| backend("a blocking task", false, error))?,
    }
}

fn sqlite(operation: &'static str, error: rusqlite::Error) -> StoreError {
    let code = match &error {
        rusqlite::Error::SqliteFailure(failure, _) => Some(failure.code),
        _ => None,
    };
    match code {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            backend(operation, true, format!("the database is locked by another writer past the busy timeout: {error}"))
        }
        // The transaction is rolled back whole; the same append succeeds once there is room.
        Some(rusqlite::ErrorCode::DiskFull) => {
            backend(operation, true, format!("the disk is full; nothing of this operation was written: {error}"))
        }
        _ => backend(operation, false, error),
    }
}

fn backend(
    operation: &'static str,
    retryable: bool,
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> StoreError {
    StoreError::backend(operation, retryable, error)
}

fn micros(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
}

fn from_micros(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl EventStore for SqliteStore {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        Box::pin(async move {
            if events.is_empty() {
                return Err(StoreError::EmptyAppend { stream_id: stream_id.to_owned() });
            }
            let (pending, reply) = PendingAppend::new(stream_id, expected, events);
            lock(&self.shared.pending).push(pending);
            let shared = Arc::clone(&self.shared);
            // Takes the write connection and commits what is pending: this append and those that
            // arrived while the connection was busy, unless a caller before did it already.
            blocking(move || {
                let mut connection = lock(&shared.writer);
                let batch = std::mem::take(&mut *lock(&shared.pending));
                if !batch.is_empty() {
                    append::commit_appends(&mut connection, batch);
                }
                Ok(())
            })
            .await?;
            let outcome = reply.outcome().await?;
            if let Some(&last) = outcome.positions.last() {
                self.shared.head.advance(last);
            }
            Ok(outcome)
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
            if events.is_empty() {
                return Err(StoreError::EmptyAppend { stream_id: stream_id.to_owned() });
            }
            let stream = stream_id.to_owned();
            let outcome = self
                .write(move |connection| append::commit_inline(connection, &stream, expected, &events, &*inline))
                .await?;
            if let Some(&last) = outcome.positions.last() {
                self.shared.head.advance(last);
            }
            Ok(outcome)
        })
    }

    fn database_identity(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        let identity = match &self.shared.location {
            Location::File(path) => sql::identity(path).map(Some),
            Location::Memory => Ok(None),
        };
        Box::pin(std::future::ready(identity))
    }

    fn append_streams(&self, appends: Vec<StreamAppend>) -> BoxFuture<'_, Vec<Result<AppendOutcome, StoreError>>> {
        Box::pin(async move {
            let shared = Arc::clone(&self.shared);
            // After the group commits waiting for the connection: one transaction for all.
            let outcomes = blocking(move || Ok(append::commit_streams(&mut lock(&shared.writer), &appends))).await;
            let outcomes = outcomes.unwrap_or_else(|error| vec![Err(error)]);
            if let Some(last) = outcomes.iter().filter_map(|outcome| outcome.as_ref().ok()?.positions.last()).max() {
                self.shared.head.advance(*last);
            }
            outcomes
        })
    }

    fn streams<'a>(
        &'a self,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<StreamInfo>, StoreError>> {
        Box::pin(async move {
            let (prefix, after, end) = (prefix.to_owned(), after.map(str::to_owned), prefix_end(prefix));
            self.read(move |connection| read::streams(connection, &prefix, after.as_deref(), end.as_deref(), limit))
                .await
        })
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        max_count: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(async move {
            let stream = stream_id.to_owned();
            self.read(move |connection| {
                let mut statement = connection
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM events WHERE stream_id = ?1 AND stream_version >= ?2 ORDER BY stream_version LIMIT ?3"
                    ))
                    .map_err(|error| sqlite("read a stream", error))?;
                let rows = statement
                    .query_map(params![stream, to_i64(from_version), to_i64(max_count as u64)], stored_event)
                    .map_err(|error| sqlite("read a stream", error))?;
                collect(rows)
            })
            .await
        })
    }

    fn read_all<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(async move {
            let types: Vec<String> = types.iter().map(|&name| name.to_owned()).collect();
            self.read(move |connection| {
                let mut statement =
                    connection.prepare_cached(&log_sql(types.len())).map_err(|error| sqlite("read the log", error))?;
                let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(types.len() + 2);
                let (from, limit) = (to_i64(from_position), to_i64(max_count as u64));
                values.push(&from);
                values.push(&limit);
                values.extend(types.iter().map(|name| name as &dyn rusqlite::ToSql));
                let rows = statement
                    .query_map(values.as_slice(), stored_event)
                    .map_err(|error| sqlite("read the log", error))?;
                collect(rows)
            })
            .await
        })
    }

    fn fold_log<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
        mut fold: Box<dyn LogFold>,
    ) -> BoxFuture<'a, Result<FoldedLog, StoreError>> {
        Box::pin(async move {
            let types: Vec<String> = types.iter().map(|&name| name.to_owned()).collect();
            self.read(move |connection| {
                let mut statement =
                    connection.prepare_cached(&log_sql(types.len())).map_err(|error| sqlite("read the log", error))?;
                let (from, limit) = (to_i64(from_position), to_i64(max_count as u64));
                let mut values: Vec<&dyn rusqlite::ToSql> = vec![&from, &limit];
                values.extend(types.iter().map(|name| name as &dyn rusqlite::ToSql));
                let mut rows = statement.query(values.as_slice()).map_err(|error| sqlite("read the log", error))?;
                let mut folded = LogFolded { folded: 0, stopped: false };
                while let Some(row) = rows.next().map_err(|error| sqlite("read the log", error))? {
                    folded.folded += 1;
                    if !with_logged(row, |event| fold.fold(event))? {
                        folded.stopped = true;
                        break;
                    }
                }
                drop(rows);
                drop(statement);
                Ok((fold, folded))
            })
            .await
        })
    }

    fn fold_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        mut fold: Box<dyn StreamFold>,
    ) -> BoxFuture<'a, Result<Box<dyn StreamFold>, StoreError>> {
        Box::pin(async move {
            let stream = stream_id.to_owned();
            self.read(move |connection| {
                // The global position is not read: a replay does not need it, and reading one
                // column less per row is measurably faster. `RawEvent::position` is 0 here.
                let mut statement = connection
                    .prepare_cached(
                        "SELECT stream_version, event_type, event_version, payload FROM events
                         WHERE stream_id = ?1 AND stream_version >= ?2 ORDER BY stream_version",
                    )
                    .map_err(|error| sqlite("read a stream", error))?;
                let mut rows = statement
                    .query(params![stream, to_i64(from_version)])
                    .map_err(|error| sqlite("read a stream", error))?;
                while let Some(row) = rows.next().map_err(|error| sqlite("read a stream", error))? {
                    let column = |index| row.get_ref(index).map_err(|error| sqlite("read a stream", error));
                    let stream_version = to_u64(column(0)?.as_i64().unwrap_or(0));
                    let malformed = |reason: String| StoreError::CorruptRow {
                        position: 0,
                        reason: format!("`{stream}` version {stream_version}: {reason}"),
                    };
                    let raw = RawEvent {
                        stream_id: &stream,
                        stream_version,
                        position: 0,
                        event_type: column(1)?.as_str().map_err(|error| malformed(error.to_string()))?,
                        event_version: u32::try_from(column(2)?.as_i64().unwrap_or(0)).unwrap_or(0),
                        payload: column(3)?.as_blob().map_err(|error| malformed(error.to_string()))?,
                    };
                    if !fold.fold(raw) {
                        break;
                    }
                }
                Ok(fold)
            })
            .await
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { checkpoints: true, notifications: true, snapshots: true, unique_event_ids: true, inline: true }
    }

    fn load_checkpoint<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Checkpoint>, StoreError>> {
        Box::pin(async move {
            let name = name.to_owned();
            self.read(move |connection| {
                connection
                    .prepare_cached("SELECT position, state FROM checkpoints WHERE name = ?1")
                    .and_then(|mut statement| {
                        statement
                            .query_row([name], |row| {
                                Ok(Checkpoint { position: to_u64(row.get(0)?), state: row.get(1)? })
                            })
                            .optional()
                    })
                    .map_err(|error| sqlite("load a checkpoint", error))
            })
            .await
        })
    }

    fn save_checkpoint<'a>(&'a self, name: &'a str, checkpoint: Checkpoint) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let name = name.to_owned();
            self.write(move |connection| {
                // Position and state are one row, written by one statement: both or neither.
                connection
                    .prepare_cached(
                        "INSERT INTO checkpoints (name, position, state) VALUES (?1, ?2, ?3)
                         ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![name, to_i64(checkpoint.position), checkpoint.state])
                    })
                    .map(drop)
                    .map_err(|error| sqlite("save a checkpoint", error))
            })
            .await
        })
    }

    fn load_snapshot<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, StoreError>> {
        Box::pin(async move {
            let stream = stream_id.to_owned();
            self.read(move |connection| {
                connection
                    .prepare_cached("SELECT version, fingerprint, state FROM snapshots WHERE stream_id = ?1")
                    .and_then(|mut statement| {
                        statement
                            .query_row([stream], |row| {
                                Ok(Snapshot {
                                    version: to_u64(row.get(0)?),
                                    fingerprint: row.get(1)?,
                                    state: row.get(2)?,
                                })
                            })
                            .optional()
                    })
                    .map_err(|error| sqlite("load a snapshot", error))
            })
            .await
        })
    }

    fn save_snapshot<'a>(&'a self, stream_id: &'a str, snapshot: Snapshot) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let stream = stream_id.to_owned();
            self.write(move |connection| {
                connection
                    .prepare_cached(
                        "INSERT INTO snapshots (stream_id, version, fingerprint, state) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version,
                             fingerprint = excluded.fingerprint, state = excluded.state
                         WHERE excluded.version >= snapshots.version",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![
                            stream,
                            to_i64(snapshot.version),
                            snapshot.fingerprint,
                            snapshot.state
                        ])
                    })
                    .map(drop)
                    .map_err(|error| sqlite("save a snapshot", error))
            })
            .await
        })
    }

    fn head(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(self.read(|connection| {
            connection
                .query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |row| row.get::<_, i64>(0))
                .map(to_u64)
                .map_err(|error| sqlite("read the head", error))
        }))
    }

    fn subscribe(&self) -> Option<watch::Receiver<u64>> {
        Some(self.shared.head.subscribe())
    }
}
