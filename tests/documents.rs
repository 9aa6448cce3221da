//! Document read models (`#[projection(..., documents)]`) in SQLite and, with the `postgres`
//! feature, in PostgreSQL: reads by key, by keys, pages and filters on indexed fields; a
//! process that only queries; two processes applying the same log, each event once; restart,
//! a checkpoint past the log, a document that no longer decodes, a failing apply, a database
//! of a newer release; and events in one store with the read model in another database.
//!
//! Every test runs once per database (the `read_model_tests!` modules at the end).

mod support;

use std::sync::Arc;
use std::time::Duration;

use eventsmith::documents::{
    DocumentCheckpoint, DocumentError, DocumentProjection, DocumentStore, DocumentWork, Documents, Keyed,
    SqliteDocuments,
};
use eventsmith::prelude::*;
use eventsmith::sql::{Sql, SqlError};
use eventsmith::store::{BoxFuture, NewEvent, StoreError};
use eventsmith::{ApplyError, Error, SqliteStore};

// ---------------------------------------------------------------------------------------
// The domain: orders placed, paid and shipped by customers.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    pub customer: String,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paid {
    pub amount: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipped {
    pub carrier: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent {
    Placed(Placed),
    Paid(Paid),
    Shipped(Shipped),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Order)]
pub struct Place {
    #[command(id)]
    pub id: String,
    pub customer: String,
    pub total: u64,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Order)]
pub struct Pay {
    #[command(id)]
    pub id: String,
    pub amount: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default)]
pub struct Order;

#[aggregate(event = OrderEvent, error = Never, ignore(Placed, Paid, Shipped))]
impl Order {
    #[command]
    fn place(&self, command: &Place) -> Result<Placed, Never> {
        Ok(Placed { customer: command.customer.clone(), total: command.total })
    }

    #[command]
    fn pay(&self, command: &Pay) -> Result<Paid, Never> {
        Ok(Paid { amount: command.amount })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Placed,
    Paid,
    Shipped,
}

/// One document per order, keyed by the order's id (its stream's aggregate id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub customer: String,
    pub status: Status,
    pub total: u64,
    pub paid: u64,
    /// Events applied to this document: equal to its stream's length when each was applied
    /// once.
    pub events: u64,
}

#[projection(name = "order_summaries", events = OrderEvent, documents(index(status, customer, total)))]
impl OrderSummary {
    #[apply]
    fn placed(&mut self, event: &Recorded<Placed>) {
        self.customer.clone_from(&event.customer);
        self.total = event.total;
        self.events += 1;
    }

    /// A payment of nothing is a bug upstream: the projection stops there.
    #[apply]
    fn paid(&mut self, event: &Recorded<Paid>) -> Result<(), String> {
        // Changed before the check: a failing event leaves its document half-changed in
        // memory, which must never be written.
        self.events += 1;
        if event.amount == 0 {
            return Err(format!("order {} paid nothing", event.stream_id));
        }
        self.status = Status::Paid;
        self.paid += event.amount;
        Ok(())
    }

    #[apply]
    fn shipped(&mut self, _: &Recorded<Shipped>) {
        self.status = Status::Shipped;
        self.events += 1;
    }

    #[query]
    async fn summary(documents: &Documents<Self>, query: GetSummary) -> Result<Option<Self>, DocumentError> {
        documents.get(&query.0).await
    }

    #[query]
    async fn with_status(documents: &Documents<Self>, query: &OrdersWithStatus) -> Result<Vec<String>, DocumentError> {
        let page = documents.filter("status", &query.status, query.after.as_deref(), query.limit).await?;
        Ok(page.into_iter().map(|(key, _)| key).collect())
    }
}

/// The summary of one order, by its id.
#[derive(Debug, Clone)]
pub struct GetSummary(pub String);

/// A page of the ids of the orders in a status.
#[derive(Debug, Clone)]
pub struct OrdersWithStatus {
    pub status: Status,
    pub after: Option<String>,
    pub limit: usize,
}

/// One document per customer, updated by the orders' events: a key taken from the event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerTotals {
    pub orders: u64,
    pub total: u64,
}

#[projection(name = "customer_totals", events = OrderEvent, documents)]
impl CustomerTotals {
    #[apply(key = event.customer)]
    fn placed(&mut self, event: &Recorded<Placed>) {
        self.orders += 1;
        self.total += event.total;
    }
}

// ---------------------------------------------------------------------------------------
// Where the read models live.

/// A read-model database that can be opened again, as another process would.
#[derive(Debug, Clone)]
pub enum ReadModels {
    Sqlite(std::path::PathBuf),
    #[cfg(feature = "postgres")]
    Postgres(String),
}

impl ReadModels {
    async fn sqlite() -> Self {
        ReadModels::Sqlite(support::temp_db("documents").with_file_name("views.db"))
    }

    #[cfg(feature = "postgres")]
    async fn postgres() -> Self {
        ReadModels::Postgres(support::postgres::unique_schema())
    }

    async fn open(&self) -> Arc<dyn DocumentStore> {
        match self {
            ReadModels::Sqlite(path) => {
                Arc::new(SqliteDocuments::open(path).await.expect("open the SQLite read models"))
            }
            #[cfg(feature = "postgres")]
            ReadModels::Postgres(schema) => {
                use eventsmith::documents::{PostgresDocumentOptions, PostgresDocuments};
                let options = PostgresDocumentOptions { schema: schema.clone(), ..PostgresDocumentOptions::default() };
                Arc::new(
                    PostgresDocuments::connect_with(&support::postgres::url(), options)
                        .await
                        .expect("open the PostgreSQL read models"),
                )
            }
        }
    }

    /// Sets the read-model tables' schema version, around the library.
    async fn set_schema_version(&self, version: i64) {
        match self {
            ReadModels::Sqlite(path) => {
                rusqlite::Connection::open(path)
                    .unwrap()
                    .execute("UPDATE eventsmith_read_model_schema SET version = ?1", [version])
                    .unwrap();
            }
            #[cfg(feature = "postgres")]
            ReadModels::Postgres(schema) => {
                let admin = support::postgres::admin().await;
                let sql = format!("UPDATE \"{schema}\".read_model_schema SET version = {version}");
                admin.batch_execute(&sql).await.unwrap();
            }
        }
    }

    /// How many tables, and indexes on them, the documents of projection `name` have, live
    /// and rebuilt aside (their table names begin with its name), and how many checkpoints
    /// of rebuilds (`name#rebuild-...`) there are.
    async fn tables_indexes_and_rebuilds(&self, name: &str) -> (i64, i64, i64) {
        let rebuilds = format!("{name}#rebuild-%");
        match self {
            ReadModels::Sqlite(path) => {
                let connection = rusqlite::Connection::open(path).unwrap();
                let count = |kind: &str| -> i64 {
                    connection
                        .query_row(
                            "SELECT count(*) FROM sqlite_master WHERE type = ?1 AND tbl_name LIKE ?2",
                            [kind, &format!("eventsmith_docs_{name}_%")],
                            |row| row.get(0),
                        )
                        .unwrap()
                };
                let aside = connection
                    .query_row(
                        "SELECT count(*) FROM eventsmith_read_models WHERE projection LIKE ?1",
                        [&rebuilds],
                        |row| row.get(0),
                    )
                    .unwrap();
                (count("table"), count("index"), aside)
            }
            #[cfg(feature = "postgres")]
            ReadModels::Postgres(schema) => {
                let admin = support::postgres::admin().await;
                let like = format!("read_model_docs_{name}_%");
                let tables = admin
                    .query_one(
                        "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename LIKE $2",
                        &[schema, &like],
                    )
                    .await
                    .unwrap()
                    .get(0);
                let indexes = admin
                    .query_one(
                        "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename LIKE $2",
                        &[schema, &like],
                    )
                    .await
                    .unwrap()
                    .get(0);
                let sql = format!("SELECT count(*) FROM \"{schema}\".read_model_checkpoints WHERE projection LIKE $1");
                let aside = admin.query_one(&sql, &[&rebuilds]).await.unwrap().get(0);
                (tables, indexes, aside)
            }
        }
    }
}

/// An event store file of its own, and a way to open it again.
struct Events {
    path: std::path::PathBuf,
}

impl Events {
    fn new() -> Self {
        Events { path: support::temp_db("document-events") }
    }

