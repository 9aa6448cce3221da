//! Runs a SQL projection: reads a batch of the log after the checkpoint in its database and
//! applies it, event by event, through the projection's `#[apply]` methods inside one
//! transaction that also moves the checkpoint (see [`batches`](super::batches)).

use std::any::{Any, type_name};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::{Instrument, info_span};

use super::batches::{Applying, Batch, Batches};
use super::documents::check_checkpoint;
use super::error::Error;
use super::runner::{ProjectionStopped, Runner};
use super::{App, AppBuilder};
use crate::documents::{Lease, RecordedStop};
use crate::event::EventSet;
use crate::projection::ApplyError;
use crate::sql::{Sql, SqlApply, SqlError, SqlProjection, SqlStore, SqlWork};
use crate::store::{BoxFuture, EventStore, EventStoreExt, LogEvent, LogFold};

pub(crate) struct SqlRunner<P> {
    pub(crate) sql: Arc<dyn SqlStore>,
    types: Vec<&'static str>,
    batch: usize,
    /// Applied in the transactions of this app's appends: its checkpoint is the position up
    /// to which the log is scanned, events of other types included.
    inline: bool,
    applying: Applying,
    projection: std::marker::PhantomData<fn() -> P>,
}

impl<P: SqlProjection> SqlRunner<P> {
    pub(crate) fn new(sql: Arc<dyn SqlStore>, batch: usize) -> Self {
        SqlRunner {
            sql,
            types: P::event_types(),
            batch: batch.max(1),
            inline: false,
            applying: Applying::new(P::NAME),
            projection: std::marker::PhantomData,
        }
    }

    /// The runner of an inline projection.
    pub(crate) fn inline(mut self) -> Self {
        self.inline = true;
        self
    }

    pub(crate) fn stopped(&self) -> Option<Arc<ProjectionStopped>> {
        self.applying.stopped()
    }

    async fn batch_inner(&self, store: &dyn EventStore, until: Option<u64>) -> Result<Batch, Error> {
        let from = self.sql.sql_checkpoint(P::NAME).await?;
        // Read before the log: every event up to it is committed, so a read that ends short
        // has seen them all.
        let head = if self.inline { store.head().await? } else { 0 };
        let collecting = Collecting::<P> {
            applies: Vec::new(),
            last: from,
            failed: None,
            limit: self.batch,
            until,
            projection: std::marker::PhantomData,
        };
        let (collected, folded) = store.fold_log_into(from + 1, self.batch, &self.types, collecting).await?;
        let Collecting { applies, mut last, failed, .. } = collected;
        // An inline projection's checkpoint moves over the events of other types too, to the
        // head, where the next append of this app expects it.
        if self.inline && failed.is_none() && until.is_none() && !folded.stopped && folded.folded < self.batch {
            last = last.max(head);
        }
        if applies.is_empty() && last == from {
            return Ok(match failed {
                Some((position, error)) => Batch::FailedAt { position, error },
                None => Batch::Empty,
            });
        }
        let count = applies.len() as u64;
        let refused = Arc::new(Mutex::new(None));
        let work = Box::new(Applies { applies, refused: Arc::clone(&refused) });
        match self.sql.transact(P::NAME, from, last, work).await {
            Ok(true) => Ok(match failed {
                // The batch ended before an event that does not decode: applied up to it.
                Some((position, error)) => Batch::FailedAt { position, error },
                None => Batch::Committed(count),
            }),
            Ok(false) => Ok(Batch::Lost),
            Err(error) => match refused.lock().unwrap_or_else(PoisonError::into_inner).take() {
                // Rolled back: nothing of the batch is written.
                Some((position, error)) => Ok(Batch::FailedAt { position, error }),
                None => Err(error.into()),
            },
        }
    }
}

/// A batch's events, applied in log order in the batch's transaction.
pub(crate) struct Applies {
    pub(crate) applies: Vec<SqlApply>,
    /// The event an `#[apply]` method refused, and why.
    pub(crate) refused: Arc<Mutex<Option<(u64, ApplyError)>>>,
}

