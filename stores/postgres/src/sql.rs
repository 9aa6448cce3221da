//! SQL read models in PostgreSQL: [`PostgresDocuments`] keeps the projections' own tables
//! in its schema (the connections' `search_path`), and their checkpoints and schema versions
//! in `sql_read_models`, whose row each batch locks, so that two processes never both
//! commit the same events.

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use deadpool_postgres::Object;
use eventsmith_runtime::sql::{Sql, SqlConnection, SqlError, SqlRow, SqlStore, SqlValue, SqlWork, transact_through};
use eventsmith_runtime::store::{BoxFuture, StoreError};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use crate::db::to_u64;
use crate::documents::PostgresDocuments;
use crate::error::backend;

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// A value bound to a parameter, converted to the parameter's type.
#[derive(Debug)]
struct Param(SqlValue);

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match (&self.0, ty) {
            (SqlValue::Null, _) => Ok(IsNull::Yes),
            (SqlValue::Integer(integer), &Type::INT8) => integer.to_sql(ty, out),
            (SqlValue::Integer(integer), &Type::INT4) => i32::try_from(*integer)?.to_sql(ty, out),
            (SqlValue::Integer(integer), &Type::INT2) => i16::try_from(*integer)?.to_sql(ty, out),
            #[expect(clippy::cast_precision_loss, reason = "as the server would convert it")]
            (SqlValue::Integer(integer), &Type::FLOAT8) => (*integer as f64).to_sql(ty, out),
            (SqlValue::Integer(integer @ (0 | 1)), &Type::BOOL) => (*integer == 1).to_sql(ty, out),
            (SqlValue::Real(real), &Type::FLOAT8) => real.to_sql(ty, out),
            #[expect(clippy::cast_possible_truncation, reason = "a `real` parameter holds an f32")]
            (SqlValue::Real(real), &Type::FLOAT4) => (*real as f32).to_sql(ty, out),
            (SqlValue::Bool(boolean), &Type::BOOL) => boolean.to_sql(ty, out),
            (SqlValue::Text(text), &Type::UUID) => text.parse::<uuid::Uuid>()?.to_sql(ty, out),
            (SqlValue::Text(text), &Type::JSON) => {
                out.put_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            (SqlValue::Text(text), &Type::JSONB) => {
                out.put_u8(1);
                out.put_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            (SqlValue::Text(text), ty) if <&str as ToSql>::accepts(ty) => text.as_str().to_sql(ty, out),
            (SqlValue::Blob(bytes), &Type::BYTEA) => bytes.as_slice().to_sql(ty, out),
            (value, ty) => Err(format!("{value:?} cannot be bound to a parameter of type `{ty}`").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A column's value, converted from its type.
struct Column(SqlValue);

impl<'a> FromSql<'a> for Column {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Column(match *ty {
            Type::INT2 => SqlValue::Integer(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => SqlValue::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => SqlValue::Integer(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => SqlValue::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => SqlValue::Real(f64::from_sql(ty, raw)?),
            Type::BOOL => SqlValue::Bool(bool::from_sql(ty, raw)?),
            Type::BYTEA => SqlValue::Blob(raw.to_vec()),
            Type::UUID => SqlValue::Text(uuid::Uuid::from_sql(ty, raw)?.hyphenated().to_string()),
            Type::JSON => SqlValue::Text(std::str::from_utf8(raw)?.to_owned()),
            Type::JSONB => match raw.split_first() {
                Some((1, json)) => SqlValue::Text(std::str::from_utf8(json)?.to_owned()),
                _ => return Err("a jsonb value of an unknown format version".into()),
            },
            ref ty if <String as FromSql>::accepts(ty) => SqlValue::Text(String::from_sql(ty, raw)?),
            ref ty => {
                return Err(format!(
                    "columns of type `{ty}` are not read; cast it in the query (`::text`, `::bigint`, `::float8`)"
                )
                .into());
            }
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Column(SqlValue::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A pooled connection as user code's statements see it.
pub(crate) struct Statements<'c> {
    pub(crate) client: &'c Object,
    /// The last statement that failed: PostgreSQL aborts the transaction it is in, so the
    /// work cannot go on as if it had not, even when user code ignored the error.
    pub(crate) failed: Option<SqlError>,
}

impl Statements<'_> {
    async fn prepare(
        &self,
        sql: &'static str,
        params: Vec<SqlValue>,
    ) -> Result<(tokio_postgres::Statement, Vec<Param>), SqlError> {
        let statement = self.client.prepare_cached(sql).await.map_err(|error| statement_error(sql, error))?;
        if statement.params().len() != params.len() {
            return Err(SqlError::Statement {
                sql: sql.to_owned(),
                message: format!("takes {} parameters, and {} were given", statement.params().len(), params.len()),
                code: None,
            });
        }
        Ok((statement, params.into_iter().map(Param).collect()))
    }
}

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|param| param as &(dyn ToSql + Sync)).collect()
}

impl Statements<'_> {
    /// Keeps the failure of a statement, and passes it on.
    fn failing<T>(&mut self, result: Result<T, SqlError>) -> Result<T, SqlError> {
        if let Err(error) = &result {
            self.failed = Some(match error {
                SqlError::Store(store) => {
                    SqlError::Store(StoreError::backend("run a read model's statement", true, store.to_string()))
                }
                other => SqlError::Statement { sql: String::new(), message: other.to_string(), code: None },
            });
        }
        result
    }
}

impl SqlConnection for Statements<'_> {
    fn execute<'a>(&'a mut self, sql: &'static str, params: Vec<SqlValue>) -> BoxFuture<'a, Result<u64, SqlError>> {
        Box::pin(async move {
            let executed = match self.prepare(sql, params).await {
                Ok((statement, params)) => {
                    self.client.execute(&statement, &refs(&params)).await.map_err(|error| statement_error(sql, error))
                }
                Err(error) => Err(error),
            };
            self.failing(executed)
        })
    }

    fn take_failure(&mut self) -> Option<SqlError> {
        self.failed.take()
    }

    fn query<'a>(
        &'a mut self,
        sql: &'static str,
        params: Vec<SqlValue>,
    ) -> BoxFuture<'a, Result<Vec<SqlRow>, SqlError>> {
        Box::pin(async move {
            let prepared = self.prepare(sql, params).await;
            let (statement, params) = self.failing(prepared)?;
            let rows = self.client.query(&statement, &refs(&params)).await.map_err(|error| statement_error(sql, error));
            let rows = self.failing(rows)?;
            let columns: Arc<[String]> = statement.columns().iter().map(|column| column.name().to_owned()).collect();
            rows.iter()
                .map(|row| {
                    let values = (0..columns.len())
                        .map(|index| {
                            row.try_get::<_, Column>(index).map(|column| column.0).map_err(|error| SqlError::Column {
                                column: columns[index].clone(),
                                message: std::error::Error::source(&error)
                                    .map_or_else(|| error.to_string(), ToString::to_string),
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(SqlRow::new(Arc::clone(&columns), values))
                })
                .collect()
        })
    }
}

/// A statement the server refused (the projection stops), or a connection or server that
/// failed (the batch is tried again).
fn statement_error(sql: &'static str, error: tokio_postgres::Error) -> SqlError {
    let transient = error.is_closed() || error.code().is_some_and(crate::error::transient);
    if transient {
        return SqlError::Store(backend("run a read model's statement", error));
    }
    match error.as_db_error() {
        Some(db) => SqlError::Statement {
            sql: sql.to_owned(),
            message: db.message().to_owned(),
            code: Some(db.code().code().to_owned()),
        },
        None => SqlError::Statement {
            sql: sql.to_owned(),
            message: std::error::Error::source(&error).map_or_else(|| error.to_string(), ToString::to_string),
            code: None,
        },
    }
}

/// A pooled connection inside a transaction: dropped before it ends (a cancelled future),
/// it leaves the pool and closes, so the server rolls the transaction back.
pub(crate) struct Transaction {
    client: Option<Object>,
}

impl Transaction {
    pub(crate) async fn begin(client: Object, operation: &'static str) -> Result<Self, StoreError> {
        Self::begin_with(client, "BEGIN", operation).await
    }

    /// Opens a transaction with `statement` (`BEGIN ...`). The guard exists before the
    /// statement is sent: a future dropped while it is in flight discards the connection
    /// rather than give the pool one inside a transaction.
    pub(crate) async fn begin_with(
        client: Object,
        statement: &str,
        operation: &'static str,
    ) -> Result<Self, StoreError> {
        let transaction = Transaction { client: Some(client) };
        transaction.client().batch_execute(statement).await.map_err(|error| backend(operation, error))?;
        Ok(transaction)
    }

    /// Guards a connection whose transaction the caller opens itself.
    pub(crate) fn adopt(client: Object) -> Self {
        Transaction { client: Some(client) }
    }

    /// The transaction ended (committed by the caller's own statements): the connection goes
    /// back to the pool.
    pub(crate) fn release(mut self) {
        self.client = None;
    }

    pub(crate) fn client(&self) -> &Object {
        self.client.as_ref().expect("a transaction not yet ended")
    }

    pub(crate) async fn end(mut self, statement: &str, operation: &'static str) -> Result<(), StoreError> {
        self.client().batch_execute(statement).await.map_err(|error| backend(operation, error))?;
        self.client = None;
        Ok(())
    }

    /// Locks the projection's row, making it if needed; its position and version.
    async fn state(&self, projection: &str, operation: &'static str) -> Result<(u64, u64), StoreError> {
        let client = self.client();
        let failed = |error| backend(operation, error);
        let make = client
            .prepare_cached("INSERT INTO sql_read_models (projection) VALUES ($1) ON CONFLICT DO NOTHING")
            .await
            .map_err(failed)?;
        client.execute(&make, &[&projection]).await.map_err(failed)?;
        let lock = client
            .prepare_cached("SELECT position, version FROM sql_read_models WHERE projection = $1 FOR UPDATE")
            .await
            .map_err(failed)?;
        let row = client.query_one(&lock, &[&projection]).await.map_err(failed)?;
        Ok((to_u64(row.get(0)), to_u64(row.get(1))))
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

async fn run(client: &Object, work: Box<dyn SqlWork>) -> Result<(), SqlError> {
    let mut statements = Statements { client, failed: None };
    work.run(&mut Sql::new(&mut statements)).await
}

impl SqlStore for PostgresDocuments {
    fn migrate<'a>(
        &'a self,
        projection: &'static str,
        migrations: &'static [&'static str],
    ) -> BoxFuture<'a, Result<(), SqlError>> {
        const OPERATION: &str = "migrate a read model";
        Box::pin(async move {
            let transaction = Transaction::begin(self.db.client(OPERATION).await?, OPERATION).await?;
            let (_, version) = transaction.state(projection, OPERATION).await?;
            let supported = migrations.len();
            if version > supported as u64 {
                transaction.end("ROLLBACK", OPERATION).await?;
                return Err(SqlError::SchemaAhead { projection: projection.to_owned(), found: version, supported });
            }
            for (index, migration) in migrations.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
                if let Err(error) = transaction.client().batch_execute(migration).await {
                    let message = match error.as_db_error() {
                        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
                        None => error.to_string(),
                    };
                    transaction.end("ROLLBACK", OPERATION).await?;
                    return Err(SqlError::Migration { projection: projection.to_owned(), version: index + 1, message });
                }
            }
            transaction
                .client()
                .execute(
                    "UPDATE sql_read_models SET version = $2 WHERE projection = $1",
                    &[&projection, &(supported as i64)],
                )
                .await
                .map_err(|error| backend(OPERATION, error))?;
            transaction.end("COMMIT", OPERATION).await?;
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

    fn recorded_stop<'a>(
        &'a self,
        projection: &'a str,
    ) -> BoxFuture<'a, Result<Option<eventsmith_runtime::documents::RecordedStop>, StoreError>> {
        Box::pin(self.kept_stop(projection))
    }

    fn claim<'a>(
        &'a self,
        projection: &'a str,
        holder: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<eventsmith_runtime::documents::Lease, StoreError>> {
        Box::pin(self.claim_lease(projection, holder, ttl))
    }

    fn release<'a>(&'a self, projection: &'a str, holder: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.release_lease(projection, holder))
    }

    fn lease<'a>(
        &'a self,
        projection: &'a str,
    ) -> BoxFuture<'a, Result<Option<eventsmith_runtime::documents::Lease>, StoreError>> {
        Box::pin(self.read_lease(projection))
    }

    fn sql_checkpoint<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let rows = self
                .db
                .rows("read a checkpoint", "SELECT position FROM sql_read_models WHERE projection = $1", &[&projection])
                .await?;
            Ok(rows.first().map_or(0, |row| to_u64(row.get(0))))
        })
    }

    fn transact<'a>(
        &'a self,
        projection: &'static str,
        from: u64,
        to: u64,
        work: Box<dyn SqlWork>,
    ) -> BoxFuture<'a, Result<bool, SqlError>> {
        const OPERATION: &str = "apply events to a read model";
        Box::pin(async move {
            let transaction = Transaction::begin(self.db.client(OPERATION).await?, OPERATION).await?;
            if transaction.state(projection, OPERATION).await?.0 != from {
                transaction.end("ROLLBACK", OPERATION).await?;
                return Ok(false);
            }
            if let Err(error) = run(transaction.client(), work).await {
                transaction.end("ROLLBACK", OPERATION).await?;
                return Err(error);
            }
            let to = i64::try_from(to).map_err(|error| StoreError::backend(OPERATION, false, error))?;
            let client = transaction.client();
            let failed = |error| backend(OPERATION, error);
            let advance = client
                .prepare_cached("UPDATE sql_read_models SET position = $2 WHERE projection = $1")
                .await
                .map_err(failed)?;
            client.execute(&advance, &[&projection, &to]).await.map_err(failed)?;
            transaction.end("COMMIT", OPERATION).await?;
            Ok(true)
        })
    }

    fn read<'a>(&'a self, work: Box<dyn SqlWork>) -> BoxFuture<'a, Result<(), SqlError>> {
        const OPERATION: &str = "answer a query";
        Box::pin(async move {
            // One snapshot for all of the query's statements, and no writes.
            let client = self.db.client(OPERATION).await?;
            let transaction =
                Transaction::begin_with(client, "BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ", OPERATION).await?;
            let answered = run(transaction.client(), work).await;
            transaction.end(if answered.is_ok() { "COMMIT" } else { "ROLLBACK" }, OPERATION).await?;
            answered
        })
    }

    fn transact_in<'a>(
        &'a self,
        sql: &'a mut Sql<'_>,
        projection: &'static str,
        from: u64,
        to: u64,
        work: Box<dyn SqlWork>,
    ) -> BoxFuture<'a, Result<bool, SqlError>> {
        Box::pin(async move {
            // The append's connection looks in the events' schema: the projection's tables and
            // checkpoint are in this one's, for the rest of the append's transaction.
            sql.query("SELECT set_config('search_path', $1, true)", &[&self.db.schema]).await?;
            // Skipped when a catch-up holds the row (its batch commits, and the events of this
            // append are applied after it): waiting here would hold every append of the store,
            // which waits behind this one's lock. The row is made by `migrate`.
            transact_through(
                sql,
                "SELECT position FROM sql_read_models WHERE projection = $1 FOR UPDATE SKIP LOCKED",
                "UPDATE sql_read_models SET position = $2 WHERE projection = $1",
                projection,
                from,
                to,
                work,
            )
            .await
        })
    }

    fn database_identity(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        Box::pin(self.db.identity())
    }
}
