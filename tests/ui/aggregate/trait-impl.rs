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

#[derive(Debug, Default)]
pub struct Door { open: bool }

#[aggregate(event = DoorEvent, error = DoorError)]
impl Clone for Door {
    fn clone(&self) -> Self { Door { open: self.open } }
}

fn main() {}
