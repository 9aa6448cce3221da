//! The events a given/when/then test starts from, as a store would return them. The kit
//! itself is `eventsmith::testing`, beside the stores it runs document queries on.

use std::fmt::Debug;
use std::time::SystemTime;

use crate::event::Event;
use crate::recorded::{Metadata, Recorded};
use crate::store::StoredEvent;

/// An event a projection test can be given: any event enum value, or a `Recorded` one.
pub trait GivenEvent {
    /// The event as a store would return it at `position` (for events without an envelope).
    ///
    /// # Panics
    /// When the event does not encode.
    fn to_stored(&self, position: u64) -> StoredEvent;
}

impl<E: Event + Debug> GivenEvent for E {
    fn to_stored(&self, position: u64) -> StoredEvent {
        let envelope = Recorded {
            id: uuid::Uuid::nil(),
            stream_id: "given".to_owned(),
            stream_version: position,
            position,
            recorded_at: SystemTime::UNIX_EPOCH,
            metadata: Metadata::default(),
            event: self,
        };
        stored_of(envelope)
    }
}

impl<E: Event + Debug> GivenEvent for Recorded<E> {
    fn to_stored(&self, _: u64) -> StoredEvent {
        stored_of(self.as_ref())
    }
}

fn stored_of<E: Event + Debug>(recorded: Recorded<&E>) -> StoredEvent {
    StoredEvent {
        id: recorded.id,
        stream_id: recorded.stream_id,
        stream_version: recorded.stream_version,
        position: recorded.position,
        recorded_at: recorded.recorded_at,
        namespace: Some(E::NAMESPACE.to_owned()),
        event_type: recorded.event.event_type().to_owned(),
        event_version: recorded.event.event_version(),
        payload: recorded
            .event
            .encode()
            .unwrap_or_else(|error| panic!("event {:?} does not encode: {error}", recorded.event)),
        metadata: recorded.metadata,
    }
}
