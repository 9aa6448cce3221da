use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed { pub customer: String, pub lines: Vec<u32> }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent { Placed(Placed) }

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct OrderView { lines: usize }

pub struct GetLines;

pub struct GetCustomer;

pub struct GetNothing;

#[projection(name = "orders", events = OrderEvent, documents)]
impl OrderView {
    #[apply]
    fn placed(&mut self, event: &Recorded<Placed>) { self.lines = event.lines.len(); }

    #[query]
    async fn lines(_: GetLines) -> Result<usize, DocumentError> {
        Ok(0)
    }

    #[query]
    async fn customer(_: GetCustomer, documents: &Documents<Self>) -> Result<usize, DocumentError> {
        let _ = documents;
        Ok(0)
    }

    #[query]
    async fn nothing(documents: &Documents<Self>, _: GetNothing) {
        let _ = documents;
    }
}

fn main() {}
