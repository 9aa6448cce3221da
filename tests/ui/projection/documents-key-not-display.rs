use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed { pub customer: String, pub lines: Vec<u32> }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent { Placed(Placed) }

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LineView { orders: u32 }

#[projection(name = "lines", events = OrderEvent, documents)]
impl LineView {
    #[apply(key = event.lines)]
    fn placed(&mut self, _: &Recorded<Placed>) { self.orders += 1; }
}

fn main() {}
