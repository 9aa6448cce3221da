//! `PostgresStore` against the real server: the ordering guarantee with a transaction held
//! open, least privileges, immutability, reconnection, every append path and migrations. Its
//! conformance run is in `tests/conformance.rs`.
//!
//! The server is `EVENTSMITH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! `.ci/run` starts it if it is down. Each test works in a schema of its own.
#![cfg(feature = "postgres")]

use std::time::Duration;

use eventsmith::prelude::*;
use eventsmith::store::{NewEvent, PostgresOptions};
use eventsmith::{PostgresStore, StoreError};

mod support;

use eventsmith::testkit::event as raw;
use support::postgres::{admin, fresh_store, store_in, unique_schema, url};

/// Which append path the appends that wait take.
#[derive(Clone, Copy, Debug)]
enum AppendPath {
    /// `ExpectedVersion::Any`: the `eventsmith_append` function.
    Function,
    /// `NoStream`: the plain statement.
    StatementNew,
    /// `Exact(1)` on a stream that has one event: the plain statement.
    StatementExact,
    /// Four appends at versions waiting together: one coalesced statement.
    Coalesced,
    /// 200 events: one binary `COPY`.
    Copy,
}

/// The appends of `path`, each to a stream of its own: (stream, expected, events).
fn waiting_appends(path: AppendPath) -> Vec<(String, ExpectedVersion, Vec<NewEvent>)> {
    match path {
        AppendPath::Function => vec![("second".into(), ExpectedVersion::Any, vec![raw("Second", "{}")])],
        AppendPath::StatementNew => vec![("second".into(), ExpectedVersion::NoStream, vec![raw("Second", "{}")])],
        AppendPath::StatementExact => vec![("existing".into(), ExpectedVersion::Exact(1), vec![raw("Second", "{}")])],
        AppendPath::Coalesced => (0..4)
            .map(|index| (format!("second-{index}"), ExpectedVersion::NoStream, vec![raw("Second", "{}")]))
            .collect(),
        AppendPath::Copy => vec![("second".into(), ExpectedVersion::NoStream, many(200))],
    }
}

/// Appends waiting for the store-wide lock of `schema`: read from the server (the lock's
/// key is split into `classid` and `objid`), not guessed from a pause.
async fn waiting_for_the_lock(admin: &tokio_postgres::Client, schema: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND ((classid::bigint << 32) | objid::bigint) = $1",
            &[&store_lock(schema)],
        )
        .await
        .unwrap()
        .get(0)
}