impl SqlWork for Applies {
    fn run<'t>(self: Box<Self>, sql: &'t mut Sql<'_>) -> BoxFuture<'t, Result<(), SqlError>> {
        Box::pin(async move {
            for apply in self.applies {
                let position = apply.position;
                match apply.apply(sql).await {
                    Ok(()) => {}
                    // The database failed: the batch is tried again later.
                    Err(Ok(error)) => return Err(error),
                    Err(Err(error)) => {
                        let message = error.to_string();
                        *self.refused.lock().unwrap_or_else(PoisonError::into_inner) = Some((position, error));
                        return Err(SqlError::Statement { sql: String::new(), message, code: None });
                    }
                }
            }
            Ok(())
        })
    }
}

impl<P: SqlProjection> Batches for SqlRunner<P> {
    fn position<'a>(&'a self) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move { Ok(self.sql.sql_checkpoint(P::NAME).await?) })
    }

    fn batch<'a>(&'a self, store: &'a dyn EventStore, until: Option<u64>) -> BoxFuture<'a, Result<Batch, Error>> {
        Box::pin(self.batch_inner(store, until))
    }

    fn record_stop<'a>(&'a self, position: u64, reason: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(self.sql.record_stop(P::NAME, position, reason).await?) })
    }
}

/// Collects a batch of the log, bound to its `#[apply]` methods; stops at the first event
/// that does not decode (the batch ends before it).
struct Collecting<P> {
    applies: Vec<SqlApply>,
    /// The position of the last event read and bound (or skipped as another enum's).
    last: u64,
    /// The first event that does not decode, where the batch ends.
    failed: Option<(u64, ApplyError)>,
    limit: usize,
    /// The last position to take.
    until: Option<u64>,
    projection: std::marker::PhantomData<fn() -> P>,
}

impl<P: SqlProjection> LogFold for Collecting<P> {
    fn fold(&mut self, event: LogEvent<'_>) -> bool {
        let position = event.position;
        if self.until.is_some_and(|until| position > until) {
            return false;
        }
        match P::route(event) {
            Ok(Some(apply)) => self.applies.push(apply),
            Ok(None) => {}
            Err(error) => {
                self.failed = Some((position, error));
                return false;
            }
        }
        self.last = position;
        self.applies.len() < self.limit
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl<P: SqlProjection> Runner for SqlRunner<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn catch_up<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(self.applying.catch_up(self, store, None).instrument(info_span!("catch_up", projection = P::NAME)))
    }

