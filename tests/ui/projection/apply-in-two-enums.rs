use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent { Opened(Opened), Closed(Closed) }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum GateEvent { Opened(Opened) }

#[derive(Debug, Default)]
pub struct OpeningsView { openings: u32 }

#[projection(name = "openings", events(DoorEvent, GateEvent))]
impl OpeningsView {
    #[apply]
    fn opened(&mut self, _: &Recorded<Opened>) { self.openings += 1; }
}

fn main() {}
