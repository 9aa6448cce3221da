//! [`PostgresDocuments`]: document read models in PostgreSQL (the events' database or
//! another server), each batch of documents written in one transaction with the projection's
//! checkpoint, which is locked for the transaction so that two processes never both commit
//! the same events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use eventsmith_runtime::documents::{
    DocumentCheckpoint, DocumentStatements, DocumentStore, DocumentWork, Keyed, Lease, RecordedStop, check_field,
    commit_through,
};
use eventsmith_runtime::sql::{Sql, SqlError, static_statement};
use eventsmith_runtime::store::{BoxFuture, StoreError};

use crate::db::{Db, to_i64, to_u64};
use crate::error::{backend, pool_error};
use crate::{own_pool, valid_schema};

/// The schema version of the read-model tables this release writes: 2 keeps each
/// projection's documents in a table of its own (1 kept all in `read_model_documents`).
const SCHEMA_VERSION: i32 = 2;

/// Options for [`PostgresDocuments::connect_with`] and [`PostgresDocuments::from_pool`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresDocumentOptions {
    /// The schema the read-model tables live in: a lowercase identifier.
    pub schema: String,
    /// Connections in the pool made from a URL.
    pub pool_size: usize,
}

impl Default for PostgresDocumentOptions {
    fn default() -> Self {
        Self { schema: "eventsmith_read_models".to_owned(), pool_size: 8 }
    }
}

/// Document read models in PostgreSQL.
///
/// ```no_run
/// # async fn run() -> Result<(), eventsmith_runtime::StoreError> {
/// use eventsmith_postgres::PostgresDocuments;
///
/// let documents = PostgresDocuments::connect("postgres://postgres@127.0.0.1:5432/test").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresDocuments {
    pub(crate) db: Arc<Db>,
    /// The documents tables this process has made sure of.
    tables: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl std::fmt::Debug for PostgresDocuments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDocuments").field("schema", &self.db.schema).finish_non_exhaustive()
    }
}

