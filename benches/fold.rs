//! The replay fold through the generated dispatch (`Aggregate::apply` -> `Fold` ->
//! `Apply` -> the `#[apply]` method) against a hand-written `match` doing the same work,
//! over the same 1,000,000 events. Prints the ratio at the end.
//!
//! `cargo bench --bench fold`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput};
use eventsmith::prelude::*;

mod support;

const EVENTS: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    pub limit: i64,
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
pub struct FeeCharged {
    pub fee: i64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
    Withdrawn(Withdrawn),
    FeeCharged(FeeCharged),
    Frozen,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Account {
    balance: i64,
    limit: i64,
    fees: i64,
    transactions: u64,
    frozen: bool,
}

#[aggregate(event = AccountEvent, error = Never)]
impl Account {
    #[apply]
    fn opened(&mut self, event: &Opened) {
        self.limit = event.limit;
    }
    #[apply]
    fn deposited(&mut self, event: &Deposited) {
        self.balance += event.amount;
        self.transactions += 1;
    }
    #[apply]
    fn withdrawn(&mut self, event: &Withdrawn) {
        self.balance -= event.amount;
        self.transactions += 1;
    }
    #[apply]
    fn fee_charged(&mut self, event: &FeeCharged) {
        self.balance -= event.fee;
        self.fees += event.fee;
    }
    #[apply(AccountEvent::Frozen)]
    fn frozen(&mut self) {
        self.frozen = !self.frozen;
    }
}

/// The same fold, written by hand.
fn hand_written(state: &mut Account, event: &AccountEvent) {
    match event {
        AccountEvent::Opened(event) => state.limit = event.limit,
        AccountEvent::Deposited(event) => {
            state.balance += event.amount;
            state.transactions += 1;
        }
        AccountEvent::Withdrawn(event) => {
            state.balance -= event.amount;
            state.transactions += 1;
        }
        AccountEvent::FeeCharged(event) => {
            state.balance -= event.fee;
            state.fees += event.fee;
        }
        AccountEvent::Frozen => state.frozen = !state.frozen,
    }
}

/// A fixed pseudo-random mix, so that the branch predictor cannot learn the sequence.
fn history() -> Vec<AccountEvent> {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..EVENTS)
        .map(|_| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let amount = i64::try_from(seed >> 54).unwrap_or(0);
            match (seed >> 33) % 16 {
                0 => Opened { limit: amount }.into(),
                1..=7 => Deposited { amount }.into(),
                8..=13 => Withdrawn { amount }.into(),
                14 => FeeCharged { fee: amount }.into(),
                _ => AccountEvent::Frozen,
            }
        })
        .collect()
}

fn fold_generated(events: &[AccountEvent]) -> Account {
    let mut state = Account::default();
    for event in black_box(events) {
        state.apply(event);
    }
    state
}

fn fold_by_hand(events: &[AccountEvent]) -> Account {
    let mut state = Account::default();
    for event in black_box(events) {
        hand_written(&mut state, event);
    }
    state
}

fn bench(c: &mut Criterion, events: &[AccountEvent]) {
    assert_eq!(fold_generated(events), fold_by_hand(events), "both folds must compute the same state");

    let mut group = c.benchmark_group("fold_1m");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(30);
    group.bench_function("generated", |b| b.iter(|| black_box(fold_generated(events))));
    group.bench_function("hand_written", |b| b.iter(|| black_box(fold_by_hand(events))));
    group.finish();
}

/// Reads criterion's point estimate of a benchmark's mean, in nanoseconds.
fn mean_ns(id: &str) -> Option<f64> {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../criterion").join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn main() {
    let events = history();
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &events);
    criterion.final_summary();
    if let (Some(generated), Some(by_hand)) = (mean_ns("fold_1m/generated"), mean_ns("fold_1m/hand_written")) {
        println!(
            "fold of {EVENTS} events: generated {:.3} ms, hand-written {:.3} ms, generated/hand-written time ratio {:.3}",
            generated / 1e6,
            by_hand / 1e6,
            generated / by_hand
        );
    }
    let (ratio, generated, by_hand) = support::paired_ratio(
        200,
        || {
            black_box(fold_generated(&events));
        },
        || {
            black_box(fold_by_hand(&events));
        },
    );
    println!(
        "fold of {EVENTS} events, 200 interleaved pairs: generated {generated:.3} ms, hand-written {by_hand:.3} ms, median ratio {ratio:.3}"
    );
}
