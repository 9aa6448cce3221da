use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed { pub customer: String, pub lines: Vec<u32> }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent { Placed(Placed) }

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct OrderView { lines: usize }

pub struct GetLines;

#[projection(name = "orders", events = OrderEvent, documents)]
impl OrderView {
    #[apply]
    fn placed(&mut self, event: &Recorded<Placed>) { self.lines = event.lines.len(); }

    #[query]
    fn lines(&self, _: GetLines) -> usize { self.lines }
}

fn main() {}
