//! What an append expects of its stream, and where it put its events.

use std::fmt;
use std::time::SystemTime;

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

/// One append of [`EventStore::append_streams`](super::EventStore::append_streams): events
/// for a stream, and what the stream must be at.
#[derive(Debug, Clone)]
pub struct StreamAppend {
    /// The stream appended to.
    pub stream_id: String,
    /// What the append expects of the stream.
    pub expected: ExpectedVersion,
    /// The events, in order.
    pub events: Vec<super::NewEvent>,
}
