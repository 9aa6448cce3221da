//! Read models in SQL tables of the projection's own: a `#[projection(..., sql(migrations =
//! [...]))]` declares its tables as versioned migrations, its `#[apply]` methods write them
//! with their own statements in the transaction that also moves the projection's checkpoint,
//! and its `#[query]` methods read them through a read connection, from any process.
//!
//! Statements are `&'static str` with bind parameters (`$1`, `$2`, ... on every database):
//! a value never becomes part of the SQL text, so a read model cannot be injected into.
//!
//! [`SqlProjection`] is what `#[projection(sql)]` implements; [`SqlStore`] is what a database
//! provides (SQLite and PostgreSQL in their store crates); [`Sql`] is what user code writes
//! and reads through.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use crate::decode::decode_logged;
use crate::event::EventSet;
use crate::projection::{ApplyError, Member, panic_message};
use crate::recorded::Recorded;
pub use crate::store::sql::{
    FromSql, InlineWork, Sql, SqlColumn, SqlConnection, SqlError, SqlRow, SqlValue, SqlWork, ToSql,
    numbered_parameters, static_statement,
};
use crate::store::{BoxFuture, LogEvent, StoreError};

/// A database that keeps SQL read models: the projections' own tables, and their
/// checkpoints and schema versions.
pub trait SqlStore: Send + Sync + 'static {
    /// Runs the migrations of `projection` after the version its tables are at, all in one
    /// transaction with the new version, at most once at a time across processes.
    ///
    /// # Errors
    /// [`SqlError::Migration`] (nothing applied), [`SqlError::SchemaAhead`], or the database
    /// failed.
    fn migrate<'a>(
        &'a self,
        projection: &'static str,
        migrations: &'static [&'static str],
    ) -> BoxFuture<'a, Result<(), SqlError>>;

    /// The global position up to which the projection is applied (0 for none).
    fn sql_checkpoint<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// In one transaction: checks that the checkpoint is still at `from`, runs `work`, and
    /// moves the checkpoint to `to`. `Ok(false)`, and nothing written, when another process
    /// moved the checkpoint first; an error of `work` rolls everything back.
    fn transact<'a>(
        &'a self,
        projection: &'static str,
        from: u64,
        to: u64,
        work: Box<dyn SqlWork>,
    ) -> BoxFuture<'a, Result<bool, SqlError>>;

    /// Runs `work` on a read connection.
    fn read<'a>(&'a self, work: Box<dyn SqlWork>) -> BoxFuture<'a, Result<(), SqlError>>;

    /// [`transact`](Self::transact) inside a transaction of the event store's (an append's,
    /// in this same database), through its connection `sql`: runs `work` and moves the
    /// checkpoint from `from` to `to` if it is at `from`; `Ok(false)`, and nothing done, if
    /// not.
    fn transact_in<'a>(
        &'a self,
        sql: &'a mut Sql<'_>,
        projection: &'static str,
        from: u64,
        to: u64,
        work: Box<dyn SqlWork>,
    ) -> BoxFuture<'a, Result<bool, SqlError>>;

    /// Which database this is: equal to an event store's
    /// [`database_identity`](crate::EventStore::database_identity) when the events are in
    /// it, which inline projections need. `None` for a database no other connection can
    /// share (SQLite in memory).
    fn database_identity(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>>;

    /// Keeps, for every process to see, that `projection` stopped at the event at
    /// `position` and why. It counts while the projection's checkpoint is before
    /// `position`; clearing the projection (a rebuild) forgets it. The default keeps
    /// nothing: the stop is then known only in the process where it happened.
    fn record_stop<'a>(
        &'a self,
        projection: &'a str,
        position: u64,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = (projection, position, reason);
        Box::pin(async { Ok(()) })
    }

    /// What [`record_stop`](Self::record_stop) kept for `projection`, if anything.
    fn recorded_stop<'a>(
        &'a self,
        projection: &'a str,
    ) -> BoxFuture<'a, Result<Option<crate::documents::RecordedStop>, StoreError>> {
        let _ = projection;
        Box::pin(async { Ok(None) })
    }

    /// Takes or renews `projection`'s worker lease, as
    /// [`DocumentStore::claim`](crate::documents::DocumentStore::claim) does. The default
    /// keeps no lease.
    fn claim<'a>(
        &'a self,
        projection: &'a str,
        holder: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<crate::documents::Lease, StoreError>> {
        let _ = projection;
        Box::pin(async move { Ok(crate::documents::Lease::unkept(holder, ttl)) })
    }

    /// Gives `projection`'s worker lease up, if `holder` holds it.
    fn release<'a>(&'a self, projection: &'a str, holder: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = (projection, holder);
        Box::pin(async { Ok(()) })
    }

    /// `projection`'s worker lease as the database keeps it, if a worker took it.
    fn lease<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<Option<crate::documents::Lease>, StoreError>> {
        let _ = projection;
        Box::pin(async { Ok(None) })
    }
}