/// One append holds its transaction open after taking its position while appends of `path`
/// wait (proven from `pg_locks`); a reader must not see anything until the first commits,
/// then all, in order, exactly once. With the first rolled back instead, the reader sees the
/// waiting appends only.
async fn ordering(commit_first: bool, path: AppendPath) {
    let schema = unique_schema();
    let store = store_in(&schema).await;
    if let AppendPath::StatementExact = path {
        store.append("existing", ExpectedVersion::NoStream, vec![raw("First", "{}")]).await.unwrap();
    }
    let before: Vec<u64> = store.read_all(1, 100, &[]).await.unwrap().iter().map(|event| event.position).collect();
    let observer = admin().await;
    let mut holder = admin().await;
    let transaction = holder.transaction().await.unwrap();
    transaction.execute("SELECT set_config('search_path', $1, true)", &[&schema]).await.unwrap();
    let lock = {
        let row = transaction
            .query_one(
                "SELECT positions[1] FROM eventsmith_append($1::text, 0::smallint, 0, ARRAY[gen_random_uuid()], ARRAY['Held'],
                 ARRAY[1], ARRAY['{}'::bytea], ARRAY[NULL::bytea], 'none', $2::bigint)",
                &[&"held".to_owned(), &store_lock(&schema)],
            )
            .await
            .unwrap();
        u64::try_from(row.get::<_, i64>(0)).unwrap()
    };
    let appends = waiting_appends(path);
    let expected_events: usize = appends.iter().map(|(_, _, events)| events.len()).sum();
    let waiting: Vec<_> = appends
        .into_iter()
        .map(|(stream, expected, events)| {
            let store = store.clone();
            tokio::spawn(async move { store.append(&stream, expected, events).await })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while waiting_for_the_lock(&observer, &schema).await == 0 {
        assert!(std::time::Instant::now() < deadline, "{path:?}: no append waited for the lock within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(waiting.iter().all(|append| !append.is_finished()), "{path:?}: the appends must wait for the first");
    let visible = store.read_all(1, 1_000, &[]).await.unwrap().len();
    assert_eq!(visible, before.len(), "{path:?}: nothing new is safe to read while the first is open");

    if commit_first {
        transaction.commit().await.unwrap();
    } else {
        transaction.rollback().await.unwrap();
    }
    let mut positions = Vec::new();
    for append in waiting {
        let outcome =
            append.await.unwrap().unwrap_or_else(|error| panic!("{path:?}: the waiting append commits: {error}"));
        positions.extend(outcome.positions);
    }
    let log = store.read_all(1, 1_000, &[]).await.unwrap();
    let read: Vec<u64> = log.iter().map(|event| event.position).collect();
    assert!(read.windows(2).all(|pair| pair[0] < pair[1]), "{path:?}: positions in order");
    let held = log.iter().any(|event| event.stream_id == "held");
    assert_eq!(held, commit_first, "{path:?}: the held append is there exactly when it committed");
    if commit_first {
        assert!(positions.iter().all(|position| *position > lock), "{path:?}: every waiting append comes after it");
    }
    assert_eq!(log.len(), before.len() + usize::from(commit_first) + expected_events, "{path:?}: each event once");
    // Read again from the start: the same events, once each.
    assert_eq!(store.read_all(1, 1_000, &[]).await.unwrap().len(), log.len());
}

/// Appends at expected versions, sent together so that the writer makes them one statement:
/// each one is written at its versions with its own ids, or refused on its own, and streams
/// stay gapless whatever the order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coalesced_appends_at_versions_keep_every_check() {
    let store = fresh_store().await;
    let stored = raw("Added", "{}");
    store.append("dup", ExpectedVersion::NoStream, vec![stored.clone()]).await.unwrap();
    store.append("chain", ExpectedVersion::NoStream, vec![raw("Added", "{}")]).await.unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(32));
    let mut tasks = Vec::new();
    for index in 0..32_u64 {
        let (store, stored, barrier) = (store.clone(), stored.clone(), std::sync::Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            let (stream, expected, events) = match index % 4 {
                0 => ("contested".to_owned(), ExpectedVersion::NoStream, vec![raw("Added", "{}")]),
                1 => (
                    format!("disjoint-{index}"),
                    ExpectedVersion::NoStream,
                    vec![raw("Added", "{}"), raw("Added", "{}")],
                ),
                // Chained expectations on one stream: whichever lands, no gap and no overlap.
                2 => ("chain".to_owned(), ExpectedVersion::Exact(1 + index / 4 % 3), vec![raw("Added", "{}")]),
                _ => ("dup".to_owned(), ExpectedVersion::Exact(1), vec![raw("Added", "{}"), stored]),
            };
            barrier.wait().await;
            let result = store.append(&stream, expected, events.clone()).await;
            (stream, expected, events, result)
        }));
    }
    let mut contested_won = 0;
    for task in tasks {
        let (stream, expected, events, result) = task.await.unwrap();
        match result {
            Ok(outcome) => {
                assert_ne!(stream, "dup", "a partial duplicate must be refused");
                contested_won += usize::from(stream == "contested");
                let read = store.read_stream(&stream, outcome.first_version, events.len()).await.unwrap();
                let ids: Vec<_> = read.iter().map(|event| event.id).collect();
                assert_eq!(ids, events.iter().map(|event| event.id).collect::<Vec<_>>(), "{stream} at {expected}");
                assert_eq!(read.iter().map(|event| event.position).collect::<Vec<_>>(), outcome.positions);
            }
            Err(StoreError::Conflict { actual, .. }) => {
                assert!(stream == "contested" || stream == "chain", "{stream}: unexpected conflict");
                assert_ne!(ExpectedVersion::Exact(actual), expected, "a conflict names another version");
            }
            Err(StoreError::DuplicateEvent { event_id, .. }) => {
                assert_eq!((stream.as_str(), event_id), ("dup", events[1].id))
            }
            Err(other) => panic!("{stream}: {other:?}"),
        }
    }
    assert_eq!(contested_won, 1);
    for stream in ["contested", "chain", "dup"] {
        let versions: Vec<u64> =
            store.read_stream(stream, 1, 100).await.unwrap().iter().map(|e| e.stream_version).collect();
        assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>(), "{stream} is gapless");
    }
    assert_eq!(store.read_stream("dup", 1, 10).await.unwrap().len(), 1, "refused appends wrote nothing");
}

