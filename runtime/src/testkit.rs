//! The store conformance kit: what every [`EventStore`] must do, as async test functions
//! over any store, and [`conformance_suite!`](crate::conformance_suite) to stamp out one
//! `#[tokio::test]` per behaviour, so that each failure names its behaviour.
//!
//! Every store in this repository runs the whole kit; a third-party store runs it with
//!
//! ```text
//! eventsmith::conformance_suite!(MyStore::connect("...").await.unwrap());
//! ```
//!
//! in a test file of its own crate (with `tokio` as a dev-dependency, `macros` and
//! `rt-multi-thread` features). The expression is evaluated once per test and must give a
//! fresh, empty store. Optional capabilities are tested where the store declares them.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

use crate::store::{Checkpoint, EventStore, ExpectedVersion, NewEvent, Snapshot, StoreError, StoredEvent};

#[doc(hidden)]
pub use tokio;

/// Stamps out one `#[tokio::test]` per behaviour of the kit, each on a fresh store from
/// `$factory` (an expression, evaluated inside the async test; it may `.await`).
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr) => {
        $crate::conformance_suite!(@tests $factory;
            append_and_read_back_byte_identical,
            expected_version_any,
            expected_version_no_stream,
            expected_version_stream_exists,
            expected_version_exact,
            a_conflict_writes_nothing,
            empty_appends_are_rejected,
            concurrent_appends_to_one_stream,
            global_order_is_commit_order,
            a_concurrent_reader_never_skips,
            an_exact_retry_is_idempotent,
            a_partial_retry_is_refused,
            reads_from_the_middle,
            reads_filter_by_type,
            folding_the_log_sees_what_reading_it_returns,
            a_large_batch_is_one_append,
            missing_streams_read_empty,
            checkpoints_round_trip,
            snapshots_round_trip,
        );
    };
    (@tests $factory:expr; $($behaviour:ident),* $(,)?) => {$(
        #[$crate::testkit::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $behaviour() {
            let store = $factory;
            $crate::testkit::$behaviour(store).await;
        }
    )*};
}

/// A new event with a fresh id.
#[must_use]
pub fn event(event_type: &str, payload: &str) -> NewEvent {
    NewEvent::new(event_type.to_owned(), 1, payload.as_bytes().to_vec())
}

fn numbered(count: usize) -> Vec<NewEvent> {
    (0..count).map(|index| event("Numbered", &format!(r#"{{"n":{index}}}"#))).collect()
}

fn unique_stream(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::now_v7().simple())
}

async fn head<S: EventStore>(store: &S) -> u64 {
    let mut position = 0;
    loop {
        let page = store.read_all(position + 1, 10_000, &[]).await.expect("read the log");
        match page.last() {
            Some(last) => position = last.position,
            None => return position,
        }
    }
}

async fn whole_log<S: EventStore>(store: &S, from: u64) -> Vec<StoredEvent> {
    let mut events: Vec<StoredEvent> = Vec::new();
    loop {
        let next = events.last().map_or(from, |last| last.position + 1);
        let page = store.read_all(next, 1_000, &[]).await.expect("read the log");
        if page.is_empty() {
            return events;
        }
        events.extend(page);
    }
}

fn is_conflict(result: &Result<crate::store::AppendOutcome, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict { .. }))
}

