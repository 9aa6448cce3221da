//! SQL statements through a connection: what the SQL read models (`crate::sql`) and the
//! stores that run them inside an append (inline projections) share. A [`Sql`] takes
//! `&'static str` statements with bind parameters, so a value never becomes SQL text.

use std::sync::Arc;

use super::{AppendOutcome, BoxFuture, NewEvent, StoreError};

/// A value bound to a statement's parameter or read from a row's column.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SqlValue {
    /// SQL `NULL`.
    Null,
    /// An integer (`INTEGER`; `smallint`, `integer`, `bigint`).
    Integer(i64),
    /// A floating-point number (`REAL`; `real`, `double precision`).
    Real(f64),
    /// Text (`TEXT`; `text`, `varchar`, and `json`, `jsonb`, `uuid` as their text).
    Text(String),
    /// Bytes (`BLOB`; `bytea`).
    Blob(Vec<u8>),
    /// A boolean (`boolean`; SQLite stores it as the integer 0 or 1).
    Bool(bool),
}

/// A Rust value a statement takes as a parameter.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound to a SQL parameter",
    label = "bound to a parameter here",
    note = "bind integers (up to i64), floats, bool, strings, byte vectors or an `Option` of one; convert others first (`id.to_string()`, `i64::try_from(n)?`)"
)]
pub trait ToSql: Sync {
    /// The value as bound.
    ///
    /// # Errors
    /// A value the database cannot hold (an unsigned integer past `i64::MAX`).
    fn to_sql(&self) -> Result<SqlValue, String>;
}

/// A Rust value read from a column.
pub trait FromSql: Sized {
    /// The value, or why the column's value is not one.
    ///
    /// # Errors
    /// A value of another type, or out of range.
    fn from_sql(value: &SqlValue) -> Result<Self, String>;
}

macro_rules! integers {
    ($($ty:ty),*) => {$(
        impl ToSql for $ty {
            fn to_sql(&self) -> Result<SqlValue, String> {
                i64::try_from(*self)
                    .map(SqlValue::Integer)
                    .map_err(|_| format!("{self} does not fit in a SQL integer (i64)"))
            }
        }

        impl FromSql for $ty {
            fn from_sql(value: &SqlValue) -> Result<Self, String> {
                match value {
                    SqlValue::Integer(integer) => <$ty>::try_from(*integer)
                        .map_err(|_| format!("{integer} does not fit in {}", stringify!($ty))),
                    other => Err(mismatch(stringify!($ty), other)),
                }
            }
        }
    )*};
}

integers!(i8, i16, i32, i64, u8, u16, u32, u64, usize);

fn mismatch(expected: &str, found: &SqlValue) -> String {
    let found = match found {
        SqlValue::Null => "NULL",
        SqlValue::Integer(_) => "an integer",
        SqlValue::Real(_) => "a floating-point number",
        SqlValue::Text(_) => "text",
        SqlValue::Blob(_) => "bytes",
        SqlValue::Bool(_) => "a boolean",
    };
    format!("expected {expected}, found {found}")
}

impl ToSql for f64 {
    fn to_sql(&self) -> Result<SqlValue, String> {
        Ok(SqlValue::Real(*self))
    }
}

impl FromSql for f64 {
    fn from_sql(value: &SqlValue) -> Result<Self, String> {
        match value {
            SqlValue::Real(real) => Ok(*real),
            // SQLite keeps a REAL column's integral values as integers when it may.
            #[expect(clippy::cast_precision_loss, reason = "as SQLite itself converts")]
            SqlValue::Integer(integer) => Ok(*integer as f64),
            other => Err(mismatch("f64", other)),
        }
    }
}

impl ToSql for f32 {
    fn to_sql(&self) -> Result<SqlValue, String> {
        Ok(SqlValue::Real(f64::from(*self)))
    }
}

impl ToSql for bool {
    fn to_sql(&self) -> Result<SqlValue, String> {
        Ok(SqlValue::Bool(*self))
    }
}

impl FromSql for bool {
    fn from_sql(value: &SqlValue) -> Result<Self, String> {
        match value {
            SqlValue::Bool(boolean) => Ok(*boolean),
            SqlValue::Integer(0) => Ok(false),
            SqlValue::Integer(1) => Ok(true),
            other => Err(mismatch("bool", other)),
        }
    }
}

impl ToSql for str {
    fn to_sql(&self) -> Result<SqlValue, String> {
        Ok(SqlValue::Text(self.to_owned()))
    }
}

impl ToSql for String {
    fn to_sql(&self) -> Result<SqlValue, String> {
        Ok(SqlValue::Text(self.clone()))
    }
}

