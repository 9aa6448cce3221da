//! [`SqliteDocuments`]: document read models in a SQLite file (the events' own file or
//! another), each batch of documents written in one transaction with the projection's
//! checkpoint.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsmith_runtime::documents::{
    DocumentCheckpoint, DocumentStatements, DocumentStore, DocumentWork, Keyed, Lease, RecordedStop, check_field,
    commit_through,
};
use eventsmith_runtime::sql::{Sql, SqlError, SqlStore, static_statement};
use eventsmith_runtime::store::{BoxFuture, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{blocking, lock, sqlite};

/// The schema version of the read-model tables this release writes: 2 keeps each
/// projection's documents in a table of its own (1 kept all in `eventsmith_documents`).
const SCHEMA_VERSION: i64 = 2;

/// Document read models in SQLite.
///
/// ```
/// # tokio::runtime::Builder::new_multi_thread().build().unwrap().block_on(async {
/// use eventsmith_sqlite::SqliteDocuments;
///
/// let documents = SqliteDocuments::in_memory().await?;       // or SqliteDocuments::open("views.db")
/// # Ok::<(), eventsmith_runtime::StoreError>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct SqliteDocuments {
    connection: Arc<Mutex<Connection>>,
    /// Each projection's statement that loads a document by key, made once.
    load_sql: Arc<Mutex<HashMap<String, Arc<str>>>>,
    /// The file, for [`database_identity`](eventsmith_runtime::sql::SqlStore::database_identity).
    pub(crate) file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for SqliteDocuments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDocuments").finish_non_exhaustive()
    }
}

