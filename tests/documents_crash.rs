//! A process killed with SIGKILL while it applies a document projection leaves a read model
//! that, once another process has caught it up, equals a rebuild from zero: no event lost,
//! none applied twice, no batch half-written. In a SQLite file and, with the `postgres`
//! feature, in PostgreSQL.
//!
//! This test binary has no harness: run plainly, it writes the log, starts itself again as
//! a child that applies the projection in batches until it is killed, kills it once the
//! checkpoint has moved (so in the middle of the catch-up, where the child spends its time
//! in batches), then catches up in this process and compares every document with a rebuild.

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use eventsmith::documents::{DocumentStore, Documents, SqliteDocuments};
use eventsmith::prelude::*;
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

const CHILD: &str = "EVENTSMITH_DOCUMENTS_CRASH_CHILD";
const ORDERS: u64 = 6_000;
const PAYMENTS: u64 = 4;
const BATCH: usize = 250;

/// Where the read model is: `sqlite:<path>` or `postgres:<schema>`.
async fn open_models(place: &str) -> Arc<dyn DocumentStore> {
    match place.split_once(':') {
        Some(("sqlite", path)) => Arc::new(SqliteDocuments::open(path).await.expect("open the SQLite read model")),
        #[cfg(feature = "postgres")]
        Some(("postgres", schema)) => {
            use eventsmith::documents::{PostgresDocumentOptions, PostgresDocuments};
            let options = PostgresDocumentOptions { schema: schema.to_owned(), ..PostgresDocumentOptions::default() };
            Arc::new(
                PostgresDocuments::connect_with(&support::postgres::url(), options).await.expect("open PostgreSQL"),
            )
        }
        _ => panic!("no read-model database {place}"),
    }
}

async fn app(events: &str, place: &str) -> App {
    let options = SqliteOptions { durability: Durability::Normal, ..SqliteOptions::default() };
    App::builder()
        .store(SqliteStore::open_with(events, options).await.expect("open the events"))
        .shared_documents(open_models(place).await)
        .document_projection::<OrderTotals>()
        .document_batch(BATCH)
        .build()
        .await
        .expect("build the app")
}

/// The child: catches the projection up (building the app does) until it is killed.
async fn apply_until_killed(events: &str, place: &str) {
    let app = app(events, place).await;
    app.update_documents::<OrderTotals>().await.expect("apply");
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
    let mut child = Command::new(std::env::current_exe().expect("this test's path"))
        .env(CHILD, format!("{events}\n{place}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start the child");
    // Kill it once it has committed 3 to 42 batches (a different number each run), while it
    // is still applying.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let threshold = (BATCH as u64) * (3 + u64::from(nanos % 40));
    let mut at_kill = 0;
    for _ in 0..6000 {
        at_kill = documents.checkpoint().await.unwrap();
        if at_kill >= threshold {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = child.kill();
    let status = child.wait().expect("the child ends");
    let killed = documents.checkpoint().await.unwrap();
    assert!(!status.success(), "the child ended on its own: {status}");
    assert!(at_kill > 0 && killed < head, "{place}: killed at checkpoint {killed} of {head}: not in the middle");
    println!("{place}: child killed ({status}) at checkpoint {killed} of {head}");

    // Another process catches up from the checkpoint the killed one committed.
    let survivor = app(events, place).await;
    survivor.update_documents::<OrderTotals>().await.unwrap();
    assert_eq!(documents.checkpoint().await.unwrap(), head);
    let caught_up = all_documents(&documents).await;

    // A rebuild from zero, in a database of its own.
    let rebuilt_app = app(events, fresh_place).await;
    let rebuilt = all_documents(&rebuilt_app.documents::<OrderTotals>().unwrap()).await;
    assert_eq!(rebuilt.len() as u64, ORDERS);
    assert!(rebuilt.iter().all(|(_, totals)| totals.events == 1 + PAYMENTS && totals.paid == 10));
    assert!(caught_up == rebuilt, "{place}: the caught-up read model differs from a rebuild");
    println!("{place}: {} documents equal to a rebuild from zero", caught_up.len());
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if let Ok(child) = std::env::var(CHILD) {
        let (events, place) = child.split_once('\n').expect("events and place");
        runtime.block_on(apply_until_killed(events, place));
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
        #[cfg(feature = "postgres")]
        kill_mid_batch_and_compare(
            events,
            &format!("postgres:{}", support::postgres::unique_schema()),
            &format!("postgres:{}", support::postgres::unique_schema()),
            head,
        )
        .await;
    });
    println!("test documents_crash ... ok");
}
