//! Event evolution: old versions decode through their upcasters, old names through aliases,
//! deprecated events are read but never written, and the schema lock catches a changed
//! shape. The fixtures in `tests/fixtures/evolution/` are stored events of older versions,
//! written once and kept: they must go on decoding.

use std::panic::{AssertUnwindSafe, catch_unwind};

use eventsmith::prelude::*;
use eventsmith::store::NewEvent;
use eventsmith::{DecodeError, Error, ExecuteError};

/// Version 1: one name field.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct RegisteredV1 {
    pub name: String,
}

/// Version 2: the name split in two.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct RegisteredV2 {
    pub first: String,
    pub last: String,
}

/// Version 3, the current one: an optional email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Registered {
    pub first: String,
    pub last: String,
    pub email: Option<String>,
}

impl From<RegisteredV2> for Registered {
    fn from(old: RegisteredV2) -> Self {
        Self { first: old.first, last: old.last, email: None }
    }
}

/// Version 1 to 2 needs logic and can fail: a name without a space cannot be split.
fn split_name(old: RegisteredV1) -> Result<RegisteredV2, String> {
    match old.name.split_once(' ') {
        Some((first, last)) => Ok(RegisteredV2 { first: first.to_owned(), last: last.to_owned() }),
        None => Err(format!("`{}` has no last name", old.name)),
    }
}

/// Retired: still read, never written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Renamed {
    pub name: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum UserEvent {
    #[event(
        name = "UserRegistered",
        version = 3,
        aliases("user_registered"),
        upcast(from = 1, with = RegisteredV1, via = split_name),
        upcast(from = 2, with = RegisteredV2)
    )]
    Registered(Registered),
    #[event(name = "UserRenamed", deprecated)]
    Renamed(Renamed),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = User)]
pub struct Rename {
    #[command(id)]
    pub id: u32,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default)]
pub struct User {
    name: String,
}

#[aggregate(event = UserEvent, error = Never)]
impl User {
    /// Returns the enum, so the compiler cannot see the deprecated variant; the App refuses it.
    #[command]
    fn rename(&self, command: &Rename) -> Result<UserEvent, Never> {
        Ok(UserEvent::Renamed(Renamed { name: command.name.clone() }))
    }

    #[apply]
    fn registered(&mut self, event: &Registered) {
        self.name = format!("{} {}", event.first, event.last);
    }

    #[apply]
    fn renamed(&mut self, event: &Renamed) {
        self.name.clone_from(&event.name);
    }
}

#[derive(Deserialize)]
struct Fixture {
    #[serde(rename = "type")]
    event_type: String,
    version: u32,
    payload: serde_json::Value,
}

