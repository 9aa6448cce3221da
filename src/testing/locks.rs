//! Locks on what the code commits to: the schemas of stored event types
//! ([`assert_event_schemas!`](crate::assert_event_schemas)) and the domain's catalog
//! ([`assert_catalog!`](crate::assert_catalog)), each a file in the repository that a test
//! compares with the code, rewritten only with `EVENTSMITH_BLESS=1`.

use crate::event::Event;

/// Checks an event enum's schemas against a committed lock file; see
/// [`assert_event_schemas!`](crate::assert_event_schemas).
///
/// The lock also holds the namespace the enum's events are stored in (`"$namespace"`): a
/// renamed enum whose namespace followed its name would no longer see its stored events.
///
/// # Panics
/// When a locked (name, version) changed shape, when a locked type is gone, when the
/// namespace changed, or when a type or version (or the namespace) is new and
/// `EVENTSMITH_BLESS` is not set (then it says how to accept it). With `EVENTSMITH_BLESS=1`,
/// new entries are written to the lock; changed ones still fail.
#[track_caller]
pub fn check_event_schemas<E: Event + crate::schema::EventSchemas>(enum_name: &str, lock_path: &str) {
    check_schema_lock(enum_name, E::NAMESPACE, E::event_schemas(), lock_path);
}

/// [`check_event_schemas`] for the schemas `current` of an enum stored in `namespace`: what
/// [`assert_event_schemas!`](crate::assert_event_schemas) calls, so that an event type
/// without a schema is reported at the enum the macro names.
///
/// # Panics
/// As [`check_event_schemas`].
#[track_caller]
pub fn check_schema_lock(enum_name: &str, namespace: &str, current: Vec<crate::schema::EventSchema>, lock_path: &str) {
    let bless = std::env::var_os("EVENTSMITH_BLESS").is_some_and(|value| value != "0");
    let text = std::fs::read_to_string(lock_path).unwrap_or_default();
    let mut lock: serde_json::Map<String, serde_json::Value> = if text.trim().is_empty() {
        serde_json::Map::new()
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("the schema lock {lock_path} is not valid JSON: {error}"))
    };
    let locked = lock.entry(enum_name.to_owned()).or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    let Some(locked) = locked.as_object_mut() else {
        panic!("the schema lock {lock_path} holds no object under `{enum_name}`");
    };
    let key = |name: &str, version: u32| format!("{name}@v{version}");
    let mut failures = Vec::new();
    let mut added = Vec::new();
    match locked.get(NAMESPACE_KEY) {
        Some(serde_json::Value::String(stored)) if stored == namespace => {}
        Some(stored) => failures.push(format!(
            "the enum's events are stored in namespace {stored}, but the code now writes them in `{}`: projections \
             would no longer see the events stored before. Keep the stored namespace with \
             `#[event(namespace = {stored})]` on the enum.",
            namespace
        )),
        None => added.push((NAMESPACE_KEY.to_owned(), serde_json::Value::String(namespace.to_owned()))),
    }
    for schema in &current {
        let entry = key(schema.name, schema.version);
        match locked.get(&entry) {
            Some(stored) if *stored == schema.schema => {}
            Some(stored) => failures.push(format!(
                "`{entry}` changed shape since it was locked. Events already stored at this version would decode \
                 wrong or not at all. Keep this version's type as it was: give the variant `version = {}`, keep the \
                 old struct as `upcast(from = {}, with = ...)`, and run with EVENTSMITH_BLESS=1 to lock the new \
                 version.\n{}",
                schema.version + 1,
                schema.version,
                line_diff(&pretty(stored), &pretty(&schema.schema))
            )),
            None => added.push((entry, schema.schema.clone())),
        }
    }
    for entry in locked.keys().filter(|entry| *entry != NAMESPACE_KEY) {
        if !current.iter().any(|schema| key(schema.name, schema.version) == *entry) {
            failures.push(format!(
                "`{entry}` is in the lock but the code no longer reads it: stored events of it would not decode. Keep \
                 the variant (mark it `#[event(deprecated)]`), or its upcaster, or an alias for a renamed type."
            ));
        }
    }
    if !added.is_empty() && failures.is_empty() && bless {
        for (entry, schema) in added.drain(..) {
            locked.insert(entry, schema);
        }
        let text = serde_json::to_string_pretty(&lock).unwrap_or_default() + "\n";
        std::fs::write(lock_path, text)
            .unwrap_or_else(|error| panic!("cannot write the schema lock {lock_path}: {error}"));
    }
    for (entry, _) in &added {
        failures.push(format!(
            "`{entry}` is new: review it, then run the tests with EVENTSMITH_BLESS=1 to add it to {lock_path}"
        ));
    }
    assert!(failures.is_empty(), "schema lock {lock_path} for `{enum_name}`:\n\n{}", failures.join("\n\n"));
}

