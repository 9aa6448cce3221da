//! The events a store takes and gives back: [`NewEvent`] to append, [`StoredEvent`] as read,
//! and the borrowed forms folds see ([`RawEvent`] of a stream, [`LogEvent`] of the log).

use std::borrow::Cow;
use std::time::SystemTime;

use uuid::Uuid;

use crate::codec::EncodeError;
use crate::event::Event;
use crate::id::new_event_id;
use crate::recorded::Metadata;

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
            id: new_event_id(),
            namespace: None,
            event_type: event_type.into(),
            event_version,
            payload,
            metadata: Metadata::default(),
        }
    }

    /// Encodes a typed event for [`EventStore::append`](super::EventStore::append), in its enum's namespace, with a
    /// fresh id and no metadata: what importing events written elsewhere starts from.
    ///
    /// # Errors
    /// The event does not serialize to a JSON object.
    pub fn encode<E: Event>(event: &E) -> Result<Self, EncodeError> {
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

/// A stored event borrowed from the store's own buffers, so that a fold reads it without
/// copying: see [`EventStore::fold_stream`](super::EventStore::fold_stream).
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
/// envelope: what [`EventStore::fold_log`](super::EventStore::fold_log) hands a projection, so that catching up decodes
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
