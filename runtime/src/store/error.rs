//! [`StoreError`]: why a store operation failed.

use uuid::Uuid;

use super::ExpectedVersion;

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
    /// A stream id or type name the store cannot hold (a NUL byte in PostgreSQL text, a
    /// subject too long for NATS); nothing was written.
    #[error("the {what} `{shown}` cannot be stored here: {reason}")]
    InvalidIdentifier {
        /// What it is: "stream id" or "event type".
        what: &'static str,
        /// Its first characters.
        shown: String,
        /// Why the store cannot hold it.
        reason: String,
    },
    /// The store does not have an optional capability (see [`Capabilities`](super::Capabilities)).
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
    /// [`CorruptEvent`](crate::decode::CorruptEvent), but a broken envelope).
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

impl StoreError {
    /// [`StoreError::InvalidIdentifier`] for `identifier`, shown by its first 40 characters.
    #[must_use]
    pub fn invalid_identifier(what: &'static str, identifier: &str, reason: impl Into<String>) -> Self {
        let mut shown: String = identifier.chars().take(40).collect::<String>().escape_debug().to_string();
        if identifier.chars().count() > 40 {
            shown.push('…');
        }
        Self::InvalidIdentifier { what, shown, reason: reason.into() }
    }

    /// A failure of the store's backend during `operation`.
    pub fn backend(
        operation: &'static str,
        retryable: bool,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Backend { operation, retryable, source: source.into() }
    }

    /// Whether trying the same operation again may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Backend { retryable: true, .. })
    }

    /// The same error for each caller of a batch that failed as a whole (a group commit):
    /// its text, retryable as the original was.
    #[must_use]
    pub fn for_each_caller(&self, operation: &'static str) -> Self {
        Self::backend(operation, self.is_retryable(), self.to_string())
    }
}
