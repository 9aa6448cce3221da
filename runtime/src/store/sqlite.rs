//! [`SqliteStore`]: the embedded, durable default. One file, WAL mode, no server.
//!
//! SQLite allows one writer at a time, and this store keeps it so explicitly: appends go
//! through one write connection behind a mutex and each runs in a `BEGIN IMMEDIATE`
//! transaction, which also excludes writers in other processes. A position is taken inside
//! that transaction, so positions are handed out in commit order and a reader of the global
//! log can never see a later position before an earlier one commits. Reads use their own
//! connections and see the last committed state (WAL), without blocking the writer.
//! All SQLite work runs off the async executor: inside `block_in_place` on tokio's
//! multi-threaded runtime (the worker first hands its other tasks to another thread, and no
//! thread switch is paid per call), or on `spawn_blocking`'s threads elsewhere.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::watch;
use uuid::Uuid;

use super::{
    AppendOutcome, Capabilities, Checkpoint, EventStore, ExpectedVersion, FoldedLog, LogEvent, LogFold, LogFolded,
    NewEvent, RawEvent, Snapshot, StoreError, StoredEvent, StreamFold,
};
use crate::recorded::Metadata;

/// The schema this release writes: the initial schema and the migrations after it. A file
/// with a higher version was written by a newer release and is refused; lower versions are
/// migrated on open.
const SCHEMA_VERSION: i64 = 1 + MIGRATIONS.len() as i64;

/// The changes after the initial schema, in order: `MIGRATIONS[0]` takes version 1 to 2.
const MIGRATIONS: &[&str] = &[
    // 2: the namespace of each event's type name (NULL for events stored before it).
    "ALTER TABLE events ADD COLUMN namespace TEXT;",
];

/// How many read connections a file-backed store keeps open.
const READERS: usize = 4;

const SCHEMA: &str = "
CREATE TABLE eventsmith_schema (
    version INTEGER NOT NULL
);
CREATE TABLE events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       BLOB    NOT NULL UNIQUE,
    stream_id      TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    event_type     TEXT    NOT NULL,
    event_version  INTEGER NOT NULL,
    payload        BLOB    NOT NULL,
    metadata       BLOB,
    recorded_at    INTEGER NOT NULL,
    UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_by_type ON events (event_type, position);
CREATE TABLE checkpoints (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    state    BLOB
);
CREATE TABLE snapshots (
    stream_id   TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    fingerprint TEXT    NOT NULL,
    state       BLOB    NOT NULL
);
CREATE TRIGGER events_are_immutable_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'eventsmith events are immutable'); END;
CREATE TRIGGER events_are_immutable_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'eventsmith events are immutable'); END;
";

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
/// use eventsmith::SqliteStore;
///
/// let store = SqliteStore::in_memory().await?;            // or SqliteStore::open("orders.db")
/// # Ok::<(), eventsmith::StoreError>(()) }).unwrap();
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
    head: watch::Sender<u64>,
}

struct PendingAppend {
    stream_id: String,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    reply: tokio::sync::oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

enum Location {
    File(PathBuf),
    Memory,
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
            let writer = connect(&Location::File(path.clone()), options)?;
            prepare_schema(&writer, &path.display().to_string())?;
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
            let writer = connect(&Location::Memory, options)?;
            prepare_schema(&writer, ":memory:")?;
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
            head: watch::Sender::new(head),
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
                None => connect(&shared.location, shared.options)?,
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

fn connect(location: &Location, options: SqliteOptions) -> Result<Connection, StoreError> {
    let connection = match location {
        Location::File(path) => Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ),
        Location::Memory => Connection::open_in_memory(),
    }
    .map_err(|error| sqlite("open", error))?;
    connection.busy_timeout(options.busy_timeout).map_err(|error| sqlite("open", error))?;
    let synchronous = match options.durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    if matches!(location, Location::File(_)) {
        // `journal_mode` answers with the mode now in force; a file that is not a database
        // fails here, before anything is written.
        let mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|error| not_a_store(location, error))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(backend(
                "open",
                false,
                format!("could not switch the database to WAL mode (it is in {mode} mode)"),
            ));
        }
    }
    connection.pragma_update(None, "synchronous", synchronous).map_err(|error| sqlite("open", error))?;
    connection.pragma_update(None, "foreign_keys", "ON").map_err(|error| sqlite("open", error))?;
    Ok(connection)
}

