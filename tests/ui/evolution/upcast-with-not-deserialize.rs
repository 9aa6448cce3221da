use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipped { pub id: u32, pub carrier: String }

#[derive(Debug, Clone, PartialEq)]
pub struct ShippedV1 { pub id: u32 }
impl From<ShippedV1> for Shipped { fn from(v: ShippedV1) -> Self { Shipped { id: v.id, carrier: String::new() } } }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent {
    #[event(version = 2, upcast(from = 1, with = ShippedV1))]
    Shipped(Shipped),
}

fn main() {}
