use eventsmith::prelude::*;

#[derive(Command, Debug, Clone)]
pub struct Open { #[command(id)] pub id: u32 }

fn main() {}
