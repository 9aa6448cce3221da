//! Given/when/then tests for aggregates (`given(events).when(command).then(events)`) and for
//! projections (`given(events).then_query(query, answer)`), in memory or, for a document or
//! SQL projection, in a real read model: a SQLite file of its own, or a schema of its own in
//! PostgreSQL ([`Given::on_postgres`], or `EVENTSMITH_TEST_POSTGRES_URL` for every test), both
//! removed afterwards.
//!
//! ```
//! # use eventsmith::prelude::*;
//! # #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! # pub struct Opened { pub id: u32 }
//! # #[derive(Event, Debug, Clone, PartialEq)]
//! # pub enum DoorEvent { Opened(Opened) }
//! # #[derive(Command, Debug, Clone)]
//! # #[command(aggregate = Door)]
//! # pub struct Open { #[command(id)] pub id: u32 }
//! # #[derive(Debug, PartialEq, thiserror::Error)]
//! # #[error("already open")]
//! # pub struct AlreadyOpen;
//! # #[derive(Debug, Default)]
//! # pub struct Door { open: bool }
//! # #[aggregate(event = DoorEvent, error = AlreadyOpen)]
//! # impl Door {
//! #     #[command]
//! #     fn open(&self, c: Open) -> Result<Opened, AlreadyOpen> {
//! #         if self.open { Err(AlreadyOpen) } else { Ok(Opened { id: c.id }) }
//! #     }
//! #     #[apply]
//! #     fn opened(&mut self, _: &Opened) { self.open = true; }
//! # }
//! use eventsmith::testing::{given, when};
//!
//! when(Open { id: 1 }).then([Opened { id: 1 }]);
//! given([Opened { id: 1 }]).when(Open { id: 1 }).then_error(AlreadyOpen);
//! ```

use std::collections::HashMap;
use std::fmt::Debug;

use crate::aggregate::{Aggregate, Handle};
use crate::command::Command;
use crate::event::Event;
use crate::projection::{Projection, Query};
use crate::store::StoredEvent;
pub use eventsmith_runtime::testing::GivenEvent;
pub use locks::{check_catalog, check_event_schemas, check_schema_lock};

mod locks;

/// Starts a test from the events already in the aggregate's stream.
pub fn given<T>(events: impl IntoIterator<Item = T>) -> Given<T> {
    Given { events: events.into_iter().collect(), database: KitDatabase::from_env() }
}

/// Where [`Given::then_query`] keeps the read models of document and SQL projections.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KitDatabase {
    /// A SQLite file of the test's own, in the temporary directory.
    Sqlite,
    /// A schema of the test's own (`eventsmith_kit_...`) in the PostgreSQL database at `url`.
    #[cfg(feature = "postgres")]
    Postgres {
        /// The database, as for `PostgresDocuments::connect`.
        url: String,
    },
}

impl KitDatabase {
    /// PostgreSQL where `EVENTSMITH_TEST_POSTGRES_URL` names a database (with the `postgres`
    /// feature), else SQLite: so that one suite runs on either.
    fn from_env() -> Self {
        #[cfg(feature = "postgres")]
        if let Ok(url) = std::env::var("EVENTSMITH_TEST_POSTGRES_URL")
            && !url.is_empty()
        {
            return KitDatabase::Postgres { url };
        }
        KitDatabase::Sqlite
    }
}

/// Starts a test on an aggregate with no events.
pub fn when<C>(command: C) -> When<C::Aggregate>
where
    C: Command,
    C::Aggregate: Handle<C>,
    <C::Aggregate as Aggregate>::Event: Debug,
{
    Given::<<C::Aggregate as Aggregate>::Event> { events: Vec::new(), database: KitDatabase::Sqlite }.when(command)
}

/// The history of a given/when/then test.
#[must_use = "a given/when/then test does nothing until `.when(...).then(...)`"]
pub struct Given<T> {
    events: Vec<T>,
    database: KitDatabase,
}

impl<T> Given<T> {
    /// Keeps the read models of [`then_query`](Self::then_query) in a schema of their own in
    /// the PostgreSQL database at `url`, dropped after each answer, instead of SQLite.
    #[cfg(feature = "postgres")]
    pub fn on_postgres(mut self, url: impl Into<String>) -> Self {
        self.database = KitDatabase::Postgres { url: url.into() };
        self
    }

