//! `SqliteStore` against raw rusqlite doing the same work on the same table shape, with the
//! same durability settings, in the same run. Prints each ratio (eventsmith / raw time).
//!
//! `cargo bench --bench sqlite`

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput};
use eventsmith::SqliteStore;
use eventsmith::prelude::*;
use eventsmith::store::{Durability, NewEvent, Snapshot, SqliteOptions};
use rusqlite::{Connection, params};

mod support;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deposited {
    pub amount: i64,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawn {
    pub amount: i64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum AccountEvent {
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Account {
    balance: i64,
    transactions: u64,
}

#[aggregate(event = AccountEvent, error = Never, snapshot_every = 1000)]
impl Account {
    #[apply]
    fn deposited(&mut self, event: &Deposited) {
        self.balance += event.amount;
        self.transactions += 1;
    }
    #[apply]
    fn withdrawn(&mut self, event: &Withdrawn) {
        self.balance -= event.amount;
        self.transactions += 1;
    }
}

fn fold_by_hand(state: &mut Account, event: &AccountEvent) {
    match event {
        AccountEvent::Deposited(event) => {
            state.balance += event.amount;
            state.transactions += 1;
        }
        AccountEvent::Withdrawn(event) => {
            state.balance -= event.amount;
            state.transactions += 1;
        }
    }
}

fn new_event(index: u64) -> NewEvent {
    let event: AccountEvent = if index.is_multiple_of(3) {
        Withdrawn { amount: 7 }.into()
    } else {
        Deposited { amount: 10 + (index % 5) as i64 }.into()
    };
    NewEvent::encode(&event).unwrap()
}

fn directory(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("eventsmith-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

/// The raw baseline: the same table shape and settings as the store.
fn raw_connection(path: &Path, durability: Durability) -> Connection {
    let connection = Connection::open(path).unwrap();
    connection.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).unwrap();
    let synchronous = if durability == Durability::Full { "FULL" } else { "NORMAL" };
    connection.pragma_update(None, "synchronous", synchronous).unwrap();
    connection
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS events (
                position INTEGER PRIMARY KEY AUTOINCREMENT, event_id BLOB NOT NULL UNIQUE,
                stream_id TEXT NOT NULL, stream_version INTEGER NOT NULL, event_type TEXT NOT NULL,
                event_version INTEGER NOT NULL, payload BLOB NOT NULL, metadata BLOB,
                recorded_at INTEGER NOT NULL, UNIQUE (stream_id, stream_version));
             CREATE INDEX IF NOT EXISTS events_by_type ON events (event_type, position);",
        )
        .unwrap();
    connection
}

/// One transaction per event: check the stream's version, insert, commit.
fn raw_append(connection: &mut Connection, stream: &str, events: &[NewEvent]) {
    let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
    let version: i64 = transaction
        .prepare_cached("SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?1")
        .unwrap()
        .query_row([stream], |row| row.get(0))
        .unwrap();
    {
        let mut insert = transaction
            .prepare_cached(
                "INSERT INTO events (event_id, stream_id, stream_version, event_type, event_version, payload, metadata, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)",
            )
            .unwrap();
        for (offset, event) in events.iter().enumerate() {
            insert
                .execute(params![
                    event.id.as_bytes().as_slice(),
                    stream,
                    version + offset as i64 + 1,
                    event.event_type.as_ref(),
                    i64::from(event.event_version),
                    event.payload,
                    0_i64
                ])
                .unwrap();
        }
    }
    transaction.commit().unwrap();
}

/// Read the stream, decode each payload straight into the enum with serde, fold by hand.
fn raw_load(connection: &Connection, stream: &str) -> Account {
    let mut statement = connection
        .prepare_cached(
            "SELECT event_type, event_version, payload FROM events WHERE stream_id = ?1 ORDER BY stream_version",
        )
        .unwrap();
    let mut rows = statement.query([stream]).unwrap();
    let mut state = Account::default();
    while let Some(row) = rows.next().unwrap() {
        let event_type: String = row.get(0).unwrap();
        let payload = row.get_ref(2).unwrap().as_blob().unwrap();
        let event = AccountEvent::decode(&event_type, row.get(1).unwrap(), payload).unwrap();
        fold_by_hand(&mut state, &event);
    }
    state
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    store: SqliteStore,
    app: App,
    raw: Connection,
    counter: u64,
}

impl Fixture {
    fn new(name: &str, durability: Durability) -> Self {
        let directory = directory(name);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let options = SqliteOptions { durability, ..SqliteOptions::default() };
        let store = runtime.block_on(SqliteStore::open_with(directory.join("eventsmith.db"), options)).unwrap();
        let app = runtime.block_on(App::builder().store(store.clone()).build()).unwrap();
        let raw = raw_connection(&directory.join("raw.db"), durability);
        Self { runtime, store, app, raw, counter: 0 }
    }

    /// `times` appends of `count` events each, inside one `block_on`, as async code calls it.
    fn append_eventsmith(&mut self, stream: &str, count: u64, times: u64) {
        let batches = self.batches(count, times);
        self.runtime.block_on(async {
            for events in batches {
                self.store.append(stream, ExpectedVersion::Any, events).await.unwrap();
            }
        });
    }

    fn append_raw(&mut self, stream: &str, count: u64, times: u64) {
        for events in self.batches(count, times) {
            raw_append(&mut self.raw, stream, &events);
        }
    }

    fn batches(&mut self, count: u64, times: u64) -> Vec<Vec<NewEvent>> {
        (0..times)
            .map(|_| {
                let events = (0..count).map(|index| new_event(self.counter + index)).collect();
                self.counter += count;
                events
            })
            .collect()
    }
}

fn appends(c: &mut Criterion, durability: Durability, results: &mut Vec<String>) {
    let label = format!("{durability:?}").to_lowercase();
    let mut fixture = Fixture::new(&format!("append-{label}"), durability);
    let mut group = c.benchmark_group(format!("sqlite_append_1_{label}"));
    group.throughput(Throughput::Elements(1));
    group.sample_size(if durability == Durability::Full { 20 } else { 60 });
    group.bench_function("eventsmith", |b| {
        b.iter_custom(|iters| {
            let started = std::time::Instant::now();
            fixture.append_eventsmith("single", 1, iters);
            started.elapsed()
        });
    });
    group.bench_function("raw_rusqlite", |b| {
        b.iter_custom(|iters| {
            let started = std::time::Instant::now();
            fixture.append_raw("single", 1, iters);
            started.elapsed()
        });
    });
    group.finish();
    let (pairs, per_pair) = if durability == Durability::Full { (40, 20) } else { (100, 50) };
    let fixture = std::cell::RefCell::new(fixture);
    let (ratio, ours, raw) = support::paired_ratio(
        pairs,
        || fixture.borrow_mut().append_eventsmith("paired", 1, per_pair),
        || fixture.borrow_mut().append_raw("paired", 1, per_pair),
    );
    results.push(format!(
        "append 1 event per transaction ({label} durability), {pairs} pairs of {per_pair}: eventsmith {:.1} us, \
         raw {:.1} us, eventsmith/raw time {ratio:.3} (throughput {:.2}x raw)",
        ours * 1e3 / per_pair as f64,
        raw * 1e3 / per_pair as f64,
        1.0 / ratio
    ));

    let mut fixture = fixture.into_inner();
    let mut group = c.benchmark_group(format!("sqlite_append_1000_{label}"));
    group.throughput(Throughput::Elements(1000));
    group.sample_size(20);
    group.bench_function("eventsmith", |b| b.iter(|| fixture.append_eventsmith("batch", 1000, 1)));
    group.bench_function("raw_rusqlite", |b| b.iter(|| fixture.append_raw("batch", 1000, 1)));
    group.finish();
    let fixture = std::cell::RefCell::new(fixture);
    let (ratio, ours, raw) = support::paired_ratio(
        40,
        || fixture.borrow_mut().append_eventsmith("paired-batch", 1000, 1),
        || fixture.borrow_mut().append_raw("paired-batch", 1000, 1),
    );
    results.push(format!(
        "append a batch of 1,000 events ({label} durability), 40 pairs: eventsmith {ours:.2} ms, raw {raw:.2} ms, \
         eventsmith/raw time {ratio:.3} (throughput {:.2}x raw)",
        1.0 / ratio
    ));
}

fn loads(c: &mut Criterion, results: &mut Vec<String>) {
    let mut fixture = Fixture::new("load", Durability::Normal);
    for chunk in 0..10 {
        let events: Vec<NewEvent> = (0..1000).map(|index| new_event(chunk * 1000 + index)).collect();
        fixture.runtime.block_on(fixture.store.append("Account-10k", ExpectedVersion::Any, events.clone())).unwrap();
        raw_append(&mut fixture.raw, "Account-10k", &events);
    }
    let ours = fixture.runtime.block_on(fixture.app.load::<Account>("10k")).unwrap();
    assert_eq!(ours.version, 10_000);
    assert_eq!(ours.state, raw_load(&fixture.raw, "Account-10k"), "both loads must compute the same state");

    let mut group = c.benchmark_group("sqlite_load_10k");
    group.throughput(Throughput::Elements(10_000));
    group.sample_size(20);
    group.bench_function("eventsmith", |b| {
        b.iter(|| black_box(fixture.runtime.block_on(fixture.app.load::<Account>("10k")).unwrap()));
    });
    group.bench_function("raw_rusqlite", |b| b.iter(|| black_box(raw_load(&fixture.raw, "Account-10k"))));
    group.finish();
    let (ratio, ours, raw) = support::paired_ratio(
        40,
        || {
            black_box(fixture.runtime.block_on(fixture.app.load::<Account>("10k")).unwrap());
        },
        || {
            black_box(raw_load(&fixture.raw, "Account-10k"));
        },
    );
    results.push(format!(
        "load and fold 10,000 events, 40 pairs: eventsmith {ours:.2} ms, raw SELECT + serde + fold {raw:.2} ms, \
         eventsmith/raw time {ratio:.3} (throughput {:.2}x raw)",
        1.0 / ratio
    ));
}

fn snapshot_loads(c: &mut Criterion, results: &mut Vec<String>) {
    let mut fixture = Fixture::new("snapshot", Durability::Normal);
    let mut group = c.benchmark_group("sqlite_load_with_snapshot");
    let mut ids = Vec::new();
    for history in [1_000_u64, 1_000_000] {
        let stream = format!("Account-{history}");
        let mut written = 0;
        while written < history {
            let count = (history - written).min(10_000);
            fixture.append_eventsmith(&stream, count, 1);
            written += count;
        }
        // The snapshot sits 10 events before the end, as after a command that crossed it.
        let id = history.to_string();
        let state = fixture.runtime.block_on(fixture.app.load::<Account>(&id)).unwrap().state;
        let at = snapshot_state(&fixture, &stream, history - 10).expect("the state at the snapshot");
        let snapshot = Snapshot {
            version: history - 10,
            fingerprint: <Account as Aggregate>::snapshot_fingerprint(),
            state: serde_json::to_vec(&at).unwrap(),
        };
        fixture.runtime.block_on(fixture.store.save_snapshot(&stream, snapshot)).unwrap();
        let loaded = fixture.runtime.block_on(fixture.app.load::<Account>(&id)).unwrap();
        assert_eq!(loaded.state, state, "loading from the snapshot gives the same state");
        group.bench_function(format!("history_{history}"), |b| {
            b.iter(|| black_box(fixture.runtime.block_on(fixture.app.load::<Account>(&id)).unwrap()));
        });
        ids.push(id);
    }
    group.finish();
    let load = |id: &str| {
        black_box(fixture.runtime.block_on(fixture.app.load::<Account>(id)).unwrap());
    };
    let (ratio, long, short) = support::paired_ratio(400, || load(&ids[1]), || load(&ids[0]));
    results.push(format!(
        "load with a snapshot 10 events behind the head, 400 pairs: 1,000,000 events of history {:.1} us, \
         1,000 events {:.1} us, ratio {ratio:.3}",
        long * 1e3,
        short * 1e3
    ));
}

/// The state at `version`, folded from the stored events.
fn snapshot_state(fixture: &Fixture, stream: &str, version: u64) -> Option<Account> {
    let mut state = Account::default();
    let mut from = 1;
    while from <= version {
        let page = fixture.runtime.block_on(fixture.store.read_stream(stream, from, 10_000)).ok()?;
        for stored in page.iter().take_while(|event| event.stream_version <= version) {
            let event = AccountEvent::decode(&stored.event_type, stored.event_version, &stored.payload).ok()?;
            state.apply(&event);
        }
        from += page.len() as u64;
        if page.is_empty() {
            break;
        }
    }
    Some(state)
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let mut results = Vec::new();
    appends(&mut criterion, Durability::Normal, &mut results);
    appends(&mut criterion, Durability::Full, &mut results);
    loads(&mut criterion, &mut results);
    snapshot_loads(&mut criterion, &mut results);
    criterion.final_summary();
    println!();
    for line in results {
        println!("{line}");
    }
}
