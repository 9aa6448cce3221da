//! The [`EventStore`] trait (the seed's `writeEvents`/`getEvents`) and the stores.
//!
//! A store keeps streams of events, each event at a stream version (1, 2, ...) and at a
//! position in one global log (1, 2, ...) that readers see in commit order.

mod memory;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use uuid::Uuid;

pub use memory::MemoryStore;
#[cfg(feature = "nats")]
pub use nats::{NatsOptions, NatsStore};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
#[cfg(feature = "sqlite")]
pub use sqlite::{Durability, SqliteOptions, SqliteStore};

use crate::recorded::Metadata;

/// What an append expects of the stream before it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version.
    Any,
    /// The stream must have no events.
    NoStream,
    /// The stream must have at least one event.
    StreamExists,
    /// The stream's last event must be at exactly this version (0 means no events).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream currently at `actual` (0 for no events) satisfies this expectation.
    #[must_use]
    pub fn admits(self, actual: u64) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream => actual == 0,
            Self::StreamExists => actual > 0,
            Self::Exact(version) => actual == version,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any version"),
            Self::NoStream => f.write_str("no stream"),
            Self::StreamExists => f.write_str("an existing stream"),
            Self::Exact(version) => write!(f, "version {version}"),
        }
    }
}

/// An event ready to be appended: its type and version, JSON payload, id and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique id; appending the same ids again is an idempotent retry.
    pub id: Uuid,
    /// The namespace of the type name ([`Event::NAMESPACE`](crate::Event::NAMESPACE)), or
    /// `None` for an event written without one, which readers match by type name alone.
    pub namespace: Option<Cow<'static, str>>,
    /// Stable type name.
    pub event_type: Cow<'static, str>,
    /// Version of the type's schema.
    pub event_version: u32,
    /// The payload, a JSON object.
    pub payload: Vec<u8>,
    /// Correlation, causation and user metadata.
    pub metadata: Metadata,
}

impl NewEvent {
    /// An event of type `event_type` at `event_version` with a JSON-object payload, a fresh
    /// id (a UUIDv7), no namespace and no metadata.
    ///
    /// ```
    /// use eventsmith::store::NewEvent;
    ///
    /// let event = NewEvent::new("OrderCreated", 1, br#"{"order_id":"42"}"#.to_vec()).in_namespace("OrderEvent");
    /// assert_eq!(event.namespace.as_deref(), Some("OrderEvent"));
    /// ```
    #[must_use]
    pub fn new(event_type: impl Into<Cow<'static, str>>, event_version: u32, payload: Vec<u8>) -> Self {
        NewEvent {
            id: crate::__private::new_event_id(),
            namespace: None,
            event_type: event_type.into(),
            event_version,
            payload,
            metadata: Metadata::default(),
        }
    }

    /// Encodes a typed event for [`EventStore::append`], in its enum's namespace, with a
    /// fresh id and no metadata: what importing events written elsewhere starts from.
    ///
    /// # Errors
    /// The event does not serialize to a JSON object.
    pub fn encode<E: crate::event::Event>(event: &E) -> Result<Self, crate::error::EncodeError> {
        Ok(NewEvent::new(event.event_type(), event.event_version(), event.encode()?).in_namespace(E::NAMESPACE))
    }

    /// The same event in `namespace`.
    #[must_use]
    pub fn in_namespace(mut self, namespace: impl Into<Cow<'static, str>>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// The same event with `id`.
    #[must_use]
    pub fn with_id(mut self, id: Uuid) -> Self {
        self.id = id;
        self
    }

    /// The same event with `metadata`.
    #[must_use]
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }
}

/// An event as a store returns it: raw payload and full envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Unique id.
    pub id: Uuid,
    /// The stream it belongs to.
    pub stream_id: String,
    /// Its position in the stream, from 1.
    pub stream_version: u64,
    /// Its position in the global log, from 1.
    pub position: u64,
    /// When it was committed.
    pub recorded_at: SystemTime,
    /// The namespace of the type name, `None` for an event written without one.
    pub namespace: Option<String>,
    /// Stable type name.
    pub event_type: String,
    /// Version of the type's schema.
    pub event_version: u32,
    /// The payload, a JSON object, byte for byte as appended.
    pub payload: Vec<u8>,
    /// Correlation, causation and user metadata.
    pub metadata: Metadata,
}

