//! The domain catalog: every aggregate with the commands it handles and the events they
//! produce, every event type with its versions, aliases, upcasters, deprecation and JSON
//! Schema, and every projection with the events it consumes and the queries it answers, as
//! the macros wrote them down. [`App::catalog`](crate::App::catalog) returns it; it renders
//! as Markdown with a Mermaid diagram ([`Catalog::markdown`]) and serializes as JSON.

use std::fmt::Write as _;

use serde::Serialize;

pub use crate::described::{CommandEntry, QueryEntry, short_type_name, short_type_name_of};
pub use crate::event::TypeHistory;
use crate::event::{Event, EventEnumInfo, EventType};
use crate::projection::StoredAs;
use crate::schema::{EventSchema, EventSchemas};

/// A domain, as the macros describe it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Catalog {
    /// The registered aggregates, in registration order.
    pub aggregates: Vec<AggregateEntry>,
    /// The event enums of the registered aggregates and projections, each once, in the order
    /// they were first registered.
    pub events: Vec<EventEnumEntry>,
    /// The registered projections, in registration order.
    pub projections: Vec<ProjectionEntry>,
}

/// An aggregate and the commands it decides on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateEntry {
    /// Its stable name, the prefix of its stream ids.
    pub name: &'static str,
    /// Its Rust type, without the module path.
    pub rust_type: String,
    /// The Rust type of its event enum.
    pub event_enum: String,
    /// The namespace its events are stored in.
    pub namespace: &'static str,
    /// A snapshot is stored every this many events (0: never).
    pub snapshot_every: u64,
    /// Its `#[command]` handlers, in the order of the impl block.
    pub commands: Vec<CommandEntry>,
}

/// An event enum: the namespace its events are stored in, and its types.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventEnumEntry {
    /// The enum's Rust type, without the module path.
    pub rust_type: String,
    /// The namespace its events are stored in.
    pub namespace: &'static str,
    /// Its event types, in declaration order.
    pub types: Vec<EventTypeEntry>,
}

impl EventEnumEntry {
    /// The entry of enum `E`.
    #[must_use]
    pub fn of<E: Event>() -> Self {
        Self::from_info(&EventEnumInfo::of::<E>())
    }

    /// The entry of the enum `info` describes.
    #[must_use]
    pub fn from_info(info: &EventEnumInfo) -> Self {
        let mut schemas = (info.schemas)().unwrap_or_default();
        let types = info
            .types
            .iter()
            .enumerate()
            .map(|(index, event_type)| {
                let history = info.history.get(index).copied().unwrap_or_default();
                EventTypeEntry::new(event_type, history, &mut schemas)
            })
            .collect();
        Self { rust_type: short_type_name_of(info.rust_type), namespace: info.namespace, types }
    }
}

/// One event type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventTypeEntry {
    /// The stored name.
    pub name: &'static str,
    /// The version written today.
    pub version: u32,
    /// Old names stored events may still carry.
    pub aliases: &'static [&'static str],
    /// The older versions an upcaster reads, oldest first.
    pub upcast_from: &'static [u32],
    /// Whether it is `#[event(deprecated)]`: still read, no longer written.
    pub deprecated: bool,
    /// The JSON Schema of its payload at each version it reads, newest first; empty when the
    /// payloads do not derive `schemars::JsonSchema`.
    pub schemas: Vec<VersionSchema>,
}

impl EventTypeEntry {
    fn new(event_type: &EventType, history: TypeHistory, schemas: &mut Vec<EventSchema>) -> Self {
        let mut own: Vec<VersionSchema> = Vec::new();
        schemas.retain(|schema| {
            let mine = schema.name == event_type.name;
            if mine {
                own.push(VersionSchema { version: schema.version, schema: schema.schema.clone() });
            }
            !mine
        });
        own.sort_by_key(|schema| std::cmp::Reverse(schema.version));
        Self {
            name: event_type.name,
            version: event_type.version,
            aliases: event_type.aliases,
            upcast_from: history.upcast_from,
            deprecated: history.deprecated,
            schemas: own,
        }
    }
}

