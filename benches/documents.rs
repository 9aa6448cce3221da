//! Document read models in SQLite against hand-written rusqlite code doing the same work, in
//! the same run, as paired ratios (eventsmith time / hand-written time; below 1 is faster):
//!
//! - **rebuild**: every event of the log applied into documents, from an empty read model.
//!   eventsmith: `app.rebuild_documents::<D>()`. By hand: the same reads of the events table
//!   in position order, the same serde decodes, the documents of each batch of 1,024 events
//!   loaded by key, applied, and written back with the checkpoint in one transaction.
//! - **get**: one document by key. eventsmith: `documents.get(key)`. By hand: a prepared
//!   `SELECT` of the same row on a connection of its own, decoded with serde.
//!
//! `cargo bench --bench documents` (200,000 events into 20,000 documents);
//! `EVENTSMITH_BENCH_EVENTS=1000000` for the size (100,000 documents).
//!
//! With `--features postgres`, the same on PostgreSQL (`EVENTSMITH_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`): the events in a `PostgresStore`, the read
//! model in `PostgresDocuments`, each in a schema the benchmark creates and drops; by hand,
//! tokio-postgres reading the same events table, loading a batch's documents with one
//! `key = ANY($1)` and writing them with one `unnest` upsert and the checkpoint, in one
//! transaction, into a table of its own (`key text PRIMARY KEY, document jsonb`).

use std::collections::HashMap;
use std::path::Path;

use eventsmith::SqliteStore;
use eventsmith::documents::{Documents, SqliteDocuments};
use eventsmith::prelude::*;
use eventsmith::store::{Durability, NewEvent, SqliteOptions};
use rusqlite::{Connection, OptionalExtension, params};

mod support;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    pub customer: u32,
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
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub customer: u32,
    pub total: u64,
    pub paid: u64,
    pub events: u64,
}

impl Summary {
    fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Placed(placed) => {
                self.customer = placed.customer;
                self.total = placed.total;
            }
            OrderEvent::Paid(paid) => self.paid += paid.amount,
        }
        self.events += 1;
    }
}

#[projection(name = "summaries", events = OrderEvent, documents)]
impl Summary {
    #[apply]
    fn placed(&mut self, event: &Recorded<Placed>) {
        self.customer = event.customer;
        self.total = event.total;
        self.events += 1;
    }

    #[apply]
    fn paid(&mut self, event: &Recorded<Paid>) {
        self.paid += event.amount;
        self.events += 1;
    }
}

const BATCH: usize = 1024;

/// `events` events in streams of ten (a placement and nine payments), interleaved across
/// streams as commands of many orders would be.
async fn write_log(path: &Path, events: u64) {
    let options = SqliteOptions { durability: Durability::Normal, ..SqliteOptions::default() };
    let store = SqliteStore::open_with(path, options).await.unwrap();
    let orders = events / 10;
    for round in 0..10u64 {
        for order in 0..orders {
            let event = if round == 0 {
                OrderEvent::Placed(Placed { customer: (order % 1000) as u32, total: order })
            } else {
                OrderEvent::Paid(Paid { amount: round })
            };
            store
                .append(&format!("Order-{order}"), ExpectedVersion::Any, vec![NewEvent::encode(&event).unwrap()])
                .await
                .unwrap();
        }
    }
}

