//! Stored events turned back into typed ones, naming where they are stored when they do not
//! decode.

use crate::codec::DecodeError;
use crate::event::Event;
use crate::recorded::Recorded;
use crate::store::{LogEvent, StoredEvent};

/// A stored event that does not decode, with where it is stored.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot decode event `{event_type}` v{event_version} at stream `{stream_id}` version \
     {stream_version} (global position {position}): {source}"
)]
pub struct CorruptEvent {
    /// The stream holding the event.
    pub stream_id: String,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its position in the global log.
    pub position: u64,
    /// Its stored type name.
    pub event_type: String,
    /// Its stored version.
    pub event_version: u32,
    /// Why it does not decode.
    #[source]
    pub source: DecodeError,
}

/// Decodes a stored event's payload into the typed event, naming where it is stored.
///
/// # Errors
/// A [`CorruptEvent`] naming the stream, version, position and type.
pub fn decode_stored<E: Event>(stored: &StoredEvent) -> Result<E, Box<CorruptEvent>> {
    decode_logged(&stored.as_log())
}

/// Decodes an event borrowed from the log into the typed event, naming where it is stored.
///
/// # Errors
/// A [`CorruptEvent`] naming the stream, version, position and type.
pub fn decode_logged<E: Event>(logged: &LogEvent<'_>) -> Result<E, Box<CorruptEvent>> {
    E::decode(logged.event_type, logged.event_version, logged.payload).map_err(|source| {
        Box::new(CorruptEvent {
            stream_id: logged.stream_id.to_owned(),
            stream_version: logged.stream_version,
            position: logged.position,
            event_type: logged.event_type.to_owned(),
            event_version: logged.event_version,
            source,
        })
    })
}

/// Moves a stored event's envelope around an already decoded payload.
pub fn into_recorded<E>(stored: StoredEvent, event: E) -> Recorded<E> {
    Recorded {
        id: stored.id,
        stream_id: stored.stream_id,
        stream_version: stored.stream_version,
        position: stored.position,
        recorded_at: stored.recorded_at,
        metadata: stored.metadata,
        event,
    }
}

/// Decodes a stored event into a typed [`Recorded`] envelope.
///
/// # Errors
/// As [`decode_stored`].
pub fn decode_recorded<E: Event>(stored: StoredEvent) -> Result<Recorded<E>, Box<CorruptEvent>> {
    let event = decode_stored::<E>(&stored)?;
    Ok(Recorded {
        id: stored.id,
        stream_id: stored.stream_id,
        stream_version: stored.stream_version,
        position: stored.position,
        recorded_at: stored.recorded_at,
        metadata: stored.metadata,
        event,
    })
}

/// The envelope of a logged event around its decoded payload, owned.
pub(crate) fn recorded<E>(logged: LogEvent<'_>, event: E) -> Recorded<E> {
    Recorded {
        id: logged.id,
        stream_id: logged.stream_id.to_owned(),
        stream_version: logged.stream_version,
        position: logged.position,
        recorded_at: logged.recorded_at,
        metadata: logged.metadata.into_owned(),
        event,
    }
}