impl StoredEvent {
    /// The event borrowed as a [`RawEvent`].
    #[must_use]
    pub fn as_raw(&self) -> RawEvent<'_> {
        RawEvent {
            stream_id: &self.stream_id,
            stream_version: self.stream_version,
            position: self.position,
            event_type: &self.event_type,
            event_version: self.event_version,
            payload: &self.payload,
        }
    }
}

/// Where an append put its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The stream version of the first appended event.
    pub first_version: u64,
    /// The global position of each appended event, in order.
    pub positions: Vec<u64>,
    /// When the batch was committed.
    pub recorded_at: SystemTime,
    /// True when every event was already stored by an earlier try of the same append,
    /// which was acknowledged without writing again.
    pub already_stored: bool,
}

impl AppendOutcome {
    /// The stream version after the append.
    #[must_use]
    pub fn last_version(&self) -> u64 {
        self.first_version + self.positions.len() as u64 - 1
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The stream is not at the expected version; nothing was written.
    #[error("version conflict on stream `{stream_id}`: expected {expected}, but it is at version {actual}")]
    Conflict {
        /// The stream appended to.
        stream_id: String,
        /// What the append expected.
        expected: ExpectedVersion,
        /// The stream's actual version (0 for no events).
        actual: u64,
    },
    /// An append with no events.
    #[error("append to stream `{stream_id}` has no events")]
    EmptyAppend {
        /// The stream appended to.
        stream_id: String,
    },
    /// Some of a batch's event ids are already stored, but not as this exact batch.
    #[error(
        "event {event_id} is already stored, but the batch appended to `{stream_id}` is not an exact retry of an earlier append"
    )]
    DuplicateEvent {
        /// The stream appended to.
        stream_id: String,
        /// The first id found already stored.
        event_id: Uuid,
    },
    /// The store does not have an optional capability (see [`Capabilities`]).
    #[error("this store does not support {capability}")]
    Unsupported {
        /// The capability that was asked for.
        capability: &'static str,
    },
    /// The database is not an eventsmith store; nothing was written to it.
    #[error("`{location}` is not an eventsmith store: {reason}")]
    NotAStore {
        /// Where the store was opened.
        location: String,
        /// What was found instead.
        reason: String,
    },
    /// The store was written by a newer release of eventsmith; nothing was written to it.
    #[error(
        "`{location}` has eventsmith schema version {found}, newer than the {supported} this release knows; upgrade eventsmith to open it"
    )]
    SchemaTooNew {
        /// Where the store was opened.
        location: String,
        /// The schema version found.
        found: i64,
        /// The newest schema version this release reads.
        supported: i64,
    },
    /// A stored row is malformed (not a payload that fails to decode, which is a
    /// [`CorruptEvent`](crate::error::CorruptEvent), but a broken envelope).
    #[error("the stored event at global position {position} is malformed: {reason}")]
    CorruptRow {
        /// Its global position.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// The store's backend failed. Nothing was half-written.
    #[error("store backend failed during {operation}: {source}")]
    Backend {
        /// What the store was doing.
        operation: &'static str,
        /// Whether trying again may succeed (a connection lost, a lock timed out).
        retryable: bool,
        /// The backend's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The optional capabilities a store declares. Build one with `..Capabilities::default()`
/// so that capabilities added later default to unsupported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// [`EventStore::load_checkpoint`] and [`EventStore::save_checkpoint`] work: projections
    /// can store their checkpoint and state.
    pub checkpoints: bool,
    /// [`EventStore::subscribe`] returns a receiver of the log's head position, so that live
    /// projections wake on appends instead of polling.
    pub notifications: bool,
    /// [`EventStore::load_snapshot`] and [`EventStore::save_snapshot`] work: aggregates with
    /// `snapshot_every` load from their latest snapshot.
    pub snapshots: bool,
    /// An event id is stored at most once: an append repeating some ids of an earlier append
    /// (not exactly that append) is refused with [`StoreError::DuplicateEvent`].
    pub unique_event_ids: bool,
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

/// A stored event borrowed from the store's own buffers, so that a fold reads it without
/// copying: see [`EventStore::fold_stream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEvent<'a> {
    /// The stream it belongs to.
    pub stream_id: &'a str,
    /// Its position in the stream.
    pub stream_version: u64,
    /// Its position in the global log, or 0 where the store's fold does not read it (the
    /// App looks it up when it needs it for an error).
    pub position: u64,
    /// Its stored type name.
    pub event_type: &'a str,
    /// Its stored version.
    pub event_version: u32,
    /// Its payload bytes.
    pub payload: &'a [u8],
}

/// An event of the global log borrowed from the store's own buffers, with its whole
/// envelope: what [`EventStore::fold_log`] hands a projection, so that catching up decodes
/// each payload in place instead of copying every event out first.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent<'a> {
    /// Unique id.
    pub id: Uuid,
    /// The stream it belongs to.
    pub stream_id: &'a str,
    /// Its position in the stream, from 1.
    pub stream_version: u64,
    /// Its position in the global log, from 1.
    pub position: u64,
    /// When it was committed.
    pub recorded_at: SystemTime,
    /// The namespace of its type name, `None` for an event written without one.
    pub namespace: Option<&'a str>,
    /// Its stored type name.
    pub event_type: &'a str,
    /// Its stored version.
    pub event_version: u32,
    /// Its payload bytes.
    pub payload: &'a [u8],
    /// Correlation, causation and user metadata.
    pub metadata: Cow<'a, Metadata>,
}