impl SqliteDocuments {
    /// Opens (or creates) the read models in the SQLite file at `path`, which may be the
    /// event store's own file.
    ///
    /// # Errors
    /// The file cannot be opened, or holds read-model tables of a newer release.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        blocking(move || {
            let connection = Connection::open(&path).map_err(|error| sqlite("open", error))?;
            let _: String = connection
                .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
                .map_err(|error| sqlite("open", error))?;
            // A commit of a read model need not reach the disk before it returns: what a
            // power loss takes back, it takes back whole (WAL keeps the file consistent),
            // checkpoint included, and the next catch-up applies those events again from
            // the log. This connection writes nothing else, also in the events' own file.
            connection.pragma_update(None, "synchronous", "NORMAL").map_err(|error| sqlite("open", error))?;
            let mut documents = Self::with_connection(connection, &path.display().to_string())?;
            documents.file = Some(path);
            Ok(documents)
        })
        .await
    }

    /// Read models in memory, for tests.
    ///
    /// # Errors
    /// SQLite cannot allocate the database.
    pub async fn in_memory() -> Result<Self, StoreError> {
        blocking(|| {
            let connection = Connection::open_in_memory().map_err(|error| sqlite("open", error))?;
            Self::with_connection(connection, ":memory:")
        })
        .await
    }

    fn with_connection(connection: Connection, location: &str) -> Result<Self, StoreError> {
        connection.busy_timeout(Duration::from_secs(5)).map_err(|error| sqlite("open", error))?;
        // As on the store's own connection: a SQL projection's statements behave the same
        // inline (there) and in its catch-ups (here).
        connection.execute_batch("PRAGMA foreign_keys = ON").map_err(|error| sqlite("open", error))?;
        crate::stable_plans(&connection)?;
        // One transaction, so that two processes opening the file at once agree.
        let mut connection = connection;
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|error| sqlite("open", error))?;
        transaction
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS eventsmith_read_model_schema (version INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS eventsmith_read_models (
                     projection TEXT PRIMARY KEY,
                     position INTEGER NOT NULL,
                     generation INTEGER NOT NULL DEFAULT 0
                 );
                 CREATE TABLE IF NOT EXISTS eventsmith_sql_read_models (
                     projection TEXT PRIMARY KEY,
                     position INTEGER NOT NULL DEFAULT 0,
                     version INTEGER NOT NULL DEFAULT 0
                 );
                 CREATE TABLE IF NOT EXISTS eventsmith_stopped_projections (
                     projection TEXT PRIMARY KEY,
                     position INTEGER NOT NULL,
                     reason TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS eventsmith_projection_leases (
                     projection TEXT PRIMARY KEY,
                     holder TEXT NOT NULL,
                     acquired_at INTEGER NOT NULL,
                     expires_at INTEGER NOT NULL
                 );",
            )
            .map_err(|error| sqlite("create the read-model tables", error))?;
        let version: Option<i64> = transaction
            .query_row("SELECT max(version) FROM eventsmith_read_model_schema", [], |row| row.get(0))
            .map_err(|error| sqlite("open", error))?;
        match version {
            None => {
                transaction
                    .execute("INSERT INTO eventsmith_read_model_schema (version) VALUES (?1)", [SCHEMA_VERSION])
                    .map_err(|error| sqlite("open", error))?;
            }
            Some(found) if found > SCHEMA_VERSION => {
                return Err(StoreError::SchemaTooNew {
                    location: location.to_owned(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(1) => {
                split_documents(&transaction)?;
                transaction
                    .execute("UPDATE eventsmith_read_model_schema SET version = ?1", [SCHEMA_VERSION])
                    .map_err(|error| sqlite("open", error))?;
            }
            Some(_) => {}
        }
        transaction.commit().map_err(|error| sqlite("open", error))?;
        Ok(SqliteDocuments { connection: Arc::new(Mutex::new(connection)), load_sql: Arc::default(), file: None })
    }

    /// Keeps why `projection` stopped at `position` (documents and SQL tables alike).
    pub(crate) async fn keep_stop(&self, projection: &str, position: u64, reason: &str) -> Result<(), StoreError> {
        let (projection, reason) = (projection.to_owned(), reason.to_owned());
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        self.with(move |connection| {
            connection
                .execute(
                    "INSERT INTO eventsmith_stopped_projections (projection, position, reason) VALUES (?1, ?2, ?3)
                     ON CONFLICT (projection) DO UPDATE SET position = excluded.position, reason = excluded.reason",
                    rusqlite::params![projection, position, reason],
                )
                .map(drop)
                .map_err(|error| sqlite("record a stop", error))
        })
        .await
    }

    /// Takes or renews `projection`'s worker lease for `holder` (documents and SQL tables
    /// alike): in one statement, which SQLite runs under its write lock, so two processes
    /// cannot both take it. Times are the host's clock, in milliseconds.
    pub(crate) async fn claim_lease(&self, projection: &str, holder: &str, ttl: Duration) -> Result<Lease, StoreError> {
        let (projection, holder) = (projection.to_owned(), holder.to_owned());
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.with(move |connection| {
            // One write transaction, so that the lease read after a refused claim is the one
            // that refused it.
            let transaction = connection
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|error| sqlite("take a lease", error))?;
            // The time once the write lock is held: a claim that waited for it does not
            // take a lease that has run out by the time it is written.
            let now = epoch_millis();
            let expires = now.saturating_add(ttl);
            let claimed = transaction
                .query_row(
                    "INSERT INTO eventsmith_projection_leases (projection, holder, acquired_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (projection) DO UPDATE SET
                         acquired_at = CASE WHEN holder = excluded.holder THEN acquired_at ELSE excluded.acquired_at END,
                         holder = excluded.holder,
                         expires_at = excluded.expires_at
                     WHERE holder = excluded.holder OR expires_at <= excluded.acquired_at
                     RETURNING holder, acquired_at, expires_at",
                    params![projection, holder, now, expires],
                    lease_row,
                )
                .optional()
                .map_err(|error| sqlite("take a lease", error))?;
            let lease = match claimed {
                Some((holder, since, until)) => Lease::from_millis(holder, since, until, now),
                // Another worker holds it, and its time is not up: its row is there, as the
                // transaction has held the write lock since the claim was refused.
                None => {
                    let (holder, since, until) = transaction
                        .query_row(
                            "SELECT holder, acquired_at, expires_at FROM eventsmith_projection_leases WHERE projection = ?1",
                            [&projection],
                            lease_row,
                        )
                        .map_err(|error| sqlite("read a lease", error))?;
                    Lease::from_millis(holder, since, until, now)
                }
            };
            transaction.commit().map_err(|error| sqlite("take a lease", error))?;
            Ok(lease)
        })
        .await
    }

    /// Gives `projection`'s worker lease up, if `holder` holds it.
    pub(crate) async fn release_lease(&self, projection: &str, holder: &str) -> Result<(), StoreError> {
        let (projection, holder) = (projection.to_owned(), holder.to_owned());
        self.with(move |connection| {
            connection
                .execute(
                    "DELETE FROM eventsmith_projection_leases WHERE projection = ?1 AND holder = ?2",
                    [&projection, &holder],
                )
                .map(drop)
                .map_err(|error| sqlite("give a lease up", error))
        })
        .await
    }

    /// `projection`'s worker lease, if a worker took it.
    pub(crate) async fn read_lease(&self, projection: &str) -> Result<Option<Lease>, StoreError> {
        let projection = projection.to_owned();
        self.with(move |connection| held_lease(connection, &projection, epoch_millis())).await
    }

    /// What [`keep_stop`](Self::keep_stop) kept for `projection`.
    pub(crate) async fn kept_stop(&self, projection: &str) -> Result<Option<RecordedStop>, StoreError> {
        let projection = projection.to_owned();
        self.with(move |connection| {
            connection
                .query_row(
                    "SELECT position, reason FROM eventsmith_stopped_projections WHERE projection = ?1",
                    [&projection],
                    |row| {
                        Ok(RecordedStop {
                            position: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                            reason: row.get(1)?,
                        })
                    },
                )
                .optional()
                .map_err(|error| sqlite("read a stop", error))
        })
        .await
    }

    /// The statement that loads one of `projection`'s documents by key.
    fn load_sql(&self, projection: &str) -> Arc<str> {
        let mut statements = lock(&self.load_sql);
        if let Some(sql) = statements.get(projection) {
            return Arc::clone(sql);
        }
        let sql: Arc<str> = format!("SELECT document FROM {} WHERE key = ?1", documents_table(projection)).into();
        statements.insert(projection.to_owned(), Arc::clone(&sql));
        sql
    }

    pub(crate) async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = Arc::clone(&self.connection);
        blocking(move || {
            let mut connection = lock(&connection);
            // A transaction a panic left open on the shared connection ends here.
            if !connection.is_autocommit() {
                connection.execute_batch("ROLLBACK").map_err(|error| sqlite("end a transaction", error))?;
            }
            f(&mut connection)
        })
        .await
    }
}

/// The table of a projection's documents: its name as an identifier (letters, digits and
/// `_`, at most 32), for whoever looks at the file, and a hash of the whole name, so that no
/// two projections share one.
pub(crate) fn documents_table(projection: &str) -> String {
    let readable: String = projection
        .chars()
        .take(32)
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    format!("eventsmith_docs_{readable}_{:016x}", eventsmith_runtime::id::fnv1a(projection.as_bytes()))
}

/// The index of a projection's field: a name from the projection's hash and the field,
/// which is a Rust identifier (checked by the macro).
fn index_name(projection: &str, field: &str) -> String {
    format!("eventsmith_index_{:016x}_{field}", eventsmith_runtime::id::fnv1a(projection.as_bytes()))
}

/// The fields that the indexes on `table` index, from their names ([`index_name`]: the
/// name they were made under, which is a rebuild's own for a table built aside and then
/// swapped in, since SQLite cannot rename an index).
fn indexed_fields(connection: &Connection, table: &str) -> Result<Vec<String>, StoreError> {
    let failed = |error| sqlite("create an index", error);
    let mut statement =
        connection.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1").map_err(failed)?;
    let names = statement.query_map([table], |row| row.get::<_, String>(0)).map_err(failed)?;
    let mut fields = Vec::new();
    for name in names {
        let name = name.map_err(failed)?;
        // `eventsmith_index_`, 16 hexadecimal digits, `_`, the field.
        if let Some(field) = name.strip_prefix("eventsmith_index_").and_then(|rest| rest.get(17..)) {
            fields.push(field.to_owned());
        }
    }
    Ok(fields)
}

/// Makes the table of a projection's documents if it is not there.
fn create_table(connection: &Connection, table: &str) -> Result<(), StoreError> {
    let sql =
        format!("CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, document TEXT NOT NULL) WITHOUT ROWID");
    connection.execute(&sql, []).map_err(|error| sqlite("create a documents table", error))?;
    Ok(())
}

/// A statement on a table that is not there yet: a projection whose documents were never
/// written has none.
fn missing_table(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(_, Some(message)) if message.starts_with("no such table"))
}

