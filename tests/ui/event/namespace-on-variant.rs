use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent {
    #[event(namespace = "doors")]
    Opened(Opened),
}

fn main() {}
