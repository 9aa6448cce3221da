//! Fresh stores for integration tests: a SQLite file in a directory of its own, and (with
//! their features) a PostgreSQL schema and a NATS JetStream stream of their own on the real
//! servers named by `EVENTSMITH_POSTGRES_URL` and `EVENTSMITH_NATS_URL`.
//!
//! Each test file that uses it declares `mod support;` and uses only some of it.
#![allow(dead_code, reason = "each test file uses only some of the helpers")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A name no other test of any run uses: the process id, a counter and random bits.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let random = uuid::Uuid::now_v7().simple().to_string();
    format!("{prefix}_{}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed), &random[20..])
}

/// The path of `events.db` in a new, empty directory.
pub fn temp_db(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(unique_name(&format!("eventsmith-{name}")));
    std::fs::create_dir_all(&directory).expect("create a temporary directory");
    directory.join("events.db")
}

/// The read-model database at `place` (`sqlite:<path>`, or `postgres:<schema>` with the
/// `postgres` feature), as the document store and the SQL store it is, for tests that start
/// processes of their own and name the database to them in one string.
pub async fn read_models(
    place: &str,
) -> (std::sync::Arc<dyn eventsmith::documents::DocumentStore>, std::sync::Arc<dyn eventsmith::sql::SqlStore>) {
    match place.split_once(':') {
        Some(("sqlite", path)) => {
            let models = eventsmith::documents::SqliteDocuments::open(path).await.expect("open the SQLite read model");
            (std::sync::Arc::new(models.clone()), std::sync::Arc::new(models))
        }
        #[cfg(feature = "postgres")]
        Some(("postgres", schema)) => {
            use eventsmith::documents::{PostgresDocumentOptions, PostgresDocuments};
            let options = PostgresDocumentOptions { schema: schema.to_owned(), ..PostgresDocumentOptions::default() };
            let models = PostgresDocuments::connect_with(&postgres::url(), options).await.expect("open PostgreSQL");
            (std::sync::Arc::new(models.clone()), std::sync::Arc::new(models))
        }
        _ => panic!("no read-model database {place}"),
    }
}

/// One database holding both the events and the read models, as inline projections need
/// it, opened as a process would: a SQLite file, or two schemas of one PostgreSQL database.
#[derive(Debug, Clone)]
pub enum Shared {
    Sqlite(PathBuf),
    #[cfg(feature = "postgres")]
    Postgres {
        events: String,
        models: String,
    },
}

impl Shared {
    /// A new SQLite file, in a directory named after `name`.
    pub fn sqlite(name: &str) -> Self {
        Shared::Sqlite(temp_db(name))
    }

    #[cfg(feature = "postgres")]
    pub fn postgres() -> Self {
        Shared::Postgres { events: postgres::unique_schema(), models: postgres::unique_schema() }
    }

    /// The event store on the database.
    pub async fn store(&self) -> std::sync::Arc<dyn eventsmith::EventStore> {
        match self {
            Shared::Sqlite(path) => {
                std::sync::Arc::new(eventsmith::SqliteStore::open(path).await.expect("open the events"))
            }
            #[cfg(feature = "postgres")]
            Shared::Postgres { events, .. } => std::sync::Arc::new(postgres::store_in(events).await),
        }
    }
}

#[cfg(feature = "postgres")]
pub mod postgres {
    use eventsmith::PostgresStore;
    use eventsmith::store::PostgresOptions;

    const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

    pub fn url() -> String {
        std::env::var("EVENTSMITH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
    }

    /// A schema name for one test; `.ci/run` drops those that earlier runs left behind.
    pub fn unique_schema() -> String {
        super::unique_name("es_t")
    }

    pub async fn store_in(schema: &str) -> PostgresStore {
        let options = PostgresOptions { schema: schema.to_owned(), ..PostgresOptions::default() };
        match PostgresStore::connect_with(&url(), options).await {
            Ok(store) => store,
            Err(error) => panic!(
                "cannot open a PostgresStore at {} (set EVENTSMITH_POSTGRES_URL to use another server): {error}",
                url()
            ),
        }
    }

    pub async fn fresh_store() -> PostgresStore {
        store_in(&unique_schema()).await
    }

    pub async fn admin() -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to {} (EVENTSMITH_POSTGRES_URL): {error}", url()));
        tokio::spawn(connection);
        client
    }
}

