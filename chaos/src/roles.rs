//! The processes of a run: writers execute deposits and record each one they were told was
//! committed; followers keep the ledger projection current and write down what it holds.
//! Either may be killed at any moment; both resume where the store says they are.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use eventsmith::{App, ExecuteError};
use serde::{Deserialize, Serialize};

use crate::domain::{Account, Deposit, Ledger, WholeLedger};
use crate::rng::Rng;
use crate::target::Target;

/// Accounts every writer deposits into: the contended ones.
pub const HOT_ACCOUNTS: u32 = 4;

/// One line of a writer's journal: a command it was told the outcome of.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    pub op: String,
    pub stream_id: String,
    /// The stream version and the event's id and position, when committed.
    pub committed: Option<(u64, uuid::Uuid, u64)>,
    /// The event ids of an append whose outcome the store could not tell.
    pub unknown: Option<Vec<uuid::Uuid>>,
}

/// Executes deposits until killed: half on the hot accounts, half on the writer's own.
pub async fn writer(target: Target, id: u32, journal: &Path) {
    let mut journal = std::fs::OpenOptions::new().create(true).append(true).open(journal).expect("open the journal");
    let mut rng = Rng::seeded();
    loop {
        let store = target.open_patiently().await;
        let app = match App::builder().shared_store(store).aggregate::<Account>().build().await {
            Ok(app) => app,
            Err(error) => {
                eprintln!("writer {id}: building the app: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        loop {
            let account = if rng.below(2) == 0 {
                rng.below(u64::from(HOT_ACCOUNTS)) as u32
            } else {
                1_000 * id + rng.below(50) as u32
            };
            let op = uuid::Uuid::now_v7().to_string();
            let deposit = Deposit { account, cents: 1 + rng.below(9), op: op.clone() };
            let entry = match app.execute(deposit).await {
                Ok(committed) => {
                    let event = &committed.events[0];
                    Entry {
                        op,
                        stream_id: committed.stream_id,
                        committed: Some((event.stream_version, event.id, event.position)),
                        unknown: None,
                    }
                }
                Err(ExecuteError::OutcomeUnknown { stream_id, event_ids, .. }) => {
                    Entry { op, stream_id, committed: None, unknown: Some(event_ids) }
                }
                Err(ExecuteError::Conflict { .. }) => continue,
                Err(error) => {
                    // The store is down or restarting: nothing was committed; try again.
                    eprintln!("writer {id}: {error}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            // One write per line: a process killed here leaves whole lines behind.
            let mut line = serde_json::to_vec(&entry).expect("an entry serializes");
            line.push(b'\n');
            journal.write_all(&line).expect("write the journal");
        }
    }
}

/// Follows the log with the ledger projection until killed, writing what it holds to
/// `view` (atomically, by rename) every 100 ms. With `until_head`, stops once it has
/// applied the whole log, for the final comparison.
pub async fn follower(target: Target, id: u32, view: &Path, until_head: bool) {
    loop {
        let store = target.open_patiently().await;
        let app = match App::builder()
            .shared_store(store.clone())
            .projection::<Ledger>()
            .save_projections_every(50)
            .build()
            .await
        {
            Ok(app) => app,
            Err(error) => {
                eprintln!("follower {id}: building the app: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if until_head {
            let ledger = app.query(WholeLedger).await.expect("the ledger answers");
            write_view(view, &ledger);
            return;
        }
        let following = app.clone();
        let follow = tokio::spawn(async move { following.follow_log(Duration::from_millis(50)).await });
        while !follow.is_finished() {
            if let Ok(ledger) = app.query(WholeLedger).await {
                write_view(view, &ledger);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Ok(Err(error)) = follow.await {
            eprintln!("follower {id}: following the log: {error}; starting again");
        }
    }
}

fn write_view(view: &Path, ledger: &Ledger) {
    let temporary = view.with_extension("tmp");
    std::fs::write(&temporary, serde_json::to_vec(ledger).expect("a ledger serializes")).expect("write the view");
    std::fs::rename(&temporary, view).expect("publish the view");
}
