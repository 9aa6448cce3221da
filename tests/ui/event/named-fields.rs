use eventsmith::prelude::*;

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent {
    Opened { id: u32 },
}

fn main() {}
