//! # eventsmith
//!
//! Declarative event sourcing and CQRS. Annotate plain Rust enums, structs and impl blocks;
//! the macros generate event names and versions, command routing, the replay fold and the
//! glue to the stores, and check at compile time what can be checked.
//!
//! ```
//! use eventsmith::prelude::*;
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! pub struct Opened { pub account: u32 }
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! pub struct Deposited { pub account: u32, pub amount: u64 }
//!
//! #[derive(Event, Debug, Clone, PartialEq)]
//! pub enum AccountEvent { Opened(Opened), Deposited(Deposited) }
//!
//! #[derive(Command, Debug, Clone)]
//! #[command(aggregate = Account)]
//! pub struct Deposit { #[command(id)] pub account: u32, pub amount: u64 }
//!
//! #[derive(Debug, PartialEq, thiserror::Error)]
//! pub enum AccountError { #[error("amount must be positive")] ZeroAmount }
//!
//! #[derive(Debug, Default)]
//! pub struct Account { balance: u64 }
//!
//! #[aggregate(event = AccountEvent, error = AccountError)]
//! impl Account {
//!     #[command]
//!     fn deposit(&self, command: Deposit) -> Result<Vec<AccountEvent>, AccountError> {
//!         if command.amount == 0 {
//!             return Err(AccountError::ZeroAmount);
//!         }
//!         let mut events = Vec::new();
//!         if self.balance == 0 {
//!             events.push(Opened { account: command.account }.into());
//!         }
//!         events.push(Deposited { account: command.account, amount: command.amount }.into());
//!         Ok(events)
//!     }
//!
//!     #[apply]
//!     fn opened(&mut self, _: &Opened) {}
//!     #[apply]
//!     fn deposited(&mut self, event: &Deposited) { self.balance += event.amount; }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = App::builder().store(MemoryStore::new()).build().await?;
//! let committed = app.execute(Deposit { account: 1, amount: 10 }).await?;
//! assert_eq!(committed.events.len(), 2);
//! assert_eq!(app.load::<Account>(1).await?.state.balance, 10);
//! # Ok::<(), eventsmith::Error>(()) }).unwrap();
//! ```
//!
//! ## What the macros generate
//!
//! Nothing hidden: `macros/snapshots/` holds each macro's full expansion, checked by the
//! tests. In short, for the aggregate above `#[aggregate]` emits (paths shortened):
//!
//! ```text
//! impl Account { /* your methods, unchanged but for the #[command]/#[apply] markers */ }
//! const _: () = {
//!     impl Aggregate for Account {
//!         const NAME: &str = "Account";            // the stream prefix: Account-1
//!         type Event = AccountEvent;
//!         type Error = AccountError;
//!         fn initial() -> Self { <Self as InitialState>::initial_state() }   // Default::default()
//!         // The replay fold: a `match` in AccountEvent's derived `AppliedBy` impl, which
//!         // needs `Account: Apply<E>` for every event E. A forgotten #[apply] fails here.
//!         fn apply(&mut self, event: &AccountEvent) { AppliedBy::apply_to(event, self) }
//!     }
//!     // One per #[apply], with a check that the struct is an event of the enum.
//!     const _: usize = <Deposited as VariantOf<AccountEvent>>::INDEX;
//!     impl Apply<Deposited> for Account {
//!         fn apply(&mut self, event: &Deposited) { Account::deposited(self, event) }
//!     }
//!     // One per #[command], with a check that the command is routed to this aggregate.
//!     const _: () = <Deposit as CommandFor<Account>>::ROUTED;
//!     impl Handle<Deposit> for Account {
//!         fn handle(&self, command: &Deposit) -> Result<Vec<AccountEvent>, AccountError> {
//!             match Account::deposit(self, ClonedCommand::cloned_command(command)) {
//!                 Ok(events) => Ok(events.into_iter().map(Produces::produce).collect()),
//!                 Err(error) => Err(HandlerError::into_aggregate_error(error)),
//!             }
//!         }
//!     }
//! };
//! ```
//!
//! Each check goes through a trait of its own (`InitialState`, `ClonedCommand`, `HandlerError`,
//! `Payload`, ...) with a `#[diagnostic::on_unimplemented]` message, written as a path at
//! the user's token: a mistake is one error there, in the domain's words.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use eventsmith_macros::{Command, CommandEnvelope, Event, Query, QueryEnvelope, aggregate, projection};
pub use eventsmith_runtime::*;

#[cfg(feature = "nats")]
pub use eventsmith_nats::NatsStore;
#[cfg(feature = "postgres")]
pub use eventsmith_postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use eventsmith_sqlite::SqliteStore;

/// The dashboard: [`dashboard::router`] to mount in an axum server, read-only unless told
/// otherwise ([`dashboard::Dashboard::with_rebuilds`]).
#[cfg(feature = "dashboard")]
pub use eventsmith_dashboard as dashboard;

/// The store contract ([`EventStore`] and what it takes and gives back) and
/// every store of the enabled features, with their options.
pub mod store {
    #[cfg(feature = "nats")]
    pub use eventsmith_nats::{NatsOptions, NatsStore};
    #[cfg(feature = "postgres")]
    pub use eventsmith_postgres::{PostgresOptions, PostgresStore};
    pub use eventsmith_runtime::store::*;
    #[cfg(feature = "sqlite")]
    pub use eventsmith_sqlite::{Durability, SqliteOptions, SqliteStore};
}

/// Read models kept in a database, one document per key, updated exactly once and
/// queryable from any process: the contract and the databases of the enabled features.
pub mod documents {
    #[cfg(feature = "postgres")]
    pub use eventsmith_postgres::{PostgresDocumentOptions, PostgresDocuments};
    pub use eventsmith_runtime::documents::*;
    #[cfg(feature = "sqlite")]
    pub use eventsmith_sqlite::SqliteDocuments;
}

pub mod testing;

/// What a domain module needs: the macros, the traits and the engine.
pub mod prelude {
    pub use eventsmith_macros::{Command, CommandEnvelope, Event, Query, QueryEnvelope, aggregate, projection};
    pub use eventsmith_runtime::documents::{DocumentError, Documents};
    pub use eventsmith_runtime::sql::{Sql, SqlError, SqlRow};
    pub use eventsmith_runtime::{
        Aggregate, App, Command, CommandEnvelope, Envelope, Event, EventStore, ExpectedVersion, MemoryStore, Metadata,
        Projection, Query, QueryEnvelope, Recorded,
    };
    pub use serde::{Deserialize, Serialize};
}

/// The guide's pages under `docs/`, and the README: their code blocks are compiled and run
/// as doc tests, so the documentation cannot drift from the code.
#[cfg(doctest)]
pub mod guide {
    #[doc = include_str!("../README.md")]
    pub struct Readme;
    #[doc = include_str!("../docs/events.md")]
    pub struct Events;
    #[doc = include_str!("../docs/aggregates.md")]
    pub struct Aggregates;
    #[doc = include_str!("../docs/projections.md")]
    pub struct Projections;
    #[doc = include_str!("../docs/read-models.md")]
    pub struct ReadModels;
    #[doc = include_str!("../docs/testing.md")]
    pub struct Testing;
    #[doc = include_str!("../docs/stores.md")]
    pub struct Stores;
    /// The server stores' page needs both of their features.
    #[cfg(all(feature = "postgres", feature = "nats"))]
    #[doc = include_str!("../docs/servers.md")]
    pub struct Servers;
    #[doc = include_str!("../docs/diagnostics.md")]
    pub struct Diagnostics;
    #[doc = include_str!("../docs/catalog.md")]
    pub struct Catalog;
}
