//! SQL read models (`#[projection(..., sql(migrations = [...]))]`) in SQLite and, with the
//! `postgres` feature, in PostgreSQL: rows written by `#[apply]` methods in the batch's
//! transaction and read by typed queries, from the process that runs the projection and from
//! one that only queries; two processes applying the same log, each event once; migrations
//! run once, in order, and all or nothing; tables of a newer release; a statement the
//! database refuses, which stops the projection alone after the events before it.
//!
//! Every test runs once per database (the `sql_tests!` modules at the end); the events are in
//! a SQLite file of their own, so the read model is always another database than the log.

mod support;

use std::sync::Arc;
use std::time::Duration;

use eventsmith::documents::SqliteDocuments;
use eventsmith::prelude::*;
use eventsmith::sql::{SqlStore, SqlWork};
use eventsmith::store::NewEvent;
use eventsmith::store::{BoxFuture, StoreError};
use eventsmith::{AppBuilder, ApplyError, Error, SqliteStore};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    pub customer: String,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paid {
    pub amount: u64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent {
    Placed(Placed),
    Paid(Paid),
    Cancelled,
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

#[derive(Command, Debug, Clone)]
#[command(aggregate = Order)]
pub struct Cancel {
    #[command(id)]
    pub id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default)]
pub struct Order;

#[aggregate(event = OrderEvent, error = Never, ignore(Placed, Paid, OrderEvent::Cancelled))]
impl Order {
    #[command]
    fn place(&self, command: &Place) -> Result<Placed, Never> {
        Ok(Placed { customer: command.customer.clone(), total: command.total })
    }

    #[command]
    fn pay(&self, command: &Pay) -> Result<Paid, Never> {
        Ok(Paid { amount: command.amount })
    }

    #[command]
    fn cancel(&self, _: &Cancel) -> Result<OrderEvent, Never> {
        Ok(OrderEvent::Cancelled)
    }
}

/// A row per order and a total per customer, in tables of the projection's own.
pub struct OrderRows;

/// One order's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderRow {
    pub id: String,
    pub customer: String,
    pub total: u64,
    pub paid: u64,
    pub cancelled: bool,
    /// Events applied to the row: equal to its stream's length when each was applied once.
    pub events: u64,
}

#[derive(Debug, Clone)]
pub struct GetOrder(pub String);

#[derive(Debug, Clone)]
pub struct CustomerOrders {
    pub customer: String,
}

#[derive(Debug, Clone)]
pub struct CustomerTotal(pub String);

#[projection(
    name = "order_rows",
    events = OrderEvent,
    sql(migrations = [
        // An order of a million or more is refused by the table: the projection stops there.
        "CREATE TABLE order_rows (
             id TEXT PRIMARY KEY,
             customer TEXT NOT NULL,
             total BIGINT NOT NULL CHECK (total < 1000000),
             paid BIGINT NOT NULL DEFAULT 0,
             events BIGINT NOT NULL DEFAULT 1
         )",
        "ALTER TABLE order_rows ADD COLUMN cancelled BOOLEAN NOT NULL DEFAULT FALSE;
         CREATE INDEX order_rows_by_customer ON order_rows (customer)",
        "CREATE TABLE customer_totals (customer TEXT PRIMARY KEY, total BIGINT NOT NULL)",
    ])
)]
impl OrderRows {
    #[apply]
    async fn placed(sql: &mut Sql<'_>, event: &Recorded<Placed>) -> Result<(), SqlError> {
        let id = eventsmith::documents::default_key(&event.stream_id);
        sql.execute(
            "INSERT INTO order_rows (id, customer, total) VALUES ($1, $2, $3)",
            &[&id, &event.customer, &event.total],
        )
        .await?;
        sql.execute(
            "INSERT INTO customer_totals (customer, total) VALUES ($1, $2)
             ON CONFLICT (customer) DO UPDATE SET total = customer_totals.total + excluded.total",
            &[&event.customer, &event.total],
        )
        .await?;
        Ok(())
    }

    #[apply]
    async fn paid(sql: &mut Sql<'_>, event: &Recorded<Paid>) -> Result<(), SqlError> {
        // Parameters out of order: `$2` comes first in the text.
        sql.execute(
            "UPDATE order_rows SET paid = paid + $2, events = events + 1 WHERE id = $1",
            &[&eventsmith::documents::default_key(&event.stream_id), &event.amount],
        )
        .await?;
        Ok(())
    }

    #[apply(OrderEvent::Cancelled)]
    async fn cancelled(sql: &mut Sql<'_>, event: &Recorded<()>) -> Result<(), SqlError> {
        let id = eventsmith::documents::default_key(&event.stream_id);
        sql.execute("UPDATE order_rows SET cancelled = $2, events = events + 1 WHERE id = $1", &[&id, &true]).await?;
        Ok(())
    }

    #[query]
    async fn order(sql: &mut Sql<'_>, query: GetOrder) -> Result<Option<OrderRow>, SqlError> {
        let row = sql
            .query_opt("SELECT id, customer, total, paid, cancelled, events FROM order_rows WHERE id = $1", &[&query.0])
            .await?;
        row.map(|row| {
            Ok(OrderRow {
                id: row.get("id")?,
                customer: row.get("customer")?,
                total: row.get("total")?,
                paid: row.get("paid")?,
                cancelled: row.get("cancelled")?,
                events: row.get("events")?,
            })
        })
        .transpose()
    }

    #[query]
    async fn of_customer(sql: &mut Sql<'_>, query: &CustomerOrders) -> Result<Vec<String>, SqlError> {
        let rows = sql.query("SELECT id FROM order_rows WHERE customer = $1 ORDER BY id", &[&query.customer]).await?;
        rows.iter().map(|row| row.get(0)).collect()
    }

