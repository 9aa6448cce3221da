//! An error in the arguments does not hide the errors in the methods.

use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent { Opened(Opened), Closed(Closed), Slammed }

#[derive(Debug)]
pub struct OpenCount;

#[derive(Debug, Default)]
pub struct DoorsView { open: u32 }

#[projection(name = "", events = DoorEvent)]
impl DoorsView {
    #[apply]
    fn opened(&mut self, _: &Recorded<Opened>) { self.open += 1; }
    #[query]
    fn count(&mut self, _: OpenCount) -> u32 { self.open }
}

fn main() {}