/// Schema 1 to 2: each projection's documents from the shared table into a table of its
/// own (indexes are made again by the projection's next `prepare`).
fn split_documents(connection: &Connection) -> Result<(), StoreError> {
    let failed = |error| sqlite("move documents to a table per projection", error);
    let shared: i64 = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'eventsmith_documents'",
            [],
            |row| row.get(0),
        )
        .map_err(failed)?;
    if shared == 0 {
        return Ok(());
    }
    let projections: Vec<String> = {
        let mut statement =
            connection.prepare("SELECT DISTINCT projection FROM eventsmith_documents").map_err(failed)?;
        statement.query_map([], |row| row.get(0)).map_err(failed)?.collect::<Result<_, _>>().map_err(failed)?
    };
    for projection in projections {
        let table = documents_table(&projection);
        create_table(connection, &table)?;
        connection
            .execute(
                &format!("INSERT INTO {table} (key, document) SELECT key, document FROM eventsmith_documents WHERE projection = ?1"),
                [&projection],
            )
            .map_err(failed)?;
    }
    connection.execute_batch("DROP TABLE eventsmith_documents").map_err(failed)
}

/// The expression a field is indexed and filtered by: its value as JSON text (`"paid"`,
/// `42`, `true`), the token serde wrote, which the filter value is written as too.
fn field_expression(field: &str) -> String {
    format!("(document -> '$.{field}')")
}

