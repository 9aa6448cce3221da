use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent { Opened(Opened), Closed(Closed) }

#[derive(Debug)]
pub struct DoorsView { open: u32 }

#[projection(name = "doors", events = DoorEvent)]
impl DoorsView {
    #[apply]
    fn opened(&mut self, _: &Recorded<Opened>) { self.open += 1; }
}

fn main() {}