impl PostgresDocuments {
    /// Connects to `url` with a pool of its own and creates the read-model tables in the
    /// schema `eventsmith_read_models` if they are not there.
    ///
    /// # Errors
    /// An invalid URL, a server that cannot be reached, tables of a newer release.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PostgresDocumentOptions::default()).await
    }

    /// [`connect`](Self::connect) with options.
    ///
    /// # Errors
    /// As [`connect`](Self::connect), and a schema that is not a lowercase identifier.
    pub async fn connect_with(url: &str, options: PostgresDocumentOptions) -> Result<Self, StoreError> {
        check_schema(&options.schema)?;
        let (pool, _) = own_pool(url, &options.schema, options.pool_size)?;
        Self::open(Db::new(pool, options.schema, true)).await
    }

    /// Read models through a pool of the application's (its connections' `search_path` is
    /// set on each checkout).
    ///
    /// # Errors
    /// As [`connect_with`](Self::connect_with).
    pub async fn from_pool(pool: Pool, options: PostgresDocumentOptions) -> Result<Self, StoreError> {
        check_schema(&options.schema)?;
        Self::open(Db::new(pool, options.schema, false)).await
    }

    /// Drops the schema with every read model in it (`DROP SCHEMA ... CASCADE`): for tests
    /// and throwaway databases. The read models are of no use afterwards.
    ///
    /// # Errors
    /// The server refused or could not be reached.
    pub async fn drop_schema(&self) -> Result<(), StoreError> {
        const WORK: &str = "drop the read-model schema";
        let client = self.db.pool.get().await.map_err(|error| pool_error(WORK, error))?;
        // A checked lowercase identifier (`check_schema`), quoted besides.
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.db.schema);
        client.batch_execute(&sql).await.map_err(|error| backend(WORK, error))?;
        Ok(())
    }

    async fn open(db: Db) -> Result<Self, StoreError> {
        let failed = |error| backend("create the read-model tables", error);
        let mut client = db.pool.get().await.map_err(|error| pool_error("create the read-model tables", error))?;
        let transaction = client.transaction().await.map_err(failed)?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(&db.schema)]).await.map_err(failed)?;
        crate::migrations::enter_schema(&transaction, &db.schema).await.map_err(failed)?;
        transaction
            .batch_execute(
                r#"CREATE TABLE IF NOT EXISTS read_model_schema (version integer NOT NULL);
                   CREATE TABLE IF NOT EXISTS read_model_checkpoints (
                       projection text PRIMARY KEY,
                       position bigint NOT NULL,
                       generation bigint NOT NULL DEFAULT 0
                   );
                   CREATE TABLE IF NOT EXISTS sql_read_models (
                       projection text PRIMARY KEY,
                       position bigint NOT NULL DEFAULT 0,
                       version bigint NOT NULL DEFAULT 0
                   );
                   CREATE TABLE IF NOT EXISTS stopped_projections (
                       projection text PRIMARY KEY,
                       position bigint NOT NULL,
                       reason text NOT NULL
                   );
                   CREATE TABLE IF NOT EXISTS projection_leases (
                       projection text PRIMARY KEY,
                       holder text NOT NULL,
                       acquired_at bigint NOT NULL,
                       expires_at bigint NOT NULL
                   );"#,
            )
            .await
            .map_err(failed)?;
        let version: Option<i32> =
            transaction.query_one("SELECT max(version) FROM read_model_schema", &[]).await.map_err(failed)?.get(0);
        match version {
            None => {
                transaction
                    .execute("INSERT INTO read_model_schema (version) VALUES ($1)", &[&SCHEMA_VERSION])
                    .await
                    .map_err(failed)?;
            }
            Some(found) if found > SCHEMA_VERSION => {
                return Err(StoreError::SchemaTooNew {
                    location: format!("postgres read-model schema `{}`", db.schema),
                    found: i64::from(found),
                    supported: i64::from(SCHEMA_VERSION),
                });
            }
            Some(1) => {
                split_documents(&transaction).await.map_err(failed)?;
                transaction
                    .execute("UPDATE read_model_schema SET version = $1", &[&SCHEMA_VERSION])
                    .await
                    .map_err(failed)?;
            }
            Some(_) => {}
        }
        transaction.commit().await.map_err(failed)?;
        Ok(PostgresDocuments { db: Arc::new(db), tables: Arc::default() })
    }
}

fn check_schema(schema: &str) -> Result<(), StoreError> {
    if valid_schema(schema) {
        Ok(())
    } else {
        Err(StoreError::invalid_identifier("schema", schema, "a schema is a lowercase identifier of at most 50 bytes"))
    }
}

/// The advisory lock that serializes creating the tables and indexes of one schema.
fn lock_key(schema: &str) -> i64 {
    i64::from_ne_bytes(
        eventsmith_runtime::id::fnv1a(format!("eventsmith-read-models:{schema}").as_bytes()).to_ne_bytes(),
    )
}

/// The table of a projection's documents: its name as an identifier (letters, digits and
/// `_`, at most 24), for whoever looks at the schema, and a hash of the whole name, so that
/// no two projections share one (57 bytes at most, within PostgreSQL's 63).
fn documents_table(projection: &str) -> String {
    let readable: String = projection
        .chars()
        .take(24)
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    format!("read_model_docs_{readable}_{:016x}", eventsmith_runtime::id::fnv1a(projection.as_bytes()))
}

fn create_table_sql(table: &str) -> String {
    format!("CREATE TABLE IF NOT EXISTS {table} (key text COLLATE \"C\" PRIMARY KEY, document jsonb NOT NULL)")
}

/// A statement on a table that is not there: a projection whose documents were never
/// written has none.
fn missing_table(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE)
}