    #[query]
    async fn customer_total(sql: &mut Sql<'_>, query: CustomerTotal) -> Result<Option<u64>, SqlError> {
        let row = sql.query_opt("SELECT total FROM customer_totals WHERE customer = $1", &[&query.0]).await?;
        row.map(|row| row.get("total")).transpose()
    }
}

/// A projection whose `#[apply]` ignores the error of a statement: an order placed twice
/// breaks the key of `first_placements`, and the error is dropped.
pub struct FirstPlacements;

#[projection(
    name = "first_placements",
    events = OrderEvent,
    sql(migrations = ["CREATE TABLE first_placements (id TEXT PRIMARY KEY)"])
)]
impl FirstPlacements {
    #[apply]
    async fn placed(sql: &mut Sql<'_>, event: &Recorded<Placed>) -> Result<(), SqlError> {
        let _ignored = sql.execute("INSERT INTO first_placements (id) VALUES ($1)", &[&event.stream_id]).await;
        Ok(())
    }
}

/// Two migrations of which the second fails: neither may be applied.
pub struct HalfMigrated;

#[derive(Debug)]
pub struct CountHalf;

#[projection(
    name = "half_migrated",
    events = OrderEvent,
    sql(migrations = ["CREATE TABLE half_first (id TEXT)", "CREATE TABLE half_second (id TEXT"])
)]
impl HalfMigrated {
    #[apply]
    async fn placed(sql: &mut Sql<'_>, _: &Recorded<Placed>) -> Result<(), SqlError> {
        sql.execute("INSERT INTO half_first (id) VALUES ($1)", &[&"x"]).await?;
        Ok(())
    }

    #[query]
    async fn count(sql: &mut Sql<'_>, _: CountHalf) -> Result<i64, SqlError> {
        sql.query("SELECT count(*) FROM half_first", &[]).await?[0].get(0)
    }
}

// ---------------------------------------------------------------------------------------
// Where the read models live.

#[derive(Debug, Clone)]
pub enum ReadModels {
    Sqlite(std::path::PathBuf),
    #[cfg(feature = "postgres")]
    Postgres(String),
}

impl ReadModels {
    fn sqlite() -> Self {
        ReadModels::Sqlite(support::temp_db("sql").with_file_name("views.db"))
    }

    #[cfg(feature = "postgres")]
    fn postgres() -> Self {
        ReadModels::Postgres(support::postgres::unique_schema())
    }

    async fn open(&self) -> Arc<dyn SqlStore> {
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

    /// Runs `sql` on the read-model database, around the library.
    async fn run(&self, sql: &str) {
        match self {
            ReadModels::Sqlite(path) => rusqlite::Connection::open(path).unwrap().execute_batch(sql).unwrap(),
            #[cfg(feature = "postgres")]
            ReadModels::Postgres(schema) => {
                let admin = support::postgres::admin().await;
                admin.batch_execute(&format!("SET search_path TO \"{schema}\"; {sql}")).await.unwrap();
            }
        }
    }

    /// Whether the read-model database has a table named `table`.
    async fn has_table(&self, table: &str) -> bool {
        match self {
            ReadModels::Sqlite(path) => {
                rusqlite::Connection::open(path)
                    .unwrap()
                    .query_row(
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                        [table],
                        |row| row.get::<_, i64>(0),
                    )
                    .unwrap()
                    == 1
            }
            #[cfg(feature = "postgres")]
            ReadModels::Postgres(schema) => {
                let admin = support::postgres::admin().await;
                let row = admin
                    .query_one(
                        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
                        &[schema, &table],
                    )
                    .await
                    .unwrap();
                row.get::<_, i64>(0) == 1
            }
        }
    }
}

struct Events {
    path: std::path::PathBuf,
}

impl Events {
    fn new() -> Self {
        Events { path: support::temp_db("sql-events") }
    }

    async fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.path).await.expect("open the event store")
    }
}

async fn app(events: &Events, models: &ReadModels, batch: usize) -> App {
    builder(events, models, batch).await.build().await.expect("build the app")
}

async fn builder(events: &Events, models: &ReadModels, batch: usize) -> AppBuilder {
    App::builder()
        .store(events.open().await)
        .aggregate::<Order>()
        .shared_sql(models.open().await)
        .sql_projection::<OrderRows>()
        .document_batch(batch)
}

/// How often the workers of the tests look at the log when nothing woke them.
const POLL: Duration = Duration::from_millis(20);

fn place(id: &str, customer: &str, total: u64) -> Place {
    Place { id: id.to_owned(), customer: customer.to_owned(), total }
}

fn row(id: &str, customer: &str, total: u64, paid: u64, cancelled: bool, events: u64) -> OrderRow {
    OrderRow { id: id.into(), customer: customer.into(), total, paid, cancelled, events }
}

// ---------------------------------------------------------------------------------------
// The behaviours, each over a read-model database.

