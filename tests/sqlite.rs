//! `SqliteStore` on files: durability across reopen, bad databases, locks, corrupt rows,
//! immutability, and aggregate snapshots. (A process killed mid-append: `tests/crash.rs`.)

use std::path::PathBuf;
use std::time::Duration;

use eventsmith::prelude::*;
use eventsmith::store::{NewEvent, Snapshot, SqliteOptions};
use eventsmith::{DecodeError, Error, SqliteStore, StoreError};

fn temp_db(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("eventsmith-sqlite-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory.join("events.db")
}

use eventsmith::testkit::event as raw;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Added {
    pub amount: i64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum CounterEvent {
    Added(Added),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Counter)]
pub struct Add {
    #[command(id)]
    pub id: u32,
    pub amount: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Counter {
    total: i64,
    /// Events applied by this process: shows whether a load replayed from a snapshot.
    #[serde(skip)]
    applied: u64,
}

#[aggregate(event = CounterEvent, error = Never, snapshot_every = 10)]
impl Counter {
    #[command]
    fn add(&self, command: &Add) -> Result<Added, Never> {
        Ok(Added { amount: command.amount })
    }

    #[apply]
    fn added(&mut self, event: &Added) {
        self.total += event.amount;
        self.applied += 1;
    }
}

#[tokio::test]
async fn events_survive_a_reopen() {
    let path = temp_db("reopen");
    {
        let app = App::builder().store(SqliteStore::open(&path).await.unwrap()).build().await.unwrap();
        app.execute(Add { id: 1, amount: 2 }).await.unwrap();
        app.execute(Add { id: 1, amount: 3 }).await.unwrap();
    }
    let app = App::builder().store(SqliteStore::open(&path).await.unwrap()).build().await.unwrap();
    let loaded = app.load::<Counter>(1).await.unwrap();
    assert_eq!((loaded.version, loaded.state.total), (2, 5));
}

#[tokio::test]
async fn a_database_of_something_else_is_refused_and_left_alone() {
    let path = temp_db("foreign");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)").unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let error = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(&error, StoreError::NotAStore { .. }), "{error:?}");
    assert!(error.to_string().contains("not an eventsmith store"), "{error}");
    // Not a byte changed (not even the journal mode in the header), and no journal files.
    assert!(std::fs::read(&path).unwrap() == before, "the foreign file is byte-identical");
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut companion = path.clone().into_os_string();
        companion.push(suffix);
        assert!(!std::path::Path::new(&companion).exists(), "no {suffix} file was left beside it");
    }
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let path = temp_db("garbage");
    std::fs::write(&path, b"this is not a SQLite file, it is a shopping list: eggs, milk, and so on and so forth")
        .unwrap();
    let error = SqliteStore::open(&path).await.unwrap_err();
    assert!(
        matches!(&error, StoreError::NotAStore { reason, .. } if reason.contains("not a SQLite database")),
        "{error:?}"
    );
    assert!(std::fs::read(&path).unwrap().starts_with(b"this is not"), "the file is untouched");
}

#[tokio::test]
async fn a_store_written_by_a_newer_release_is_refused() {
    let path = temp_db("newer");
    drop(SqliteStore::open(&path).await.unwrap());
    rusqlite::Connection::open(&path).unwrap().execute("UPDATE eventsmith_schema SET version = 99", []).unwrap();
    let error = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(error, StoreError::SchemaTooNew { found: 99, supported: 2, .. }), "{error:?}");
}

#[tokio::test]
async fn a_writer_locked_out_past_the_timeout_fails_retryably_and_writes_nothing() {
    let path = temp_db("locked");
    let options = SqliteOptions { busy_timeout: Duration::from_millis(100), ..SqliteOptions::default() };
    let store = SqliteStore::open_with(&path, options).await.unwrap();
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let error = store.append("s", ExpectedVersion::Any, vec![raw("Added", "{}")]).await.unwrap_err();
    assert!(matches!(&error, StoreError::Backend { retryable: true, .. }), "{error:?}");
    assert!(error.to_string().contains("locked by another writer"), "{error}");
    blocker.execute_batch("ROLLBACK").unwrap();
    assert!(store.read_stream("s", 1, 10).await.unwrap().is_empty());
    store.append("s", ExpectedVersion::Any, vec![raw("Added", "{}")]).await.expect("works once the lock is gone");
}