#[cfg(feature = "nats")]
pub mod nats {
    use eventsmith::NatsStore;
    use eventsmith::store::NatsOptions;

    const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

    pub fn url() -> String {
        std::env::var("EVENTSMITH_NATS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
    }

    /// Deletes streams that tests of earlier runs left behind (more than ten minutes old),
    /// once per test process.
    async fn remove_stale_test_streams() {
        static CLEANED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
        CLEANED
            .get_or_init(|| async {
                let Ok(client) = async_nats::connect(url()).await else { return };
                let context = async_nats::jetstream::new(client);
                let mut names = context.stream_names();
                let mut stale = Vec::new();
                while let Some(Ok(name)) = futures_util::StreamExt::next(&mut names).await {
                    if !(name.starts_with("es_t_") || name.starts_with("KV_es_t_")) {
                        continue;
                    }
                    if let Ok(mut stream) = context.get_stream(&name).await
                        && let Ok(info) = stream.info().await
                        && time::OffsetDateTime::now_utc() - info.created > time::Duration::minutes(10)
                    {
                        stale.push(name);
                    }
                }
                for name in stale {
                    let _ = context.delete_stream(&name).await;
                }
            })
            .await;
    }

    /// Options naming a stream and buckets of their own.
    pub fn unique_options() -> NatsOptions {
        let name = super::unique_name("es_t");
        NatsOptions { stream: name.clone(), prefix: name, ..NatsOptions::default() }
    }

    pub async fn store_with(options: NatsOptions) -> NatsStore {
        remove_stale_test_streams().await;
        match NatsStore::connect_with(&url(), options).await {
            Ok(store) => store,
            Err(error) => {
                panic!("cannot open a NatsStore at {} (set EVENTSMITH_NATS_URL to use another server): {error}", url())
            }
        }
    }

    pub async fn fresh_store() -> NatsStore {
        store_with(unique_options()).await
    }
}

/// Certificates made with `openssl` for the TLS tests.
#[allow(dead_code, reason = "each test binary uses the helpers it needs")]
pub mod tls {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn openssl(args: &[&str]) {
        let output = Command::new("openssl").args(args).output().expect("run openssl");
        assert!(output.status.success(), "openssl {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    }

    /// A CA, and a server certificate it signs for the names in `san` (e.g.
    /// `DNS:localhost,IP:127.0.0.1`): the CA's certificate, the server's and its key (mode
    /// 0600), in `directory`.
    pub fn certificates(directory: &Path, name: &str, san: &str) -> (PathBuf, PathBuf, PathBuf) {
        let file = |suffix: &str| directory.join(format!("{name}-{suffix}"));
        let (ca_key, ca, key, request, certificate, extensions) = (
            file("ca.key"),
            file("ca.pem"),
            file("server.key"),
            file("server.csr"),
            file("server.pem"),
            file("san.cnf"),
        );
        std::fs::write(&extensions, format!("subjectAltName={san}\n")).unwrap();
        let path = |path: &PathBuf| path.display().to_string();
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=eventsmith test CA",
            "-keyout",
            &path(&ca_key),
            "-out",
            &path(&ca),
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=eventsmith test server",
            "-keyout",
            &path(&key),
            "-out",
            &path(&request),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &path(&request),
            "-CA",
            &path(&ca),
            "-CAkey",
            &path(&ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &path(&extensions),
            "-out",
            &path(&certificate),
        ]);
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        (ca, certificate, key)
    }
}