/// What [`SqlStore::transact_in`] does once a database has said how: `select` reads the
/// projection's position (locking its row where the database locks rows; no row when it is
/// locked by another, or not there), `update` moves it. Both take the projection as `$1`,
/// `update` the new position as `$2`. `Ok(false)`, and nothing done, unless the position is
/// `from`.
///
/// # Errors
/// A statement of `work`, or one of the two, failed.
pub async fn transact_through(
    sql: &mut Sql<'_>,
    select: &'static str,
    update: &'static str,
    projection: &'static str,
    from: u64,
    to: u64,
    work: Box<dyn SqlWork>,
) -> Result<bool, SqlError> {
    let row = sql.query_opt(select, &[&projection]).await?;
    if row.map(|row| row.get::<u64>(0)).transpose()? != Some(from) {
        return Ok(false);
    }
    work.run(sql).await?;
    sql.execute(update, &[&projection, &to]).await?;
    Ok(true)
}

/// A read model in SQL tables: implemented by `#[projection(name = "...", events = E,
/// sql(migrations = [...]))]` on the impl block of a type that names the projection.
pub trait SqlProjection: Send + Sync + 'static {
    /// The projection's stable name: the key of its checkpoint and schema version.
    const NAME: &'static str;
    /// The event enums it consumes.
    type Events: EventSet;
    /// Its tables, as migrations run once each, in order: version `n` is the `n`th.
    const MIGRATIONS: &'static [&'static str];

    /// The stored type names of the events it consumes.
    fn event_types() -> Vec<&'static str>;

    /// The `#[apply]` method an event of the log goes to, with the event; `None` for an
    /// event of another enum stored under one of its names.
    ///
    /// # Errors
    /// An event that does not decode.
    fn route(event: LogEvent<'_>) -> Result<Option<SqlApply>, ApplyError>;

    /// How each event type its `#[apply]` methods take is stored, in their order, for the
    /// [catalog](crate::catalog). Written by `#[projection]`.
    #[doc(hidden)]
    fn applies() -> Vec<crate::projection::StoredAs> {
        Vec::new()
    }

    /// The queries its `#[query]` methods answer, for the [catalog](crate::catalog).
    /// Written by `#[projection]`.
    fn queries() -> Vec<crate::described::QueryEntry> {
        Vec::new()
    }
}

/// A query answered by a SQL projection from its tables: implemented by a `#[query] async
/// fn` of a `#[projection(..., sql(...))]`, which takes a [`Sql`] and the query.
#[diagnostic::on_unimplemented(
    message = "no SQL projection answers `{Self}`",
    label = "`{Self}` is not answered by any `#[query]` method",
    note = "add `#[query] async fn get(sql: &mut Sql<'_>, query: {Self}) -> Result<YourAnswer, SqlError>` to a `#[projection(..., sql(...))]` impl"
)]
pub trait SqlQuery: Send + 'static {
    /// The projection whose tables answer it.
    type Projection: SqlProjection;
    /// The typed answer.
    type Output: Send + 'static;

    /// Answers the query.
    fn answer<'t>(self, sql: &'t mut Sql<'_>) -> BoxFuture<'t, Result<Self::Output, SqlError>>;
}

/// Answers `query` on a read connection of `store`: what [`App::query`](crate::App::query)
/// does for a [`SqlQuery`], for code that has the database and no app (the test kit).
///
/// # Errors
/// The query's own error, or the database failed.
pub async fn ask<Q: SqlQuery>(store: &dyn SqlStore, query: Q) -> Result<Q::Output, SqlError> {
    let answer = Arc::new(Mutex::new(None));
    store.read(Box::new(Asking { query, answer: Arc::clone(&answer) })).await?;
    let answer = answer.lock().unwrap_or_else(PoisonError::into_inner).take();
    Ok(answer.expect("a query that returned Ok gave its answer"))
}

