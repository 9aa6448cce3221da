//! Generated code must be warning-free in the user's crate: this domain uses every form the
//! macros accept and is compiled with warnings and clippy's pedantic lints denied.
#![deny(warnings, clippy::all, clippy::pedantic)]

use eventsmith::prelude::*;
use eventsmith::testing::given;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    pub id: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Painted {
    pub colour: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent {
    #[event(name = "DoorOpened", version = 2)]
    Opened(Opened),
    Painted(Painted),
    Slammed,
    Locked,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum SingleEvent {
    Opened(Opened),
}

#[derive(Command, Debug, Clone, Deserialize)]
#[command(aggregate = Door, expect = new)]
pub struct Open(#[command(id)] pub u32);

#[derive(Command, Debug, Clone, Deserialize)]
#[command(aggregate = Door, expect = existing)]
pub struct Paint {
    #[command(id)]
    pub id: u32,
    pub colours: Vec<String>,
}

#[derive(Command, Debug, Clone, Deserialize)]
#[command(aggregate = Door)]
pub struct Slam {
    #[command(id)]
    pub id: u32,
}

#[derive(Command, Debug, Clone)]
pub enum DoorCommand {
    Open(Open),
    #[command(name = "PaintDoor")]
    Paint(Paint),
    Slam(Slam),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DoorError {
    #[error("the door is jammed")]
    Jammed,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Door {
    open: bool,
    colour: String,
    slams: u32,
}

#[aggregate(event = DoorEvent, error = DoorError, ignore(DoorEvent::Locked))]
impl Door {
    #[command]
    fn open(&self, command: Open) -> Result<[Opened; 1], DoorError> {
        if self.open { Err(DoorError::Jammed) } else { Ok([Opened { id: command.0 }]) }
    }

    #[command]
    fn paint(&self, command: &Paint) -> Result<Vec<Painted>, DoorError> {
        Ok(command.colours.iter().map(|colour| Painted { colour: colour.clone() }).collect())
    }

    #[command]
    fn slam(&self, _: &Slam) -> Result<Option<DoorEvent>, DoorError> {
        Ok(self.open.then_some(DoorEvent::Slammed))
    }

    #[apply]
    fn opened(&mut self, _: &Opened) {
        self.open = true;
    }

    #[apply]
    fn painted(&mut self, event: &Painted) {
        self.colour.clone_from(&event.colour);
    }

    #[apply(DoorEvent::Slammed)]
    fn slammed(&mut self) {
        self.open = false;
        self.slams += 1;
    }
}

#[derive(Debug, Default)]
pub struct Single;

#[aggregate(event = SingleEvent, error = DoorError, name = "single")]
impl Single {
    #[apply]
    fn opened(&mut self, _: &Opened) {}
}

#[test]
fn the_linted_domain_runs() {
    let state = given([DoorEvent::from(Opened { id: 1 })])
        .when(Paint { id: 1, colours: vec!["red".into(), "blue".into()] })
        .then([Painted { colour: "red".into() }, Painted { colour: "blue".into() }]);
    assert_eq!(state.colour, "blue");
    let state = given([Opened { id: 1 }]).when(Slam { id: 1 }).then([DoorEvent::Slammed]);
    assert_eq!((state.open, state.slams), (false, 1));
    given([Opened { id: 1 }]).when(Open(1)).then_error(DoorError::Jammed);
}