impl FromSql for String {
    fn from_sql(value: &SqlValue) -> Result<Self, String> {
        match value {
            SqlValue::Text(text) => Ok(text.clone()),
            other => Err(mismatch("text", other)),
        }
    }
}

impl ToSql for [u8] {
    fn to_sql(&self) -> Result<SqlValue, String> {
        Ok(SqlValue::Blob(self.to_vec()))
    }
}

impl ToSql for Vec<u8> {
    fn to_sql(&self) -> Result<SqlValue, String> {
        Ok(SqlValue::Blob(self.clone()))
    }
}

impl FromSql for Vec<u8> {
    fn from_sql(value: &SqlValue) -> Result<Self, String> {
        match value {
            SqlValue::Blob(bytes) => Ok(bytes.clone()),
            other => Err(mismatch("bytes", other)),
        }
    }
}

impl ToSql for uuid::Uuid {
    fn to_sql(&self) -> Result<SqlValue, String> {
        Ok(SqlValue::Text(self.hyphenated().to_string()))
    }
}

impl FromSql for uuid::Uuid {
    fn from_sql(value: &SqlValue) -> Result<Self, String> {
        match value {
            SqlValue::Text(text) => text.parse().map_err(|error| format!("`{text}` is not a UUID: {error}")),
            other => Err(mismatch("a UUID", other)),
        }
    }
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sql(&self) -> Result<SqlValue, String> {
        (**self).to_sql()
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self) -> Result<SqlValue, String> {
        self.as_ref().map_or(Ok(SqlValue::Null), ToSql::to_sql)
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn from_sql(value: &SqlValue) -> Result<Self, String> {
        match value {
            SqlValue::Null => Ok(None),
            value => T::from_sql(value).map(Some),
        }
    }
}

impl FromSql for SqlValue {
    fn from_sql(value: &SqlValue) -> Result<Self, String> {
        Ok(value.clone())
    }
}

/// A row a query returned.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlRow {
    columns: Arc<[String]>,
    values: Vec<SqlValue>,
}

impl SqlRow {
    /// A row of `values` under the names `columns`: what a [`SqlConnection`] returns.
    #[must_use]
    pub fn new(columns: Arc<[String]>, values: Vec<SqlValue>) -> Self {
        SqlRow { columns, values }
    }

    /// The value of a column, by its index from 0 or its name.
    ///
    /// # Errors
    /// [`SqlError::Column`] for a column the row does not have or a value that is not a `T`.
    pub fn get<T: FromSql>(&self, column: impl SqlColumn) -> Result<T, SqlError> {
        let found = column.index_in(&self.columns);
        let Some(value) = found.and_then(|index| self.values.get(index)) else {
            return Err(SqlError::Column {
                column: column.to_string(),
                message: format!("the row has no such column (it has {})", self.columns.join(", ")),
            });
        };
        T::from_sql(value).map_err(|message| SqlError::Column { column: column.to_string(), message })
    }

    /// The row's values, in column order.
    #[must_use]
    pub fn values(&self) -> &[SqlValue] {
        &self.values
    }
}

/// A column of a [`SqlRow`]: its index from 0, or its name.
pub trait SqlColumn: std::fmt::Display {
    /// The column's index among `columns`.
    fn index_in(&self, columns: &[String]) -> Option<usize>;
}

impl SqlColumn for usize {
    fn index_in(&self, columns: &[String]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

/// For a literal index (`row.get::<String>(0)`), which Rust types `i32`.
impl SqlColumn for i32 {
    fn index_in(&self, columns: &[String]) -> Option<usize> {
        usize::try_from(*self).ok().filter(|index| *index < columns.len())
    }
}

impl SqlColumn for &str {
    fn index_in(&self, columns: &[String]) -> Option<usize> {
        columns.iter().position(|column| column == self)
    }
}

/// Why a statement, a read of a row or a migration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The database refused a statement (a syntax error, a constraint, a type it cannot
    /// bind): applying the same event again fails again, so the projection stops.
    #[error("`{sql}` failed: {message}")]
    Statement {
        /// The statement.
        sql: String,
        /// What the database said.
        message: String,
        /// The SQLSTATE (PostgreSQL) or extended result code (SQLite), when there is one.
        code: Option<String>,
    },
    /// A column that a row does not have, or whose value is not of the type asked for.
    #[error("column `{column}`: {message}")]
    Column {
        /// The column asked for.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// The database could not be reached or failed (not the statement): the batch is rolled
    /// back and tried again later.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A migration of the projection failed; none of it is applied.
    #[error("migration {version} of projection `{projection}` failed, and none of it is applied: {message}")]
    Migration {
        /// The projection.
        projection: String,
        /// The migration's version (its place in `migrations = [...]`, from 1).
        version: usize,
        /// What the database said.
        message: String,
    },
    /// The database holds the projection's tables at a later version than the code
    /// declares: it was migrated by a newer release of the application.
    #[error(
        "the tables of projection `{projection}` are at version {found}, and this code declares {supported} \
         migrations: run the newer release, or add its migrations here"
    )]
    SchemaAhead {
        /// The projection.
        projection: String,
        /// The version in the database.
        found: u64,
        /// The number of migrations the code declares.
        supported: usize,
    },
    /// An answer could not be had: the query was given no read connection.
    #[error("the app has no SQL read-model database; give it one with `AppBuilder::sql_in`")]
    NoStore,
}

