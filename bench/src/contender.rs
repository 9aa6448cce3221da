//! What a contender (a library, or a driver used by hand) provides: the operations of the
//! bank-account domain on one store. The harness (`workload.rs`) decides what runs, times it,
//! runs the tasks and checks every result, the same way for every contender.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::cases::{Case, Sizes};
use crate::domain::AccountEvent;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = BoxError> = std::result::Result<T, E>;
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A library or a driver on one store.
pub trait Contender: Send {
    /// As printed: "eventsmith", "cqrs-es", "raw tokio-postgres", ...
    fn name(&self) -> String;

    /// Why the contender does not run `case`, when it does not: reported in the results.
    fn unsupported(&self, case: Case) -> Option<&'static str> {
        let _ = case;
        None
    }

    /// What the contender is in the results.
    fn role(&self) -> Role;

    /// Creates the case's own tables (or store) and opens a session on them (untimed).
    fn prepare<'a>(&'a mut self, case: Case, sizes: &'a Sizes) -> BoxFuture<'a, Result<Arc<dyn Session>>>;
}

/// What a contender is in the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// eventsmith as configured by default: the "eventsmith vs ..." columns compare it.
    Eventsmith,
    /// eventsmith configured otherwise (cache off, no projections).
    EventsmithVariant,
    /// Another library.
    Peer,
    /// The store's raw driver: the "vs raw" column compares with it.
    Baseline,
    /// The raw driver doing the work another way (the import as one `COPY`).
    RawVariant,
}

/// The outcome of one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Committed,
    /// The account moved on between the command's load and its append; nothing was written.
    Conflict,
}

/// One case's tables, as a contender uses them. Shared by the tasks of a run.
pub trait Session: Send + Sync {
    /// Opens an account: its first event (setup).
    fn open<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Appends `events` to `account` as one batch, its stream at `version` before (setup of
    /// histories; the import).
    fn append<'a>(&'a self, account: &'a str, version: u64, events: &'a [AccountEvent]) -> BoxFuture<'a, Result<()>>;

    /// Imports new streams, each written in one batch: by default one `append` after the
    /// other, as an application's import loop would.
    fn import<'a>(&'a self, streams: &'a [(String, Vec<AccountEvent>)]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            for (account, events) in streams {
                self.append(account, 0, events).await?;
            }
            Ok(())
        })
    }

    /// One command: deposit 1 into `account`, through the contender's command path.
    fn deposit<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Outcome>>;

    /// Deposits 1 into `account` and stores a snapshot at that deposit, the contender's own
    /// way (setup of case e).
    fn deposit_and_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        let _ = account;
        Box::pin(async { Err("snapshots are not supported".into()) })
    }

    /// Loads an account: the state all its events fold to.
    fn load<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<crate::domain::Account>>;

    /// Loads an account from its latest snapshot and the events after it.
    fn load_from_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<crate::domain::Account>> {
        let _ = account;
        Box::pin(async { Err("snapshots are not supported".into()) })
    }

    /// Catches a fresh projection of every account's balance up from the start of the log:
    /// the number of accounts and the sum of their balances.
    fn catch_up(&self) -> BoxFuture<'_, Result<(u64, i64)>> {
        Box::pin(async { Err("catching up is not supported".into()) })
    }

    /// Case h: what each of the projections updated by the commands counted (every one of
    /// them counts deposits, each its own way), or `None` for a session that keeps none (the
    /// reference without projections).
    fn projected(&self) -> BoxFuture<'_, Result<Option<Vec<u64>>>> {
        Box::pin(async { Err("projections are not supported".into()) })
    }

    /// Refreshes the planner's statistics of the contender's own tables after the setup,
    /// where that is the contender's business (a SQLite file); PostgreSQL's are refreshed by
    /// the harness for every contender at once.
    fn analyze(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}
