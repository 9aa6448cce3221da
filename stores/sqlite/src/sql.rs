//! SQL read models in SQLite: [`SqliteDocuments`] keeps the projections' own tables beside
//! its documents, and their checkpoints and schema versions in `eventsmith_sql_read_models`.
//! A batch runs on the connection's thread: its `#[apply]` futures are driven there, inside
//! one `BEGIN IMMEDIATE` transaction that also moves the checkpoint.

use std::sync::Arc;

use eventsmith_runtime::sql::{
    InlineWork, Sql, SqlConnection, SqlError, SqlRow, SqlStore, SqlValue, SqlWork, numbered_parameters,
    transact_through,
};
use eventsmith_runtime::store::{AppendOutcome, BoxFuture, NewEvent, StoreError};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, ErrorCode, OptionalExtension};

use crate::documents::SqliteDocuments;
use crate::sqlite;

/// The read-model connection as user code's statements see it.
pub(crate) struct Statements<'c> {
    pub(crate) connection: &'c mut Connection,
}

impl Statements<'_> {
    fn prepare(&self, sql: &'static str, params: Vec<SqlValue>) -> Result<rusqlite::CachedStatement<'_>, SqlError> {
        let mut statement =
            self.connection.prepare_cached(&numbered_parameters(sql)).map_err(|error| statement_error(sql, error))?;
        if statement.parameter_count() != params.len() {
            return Err(SqlError::Statement {
                sql: sql.to_owned(),
                message: format!("takes {} parameters, and {} were given", statement.parameter_count(), params.len()),
                code: None,
            });
        }
        for (index, value) in params.into_iter().enumerate() {
            let value = match value {
                SqlValue::Integer(integer) => Value::Integer(integer),
                SqlValue::Real(real) => Value::Real(real),
                SqlValue::Text(text) => Value::Text(text),
                SqlValue::Blob(bytes) => Value::Blob(bytes),
                SqlValue::Bool(boolean) => Value::Integer(i64::from(boolean)),
                _ => Value::Null,
            };
            statement.raw_bind_parameter(index + 1, value).map_err(|error| statement_error(sql, error))?;
        }
        Ok(statement)
    }
}

impl SqlConnection for Statements<'_> {
    fn execute<'a>(&'a mut self, sql: &'static str, params: Vec<SqlValue>) -> BoxFuture<'a, Result<u64, SqlError>> {
        let changed = self
            .prepare(sql, params)
            .and_then(|mut statement| statement.raw_execute().map_err(|error| statement_error(sql, error)));
        Box::pin(std::future::ready(changed.map(|changed| changed as u64)))
    }

    fn query<'a>(
        &'a mut self,
        sql: &'static str,
        params: Vec<SqlValue>,
    ) -> BoxFuture<'a, Result<Vec<SqlRow>, SqlError>> {
        let rows = self.prepare(sql, params).and_then(|mut statement| {
            let columns: Arc<[String]> = statement.column_names().map(str::to_owned).collect();
            let mut rows = statement.raw_query();
            let mut found = Vec::new();
            while let Some(row) = rows.next().map_err(|error| statement_error(sql, error))? {
                let values = (0..columns.len())
                    .map(|index| row.get_ref(index).map(value))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|error| statement_error(sql, error))?;
                found.push(SqlRow::new(Arc::clone(&columns), values));
            }
            Ok(found)
        });
        Box::pin(std::future::ready(rows))
    }
}

fn value(value: ValueRef<'_>) -> SqlValue {
    match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(integer) => SqlValue::Integer(integer),
        ValueRef::Real(real) => SqlValue::Real(real),
        ValueRef::Text(text) => SqlValue::Text(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => SqlValue::Blob(bytes.to_vec()),
    }
}