    async fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.path).await.expect("open the event store")
    }
}

async fn app(events: &Events, place: &ReadModels, batch: usize) -> App {
    builder(events, place, batch).await.build().await.expect("build the app")
}

async fn builder(events: &Events, place: &ReadModels, batch: usize) -> eventsmith::AppBuilder {
    App::builder()
        .store(events.open().await)
        .aggregate::<Order>()
        .shared_documents(place.open().await)
        .document_projection::<OrderSummary>()
        .document_projection::<CustomerTotals>()
        .document_batch(batch)
}

fn place(id: &str, customer: &str, total: u64) -> Place {
    Place { id: id.to_owned(), customer: customer.to_owned(), total }
}

/// Order `n` (keys `01` to `25`): placed by ann (odd) or bob (even), paid when `n.is_multiple_of(3)`,
/// shipped when `n.is_multiple_of(5)` (appended around the aggregate, which has no such command).
async fn seed(app: &App, events: &Events) -> u64 {
    let store = events.open().await;
    for n in 1..=25u64 {
        let id = format!("{n:02}");
        app.execute(place(&id, if n % 2 == 1 { "ann" } else { "bob" }, n * 10)).await.unwrap();
        if n.is_multiple_of(3) {
            app.execute(Pay { id: id.clone(), amount: n * 10 }).await.unwrap();
        }
        if n.is_multiple_of(5) {
            let shipped = OrderEvent::Shipped(Shipped { carrier: "post".into() });
            store
                .append(&format!("Order-{id}"), ExpectedVersion::Any, vec![NewEvent::encode(&shipped).unwrap()])
                .await
                .unwrap();
        }
    }
    app.update_documents::<OrderSummary>().await.unwrap();
    store.head().await.unwrap()
}

fn expected_summary(n: u64) -> OrderSummary {
    let status = if n.is_multiple_of(5) {
        Status::Shipped
    } else if n.is_multiple_of(3) {
        Status::Paid
    } else {
        Status::Placed
    };
    let paid = if n.is_multiple_of(3) { n * 10 } else { 0 };
    let events = 1 + u64::from(n.is_multiple_of(3)) + u64::from(n.is_multiple_of(5));
    OrderSummary { customer: if n % 2 == 1 { "ann" } else { "bob" }.into(), status, total: n * 10, paid, events }
}

fn keys<D>(page: &[(String, D)]) -> Vec<&str> {
    page.iter().map(|(key, _)| key.as_str()).collect()
}

// ---------------------------------------------------------------------------------------
// The behaviours, each over a read-model database.

async fn documents_are_read_by_key_by_keys_in_pages_and_by_indexed_fields(models: ReadModels) {
    let events = Events::new();
    let app = app(&events, &models, 4).await;
    let head = seed(&app, &events).await;
    let summaries = app.documents::<OrderSummary>().unwrap();

    assert_eq!(summaries.get("03").await.unwrap(), Some(expected_summary(3)));
    assert_eq!(summaries.get("15").await.unwrap(), Some(expected_summary(15)));
    assert_eq!(summaries.get("99").await.unwrap(), None);
    let many = summaries.get_many(&["10".into(), "99".into(), "02".into()]).await.unwrap();
    assert_eq!(many, [("10".to_owned(), expected_summary(10)), ("02".to_owned(), expected_summary(2))]);

    // Pages of 10 in key order, each after the last key of the one before.
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    for page in 0.. {
        assert!(page < 4, "25 documents in pages of 10 took more than 3 pages: `after` ignored?");
        let page = summaries.list(after.as_deref(), 10).await.unwrap();
        assert!(page.len() <= 10);
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        all.extend(page);
    }
    let expected: Vec<(String, OrderSummary)> = (1..=25).map(|n| (format!("{n:02}"), expected_summary(n))).collect();
    assert_eq!(all, expected);

    // Filters on indexed fields, typed, in key order, paged.
    let paid = summaries.filter("status", &Status::Paid, None, 100).await.unwrap();
    assert_eq!(keys(&paid), ["03", "06", "09", "12", "18", "21", "24"]);
    let first = summaries.filter("status", &Status::Paid, None, 3).await.unwrap();
    let rest = summaries.filter("status", &Status::Paid, Some("09"), 100).await.unwrap();
    assert_eq!([keys(&first), keys(&rest)].concat(), keys(&paid));
    let bob = summaries.filter("customer", "bob", None, 100).await.unwrap();
    assert_eq!(bob.len(), 12);
    assert!(bob.iter().all(|(_, summary)| summary.customer == "bob"));
    assert!(summaries.filter("customer", "carol", None, 100).await.unwrap().is_empty());

    // The same through typed queries, answered by the projection's `#[query]` methods.
    assert_eq!(app.query(GetSummary("03".into())).await.unwrap(), Some(expected_summary(3)));
    assert_eq!(app.query(GetSummary("99".into())).await.unwrap(), None);
    let shipped = OrdersWithStatus { status: Status::Shipped, after: None, limit: 3 };
    assert_eq!(app.query(shipped.clone()).await.unwrap(), ["05", "10", "15"]);
    let rest = OrdersWithStatus { after: Some("15".into()), limit: 10, ..shipped };
    assert_eq!(app.query(rest).await.unwrap(), ["20", "25"]);

    let thirty = summaries.filter("total", &30u64, None, 10).await.unwrap();
    assert_eq!(thirty, [("03".to_owned(), expected_summary(3))]);
    assert!(matches!(
        summaries.filter("paid", &30, None, 10).await,
        Err(DocumentError::NotIndexed { projection: "order_summaries", ref field }) if field == "paid"
    ));
    assert!(matches!(
        summaries.filter("status", &["paid"], None, 10).await,
        Err(DocumentError::NotScalar { projection: "order_summaries", .. })
    ));

    // A document keyed by a value of the event, updated by many aggregates' events.
    let customers = app.documents::<CustomerTotals>().unwrap();
    assert_eq!(customers.get("ann").await.unwrap(), Some(CustomerTotals { orders: 13, total: 1690 }));
    assert_eq!(customers.get("bob").await.unwrap(), Some(CustomerTotals { orders: 12, total: 1560 }));
    assert_eq!(summaries.checkpoint().await.unwrap(), head);
}

async fn a_process_that_only_queries_reads_the_database_and_waits_for_positions(models: ReadModels) {
    let events = Events::new();
    let writer = app(&events, &models, 100).await;
    let executed = writer.execute(place("01", "ann", 10)).await.unwrap();
    let position = executed.events.last().unwrap().position;

    // No document projection registered: it applies nothing and reads what the writer wrote.
    let reader = App::builder().store(events.open().await).shared_documents(models.open().await).build().await.unwrap();
    reader.wait_for::<OrderSummary>(position, Duration::from_secs(5)).await.unwrap();
    let summary = reader.documents::<OrderSummary>().unwrap().get("01").await.unwrap().unwrap();
    assert_eq!((summary.customer.as_str(), summary.total), ("ann", 10));
    let queried = reader.query(GetSummary("01".into())).await.unwrap().expect("a typed answer from the database");
    assert_eq!(queried, summary);
    assert!(matches!(
        reader.update_documents::<OrderSummary>().await,
        Err(Error::DocumentProjectionNotRegistered { projection: "order_summaries", .. })
    ));

    // Appended where no process applies it: waiting for it times out, typed.
    let store = events.open().await;
    let paid = OrderEvent::Paid(Paid { amount: 5 });
    let outcome = store.append("Order-01", ExpectedVersion::Any, vec![NewEvent::encode(&paid).unwrap()]).await.unwrap();
    let waited = reader.wait_for::<OrderSummary>(outcome.positions[0], Duration::from_millis(50)).await;
    assert!(
        matches!(waited, Err(Error::NotYet { projection: "order_summaries", position: p, reached: r, .. })
            if p == outcome.positions[0] && r == position),
        "{waited:?}"
    );
    // Once a process applies it, the wait ends; the reader sees the change.
    let waiting = tokio::spawn({
        let reader = reader.clone();
        async move { reader.wait_for::<OrderSummary>(outcome.positions[0], Duration::from_secs(10)).await }
    });
    writer.update_documents::<OrderSummary>().await.unwrap();
    waiting.await.unwrap().unwrap();
    let summary = reader.query(GetSummary("01".into())).await.unwrap().unwrap();
    assert_eq!((summary.status, summary.paid), (Status::Paid, 5));
    // Events of other types after the checkpoint are not waited for.
    let other = store
        .append("Other-1", ExpectedVersion::Any, vec![NewEvent::new("SomethingElse", 1, b"{}".to_vec())])
        .await
        .unwrap();
    reader.wait_for::<OrderSummary>(other.positions[0], Duration::from_millis(1)).await.unwrap();
}