/// Schema 1 to 2: each projection's documents from the shared table into a table of its
/// own (indexes are made again by the projection's next `prepare`).
async fn split_documents(transaction: &tokio_postgres::Transaction<'_>) -> Result<(), tokio_postgres::Error> {
    let shared = transaction.query_one("SELECT to_regclass('read_model_documents') IS NOT NULL", &[]).await?;
    if !shared.get::<_, bool>(0) {
        return Ok(());
    }
    // A process of the first release still running commits into the shared table: the lock
    // waits for its commit in flight and refuses the next, so nothing it writes is left behind.
    transaction.batch_execute("LOCK TABLE read_model_documents IN ACCESS EXCLUSIVE MODE").await?;
    let projections = transaction.query("SELECT DISTINCT projection FROM read_model_documents", &[]).await?;
    for row in projections {
        let projection: String = row.get(0);
        let table = documents_table(&projection);
        transaction.batch_execute(&create_table_sql(&table)).await?;
        let copy = format!(
            "INSERT INTO {table} (key, document) SELECT key, document FROM read_model_documents WHERE projection = $1"
        );
        transaction.execute(&copy, &[&projection]).await?;
    }
    transaction.batch_execute("DROP TABLE read_model_documents").await
}

impl PostgresDocuments {
    /// Makes the table of `projection`'s documents, once per process.
    async fn ensure_table(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        projection: &str,
    ) -> Result<String, StoreError> {
        let table = documents_table(projection);
        if self.tables.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&table) {
            return Ok(table);
        }
        client
            .batch_execute(&create_table_sql(&table))
            .await
            .map_err(|error| backend("create a documents table", error))?;
        self.tables.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(table.clone());
        Ok(table)
    }
}

/// The index of a projection's field: a name from a hash of both.
fn index_name(projection: &str, field: &str) -> String {
    format!("read_model_index_{:016x}", eventsmith_runtime::id::fnv1a(format!("{projection}\0{field}").as_bytes()))
}

/// The expression a field is indexed and filtered by: its JSON value.
fn field_expression(field: &str) -> String {
    format!("(document -> '{field}')")
}

const NUL: &str = "PostgreSQL text cannot hold a NUL byte";

impl PostgresDocuments {
    /// Keeps why `projection` stopped at `position` (documents and SQL tables alike).
    pub(crate) async fn keep_stop(&self, projection: &str, position: u64, reason: &str) -> Result<(), StoreError> {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        self.db
            .rows(
                "record a stop",
                "INSERT INTO stopped_projections (projection, position, reason) VALUES ($1, $2, $3)
                 ON CONFLICT (projection) DO UPDATE SET position = excluded.position, reason = excluded.reason",
                &[&projection, &position, &reason],
            )
            .await
            .map(drop)
    }

    /// Takes or renews `projection`'s worker lease for `holder` (documents and SQL tables
    /// alike), in one statement: the upsert takes the row's lock, so two processes cannot
    /// both take it. Times are the server's clock, in milliseconds, so that the processes'
    /// clocks need not agree.
    pub(crate) async fn claim_lease(&self, projection: &str, holder: &str, ttl: Duration) -> Result<Lease, StoreError> {
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        // The upsert sees the row's newest version, the fallback `SELECT` the statement's
        // snapshot: a claim refused by a lease committed after that snapshot may find no row
        // to report, or the caller's own older row (a refused claim means another holds it
        // now). Either way the claim is made again, with a new snapshot.
        for _ in 0..3 {
            let rows = self
                .db
                .rows(
                    "take a lease",
                    "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms),
                     claimed AS (
                         INSERT INTO projection_leases AS lease (projection, holder, acquired_at, expires_at)
                         SELECT $1, $2, ms, ms + $3 FROM now
                         ON CONFLICT (projection) DO UPDATE SET
                             acquired_at = CASE WHEN lease.holder = excluded.holder
                                 THEN lease.acquired_at ELSE excluded.acquired_at END,
                             holder = excluded.holder,
                             expires_at = excluded.expires_at
                         WHERE lease.holder = excluded.holder OR lease.expires_at <= excluded.acquired_at
                         RETURNING holder, acquired_at, expires_at
                     )
                     SELECT holder, acquired_at, expires_at, (SELECT ms FROM now), true FROM claimed
                     UNION ALL
                     SELECT holder, acquired_at, expires_at, (SELECT ms FROM now), false FROM projection_leases
                     WHERE projection = $1 AND NOT EXISTS (SELECT 1 FROM claimed)",
                    &[&projection, &holder, &ttl],
                )
                .await?;
            if let Some(row) = rows.first() {
                let (taken, found): (bool, String) = (row.get(4), row.get(0));
                if taken || found != holder {
                    return Ok(Lease::from_millis(found, row.get(1), row.get(2), row.get(3)));
                }
            }
        }
        Err(StoreError::backend("take a lease", true, std::io::Error::other("the lease kept changing hands")))
    }