/// Appended events read back byte for byte, with their ids, namespaces (or none), types,
/// versions and metadata, at stream versions 1, 2, ... and increasing global positions.
pub async fn append_and_read_back_byte_identical<S: EventStore>(store: S) {
    let stream = unique_stream("read-back");
    let mut with_metadata =
        event("Shipped", r#"{"carrier":"DHL","weight":1.5e3,"tags":["a","\u00e9"],"nested":{"k":null}}"#)
            .in_namespace("Shipping.v2 \u{e9}");
    with_metadata.event_version = 7;
    with_metadata.metadata.correlation_id = Some(Uuid::now_v7());
    with_metadata.metadata.causation_id = Some(Uuid::now_v7());
    with_metadata.metadata.custom.insert("user".into(), "ada".into());
    let batch = vec![event("Created", r#"{ "spaced" :  true }"#), with_metadata];
    let before = SystemTime::now() - Duration::from_secs(5);
    let outcome = store.append(&stream, ExpectedVersion::NoStream, batch.clone()).await.expect("append");
    assert_eq!(outcome.first_version, 1);
    assert_eq!(outcome.positions.len(), 2);
    assert!(outcome.positions[0] < outcome.positions[1], "positions increase within a batch");
    assert!(!outcome.already_stored);
    let read = store.read_stream(&stream, 1, 100).await.expect("read");
    assert_eq!(read.len(), 2);
    for ((stored, appended), position) in read.iter().zip(&batch).zip(&outcome.positions) {
        assert_eq!(stored.id, appended.id);
        assert_eq!(stored.stream_id, stream);
        assert_eq!(stored.namespace.as_deref(), appended.namespace.as_deref());
        assert_eq!(stored.event_type, appended.event_type);
        assert_eq!(stored.event_version, appended.event_version);
        assert_eq!(stored.payload, appended.payload, "payload bytes must come back unchanged");
        assert_eq!(stored.metadata, appended.metadata);
        assert_eq!(stored.position, *position);
        assert!(stored.recorded_at >= before && stored.recorded_at <= SystemTime::now() + Duration::from_secs(5));
    }
    assert_eq!((read[0].stream_version, read[1].stream_version), (1, 2));
    let from_log = store.read_all(outcome.positions[0], 2, &[]).await.expect("read the log");
    assert_eq!(from_log, read, "the global log returns the same envelopes");
}

/// `Any` appends to new and existing streams.
pub async fn expected_version_any<S: EventStore>(store: S) {
    let stream = unique_stream("any");
    store.append(&stream, ExpectedVersion::Any, numbered(1)).await.expect("append to a new stream");
    let outcome = store.append(&stream, ExpectedVersion::Any, numbered(2)).await.expect("append to an existing stream");
    assert_eq!((outcome.first_version, outcome.last_version()), (2, 3));
}

/// `NoStream` appends only to a stream without events.
pub async fn expected_version_no_stream<S: EventStore>(store: S) {
    let stream = unique_stream("no-stream");
    store.append(&stream, ExpectedVersion::NoStream, numbered(1)).await.expect("append to a new stream");
    let result = store.append(&stream, ExpectedVersion::NoStream, numbered(1)).await;
    assert!(matches!(result, Err(StoreError::Conflict { actual: 1, .. })), "{result:?}");
}

/// `StreamExists` appends only to a stream with events.
pub async fn expected_version_stream_exists<S: EventStore>(store: S) {
    let stream = unique_stream("exists");
    let result = store.append(&stream, ExpectedVersion::StreamExists, numbered(1)).await;
    assert!(matches!(result, Err(StoreError::Conflict { actual: 0, .. })), "{result:?}");
    store.append(&stream, ExpectedVersion::Any, numbered(1)).await.expect("append");
    store.append(&stream, ExpectedVersion::StreamExists, numbered(1)).await.expect("append to an existing stream");
}

/// `Exact(n)` appends only at version n; `Exact(0)` is a new stream.
pub async fn expected_version_exact<S: EventStore>(store: S) {
    let stream = unique_stream("exact");
    assert!(is_conflict(&store.append(&stream, ExpectedVersion::Exact(1), numbered(1)).await));
    store.append(&stream, ExpectedVersion::Exact(0), numbered(2)).await.expect("append at 0");
    assert!(is_conflict(&store.append(&stream, ExpectedVersion::Exact(1), numbered(1)).await));
    assert!(is_conflict(&store.append(&stream, ExpectedVersion::Exact(3), numbered(1)).await));
    let outcome = store.append(&stream, ExpectedVersion::Exact(2), numbered(1)).await.expect("append at 2");
    assert_eq!(outcome.first_version, 3);
    let Err(StoreError::Conflict { expected, actual, .. }) =
        store.append(&stream, ExpectedVersion::Exact(2), numbered(1)).await
    else {
        panic!("a stale expected version must conflict");
    };
    assert_eq!((expected, actual), (ExpectedVersion::Exact(2), 3));
}

/// A conflicting append writes none of its events, anywhere.
pub async fn a_conflict_writes_nothing<S: EventStore>(store: S) {
    let stream = unique_stream("conflict");
    store.append(&stream, ExpectedVersion::Any, numbered(1)).await.expect("append");
    let before = head(&store).await;
    assert!(is_conflict(&store.append(&stream, ExpectedVersion::NoStream, numbered(5)).await));
    assert_eq!(store.read_stream(&stream, 1, 100).await.expect("read").len(), 1);
    assert_eq!(head(&store).await, before);
}

/// An append without events is an error, not a no-op that looks like success.
pub async fn empty_appends_are_rejected<S: EventStore>(store: S) {
    let stream = unique_stream("empty");
    let result = store.append(&stream, ExpectedVersion::Any, Vec::new()).await;
    assert!(matches!(result, Err(StoreError::EmptyAppend { .. })), "{result:?}");
}

/// Many tasks append to one stream, each reading the version and appending at it, retrying
/// on conflict: every version has exactly one winner, with no gaps, duplicates or losses.
pub async fn concurrent_appends_to_one_stream<S: EventStore>(store: S) {
    const TASKS: usize = 8;
    const EACH: usize = 15;
    let store = Arc::new(store);
    let stream = unique_stream("contended");
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (store, stream) = (Arc::clone(&store), stream.clone());
            tokio::spawn(async move {
                let mut won = Vec::new();
                for index in 0..EACH {
                    let new = event("Numbered", &format!(r#"{{"task":{task},"n":{index}}}"#));
                    loop {
                        let version = store.read_stream(&stream, 1, 100_000).await.expect("read").len() as u64;
                        match store.append(&stream, ExpectedVersion::Exact(version), vec![new.clone()]).await {
                            Ok(outcome) => {
                                won.push((outcome.first_version, new.id));
                                break;
                            }
                            Err(StoreError::Conflict { .. }) => {}
                            Err(other) => panic!("append failed: {other}"),
                        }
                    }
                }
                won
            })
        })
        .collect();
    let mut winners = BTreeMap::new();
    for task in tasks {
        for (version, id) in task.await.expect("task") {
            assert!(winners.insert(version, id).is_none(), "version {version} was won twice");
        }
    }
    let stored = store.read_stream(&stream, 1, 100_000).await.expect("read");
    assert_eq!(stored.len(), TASKS * EACH, "events were lost or duplicated");
    for (index, event) in stored.iter().enumerate() {
        assert_eq!(event.stream_version, index as u64 + 1, "stream versions have no gaps");
        assert_eq!(winners.get(&event.stream_version), Some(&event.id), "the winner of each version is what is stored");
    }
}

/// Positions are unique and increase in the order appends commit, across streams.
pub async fn global_order_is_commit_order<S: EventStore>(store: S) {
    let start = head(&store).await;
    let mut committed = Vec::new();
    for index in 0..20 {
        let stream = unique_stream(&format!("order-{}", index % 3));
        let outcome = store.append(&stream, ExpectedVersion::Any, numbered(1 + index % 3)).await.expect("append");
        committed.extend(outcome.positions);
    }
    assert!(committed.windows(2).all(|pair| pair[0] < pair[1]), "positions increase in commit order: {committed:?}");
    let log: Vec<u64> = whole_log(&store, start + 1).await.iter().map(|event| event.position).collect();
    assert_eq!(log, committed);
}

/// A reader following the global log while writers append never passes an event that then
/// commits behind it: what it collected equals the log in the end, in order, once each.
pub async fn a_concurrent_reader_never_skips<S: EventStore>(store: S) {
    const WRITERS: usize = 4;
    const APPENDS: usize = 25;
    let store = Arc::new(store);
    let start = head(&*store).await;
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for append in 0..APPENDS {
                    let stream = unique_stream(&format!("w{writer}"));
                    store.append(&stream, ExpectedVersion::Any, numbered(1 + append % 4)).await.expect("append");
                }
            })
        })
        .collect();
    let reader = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut seen: Vec<u64> = Vec::new();
            let mut quiet_rounds = 0;
            while quiet_rounds < 50 {
                let from = seen.last().map_or(start + 1, |last| last + 1);
                let page = store.read_all(from, 7, &[]).await.expect("read the log");
                if page.is_empty() {
                    quiet_rounds += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                } else {
                    quiet_rounds = 0;
                    seen.extend(page.iter().map(|event| event.position));
                }
            }
            seen
        })
    };
    for writer in writers {
        writer.await.expect("writer");
    }
    let seen = reader.await.expect("reader");
    let log: Vec<u64> = whole_log(&*store, start + 1).await.iter().map(|event| event.position).collect();
    assert_eq!(seen.len(), log.len(), "the reader skipped or repeated events");
    assert_eq!(seen, log);
}