/// The JSON Schema of an event type's payload at one version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionSchema {
    /// The version.
    pub version: u32,
    /// The schema.
    pub schema: serde_json::Value,
}

/// A projection: where its read model lives, what it consumes and what it answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionEntry {
    /// Its stable name, the key of its checkpoint.
    pub name: &'static str,
    /// The read model's Rust type, without the module path.
    pub rust_type: String,
    /// Where its read model lives.
    pub kind: ProjectionKind,
    /// The event types it applies, in the order of its `#[apply]` methods.
    pub events: Vec<ConsumedEvent>,
    /// The queries it answers, in the order of its `#[query]` methods.
    pub queries: Vec<QueryEntry>,
}

impl ProjectionEntry {
    /// The entry of a projection named `name` with read model `P`.
    #[must_use]
    pub fn of<P: ?Sized>(
        name: &'static str,
        kind: ProjectionKind,
        applies: &[StoredAs],
        queries: Vec<QueryEntry>,
    ) -> Self {
        let events = applies
            .iter()
            .filter_map(|stored| Some(ConsumedEvent { namespace: stored.namespace, name: stored.names.first()? }))
            .collect();
        Self { name, rust_type: short_type_name::<P>(), kind, events, queries }
    }
}

/// Where a projection's read model lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "form")]
pub enum ProjectionKind {
    /// A value in the memory of each process that runs it.
    InMemory {
        /// Whether its state is saved with its checkpoint (`#[projection(persist)]`).
        persisted: bool,
    },
    /// One document per key in a database.
    Documents {
        /// The fields it can be filtered on.
        indexed: &'static [&'static str],
        /// Whether it is updated in the appends' own transaction.
        inline: bool,
    },
    /// Tables of its own in a SQL database.
    Sql {
        /// Whether it is updated in the appends' own transaction.
        inline: bool,
    },
}

impl ProjectionKind {
    fn describe(&self) -> String {
        match self {
            Self::InMemory { persisted: false } => "in memory".to_owned(),
            Self::InMemory { persisted: true } => "in memory, persisted".to_owned(),
            Self::Documents { indexed, inline } => {
                let mut described = "documents".to_owned();
                if !indexed.is_empty() {
                    described += &format!(", indexed on {}", code_list(indexed.iter()));
                }
                if *inline {
                    described += ", inline";
                }
                described
            }
            Self::Sql { inline: false } => "SQL tables".to_owned(),
            Self::Sql { inline: true } => "SQL tables, inline".to_owned(),
        }
    }
}

/// An event type a projection applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumedEvent {
    /// Its enum's namespace.
    pub namespace: &'static str,
    /// Its stored name.
    pub name: &'static str,
}

/// The schemas of an enum whose payloads derive `schemars::JsonSchema`, and none otherwise:
/// what `#[derive(Event)]` writes into [`Event::catalog_schemas`], by method resolution on
/// `&&MaybeSchemas::<E>::NEW` (the first candidate needs `E: EventSchemas`).
#[doc(hidden)]
pub struct MaybeSchemas<E>(std::marker::PhantomData<E>);

impl<E> MaybeSchemas<E> {
    /// The probe.
    pub const NEW: Self = Self(std::marker::PhantomData);
}

/// The candidate taken when the enum has schemas.
#[doc(hidden)]
pub trait SchemasIfAny {
    /// The enum's schemas.
    fn maybe_schemas(&self) -> Option<Vec<EventSchema>>;
}

impl<E: EventSchemas> SchemasIfAny for &MaybeSchemas<E> {
    fn maybe_schemas(&self) -> Option<Vec<EventSchema>> {
        Some(E::event_schemas())
    }
}

/// The candidate taken when it has none.
#[doc(hidden)]
pub trait NoSchemas {
    /// None.
    fn maybe_schemas(&self) -> Option<Vec<EventSchema>> {
        None
    }
}

impl<E> NoSchemas for MaybeSchemas<E> {}

