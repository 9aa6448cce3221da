use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Painted { pub colour: String }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent {
    #[event(name = "DoorOpened", version = 3)]
    Opened(Opened),
    Painted(Painted),
    Slammed,
    Locked,
}

#[derive(Command, Debug, Clone, Deserialize)]
#[command(aggregate = Door, expect = new)]
pub struct Open(#[command(id)] pub u32);

#[derive(Command, Debug, Clone, Deserialize)]
#[command(aggregate = Door, expect = existing)]
pub struct Paint { #[command(id)] pub id: String, pub colours: Vec<String> }

#[derive(Command, Debug, Clone, Deserialize)]
#[command(aggregate = Door)]
pub struct Slam { #[command(id)] pub id: u32 }

#[derive(Command, Debug, Clone, Deserialize)]
pub enum DoorCommand {
    Open(Open),
    #[command(name = "PaintDoor")]
    Paint(Paint),
    Slam(Slam),
}

#[derive(Debug, thiserror::Error)]
#[error("door error")]
pub struct DoorError;

#[derive(Debug)]
pub struct Jammed;

impl From<Jammed> for DoorError {
    fn from(_: Jammed) -> Self { DoorError }
}

#[derive(Debug, Default)]
pub struct Door { open: bool, colour: String, slams: u32 }

#[aggregate(event = DoorEvent, error = DoorError, name = "door", ignore(DoorEvent::Locked))]
impl Door {
    #[command]
    fn open(&self, c: Open) -> Result<[Opened; 1], DoorError> { Ok([Opened { id: c.0 }]) }

    #[command]
    fn paint(&self, c: &Paint) -> Result<Vec<Painted>, Jammed> {
        Ok(c.colours.iter().map(|colour| Painted { colour: colour.clone() }).collect())
    }

    #[command]
    fn slam(&self, _: &Slam) -> Result<Option<DoorEvent>, DoorError> {
        Ok(self.open.then_some(DoorEvent::Slammed))
    }

    /// Not a handler: left as it is.
    pub fn is_open(&self) -> bool { self.open }

    #[apply]
    fn opened(&mut self, _: &Opened) { self.open = true; }

    #[apply]
    fn painted(&mut self, event: &Painted) { self.colour.clone_from(&event.colour); }

    #[apply(DoorEvent::Slammed)]
    fn slammed(&mut self) { self.open = false; self.slams += 1; }
}

fn main() {
    assert_eq!(<Door as eventsmith::Aggregate>::NAME, "door");
    assert!(!Door::default().is_open());
    assert_eq!(DoorEvent::from(Opened { id: 1 }).event_type(), "DoorOpened");
    assert_eq!(<DoorCommand as Envelope>::TYPES, &["Open", "PaintDoor", "Slam"]);
    let _ = Door::default().colour.len() + Door::default().slams as usize;
}
