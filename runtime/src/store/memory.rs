//! [`MemoryStore`]: the whole store behind one mutex, for tests and examples.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use uuid::Uuid;

use tokio::sync::watch;

use super::{
    AppendOutcome, Capabilities, Checkpoint, EventStore, ExpectedVersion, FoldedLog, LogFold, LogFolded, NewEvent,
    Snapshot, StoreError, StoredEvent, StreamFold,
};

/// An event store in memory. Appends are serialized by one lock, so the global log is in
/// commit order by construction. Payloads are kept as the encoded bytes, so a test on the
/// memory store exercises the same encode and decode as a durable store.
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
    head: watch::Sender<u64>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self { state: Mutex::default(), head: watch::Sender::new(0) }
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

impl EventStore for MemoryStore {
    async fn append(
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
        self.head.send_replace(state.log.len() as u64);
        Ok(AppendOutcome { first_version: actual + 1, positions, recorded_at, already_stored: false })
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let state = self.lock();
        let Some(indices) = state.streams.get(stream_id) else {
            return Ok(Vec::new());
        };
        let skip = usize::try_from(from_version.saturating_sub(1)).unwrap_or(usize::MAX);
        Ok(indices.iter().skip(skip).take(max_count).map(|&index| state.log[index].clone()).collect())
    }

    async fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let state = self.lock();
        let skip = usize::try_from(from_position.saturating_sub(1)).unwrap_or(usize::MAX);
        let wanted = |event: &&StoredEvent| types.is_empty() || types.contains(&event.event_type.as_str());
        Ok(state.log.iter().skip(skip).filter(wanted).take(max_count).cloned().collect())
    }

    async fn fold_log(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
        mut fold: Box<dyn LogFold>,
    ) -> Result<FoldedLog, StoreError> {
        let state = self.lock();
        let skip = usize::try_from(from_position.saturating_sub(1)).unwrap_or(usize::MAX);
        let wanted = |event: &&StoredEvent| types.is_empty() || types.contains(&event.event_type.as_str());
        let mut folded = LogFolded { folded: 0, stopped: false };
        for event in state.log.iter().skip(skip).filter(wanted).take(max_count) {
            folded.folded += 1;
            if !fold.fold(event.as_log()) {
                folded.stopped = true;
                break;
            }
        }
        Ok((fold, folded))
    }

    async fn fold_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        mut fold: Box<dyn StreamFold>,
    ) -> Result<Box<dyn StreamFold>, StoreError> {
        let state = self.lock();
        let Some(indices) = state.streams.get(stream_id) else { return Ok(fold) };
        let skip = usize::try_from(from_version.saturating_sub(1)).unwrap_or(usize::MAX);
        for &index in indices.iter().skip(skip) {
            if !fold.fold(state.log[index].as_raw()) {
                break;
            }
        }
        Ok(fold)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { checkpoints: true, notifications: true, snapshots: true, unique_event_ids: true }
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        Ok(self.lock().checkpoints.get(name).cloned())
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        self.lock().checkpoints.insert(name.to_owned(), checkpoint);
        Ok(())
    }

    fn subscribe(&self) -> Option<watch::Receiver<u64>> {
        Some(self.head.subscribe())
    }

    async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        Ok(self.lock().snapshots.get(stream_id).cloned())
    }

    async fn save_snapshot(&self, stream_id: &str, snapshot: Snapshot) -> Result<(), StoreError> {
        let mut state = self.lock();
        let newer = state.snapshots.get(stream_id).is_none_or(|saved| saved.version <= snapshot.version);
        if newer {
            state.snapshots.insert(stream_id.to_owned(), snapshot);
        }
        Ok(())
    }
}