/// Two processes (their own connections to the event store and the read-model database)
/// execute commands at once and both run the projections, in small batches, after their
/// commands or in workers: every event is applied once, whichever process commits its batch
/// first.
async fn two_processes_apply_every_event_once(models: ReadModels, workers: bool) {
    let events = Events::new();
    let process = |batch| {
        let (events, models) = (&events, &models);
        async move {
            let builder = builder(events, models, batch).await;
            let builder = if workers { builder.projection_workers(Duration::from_millis(20)) } else { builder };
            builder.build().await.unwrap()
        }
    };
    let (first, second) = (process(3).await, process(5).await);
    let run = |app: App, offset: u64| {
        tokio::spawn(async move {
            for n in 0..60u64 {
                let id = format!("{:02}", (n + offset) % 20);
                app.execute(place(&id, "ann", 1)).await.unwrap();
                app.execute(Pay { id, amount: 1 }).await.unwrap();
            }
        })
    };
    let (a, b) = (run(first.clone(), 0), run(second.clone(), 7));
    a.await.unwrap();
    b.await.unwrap();
    if workers {
        let head = first.store().head().await.unwrap();
        for app in [&first, &second] {
            app.wait_for::<OrderSummary>(head, Duration::from_secs(10)).await.unwrap();
            app.wait_for::<CustomerTotals>(head, Duration::from_secs(10)).await.unwrap();
        }
    } else {
        first.update_documents::<OrderSummary>().await.unwrap();
        second.update_documents::<CustomerTotals>().await.unwrap();
    }

    let store = events.open().await;
    let summaries = first.documents::<OrderSummary>().unwrap();
    let all = summaries.list(None, 100).await.unwrap();
    assert_eq!(all.len(), 20);
    for (key, summary) in &all {
        let stream = store.read_stream(&format!("Order-{key}"), 1, 1000).await.unwrap();
        assert_eq!(summary.events, stream.len() as u64, "document {key}");
        assert_eq!(summary.paid, stream.len() as u64 / 2, "document {key}");
    }
    assert_eq!(all.iter().map(|(_, summary)| summary.events).sum::<u64>(), 240);
    let ann = second.documents::<CustomerTotals>().unwrap().get("ann").await.unwrap().unwrap();
    assert_eq!(ann, CustomerTotals { orders: 120, total: 120 });
    assert_eq!(summaries.checkpoint().await.unwrap(), store.head().await.unwrap());
}

/// A process started again applies only what came after its checkpoint (a replay from zero
/// would count every event twice).
async fn a_restarted_process_resumes_from_its_checkpoint(models: ReadModels) {
    let events = Events::new();
    let app1 = app(&events, &models, 2).await;
    for n in 1..=5 {
        app1.execute(place(&format!("{n:02}"), "ann", 10)).await.unwrap();
    }
    drop(app1);
    let store = events.open().await;
    let paid = OrderEvent::Paid(Paid { amount: 10 });
    store.append("Order-01", ExpectedVersion::Any, vec![NewEvent::encode(&paid).unwrap()]).await.unwrap();

    let app2 = app(&events, &models, 2).await;
    let summaries = app2.documents::<OrderSummary>().unwrap();
    assert_eq!(summaries.get("01").await.unwrap().unwrap().events, 2);
    assert_eq!(summaries.get("05").await.unwrap().unwrap().events, 1);
    let ann = app2.documents::<CustomerTotals>().unwrap().get("ann").await.unwrap().unwrap();
    assert_eq!(ann, CustomerTotals { orders: 5, total: 50 });
    assert_eq!(app2.update_documents::<OrderSummary>().await.unwrap(), 0);
}

async fn a_checkpoint_past_the_end_of_the_log_is_refused(models: ReadModels) {
    let events = Events::new();
    let app1 = app(&events, &models, 10).await;
    app1.execute(place("01", "ann", 10)).await.unwrap();
    drop(app1);
    // The event store replaced by an older copy (here: an empty one): the read model is
    // ahead of it.
    let older = Events::new();
    let refused = App::builder()
        .store(older.open().await)
        .shared_documents(models.open().await)
        .document_projection::<OrderSummary>()
        .build()
        .await;
    assert!(
        matches!(refused, Err(Error::CheckpointAhead { projection: "order_summaries", checkpoint: 1 })),
        "{refused:?}"
    );
}

/// A stored document that no longer deserializes (its type changed without a rebuild) is an
/// error naming the projection and the key, for queries and for the projection, which
/// writes nothing of the batch; a rebuild applies the log again into new documents.
async fn a_document_that_no_longer_decodes_is_a_typed_error(models: ReadModels) {
    let events = Events::new();
    let app = app(&events, &models, 10).await;
    let executed = app.execute(place("01", "ann", 10)).await.unwrap();
    let checkpoint = executed.events[0].position;
    let documents = models.open().await;
    let changed = br#"{"customer":7,"status":"lost"}"#.to_vec();
    let at = documents.checkpoint(OrderSummary::NAME).await.unwrap();
    assert!(documents.commit(OrderSummary::NAME, at, checkpoint, vec![("01".into(), changed)]).await.unwrap());

    let read = app.documents::<OrderSummary>().unwrap().get("01").await;
    assert!(
        matches!(read, Err(DocumentError::Decode { projection: "order_summaries", ref key, .. }) if key == "01"),
        "{read:?}"
    );
    // The command commits; the projection does not apply it, and says why.
    app.execute(Pay { id: "01".into(), amount: 10 }).await.unwrap();
    let applied = app.update_documents::<OrderSummary>().await;
    let Err(Error::ProjectionStopped(stopped)) = applied else { panic!("not stopped: {applied:?}") };
    assert_eq!(stopped.projection, "order_summaries");
    assert!(
        matches!(&stopped.source, ApplyError::Document { key, action: "decode", position, .. }
            if key == "01" && *position == checkpoint + 1),
        "{stopped}"
    );
    assert_eq!(app.documents::<OrderSummary>().unwrap().checkpoint().await.unwrap(), checkpoint);
    // Another process starts all the same: the projection stops alone, and says why.
    let restarted = self::app(&events, &models, 10).await;
    assert!(matches!(restarted.update_documents::<OrderSummary>().await, Err(Error::ProjectionStopped(_))));
    // Its other documents and the other projection go on.
    assert_eq!(app.documents::<CustomerTotals>().unwrap().get("ann").await.unwrap().unwrap().orders, 1);

    assert_eq!(app.rebuild_documents::<OrderSummary>().await.unwrap(), 2);
    let summary = app.documents::<OrderSummary>().unwrap().get("01").await.unwrap().unwrap();
    assert_eq!((summary.status, summary.paid, summary.events), (Status::Paid, 10, 2));
}

