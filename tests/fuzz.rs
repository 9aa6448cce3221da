//! Fuzzing what eventsmith reads from outside: stored payloads under every name and version
//! (random bytes, random and truncated JSON, huge numbers, deep nesting, wrong types), the
//! `{type, data}` command and query envelopes, rows of a SQLite store written around the
//! store (any type, version, payload and metadata bytes), and SQLite files with corrupted
//! pages. Nothing may panic or hang; everything is read or refused with a typed error.
//!
//! Each property runs `EVENTSMITH_FUZZ_CASES` cases (256 by default, what CI runs); set it
//! higher to fuzz longer, e.g. `EVENTSMITH_FUZZ_CASES=100000 cargo test --test fuzz`.

use std::time::Duration;

use eventsmith::prelude::*;
use eventsmith::store::NewEvent;
use eventsmith::{CommandEnvelope, DecodeError, SqliteStore};
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    pub id: u64,
    pub label: String,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moved {
    pub id: u64,
    pub to: (i32, i32),
    pub note: Option<String>,
}

#[derive(Deserialize)]
pub struct MovedV1 {
    pub id: u64,
    pub to: String,
}

fn from_v1(old: MovedV1) -> Result<Moved, String> {
    let (x, y) = old.to.split_once(',').ok_or("no comma")?;
    let coordinate = |text: &str| text.trim().parse::<i32>().map_err(|error| error.to_string());
    Ok(Moved { id: old.id, to: (coordinate(x)?, coordinate(y)?), note: None })
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum ThingEvent {
    #[event(aliases("opened"))]
    Opened(Opened),
    #[event(version = 2, upcast(from = 1, with = MovedV1, via = from_v1))]
    Moved(Moved),
    Closed,
}

#[derive(Command, Debug, Clone, Deserialize)]
#[command(aggregate = Thing)]
pub struct Open {
    #[command(id)]
    pub id: u64,
    pub label: String,
}

#[derive(CommandEnvelope, Debug)]
pub enum ThingCommand {
    Open(Open),
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default)]
pub struct Thing;

#[aggregate(event = ThingEvent, error = Never, ignore(Moved, ThingEvent::Closed))]
impl Thing {
    #[command]
    fn open(&self, command: Open) -> Result<Opened, Never> {
        Ok(Opened { id: command.id, label: command.label, tags: Vec::new() })
    }

    #[apply]
    fn opened(&mut self, _: &Opened) {}
}

fn cases() -> u32 {
    std::env::var("EVENTSMITH_FUZZ_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(256)
}

/// Any JSON value: scalars at the leaves (with numbers far beyond every integer type),
/// arrays and objects above them.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |number| number.is_finite()).prop_map(serde_json::Value::from),
        "[a-z0-9 ,-]{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::json!(1e308)),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![Just("id".to_owned()), Just("label".to_owned()), Just("to".to_owned()), "[a-z]{1,6}"],
                inner,
                0..6,
            )
            .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A stored name: the enum's names and alias, and others.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Opened".to_owned()),
        Just("opened".to_owned()),
        Just("Moved".to_owned()),
        Just("Closed".to_owned()),
        "[A-Za-z]{0,10}"
    ]
}