    /// Gives `projection`'s worker lease up, if `holder` holds it.
    pub(crate) async fn release_lease(&self, projection: &str, holder: &str) -> Result<(), StoreError> {
        self.db
            .rows(
                "give a lease up",
                "DELETE FROM projection_leases WHERE projection = $1 AND holder = $2",
                &[&projection, &holder],
            )
            .await
            .map(drop)
    }

    /// `projection`'s worker lease, if a worker took it.
    pub(crate) async fn read_lease(&self, projection: &str) -> Result<Option<Lease>, StoreError> {
        let rows = self
            .db
            .rows(
                "read a lease",
                "SELECT holder, acquired_at, expires_at, (extract(epoch FROM clock_timestamp()) * 1000)::bigint
                 FROM projection_leases WHERE projection = $1",
                &[&projection],
            )
            .await?;
        Ok(rows.first().map(|row| Lease::from_millis(row.get(0), row.get(1), row.get(2), row.get(3))))
    }

    /// What [`keep_stop`](Self::keep_stop) kept for `projection`.
    pub(crate) async fn kept_stop(&self, projection: &str) -> Result<Option<RecordedStop>, StoreError> {
        let rows = self
            .db
            .rows(
                "read a stop",
                "SELECT position, reason FROM stopped_projections WHERE projection = $1",
                &[&projection],
            )
            .await?;
        Ok(rows
            .first()
            .map(|row| RecordedStop { position: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0), reason: row.get(1) }))
    }
}

