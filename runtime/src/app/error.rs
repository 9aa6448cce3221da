//! The engine's errors: [`Error`], and [`ExecuteError`] for commands.

use crate::codec::{DecodeError, EncodeError};
use crate::decode::CorruptEvent;
use crate::store::{ExpectedVersion, StoreError};

/// Why [`App::execute`](crate::App::execute) did not commit a command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError<E> {
    /// The aggregate's handler rejected the command.
    #[error("command rejected by `{stream_id}`: {source}")]
    Rejected {
        /// The aggregate's stream.
        stream_id: String,
        /// The aggregate's own error.
        source: E,
    },
    /// The command needs an existing aggregate and its stream is empty.
    #[error("aggregate `{stream_id}` does not exist")]
    NotFound {
        /// The aggregate's stream.
        stream_id: String,
    },
    /// The command creates an aggregate that already exists.
    #[error("aggregate `{stream_id}` already exists at version {version}")]
    AlreadyExists {
        /// The aggregate's stream.
        stream_id: String,
        /// The stream's current version.
        version: u64,
    },
    /// Other writers kept winning the stream; the retries are used up.
    #[error(
        "stream `{stream_id}` kept changing: still a version conflict after {attempts} attempts \
         (expected {expected}, found {actual})"
    )]
    Conflict {
        /// The aggregate's stream.
        stream_id: String,
        /// How many times the command was tried.
        attempts: u32,
        /// The version the last attempt expected.
        expected: ExpectedVersion,
        /// The version the store had.
        actual: u64,
    },
    /// A stored event of the aggregate does not decode.
    #[error(transparent)]
    Corrupt(#[from] Box<CorruptEvent>),
    /// A produced event does not encode.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store failed while appending, in a way that leaves unknown whether the append
    /// committed (a connection lost after the request was sent), and trying again with the
    /// same event ids failed too. The events are either all stored, under these ids, or not
    /// at all: look them up, or execute the command again once the store is back (a new
    /// execution decides again on the state as stored).
    #[error(
        "the append to `{stream_id}` may or may not have committed: the store failed {attempts} times ({source}); \
         its events have ids {event_ids:?}"
    )]
    OutcomeUnknown {
        /// The aggregate's stream.
        stream_id: String,
        /// The ids of the events the append carried.
        event_ids: Vec<uuid::Uuid>,
        /// How many times the append was sent.
        attempts: u32,
        /// The store's last error.
        source: StoreError,
    },
    /// An inline projection could not apply the command's events in the append's
    /// transaction (an `#[apply]` returned an error, panicked, or its statement was
    /// refused): nothing was appended.
    #[error("inline projection `{projection}` refused the events of `{stream_id}`, so nothing was appended: {source}")]
    InlineRefused {
        /// The aggregate's stream.
        stream_id: String,
        /// The projection.
        projection: &'static str,
        /// The event, and why.
        source: Box<crate::projection::ApplyError>,
    },
    /// The handler produced an event that is `#[event(deprecated)]`; nothing was written.
    #[error("the command on `{stream_id}` produced `{event_type}`, which is deprecated: it is read, never written")]
    Deprecated {
        /// The aggregate's stream.
        stream_id: String,
        /// The deprecated event's type name.
        event_type: &'static str,
    },
}