/// Appending a batch again with the same event ids, at the same place, is acknowledged with
/// the first outcome and writes nothing.
pub async fn an_exact_retry_is_idempotent<S: EventStore>(store: S) {
    let stream = unique_stream("retry");
    store.append(&stream, ExpectedVersion::Any, numbered(2)).await.expect("append");
    let batch = numbered(3);
    let first = store.append(&stream, ExpectedVersion::Exact(2), batch.clone()).await.expect("append");
    let before = head(&store).await;
    let again = store.append(&stream, ExpectedVersion::Exact(2), batch).await.expect("an exact retry is acknowledged");
    assert!(again.already_stored);
    assert_eq!((again.first_version, &again.positions), (first.first_version, &first.positions));
    assert_eq!(store.read_stream(&stream, 1, 100).await.expect("read").len(), 5);
    assert_eq!(head(&store).await, before, "a retry writes nothing");
}

/// A batch whose ids are stored elsewhere is an error and writes nothing; so is one whose
/// ids are only partly stored, where the store declares `unique_event_ids`.
pub async fn a_partial_retry_is_refused<S: EventStore>(store: S) {
    let stream = unique_stream("partial");
    let batch = numbered(2);
    store.append(&stream, ExpectedVersion::NoStream, batch.clone()).await.expect("append");
    let before = head(&store).await;
    let elsewhere = store.append(&unique_stream("other"), ExpectedVersion::Any, batch.clone()).await;
    assert!(matches!(elsewhere, Err(StoreError::DuplicateEvent { .. })), "{elsewhere:?}");
    assert_eq!(head(&store).await, before, "a refused retry writes nothing");
    if !store.capabilities().unique_event_ids {
        return;
    }
    let partial = vec![batch[1].clone(), event("Numbered", "{}")];
    let result = store.append(&stream, ExpectedVersion::Any, partial).await;
    assert!(matches!(result, Err(StoreError::DuplicateEvent { .. })), "{result:?}");
    let tail_first = vec![event("Numbered", "{}"), batch[0].clone()];
    let result = store.append(&stream, ExpectedVersion::Any, tail_first).await;
    assert!(matches!(result, Err(StoreError::DuplicateEvent { .. })), "{result:?}");
    assert_eq!(head(&store).await, before, "a refused retry writes nothing");
}