/// Now, in milliseconds since the Unix epoch: the clock of leases in a SQLite file, which
/// only processes of one host share.
fn epoch_millis() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn lease_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, i64, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}

/// The lease on `projection` as the table holds it, read at `now`.
fn held_lease(connection: &Connection, projection: &str, now: i64) -> Result<Option<Lease>, StoreError> {
    let lease = connection
        .query_row(
            "SELECT holder, acquired_at, expires_at FROM eventsmith_projection_leases WHERE projection = ?1",
            [projection],
            lease_row,
        )
        .optional()
        .map_err(|error| sqlite("read a lease", error))?;
    Ok(lease.map(|(holder, since, until)| Lease::from_millis(holder, since, until, now)))
}

impl DocumentStore for SqliteDocuments {
    fn prepare<'a>(&'a self, projection: &'a str, indexed: &'a [&'a str]) -> BoxFuture<'a, Result<(), StoreError>> {
        let projection = projection.to_owned();
        let indexed: Vec<String> = indexed.iter().map(|field| (*field).to_owned()).collect();
        Box::pin(self.with(move |connection| {
            let table = documents_table(&projection);
            create_table(connection, &table)?;
            // The checkpoint's row, which an inline projection's appends look for.
            connection
                .execute(
                    "INSERT INTO eventsmith_read_models (projection, position) VALUES (?1, 0) ON CONFLICT DO NOTHING",
                    [&projection],
                )
                .map_err(|error| sqlite("create a checkpoint", error))?;
            // A table a rebuild built aside keeps the names its indexes were made with.
            let indexes = indexed_fields(connection, &table)?;
            for field in &indexed {
                check_field(field)?;
                if indexes.iter().any(|indexed| indexed == field) {
                    continue;
                }
                let sql = format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {table} ({})",
                    index_name(&projection, field),
                    field_expression(field)
                );
                connection.execute(&sql, []).map_err(|error| sqlite("create an index", error))?;
            }
            Ok(())
        }))
    }

    fn builds_aside(&self) -> bool {
        true
    }

