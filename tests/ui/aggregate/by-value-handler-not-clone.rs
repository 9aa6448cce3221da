use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent { Opened(Opened), Closed(Closed) }

#[derive(Debug, thiserror::Error)]
#[error("door error")]
pub struct DoorError;

#[derive(Command, Debug)]
#[command(aggregate = Door)]
pub struct Open { #[command(id)] pub id: u32 }

#[derive(Debug, Default)]
pub struct Door { open: bool }

#[aggregate(event = DoorEvent, error = DoorError)]
impl Door {
    #[command]
    fn open(&self, c: Open) -> Result<Opened, DoorError> { Ok(Opened { id: c.id }) }
    #[apply]
    fn opened(&mut self, _: &Opened) { self.open = true; }
    #[apply]
    fn closed(&mut self, _: &Closed) { self.open = false; }
}

fn main() {}
