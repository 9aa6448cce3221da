//! The store's schema: embedded, versioned migrations, applied once each, and the check that
//! a schema is the version this release reads.

use deadpool_postgres::GenericClient;
use eventsmith_runtime::store::StoreError;

use crate::db::Db;
use crate::error::{backend, pool_error};

/// The migrations, in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_append_batch.sql"),
    include_str!("../migrations/0003_namespaces.sql"),
];

/// The schema version this release writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The eventsmith schema version of the tables on `search_path`: `None` when there is no
/// eventsmith schema there.
async fn applied_version(client: &impl GenericClient, operation: &'static str) -> Result<Option<i64>, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('eventsmith_schema') IS NOT NULL", &[])
        .await
        .map_err(|error| backend(operation, error))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let version: Option<i32> = client
        .query_one("SELECT max(version) FROM eventsmith_schema", &[])
        .await
        .map_err(|error| backend(operation, error))?
        .get(0);
    Ok(Some(i64::from(version.unwrap_or(0))))
}

/// Creates `schema` if it is not there (its name through `format('%I')`, never spliced into
/// SQL) and makes it the transaction's `search_path`.
pub(crate) async fn enter_schema(
    transaction: &deadpool_postgres::Transaction<'_>,
    schema: &str,
) -> Result<(), tokio_postgres::Error> {
    transaction
        .batch_execute(
            "CREATE FUNCTION pg_temp.eventsmith_create_schema(name text) RETURNS void LANGUAGE plpgsql AS $$
             BEGIN EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', name); END $$;",
        )
        .await?;
    transaction.execute("SELECT pg_temp.eventsmith_create_schema($1)", &[&schema]).await?;
    transaction.execute("SELECT set_config('search_path', $1, true)", &[&schema]).await?;
    Ok(())
}

impl Db {
    /// Applies the migrations the schema does not have yet, in one transaction, serialized
    /// across processes by the store's advisory lock. A schema that holds other tables and no
    /// eventsmith schema, or one of a newer release, is refused untouched.
    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        let failed = |error| backend("migrate", error);
        let mut client = self.pool.get().await.map_err(|error| pool_error("migrate", error))?;
        let transaction = client.transaction().await.map_err(failed)?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&self.lock]).await.map_err(failed)?;
        enter_schema(&transaction, &self.schema).await.map_err(failed)?;
        let applied = match applied_version(&transaction, "migrate").await? {
            Some(version) => version,
            None => {
                let foreign: i64 = transaction
                    .query_one("SELECT count(*) FROM pg_tables WHERE schemaname = $1", &[&self.schema])
                    .await
                    .map_err(failed)?
                    .get(0);
                if foreign > 0 {
                    return Err(StoreError::NotAStore {
                        location: self.location(),
                        reason: format!("the schema has {foreign} other tables and no eventsmith schema"),
                    });
                }
                0
            }
        };
        if applied > SCHEMA_VERSION {
            return Err(self.too_new(applied));
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(usize::try_from(applied).unwrap_or(0)) {
            transaction.batch_execute(migration).await.map_err(failed)?;
            let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
            transaction.execute("DELETE FROM eventsmith_schema", &[]).await.map_err(failed)?;
            transaction
                .execute("INSERT INTO eventsmith_schema (version) VALUES ($1)", &[&version])
                .await
                .map_err(failed)?;
        }
        transaction.commit().await.map_err(failed)
    }

    /// Checks, without changing anything, that the schema is at this release's version.
    pub(crate) async fn check_version(&self) -> Result<(), StoreError> {
        let client = self.client("open").await?;
        match applied_version(&client, "open").await? {
            Some(version) if version == SCHEMA_VERSION => Ok(()),
            Some(version) if version > SCHEMA_VERSION => Err(self.too_new(version)),
            found => Err(StoreError::NotAStore {
                location: self.location(),
                reason: format!(
                    "schema `{}` is at eventsmith version {}, this release needs {SCHEMA_VERSION}; open it once with \
                     `migrate: true` as its owner",
                    self.schema,
                    found.unwrap_or(0),
                ),
            }),
        }
    }

    fn too_new(&self, found: i64) -> StoreError {
        StoreError::SchemaTooNew { location: self.location(), found, supported: SCHEMA_VERSION }
    }
}
