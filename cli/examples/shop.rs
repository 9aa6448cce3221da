//! An application's own `eventsmith` binary: its domain (an order aggregate, a projection in
//! memory and one of documents) given to the tool, which then verifies the stored events,
//! rebuilds a projection by name and lists where each one is.
//!
//! ```text
//! SHOP_VIEWS=views.db cargo run -p eventsmith-cli --example shop -- --store shop.db projections
//! ```

use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    pub customer: String,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paid {
    pub amount: u64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum ShopEvent {
    Placed(Placed),
    Paid(Paid),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Order)]
pub struct Place {
    #[command(id)]
    pub id: u32,
    pub customer: String,
    pub total: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default)]
pub struct Order;

#[aggregate(event = ShopEvent, error = Never)]
impl Order {
    #[command]
    fn place(&self, command: &Place) -> Result<Placed, Never> {
        Ok(Placed { customer: command.customer.clone(), total: command.total })
    }

    #[apply]
    fn placed(&mut self, _: &Placed) {}

    #[apply]
    fn paid(&mut self, _: &Paid) {}
}

/// Orders placed, in memory.
#[derive(Debug, Default)]
pub struct Placements {
    count: u64,
}

#[derive(Debug)]
pub struct PlacementCount;

#[projection(name = "placements", events = ShopEvent)]
impl Placements {
    #[apply]
    fn placed(&mut self, _: &Recorded<Placed>) {
        self.count += 1;
    }

    #[query]
    fn count(&self, _: PlacementCount) -> u64 {
        self.count
    }
}

/// What each customer ordered and paid, one document per customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerTotals {
    pub ordered: u64,
}

#[projection(name = "customer_totals", events = ShopEvent, documents)]
impl CustomerTotals {
    #[apply(key = event.customer)]
    fn placed(&mut self, event: &Recorded<Placed>) {
        self.ordered += event.total;
    }
}

fn main() -> std::process::ExitCode {
    eventsmith_cli::run_with(|| async {
        let views = std::env::var("SHOP_VIEWS").unwrap_or_else(|_| "shop-views.db".into());
        Ok(App::builder()
            .aggregate::<Order>()
            .projection::<Placements>()
            .documents_in(eventsmith::documents::SqliteDocuments::open(views).await?)
            .document_projection::<CustomerTotals>())
    })
}
