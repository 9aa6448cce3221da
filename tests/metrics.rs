//! What the app reports through the `metrics` facade (feature `metrics`): commands by
//! outcome, appends and their latency, and where each projection is, for projections updated
//! by commands and for those in workers. A recorder of the test's own captures the values.
#![cfg(feature = "metrics")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsmith::documents::SqliteDocuments;
use eventsmith::prelude::*;
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

/// Every value recorded, by `name{label=value,...}` (labels sorted).
#[derive(Default)]
struct Captured {
    counters: Mutex<HashMap<String, u64>>,
    gauges: Mutex<HashMap<String, f64>>,
    histograms: Mutex<HashMap<String, Vec<f64>>>,
}

struct Handle {
    key: String,
    captured: Arc<Captured>,
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        *self.captured.counters.lock().unwrap().entry(self.key.clone()).or_default() += value;
    }

    fn absolute(&self, value: u64) {
        self.captured.counters.lock().unwrap().insert(self.key.clone(), value);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        *self.captured.gauges.lock().unwrap().entry(self.key.clone()).or_default() += value;
    }

    fn decrement(&self, value: f64) {
        *self.captured.gauges.lock().unwrap().entry(self.key.clone()).or_default() -= value;
    }

    fn set(&self, value: f64) {
        self.captured.gauges.lock().unwrap().insert(self.key.clone(), value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.captured.histograms.lock().unwrap().entry(self.key.clone()).or_default().push(value);
    }
}

struct TestRecorder(Arc<Captured>);

impl TestRecorder {
    fn handle(&self, key: &Key) -> Arc<Handle> {
        let mut labels: Vec<String> = key.labels().map(|label| format!("{}={}", label.key(), label.value())).collect();
        labels.sort();
        let key =
            if labels.is_empty() { key.name().to_owned() } else { format!("{}{{{}}}", key.name(), labels.join(",")) };
        Arc::new(Handle { key, captured: Arc::clone(&self.0) })
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}

impl Captured {
    fn counter(&self, key: &str) -> u64 {
        self.counters.lock().unwrap().get(key).copied().unwrap_or_default()
    }

    fn gauge(&self, key: &str) -> Option<f64> {
        self.gauges.lock().unwrap().get(key).copied()
    }

    fn samples(&self, key: &str) -> usize {
        self.histograms.lock().unwrap().get(key).map_or(0, Vec::len)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Added {
    pub amount: u64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum TallyEvent {
    Added(Added),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Tally)]
pub struct Add {
    #[command(id)]
    pub id: u32,
    pub amount: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("nothing to add")]
pub struct Nothing;

#[derive(Debug, Default, Clone)]
pub struct Tally;

#[aggregate(event = TallyEvent, error = Nothing)]
impl Tally {
    /// Refuses 0, writes nothing for 1, adds the rest.
    #[command]
    fn add(&self, command: Add) -> Result<Option<Added>, Nothing> {
        match command.amount {
            0 => Err(Nothing),
            1 => Ok(None),
            amount => Ok(Some(Added { amount })),
        }
    }

    #[apply]
    fn added(&mut self, _: &Added) {}
}

/// In memory; stops at an amount of 13.
#[derive(Debug, Default)]
pub struct Sums {
    total: u64,
}

#[projection(name = "sums", events = TallyEvent)]
impl Sums {
    #[apply]
    fn added(&mut self, event: &Recorded<Added>) -> Result<(), String> {
        if event.amount == 13 {
            return Err("13 is not added".into());
        }
        self.total += event.amount;
        Ok(())
    }
}

/// A document per tally, in a worker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TallyTotal {
    pub total: u64,
}

#[projection(name = "tally_totals", events = TallyEvent, documents)]
impl TallyTotal {
    #[apply]
    fn added(&mut self, event: &Recorded<Added>) {
        self.total += event.amount;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_appends_and_projections_are_measured() {
    let captured = Arc::new(Captured::default());
    metrics::set_global_recorder(TestRecorder(Arc::clone(&captured))).unwrap();

    // Commands, and a projection each command updates.
    let app = App::builder().store(MemoryStore::new()).aggregate::<Tally>().projection::<Sums>().build().await.unwrap();
    for amount in [5, 7, 9] {
        app.execute(Add { id: 1, amount }).await.unwrap();
    }
    app.execute(Add { id: 1, amount: 0 }).await.unwrap_err();
    app.execute(Add { id: 1, amount: 1 }).await.unwrap();
    let outcomes =
        |outcome: &str| captured.counter(&format!("eventsmith_commands_total{{aggregate=Tally,outcome={outcome}}}"));
    assert_eq!((outcomes("committed"), outcomes("rejected"), outcomes("unchanged")), (3, 1, 1));
    assert_eq!(captured.samples("eventsmith_command_duration_seconds{aggregate=Tally}"), 5);
    assert_eq!(
        (captured.counter("eventsmith_appends_total"), captured.counter("eventsmith_appended_events_total")),
        (3, 3)
    );
    assert_eq!(captured.samples("eventsmith_append_duration_seconds"), 3);
    assert_eq!(captured.gauge("eventsmith_projection_position{projection=sums}"), Some(3.0));
    assert_eq!(captured.gauge("eventsmith_projection_lag_events{projection=sums}"), Some(0.0));
    assert_eq!(captured.gauge("eventsmith_projection_stopped{projection=sums}"), Some(0.0));

    // A projection that stops stays behind, and says so.
    app.execute(Add { id: 2, amount: 13 }).await.unwrap();
    app.execute(Add { id: 2, amount: 20 }).await.unwrap();
    assert_eq!(captured.gauge("eventsmith_projection_stopped{projection=sums}"), Some(1.0));
    assert_eq!(captured.gauge("eventsmith_projection_position{projection=sums}"), Some(3.0));
    assert_eq!(captured.gauge("eventsmith_projection_lag_events{projection=sums}"), Some(2.0));

    // A stored projection in a worker: measured after its catch-ups, against the store's head.
    let directory = std::env::temp_dir().join(format!("eventsmith-metrics-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&directory).unwrap();
    let worked = App::builder()
        .store(eventsmith::SqliteStore::open(directory.join("events.db")).await.unwrap())
        .documents_in(SqliteDocuments::open(directory.join("views.db")).await.unwrap())
        .aggregate::<Tally>()
        .document_projection::<TallyTotal>()
        .projection_workers(Duration::from_millis(20))
        .build()
        .await
        .unwrap();
    let mut last = 0;
    for id in 1..=4 {
        last = worked.execute(Add { id, amount: 10 }).await.unwrap().events[0].position;
    }
    worked.wait_for::<TallyTotal>(last, Duration::from_secs(10)).await.unwrap();
    let position = "eventsmith_projection_position{projection=tally_totals}";
    for _ in 0..500 {
        if captured.gauge(position) == Some(4.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(captured.gauge(position), Some(4.0));
    assert_eq!(captured.gauge("eventsmith_projection_lag_events{projection=tally_totals}"), Some(0.0));
    drop(worked);
    let _ = std::fs::remove_dir_all(&directory);
}