/// Streams and the log read from any version or position, up to a limit.
pub async fn reads_from_the_middle<S: EventStore>(store: S) {
    let stream = unique_stream("middle");
    let outcome = store.append(&stream, ExpectedVersion::NoStream, numbered(10)).await.expect("append");
    let versions: Vec<u64> =
        store.read_stream(&stream, 4, 3).await.expect("read").iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, [4, 5, 6]);
    assert!(store.read_stream(&stream, 11, 3).await.expect("read").is_empty());
    let positions: Vec<u64> =
        store.read_all(outcome.positions[5], 2, &[]).await.expect("read").iter().map(|e| e.position).collect();
    assert_eq!(positions, outcome.positions[5..7]);
}

/// The log filtered by type returns only those types, in order, and the limit counts the
/// returned events.
pub async fn reads_filter_by_type<S: EventStore>(store: S) {
    let start = head(&store).await;
    let stream = unique_stream("types");
    let kinds = ["Alpha", "Beta", "Gamma", "Beta", "Alpha", "Beta"];
    let batch: Vec<NewEvent> = kinds.iter().map(|kind| event(kind, "{}")).collect();
    let outcome = store.append(&stream, ExpectedVersion::Any, batch).await.expect("append");
    let betas = store.read_all(start + 1, 100, &["Beta"]).await.expect("read");
    let expected: Vec<u64> = [1, 3, 5].iter().map(|&index| outcome.positions[index]).collect();
    assert_eq!(betas.iter().map(|e| e.position).collect::<Vec<_>>(), expected);
    assert!(betas.iter().all(|e| e.event_type == "Beta"));
    let two = store.read_all(start + 1, 2, &["Alpha", "Gamma"]).await.expect("read");
    assert_eq!(two.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(), ["Alpha", "Gamma"]);
    assert!(store.read_all(start + 1, 100, &["Delta"]).await.expect("read").is_empty());
}

/// Records what a log fold sees, and stops after `stop_after` events.
struct Recording {
    seen: Vec<StoredEvent>,
    stop_after: usize,
}

