//! How [`App::query`] answers a query: from a projection in memory ([`Query`]) or from a
//! document projection's database ([`DocumentQuery`]). Which one is known from the query's
//! type, so that `app.query(q)` is one call for both.

use super::App;
use super::documents::DocumentRunner;
use super::error::Error;
use super::future::Answer;
use super::sql::SqlRunner;
use crate::documents::DocumentQuery;
use crate::projection::Query;
use crate::sql::SqlQuery;

/// `Via` for a query a projection answers from memory.
#[doc(hidden)]
pub enum InMemory {}

/// `Via` for a query a document projection answers from its database.
#[doc(hidden)]
pub enum InDocuments {}

/// A query [`App::query`] can answer, `Via` the read model that answers it: implemented for
/// every [`Query`] and every [`DocumentQuery`] (`Via` is inferred; a query is one or the
/// other, since one `#[query]` method answers it).
#[diagnostic::on_unimplemented(
    message = "no projection answers `{Self}`",
    label = "`{Self}` is not answered by any `#[query]` method",
    note = "add `#[query] fn answer(&self, query: {Self}) -> YourAnswer` to a `#[projection]` impl, or `#[query] async fn answer(documents: &Documents<Self>, query: {Self}) -> Result<YourAnswer, DocumentError>` to a `#[projection(..., documents)]` impl"
)]
pub trait Answerable<Via>: Send + 'static {
    /// The typed answer.
    type Output;

    /// Starts answering the query in `app`.
    fn answer_in(self, app: &App) -> Answer<Self::Output>;
}

#[diagnostic::do_not_recommend]
impl<Q: Query> Answerable<InMemory> for Q {
    type Output = Q::Output;

    fn answer_in(self, app: &App) -> Answer<Q::Output> {
        Answer::ready(app.answer(self))
    }
}

#[diagnostic::do_not_recommend]
impl<Q: DocumentQuery> Answerable<InDocuments> for Q {
    type Output = Q::Output;

    fn answer_in(self, app: &App) -> Answer<Q::Output> {
        // Run here and stopped: its documents stay where it stopped, so say why instead.
        if let Some(stopped) = app.document_runner::<Q::Projection>().ok().and_then(DocumentRunner::stopped) {
            return Answer::ready(Err(Error::ProjectionStopped(stopped)));
        }
        match app.documents::<Q::Projection>() {
            Ok(documents) => Answer::pending(Box::pin(async move { Ok(self.answer(&documents).await?) })),
            Err(error) => Answer::ready(Err(error)),
        }
    }
}

/// `Via` for a query a SQL projection answers from its tables.
#[doc(hidden)]
pub enum InSql {}

#[diagnostic::do_not_recommend]
impl<Q: SqlQuery> Answerable<InSql> for Q {
    type Output = Q::Output;

    fn answer_in(self, app: &App) -> Answer<Q::Output> {
        if let Some(stopped) = app.sql_runner::<Q::Projection>().ok().and_then(SqlRunner::stopped) {
            return Answer::ready(Err(Error::ProjectionStopped(stopped)));
        }
        let sql = match app.sql_store() {
            Ok(sql) => sql,
            Err(error) => return Answer::ready(Err(error.into())),
        };
        Answer::pending(Box::pin(async move { Ok(crate::sql::ask(&*sql, self).await?) }))
    }
}
