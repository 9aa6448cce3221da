//! One worker per stored projection across processes: the worker that holds the projection's
//! lease in the read-model database runs it, and another takes over when the holder's app is
//! dropped (it gives the lease up) or its process is killed (the lease runs out). In a SQLite
//! file and, with the `postgres` feature, in PostgreSQL.
//!
//! This test binary has no harness: run plainly, it checks the lease contract of each
//! read-model database, then hands a projection over between two apps of this process, then
//! starts itself again as a child that holds the lease, kills it with SIGKILL, and checks that
//! its own worker takes the projection over and that the documents equal a rebuild from zero.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use eventsmith::SqliteStore;
use eventsmith::documents::{DocumentCheckpoint, DocumentStore, Documents, Keyed, Lease};
use eventsmith::prelude::*;
use eventsmith::sql::SqlStore;
use eventsmith::store::{BoxFuture, NewEvent, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counted {
    pub by: u64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum TallyEvent {
    Counted(Counted),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub total: u64,
    pub events: u64,
}

#[projection(name = "tally", events = TallyEvent, documents)]
impl Tally {
    #[apply]
    fn counted(&mut self, event: &Recorded<Counted>) -> Result<(), String> {
        if event.by == UNLUCKY {
            return Err(format!("a count of {UNLUCKY} is refused"));
        }
        self.total += event.by;
        self.events += 1;
        Ok(())
    }
}

const CHILD: &str = "EVENTSMITH_LEASES_CHILD";
/// A count the projection stops on.
const UNLUCKY: u64 = 13;
/// The lease where a lease must not run out while its holder lives (a slow machine may pause
/// a process for a while), and where it runs out after a kill.
const LEASE: Duration = Duration::from_secs(5);
const SHORT_LEASE: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(20);
/// Longer than any wait the test expects: a lease and a few polls.
const PATIENCE: Duration = Duration::from_secs(20);

/// The read-model database at `place` (`sqlite:<path>` or `postgres:<schema>`), as the
/// document store and the SQL store it is.
async fn open(place: &str) -> (Arc<dyn DocumentStore>, Arc<dyn SqlStore>) {
    support::read_models(place).await
}

/// An app over the events at `events` whose worker, named `name`, runs the projection in
/// `models` under leases of `lease`.
async fn app_on(events: &str, models: Arc<dyn DocumentStore>, name: &str, lease: Duration) -> App {
    App::builder()
        .store(SqliteStore::open(events).await.expect("open the events"))
        .shared_documents(models)
        .document_projection::<Tally>()
        .projection_workers(POLL)
        .worker_name(name)
        .worker_lease(lease)
        .build()
        .await
        .expect("build the app")
}

async fn app(events: &str, place: &str, name: &str, lease: Duration) -> App {
    app_on(events, open(place).await.0, name, lease).await
}

async fn worker(app: &App) -> Option<Lease> {
    let statuses = app.projections().await.expect("the projections");
    statuses.into_iter().find(|status| status.name == "tally").expect("tally is registered").worker
}

/// Waits until `app` shows the lease held by `holder`.
async fn until_held_by(app: &App, holder: &str) -> Lease {
    let started = Instant::now();
    loop {
        let lease = worker(app).await;
        if let Some(lease) = lease.as_ref().filter(|lease| lease.held_by(holder)) {
            return lease.clone();
        }
        assert!(started.elapsed() < PATIENCE, "the lease is not {holder}'s after {PATIENCE:?}: {lease:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Appends `count` events of `by` each on streams of their own; returns the log's head.
async fn count(app: &App, first: u64, count: u64, by: u64) -> u64 {
    for stream in first..first + count {
        let event = NewEvent::encode(&TallyEvent::Counted(Counted { by })).unwrap();
        app.store().append(&format!("Tally-{stream}"), ExpectedVersion::NoStream, vec![event]).await.expect("append");
    }
    app.store().head().await.unwrap()
}

async fn documents(app: &App) -> Vec<(String, Tally)> {
    let documents: Documents<Tally> = app.documents().expect("a document store");
    documents.list(None, 10_000).await.expect("list the documents")
}

/// The contract of a read-model database's leases, through both of its faces.
async fn lease_contract(place: &str) {
    let (models, tables) = open(place).await;
    let ttl = Duration::from_secs(30);
    assert_eq!(models.lease("contract").await.unwrap(), None, "{place}: no lease before a claim");

    let first = models.claim("contract", "a", ttl).await.unwrap();
    assert!(first.held_by("a"), "{place}: a free lease is taken: {first:?}");
    assert!(first.until > first.since, "{place}: {first:?}");
    let refused = tables.claim("contract", "b", ttl).await.unwrap();
    assert_eq!((refused.holder.as_str(), refused.expired), ("a", false), "{place}: b is refused while a holds it");
    assert!(!refused.held_by("b"), "{place}");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let renewed = models.claim("contract", "a", ttl).await.unwrap();
    assert!(renewed.held_by("a") && renewed.since == first.since, "{place}: a renewal keeps `since`: {renewed:?}");
    assert!(renewed.until > first.until, "{place}: a renewal moves `until`: {first:?} then {renewed:?}");

    tables.release("contract", "b").await.unwrap();
    assert_eq!(models.lease("contract").await.unwrap().map(|lease| lease.holder), Some("a".to_owned()), "{place}");
    models.release("contract", "a").await.unwrap();
    assert_eq!(tables.lease("contract").await.unwrap(), None, "{place}: given up");
    assert!(tables.claim("contract", "b", ttl).await.unwrap().held_by("b"), "{place}: b takes a free lease");

    // A lease that ran out is read as such, and taken by the next claim.
    let short = Duration::from_millis(50);
    assert!(models.claim("short", "a", short).await.unwrap().held_by("a"), "{place}");
    tokio::time::sleep(Duration::from_millis(120)).await;
    let expired = models.lease("short").await.unwrap().expect("kept after it ran out");
    assert!(expired.expired && !expired.held_by("a"), "{place}: {expired:?}");
    let taken = tables.claim("short", "b", ttl).await.unwrap();
    assert!(taken.held_by("b") && taken.since > expired.since, "{place}: b takes a lease that ran out: {taken:?}");
    println!("{place}: lease contract ok");
}

/// Three apps in this process: the first holds the lease and applies, the others wait (and
/// commit nothing); when the first shuts down, and then when the second is dropped, the
/// next takes over at once: the lease given up, not waited out.
async fn hand_over(events: &str, place: &str) {
    let first = app(events, place, "first", LEASE).await;
    until_held_by(&first, "first").await;
    let (claims, commits) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let counted = Counting {
        models: open(place).await.0,
        claims: Arc::clone(&claims),
        commits: Arc::clone(&commits),
        slow: Duration::ZERO,
    };
    let second = app_on(events, Arc::new(counted), "second", LEASE).await;
    let head = count(&first, 0, 20, 1).await;
    second.wait_for::<Tally>(head, PATIENCE).await.expect("applied by the first app's worker");
    // The second's worker has woken many times by now (at each poll), and never held it.
    tokio::time::sleep(POLL * 10).await;
    let held = worker(&second).await.expect("a lease");
    assert!(held.held_by("first"), "{place}: the first keeps it: {held:?}");
    assert_eq!(commits.load(Ordering::SeqCst), 0, "{place}: a worker without the lease commits nothing");
    assert_eq!(claims.load(Ordering::SeqCst), 0, "{place}: nor writes the lease while another holds it");

    let started = Instant::now();
    first.shutdown().await;
    let lease = until_held_by(&second, "second").await;
    let took = started.elapsed();
    // Taken before the first's lease would have run out.
    assert!(lease.since < held.until, "{place}: taken at {:?}, after the first's lease ran out", lease.since);
    let head = count(&second, 20, 20, 2).await;
    second.wait_for::<Tally>(head, PATIENCE).await.expect("applied by the second app's worker");
    assert!(commits.load(Ordering::SeqCst) > 0, "{place}: the second commits once it holds the lease");
    println!("{place}: handed over {took:?} after the holder shut down");

    let third = app(events, place, "third", LEASE).await;
    let held = worker(&third).await.expect("a lease");
    assert!(held.held_by("second"), "{place}: {held:?}");
    drop(second);
    let lease = until_held_by(&third, "third").await;
    assert!(lease.since < held.until, "{place}: taken at {:?}, after the second's lease ran out", lease.since);
    let head = count(&third, 40, 20, 3).await;
    third.wait_for::<Tally>(head, PATIENCE).await.expect("applied by the third app's worker");
    let totals: u64 = documents(&third).await.iter().map(|(_, tally)| tally.total).sum();
    assert_eq!(totals, 20 + 40 + 60, "{place}: every event applied once");
    println!("{place}: handed over again when the holder's app was dropped");
    drop(first);
}

/// Workers that claim a lease at once, some pausing past it now and then, in the database
/// itself: no two holders' tenures overlap (each new holder's `since` is at or after the
/// last `until` its predecessor was given).
async fn claims_at_once_never_overlap(place: &str) {
    let ttl = Duration::from_millis(60);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut claimers = Vec::new();
    for index in 0..4 {
        // A connection each, so that their claims meet in the database.
        let (models, _) = open(place).await;
        claimers.push(tokio::spawn(async move {
            let holder = format!("claimer-{index}");
            let mut tenures: Vec<Lease> = Vec::new();
            let mut round = 0u32;
            while Instant::now() < deadline {
                round += 1;
                let lease = models.claim("contended", &holder, ttl).await.unwrap();
                let held = lease.held_by(&holder);
                if held {
                    tenures.push(lease);
                }
                // A holder pauses past the lease every third round, so that it changes hands.
                let pause = if held && round.is_multiple_of(3) { ttl * 2 } else { Duration::from_millis(2) };
                tokio::time::sleep(pause).await;
            }
            tenures
        }));
    }
    let mut held: Vec<Lease> = Vec::new();
    for claimer in claimers {
        held.extend(claimer.await.unwrap());
    }
    // One tenure per holder and `since`: its end is the last `until` it was given.
    let mut tenures: Vec<(std::time::SystemTime, std::time::SystemTime, String)> = Vec::new();
    for lease in &held {
        match tenures.iter_mut().find(|(since, _, holder)| *since == lease.since && *holder == lease.holder) {
            Some(tenure) => tenure.1 = tenure.1.max(lease.until),
            None => tenures.push((lease.since, lease.until, lease.holder.clone())),
        }
    }
    tenures.sort();
    assert!(tenures.len() >= 5, "{place}: the lease changed hands too little to tell: {tenures:?}");
    for pair in tenures.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "{place}: {} took it at {:?}, before {}'s ran out",
            pair[1].2,
            pair[1].0,
            pair[0].2
        );
    }
    println!("{place}: {} tenures of 4 claimers, none overlapping", tenures.len());
}

/// A read-model database that counts the claims made on it.
struct Counting {
    models: Arc<dyn DocumentStore>,
    claims: Arc<AtomicU32>,
    commits: Arc<AtomicU32>,
    /// How long each commit takes longer, to draw a catch-up out.
    slow: Duration,
}

impl DocumentStore for Counting {
    fn prepare<'a>(&'a self, projection: &'a str, indexed: &'a [&'a str]) -> BoxFuture<'a, Result<(), StoreError>> {
        self.models.prepare(projection, indexed)
    }

    fn checkpoint<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<DocumentCheckpoint, StoreError>> {
        self.models.checkpoint(projection)
    }

    fn load<'a>(&'a self, projection: &'a str, keys: &'a [String]) -> BoxFuture<'a, Result<Keyed, StoreError>> {
        self.models.load(projection, keys)
    }

    fn commit<'a>(
        &'a self,
        projection: &'a str,
        from: DocumentCheckpoint,
        to: u64,
        documents: Keyed,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(self.slow).await;
            self.models.commit(projection, from, to, documents).await
        })
    }

    fn list<'a>(
        &'a self,
        projection: &'a str,
        filter: Option<(&'a str, &'a str)>,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Keyed, StoreError>> {
        self.models.list(projection, filter, after, limit)
    }

    fn clear<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.models.clear(projection)
    }

    fn claim<'a>(
        &'a self,
        projection: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Lease, StoreError>> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        self.models.claim(projection, holder, ttl)
    }

    fn release<'a>(&'a self, projection: &'a str, holder: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.models.release(projection, holder)
    }

    fn lease<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<Option<Lease>, StoreError>> {
        self.models.lease(projection)
    }
}

