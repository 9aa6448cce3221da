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
    #[event(deprecated)]
    Shipped(Shipped),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Order)]
pub struct Ship { #[command(id)] pub id: u32 }

#[derive(Debug, thiserror::Error)]
#[error("order error")]
pub struct OrderError;

#[derive(Debug, Default)]
pub struct Order;

#[aggregate(event = OrderEvent, error = OrderError, ignore(Created, Shipped))]
impl Order {
    #[command]
    fn ship(&self, c: Ship) -> Result<Shipped, OrderError> { Ok(Shipped { id: c.id, carrier: String::new() }) }
}

fn main() {}
