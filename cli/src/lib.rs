//! `eventsmith`: look into an event store, follow its log, and move it between stores; and,
//! from a binary of the application's own with its domain, verify, rebuild and list its
//! projections, and draw its catalog.
//!
//! ```text
//! eventsmith --store orders.db show Order-42
//! eventsmith --store postgres://postgres@127.0.0.1/test log --from 1000 --follow
//! eventsmith --store orders.db export | eventsmith --store postgres://... import
//! ```
//!
//! The commands that need the domain run in the application's own binary:
//!
//! ```no_run
//! # use eventsmith::App;
//! fn main() -> std::process::ExitCode {
//!     // The app's aggregates and projections (and read-model databases), without a store:
//!     // the tool opens the one of `--store`.
//!     let builder = App::builder();
//!     eventsmith_cli::run(builder)
//! }
//! ```
//!
//! Every command prints readable text, or one JSON value per line with `--json`. Exit
//! status: 0 on success, 1 when the store or the input failed, or `verify` found events
//! that do not decode (with what was tried on standard error), 2 for a command line that
//! does not parse.

mod commands;
mod domain;
mod line;
mod open;
mod trace;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Look into an eventsmith event store, follow its log, export and import it.
#[doc(hidden)]
#[derive(Debug, Parser)]
#[command(name = "eventsmith", version, about)]
struct Cli {
    /// The event store: a SQLite file, `postgres://...` or `nats://...`.
    #[arg(long, short, env = "EVENTSMITH_STORE", global = true)]
    store: Option<String>,

    /// The PostgreSQL schema of the store's tables.
    #[arg(long, default_value = "eventsmith", global = true)]
    schema: String,

    /// The NATS JetStream stream holding the events.
    #[arg(long, default_value = "EVENTSMITH", global = true)]
    nats_stream: String,

    /// The subject prefix of the NATS store's subjects and buckets.
    #[arg(long, default_value = "eventsmith", global = true)]
    nats_prefix: String,

    /// One JSON value per line instead of text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decodes every stored event the application's event enums read, with its current
    /// code (upcasters included): each stored type and version, and where one fails.
    /// (In the application's binary: `eventsmith_cli::run`.)
    Verify,
    /// Replays one projection from the start of the log into a fresh read model. (In the
    /// application's binary.)
    Rebuild {
        /// The projection's name.
        projection: String,
    },
    /// The application's projections: where each one's checkpoint is, and how many events
    /// of the log are after it. (In the application's binary.)
    Projections,
    /// The application's domain as its macros describe it: aggregates with their commands,
    /// events with their versions and schemas, projections with their events and queries;
    /// Markdown with a Mermaid diagram, the diagram alone, or JSON. Needs no store. (In the
    /// application's binary.)
    Catalog {
        /// Only the Mermaid diagram (not with `--json`).
        #[arg(long)]
        mermaid: bool,
    },
    /// Serves the dashboard (streams, events, the log live, projections, the domain's
    /// diagram) over HTTP until interrupted; prints its address first. With the
    /// application's domain (`eventsmith_cli::run`), its projections and diagram too.
    /// Read-only unless `--allow-rebuild`.
    Dashboard {
        /// The address to listen on; port 0 takes a free port.
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: std::net::SocketAddr,
        /// Lets the projections page rebuild a projection. The tool has no authentication:
        /// listen where only operators reach.
        #[arg(long)]
        allow_rebuild: bool,
        /// A host name the dashboard answers to, besides IP addresses and `localhost`
        /// (repeatable): requests for any other name are refused, so that a page elsewhere
        /// cannot reach the dashboard by making its own name resolve to this machine.
        #[arg(long = "allow-host", value_name = "NAME")]
        allow_hosts: Vec<String>,
    },
    /// The streams, in the byte order of their ids: each with its number of events and
    /// when its last one was committed.
    Streams {
        /// Only the streams whose ids start with this, e.g. `Order-`.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Only the streams after this id (the last one of a page before).
        #[arg(long)]
        after: Option<String>,
        /// At most this many streams (all when not given).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// The events of one stream, with their envelopes and payloads.
    Show {
        /// The stream, e.g. `Order-42`.
        stream: String,
    },
    /// The global log from a position on, in commit order.
    Log {
        /// The first position shown.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// At most this many events (all when not given).
        #[arg(long)]
        limit: Option<u64>,
        /// Waits for new events after the last one, until interrupted.
        #[arg(long)]
        follow: bool,
    },
    /// The log's head and its events per type and version.
    Stats,
    /// What one request caused: the events of a correlation id, as a tree by causation
    /// (each event under the command or event that caused it).
    Trace {
        /// The correlation id (the first command's id, unless the caller gave one).
        correlation: uuid::Uuid,
    },
    /// Writes the log as JSON Lines (one event per line, in commit order) to standard
    /// output or a file, with a progress bar on standard error.
    Export {
        /// The first position written (to resume an export, the next after the last line).
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// The file to write (appended to when `--from` is past 1); standard output when
        /// not given.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Appends the events of a JSON Lines export, keeping their ids and stream versions:
    /// importing the same lines again writes nothing twice, so an interrupted import is
    /// resumed by running it again.
    Import {
        /// The file to read; standard input when not given.
        #[arg(long, short)]
        input: Option<std::path::PathBuf>,
    },
}

/// The `eventsmith` tool without a domain: the commands that read and write the store.
#[must_use]
pub fn main() -> ExitCode {
    execute::<NoBuilder, _>(None)
}

/// The `eventsmith` tool with the application's domain: `builder` holds its aggregates,
/// projections and read-model databases; the tool gives it the store of `--store`. Every
/// command of [`main`] is there, and `verify`, `rebuild`, `projections` and `catalog`.
#[must_use]
pub fn run(builder: eventsmith::AppBuilder) -> ExitCode {
    run_with(|| async { Ok(builder) })
}

/// [`run`] with a builder made on the tool's runtime: for read-model databases that are
/// opened asynchronously (`SqliteDocuments::open`, `PostgresDocuments::connect`), whose
/// connections belong to the runtime that opened them.
#[must_use]
pub fn run_with<F, Made>(make: F) -> ExitCode
where
    F: FnOnce() -> Made,
    Made: std::future::Future<Output = Result<eventsmith::AppBuilder, Box<dyn std::error::Error + Send + Sync>>>,
{
    execute(Some(make))
}

/// The builder of [`main`]: none.
type NoBuilder = fn() -> std::future::Ready<Result<eventsmith::AppBuilder, Box<dyn std::error::Error + Send + Sync>>>;

fn execute<F, Made>(make: Option<F>) -> ExitCode
where
    F: FnOnce() -> Made,
    Made: std::future::Future<Output = Result<eventsmith::AppBuilder, Box<dyn std::error::Error + Send + Sync>>>,
{
    let cli = Cli::parse();
    if cli.json && matches!(cli.command, Command::Catalog { mermaid: true }) {
        // `--json` is global, so clap cannot see the conflict: said as clap says its own.
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "`--mermaid` prints the diagram as text: not with `--json`",
            )
            .exit();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("eventsmith: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let run = async {
        let builder = match make {
            Some(make) => Some(
                make()
                    .await
                    .map_err(|error| commands::Failure::new(format!("the application's builder failed: {error}")))?,
            ),
            None => None,
        };
        commands::run(cli, builder).await
    };
    match runtime.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("eventsmith: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The tool's guide, `docs/tool.md`: its code blocks are compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/tool.md")]
pub struct Guide;
