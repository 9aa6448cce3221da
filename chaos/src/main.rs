//! `eventsmith-chaos`: writer and follower processes on one store, killed with SIGKILL at
//! random and restarted, again and again, while the servers are disturbed (PostgreSQL's
//! backends terminated and the server restarted; a NATS server killed; the leader of a
//! three-node JetStream cluster killed). At the end every invariant is checked: no
//! acknowledged command missing, none twice, stream versions contiguous, positions in order,
//! every follower's ledger equal to a rebuild from zero.
//!
//! ```text
//! cargo run --release -p eventsmith-chaos -- --store sqlite|postgres|nats|nats-cluster [--minutes N | --seconds N]
//! ```

mod coordinator;
mod domain;
mod rng;
mod roles;
mod servers;
mod target;
mod verify;

use std::path::PathBuf;
use std::time::Duration;

use target::Target;

const USAGE: &str = "\
usage: eventsmith-chaos --store sqlite|postgres|nats|nats-cluster [options]

  --store KIND     the store: a SQLite file, PostgreSQL ($EVENTSMITH_POSTGRES_URL, default
                   postgres://postgres@127.0.0.1:5432/test, in a schema of its own), a NATS
                   server the run starts, or a cluster of three it starts
  --minutes N      how long to run (default: 1)
  --seconds N      the same, in seconds
  --writers N      writer processes (default: 3)
  --followers N    follower processes (default: 2)
  --json PATH      also write the findings as JSON to PATH
";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|arg| arg == flag).and_then(|at| args.get(at + 1)).cloned();
    if let Some(role) = value("--role") {
        let target = Target::parse(&value("--target").expect("--target")).expect("a store");
        let id: u32 = value("--id").and_then(|id| id.parse().ok()).expect("--id");
        let file = PathBuf::from(value("--file").expect("--file"));
        match role.as_str() {
            "writer" => roles::writer(target, id, &file).await,
            "follower" => roles::follower(target, id, &file, false).await,
            "final" => roles::follower(target, id, &file, true).await,
            other => panic!("unknown role {other}"),
        }
        return;
    }
    let Some(store) = value("--store") else {
        eprint!("{USAGE}");
        std::process::exit(2);
    };
    let number = |flag: &str, default: u64| -> u64 {
        value(flag).map_or(default, |text| {
            text.parse().unwrap_or_else(|_| {
                eprintln!("{flag} takes a whole number\n\n{USAGE}");
                std::process::exit(2);
            })
        })
    };
    let seconds = value("--seconds").map_or_else(|| number("--minutes", 1) * 60, |_| number("--seconds", 60));
    let options = coordinator::Options {
        store,
        duration: Duration::from_secs(seconds),
        writers: number("--writers", 3) as u32,
        followers: number("--followers", 2) as u32,
        json: value("--json").map(PathBuf::from),
    };
    match coordinator::run(options).await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(error) => {
            eprintln!("eventsmith-chaos: {error}");
            std::process::exit(2);
        }
    }
}
