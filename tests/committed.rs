//! A projection of the process that committed takes the committed events as they are,
//! without reading the log, when it had applied every event before them; otherwise it reads
//! the log. Either way it must end exactly where a rebuild from the log ends: the same
//! events, once each, in order, with the envelope a read returns (positions, versions, commit
//! time, metadata). Run on every store: a store whose append outcome disagrees with what it
//! stores would show here.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use eventsmith::prelude::*;
use eventsmith::store::{
    AppendOutcome, BoxFuture, Capabilities, FoldedLog, LogFold, NewEvent, StoreError, StoredEvent,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Noted {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Other {
    pub n: u32,
}

#[derive(Event, Debug, Clone, PartialEq)]
#[event(namespace = "committed")]
pub enum NoteEvent {
    Noted(Noted),
    Other(Other),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Notebook)]
pub struct Note {
    #[command(id)]
    pub id: String,
    pub texts: Vec<String>,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Notebook)]
pub struct Bump {
    #[command(id)]
    pub id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default)]
pub struct Notebook;

#[aggregate(event = NoteEvent, error = Never, ignore(Noted, Other))]
impl Notebook {
    #[command]
    fn note(&self, command: &Note) -> Result<Vec<Noted>, Never> {
        Ok(command.texts.iter().map(|text| Noted { text: text.clone() }).collect())
    }

    #[command]
    fn bump(&self, _: &Bump) -> Result<Other, Never> {
        Ok(Other { n: 1 })
    }
}

/// What a projection saw of one event: its whole envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub id: uuid::Uuid,
    pub stream_id: String,
    pub stream_version: u64,
    pub position: u64,
    pub recorded_at: SystemTime,
    pub correlation: Option<uuid::Uuid>,
    pub text: String,
}

/// Every `Noted` event, as seen (it does not consume `Other`, so its checkpoint lags the log).
#[derive(Debug, Default)]
pub struct Envelopes {
    seen: Vec<Seen>,
}

#[derive(Debug)]
pub struct AllSeen;

#[projection(name = "envelopes", events = NoteEvent)]
impl Envelopes {
    #[apply]
    fn noted(&mut self, event: &Recorded<Noted>) {
        self.seen.push(Seen {
            id: event.id,
            stream_id: event.stream_id.clone(),
            stream_version: event.stream_version,
            position: event.position,
            recorded_at: event.recorded_at,
            correlation: event.metadata.correlation_id,
            text: event.text.clone(),
        });
    }

    #[query]
    fn all(&self, _: AllSeen) -> Vec<Seen> {
        self.seen.clone()
    }
}

/// A store, counting the reads of the global log.
struct Counting {
    inner: Arc<dyn EventStore>,
    log_reads: AtomicU32,
}

impl EventStore for Counting {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        self.inner.append(stream_id, expected, events)
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from: u64,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        self.inner.read_stream(stream_id, from, max)
    }

    fn read_all<'a>(
        &'a self,
        from: u64,
        max: usize,
        types: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        self.log_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read_all(from, max, types)
    }

    fn head(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.inner.head()
    }

    fn fold_log<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
        fold: Box<dyn LogFold>,
    ) -> BoxFuture<'a, Result<FoldedLog, StoreError>> {
        // The store's own fold, as the app uses it.
        self.log_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.fold_log(from_position, max_count, types, fold)
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn follows_directly(&self, last: u64, first: u64) -> bool {
        self.inner.follows_directly(last, first)
    }
}

fn note(id: &str, texts: &[&str]) -> Note {
    Note { id: id.to_owned(), texts: texts.iter().map(|text| (*text).to_owned()).collect() }
}

