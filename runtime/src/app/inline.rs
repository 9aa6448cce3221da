//! Inline projections: stored projections (SQL tables or documents) in the events' own
//! database, applied inside each append's transaction. A command's rows or documents are
//! written with its events or not at all: no lag, and an event the projection refuses fails
//! the command with nothing appended.
//!
//! Every append of an app with inline projections moves their checkpoints to its last
//! position, also when it holds none of their events, so that the next append finds each
//! checkpoint right before its own events. Where another writer (a process without the
//! projection) appended in between, the checkpoint is behind: the append leaves the
//! projection alone, and its runner catches up after the commit, as for any stored
//! projection.

use std::sync::{Arc, Mutex, PoisonError};

use super::documents::{DocumentRunner, Touched};
use super::error::Error;
use super::runner::{CommittedBatch, Runner};
use super::sql::{Applies, SqlRunner};
use super::{App, AppBuilder};
use crate::documents::{DocumentProjection, DocumentWork, Keyed, Routed};
use crate::event::EventSet;
use crate::projection::ApplyError;
use crate::sql::{InlineWork, Sql, SqlError, SqlProjection};
use crate::store::{AppendOutcome, BoxFuture, EventStore, NewEvent};

/// A registered inline projection, as an append sees it.
pub(crate) trait InlineProjection: Send + Sync {
    fn name(&self) -> &'static str;

    /// Applies the append's events through its transaction `sql`, and moves the checkpoint
    /// from `after` to `last` (the append's last position), if it is at `after`: else leaves
    /// the events to the runner's catch-up. Whether it applied them.
    fn apply_in<'t>(
        &'t self,
        sql: &'t mut Sql<'_>,
        after: u64,
        last: u64,
        committed: &'t CommittedBatch<'t>,
    ) -> BoxFuture<'t, Result<bool, Failure>>;
}

/// Why an inline projection failed an append.
pub(crate) enum Failure {
    /// It refused an event.
    Refused(ApplyError),
    /// The database failed.
    Database(SqlError),
}

/// The event an inline projection's work refused, kept across the store's call (which sees
/// only that the work failed).
type Refusal = Arc<Mutex<Option<(u64, ApplyError)>>>;

/// What a failed call of the store's means: the refusal the work kept, if any.
fn failure(refused: &Refusal, error: SqlError) -> Failure {
    match refused.lock().unwrap_or_else(PoisonError::into_inner).take() {
        Some((_, refusal)) => Failure::Refused(refusal),
        None => Failure::Database(error),
    }
}

impl<P: SqlProjection> InlineProjection for SqlRunner<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn apply_in<'t>(
        &'t self,
        sql: &'t mut Sql<'_>,
        after: u64,
        last: u64,
        committed: &'t CommittedBatch<'t>,
    ) -> BoxFuture<'t, Result<bool, Failure>> {
        Box::pin(async move {
            let mut applies = Vec::new();
            for event in committed.logged() {
                applies.extend(P::route(event).map_err(Failure::Refused)?);
            }
            let refused = Refusal::default();
            let work = Box::new(Applies { applies, refused: Arc::clone(&refused) });
            // `Ok(false)`, behind (another writer appended since): left to the catch-up.
            self.sql.transact_in(sql, P::NAME, after, last, work).await.map_err(|error| failure(&refused, error))
        })
    }
}

impl<D: DocumentProjection> InlineProjection for DocumentRunner<D> {
    fn name(&self) -> &'static str {
        D::NAME
    }

    fn apply_in<'t>(
        &'t self,
        sql: &'t mut Sql<'_>,
        after: u64,
        last: u64,
        committed: &'t CommittedBatch<'t>,
    ) -> BoxFuture<'t, Result<bool, Failure>> {
        Box::pin(async move {
            let mut routed = Vec::new();
            for event in committed.logged() {
                routed.extend(D::route(event).map_err(Failure::Refused)?);
            }
            let refused = Refusal::default();
            let touched = Touched::of(&routed);
            let work = Box::new(InlineDocuments { touched, routed, refused: Arc::clone(&refused) });
            // `Ok(false)`, behind (another writer appended since): left to the catch-up.
            self.documents.commit_in(sql, D::NAME, after, last, work).await.map_err(|error| failure(&refused, error))
        })
    }
}

/// An append's events, routed to the documents of an inline projection.
struct InlineDocuments<D> {
    touched: Touched,
    routed: Vec<Routed<D>>,
    refused: Refusal,
}

impl<D: DocumentProjection> DocumentWork for InlineDocuments<D> {
    fn keys(&self) -> &[String] {
        &self.touched.keys
    }

