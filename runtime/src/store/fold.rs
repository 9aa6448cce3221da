//! Folds a store runs as it reads, so that events are decoded in place from its buffers.

use super::{LogEvent, RawEvent};

/// A fold over the global log, run by the store as it reads the log: see
/// [`EventStore::fold_log`](super::EventStore::fold_log).
pub trait LogFold: Send + 'static {
    /// Takes one event, in log order. Returns `false` to stop reading.
    fn fold(&mut self, event: LogEvent<'_>) -> bool;

    /// The fold back as `Any`, to recover its concrete type.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send>;
}

/// What [`EventStore::fold_log`](super::EventStore::fold_log) gives back: the fold, and where it ended.
pub type FoldedLog = (Box<dyn LogFold>, LogFolded);

/// Where a [`EventStore::fold_log`](super::EventStore::fold_log) call ended.
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

    /// The fold as `Any`, to take its result back after [`EventStore::fold_stream`](super::EventStore::fold_stream).
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send>;
}
