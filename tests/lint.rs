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

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DoorsView {
    opened: u32,
    colours: Vec<String>,
    slams: u32,
}

#[derive(Debug, Deserialize)]
pub struct CountOpened;

#[derive(Debug, Deserialize)]
pub struct LastColour {
    pub skip: usize,
}

#[derive(QueryEnvelope, Debug)]
pub enum DoorQuery {
    CountOpened(CountOpened),
    #[query(name = "Colour")]
    LastColour(LastColour),
}

#[projection(name = "doors", events(DoorEvent, SingleEvent), persist)]
impl DoorsView {
    /// `Opened` is wrapped by both enums: this one takes it from `DoorEvent`.
    #[apply(DoorEvent)]
    fn opened(&mut self, _: &Recorded<Opened>) {
        self.opened += 1;
    }

    #[apply]
    fn painted(&mut self, event: &Recorded<Painted>) -> Result<(), String> {
        if event.colour.is_empty() {
            return Err("a colour has a name".to_owned());
        }
        self.colours.push(event.colour.clone());
        Ok(())
    }

    #[apply(DoorEvent::Slammed)]
    fn slammed(&mut self, _: &Recorded<()>) {
        self.slams += 1;
    }

    #[query]
    fn count(&self, _: CountOpened) -> u32 {
        self.opened + self.slams
    }

    #[query]
    fn last_colour(&self, query: &LastColour) -> Option<String> {
        self.colours.iter().rev().nth(query.skip).cloned()
    }
}

#[test]
fn the_linted_read_side_runs() {
    given([DoorEvent::from(Opened { id: 1 }), Painted { colour: "red".into() }.into(), DoorEvent::Slammed])
        .then_query(CountOpened, 2)
        .then_query(LastColour { skip: 0 }, Some("red".to_owned()));
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