/// An `#[apply]` that fails stops its projection at the event before (every earlier event
/// applied and committed, nothing after it), with an error naming the event; the other
/// projection goes on. It stays stopped until a rebuild, which stops at the same event.
async fn a_failing_apply_stops_its_projection_alone(models: ReadModels) {
    let events = Events::new();
    let app = app(&events, &models, 50).await;
    let store = events.open().await;
    for n in 1..=4 {
        app.execute(place(&format!("{n:02}"), "ann", 10)).await.unwrap();
    }
    // Written around the app, so that the bad event lands in the middle of one batch.
    let bad = OrderEvent::Paid(Paid { amount: 0 });
    let good = OrderEvent::Paid(Paid { amount: 3 });
    store.append("Order-02", ExpectedVersion::Any, vec![NewEvent::encode(&good).unwrap()]).await.unwrap();
    let failing =
        store.append("Order-03", ExpectedVersion::Any, vec![NewEvent::encode(&bad).unwrap()]).await.unwrap().positions
            [0];
    store.append("Order-04", ExpectedVersion::Any, vec![NewEvent::encode(&good).unwrap()]).await.unwrap();

    let stopped = app.update_documents::<OrderSummary>().await;
    let Err(Error::ProjectionStopped(stopped)) = stopped else { panic!("not stopped: {stopped:?}") };
    assert_eq!(stopped.projection, "order_summaries");
    assert!(stopped.to_string().contains("order Order-03 paid nothing"), "{stopped}");
    let summaries = app.documents::<OrderSummary>().unwrap();
    assert_eq!(summaries.checkpoint().await.unwrap(), failing - 1);
    assert_eq!(summaries.get("02").await.unwrap().unwrap().paid, 3);
    assert_eq!(summaries.get("03").await.unwrap().unwrap().events, 1);
    assert_eq!(summaries.get("04").await.unwrap().unwrap().paid, 0);
    assert!(matches!(app.update_documents::<OrderSummary>().await, Err(Error::ProjectionStopped(_))));
    let rebuilt = app.rebuild_documents::<OrderSummary>().await;
    let Err(Error::ProjectionStopped(stopped)) = rebuilt else { panic!("the rebuild went through: {rebuilt:?}") };
    assert!(stopped.projection.starts_with("order_summaries#rebuild-"), "{stopped}");
    // The documents it was building are dropped; the live ones are as they were.
    assert_eq!(summaries.checkpoint().await.unwrap(), failing - 1);
    let primary = i64::from(!matches!(models, ReadModels::Sqlite(_)));
    assert_eq!(models.tables_indexes_and_rebuilds("order_summaries").await, (1, 3 + primary, 0));
    // Waiting for a position it will not reach says so at once.
    let head = store.head().await.unwrap();
    assert!(matches!(
        app.wait_for::<OrderSummary>(head, Duration::from_secs(10)).await,
        Err(Error::ProjectionStopped(_))
    ));
    // Its queries in this process say why rather than answer from where it stopped.
    let queried = app.query(GetSummary("02".into())).await;
    assert!(matches!(queried, Err(Error::ProjectionStopped(ref why)) if why.projection == "order_summaries"));

    app.update_documents::<CustomerTotals>().await.unwrap();
    assert_eq!(app.documents::<CustomerTotals>().unwrap().get("ann").await.unwrap().unwrap().orders, 4);

    // Another process (a tool) sees why it stopped, from the read-model database.
    let tool = builder(&events, &models, 50).await.catch_up_at_build(false).build().await.unwrap();
    let statuses = tool.projections().await.unwrap();
    let status = |name: &str| statuses.iter().find(|status| status.name == name).unwrap().clone();
    let stopped = status("order_summaries").stopped.expect("the stop is kept in the database");
    assert!(stopped.contains("order Order-03 paid nothing"), "{stopped}");
    assert_eq!(status("customer_totals").stopped, None);
    // A stop kept at a position the projection has since passed no longer counts.
    let documents = models.open().await;
    documents.record_stop("customer_totals", 2, "an old stop").await.unwrap();
    assert_eq!(
        tool.projections().await.unwrap().iter().find(|status| status.name == "customer_totals").unwrap().stopped,
        None
    );
    assert_eq!(documents.recorded_stop("customer_totals").await.unwrap().unwrap().reason, "an old stop");
    // A rebuild forgets the kept stop (and keeps it again where it stops again).
    documents.record_stop("customer_totals", u64::MAX, "a stop ahead").await.unwrap();
    tool.rebuild_documents::<CustomerTotals>().await.unwrap();
    assert_eq!(documents.recorded_stop("customer_totals").await.unwrap(), None);
}

/// A document store over another, rigged for a test: with `commits_fail`, its own commits (a
/// catch-up's) fail, as with a lost connection, while commits inside appends go through; with
/// `holds`, it holds a rebuild twice, until the test lets it go on: after the first batch it
/// builds aside (under a name of its own), and before it swaps them in.
struct Rigged {
    documents: Arc<dyn DocumentStore>,
    commits_fail: bool,
    holds: bool,
    built: Pause,
    swapping: Pause,
}

impl Rigged {
    fn over(documents: Arc<dyn DocumentStore>) -> Self {
        Rigged { documents, commits_fail: false, holds: false, built: Pause::default(), swapping: Pause::default() }
    }
}

/// One place where [`Rigged`] holds a rebuild, once.
#[derive(Default)]
struct Pause {
    held: std::sync::atomic::AtomicBool,
    reached: tokio::sync::Notify,
    go: tokio::sync::Notify,
}

impl Pause {
    /// Holds the caller here, the first time, until [`go`](Self::go).
    async fn hold(&self) {
        if !self.held.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.reached.notify_one();
            self.go.notified().await;
        }
    }

    /// Waits until a rebuild is held here.
    async fn reached(&self) {
        tokio::time::timeout(Duration::from_secs(30), self.reached.notified())
            .await
            .expect("the rebuild builds its documents aside and swaps them in");
    }

    fn go(&self) {
        self.go.notify_one();
    }
}

impl DocumentStore for Rigged {
    fn prepare<'a>(&'a self, projection: &'a str, indexed: &'a [&'a str]) -> BoxFuture<'a, Result<(), StoreError>> {
        self.documents.prepare(projection, indexed)
    }

    fn checkpoint<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<DocumentCheckpoint, StoreError>> {
        self.documents.checkpoint(projection)
    }

    fn load<'a>(&'a self, projection: &'a str, keys: &'a [String]) -> BoxFuture<'a, Result<Keyed, StoreError>> {
        self.documents.load(projection, keys)
    }

    fn load_one<'a>(&'a self, projection: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        self.documents.load_one(projection, key)
    }

    fn commit<'a>(
        &'a self,
        projection: &'a str,
        from: DocumentCheckpoint,
        to: u64,
        documents: Keyed,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            if self.commits_fail {
                return Err(StoreError::backend("commit documents", true, "the connection was lost"));
            }
            let committed = self.documents.commit(projection, from, to, documents).await?;
            if self.holds && projection.contains("#rebuild-") {
                self.built.hold().await;
            }
            Ok(committed)
        })
    }

    fn list<'a>(
        &'a self,
        projection: &'a str,
        filter: Option<(&'a str, &'a str)>,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Keyed, StoreError>> {
        self.documents.list(projection, filter, after, limit)
    }

    fn clear<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.documents.clear(projection)
    }

    fn builds_aside(&self) -> bool {
        self.documents.builds_aside()
    }

    fn swap<'a>(
        &'a self,
        projection: &'a str,
        shadow: &'a str,
        indexed: &'a [&'a str],
        scanned: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            if self.holds {
                self.swapping.hold().await;
            }
            self.documents.swap(projection, shadow, indexed, scanned).await
        })
    }

    fn discard<'a>(&'a self, aside: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.documents.discard(aside)
    }

    fn database_identity(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        self.documents.database_identity()
    }

    fn commit_in<'a>(
        &'a self,
        sql: &'a mut Sql<'_>,
        projection: &'static str,
        from: u64,
        to: u64,
        work: Box<dyn DocumentWork>,
    ) -> BoxFuture<'a, Result<bool, SqlError>> {
        self.documents.commit_in(sql, projection, from, to, work)
    }
}