/// What a database does for [`Sql`]: runs one statement with its parameters.
pub trait SqlConnection: Send {
    /// Runs a statement, returning the number of rows it changed.
    fn execute<'a>(&'a mut self, sql: &'static str, params: Vec<SqlValue>) -> BoxFuture<'a, Result<u64, SqlError>>;

    /// Runs a query, returning its rows.
    fn query<'a>(
        &'a mut self,
        sql: &'static str,
        params: Vec<SqlValue>,
    ) -> BoxFuture<'a, Result<Vec<SqlRow>, SqlError>>;

    /// The failure of a statement since the last call, on a database where a failed
    /// statement aborts the transaction around it (PostgreSQL): work that went on after
    /// ignoring the error cannot commit. `None` by default.
    fn take_failure(&mut self) -> Option<SqlError> {
        None
    }
}

/// The read-model database as an `#[apply]` method (inside the batch's transaction) or a
/// `#[query]` method (on a read connection) sees it.
///
/// Statements are string literals (or other `&'static str`) with bind parameters `$1`,
/// `$2`, ..., on SQLite as on PostgreSQL.
pub struct Sql<'c> {
    connection: &'c mut dyn SqlConnection,
}

impl<'c> Sql<'c> {
    /// User code's view of `connection`: what a [`SqlStore`](crate::sql::SqlStore) hands to a [`SqlWork`].
    pub fn new(connection: &'c mut dyn SqlConnection) -> Self {
        Sql { connection }
    }

    /// Runs a statement (`INSERT`, `UPDATE`, `DELETE`, ...) and returns how many rows it
    /// changed.
    ///
    /// # Errors
    /// The database refused the statement or failed.
    pub async fn execute(&mut self, sql: &'static str, params: &[&dyn ToSql]) -> Result<u64, SqlError> {
        let params = bind(sql, params)?;
        self.connection.execute(sql, params).await
    }

    /// Runs a query and returns its rows.
    ///
    /// # Errors
    /// As [`execute`](Self::execute).
    pub async fn query(&mut self, sql: &'static str, params: &[&dyn ToSql]) -> Result<Vec<SqlRow>, SqlError> {
        let params = bind(sql, params)?;
        self.connection.query(sql, params).await
    }

    /// See [`SqlConnection::take_failure`].
    pub(crate) fn take_failure(&mut self) -> Option<SqlError> {
        self.connection.take_failure()
    }

    /// Runs a query that returns at most one row.
    ///
    /// # Errors
    /// As [`execute`](Self::execute), and [`SqlError::Statement`] for a query that returned
    /// more than one row.
    pub async fn query_opt(&mut self, sql: &'static str, params: &[&dyn ToSql]) -> Result<Option<SqlRow>, SqlError> {
        let mut rows = self.query(sql, params).await?;
        if rows.len() > 1 {
            return Err(SqlError::Statement {
                sql: sql.to_owned(),
                message: format!("returned {} rows where at most one was expected", rows.len()),
                code: None,
            });
        }
        Ok(rows.pop())
    }
}

/// The parameters' values, or the first that has none.
fn bind(sql: &'static str, params: &[&dyn ToSql]) -> Result<Vec<SqlValue>, SqlError> {
    params
        .iter()
        .enumerate()
        .map(|(index, param)| {
            param.to_sql().map_err(|message| SqlError::Statement {
                sql: sql.to_owned(),
                message: format!("parameter ${}: {message}", index + 1),
                code: None,
            })
        })
        .collect()
}

/// Work done with a [`Sql`]: a batch of events applied in a transaction, or a query.
pub trait SqlWork: Send {
    /// Does the work.
    ///
    /// # Errors
    /// A statement failed (the transaction is rolled back).
    fn run<'t>(self: Box<Self>, sql: &'t mut Sql<'_>) -> BoxFuture<'t, Result<(), SqlError>>;
}

