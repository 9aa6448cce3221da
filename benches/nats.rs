//! Catching a projection up from NATS JetStream: a process starting up (a store opened on
//! the stream, then `App::build`) folding a log of single-event appends (one message each, the common case: one event per command) into an in-memory
//! projection, against a raw async-nats ordered consumer receiving the same messages
//! (transport only: it decodes nothing, so the ratio flatters the raw side), as paired ratios
//! in one run.
//!
//! `EVENTSMITH_NATS_URL=nats://127.0.0.1:4222 cargo bench --bench nats --features nats`
//! (`EVENTSMITH_BENCH_EVENTS`, 50,000 by default).

use std::sync::Arc;

use async_nats::jetstream::{self, consumer};
use eventsmith::prelude::*;
use eventsmith::store::{NatsOptions, NatsStore, NewEvent};
use futures_util::StreamExt;

mod support;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deposited {
    pub amount: u64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum AccountEvent {
    Deposited(Deposited),
}

#[derive(Debug, Default)]
pub struct Totals {
    deposits: u64,
    total: u64,
}

#[derive(Debug)]
pub struct Count;

#[projection(name = "totals", events = AccountEvent)]
impl Totals {
    #[apply]
    fn deposited(&mut self, event: &Recorded<Deposited>) {
        self.deposits += 1;
        self.total += event.amount;
    }

    #[query]
    fn count(&self, _: Count) -> (u64, u64) {
        (self.deposits, self.total)
    }
}

fn main() {
    let url = std::env::var("EVENTSMITH_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let events: u64 =
        std::env::var("EVENTSMITH_BENCH_EVENTS").ok().and_then(|value| value.parse().ok()).unwrap_or(50_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // Named like the tests' streams, which their next run removes.
    let name = format!("es_t_bench_catch_up_{}", std::process::id());
    let options = NatsOptions { stream: name.clone(), prefix: name.clone(), ..NatsOptions::default() };
    let store: Arc<NatsStore> = Arc::new(runtime.block_on(NatsStore::connect_with(&url, options)).unwrap());

    // The log: single-event appends to 1,000 accounts, 32 writers at once.
    runtime.block_on(async {
        let writers: Vec<_> = (0..32u64)
            .map(|writer| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for n in (writer..events).step_by(32) {
                        let event = NewEvent::encode(&AccountEvent::Deposited(Deposited { amount: n })).unwrap();
                        store
                            .append(&format!("Account-{}", n % 1000), ExpectedVersion::Any, vec![event])
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
    });
    let expected = (events, events * (events - 1) / 2);
    let (context, stream) = runtime.block_on(async {
        let context = jetstream::new(async_nats::connect(&url).await.unwrap());
        let stream = context.get_stream(&name).await.unwrap();
        (context, stream)
    });
    let raw = || {
        runtime.block_on(async {
            let config = consumer::pull::OrderedConfig {
                filter_subject: format!("{name}.e.>"),
                deliver_policy: consumer::DeliverPolicy::All,
                ..consumer::pull::OrderedConfig::default()
            };
            let consumer = stream.create_consumer(config).await.unwrap();
            let mut messages = consumer.messages().await.unwrap();
            let (mut received, mut bytes) = (0, 0);
            while received < events {
                let message = messages.next().await.unwrap().unwrap();
                bytes += message.payload.len();
                received += 1;
            }
            std::hint::black_box(bytes);
        });
    };
    let ours = || {
        runtime.block_on(async {
            // A process starting up: a store opened on the existing stream.
            let options = NatsOptions { stream: name.clone(), prefix: name.clone(), ..NatsOptions::default() };
            let shared: Arc<dyn EventStore> = Arc::new(NatsStore::connect_with(&url, options).await.unwrap());
            let app = App::builder().shared_store(shared).projection::<Totals>().build().await.unwrap();
            assert_eq!(app.query(Count).await.unwrap(), expected);
        });
    };
    let (ratio, with_eventsmith, by_hand) = support::paired_ratio(5, ours, raw);
    let per_second = |ms: f64| events as f64 / ms * 1e3;
    println!(
        "catch up {events} single-event messages: eventsmith {with_eventsmith:.0} ms ({:.0} events/s), raw consumer \
         {by_hand:.0} ms ({:.0} messages/s); eventsmith/raw time {ratio:.2} (throughput {:.2}x)",
        per_second(with_eventsmith),
        per_second(by_hand),
        1.0 / ratio
    );
    runtime.block_on(context.delete_stream(&name)).unwrap();
}