impl crate::store::LogFold for Recording {
    fn fold(&mut self, event: crate::store::LogEvent<'_>) -> bool {
        self.seen.push(event.into_stored());
        self.seen.len() < self.stop_after
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

async fn fold_log<S: EventStore>(
    store: &S,
    from: u64,
    max: usize,
    types: &[&str],
    stop_after: usize,
) -> (Vec<StoredEvent>, crate::store::LogFolded) {
    let fold = Box::new(Recording { seen: Vec::new(), stop_after });
    let (fold, folded) = store.fold_log(from, max, types, fold).await.expect("fold the log");
    let recording = fold.into_any().downcast::<Recording>().expect("the fold it was given");
    (recording.seen, folded)
}

/// A fold over the log sees exactly what `read_all` returns, envelope and bytes, with the
/// same start, limit and type filter, and stops when the fold says so.
pub async fn folding_the_log_sees_what_reading_it_returns<S: EventStore>(store: S) {
    let start = head(&store).await;
    let stream = unique_stream("fold");
    let mut batch: Vec<NewEvent> =
        ["Alpha", "Beta", "Gamma", "Beta", "Alpha", "Beta"].iter().map(|kind| event(kind, r#"{"k":1}"#)).collect();
    batch[2].metadata.correlation_id = Some(Uuid::now_v7());
    store.append(&stream, ExpectedVersion::Any, batch).await.expect("append");
    for (from, max, types) in
        [(start + 1, 100, &[][..]), (start + 2, 3, &[][..]), (start + 1, 2, &["Beta", "Gamma"][..])]
    {
        let read = store.read_all(from, max, types).await.expect("read");
        let (seen, folded) = fold_log(&store, from, max, types, usize::MAX).await;
        assert_eq!(seen, read, "fold_log({from}, {max}, {types:?})");
        assert_eq!(folded, crate::store::LogFolded { folded: read.len(), stopped: false });
    }
    let (seen, folded) = fold_log(&store, start + 1, 100, &[], 2).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(folded, crate::store::LogFolded { folded: 2, stopped: true });
}

/// 10,000 events in one append are one atomic batch at consecutive stream versions.
pub async fn a_large_batch_is_one_append<S: EventStore>(store: S) {
    let stream = unique_stream("large");
    let outcome = store.append(&stream, ExpectedVersion::NoStream, numbered(10_000)).await.expect("append");
    assert_eq!((outcome.first_version, outcome.last_version()), (1, 10_000));
    assert_eq!(outcome.positions.iter().collect::<HashSet<_>>().len(), 10_000);
    let mut read = 0;
    loop {
        let page = store.read_stream(&stream, read + 1, 3_000).await.expect("read");
        if page.is_empty() {
            break;
        }
        for event in &page {
            read += 1;
            assert_eq!(event.stream_version, read);
        }
    }
    assert_eq!(read, 10_000);
}

/// A stream without events reads as empty, not as an error.
pub async fn missing_streams_read_empty<S: EventStore>(store: S) {
    assert!(store.read_stream(&unique_stream("missing"), 1, 10).await.expect("read").is_empty());
    let end = head(&store).await;
    assert!(store.read_all(end + 1, 10, &[]).await.expect("read").is_empty());
}

/// Checkpoints save position and state together and load them back (if supported).
pub async fn checkpoints_round_trip<S: EventStore>(store: S) {
    let name = unique_stream("projection");
    if !store.capabilities().checkpoints {
        assert!(matches!(store.load_checkpoint(&name).await, Err(StoreError::Unsupported { .. })));
        return;
    }
    assert_eq!(store.load_checkpoint(&name).await.expect("load"), None);
    let first = Checkpoint { position: 42, state: Some(br#"{"orders":3}"#.to_vec()) };
    store.save_checkpoint(&name, first.clone()).await.expect("save");
    assert_eq!(store.load_checkpoint(&name).await.expect("load"), Some(first));
    let second = Checkpoint { position: 43, state: None };
    store.save_checkpoint(&name, second.clone()).await.expect("save");
    assert_eq!(store.load_checkpoint(&name).await.expect("load"), Some(second));
}

/// Snapshots load back as saved, and an older snapshot never replaces a newer one (if
/// supported).
pub async fn snapshots_round_trip<S: EventStore>(store: S) {
    let stream = unique_stream("snapshotted");
    if !store.capabilities().snapshots {
        assert!(matches!(store.load_snapshot(&stream).await, Err(StoreError::Unsupported { .. })));
        return;
    }
    assert_eq!(store.load_snapshot(&stream).await.expect("load"), None);
    let newer = Snapshot { version: 500, fingerprint: "r1-abc".into(), state: br#"{"total":5}"#.to_vec() };
    store.save_snapshot(&stream, newer.clone()).await.expect("save");
    assert_eq!(store.load_snapshot(&stream).await.expect("load"), Some(newer.clone()));
    let older = Snapshot { version: 100, fingerprint: "r1-abc".into(), state: b"{}".to_vec() };
    store.save_snapshot(&stream, older).await.expect("save");
    assert_eq!(store.load_snapshot(&stream).await.expect("load"), Some(newer));
}
