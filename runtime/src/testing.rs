//! Given/when/then tests for aggregates (`given(events).when(command).then(events)`) and for
//! projections (`given(events).then_query(query, answer)`).
//!
//! ```
//! # use eventsmith::prelude::*;
//! # #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! # pub struct Opened { pub id: u32 }
//! # #[derive(Event, Debug, Clone, PartialEq)]
//! # pub enum DoorEvent { Opened(Opened) }
//! # #[derive(Command, Debug, Clone)]
//! # #[command(aggregate = Door)]
//! # pub struct Open { #[command(id)] pub id: u32 }
//! # #[derive(Debug, PartialEq, thiserror::Error)]
//! # #[error("already open")]
//! # pub struct AlreadyOpen;
//! # #[derive(Debug, Default)]
//! # pub struct Door { open: bool }
//! # #[aggregate(event = DoorEvent, error = AlreadyOpen)]
//! # impl Door {
//! #     #[command]
//! #     fn open(&self, c: Open) -> Result<Opened, AlreadyOpen> {
//! #         if self.open { Err(AlreadyOpen) } else { Ok(Opened { id: c.id }) }
//! #     }
//! #     #[apply]
//! #     fn opened(&mut self, _: &Opened) { self.open = true; }
//! # }
//! use eventsmith::testing::{given, when};
//!
//! when(Open { id: 1 }).then([Opened { id: 1 }]);
//! given([Opened { id: 1 }]).when(Open { id: 1 }).then_error(AlreadyOpen);
//! ```

use std::fmt::Debug;
use std::time::SystemTime;

use crate::aggregate::{Aggregate, Handle};
use crate::command::Command;
use crate::event::Event;
use crate::projection::{Projection, Query};
use crate::recorded::{Metadata, Recorded};
use crate::store::StoredEvent;

/// Starts a test from the events already in the aggregate's stream.
pub fn given<T>(events: impl IntoIterator<Item = T>) -> Given<T> {
    Given { events: events.into_iter().collect() }
}

/// Starts a test on an aggregate with no events.
pub fn when<C>(command: C) -> When<C::Aggregate>
where
    C: Command,
    C::Aggregate: Handle<C>,
    <C::Aggregate as Aggregate>::Event: Debug,
{
    Given::<<C::Aggregate as Aggregate>::Event> { events: Vec::new() }.when(command)
}

/// The history of a given/when/then test.
#[must_use = "a given/when/then test does nothing until `.when(...).then(...)`"]
pub struct Given<T> {
    events: Vec<T>,
}

impl<T> Given<T> {
    /// Applies the history to a fresh aggregate (each event through an encode and decode
    /// round trip, as a store would) and runs `command` against it.
    ///
    /// # Panics
    /// When a history event does not survive the round trip.
    pub fn when<C>(self, command: C) -> When<C::Aggregate>
    where
        C: Command,
        C::Aggregate: Handle<C>,
        T: Into<<C::Aggregate as Aggregate>::Event>,
        <C::Aggregate as Aggregate>::Event: Debug,
    {
        let mut state = C::Aggregate::default();
        for event in self.events {
            state.apply(&round_trip(&event.into()));
        }
        let result = state.handle(&command).map(|events| {
            events
                .iter()
                .map(|event| {
                    let decoded = round_trip(event);
                    state.apply(&decoded);
                    decoded
                })
                .collect()
        });
        When { state, result }
    }
}

impl<T: GivenEvent> Given<T> {
    /// Feeds the history, in order, to a fresh read model of the query's projection (through
    /// the same decode and dispatch as the live app) and asserts the query's answer. Plain
    /// events get global positions 1, 2, ... in stream `given`; `Recorded` events keep theirs.
    /// Returns `self` so that several queries can be checked on one history.
    ///
    /// # Panics
    /// When an event cannot be applied, or the answer is not `expected`.
    #[track_caller]
    pub fn then_query<Q>(&self, query: Q, expected: Q::Output) -> &Self
    where
        Q: Query + Debug,
        Q::Output: PartialEq + Debug,
    {
        let mut model = Q::Projection::default();
        for (index, event) in self.events.iter().enumerate() {
            let stored = event.to_stored(index as u64 + 1);
            if let Err(error) = model.apply_stored(stored) {
                panic!("projection `{}` cannot apply the given event #{}: {error}", Q::Projection::NAME, index + 1);
            }
        }
        let description = format!("{query:?}");
        let answer = query.answer(&model);
        assert!(answer == expected, "{description} answered\n  {answer:#?}\nbut the test expected\n  {expected:#?}");
        self
    }
}

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
        event_type: recorded.event.event_type().to_owned(),
        event_version: recorded.event.event_version(),
        payload: recorded
            .event
            .encode()
            .unwrap_or_else(|error| panic!("event {:?} does not encode: {error}", recorded.event)),
        metadata: recorded.metadata,
    }
}

/// The outcome of a given/when/then test, to check with `then...`.
#[must_use = "check the outcome with `.then(...)` or `.then_error(...)`"]
pub struct When<A: Aggregate> {
    state: A,
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> When<A> {
    /// Asserts that the command produced exactly `expected`, in order.
    ///
    /// # Panics
    /// When it produced other events or was rejected.
    pub fn then<T: Into<A::Event>>(self, expected: impl IntoIterator<Item = T>) -> A
    where
        A::Event: PartialEq + Debug,
        A::Error: Debug,
    {
        let expected: Vec<A::Event> = expected.into_iter().map(Into::into).collect();
        match self.result {
            Ok(events) => assert!(
                events == expected,
                "the command produced other events than expected\n  expected: {expected:#?}\n  produced: {events:#?}"
            ),
            Err(error) => panic!("the command was rejected with {error:?}, but events were expected: {expected:#?}"),
        }
        self.state
    }

    /// Asserts that the command was rejected with `expected`.
    ///
    /// # Panics
    /// When it produced events or another error.
    pub fn then_error(self, expected: A::Error)
    where
        A::Event: Debug,
        A::Error: PartialEq + Debug,
    {
        match self.result {
            Ok(events) => panic!("the command produced {events:#?}, but was expected to be rejected with {expected:?}"),
            Err(error) => assert!(error == expected, "the command was rejected with {error:?}, not with {expected:?}"),
        }
    }

    /// Asserts that the command was rejected with an error satisfying `check`.
    ///
    /// # Panics
    /// When it produced events or an error `check` refuses.
    pub fn then_error_matches(self, check: impl FnOnce(&A::Error) -> bool)
    where
        A::Event: Debug,
        A::Error: Debug,
    {
        match self.result {
            Ok(events) => panic!("the command produced {events:#?}, but was expected to be rejected"),
            Err(error) => assert!(check(&error), "the command was rejected with {error:?}, which the check refused"),
        }
    }
}

fn round_trip<E: Event + Debug>(event: &E) -> E {
    let name = event.event_type();
    let payload = event.encode().unwrap_or_else(|error| panic!("event {event:?} does not encode: {error}"));
    E::decode(name, event.event_version(), &payload)
        .unwrap_or_else(|error| panic!("event {event:?} does not decode from its own encoding: {error}"))
}