/// The hand-written rebuild: the same reads, decodes, loads and batched upserts.
fn rebuild_by_hand(events: &Connection, views: &mut Connection) -> u64 {
    views.execute_batch("DELETE FROM documents; DELETE FROM checkpoint;").unwrap();
    let mut read = events
        .prepare_cached(
            "SELECT position, stream_id, event_type, payload FROM events WHERE position > ?1 ORDER BY position LIMIT ?2",
        )
        .unwrap();
    let mut after = 0_i64;
    let mut applied = 0;
    loop {
        let mut batch: Vec<(String, OrderEvent)> = Vec::with_capacity(BATCH);
        let mut last = after;
        let mut rows = read.query(params![after, BATCH as i64]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            last = row.get(0).unwrap();
            let stream: String = row.get(1).unwrap();
            let event_type: String = row.get(2).unwrap();
            let payload: Vec<u8> = row.get(3).unwrap();
            let event = match event_type.as_str() {
                "Placed" => OrderEvent::Placed(serde_json::from_slice(&payload).unwrap()),
                "Paid" => OrderEvent::Paid(serde_json::from_slice(&payload).unwrap()),
                other => panic!("unknown event {other}"),
            };
            let key = stream.split_once('-').map_or(stream.as_str(), |(_, id)| id).to_owned();
            batch.push((key, event));
        }
        drop(rows);
        if batch.is_empty() {
            return applied;
        }
        let transaction = views.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
        let mut documents: HashMap<String, Summary> = HashMap::with_capacity(batch.len());
        {
            let mut load = transaction.prepare_cached("SELECT document FROM documents WHERE key = ?1").unwrap();
            for (key, _) in &batch {
                if !documents.contains_key(key) {
                    let stored: Option<String> = load.query_row([key], |row| row.get(0)).optional().unwrap();
                    let document = stored.map(|json| serde_json::from_str(&json).unwrap()).unwrap_or_default();
                    documents.insert(key.clone(), document);
                }
            }
        }
        applied += batch.len() as u64;
        for (key, event) in &batch {
            documents.get_mut(key).unwrap().apply(event);
        }
        {
            let mut upsert = transaction
                .prepare_cached(
                    "INSERT INTO documents (key, document) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET document = excluded.document",
                )
                .unwrap();
            for (key, document) in &documents {
                upsert.execute(params![key, serde_json::to_string(document).unwrap()]).unwrap();
            }
        }
        transaction
            .execute(
                "INSERT INTO checkpoint (id, position) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET position = excluded.position",
                [last],
            )
            .unwrap();
        transaction.commit().unwrap();
        after = last;
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::collections::HashMap;

    use eventsmith::PostgresStore;
    use eventsmith::documents::{PostgresDocumentOptions, PostgresDocuments};
    use eventsmith::prelude::*;
    use eventsmith::store::{NewEvent, PostgresOptions};
    use tokio_postgres::{Client, NoTls};

    use super::{BATCH, OrderEvent, Paid, Placed, Summary};

    fn url() -> String {
        std::env::var("EVENTSMITH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    }

    /// The log of `write_log`, appended by 8 writers at once (each its own share of the
    /// orders, round by round): interleaved across streams as on SQLite.
    async fn write_log(store: &PostgresStore, events: u64) {
        let orders = events / 10;
        let writers: Vec<_> = (0..8u64)
            .map(|writer| {
                let store = store.clone();
                tokio::spawn(async move {
                    for round in 0..10u64 {
                        for order in (writer..orders).step_by(8) {
                            let event = if round == 0 {
                                OrderEvent::Placed(Placed { customer: (order % 1000) as u32, total: order })
                            } else {
                                OrderEvent::Paid(Paid { amount: round })
                            };
                            let new = vec![NewEvent::encode(&event).unwrap()];
                            store.append(&format!("Order-{order}"), ExpectedVersion::Any, new).await.unwrap();
                        }
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
    }

    /// The hand-written rebuild on PostgreSQL.
    async fn rebuild_by_hand(client: &mut Client, events: &str, views: &str) -> u64 {
        client.batch_execute(&format!("TRUNCATE {views}.documents; DELETE FROM {views}.checkpoint")).await.unwrap();
        let read = client
            .prepare(&format!(
                "SELECT position, stream_id, event_type, payload FROM {events}.events WHERE position > $1 \
                 ORDER BY position LIMIT $2"
            ))
            .await
            .unwrap();
        let load = client
            .prepare(&format!("SELECT key, document::text FROM {views}.documents WHERE key = ANY($1)"))
            .await
            .unwrap();
        let upsert = client
            .prepare(&format!(
                "INSERT INTO {views}.documents (key, document) \
                 SELECT key, document::jsonb FROM unnest($1::text[], $2::text[]) AS batch (key, document) \
                 ON CONFLICT (key) DO UPDATE SET document = excluded.document"
            ))
            .await
            .unwrap();
        let checkpoint = client
            .prepare(&format!(
                "INSERT INTO {views}.checkpoint (id, position) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET position = excluded.position"
            ))
            .await
            .unwrap();
        let (mut after, mut applied) = (0_i64, 0);
        loop {
            let rows = client.query(&read, &[&after, &(BATCH as i64)]).await.unwrap();
            let Some(last) = rows.last() else { return applied };
            after = last.get(0);
            let batch: Vec<(String, OrderEvent)> = rows
                .iter()
                .map(|row| {
                    let stream: &str = row.get(1);
                    let payload: &[u8] = row.get(3);
                    let event = match row.get::<_, &str>(2) {
                        "Placed" => OrderEvent::Placed(serde_json::from_slice(payload).unwrap()),
                        "Paid" => OrderEvent::Paid(serde_json::from_slice(payload).unwrap()),
                        other => panic!("unknown event {other}"),
                    };
                    (stream.split_once('-').map_or(stream, |(_, id)| id).to_owned(), event)
                })
                .collect();
            let transaction = client.transaction().await.unwrap();
            let mut keys: Vec<&String> = batch.iter().map(|(key, _)| key).collect();
            keys.sort_unstable();
            keys.dedup();
            let mut documents: HashMap<String, Summary> = transaction
                .query(&load, &[&keys])
                .await
                .unwrap()
                .iter()
                .map(|row| (row.get::<_, String>(0), serde_json::from_str(row.get(1)).unwrap()))
                .collect();
            for (key, event) in &batch {
                documents.entry(key.clone()).or_default().apply(event);
            }
            applied += batch.len() as u64;
            let (keys, jsons): (Vec<String>, Vec<String>) =
                documents.iter().map(|(key, document)| (key.clone(), serde_json::to_string(document).unwrap())).unzip();
            transaction.execute(&upsert, &[&keys, &jsons]).await.unwrap();
            transaction.execute(&checkpoint, &[&after]).await.unwrap();
            transaction.commit().await.unwrap();
        }
    }

    pub fn run(runtime: &tokio::runtime::Runtime, events: u64) {
        let suffix = format!("{}_{}", std::process::id(), uuid::Uuid::now_v7().simple());
        let (events_schema, views_schema, raw_schema) =
            (format!("bench_ev_{suffix}"), format!("bench_rm_{suffix}"), format!("bench_raw_{suffix}"));
        let (mut raw, app) = runtime.block_on(async {
            let store = PostgresStore::connect_with(
                &url(),
                PostgresOptions { schema: events_schema.clone(), ..PostgresOptions::default() },
            )
            .await
            .unwrap();
            write_log(&store, events).await;
            let options =
                PostgresDocumentOptions { schema: views_schema.clone(), ..PostgresDocumentOptions::default() };
            let app = App::builder()
                .store(store)
                .documents_in(PostgresDocuments::connect_with(&url(), options).await.unwrap())
                .document_projection::<Summary>()
                .build()
                .await
                .unwrap();
            let (raw, connection) = tokio_postgres::connect(&url(), NoTls).await.unwrap();
            tokio::spawn(connection);
            raw.batch_execute(&format!(
                "CREATE SCHEMA {raw_schema};
                 CREATE TABLE {raw_schema}.documents (key text COLLATE \"C\" PRIMARY KEY, document jsonb NOT NULL);
                 CREATE TABLE {raw_schema}.checkpoint (id integer PRIMARY KEY, position bigint NOT NULL);"
            ))
            .await
            .unwrap();
            (raw, app)
        });
        assert_eq!(runtime.block_on(app.rebuild_documents::<Summary>()).unwrap(), events);
        assert_eq!(runtime.block_on(rebuild_by_hand(&mut raw, &events_schema, &raw_schema)), events);
        let documents = app.documents::<Summary>().unwrap();
        for key in ["0", "7", &(events / 10 - 1).to_string()] {
            let ours = runtime.block_on(documents.get(key)).unwrap().unwrap();
            let theirs: String = runtime.block_on(async {
                let sql = format!("SELECT document::text FROM {raw_schema}.documents WHERE key = $1");
                raw.query_one(&sql, &[&key]).await.unwrap().get(0)
            });
            assert_eq!(ours, serde_json::from_str::<Summary>(&theirs).unwrap());
        }
        let (ratio, ours, by_hand) = super::support::paired_ratio(
            5,
            || {
                runtime.block_on(app.rebuild_documents::<Summary>()).unwrap();
            },
            || {
                runtime.block_on(rebuild_by_hand(&mut raw, &events_schema, &raw_schema));
            },
        );
        println!(
            "postgres: rebuild {events} events into {} documents: eventsmith {ours:.0} ms, by hand {by_hand:.0} ms, \
             eventsmith/by-hand time {ratio:.3} (throughput {:.2}x)",
            events / 10,
            1.0 / ratio
        );
        let keys: Vec<String> = (0..2000).map(|n| ((n * 7919) % (events / 10)).to_string()).collect();
        let select = runtime
            .block_on(raw.prepare(&format!("SELECT document::text FROM {raw_schema}.documents WHERE key = $1")))
            .unwrap();
        let (ratio, ours, by_hand) = super::support::paired_ratio(
            11,
            || {
                runtime.block_on(async {
                    for key in &keys {
                        std::hint::black_box(documents.get(key).await.unwrap());
                    }
                });
            },
            || {
                runtime.block_on(async {
                    for key in &keys {
                        let row = raw.query_one(&select, &[key]).await.unwrap();
                        std::hint::black_box(serde_json::from_str::<Summary>(row.get(0)).unwrap());
                    }
                });
            },
        );
        println!(
            "postgres: get by key (2,000 gets): eventsmith {:.1} us, by hand {:.1} us per get, eventsmith/by-hand time \
             {ratio:.3} (throughput {:.2}x)",
            ours * 1e3 / 2000.0,
            by_hand * 1e3 / 2000.0,
            1.0 / ratio
        );
        drop(app);
        runtime.block_on(async {
            for schema in [&events_schema, &views_schema, &raw_schema] {
                raw.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
            }
        });
    }
}

fn main() {
    let events: u64 =
        std::env::var("EVENTSMITH_BENCH_EVENTS").ok().and_then(|value| value.parse().ok()).unwrap_or(200_000);
    let directory = std::env::temp_dir().join(format!("eventsmith-bench-documents-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    let (log, views, raw_views) = (directory.join("events.db"), directory.join("views.db"), directory.join("raw.db"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    runtime.block_on(write_log(&log, events));
    let app = runtime.block_on(async {
        App::builder()
            .store(SqliteStore::open(&log).await.unwrap())
            .documents_in(SqliteDocuments::open(&views).await.unwrap())
            .document_projection::<Summary>()
            .build()
            .await
            .unwrap()
    });
    let events_connection = Connection::open(&log).unwrap();
    let mut raw = Connection::open(&raw_views).unwrap();
    raw.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE documents (key TEXT PRIMARY KEY, document TEXT NOT NULL) WITHOUT ROWID;
         CREATE TABLE checkpoint (id INTEGER PRIMARY KEY, position INTEGER NOT NULL);",
    )
    .unwrap();

    // Both produce the same documents.
    assert_eq!(runtime.block_on(app.rebuild_documents::<Summary>()).unwrap(), events);
    assert_eq!(rebuild_by_hand(&events_connection, &mut raw), events);
    let documents: Documents<Summary> = app.documents::<Summary>().unwrap();
    for key in ["0", "7", &(events / 10 - 1).to_string()] {
        let ours = runtime.block_on(documents.get(key)).unwrap().unwrap();
        let theirs: String =
            raw.query_row("SELECT document FROM documents WHERE key = ?1", [key], |row| row.get(0)).unwrap();
        assert_eq!(ours, serde_json::from_str::<Summary>(&theirs).unwrap());
    }

    let (ratio, ours, by_hand) = support::paired_ratio(
        5,
        || {
            runtime.block_on(app.rebuild_documents::<Summary>()).unwrap();
        },
        || {
            rebuild_by_hand(&events_connection, &mut raw);
        },
    );
    println!(
        "rebuild {events} events into {} documents: eventsmith {ours:.0} ms, by hand {by_hand:.0} ms, \
         eventsmith/by-hand time {ratio:.3} (throughput {:.2}x)",
        events / 10,
        1.0 / ratio
    );

    let keys: Vec<String> = (0..2000).map(|n| ((n * 7919) % (events / 10)).to_string()).collect();
    let mut select = raw.prepare_cached("SELECT document FROM documents WHERE key = ?1").unwrap();
    let (ratio, ours, by_hand) = support::paired_ratio(
        21,
        || {
            runtime.block_on(async {
                for key in &keys {
                    std::hint::black_box(documents.get(key).await.unwrap());
                }
            });
        },
        || {
            for key in &keys {
                let json: String = select.query_row([key], |row| row.get(0)).unwrap();
                std::hint::black_box(serde_json::from_str::<Summary>(&json).unwrap());
            }
        },
    );
    println!(
        "get by key (2,000 gets): eventsmith {:.1} us, by hand {:.1} us per get, eventsmith/by-hand time {ratio:.3} \
         (throughput {:.2}x)",
        ours * 1e3 / 2000.0,
        by_hand * 1e3 / 2000.0,
        1.0 / ratio
    );
    drop(select);
    let _ = std::fs::remove_dir_all(&directory);
    #[cfg(feature = "postgres")]
    postgres::run(&runtime, events);
}
