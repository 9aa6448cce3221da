//! The App engine and the memory store: version checks, retries, idempotency, and typed
//! errors for bad stored data.

use std::sync::atomic::{AtomicU32, Ordering};

use eventsmith::prelude::*;
use eventsmith::store::{AppendOutcome, BoxFuture, EventStore, ExpectedVersion, NewEvent, StoreError, StoredEvent};
use eventsmith::{DecodeError, EncodeError, Error, ExecuteError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Added {
    pub amount: u32,
}

/// Serializes to a JSON number, which is not a valid payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bare(pub u32);

#[derive(Event, Debug, Clone, PartialEq)]
pub enum CounterEvent {
    Added(Added),
    #[event(version = 3)]
    Bare(Bare),
    Reset,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Counter)]
pub struct Add {
    #[command(id)]
    pub id: u32,
    pub amount: u32,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Counter)]
pub struct AddBare {
    #[command(id)]
    pub id: u32,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Counter)]
pub struct Nothing {
    #[command(id)]
    pub id: u32,
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default)]
pub struct Counter {
    total: u32,
}

#[aggregate(event = CounterEvent, error = Never, ignore(Bare))]
impl Counter {
    #[command]
    fn add(&self, command: &Add) -> Result<Added, Never> {
        Ok(Added { amount: command.amount })
    }

    #[command]
    fn add_bare(&self, _: &AddBare) -> Result<Bare, Never> {
        Ok(Bare(1))
    }

    #[command]
    fn nothing(&self, _: &Nothing) -> Result<Option<Added>, Never> {
        Ok(None)
    }

    #[apply]
    fn added(&mut self, event: &Added) {
        self.total += event.amount;
    }

    #[apply(CounterEvent::Reset)]
    fn reset(&mut self) {
        self.total = 0;
    }
}

use eventsmith::testkit::event as raw;

#[tokio::test]
async fn expected_versions_are_enforced() {
    let store = MemoryStore::new();
    let conflict = |result: Result<AppendOutcome, StoreError>| matches!(result, Err(StoreError::Conflict { .. }));
    assert!(conflict(store.append("s", ExpectedVersion::StreamExists, vec![raw("Added", "{}")]).await));
    assert!(conflict(store.append("s", ExpectedVersion::Exact(1), vec![raw("Added", "{}")]).await));
    store.append("s", ExpectedVersion::NoStream, vec![raw("Added", "{}")]).await.unwrap();
    assert!(conflict(store.append("s", ExpectedVersion::NoStream, vec![raw("Added", "{}")]).await));
    assert!(conflict(store.append("s", ExpectedVersion::Exact(0), vec![raw("Added", "{}")]).await));
    store.append("s", ExpectedVersion::StreamExists, vec![raw("Added", "{}")]).await.unwrap();
    store.append("s", ExpectedVersion::Exact(2), vec![raw("Added", "{}")]).await.unwrap();
    let outcome = store.append("s", ExpectedVersion::Any, vec![raw("Added", "{}"), raw("Added", "{}")]).await.unwrap();
    assert_eq!((outcome.first_version, outcome.last_version()), (4, 5));
    let Err(StoreError::Conflict { actual, .. }) =
        store.append("s", ExpectedVersion::Exact(3), vec![raw("Added", "{}")]).await
    else {
        panic!("expected a conflict");
    };
    assert_eq!(actual, 5);
    assert!(matches!(store.append("s", ExpectedVersion::Any, vec![]).await, Err(StoreError::EmptyAppend { .. })));
}