    fn swap<'a>(
        &'a self,
        projection: &'a str,
        shadow: &'a str,
        indexed: &'a [&'a str],
        scanned: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        // The indexes move with the table, under the names the rebuild made them with.
        let _ = indexed;
        let (projection, shadow) = (projection.to_owned(), shadow.to_owned());
        Box::pin(self.with(move |connection| {
            let failed = |error| sqlite("swap rebuilt documents in", error);
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(failed)?;
            let built: Option<i64> = transaction
                .query_row("SELECT position FROM eventsmith_read_models WHERE projection = ?1", [&shadow], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(failed)?;
            let Some(built) = built else { return Ok(false) };
            let scanned =
                i64::try_from(scanned).map_err(|error| crate::backend("swap rebuilt documents in", false, error))?;
            let live = read_checkpoint(&transaction, &projection, "swap rebuilt documents in")?.position;
            let live = i64::try_from(live).unwrap_or(i64::MAX);
            let (table, rebuilt) = (documents_table(&projection), documents_table(&shadow));
            transaction.execute(&format!("DROP TABLE IF EXISTS {table}"), []).map_err(failed)?;
            transaction.execute(&format!("ALTER TABLE {rebuilt} RENAME TO {table}"), []).map_err(failed)?;
            // A new generation: a batch read before the swap can no longer commit.
            transaction
                .execute(
                    "INSERT INTO eventsmith_read_models (projection, position, generation) VALUES (?1, ?2, 1)
                     ON CONFLICT (projection) DO UPDATE SET position = excluded.position, generation = generation + 1",
                    params![projection, built.max(live.min(scanned))],
                )
                .map_err(failed)?;
            transaction
                .execute("DELETE FROM eventsmith_read_models WHERE projection = ?1", [&shadow])
                .map_err(failed)?;
            transaction
                .execute(
                    "DELETE FROM eventsmith_stopped_projections WHERE projection IN (?1, ?2)",
                    [&projection, &shadow],
                )
                .map_err(failed)?;
            transaction.commit().map_err(failed)?;
            Ok(true)
        }))
    }

    fn discard<'a>(&'a self, aside: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let aside = aside.to_owned();
        Box::pin(self.with(move |connection| {
            let failed = |error| sqlite("drop rebuilt documents", error);
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(failed)?;
            transaction.execute(&format!("DROP TABLE IF EXISTS {}", documents_table(&aside)), []).map_err(failed)?;
            transaction
                .execute("DELETE FROM eventsmith_read_models WHERE projection = ?1", [&aside])
                .map_err(failed)?;
            transaction
                .execute("DELETE FROM eventsmith_stopped_projections WHERE projection = ?1", [&aside])
                .map_err(failed)?;
            transaction.commit().map_err(failed)
        }))
    }

    fn record_stop<'a>(
        &'a self,
        projection: &'a str,
        position: u64,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.keep_stop(projection, position, reason))
    }

    fn recorded_stop<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<Option<RecordedStop>, StoreError>> {
        Box::pin(self.kept_stop(projection))
    }

    fn claim<'a>(
        &'a self,
        projection: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Lease, StoreError>> {
        Box::pin(self.claim_lease(projection, holder, ttl))
    }

    fn release<'a>(&'a self, projection: &'a str, holder: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.release_lease(projection, holder))
    }

    fn lease<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<Option<Lease>, StoreError>> {
        Box::pin(self.read_lease(projection))
    }

    fn database_identity(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        SqlStore::database_identity(self)
    }

    fn commit_in<'a>(
        &'a self,
        sql: &'a mut Sql<'_>,
        projection: &'static str,
        from: u64,
        to: u64,
        work: Box<dyn DocumentWork>,
    ) -> BoxFuture<'a, Result<bool, SqlError>> {
        let table = documents_table(projection);
        // The append holds the database's write lock: no one else moves the checkpoint.
        let statements = DocumentStatements {
            position: "SELECT position FROM eventsmith_read_models WHERE projection = $1",
            load: static_statement(format!("SELECT document FROM {table} WHERE key = $1")),
            upsert: static_statement(format!(
                "INSERT INTO {table} (key, document) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET document = excluded.document"
            )),
            advance: "UPDATE eventsmith_read_models SET position = $2 WHERE projection = $1",
        };
        Box::pin(async move { commit_through(sql, &statements, projection, from, to, work).await })
    }

    fn checkpoint<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<DocumentCheckpoint, StoreError>> {
        let projection = projection.to_owned();
        Box::pin(self.with(move |connection| read_checkpoint(connection, &projection, "read a checkpoint")))
    }

    fn load_one<'a>(&'a self, projection: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let sql = self.load_sql(projection);
        let key = key.to_owned();
        Box::pin(self.with(move |connection| {
            let mut statement = match connection.prepare_cached(&sql) {
                Err(error) if missing_table(&error) => return Ok(None),
                prepared => prepared.map_err(|error| sqlite("load a document", error))?,
            };
            let document: Option<String> = statement
                .query_row([&key], |row| row.get(0))
                .optional()
                .map_err(|error| sqlite("load a document", error))?;
            Ok(document.map(String::into_bytes))
        }))
    }

    fn load<'a>(&'a self, projection: &'a str, keys: &'a [String]) -> BoxFuture<'a, Result<Keyed, StoreError>> {
        let sql = self.load_sql(projection);
        let keys = keys.to_vec();
        Box::pin(self.with(move |connection| {
            // One read transaction for several keys: a statement outside one takes and drops
            // the database's shared lock each time, which costs more than the lookup.
            let many = keys.len() > 1;
            if many {
                connection.execute_batch("BEGIN").map_err(|error| sqlite("load documents", error))?;
            }
            let found = load_keys(connection, &sql, keys);
            if many {
                let end = if found.is_ok() { "COMMIT" } else { "ROLLBACK" };
                connection.execute_batch(end).map_err(|error| sqlite("load documents", error))?;
            }
            found
        }))
    }

    fn commit<'a>(
        &'a self,
        projection: &'a str,
        from: DocumentCheckpoint,
        to: u64,
        documents: Keyed,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let projection = projection.to_owned();
        Box::pin(self.with(move |connection| {
            let transaction = connection
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|error| sqlite("commit documents", error))?;
            if read_checkpoint(&transaction, &projection, "commit documents")? != from {
                return Ok(false);
            }
            {
                let table = documents_table(&projection);
                let sql = format!(
                    "INSERT INTO {table} (key, document) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET document = excluded.document"
                );
                let mut upsert = match transaction.prepare_cached(&sql) {
                    Err(error) if missing_table(&error) => {
                        create_table(&transaction, &table)?;
                        transaction.prepare_cached(&sql)
                    }
                    prepared => prepared,
                }
                .map_err(|error| sqlite("commit documents", error))?;
                for (key, document) in documents {
                    let document = String::from_utf8(document)
                        .map_err(|error| crate::backend("commit documents", false, error))?;
                    upsert.execute(params![key, document]).map_err(|error| sqlite("commit documents", error))?;
                }
            }
            let to = i64::try_from(to).map_err(|error| crate::backend("commit documents", false, error))?;
            transaction
                .execute(
                    "INSERT INTO eventsmith_read_models (projection, position) VALUES (?1, ?2)
                     ON CONFLICT (projection) DO UPDATE SET position = excluded.position",
                    params![projection, to],
                )
                .map_err(|error| sqlite("commit documents", error))?;
            transaction.commit().map_err(|error| sqlite("commit documents", error))?;
            Ok(true)
        }))
    }

    fn list<'a>(
        &'a self,
        projection: &'a str,
        filter: Option<(&'a str, &'a str)>,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Keyed, StoreError>> {
        let projection = projection.to_owned();
        let filter = filter.map(|(field, value)| (field.to_owned(), value.to_owned()));
        let after = after.map(str::to_owned);
        Box::pin(self.with(move |connection| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            if let Some((field, _)) = &filter {
                check_field(field)?;
            }
            let field = filter.as_ref().map(|(field, _)| field.as_str());
            let sql = list_sql(&projection, field, after.is_some());
            let value = filter.as_ref().map(|(_, value)| value);
            let after = after.unwrap_or_default();
            let mut statement = match connection.prepare_cached(&sql) {
                Err(error) if missing_table(&error) => return Ok(Vec::new()),
                prepared => prepared.map_err(|error| sqlite("list documents", error))?,
            };
            let rows = match &value {
                Some(value) => statement.query_map(params![after, limit, value], row),
                None => statement.query_map(params![after, limit], row),
            }
            .map_err(|error| sqlite("list documents", error))?;
            rows.collect::<Result<Vec<_>, _>>().map_err(|error| sqlite("list documents", error))
        }))
    }

    fn clear<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let projection = projection.to_owned();
        Box::pin(self.with(move |connection| {
            let failed = |error| sqlite("clear documents", error);
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(failed)?;
            // A new generation: a batch read before the clear can no longer commit.
            transaction
                .execute(
                    "INSERT INTO eventsmith_read_models (projection, position, generation) VALUES (?1, 0, 1)
                     ON CONFLICT (projection) DO UPDATE SET position = 0, generation = generation + 1",
                    [&projection],
                )
                .map_err(failed)?;
            // Rebuilt from the start: a stop kept for it no longer holds.
            transaction
                .execute("DELETE FROM eventsmith_stopped_projections WHERE projection = ?1", [&projection])
                .map_err(failed)?;
            // Without a `WHERE`, SQLite drops the table's pages instead of deleting row by row.
            match transaction.execute(&format!("DELETE FROM {}", documents_table(&projection)), []) {
                Ok(_) => {}
                Err(error) if missing_table(&error) => {}
                Err(error) => return Err(failed(error)),
            }
            transaction.commit().map_err(failed)
        }))
    }
}

