//! One append as one message: its headers and its body, which carries every event of the
//! batch (JetStream 2.9 publishes one message atomically, several not).

use std::time::{Duration, SystemTime};

use async_nats::HeaderMap;
use async_nats::jetstream;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use eventsmith_runtime::recorded::Metadata;
use eventsmith_runtime::store::{AppendOutcome, NewEvent, StoreError, StoredEvent};
use uuid::Uuid;

pub(crate) const INDEX_BITS: u32 = 20;
/// The stream id, raw: what releases before 0.1.1 wrote. A header cannot hold every id (a
/// line break ends it), so the id is now written as its subject token instead.
pub(crate) const HEADER_STREAM: &str = "Es-Stream";
/// The stream id as its subject token (`[A-Za-z0-9_-]` kept, every other byte as `~HH`).
pub(crate) const HEADER_STREAM_TOKEN: &str = "Es-Stream-Token";
pub(crate) const HEADER_FIRST_VERSION: &str = "Es-First-Version";
pub(crate) const HEADER_COUNT: &str = "Es-Count";
/// The layout of a batch message's body: absent for the first, `2` with namespaces.
pub(crate) const HEADER_FORMAT: &str = "Es-Format";
pub(crate) const FORMAT_NAMESPACES: &str = "2";
/// When the batch was committed, as the writer timed it (nanoseconds since the Unix epoch):
/// the time its append returns, so that what a read returns agrees. Messages of earlier
/// releases have none and are timed by the server's receipt.
pub(crate) const HEADER_RECORDED_AT: &str = "Es-Recorded-At";

/// The value of [`HEADER_RECORDED_AT`] for `time`, and the time it stands for (to the
/// nanosecond, as it is read back).
pub(crate) fn recorded_at_header(time: SystemTime) -> (String, SystemTime) {
    let nanos = time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |since| since.as_nanos());
    let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
    (nanos.to_string(), SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos))
}
/// The length written for an event without a namespace.
const NO_NAMESPACE: u32 = u32::MAX;

/// An event's position: its message's stream sequence, and its index in the batch.
pub(crate) fn position(sequence: u64, index: usize) -> u64 {
    (sequence << INDEX_BITS) | index as u64
}

/// One batch as the body of one message (format 2): per event its id, namespace, type,
/// version, metadata and payload, each length-prefixed, so that payload bytes come back
/// unchanged. Format 1, written by earlier releases, has no namespace.
pub(crate) fn encode_batch(events: &[NewEvent]) -> Result<Bytes, StoreError> {
    let mut body = BytesMut::new();
    for event in events {
        let metadata = if event.metadata.is_empty() {
            Vec::new()
        } else {
            serde_json::to_vec(&event.metadata).map_err(|error| StoreError::Backend {
                operation: "append",
                retryable: false,
                source: Box::new(error),
            })?
        };
        body.put_slice(event.id.as_bytes());
        match &event.namespace {
            Some(namespace) => {
                body.put_u32(u32::try_from(namespace.len()).unwrap_or(NO_NAMESPACE - 1));
                body.put_slice(namespace.as_bytes());
            }
            None => body.put_u32(NO_NAMESPACE),
        }
        body.put_u32(u32::try_from(event.event_type.len()).unwrap_or(u32::MAX));
        body.put_slice(event.event_type.as_bytes());
        body.put_u32(event.event_version);
        body.put_u32(u32::try_from(metadata.len()).unwrap_or(u32::MAX));
        body.put_slice(&metadata);
        body.put_u32(u32::try_from(event.payload.len()).unwrap_or(u32::MAX));
        body.put_slice(&event.payload);
    }
    Ok(body.freeze())
}

pub(crate) struct Decoded {
    id: Uuid,
    namespace: Option<String>,
    event_type: String,
    event_version: u32,
    metadata: Metadata,
    payload: Vec<u8>,
}

fn decode_batch(sequence: u64, with_namespaces: bool, mut body: Bytes) -> Result<Vec<Decoded>, StoreError> {
    let corrupt = |reason: &str| StoreError::CorruptRow { position: position(sequence, 0), reason: reason.to_owned() };
    let take = |body: &mut Bytes, length: usize| -> Result<Bytes, StoreError> {
        if body.remaining() < length { Err(corrupt("the message is truncated")) } else { Ok(body.split_to(length)) }
    };
    let mut events = Vec::new();
    while body.has_remaining() {
        let id = Uuid::from_slice(&take(&mut body, 16)?).map_err(|_| corrupt("bad event id"))?;
        let namespace = match with_namespaces.then(|| take(&mut body, 4).map(|mut length| length.get_u32())) {
            None | Some(Ok(NO_NAMESPACE)) => None,
            Some(length) => Some(
                String::from_utf8(take(&mut body, length? as usize)?.to_vec()).map_err(|_| corrupt("bad namespace"))?,
            ),
        };
        let length = take(&mut body, 4)?.get_u32() as usize;
        let event_type = String::from_utf8(take(&mut body, length)?.to_vec()).map_err(|_| corrupt("bad event type"))?;
        let event_version = take(&mut body, 4)?.get_u32();
        let length = take(&mut body, 4)?.get_u32() as usize;
        let metadata = take(&mut body, length)?;
        let metadata = if metadata.is_empty() {
            Metadata::default()
        } else {
            serde_json::from_slice(&metadata).map_err(|_| corrupt("the metadata does not decode"))?
        };
        let length = take(&mut body, 4)?.get_u32() as usize;
        let payload = take(&mut body, length)?.to_vec();
        events.push(Decoded { id, namespace, event_type, event_version, metadata, payload });
    }
    Ok(events)
}

