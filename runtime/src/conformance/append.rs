//! Appending: round trips, every expectation, conflicts, races, retries and batches.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

use super::{event, head, numbered, unique_stream};
use crate::store::{AppendOutcome, EventStore, ExpectedVersion, StoreError, StreamAppend};

fn is_conflict(result: &Result<AppendOutcome, StoreError>) -> bool {
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
        assert_eq!(stored.recorded_at, outcome.recorded_at, "the append's outcome gives the commit time as stored");
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
/// on conflict: every successful append lands right after the version it expected, every
/// version has exactly one winner, with no gaps, duplicates or losses. (Fails a store whose
/// check and insert are not one atomic step.)
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
                                assert_eq!(
                                    outcome.first_version,
                                    version + 1,
                                    "an append expecting version {version} must land right after it"
                                );
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

/// Appending a batch again with the same event ids, at the same place, is acknowledged with
/// the first outcome and writes nothing, also once the stream has moved on past it (the
/// retry of a writer that never saw its first answer). (Fails a store that answers such a
/// retry with a conflict: its writer would take a committed command for a failed one.)
pub async fn an_exact_retry_is_idempotent<S: EventStore>(store: S) {
    let stream = unique_stream("retry");
    store.append(&stream, ExpectedVersion::Any, numbered(2)).await.expect("append");
    let batch = numbered(3);
    let first = store.append(&stream, ExpectedVersion::Exact(2), batch.clone()).await.expect("append");
    let before = head(&store).await;
    let again =
        store.append(&stream, ExpectedVersion::Exact(2), batch.clone()).await.expect("an exact retry is acknowledged");
    assert!(again.already_stored);
    assert_eq!((again.first_version, &again.positions), (first.first_version, &first.positions));
    assert_eq!(store.read_stream(&stream, 1, 100).await.expect("read").len(), 5);
    assert_eq!(head(&store).await, before, "a retry writes nothing");

    // Another writer appends; then the first batch is sent again.
    store.append(&stream, ExpectedVersion::Exact(5), numbered(1)).await.expect("append");
    let before = head(&store).await;
    let late = store.append(&stream, ExpectedVersion::Exact(2), batch.clone()).await;
    let late = late.expect("a retry after the stream moved on is acknowledged");
    assert!(late.already_stored);
    assert_eq!((late.first_version, &late.positions), (first.first_version, &first.positions));
    assert_eq!(head(&store).await, before, "a late retry writes nothing");
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

/// Appends to several streams at once go in order, as one append after the other would (a
/// later one sees the earlier ones of its stream), until one is refused: those before it
/// are committed, none after it is tried; an exact retry among them is acknowledged; an
/// expectation ahead of the stream is refused too. (Fails a store that tries the appends
/// after a refused one, reorders them, or writes at a version past the stream's end.)
pub async fn appends_to_several_streams_go_in_order<S: EventStore>(store: S) {
    let (a, b) = (unique_stream("streams-a"), unique_stream("streams-b"));
    let append = |stream: &str, expected, events| StreamAppend { stream_id: stream.to_owned(), expected, events };
    let third = numbered(1);
    let outcomes = store
        .append_streams(vec![
            append(&a, ExpectedVersion::NoStream, numbered(2)),
            append(&b, ExpectedVersion::NoStream, numbered(1)),
            append(&a, ExpectedVersion::Exact(2), third.clone()),
        ])
        .await;
    let outcomes: Vec<AppendOutcome> = outcomes.into_iter().map(|outcome| outcome.expect("append")).collect();
    assert_eq!(outcomes.iter().map(|outcome| outcome.first_version).collect::<Vec<_>>(), [1, 1, 3]);
    let positions: Vec<u64> = outcomes.iter().flat_map(|outcome| outcome.positions.clone()).collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "in the order of the appends: {positions:?}");
    let log: Vec<_> = super::whole_log(&store, positions[0]).await;
    let order: Vec<_> = log.iter().map(|event| (event.stream_id.as_str(), event.stream_version)).collect();
    assert_eq!(order, [(a.as_str(), 1), (a.as_str(), 2), (b.as_str(), 1), (a.as_str(), 3)]);

    let before = head(&store).await;
    let outcomes = store
        .append_streams(vec![
            append(&b, ExpectedVersion::Exact(1), numbered(1)),
            append(&a, ExpectedVersion::Exact(1), numbered(1)),
            append(&b, ExpectedVersion::Exact(2), numbered(1)),
        ])
        .await;
    assert_eq!(outcomes.len(), 2, "none is tried after a refused one: {outcomes:?}");
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    assert!(matches!(outcomes[1], Err(StoreError::Conflict { actual: 3, .. })), "{outcomes:?}");
    assert_eq!(store.read_stream(&b, 1, 100).await.expect("read").len(), 2, "the one before the refusal is kept");
    let written = super::whole_log(&store, before + 1).await;
    assert_eq!(written.len(), 1, "only the one before the refusal is written");

    let again = store
        .append_streams(vec![
            append(&a, ExpectedVersion::Exact(2), third),
            append(&b, ExpectedVersion::Exact(2), vec![]),
        ])
        .await;
    assert!(again[0].as_ref().is_ok_and(|outcome| outcome.already_stored), "{again:?}");
    assert!(matches!(again[1], Err(StoreError::EmptyAppend { .. })), "{again:?}");
    assert_eq!(super::whole_log(&store, before + 1).await, written, "a retry and an empty append write nothing");

    // An expectation ahead of its stream (which would leave a gap in its versions) is
    // refused like one behind it, with nothing of the batch kept past it.
    let ahead = store
        .append_streams(vec![
            append(&b, ExpectedVersion::Exact(7), numbered(1)),
            append(&a, ExpectedVersion::Exact(3), numbered(1)),
        ])
        .await;
    assert!(matches!(ahead[..], [Err(StoreError::Conflict { actual: 2, .. })]), "{ahead:?}");
    assert_eq!(super::whole_log(&store, before + 1).await, written, "nothing of a refused batch is kept");
    if store.capabilities().unique_event_ids {
        // Refused at its second event (an id stored before): its first is not kept either.
        let stored = store.read_stream(&b, 1, 1).await.expect("read").remove(0);
        let mut again = event("Numbered", "{}");
        again.id = stored.id;
        let outcomes = store
            .append_streams(vec![append(&a, ExpectedVersion::Exact(3), vec![event("Numbered", "{}"), again])])
            .await;
        assert!(matches!(outcomes[..], [Err(StoreError::DuplicateEvent { .. })]), "{outcomes:?}");
        assert_eq!(super::whole_log(&store, before + 1).await, written, "nothing of a refused append is kept");
    }
}

/// 10,000 events in one append are one atomic batch at consecutive stream versions: a reader
/// polling the stream while it is written sees none of it or all of it, never a part. (Fails
/// a store that splits a batch into several commits.)
pub async fn a_large_batch_is_one_append<S: EventStore>(store: S) {
    const SIZE: usize = 10_000;
    let store = Arc::new(store);
    let stream = unique_stream("large");
    let watcher = {
        let (store, stream) = (Arc::clone(&store), stream.clone());
        tokio::spawn(async move {
            let mut seen = HashSet::new();
            loop {
                let count = store.read_stream(&stream, 1, SIZE + 1).await.expect("read").len();
                seen.insert(count);
                if count == SIZE {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let outcome = store.append(&stream, ExpectedVersion::NoStream, numbered(SIZE)).await.expect("append");
    let seen = tokio::time::timeout(Duration::from_secs(60), watcher)
        .await
        .expect("the batch becomes visible")
        .expect("watcher");
    assert!(seen.iter().all(|&count| count == 0 || count == SIZE), "a reader saw part of the batch: {seen:?} events");
    assert_eq!((outcome.first_version, outcome.last_version()), (1, SIZE as u64));
    assert_eq!(outcome.positions.iter().collect::<HashSet<_>>().len(), SIZE);
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
    assert_eq!(read, SIZE as u64);
}

/// `follows_directly` (given the last position of an append) says that the next append
/// follows it, and not one with another append between: the app relies on it to apply its
/// own commits without reading the log, so a wrong `true` would skip events.
pub async fn appends_say_which_follows_directly<S: EventStore>(store: S) {
    let stream = unique_stream("follows");
    let first = store.append(&stream, ExpectedVersion::Any, numbered(3)).await.expect("append");
    let second = store.append(&stream, ExpectedVersion::Any, numbered(1)).await.expect("append");
    let (last_of_first, first_of_second) = (first.positions[2], second.positions[0]);
    assert!(store.follows_directly(last_of_first, first_of_second), "the second append directly follows the first");
    let between = store.append(&unique_stream("between"), ExpectedVersion::Any, numbered(2)).await.expect("append");
    let third = store.append(&stream, ExpectedVersion::Any, numbered(2)).await.expect("append");
    assert!(
        !store.follows_directly(second.positions[0], third.positions[0]),
        "an append with another between does not directly follow"
    );
    assert!(store.follows_directly(between.positions[1], third.positions[0]));
}
