//! The benchmark's own PostgreSQL database: created at the start, marked as its own, dropped at
//! the end. A database of that name that the benchmark did not create is never touched.

use std::str::FromStr;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use tokio_postgres::NoTls;

use crate::contender::Result;

/// What the benchmark writes on the databases it creates.
const MARK: &str = "eventsmith-bench scratch database: created by the benchmark, dropped when it ends";

pub struct Database {
    /// The server URL the user gave (its database is where the benchmark connects to create
    /// its own).
    admin_url: String,
    name: String,
    /// The URL of the benchmark's database.
    pub url: String,
}

/// `url` with its database replaced by `database`, and TLS off: every client connects in
/// plain text, so that none of them pays for encryption the others skip.
pub fn with_database(url: &str, database: &str) -> Result<String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let authority_start = base.find("://").map(|index| index + 3).ok_or_else(|| format!("not a URL: {url}"))?;
    let path_start = base[authority_start..].find('/').map_or(base.len(), |index| authority_start + index);
    let mut parameters: Vec<&str> =
        query.split('&').filter(|parameter| !parameter.is_empty() && !parameter.starts_with("sslmode=")).collect();
    parameters.push("sslmode=disable");
    Ok(format!("{}/{database}?{}", &base[..path_start], parameters.join("&")))
}

impl Database {
    /// Creates database `name` on the server of `admin_url`. One left by an interrupted run
    /// of the benchmark (it carries the mark) is dropped first; any other stops the run.
    pub async fn create(admin_url: &str, name: &str) -> Result<Database> {
        check_identifier(name)?;
        let admin = connect(admin_url).await?;
        let existing = admin
            .query_opt("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", &[&name])
            .await?;
        if let Some(row) = existing {
            let comment: Option<String> = row.get(0);
            if comment.as_deref() != Some(MARK) {
                return Err(format!(
                    "database `{name}` already exists on the server at {admin_url} and was not created by this \
                     benchmark; refusing to use it (its data stays untouched). Pick another name with --database."
                )
                .into());
            }
            eprintln!("dropping database `{name}`, left by an interrupted run of the benchmark");
            admin.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).await?;
        }
        admin.batch_execute(&format!("CREATE DATABASE {name}")).await?;
        admin.batch_execute(&format!("COMMENT ON DATABASE {name} IS '{MARK}'")).await?;
        Ok(Database { admin_url: admin_url.to_owned(), name: name.to_owned(), url: with_database(admin_url, name)? })
    }

    /// Refreshes the planner's statistics of every table in the database: after each case's
    /// setup, for every contender at once.
    pub async fn analyze(&self) -> Result<()> {
        connect(&self.url).await?.batch_execute("ANALYZE").await?;
        Ok(())
    }

    pub async fn drop(self) -> Result<()> {
        let admin = connect(&self.admin_url).await?;
        admin.batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name)).await?;
        Ok(())
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) =
        tokio_postgres::connect(url, NoTls).await.map_err(|error| format!("cannot connect to {url}: {error}"))?;
    tokio::spawn(connection);
    Ok(client)
}

fn check_identifier(name: &str) -> Result<()> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63;
    if valid { Ok(()) } else { Err(format!("`{name}` is not a lowercase SQL identifier").into()) }
}

/// An sqlx pool of at most `connections` on schema `schema` (created if missing), TLS off,
/// handing out connections without testing each first (sqlx tests them by default, a round
/// trip per checkout; eventsmith's pool recycles without one).
pub async fn sqlx_pool(url: &str, schema: &str, connections: u32) -> Result<PgPool> {
    check_identifier(schema)?;
    let options = PgConnectOptions::from_str(url)?.ssl_mode(PgSslMode::Disable);
    let admin = PgPoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
    sqlx::raw_sql(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).execute(&admin).await?;
    admin.close().await;
    let options = options.options([("search_path", schema)]);
    Ok(PgPoolOptions::new().max_connections(connections).test_before_acquire(false).connect_with(options).await?)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_and_pins_plain_connections() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "bench").unwrap(),
            "postgres://postgres@127.0.0.1:5432/bench?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u:p@host/db?sslmode=require&application_name=x", "bench").unwrap(),
            "postgres://u:p@host/bench?application_name=x&sslmode=disable"
        );
        assert_eq!(with_database("postgres://host", "bench").unwrap(), "postgres://host/bench?sslmode=disable");
    }
}