fn not_a_store(location: &Location, error: rusqlite::Error) -> StoreError {
    if let (Location::File(path), rusqlite::Error::SqliteFailure(failure, _)) = (location, &error) {
        if failure.code == rusqlite::ErrorCode::NotADatabase {
            return StoreError::NotAStore {
                location: path.display().to_string(),
                reason: "the file is not a SQLite database".into(),
            };
        }
    }
    sqlite("open", error)
}

/// Creates the schema in an empty database, or checks the version of an existing one.
fn prepare_schema(connection: &Connection, location: &str) -> Result<(), StoreError> {
    let table_exists = |name: &str| -> Result<bool, StoreError> {
        connection
            .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
            .map_err(|error| sqlite("open", error))
    };
    if table_exists("eventsmith_schema")? {
        return migrate(connection, location);
    }
    let other_tables: i64 = connection
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", [], |row| {
            row.get(0)
        })
        .map_err(|error| sqlite("open", error))?;
    if other_tables > 0 {
        return Err(StoreError::NotAStore {
            location: location.to_owned(),
            reason: format!("the database has {other_tables} other tables and no eventsmith schema"),
        });
    }
    let schema = format!(
        "BEGIN IMMEDIATE; {SCHEMA} {} INSERT INTO eventsmith_schema (version) VALUES ({SCHEMA_VERSION}); COMMIT;",
        MIGRATIONS.concat()
    );
    connection.execute_batch(&schema).map_err(|error| sqlite("create the schema", error))
}

/// Applies the migrations an existing store lacks, in one `BEGIN IMMEDIATE` transaction
/// (which also keeps another process from migrating at the same time), or refuses a store
/// written by a newer release.
fn migrate(connection: &Connection, location: &str) -> Result<(), StoreError> {
    let version = |connection: &Connection| -> Result<i64, StoreError> {
        connection
            .query_row("SELECT MAX(version) FROM eventsmith_schema", [], |row| row.get(0))
            .map_err(|error| sqlite("open", error))
    };
    let found = version(connection)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { location: location.to_owned(), found, supported: SCHEMA_VERSION });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    connection.execute_batch("BEGIN IMMEDIATE").map_err(|error| sqlite("migrate", error))?;
    let migrated = (|| {
        // Another process may have migrated while this one waited for the lock.
        let found = version(connection)?;
        for migration in MIGRATIONS.iter().skip(usize::try_from(found - 1).unwrap_or(0)) {
            connection.execute_batch(migration).map_err(|error| sqlite("migrate", error))?;
        }
        connection
            .execute("UPDATE eventsmith_schema SET version = ?1", [SCHEMA_VERSION])
            .map_err(|error| sqlite("migrate", error))?;
        connection.execute_batch("COMMIT").map_err(|error| sqlite("migrate", error))
    })();
    if migrated.is_err() {
        let _ = connection.execute_batch("ROLLBACK");
    }
    migrated
}