async fn rows_are_written_in_batches_and_read_by_typed_queries(models: ReadModels) {
    let events = Events::new();
    let app = app(&events, &models, 3).await;
    for n in 1..=10u64 {
        let id = format!("{n:02}");
        app.execute(place(&id, if n % 2 == 1 { "ann" } else { "bob" }, n * 10)).await.unwrap();
        if n.is_multiple_of(3) {
            app.execute(Pay { id: id.clone(), amount: n }).await.unwrap();
        }
    }
    app.execute(Cancel { id: "04".into() }).await.unwrap();

    assert_eq!(app.query(GetOrder("03".into())).await.unwrap(), Some(row("03", "ann", 30, 3, false, 2)));
    assert_eq!(app.query(GetOrder("04".into())).await.unwrap(), Some(row("04", "bob", 40, 0, true, 2)));
    assert_eq!(app.query(GetOrder("99".into())).await.unwrap(), None);
    let bobs = app.query(CustomerOrders { customer: "bob".into() }).await.unwrap();
    assert_eq!(bobs, ["02", "04", "06", "08", "10"]);
    assert_eq!(app.query(CustomerTotal("ann".into())).await.unwrap(), Some(10 + 30 + 50 + 70 + 90));
    let head = events.open().await.head().await.unwrap();
    assert_eq!(app.store().head().await.unwrap(), head);
    app.wait_for::<OrderRows>(head, Duration::from_secs(5)).await.unwrap();
}

/// A process that registers no projection answers from the tables, and waits for a position
/// another process committed.
async fn a_process_that_only_queries_reads_the_tables(models: ReadModels) {
    let events = Events::new();
    let writer = app(&events, &models, 16).await;
    let reader = App::builder().store(events.open().await).shared_sql(models.open().await).build().await.unwrap();
    let committed = writer.execute(place("01", "ann", 5)).await.unwrap();
    let position = committed.events[0].position;
    reader.wait_for::<OrderRows>(position, Duration::from_secs(5)).await.unwrap();
    assert_eq!(reader.query(GetOrder("01".into())).await.unwrap(), Some(row("01", "ann", 5, 0, false, 1)));
    // Appended around the writer, which has not applied it: not yet, with where it got.
    let paid = OrderEvent::Paid(Paid { amount: 2 });
    let outcome =
        events.open().await.append("Order-01", ExpectedVersion::Any, vec![NewEvent::encode(&paid).unwrap()]).await;
    let later = outcome.unwrap().positions[0];
    let waited = reader.wait_for::<OrderRows>(later, Duration::from_millis(50)).await;
    assert!(matches!(waited, Err(Error::NotYet { reached, .. }) if reached == position), "{waited:?}");
    writer.update_sql::<OrderRows>().await.unwrap();
    reader.wait_for::<OrderRows>(later, Duration::from_secs(5)).await.unwrap();
    assert_eq!(reader.query(GetOrder("01".into())).await.unwrap(), Some(row("01", "ann", 5, 2, false, 2)));
}

/// Two processes committing at once, each bringing the tables up to date after its
/// commands, or each with a worker doing it.
async fn two_processes_apply_every_event_once(models: ReadModels, workers: bool) {
    let events = Events::new();
    let (events_ref, models_ref) = (&events, &models);
    let process = move |batch| async move {
        let builder = builder(events_ref, models_ref, batch).await;
        if workers { builder.projection_workers(POLL) } else { builder }.build().await.unwrap()
    };
    let (first, second) = (process(3).await, process(5).await);
    // Placed once each (a second `Placed` of an order would break the table's primary key,
    // as applying one twice would), then paid by both processes at once.
    for n in 0..10u64 {
        first.execute(place(&format!("{n:02}"), "ann", 1)).await.unwrap();
    }
    let run = |app: App, offset: u64| {
        tokio::spawn(async move {
            for n in 0..35u64 {
                app.execute(Pay { id: format!("{:02}", (n + offset) % 10), amount: 1 }).await.unwrap();
            }
        })
    };
    let (a, b) = (run(first.clone(), 0), run(second.clone(), 7));
    a.await.unwrap();
    b.await.unwrap();
    if workers {
        let head = first.store().head().await.unwrap();
        first.wait_for::<OrderRows>(head, Duration::from_secs(10)).await.unwrap();
        second.wait_for::<OrderRows>(head, Duration::from_secs(10)).await.unwrap();
    } else {
        first.update_sql::<OrderRows>().await.unwrap();
        second.update_sql::<OrderRows>().await.unwrap();
    }

    let store = events.open().await;
    let mut applied = 0;
    for n in 0..10 {
        let id = format!("{n:02}");
        let stream = store.read_stream(&format!("Order-{id}"), 1, 1000).await.unwrap();
        let row = second.query(GetOrder(id.clone())).await.unwrap().expect("every order has a row");
        assert_eq!(row.events, stream.len() as u64, "order {id}: each event applied once");
        assert_eq!(row.paid, stream.len() as u64 - 1, "order {id}");
        applied += row.events;
    }
    assert_eq!(applied, 80);
    assert_eq!(second.query(CustomerTotal("ann".into())).await.unwrap(), Some(10));
}

/// With a worker, a command returns once its events are committed, while the tables are
/// still being written (here: held); `wait_for` then waits for them.
async fn a_command_does_not_wait_for_a_worker(models: ReadModels) {
    let events = Events::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let app = App::builder()
        .store(events.open().await)
        .aggregate::<Order>()
        .sql_in(Interposed::held(models.open().await, Arc::clone(&gate)))
        .sql_projection::<OrderRows>()
        .projection_workers(POLL)
        .build()
        .await
        .unwrap();
    // Without a worker, the command itself would wait at the gate: it would never return.
    let committed = tokio::time::timeout(Duration::from_secs(10), app.execute(place("01", "ann", 5)))
        .await
        .expect("the command waited for the read model")
        .unwrap();
    let position = committed.events[0].position;
    let waited = app.wait_for::<OrderRows>(position, Duration::from_millis(100)).await;
    assert!(matches!(waited, Err(Error::NotYet { reached: 0, .. })), "{waited:?}");
    assert_eq!(app.query(GetOrder("01".into())).await.unwrap(), None);

    gate.add_permits(1);
    app.wait_for::<OrderRows>(position, Duration::from_secs(10)).await.unwrap();
    assert_eq!(app.query(GetOrder("01".into())).await.unwrap(), Some(row("01", "ann", 5, 0, false, 1)));
    // Events appended around the app (another process) are found by the poll.
    let paid = OrderEvent::Paid(Paid { amount: 2 });
    let outcome =
        events.open().await.append("Order-01", ExpectedVersion::Any, vec![NewEvent::encode(&paid).unwrap()]).await;
    app.wait_for::<OrderRows>(outcome.unwrap().positions[0], Duration::from_secs(10)).await.unwrap();
    assert_eq!(app.query(GetOrder("01".into())).await.unwrap(), Some(row("01", "ann", 5, 2, false, 2)));
}

