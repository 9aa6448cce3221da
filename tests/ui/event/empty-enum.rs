use eventsmith::prelude::*;

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent {}

fn main() {}
