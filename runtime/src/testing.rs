//! Given/when/then tests for aggregates.
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

use crate::aggregate::{Aggregate, Handle};
use crate::command::Command;
use crate::event::Event;

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
