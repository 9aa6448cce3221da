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
    admin.batch_execute("SET search_path TO es_probe2").await.unwrap();
    let stmt = admin.prepare(r#"
WITH locked AS (SELECT pg_advisory_xact_lock($8) AS locked, clock_timestamp() AS at),
appended AS (
    INSERT INTO events (event_id, stream_id, stream_version, event_type, event_version, payload, metadata, recorded_at)
    SELECT i.id, $1, $2 + i.n, i.t, i.v, i.p, i.m, locked.at
      FROM locked, unnest($3::uuid[], $4::text[], $5::integer[], $6::bytea[], $7::bytea[])
           WITH ORDINALITY AS i(id, t, v, p, m, n)
     WHERE $2 = 0 OR EXISTS (SELECT 1 FROM events e WHERE e.stream_id = $1 AND e.stream_version = $2)
     ORDER BY i.n
    RETURNING position, stream_version, recorded_at)
SELECT array_agg(position ORDER BY stream_version), min(recorded_at),
       CASE WHEN count(*) > 0 THEN pg_notify($9, max(position)::text) END
  FROM appended"#).await.unwrap();
    let stmt2 = admin.prepare("INSERT INTO es_probe3.raw SELECT $1, $2, $3, $4, $5 FROM (SELECT pg_advisory_xact_lock($6)) l").await.unwrap();
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
        let t = Instant::now();
        for i in 0..n {
            let id = vec![uuid::Uuid::now_v7()];
            admin.execute(&stmt, &[&format!("w{i}"), &(round as i64), &id, &vec!["Deposited"], &vec![1i32], &vec![b"{}".to_vec()], &vec![None::<Vec<u8>>], &42i64, &"chan"]).await.unwrap();
        }
        let d = t.elapsed() / n;
        let t = Instant::now();
        for i in 0..n {
            admin.execute(&stmt2, &[&uuid::Uuid::now_v7(), &format!("v{i}"), &(round as i64 + 1), &"Deposited", &b"{}".as_slice(), &42i64]).await.unwrap();
        }
        let e = t.elapsed() / n;
        println!("execute {a:?}  store.append {b:?}  raw insert {c:?}  same sql direct {d:?}  insert+lock {e:?}");
    }
}
