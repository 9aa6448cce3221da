//! [`MemoryStore`]: the whole store behind one mutex, for tests and examples.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use uuid::Uuid;

use tokio::sync::watch;

use super::{
    AppendOutcome, BoxFuture, Capabilities, Checkpoint, EventStore, ExpectedVersion, FoldedLog, Head, LogFold,
    LogFolded, NewEvent, Snapshot, StoreError, StoredEvent, StreamFold,
};

/// An event store in memory. Appends are serialized by one lock, so the global log is in
/// commit order by construction. Payloads are kept as the encoded bytes, so a test on the
/// memory store exercises the same encode and decode as a durable store.
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
    head: Head,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self { state: Mutex::default(), head: Head::new(0) }
    }
}

#[derive(Debug, Default)]
struct State {
    /// The global log; the event at index `i` has position `i + 1`.
    log: Vec<StoredEvent>,
    /// Per stream, the log index of each of its events in stream order.
    streams: HashMap<String, Vec<usize>>,
    /// The log index of every event id.
    ids: HashMap<Uuid, usize>,
    /// Projection checkpoints by name.
    checkpoints: HashMap<String, Checkpoint>,
    /// The latest snapshot of each stream.
    snapshots: HashMap<String, Snapshot>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held with the state half-changed: every append
        // checks first and then only pushes.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Checks whether `events` were all stored before, in that order, in `stream_id`.
    fn earlier_append(&self, stream_id: &str, events: &[NewEvent]) -> Result<Option<AppendOutcome>, StoreError> {
        let stored: Vec<Option<&StoredEvent>> =
            events.iter().map(|event| self.ids.get(&event.id).map(|&index| &self.log[index])).collect();
        let Some(first) = stored.iter().flatten().next() else {
            return Ok(None);
        };
        let exact_retry = stored.iter().enumerate().all(|(offset, event)| {
            event.is_some_and(|event| {
                event.stream_id == stream_id && event.stream_version == first.stream_version + offset as u64
            })
        });
        if !exact_retry {
            let event_id =
                events.iter().find(|event| self.ids.contains_key(&event.id)).map_or(first.id, |event| event.id);
            return Err(StoreError::DuplicateEvent { stream_id: stream_id.to_owned(), event_id });
        }
        Ok(Some(AppendOutcome {
            first_version: first.stream_version,
            positions: stored.iter().flatten().map(|event| event.position).collect(),
            recorded_at: first.recorded_at,
            already_stored: true,
        }))
    }
}

impl MemoryStore {
    fn append_now(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        if events.is_empty() {
            return Err(StoreError::EmptyAppend { stream_id: stream_id.to_owned() });
        }
        let mut state = self.lock();
        if let Some(outcome) = state.earlier_append(stream_id, &events)? {
            return Ok(outcome);
        }
        let actual = state.streams.get(stream_id).map_or(0, |indices| indices.len() as u64);
        if !expected.admits(actual) {
            return Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual });
        }
        let recorded_at = SystemTime::now();
        let first_index = state.log.len();
        let mut positions = Vec::with_capacity(events.len());
        for (offset, event) in events.into_iter().enumerate() {
            let index = first_index + offset;
            positions.push(index as u64 + 1);
            state.ids.insert(event.id, index);
            state.log.push(StoredEvent {
                id: event.id,
                stream_id: stream_id.to_owned(),
                stream_version: actual + offset as u64 + 1,
                position: index as u64 + 1,
                recorded_at,
                namespace: event.namespace.map(Cow::into_owned),
                event_type: event.event_type.into_owned(),
                event_version: event.event_version,
                payload: event.payload,
                metadata: event.metadata,
            });
        }
        let appended = first_index..state.log.len();
        state.streams.entry(stream_id.to_owned()).or_default().extend(appended);
        self.head.advance(state.log.len() as u64);
        Ok(AppendOutcome { first_version: actual + 1, positions, recorded_at, already_stored: false })
    }

    fn fold_log_now(&self, from_position: u64, max_count: usize, types: &[&str], fold: &mut dyn LogFold) -> LogFolded {
        let state = self.lock();
        let skip = usize::try_from(from_position.saturating_sub(1)).unwrap_or(usize::MAX);
        let mut folded = LogFolded { folded: 0, stopped: false };
        for event in state.log.iter().skip(skip).filter(|event| wanted(types, event)).take(max_count) {
            folded.folded += 1;
            if !fold.fold(event.as_log()) {
                folded.stopped = true;
                break;
            }
        }
        folded
    }
}

fn wanted(types: &[&str], event: &StoredEvent) -> bool {
    types.is_empty() || types.contains(&event.event_type.as_str())
}

/// Every operation runs under the lock at once; the futures are ready when first polled.
impl EventStore for MemoryStore {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        Box::pin(async move { self.append_now(stream_id, expected, events) })
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        max_count: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(async move {
            let state = self.lock();
            let Some(indices) = state.streams.get(stream_id) else {
                return Ok(Vec::new());
            };
            let skip = usize::try_from(from_version.saturating_sub(1)).unwrap_or(usize::MAX);
            Ok(indices.iter().skip(skip).take(max_count).map(|&index| state.log[index].clone()).collect())
        })
    }

    fn read_all<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(async move {
            let state = self.lock();
            let skip = usize::try_from(from_position.saturating_sub(1)).unwrap_or(usize::MAX);
            Ok(state.log.iter().skip(skip).filter(|event| wanted(types, event)).take(max_count).cloned().collect())
        })
    }

    fn fold_log<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
        mut fold: Box<dyn LogFold>,
    ) -> BoxFuture<'a, Result<FoldedLog, StoreError>> {
        Box::pin(async move {
            let folded = self.fold_log_now(from_position, max_count, types, &mut *fold);
            Ok((fold, folded))
        })
    }

    fn fold_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        mut fold: Box<dyn StreamFold>,
    ) -> BoxFuture<'a, Result<Box<dyn StreamFold>, StoreError>> {
        Box::pin(async move {
            let state = self.lock();
            let Some(indices) = state.streams.get(stream_id) else { return Ok(fold) };
            let skip = usize::try_from(from_version.saturating_sub(1)).unwrap_or(usize::MAX);
            for &index in indices.iter().skip(skip) {
                if !fold.fold(state.log[index].as_raw()) {
                    break;
                }
            }
            Ok(fold)
        })
    }

    fn head(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move { Ok(self.lock().log.len() as u64) })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { checkpoints: true, notifications: true, snapshots: true, unique_event_ids: true, inline: false }
    }

    fn load_checkpoint<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Checkpoint>, StoreError>> {
        Box::pin(async move { Ok(self.lock().checkpoints.get(name).cloned()) })
    }

    fn save_checkpoint<'a>(&'a self, name: &'a str, checkpoint: Checkpoint) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.lock().checkpoints.insert(name.to_owned(), checkpoint);
            Ok(())
        })
    }

    fn subscribe(&self) -> Option<watch::Receiver<u64>> {
        Some(self.head.subscribe())
    }

    fn load_snapshot<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, StoreError>> {
        Box::pin(async move { Ok(self.lock().snapshots.get(stream_id).cloned()) })
    }

    fn save_snapshot<'a>(&'a self, stream_id: &'a str, snapshot: Snapshot) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut state = self.lock();
            let newer = state.snapshots.get(stream_id).is_none_or(|saved| saved.version <= snapshot.version);
            if newer {
                state.snapshots.insert(stream_id.to_owned(), snapshot);
            }
            Ok(())
        })
    }
}
