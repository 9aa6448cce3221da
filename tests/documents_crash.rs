//! A process killed with SIGKILL while it applies a stored projection (documents, then SQL
//! tables of its own) leaves a read model that, once another process has caught it up,
//! equals a rebuild from zero: no event lost, none applied twice, no batch half-written. In a
//! SQLite file and, with the `postgres` feature, in PostgreSQL.
//!
//! This test binary has no harness: run plainly, it writes the log, starts itself again as
//! a child that applies the projection in batches until it is killed, kills it once the
//! checkpoint has moved (so in the middle of the catch-up, where the child spends its time
//! in batches), then catches up in this process and compares every document with a rebuild.

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use eventsmith::documents::{DocumentStore, Documents};
use eventsmith::prelude::*;
use eventsmith::sql::SqlStore;
use eventsmith::store::{NewEvent, SqliteOptions};
use eventsmith::{SqliteStore, store::Durability};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    pub customer: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paid {
    pub amount: u64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent {
    Placed(Placed),
    Paid(Paid),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderTotals {
    pub customer: u32,
    pub paid: u64,
    pub events: u64,
    pub last_position: u64,
}

#[projection(name = "order_totals", events = OrderEvent, documents(index(customer)))]
impl OrderTotals {
    #[apply]
    fn placed(&mut self, event: &Recorded<Placed>) {
        self.customer = event.customer;
        self.events += 1;
        self.last_position = event.position;
    }

    #[apply]
    fn paid(&mut self, event: &Recorded<Paid>) {
        self.paid += event.amount;
        self.events += 1;
        self.last_position = event.position;
    }
}

/// The same read model in tables of its own: a row per order.
pub struct OrderRows;

/// Every row, in id order: id, customer, paid, events, last position.
#[derive(Debug)]
pub struct AllRows;

#[projection(name = "order_rows", events = OrderEvent, sql(migrations = [
    "CREATE TABLE order_rows (
         id TEXT PRIMARY KEY,
         customer BIGINT NOT NULL,
         paid BIGINT NOT NULL DEFAULT 0,
         events BIGINT NOT NULL DEFAULT 1,
         last_position BIGINT NOT NULL
     )",
]))]
impl OrderRows {
    #[apply]
    async fn placed(sql: &mut Sql<'_>, event: &Recorded<Placed>) -> Result<(), SqlError> {
        // No upsert: a `Placed` applied twice breaks the primary key.
        sql.execute(
            "INSERT INTO order_rows (id, customer, last_position) VALUES ($1, $2, $3)",
            &[&event.stream_id, &event.customer, &event.position],
        )
        .await?;
        Ok(())
    }

    #[apply]
    async fn paid(sql: &mut Sql<'_>, event: &Recorded<Paid>) -> Result<(), SqlError> {
        sql.execute(
            "UPDATE order_rows SET paid = paid + $2, events = events + 1, last_position = $3 WHERE id = $1",
            &[&event.stream_id, &event.amount, &event.position],
        )
        .await?;
        Ok(())
    }

    #[query]
    async fn all(sql: &mut Sql<'_>, _: AllRows) -> Result<Vec<(String, u32, u64, u64, u64)>, SqlError> {
        let rows =
            sql.query("SELECT id, customer, paid, events, last_position FROM order_rows ORDER BY id", &[]).await?;
        rows.iter().map(|row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))).collect()
    }
}

/// Which projection the child applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Documents,
    Sql,
}

const CHILD: &str = "EVENTSMITH_DOCUMENTS_CRASH_CHILD";
const ORDERS: u64 = 6_000;
const PAYMENTS: u64 = 4;
const BATCH: usize = 250;

/// The read-model database at `place` (`sqlite:<path>` or `postgres:<schema>`), as the
/// document store and the SQL store it is.
async fn open(place: &str) -> (Arc<dyn DocumentStore>, Arc<dyn SqlStore>) {
    support::read_models(place).await
}

async fn open_models(place: &str) -> Arc<dyn DocumentStore> {
    open(place).await.0
}

async fn open_tables(place: &str) -> Arc<dyn SqlStore> {
    open(place).await.1
}

async fn app(events: &str, place: &str, form: Form) -> App {
    let options = SqliteOptions { durability: Durability::Normal, ..SqliteOptions::default() };
    let builder = App::builder()
        .store(SqliteStore::open_with(events, options).await.expect("open the events"))
        .document_batch(BATCH);
    let builder = match form {
        Form::Documents => builder.shared_documents(open_models(place).await).document_projection::<OrderTotals>(),
        Form::Sql => builder.shared_sql(open_tables(place).await).sql_projection::<OrderRows>(),
    };
    builder.build().await.expect("build the app")
}

/// The child: catches the projection up (building the app does) until it is killed.
async fn apply_until_killed(events: &str, place: &str, form: Form) {
    let app = app(events, place, form).await;
    match form {
        Form::Documents => app.update_documents::<OrderTotals>().await.expect("apply"),
        Form::Sql => app.update_sql::<OrderRows>().await.expect("apply"),
    };
}

/// Where the child's projection has got, read through `models` (the read-model database
/// opened once: a poll must cost far less than a batch of the child, or the child may finish
/// between two polls).
async fn checkpoint(models: &(Arc<dyn DocumentStore>, Arc<dyn SqlStore>), form: Form) -> u64 {
    match form {
        Form::Documents => models.0.checkpoint("order_totals").await.unwrap().position,
        Form::Sql => models.1.sql_checkpoint("order_rows").await.unwrap(),
    }
}