impl StoredEvent {
    /// The event borrowed as a [`LogEvent`].
    #[must_use]
    pub fn as_log(&self) -> LogEvent<'_> {
        LogEvent {
            id: self.id,
            stream_id: &self.stream_id,
            stream_version: self.stream_version,
            position: self.position,
            recorded_at: self.recorded_at,
            namespace: self.namespace.as_deref(),
            event_type: &self.event_type,
            event_version: self.event_version,
            payload: &self.payload,
            metadata: Cow::Borrowed(&self.metadata),
        }
    }
}

impl LogEvent<'_> {
    /// The event copied out of the store's buffers.
    #[must_use]
    pub fn into_stored(self) -> StoredEvent {
        StoredEvent {
            id: self.id,
            stream_id: self.stream_id.to_owned(),
            stream_version: self.stream_version,
            position: self.position,
            recorded_at: self.recorded_at,
            namespace: self.namespace.map(str::to_owned),
            event_type: self.event_type.to_owned(),
            event_version: self.event_version,
            payload: self.payload.to_vec(),
            metadata: self.metadata.into_owned(),
        }
    }
}

/// A fold over the global log, run by the store as it reads the log: see
/// [`EventStore::fold_log`].
pub trait LogFold: Send + 'static {
    /// Takes one event, in log order. Returns `false` to stop reading.
    fn fold(&mut self, event: LogEvent<'_>) -> bool;

    /// The fold back as `Any`, to recover its concrete type.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send>;
}

/// What [`EventStore::fold_log`] gives back: the fold, and where it ended.
pub type FoldedLog = (Box<dyn LogFold>, LogFolded);

/// Where a [`EventStore::fold_log`] call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogFolded {
    /// Events handed to the fold (those of the requested types).
    pub folded: usize,
    /// Whether the fold asked to stop.
    pub stopped: bool,
}

/// A fold over a stream, run by the store as it reads the stream (on the store's own thread
/// where it has one), so that loading an aggregate decodes each payload in place.
pub trait StreamFold: Send + 'static {
    /// Takes one event, in stream order. Returns `false` to stop reading.
    fn fold(&mut self, event: RawEvent<'_>) -> bool;

    /// The fold as `Any`, to take its result back after [`EventStore::fold_stream`].
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send>;
}

/// Moves a store's head receiver forward to `position` (never back), waking live readers.
pub(crate) fn advance_head(head: &tokio::sync::watch::Sender<u64>, position: u64) {
    head.send_if_modified(|current| {
        let advanced = position > *current;
        *current = (*current).max(position);
        advanced
    });
}

