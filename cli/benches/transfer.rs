//! What `eventsmith export` and `eventsmith import` cost, against hand-written baselines
//! doing the same work with the raw drivers, measured in one run as paired ratios
//! (throughput of the tool / throughput of the baseline; above 1 is faster):
//!
//! - export of a SQLite store to a JSON Lines file, against a loop over the store's own log
//!   reads writing the same lines;
//! - import of that file into a new SQLite store, against raw `rusqlite` inserts of the same
//!   rows into a new store's table (its indexes and constraints) in one transaction, the
//!   SQLite bulk path;
//! - import into PostgreSQL (where `EVENTSMITH_POSTGRES_URL` names a database), against one
//!   binary `COPY` of the same rows into a new store's table, the PostgreSQL bulk path.
//!
//! - `verify` of the SQLite store (`App::verify`, which the tool's `verify` runs), against a
//!   loop over the store's log reads decoding each payload into the same struct with
//!   `serde_json`.
//!
//! The baselines parse the same file; they check nothing (versions, retries) that the
//! table's constraints do not.
//!
//! The events are in streams of ten, interleaved as many aggregates' commands are: each
//! stream's run in the file is one event long, the hardest case for an import.
//!
//! `cargo bench -p eventsmith-cli --bench transfer` (`EVENTSMITH_BENCH_EVENTS=1000000` for
//! the issue's size).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use eventsmith::prelude::*;
use eventsmith::store::{EventStore, ExpectedVersion, NewEvent, StreamAppend};
use eventsmith::{App, SqliteStore};

const STREAM_LENGTH: u64 = 10;