/// A holder renews its lease a third of the way through it, not at each wake: a busy app's
/// commits cost its read-model database no lease writes. With a lease of an hour, the
/// worker's first claim is its only one, however many commits wake it.
async fn renewals_are_due_by_time_not_by_commit(events: &str, place: &str) {
    let claims = Arc::new(AtomicU32::new(0));
    let app = App::builder()
        .store(SqliteStore::open(events).await.expect("open the events"))
        .shared_documents(Arc::new(Counting {
            models: open(place).await.0,
            claims: Arc::clone(&claims),
            commits: Arc::new(AtomicU32::new(0)),
            slow: Duration::ZERO,
        }))
        .document_projection::<Tally>()
        .projection_workers(POLL)
        .worker_name("busy")
        .worker_lease(Duration::from_secs(3600))
        .build()
        .await
        .expect("build the app");
    for stream in 0..30 {
        let head = count(&app, stream, 1, 1).await;
        app.wait_for::<Tally>(head, PATIENCE).await.expect("applied by the worker");
    }
    until_held_by(&app, "busy").await;
    assert_eq!(claims.load(Ordering::SeqCst), 1, "{place}: one claim for 30 commits under an hour's lease");
    println!("{place}: one claim in 30 commits");
}

/// A holder whose lease another worker took (as after a pause longer than the lease) ends
/// its catch-up after the batch in progress, at its next renewal, instead of racing the new
/// holder to the head.
async fn a_lost_lease_ends_the_catch_up(events: &str, place: &str) {
    let app = app(events, place, "writer", LEASE).await;
    let head = count(&app, 0, 2_000, 1).await;
    app.wait_for::<Tally>(head, PATIENCE).await.expect("applied");
    // Its worker ends, having given the lease up, before the events that follow.
    app.shutdown().await;
    drop(app);
    // 2,000 more events, applied 10 to a batch at 5 ms a batch: a catch-up of a second.
    let writer = SqliteStore::open(events).await.expect("open the events");
    for stream in 2_000..4_000 {
        let event = NewEvent::encode(&TallyEvent::Counted(Counted { by: 1 })).unwrap();
        writer.append(&format!("Tally-{stream}"), ExpectedVersion::NoStream, vec![event]).await.unwrap();
    }
    let commits = Arc::new(AtomicU32::new(0));
    let slow = Counting {
        models: open(place).await.0,
        claims: Arc::new(AtomicU32::new(0)),
        commits: Arc::clone(&commits),
        slow: Duration::from_millis(5),
    };
    let lease = Duration::from_millis(600);
    // Opened before the catch-up starts, so that taking the lease does not wait for a
    // connection while the catch-up runs on to the head.
    let (models, _) = open(place).await;
    let holder = App::builder()
        .store(SqliteStore::open(events).await.expect("open the events"))
        .shared_documents(Arc::new(slow))
        .document_batch(10)
        .document_projection::<Tally>()
        .projection_workers(POLL)
        .worker_name("paused")
        .worker_lease(lease)
        .build()
        .await
        .expect("build the app");
    let started = Instant::now();
    while commits.load(Ordering::SeqCst) < 5 {
        if started.elapsed() >= PATIENCE {
            let (lease, checkpoint) = (models.lease("tally").await, models.checkpoint("tally").await);
            panic!("{place}: the holder does not catch up: lease {lease:?}, checkpoint {checkpoint:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Another worker takes the lease, as it would once a paused holder's ran out.
    models.release("tally", "paused").await.unwrap();
    assert!(models.claim("tally", "thief", Duration::from_secs(3600)).await.unwrap().held_by("thief"));
    // The holder learns it at its next renewal (a third of its lease), and stops there.
    tokio::time::sleep(lease).await;
    let settled = commits.load(Ordering::SeqCst);
    tokio::time::sleep(lease).await;
    let after = commits.load(Ordering::SeqCst);
    let checkpoint = models.checkpoint("tally").await.unwrap().position;
    let head = holder.store().head().await.unwrap();
    assert_eq!(after, settled, "{place}: the holder went on committing after it lost the lease");
    assert!(checkpoint < head, "{place}: the catch-up ran to the head ({checkpoint}) after the lease was lost");
    println!("{place}: a lost lease ended the catch-up after {settled} batches, at {checkpoint} of {head}");
    drop(holder);
}

/// A worker whose projection stopped on an event gives the lease up, so that a process with
/// fixed code may take the projection on.
async fn a_stopped_projection_is_given_up(events: &str, place: &str) {
    let app = app(events, place, "stopping", LEASE).await;
    until_held_by(&app, "stopping").await;
    let head = count(&app, 0, 1, UNLUCKY).await;
    let stopped = app.wait_for::<Tally>(head, PATIENCE).await;
    assert!(matches!(stopped, Err(eventsmith::Error::ProjectionStopped(_))), "{place}: {stopped:?}");
    let started = Instant::now();
    while worker(&app).await.is_some() {
        assert!(started.elapsed() < PATIENCE, "{place}: the stopped projection's lease is kept");
        tokio::time::sleep(POLL).await;
    }
    println!("{place}: a stopped projection's lease given up");
}

/// The child: holds the lease (says so on its standard output), and applies until killed.
async fn hold_until_killed(events: &str, place: &str) {
    let app = app(events, place, "child", SHORT_LEASE).await;
    until_held_by(&app, "child").await;
    println!("holding");
    std::future::pending::<()>().await;
}

/// A child process, killed when dropped: a failed assertion leaves no child holding the lease.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child holds the lease and applies; it is killed with SIGKILL; this process's worker
/// takes the projection over once the lease runs out, and the documents equal a rebuild.
async fn take_over_from_killed(events: &str, place: &str, fresh_place: &str) {
    let mut child = Killed(
        Command::new(std::env::current_exe().expect("this test's path"))
            .env(CHILD, format!("{events}\n{place}"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the child"),
    );
    let child = &mut child.0;
    let mut said = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut said).expect("the child's line");
    assert_eq!(said.trim(), "holding", "{place}: the child did not take the lease");

    let parent = app(events, place, "parent", SHORT_LEASE).await;
    let head = count(&parent, 100, 30, 3).await;
    parent.wait_for::<Tally>(head, PATIENCE).await.expect("applied by the child's worker");
    let held = worker(&parent).await.expect("a lease");
    assert!(held.held_by("child"), "{place}: the child holds it: {held:?}");

    child.kill().expect("kill the child");
    let status = child.wait().expect("the child ends");
    assert!(!status.success(), "{place}: the child ended on its own: {status}");
    let killed = Instant::now();
    let head = count(&parent, 130, 30, 5).await;
    parent.wait_for::<Tally>(head, PATIENCE).await.expect("applied by this process's worker after the kill");
    let took = killed.elapsed();
    let lease = worker(&parent).await.expect("a lease");
    assert!(lease.held_by("parent"), "{place}: the parent holds it now: {lease:?}");
    // A killed holder gives nothing up: the lease was taken only once it had run out.
    assert!(lease.since >= held.until, "{place}: taken at {:?}, before the child's lease ran out", lease.since);

    let rebuilt = App::builder()
        .store(SqliteStore::open(events).await.expect("open the events"))
        .shared_documents(open(fresh_place).await.0)
        .document_projection::<Tally>()
        .build()
        .await
        .expect("rebuild from zero");
    let (held, fresh) = (documents(&parent).await, documents(&rebuilt).await);
    assert_eq!(held.len(), fresh.len(), "{place}");
    assert!(held == fresh, "{place}: the read model differs from a rebuild from zero");
    println!("{place}: taken over from a killed holder ({status}); its events applied {took:?} after the kill");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if let Ok(child) = std::env::var(CHILD) {
        let (events, place) = child.split_once('\n').expect("the child is given its events and place");
        runtime.block_on(hold_until_killed(events, place));
        return;
    }
    runtime.block_on(async {
        let directory = support::temp_db("leases");
        // Each case its own log, so that each starts from an empty one.
        let file = |name: &str| directory.with_file_name(name).to_str().expect("a UTF-8 path").to_owned();
        let sqlite = |name: &str| format!("sqlite:{}", file(name));
        lease_contract(&sqlite("contract.db")).await;
        claims_at_once_never_overlap(&sqlite("contended.db")).await;
        hand_over(&file("events-1.db"), &sqlite("handover.db")).await;
        renewals_are_due_by_time_not_by_commit(&file("events-5.db"), &sqlite("busy.db")).await;
        a_stopped_projection_is_given_up(&file("events-6.db"), &sqlite("stopped.db")).await;
        a_lost_lease_ends_the_catch_up(&file("events-7.db"), &sqlite("paused.db")).await;
        take_over_from_killed(&file("events-2.db"), &sqlite("killed.db"), &sqlite("rebuilt.db")).await;
        #[cfg(feature = "postgres")]
        {
            let postgres = || format!("postgres:{}", support::postgres::unique_schema());
            lease_contract(&postgres()).await;
            claims_at_once_never_overlap(&postgres()).await;
            hand_over(&file("events-3.db"), &postgres()).await;
            a_stopped_projection_is_given_up(&file("events-8.db"), &postgres()).await;
            a_lost_lease_ends_the_catch_up(&file("events-9.db"), &postgres()).await;
            take_over_from_killed(&file("events-4.db"), &postgres(), &postgres()).await;
        }
    });
    println!("test leases ... ok");
}