pub(crate) fn header_u64(headers: &HeaderMap, name: &str) -> u64 {
    headers.get(name).and_then(|value| value.as_str().parse().ok()).unwrap_or(0)
}

/// A message of the stream with its decoded batch.
pub(crate) struct Batch {
    pub(crate) sequence: u64,
    pub(crate) stream_id: String,
    pub(crate) first_version: u64,
    pub(crate) time: SystemTime,
    pub(crate) events: Vec<Decoded>,
}

impl Batch {
    /// Reads a message of the stream. One that is not a whole batch written by the store (a
    /// header missing or lying, no events, versions past the last one there is) is a
    /// [`StoreError::CorruptRow`] naming what is wrong, never a panic.
    pub(crate) fn from_message(message: jetstream::message::StreamMessage) -> Result<Self, StoreError> {
        let sequence = message.sequence;
        let corrupt = |reason: String| StoreError::CorruptRow { position: position(sequence, 0), reason };
        let stream_id = match (message.headers.get(HEADER_STREAM_TOKEN), message.headers.get(HEADER_STREAM)) {
            (Some(token), _) => crate::stream_id_of_token(token.as_str())
                .ok_or_else(|| corrupt(format!("`{HEADER_STREAM_TOKEN}` is not a stream id's token")))?,
            (None, Some(raw)) => raw.as_str().to_owned(),
            (None, None) => return Err(corrupt(format!("the message has no `{HEADER_STREAM_TOKEN}` header"))),
        };
        let first_version = header_u64(&message.headers, HEADER_FIRST_VERSION);
        if first_version == 0 {
            return Err(corrupt(format!("the message has no valid `{HEADER_FIRST_VERSION}` header")));
        }
        let time = match message.headers.get(HEADER_RECORDED_AT) {
            Some(value) => match value.as_str().parse::<u64>() {
                Ok(nanos) => SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos),
                Err(_) => return Err(corrupt(format!("`{HEADER_RECORDED_AT}` is not a count of nanoseconds"))),
            },
            None => {
                let nanos = message.time.unix_timestamp_nanos();
                SystemTime::UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
            }
        };
        let with_namespaces =
            message.headers.get(HEADER_FORMAT).is_some_and(|format| format.as_str() == FORMAT_NAMESPACES);
        let count = message.headers.get(HEADER_COUNT).map(|value| value.as_str().parse::<usize>());
        let events = decode_batch(sequence, with_namespaces, message.payload)?;
        if events.is_empty() {
            return Err(corrupt("the message holds no events".to_owned()));
        }
        if let Some(count) = count
            && count != Ok(events.len())
        {
            return Err(corrupt(format!("`{HEADER_COUNT}` does not match the {} events of the message", events.len())));
        }
        if first_version.checked_add(events.len() as u64 - 1).is_none() {
            return Err(corrupt(format!(
                "`{HEADER_FIRST_VERSION}` {first_version} leaves no room for the batch's versions"
            )));
        }
        Ok(Self { sequence, stream_id, first_version, time, events })
    }

    pub(crate) fn last_version(&self) -> u64 {
        self.first_version + self.events.len() as u64 - 1
    }

    pub(crate) fn outcome(&self, already_stored: bool) -> AppendOutcome {
        AppendOutcome {
            first_version: self.first_version,
            positions: (0..self.events.len()).map(|index| position(self.sequence, index)).collect(),
            recorded_at: self.time,
            already_stored,
        }
    }

    pub(crate) fn into_stored(self) -> impl Iterator<Item = StoredEvent> {
        let (sequence, first_version, time, stream_id) = (self.sequence, self.first_version, self.time, self.stream_id);
        self.events.into_iter().enumerate().map(move |(index, event)| StoredEvent {
            id: event.id,
            stream_id: stream_id.clone(),
            stream_version: first_version + index as u64,
            position: position(sequence, index),
            recorded_at: time,
            namespace: event.namespace,
            event_type: event.event_type,
            event_version: event.event_version,
            payload: event.payload,
            metadata: event.metadata,
        })
    }

    pub(crate) fn same_ids(&self, events: &[NewEvent]) -> bool {
        self.events.len() == events.len() && self.events.iter().zip(events).all(|(stored, new)| stored.id == new.id)
    }
}