#[tokio::test]
async fn a_retried_append_is_acknowledged_once_and_a_partial_one_is_refused() {
    let store = MemoryStore::new();
    let batch = vec![raw("Added", "{}"), raw("Added", "{}")];
    let first = store.append("s", ExpectedVersion::NoStream, batch.clone()).await.unwrap();
    let again = store.append("s", ExpectedVersion::NoStream, batch.clone()).await.unwrap();
    assert!(again.already_stored && !first.already_stored);
    assert_eq!((again.first_version, &again.positions), (first.first_version, &first.positions));
    assert_eq!(store.read_stream("s", 1, 10).await.unwrap().len(), 2);

    let partial = vec![batch[1].clone(), raw("Added", "{}")];
    let result = store.append("s", ExpectedVersion::Any, partial).await;
    assert!(
        matches!(result, Err(StoreError::DuplicateEvent { event_id, .. }) if event_id == batch[1].id),
        "{result:?}"
    );
    let elsewhere = store.append("other", ExpectedVersion::Any, batch.clone()).await;
    assert!(matches!(elsewhere, Err(StoreError::DuplicateEvent { .. })), "{elsewhere:?}");
    assert_eq!(store.read_all(1, 10, &[]).await.unwrap().len(), 2);
}

#[tokio::test]
async fn reads_start_in_the_middle_and_filter_by_type() {
    let store = MemoryStore::new();
    store.append("a", ExpectedVersion::Any, vec![raw("Added", "{}"), raw("Reset", "{}")]).await.unwrap();
    store.append("b", ExpectedVersion::Any, vec![raw("Added", "{}")]).await.unwrap();
    let tail: Vec<u64> = store.read_stream("a", 2, 10).await.unwrap().iter().map(|e| e.stream_version).collect();
    assert_eq!(tail, [2]);
    let all: Vec<u64> = store.read_all(2, 10, &[]).await.unwrap().iter().map(|e| e.position).collect();
    assert_eq!(all, [2, 3]);
    let added: Vec<(String, u64)> =
        store.read_all(1, 10, &["Added"]).await.unwrap().into_iter().map(|e| (e.stream_id, e.position)).collect();
    assert_eq!(added, [("a".to_owned(), 1), ("b".to_owned(), 3)]);
    assert_eq!(store.read_all(1, 1, &["Added"]).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_command_that_produces_nothing_appends_nothing() {
    let app = App::builder().store(MemoryStore::new()).build().await.unwrap();
    let committed = app.execute(Nothing { id: 1 }).await.unwrap();
    assert!(committed.events.is_empty());
    assert_eq!(committed.version, 0);
    assert!(app.store().read_all(1, 10, &[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn committed_events_carry_their_envelope() {
    let app = App::builder().store(MemoryStore::new()).build().await.unwrap();
    app.execute(Add { id: 1, amount: 2 }).await.unwrap();
    let committed = app.execute(Add { id: 1, amount: 3 }).await.unwrap();
    let recorded = &committed.events[0];
    assert_eq!((recorded.stream_id.as_str(), recorded.stream_version, recorded.position), ("Counter-1", 2, 2));
    assert_eq!(recorded.id.get_version_num(), 7);
    assert!(recorded.metadata.correlation_id.is_some());
    assert_eq!(committed.state.total, 5);
    let stored = app.read_stream::<Counter>(1).await.unwrap();
    assert_eq!(stored[1], *recorded);
}

#[tokio::test]
async fn an_event_that_is_not_a_json_object_is_refused_before_writing() {
    let app = App::builder().store(MemoryStore::new()).build().await.unwrap();
    let error = app.execute(AddBare { id: 1 }).await.unwrap_err();
    assert!(matches!(&error, ExecuteError::Encode(EncodeError::NotAnObject { event_type: "Bare", .. })), "{error:?}");
    assert!(app.store().read_all(1, 10, &[]).await.unwrap().is_empty());
}

async fn load_error(event_type: &str, version: u32, payload: &str) -> Error {
    let store = MemoryStore::new();
    let mut event = raw(event_type, payload);
    event.event_version = version;
    store.append("Counter-1", ExpectedVersion::Any, vec![raw("Added", r#"{"amount":1}"#), event]).await.unwrap();
    let app = App::builder().store(store).build().await.unwrap();
    app.load::<Counter>(1).await.unwrap_err()
}

#[tokio::test]
async fn bad_stored_events_are_typed_errors_naming_where_they_are() {
    let Error::Corrupt(corrupt) = load_error("Removed", 1, "{}").await else { panic!("not a corrupt-event error") };
    assert_eq!((corrupt.stream_id.as_str(), corrupt.stream_version, corrupt.position), ("Counter-1", 2, 2));
    assert!(matches!(&corrupt.source, DecodeError::UnknownType { event_type, .. } if event_type == "Removed"));
    assert!(corrupt.to_string().contains("`Removed`"), "{corrupt}");

    let Error::Corrupt(corrupt) = load_error("Added", 2, "{}").await else { panic!("not a corrupt-event error") };
    assert!(matches!(corrupt.source, DecodeError::UnknownVersion { version: 2, newest: 1, .. }), "{corrupt}");

    let Error::Corrupt(corrupt) = load_error("Added", 1, r#"{"amount":"x"}"#).await else { panic!("not corrupt") };
    assert!(matches!(corrupt.source, DecodeError::Payload { version: 1, .. }), "{corrupt}");

    let Error::Corrupt(corrupt) = load_error("Reset", 1, "[]").await else { panic!("not corrupt") };
    assert!(matches!(corrupt.source, DecodeError::Payload { .. }), "{corrupt}");
}

#[tokio::test]
async fn a_corrupt_stream_fails_the_command_and_writes_nothing() {
    let store = MemoryStore::new();
    store.append("Counter-1", ExpectedVersion::Any, vec![raw("Added", "not json")]).await.unwrap();
    let app = App::builder().store(store).build().await.unwrap();
    let error = app.execute(Add { id: 1, amount: 1 }).await.unwrap_err();
    assert!(matches!(&error, ExecuteError::Corrupt(corrupt) if corrupt.stream_version == 1), "{error:?}");
    assert_eq!(app.store().read_all(1, 10, &[]).await.unwrap().len(), 1);
}

/// A store that lets another writer win the stream on each of the first `races` appends.
struct Contended {
    inner: MemoryStore,
    races: AtomicU32,
}

impl EventStore for Contended {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        Box::pin(async move {
            if self.races.load(Ordering::SeqCst) > 0 {
                self.races.fetch_sub(1, Ordering::SeqCst);
                self.inner.append(stream_id, ExpectedVersion::Any, vec![raw("Added", r#"{"amount":100}"#)]).await?;
            }
            self.inner.append(stream_id, expected, events).await
        })
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from: u64,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(async move { self.inner.read_stream(stream_id, from, max).await })
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

#[tokio::test]
async fn conflicts_are_retried_on_fresh_state() {
    let store = Contended { inner: MemoryStore::new(), races: AtomicU32::new(2) };
    let app = App::builder().store(store).max_retries(2).build().await.unwrap();
    let committed = app.execute(Add { id: 1, amount: 1 }).await.unwrap();
    assert_eq!(committed.version, 3);
    assert_eq!(committed.state.total, 201);
}

#[tokio::test]
async fn conflicts_past_the_retries_are_an_error_and_lose_nothing() {
    let store = Contended { inner: MemoryStore::new(), races: AtomicU32::new(3) };
    let app = App::builder().store(store).max_retries(2).build().await.unwrap();
    let error = app.execute(Add { id: 1, amount: 1 }).await.unwrap_err();
    let ExecuteError::Conflict { attempts, expected, actual, .. } = error else { panic!("{error:?}") };
    assert_eq!((attempts, expected, actual), (3, ExpectedVersion::Exact(2), 3));
    assert_eq!(app.load::<Counter>(1).await.unwrap().state.total, 300);
}

#[tokio::test]
async fn building_without_a_store_is_a_configuration_error() {
    let error = App::builder().build().await.unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
}

#[tokio::test]
async fn two_aggregates_with_one_name_are_refused() {
    #[derive(Debug, Default)]
    struct Impostor;
    #[aggregate(event = CounterEvent, error = Never, name = "Counter", ignore(Added, Bare, CounterEvent::Reset))]
    impl Impostor {}

    let error = App::builder().store(MemoryStore::new()).aggregate::<Counter>().aggregate::<Impostor>().build().await;
    assert!(matches!(error, Err(Error::Config(message)) if message.contains("`Counter`")));
}