impl DocumentStore for PostgresDocuments {
    fn prepare<'a>(&'a self, projection: &'a str, indexed: &'a [&'a str]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let failed = |error| backend("create an index", error);
            let mut client = self.db.client("create an index").await?;
            let transaction = client.transaction().await.map_err(failed)?;
            transaction
                .execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(&self.db.schema)])
                .await
                .map_err(failed)?;
            let table = documents_table(projection);
            transaction.batch_execute(&create_table_sql(&table)).await.map_err(failed)?;
            // The checkpoint's row, which an inline projection's appends look for.
            transaction
                .execute(
                    "INSERT INTO read_model_checkpoints (projection, position) VALUES ($1, 0) ON CONFLICT DO NOTHING",
                    &[&projection],
                )
                .await
                .map_err(failed)?;
            for field in indexed {
                check_field(field)?;
                let sql = format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {table} ({}, key)",
                    index_name(projection, field),
                    field_expression(field)
                );
                transaction.batch_execute(&sql).await.map_err(failed)?;
            }
            transaction.commit().await.map_err(failed)
        })
    }

    fn checkpoint<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<DocumentCheckpoint, StoreError>> {
        Box::pin(async move {
            let rows = self
                .db
                .rows(
                    "read a checkpoint",
                    "SELECT position, generation FROM read_model_checkpoints WHERE projection = $1",
                    &[&projection],
                )
                .await?;
            Ok(rows.first().map_or_else(DocumentCheckpoint::default, |row| DocumentCheckpoint {
                position: to_u64(row.get(0)),
                generation: to_u64(row.get(1)),
            }))
        })
    }

    fn load<'a>(&'a self, projection: &'a str, keys: &'a [String]) -> BoxFuture<'a, Result<Keyed, StoreError>> {
        Box::pin(async move {
            // PostgreSQL text holds no NUL byte, so no document has such a key.
            let asked: Vec<&String> = keys.iter().filter(|key| !key.contains('\0')).collect();
            let sql = format!("SELECT key, document::text FROM {} WHERE key = ANY($1)", documents_table(projection));
            let client = self.db.client("load documents").await?;
            let statement = match client.prepare_cached(&sql).await {
                Err(error) if missing_table(&error) => return Ok(Vec::new()),
                prepared => prepared.map_err(|error| backend("load documents", error))?,
            };
            let rows = client.query(&statement, &[&asked]).await.map_err(|error| backend("load documents", error))?;
            let mut found: HashMap<String, String> = rows.into_iter().map(|row| (row.get(0), row.get(1))).collect();
            // In the order asked for.
            Ok(keys
                .iter()
                .filter_map(|key| found.remove(key).map(|document| (key.clone(), document.into_bytes())))
                .collect())
        })
    }

    fn commit<'a>(
        &'a self,
        projection: &'a str,
        from: DocumentCheckpoint,
        to: u64,
        documents: Keyed,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut keys = Vec::with_capacity(documents.len());
            let mut jsons = Vec::with_capacity(documents.len());
            for (key, document) in documents {
                if key.contains('\0') {
                    return Err(StoreError::invalid_identifier("document key", &key, NUL));
                }
                keys.push(key);
                jsons.push(
                    String::from_utf8(document)
                        .map_err(|error| StoreError::backend("commit documents", false, error))?,
                );
            }
            let failed = |error| backend("commit documents", error);
            let client = self.db.client("commit documents").await?;
            let table = self.ensure_table(&client, projection).await?;
            // One statement, so one transaction and one round trip: the checkpoint moves only
            // from where the batch was read (a process that read the same checkpoint waits for
            // the row, then finds it moved), and the documents are written only if it moved.
            let statement = client
                .prepare_cached(&format!(
                    "WITH moved AS (
                         UPDATE read_model_checkpoints SET position = $3
                          WHERE projection = $1 AND position = $2 AND generation = $4
                         RETURNING 1),
                     written AS (
                         INSERT INTO {table} (key, document)
                         SELECT key, document::jsonb FROM unnest($5::text[], $6::text[]) AS batch (key, document)
                          WHERE EXISTS (SELECT 1 FROM moved)
                         ON CONFLICT (key) DO UPDATE SET document = excluded.document
                         RETURNING 1)
                     SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM written)"
                ))
                .await
                .map_err(failed)?;
            let (from_position, from_generation, to) = (to_i64(from.position), to_i64(from.generation), to_i64(to));
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
                [&projection, &from_position, &to, &from_generation, &keys, &jsons];
            let moved = |row: tokio_postgres::Row| row.get::<_, i64>(0) == 1;
            if moved(client.query_one(&statement, &params).await.map_err(failed)?) {
                return Ok(true);
            }
            // A projection's first commit: its checkpoint row may not be there yet.
            if from == DocumentCheckpoint::default() {
                client
                    .execute(
                        "INSERT INTO read_model_checkpoints (projection, position) VALUES ($1, 0) ON CONFLICT DO NOTHING",
                        &[&projection],
                    )
                    .await
                    .map_err(failed)?;
                return Ok(moved(client.query_one(&statement, &params).await.map_err(failed)?));
            }
            Ok(false)
        })
    }

    fn list<'a>(
        &'a self,
        projection: &'a str,
        filter: Option<(&'a str, &'a str)>,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Keyed, StoreError>> {
        Box::pin(async move {
            let limit = to_i64(u64::try_from(limit).unwrap_or(u64::MAX));
            // No key holds a NUL byte, so the keys after `a\0b` are those after `a`.
            let after = after.map(|after| after.split('\0').next().unwrap_or_default());
            let mut sql = format!("SELECT key, document::text FROM {} WHERE true", documents_table(projection));
            let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&limit];
            if let Some(after) = &after {
                params.push(after);
                sql.push_str(&format!(" AND key > ${}", params.len()));
            }
            if let Some((field, value)) = &filter {
                check_field(field)?;
                params.push(value);
                sql.push_str(&format!(" AND {} = ${}::text::jsonb", field_expression(field), params.len()));
            }
            sql.push_str(" ORDER BY key LIMIT $1");
            let client = self.db.client("list documents").await?;
            let statement = match client.prepare_cached(&sql).await {
                Err(error) if missing_table(&error) => return Ok(Vec::new()),
                prepared => prepared.map_err(|error| backend("list documents", error))?,
            };
            let rows = client.query(&statement, &params).await.map_err(|error| backend("list documents", error))?;
            Ok(rows.into_iter().map(|row| (row.get::<_, String>(0), row.get::<_, String>(1).into_bytes())).collect())
        })
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
        Box::pin(async move {
            let failed = |error| backend("swap rebuilt documents in", error);
            let mut client = self.db.client("swap rebuilt documents in").await?;
            let transaction = client.transaction().await.map_err(failed)?;
            // As `prepare`, which makes tables and indexes: one at a time.
            transaction
                .execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(&self.db.schema)])
                .await
                .map_err(failed)?;
            // Each table before its checkpoint's row, in the order `clear` and commits take
            // them: the rebuilt one's (whose rebuild is this caller's alone), then the live one.
            let rebuilt = documents_table(shadow);
            let exists = transaction
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&rebuilt])
                .await
                .map_err(failed)?
                .get::<_, bool>(0);
            if !exists {
                return Ok(false);
            }
            transaction
                .batch_execute(&format!("LOCK TABLE {rebuilt} IN ACCESS EXCLUSIVE MODE"))
                .await
                .map_err(failed)?;
            let built = transaction
                .query_opt("SELECT position FROM read_model_checkpoints WHERE projection = $1 FOR UPDATE", &[&shadow])
                .await
                .map_err(failed)?;
            let Some(built) = built.map(|row| row.get::<_, i64>(0)) else { return Ok(false) };
            let table = documents_table(projection);
            transaction.batch_execute(&create_table_sql(&table)).await.map_err(failed)?;
            transaction.batch_execute(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")).await.map_err(failed)?;
            transaction
                .execute(
                    "INSERT INTO read_model_checkpoints (projection, position) VALUES ($1, 0) ON CONFLICT DO NOTHING",
                    &[&projection],
                )
                .await
                .map_err(failed)?;
            let live: i64 = transaction
                .query_one(
                    "SELECT position FROM read_model_checkpoints WHERE projection = $1 FOR UPDATE",
                    &[&projection],
                )
                .await
                .map_err(failed)?
                .get(0);
            let mut renames = format!("DROP TABLE {table}; ALTER TABLE {rebuilt} RENAME TO {table};");
            for field in indexed {
                check_field(field)?;
                renames.push_str(&format!(
                    "ALTER INDEX IF EXISTS {} RENAME TO {};",
                    index_name(shadow, field),
                    index_name(projection, field)
                ));
            }
            transaction.batch_execute(&renames).await.map_err(failed)?;
            // A new generation: a batch read before the swap can no longer commit.
            transaction
                .execute(
                    "UPDATE read_model_checkpoints SET position = $2, generation = generation + 1 WHERE projection = $1",
                    &[&projection, &built.max(live.min(to_i64(scanned)))],
                )
                .await
                .map_err(failed)?;
            transaction
                .execute("DELETE FROM read_model_checkpoints WHERE projection = $1", &[&shadow])
                .await
                .map_err(failed)?;
            transaction
                .execute(
                    "DELETE FROM stopped_projections WHERE projection = $1 OR projection = $2",
                    &[&projection, &shadow],
                )
                .await
                .map_err(failed)?;
            transaction.commit().await.map_err(failed)?;
            self.tables.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&rebuilt);
            Ok(true)
        })
    }

    fn discard<'a>(&'a self, aside: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let failed = |error| backend("drop rebuilt documents", error);
            let mut client = self.db.client("drop rebuilt documents").await?;
            let transaction = client.transaction().await.map_err(failed)?;
            let table = documents_table(aside);
            transaction.batch_execute(&format!("DROP TABLE IF EXISTS {table}")).await.map_err(failed)?;
            transaction
                .execute("DELETE FROM read_model_checkpoints WHERE projection = $1", &[&aside])
                .await
                .map_err(failed)?;
            transaction
                .execute("DELETE FROM stopped_projections WHERE projection = $1", &[&aside])
                .await
                .map_err(failed)?;
            transaction.commit().await.map_err(failed)?;
            self.tables.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&table);
            Ok(())
        })
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
        Box::pin(self.db.identity())
    }

    fn commit_in<'a>(
        &'a self,
        sql: &'a mut Sql<'_>,
        projection: &'static str,
        from: u64,
        to: u64,
        work: Box<dyn DocumentWork>,
    ) -> BoxFuture<'a, Result<bool, SqlError>> {
        // Named with their schema: the append's connection looks in the events' schema.
        let schema = &self.db.schema;
        let table = format!("\"{schema}\".{}", documents_table(projection));
        let checkpoints = format!("\"{schema}\".read_model_checkpoints");
        let statements = DocumentStatements {
            // The documents table first (the update of no row takes its lock, as a write
            // would), then the checkpoint's row, in the order `clear` takes them, else an
            // append and a rebuild's clear would each wait for the other: it waits for a clear
            // in flight, which is short (a `TRUNCATE`), or for `prepare` building an index on
            // the table, and for no other write. Skipped when a
            // catch-up holds the row (its batch commits, and the events of this append are
            // applied after it): waiting here would hold every append of the store, which
            // waits behind this one's lock. The row is made by `prepare`.
            position: static_statement(format!(
                "WITH locked AS (UPDATE {table} SET key = key WHERE false)
                 SELECT position FROM {checkpoints} WHERE projection = $1 FOR UPDATE SKIP LOCKED"
            )),
            load: static_statement(format!("SELECT document::text FROM {table} WHERE key = $1")),
            upsert: static_statement(format!(
                "INSERT INTO {table} (key, document) VALUES ($1, $2::text::jsonb)
                 ON CONFLICT (key) DO UPDATE SET document = excluded.document"
            )),
            advance: static_statement(format!("UPDATE {checkpoints} SET position = $2 WHERE projection = $1")),
        };
        Box::pin(async move {
            if let Some(key) = work.keys().iter().find(|key| key.contains('\0')) {
                return Err(SqlError::Store(StoreError::invalid_identifier("document key", key, NUL)));
            }
            commit_through(sql, &statements, projection, from, to, work).await
        })
    }

    fn clear<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let failed = |error| backend("clear documents", error);
            let mut client = self.db.client("clear documents").await?;
            let transaction = client.transaction().await.map_err(failed)?;
            // The table first, then the checkpoint: a commit writes the table in the statement
            // that moves the checkpoint, so it holds the table before the row, and taking them
            // the other way round here would deadlock against it. The lock waits for a commit
            // in flight; the new generation refuses a batch read before the clear.
            let table = self.ensure_table(&transaction, projection).await?;
            transaction.batch_execute(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")).await.map_err(failed)?;
            transaction
                .execute(
                    "INSERT INTO read_model_checkpoints (projection, position, generation) VALUES ($1, 0, 1)
                     ON CONFLICT (projection) DO UPDATE SET position = 0,
                         generation = read_model_checkpoints.generation + 1",
                    &[&projection],
                )
                .await
                .map_err(failed)?;
            // A table of its own: emptied at once, without the dead rows a `DELETE` leaves for
            // every upsert of the rebuild to step over.
            transaction.batch_execute(&format!("TRUNCATE {table}")).await.map_err(failed)?;
            // Rebuilt from the start: a stop kept for it no longer holds.
            transaction
                .execute("DELETE FROM stopped_projections WHERE projection = $1", &[&projection])
                .await
                .map_err(failed)?;
            transaction.commit().await.map_err(failed)
        })
    }
}
