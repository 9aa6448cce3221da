use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipped { pub id: u32, pub carrier: String }
#[derive(Debug, Clone, Deserialize)]
pub struct ShippedV1 { pub id: u32 }
#[derive(Debug, Clone, Deserialize)]
pub struct ShippedV2 { pub id: u32, pub carrier: Option<String> }
impl From<ShippedV1> for ShippedV2 { fn from(v: ShippedV1) -> Self { ShippedV2 { id: v.id, carrier: None } } }
impl From<ShippedV2> for Shipped { fn from(v: ShippedV2) -> Self { Shipped { id: v.id, carrier: v.carrier.unwrap_or_default() } } }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent {
    Created(Created),
    #[event(version = 2, upcast(from = 1, with = ShippedV1, via = to_v2))]
    Shipped(Shipped),
}

fn to_v2(old: ShippedV1) -> Result<ShippedV2, String> { Ok(ShippedV2 { id: old.id, carrier: None }) }

fn main() {}
