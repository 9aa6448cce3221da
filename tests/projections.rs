//! Projections over the memory store: catch-up, live updates, checkpoints with saved state,
//! stopping on a bad event, rebuilds, multi-enum read models and the background follower.

use std::sync::Arc;
use std::time::Duration;

use eventsmith::prelude::*;
use eventsmith::store::{AppendOutcome, BoxFuture, Checkpoint, NewEvent, StoreError, StoredEvent};
use eventsmith::{ApplyError, DecodeError, Error};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Added {
    pub amount: i64,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Noted {
    pub text: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum CounterEvent {
    Added(Added),
    Noted(Noted),
    Cleared,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paid {
    pub cents: i64,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refunded {
    pub cents: i64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum PaymentEvent {
    Paid(Paid),
    Refunded(Refunded),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Counter)]
pub struct Add {
    #[command(id)]
    pub id: u32,
    pub amount: i64,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Payments)]
pub struct Pay {
    #[command(id)]
    pub id: u32,
    pub cents: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default)]
pub struct Counter;

#[aggregate(event = CounterEvent, error = Never, ignore(Added, Noted, CounterEvent::Cleared))]
impl Counter {
    #[command]
    fn add(&self, command: &Add) -> Result<Added, Never> {
        Ok(Added { amount: command.amount })
    }
}

#[derive(Debug, Default)]
pub struct Payments;

#[aggregate(event = PaymentEvent, error = Never, ignore(Paid, Refunded))]
impl Payments {
    #[command]
    fn pay(&self, command: &Pay) -> Result<Paid, Never> {
        Ok(Paid { cents: command.cents })
    }
}

/// Consumes some events of each of two enums; persists its state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    total: i64,
    paid: i64,
    clears: u32,
    /// Events applied by this process, not saved: shows whether a restart replayed.
    #[serde(skip)]
    applied_here: u64,
}

#[derive(Debug)]
pub struct Totals;

#[derive(Debug)]
pub struct AppliedHere;

#[projection(name = "ledger", events(CounterEvent, PaymentEvent), persist)]
impl Ledger {
    #[apply]
    fn added(&mut self, event: &Recorded<Added>) {
        self.total += event.amount;
        self.applied_here += 1;
    }

    #[apply]
    fn paid(&mut self, event: &Recorded<Paid>) {
        self.paid += event.cents;
        self.applied_here += 1;
    }

    #[apply(CounterEvent::Cleared)]
    fn cleared(&mut self, _: &Recorded<()>) {
        self.total = 0;
        self.clears += 1;
        self.applied_here += 1;
    }

    #[query]
    fn totals(&self, _: Totals) -> (i64, i64, u32) {
        (self.total, self.paid, self.clears)
    }

    #[query]
    fn applied(&self, _: &AppliedHere) -> u64 {
        self.applied_here
    }
}

/// Refuses negative amounts with an error and panics on 666: to test stopping.
#[derive(Debug, Default)]
pub struct Picky {
    seen: Vec<i64>,
}

#[derive(Debug)]
pub struct Seen;

#[projection(name = "picky", events = CounterEvent)]
impl Picky {
    #[apply]
    fn added(&mut self, event: &Recorded<Added>) -> Result<(), String> {
        assert!(event.amount != 666, "the number of the beast");
        if event.amount < 0 {
            return Err(format!("negative amount {}", event.amount));
        }
        self.seen.push(event.amount);
        Ok(())
    }

    #[query]
    fn seen(&self, _: Seen) -> Vec<i64> {
        self.seen.clone()
    }
}

fn shared() -> Arc<dyn EventStore> {
    Arc::new(MemoryStore::new())
}

async fn app(store: &Arc<dyn EventStore>) -> App {
    App::builder().shared_store(Arc::clone(store)).projection::<Ledger>().projection::<Picky>().build().await.unwrap()
}

use eventsmith::testkit::event as raw;

#[test]
fn a_projection_lists_only_the_types_it_consumes() {
    assert_eq!(<Ledger as Projection>::event_types(), ["Added", "Paid", "Cleared"]);
    assert_eq!(<Picky as Projection>::event_types(), ["Added"]);
}

#[tokio::test]
async fn queries_see_every_executed_command() {
    let app = app(&shared()).await;
    app.execute(Add { id: 1, amount: 5 }).await.unwrap();
    app.execute(Pay { id: 9, cents: 250 }).await.unwrap();
    app.execute(Add { id: 2, amount: 7 }).await.unwrap();
    assert_eq!(app.query(Totals).await.unwrap(), (12, 250, 0));
    assert_eq!(app.query(Seen).await.unwrap(), [5, 7]);
    assert_eq!(app.checkpoint::<Ledger>().unwrap(), 3);
    assert_eq!(app.checkpoint::<Picky>().unwrap(), 3);
}

#[tokio::test]
async fn a_restart_resumes_from_the_saved_state_instead_of_replaying() {
    let store = shared();
    {
        let app = app(&store).await;
        for amount in 1..=3 {
            app.execute(Add { id: 1, amount }).await.unwrap();
        }
        store.append("Counter-1", ExpectedVersion::Any, vec![raw("Cleared", "{}")]).await.unwrap();
    }
    store.append("Counter-1", ExpectedVersion::Any, vec![raw("Added", r#"{"amount":10}"#)]).await.unwrap();
    let app = app(&store).await;
    // Saved at position 3; the two events after it are the only ones applied on restart.
    assert_eq!(app.query(AppliedHere).await.unwrap(), 2);
    assert_eq!(app.query(Totals).await.unwrap(), (10, 0, 1));
    let saved = store.load_checkpoint("ledger").await.unwrap().unwrap();
    assert_eq!(saved.position, 5);
    assert!(saved.state.is_some());
    // A projection that does not persist replays from zero and saves nothing.
    assert_eq!(app.query(Seen).await.unwrap(), [1, 2, 3, 10]);
    assert_eq!(store.load_checkpoint("picky").await.unwrap(), None);
}

#[tokio::test]
async fn a_failing_apply_stops_only_its_projection_and_keeps_its_checkpoint() {
    let app = app(&shared()).await;
    app.execute(Add { id: 1, amount: 1 }).await.unwrap();
    let committed = app.execute(Add { id: 1, amount: -4 }).await.unwrap();
    assert_eq!(committed.version, 2, "the command is committed whatever a projection does");
    app.execute(Add { id: 1, amount: 2 }).await.unwrap();

    let Err(Error::ProjectionStopped(stopped)) = app.query(Seen).await else { panic!("the projection should stop") };
    assert_eq!(stopped.projection, "picky");
    let ApplyError::Failed { event_type, stream_id, position, message } = &stopped.source else { panic!("{stopped}") };
    assert_eq!((*event_type, stream_id.as_str(), *position), ("Added", "Counter-1", 2));
    assert_eq!(message, "negative amount -4");
    assert_eq!(app.checkpoint::<Picky>().unwrap(), 1);
    // The other projection went on.
    assert_eq!(app.query(Totals).await.unwrap(), (-1, 0, 0));
    assert_eq!(app.checkpoint::<Ledger>().unwrap(), 3);
}

#[tokio::test]
async fn a_panicking_apply_stops_its_projection_with_the_panic_message() {
    let app = app(&shared()).await;
    app.execute(Add { id: 1, amount: 666 }).await.unwrap();
    let Err(Error::ProjectionStopped(stopped)) = app.query(Seen).await else { panic!("the projection should stop") };
    assert!(
        matches!(&stopped.source, ApplyError::Panicked { position: 1, message, .. } if message == "the number of the beast")
    );
    assert_eq!(app.checkpoint::<Picky>().unwrap(), 0);
    assert_eq!(app.query(Totals).await.unwrap(), (666, 0, 0));
}

#[tokio::test]
async fn an_event_that_does_not_decode_stops_the_projection_naming_it() {
    let store = shared();
    store.append("Counter-3", ExpectedVersion::Any, vec![raw("Added", r#"{"amount":1}"#)]).await.unwrap();
    store.append("Counter-3", ExpectedVersion::Any, vec![raw("Added", r#"{"amount":"one"}"#)]).await.unwrap();
    let app = app(&store).await;
    let Err(Error::ProjectionStopped(stopped)) = app.query(Totals).await else { panic!("the projection should stop") };
    let ApplyError::Corrupt(corrupt) = &stopped.source else { panic!("{stopped}") };
    assert_eq!((corrupt.stream_id.as_str(), corrupt.stream_version, corrupt.position), ("Counter-3", 2, 2));
    assert!(matches!(corrupt.source, DecodeError::Payload { .. }));
    assert_eq!(app.checkpoint::<Ledger>().unwrap(), 1);
    assert!(stopped.to_string().contains("`ledger`"), "{stopped}");
}

#[tokio::test]
async fn a_checkpoint_past_the_end_of_the_log_is_refused() {
    let store = shared();
    store.append("Counter-1", ExpectedVersion::Any, vec![raw("Added", r#"{"amount":1}"#)]).await.unwrap();
    store.save_checkpoint("ledger", Checkpoint { position: 7, state: Some(b"{}".to_vec()) }).await.unwrap();
    let error = App::builder().shared_store(store).projection::<Ledger>().build().await.unwrap_err();
    assert!(matches!(error, Error::CheckpointAhead { projection: "ledger", checkpoint: 7 }), "{error:?}");
}

#[tokio::test]
async fn a_rebuild_replays_the_whole_log_into_a_fresh_model() {
    let app = app(&shared()).await;
    for amount in [3, 4] {
        app.execute(Add { id: 1, amount }).await.unwrap();
    }
    assert_eq!(app.rebuild::<Ledger>().await.unwrap(), 2);
    assert_eq!(app.query(Totals).await.unwrap(), (7, 0, 0));
    assert_eq!(app.query(AppliedHere).await.unwrap(), 2, "a fresh model, not the old one again");
}

#[tokio::test]
async fn catch_up_reads_the_log_in_batches() {
    let store = shared();
    for chunk in 0..5 {
        let events = (0..1000).map(|i| raw("Added", &format!(r#"{{"amount":{}}}"#, 1000 + chunk * 1000 + i))).collect();
        store.append(&format!("Counter-{chunk}"), ExpectedVersion::NoStream, events).await.unwrap();
    }
    let app = app(&store).await;
    assert_eq!(app.query(Totals).await.unwrap().0, (1000..6000).sum::<i64>());
    assert_eq!(app.query(Seen).await.unwrap().len(), 5000);
    assert_eq!(app.checkpoint::<Ledger>().unwrap(), 5000);
}

#[tokio::test]
async fn the_follower_applies_events_written_by_another_process() {
    let store = shared();
    let reader = app(&store).await;
    let follower = tokio::spawn({
        let reader = reader.clone();
        async move { reader.follow_log(Duration::from_millis(50)).await }
    });
    let writer = App::builder().shared_store(Arc::clone(&store)).build().await.unwrap();
    writer.execute(Pay { id: 1, cents: 42 }).await.unwrap();
    let mut seen = (0, 0, 0);
    for _ in 0..200 {
        seen = reader.query(Totals).await.unwrap();
        if seen.1 == 42 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    follower.abort();
    assert_eq!(seen, (0, 42, 0));
}

#[tokio::test]
async fn a_query_of_an_unregistered_projection_says_how_to_register_it() {
    let app = App::builder().store(MemoryStore::new()).build().await.unwrap();
    let error = app.query(Totals).await.unwrap_err();
    assert!(matches!(error, Error::ProjectionNotRegistered { projection: "ledger", .. }));
    assert!(error.to_string().contains(".projection::<projections::Ledger>()"), "{error}");
}

#[tokio::test]
async fn a_persisted_projection_needs_a_store_with_checkpoints() {
    struct Plain(MemoryStore);
    impl EventStore for Plain {
        fn append<'a>(
            &'a self,
            stream_id: &'a str,
            expected: ExpectedVersion,
            events: Vec<NewEvent>,
        ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
            self.0.append(stream_id, expected, events)
        }

        fn read_stream<'a>(
            &'a self,
            stream_id: &'a str,
            from: u64,
            max: usize,
        ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
            self.0.read_stream(stream_id, from, max)
        }

        fn read_all<'a>(
            &'a self,
            from: u64,
            max: usize,
            types: &'a [&'a str],
        ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
            self.0.read_all(from, max, types)
        }
    }
    let error = App::builder().store(Plain(MemoryStore::new())).projection::<Ledger>().build().await.unwrap_err();
    assert!(matches!(&error, Error::Config(message) if message.contains("`ledger`")), "{error:?}");
}