/// A query on its way to a read connection.
struct Asking<Q: SqlQuery> {
    query: Q,
    answer: Arc<Mutex<Option<Q::Output>>>,
}

impl<Q: SqlQuery> SqlWork for Asking<Q> {
    fn run<'t>(self: Box<Self>, sql: &'t mut Sql<'_>) -> BoxFuture<'t, Result<(), SqlError>> {
        Box::pin(async move {
            let Asking { query, answer } = *self;
            let output = query.answer(sql).await?;
            *answer.lock().unwrap_or_else(PoisonError::into_inner) = Some(output);
            Ok(())
        })
    }
}

/// An `#[apply]` method of a SQL projection, as generated code hands it to the runtime.
pub type ApplyFn<X> = for<'t, 'c> fn(&'t mut Sql<'c>, &'t Recorded<X>) -> BoxFuture<'t, Result<(), SqlError>>;

/// An event on its way to its `#[apply]` method.
pub struct SqlApply {
    /// The event's global position.
    pub position: u64,
    event_type: &'static str,
    stream_id: String,
    apply: Box<dyn SqlWork>,
}

impl SqlApply {
    /// Applies the event; an error or a panic of the `#[apply]` method is an [`ApplyError`]
    /// naming the event, a database that failed is `Err(Ok(...))`.
    pub(crate) async fn apply(self, sql: &mut Sql<'_>) -> Result<(), Result<SqlError, ApplyError>> {
        let SqlApply { position, event_type, stream_id, apply } = self;
        let ran = CatchUnwind(apply.run(sql)).await;
        // On PostgreSQL a statement that failed aborted the transaction, also when the
        // method ignored its error: the event is refused, not the next one.
        let ran = match (ran, sql.take_failure()) {
            (Ok(Ok(())), Some(SqlError::Store(error))) => Ok(Err(SqlError::Store(error))),
            (Ok(Ok(())), Some(failure)) => Ok(Err(SqlError::Statement {
                sql: String::new(),
                message: format!(
                    "a statement failed and the `#[apply]` went on as if it had not, which PostgreSQL's \
                     transaction cannot: {failure}"
                ),
                code: None,
            })),
            (ran, _) => ran,
        };
        match ran {
            Ok(Ok(())) => Ok(()),
            Ok(Err(SqlError::Store(error))) => Err(Ok(SqlError::Store(error))),
            Ok(Err(error)) => {
                Err(Err(ApplyError::Failed { event_type, stream_id, position, message: error.to_string() }))
            }
            Err(message) => Err(Err(ApplyError::Panicked { event_type, stream_id, position, message })),
        }
    }
}

impl SqlApply {
    /// The bound `#[apply]` call as plain work, without the error attribution
    /// [`SqlProjection`]'s runner adds: for the test kit.
    #[doc(hidden)]
    #[must_use]
    pub fn into_work(self) -> Box<dyn SqlWork> {
        self.apply
    }
}

/// The event and the method that applies it.
struct Bound<X> {
    recorded: Recorded<X>,
    apply: ApplyFn<X>,
}

impl<X: Send + Sync + 'static> SqlWork for Bound<X> {
    fn run<'t>(self: Box<Self>, sql: &'t mut Sql<'_>) -> BoxFuture<'t, Result<(), SqlError>> {
        Box::pin(async move {
            let Bound { recorded, apply } = *self;
            apply(sql, &recorded).await
        })
    }
}

/// Decodes a logged event into the member `X` and binds it to its `#[apply]` method: what
/// generated code calls for each `#[apply]` of a SQL projection.
///
/// # Errors
/// An event that does not decode.
#[doc(hidden)]
pub fn route_sql_member<X, Es, I>(logged: LogEvent<'_>, apply: ApplyFn<X>) -> Result<Option<SqlApply>, ApplyError>
where
    X: Member<Es, I> + Send + Sync + 'static,
{
    let enum_event = decode_logged::<X::Enum>(&logged).map_err(ApplyError::Corrupt)?;
    let Some(event) = X::extract(enum_event) else { return Ok(None) };
    let recorded = crate::decode::recorded(logged, event);
    Ok(Some(SqlApply {
        position: recorded.position,
        event_type: X::NAME,
        stream_id: recorded.stream_id.clone(),
        apply: Box::new(Bound { recorded, apply }),
    }))
}

/// A future whose panic becomes its panic's message.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut self.0).poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic_message(panic.as_ref()))),
        }
    }
}
