use std::time::Instant;
use eventsmith::store::{NewEvent, PostgresOptions};
use eventsmith::{App, EventStore, ExpectedVersion, PostgresStore};
use tokio_postgres::NoTls;

#[path = "../src/domain.rs"]
mod domain;

#[tokio::main]
async fn main() {
    let url = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";
    let (admin, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(conn);
    admin.batch_execute("DROP SCHEMA IF EXISTS es_probe2 CASCADE; DROP SCHEMA IF EXISTS es_probe3 CASCADE; CREATE SCHEMA es_probe3; CREATE TABLE es_probe3.raw (id uuid primary key, s text, v bigint, t text, p bytea, unique (s, v))").await.unwrap();
    let store = PostgresStore::connect_with(url, PostgresOptions { schema: "es_probe2".into(), pool_size: 8, migrate: true }).await.unwrap();
    let app = App::builder().store(store.clone()).build().await.unwrap();
    let insert = admin.prepare("INSERT INTO es_probe3.raw VALUES ($1, $2, $3, $4, $5)").await.unwrap();
    let n = 300;
    for i in 0..n { app.execute(domain::Open { account: format!("x{i}") }).await.unwrap(); }
    for round in 0..4 {
        let t = Instant::now();
        for i in 0..n { app.execute(domain::Deposit { account: format!("x{i}"), amount: 1 }).await.unwrap(); }
        let a = t.elapsed() / n;
        let t = Instant::now();
        for i in 0..n {
            let e = NewEvent::encode(&domain::AccountEvent::from(domain::Deposited { amount: 1 })).unwrap();
            store.append(&format!("y{i}"), ExpectedVersion::Exact(round), vec![e]).await.unwrap();
        }
        let b = t.elapsed() / n;
        let t = Instant::now();
        for i in 0..n {
            admin.execute(&insert, &[&uuid::Uuid::now_v7(), &format!("z{i}"), &(round as i64), &"Deposited", &b"{}".as_slice()]).await.unwrap();
        }
        let c = t.elapsed() / n;
        println!("execute {a:?}  store.append {b:?}  raw insert {c:?}");
    }
}
