//! The cost of projections to each command: sequential commands with six in-memory
//! projections registered, against the same commands with none, as paired ratios in one run
//! (commands per second with six / with none; the goal is at least 0.9), on every store this
//! build and machine have: memory and SQLite always, PostgreSQL with `--features postgres`
//! and `EVENTSMITH_POSTGRES_URL`, NATS with `--features nats` and `EVENTSMITH_NATS_URL`.
//!
//! Each side has a store of its own; each round executes the same commands (deposits on 100
//! accounts in turn) on both, alternately, and the six read models are checked against the
//! commands at the end.
//!
//! Then the same for read models in a database: sequential commands on SQLite with three
//! document projections (in a SQLite file of their own) kept up to date by workers
//! ([`AppBuilder::projection_workers`]), by the commands themselves, and inline (in the
//! events' own file, written in each append's transaction), each against commands with no
//! projection (the goal for workers: the commands pay nothing, 1.0x). With PostgreSQL, the
//! inline case there too (the documents in another schema of the events' database).
//!
//! `cargo bench --bench commands` (add `--features postgres,nats` and the URLs for the
//! servers; `EVENTSMITH_BENCH_STORES=sqlite,postgres` runs only those).

use std::sync::Arc;

use eventsmith::prelude::*;
use eventsmith::store::EventStore;

mod support;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deposited {
    pub amount: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawn {
    pub amount: u64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum AccountEvent {
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Account)]
pub struct Deposit {
    #[command(id)]
    pub id: u32,
    pub amount: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

/// `Clone`, so that the app keeps it between commands (the aggregate cache), as most domains
/// would: each command then costs an append, not a replay of its stream.
#[derive(Debug, Clone, Default)]
pub struct Account {
    balance: u64,
}

#[aggregate(event = AccountEvent, error = Never)]
impl Account {
    #[command]
    fn deposit(&self, command: &Deposit) -> Result<Deposited, Never> {
        Ok(Deposited { amount: command.amount })
    }

    #[apply]
    fn deposited(&mut self, event: &Deposited) {
        self.balance += event.amount;
    }