impl Catalog {
    /// The Mermaid node of the event type `name` of `namespace`: `e{enum}_{type}`.
    fn event_node(&self, namespace: &str, name: &str) -> Option<String> {
        self.events.iter().enumerate().find_map(|(index, events)| {
            let position = events.types.iter().position(|event_type| event_type.name == name)?;
            (events.namespace == namespace).then(|| format!("e{index}_{position}"))
        })
    }

    /// The domain as a Mermaid flowchart: commands -> aggregates -> events -> projections ->
    /// queries.
    #[must_use]
    pub fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        let mut edges: Vec<String> = Vec::new();
        let mut edge = |from: &str, arrow: &str, to: &str| {
            let edge = format!("    {from} {arrow} {to}\n");
            if !edges.contains(&edge) {
                edges.push(edge);
            }
        };
        for (index, aggregate) in self.aggregates.iter().enumerate() {
            let node = format!("a{index}");
            let _ = writeln!(out, "    {node}{{{{\"{}\"}}}}", label(aggregate.name));
            for (position, command) in aggregate.commands.iter().enumerate() {
                let command_node = format!("c{index}_{position}");
                let _ = writeln!(out, "    {command_node}[/\"{}\"/]", label(&command.rust_type));
                edge(&command_node, "-->", &node);
                for produced in &command.produces {
                    if let Some(event) = self.event_node(aggregate.namespace, produced) {
                        edge(&node, "-->", &event);
                    }
                }
            }
        }
        for (index, events) in self.events.iter().enumerate() {
            for (position, event_type) in events.types.iter().enumerate() {
                let deprecated = if event_type.deprecated { ", deprecated" } else { "" };
                let _ = writeln!(
                    out,
                    "    e{index}_{position}([\"{} v{}{deprecated}\"])",
                    label(event_type.name),
                    event_type.version
                );
            }
        }
        for (index, projection) in self.projections.iter().enumerate() {
            let node = format!("p{index}");
            let _ = writeln!(out, "    {node}[(\"{}\")]", label(projection.name));
            for event in &projection.events {
                if let Some(event) = self.event_node(event.namespace, event.name) {
                    edge(&event, "-->", &node);
                }
            }
            for (position, query) in projection.queries.iter().enumerate() {
                let query_node = format!("q{index}_{position}");
                let _ = writeln!(out, "    {query_node}[\\\"{}\"\\]", label(&query.rust_type));
                edge(&node, "-.->", &query_node);
            }
        }
        for edge in edges {
            out.push_str(&edge);
        }
        out
    }

    /// The catalog as a Markdown page: the diagram, then a section each for aggregates,
    /// events and projections. The same catalog always renders to the same text, so a
    /// committed copy can be checked by a test.
    #[must_use]
    pub fn markdown(&self) -> String {
        let mut out = String::from("# Domain catalog\n\n");
        out.push_str("Generated by eventsmith from the domain's code (`App::catalog`). Commands go to the aggregate ");
        out.push_str("that handles them, which writes events; projections apply events and answer queries.\n\n");
        let _ = write!(out, "```mermaid\n{}```\n", self.mermaid());
        self.aggregates_markdown(&mut out);
        self.events_markdown(&mut out);
        self.projections_markdown(&mut out);
        out
    }

    fn aggregates_markdown(&self, out: &mut String) {
        if self.aggregates.is_empty() {
            return;
        }
        out.push_str("\n## Aggregates\n");
        for aggregate in &self.aggregates {
            let _ = write!(
                out,
                "\n### {}\n\nRust type `{}`; streams `{}-<id>`; events `{}` (namespace `{}`)",
                aggregate.name, aggregate.rust_type, aggregate.name, aggregate.event_enum, aggregate.namespace
            );
            match aggregate.snapshot_every {
                0 => out.push_str(".\n"),
                every => {
                    let _ = writeln!(out, "; a snapshot every {every} events.");
                }
            }
            if aggregate.commands.is_empty() {
                out.push_str("\nIt handles no commands.\n");
                continue;
            }
            out.push_str("\n| command | expects the stream | may produce |\n|---|---|---|\n");
            for command in &aggregate.commands {
                let expects = match command.expects {
                    "new" => "empty (it creates the aggregate)",
                    "existing" => "to exist",
                    _ => "anything",
                };
                let _ =
                    writeln!(out, "| `{}` | {expects} | {} |", command.rust_type, code_list(command.produces.iter()));
            }
        }
    }

    fn events_markdown(&self, out: &mut String) {
        if self.events.is_empty() {
            return;
        }
        out.push_str("\n## Events\n");
        for events in &self.events {
            let _ = write!(
                out,
                "\n### {} (namespace `{}`)\n\n| type | version | read under | upcast from | consumed by |\n|---|---|---|---|---|\n",
                events.rust_type, events.namespace
            );
            for event_type in &events.types {
                let name = if event_type.deprecated {
                    format!("`{}` (deprecated)", event_type.name)
                } else {
                    format!("`{}`", event_type.name)
                };
                let upcasts: Vec<String> = event_type.upcast_from.iter().map(|from| format!("v{from}")).collect();
                let consumers: Vec<&str> = self
                    .projections
                    .iter()
                    .filter(|projection| {
                        projection
                            .events
                            .iter()
                            .any(|event| event.namespace == events.namespace && event.name == event_type.name)
                    })
                    .map(|projection| projection.name)
                    .collect();
                let _ = writeln!(
                    out,
                    "| {name} | {} | {} | {} | {} |",
                    event_type.version,
                    code_list(event_type.aliases.iter()),
                    dash_if_empty(&upcasts.join(", ")),
                    code_list(consumers.iter()),
                );
            }
            for event_type in events.types.iter().filter(|event_type| !event_type.schemas.is_empty()) {
                let _ = write!(out, "\n<details><summary><code>{}</code> schemas</summary>\n\n", event_type.name);
                for version in &event_type.schemas {
                    let schema = serde_json::to_string_pretty(&version.schema).unwrap_or_default();
                    let _ = write!(out, "Version {}:\n\n```json\n{schema}\n```\n\n", version.version);
                }
                out.push_str("</details>\n");
            }
        }
    }

    fn projections_markdown(&self, out: &mut String) {
        if self.projections.is_empty() {
            return;
        }
        out.push_str("\n## Projections\n");
        for projection in &self.projections {
            let events: Vec<&str> = projection.events.iter().map(|event| event.name).collect();
            let _ = write!(
                out,
                "\n### {}\n\nRead model `{}`, {}; applies {}.\n",
                projection.name,
                projection.rust_type,
                projection.kind.describe(),
                code_list(events.iter())
            );
            if projection.queries.is_empty() {
                continue;
            }
            out.push_str("\n| query | answer |\n|---|---|\n");
            for query in &projection.queries {
                let _ = writeln!(out, "| `{}` | `{}` |", query.rust_type, query.answer.replace('|', "\\|"));
            }
        }
    }
}

/// `a`, `b` as Markdown code, or a dash.
fn code_list<'a>(items: impl Iterator<Item = &'a &'a str>) -> String {
    dash_if_empty(&items.map(|item| format!("`{item}`")).collect::<Vec<_>>().join(", "))
}

fn dash_if_empty(text: &str) -> String {
    if text.is_empty() { "–".to_owned() } else { text.to_owned() }
}

/// A Mermaid label between double quotes: quotes and angle brackets as entity codes (a
/// generic type's `<T>` would be taken for markup).
fn label(text: &str) -> String {
    text.replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;")
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn type_names_lose_their_module_paths() {
        assert_eq!(short_type_name::<Option<Vec<std::string::String>>>(), "Option<Vec<String>>");
        assert_eq!(short_type_name::<(u8, std::time::Duration)>(), "(u8, Duration)");
        assert_eq!(short_type_name::<[std::sync::Arc<str>; 2]>(), "[Arc<str>; 2]");
        assert_eq!(short_type_name::<&dyn std::fmt::Debug>(), "&dyn Debug");
    }
}
