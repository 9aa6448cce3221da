//! `eventsmith`: look into an event store, follow its log, and move it between stores.
//!
//! ```text
//! eventsmith --store orders.db show Order-42
//! eventsmith --store postgres://postgres@127.0.0.1/test log --from 1000 --follow
//! eventsmith --store orders.db export | eventsmith --store postgres://... import
//! ```
//!
//! Every command prints readable text, or one JSON value per line with `--json`. Exit
//! status: 0 on success, 1 when the store or the input failed (with what was tried on
//! standard error), 2 for a command line that does not parse.

mod commands;
mod line;
mod open;
mod time;
mod trace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Look into an eventsmith event store, follow its log, export and import it.
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("eventsmith: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("eventsmith: {error}");
            ExitCode::FAILURE
        }
    }
}