fn fixture(name: &str) -> (String, u32, Vec<u8>) {
    let path = format!("{}/tests/fixtures/evolution/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("fixture {path}: {error}"));
    let fixture: Fixture = serde_json::from_str(&text).unwrap();
    (fixture.event_type, fixture.version, serde_json::to_vec(&fixture.payload).unwrap())
}

fn decode_fixture(name: &str) -> Result<UserEvent, DecodeError> {
    let (event_type, version, payload) = fixture(name);
    UserEvent::decode(&event_type, version, &payload)
}

#[test]
fn version_1_under_its_old_name_decodes_through_both_upcasters() {
    let expected = Registered { first: "Ada".into(), last: "Lovelace".into(), email: None };
    assert_eq!(decode_fixture("user_registered_v1").unwrap(), UserEvent::Registered(expected));
}

#[test]
fn version_2_decodes_through_the_last_upcaster() {
    let expected = Registered { first: "Grace".into(), last: "Hopper".into(), email: None };
    assert_eq!(decode_fixture("user_registered_v2").unwrap(), UserEvent::Registered(expected));
}

#[test]
fn the_current_version_decodes_as_it_is() {
    let expected = Registered { first: "Barbara".into(), last: "Liskov".into(), email: Some("bl@example.org".into()) };
    assert_eq!(decode_fixture("user_registered_v3").unwrap(), UserEvent::Registered(expected));
}

#[test]
fn a_deprecated_event_still_decodes() {
    assert_eq!(decode_fixture("user_renamed_v1").unwrap(), UserEvent::Renamed(Renamed { name: "Ada King".into() }));
}

#[test]
fn events_are_written_at_the_current_version_under_the_current_name() {
    let event = UserEvent::Registered(Registered { first: "a".into(), last: "b".into(), email: None });
    assert_eq!((event.event_type(), event.event_version()), ("UserRegistered", 3));
}

#[test]
fn a_version_newer_than_the_code_is_a_typed_error() {
    let error = UserEvent::decode("UserRegistered", 4, b"{}").unwrap_err();
    assert!(
        matches!(&error, DecodeError::UnknownVersion { version: 4, newest: 3, event_type } if event_type == "UserRegistered")
    );
    assert_eq!(error.to_string(), "`UserRegistered` has no version 4; the newest known version is 3");
}

#[tokio::test]
async fn a_failing_upcaster_names_the_stream_the_version_and_the_step() {
    let (event_type, version, payload) = fixture("user_registered_v1_unsplittable");
    let store = MemoryStore::new();
    let event = NewEvent::new(event_type, version, payload);
    store.append("User-1", ExpectedVersion::NoStream, vec![event]).await.unwrap();
    let app = App::builder().store(store).build().await.unwrap();
    let Err(Error::Corrupt(corrupt)) = app.load::<User>(1).await else { panic!("an upcaster failure must not load") };
    assert_eq!((corrupt.stream_id.as_str(), corrupt.stream_version, corrupt.event_version), ("User-1", 1, 1));
    let DecodeError::Upcast { from, to, message, .. } = &corrupt.source else { panic!("{corrupt}") };
    assert_eq!((*from, *to, message.as_str()), (1, 2, "`Plato` has no last name"));
    assert!(corrupt.to_string().contains("from version 1 to 2"), "{corrupt}");
}

#[tokio::test]
async fn a_deprecated_event_is_never_written() {
    let app = App::builder().store(MemoryStore::new()).build().await.unwrap();
    let error = app.execute(Rename { id: 1, name: "x".into() }).await.unwrap_err();
    assert!(matches!(error, ExecuteError::Deprecated { event_type: "UserRenamed", .. }), "{error:?}");
    assert!(app.store().read_all(1, 10, &[]).await.unwrap().is_empty());
}

fn temporary_lock(contents: &str) -> String {
    let path = std::env::temp_dir().join(format!(
        "eventsmith-lock-{}-{}.json",
        std::process::id(),
        eventsmith::id::new_event_id()
    ));
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

fn lock_failure(contents: &str) -> String {
    let path = temporary_lock(contents);
    let outcome =
        catch_unwind(AssertUnwindSafe(|| eventsmith::testing::check_event_schemas::<UserEvent>("UserEvent", &path)));
    let _ = std::fs::remove_file(&path);
    let panic = outcome.expect_err("the lock check must fail");
    panic.downcast_ref::<String>().cloned().unwrap_or_default()
}

fn current_lock() -> serde_json::Value {
    let mut entries = serde_json::Map::new();
    entries.insert("$namespace".to_owned(), "UserEvent".into());
    for schema in <UserEvent as eventsmith::schema::EventSchemas>::event_schemas() {
        entries.insert(format!("{}@v{}", schema.name, schema.version), schema.schema);
    }
    serde_json::json!({ "UserEvent": entries })
}

#[test]
fn the_lock_lists_every_stored_version() {
    let lock = current_lock();
    let mut entries: Vec<&String> = lock["UserEvent"].as_object().unwrap().keys().collect();
    entries.sort();
    assert_eq!(
        entries,
        ["$namespace", "UserRegistered@v1", "UserRegistered@v2", "UserRegistered@v3", "UserRenamed@v1"]
    );
    let path = temporary_lock(&lock.to_string());
    eventsmith::testing::check_event_schemas::<UserEvent>("UserEvent", &path);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_changed_shape_without_a_new_version_fails_with_a_diff() {
    let mut lock = current_lock();
    lock["UserEvent"]["UserRegistered@v3"]["properties"]["email"] = serde_json::json!({ "type": "integer" });
    let message = lock_failure(&lock.to_string());
    assert!(message.contains("`UserRegistered@v3` changed shape"), "{message}");
    assert!(message.contains("version = 4"), "{message}");
    assert!(message.contains("upcast(from = 3"), "{message}");
    assert!(message.contains("  - ") && message.contains("  + "), "a diff: {message}");
}

#[test]
fn a_new_version_is_refused_until_blessed() {
    let mut lock = current_lock();
    lock["UserEvent"].as_object_mut().unwrap().remove("UserRegistered@v3");
    let message = lock_failure(&lock.to_string());
    assert!(message.contains("`UserRegistered@v3` is new"), "{message}");
    assert!(message.contains("EVENTSMITH_BLESS=1"), "{message}");
}

/// A renamed enum whose namespace followed its name would lose its stored events.
#[test]
fn a_changed_namespace_fails_and_names_the_one_to_keep() {
    let mut lock = current_lock();
    lock["UserEvent"]["$namespace"] = "Users".into();
    let message = lock_failure(&lock.to_string());
    assert!(message.contains("stored in namespace \"Users\""), "{message}");
    assert!(message.contains("`#[event(namespace = \"Users\")]`"), "{message}");
}

#[test]
fn a_lock_without_a_namespace_is_refused_until_blessed() {
    let mut lock = current_lock();
    lock["UserEvent"].as_object_mut().unwrap().remove("$namespace");
    let message = lock_failure(&lock.to_string());
    assert!(message.contains("`$namespace` is new"), "{message}");
}

#[test]
fn a_locked_type_the_code_no_longer_reads_fails() {
    let mut lock = current_lock();
    lock["UserEvent"]["UserDeleted@v1"] = serde_json::json!({ "type": "object" });
    let message = lock_failure(&lock.to_string());
    assert!(message.contains("`UserDeleted@v1` is in the lock but the code no longer reads it"), "{message}");
}

#[test]
fn doc_comments_and_type_names_are_not_shape() {
    let schema = <UserEvent as eventsmith::schema::EventSchemas>::event_schemas();
    let text = serde_json::to_string(&schema.iter().map(|entry| &entry.schema).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains("description") && !text.contains("title") && !text.contains("$defs"), "{text}");
}

/// The shapes the code reads, against the lock committed beside the stored fixtures: a field
/// changed in a struct without a new version fails here (the tests above check the lock's
/// logic on locks made from the code itself).
#[test]
fn stored_shapes_match_the_committed_lock() {
    eventsmith::assert_event_schemas!(UserEvent, "tests/fixtures/evolution/events.lock.json");
}