/// A statement the database refused (the projection stops), or a database that failed (the
/// batch is tried again).
fn statement_error(sql: &'static str, error: rusqlite::Error) -> SqlError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::DiskFull
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::CannotOpen
                    | ErrorCode::OutOfMemory
            ) =>
        {
            SqlError::Store(sqlite("run a read model's statement", error))
        }
        rusqlite::Error::SqliteFailure(failure, message) => SqlError::Statement {
            sql: sql.to_owned(),
            message: message.clone().unwrap_or_else(|| failure.to_string()),
            code: Some(failure.extended_code.to_string()),
        },
        _ => SqlError::Statement { sql: sql.to_owned(), message: error.to_string(), code: None },
    }
}

/// Runs `f`, which opens a transaction, and rolls it back if `f` returned before ending it
/// (an error on the way): the connection is shared, and must not stay inside it. A read's
/// `query_only` is switched off again likewise.
fn guarded<T>(
    connection: &mut Connection,
    f: impl FnOnce(&mut Connection) -> Result<Result<T, SqlError>, StoreError>,
) -> Result<Result<T, SqlError>, StoreError> {
    let result = f(connection);
    if !connection.is_autocommit() {
        let _ = connection.execute_batch("ROLLBACK");
    }
    let _ = connection.execute_batch("PRAGMA query_only = OFF");
    result
}

/// Opens a write transaction, first rolling back one a failure in between left open.
fn begin(connection: &Connection, operation: &'static str) -> Result<(), StoreError> {
    if !connection.is_autocommit() {
        connection.execute_batch("ROLLBACK").map_err(|error| sqlite(operation, error))?;
    }
    connection.execute_batch("BEGIN IMMEDIATE").map_err(|error| sqlite(operation, error))
}

fn rollback(connection: &Connection, operation: &'static str) -> Result<(), StoreError> {
    connection.execute_batch("ROLLBACK").map_err(|error| sqlite(operation, error))
}