/// A rebuild builds the documents aside. Until it swaps them in, queries read the live
/// documents whole (by key, in pages, by an indexed field), commands keep them up to date,
/// and tools see how far the rebuild got. A command while it builds is in the rebuilt
/// documents; one that the live documents apply after its last read of the log (just before
/// the swap) is applied to the new ones right after it, once. Afterwards the documents are
/// those of the whole log, under the same indexes, made once however many rebuilds and
/// restarts there were, and nothing of the rebuilds' is left.
async fn a_rebuild_builds_aside_while_the_live_documents_answer(models: ReadModels) {
    let events = Events::new();
    let rigged = Arc::new(Rigged { holds: true, ..Rigged::over(models.open().await) });
    let app = App::builder()
        .store(events.open().await)
        .aggregate::<Order>()
        .shared_documents(Arc::clone(&rigged) as Arc<dyn DocumentStore>)
        .document_projection::<OrderSummary>()
        .document_batch(5)
        .build()
        .await
        .unwrap();
    let head = seed(&app, &events).await;
    let summaries = app.documents::<OrderSummary>().unwrap();
    let expected: Vec<(String, OrderSummary)> = (1..=25).map(|n| (format!("{n:02}"), expected_summary(n))).collect();
    assert_eq!(summaries.list(None, 100).await.unwrap(), expected);
    let paid = || OrdersWithStatus { status: Status::Paid, after: None, limit: 100 };
    let paid_before = app.query(paid()).await.unwrap();
    let status = |app: App| async move {
        app.projections().await.unwrap().into_iter().find(|status| status.name == "order_summaries").unwrap()
    };

    let rebuild = tokio::spawn({
        let app = app.clone();
        async move { app.rebuild_documents::<OrderSummary>().await }
    });
    rigged.built.reached().await;
    assert_eq!(summaries.list(None, 100).await.unwrap(), expected);
    for (key, summary) in &expected {
        assert_eq!(summaries.get(key).await.unwrap().as_ref(), Some(summary), "{key} mid-rebuild");
    }
    assert_eq!(app.query(paid()).await.unwrap(), paid_before);
    let building = status(app.clone()).await;
    assert_eq!(building.position, head);
    assert!(building.rebuilding.is_some_and(|at| at > 0 && at < head), "{building:?}");
    // While it builds: in the live documents at once, and read by the rebuild.
    app.execute(Pay { id: "01".into(), amount: 7 }).await.unwrap();
    assert_eq!(summaries.get("01").await.unwrap().unwrap().paid, 7);
    rigged.built.go();
    // After its last read of the log: the live checkpoint is ahead of the rebuilt one.
    rigged.swapping.reached().await;
    app.execute(Pay { id: "02".into(), amount: 5 }).await.unwrap();
    assert_eq!(summaries.get("02").await.unwrap().unwrap().paid, 5);
    rigged.swapping.go();
    assert_eq!(rebuild.await.unwrap().unwrap(), head + 2, "every event of the log, applied once");

    let mut after = expected.clone();
    after[0].1 = OrderSummary { status: Status::Paid, paid: 7, events: 2, ..expected_summary(1) };
    after[1].1 = OrderSummary { status: Status::Paid, paid: 5, events: 2, ..expected_summary(2) };
    assert_eq!(summaries.list(None, 100).await.unwrap(), after);
    assert!(app.query(paid()).await.unwrap().contains(&"02".to_owned()));
    assert_eq!(summaries.checkpoint().await.unwrap(), head + 2);
    let done = status(app.clone()).await;
    assert_eq!((done.rebuilding, done.behind), (None, 0));

    // Again, then a restart, which prepares the projection again: one table, three indexes.
    assert_eq!(app.rebuild_documents::<OrderSummary>().await.unwrap(), head + 2);
    drop(app);
    let restarted = App::builder()
        .store(events.open().await)
        .shared_documents(models.open().await)
        .document_projection::<OrderSummary>()
        .build()
        .await
        .unwrap();
    assert_eq!(restarted.documents::<OrderSummary>().unwrap().list(None, 100).await.unwrap(), after);
    assert!(restarted.query(paid()).await.unwrap().contains(&"01".to_owned()));
    // PostgreSQL counts the primary key's index too.
    let primary = i64::from(!matches!(models, ReadModels::Sqlite(_)));
    assert_eq!(models.tables_indexes_and_rebuilds("order_summaries").await, (1, 3 + primary, 0));
}

async fn read_models_of_a_newer_release_are_refused(models: ReadModels) {
    drop(models.open().await);
    models.set_schema_version(99).await;
    let refused = match &models {
        ReadModels::Sqlite(path) => SqliteDocuments::open(path).await.map(drop),
        #[cfg(feature = "postgres")]
        ReadModels::Postgres(schema) => {
            use eventsmith::documents::{PostgresDocumentOptions, PostgresDocuments};
            let options = PostgresDocumentOptions { schema: schema.clone(), ..PostgresDocumentOptions::default() };
            PostgresDocuments::connect_with(&support::postgres::url(), options).await.map(drop)
        }
    };
    assert!(matches!(refused, Err(StoreError::SchemaTooNew { found: 99, supported: 2, .. })), "{refused:?}");
}