/// The statement of a page of `projection`'s documents in key order: `?1` the key to start
/// after (`after`) or from, `?2` the limit, `?3` the value of the indexed `field`, if any.
fn list_sql(projection: &str, field: Option<&str>, after: bool) -> String {
    let condition = field.map(|field| format!("AND {} = ?3", field_expression(field))).unwrap_or_default();
    // A range on the key the index can seek to: after `after`, or from the smallest key.
    let from = if after { ">" } else { ">=" };
    format!(
        "SELECT key, document FROM {} WHERE key {from} ?1 {condition} ORDER BY key LIMIT ?2",
        documents_table(projection)
    )
}

/// The stored documents of `keys` (those there are).
fn load_keys(connection: &Connection, sql: &str, keys: Vec<String>) -> Result<Keyed, StoreError> {
    let mut statement = match connection.prepare_cached(sql) {
        Err(error) if missing_table(&error) => return Ok(Vec::new()),
        prepared => prepared.map_err(|error| sqlite("load documents", error))?,
    };
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        let document: Option<String> = statement
            .query_row([&key], |row| row.get(0))
            .optional()
            .map_err(|error| sqlite("load documents", error))?;
        if let Some(document) = document {
            found.push((key, document.into_bytes()));
        }
    }
    Ok(found)
}

