//! Every store in the repository runs the whole conformance kit, here: the memory store,
//! SQLite in memory and in a file, and (with their features, `cargo test --all-features`)
//! PostgreSQL and NATS JetStream on the real servers named by `EVENTSMITH_POSTGRES_URL` and
//! `EVENTSMITH_NATS_URL`. `tests/broken_stores.rs` checks that the kit rejects broken ones.

mod support;

mod memory {
    eventsmith::conformance_suite!(eventsmith::MemoryStore::new());
}

mod sqlite_in_memory {
    eventsmith::conformance_suite!(eventsmith::SqliteStore::in_memory().await.expect("open SQLite in memory"));
}

mod sqlite_file {
    eventsmith::conformance_suite!(
        eventsmith::SqliteStore::open(super::support::temp_db("conformance")).await.expect("open SQLite")
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    eventsmith::conformance_suite!(super::support::postgres::fresh_store().await);
}

#[cfg(feature = "nats")]
mod nats {
    eventsmith::conformance_suite!(super::support::nats::fresh_store().await);
}