/// Commands in one process, another writer between them, and commands run at once: the
/// projection's read model equals a rebuild's, and the commands that directly followed the
/// one before read nothing (with dense positions, not even the first; NATS, whose positions
/// number messages and the events in each, reads the log once to learn where it is).
async fn committed_events_are_applied_as_the_log_holds_them(inner: Arc<dyn EventStore>, dense_positions: bool) {
    let store = Arc::new(Counting { inner: Arc::clone(&inner), log_reads: AtomicU32::new(0) });
    let app = App::builder().shared_store(store.clone()).projection::<Envelopes>().build().await.unwrap();
    let started = SystemTime::now();
    // Building the app catches the projection up: one read of the (empty) log.
    let at_build = store.log_reads.load(Ordering::SeqCst);

    // One process alone: a command of one event, of two, and of a type it does not consume.
    app.execute(note("a", &["one"])).await.unwrap();
    let after_first = store.log_reads.load(Ordering::SeqCst);
    app.execute(note("a", &["two", "three"])).await.unwrap();
    app.execute(Bump { id: "a".into() }).await.unwrap();
    app.execute(note("b", &["four"])).await.unwrap();
    let reads_alone = store.log_reads.load(Ordering::SeqCst);
    assert_eq!(reads_alone, after_first, "commands that directly follow the one before need no log read");
    if dense_positions {
        assert_eq!(after_first, at_build, "with dense positions, neither does the first");
    }
    let seen = app.query(AllSeen).await.unwrap();
    assert_eq!(seen.iter().map(|seen| seen.text.as_str()).collect::<Vec<_>>(), ["one", "two", "three", "four"]);
    // Stores keep microseconds: a commit time read back may be up to 1 µs before `started`.
    let earliest = started - std::time::Duration::from_micros(1);
    assert!(seen.iter().all(|seen| seen.recorded_at >= earliest));

    // Another writer appends between two commands: the next command reads it from the log.
    let between = NoteEvent::Noted(Noted { text: "from elsewhere".into() });
    inner.append("Notebook-c", ExpectedVersion::Any, vec![NewEvent::encode(&between).unwrap()]).await.unwrap();
    app.execute(note("a", &["five"])).await.unwrap();
    assert!(store.log_reads.load(Ordering::SeqCst) > reads_alone, "the event between was read");
    app.execute(note("a", &["six"])).await.unwrap();

    // Commands at once, on several streams, with another writer appending meanwhile and the
    // follower catching the projection up from the log at the same time.
    let follower = tokio::spawn({
        let app = app.clone();
        async move { app.follow_log(std::time::Duration::from_millis(1)).await }
    });
    let elsewhere = tokio::spawn({
        let inner = Arc::clone(&inner);
        async move {
            for n in 0..10 {
                let event = NoteEvent::Noted(Noted { text: format!("elsewhere {n}") });
                inner
                    .append("Notebook-e", ExpectedVersion::Any, vec![NewEvent::encode(&event).unwrap()])
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
            }
        }
    });
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let app = app.clone();
            tokio::spawn(async move {
                for round in 0..5 {
                    app.execute(note(&format!("p{n}"), &[&format!("{n}.{round}")])).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    elsewhere.await.unwrap();
    follower.abort();
    // The other writer's last events may have come after the last command.
    app.execute(note("a", &["last"])).await.unwrap();

    let live = app.query(AllSeen).await.unwrap();
    assert_eq!(live.len(), 4 + 1 + 2 + 10 + 40 + 1);
    assert!(live.windows(2).all(|pair| pair[0].position < pair[1].position), "in log order, each once");
    app.rebuild::<Envelopes>().await.unwrap();
    let rebuilt = app.query(AllSeen).await.unwrap();
    assert_eq!(live, rebuilt, "what the live projection saw differs from what the log holds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory() {
    committed_events_are_applied_as_the_log_holds_them(Arc::new(MemoryStore::new()), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let store = eventsmith::SqliteStore::open(support::temp_db("committed")).await.unwrap();
    committed_events_are_applied_as_the_log_holds_them(Arc::new(store), true).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    committed_events_are_applied_as_the_log_holds_them(Arc::new(support::postgres::fresh_store().await), true).await;
}

#[cfg(feature = "nats")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats() {
    committed_events_are_applied_as_the_log_holds_them(Arc::new(support::nats::fresh_store().await), false).await;
}
