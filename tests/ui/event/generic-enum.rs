use eventsmith::prelude::*;

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent<T> {
    Opened(T),
}

fn main() {}
