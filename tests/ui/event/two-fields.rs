use eventsmith::prelude::*;

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent {
    Opened(u32, String),
}

fn main() {}
