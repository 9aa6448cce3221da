//! The app's cache of recently used aggregates: a warm command skips the load, and a cached
//! state that fell behind the store never decides anything on its own.

use std::sync::atomic::{AtomicU32, Ordering};

use eventsmith::ExecuteError;
use eventsmith::prelude::*;
use eventsmith::store::{AppendOutcome, BoxFuture, NewEvent, StoreError, StoredEvent};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deposited {
    pub amount: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawn {
    pub amount: u32,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum WalletEvent {
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Wallet)]
pub struct Deposit {
    #[command(id)]
    pub id: u32,
    pub amount: u32,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Wallet)]
pub struct Withdraw {
    #[command(id)]
    pub id: u32,
    pub amount: u32,
}

/// A withdrawal from a wallet that must exist already.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Wallet, expect = existing)]
pub struct Spend {
    #[command(id)]
    pub id: u32,
    pub amount: u32,
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("insufficient funds: {balance}")]
pub struct Insufficient {
    balance: u32,
}

#[derive(Debug, Default, Clone)]
pub struct Wallet {
    balance: u32,
}

#[aggregate(event = WalletEvent, error = Insufficient)]
impl Wallet {
    #[command]
    fn deposit(&self, command: &Deposit) -> Result<Deposited, Insufficient> {
        Ok(Deposited { amount: command.amount })
    }

    #[command]
    fn withdraw(&self, command: &Withdraw) -> Result<Withdrawn, Insufficient> {
        if command.amount > self.balance {
            return Err(Insufficient { balance: self.balance });
        }
        Ok(Withdrawn { amount: command.amount })
    }

    #[command]
    fn spend(&self, command: &Spend) -> Result<Withdrawn, Insufficient> {
        self.withdraw(&Withdraw { id: command.id, amount: command.amount })
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

/// The memory store, counting the stream reads that loads make.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    stream_reads: AtomicU32,
}

impl EventStore for Counting {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        Box::pin(async move { self.inner.append(stream_id, expected, events).await })
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from: u64,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(async move {
            self.stream_reads.fetch_add(1, Ordering::SeqCst);
            self.inner.read_stream(stream_id, from, max).await
        })
    }

    fn read_all<'a>(
        &'a self,
        from: u64,
        max: usize,
        types: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(async move { self.inner.read_all(from, max, types).await })
    }
}

fn deposited(amount: u32) -> NewEvent {
    NewEvent::encode(&WalletEvent::from(Deposited { amount })).unwrap()
}

#[tokio::test]
async fn commands_on_a_warm_aggregate_skip_the_load() {
    let store = std::sync::Arc::new(Counting::default());
    let app = App::builder().shared_store(store.clone()).build().await.unwrap();
    for _ in 0..4 {
        app.execute(Deposit { id: 1, amount: 5 }).await.unwrap();
    }
    assert_eq!(store.stream_reads.load(Ordering::SeqCst), 1, "only the first command loads");
    assert_eq!(app.load::<Wallet>(1).await.unwrap().state.balance, 20);

    let store = std::sync::Arc::new(Counting::default());
    let uncached = App::builder().shared_store(store.clone()).aggregate_cache(0).build().await.unwrap();
    for _ in 0..4 {
        uncached.execute(Deposit { id: 1, amount: 5 }).await.unwrap();
    }
    assert_eq!(store.stream_reads.load(Ordering::SeqCst), 4, "without the cache every command loads");
}

#[tokio::test]
async fn a_stream_moved_on_by_another_writer_conflicts_and_is_reloaded() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let app = App::builder().shared_store(store.clone()).build().await.unwrap();
    app.execute(Deposit { id: 7, amount: 10 }).await.unwrap();
    // Another process, as far as the app can tell.
    store.append("Wallet-7", ExpectedVersion::Exact(1), vec![deposited(5)]).await.unwrap();
    let committed = app.execute(Deposit { id: 7, amount: 1 }).await.unwrap();
    assert_eq!((committed.version, committed.state.balance), (3, 16));
    let committed = app.execute(Withdraw { id: 7, amount: 16 }).await.unwrap();
    assert_eq!((committed.version, committed.state.balance), (4, 0));
}

#[tokio::test]
async fn a_rejection_is_decided_again_on_the_stored_state() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let app = App::builder().shared_store(store.clone()).build().await.unwrap();
    app.execute(Deposit { id: 3, amount: 1 }).await.unwrap();
    store.append("Wallet-3", ExpectedVersion::Exact(1), vec![deposited(20)]).await.unwrap();
    // The cached balance (1) would refuse; the stored one (21) allows it.
    let committed = app.execute(Withdraw { id: 3, amount: 15 }).await.unwrap();
    assert_eq!((committed.version, committed.state.balance), (3, 6));
    // A rejection that holds on the stored state is returned, and writes nothing.
    let error = app.execute(Withdraw { id: 3, amount: 7 }).await.unwrap_err();
    assert!(matches!(&error, ExecuteError::Rejected { source, .. } if source.balance == 6), "{error:?}");
    assert_eq!(store.read_stream("Wallet-3", 1, 10).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_stream_created_by_another_writer_is_found() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let app = App::builder().shared_store(store.clone()).build().await.unwrap();
    // Rejected on an empty stream: nothing about it is cached.
    let error = app.execute(Withdraw { id: 9, amount: 1 }).await.unwrap_err();
    assert!(matches!(error, ExecuteError::Rejected { .. }), "{error:?}");
    store.append("Wallet-9", ExpectedVersion::NoStream, vec![deposited(5)]).await.unwrap();
    // `expect = existing`: "not found" is never answered from what the app saw before.
    let committed = app.execute(Spend { id: 9, amount: 5 }).await.unwrap();
    assert_eq!((committed.version, committed.state.balance), (2, 0));
}
