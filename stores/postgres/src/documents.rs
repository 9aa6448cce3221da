//! [`PostgresDocuments`]: document read models in PostgreSQL (the events' database or
//! another server), each batch of documents written in one transaction with the projection's
//! checkpoint, which is locked for the transaction so that two processes never both commit
//! the same events.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::Pool;
use eventsmith_runtime::documents::{DocumentCheckpoint, DocumentStore, Keyed, check_field};
use eventsmith_runtime::store::{BoxFuture, StoreError};

use crate::db::{Db, to_i64, to_u64};
use crate::error::{backend, pool_error};
use crate::{own_pool, valid_schema};

/// The schema version of the read-model tables this release writes.
const SCHEMA_VERSION: i32 = 1;

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
                   CREATE TABLE IF NOT EXISTS read_model_documents (
                       projection text NOT NULL,
                       key text COLLATE "C" NOT NULL,
                       document jsonb NOT NULL,
                       PRIMARY KEY (projection, key)
                   );
                   CREATE TABLE IF NOT EXISTS sql_read_models (
                       projection text PRIMARY KEY,
                       position bigint NOT NULL DEFAULT 0,
                       version bigint NOT NULL DEFAULT 0
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
            Some(_) => {}
        }
        transaction.commit().await.map_err(failed)?;
        Ok(PostgresDocuments { db: Arc::new(db) })
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

/// The expression a field is indexed and filtered by: its JSON value.
fn field_expression(field: &str) -> String {
    format!("(document -> '{field}')")
}

const NUL: &str = "PostgreSQL text cannot hold a NUL byte";

impl DocumentStore for PostgresDocuments {
    fn prepare<'a>(&'a self, projection: &'a str, indexed: &'a [&'a str]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if indexed.is_empty() {
                return Ok(());
            }
            let failed = |error| backend("create an index", error);
            let mut client = self.db.client("create an index").await?;
            let transaction = client.transaction().await.map_err(failed)?;
            transaction
                .execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(&self.db.schema)])
                .await
                .map_err(failed)?;
            for field in indexed {
                check_field(field)?;
                let name = format!(
                    "read_model_documents_{:016x}",
                    eventsmith_runtime::id::fnv1a(format!("{projection}\0{field}").as_bytes())
                );
                let sql = format!(
                    "CREATE INDEX IF NOT EXISTS {name} ON read_model_documents (projection, {}, key)",
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
            let rows = self
                .db
                .rows(
                    "load documents",
                    "SELECT key, document::text FROM read_model_documents WHERE projection = $1 AND key = ANY($2)",
                    &[&projection, &asked],
                )
                .await?;
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
            let mut client = self.db.client("commit documents").await?;
            let transaction = client.transaction().await.map_err(failed)?;
            transaction
                .execute(
                    "INSERT INTO read_model_checkpoints (projection, position) VALUES ($1, 0) ON CONFLICT DO NOTHING",
                    &[&projection],
                )
                .await
                .map_err(failed)?;
            // Locked until the commit: a process that read the same checkpoint waits here,
            // then finds it moved and drops its batch.
            let row = transaction
                .query_one(
                    "SELECT position, generation FROM read_model_checkpoints WHERE projection = $1 FOR UPDATE",
                    &[&projection],
                )
                .await
                .map_err(failed)?;
            let at = DocumentCheckpoint { position: to_u64(row.get(0)), generation: to_u64(row.get(1)) };
            if at != from {
                return Ok(false);
            }
            let upsert = transaction
                .prepare_cached(
                    "INSERT INTO read_model_documents (projection, key, document)
                     SELECT $1, key, document::jsonb FROM unnest($2::text[], $3::text[]) AS batch (key, document)
                     ON CONFLICT (projection, key) DO UPDATE SET document = excluded.document",
                )
                .await
                .map_err(failed)?;
            transaction.execute(&upsert, &[&projection, &keys, &jsons]).await.map_err(failed)?;
            transaction
                .execute(
                    "UPDATE read_model_checkpoints SET position = $2 WHERE projection = $1",
                    &[&projection, &to_i64(to)],
                )
                .await
                .map_err(failed)?;
            transaction.commit().await.map_err(failed)?;
            Ok(true)
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
            let mut sql = "SELECT key, document::text FROM read_model_documents WHERE projection = $1".to_owned();
            let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&projection, &limit];
            if let Some(after) = &after {
                params.push(after);
                sql.push_str(&format!(" AND key > ${}", params.len()));
            }
            if let Some((field, value)) = &filter {
                check_field(field)?;
                params.push(value);
                sql.push_str(&format!(" AND {} = ${}::text::jsonb", field_expression(field), params.len()));
            }
            sql.push_str(" ORDER BY key LIMIT $2");
            let rows = self.db.rows("list documents", &sql, &params).await?;
            Ok(rows.into_iter().map(|row| (row.get::<_, String>(0), row.get::<_, String>(1).into_bytes())).collect())
        })
    }

    fn clear<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let failed = |error| backend("clear documents", error);
            let mut client = self.db.client("clear documents").await?;
            let transaction = client.transaction().await.map_err(failed)?;
            // The checkpoint first: this waits for a commit in flight, which then cannot
            // commit again (a new generation), and the delete that follows sees what it wrote.
            transaction
                .execute(
                    "INSERT INTO read_model_checkpoints (projection, position, generation) VALUES ($1, 0, 1)
                     ON CONFLICT (projection) DO UPDATE SET position = 0,
                         generation = read_model_checkpoints.generation + 1",
                    &[&projection],
                )
                .await
                .map_err(failed)?;
            transaction
                .execute("DELETE FROM read_model_documents WHERE projection = $1", &[&projection])
                .await
                .map_err(failed)?;
            transaction.commit().await.map_err(failed)
        })
    }
}
