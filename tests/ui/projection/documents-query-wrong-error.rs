use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed { pub customer: String, pub lines: Vec<u32> }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent { Placed(Placed) }

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct OrderView { lines: usize }

pub struct CountLines;

#[derive(Debug)]
pub struct MyError;

#[projection(name = "orders", events = OrderEvent, documents)]
impl OrderView {
    #[apply]
    fn placed(&mut self, event: &Recorded<Placed>) { self.lines = event.lines.len(); }

    #[query]
    async fn count(documents: &Documents<Self>, _: CountLines) -> Result<usize, MyError> {
        documents.list(None, 10).await.map(|page| page.len()).map_err(|_| MyError)
    }
}

fn main() {}
