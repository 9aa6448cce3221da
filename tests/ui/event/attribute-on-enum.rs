use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
#[event(version = 2)]
pub enum DoorEvent {
    Opened(Opened),
}

fn main() {}
