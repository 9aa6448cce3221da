//! [`SqliteDocuments`]: document read models in a SQLite file (the events' own file or
//! another), each batch of documents written in one transaction with the projection's
//! checkpoint.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsmith_runtime::documents::{DocumentCheckpoint, DocumentStore, Keyed, check_field};
use eventsmith_runtime::store::{BoxFuture, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{blocking, lock, sqlite};

/// The schema version of the read-model tables this release writes.
const SCHEMA_VERSION: i64 = 1;

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
                 CREATE TABLE IF NOT EXISTS eventsmith_documents (
                     projection TEXT NOT NULL,
                     key TEXT NOT NULL,
                     document TEXT NOT NULL,
                     PRIMARY KEY (projection, key)
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS eventsmith_sql_read_models (
                     projection TEXT PRIMARY KEY,
                     position INTEGER NOT NULL DEFAULT 0,
                     version INTEGER NOT NULL DEFAULT 0
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
            Some(_) => {}
        }
        transaction.commit().map_err(|error| sqlite("open", error))?;
        Ok(SqliteDocuments { connection: Arc::new(Mutex::new(connection)), file: None })
    }

    pub(crate) async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = Arc::clone(&self.connection);
        blocking(move || f(&mut lock(&connection))).await
    }
}

/// The index of a projection's field: a name from the projection's hash and the field,
/// which is a Rust identifier (checked by the macro).
fn index_name(projection: &str, field: &str) -> String {
    format!("eventsmith_documents_{:016x}_{field}", eventsmith_runtime::id::fnv1a(projection.as_bytes()))
}

/// The expression a field is indexed and filtered by: its value as JSON text (`"paid"`,
/// `42`, `true`), the token serde wrote, which the filter value is written as too.
fn field_expression(field: &str) -> String {
    format!("(document -> '$.{field}')")
}

impl DocumentStore for SqliteDocuments {
    fn prepare<'a>(&'a self, projection: &'a str, indexed: &'a [&'a str]) -> BoxFuture<'a, Result<(), StoreError>> {
        let projection = projection.to_owned();
        let indexed: Vec<String> = indexed.iter().map(|field| (*field).to_owned()).collect();
        Box::pin(self.with(move |connection| {
            for field in &indexed {
                check_field(field)?;
                let sql = format!(
                    "CREATE INDEX IF NOT EXISTS {} ON eventsmith_documents (projection, {})",
                    index_name(&projection, field),
                    field_expression(field)
                );
                connection.execute(&sql, []).map_err(|error| sqlite("create an index", error))?;
            }
            Ok(())
        }))
    }

    fn checkpoint<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<DocumentCheckpoint, StoreError>> {
        let projection = projection.to_owned();
        Box::pin(self.with(move |connection| read_checkpoint(connection, &projection, "read a checkpoint")))
    }

    fn load<'a>(&'a self, projection: &'a str, keys: &'a [String]) -> BoxFuture<'a, Result<Keyed, StoreError>> {
        let projection = projection.to_owned();
        let keys = keys.to_vec();
        Box::pin(self.with(move |connection| {
            let mut statement = connection
                .prepare_cached("SELECT key, document FROM eventsmith_documents WHERE projection = ?1 AND key = ?2")
                .map_err(|error| sqlite("load documents", error))?;
            let mut found = Vec::with_capacity(keys.len());
            for key in keys {
                let document: Option<String> = statement
                    .query_row(params![projection, key], |row| row.get(1))
                    .optional()
                    .map_err(|error| sqlite("load documents", error))?;
                if let Some(document) = document {
                    found.push((key, document.into_bytes()));
                }
            }
            Ok(found)
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
                let mut upsert = transaction
                    .prepare_cached(
                        "INSERT INTO eventsmith_documents (projection, key, document) VALUES (?1, ?2, ?3)
                         ON CONFLICT (projection, key) DO UPDATE SET document = excluded.document",
                    )
                    .map_err(|error| sqlite("commit documents", error))?;
                for (key, document) in documents {
                    let document = String::from_utf8(document)
                        .map_err(|error| crate::backend("commit documents", false, error))?;
                    upsert
                        .execute(params![projection, key, document])
                        .map_err(|error| sqlite("commit documents", error))?;
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
            let (condition, value) = match &filter {
                Some((field, value)) => {
                    check_field(field)?;
                    (format!("AND {} = ?4", field_expression(field)), Some(value.clone()))
                }
                None => (String::new(), None),
            };
            // A range on the key the index can seek to: after `after`, or from the smallest key.
            let from = if after.is_some() { ">" } else { ">=" };
            let after = after.unwrap_or_default();
            let sql = format!(
                "SELECT key, document FROM eventsmith_documents
                 WHERE projection = ?1 AND key {from} ?2 {condition}
                 ORDER BY key LIMIT ?3"
            );
            let mut statement = connection.prepare_cached(&sql).map_err(|error| sqlite("list documents", error))?;
            let rows = match &value {
                Some(value) => statement.query_map(params![projection, after, limit, value], row),
                None => statement.query_map(params![projection, after, limit], row),
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
            transaction
                .execute("DELETE FROM eventsmith_documents WHERE projection = ?1", [&projection])
                .map_err(failed)?;
            transaction.commit().map_err(failed)
        }))
    }
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
