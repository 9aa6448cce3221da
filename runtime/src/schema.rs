//! The shapes of stored data as JSON Schema: of each event type at each version (for the
//! schema lock), and of aggregate states (for snapshot fingerprints).

/// The JSON Schema of one stored event type at one version.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSchema {
    /// The stored type name.
    pub name: &'static str,
    /// The version.
    pub version: u32,
    /// The schema of its payload.
    pub schema: serde_json::Value,
}

/// The schema of every (name, version) an event enum reads. Implemented by
/// `#[derive(Event)]`; usable when every payload (and every upcaster's old type) derives
/// `schemars::JsonSchema`. `M` is always `()`.
pub trait EventSchemas<M = ()> {
    /// The schemas, current versions and old ones.
    fn event_schemas() -> Vec<EventSchema>;
}

/// The JSON Schema of a payload, for the schema lock: implemented for every
/// `schemars::JsonSchema` type. `M` is the marker of [`EventSchemas`], always `()`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no JSON Schema for the schema lock",
    label = "`{Self}` does not implement `schemars::JsonSchema`",
    note = "derive `schemars::JsonSchema` on `{Self}`: the schema lock compares each stored event type's shape with the committed lock file"
)]
pub trait HasSchema<M = ()> {
    /// The schema, as JSON.
    fn schema() -> serde_json::Value;
}

#[diagnostic::do_not_recommend]
impl<T: schemars::JsonSchema, M> HasSchema<M> for T {
    fn schema() -> serde_json::Value {
        shape_of::<T>()
    }
}

/// The shape of `T` as JSON Schema, and only its shape: subschemas inlined (so renaming a
/// Rust type changes nothing), titles, descriptions and examples removed (so editing doc
/// comments changes nothing).
#[must_use]
pub fn shape_of<T: schemars::JsonSchema>() -> serde_json::Value {
    let settings =
        schemars::generate::SchemaSettings::draft2020_12().with(|settings| settings.inline_subschemas = true);
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = serde_json::to_value(schema).unwrap_or_default();
    strip_annotations(&mut value);
    value
}

fn strip_annotations(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for annotation in ["title", "description", "examples", "$schema", "default"] {
                map.remove(annotation);
            }
            map.values_mut().for_each(strip_annotations);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_annotations),
        _ => {}
    }
}

/// The schema of a unit event's payload: an empty object.
#[must_use]
pub fn unit_schema() -> serde_json::Value {
    serde_json::json!({ "type": "object" })
}

/// The fingerprint of a snapshot's shape: the state's JSON Schema, hashed, with the
/// aggregate's declared snapshot revision, e.g. `r1-5f0c3a1e9b2d4c77`.
#[must_use]
pub fn state_fingerprint<S: schemars::JsonSchema>(revision: u32) -> String {
    let text = serde_json::to_string(&shape_of::<S>()).unwrap_or_default();
    format!("r{revision}-{:016x}", crate::id::fnv1a(text.as_bytes()))
}