    fn catch_up_holding<'a>(
        &'a self,
        store: &'a dyn EventStore,
        held: &'a std::sync::atomic::AtomicBool,
    ) -> BoxFuture<'a, Result<u64, Error>> {
        let catch_up = self.applying.catch_up(self, store, Some(held));
        Box::pin(catch_up.instrument(info_span!("catch_up", projection = P::NAME)))
    }

    fn restore<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.sql.migrate(P::NAME, P::MIGRATIONS).await?;
            let checkpoint = self.sql.sql_checkpoint(P::NAME).await?;
            check_checkpoint(store, P::NAME, checkpoint).await
        })
    }

    fn rebuild<'a>(&'a self, _: &'a dyn EventStore) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            Err(Error::Config(format!(
                "SQL projection `{}` keeps its rows in tables of its own, which eventsmith does not drop: rebuild it \
                 under a new name (its migrations create new tables, and it applies the log from the start)",
                P::NAME
            )))
        })
    }

    fn stored(&self) -> bool {
        true
    }

    fn stop(&self) -> Option<Arc<ProjectionStopped>> {
        self.stopped()
    }

    fn position<'a>(&'a self) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move { Ok(self.sql.sql_checkpoint(P::NAME).await?) })
    }

    fn event_types(&self) -> Vec<&'static str> {
        self.types.clone()
    }

    fn recorded_stop<'a>(&'a self) -> BoxFuture<'a, Result<Option<RecordedStop>, Error>> {
        Box::pin(async move { Ok(self.sql.recorded_stop(P::NAME).await?) })
    }

    fn claim<'a>(&'a self, holder: &'a str, ttl: std::time::Duration) -> BoxFuture<'a, Result<Option<Lease>, Error>> {
        Box::pin(async move { Ok(Some(self.sql.claim(P::NAME, holder, ttl).await?)) })
    }

    fn release<'a>(&'a self, holder: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(self.sql.release(P::NAME, holder).await?) })
    }

    fn lease<'a>(&'a self) -> BoxFuture<'a, Result<Option<Lease>, Error>> {
        Box::pin(async move { Ok(self.sql.lease(P::NAME).await?) })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl App {
    /// Applies to SQL projection `P` what the log holds after its checkpoint, now (`execute`
    /// and [`follow_log`](Self::follow_log) do it on their own); returns how many events this
    /// process applied.
    ///
    /// # Errors
    /// The projection is not registered here, or has stopped at an event it cannot apply
    /// ([`Error::ProjectionStopped`]); a database failure.
    pub async fn update_sql<P: SqlProjection>(&self) -> Result<u64, Error> {
        let runner = self.sql_runner::<P>()?;
        Runner::catch_up(runner, &*self.inner.store).await
    }

    pub(crate) fn sql_store(&self) -> Result<Arc<dyn SqlStore>, SqlError> {
        self.inner.sql.clone().ok_or(SqlError::NoStore)
    }

    pub(crate) fn sql_runner<P: SqlProjection>(&self) -> Result<&SqlRunner<P>, Error> {
        self.inner
            .projections
            .iter()
            .find_map(|runner| runner.as_any().downcast_ref::<SqlRunner<P>>())
            .ok_or(Error::SqlProjectionNotRegistered { projection: P::NAME, rust_type: type_name::<P>() })
    }
}

impl AppBuilder {
    /// The database that keeps the SQL read models (`#[projection(sql(...))]`): a
    /// `SqliteDocuments` or `PostgresDocuments` (the same object may keep document read
    /// models too), which may be another database than the events'.
    pub fn sql_in(mut self, sql: impl SqlStore) -> Self {
        self.sql = Some(Arc::new(sql));
        self
    }

    /// [`sql_in`](Self::sql_in) with a database shared with other apps.
    pub fn shared_sql(mut self, sql: Arc<dyn SqlStore>) -> Self {
        self.sql = Some(sql);
        self
    }

    /// Registers a SQL projection: `build` runs its migrations and catches it up from the
    /// checkpoint in its database, and every `execute` brings it up to date before
    /// returning. Another process may run it too: each batch of events is applied once, by
    /// whichever commits it first. Its batch is [`document_batch`](Self::document_batch).
    pub fn sql_projection<P: SqlProjection>(mut self) -> Self {
        self.sql_projections
            .push(Box::new(|sql, batch| (Arc::new(SqlRunner::<P>::new(sql, batch)) as Arc<dyn Runner>, None)));
        self.described.sql::<P>(false);
        self.enums.extend(<P::Events as EventSet>::enums());
        self
    }
}

/// What generated code implements [`StoredProjection`](super::StoredProjection) of a SQL
/// projection with.
#[doc(hidden)]
pub fn sql_reached<P: SqlProjection>(app: &App) -> BoxFuture<'_, Result<u64, Error>> {
    Box::pin(async move { Ok(app.sql_store()?.sql_checkpoint(P::NAME).await?) })
}

/// See [`sql_reached`].
#[doc(hidden)]
pub fn sql_stopped<P: SqlProjection>(app: &App) -> Option<Arc<ProjectionStopped>> {
    app.sql_runner::<P>().ok().and_then(SqlRunner::stopped)
}