/// A future returned by [`DynEventStore`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An append-only store of event streams with a global log.
///
/// The required core is three operations; the [`App`](crate::App) builds everything else on
/// them. Implementations write `async fn`s; the futures must be `Send`.
///
/// ```
/// use eventsmith::store::{EventStore, ExpectedVersion, MemoryStore, NewEvent};
///
/// # tokio_test();
/// # fn tokio_test() { let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let store = MemoryStore::new();
/// let event = NewEvent::new("OrderCreated", 1, br#"{"order_id":"42"}"#.to_vec());
/// store.append("Order-42", ExpectedVersion::NoStream, vec![event]).await.unwrap();
/// let events = store.read_stream("Order-42", 1, 100).await.unwrap();
/// assert_eq!(events[0].stream_version, 1);
/// assert_eq!(events[0].payload, br#"{"order_id":"42"}"#);
/// # }); }
/// ```
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream_id` atomically, if the stream satisfies `expected`.
    ///
    /// An append whose event ids are all already stored in that stream, in that order, is
    /// acknowledged with the original outcome and `already_stored` set, writing nothing.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when `expected` does not hold; [`StoreError::EmptyAppend`];
    /// [`StoreError::DuplicateEvent`] for a partial retry; [`StoreError::Backend`].
    fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<AppendOutcome, StoreError>> + Send;

    /// Reads up to `max_count` events of `stream_id` from stream version `from_version` on.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        max_count: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// Reads up to `max_count` events of the global log from `from_position` on, in commit
    /// order, keeping only the given event types when `types` is not empty (by type name, in
    /// any namespace: readers that want one enum's events check the namespace too).
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// Feeds the events of `stream_id` from `from_version` on to `fold`, in order, until the
    /// stream ends or `fold` stops, and gives `fold` back. The default reads pages with
    /// [`read_stream`](Self::read_stream); a store may override it to fold without copies.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    fn fold_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        mut fold: Box<dyn StreamFold>,
    ) -> impl Future<Output = Result<Box<dyn StreamFold>, StoreError>> + Send {
        async move {
            const PAGE: usize = 1024;
            let mut next = from_version;
            loop {
                let page = self.read_stream(stream_id, next, PAGE).await?;
                for stored in &page {
                    next = stored.stream_version + 1;
                    if !fold.fold(stored.as_raw()) {
                        return Ok(fold);
                    }
                }
                if page.len() < PAGE {
                    return Ok(fold);
                }
            }
        }
    }

    /// Feeds up to `max_count` events of the global log from `from_position` on to `fold`,
    /// in commit order, keeping only the given event types when `types` is not empty, until
    /// the log ends or `fold` stops; gives `fold` back with how many events it took. The
    /// default reads [`read_all`](Self::read_all); a store may override it to fold without
    /// copies.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    fn fold_log(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
        mut fold: Box<dyn LogFold>,
    ) -> impl Future<Output = Result<FoldedLog, StoreError>> + Send {
        async move {
            let events = self.read_all(from_position, max_count, types).await?;
            let mut folded = LogFolded { folded: 0, stopped: false };
            for event in &events {
                folded.folded += 1;
                if !fold.fold(event.as_log()) {
                    folded.stopped = true;
                    break;
                }
            }
            Ok((fold, folded))
        }
    }

    /// The optional capabilities this store has. None unless the store says otherwise.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Loads the checkpoint saved under `name`.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] unless the store declares [`Capabilities::checkpoints`].
    fn load_checkpoint(&self, name: &str) -> impl Future<Output = Result<Option<Checkpoint>, StoreError>> + Send {
        let _ = name;
        async { Err(StoreError::Unsupported { capability: "checkpoints" }) }
    }

    /// Saves `checkpoint` under `name`, position and state in one atomic write.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] unless the store declares [`Capabilities::checkpoints`].
    fn save_checkpoint(
        &self,
        name: &str,
        checkpoint: Checkpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (name, checkpoint);
        async { Err(StoreError::Unsupported { capability: "checkpoints" }) }
    }

    /// A receiver of the global log's head position, updated after every append, if the
    /// store declares [`Capabilities::notifications`].
    fn subscribe(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// Loads the latest snapshot of `stream_id`.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] unless the store declares [`Capabilities::snapshots`].
    fn load_snapshot(&self, stream_id: &str) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
        let _ = stream_id;
        async { Err(StoreError::Unsupported { capability: "snapshots" }) }
    }

    /// Saves a snapshot of `stream_id`, replacing an older one (never a newer one).
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] unless the store declares [`Capabilities::snapshots`].
    fn save_snapshot(
        &self,
        stream_id: &str,
        snapshot: Snapshot,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (stream_id, snapshot);
        async { Err(StoreError::Unsupported { capability: "snapshots" }) }
    }
}

/// The object-safe form of [`EventStore`], implemented for every store, so that an
/// [`App`](crate::App) can hold any store chosen at run time. `dyn DynEventStore` is itself
/// an [`EventStore`]: call the `EventStore` methods on it.
pub trait DynEventStore: Send + Sync + 'static {
    #[doc(hidden)]
    fn append_dyn<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>>;

    #[doc(hidden)]
    fn read_stream_dyn<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        max_count: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>>;

    #[doc(hidden)]
    fn read_all_dyn<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>>;

    #[doc(hidden)]
    fn fold_stream_dyn<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        fold: Box<dyn StreamFold>,
    ) -> BoxFuture<'a, Result<Box<dyn StreamFold>, StoreError>>;

    #[doc(hidden)]
    fn fold_log_dyn<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
        fold: Box<dyn LogFold>,
    ) -> BoxFuture<'a, Result<FoldedLog, StoreError>>;

    #[doc(hidden)]
    fn capabilities_dyn(&self) -> Capabilities;

    #[doc(hidden)]
    fn load_checkpoint_dyn<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Checkpoint>, StoreError>>;

    #[doc(hidden)]
    fn save_checkpoint_dyn<'a>(
        &'a self,
        name: &'a str,
        checkpoint: Checkpoint,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    #[doc(hidden)]
    fn subscribe_dyn(&self) -> Option<tokio::sync::watch::Receiver<u64>>;

    #[doc(hidden)]
    fn load_snapshot_dyn<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, StoreError>>;

    #[doc(hidden)]
    fn save_snapshot_dyn<'a>(&'a self, stream_id: &'a str, snapshot: Snapshot)
    -> BoxFuture<'a, Result<(), StoreError>>;
}

impl<S: EventStore> DynEventStore for S {
    fn append_dyn<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        Box::pin(self.append(stream_id, expected, events))
    }

    fn read_stream_dyn<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        max_count: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(self.read_stream(stream_id, from_version, max_count))
    }

    fn read_all_dyn<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(self.read_all(from_position, max_count, types))
    }

    fn fold_stream_dyn<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        fold: Box<dyn StreamFold>,
    ) -> BoxFuture<'a, Result<Box<dyn StreamFold>, StoreError>> {
        Box::pin(self.fold_stream(stream_id, from_version, fold))
    }

    fn fold_log_dyn<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
        fold: Box<dyn LogFold>,
    ) -> BoxFuture<'a, Result<FoldedLog, StoreError>> {
        Box::pin(self.fold_log(from_position, max_count, types, fold))
    }

    fn capabilities_dyn(&self) -> Capabilities {
        self.capabilities()
    }

    fn load_checkpoint_dyn<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Checkpoint>, StoreError>> {
        Box::pin(self.load_checkpoint(name))
    }

    fn save_checkpoint_dyn<'a>(
        &'a self,
        name: &'a str,
        checkpoint: Checkpoint,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.save_checkpoint(name, checkpoint))
    }

    fn subscribe_dyn(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.subscribe()
    }

    fn load_snapshot_dyn<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, StoreError>> {
        Box::pin(self.load_snapshot(stream_id))
    }

    fn save_snapshot_dyn<'a>(
        &'a self,
        stream_id: &'a str,
        snapshot: Snapshot,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.save_snapshot(stream_id, snapshot))
    }
}

impl EventStore for dyn DynEventStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_dyn(stream_id, expected, events).await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.read_stream_dyn(stream_id, from_version, max_count).await
    }

    async fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.read_all_dyn(from_position, max_count, types).await
    }

    async fn fold_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        fold: Box<dyn StreamFold>,
    ) -> Result<Box<dyn StreamFold>, StoreError> {
        self.fold_stream_dyn(stream_id, from_version, fold).await
    }

    async fn fold_log(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
        fold: Box<dyn LogFold>,
    ) -> Result<FoldedLog, StoreError> {
        self.fold_log_dyn(from_position, max_count, types, fold).await
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities_dyn()
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        self.load_checkpoint_dyn(name).await
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        self.save_checkpoint_dyn(name, checkpoint).await
    }

    fn subscribe(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.subscribe_dyn()
    }

    async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        self.load_snapshot_dyn(stream_id).await
    }

    async fn save_snapshot(&self, stream_id: &str, snapshot: Snapshot) -> Result<(), StoreError> {
        self.save_snapshot_dyn(stream_id, snapshot).await
    }
}