/// A commit wakes the worker (the app's own signal, and on SQLite the store's in-process
/// notification too): with a poll of an hour (and a lease of an hour, renewed a third of the
/// way through), the command's row is there in seconds. Seen to fail with both wakes removed.
async fn a_commit_wakes_the_worker(models: ReadModels) {
    let events = Events::new();
    let hour = Duration::from_secs(3600);
    let app = builder(&events, &models, 16).await.projection_workers(hour).worker_lease(hour).build().await.unwrap();
    for n in 1..=3 {
        let committed = app.execute(place(&format!("0{n}"), "ann", 5)).await.unwrap();
        app.wait_for::<OrderRows>(committed.events[0].position, Duration::from_secs(10)).await.unwrap();
    }
    assert_eq!(app.query(CustomerTotal("ann".into())).await.unwrap(), Some(15));
}

/// Dropping the last clone of an app ends its workers, which let go of the database.
async fn workers_end_with_their_app(models: ReadModels) {
    let events = Events::new();
    let sql = models.open().await;
    let app = App::builder()
        .store(events.open().await)
        .aggregate::<Order>()
        .shared_sql(Arc::clone(&sql))
        .sql_projection::<OrderRows>()
        .projection_workers(POLL)
        .build()
        .await
        .unwrap();
    app.execute(place("01", "ann", 5)).await.unwrap();
    assert!(Arc::strong_count(&sql) > 1);
    let clone = app.clone();
    drop(app);
    clone.execute(place("02", "ann", 5)).await.expect("a clone keeps the workers");
    let head = clone.store().head().await.unwrap();
    clone.wait_for::<OrderRows>(head, Duration::from_secs(10)).await.unwrap();
    drop(clone);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while Arc::strong_count(&sql) > 1 {
        assert!(std::time::Instant::now() < deadline, "a worker outlived its app");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Started again, a process runs no migration twice (the first has no `IF NOT EXISTS`) and
/// applies only what came after its checkpoint.
async fn a_restarted_process_migrates_once_and_resumes(models: ReadModels) {
    let events = Events::new();
    let first = app(&events, &models, 4).await;
    for n in 1..=5 {
        first.execute(place(&format!("{n:02}"), "ann", 10)).await.unwrap();
    }
    drop(first);
    events
        .open()
        .await
        .append("Order-01", ExpectedVersion::Any, vec![NewEvent::encode(&OrderEvent::Cancelled).unwrap()])
        .await
        .unwrap();
    let again = app(&events, &models, 4).await;
    assert_eq!(again.query(GetOrder("01".into())).await.unwrap(), Some(row("01", "ann", 10, 0, true, 2)));
    assert_eq!(again.query(CustomerTotal("ann".into())).await.unwrap(), Some(50));
}

async fn tables_of_a_newer_release_are_refused(models: ReadModels) {
    let events = Events::new();
    drop(app(&events, &models, 4).await);
    let table = match models {
        ReadModels::Sqlite(_) => "eventsmith_sql_read_models",
        #[cfg(feature = "postgres")]
        ReadModels::Postgres(_) => "sql_read_models",
    };
    models.run(&format!("UPDATE {table} SET version = 7 WHERE projection = 'order_rows'")).await;
    let built = App::builder()
        .store(events.open().await)
        .shared_sql(models.open().await)
        .sql_projection::<OrderRows>()
        .build()
        .await;
    assert!(
        matches!(built, Err(Error::Sql(SqlError::SchemaAhead { ref projection, found: 7, supported: 3 })) if projection == "order_rows"),
        "{built:?}"
    );
}

/// A migration that fails leaves none of the migrations applied, and says which one.
async fn a_failing_migration_applies_nothing(models: ReadModels) {
    let events = Events::new();
    let built = App::builder()
        .store(events.open().await)
        .shared_sql(models.open().await)
        .sql_projection::<HalfMigrated>()
        .build()
        .await;
    let Err(Error::Sql(SqlError::Migration { projection, version, message })) = built else {
        panic!("expected a failed migration, got {built:?}");
    };
    assert_eq!((projection.as_str(), version), ("half_migrated", 2));
    assert!(!message.is_empty());
    assert!(!models.has_table("half_first").await, "the first migration was kept");
}

/// An order the table refuses stops the projection at that event: the events before it in
/// its batch are applied, nothing after it, and queries say why; commands still commit.
async fn a_refused_statement_stops_the_projection_alone(models: ReadModels) {
    let events = Events::new();
    let app = app(&events, &models, 100).await;
    app.execute(place("01", "ann", 10)).await.unwrap();
    // One batch holding the three orders: applied by the next command, or the update below.
    let store = events.open().await;
    for (id, total) in [("02", 20), ("03", 1_000_000), ("04", 40)] {
        let placed = OrderEvent::Placed(Placed { customer: "ann".into(), total });
        store
            .append(&format!("Order-{id}"), ExpectedVersion::Any, vec![NewEvent::encode(&placed).unwrap()])
            .await
            .unwrap();
    }
    let stopped = app.update_sql::<OrderRows>().await;
    let Err(Error::ProjectionStopped(stopped)) = stopped else { panic!("expected a stop, got {stopped:?}") };
    assert!(
        matches!(&stopped.source, ApplyError::Failed { stream_id, message, .. } if stream_id == "Order-03" && message.to_lowercase().contains("check")),
        "{stopped}"
    );
    // The projection is stopped: its queries say so rather than answer from where it is.
    assert!(matches!(app.query(GetOrder("02".into())).await, Err(Error::ProjectionStopped(_))));
    // Another process reads the tables: 01 and 02 are there, 03 and 04 are not.
    let reader = App::builder().store(events.open().await).shared_sql(models.open().await).build().await.unwrap();
    assert_eq!(reader.query(GetOrder("02".into())).await.unwrap(), Some(row("02", "ann", 20, 0, false, 1)));
    assert_eq!(reader.query(GetOrder("03".into())).await.unwrap(), None);
    assert_eq!(reader.query(GetOrder("04".into())).await.unwrap(), None);
    assert_eq!(reader.query(CustomerTotal("ann".into())).await.unwrap(), Some(30));
    // A process that runs the projection without having stopped it (a tool) says why it
    // stopped, from the database.
    let tool = App::builder()
        .store(events.open().await)
        .shared_sql(models.open().await)
        .sql_projection::<OrderRows>()
        .catch_up_at_build(false)
        .build()
        .await
        .unwrap();
    let statuses = tool.projections().await.unwrap();
    let why = statuses[0].stopped.as_deref().expect("the stop is kept in the database");
    assert!(why.contains("Order-03") && why.to_lowercase().contains("check"), "{why}");
    // Commands still commit.
    app.execute(Pay { id: "01".into(), amount: 1 }).await.unwrap();
}

// ---------------------------------------------------------------------------------------
// Inline: the read model in the events' own database, applied in each append's transaction.

use support::Shared;

impl Shared {
    fn models(&self) -> ReadModels {
        match self {
            Shared::Sqlite(path) => ReadModels::Sqlite(path.clone()),
            #[cfg(feature = "postgres")]
            Shared::Postgres { models, .. } => ReadModels::Postgres(models.clone()),
        }
    }

    async fn inline_app(&self) -> App {
        App::builder()
            .shared_store(self.store().await)
            .aggregate::<Order>()
            .shared_sql(self.models().open().await)
            .inline_sql_projection::<OrderRows>()
            .build()
            .await
            .expect("build the app")
    }

    /// A process that only queries the read model.
    async fn reader(&self) -> App {
        App::builder().shared_store(self.store().await).shared_sql(self.models().open().await).build().await.unwrap()
    }
}

/// The read-model database with its own transactions failing, as a lost connection would
/// (while `failing` is set, or always: a projection then runs only inside appends), or held
/// until `gate` has a permit (given back after the transaction, or used up when `metered`).
struct Interposed {
    models: Arc<dyn SqlStore>,
    failing: Arc<std::sync::atomic::AtomicBool>,
    once: bool,
    gate: Option<Arc<tokio::sync::Semaphore>>,
    metered: bool,
}

impl Interposed {
    /// Every transaction of its own fails: only appends apply inline projections.
    fn failing(models: Arc<dyn SqlStore>) -> Self {
        Interposed {
            models,
            failing: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            once: false,
            gate: None,
            metered: false,
        }
    }

    /// Each transaction of its own waits for a permit of `gate` (and gives it back).
    fn held(models: Arc<dyn SqlStore>, gate: Arc<tokio::sync::Semaphore>) -> Self {
        Interposed {
            models,
            failing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            once: false,
            gate: Some(gate),
            metered: false,
        }
    }

    /// Each transaction of its own uses up a permit of `gate`: as many as it has, then none.
    fn metered(models: Arc<dyn SqlStore>, gate: Arc<tokio::sync::Semaphore>) -> Self {
        Interposed { metered: true, ..Interposed::held(models, gate) }
    }
}

impl SqlStore for Interposed {
    fn migrate<'a>(
        &'a self,
        projection: &'static str,
        migrations: &'static [&'static str],
    ) -> BoxFuture<'a, Result<(), SqlError>> {
        self.models.migrate(projection, migrations)
    }

    fn sql_checkpoint<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        self.models.sql_checkpoint(projection)
    }

    fn transact<'a>(
        &'a self,
        projection: &'static str,
        from: u64,
        to: u64,
        work: Box<dyn SqlWork>,
    ) -> BoxFuture<'a, Result<bool, SqlError>> {
        let failing = if self.once {
            self.failing.swap(false, std::sync::atomic::Ordering::SeqCst)
        } else {
            self.failing.load(std::sync::atomic::Ordering::SeqCst)
        };
        if failing {
            return Box::pin(async {
                Err(SqlError::Store(StoreError::backend("apply", true, "the connection was lost")))
            });
        }
        Box::pin(async move {
            if let Some(gate) = &self.gate {
                let permit = gate.acquire().await.expect("the gate stays open");
                if self.metered {
                    permit.forget();
                }
            }
            self.models.transact(projection, from, to, work).await
        })
    }

    fn read<'a>(&'a self, work: Box<dyn SqlWork>) -> BoxFuture<'a, Result<(), SqlError>> {
        self.models.read(work)
    }

    fn transact_in<'a>(
        &'a self,
        sql: &'a mut Sql<'_>,
        projection: &'static str,
        from: u64,
        to: u64,
        work: Box<dyn SqlWork>,
    ) -> BoxFuture<'a, Result<bool, SqlError>> {
        self.models.transact_in(sql, projection, from, to, work)
    }

    fn database_identity(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        self.models.database_identity()
    }
}

