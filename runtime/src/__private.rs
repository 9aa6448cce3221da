//! What generated code needs, under stable absolute paths. Not a public API.

pub use core;
pub use schemars;
pub use serde;
pub use serde_json;
pub use std::boxed::Box;
pub use std::string::String;
pub use std::sync::OnceLock;
pub use std::vec::Vec;

pub use crate::aggregate::{Aggregate, Apply, Fold, Handle};
pub use crate::app::App;
pub use crate::command::{Command, CommandEnvelope, CommandFor, Dispatched, DispatchedEvent, ExpectStream};
pub use crate::error::{DecodeError, EncodeError, Error};
pub use crate::event::{Event, EventSchema, EventSchemas, EventType, Produces, SchemaOf, VariantOf};
pub use crate::projection::{
    ApplyError, ApplyOutcome, Idx, Projection, Query, QueryEnvelope, StoredAs, apply_member, stored_as,
};
pub use crate::recorded::Recorded;
pub use crate::store::{LogEvent, StoredEvent};

use serde::Deserialize;
use serde_json::value::RawValue;

/// A new event id: a UUIDv7 (Unix milliseconds, then 74 random bits). The random bits come
/// from a generator per thread (splitmix64) seeded once from the OS: `Uuid::now_v7` asks the
/// OS for randomness on every call, 450 ns each here, a fifth of a command on the memory
/// store. Ids stay unique across threads and processes as random v7 ids do; within one
/// millisecond they are not ordered, which nothing relies on.
#[must_use]
pub fn new_event_id() -> uuid::Uuid {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new({
            let seed = uuid::Uuid::now_v7().as_u128();
            (seed as u64) ^ ((seed >> 64) as u64).rotate_left(17)
        });
    }
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
    let (high, low) = STATE.with(|state| (splitmix64(state), splitmix64(state)));
    let mut random = [0_u8; 10];
    random[..8].copy_from_slice(&high.to_le_bytes());
    random[8..].copy_from_slice(&low.to_le_bytes()[..2]);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

fn splitmix64(state: &std::cell::Cell<u64>) -> u64 {
    let next = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    state.set(next);
    let mut z = next;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Encodes an event payload, checking that it is a JSON object.
///
/// # Errors
/// A failing `Serialize` impl, or a payload that is not a JSON object.
pub fn encode_payload<T: serde::Serialize + ?Sized>(
    event_type: &'static str,
    payload: &T,
) -> Result<Vec<u8>, EncodeError> {
    let bytes = serde_json::to_vec(payload).map_err(|source| EncodeError::Serialize { event_type, source })?;
    if bytes.first() == Some(&b'{') {
        Ok(bytes)
    } else {
        let found = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned();
        Err(EncodeError::NotAnObject { event_type, found })
    }
}

/// The payload of a unit variant.
#[must_use]
pub fn unit_payload() -> Vec<u8> {
    b"{}".to_vec()
}

/// Decodes an event payload straight into its typed variant.
///
/// # Errors
/// [`DecodeError::Payload`] naming the type and version.
pub fn decode_payload<'de, T: Deserialize<'de>>(
    event_type: &str,
    version: u32,
    payload: &'de [u8],
) -> Result<T, DecodeError> {
    serde_json::from_slice(payload).map_err(|source| DecodeError::Payload {
        event_type: event_type.to_owned(),
        version,
        source,
    })
}

/// Checks that a unit variant's payload is an object (its fields, if any, are ignored).
///
/// # Errors
/// [`DecodeError::Payload`] when the payload is not a JSON object.
pub fn decode_unit(event_type: &str, version: u32, payload: &[u8]) -> Result<(), DecodeError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(payload)
        .and_then(|_| {
            if payload.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'{') {
                Ok(())
            } else {
                Err(<serde_json::Error as serde::de::Error>::custom("expected a JSON object"))
            }
        })
        .map_err(|source| DecodeError::Payload { event_type: event_type.to_owned(), version, source })
}

/// The error for a stored type name that no variant has.
#[must_use]
pub fn unknown_type(event_type: &str, known: &[&str]) -> DecodeError {
    DecodeError::UnknownType { event_type: event_type.to_owned(), known: known.join(", ") }
}

/// The error for a known type at a version the code does not read.
#[must_use]
pub fn unknown_version(event_type: &str, version: u32, newest: u32) -> DecodeError {
    DecodeError::UnknownVersion { event_type: event_type.to_owned(), version, newest }
}

/// A decoded `{"type": ..., "data": ...}` envelope with the data still raw.
#[derive(Deserialize)]
pub struct RawEnvelope<'a> {
    /// The type name.
    #[serde(rename = "type")]
    pub kind: std::borrow::Cow<'a, str>,
    /// The raw JSON of the data.
    #[serde(borrow)]
    pub data: &'a RawValue,
}

/// Splits a `{"type": ..., "data": ...}` envelope.
///
/// # Errors
/// [`DecodeError::Envelope`] when it is not such an envelope.
pub fn decode_envelope(json: &[u8]) -> Result<RawEnvelope<'_>, DecodeError> {
    serde_json::from_slice(json).map_err(|source| DecodeError::Envelope { source })
}

/// Turns a typed commit into the summary a dynamic dispatch returns.
pub fn dispatched<A: Aggregate>(committed: crate::app::Committed<A>) -> Dispatched {
    Dispatched {
        stream_id: committed.stream_id,
        version: committed.version,
        events: committed
            .events
            .iter()
            .map(|recorded| DispatchedEvent {
                event_type: recorded.event.event_type(),
                stream_version: recorded.stream_version,
                position: recorded.position,
            })
            .collect(),
    }
}