/// A projection's checkpoint (position 0 of generation 0 when it has none).
fn read_checkpoint(
    connection: &Connection,
    projection: &str,
    operation: &'static str,
) -> Result<DocumentCheckpoint, StoreError> {
    let found: Option<(i64, i64)> = connection
        .query_row(
            "SELECT position, generation FROM eventsmith_read_models WHERE projection = ?1",
            [projection],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(|error| sqlite(operation, error))?;
    Ok(found.map_or_else(DocumentCheckpoint::default, |(position, generation)| DocumentCheckpoint {
        position: u64::try_from(position).unwrap_or(0),
        generation: u64::try_from(generation).unwrap_or(0),
    }))
}

fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, Vec<u8>)> {
    Ok((row.get(0)?, row.get::<_, String>(1)?.into_bytes()))
}

#[cfg(test)]
mod tests {
    use eventsmith_runtime::documents::DocumentStore;
    use rusqlite::StatementStatus;

    use super::{SqliteDocuments, list_sql, lock};

    /// As on the store's connections (`append::tests`): pages of documents, with and without a
    /// filter on an indexed field, read again and again through the statement cache, are each
    /// compiled once.
    #[tokio::test(flavor = "multi_thread")]
    async fn pages_are_not_compiled_again() {
        let documents = SqliteDocuments::in_memory().await.unwrap();
        documents.prepare("pages", &["status"]).await.unwrap();
        for after in [None, Some("a"), Some("b"), Some("c")] {
            documents.list("pages", None, after, 10).await.unwrap();
            documents.list("pages", Some(("status", "\"open\"")), after, 10).await.unwrap();
        }
        let connection = lock(&documents.connection);
        for field in [None, Some("status")] {
            let sql = list_sql("pages", field, true);
            let compiled_again = connection.prepare_cached(&sql).unwrap().get_status(StatementStatus::RePrepare);
            assert_eq!(compiled_again, 0, "{sql}");
        }
    }
}
