use eventsmith::prelude::*;

#[derive(Event, Debug, Clone, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }

fn main() {}
