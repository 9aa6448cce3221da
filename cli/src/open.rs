//! Opening the store a command names: by the form of `--store`.

use std::sync::Arc;

use eventsmith::store::{EventStore, NatsOptions, NatsStore, PostgresOptions, PostgresStore, SqliteStore};

use crate::Cli;
use crate::commands::Failure;

/// What a command does with the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads: a store that is not there is an error, and nothing is created or migrated.
    Read,
    /// Appends: a store that is not there is created.
    Write,
}

/// Opens the store of `--store`: a `postgres://` or `postgresql://` URL, a `nats://` or
/// `tls://` URL, or else the path of a SQLite file.
pub(crate) async fn open(cli: &Cli, access: Access) -> Result<Arc<dyn EventStore>, Failure> {
    let Some(location) = cli.store.as_deref() else {
        return Err(Failure::new(
            "no store: give `--store` (a SQLite file, postgres://... or nats://...) or set EVENTSMITH_STORE",
        ));
    };
    let tried =
        |error: eventsmith::StoreError| Failure::new(format!("cannot open the store at {}: {error}", shown(location)));
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        let options = PostgresOptions { schema: cli.schema.clone(), migrate: access == Access::Write, pool_size: 2 };
        let store = PostgresStore::connect_with(location, options).await.map_err(tried)?;
        return Ok(Arc::new(store));
    }
    if location.starts_with("nats://") || location.starts_with("tls://") {
        let options =
            NatsOptions { stream: cli.nats_stream.clone(), prefix: cli.nats_prefix.clone(), ..NatsOptions::default() };
        let store = NatsStore::connect_with(location, options).await.map_err(tried)?;
        return Ok(Arc::new(store));
    }
    if access == Access::Read && !std::path::Path::new(location).is_file() {
        return Err(Failure::new(format!(
            "no SQLite event store at `{location}` (a file that is not there; a server is given as postgres://... or nats://...)"
        )));
    }
    Ok(Arc::new(SqliteStore::open(location).await.map_err(tried)?))
}

/// A URL without its password, as errors show it.
fn shown(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else { return format!("`{location}`") };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split_once(':').map_or(credentials, |(user, _)| user);
            format!("`{scheme}://{user}:***@{host}`")
        }
        None => format!("`{location}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(shown("postgres://ann:secret@db:5432/x"), "`postgres://ann:***@db:5432/x`");
        assert_eq!(shown("postgres://ann@db/x"), "`postgres://ann:***@db/x`");
        assert_eq!(shown("nats://127.0.0.1:4222"), "`nats://127.0.0.1:4222`");
        assert_eq!(shown("orders.db"), "`orders.db`");
    }
}