/// The projection's position and schema version (0 and 0 for a projection not seen yet).
fn state(connection: &Connection, projection: &str, operation: &'static str) -> Result<(u64, u64), StoreError> {
    let found: Option<(i64, i64)> = connection
        .query_row(
            "SELECT position, version FROM eventsmith_sql_read_models WHERE projection = ?1",
            [projection],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(|error| sqlite(operation, error))?;
    let (position, version) = found.unwrap_or_default();
    Ok((u64::try_from(position).unwrap_or(0), u64::try_from(version).unwrap_or(0)))
}

/// Drives `work` to its end on this thread, which holds the connection.
fn run(connection: &mut Connection, work: Box<dyn SqlWork>) -> Result<(), SqlError> {
    let mut statements = Statements { connection };
    let mut sql = Sql::new(&mut statements);
    tokio::runtime::Handle::current().block_on(work.run(&mut sql))
}

impl SqlStore for SqliteDocuments {
    fn migrate<'a>(
        &'a self,
        projection: &'static str,
        migrations: &'static [&'static str],
    ) -> BoxFuture<'a, Result<(), SqlError>> {
        const OPERATION: &str = "migrate a read model";
        Box::pin(async move {
            self.with(move |connection| {
                guarded(connection, |connection| {
                    begin(connection, OPERATION)?;
                    let (_, version) = state(connection, projection, OPERATION)?;
                    let supported = migrations.len();
                    if version > supported as u64 {
                        rollback(connection, OPERATION)?;
                        return Ok(Err(SqlError::SchemaAhead {
                            projection: projection.to_owned(),
                            found: version,
                            supported,
                        }));
                    }
                    for (index, migration) in migrations.iter().enumerate().skip(usize::try_from(version).unwrap_or(0))
                    {
                        if let Err(error) = connection.execute_batch(migration) {
                            rollback(connection, OPERATION)?;
                            return Ok(Err(SqlError::Migration {
                                projection: projection.to_owned(),
                                version: index + 1,
                                message: error.to_string(),
                            }));
                        }
                    }
                    connection
                        .execute(
                            "INSERT INTO eventsmith_sql_read_models (projection, position, version) VALUES (?1, 0, ?2)
                         ON CONFLICT (projection) DO UPDATE SET version = excluded.version",
                            rusqlite::params![projection, supported as i64],
                        )
                        .map_err(|error| sqlite(OPERATION, error))?;
                    connection.execute_batch("COMMIT").map_err(|error| sqlite(OPERATION, error))?;
                    Ok(Ok(()))
                })
            })
            .await?
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
        let projection = projection.to_owned();
        Box::pin(self.with(move |connection| Ok(state(connection, &projection, "read a checkpoint")?.0)))
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
            self.with(move |connection| {
                guarded(connection, |connection| {
                    begin(connection, OPERATION)?;
                    if state(connection, projection, OPERATION)?.0 != from {
                        rollback(connection, OPERATION)?;
                        return Ok(Ok(false));
                    }
                    if let Err(error) = run(connection, work) {
                        rollback(connection, OPERATION)?;
                        return Ok(Err(error));
                    }
                    let to = i64::try_from(to).map_err(|error| crate::backend(OPERATION, false, error))?;
                    connection
                        .execute(
                            "INSERT INTO eventsmith_sql_read_models (projection, position) VALUES (?1, ?2)
                         ON CONFLICT (projection) DO UPDATE SET position = excluded.position",
                            rusqlite::params![projection, to],
                        )
                        .map_err(|error| sqlite(OPERATION, error))?;
                    connection.execute_batch("COMMIT").map_err(|error| sqlite(OPERATION, error))?;
                    Ok(Ok(true))
                })
            })
            .await?
        })
    }

    fn read<'a>(&'a self, work: Box<dyn SqlWork>) -> BoxFuture<'a, Result<(), SqlError>> {
        const OPERATION: &str = "answer a query";
        Box::pin(async move {
            // One snapshot for all of the query's statements, and no writes.
            self.with(move |connection| {
                guarded(connection, |connection| {
                    connection
                        .execute_batch("PRAGMA query_only = ON; BEGIN")
                        .map_err(|error| sqlite(OPERATION, error))?;
                    let answered = run(connection, work);
                    connection
                        .execute_batch(if answered.is_ok() { "COMMIT" } else { "ROLLBACK" })
                        .map_err(|error| sqlite(OPERATION, error))?;
                    Ok(answered)
                })
            })
            .await?
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
        Box::pin(transact_through(
            sql,
            "SELECT position FROM eventsmith_sql_read_models WHERE projection = $1",
            "UPDATE eventsmith_sql_read_models SET position = $2 WHERE projection = $1",
            projection,
            from,
            to,
            work,
        ))
    }

    fn database_identity(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        let file = self.file.clone();
        Box::pin(async move { file.map(|file| identity(&file)).transpose() })
    }
}

/// A SQLite file as [`database_identity`](SqlStore::database_identity) names it: its
/// canonical path.
pub(crate) fn identity(file: &std::path::Path) -> Result<String, StoreError> {
    let canonical =
        std::fs::canonicalize(file).map_err(|error| crate::backend("identify the database", false, error))?;
    Ok(format!("sqlite:{}", canonical.display()))
}

/// Runs an append's inline projections on the write connection, inside the append's
/// transaction.
pub(crate) fn run_inline(
    connection: &mut Connection,
    inline: &dyn InlineWork,
    after: u64,
    stream_id: &str,
    events: &[NewEvent],
    outcome: &AppendOutcome,
) -> Result<(), StoreError> {
    let mut statements = Statements { connection };
    let mut sql = Sql::new(&mut statements);
    let applied = tokio::runtime::Handle::current().block_on(inline.apply(&mut sql, after, stream_id, events, outcome));
    applied.map_err(|error| match error {
        SqlError::Store(error) => error,
        refused => crate::backend("apply inline projections", false, refused.to_string()),
    })
}
