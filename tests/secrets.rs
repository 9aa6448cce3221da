//! A password in a connection URL never shows: not in a store's `Debug`, not in the error of
//! a failed connection or of a URL that does not parse, not in what `tracing` records.
#![cfg(all(feature = "postgres", feature = "nats"))]

use std::sync::{Arc, Mutex};

use eventsmith::store::{NatsOptions, PostgresOptions};
use eventsmith::{NatsStore, PostgresStore};

const SECRET: &str = "s3cr3t-Pa55word";

/// Every span and event `tracing` records while the test runs, with all their fields.
#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<String>>);

impl tracing::field::Visit for Recorded {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let mut text = self.0.lock().unwrap();
        text.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl tracing::Subscriber for Recorded {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        span.record(&mut self.clone());
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut self.clone());
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        event.record(&mut self.clone());
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the password: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_show() {
    let recorded = Recorded::default();
    let _guard = tracing::subscriber::set_default(recorded.clone());

    // PostgreSQL: a server that is not there, a URL that does not parse, and a real store.
    for url in [
        format!("postgres://user:{SECRET}@127.0.0.1:1/db"),
        format!("postgres://user:{SECRET}@127.0.0.1:1/db?sslmode=bogus"),
        format!("postgresql://user:{SECRET}@[::1:5432/db"),
    ] {
        let options = PostgresOptions { pool_size: 1, ..PostgresOptions::default() };
        let error = PostgresStore::connect_with(&url, options).await.expect_err("nothing listens there");
        assert_hidden("a PostgreSQL connection error", &error.to_string());
        assert_hidden("a PostgreSQL connection error's Debug", &format!("{error:?}"));
    }
    let base =
        std::env::var("EVENTSMITH_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let with_password = base.replacen("postgres@", &format!("postgres:{SECRET}@"), 1);
    if with_password.contains(SECRET) {
        // Trust authentication ignores the password: the store connects, and must not show it.
        let store = PostgresStore::connect(&with_password).await.expect("connect with a password in the URL");
        assert_hidden("a PostgreSQL store's Debug", &format!("{store:?}"));
    }

    // NATS: a server that is not there, and a URL that does not parse.
    for url in [format!("nats://user:{SECRET}@127.0.0.1:1"), format!("nats://user:{SECRET}@127.0.0.1:notaport")] {
        let options = NatsOptions::default();
        let error = NatsStore::connect_with(&url, options).await.expect_err("nothing listens there");
        assert_hidden("a NATS connection error", &error.to_string());
        assert_hidden("a NATS connection error's Debug", &format!("{error:?}"));
    }

    let traces = recorded.0.lock().unwrap().clone();
    assert_hidden("the traces", &traces);
}