/// A command's row is in the tables when `execute` returns, for any process: written in the
/// append's transaction, not after it (catch-ups, which would write it after, fail here).
async fn inline_rows_are_committed_with_the_events(shared: Shared) {
    let app = App::builder()
        .shared_store(shared.store().await)
        .aggregate::<Order>()
        .sql_in(Interposed::failing(shared.models().open().await))
        .inline_sql_projection::<OrderRows>()
        .build()
        .await
        .expect("build the app");
    let reader = shared.reader().await;
    for n in 1..=5u64 {
        let id = format!("{n:02}");
        app.execute(place(&id, "ann", n)).await.unwrap();
        // No wait: the row was committed with the event.
        assert_eq!(reader.query(GetOrder(id.clone())).await.unwrap(), Some(row(&id, "ann", n, 0, false, 1)));
    }
    app.execute(Pay { id: "02".into(), amount: 7 }).await.unwrap();
    app.execute(Cancel { id: "03".into() }).await.unwrap();
    assert_eq!(reader.query(GetOrder("02".into())).await.unwrap(), Some(row("02", "ann", 2, 7, false, 2)));
    assert_eq!(reader.query(GetOrder("03".into())).await.unwrap(), Some(row("03", "ann", 3, 0, true, 2)));
    let store = shared.store().await;
    let checkpoint = shared.models().open().await.sql_checkpoint("order_rows").await.unwrap();
    assert_eq!(checkpoint, store.head().await.unwrap());
}