/// Starts a child applying `form` to `place`, and kills it once it has committed 3 to 42
/// batches (a different number each run), while it is still applying. Returns the
/// checkpoint it left.
async fn kill_child(events: &str, place: &str, form: Form, head: u64) -> u64 {
    let mut child = Command::new(std::env::current_exe().expect("this test's path"))
        .env(CHILD, format!("{events}\n{place}\n{form:?}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start the child");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let threshold = (BATCH as u64) * (3 + u64::from(nanos % 40));
    let models = open(place).await;
    let mut at_kill = 0;
    for _ in 0..30_000 {
        at_kill = checkpoint(&models, form).await;
        if at_kill >= threshold {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let _ = child.kill();
    let status = child.wait().expect("the child ends");
    let killed = checkpoint(&models, form).await;
    assert!(!status.success(), "the child ended on its own: {status}");
    assert!(at_kill > 0 && killed < head, "{place}: killed at checkpoint {killed} of {head}: not in the middle");
    println!("{place}: {form:?} child killed ({status}) at checkpoint {killed} of {head}");
    killed
}

async fn write_log(events: &str) -> u64 {
    let store = SqliteStore::open(events).await.expect("create the events");
    for order in 0..ORDERS {
        let mut batch = vec![NewEvent::encode(&OrderEvent::Placed(Placed { customer: (order % 97) as u32 })).unwrap()];
        for amount in 1..=PAYMENTS {
            batch.push(NewEvent::encode(&OrderEvent::Paid(Paid { amount })).unwrap());
        }
        store.append(&format!("Order-{order}"), ExpectedVersion::NoStream, batch).await.expect("append");
    }
    store.head().await.unwrap()
}

async fn all_documents(documents: &Documents<OrderTotals>) -> Vec<(String, OrderTotals)> {
    let mut all = Vec::new();
    loop {
        let page = documents.list(all.last().map(|(key, _): &(String, OrderTotals)| key.as_str()), 1000).await.unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

async fn kill_mid_batch_and_compare(events: &str, place: &str, fresh_place: &str, head: u64) {
    let documents: Documents<OrderTotals> = Documents::new(open_models(place).await);
    kill_child(events, place, Form::Documents, head).await;

    // Another process catches up from the checkpoint the killed one committed.
    let survivor = app(events, place, Form::Documents).await;
    survivor.update_documents::<OrderTotals>().await.unwrap();
    assert_eq!(documents.checkpoint().await.unwrap(), head);
    let caught_up = all_documents(&documents).await;

    // A rebuild from zero, in a database of its own.
    let rebuilt_app = app(events, fresh_place, Form::Documents).await;
    let rebuilt = all_documents(&rebuilt_app.documents::<OrderTotals>().unwrap()).await;
    assert_eq!(rebuilt.len() as u64, ORDERS);
    assert!(rebuilt.iter().all(|(_, totals)| totals.events == 1 + PAYMENTS && totals.paid == 10));
    assert!(caught_up == rebuilt, "{place}: the caught-up read model differs from a rebuild");
    println!("{place}: {} documents equal to a rebuild from zero", caught_up.len());
}

/// The same for the SQL projection: the rows after the kill and a catch-up, against the rows
/// a process applying the whole log from zero writes.
async fn kill_sql_mid_batch_and_compare(events: &str, place: &str, fresh_place: &str, head: u64) {
    kill_child(events, place, Form::Sql, head).await;
    let survivor = app(events, place, Form::Sql).await;
    survivor.update_sql::<OrderRows>().await.unwrap();
    assert_eq!(checkpoint(&open(place).await, Form::Sql).await, head);
    let caught_up = survivor.query(AllRows).await.unwrap();

    let rebuilt = app(events, fresh_place, Form::Sql).await.query(AllRows).await.unwrap();
    assert_eq!(rebuilt.len() as u64, ORDERS);
    assert!(rebuilt.iter().all(|&(_, _, paid, events, _)| events == 1 + PAYMENTS && paid == 10));
    assert!(caught_up == rebuilt, "{place}: the caught-up tables differ from a rebuild");
    println!("{place}: {} rows equal to a rebuild from zero", caught_up.len());
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if let Ok(child) = std::env::var(CHILD) {
        let mut lines = child.lines();
        let (Some(events), Some(place), Some(form)) = (lines.next(), lines.next(), lines.next()) else {
            panic!("the child is given its events, place and form");
        };
        let form = if form == "Sql" { Form::Sql } else { Form::Documents };
        runtime.block_on(apply_until_killed(events, place, form));
        return;
    }
    runtime.block_on(async {
        let events_path = support::temp_db("documents-crash");
        let events = events_path.to_str().expect("a UTF-8 path");
        let head = write_log(events).await;
        let views = events_path.with_file_name("views.db");
        let rebuilt = events_path.with_file_name("rebuilt.db");
        kill_mid_batch_and_compare(
            events,
            &format!("sqlite:{}", views.display()),
            &format!("sqlite:{}", rebuilt.display()),
            head,
        )
        .await;
        kill_sql_mid_batch_and_compare(
            events,
            &format!("sqlite:{}", events_path.with_file_name("tables.db").display()),
            &format!("sqlite:{}", events_path.with_file_name("tables-rebuilt.db").display()),
            head,
        )
        .await;
        #[cfg(feature = "postgres")]
        {
            kill_mid_batch_and_compare(
                events,
                &format!("postgres:{}", support::postgres::unique_schema()),
                &format!("postgres:{}", support::postgres::unique_schema()),
                head,
            )
            .await;
            kill_sql_mid_batch_and_compare(
                events,
                &format!("postgres:{}", support::postgres::unique_schema()),
                &format!("postgres:{}", support::postgres::unique_schema()),
                head,
            )
            .await;
        }
    });
    println!("test documents_crash ... ok");
}
