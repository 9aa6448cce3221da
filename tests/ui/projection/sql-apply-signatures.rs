use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed { pub id: String }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paid { pub id: String }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Packed { pub id: String }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipped { pub id: String }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent { Placed(Placed), Paid(Paid), Packed(Packed), Shipped(Shipped) }

pub struct OrderRows;

#[projection(name = "order_rows", events = OrderEvent, sql(migrations = ["CREATE TABLE order_rows (id TEXT)"]))]
impl OrderRows {
    // Takes `self`: a SQL projection writes through its transaction.
    #[apply]
    async fn placed(&mut self, event: &Recorded<Placed>) -> Result<(), SqlError> {
        let _ = event;
        Ok(())
    }

    // Not `async`.
    #[apply]
    fn paid(sql: &mut Sql<'_>, event: &Recorded<Paid>) -> Result<(), SqlError> {
        let _ = (sql, event);
        Ok(())
    }

    // The transaction is missing.
    #[apply]
    async fn packed(event: &Recorded<Packed>) -> Result<(), SqlError> {
        let _ = event;
        Ok(())
    }

    // Returns nothing: its statements' errors would be lost.
    #[apply]
    async fn shipped(sql: &mut Sql<'_>, event: &Recorded<Shipped>) {
        let _ = (sql, event);
    }
}

fn main() {}
