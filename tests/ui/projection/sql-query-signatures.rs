use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed { pub id: String }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent { Placed(Placed) }

pub struct OrderRows;

pub struct GetOrder(pub String);
pub struct CountOrders;
pub struct ListOrders;
pub struct OrderTotal;

#[projection(name = "order_rows", events = OrderEvent, sql(migrations = ["CREATE TABLE order_rows (id TEXT)"]))]
impl OrderRows {
    #[apply]
    async fn placed(sql: &mut Sql<'_>, event: &Recorded<Placed>) -> Result<(), SqlError> {
        sql.execute("INSERT INTO order_rows (id) VALUES ($1)", &[&event.id]).await?;
        Ok(())
    }

    // Reads `self`.
    #[query]
    async fn get(&self, query: GetOrder) -> Result<Option<String>, SqlError> {
        let _ = query;
        Ok(None)
    }

    // Not `async`.
    #[query]
    fn count(sql: &mut Sql<'_>, _: CountOrders) -> Result<i64, SqlError> {
        let _ = sql;
        Ok(0)
    }

    // Given documents, not a connection.
    #[query]
    async fn list(documents: &Documents<Self>, _: ListOrders) -> Result<Vec<String>, SqlError> {
        let _ = documents;
        Ok(Vec::new())
    }

    // Answers without a `Result`.
    #[query]
    async fn total(sql: &mut Sql<'_>, _: OrderTotal) -> i64 {
        let _ = sql;
        0
    }
}

fn main() {}