/// The error type of everything in eventsmith that is not a command's own rejection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A command was not committed.
    #[error(transparent)]
    Execute(ExecuteError<Rejection>),
    /// A stored event does not decode.
    #[error(transparent)]
    Corrupt(#[from] Box<CorruptEvent>),
    /// An incoming envelope or payload does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An event does not encode.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The app was configured wrongly.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A projection stopped on an event it could not apply; it answers no queries until it
    /// is rebuilt or the app restarts after a fix.
    #[error(transparent)]
    ProjectionStopped(std::sync::Arc<super::runner::ProjectionStopped>),
    /// A query's projection was not registered with `App::builder().projection::<P>()`.
    #[error("projection `{projection}` is not registered; add `.projection::<{rust_type}>()` to the app builder")]
    ProjectionNotRegistered {
        /// The projection's name.
        projection: &'static str,
        /// Its Rust type.
        rust_type: &'static str,
    },
    /// A document projection was not registered with
    /// `App::builder().document_projection::<D>()` in this process.
    #[error(
        "document projection `{projection}` is not run by this app; add `.document_projection::<{rust_type}>()` to \
         the app builder"
    )]
    DocumentProjectionNotRegistered {
        /// The projection's name.
        projection: &'static str,
        /// Its Rust type.
        rust_type: &'static str,
    },
    /// A projection's saved checkpoint is past the end of the global log, as after restoring
    /// an older copy of the store. Nothing was applied.
    #[error(
        "the checkpoint of projection `{projection}` is at global position {checkpoint}, past the end of the log; \
         was the store restored from an older copy? Rebuild the projection or restore the matching store"
    )]
    CheckpointAhead {
        /// The projection's name.
        projection: &'static str,
        /// Its saved checkpoint.
        checkpoint: u64,
    },
    /// A query's answer does not serialize to JSON.
    #[error("the answer to `{query}` does not serialize: {source}")]
    Answer {
        /// The query's Rust type.
        query: &'static str,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A persisted projection's state does not serialize.
    #[error("cannot save the state of projection `{projection}`: {source}")]
    SaveState {
        /// The projection's name.
        projection: &'static str,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A document query failed.
    #[error(transparent)]
    Documents(#[from] crate::documents::DocumentError),
    /// A SQL read model's statement, migration or query failed.
    #[error(transparent)]
    Sql(#[from] crate::sql::SqlError),
    /// A SQL projection was not registered with `App::builder().sql_projection::<P>()` in
    /// this process.
    #[error(
        "SQL projection `{projection}` is not run by this app; add `.sql_projection::<{rust_type}>()` to the app builder"
    )]
    SqlProjectionNotRegistered {
        /// The projection's name.
        projection: &'static str,
        /// Its Rust type.
        rust_type: &'static str,
    },
    /// A projection had not reached a position when the time to wait for it ran out.
    #[error(
        "projection `{projection}` has applied the log up to {reached}, not yet up to {position}, after {waited:?}"
    )]
    NotYet {
        /// The projection's name.
        projection: &'static str,
        /// The position waited for.
        position: u64,
        /// Where the projection was.
        reached: u64,
        /// How long it was waited for.
        waited: std::time::Duration,
    },
}

/// An aggregate's own error, boxed so that [`Error`] does not depend on the aggregate.
#[derive(Debug)]
pub struct Rejection(pub Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// `Result` with eventsmith's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl<E> ExecuteError<E> {
    /// The stream of the aggregate the command was routed to, where known.
    pub fn stream_id(&self) -> Option<&str> {
        match self {
            Self::Rejected { stream_id, .. }
            | Self::Deprecated { stream_id, .. }
            | Self::NotFound { stream_id }
            | Self::AlreadyExists { stream_id, .. }
            | Self::Conflict { stream_id, .. }
            | Self::InlineRefused { stream_id, .. }
            | Self::OutcomeUnknown { stream_id, .. } => Some(stream_id),
            Self::Corrupt(corrupt) => Some(&corrupt.stream_id),
            Self::Encode(_) | Self::Store(_) => None,
        }
    }

    /// The aggregate's own error, when the command was rejected by its handler.
    pub fn rejection(&self) -> Option<&E> {
        match self {
            Self::Rejected { source, .. } => Some(source),
            _ => None,
        }
    }

    fn map_rejection<F>(self, f: impl FnOnce(E) -> F) -> ExecuteError<F> {
        match self {
            Self::Rejected { stream_id, source } => ExecuteError::Rejected { stream_id, source: f(source) },
            Self::NotFound { stream_id } => ExecuteError::NotFound { stream_id },
            Self::Deprecated { stream_id, event_type } => ExecuteError::Deprecated { stream_id, event_type },
            Self::AlreadyExists { stream_id, version } => ExecuteError::AlreadyExists { stream_id, version },
            Self::Conflict { stream_id, attempts, expected, actual } => {
                ExecuteError::Conflict { stream_id, attempts, expected, actual }
            }
            Self::OutcomeUnknown { stream_id, event_ids, attempts, source } => {
                ExecuteError::OutcomeUnknown { stream_id, event_ids, attempts, source }
            }
            Self::InlineRefused { stream_id, projection, source } => {
                ExecuteError::InlineRefused { stream_id, projection, source }
            }
            Self::Corrupt(e) => ExecuteError::Corrupt(e),
            Self::Encode(e) => ExecuteError::Encode(e),
            Self::Store(e) => ExecuteError::Store(e),
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<ExecuteError<E>> for Error {
    fn from(error: ExecuteError<E>) -> Self {
        match error {
            ExecuteError::Corrupt(e) => Self::Corrupt(e),
            ExecuteError::Encode(e) => Self::Encode(e),
            ExecuteError::Store(e) => Self::Store(e),
            other => Self::Execute(other.map_rejection(|e| Rejection(Box::new(e)))),
        }
    }
}