    #[apply]
    fn withdrawn(&mut self, event: &Withdrawn) {
        self.balance -= event.amount;
    }
}

/// Six read models, each counting what it sees its own way; `Seen` answers each one's count
/// of deposits.
macro_rules! projections {
    ($($model:ident $name:literal),+) => {
        $(
            #[derive(Debug, Default)]
            pub struct $model {
                deposits: u64,
                total: u64,
                per_account: std::collections::HashMap<String, u64>,
            }

            #[projection(name = $name, events = AccountEvent)]
            impl $model {
                #[apply]
                fn deposited(&mut self, event: &Recorded<Deposited>) {
                    self.deposits += 1;
                    self.total += event.amount;
                    *self.per_account.entry(event.stream_id.clone()).or_default() += event.amount;
                }

                #[apply]
                fn withdrawn(&mut self, event: &Recorded<Withdrawn>) {
                    self.total -= event.amount;
                }

                #[query]
                fn seen(&self, _: Seen<$model>) -> u64 {
                    self.deposits
                }
            }
        )+
    };
}

projections!(First "first", Second "second", Third "third", Fourth "fourth", Fifth "fifth", Sixth "sixth");

/// Three document read models (one document per account), each counting its deposits.
macro_rules! document_projections {
    ($($model:ident $name:literal),+) => {
        $(
            #[derive(Debug, Default, Serialize, Deserialize)]
            pub struct $model {
                deposits: u64,
                total: u64,
            }

            #[projection(name = $name, events = AccountEvent, documents)]
            impl $model {
                #[apply]
                fn deposited(&mut self, event: &Recorded<Deposited>) {
                    self.deposits += 1;
                    self.total += event.amount;
                }

                #[apply]
                fn withdrawn(&mut self, event: &Recorded<Withdrawn>) {
                    self.total -= event.amount;
                }
            }
        )+
    };
}

document_projections!(FirstDocuments "first_documents", SecondDocuments "second_documents", ThirdDocuments "third_documents");

/// How many deposits projection `P` has seen.
#[derive(Debug)]
pub struct Seen<P>(std::marker::PhantomData<fn() -> P>);

impl<P> Seen<P> {
    fn new() -> Self {
        Seen(std::marker::PhantomData)
    }
}

async fn app(store: Arc<dyn EventStore>, projections: bool) -> App {
    let builder = App::builder().shared_store(store).aggregate::<Account>();
    let builder = if projections {
        builder
            .projection::<First>()
            .projection::<Second>()
            .projection::<Third>()
            .projection::<Fourth>()
            .projection::<Fifth>()
            .projection::<Sixth>()
    } else {
        builder
    };
    builder.build().await.unwrap()
}

async fn run(app: &App, round: u32, commands: u32) {
    for n in 0..commands {
        app.execute(Deposit { id: n % 100, amount: u64::from(round + n) }).await.unwrap();
    }
}

/// Whether `EVENTSMITH_BENCH_STORES` (a comma-separated list; all when unset) names `store`.
fn wanted(store: &str) -> bool {
    std::env::var("EVENTSMITH_BENCH_STORES").map_or(true, |stores| stores.split(',').any(|name| name.trim() == store))
}

/// How the stored projections of [`measure_stored`] are run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stored {
    None,
    InCommands,
    InWorkers,
    /// In each append's transaction, the documents in the events' own file.
    Inline,
}

/// The three document projections, inline.
fn inline_three(builder: eventsmith::AppBuilder) -> eventsmith::AppBuilder {
    builder
        .inline_document_projection::<FirstDocuments>()
        .inline_document_projection::<SecondDocuments>()
        .inline_document_projection::<ThirdDocuments>()
}

async fn stored_app(directory: &std::path::Path, name: &str, stored: Stored) -> App {
    let store = eventsmith::SqliteStore::open(directory.join(format!("{name}.db"))).await.unwrap();
    let builder = App::builder().store(store).aggregate::<Account>();
    if stored == Stored::None {
        return builder.build().await.unwrap();
    }
    if stored == Stored::Inline {
        let documents = eventsmith::documents::SqliteDocuments::open(directory.join(format!("{name}.db")));
        return inline_three(builder.documents_in(documents.await.unwrap())).build().await.unwrap();
    }
    let documents = eventsmith::documents::SqliteDocuments::open(directory.join(format!("{name}-views.db")));
    let builder = builder
        .documents_in(documents.await.unwrap())
        .document_projection::<FirstDocuments>()
        .document_projection::<SecondDocuments>()
        .document_projection::<ThirdDocuments>();
    let builder = if stored == Stored::InWorkers {
        builder.projection_workers(std::time::Duration::from_millis(100))
    } else {
        builder
    };
    builder.build().await.unwrap()
}

/// Sequential commands on SQLite with three document projections, by workers and by the
/// commands, each against none.
fn measure_stored(runtime: &tokio::runtime::Runtime, directory: &std::path::Path, commands: u32) {
    if !wanted("sqlite") {
        return;
    }
    for stored in [Stored::InWorkers, Stored::InCommands, Stored::Inline] {
        let name = format!("{stored:?}").to_lowercase();
        let (none, with) = runtime.block_on(async {
            (
                stored_app(directory, &format!("{name}-none"), Stored::None).await,
                stored_app(directory, &name, stored).await,
            )
        });
        compare_stored(runtime, "sqlite", &none, &with, stored, commands);
    }
}

/// `commands` sequential commands on `with` (three document projections, run as `stored`
/// says) against the same on `none`, as a paired ratio; every deposit is checked to have
/// reached each read model once.
fn compare_stored(
    runtime: &tokio::runtime::Runtime,
    label: &str,
    none: &App,
    with: &App,
    stored: Stored,
    commands: u32,
) {
    let (mut with_round, mut none_round) = (0, 0);
    let pairs = 7;
    let (ratio, with_three, with_none) = support::paired_ratio(
        pairs,
        || {
            runtime.block_on(run(with, with_round, commands));
            with_round += 1;
        },
        || {
            runtime.block_on(run(none, none_round, commands));
            none_round += 1;
        },
    );
    runtime.block_on(async {
        let head = with.store().head().await.unwrap();
        with.wait_for::<FirstDocuments>(head, std::time::Duration::from_secs(60)).await.unwrap();
        with.wait_for::<ThirdDocuments>(head, std::time::Duration::from_secs(60)).await.unwrap();
        let documents = with.documents::<ThirdDocuments>().unwrap();
        let mut deposits = 0;
        for account in 0..100u32 {
            deposits += documents.get(&account.to_string()).await.unwrap().map_or(0, |account| account.deposits);
        }
        assert_eq!(deposits, u64::from(commands) * pairs as u64);
    });
    let per_second = |ms: f64| f64::from(commands) / ms * 1e3;
    let goal = if stored == Stored::InWorkers { " (goal 1.0x: the commands pay nothing)" } else { "" };
    println!(
        "{label}: {commands} sequential commands: none {with_none:.0} ms ({:.0}/s), three document projections \
         {} {with_three:.0} ms ({:.0}/s); throughput with three / with none {:.2}x{goal}",
        per_second(with_none),
        match stored {
            Stored::InWorkers => "in workers",
            Stored::Inline => "inline, in the appends' transactions",
            _ => "in the commands",
        },
        per_second(with_three),
        1.0 / ratio
    );
}

/// Sequential commands on PostgreSQL with three document projections inline (the documents
/// in another schema of the events' database), against none.
#[cfg(feature = "postgres")]
fn measure_inline_postgres(runtime: &tokio::runtime::Runtime, url: &str, commands: u32) {
    if !wanted("postgres") {
        return;
    }
    use eventsmith::documents::{PostgresDocumentOptions, PostgresDocuments};
    use eventsmith::store::{PostgresOptions, PostgresStore};
    let id = std::process::id();
    let schemas = [
        format!("es_t_bench_inline_none_{id}"),
        format!("es_t_bench_inline_{id}"),
        format!("es_t_bench_inline_rm_{id}"),
    ];
    let (none, with) = runtime.block_on(async {
        let open = |schema: &str| {
            let options = PostgresOptions { schema: schema.to_owned(), ..PostgresOptions::default() };
            PostgresStore::connect_with(url, options)
        };
        let none = App::builder().store(open(&schemas[0]).await.unwrap()).aggregate::<Account>().build().await.unwrap();
        let options = PostgresDocumentOptions { schema: schemas[2].clone(), ..PostgresDocumentOptions::default() };
        let builder = App::builder().store(open(&schemas[1]).await.unwrap()).aggregate::<Account>();
        let documents = PostgresDocuments::connect_with(url, options).await.unwrap();
        let with = inline_three(builder.documents_in(documents)).build().await.unwrap();
        (none, with)
    });
    compare_stored(runtime, "postgres", &none, &with, Stored::Inline, commands);
    drop((none, with));
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        for schema in &schemas {
            client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
        }
    });
}