    fn apply(self: Box<Self>, stored: Keyed) -> Result<Keyed, SqlError> {
        let InlineDocuments { touched, routed, refused } = *self;
        touched.apply(routed, stored).map_err(|(position, error)| {
            let message = error.to_string();
            *refused.lock().unwrap_or_else(PoisonError::into_inner) = Some((position, error));
            SqlError::Statement { sql: String::new(), message, code: None }
        })
    }
}

/// The app's inline projections.
pub(crate) struct Inline {
    pub(crate) projections: Vec<Arc<dyn InlineProjection>>,
}

impl Inline {
    /// What one append runs in its transaction.
    pub(crate) fn for_append(&self) -> Arc<InlineAppend> {
        Arc::new(InlineAppend {
            projections: self.projections.clone(),
            refused: Mutex::new(None),
            applied: Mutex::new(Vec::new()),
        })
    }
}

/// The inline projections of one append, the event one of them refused, and those that
/// applied its events.
pub(crate) struct InlineAppend {
    projections: Vec<Arc<dyn InlineProjection>>,
    refused: Mutex<Option<(&'static str, ApplyError)>>,
    applied: Mutex<Vec<&'static str>>,
}

impl InlineAppend {
    /// The projections that applied the append's events in its transaction (when it
    /// committed): their runners have nothing to catch up after it.
    pub(crate) fn applied(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.applied.lock().unwrap_or_else(PoisonError::into_inner))
    }

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
            let mut applied = Vec::with_capacity(self.projections.len());
            for projection in &self.projections {
                match projection.apply_in(sql, after, last, &committed).await {
                    Ok(true) => applied.push(projection.name()),
                    Ok(false) => {}
                    Err(Failure::Refused(error)) => return Err(self.refuse(projection.name(), error)),
                    Err(Failure::Database(error)) => return Err(error),
                }
            }
            // Kept only once every projection is through: a store that runs the work again
            // (a retried transaction) starts from none.
            *self.applied.lock().unwrap_or_else(PoisonError::into_inner) = applied;
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

    /// Registers a document projection to apply **inline**: in the transaction of each
    /// append of this app, through the event store's own connection, so that its documents
    /// are written with the events or not at all. Its documents must be in the events'
    /// database: give the app that database as its document store too (`documents_in`), or
    /// `build` fails. An event it refuses (or a stored document that no longer decodes)
    /// fails the command, with nothing appended
    /// ([`ExecuteError::InlineRefused`](super::ExecuteError::InlineRefused)).
    ///
    /// Events appended by writers that do not run it (other processes, tools) are applied
    /// after their commit, as for [`document_projection`](Self::document_projection).
    pub fn inline_document_projection<D: DocumentProjection>(mut self) -> Self {
        self.document_projections.push(Box::new(|documents, batch| {
            let runner = Arc::new(DocumentRunner::<D>::new(documents, batch).inline());
            (Arc::clone(&runner) as Arc<dyn Runner>, Some(runner as Arc<dyn InlineProjection>))
        }));
        self.described.documents::<D>(true);
        self.enums.extend(<D::Events as EventSet>::enums());
        self
    }
}

impl App {
    /// Refuses inline projections on a store that cannot run them (no transactions, or no
    /// right to insert the events itself), or whose read-model database (`tables`, as its
    /// `database_identity` says; `given` names the builder's call) is not the events' own.
    pub(crate) async fn check_inline(store: &dyn EventStore, tables: Option<String>, given: &str) -> Result<(), Error> {
        let events = store.database_identity().await?;
        if events.is_some() && !store.capabilities().inline {
            return Err(Error::Config(
                "inline projections write the events themselves, in the append's transaction, and this store \
                 cannot (on PostgreSQL: its role may not insert into `events`, and appends through the store's \
                 functions): grant the role INSERT on `events`, or register the projection without `inline_`"
                    .into(),
            ));
        }
        match (events, tables) {
            (Some(events), Some(tables)) if events == tables => Ok(()),
            (None, _) => Err(Error::Config(
                "inline projections run in the event store's transactions, and this store has none to share: use \
                 SQLite or PostgreSQL, or register the projection without `inline_`"
                    .into(),
            )),
            (Some(events), tables) => Err(Error::Config(format!(
                "inline projections are written in the events' own database ({events}), but the read-model \
                 database given to `{given}` is another ({}): give it the events' database, or register the \
                 projection without `inline_`",
                tables.as_deref().unwrap_or("one in memory")
            ))),
        }
    }
}
