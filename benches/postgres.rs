//! `PostgresStore` against raw tokio-postgres doing the equivalent SQL on a table of the same
//! shape, in the same run, in a schema the benchmark creates and drops. Prints each ratio.
//!
//! `cargo bench --bench postgres --features postgres` (server: `EVENTSMITH_POSTGRES_URL`,
//! default `postgres://postgres@127.0.0.1:5432/test`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use eventsmith::PostgresStore;
use eventsmith::prelude::*;
use eventsmith::store::{EventStore, NewEvent, PostgresOptions};
use tokio_postgres::{Client, NoTls};

mod support;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum AccountEvent {
    Deposited(Deposited),
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Account {
    balance: i64,
    count: u64,
}

#[aggregate(event = AccountEvent, error = Never)]
impl Account {
    #[apply]
    fn deposited(&mut self, event: &Deposited) {
        self.balance += event.amount;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
pub struct Totals {
    total: i64,
}

#[derive(Debug)]
pub struct Total;

#[projection(name = "totals", events = AccountEvent)]
impl Totals {
    #[apply]
    fn deposited(&mut self, event: &Recorded<Deposited>) {
        self.total += event.amount;
    }

    #[query]
    fn total(&self, _: Total) -> i64 {
        self.total
    }
}

fn url() -> String {
    std::env::var("EVENTSMITH_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn new_event(index: u64) -> NewEvent {
    let event = AccountEvent::from(Deposited { amount: (index % 7) as i64 + 1 });
    NewEvent::encode(&event).unwrap()
}

async fn raw_client(schema: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(&url(), NoTls).await.expect("connect");
    tokio::spawn(connection);
    client.execute("SELECT set_config('search_path', $1, false)", &[&schema]).await.unwrap();
    client
}

const RAW_TABLE: &str = "CREATE TABLE raw_events (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id uuid NOT NULL UNIQUE,
    stream_id text NOT NULL, stream_version bigint NOT NULL, event_type text NOT NULL,
    event_version integer NOT NULL, payload bytea NOT NULL, metadata bytea,
    recorded_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream_id, stream_version));
    CREATE INDEX raw_events_by_type ON raw_events (event_type, position);";

const RAW_INSERT: &str =
    "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, event_version, payload)
    VALUES ($1, $2, $3, $4, $5, $6)";

async fn raw_insert(
    client: &Client,
    statement: &tokio_postgres::Statement,
    stream: &str,
    version: i64,
    event: &NewEvent,
) {
    client
        .execute(statement, &[&event.id, &stream, &version, &event.event_type.as_ref(), &1_i32, &event.payload])
        .await
        .unwrap();
}

struct Bench {
    runtime: tokio::runtime::Runtime,
    schema: String,
    store: PostgresStore,
    app: App,
    admin: Client,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let schema = format!("es_bench_{}", std::process::id());
    let (store, admin) = runtime.block_on(async {
        let admin = raw_client("public").await;
        let exists: bool = admin
            .query_one("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", &[&schema])
            .await
            .unwrap()
            .get(0);
        assert!(!exists, "schema {schema} exists already at {}: the benchmark only uses a schema it creates", url());
        let options = PostgresOptions { schema: schema.clone(), ..PostgresOptions::default() };
        let store = PostgresStore::connect_with(&url(), options).await.expect("open the store");
        admin.execute("SELECT set_config('search_path', $1, false)", &[&schema]).await.unwrap();
        admin.batch_execute(RAW_TABLE).await.unwrap();
        (store, admin)
    });
    println!("benchmarking against {} in schema {schema} (dropped at the end)", url());
    let app = runtime.block_on(App::builder().store(store.clone()).build()).unwrap();
    let bench = Bench { runtime, schema, store, app, admin };
    let mut criterion = Criterion::default().configure_from_args();
    let mut results = Vec::new();
    // EVENTSMITH_BENCH_CASES=sequential,concurrent,batch,load,catch_up picks cases; all by default.
    let cases = std::env::var("EVENTSMITH_BENCH_CASES").unwrap_or_default();
    let run = |case: &str| cases.is_empty() || cases.split(',').any(|wanted| wanted == case);
    if run("sequential") {
        sequential(&bench, &mut criterion, &mut results);
    }
    if run("concurrent") {
        concurrent(&bench, &mut results);
    }
    if run("batch") {
        batches(&bench, &mut criterion, &mut results);
    }
    if run("load") {
        load(&bench, &mut criterion, &mut results);
    }
    if run("catch_up") {
        catch_up(&bench, &mut results);
    }
    criterion.final_summary();
    bench.runtime.block_on(bench.admin.batch_execute(&format!("DROP SCHEMA {} CASCADE", bench.schema))).unwrap();
    println!();
    for line in results {
        println!("{line}");
    }
}

fn sequential(bench: &Bench, c: &mut Criterion, results: &mut Vec<String>) {
    let counter = std::cell::Cell::new(0_u64);
    let ours = |count: u64| {
        bench.runtime.block_on(async {
            for _ in 0..count {
                let index = counter.get();
                counter.set(index + 1);
                bench
                    .store
                    .append(&format!("seq-{index}"), ExpectedVersion::NoStream, vec![new_event(index)])
                    .await
                    .unwrap();
            }
        });
    };
    let raw_statement = bench.runtime.block_on(bench.admin.prepare(RAW_INSERT)).unwrap();
    let raw = |count: u64| {
        bench.runtime.block_on(async {
            for _ in 0..count {
                let index = counter.get();
                counter.set(index + 1);
                raw_insert(&bench.admin, &raw_statement, &format!("seq-{index}"), 1, &new_event(index)).await;
            }
        });
    };
    let mut group = c.benchmark_group("postgres_append_1");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.bench_function("eventsmith", |b| b.iter_custom(|iters| timed(|| ours(iters))));
    group.bench_function("raw_insert", |b| b.iter_custom(|iters| timed(|| raw(iters))));
    group.finish();
    let (ratio, a, b) = support::paired_ratio(20, || ours(25), || raw(25));
    results.push(format!(
        "sequential one-event appends, 20 pairs of 25: eventsmith {:.1} us, raw INSERT {:.1} us, throughput {:.2}x raw",
        a * 1e3 / 25.0,
        b * 1e3 / 25.0,
        1.0 / ratio
    ));
}

fn timed(f: impl FnOnce()) -> std::time::Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn concurrent(bench: &Bench, results: &mut Vec<String>) {
    const TASKS: usize = 8;
    const EACH: u64 = 50;
    let round = std::cell::Cell::new(0_u64);
    let ours = || {
        let round_index = round.get();
        round.set(round_index + 1);
        bench.runtime.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|task| {
                    let store = bench.store.clone();
                    tokio::spawn(async move {
                        for index in 0..EACH {
                            let stream = format!("conc-{round_index}-{task}");
                            let expected = ExpectedVersion::Exact(index);
                            store.append(&stream, expected, vec![new_event(index)]).await.unwrap();
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
    };
    let clients: Vec<Arc<Client>> = bench.runtime.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..TASKS {
            clients.push(Arc::new(raw_client(&bench.schema).await));
        }
        clients
    });
    let raw = || {
        let round_index = round.get();
        round.set(round_index + 1);
        bench.runtime.block_on(async {
            let tasks: Vec<_> = clients
                .iter()
                .enumerate()
                .map(|(task, client)| {
                    let client = Arc::clone(client);
                    tokio::spawn(async move {
                        let statement = client.prepare(RAW_INSERT).await.unwrap();
                        for index in 0..EACH {
                            let stream = format!("conc-{round_index}-{task}");
                            raw_insert(
                                &client,
                                &statement,
                                &stream,
                                i64::try_from(index).unwrap() + 1,
                                &new_event(index),
                            )
                            .await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
    };
    let (ratio, a, b) = support::paired_ratio(6, ours, raw);
    let events = (TASKS as u64 * EACH) as f64;
    results.push(format!(
        "8 concurrent tasks, disjoint streams, 6 pairs of 400 appends: eventsmith {:.0} appends/s, raw INSERT on 8 connections {:.0}/s, throughput {:.2}x raw",
        events / (a / 1e3),
        events / (b / 1e3),
        1.0 / ratio
    ));
}

fn batches(bench: &Bench, c: &mut Criterion, results: &mut Vec<String>) {
    let counter = std::cell::Cell::new(0_u64);
    let batch = || (0..1000).map(new_event).collect::<Vec<_>>();
    let ours = || {
        let index = counter.get();
        counter.set(index + 1);
        let events = batch();
        bench
            .runtime
            .block_on(bench.store.append(&format!("batch-{index}"), ExpectedVersion::NoStream, events))
            .unwrap();
    };
    let raw_sql = "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, event_version, payload)
        SELECT i.id, $1, i.n, i.t, 1, i.p FROM unnest($2::uuid[], $3::text[], $4::bytea[]) WITH ORDINALITY AS i(id, t, p, n)";
    let raw = || {
        let index = counter.get();
        counter.set(index + 1);
        let events = batch();
        let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id).collect();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_ref()).collect();
        let payloads: Vec<&[u8]> = events.iter().map(|e| e.payload.as_slice()).collect();
        bench
            .runtime
            .block_on(bench.admin.execute(raw_sql, &[&format!("batch-{index}"), &ids, &types, &payloads]))
            .unwrap();
    };
    let mut group = c.benchmark_group("postgres_append_1000");
    group.throughput(Throughput::Elements(1000));
    group.sample_size(10);
    group.bench_function("eventsmith", |b| b.iter(ours));
    group.bench_function("raw_insert_unnest", |b| b.iter(raw));
    group.finish();
    let (ratio, a, b) = support::paired_ratio(10, ours, raw);
    results.push(format!(
        "append a batch of 1,000 events, 10 pairs: eventsmith {a:.2} ms, raw INSERT ... unnest {b:.2} ms, throughput {:.2}x raw",
        1.0 / ratio
    ));
}

fn load(bench: &Bench, c: &mut Criterion, results: &mut Vec<String>) {
    bench.runtime.block_on(async {
        for chunk in 0..10 {
            let events: Vec<NewEvent> = (0..1000).map(|index| new_event(chunk * 1000 + index)).collect();
            bench.store.append("Account-10k", ExpectedVersion::Any, events.clone()).await.unwrap();
            let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id).collect();
            let types: Vec<&str> = events.iter().map(|e| e.event_type.as_ref()).collect();
            let payloads: Vec<&[u8]> = events.iter().map(|e| e.payload.as_slice()).collect();
            let first = i64::try_from(chunk * 1000).unwrap();
            bench
                .admin
                .execute(
                    "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, event_version, payload)
                     SELECT i.id, 'Account-10k', $4 + i.n, i.t, 1, i.p FROM unnest($1::uuid[], $2::text[], $3::bytea[]) WITH ORDINALITY AS i(id, t, p, n)",
                    &[&ids, &types, &payloads, &first],
                )
                .await
                .unwrap();
        }
    });
    let statement = bench
        .runtime
        .block_on(bench.admin.prepare(
            "SELECT event_type, event_version, payload FROM raw_events WHERE stream_id = $1 ORDER BY stream_version",
        ))
        .unwrap();
    let raw = || {
        bench.runtime.block_on(async {
            let rows = bench.admin.query(&statement, &[&"Account-10k"]).await.unwrap();
            let mut state = Account::default();
            for row in &rows {
                let event =
                    AccountEvent::decode(row.get(0), u32::try_from(row.get::<_, i32>(1)).unwrap(), row.get(2)).unwrap();
                match event {
                    AccountEvent::Deposited(event) => {
                        state.balance += event.amount;
                        state.count += 1;
                    }
                }
            }
            state
        })
    };
    let ours = || bench.runtime.block_on(bench.app.load::<Account>("10k")).unwrap().state;
    assert_eq!(ours(), raw(), "both loads compute the same state");
    let mut group = c.benchmark_group("postgres_load_10k");
    group.throughput(Throughput::Elements(10_000));
    group.sample_size(20);
    group.bench_function("eventsmith", |b| b.iter(|| black_box(ours())));
    group.bench_function("raw_select_decode_fold", |b| b.iter(|| black_box(raw())));
    group.finish();
    let (ratio, a, b) = support::paired_ratio(
        30,
        || {
            black_box(ours());
        },
        || {
            black_box(raw());
        },
    );
    results.push(format!(
        "load and fold 10,000 events, 30 pairs: eventsmith {a:.2} ms, raw SELECT + typed decode + fold {b:.2} ms, time {ratio:.2}x raw"
    ));
}

fn catch_up(bench: &Bench, results: &mut Vec<String>) {
    let store: Arc<dyn EventStore> = Arc::new(bench.store.clone());
    let head = bench.runtime.block_on(async {
        for chunk in 0..90 {
            let events: Vec<NewEvent> = (0..1000).map(|index| new_event(chunk * 1000 + index)).collect();
            store.append(&format!("catch-{chunk}"), ExpectedVersion::Any, events).await.unwrap();
        }
        let count: i64 = bench.admin.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0);
        count
    });
    let statement = bench
        .runtime
        .block_on(bench.admin.prepare(
            "SELECT position, event_type, event_version, payload FROM events WHERE position > $1 ORDER BY position LIMIT 1024",
        ))
        .unwrap();
    let raw = || {
        bench.runtime.block_on(async {
            let (mut total, mut after) = (0_i64, 0_i64);
            loop {
                let rows = bench.admin.query(&statement, &[&after]).await.unwrap();
                for row in &rows {
                    after = row.get(0);
                    let AccountEvent::Deposited(event) =
                        AccountEvent::decode(row.get(1), u32::try_from(row.get::<_, i32>(2)).unwrap(), row.get(3))
                            .unwrap();
                    total += event.amount;
                }
                if rows.len() < 1024 {
                    return total;
                }
            }
        })
    };
    let ours = || {
        bench.runtime.block_on(async {
            let app = App::builder().shared_store(Arc::clone(&store)).projection::<Totals>().build().await.unwrap();
            app.query(Total).await.unwrap()
        })
    };
    assert_eq!(ours(), raw(), "both catch-ups compute the same total");
    let (ratio, a, b) = support::paired_ratio(
        10,
        || {
            black_box(ours());
        },
        || {
            black_box(raw());
        },
    );
    let events = head as f64;
    results.push(format!(
        "global-log catch-up of {head} events, 10 pairs: eventsmith {:.0} events/s, raw SELECT + decode loop {:.0} events/s, throughput {:.2}x raw",
        events / (a / 1e3),
        events / (b / 1e3),
        1.0 / ratio
    ));
}
