//! Opening a file: refusing what is not an eventsmith store (before anything is written to
//! it), creating the schema or migrating an older one, and switching to WAL.

use std::path::PathBuf;

use eventsmith_runtime::store::StoreError;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::{Durability, SqliteOptions, backend, sqlite};

/// The schema this release writes: the initial schema and the migrations after it. A file
/// with a higher version was written by a newer release and is refused; lower versions are
/// migrated on open.
pub const SCHEMA_VERSION: i64 = 1 + MIGRATIONS.len() as i64;

/// The changes after the initial schema, in order: `MIGRATIONS[0]` takes version 1 to 2.
const MIGRATIONS: &[&str] = &[
    // 2: the namespace of each event's type name (NULL for events stored before it).
    "ALTER TABLE events ADD COLUMN namespace TEXT;",
];

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

/// Where a store lives.
pub(crate) enum Location {
    File(PathBuf),
    Memory,
}

/// Opens the store's write connection: refuses a file that is not an eventsmith store before
/// anything is written to it (its journal mode included), creates or migrates the schema,
/// then switches the file to WAL.
pub(crate) fn open_writer(location: &Location, options: SqliteOptions) -> Result<Connection, StoreError> {
    let connection = connect(location, options).map_err(|error| not_a_store(location, error))?;
    prepare_schema(&connection, &location.to_string()).map_err(|error| not_a_store(location, error))?;
    if matches!(location, Location::File(_)) {
        // `journal_mode` answers with the mode now in force.
        let mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|error| sqlite("open", error))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(backend(
                "open",
                false,
                format!("could not switch the database to WAL mode (it is in {mode} mode)"),
            ));
        }
    }
    Ok(connection)
}

/// A connection with the store's settings, which live in the connection only: nothing is
/// written to the file.
pub(crate) fn connect(location: &Location, options: SqliteOptions) -> Result<Connection, StoreError> {
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
    connection.pragma_update(None, "synchronous", synchronous).map_err(|error| sqlite("open", error))?;
    connection.pragma_update(None, "foreign_keys", "ON").map_err(|error| sqlite("open", error))?;
    crate::stable_plans(&connection)?;
    Ok(connection)
}

/// A file that is not a SQLite database at all, named as such.
fn not_a_store(location: &Location, error: StoreError) -> StoreError {
    let not_a_database = matches!(&error, StoreError::Backend { source, .. }
    if source.downcast_ref::<rusqlite::Error>().is_some_and(|error| {
        matches!(error, rusqlite::Error::SqliteFailure(failure, _) if failure.code == rusqlite::ErrorCode::NotADatabase)
    }));
    match location {
        Location::File(path) if not_a_database => StoreError::NotAStore {
            location: path.display().to_string(),
            reason: "the file is not a SQLite database".into(),
        },
        _ => error,
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Memory => f.write_str(":memory:"),
        }
    }
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
