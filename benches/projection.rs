//! Projection catch-up from the memory store: the generated dispatch (`#[projection]`, run by
//! the App's runner) against a hand-written loop doing the same reads, decodes and updates.
//! Also the dispatch alone, over the same stored events in memory. Prints the ratios.
//!
//! `cargo bench --bench projection`

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput};
use eventsmith::prelude::*;
use eventsmith::store::{EventStore, NewEvent, StoredEvent};

mod support;

const EVENTS: usize = 100_000;
const STREAMS: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    pub owner: String,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deposited {
    pub amount: i64,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawn {
    pub amount: i64,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Noted {
    pub text: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
    Withdrawn(Withdrawn),
    Noted(Noted),
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Balances {
    balances: HashMap<String, i64>,
    owners: u64,
}

#[derive(Debug)]
pub struct Total;

#[projection(name = "balances", events = AccountEvent)]
impl Balances {
    #[apply]
    fn opened(&mut self, event: &Recorded<Opened>) {
        self.owners += event.owner.len() as u64;
        self.balances.insert(event.stream_id.clone(), 0);
    }

    #[apply]
    fn deposited(&mut self, event: &Recorded<Deposited>) {
        *self.balances.entry(event.stream_id.clone()).or_default() += event.amount;
    }

    #[apply]
    fn withdrawn(&mut self, event: &Recorded<Withdrawn>) {
        *self.balances.entry(event.stream_id.clone()).or_default() -= event.amount;
    }

    #[query]
    fn total(&self, _: Total) -> i64 {
        self.balances.values().sum()
    }
}

/// The same read model, fed by hand: read the log, decode each event, match, update.
async fn hand_written(store: &dyn EventStore) -> Balances {
    let types = ["Opened", "Deposited", "Withdrawn"];
    let mut view = Balances::default();
    let mut from = 1;
    loop {
        let batch = store.read_all(from, 1024, &types).await.unwrap();
        let full = batch.len() == 1024;
        for stored in batch {
            from = stored.position + 1;
            apply_by_hand(&mut view, stored);
        }
        if !full {
            return view;
        }
    }
}

/// The same updates as the `#[apply]` methods above, dispatched by a hand-written `match`.
fn apply_by_hand(view: &mut Balances, stored: StoredEvent) {
    let event = AccountEvent::decode(&stored.event_type, stored.event_version, &stored.payload).unwrap();
    let recorded = eventsmith::decode::into_recorded(stored, event);
    match &recorded.event {
        AccountEvent::Opened(event) => {
            view.owners += event.owner.len() as u64;
            view.balances.insert(recorded.stream_id.clone(), 0);
        }
        AccountEvent::Deposited(event) => *view.balances.entry(recorded.stream_id.clone()).or_default() += event.amount,
        AccountEvent::Withdrawn(event) => *view.balances.entry(recorded.stream_id.clone()).or_default() -= event.amount,
        AccountEvent::Noted(_) => {}
    }
}

fn history() -> Vec<(String, AccountEvent)> {
    let mut seed: u64 = 7;
    (0..EVENTS)
        .map(|index| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let stream = format!("Account-{}", index % STREAMS);
            let amount = i64::try_from(seed >> 50).unwrap_or(0);
            let event = match (index < STREAMS, (seed >> 33) % 8) {
                (true, _) => Opened { owner: format!("owner {index}") }.into(),
                (false, 0..=3) => Deposited { amount }.into(),
                (false, 4..=6) => Withdrawn { amount }.into(),
                (false, _) => Noted { text: "a note to skip".into() }.into(),
            };
            (stream, event)
        })
        .collect()
}

fn build_and_catch_up(runtime: &tokio::runtime::Runtime, store: &Arc<dyn EventStore>) -> u64 {
    runtime.block_on(async {
        let app = App::builder().shared_store(Arc::clone(store)).projection::<Balances>().build().await.unwrap();
        app.checkpoint::<Balances>().unwrap()
    })
}

fn dispatch_generated(events: Vec<StoredEvent>) -> Balances {
    let mut view = Balances::default();
    for event in events {
        view.apply_stored(event).unwrap();
    }
    view
}

fn dispatch_by_hand(events: Vec<StoredEvent>) -> Balances {
    let mut view = Balances::default();
    for event in events {
        apply_by_hand(&mut view, event);
    }
    view
}

fn bench(c: &mut Criterion, runtime: &tokio::runtime::Runtime) -> Arc<dyn EventStore> {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    runtime.block_on(async {
        for (stream, event) in history() {
            let new = NewEvent::encode(&event).unwrap();
            store.append(&stream, ExpectedVersion::Any, vec![new]).await.unwrap();
        }
    });
    let generated_total = runtime.block_on(async {
        let app = App::builder().shared_store(Arc::clone(&store)).projection::<Balances>().build().await.unwrap();
        app.query(Total).await.unwrap()
    });
    let by_hand = runtime.block_on(hand_written(&*store));
    assert_eq!(generated_total, by_hand.balances.values().sum::<i64>(), "both must compute the same view");

    let mut group = c.benchmark_group("catch_up_100k");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);
    group.bench_function("generated", |b| b.iter(|| black_box(build_and_catch_up(runtime, &store))));
    group.bench_function("hand_written", |b| b.iter(|| black_box(runtime.block_on(hand_written(&*store)))));
    group.finish();

    let stored = runtime.block_on(store.read_all(1, EVENTS, &["Opened", "Deposited", "Withdrawn"])).unwrap();
    let mut group = c.benchmark_group("dispatch_100k");
    group.throughput(Throughput::Elements(stored.len() as u64));
    group.sample_size(20);
    group.bench_function("generated", |b| {
        b.iter_batched(|| stored.clone(), dispatch_generated, BatchSize::LargeInput);
    });
    group.bench_function("hand_written", |b| {
        b.iter_batched(|| stored.clone(), dispatch_by_hand, BatchSize::LargeInput);
    });
    group.finish();
    store
}

fn mean_ns(id: &str) -> Option<f64> {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../criterion").join(id).join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut criterion = Criterion::default().configure_from_args();
    let store = bench(&mut criterion, &runtime);
    criterion.final_summary();
    for group in ["catch_up_100k", "dispatch_100k"] {
        if let (Some(generated), Some(by_hand)) =
            (mean_ns(&format!("{group}/generated")), mean_ns(&format!("{group}/hand_written")))
        {
            println!(
                "{group}: generated {:.2} ms ({:.2} M events/s), hand-written {:.2} ms, generated/hand-written time ratio {:.3}",
                generated / 1e6,
                EVENTS as f64 / generated * 1e3,
                by_hand / 1e6,
                generated / by_hand
            );
        }
    }
    let (ratio, generated, by_hand) = support::paired_ratio(
        40,
        || {
            black_box(build_and_catch_up(&runtime, &store));
        },
        || drop(black_box(runtime.block_on(hand_written(&*store)))),
    );
    println!(
        "catch_up_100k, 40 interleaved pairs: generated {generated:.2} ms, hand-written {by_hand:.2} ms, median ratio {ratio:.3}"
    );
    let stored = runtime.block_on(store.read_all(1, EVENTS, &["Opened", "Deposited", "Withdrawn"])).unwrap();
    let (ratio, generated, by_hand) = support::paired_ratio(
        40,
        || drop(black_box(dispatch_generated(stored.clone()))),
        || drop(black_box(dispatch_by_hand(stored.clone()))),
    );
    println!(
        "dispatch_100k, 40 interleaved pairs (each including a clone of the input): generated {generated:.2} ms, \
         hand-written {by_hand:.2} ms, median ratio {ratio:.3}"
    );
}
