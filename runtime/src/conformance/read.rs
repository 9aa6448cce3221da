//! Reading: from the middle, by type, in commit order while writers append, and the folds,
//! the head and notifications.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::{event, head, numbered, unique_stream, whole_log};
use crate::store::{
    EventStore, EventStoreExt, ExpectedVersion, LogEvent, LogFold, LogFolded, NewEvent, RawEvent, StoredEvent,
    StreamFold,
};

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

impl LogFold for Recording {
    fn fold(&mut self, event: LogEvent<'_>) -> bool {
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
) -> (Vec<StoredEvent>, LogFolded) {
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
        assert_eq!(folded, LogFolded { folded: read.len(), stopped: false });
    }
    // What they return, and not only that they agree (both may share one reader): the
    // filtered read crosses a page of `max` events, most of them of other types.
    let kinds = |events: &[StoredEvent]| events.iter().map(|e| e.event_type.clone()).collect::<Vec<_>>();
    let (seen, _) = fold_log(&store, start + 1, 2, &["Beta", "Gamma"], usize::MAX).await;
    assert_eq!(kinds(&seen), ["Beta", "Gamma"], "fold_log across a page of other types");
    let all = store.read_all(start + 1, 100, &[]).await.expect("read");
    let (seen, _) = fold_log(&store, start + 1, 3, &["Alpha"], usize::MAX).await;
    assert_eq!(seen.iter().map(|e| e.position).collect::<Vec<_>>(), [all[0].position, all[4].position]);
    let (seen, folded) = fold_log(&store, start + 1, 100, &[], 2).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(folded, LogFolded { folded: 2, stopped: true });
}

/// Streams are listed by prefix, in the byte order of their ids (`z` before `é`), each with
/// its version and its last event's commit time, in pages that go on after the last id of
/// the page before. (Fails a store whose pages start at their `after` or lose it.)
pub async fn streams_are_listed_by_prefix_in_byte_order<S: EventStore>(store: S) {
    let prefix = unique_stream("list");
    let id = |suffix: &str| format!("{prefix}-{suffix}");
    for (suffix, events) in [("b", 2), ("\u{e9}", 1), ("a", 1), ("z", 1), ("c", 2)] {
        store.append(&id(suffix), ExpectedVersion::NoStream, numbered(events)).await.expect("append");
    }
    store.append(&id("c"), ExpectedVersion::Exact(2), numbered(1)).await.expect("append");
    store.append(&format!("{prefix}x"), ExpectedVersion::NoStream, numbered(1)).await.expect("append");
    store.append(&unique_stream("unlisted"), ExpectedVersion::NoStream, numbered(1)).await.expect("append");

    let all = store.streams(&format!("{prefix}-"), None, 100).await.expect("list");
    let listed: Vec<(&str, u64)> = all.iter().map(|stream| (stream.stream_id.as_str(), stream.version)).collect();
    let expected = [(id("a"), 1), (id("b"), 2), (id("c"), 3), (id("z"), 1), (id("\u{e9}"), 1)];
    let expected: Vec<(&str, u64)> = expected.iter().map(|(id, version)| (id.as_str(), *version)).collect();
    assert_eq!(listed, expected);
    for stream in &all {
        let last = store.read_stream(&stream.stream_id, stream.version, 1).await.expect("read");
        assert_eq!(stream.last_recorded_at, last[0].recorded_at, "{}: its last event's commit time", stream.stream_id);
    }
    let mut paged = Vec::new();
    let mut after = None;
    for _ in 0..=all.len() {
        let page = store.streams(&format!("{prefix}-"), after.as_deref(), 2).await.expect("list");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.stream_id.clone());
        paged.extend(page);
    }
    assert_eq!(paged, all, "pages after the last id of the page before");
    let wider = store.streams(&prefix, Some(&id("z")), 100).await.expect("list");
    let wider: Vec<&str> = wider.iter().map(|stream| stream.stream_id.as_str()).collect();
    assert_eq!(wider, [id("\u{e9}"), format!("{prefix}x")], "after the last of the narrower prefix");
}

/// A stream without events reads as empty, not as an error.
pub async fn missing_streams_read_empty<S: EventStore>(store: S) {
    assert!(store.read_stream(&unique_stream("missing"), 1, 10).await.expect("read").is_empty());
    let end = head(&store).await;
    assert!(store.read_all(end + 1, 10, &[]).await.expect("read").is_empty());
}