/// Decoding gives an event or a typed error, never a panic.
fn decodes_or_refuses(name: &str, version: u32, payload: &[u8]) {
    match ThingEvent::decode(name, version, payload) {
        Ok(_)
        | Err(
            DecodeError::UnknownType { .. }
            | DecodeError::UnknownVersion { .. }
            | DecodeError::Payload { .. }
            | DecodeError::Upcast { .. },
        ) => {}
        Err(other) => panic!("an unexpected error decoding {name}@v{version}: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_under_any_name_and_version(name in name(), version in 0u32..4, payload in prop::collection::vec(any::<u8>(), 0..256)) {
        decodes_or_refuses(&name, version, &payload);
    }

    #[test]
    fn random_json_under_any_name_and_version(name in name(), version in 0u32..4, value in json()) {
        decodes_or_refuses(&name, version, value.to_string().as_bytes());
    }

    #[test]
    fn truncated_payloads(version in 1u32..3, cut in 0usize..80) {
        let whole = br#"{"id": 18446744073709551615, "label": "x", "tags": ["a", "b"], "to": "1,2"}"#;
        decodes_or_refuses("Opened", version, &whole[..cut.min(whole.len())]);
        decodes_or_refuses("Moved", version, &whole[..cut.min(whole.len())]);
    }

    #[test]
    fn upcasts_of_any_old_payload(id in any::<u64>(), to in ".{0,16}") {
        let payload = serde_json::json!({ "id": id, "to": to }).to_string();
        decodes_or_refuses("Moved", 1, payload.as_bytes());
    }

    #[test]
    fn command_envelopes_of_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = ThingCommand::from_json(&bytes);
    }

    #[test]
    fn command_envelopes_of_random_json(kind in prop_oneof![Just("Open".to_owned()), "[A-Za-z]{0,8}"], data in json()) {
        let envelope = serde_json::json!({ "type": kind, "data": data }).to_string();
        match ThingCommand::from_json(envelope.as_bytes()) {
            Ok(ThingCommand::Open(_)) => prop_assert_eq!(kind, "Open"),
            Err(DecodeError::UnknownType { .. } | DecodeError::Payload { .. } | DecodeError::Envelope { .. }) => {}
            Err(other) => panic!("an unexpected error: {other:?}"),
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    for depth in [100, 1_000, 100_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let object = format!(r#"{{"id": 1, "label": "x", "tags": {nested}}}"#);
        decodes_or_refuses("Opened", 1, object.as_bytes());
        let _ = ThingCommand::from_json(format!(r#"{{"type": "Open", "data": {nested}}}"#).as_bytes());
    }
}

fn temporary(name: &str) -> std::path::PathBuf {
    let directory = std::env::temp_dir().join(format!("eventsmith-fuzz-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory.join("events.db")
}

/// Rows written around the store, with any type, version, payload and metadata: the store and
/// the app read each as an event or a typed error.
#[test]
fn rows_written_around_the_store() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let path = temporary("rows");
    runtime.block_on(async { drop(SqliteStore::open(&path).await.unwrap()) });
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: cases() / 4,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (
        name(),
        any::<i64>(),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        prop::option::of(json()),
    );
    let version = std::cell::Cell::new(0);
    runner
        .run(&strategy, |(name, event_version, payload, metadata, json_metadata)| {
            version.set(version.get() + 1);
            let version = version.get();
            let connection = rusqlite::Connection::open(&path).unwrap();
            let metadata = json_metadata.map(|value| value.to_string().into_bytes()).or(metadata);
            connection
                .execute(
                    "INSERT INTO events (event_id, stream_id, stream_version, event_type, event_version, payload, metadata, recorded_at)
                     VALUES (randomblob(16), 'Thing-1', ?1, ?2, ?3, ?4, ?5, 0)",
                    rusqlite::params![version, name, event_version, payload, metadata],
                )
                .unwrap();
            drop(connection);
            runtime.block_on(async {
                let read = tokio::time::timeout(Duration::from_secs(10), async {
                    let store = SqliteStore::open(&path).await.unwrap();
                    let _ = store.read_all(1, 1_000, &[]).await;
                    let _ = store.read_stream("Thing-1", 1, 1_000).await;
                    let app = App::builder().store(store).aggregate::<Thing>().build().await.unwrap();
                    let _ = app.load::<Thing>(1).await;
                });
                read.await.expect("reading never hangs");
            });
            Ok(())
        })
        .unwrap();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// A store file with bytes overwritten at random (headers, pages, anywhere): opening and
/// reading it is an error or events, never a panic or a hang.
#[test]
fn corrupted_pages() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let original = temporary("pages");
    runtime.block_on(async {
        let store = SqliteStore::open(&original).await.unwrap();
        for index in 0..200u64 {
            let event = ThingEvent::Opened(Opened { id: index, label: "x".repeat(50), tags: vec!["t".into()] });
            store
                .append(&format!("Thing-{index}"), ExpectedVersion::NoStream, vec![NewEvent::encode(&event).unwrap()])
                .await
                .unwrap();
        }
    });
    let bytes = std::fs::read(&original).unwrap();
    let copy = original.with_file_name("corrupt.db");
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: cases() / 4,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (0..bytes.len(), prop::collection::vec(any::<u8>(), 1..256));
    runner
        .run(&strategy, |(at, garbage)| {
            let mut corrupted = bytes.clone();
            let end = (at + garbage.len()).min(corrupted.len());
            corrupted[at..end].copy_from_slice(&garbage[..end - at]);
            std::fs::write(&copy, &corrupted).unwrap();
            for companion in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{companion}", copy.display()));
            }
            runtime.block_on(async {
                let read = tokio::time::timeout(Duration::from_secs(10), async {
                    if let Ok(store) = SqliteStore::open(&copy).await {
                        let _ = store.read_all(1, 1_000, &[]).await;
                        let _ = store.read_stream("Thing-7", 1, 10).await;
                    }
                });
                read.await.expect("reading never hangs");
            });
            Ok(())
        })
        .unwrap();
    let _ = std::fs::remove_dir_all(original.parent().unwrap());
}
