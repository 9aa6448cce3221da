//! The [`Recorded`] envelope: an event together with where and when it was stored.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Correlation, causation and user metadata stored with every event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Shared by every event caused, directly or not, by one original request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The id of the message (command or event) that directly caused this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// Free-form user metadata.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub custom: serde_json::Map<String, serde_json::Value>,
}

impl Metadata {
    /// True when no field is set, so that nothing needs to be stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.correlation_id.is_none() && self.causation_id.is_none() && self.custom.is_empty()
    }
}

/// An event as it was stored: the typed payload with its envelope.
///
/// This is the seed's `Event { id, aggregateId, type, data, metadata }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded<E> {
    /// Unique id of the event (UUIDv7, so ids sort by creation time).
    pub id: Uuid,
    /// The stream (one aggregate instance) the event belongs to, e.g. `Order-42`.
    pub stream_id: String,
    /// Position in its stream, starting at 1.
    pub stream_version: u64,
    /// Position in the store's global log, starting at 1.
    pub position: u64,
    /// When the store committed the event.
    pub recorded_at: SystemTime,
    /// Correlation, causation and user metadata.
    pub metadata: Metadata,
    /// The typed event.
    pub event: E,
}

impl<E> Recorded<E> {
    /// Replaces the payload, keeping the envelope.
    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> Recorded<F> {
        Recorded {
            id: self.id,
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            position: self.position,
            recorded_at: self.recorded_at,
            metadata: self.metadata,
            event: f(self.event),
        }
    }
}

impl<E> Recorded<E> {
    /// The same envelope around a reference to the payload.
    #[must_use]
    pub fn as_ref(&self) -> Recorded<&E> {
        Recorded {
            id: self.id,
            stream_id: self.stream_id.clone(),
            stream_version: self.stream_version,
            position: self.position,
            recorded_at: self.recorded_at,
            metadata: self.metadata.clone(),
            event: &self.event,
        }
    }
}

impl<E> std::ops::Deref for Recorded<E> {
    type Target = E;
    fn deref(&self) -> &E {
        &self.event
    }
}
