//! What a store keeps beside the events: what it can do, projections' checkpoints and
//! aggregates' snapshots.

/// The optional capabilities a store declares. Build one with `..Capabilities::default()`
/// so that capabilities added later default to unsupported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// [`EventStore::load_checkpoint`](super::EventStore::load_checkpoint) and [`EventStore::save_checkpoint`](super::EventStore::save_checkpoint) work: projections
    /// can store their checkpoint and state.
    pub checkpoints: bool,
    /// [`EventStore::subscribe`](super::EventStore::subscribe) returns a receiver of the log's head position, so that live
    /// projections wake on appends instead of polling.
    pub notifications: bool,
    /// [`EventStore::load_snapshot`](super::EventStore::load_snapshot) and [`EventStore::save_snapshot`](super::EventStore::save_snapshot) work: aggregates with
    /// `snapshot_every` load from their latest snapshot.
    pub snapshots: bool,
    /// An event id is stored at most once: an append repeating some ids of an earlier append
    /// (not exactly that append) is refused with [`StoreError::DuplicateEvent`](super::StoreError::DuplicateEvent).
    pub unique_event_ids: bool,
    /// [`EventStore::append_inline`](super::EventStore::append_inline) works: an append can
    /// run read-model work in its own transaction, so that projections can be inline.
    /// (A PostgreSQL store whose role may not insert into `events` itself, and appends
    /// through the store's functions, cannot.)
    pub inline: bool,
}

/// An aggregate's state saved at a stream version, with the fingerprint of the state's shape
/// it was written with; a snapshot whose fingerprint differs from the code's is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The stream version the state includes.
    pub version: u64,
    /// The fingerprint of the state's schema and the aggregate's snapshot revision.
    pub fingerprint: String,
    /// The serialized state.
    pub state: Vec<u8>,
}

/// A projection's checkpoint: the last global position it applied, and its state at that
/// position if it persists one. Saved atomically, both or neither.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// The global position of the last event applied.
    pub position: u64,
    /// The serialized read model after that event, for a persisted projection.
    pub state: Option<Vec<u8>>,
}

/// A stream, as [`EventStore::streams`](super::EventStore::streams) lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Its id.
    pub stream_id: String,
    /// Its version: the stream version of its last event, which is its number of events.
    pub version: u64,
    /// When its last event was committed.
    pub last_recorded_at: std::time::SystemTime,
}