/// Checks a domain's catalog against a committed Markdown rendering of it (see
/// [`assert_catalog!`](crate::assert_catalog)), so that a change to the domain shows in
/// review as a change to its documentation.
///
/// # Panics
/// When the rendering differs from the file (with a line diff) and `EVENTSMITH_BLESS` is not
/// set; with `EVENTSMITH_BLESS=1` the file is rewritten instead.
#[track_caller]
pub fn check_catalog(catalog: &crate::catalog::Catalog, path: &str) {
    let current = catalog.markdown();
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed == current {
        return;
    }
    if std::env::var_os("EVENTSMITH_BLESS").is_some_and(|value| value != "0") {
        std::fs::write(path, current).unwrap_or_else(|error| panic!("cannot write the catalog {path}: {error}"));
        return;
    }
    panic!(
        "the domain's catalog differs from {path} (`-` committed, `+` the code's): review the change, then run the \
         tests with EVENTSMITH_BLESS=1 to write it\n{}",
        line_diff(&committed, &current)
    );
}

/// The lock's entry for the namespace, beside the `Name@vN` entries of the types.
const NAMESPACE_KEY: &str = "$namespace";

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A line diff of two texts: `-` lines only in the lock, `+` lines only in the code.
fn line_diff(locked: &str, current: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) = (locked.lines().collect(), current.lines().collect());
    let mut lengths = vec![vec![0_usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lengths[i][j] =
                if old[i] == new[j] { lengths[i + 1][j + 1] + 1 } else { lengths[i + 1][j].max(lengths[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            out.push_str(&format!("    {}\n", old[i]));
            (i, j) = (i + 1, j + 1);
        } else if j < new.len() && (i == old.len() || lengths[i][j + 1] >= lengths[i + 1][j]) {
            out.push_str(&format!("  + {}\n", new[j]));
            j += 1;
        } else {
            out.push_str(&format!("  - {}\n", old[i]));
            i += 1;
        }
    }
    out
}

/// Compares the JSON Schema of every stored event type and version of an event enum with a
/// committed lock file (a path relative to the crate's manifest), failing on a changed shape
/// without a new version. New types and versions are written with `EVENTSMITH_BLESS=1`.
///
/// ```no_run
/// # use eventsmith::prelude::*;
/// # #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
/// # pub struct Opened { pub id: u32 }
/// # #[derive(Event, Debug, Clone, PartialEq)]
/// # pub enum DoorEvent { Opened(Opened) }
/// eventsmith::assert_event_schemas!(DoorEvent, "events.lock.json");
/// ```
#[macro_export]
macro_rules! assert_event_schemas {
    ($event:ty, $lock:expr) => {
        $crate::testing::check_schema_lock(
            ::core::stringify!($event),
            <$event as $crate::event::Event>::NAMESPACE,
            <$event as $crate::schema::EventSchemas>::event_schemas(),
            &::std::format!("{}/{}", ::core::env!("CARGO_MANIFEST_DIR"), $lock),
        )
    };
}

/// Compares an app's [catalog](crate::catalog::Catalog), rendered as Markdown, with a
/// committed file (a path relative to the crate's manifest); `EVENTSMITH_BLESS=1` rewrites
/// the file. See [`check_catalog`](crate::testing::check_catalog).
///
/// ```no_run
/// # use eventsmith::prelude::*;
/// let catalog = App::builder().catalog(); // with your `.aggregate::<..>()` and projections
/// eventsmith::assert_catalog!(catalog, "docs/domain-catalog.md");
/// ```
#[macro_export]
macro_rules! assert_catalog {
    ($catalog:expr, $path:expr) => {
        $crate::testing::check_catalog(&$catalog, &::std::format!("{}/{}", ::core::env!("CARGO_MANIFEST_DIR"), $path))
    };
}
