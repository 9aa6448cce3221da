//! Inline projections: SQL projections whose tables are in the events' own database, applied
//! inside each append's transaction. A command's rows are written with its events or not at
//! all: no lag, and an event the projection refuses fails the command with nothing appended.
//!
//! Every append of an app with inline projections moves their checkpoints to its last
//! position, also when it holds none of their events, so that the next append finds each
//! checkpoint right before its own events. Where another writer (a process without the
//! projection) appended in between, the checkpoint is behind: the append leaves the
//! projection alone, and its runner catches up after the commit, as for any SQL projection.

use std::sync::{Arc, Mutex, PoisonError};

use super::error::Error;
use super::runner::{CommittedBatch, Runner};
use super::sql::{Applies, SqlRunner};
use super::{App, AppBuilder};
use crate::event::EventSet;
use crate::projection::ApplyError;
use crate::sql::{InlineWork, Sql, SqlApply, SqlError, SqlProjection, SqlStore};
use crate::store::{AppendOutcome, BoxFuture, EventStore, NewEvent};

/// A registered inline projection, as an append sees it.
pub(crate) trait InlineProjection: Send + Sync {
    fn name(&self) -> &'static str;

    /// The projection's `#[apply]` bound to an event of the append, if it consumes it.
    fn route(&self, event: crate::store::LogEvent<'_>) -> Result<Option<SqlApply>, ApplyError>;
}

impl<P: SqlProjection> InlineProjection for SqlRunner<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn route(&self, event: crate::store::LogEvent<'_>) -> Result<Option<SqlApply>, ApplyError> {
        P::route(event)
    }
}

/// The app's inline projections and the database they are in.
pub(crate) struct Inline {
    pub(crate) sql: Arc<dyn SqlStore>,
    pub(crate) projections: Vec<Arc<dyn InlineProjection>>,
}

impl Inline {
    /// What one append runs in its transaction.
    pub(crate) fn for_append(&self) -> Arc<InlineAppend> {
        Arc::new(InlineAppend {
            sql: Arc::clone(&self.sql),
            projections: self.projections.clone(),
            refused: Mutex::new(None),
        })
    }
}

/// The inline projections of one append, and the event one of them refused.
pub(crate) struct InlineAppend {
    sql: Arc<dyn SqlStore>,
    projections: Vec<Arc<dyn InlineProjection>>,
    refused: Mutex<Option<(&'static str, ApplyError)>>,
}

impl InlineAppend {
    /// The projection that refused an event of the append, and why.
    pub(crate) fn refused(&self) -> Option<(&'static str, ApplyError)> {
        self.refused.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn refuse(&self, projection: &'static str, error: ApplyError) -> SqlError {
        let message = error.to_string();
        *self.refused.lock().unwrap_or_else(PoisonError::into_inner) = Some((projection, error));
        SqlError::Statement { sql: String::new(), message, code: None }
    }
}

impl InlineWork for InlineAppend {
    fn apply<'t>(
        &'t self,
        sql: &'t mut Sql<'_>,
        after: u64,
        stream_id: &'t str,
        events: &'t [NewEvent],
        outcome: &'t AppendOutcome,
    ) -> BoxFuture<'t, Result<(), SqlError>> {
        Box::pin(async move {
            let Some(&last) = outcome.positions.last() else { return Ok(()) };
            let committed = CommittedBatch { stream_id, events, outcome };
            for projection in &self.projections {
                let mut applies = Vec::new();
                for event in committed.logged() {
                    match projection.route(event) {
                        Ok(Some(apply)) => applies.push(apply),
                        Ok(None) => {}
                        Err(error) => return Err(self.refuse(projection.name(), error)),
                    }
                }
                let refused = Arc::new(Mutex::new(None));
                let work = Box::new(Applies { applies, refused: Arc::clone(&refused) });
                // Behind (another writer appended since): left to the runner's catch-up.
                if let Err(error) = self.sql.transact_in(sql, projection.name(), after, last, work).await {
                    return Err(match refused.lock().unwrap_or_else(PoisonError::into_inner).take() {
                        Some((_, refusal)) => self.refuse(projection.name(), refusal),
                        None => error,
                    });
                }
            }
            Ok(())
        })
    }
}

impl AppBuilder {
    /// Registers a SQL projection to apply **inline**: in the transaction of each append of
    /// this app, through the event store's own connection, so that its rows are written with
    /// the events or not at all. Its tables must be in the events' database: give the app
    /// that database as its SQL store too (`sql_in`), or `build` fails. An event it refuses
    /// fails the command, with nothing appended
    /// ([`ExecuteError::InlineRefused`](super::ExecuteError::InlineRefused)).
    ///
    /// Events appended by writers that do not run it (other processes, tools) are applied
    /// after their commit, as for [`sql_projection`](Self::sql_projection).
    pub fn inline_sql_projection<P: SqlProjection>(mut self) -> Self {
        self.sql_projections.push(Box::new(|sql, batch| {
            let runner = Arc::new(SqlRunner::<P>::new(sql, batch).inline());
            (Arc::clone(&runner) as Arc<dyn Runner>, Some(runner as Arc<dyn InlineProjection>))
        }));
        self.described.sql::<P>(true);
        self.enums.extend(<P::Events as EventSet>::enums());
        self
    }
}

impl App {
    /// Refuses inline projections whose read-model database is not the events' own.
    pub(crate) async fn check_inline(store: &dyn EventStore, sql: &dyn SqlStore) -> Result<(), Error> {
        let events = store.database_identity().await?;
        let tables = sql.database_identity().await?;
        match (events, tables) {
            (Some(events), Some(tables)) if events == tables => Ok(()),
            (None, _) => Err(Error::Config(
                "inline projections run in the event store's transactions, and this store has none to share: use \
                 SQLite or PostgreSQL, or register the projection with `sql_projection`"
                    .into(),
            )),
            (Some(events), tables) => Err(Error::Config(format!(
                "inline projections are written in the events' own database ({events}), but the SQL read-model \
                 database given to `sql_in` is another ({}): give it the events' database, or register the \
                 projection with `sql_projection`",
                tables.as_deref().unwrap_or("one in memory")
            ))),
        }
    }
}