/// Executes a command routed from a dynamic envelope.
///
/// # Errors
/// As [`App::execute`].
pub async fn dispatch<C>(app: &App, command: C) -> Result<Dispatched, Error>
where
    C: Command,
    C::Aggregate: Handle<C>,
{
    Ok(dispatched(app.execute(command).await?))
}

/// One produced event, as the list a handler's output becomes.
#[inline]
pub fn one<E>(event: E) -> Vec<E> {
    vec![event]
}

/// The text of an `#[command(id)]` field, as it appears in the stream id.
#[inline]
pub fn aggregate_id<T: std::fmt::Display + ?Sized>(id: &T) -> String {
    id.to_string()
}

/// Stands in for the event and error types of an aggregate whose `#[aggregate(...)]` has
/// errors, so that the compiler reports those errors and not their consequences.
#[derive(Debug)]
pub enum Unknown {}

impl std::fmt::Display for Unknown {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl std::error::Error for Unknown {}

impl Event for Unknown {
    const NAMESPACE: &'static str = "";
    const TYPES: &'static [EventType] = &[];

    fn event_type(&self) -> &'static str {
        match *self {}
    }

    fn event_version(&self) -> u32 {
        match *self {}
    }

    fn variant_index(&self) -> usize {
        match *self {}
    }

    fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        match *self {}
    }

    fn decode(event_type: &str, _: u32, _: &[u8]) -> Result<Self, DecodeError> {
        Err(unknown_type(event_type, &[]))
    }
}

/// A unit event's envelope, as a projection's `#[apply(Enum::Variant)]` method takes it.
#[must_use]
pub fn unit_recorded<M>(recorded: &Recorded<M>) -> Recorded<()> {
    Recorded {
        id: recorded.id,
        stream_id: recorded.stream_id.clone(),
        stream_version: recorded.stream_version,
        position: recorded.position,
        recorded_at: recorded.recorded_at,
        metadata: recorded.metadata.clone(),
        event: (),
    }
}

/// Decodes the data of a command or query from a dynamic envelope.
///
/// # Errors
/// [`DecodeError::Payload`] naming the type.
pub fn decode_message<'de, T: Deserialize<'de>>(name: &str, data: &'de [u8]) -> Result<T, DecodeError> {
    decode_payload(name, 1, data)
}

/// Answers a query routed from a dynamic envelope, as JSON text.
///
/// # Errors
/// As [`App::query`], or an answer that does not serialize.
pub async fn answer_json<Q>(app: &App, query: Q) -> Result<String, Error>
where
    Q: Query,
    Q::Output: serde::Serialize,
{
    let answer = app.query(query).await?;
    serde_json::to_string(&answer).map_err(|source| Error::Answer { query: std::any::type_name::<Q>(), source })
}

/// The fingerprint of a snapshot's shape: the state's JSON Schema, hashed, with the
/// aggregate's declared snapshot revision, e.g. `r1-5f0c3a1e9b2d4c77`.
#[must_use]
pub fn state_fingerprint<S: schemars::JsonSchema>(revision: u32) -> String {
    let text = serde_json::to_string(&crate::event::shape_of::<S>()).unwrap_or_default();
    format!("r{revision}-{:016x}", crate::event::fnv1a(text.as_bytes()))
}

/// One upcasting step through `Into`, from version `FROM` to version `TO`.
#[inline]
pub fn upcast_into<From: UpcastStep<To, FROM, TO>, To, const FROM: u32, const TO: u32>(event: From) -> To {
    event.step()
}

/// Converts an event from version `FROM` into version `TO`.
#[diagnostic::on_unimplemented(
    message = "the upcaster from version {FROM} does not produce version {TO}: `{Self}` does not convert into `{To}`",
    label = "version {FROM} decodes into this type",
    note = "implement `From<{Self}> for {To}`, or name a function with `upcast(from = {FROM}, with = {Self}, via = your_function)`"
)]
pub trait UpcastStep<To, const FROM: u32, const TO: u32> {
    /// The step.
    fn step(self) -> To;
}

impl<From: Into<To>, To, const FROM: u32, const TO: u32> UpcastStep<To, FROM, TO> for From {
    #[inline]
    fn step(self) -> To {
        self.into()
    }
}

/// One upcasting step through a named function that may fail.
///
/// # Errors
/// [`DecodeError::Upcast`] naming the type and the step.
pub fn upcast_via<To, E: std::fmt::Display>(
    event_type: &str,
    from: u32,
    to: u32,
    result: Result<To, E>,
) -> Result<To, DecodeError> {
    result.map_err(|error| DecodeError::Upcast {
        event_type: event_type.to_owned(),
        from,
        to,
        message: error.to_string(),
    })
}

/// The schema of a unit event's payload: an empty object.
#[must_use]
pub fn unit_schema() -> serde_json::Value {
    serde_json::json!({ "type": "object" })
}

/// `(&&MaybeClone(&state)).maybe_clone()` clones a state that is `Clone` and gives `None`
/// for one that is not: method lookup tries the by-reference impl first, and it exists only
/// for `Clone` types (autoref specialization, for the concrete types a macro sees).
pub struct MaybeClone<'a, T>(pub &'a T);

/// The impl picked for a `Clone` state.
pub trait CloneIfClone<T> {
    fn maybe_clone(&self) -> Option<T>;
}

impl<T: Clone> CloneIfClone<T> for &MaybeClone<'_, T> {
    fn maybe_clone(&self) -> Option<T> {
        Some(self.0.clone())
    }
}

/// The impl picked otherwise.
pub trait NotClone<T> {
    fn maybe_clone(&self) -> Option<T>;
}

impl<T> NotClone<T> for MaybeClone<'_, T> {
    fn maybe_clone(&self) -> Option<T> {
        None
    }
}
