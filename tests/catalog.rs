//! The domain catalog (`App::catalog`): what the macros record of aggregates, commands,
//! events and projections, and its Markdown and Mermaid renderings.

use eventsmith::catalog::{Catalog, ProjectionKind};
use eventsmith::prelude::*;
use eventsmith::sql::{Sql, SqlError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Opened {
    pub owner: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Deposited {
    pub cents: u64,
}

/// `Deposited` at version 1, in dollars.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
pub struct DepositedV1 {
    pub dollars: u64,
}

impl From<DepositedV1> for Deposited {
    fn from(old: DepositedV1) -> Self {
        Self { cents: old.dollars * 100 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Flagged {
    pub reason: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
#[event(namespace = "bank")]
pub enum AccountEvent {
    #[event(aliases("account_opened"))]
    Opened(Opened),
    #[event(version = 2, upcast(from = 1, with = DepositedV1))]
    Deposited(Deposited),
    #[event(deprecated)]
    Flagged(Flagged),
    Closed,
}

/// A payload without a JSON Schema: its enum has none in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audited {
    pub by: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum AuditEvent {
    Audited(Audited),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Account, expect = new)]
pub struct Open {
    #[command(id)]
    pub id: u32,
    pub owner: String,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Account)]
pub struct Settle {
    #[command(id)]
    pub id: u32,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Account, expect = existing)]
pub struct Deposit {
    #[command(id)]
    pub id: u32,
    pub cents: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Account {
    pub balance: u64,
}

#[aggregate(event = AccountEvent, error = Never, snapshot_every = 50)]
impl Account {
    #[command]
    fn open(&self, command: Open) -> Result<Opened, Never> {
        Ok(Opened { owner: command.owner })
    }

    #[command]
    fn deposit(&self, command: Deposit) -> Result<Option<Deposited>, Never> {
        Ok((command.cents > 0).then_some(Deposited { cents: command.cents }))
    }

    /// Returns the enum: the catalog lists every type it can write (not the deprecated one).
    #[command]
    fn settle(&self, _: Settle) -> Result<Vec<AccountEvent>, Never> {
        Ok(vec![AccountEvent::Closed])
    }

    #[apply]
    fn deposited(&mut self, event: &Deposited) {
        self.balance += event.cents;
    }

    #[apply]
    fn opened(&mut self, _: &Opened) {}

    #[apply]
    fn flagged(&mut self, _: &Flagged) {}

    #[apply(AccountEvent::Closed)]
    fn closed(&mut self) {}
}

#[derive(Debug, Clone)]
pub struct Total;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    pub cents: u64,
    pub audits: u64,
}

#[projection(name = "totals", events(AccountEvent, AuditEvent), persist)]
impl Totals {
    #[apply]
    fn deposited(&mut self, event: &Recorded<Deposited>) {
        self.cents += event.cents;
    }

    #[apply]
    fn audited(&mut self, _: &Recorded<Audited>) {
        self.audits += 1;
    }

    #[query]
    fn total(&self, _: Total) -> u64 {
        self.cents
    }
}

pub struct Owners;

#[derive(Debug, Clone)]
pub struct OwnerCount;

#[projection(name = "owners", events = AccountEvent, sql(migrations = ["CREATE TABLE owners (owner TEXT)"]))]
impl Owners {
    #[apply]
    async fn opened(sql: &mut Sql<'_>, event: &Recorded<Opened>) -> Result<(), SqlError> {
        sql.execute("INSERT INTO owners (owner) VALUES ($1)", &[&event.owner]).await?;
        Ok(())
    }

    #[apply(AccountEvent::Closed)]
    async fn closed(_: &mut Sql<'_>, _: &Recorded<()>) -> Result<(), SqlError> {
        Ok(())
    }

    #[query]
    async fn count(sql: &mut Sql<'_>, _: OwnerCount) -> Result<(u64, Vec<String>), SqlError> {
        let _ = sql;
        Ok((0, Vec::new()))
    }
}

fn catalog() -> Catalog {
    App::builder().aggregate::<Account>().projection::<Totals>().inline_sql_projection::<Owners>().catalog()
}

#[test]
fn aggregates_list_their_commands_with_what_each_expects_and_produces() {
    let catalog = catalog();
    let [account] = catalog.aggregates.as_slice() else { panic!("{:?}", catalog.aggregates) };
    assert_eq!((account.name, account.rust_type.as_str()), ("Account", "Account"));
    assert_eq!((account.event_enum.as_str(), account.namespace, account.snapshot_every), ("AccountEvent", "bank", 50));
    let commands: Vec<_> = account
        .commands
        .iter()
        .map(|command| (command.rust_type.as_str(), command.expects, command.produces.clone()))
        .collect();
    assert_eq!(
        commands,
        [
            ("Open", "new", vec!["Opened"]),
            ("Deposit", "existing", vec!["Deposited"]),
            ("Settle", "any", vec!["Opened", "Deposited", "Closed"]),
        ]
    );
}

#[test]
fn events_carry_versions_aliases_upcasters_deprecation_and_schemas() {
    let catalog = catalog();
    let enums: Vec<_> = catalog.events.iter().map(|events| (events.rust_type.as_str(), events.namespace)).collect();
    // Each enum once, though the aggregate and two projections register `AccountEvent`.
    assert_eq!(enums, [("AccountEvent", "bank"), ("AuditEvent", "AuditEvent")]);
    let account = &catalog.events[0].types;
    let summary: Vec<_> = account
        .iter()
        .map(|event| (event.name, event.version, event.aliases, event.upcast_from, event.deprecated))
        .collect();
    assert_eq!(
        summary,
        [
            ("Opened", 1, &["account_opened"][..], &[][..], false),
            ("Deposited", 2, &[][..], &[1][..], false),
            ("Flagged", 1, &[][..], &[][..], true),
            ("Closed", 1, &[][..], &[][..], false),
        ]
    );
    let deposited: Vec<_> = account[1].schemas.iter().map(|schema| schema.version).collect();
    assert_eq!(deposited, [2, 1], "newest first");
    assert!(account[1].schemas[1].schema["properties"]["dollars"].is_object(), "{:?}", account[1].schemas[1]);
    assert_eq!(account[3].schemas[0].schema, serde_json::json!({"type": "object"}), "a unit variant's payload");
    assert!(catalog.events[1].types[0].schemas.is_empty(), "no JsonSchema on `Audited`, so no schema");
}

#[test]
fn projections_list_their_form_events_and_queries() {
    let catalog = catalog();
    let [totals, owners] = catalog.projections.as_slice() else { panic!("{:?}", catalog.projections) };
    assert_eq!((totals.name, totals.rust_type.as_str()), ("totals", "Totals"));
    assert_eq!(totals.kind, ProjectionKind::InMemory { persisted: true });
    let events: Vec<_> = totals.events.iter().map(|event| (event.namespace, event.name)).collect();
    assert_eq!(events, [("bank", "Deposited"), ("AuditEvent", "Audited")]);
    let queries: Vec<_> =
        totals.queries.iter().map(|query| (query.rust_type.as_str(), query.answer.as_str())).collect();
    assert_eq!(queries, [("Total", "u64")]);
    assert_eq!(owners.kind, ProjectionKind::Sql { inline: true });
    let events: Vec<_> = owners.events.iter().map(|event| event.name).collect();
    assert_eq!(events, ["Opened", "Closed"]);
    assert_eq!(owners.queries[0].answer, "(u64, Vec<String>)");
}

#[test]
fn the_diagram_draws_commands_to_aggregates_to_events_to_projections_to_queries() {
    let mermaid = catalog().mermaid();
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    for line in [
        "a0{{\"Account\"}}",
        "c0_0[/\"Open\"/]",
        "e0_2([\"Flagged v1, deprecated\"])",
        "p1[(\"owners\")]",
        "q0_0[\\\"Total\"\\]",
        "c0_0 --> a0",
        "a0 --> e0_0",
        "a0 --> e0_3",
        "e1_0 --> p0",
        "e0_3 --> p1",
        "p1 -.-> q1_0",
    ] {
        assert!(mermaid.lines().any(|drawn| drawn.trim() == line), "`{line}` missing from\n{mermaid}");
    }
    // Nothing produces the deprecated event, and each edge is drawn once.
    assert!(!mermaid.contains("a0 --> e0_2"), "{mermaid}");
    let edges: Vec<&str> = mermaid.lines().filter(|line| line.contains("-->") || line.contains("-.->")).collect();
    let mut unique = edges.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(edges.len(), unique.len(), "{mermaid}");
}

#[test]
fn the_markdown_holds_the_diagram_and_a_section_per_part() {
    let markdown = catalog().markdown();
    assert!(markdown.contains("```mermaid\nflowchart LR\n"), "{markdown}");
    for text in [
        "### Account\n\nRust type `Account`; streams `Account-<id>`; events `AccountEvent` (namespace `bank`); a snapshot every 50 events.",
        "| `Deposit` | to exist | `Deposited` |",
        "| `Flagged` (deprecated) | 1 | – | – | – |",
        "| `Deposited` | 2 | – | v1 | `totals` |",
        "Read model `Owners`, SQL tables, inline; applies `Opened`, `Closed`.",
        "| `OwnerCount` | `(u64, Vec<String>)` |",
        "<details><summary><code>Deposited</code> schemas</summary>",
    ] {
        assert!(markdown.contains(text), "`{text}` missing from\n{markdown}");
    }
    assert_eq!(markdown, catalog().markdown(), "the same catalog renders the same text");
}

#[test]
fn labels_with_quotes_and_generics_stay_labels() {
    let mut catalog = catalog();
    catalog.projections[0].queries[0].rust_type = "Page<\"Order\">".to_owned();
    let mermaid = catalog.mermaid();
    assert!(mermaid.contains("q0_0[\\\"Page#lt;#quot;Order#quot;#gt;\"\\]"), "{mermaid}");
}

#[tokio::test]
async fn a_built_app_has_the_catalog_of_its_builder() {
    let builder = App::builder().store(MemoryStore::new()).aggregate::<Account>().projection::<Totals>();
    let expected = builder.catalog();
    let app = builder.build().await.unwrap();
    assert_eq!(app.catalog(), expected);
    let json = serde_json::to_value(app.catalog()).unwrap();
    assert_eq!(json["aggregates"][0]["commands"][0]["rust_type"], "Open");
    assert_eq!(json["projections"][0]["kind"], serde_json::json!({"form": "in_memory", "persisted": true}));
}