/// A fold over a stream sees exactly what `read_stream` returns (versions, types, versions
/// and payload bytes), from any version on, and stops when the fold says so. (Fails a store
/// whose `fold_stream` skips or repeats an event, or reads another stream's.)
pub async fn folding_a_stream_sees_what_reading_it_returns<S: EventStore>(store: S) {
    let stream = unique_stream("fold-stream");
    let batch: Vec<NewEvent> = ["Alpha", "Beta", "Gamma", "Beta", "Alpha"]
        .iter()
        .enumerate()
        .map(|(n, kind)| event(kind, &format!(r#"{{"n":{n}}}"#)))
        .collect();
    store.append(&stream, ExpectedVersion::NoStream, batch).await.expect("append");
    store.append(&unique_stream("fold-stream-other"), ExpectedVersion::NoStream, numbered(3)).await.expect("append");
    for from in [1, 3, 5, 6] {
        let read = store.read_stream(&stream, from, 100).await.expect("read");
        let seen = fold_stream(&store, &stream, from, usize::MAX).await;
        let expected: Vec<(String, u64, String, u32, Vec<u8>)> = read
            .iter()
            .map(|e| (e.stream_id.clone(), e.stream_version, e.event_type.clone(), e.event_version, e.payload.clone()))
            .collect();
        assert_eq!(seen, expected, "fold_stream({stream}, {from})");
    }
    let stopped = fold_stream(&store, &stream, 1, 2).await;
    assert_eq!(stopped.iter().map(|e| e.1).collect::<Vec<_>>(), [1, 2], "a fold that stops reads no further");
    assert!(fold_stream(&store, &unique_stream("fold-stream-missing"), 1, usize::MAX).await.is_empty());
}

/// Records what a stream fold sees, and stops after `stop_after` events.
struct StreamRecording {
    seen: Vec<(String, u64, String, u32, Vec<u8>)>,
    stop_after: usize,
}

impl StreamFold for StreamRecording {
    fn fold(&mut self, event: RawEvent<'_>) -> bool {
        self.seen.push((
            event.stream_id.to_owned(),
            event.stream_version,
            event.event_type.to_owned(),
            event.event_version,
            event.payload.to_vec(),
        ));
        self.seen.len() < self.stop_after
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

async fn fold_stream<S: EventStore>(
    store: &S,
    stream: &str,
    from: u64,
    stop_after: usize,
) -> Vec<(String, u64, String, u32, Vec<u8>)> {
    let fold = StreamRecording { seen: Vec::new(), stop_after };
    store.fold_stream_into(stream, from, fold).await.expect("fold the stream").seen
}

/// `head` is the position of the last event of the log, as reading the log finds it.
/// (Fails a store whose `head` lags behind, or runs ahead of, what is committed.)
pub async fn the_head_is_the_last_position<S: EventStore>(store: S) {
    let outcome = store.append(&unique_stream("head"), ExpectedVersion::NoStream, numbered(3)).await.expect("append");
    let read = head(&store).await;
    assert_eq!(read, outcome.positions[2], "the log's last event is the one just appended");
    assert_eq!(store.head().await.expect("head"), read);
}

/// Where the store declares notifications, a subscriber hears of an append: its receiver
/// moves to the append's last position (or beyond) soon after. (Fails a store that declares
/// notifications and never sends them.)
pub async fn subscribers_hear_of_appends<S: EventStore>(store: S) {
    let Some(mut head) = store.subscribe() else {
        assert!(!store.capabilities().notifications, "a store that declares notifications hands out a receiver");
        return;
    };
    assert!(store.capabilities().notifications, "a store that hands out a receiver declares notifications");
    let outcome =
        store.append(&unique_stream("subscribed"), ExpectedVersion::NoStream, numbered(2)).await.expect("append");
    let last = outcome.positions[1];
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        while *head.borrow_and_update() < last {
            head.changed().await.expect("the store keeps the sender");
        }
    })
    .await;
    assert!(heard.is_ok(), "the subscriber did not hear of position {last} within 10 s");
}

/// Stream ids and type names that try to break out of wherever a store puts them: SQL
/// metacharacters, NATS wildcards and separators, NUL bytes, control and multi-byte
/// characters, a 100 KB id. Each is stored and read back exactly (the stream by its id, the
/// log by its type), or refused with an error before anything is written; either way the
/// store goes on working, and no other stream is touched.
pub async fn hostile_identifiers_are_kept_exactly_or_refused<S: EventStore>(store: S) {
    let long = format!("long-{}", "x".repeat(100_000));
    let hostile = [
        "'; DROP TABLE events; --",
        "quote\" and 'quote' and \\backslash",
        "orders.*",
        "orders.>",
        "a.b.c",
        "space and\ttab",
        "nul\0byte",
        "line\nbreak",
        "ünïcødé ✓ 🦀",
        "%s %d {} $1 ?",
        long.as_str(),
    ];
    let witness = unique_stream("witness");
    store.append(&witness, ExpectedVersion::NoStream, vec![event("Witness", "{}")]).await.expect("append the witness");
    for (index, name) in hostile.iter().enumerate() {
        let stream = format!("{name}-{}", Uuid::now_v7().simple());
        let event_type = format!("{name}{index}");
        let appended = store.append(&stream, ExpectedVersion::NoStream, vec![event(&event_type, "{}")]).await;
        let shown: String = name.chars().take(40).collect();
        match appended {
            Ok(outcome) => {
                let read = store.read_stream(&stream, 1, 10).await.expect("read the stream back");
                assert_eq!(read.len(), 1, "the stream {shown:?} holds its one event");
                assert_eq!(read[0].stream_id, stream, "the stream id {shown:?} comes back exactly");
                assert_eq!(read[0].event_type, event_type, "the type name {shown:?} comes back exactly");
                let by_type =
                    store.read_all(outcome.positions[0], 10, &[event_type.as_str()]).await.expect("read by type");
                assert_eq!(by_type.len(), 1, "the log filtered by the type {shown:?} holds the event");
                assert_eq!(by_type[0].stream_id, stream);
            }
            Err(_) => {
                // Refused: nothing of it is readable, whatever the store could or could not read.
                if let Ok(read) = store.read_stream(&stream, 1, 10).await {
                    assert!(read.is_empty(), "a refused append to {shown:?} wrote nothing");
                }
            }
        }
        // The store works, and the witness is untouched.
        let witnessed = store.read_stream(&witness, 1, 10).await.expect("read the witness");
        assert_eq!(witnessed.len(), 1, "after {shown:?}, the witness stream is as it was");
    }
    store
        .append(&witness, ExpectedVersion::Exact(1), vec![event("Witness", "{}")])
        .await
        .expect("the store still appends");
}