fn sqlite(operation: &'static str, error: rusqlite::Error) -> StoreError {
    let retryable = matches!(
        &error,
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(failure.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    if retryable {
        return backend(
            operation,
            true,
            format!("the database is locked by another writer past the busy timeout: {error}"),
        );
    }
    backend(operation, false, error)
}

fn backend(
    operation: &'static str,
    retryable: bool,
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> StoreError {
    StoreError::Backend { operation, retryable, source: error.into() }
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

const COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, event_version, payload, metadata, recorded_at, namespace";

fn stored_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredEvent, StoreError>> {
    Ok(with_logged(row, |event| event.into_stored()))
}

/// The log read from position `?1`, at most `?2` events, of the `types` types bound from `?3`
/// on (all types when there are none). Only placeholders reach the SQL text. The unary `+`
/// keeps the type index out of the plan: walking the primary key and filtering stops after
/// the limit, where the index would make SQLite read every later event of those types and
/// sort them, on every page.
fn log_sql(types: usize) -> String {
    let filter = if types == 0 {
        String::new()
    } else {
        let placeholders: Vec<String> = (0..types).map(|index| format!("?{}", index + 3)).collect();
        format!(" AND +event_type IN ({})", placeholders.join(", "))
    };
    format!("SELECT {COLUMNS} FROM events WHERE position >= ?1{filter} ORDER BY position LIMIT ?2")
}

/// Calls `f` with the row (of [`COLUMNS`]) borrowed as a [`LogEvent`].
fn with_logged<T>(row: &rusqlite::Row<'_>, f: impl FnOnce(LogEvent<'_>) -> T) -> Result<T, StoreError> {
    let read = |error| sqlite("read", error);
    let position = to_u64(row.get(0).map_err(read)?);
    let corrupt = |reason: String| StoreError::CorruptRow { position, reason };
    let id = row.get_ref(1).and_then(|value| Ok(value.as_blob()?)).map_err(read)?;
    let Ok(id) = Uuid::from_slice(id) else {
        return Err(corrupt(format!("the event id has {} bytes, not 16", id.len())));
    };
    let metadata = match row.get_ref(7).and_then(|value| Ok(value.as_blob_or_null()?)).map_err(read)? {
        None => Metadata::default(),
        Some(bytes) => serde_json::from_slice::<Metadata>(bytes)
            .map_err(|error| corrupt(format!("the metadata does not decode: {error}")))?,
    };
    let text = |index| row.get_ref(index).and_then(|value| Ok(value.as_str()?)).map_err(read);
    Ok(f(LogEvent {
        id,
        stream_id: text(2)?,
        stream_version: to_u64(row.get(3).map_err(read)?),
        position,
        recorded_at: from_micros(row.get(8).map_err(read)?),
        namespace: row.get_ref(9).and_then(|value| Ok(value.as_str_or_null()?)).map_err(read)?,
        event_type: text(4)?,
        event_version: u32::try_from(row.get::<_, i64>(5).map_err(read)?).unwrap_or(0),
        payload: row.get_ref(6).and_then(|value| Ok(value.as_blob()?)).map_err(read)?,
        metadata: std::borrow::Cow::Owned(metadata),
    }))
}

fn collect(
    rows: impl Iterator<Item = rusqlite::Result<Result<StoredEvent, StoreError>>>,
) -> Result<Vec<StoredEvent>, StoreError> {
    rows.map(|row| row.map_err(|error| sqlite("read", error))?).collect()
}

/// The earlier append an exact retry repeats, if every event id is already stored in this
/// stream in this order; `None` if no id is stored; an error if only some are, or elsewhere.
fn earlier_append(
    transaction: &Connection,
    stream_id: &str,
    events: &[NewEvent],
) -> Result<Option<AppendOutcome>, StoreError> {
    let mut lookup = transaction
        .prepare_cached("SELECT stream_id, stream_version, position, recorded_at FROM events WHERE event_id = ?1")
        .map_err(|error| sqlite("append", error))?;
    let found = events
        .iter()
        .map(|event| {
            lookup
                .query_row([event.id.as_bytes().as_slice()], |row| {
                    Ok((row.get::<_, String>(0)?, to_u64(row.get(1)?), to_u64(row.get(2)?), row.get::<_, i64>(3)?))
                })
                .optional()
                .map_err(|error| sqlite("append", error))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Some(Some((_, first_version, _, recorded_at))) = found.first().cloned() else {
        return match events.iter().zip(&found).find(|(_, row)| row.is_some()) {
            Some((event, _)) => Err(StoreError::DuplicateEvent { stream_id: stream_id.to_owned(), event_id: event.id }),
            None => Ok(None),
        };
    };
    let exact = found.iter().enumerate().all(|(offset, row)| {
        row.as_ref()
            .is_some_and(|(stream, version, _, _)| stream == stream_id && *version == first_version + offset as u64)
    });
    if !exact {
        return Err(StoreError::DuplicateEvent { stream_id: stream_id.to_owned(), event_id: events[0].id });
    }
    Ok(Some(AppendOutcome {
        first_version,
        positions: found.iter().flatten().map(|(_, _, position, _)| *position).collect(),
        recorded_at: from_micros(recorded_at),
        already_stored: true,
    }))
}

fn is_duplicate_id(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, Some(message))
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE && message.contains("event_id"))
}

/// One append, in one `BEGIN IMMEDIATE` transaction. The common case costs one read (the
/// stream's version) and the inserts; the check for an earlier, identical append runs only
/// when the version does not match or an event id is already stored.
/// Commits `batch` in one `BEGIN IMMEDIATE` transaction, each append in a savepoint of its
/// own (a refused append rolls back alone), and answers each caller once the commit is done.
fn commit_appends(connection: &mut Connection, batch: Vec<PendingAppend>) {
    let mut transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(transaction) => transaction,
        Err(error) => {
            let error = sqlite("append", error);
            for append in batch {
                let _ = append.reply.send(Err(for_each_caller(&error)));
            }
            return;
        }
    };
    if let [append] = batch.as_slice() {
        // Alone in its transaction: no savepoint needed, a refusal rolls the whole of it back.
        let outcome = append_in(&transaction, &append.stream_id, append.expected, &append.events);
        let outcome = match outcome {
            Ok(outcome) if !outcome.already_stored => {
                transaction.commit().map_err(|error| sqlite("append", error)).map(|()| outcome)
            }
            other => other,
        };
        if let Some(append) = batch.into_iter().next() {
            let _ = append.reply.send(outcome);
        }
        return;
    }
    let mut outcomes = Vec::with_capacity(batch.len());
    for append in &batch {
        let outcome = match transaction.savepoint() {
            Ok(mut savepoint) => {
                let outcome = append_in(&savepoint, &append.stream_id, append.expected, &append.events);
                if outcome.as_ref().is_ok_and(|outcome| !outcome.already_stored) {
                    savepoint.commit().map_err(|error| sqlite("append", error)).and(outcome)
                } else {
                    // Dropping the savepoint rolls it back: a refused append leaves nothing.
                    savepoint.set_drop_behavior(rusqlite::DropBehavior::Rollback);
                    outcome
                }
            }
            Err(error) => Err(sqlite("append", error)),
        };
        outcomes.push(outcome);
    }
    match transaction.commit() {
        Ok(()) => {
            for (append, outcome) in batch.into_iter().zip(outcomes) {
                let _ = append.reply.send(outcome);
            }
        }
        Err(error) => {
            // Nothing of the batch was committed.
            let error = sqlite("append", error);
            for append in batch {
                let _ = append.reply.send(Err(for_each_caller(&error)));
            }
        }
    }
}

/// The error of a whole batch, for each of its callers.
fn for_each_caller(error: &StoreError) -> StoreError {
    let retryable = matches!(error, StoreError::Backend { retryable: true, .. });
    StoreError::Backend { operation: "append", retryable, source: error.to_string().into() }
}

/// One append inside the caller's transaction (savepoint): the version check, the inserts,
/// or the outcome of the earlier append it repeats.
fn append_in(
    transaction: &Connection,
    stream_id: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> Result<AppendOutcome, StoreError> {
    let actual: i64 = transaction
        .prepare_cached("SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?1")
        .and_then(|mut statement| statement.query_row([stream_id], |row| row.get(0)))
        .map_err(|error| sqlite("append", error))?;
    let actual = to_u64(actual);
    if !expected.admits(actual) {
        return match earlier_append(transaction, stream_id, events)? {
            Some(outcome) => Ok(outcome),
            None => Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual }),
        };
    }
    let recorded_at = SystemTime::now();
    let mut positions = Vec::with_capacity(events.len());
    {
        let mut insert = transaction
            .prepare_cached(
                "INSERT INTO events (event_id, stream_id, stream_version, event_type, event_version, payload, metadata, recorded_at, namespace)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(|error| sqlite("append", error))?;
        for (offset, event) in events.iter().enumerate() {
            let metadata = if event.metadata.is_empty() {
                None
            } else {
                Some(serde_json::to_vec(&event.metadata).map_err(|error| backend("append", false, error))?)
            };
            let inserted = insert.insert(params![
                event.id.as_bytes().as_slice(),
                stream_id,
                to_i64(actual + offset as u64 + 1),
                event.event_type.as_ref(),
                i64::from(event.event_version),
                event.payload,
                metadata,
                micros(recorded_at),
                event.namespace.as_deref(),
            ]);
            match inserted {
                Ok(position) => positions.push(to_u64(position)),
                // An id already stored: an exact retry of an earlier append, or an error. The
                // savepoint is rolled back, so nothing of this append stays.
                Err(error) if is_duplicate_id(&error) => {
                    return match earlier_append(transaction, stream_id, events) {
                        Ok(Some(outcome)) => Ok(outcome),
                        Ok(None) => Err(sqlite("append", error)),
                        // The id whose insert failed is the one stored before (the events of
                        // this append inserted so far are found too, and are not duplicates).
                        Err(StoreError::DuplicateEvent { stream_id, .. }) => {
                            Err(StoreError::DuplicateEvent { stream_id, event_id: event.id })
                        }
                        Err(other) => Err(other),
                    };
                }
                Err(error) => return Err(sqlite("append", error)),
            }
        }
    }
    Ok(AppendOutcome { first_version: actual + 1, positions, recorded_at, already_stored: false })
}

impl EventStore for SqliteStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        if events.is_empty() {
            return Err(StoreError::EmptyAppend { stream_id: stream_id.to_owned() });
        }
        let (reply, outcome) = tokio::sync::oneshot::channel();
        lock(&self.shared.pending).push(PendingAppend { stream_id: stream_id.to_owned(), expected, events, reply });
        let shared = Arc::clone(&self.shared);
        // Takes the write connection and commits what is pending: this append and those that
        // arrived while the connection was busy, unless a caller before did it already.
        blocking(move || {
            let mut connection = lock(&shared.writer);
            let batch = std::mem::take(&mut *lock(&shared.pending));
            if !batch.is_empty() {
                commit_appends(&mut connection, batch);
            }
            Ok(())
        })
        .await?;
        let outcome = outcome.await.map_err(|_| backend("append", true, "the append was dropped unanswered"))??;
        if let Some(&last) = outcome.positions.last() {
            super::advance_head(&self.shared.head, last);
        }
        Ok(outcome)
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
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
    }

    async fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let types: Vec<String> = types.iter().map(|&name| name.to_owned()).collect();
        self.read(move |connection| {
            let mut statement =
                connection.prepare_cached(&log_sql(types.len())).map_err(|error| sqlite("read the log", error))?;
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(types.len() + 2);
            let (from, limit) = (to_i64(from_position), to_i64(max_count as u64));
            values.push(&from);
            values.push(&limit);
            values.extend(types.iter().map(|name| name as &dyn rusqlite::ToSql));
            let rows =
                statement.query_map(values.as_slice(), stored_event).map_err(|error| sqlite("read the log", error))?;
            collect(rows)
        })
        .await
    }

    async fn fold_log(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
        mut fold: Box<dyn LogFold>,
    ) -> Result<FoldedLog, StoreError> {
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
    }

    async fn fold_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        mut fold: Box<dyn StreamFold>,
    ) -> Result<Box<dyn StreamFold>, StoreError> {
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
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { checkpoints: true, notifications: true, snapshots: true, unique_event_ids: true }
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        let name = name.to_owned();
        self.read(move |connection| {
            connection
                .prepare_cached("SELECT position, state FROM checkpoints WHERE name = ?1")
                .and_then(|mut statement| {
                    statement
                        .query_row([name], |row| Ok(Checkpoint { position: to_u64(row.get(0)?), state: row.get(1)? }))
                        .optional()
                })
                .map_err(|error| sqlite("load a checkpoint", error))
        })
        .await
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
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
    }

    async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        let stream = stream_id.to_owned();
        self.read(move |connection| {
            connection
                .prepare_cached("SELECT version, fingerprint, state FROM snapshots WHERE stream_id = ?1")
                .and_then(|mut statement| {
                    statement
                        .query_row([stream], |row| {
                            Ok(Snapshot { version: to_u64(row.get(0)?), fingerprint: row.get(1)?, state: row.get(2)? })
                        })
                        .optional()
                })
                .map_err(|error| sqlite("load a snapshot", error))
        })
        .await
    }

    async fn save_snapshot(&self, stream_id: &str, snapshot: Snapshot) -> Result<(), StoreError> {
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
                    statement.execute(params![stream, to_i64(snapshot.version), snapshot.fingerprint, snapshot.state])
                })
                .map(drop)
                .map_err(|error| sqlite("save a snapshot", error))
        })
        .await
    }

    fn subscribe(&self) -> Option<watch::Receiver<u64>> {
        Some(self.shared.head.subscribe())
    }
}