/// An event the table refuses fails its command, and nothing of the command is stored:
/// neither the event nor a row.
async fn an_inline_refusal_fails_the_command_with_nothing_appended(shared: Shared) {
    let app = shared.inline_app().await;
    app.execute(place("01", "ann", 10)).await.unwrap();
    let refused = app.execute(place("02", "ann", 1_000_000)).await;
    assert!(
        matches!(&refused, Err(eventsmith::ExecuteError::InlineRefused { stream_id, projection: "order_rows", source }) if stream_id == "Order-02" && matches!(&**source, ApplyError::Failed { message, .. } if message.contains("order_rows"))),
        "{refused:?}"
    );
    let store = shared.store().await;
    assert!(store.read_stream("Order-02", 1, 10).await.unwrap().is_empty(), "the refused event was stored");
    assert_eq!(app.query(GetOrder("02".into())).await.unwrap(), None);
    // The projection has not stopped: the next commands are applied, inline.
    app.execute(place("02", "ann", 20)).await.unwrap();
    assert_eq!(shared.reader().await.query(CustomerTotal("ann".into())).await.unwrap(), Some(30));
}

/// Events another writer appended (a process that does not run the projection) are applied
/// after the next commit of the app that runs it, which then applies inline again.
/// With workers, an inline projection is still caught up by `build` (its appends apply it
/// only right after its checkpoint): `build` waits for the read-model database, here held
/// at a gate that lets one transaction through once it opens; the worker's would wait for
/// ever.
async fn an_inline_projection_is_caught_up_at_build_with_workers(shared: Shared) {
    let other = App::builder().shared_store(shared.store().await).aggregate::<Order>().build().await.unwrap();
    other.execute(place("01", "ann", 1)).await.unwrap();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let builder = App::builder()
        .shared_store(shared.store().await)
        .aggregate::<Order>()
        .sql_in(Interposed::metered(shared.models().open().await, Arc::clone(&gate)))
        .inline_sql_projection::<OrderRows>()
        .projection_workers(Duration::from_secs(3600));
    let mut building = tokio::spawn(builder.build());
    let waited = tokio::time::timeout(Duration::from_millis(500), &mut building).await;
    assert!(waited.is_err(), "build returned without catching the inline projection up");
    gate.add_permits(1);
    let app = building.await.unwrap().unwrap();
    let head = shared.store().await.head().await.unwrap();
    assert_eq!(shared.models().open().await.sql_checkpoint("order_rows").await.unwrap(), head);
    app.execute(place("02", "bob", 2)).await.unwrap();
    let reader = shared.reader().await;
    assert_eq!(reader.query(GetOrder("01".into())).await.unwrap(), Some(row("01", "ann", 1, 0, false, 1)));
    assert_eq!(reader.query(GetOrder("02".into())).await.unwrap(), Some(row("02", "bob", 2, 0, false, 1)), "inline");
}

async fn events_of_other_writers_are_caught_up(shared: Shared) {
    let app = shared.inline_app().await;
    app.execute(place("01", "ann", 1)).await.unwrap();
    let other = App::builder().shared_store(shared.store().await).aggregate::<Order>().build().await.unwrap();
    other.execute(place("02", "bob", 2)).await.unwrap();
    other.execute(Pay { id: "01".into(), amount: 3 }).await.unwrap();
    app.execute(place("03", "ann", 4)).await.unwrap();
    let reader = shared.reader().await;
    assert_eq!(reader.query(GetOrder("01".into())).await.unwrap(), Some(row("01", "ann", 1, 3, false, 2)));
    assert_eq!(reader.query(GetOrder("02".into())).await.unwrap(), Some(row("02", "bob", 2, 0, false, 1)));
    assert_eq!(reader.query(GetOrder("03".into())).await.unwrap(), Some(row("03", "ann", 4, 0, false, 1)));
    // Caught up to the head: the next append applies in its own transaction again (in an app
    // whose catch-ups fail, so that nothing else can have written the row).
    let appends_only = App::builder()
        .shared_store(shared.store().await)
        .aggregate::<Order>()
        .sql_in(Interposed::failing(shared.models().open().await))
        .inline_sql_projection::<OrderRows>()
        .build()
        .await
        .unwrap();
    appends_only.execute(place("04", "bob", 8)).await.unwrap();
    assert_eq!(reader.query(GetOrder("04".into())).await.unwrap(), Some(row("04", "bob", 8, 0, false, 1)));
    let checkpoint = shared.models().open().await.sql_checkpoint("order_rows").await.unwrap();
    assert_eq!(checkpoint, shared.store().await.head().await.unwrap());
}