    /// Where [`then_query`](Self::then_query) keeps the read models.
    pub fn database(&self) -> &KitDatabase {
        &self.database
    }

    /// Applies the history to a fresh aggregate (each event through an encode and decode
    /// round trip, as a store would) and runs `command` against it.
    ///
    /// # Panics
    /// When a history event does not survive the round trip.
    pub fn when<C>(self, command: C) -> When<C::Aggregate>
    where
        C: Command,
        C::Aggregate: Handle<C>,
        T: Into<<C::Aggregate as Aggregate>::Event>,
        <C::Aggregate as Aggregate>::Event: Debug,
    {
        let mut state = <C::Aggregate as Aggregate>::initial();
        for event in self.events {
            state.apply(&round_trip(&event.into()));
        }
        let result = state.handle(&command).map(|events| {
            events
                .iter()
                .map(|event| {
                    let decoded = round_trip(event);
                    state.apply(&decoded);
                    decoded
                })
                .collect()
        });
        When { state, result }
    }
}

impl<T: GivenEvent> Given<T> {
    /// Feeds the history, in order, to a fresh read model of the query's projection (through
    /// the same decode and dispatch as the live app) and asserts the query's answer. Plain
    /// events get global positions 1, 2, ... in stream `given`; `Recorded` events keep theirs.
    /// Returns `self` so that several queries can be checked on one history.
    ///
    /// A projection in memory answers from memory. A document projection's documents (each
    /// round-tripped through JSON after every event, as [`then_document`](Self::then_document)
    /// does) are written with their checkpoint to a read model of the test's own (a
    /// temporary SQLite file, or a PostgreSQL schema: see [`KitDatabase`]), and its
    /// `#[query]` method answers from there: keys, pages and filters as the database orders
    /// and compares them. A SQL projection's migrations make its tables there, its `#[apply]`
    /// methods write the events in one transaction, and its `#[query]` reads them.
    ///
    /// # Panics
    /// When an event cannot be applied, the read model cannot be written or read, or the
    /// answer is not `expected`.
    #[track_caller]
    pub fn then_query<Q, Via>(&self, query: Q, expected: <Q as KitQuery<Via>>::Output) -> &Self
    where
        Q: KitQuery<Via> + Debug,
        <Q as KitQuery<Via>>::Output: PartialEq + Debug,
    {
        let history: Vec<StoredEvent> =
            self.events.iter().enumerate().map(|(index, event)| event.to_stored(index as u64 + 1)).collect();
        let description = format!("{query:?}");
        let answer = query.answer_given(history, &self.database);
        assert!(answer == expected, "{description} answered\n  {answer:#?}\nbut the test expected\n  {expected:#?}");
        self
    }
}

/// A query the test kit can answer from a history, `Via` the read model that answers it (as
/// for [`App::query`](crate::App::query)): every [`Query`], and every
/// [`DocumentQuery`](crate::documents::DocumentQuery) and [`SqlQuery`](crate::sql::SqlQuery)
/// with the `sqlite` feature.
#[diagnostic::on_unimplemented(
    message = "no projection answers `{Self}`",
    label = "`{Self}` is not answered by any `#[query]` method",
    note = "add a `#[query]` method answering `{Self}` to a `#[projection]` impl"
)]
pub trait KitQuery<Via> {
    /// The typed answer.
    type Output;

    /// The answer of the query's projection after `history`.
    ///
    /// # Panics
    /// When an event cannot be applied or the read model fails.
    fn answer_given(self, history: Vec<StoredEvent>, database: &KitDatabase) -> Self::Output;
}

#[diagnostic::do_not_recommend]
impl<Q: Query> KitQuery<crate::app::InMemory> for Q {
    type Output = Q::Output;

    fn answer_given(self, history: Vec<StoredEvent>, _: &KitDatabase) -> Q::Output {
        let mut model = <Q::Projection as Projection>::initial();
        for (index, stored) in history.into_iter().enumerate() {
            if let Err(error) = model.apply_stored(stored) {
                panic!("projection `{}` cannot apply the given event #{}: {error}", Q::Projection::NAME, index + 1);
            }
        }
        self.answer(&model)
    }
}

