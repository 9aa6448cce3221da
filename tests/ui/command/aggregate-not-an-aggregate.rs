use eventsmith::prelude::*;

#[derive(Debug, Default)]
pub struct Door;

#[derive(Command, Debug, Clone)]
#[command(aggregate = Door)]
pub struct Open { #[command(id)] pub id: u32 }

fn main() {}