#[tokio::test]
async fn stored_events_cannot_be_changed_or_deleted() {
    let path = temp_db("immutable");
    let store = SqliteStore::open(&path).await.unwrap();
    store.append("s", ExpectedVersion::Any, vec![raw("Added", r#"{"amount":1}"#)]).await.unwrap();
    let connection = rusqlite::Connection::open(&path).unwrap();
    let update = connection.execute("UPDATE events SET payload = X'7B7D'", []).unwrap_err();
    assert!(update.to_string().contains("immutable"), "{update}");
    let delete = connection.execute("DELETE FROM events", []).unwrap_err();
    assert!(delete.to_string().contains("immutable"), "{delete}");
}

#[tokio::test]
async fn corrupt_rows_are_typed_errors_naming_where_they_are() {
    let path = temp_db("corrupt");
    let store = SqliteStore::open(&path).await.unwrap();
    store.append("Counter-1", ExpectedVersion::Any, vec![raw("Added", r#"{"amount":1}"#)]).await.unwrap();
    store.append("Counter-1", ExpectedVersion::Any, vec![raw("Added", r#"{"amount": oops}"#)]).await.unwrap();
    store.append("Counter-2", ExpectedVersion::Any, vec![raw("Removed", "{}")]).await.unwrap();
    let app = App::builder().store(store.clone()).build().await.unwrap();

    let Err(Error::Corrupt(corrupt)) = app.load::<Counter>(1).await else { panic!("bad JSON must not load") };
    assert_eq!(
        (corrupt.stream_id.as_str(), corrupt.stream_version, corrupt.event_type.as_str()),
        ("Counter-1", 2, "Added")
    );
    assert!(matches!(corrupt.source, DecodeError::Payload { .. }));
    let Err(Error::Corrupt(corrupt)) = app.load::<Counter>(2).await else { panic!("an unknown type must not load") };
    assert!(matches!(&corrupt.source, DecodeError::UnknownType { event_type, .. } if event_type == "Removed"));

    // An envelope broken below the payload: an event id that is not a UUID.
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.execute_batch("DROP TRIGGER events_are_immutable_update").unwrap();
        connection.execute("UPDATE events SET event_id = X'00' WHERE position = 3", []).unwrap();
    }
    let error = store.read_all(1, 10, &[]).await.unwrap_err();
    assert!(matches!(error, StoreError::CorruptRow { position: 3, .. }), "{error:?}");
}

#[tokio::test]
async fn snapshots_are_taken_every_n_events_and_loading_starts_from_the_latest() {
    let store = SqliteStore::in_memory().await.unwrap();
    let app = App::builder().store(store.clone()).build().await.unwrap();
    for amount in 1..=25 {
        app.execute(Add { id: 1, amount }).await.unwrap();
    }
    let snapshot = store.load_snapshot("Counter-1").await.unwrap().expect("a snapshot");
    assert_eq!(snapshot.version, 20);
    assert_eq!(snapshot.fingerprint, <Counter as Aggregate>::snapshot_fingerprint());
    let loaded = app.load::<Counter>(1).await.unwrap();
    assert_eq!((loaded.version, loaded.state.total), (25, (1..=25).sum()));
    assert_eq!(loaded.state.applied, 5, "only the events after the snapshot are replayed");
}

async fn load_with_snapshot(snapshot: Snapshot) -> (i64, u64) {
    let store = SqliteStore::in_memory().await.unwrap();
    let app = App::builder().store(store.clone()).build().await.unwrap();
    for amount in 1..=3 {
        app.execute(Add { id: 1, amount }).await.unwrap();
    }
    store.save_snapshot("Counter-1", snapshot).await.unwrap();
    let loaded = app.load::<Counter>(1).await.unwrap();
    assert_eq!(loaded.version, 3);
    (loaded.state.total, loaded.state.applied)
}

#[tokio::test]
async fn a_snapshot_of_another_shape_is_ignored_and_the_state_rebuilt() {
    let stale =
        Snapshot { version: 2, fingerprint: "r1-0000000000000000".into(), state: br#"{"total":1000}"#.to_vec() };
    assert_eq!(load_with_snapshot(stale).await, (6, 3));
}

#[tokio::test]
async fn a_snapshot_that_does_not_decode_is_ignored_and_the_state_rebuilt() {
    let fingerprint = <Counter as Aggregate>::snapshot_fingerprint();
    let broken = Snapshot { version: 2, fingerprint, state: br#"{"total":"#.to_vec() };
    assert_eq!(load_with_snapshot(broken).await, (6, 3));
}

#[tokio::test]
async fn a_snapshot_past_the_end_of_the_stream_is_ignored() {
    let fingerprint = <Counter as Aggregate>::snapshot_fingerprint();
    let ahead = Snapshot { version: 9, fingerprint, state: br#"{"total":1000}"#.to_vec() };
    assert_eq!(load_with_snapshot(ahead).await, (6, 3));
}

#[tokio::test]
async fn a_matching_snapshot_is_used() {
    let fingerprint = <Counter as Aggregate>::snapshot_fingerprint();
    let good = Snapshot { version: 2, fingerprint, state: br#"{"total":1000}"#.to_vec() };
    assert_eq!(load_with_snapshot(good).await, (1003, 1));
}

#[tokio::test]
async fn the_fingerprint_names_the_revision() {
    assert!(<Counter as Aggregate>::snapshot_fingerprint().starts_with("r1-"));
}

/// Appends sent together are committed together (one transaction, one sync), and each is
/// still checked and refused on its own: one winner on a contested stream, every disjoint
/// stream written, a partial duplicate refused and leaving nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_committed_together_succeed_or_fail_one_by_one() {
    let store = SqliteStore::open(temp_db("group")).await.unwrap();
    let stored = raw("Added", "{}");
    store.append("dup", ExpectedVersion::NoStream, vec![stored.clone()]).await.unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(24));
    let tasks: Vec<_> = (0..24)
        .map(|index| {
            let (store, stored, barrier) = (store.clone(), stored.clone(), std::sync::Arc::clone(&barrier));
            tokio::spawn(async move {
                let (stream, expected, events) = match index % 3 {
                    0 => ("contested".to_owned(), ExpectedVersion::NoStream, vec![raw("Added", "{}")]),
                    1 => (format!("disjoint-{index}"), ExpectedVersion::NoStream, vec![raw("Added", "{}")]),
                    _ => ("dup".to_owned(), ExpectedVersion::Exact(1), vec![raw("Added", "{}"), stored]),
                };
                barrier.wait().await;
                (stream.clone(), store.append(&stream, expected, events).await)
            })
        })
        .collect();
    let (mut won, mut conflicts, mut disjoint, mut duplicates) = (0, 0, 0, 0);
    for task in tasks {
        match task.await.unwrap() {
            (stream, Ok(_)) if stream == "contested" => won += 1,
            (stream, Err(StoreError::Conflict { actual: 1, .. })) if stream == "contested" => conflicts += 1,
            (stream, Ok(outcome)) if stream.starts_with("disjoint") => {
                assert_eq!(outcome.first_version, 1);
                disjoint += 1;
            }
            (stream, Err(StoreError::DuplicateEvent { event_id, .. })) if stream == "dup" && event_id == stored.id => {
                duplicates += 1;
            }
            (stream, other) => panic!("{stream}: {other:?}"),
        }
    }
    assert_eq!((won, conflicts, disjoint, duplicates), (1, 7, 8, 8));
    assert_eq!(store.read_stream("dup", 1, 10).await.unwrap().len(), 1, "refused appends wrote nothing");
    let log = store.read_all(1, 100, &[]).await.unwrap();
    assert_eq!(log.len(), 1 + 1 + 8);
    assert!(log.windows(2).all(|pair| pair[0].position < pair[1].position));
}

/// The order events of `tests/fixtures/stores/sqlite-v1.db`, as that release wrote them.
mod legacy {
    use eventsmith::prelude::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct OrderCreated {
        pub id: u32,
        pub total: u64,
    }

    #[derive(Event, Debug, Clone, PartialEq)]
    pub enum OrderEvent {
        Created(OrderCreated),
    }

    #[derive(Debug, Default)]
    pub struct Totals {
        pub totals: Vec<u64>,
    }

    #[derive(Debug, Clone)]
    pub struct AllTotals;

    #[projection(name = "totals", events = OrderEvent)]
    impl Totals {
        #[apply]
        fn created(&mut self, event: &Recorded<OrderCreated>) {
            self.totals.push(event.total);
        }

        #[query]
        fn all(&self, _: AllTotals) -> Vec<u64> {
            self.totals.clone()
        }
    }
}

/// A store written by the release before namespaces (schema version 1) is migrated when it
/// is opened: its events read as before, without a namespace, projections apply them, and
/// new events carry their namespace. Opening it again finds nothing left to migrate.
#[tokio::test]
async fn a_store_of_schema_version_1_is_migrated_and_keeps_reading() {
    let path = temp_db("v1");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stores/sqlite-v1.db"), &path).unwrap();
    let store = SqliteStore::open(&path).await.expect("the old store opens");
    let log = store.read_all(1, 100, &[]).await.unwrap();
    let read: Vec<(u64, &str, Option<&str>)> =
        log.iter().map(|event| (event.position, event.event_type.as_str(), event.namespace.as_deref())).collect();
    assert_eq!(read, [(1, "Created", None), (2, "Created", None), (3, "Created", None)]);
    assert_eq!(log[1].payload, br#"{"id":2,"total":200}"#);
    let created = legacy::OrderEvent::Created(legacy::OrderCreated { id: 4, total: 400 });
    store.append("Order-4", ExpectedVersion::NoStream, vec![NewEvent::encode(&created).unwrap()]).await.unwrap();
    drop(store);

    let store = SqliteStore::open(&path).await.expect("the migrated store opens again");
    assert_eq!(store.read_stream("Order-4", 1, 1).await.unwrap()[0].namespace.as_deref(), Some("OrderEvent"));
    let app = App::builder().store(store).projection::<legacy::Totals>().build().await.unwrap();
    assert_eq!(app.query(legacy::AllTotals).await.unwrap(), [100, 200, 300, 400]);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT version FROM eventsmith_schema", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 2);
}
