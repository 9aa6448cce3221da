//! An append whose outcome is unknown (the store failed after it may have committed) is sent
//! again with the same event ids: a command is committed once, never twice, and when the
//! store keeps failing the command says that its outcome is unknown, with the ids to look up.

use std::sync::Mutex;

use eventsmith::ExecuteError;
use eventsmith::prelude::*;
use eventsmith::store::{AppendOutcome, BoxFuture, MemoryStore, NewEvent, StoreError, StoredEvent};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deposited {
    pub cents: u64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum AccountEvent {
    Deposited(Deposited),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Account)]
pub struct Deposit {
    #[command(id)]
    pub account: u32,
    pub cents: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default, Clone)]
pub struct Account {
    balance: u64,
}

#[aggregate(event = AccountEvent, error = Never)]
impl Account {
    #[command]
    fn deposit(&self, command: &Deposit) -> Result<Deposited, Never> {
        Ok(Deposited { cents: command.cents })
    }

    #[apply]
    fn deposited(&mut self, event: &Deposited) {
        self.balance += event.cents;
    }
}

/// How the store fails its next appends.
#[derive(Clone, Copy)]
enum Failure {
    /// Commits the append, then reports a lost connection (the reply never arrived).
    AfterCommit,
    /// Reports a lost connection without committing (the request never arrived).
    BeforeCommit,
}

/// The memory store, failing its next appends as told.
struct Flaky {
    inner: MemoryStore,
    failures: Mutex<Vec<Failure>>,
    appends: Mutex<Vec<Vec<uuid::Uuid>>>,
}

impl Flaky {
    fn new(failures: Vec<Failure>) -> Self {
        Flaky { inner: MemoryStore::new(), failures: Mutex::new(failures), appends: Mutex::new(Vec::new()) }
    }
}

fn connection_lost() -> StoreError {
    StoreError::backend("append", true, "connection reset by peer")
}

impl EventStore for Flaky {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        self.appends.lock().unwrap().push(events.iter().map(|event| event.id).collect());
        let failure = self.failures.lock().unwrap().pop();
        Box::pin(async move {
            match failure {
                Some(Failure::BeforeCommit) => Err(connection_lost()),
                Some(Failure::AfterCommit) => {
                    self.inner.append(stream_id, expected, events).await?;
                    Err(connection_lost())
                }
                None => self.inner.append(stream_id, expected, events).await,
            }
        })
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        max_count: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        self.inner.read_stream(stream_id, from_version, max_count)
    }

    fn read_all<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        self.inner.read_all(from_position, max_count, types)
    }
}

async fn app_on(store: &std::sync::Arc<Flaky>) -> App {
    App::builder().shared_store(store.clone()).aggregate::<Account>().build().await.unwrap()
}

#[tokio::test]
async fn a_commit_whose_reply_was_lost_is_acknowledged_not_doubled() {
    let store = std::sync::Arc::new(Flaky::new(vec![Failure::AfterCommit, Failure::AfterCommit]));
    let app = app_on(&store).await;
    let committed = app.execute(Deposit { account: 1, cents: 5 }).await.expect("committed once, acknowledged");
    assert_eq!(committed.version, 1);
    let stored = store.inner.read_stream("Account-1", 1, 100).await.unwrap();
    assert_eq!(stored.len(), 1, "the deposit is stored once");
    assert_eq!(stored[0].id, committed.events[0].id);
    let appends = store.appends.lock().unwrap().clone();
    assert_eq!(appends.len(), 3, "sent three times: twice failing, once acknowledged");
    assert!(appends.iter().all(|ids| *ids == appends[0]), "every attempt carried the same event ids");
}

#[tokio::test]
async fn an_append_that_never_arrived_is_committed_by_the_next_attempt() {
    let store = std::sync::Arc::new(Flaky::new(vec![Failure::BeforeCommit]));
    let app = app_on(&store).await;
    app.execute(Deposit { account: 1, cents: 5 }).await.expect("committed by the second attempt");
    assert_eq!(store.inner.read_stream("Account-1", 1, 100).await.unwrap().len(), 1);
    assert_eq!(app.load::<Account>(1).await.unwrap().state.balance, 5);
}

#[tokio::test]
async fn a_store_that_keeps_failing_leaves_the_outcome_unknown_with_the_ids() {
    let store = std::sync::Arc::new(Flaky::new(vec![Failure::BeforeCommit; 20]));
    let app = app_on(&store).await;
    let error = app.execute(Deposit { account: 1, cents: 5 }).await.expect_err("the store never took it");
    let ExecuteError::OutcomeUnknown { stream_id, event_ids, attempts, .. } = error else {
        panic!("expected an unknown outcome, got {error:?}");
    };
    assert_eq!(stream_id, "Account-1");
    assert_eq!(attempts, 6);
    assert_eq!(event_ids, store.appends.lock().unwrap()[0], "the error names the ids that were sent");
    assert!(store.inner.read_stream("Account-1", 1, 100).await.unwrap().is_empty());
}
