use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
#[event(namespace = "")]
pub enum DoorEvent {
    Opened(Opened),
}

fn main() {}
