use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent { Opened(Opened), Closed(Closed), Slammed }

#[derive(Debug, Default)]
pub struct DoorsView { open: u32 }

#[derive(Debug)]
pub struct OpenCount;

#[projection(name = "doors", events = DoorEvent)]
impl DoorsView {
    #[query]
    fn count(&self, _: OpenCount) -> u32 { self.open }
}

fn main() {}