macro_rules! inline_tests {
    ($module:ident, $shared:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn inline_rows_are_committed_with_the_events() {
                super::inline_rows_are_committed_with_the_events($shared).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_inline_refusal_fails_the_command_with_nothing_appended() {
                super::an_inline_refusal_fails_the_command_with_nothing_appended($shared).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn events_of_other_writers_are_caught_up() {
                super::events_of_other_writers_are_caught_up($shared).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_inline_projection_is_caught_up_at_build_with_workers() {
                super::an_inline_projection_is_caught_up_at_build_with_workers($shared).await;
            }
        }
    };
}

inline_tests!(inline_sqlite, Shared::sqlite("sql-inline"));
#[cfg(feature = "postgres")]
inline_tests!(inline_postgres, Shared::postgres());

/// Inline needs the events' own database: another file, or a store without one, is refused.
#[tokio::test]
async fn inline_projections_need_the_events_database() {
    let events = Events::new();
    let elsewhere = ReadModels::sqlite();
    let built = App::builder()
        .store(events.open().await)
        .shared_sql(elsewhere.open().await)
        .inline_sql_projection::<OrderRows>()
        .build()
        .await;
    assert!(matches!(&built, Err(Error::Config(message)) if message.contains("events' own database")), "{built:?}");
    let built = App::builder()
        .store(MemoryStore::new())
        .shared_sql(elsewhere.open().await)
        .inline_sql_projection::<OrderRows>()
        .build()
        .await;
    assert!(matches!(&built, Err(Error::Config(message)) if message.contains("has none to share")), "{built:?}");
}

/// A database that fails (not a statement it refuses) does not stop the projection: the
/// batch is rolled back and applied whole by the next catch-up.
async fn a_failing_database_does_not_stop_the_projection(models: ReadModels) {
    let events = Events::new();
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let app = App::builder()
        .store(events.open().await)
        .aggregate::<Order>()
        .sql_in(Interposed {
            models: models.open().await,
            failing: Arc::clone(&fail),
            once: true,
            gate: None,
            metered: false,
        })
        .sql_projection::<OrderRows>()
        .build()
        .await
        .unwrap();
    let store = events.open().await;
    for id in ["01", "02"] {
        let placed = OrderEvent::Placed(Placed { customer: "ann".into(), total: 5 });
        store
            .append(&format!("Order-{id}"), ExpectedVersion::Any, vec![NewEvent::encode(&placed).unwrap()])
            .await
            .unwrap();
    }
    fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let failed = app.update_sql::<OrderRows>().await;
    assert!(matches!(&failed, Err(Error::Sql(SqlError::Store(_)))), "{failed:?}");
    assert_eq!(app.query(GetOrder("01".into())).await.unwrap(), None, "a failed batch wrote something");
    assert_eq!(app.update_sql::<OrderRows>().await.unwrap(), 2);
    assert_eq!(app.query(GetOrder("02".into())).await.unwrap(), Some(row("02", "ann", 5, 0, false, 1)));
    assert_eq!(app.query(CustomerTotal("ann".into())).await.unwrap(), Some(10));
}

/// An `#[apply]` that ignores a statement's error: on PostgreSQL the transaction is aborted,
/// so that event is refused (not the next one, and the projection does not spin on it); on
/// SQLite, where a failed statement leaves the transaction as it was, the batch goes on.
async fn an_ignored_statement_error_is_the_events_own(models: ReadModels) {
    let events = Events::new();
    let store = events.open().await;
    for id in ["01", "02", "01", "03"] {
        let placed = OrderEvent::Placed(Placed { customer: "ann".into(), total: 1 });
        store
            .append(&format!("Order-{id}"), ExpectedVersion::Any, vec![NewEvent::encode(&placed).unwrap()])
            .await
            .unwrap();
    }
    let app = App::builder()
        .store(events.open().await)
        .shared_sql(models.open().await)
        .sql_projection::<FirstPlacements>()
        .build()
        .await
        .unwrap();
    let updated = app.update_sql::<FirstPlacements>().await;
    match models {
        ReadModels::Sqlite(_) => assert!(updated.is_ok(), "{updated:?}"),
        #[cfg(feature = "postgres")]
        ReadModels::Postgres(_) => {
            let Err(Error::ProjectionStopped(stopped)) = updated else { panic!("expected a stop, got {updated:?}") };
            assert!(
                matches!(&stopped.source, ApplyError::Failed { position: 3, message, .. } if message.contains("went on as if it had not")),
                "{stopped}"
            );
            let checkpoint = models.open().await.sql_checkpoint("first_placements").await.unwrap();
            assert_eq!(checkpoint, 2, "the events before the refused one are applied");
        }
    }
}

macro_rules! sql_tests {
    ($module:ident, $place:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rows_are_written_in_batches_and_read_by_typed_queries() {
                super::rows_are_written_in_batches_and_read_by_typed_queries($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_process_that_only_queries_reads_the_tables() {
                super::a_process_that_only_queries_reads_the_tables($place).await;
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
            async fn a_command_does_not_wait_for_a_worker() {
                super::a_command_does_not_wait_for_a_worker($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_commit_wakes_the_worker() {
                super::a_commit_wakes_the_worker($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn workers_end_with_their_app() {
                super::workers_end_with_their_app($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_restarted_process_migrates_once_and_resumes() {
                super::a_restarted_process_migrates_once_and_resumes($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tables_of_a_newer_release_are_refused() {
                super::tables_of_a_newer_release_are_refused($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_failing_migration_applies_nothing() {
                super::a_failing_migration_applies_nothing($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_failing_database_does_not_stop_the_projection() {
                super::a_failing_database_does_not_stop_the_projection($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_ignored_statement_error_is_the_events_own() {
                super::an_ignored_statement_error_is_the_events_own($place).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_refused_statement_stops_the_projection_alone() {
                super::a_refused_statement_stops_the_projection_alone($place).await;
            }
        }
    };
}

sql_tests!(sqlite, ReadModels::sqlite());
#[cfg(feature = "postgres")]
sql_tests!(postgres, ReadModels::postgres());

#[tokio::test]
async fn sql_projections_need_a_sql_store() {
    let built = App::builder().store(MemoryStore::new()).sql_projection::<OrderRows>().build().await;
    assert!(matches!(built, Err(Error::Config(ref message)) if message.contains("sql_in")), "{built:?}");
    let app = App::builder().store(MemoryStore::new()).build().await.unwrap();
    assert!(matches!(app.query(GetOrder("01".into())).await, Err(Error::Sql(SqlError::NoStore))));
}

// ---------------------------------------------------------------------------------------
// The test kit: given events, then a query's answer from the projection's tables.

fn recorded(stream_id: &str, position: u64, event: OrderEvent) -> Recorded<OrderEvent> {
    Recorded {
        id: uuid::Uuid::now_v7(),
        stream_id: stream_id.to_owned(),
        stream_version: 1,
        position,
        recorded_at: std::time::SystemTime::UNIX_EPOCH,
        metadata: Metadata::default(),
        event,
    }
}

fn kit_history() -> Vec<Recorded<OrderEvent>> {
    let placed = |customer: &str, total| OrderEvent::Placed(Placed { customer: customer.into(), total });
    vec![
        recorded("Order-01", 1, placed("ann", 10)),
        recorded("Order-02", 2, placed("bob", 20)),
        recorded("Order-01", 3, OrderEvent::Paid(Paid { amount: 4 })),
        recorded("Order-03", 4, placed("ann", 30)),
        recorded("Order-03", 5, OrderEvent::Cancelled),
    ]
}

#[test]
fn the_test_kit_answers_sql_queries_from_the_projections_tables() {
    eventsmith::testing::given(kit_history())
        .then_query(GetOrder("01".into()), Some(row("01", "ann", 10, 4, false, 2)))
        .then_query(GetOrder("03".into()), Some(row("03", "ann", 30, 0, true, 2)))
        .then_query(GetOrder("04".into()), None)
        .then_query(CustomerOrders { customer: "ann".into() }, vec!["01".to_owned(), "03".into()])
        .then_query(CustomerTotal("ann".into()), Some(40));
}

#[test]
#[should_panic(expected = "GetOrder(\"02\") answered")]
fn the_test_kit_fails_on_another_sql_answer() {
    eventsmith::testing::given(kit_history()).then_query(GetOrder("02".into()), None);
}

/// An event the tables refuse fails the test, naming it.
#[test]
#[should_panic(expected = "the given event #2 cannot be applied")]
fn the_test_kit_fails_on_an_event_the_tables_refuse() {
    let placed = OrderEvent::Placed(Placed { customer: "ann".into(), total: 5_000_000 });
    eventsmith::testing::given(vec![kit_history().remove(0), recorded("Order-09", 2, placed)])
        .then_query(GetOrder("01".into()), None);
}

/// On PostgreSQL, the same answers from a schema of the kit's own, dropped after each
/// answer, also after one that fails the test. (The other kit tests here use SQLite: `.ci/run`
/// does not set `EVENTSMITH_TEST_POSTGRES_URL`, so no other test makes such schemas at once.)
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_kit_answers_sql_queries_from_postgres() {
    let url = support::postgres::url();
    let given = eventsmith::testing::given(kit_history()).on_postgres(&url);
    assert_eq!(given.database(), &eventsmith::testing::KitDatabase::Postgres { url: url.clone() });
    given
        .then_query(GetOrder("01".into()), Some(row("01", "ann", 10, 4, false, 2)))
        .then_query(GetOrder("03".into()), Some(row("03", "ann", 30, 0, true, 2)))
        .then_query(CustomerOrders { customer: "ann".into() }, vec!["01".to_owned(), "03".into()])
        .then_query(CustomerTotal("ann".into()), Some(40));
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        given.then_query(GetOrder("02".into()), None);
    }));
    let message = failed.expect_err("another answer fails the test");
    assert!(message.downcast_ref::<String>().is_some_and(|text| text.contains("GetOrder(\"02\") answered")));
    let admin = support::postgres::admin().await;
    let left = admin
        .query_one("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'eventsmith\\_kit\\_%'", &[])
        .await
        .unwrap();
    assert_eq!(left.get::<_, i64>(0), 0, "the kit left a schema behind");
}

/// Inside a test's own runtime, too.
#[tokio::test]
async fn the_test_kit_answers_sql_queries_inside_an_async_test() {
    eventsmith::testing::given(kit_history()).then_query(CustomerTotal("bob".into()), Some(20));
}
