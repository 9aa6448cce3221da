use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipped { pub id: u32, pub carrier: String }

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ShippedV1 { pub id: u32 }

#[derive(Debug)]
pub struct NoCarrier;

fn to_v2(v: ShippedV1) -> Result<Shipped, NoCarrier> { Ok(Shipped { id: v.id, carrier: String::new() }) }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent {
    #[event(version = 2, upcast(from = 1, with = ShippedV1, via = to_v2))]
    Shipped(Shipped),
}

fn main() {}
