//! Which store a run uses, written as one argument so that every process of the run opens
//! the same one: `sqlite:PATH`, `postgres:SCHEMA@URL`, `nats:STREAM:REPLICAS@URL`.

use std::sync::Arc;
use std::time::Duration;

use eventsmith::store::{EventStore, NatsOptions, PostgresOptions, StoreError};
use eventsmith::{NatsStore, PostgresStore, SqliteStore};

#[derive(Debug, Clone)]
pub enum Target {
    Sqlite { path: String },
    Postgres { schema: String, url: String },
    Nats { stream: String, replicas: usize, url: String },
}

impl Target {
    pub fn to_arg(&self) -> String {
        match self {
            Target::Sqlite { path } => format!("sqlite:{path}"),
            Target::Postgres { schema, url } => format!("postgres:{schema}@{url}"),
            Target::Nats { stream, replicas, url } => format!("nats:{stream}:{replicas}@{url}"),
        }
    }

    pub fn parse(arg: &str) -> Result<Self, String> {
        let (kind, rest) = arg.split_once(':').ok_or_else(|| format!("not a store: `{arg}`"))?;
        let bad = || format!("not a {kind} store: `{arg}`");
        Ok(match kind {
            "sqlite" => Target::Sqlite { path: rest.to_owned() },
            "postgres" => {
                let (schema, url) = rest.split_once('@').ok_or_else(bad)?;
                Target::Postgres { schema: schema.to_owned(), url: url.to_owned() }
            }
            "nats" => {
                let (names, url) = rest.split_once('@').ok_or_else(bad)?;
                let (stream, replicas) = names.split_once(':').ok_or_else(bad)?;
                Target::Nats {
                    stream: stream.to_owned(),
                    replicas: replicas.parse().map_err(|_| bad())?,
                    url: url.to_owned(),
                }
            }
            _ => return Err(bad()),
        })
    }

    /// Opens the store; the first process to open it creates it.
    pub async fn open(&self) -> Result<Arc<dyn EventStore>, StoreError> {
        Ok(match self {
            Target::Sqlite { path } => Arc::new(SqliteStore::open(path).await?),
            Target::Postgres { schema, url } => {
                let options = PostgresOptions { schema: schema.clone(), pool_size: 4, ..PostgresOptions::default() };
                Arc::new(PostgresStore::connect_with(url, options).await?)
            }
            Target::Nats { stream, replicas, url } => {
                let options = NatsOptions {
                    stream: stream.clone(),
                    prefix: stream.to_lowercase(),
                    replicas: *replicas,
                    duplicate_window: Duration::from_secs(120),
                    ..NatsOptions::default()
                };
                Arc::new(NatsStore::connect_with(url, options).await?)
            }
        })
    }

    /// Opens the store, trying again while its server is down (a restart in progress).
    pub async fn open_patiently(&self) -> Arc<dyn EventStore> {
        let mut pause = Duration::from_millis(50);
        loop {
            match self.open().await {
                Ok(store) => return store,
                Err(error) => {
                    eprintln!("opening {}: {error}; trying again", self.to_arg());
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}