fn main() {
    let events: u64 =
        std::env::var("EVENTSMITH_BENCH_EVENTS").ok().and_then(|value| value.parse().ok()).unwrap_or(200_000);
    let directory = std::env::temp_dir().join(format!("eventsmith-bench-transfer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let source = directory.join("source.db");
    runtime.block_on(seed(&source, events));
    let pairs = 3;

    // Export.
    let (exported, by_hand) = (directory.join("exported.jsonl"), directory.join("by-hand.jsonl"));
    let ratio = paired(
        pairs,
        || run(&["--store", path(&source), "export", "--output", path(&exported)]),
        || runtime.block_on(export_by_hand(&source, &by_hand)),
    );
    let lines = std::io::BufReader::new(std::fs::File::open(&exported).unwrap()).lines().count() as u64;
    assert_eq!(lines, events, "the export has every event");
    report("export, SQLite store to JSON Lines", events, ratio, "a read loop writing the same lines");

    // Verify.
    let app = runtime.block_on(async {
        let store = SqliteStore::open(&source).await.unwrap();
        App::builder().store(store).aggregate::<Ledger>().catch_up_at_build(false).build().await.unwrap()
    });
    let ratio = paired(
        pairs,
        || {
            let verification = runtime.block_on(app.verify(|_| {})).unwrap();
            assert_eq!((verification.events, verification.failed()), (events, 0), "every event read and decoded");
        },
        || assert_eq!(runtime.block_on(decode_by_hand(&source)), events),
    );
    report("verify, SQLite store", events, ratio, "a read loop decoding each payload with serde_json");
    drop(app);

    // Import into SQLite.
    let (mut round, mut by_hand_round) = (0, 0);
    let ratio = paired(
        pairs,
        || {
            round += 1;
            let target = directory.join(format!("imported-{round}.db"));
            run(&["--store", path(&target), "import", "--input", path(&exported)]);
        },
        || {
            by_hand_round += 1;
            let database = directory.join(format!("by-hand-{by_hand_round}.db"));
            runtime.block_on(SqliteStore::open(&database)).unwrap();
            insert_by_hand(&database, &exported);
        },
    );
    let imported = runtime.block_on(async {
        SqliteStore::open(directory.join("imported-1.db")).await.unwrap().read_all(1, usize::MAX, &[]).await.unwrap()
    });
    assert_eq!(imported.len() as u64, events, "the import has every event");
    report("import, JSON Lines to SQLite", events, ratio, "rusqlite inserts into the store's table");

    if let Ok(url) = std::env::var("EVENTSMITH_POSTGRES_URL") {
        let (mut round, mut by_hand_round) = (0, 100);
        let schema = |round| format!("es_t_bench_import_{}_{round}", std::process::id());
        let ratio = paired(
            pairs,
            || {
                round += 1;
                run(&["--store", &url, "--schema", &schema(round), "import", "--input", path(&exported)]);
            },
            || {
                by_hand_round += 1;
                runtime.block_on(copy_by_hand(&url, &schema(by_hand_round), &exported));
            },
        );
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let count: i64 =
                client.query_one(&format!("SELECT count(*) FROM {}.events", schema(1)), &[]).await.unwrap().get(0);
            assert_eq!(count as u64, events, "the import has every event");
            for round in 1..=pairs as u32 {
                for name in [schema(round), schema(round + 100)] {
                    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await.unwrap();
                }
            }
        });
        report("import, JSON Lines to PostgreSQL", events, ratio, "one binary COPY into the store's table");
    }
    let _ = std::fs::remove_dir_all(&directory);
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn run(args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_eventsmith")).args(args).output().unwrap();
    assert!(output.status.success(), "eventsmith {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// The median of `pairs` ratios of the baseline's time over the tool's, alternating which
/// runs first.
fn paired(pairs: usize, mut tool: impl FnMut(), mut baseline: impl FnMut()) -> (f64, f64, f64) {
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed().as_secs_f64()
    };
    let mut rounds: Vec<(f64, f64, f64)> = (0..pairs)
        .map(|pair| {
            let (ours, theirs) = if pair % 2 == 0 {
                let ours = time(&mut tool);
                (ours, time(&mut baseline))
            } else {
                let theirs = time(&mut baseline);
                (time(&mut tool), theirs)
            };
            (theirs / ours, ours, theirs)
        })
        .collect();
    rounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    rounds[rounds.len() / 2]
}

fn report(what: &str, events: u64, (ratio, ours, theirs): (f64, f64, f64), baseline: &str) {
    let rate = |seconds: f64| events as f64 / seconds;
    println!(
        "{what}, {events} events: eventsmith {ours:.2} s ({:.0} events/s), {baseline} {theirs:.2} s ({:.0} events/s); \
         {ratio:.2}x",
        rate(ours),
        rate(theirs),
    );
}

/// The seeded events' payloads (both alike).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    pub order: u64,
    pub amount: u64,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paid {
    pub order: u64,
    pub amount: u64,
    pub note: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum LedgerEvent {
    #[event(name = "OrderPlaced")]
    Placed(Placed),
    #[event(name = "OrderPaid")]
    Paid(Paid),
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

/// The aggregate that registers the seeded events' enum, for `verify`.
#[derive(Debug, Default)]
pub struct Ledger;

#[aggregate(event = LedgerEvent, error = Never)]
impl Ledger {
    #[apply]
    fn placed(&mut self, _: &Placed) {}

    #[apply]
    fn paid(&mut self, _: &Paid) {}
}

/// `verify` by hand: every event of the log read, its payload decoded into its type's
/// struct; returns how many decoded.
async fn decode_by_hand(source: &Path) -> u64 {
    let store = SqliteStore::open(source).await.unwrap();
    let (mut decoded, mut next) = (0, 1);
    loop {
        let page = store.read_all(next, 1000, &[]).await.unwrap();
        let Some(last) = page.last() else { return decoded };
        next = last.position + 1;
        for event in &page {
            let ok = match event.event_type.as_str() {
                "OrderPlaced" => serde_json::from_slice::<Placed>(&event.payload).is_ok(),
                "OrderPaid" => serde_json::from_slice::<Paid>(&event.payload).is_ok(),
                _ => false,
            };
            decoded += u64::from(ok);
        }
    }
}

/// `events` events in streams of ten, interleaved: event `n` is the `n / streams`-th of
/// stream `n % streams`.
async fn seed(path: &Path, events: u64) {
    let store = SqliteStore::open(path).await.unwrap();
    let streams = (events / STREAM_LENGTH).max(1);
    let mut appends = Vec::new();
    for n in 0..events {
        let (stream, version) = (n % streams, n / streams);
        let payload = format!(r#"{{"order":{stream},"amount":{},"note":"payment {version}"}}"#, n % 997);
        let event_type = if version == 0 { "OrderPlaced" } else { "OrderPaid" };
        appends.push(StreamAppend {
            stream_id: format!("Order-{stream}"),
            expected: ExpectedVersion::Exact(version),
            events: vec![NewEvent::new(event_type, 1, payload.into_bytes())],
        });
        if appends.len() == 10_000 {
            assert!(store.append_streams(std::mem::take(&mut appends)).await.iter().all(Result::is_ok));
        }
    }
    assert!(store.append_streams(appends).await.iter().all(Result::is_ok));
}

/// The same lines as the tool writes, from the store's own log reads.
async fn export_by_hand(source: &Path, output: &PathBuf) {
    let store = SqliteStore::open(source).await.unwrap();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(output).unwrap());
    let mut next = 1;
    loop {
        let page = store.read_all(next, 1000, &[]).await.unwrap();
        let Some(last) = page.last() else { break };
        next = last.position + 1;
        for event in page {
            let payload: &serde_json::value::RawValue =
                serde_json::from_slice(&event.payload).expect("the payload is JSON");
            let line = serde_json::json!({
                "position": event.position,
                "stream_id": event.stream_id,
                "stream_version": event.stream_version,
                "id": event.id,
                "event_type": event.event_type,
                "event_version": event.event_version,
                "payload": payload,
            });
            serde_json::to_writer(&mut out, &line).unwrap();
            out.write_all(b"\n").unwrap();
        }
    }
    out.flush().unwrap();
}

/// One row of the file, as the baselines write it.
#[derive(serde::Deserialize)]
struct Row<'a> {
    stream_id: String,
    stream_version: i64,
    id: uuid::Uuid,
    event_type: String,
    event_version: i32,
    #[serde(borrow)]
    payload: &'a serde_json::value::RawValue,
}

fn rows(file: &Path, mut each: impl FnMut(Row<'_>)) {
    for line in std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file).unwrap()).lines() {
        let line = line.unwrap();
        each(serde_json::from_str(&line).unwrap());
    }
}

/// The rows inserted into the store's table, in one transaction.
fn insert_by_hand(database: &Path, file: &Path) {
    let mut connection = rusqlite::Connection::open(database).unwrap();
    let transaction = connection.transaction().unwrap();
    {
        let mut insert = transaction
            .prepare(
                "INSERT INTO events (event_id, stream_id, stream_version, event_type, event_version, payload, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .unwrap();
        rows(file, |row| {
            let params = rusqlite::params![
                row.id.as_bytes(),
                row.stream_id,
                row.stream_version,
                row.event_type,
                row.event_version,
                row.payload.get().as_bytes(),
                0
            ];
            insert.execute(params).unwrap();
        });
    }
    transaction.commit().unwrap();
}

/// The rows copied into the table of a new store in one binary `COPY`.
async fn copy_by_hand(url: &str, schema: &str, file: &Path) {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::{ToSql, Type};

    let options = eventsmith::store::PostgresOptions { schema: schema.to_owned(), ..Default::default() };
    drop(eventsmith::store::PostgresStore::connect_with(url, options).await.unwrap());
    let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let transaction = client.transaction().await.unwrap();
    let sink = transaction
        .copy_in(&format!(
            "COPY {schema}.events (event_id, stream_id, stream_version, event_type, event_version, payload, recorded_at) \
             FROM STDIN BINARY"
        ))
        .await
        .unwrap();
    let types = [Type::UUID, Type::TEXT, Type::INT8, Type::TEXT, Type::INT4, Type::BYTEA, Type::TIMESTAMPTZ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    let now = std::time::SystemTime::now();
    futures_util::pin_mut!(writer);
    // Read first, as the tool reads its input while it writes: the file is parsed in the
    // timed part either way.
    let mut all = Vec::new();
    rows(file, |row| {
        all.push((
            row.id,
            row.stream_id,
            row.stream_version,
            row.event_type,
            row.event_version,
            row.payload.get().as_bytes().to_vec(),
        ));
    });
    for (id, stream_id, version, event_type, event_version, payload) in &all {
        let row: [&(dyn ToSql + Sync); 7] = [id, stream_id, version, event_type, event_version, payload, &now];
        writer.as_mut().write(&row).await.unwrap();
    }
    writer.finish().await.unwrap();
    transaction.commit().await.unwrap();
}
