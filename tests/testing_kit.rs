//! The given/when/then kit fails when it should: every check, given a wrong expectation,
//! panics with what it saw and what it expected. (Its passing use is in the examples' tests.)

use eventsmith::prelude::*;
use eventsmith::testing::{given, when};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    pub id: u32,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent {
    Opened(Opened),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Door)]
pub struct Open {
    #[command(id)]
    pub id: u32,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum DoorError {
    #[error("already open")]
    AlreadyOpen,
    #[error("jammed")]
    Jammed,
}

#[derive(Debug, Default)]
pub struct Door {
    open: bool,
}

#[aggregate(event = DoorEvent, error = DoorError)]
impl Door {
    #[command]
    fn open(&self, command: Open) -> Result<Opened, DoorError> {
        if self.open { Err(DoorError::AlreadyOpen) } else { Ok(Opened { id: command.id }) }
    }

    #[apply]
    fn opened(&mut self, _: &Opened) {
        self.open = true;
    }
}

#[derive(Debug, Default)]
pub struct Openings {
    count: u32,
}

#[derive(Debug)]
pub struct CountOpenings;

#[projection(name = "openings", events = DoorEvent)]
impl Openings {
    #[apply]
    fn opened(&mut self, _: &Recorded<Opened>) {
        self.count += 1;
    }

    #[query]
    fn count(&self, _: CountOpenings) -> u32 {
        self.count
    }
}

#[test]
fn the_right_expectations_pass() {
    when(Open { id: 1 }).then([Opened { id: 1 }]);
    given([Opened { id: 1 }]).when(Open { id: 1 }).then_error(DoorError::AlreadyOpen);
    given([DoorEvent::Opened(Opened { id: 1 })]).then_query(CountOpenings, 1);
}

#[test]
#[should_panic(expected = "the command produced other events than expected")]
fn then_fails_on_other_events() {
    when(Open { id: 1 }).then([Opened { id: 2 }]);
}

#[test]
#[should_panic(expected = "but events were expected")]
fn then_fails_when_the_command_is_rejected() {
    given([Opened { id: 1 }]).when(Open { id: 1 }).then([Opened { id: 1 }]);
}

#[test]
#[should_panic(expected = "not with Jammed")]
fn then_error_fails_on_another_error() {
    given([Opened { id: 1 }]).when(Open { id: 1 }).then_error(DoorError::Jammed);
}

#[test]
#[should_panic(expected = "but was expected to be rejected with AlreadyOpen")]
fn then_error_fails_when_the_command_succeeds() {
    when(Open { id: 1 }).then_error(DoorError::AlreadyOpen);
}

#[test]
#[should_panic(expected = "which the check refused")]
fn then_error_matches_fails_when_the_check_refuses() {
    given([Opened { id: 1 }]).when(Open { id: 1 }).then_error_matches(|error| *error == DoorError::Jammed);
}

#[test]
#[should_panic(expected = "but the test expected")]
fn then_query_fails_on_another_answer() {
    given([DoorEvent::Opened(Opened { id: 1 })]).then_query(CountOpenings, 2);
}