fn measure(label: &str, runtime: &tokio::runtime::Runtime, stores: [Arc<dyn EventStore>; 2], commands: u32) {
    if !wanted(label) {
        return;
    }
    let [none_store, six_store] = stores;
    let (none, six) = runtime.block_on(async { (app(none_store, false).await, app(six_store, true).await) });
    let (mut six_round, mut none_round) = (0, 0);
    let pairs = 7;
    let (ratio, with_six, with_none) = support::paired_ratio(
        pairs,
        || {
            runtime.block_on(run(&six, six_round, commands));
            six_round += 1;
        },
        || {
            runtime.block_on(run(&none, none_round, commands));
            none_round += 1;
        },
    );
    let expected = u64::from(commands) * pairs as u64;
    runtime.block_on(async {
        assert_eq!(six.query(Seen::<First>::new()).await.unwrap(), expected);
        assert_eq!(six.query(Seen::<Fourth>::new()).await.unwrap(), expected);
        assert_eq!(six.query(Seen::<Sixth>::new()).await.unwrap(), expected);
    });
    let per_second = |ms: f64| f64::from(commands) / ms * 1e3;
    println!(
        "{label}: {commands} sequential commands: none {with_none:.0} ms ({:.0}/s), six projections {with_six:.0} ms \
         ({:.0}/s); throughput with six / with none {:.2}x (goal 0.9x)",
        per_second(with_none),
        per_second(with_six),
        1.0 / ratio
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let directory = std::env::temp_dir().join(format!("eventsmith-bench-commands-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();

    let memory: [Arc<dyn EventStore>; 2] = [Arc::new(MemoryStore::new()), Arc::new(MemoryStore::new())];
    measure("memory", &runtime, memory, 20_000);

    let sqlite = runtime.block_on(async {
        let open = |name: &str| eventsmith::SqliteStore::open(directory.join(name));
        let stores: [Arc<dyn EventStore>; 2] =
            [Arc::new(open("none.db").await.unwrap()), Arc::new(open("six.db").await.unwrap())];
        stores
    });
    measure("sqlite", &runtime, sqlite, 2_000);
    measure_stored(&runtime, &directory, 2_000);

    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("EVENTSMITH_POSTGRES_URL") {
        use eventsmith::store::{PostgresOptions, PostgresStore};
        let stores = runtime.block_on(async {
            let open = |schema: &str| {
                let options = PostgresOptions { schema: schema.to_owned(), ..PostgresOptions::default() };
                PostgresStore::connect_with(&url, options)
            };
            let id = std::process::id();
            let stores: [Arc<dyn EventStore>; 2] = [
                Arc::new(open(&format!("es_t_bench_none_{id}")).await.unwrap()),
                Arc::new(open(&format!("es_t_bench_six_{id}")).await.unwrap()),
            ];
            stores
        });
        measure("postgres", &runtime, stores, 1_000);
        measure_inline_postgres(&runtime, &url, 1_000);
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let id = std::process::id();
            client
                .batch_execute(&format!(
                    "DROP SCHEMA es_t_bench_none_{id} CASCADE; DROP SCHEMA es_t_bench_six_{id} CASCADE"
                ))
                .await
                .unwrap();
        });
    }

    #[cfg(feature = "nats")]
    if let Ok(url) = std::env::var("EVENTSMITH_NATS_URL") {
        use eventsmith::store::{NatsOptions, NatsStore};
        let stores = runtime.block_on(async {
            // Named like the tests' streams, which their next run removes.
            let open = |stream: &str| {
                let options =
                    NatsOptions { stream: stream.to_owned(), prefix: stream.to_owned(), ..NatsOptions::default() };
                NatsStore::connect_with(&url, options)
            };
            let id = std::process::id();
            let stores: [Arc<dyn EventStore>; 2] = [
                Arc::new(open(&format!("es_t_bench_none_{id}")).await.unwrap()),
                Arc::new(open(&format!("es_t_bench_six_{id}")).await.unwrap()),
            ];
            stores
        });
        measure("nats", &runtime, stores, 500);
    }
    let _ = std::fs::remove_dir_all(&directory);
}