fn many(count: usize) -> Vec<NewEvent> {
    (0..count).map(|index| raw("Numbered", &format!(r#"{{"n":{index}}}"#))).collect()
}

/// Appends large enough to be written with `COPY` keep every check of the append function:
/// versions, exact retries, partial retries, and the store-wide order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_appends_are_copied_with_the_same_checks() {
    let schema = unique_schema();
    let store = store_in(&schema).await;
    let mut events = many(500);
    events[7].metadata.correlation_id = Some(uuid::Uuid::now_v7());
    let outcome = store.append("big", ExpectedVersion::NoStream, events.clone()).await.expect("append");
    assert_eq!((outcome.first_version, outcome.positions.len(), outcome.already_stored), (1, 500, false));
    assert!(outcome.positions.windows(2).all(|pair| pair[0] < pair[1]));
    let stored = store.read_stream("big", 1, 1_000).await.unwrap();
    assert_eq!(stored.len(), 500);
    for ((stored, event), position) in stored.iter().zip(&events).zip(&outcome.positions) {
        assert_eq!((stored.id, &stored.payload, &stored.metadata), (event.id, &event.payload, &event.metadata));
        assert_eq!((stored.position, stored.recorded_at), (*position, outcome.recorded_at));
    }

    let retry = store.append("big", ExpectedVersion::NoStream, events.clone()).await.expect("an exact retry");
    assert_eq!((retry.positions, retry.already_stored), (outcome.positions.clone(), true));
    let conflict = store.append("big", ExpectedVersion::NoStream, many(200)).await.unwrap_err();
    assert!(matches!(conflict, StoreError::Conflict { actual: 500, .. }), "{conflict:?}");
    let mut partial = events[..150].to_vec();
    partial.extend(many(150));
    let duplicate = store.append("big", ExpectedVersion::Exact(500), partial).await.unwrap_err();
    assert!(matches!(duplicate, StoreError::DuplicateEvent { .. }), "{duplicate:?}");
    assert_eq!(store.read_all(1, 10_000, &[]).await.unwrap().len(), 500, "refused appends write nothing");

    // A large append waits for the store-wide lock like any other.
    let mut holder = admin().await;
    let transaction = holder.transaction().await.unwrap();
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&store_lock(&schema)]).await.unwrap();
    let waiting = tokio::spawn({
        let store = store.clone();
        async move { store.append("big", ExpectedVersion::Exact(500), many(200)).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the large append must wait for the lock");
    transaction.commit().await.unwrap();
    let appended = waiting.await.unwrap().expect("it commits once the lock is free");
    assert_eq!(appended.first_version, 501);
}

/// Appends to several streams at once say each event's position, also when the positions
/// the table's sequence draws are not consecutive (here it counts by three): then they are
/// read back one by one rather than taken as a range.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_streams_at_once_say_their_positions_whatever_the_sequence() {
    use eventsmith::store::StreamAppend;
    for step in [1, 3] {
        let schema = unique_schema();
        let store = store_in(&schema).await;
        store.append("first", ExpectedVersion::NoStream, many(2)).await.unwrap();
        let alter = format!("ALTER TABLE \"{schema}\".events ALTER COLUMN position SET INCREMENT BY {step}");
        admin().await.batch_execute(&alter).await.unwrap();
        let appends = ["a", "b", "a"]
            .iter()
            .zip([ExpectedVersion::NoStream, ExpectedVersion::NoStream, ExpectedVersion::Exact(2)])
            .map(|(stream, expected)| StreamAppend { stream_id: (*stream).to_owned(), expected, events: many(2) })
            .collect();
        let outcomes: Vec<_> =
            store.append_streams(appends).await.into_iter().map(|outcome| outcome.expect("append")).collect();
        let said: Vec<u64> = outcomes.iter().flat_map(|outcome| outcome.positions.clone()).collect();
        let stored: Vec<u64> = store.read_all(3, 100, &[]).await.unwrap().iter().map(|event| event.position).collect();
        assert_eq!(said, stored, "increment {step}");
        assert_eq!(said.len(), 6);
        assert!(said.windows(2).all(|pair| pair[1] - pair[0] == step), "increment {step}: {said:?}");
    }
}

fn store_lock(schema: &str) -> i64 {
    // The same store-wide lock key `PostgresStore` derives from its schema.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("eventsmith:{schema}").bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

const EVERY_PATH: [AppendPath; 5] = [
    AppendPath::Function,
    AppendPath::StatementNew,
    AppendPath::StatementExact,
    AppendPath::Coalesced,
    AppendPath::Copy,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_never_passes_an_append_that_is_still_open() {
    for path in EVERY_PATH {
        ordering(true, path).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_skips_nothing_when_the_open_append_rolls_back() {
    for path in EVERY_PATH {
        ordering(false, path).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_cannot_be_changed_deleted_or_truncated() {
    let schema = unique_schema();
    let store = store_in(&schema).await;
    store.append("s", ExpectedVersion::Any, vec![raw("Added", "{}")]).await.unwrap();
    let client = admin().await;
    client.execute("SELECT set_config('search_path', $1, false)", &[&schema]).await.unwrap();
    for statement in ["UPDATE events SET payload = '\\x7b7d'", "DELETE FROM events", "TRUNCATE events"] {
        let error = client.execute(statement, &[]).await.unwrap_err();
        let message = error.as_db_error().map_or_else(|| error.to_string(), |db| db.message().to_owned());
        assert!(message.contains("immutable"), "{statement}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_role_with_only_the_privileges_it_needs_can_use_the_store() {
    let schema = unique_schema();
    drop(store_in(&schema).await);
    let role = format!("{schema}_app");
    let client = admin().await;
    let grants = format!(
        "CREATE ROLE {role} LOGIN;
         GRANT USAGE ON SCHEMA {schema} TO {role};
         GRANT SELECT ON {schema}.events, {schema}.eventsmith_schema TO {role};
         GRANT SELECT, INSERT, UPDATE ON {schema}.checkpoints, {schema}.snapshots TO {role};"
    );
    client.batch_execute(&grants).await.unwrap();
    let app_url = format!("{}{}user={role}", url(), if url().contains('?') { "&" } else { "?" });
    let options = PostgresOptions { schema: schema.clone(), migrate: false, ..PostgresOptions::default() };
    let store = PostgresStore::connect_with(&app_url, options).await.expect("the application role opens the store");
    let outcome = store.append("s", ExpectedVersion::NoStream, vec![raw("Added", "{}")]).await.expect("append");
    assert_eq!(store.read_stream("s", 1, 10).await.unwrap()[0].position, outcome.positions[0]);
    // Large appends, copied where the role may insert, go through the function here.
    let large = store.append("s", ExpectedVersion::Exact(1), many(300)).await.expect("a large append");
    assert_eq!((large.first_version, large.positions.len()), (2, 300));
    store.save_checkpoint("p", eventsmith::store::Checkpoint { position: 1, state: None }).await.expect("checkpoint");

    let (app, connection) = tokio_postgres::connect(&app_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    app.execute("SELECT set_config('search_path', $1, false)", &[&schema]).await.unwrap();
    let insert = app
        .execute(
            "INSERT INTO events (event_id, stream_id, stream_version, event_type, event_version, payload, recorded_at)
             VALUES (gen_random_uuid(), 's', 99, 'Forged', 1, '\\x7b7d', now())",
            &[],
        )
        .await
        .unwrap_err();
    let message = insert.as_db_error().map_or_else(|| insert.to_string(), |db| db.message().to_owned());
    assert!(message.contains("permission denied"), "{message}");
    let (migrating, _) = (PostgresOptions { schema: unique_schema(), ..PostgresOptions::default() }, ());
    assert!(
        PostgresStore::connect_with(&app_url, migrating).await.is_err(),
        "the application role cannot create schemas"
    );
    client.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invalid_schema_name_is_refused_before_anything_is_sent() {
    for schema in ["Orders", "orders; DROP TABLE x", "", "1st", "a-b"] {
        let options = PostgresOptions { schema: schema.to_owned(), ..PostgresOptions::default() };
        let error = PostgresStore::connect_with(&url(), options).await.unwrap_err();
        assert!(error.to_string().contains("invalid schema name"), "{schema}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_schema_of_something_else_is_refused() {
    let schema = unique_schema();
    admin()
        .await
        .batch_execute(&format!("CREATE SCHEMA {schema}; CREATE TABLE {schema}.customers (id int);"))
        .await
        .unwrap();
    let options = PostgresOptions { schema, ..PostgresOptions::default() };
    let error = PostgresStore::connect_with(&url(), options).await.unwrap_err();
    assert!(matches!(error, StoreError::NotAStore { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_recovers_after_its_connections_are_killed() {
    let schema = unique_schema();
    let application = format!("{schema}_conn");
    let app_url = format!("{}{}application_name={application}", url(), if url().contains('?') { "&" } else { "?" });
    let options = PostgresOptions { schema, ..PostgresOptions::default() };
    let store = PostgresStore::connect_with(&app_url, options).await.unwrap();
    let app = App::builder().store(store.clone()).build().await.unwrap();
    store.append("s", ExpectedVersion::Any, vec![raw("Added", "{}")]).await.unwrap();
    let terminated = admin()
        .await
        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", &[&application])
        .await
        .unwrap();
    assert!(terminated >= 1, "the store's connection was killed: {terminated} backends terminated");
    // The first use of a killed connection may fail, retryably; nothing is half-written.
    if let Err(error) = store.append("s", ExpectedVersion::Exact(1), vec![raw("Added", "{}")]).await {
        assert!(matches!(error, StoreError::Backend { retryable: true, .. }), "{error:?}");
    }
    let mut recovered = false;
    for _ in 0..20 {
        if let Ok(events) = store.read_stream("s", 1, 10).await {
            assert!(events.len() <= 2);
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the store works again once new connections are made");
    let version = store.read_stream("s", 1, 10).await.unwrap().len() as u64;
    store.append("s", ExpectedVersion::Exact(version), vec![raw("Added", "{}")]).await.expect("appends work again");
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_projections_are_woken_by_notifications() {
    // The writer is another store on the same schema, with connections of its own, as
    // another process would be: only LISTEN/NOTIFY can tell the first one of its append.
    let schema = unique_schema();
    let store = store_in(&schema).await;
    let mut head = store.subscribe().expect("the store notifies");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let writer = store_in(&schema).await;
    let outcome = writer.append("s", ExpectedVersion::Any, vec![raw("Added", "{}")]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        while *head.borrow_and_update() < outcome.positions[0] {
            head.changed().await.unwrap();
        }
    })
    .await
    .expect("a notification arrives");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coalesced_appends_succeed_or_fail_one_by_one() {
    let store = fresh_store().await;
    let stored = raw("Added", "{}");
    store.append("dup", ExpectedVersion::Any, vec![stored.clone()]).await.unwrap();
    // Sent together, so that the writer gathers them into one call: one winner on the
    // contested stream, every disjoint stream written, the partial duplicate refused alone.
    let mut tasks = Vec::new();
    for index in 0..24 {
        let store = store.clone();
        let stored = stored.clone();
        tasks.push(tokio::spawn(async move {
            match index % 3 {
                0 => {
                    ("contested", store.append("contested", ExpectedVersion::NoStream, vec![raw("Added", "{}")]).await)
                }
                1 => (
                    "disjoint",
                    store
                        .append(&format!("disjoint-{index}"), ExpectedVersion::NoStream, vec![raw("Added", "{}")])
                        .await,
                ),
                _ => ("duplicate", store.append("dup", ExpectedVersion::Any, vec![raw("Added", "{}"), stored]).await),
            }
        }));
    }
    let (mut won, mut conflicts, mut disjoint, mut duplicates) = (0, 0, 0, 0);
    for task in tasks {
        match task.await.unwrap() {
            ("contested", Ok(_)) => won += 1,
            ("contested", Err(StoreError::Conflict { actual: 1, .. })) => conflicts += 1,
            ("disjoint", Ok(outcome)) => {
                assert_eq!(outcome.first_version, 1);
                disjoint += 1;
            }
            ("duplicate", Err(StoreError::DuplicateEvent { event_id, .. })) if event_id == stored.id => duplicates += 1,
            (kind, other) => panic!("{kind}: {other:?}"),
        }
    }
    assert_eq!((won, conflicts, disjoint, duplicates), (1, 7, 8, 8));
    assert_eq!(store.read_stream("dup", 1, 10).await.unwrap().len(), 1, "refused appends wrote nothing");
    assert_eq!(store.read_stream("contested", 1, 10).await.unwrap().len(), 1);
}

/// Every append path stores each event's namespace, and an event without one as NULL: the
/// function (`Any`), the plain statement (`Exact`), the coalesced statement and function
/// (appends sent together), and `COPY` (128 events or more).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_append_path_stores_the_namespace() {
    let store = fresh_store().await;
    let pair = || vec![raw("Added", "{}").in_namespace("Ledger"), raw("Added", "{}")];
    store.append("function", ExpectedVersion::Any, pair()).await.unwrap();
    store.append("statement", ExpectedVersion::NoStream, pair()).await.unwrap();
    let copied: Vec<NewEvent> = (0..200)
        .map(|index| if index % 2 == 0 { raw("Added", "{}").in_namespace("Ledger") } else { raw("Added", "{}") })
        .collect();
    store.append("copy", ExpectedVersion::NoStream, copied).await.unwrap();
    let mut together = Vec::new();
    for index in 0..16 {
        let store = store.clone();
        let expected = if index % 2 == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Any };
        together.push(tokio::spawn(async move { store.append(&format!("together-{index}"), expected, pair()).await }));
    }
    for task in together {
        task.await.unwrap().unwrap();
    }
    let mut streams = vec!["function".to_owned(), "statement".to_owned(), "copy".to_owned()];
    streams.extend((0..16).map(|index| format!("together-{index}")));
    for stream in streams {
        let events = store.read_stream(&stream, 1, 1000).await.unwrap();
        assert!(events.len() >= 2, "{stream}");
        for (index, event) in events.iter().enumerate() {
            let expected = (index % 2 == 0).then_some("Ledger");
            assert_eq!(event.namespace.as_deref(), expected, "{stream} event {index}");
        }
    }
}

/// A schema made by the release before namespaces (its migrations 1 and 2, with an event
/// appended through its ten-argument append function) is migrated on connect: the old event
/// reads without a namespace, new events carry theirs, and the old function keeps working
/// for processes of the older release during an upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_schema_of_the_release_before_namespaces_is_migrated_and_keeps_reading() {
    let schema = unique_schema();
    let client = admin().await;
    client.batch_execute(&format!("CREATE SCHEMA {schema}; SET search_path = {schema};")).await.unwrap();
    client.batch_execute(include_str!("../stores/postgres/migrations/0001_initial.sql")).await.unwrap();
    client.batch_execute(include_str!("../stores/postgres/migrations/0002_append_batch.sql")).await.unwrap();
    client.batch_execute("INSERT INTO eventsmith_schema (version) VALUES (2)").await.unwrap();
    let old_append = "SELECT positions FROM eventsmith_append($1, 0::smallint, 0::bigint, ARRAY[gen_random_uuid()], \
                      ARRAY['Added'], ARRAY[1], ARRAY['{}'::bytea], ARRAY[NULL::bytea], 'old_channel', 7::bigint)";
    client.query(old_append, &[&"Order-1"]).await.unwrap();

    let store = store_in(&schema).await;
    let version: i32 = client.query_one("SELECT max(version) FROM eventsmith_schema", &[]).await.unwrap().get(0);
    assert_eq!(version, 3);
    store
        .append("Order-1", ExpectedVersion::Exact(1), vec![raw("Added", "{}").in_namespace("OrderEvent")])
        .await
        .unwrap();
    client.query(old_append, &[&"Order-1"]).await.expect("the older release's function still appends");
    let namespaces: Vec<Option<String>> =
        store.read_stream("Order-1", 1, 10).await.unwrap().into_iter().map(|event| event.namespace).collect();
    assert_eq!(namespaces, [None, Some("OrderEvent".to_owned()), None]);
    assert_eq!(store.read_all(1, 10, &["Added"]).await.unwrap().len(), 3);
}