#[cfg(feature = "sqlite")]
#[diagnostic::do_not_recommend]
impl<Q: crate::documents::DocumentQuery> KitQuery<crate::app::InDocuments> for Q {
    type Output = Q::Output;

    fn answer_given(self, history: Vec<StoredEvent>, database: &KitDatabase) -> Q::Output {
        let documents = fold_documents::<Q::Projection>(&history);
        let checkpoint = history.last().map_or(0, |event| event.position);
        // On a thread of its own with its own runtime, so that a `#[tokio::test]` can call it.
        let answered = std::thread::scope(|scope| {
            scope.spawn(move || temporary_read_model::answer(self, documents, checkpoint, database)).join()
        });
        answered.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// A SQL query answered from the projection's tables in a database of their own.
#[cfg(feature = "sqlite")]
#[diagnostic::do_not_recommend]
impl<Q: crate::sql::SqlQuery> KitQuery<crate::app::InSql> for Q {
    type Output = Q::Output;

    fn answer_given(self, history: Vec<StoredEvent>, database: &KitDatabase) -> Q::Output {
        let answered = std::thread::scope(|scope| {
            scope.spawn(move || temporary_read_model::answer_sql(self, &history, database)).join()
        });
        answered.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// Document and SQL queries answered from a read model of their own, removed afterwards.
#[cfg(feature = "sqlite")]
mod temporary_read_model {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::KitDatabase;

    use crate::documents::{
        DocumentCheckpoint, DocumentProjection, DocumentQuery, DocumentStore, Documents, StoredDocument,
    };
    use crate::sql::{Sql, SqlError, SqlProjection, SqlQuery, SqlStore, SqlWork};
    use crate::store::{BoxFuture, StoredEvent};
    use eventsmith_sqlite::SqliteDocuments;

    /// The file, removed (with SQLite's journal files) when dropped, also after a panic.
    struct TemporaryFile(std::path::PathBuf);

    impl Drop for TemporaryFile {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut path = self.0.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// The read-model database of one answer.
    enum Temporary {
        Sqlite(TemporaryFile),
        /// A schema of the kit's own, dropped by [`Kit`].
        #[cfg(feature = "postgres")]
        Postgres(eventsmith_postgres::PostgresDocuments),
    }

    /// The runtime and the read-model database of one answer. Dropped (also after a panic
    /// in the answer), it drops the PostgreSQL schema, on the runtime its connections are
    /// on: the answer's `block_on` has returned or unwound by then.
    struct Kit {
        runtime: tokio::runtime::Runtime,
        database: Temporary,
    }

    impl Drop for Kit {
        fn drop(&mut self) {
            #[cfg(feature = "postgres")]
            if let Temporary::Postgres(documents) = &self.database
                && let Err(error) = self.runtime.block_on(documents.drop_schema())
            {
                // Not a panic: this may run while one unwinds.
                eprintln!("the test kit could not drop its PostgreSQL schema: {error}");
            }
        }
    }

    impl Temporary {
        /// Its read models, as documents.
        async fn documents(&self) -> Arc<dyn DocumentStore> {
            match self {
                Temporary::Sqlite(file) => Arc::new(sqlite(file).await),
                #[cfg(feature = "postgres")]
                Temporary::Postgres(documents) => Arc::new(documents.clone()),
            }
        }

        /// Its read models, as tables.
        async fn sql(&self) -> Arc<dyn SqlStore> {
            match self {
                Temporary::Sqlite(file) => Arc::new(sqlite(file).await),
                #[cfg(feature = "postgres")]
                Temporary::Postgres(documents) => Arc::new(documents.clone()),
            }
        }
    }

    async fn sqlite(file: &TemporaryFile) -> SqliteDocuments {
        SqliteDocuments::open(&file.0)
            .await
            .unwrap_or_else(|error| panic!("the test kit cannot open {}: {error}", file.0.display()))
    }

    /// The runtime and the read-model database of one answer.
    fn temporary(database: &KitDatabase) -> Kit {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|error| panic!("the test kit cannot start a runtime: {error}"));
        let name = format!("eventsmith_kit_{}", uuid::Uuid::now_v7().simple());
        let temporary = match database {
            KitDatabase::Sqlite => Temporary::Sqlite(TemporaryFile(std::env::temp_dir().join(format!("{name}.db")))),
            #[cfg(feature = "postgres")]
            KitDatabase::Postgres { url } => {
                use eventsmith_postgres::{PostgresDocumentOptions, PostgresDocuments};
                let options = PostgresDocumentOptions { schema: name, pool_size: 1 };
                let documents = runtime
                    .block_on(PostgresDocuments::connect_with(url, options))
                    .unwrap_or_else(|error| panic!("the test kit cannot open a schema in {url}: {error}"));
                Temporary::Postgres(documents)
            }
        };
        Kit { runtime, database: temporary }
    }

    /// The given events, applied in one transaction as a SQL projection's batch is.
    struct Given(Vec<(usize, Box<dyn SqlWork>)>);

    impl SqlWork for Given {
        fn run<'t>(self: Box<Self>, sql: &'t mut Sql<'_>) -> BoxFuture<'t, Result<(), SqlError>> {
            Box::pin(async move {
                for (index, work) in self.0 {
                    if let Err(error) = work.run(sql).await {
                        return Err(SqlError::Statement {
                            sql: String::new(),
                            message: format!("the given event #{} cannot be applied: {error}", index + 1),
                            code: None,
                        });
                    }
                }
                Ok(())
            })
        }
    }

    pub(super) fn answer_sql<Q: SqlQuery>(query: Q, history: &[StoredEvent], database: &KitDatabase) -> Q::Output {
        let name = <Q::Projection as SqlProjection>::NAME;
        let mut given = Vec::new();
        for (index, stored) in history.iter().enumerate() {
            match <Q::Projection as SqlProjection>::route(stored.as_log()) {
                Ok(Some(apply)) => given.push((index, apply.into_work())),
                Ok(None) => {}
                Err(error) => panic!("projection `{name}` cannot apply the given event #{}: {error}", index + 1),
            }
        }
        let last = history.last().map_or(0, |event| event.position);
        let kit = temporary(database);
        kit.runtime.block_on(async {
            let store = kit.database.sql().await;
            store
                .migrate(name, <Q::Projection as SqlProjection>::MIGRATIONS)
                .await
                .unwrap_or_else(|error| panic!("the test kit cannot create the tables of `{name}`: {error}"));
            store
                .transact(name, 0, last, Box::new(Given(given)))
                .await
                .unwrap_or_else(|error| panic!("projection `{name}` failed on its tables: {error}"));
            crate::sql::ask(&*store, query)
                .await
                .unwrap_or_else(|error| panic!("the query of `{name}` failed on its tables: {error}"))
        })
    }

    pub(super) fn answer<Q: DocumentQuery>(
        query: Q,
        documents: HashMap<String, Q::Projection>,
        checkpoint: u64,
        database: &KitDatabase,
    ) -> Q::Output {
        let name = <Q::Projection as DocumentProjection>::NAME;
        let kit = temporary(database);
        kit.runtime.block_on(async {
            let store = kit.database.documents().await;
            store
                .prepare(name, <Q::Projection as DocumentProjection>::INDEXED)
                .await
                .unwrap_or_else(|error| panic!("the test kit cannot prepare `{name}`: {error}"));
            let keyed = documents
                .into_iter()
                .map(|(key, document)| {
                    let json = document
                        .encode_document()
                        .unwrap_or_else(|error| panic!("the document `{key}` of `{name}` does not encode: {error}"));
                    (key, json)
                })
                .collect();
            let committed = store
                .commit(name, DocumentCheckpoint::default(), checkpoint, keyed)
                .await
                .unwrap_or_else(|error| panic!("the test kit cannot write `{name}`'s documents: {error}"));
            assert!(committed, "the test kit's read model of `{name}` was changed behind it");
            query
                .answer(&Documents::new(store))
                .await
                .unwrap_or_else(|error| panic!("the query of `{name}` failed on its read model: {error}"))
        })
    }
}

/// Feeds `history` to document projection `D`, each document written as JSON and read back
/// after every event.
///
/// # Panics
/// When an event cannot be applied or a document does not round-trip.
fn fold_documents<D: crate::documents::DocumentProjection>(history: &[StoredEvent]) -> HashMap<String, D> {
    let mut documents: HashMap<String, D> = HashMap::new();
    for (index, stored) in history.iter().enumerate() {
        let routed = D::route(stored.as_log()).unwrap_or_else(|error| {
            panic!("document projection `{}` cannot read the given event #{}: {error}", D::NAME, index + 1)
        });
        let Some(routed) = routed else { continue };
        let document_key = routed.key.clone();
        let mut document = documents.remove(&document_key).unwrap_or_else(D::initial);
        if let Err(error) = routed.apply(&mut document) {
            panic!("document projection `{}` cannot apply the given event #{}: {error}", D::NAME, index + 1);
        }
        let json = document
            .encode_document()
            .unwrap_or_else(|error| panic!("the document `{document_key}` of `{}` does not encode: {error}", D::NAME));
        let document = D::decode_document(&json).unwrap_or_else(|error| {
            panic!("the document `{document_key}` of `{}` does not decode from what it encoded: {error}", D::NAME)
        });
        documents.insert(document_key, document);
    }
    documents
}

impl<T: GivenEvent> Given<T> {
    /// Feeds the history, in order, to document projection `D` (the same routing and
    /// `#[apply]` methods as the live app, each document written as JSON and read back after
    /// every event, so that the outcome cannot depend on how events are batched) and asserts
    /// the document of `key`: `None` when no event touched it. Plain events are in stream
    /// `given` (key `given`); give `Recorded` events for other streams. Returns `self`.
    ///
    /// # Panics
    /// When an event cannot be applied, a document does not round-trip through JSON, or the
    /// document is not `expected`.
    #[track_caller]
    pub fn then_document<D>(&self, key: &str, expected: Option<D>) -> &Self
    where
        D: crate::documents::DocumentProjection + PartialEq + Debug,
    {
        let history: Vec<StoredEvent> =
            self.events.iter().enumerate().map(|(index, event)| event.to_stored(index as u64 + 1)).collect();
        let mut documents = fold_documents::<D>(&history);
        let found = documents.remove(key);
        assert!(
            found == expected,
            "the document `{key}` of `{}` is\n  {found:#?}\nbut the test expected\n  {expected:#?}",
            D::NAME
        );
        self
    }
}

/// The outcome of a given/when/then test, to check with `then...`.
#[must_use = "check the outcome with `.then(...)` or `.then_error(...)`"]
pub struct When<A: Aggregate> {
    state: A,
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> When<A> {
    /// Asserts that the command produced exactly `expected`, in order.
    ///
    /// # Panics
    /// When it produced other events or was rejected.
    pub fn then<T: Into<A::Event>>(self, expected: impl IntoIterator<Item = T>) -> A
    where
        A::Event: PartialEq + Debug,
        A::Error: Debug,
    {
        let expected: Vec<A::Event> = expected.into_iter().map(Into::into).collect();
        match self.result {
            Ok(events) => assert!(
                events == expected,
                "the command produced other events than expected\n  expected: {expected:#?}\n  produced: {events:#?}"
            ),
            Err(error) => panic!("the command was rejected with {error:?}, but events were expected: {expected:#?}"),
        }
        self.state
    }

    /// Asserts that the command was rejected with `expected`.
    ///
    /// # Panics
    /// When it produced events or another error.
    pub fn then_error(self, expected: A::Error)
    where
        A::Event: Debug,
        A::Error: PartialEq + Debug,
    {
        match self.result {
            Ok(events) => panic!("the command produced {events:#?}, but was expected to be rejected with {expected:?}"),
            Err(error) => assert!(error == expected, "the command was rejected with {error:?}, not with {expected:?}"),
        }
    }

    /// Asserts that the command was rejected with an error satisfying `check`.
    ///
    /// # Panics
    /// When it produced events or an error `check` refuses.
    pub fn then_error_matches(self, check: impl FnOnce(&A::Error) -> bool)
    where
        A::Event: Debug,
        A::Error: Debug,
    {
        match self.result {
            Ok(events) => panic!("the command produced {events:#?}, but was expected to be rejected"),
            Err(error) => assert!(check(&error), "the command was rejected with {error:?}, which the check refused"),
        }
    }
}

fn round_trip<E: Event + Debug>(event: &E) -> E {
    let name = event.event_type();
    let payload = event.encode().unwrap_or_else(|error| panic!("event {event:?} does not encode: {error}"));
    E::decode(name, event.event_version(), &payload)
        .unwrap_or_else(|error| panic!("event {event:?} does not decode from its own encoding: {error}"))
}
