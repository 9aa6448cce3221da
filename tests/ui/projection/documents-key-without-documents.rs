use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed { pub customer: String, pub lines: Vec<u32> }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent { Placed(Placed) }

#[derive(Debug, Default)]
pub struct Customers { orders: u32 }

#[projection(name = "customers", events = OrderEvent)]
impl Customers {
    #[apply(key = event.customer)]
    fn placed(&mut self, _: &Recorded<Placed>) { self.orders += 1; }
}

fn main() {}
