use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed { pub id: String }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent { Placed(Placed) }

pub struct OrderRows;

pub struct GetOrder(pub String);

// A migration that is not a statement.
#[projection(name = "order_rows", events = OrderEvent, sql(migrations = ["CREATE TABLE order_rows (id TEXT)", 2]))]
impl OrderRows {
    // An error of its own instead of `SqlError`.
    #[apply]
    async fn placed(sql: &mut Sql<'_>, event: &Recorded<Placed>) -> Result<(), String> {
        let _ = (sql, event);
        Ok(())
    }

    // A value that cannot be bound, and a query answered with another error type.
    #[query]
    async fn get(sql: &mut Sql<'_>, query: GetOrder) -> Result<Option<String>, String> {
        let rows = sql.query("SELECT id FROM order_rows WHERE id = $1", &[&query.0, &vec![1_u32]]).await;
        let _ = rows;
        Ok(None)
    }
}

fn main() {}