/// Read models of the first release (every projection's documents in one table) are moved to
/// a table per projection when opened, and read as before.
async fn read_models_of_the_first_release_are_moved_to_a_table_per_projection(models: ReadModels) {
    let first_release = r#"
        CREATE TABLE {prefix}read_model_schema (version integer NOT NULL);
        INSERT INTO {prefix}read_model_schema (version) VALUES (1);
        CREATE TABLE {checkpoints} (projection text PRIMARY KEY, position bigint NOT NULL, generation bigint NOT NULL DEFAULT 0);
        INSERT INTO {checkpoints} (projection, position) VALUES ('order_summaries', 3), ('customer_totals', 3);
        CREATE TABLE {documents} (projection text NOT NULL, key text NOT NULL, document {json} NOT NULL, PRIMARY KEY (projection, key));
        INSERT INTO {documents} (projection, key, document) VALUES
            ('order_summaries', '01', '{"customer":"ann","status":"paid","total":10,"paid":10,"events":2}'),
            ('order_summaries', '02', '{"customer":"bob","status":"placed","total":20,"paid":0,"events":1}'),
            ('customer_totals', 'ann', '{"orders":1,"total":10}');
    "#;
    match &models {
        ReadModels::Sqlite(path) => {
            let sql = first_release
                .replace("{prefix}", "eventsmith_")
                .replace("{checkpoints}", "eventsmith_read_models")
                .replace("{documents}", "eventsmith_documents")
                .replace("{json}", "text");
            rusqlite::Connection::open(path).unwrap().execute_batch(&sql).unwrap();
        }
        #[cfg(feature = "postgres")]
        ReadModels::Postgres(schema) => {
            let sql = first_release
                .replace("{prefix}", "")
                .replace("{checkpoints}", "read_model_checkpoints")
                .replace("{documents}", "read_model_documents")
                .replace("{json}", "jsonb");
            let admin = support::postgres::admin().await;
            admin
                .batch_execute(&format!("CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\"; {sql}"))
                .await
                .unwrap();
        }
    }
    let store = models.open().await;
    let summaries: Documents<OrderSummary> = Documents::new(Arc::clone(&store));
    let paid = OrderSummary { customer: "ann".into(), status: Status::Paid, total: 10, paid: 10, events: 2 };
    assert_eq!(summaries.get("01").await.unwrap(), Some(paid));
    assert_eq!(keys(&summaries.list(None, 10).await.unwrap()), ["01", "02"]);
    assert_eq!(keys(&summaries.filter("status", &Status::Placed, None, 10).await.unwrap()), ["02"]);
    assert_eq!(summaries.checkpoint().await.unwrap(), 3);
    let totals: Documents<CustomerTotals> = Documents::new(store);
    assert_eq!(totals.get("ann").await.unwrap(), Some(CustomerTotals { orders: 1, total: 10 }));
    // The shared table is gone, and the schema is at version 2.
    let (shared, version): (i64, i64) = match &models {
        ReadModels::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT (SELECT count(*) FROM sqlite_master WHERE name = 'eventsmith_documents'),
                        (SELECT max(version) FROM eventsmith_read_model_schema)",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap(),
        #[cfg(feature = "postgres")]
        ReadModels::Postgres(schema) => {
            let admin = support::postgres::admin().await;
            let row = admin
                .query_one(
                    &format!(
                        "SELECT (to_regclass('\"{schema}\".read_model_documents') IS NOT NULL)::int::int8,
                                (SELECT max(version)::int8 FROM \"{schema}\".read_model_schema)"
                    ),
                    &[],
                )
                .await
                .unwrap();
            (row.get(0), row.get(1))
        }
    };
    assert_eq!((shared, version), (0, 2));
    // Opened again: already moved, and read as before.
    let again: Documents<OrderSummary> = Documents::new(models.open().await);
    assert_eq!(keys(&again.list(None, 10).await.unwrap()), ["01", "02"]);
}

/// The database's side of exactly once, without the runner: a commit from a stale
/// checkpoint (another process's, or one read before a clear) writes nothing; keys are in
/// byte order and each projection's own.
async fn a_stale_commit_writes_nothing_and_keys_are_ordered_per_projection(models: ReadModels) {
    let store = models.open().await;
    let doc = |n: u32| format!(r#"{{"n":{n}}}"#).into_bytes();
    // As JSON values: PostgreSQL gives jsonb back in its own spacing.
    let parsed = |found: Vec<(String, Vec<u8>)>| -> Vec<(String, serde_json::Value)> {
        found.into_iter().map(|(key, json)| (key, serde_json::from_slice(&json).unwrap())).collect()
    };
    let value = |n: u32| serde_json::json!({ "n": n });
    let start = store.checkpoint("p").await.unwrap();
    assert_eq!(start, DocumentCheckpoint { position: 0, generation: 0 });
    let keys = ["a", "B", "é", "Z"].map(|key| (key.to_owned(), doc(1)));
    assert!(store.commit("p", start, 5, keys.to_vec()).await.unwrap());
    assert!(store.commit("q", start, 2, vec![("a".into(), doc(9))]).await.unwrap());
    // Another process read the same checkpoint: its commit is refused, nothing written.
    assert!(!store.commit("p", start, 6, vec![("a".into(), doc(2)), ("new".into(), doc(2))]).await.unwrap());
    assert_eq!(parsed(store.load("p", &["a".into(), "new".into()]).await.unwrap()), [("a".to_owned(), value(1))]);
    let moved = store.checkpoint("p").await.unwrap();
    assert_eq!(moved, DocumentCheckpoint { position: 5, generation: 0 });
    let listed: Vec<String> = store.list("p", None, None, 10).await.unwrap().into_iter().map(|(key, _)| key).collect();
    assert_eq!(listed, ["B", "Z", "a", "é"]);
    let after: Vec<String> =
        store.list("p", None, Some("Z"), 10).await.unwrap().into_iter().map(|(key, _)| key).collect();
    assert_eq!(after, ["a", "é"]);
    // A clear starts a new generation: a batch read before it cannot commit after it.
    store.clear("p").await.unwrap();
    assert!(!store.commit("p", moved, 7, vec![("a".into(), doc(3))]).await.unwrap());
    let cleared = store.checkpoint("p").await.unwrap();
    assert_eq!(cleared, DocumentCheckpoint { position: 0, generation: 1 });
    assert!(store.list("p", None, None, 10).await.unwrap().is_empty());
    assert!(store.commit("p", cleared, 7, vec![("a".into(), doc(4))]).await.unwrap());
    // The other projection's document of the same key is its own.
    assert_eq!(parsed(store.load("q", &["a".into()]).await.unwrap()), [("a".to_owned(), value(9))]);
    assert_eq!(parsed(store.load("p", &["a".into()]).await.unwrap()), [("a".to_owned(), value(4))]);
}

/// A document whose indexed field serde writes under another name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenamedSummary {
    pub order_status: String,
}

#[projection(name = "renamed_summaries", events = OrderEvent, documents(index(order_status)))]
impl RenamedSummary {
    #[apply]
    fn placed(&mut self, _: &Recorded<Placed>) {
        self.order_status = "placed".into();
    }
}

#[tokio::test]
async fn an_indexed_field_renamed_by_serde_is_refused_at_build() {
    let built = App::builder()
        .store(MemoryStore::new())
        .documents_in(SqliteDocuments::in_memory().await.unwrap())
        .document_projection::<RenamedSummary>()
        .build()
        .await;
    assert!(
        matches!(built, Err(Error::Config(ref message)) if message.contains("`order_status`") && message.contains("`orderStatus`")),
        "{built:?}"
    );
}

macro_rules! read_model_tests {
    ($module:ident, $place:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn documents_are_read_by_key_by_keys_in_pages_and_by_indexed_fields() {
                super::documents_are_read_by_key_by_keys_in_pages_and_by_indexed_fields($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_process_that_only_queries_reads_the_database_and_waits_for_positions() {
                super::a_process_that_only_queries_reads_the_database_and_waits_for_positions($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_processes_apply_every_event_once() {
                super::two_processes_apply_every_event_once($place, false).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn workers_of_two_processes_apply_every_event_once() {
                super::two_processes_apply_every_event_once($place, true).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_restarted_process_resumes_from_its_checkpoint() {
                super::a_restarted_process_resumes_from_its_checkpoint($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_checkpoint_past_the_end_of_the_log_is_refused() {
                super::a_checkpoint_past_the_end_of_the_log_is_refused($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_document_that_no_longer_decodes_is_a_typed_error() {
                super::a_document_that_no_longer_decodes_is_a_typed_error($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_failing_apply_stops_its_projection_alone() {
                super::a_failing_apply_stops_its_projection_alone($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_stale_commit_writes_nothing_and_keys_are_ordered_per_projection() {
                super::a_stale_commit_writes_nothing_and_keys_are_ordered_per_projection($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn read_models_of_the_first_release_are_moved_to_a_table_per_projection() {
                super::read_models_of_the_first_release_are_moved_to_a_table_per_projection($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_rebuild_builds_aside_while_the_live_documents_answer() {
                super::a_rebuild_builds_aside_while_the_live_documents_answer($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn read_models_of_a_newer_release_are_refused() {
                super::read_models_of_a_newer_release_are_refused($place).await;
            }
        }
    };
}

read_model_tests!(sqlite, ReadModels::sqlite().await);
#[cfg(feature = "postgres")]
read_model_tests!(postgres, ReadModels::postgres().await);

// ---------------------------------------------------------------------------------------
// Inline: the documents in the events' own database, written in each append's transaction.

use support::Shared;

impl Shared {
    fn models(&self) -> ReadModels {
        match self {
            Shared::Sqlite(path) => ReadModels::Sqlite(path.clone()),
            #[cfg(feature = "postgres")]
            Shared::Postgres { models, .. } => ReadModels::Postgres(models.clone()),
        }
    }

    /// An app whose document projections are inline; with `commits_fail`, every commit of a
    /// catch-up fails, so that only appends can write the documents.
    async fn inline_app(&self, commits_fail: bool) -> App {
        // The events first: an event store refuses a file that holds other tables only.
        let store = self.store().await;
        let documents = Rigged { commits_fail, ..Rigged::over(self.models().open().await) };
        App::builder()
            .shared_store(store)
            .aggregate::<Order>()
            .documents_in(documents)
            .inline_document_projection::<OrderSummary>()
            .inline_document_projection::<CustomerTotals>()
            .build()
            .await
            .expect("build the app")
    }

    /// A process that only queries the documents.
    async fn reader(&self) -> App {
        App::builder()
            .shared_store(self.store().await)
            .shared_documents(self.models().open().await)
            .build()
            .await
            .unwrap()
    }
}

/// A command's documents are written when `execute` returns, for any process: in the
/// append's transaction, not after it (catch-ups, which would write them after, fail here).
/// A key taken from the event (the customer) is written inline too.
async fn inline_documents_are_committed_with_the_events(shared: Shared) {
    let app = shared.inline_app(true).await;
    let reader = shared.reader().await;
    for n in 1..=5u64 {
        let id = format!("{n:02}");
        app.execute(place(&id, "ann", n * 10)).await.unwrap();
        // No wait: the document was committed with the event.
        let summary = reader.query(GetSummary(id)).await.unwrap().expect("written with the event");
        assert_eq!((summary.total, summary.events), (n * 10, 1));
        let totals = reader.documents::<CustomerTotals>().unwrap().get("ann").await.unwrap().unwrap();
        assert_eq!(totals, CustomerTotals { orders: n, total: (1..=n).sum::<u64>() * 10 });
    }
    app.execute(Pay { id: "02".into(), amount: 20 }).await.unwrap();
    let summary = reader.query(GetSummary("02".into())).await.unwrap().unwrap();
    assert_eq!((summary.status, summary.paid, summary.events), (Status::Paid, 20, 2));
    let paid = reader.query(OrdersWithStatus { status: Status::Paid, after: None, limit: 10 }).await.unwrap();
    assert_eq!(paid, ["02"], "the indexed field is filtered on");
    // Both checkpoints are at the head, events of types a projection does not apply (`Paid`
    // for the customers' totals) included.
    let head = shared.store().await.head().await.unwrap();
    let documents = shared.models().open().await;
    for projection in [OrderSummary::NAME, CustomerTotals::NAME] {
        assert_eq!(documents.checkpoint(projection).await.unwrap().position, head, "{projection}");
    }
    let catalog = app.catalog();
    let summaries = catalog.projections.iter().find(|entry| entry.name == OrderSummary::NAME).unwrap();
    let kind =
        eventsmith::catalog::ProjectionKind::Documents { indexed: &["status", "customer", "total"], inline: true };
    assert_eq!(summaries.kind, kind);
    assert!(
        catalog
            .markdown()
            .contains("Read model `OrderSummary`, documents, indexed on `status`, `customer`, `total`, inline;")
    );
}

/// An event a projection refuses fails its command, and nothing of the command is stored:
/// neither the event nor its document. The projection goes on inline.
async fn an_inline_refusal_fails_the_command_with_nothing_appended(shared: Shared) {
    let app = shared.inline_app(true).await;
    app.execute(place("01", "ann", 10)).await.unwrap();
    let refused = app.execute(Pay { id: "01".into(), amount: 0 }).await;
    assert!(
        matches!(&refused, Err(eventsmith::ExecuteError::InlineRefused { stream_id, projection: "order_summaries", source })
            if stream_id == "Order-01" && matches!(&**source, ApplyError::Failed { message, .. } if message.contains("paid nothing"))),
        "{refused:?}"
    );
    let store = shared.store().await;
    assert_eq!(store.read_stream("Order-01", 1, 10).await.unwrap().len(), 1, "the refused event was stored");
    let summary = app.query(GetSummary("01".into())).await.unwrap().unwrap();
    assert_eq!((summary.status, summary.events), (Status::Placed, 1), "the half-applied document was written");
    // The projection has not stopped: the next commands are applied, inline.
    app.execute(Pay { id: "01".into(), amount: 10 }).await.unwrap();
    let summary = shared.reader().await.query(GetSummary("01".into())).await.unwrap().unwrap();
    assert_eq!((summary.status, summary.paid, summary.events), (Status::Paid, 10, 2));
}

/// A stored document that no longer decodes fails the commands whose events touch it, with
/// an error naming the projection, the key and the event: inline, it is the command's
/// transaction. Commands on other documents go on.
async fn an_inline_document_that_no_longer_decodes_fails_its_commands(shared: Shared) {
    let app = shared.inline_app(true).await;
    app.execute(place("01", "ann", 10)).await.unwrap();
    let head = shared.store().await.head().await.unwrap();
    let documents = shared.models().open().await;
    let changed = br#"{"customer":7,"status":"lost"}"#.to_vec();
    let at = documents.checkpoint(OrderSummary::NAME).await.unwrap();
    assert!(documents.commit(OrderSummary::NAME, at, head, vec![("01".into(), changed)]).await.unwrap());
    let refused = app.execute(Pay { id: "01".into(), amount: 10 }).await;
    assert!(
        matches!(&refused, Err(eventsmith::ExecuteError::InlineRefused { projection: "order_summaries", source, .. })
            if matches!(&**source, ApplyError::Document { key, action: "decode", position, .. } if key == "01" && *position == head + 1)),
        "{refused:?}"
    );
    assert_eq!(shared.store().await.read_stream("Order-01", 1, 10).await.unwrap().len(), 1);
    app.execute(place("02", "bob", 20)).await.unwrap();
    assert_eq!(app.query(GetSummary("02".into())).await.unwrap().unwrap().total, 20);
}

/// Events another writer appended (a process that does not run the projections) are applied
/// after the next commit of the app that runs them, which then applies inline again.
async fn inline_documents_catch_up_events_of_other_writers(shared: Shared) {
    let app = shared.inline_app(false).await;
    app.execute(place("01", "ann", 10)).await.unwrap();
    let other = App::builder().shared_store(shared.store().await).aggregate::<Order>().build().await.unwrap();
    other.execute(place("02", "bob", 20)).await.unwrap();
    other.execute(Pay { id: "01".into(), amount: 10 }).await.unwrap();
    app.execute(place("03", "ann", 30)).await.unwrap();
    let reader = shared.reader().await;
    let summary = |id: &str| reader.query(GetSummary(id.into()));
    assert_eq!(summary("01").await.unwrap().unwrap().status, Status::Paid);
    assert_eq!(summary("02").await.unwrap().unwrap().total, 20);
    assert_eq!(summary("03").await.unwrap().unwrap().total, 30);
    // Caught up to the head: the next append applies in its own transaction again (in an app
    // whose catch-ups fail, so that nothing else can have written the document).
    let appends_only = shared.inline_app(true).await;
    appends_only.execute(place("04", "bob", 40)).await.unwrap();
    assert_eq!(summary("04").await.unwrap().unwrap().total, 40);
    let totals = reader.documents::<CustomerTotals>().unwrap().get("bob").await.unwrap().unwrap();
    assert_eq!(totals, CustomerTotals { orders: 2, total: 60 });
}

/// Rebuilds while commands run: every command commits (an append never deadlocks with a
/// rebuild's clear of the documents), and every event is applied once.
async fn inline_documents_are_rebuilt_while_commands_run(shared: Shared) {
    let app = shared.inline_app(false).await;
    let commands = {
        let app = app.clone();
        tokio::spawn(async move {
            for n in 1..=60u64 {
                let id = format!("{:02}", n % 10);
                if n <= 10 {
                    app.execute(place(&id, "ann", 10)).await.unwrap();
                } else {
                    app.execute(Pay { id, amount: 1 }).await.unwrap();
                }
            }
        })
    };
    while !commands.is_finished() {
        app.rebuild_documents::<OrderSummary>().await.unwrap();
    }
    commands.await.unwrap();
    app.update_documents::<OrderSummary>().await.unwrap();
    let reader = shared.reader().await;
    for n in 0..10 {
        let summary = reader.query(GetSummary(format!("{n:02}"))).await.unwrap().unwrap();
        assert_eq!((summary.events, summary.paid), (6, 5), "order {n:02}");
    }
}

macro_rules! inline_tests {
    ($module:ident, $shared:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn inline_documents_are_committed_with_the_events() {
                super::inline_documents_are_committed_with_the_events($shared).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_inline_refusal_fails_the_command_with_nothing_appended() {
                super::an_inline_refusal_fails_the_command_with_nothing_appended($shared).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_inline_document_that_no_longer_decodes_fails_its_commands() {
                super::an_inline_document_that_no_longer_decodes_fails_its_commands($shared).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn inline_documents_are_rebuilt_while_commands_run() {
                super::inline_documents_are_rebuilt_while_commands_run($shared).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn inline_documents_catch_up_events_of_other_writers() {
                super::inline_documents_catch_up_events_of_other_writers($shared).await;
            }
        }
    };
}

inline_tests!(inline_sqlite, Shared::sqlite("documents-inline"));
#[cfg(feature = "postgres")]
inline_tests!(inline_postgres, Shared::postgres());

/// Inline needs the events' own database: another file, or a store without one, is refused.
#[tokio::test]
async fn inline_documents_need_the_events_database() {
    let elsewhere = ReadModels::sqlite().await;
    let built = App::builder()
        .store(Events::new().open().await)
        .shared_documents(elsewhere.open().await)
        .inline_document_projection::<OrderSummary>()
        .build()
        .await;
    assert!(
        matches!(&built, Err(Error::Config(message)) if message.contains("events' own database") && message.contains("documents_in")),
        "{built:?}"
    );
    let built = App::builder()
        .store(MemoryStore::new())
        .shared_documents(elsewhere.open().await)
        .inline_document_projection::<OrderSummary>()
        .build()
        .await;
    assert!(matches!(&built, Err(Error::Config(message)) if message.contains("has none to share")), "{built:?}");
}

/// A PostgreSQL role that may not insert into `events` appends through the store's functions,
/// which cannot run a projection in their transaction: an inline projection is refused when
/// the app is built, not at each command; once the role may insert, the same app builds.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_documents_need_a_role_that_may_insert_the_events() {
    use eventsmith::PostgresStore;
    use eventsmith::store::PostgresOptions;
    use support::postgres::{admin, store_in, unique_schema, url};

    let schema = unique_schema();
    drop(store_in(&schema).await);
    let role = format!("{schema}_app");
    let client = admin().await;
    client
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA {schema} TO {role};
             GRANT SELECT ON {schema}.events, {schema}.eventsmith_schema TO {role};
             GRANT SELECT, INSERT, UPDATE ON {schema}.checkpoints, {schema}.snapshots TO {role};"
        ))
        .await
        .unwrap();
    let app_url = format!("{}{}user={role}", url(), if url().contains('?') { "&" } else { "?" });
    let models = ReadModels::postgres().await;
    let build = || async {
        let options = PostgresOptions { schema: schema.clone(), migrate: false, ..PostgresOptions::default() };
        let store = PostgresStore::connect_with(&app_url, options).await.expect("the role opens the store");
        let inline = store.capabilities().inline;
        let built = App::builder()
            .store(store)
            .shared_documents(models.open().await)
            .inline_document_projection::<OrderSummary>()
            .build()
            .await;
        (inline, built)
    };
    let (inline, built) = build().await;
    assert!(!inline);
    assert!(
        matches!(&built, Err(Error::Config(message)) if message.contains("may not insert into `events`")),
        "{built:?}"
    );
    client.batch_execute(&format!("GRANT INSERT ON {schema}.events TO {role}")).await.unwrap();
    let (inline, built) = build().await;
    assert!(inline);
    built.expect("a role that may insert runs inline projections");
    client.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};")).await.unwrap();
}

#[tokio::test]
async fn document_projections_need_a_document_store() {
    let built = App::builder().store(MemoryStore::new()).document_projection::<OrderSummary>().build().await;
    assert!(matches!(built, Err(Error::Config(ref message)) if message.contains("documents_in")), "{built:?}");
    let app = App::builder().store(MemoryStore::new()).build().await.unwrap();
    assert!(matches!(app.documents::<OrderSummary>(), Err(Error::Documents(DocumentError::NoStore))));
    assert!(matches!(app.query(GetSummary("01".into())).await, Err(Error::Documents(DocumentError::NoStore))));
}

/// Events in NATS JetStream, read models in PostgreSQL: another server than the events'.
#[cfg(all(feature = "nats", feature = "postgres"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_nats_and_read_models_in_postgres() {
    let models = ReadModels::postgres().await;
    let app = App::builder()
        .store(support::nats::fresh_store().await)
        .aggregate::<Order>()
        .shared_documents(models.open().await)
        .document_projection::<OrderSummary>()
        .document_projection::<CustomerTotals>()
        .document_batch(7)
        .build()
        .await
        .unwrap();
    for n in 1..=30u64 {
        let id = format!("{n:02}");
        app.execute(place(&id, if n % 2 == 1 { "ann" } else { "bob" }, n * 10)).await.unwrap();
        if n.is_multiple_of(3) {
            app.execute(Pay { id, amount: n * 10 }).await.unwrap();
        }
    }
    let summaries = app.documents::<OrderSummary>().unwrap();
    assert_eq!(summaries.list(None, 100).await.unwrap().len(), 30);
    assert_eq!(summaries.filter("status", &Status::Paid, None, 100).await.unwrap().len(), 10);
    let ann = app.documents::<CustomerTotals>().unwrap().get("ann").await.unwrap().unwrap();
    assert_eq!(ann, CustomerTotals { orders: 15, total: (1..=30).step_by(2).map(|n| n * 10).sum() });
}

/// Events in PostgreSQL, read models in a SQLite file.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_postgres_and_read_models_in_sqlite() {
    let models = ReadModels::sqlite().await;
    let app = App::builder()
        .store(support::postgres::fresh_store().await)
        .aggregate::<Order>()
        .shared_documents(models.open().await)
        .document_projection::<OrderSummary>()
        .build()
        .await
        .unwrap();
    for n in 1..=10u64 {
        app.execute(place(&format!("{n:02}"), "ann", n)).await.unwrap();
    }
    let all = app.documents::<OrderSummary>().unwrap().list(None, 100).await.unwrap();
    assert_eq!(all.iter().map(|(_, summary)| summary.total).sum::<u64>(), 55);
}

// ---------------------------------------------------------------------------------------
// The test kit: given events, then a document.

fn recorded(stream_id: &str, position: u64, event: OrderEvent) -> Recorded<OrderEvent> {
    Recorded {
        id: uuid::Uuid::nil(),
        stream_id: stream_id.to_owned(),
        stream_version: 1,
        position,
        recorded_at: std::time::SystemTime::UNIX_EPOCH,
        metadata: eventsmith::Metadata::default(),
        event,
    }
}

fn kit_history() -> Vec<Recorded<OrderEvent>> {
    vec![
        recorded("Order-1", 1, OrderEvent::Placed(Placed { customer: "ann".into(), total: 10 })),
        recorded("Order-2", 2, OrderEvent::Placed(Placed { customer: "ann".into(), total: 5 })),
        recorded("Order-1", 3, OrderEvent::Paid(Paid { amount: 10 })),
    ]
}

#[test]
fn the_test_kit_checks_documents_by_key() {
    let paid = OrderSummary { customer: "ann".into(), status: Status::Paid, total: 10, paid: 10, events: 2 };
    eventsmith::testing::given(kit_history())
        .then_document("1", Some(paid))
        .then_document("3", None::<OrderSummary>)
        .then_document("ann", Some(CustomerTotals { orders: 2, total: 15 }));
}

#[test]
#[should_panic(expected = "the document `1` of `order_summaries` is")]
fn the_test_kit_fails_on_another_document() {
    let unpaid = OrderSummary { customer: "ann".into(), status: Status::Placed, total: 10, paid: 0, events: 1 };
    eventsmith::testing::given(kit_history()).then_document("1", Some(unpaid));
}

#[test]
#[should_panic(expected = "cannot apply the given event #2")]
fn the_test_kit_fails_on_an_event_the_projection_refuses() {
    let history = vec![
        recorded("Order-1", 1, OrderEvent::Placed(Placed { customer: "ann".into(), total: 10 })),
        recorded("Order-1", 2, OrderEvent::Paid(Paid { amount: 0 })),
    ];
    eventsmith::testing::given(history).then_document("1", None::<OrderSummary>);
}

#[test]
fn the_test_kit_answers_document_queries_from_a_sqlite_read_model() {
    document_queries_answered(|given| given);
}

/// The same answers, in the same key order, from PostgreSQL.
#[cfg(feature = "postgres")]
#[test]
fn the_test_kit_answers_document_queries_from_postgres() {
    document_queries_answered(|given| given.on_postgres(support::postgres::url()));
}

type GivenHistory = eventsmith::testing::Given<Recorded<OrderEvent>>;

fn document_queries_answered(place: impl FnOnce(GivenHistory) -> GivenHistory) {
    let mut history = kit_history();
    history.push(recorded("Order-3", 4, OrderEvent::Placed(Placed { customer: "bob".into(), total: 7 })));
    history.push(recorded("Order-3", 5, OrderEvent::Paid(Paid { amount: 7 })));
    history.push(recorded("Order-10", 6, OrderEvent::Placed(Placed { customer: "bob".into(), total: 1 })));
    history.push(recorded("Order-10", 7, OrderEvent::Paid(Paid { amount: 1 })));
    let paid = OrderSummary { customer: "ann".into(), status: Status::Paid, total: 10, paid: 10, events: 2 };
    let with_status =
        |status, after: Option<&str>, limit| OrdersWithStatus { status, after: after.map(Into::into), limit };
    place(eventsmith::testing::given(history))
        .then_query(GetSummary("1".into()), Some(paid))
        .then_query(GetSummary("4".into()), None)
        // In the database's key order (bytes: "10" before "3"), filtered and paged there.
        .then_query(with_status(Status::Paid, None, 10), vec!["1".to_owned(), "10".into(), "3".into()])
        .then_query(with_status(Status::Paid, Some("10"), 10), vec!["3".to_owned()])
        .then_query(with_status(Status::Placed, None, 10), vec!["2".to_owned()]);
}

#[test]
#[should_panic(expected = "GetSummary(\"2\") answered")]
fn the_test_kit_fails_on_another_answer() {
    let unpaid = OrderSummary { customer: "ann".into(), status: Status::Paid, total: 5, paid: 5, events: 2 };
    eventsmith::testing::given(kit_history()).then_query(GetSummary("2".into()), Some(unpaid));
}

/// Inside a test's own runtime, too: the kit's read model runs on a thread of its own.
#[tokio::test]
async fn the_test_kit_answers_document_queries_inside_an_async_test() {
    let none: Vec<String> = Vec::new();
    eventsmith::testing::given(kit_history())
        .then_query(OrdersWithStatus { status: Status::Shipped, after: None, limit: 5 }, none);
}