/// What an append runs inside its own transaction after writing its events: the app's
/// inline projections. A store that keeps its events in a SQL database may support it
/// ([`EventStore::append_inline`](super::EventStore::append_inline)).
pub trait InlineWork: Send + Sync {
    /// Applies the append's events (`events`, stored as `outcome` says) through `sql`, the
    /// append's transaction; `after` is the position of the log's last event before them
    /// (0 for none). An error rolls the append back.
    ///
    /// # Errors
    /// A projection refused an event, or the database failed.
    fn apply<'t>(
        &'t self,
        sql: &'t mut Sql<'_>,
        after: u64,
        stream_id: &'t str,
        events: &'t [NewEvent],
        outcome: &'t AppendOutcome,
    ) -> BoxFuture<'t, Result<(), SqlError>>;
}

/// `sql`, kept for the rest of the process as a `&'static str`, which [`Sql`] takes: for a
/// statement a store makes at run time on a table named after a projection (its documents
/// table, say). Each distinct text is kept once, so what is kept grows with the projections
/// and statements there are, not with the calls.
pub fn static_statement(sql: String) -> &'static str {
    static KEPT: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<&'static str>>> =
        std::sync::OnceLock::new();
    let mut kept = KEPT.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&statement) = kept.get(sql.as_str()) {
        return statement;
    }
    let statement: &'static str = Box::leak(sql.into_boxed_str());
    kept.insert(statement);
    statement
}

/// Rewrites the `$1`, `$2`, ... parameters of `sql` into SQLite's `?1`, `?2`, ... (which
/// SQLite binds by number; its own `$1` is a named parameter, numbered by first use).
/// Literals, quoted identifiers and comments are left as they are.
#[must_use]
pub fn numbered_parameters(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains('$') {
        return std::borrow::Cow::Borrowed(sql);
    }
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut index = 0;
    let mut copied = 0;
    while index < bytes.len() {
        match bytes[index] {
            quote @ (b'\'' | b'"' | b'`' | b'[') => {
                let close = if quote == b'[' { b']' } else { quote };
                index += 1;
                while index < bytes.len() && bytes[index] != close {
                    index += 1;
                }
                index += 1;
            }
            // A name or a number, with any `$` in it (`a$1`): not a parameter.
            byte if byte.is_ascii_alphanumeric() || byte == b'_' => {
                while index < bytes.len()
                    && (bytes[index].is_ascii_alphanumeric() || bytes[index] == b'_' || bytes[index] == b'$')
                {
                    index += 1;
                }
            }
            b'-' if bytes.get(index + 1) == Some(&b'-') => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                index += 2;
                while index < bytes.len() && !(bytes[index] == b'*' && bytes.get(index + 1) == Some(&b'/')) {
                    index += 1;
                }
                index += 2;
            }
            b'$' if bytes.get(index + 1).is_some_and(u8::is_ascii_digit) => {
                out.push_str(&sql[copied..index]);
                out.push('?');
                index += 1;
                copied = index;
            }
            _ => index += 1,
        }
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_outside_literals_and_comments() {
        assert_eq!(numbered_parameters("SELECT 1"), "SELECT 1");
        assert_eq!(
            numbered_parameters("UPDATE t SET a = $2 WHERE id = $1 AND b = '$3' -- $4\n AND \"$5\" = $10 /* $6 */"),
            "UPDATE t SET a = ?2 WHERE id = ?1 AND b = '$3' -- $4\n AND \"$5\" = ?10 /* $6 */"
        );
        assert_eq!(numbered_parameters("SELECT 'it''s $1', $1"), "SELECT 'it''s $1', ?1");
        assert_eq!(numbered_parameters("SELECT $a, $"), "SELECT $a, $");
        assert_eq!(
            numbered_parameters("SELECT [$1], a$1, x FROM t WHERE y=$1"),
            "SELECT [$1], a$1, x FROM t WHERE y=?1"
        );
        assert_eq!(numbered_parameters("VALUES($1,$2)"), "VALUES(?1,?2)");
    }

    #[test]
    fn values_convert_with_typed_errors() {
        assert_eq!(i32::from_sql(&SqlValue::Integer(7)), Ok(7));
        assert!(i32::from_sql(&SqlValue::Integer(i64::MAX)).unwrap_err().contains("does not fit"));
        assert!(String::from_sql(&SqlValue::Integer(1)).unwrap_err().contains("found an integer"));
        assert_eq!(Option::<String>::from_sql(&SqlValue::Null), Ok(None));
        assert_eq!(bool::from_sql(&SqlValue::Integer(1)), Ok(true));
        let row = SqlRow::new(Arc::from(vec!["id".to_owned()]), vec![SqlValue::Text("a".into())]);
        assert_eq!(row.get::<String>("id").unwrap(), "a");
        assert!(matches!(row.get::<String>("nope"), Err(SqlError::Column { .. })));
        assert!(matches!(row.get::<String>(1), Err(SqlError::Column { .. })));
    }
}
