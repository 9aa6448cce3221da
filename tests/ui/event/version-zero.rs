use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent {
    #[event(version = 0)]
    Opened(Opened),
}

fn main() {}
