use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed { pub id: String }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent { Placed(Placed) }

pub struct Both;

// Documents and tables at once.
#[projection(name = "both", events = OrderEvent, documents, sql(migrations = ["CREATE TABLE both (id TEXT)"]))]
impl Both {
    #[apply]
    async fn placed(sql: &mut Sql<'_>, _: &Recorded<Placed>) -> Result<(), SqlError> {
        let _ = sql;
        Ok(())
    }
}

pub struct NotAList;

// One statement where a list of migrations goes.
#[projection(name = "not_a_list", events = OrderEvent, sql(migrations = "CREATE TABLE t (id TEXT)"))]
impl NotAList {
    #[apply]
    async fn placed(sql: &mut Sql<'_>, _: &Recorded<Placed>) -> Result<(), SqlError> {
        let _ = sql;
        Ok(())
    }
}

pub struct UnknownKey;

#[projection(name = "unknown_key", events = OrderEvent, sql(tables = ["t"]))]
impl UnknownKey {
    #[apply]
    async fn placed(sql: &mut Sql<'_>, _: &Recorded<Placed>) -> Result<(), SqlError> {
        let _ = sql;
        Ok(())
    }
}

fn main() {}
