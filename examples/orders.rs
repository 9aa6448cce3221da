//! The seed's order domain: events, commands with validation, an aggregate whose state is
//! rebuilt by replaying its events (the command model), and a read model of documents in a
//! database answering queries (the query model).
//!
//! Run it with `cargo run --example orders`: it keeps its events and its read model in
//! `orders.db` (SQLite, the embedded default), and each run continues from what earlier runs
//! stored. Another file: `cargo run --example orders -- path/to.db`; no file at all:
//! `-- --store memory`; a server: `cargo run --example orders --features postgres -- --store
//! postgres://...` (read model in the same database) or `--features nats -- --store
//! nats://...` (read model in `orders-read-model.db`).
//!
//! `-- --query-only` runs it as a process that only answers queries, beside one that writes:
//! it reads the read model's database and never replays the log.

use std::fmt;
use std::sync::Arc;

use eventsmith::documents::DocumentStore;
use eventsmith::prelude::*;
use eventsmith::store::EventStore;
use eventsmith::{CommandEnvelope, ExecuteError, QueryEnvelope};

// ---------------------------------------------------------------------------------------
// Events: what happened to an order. Each is a struct; the enum gives each a stable name.

/// Identifies an order.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct OrderId(pub String);

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for OrderId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

/// A customer placed an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrderCreated {
    pub order_id: OrderId,
    pub customer_name: String,
    pub total_cents: u64,
}

/// Someone approved the order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrderApproved {
    pub order_id: OrderId,
    pub approved_by: String,
}

/// The order left the warehouse. Version 2: version 1 had no carrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrderShipped {
    pub order_id: OrderId,
    pub carrier: String,
}

/// `OrderShipped` as version 1 stored it; read through an upcaster.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
pub struct OrderShippedV1 {
    pub order_id: OrderId,
}

impl From<OrderShippedV1> for OrderShipped {
    fn from(old: OrderShippedV1) -> Self {
        Self { order_id: old.order_id, carrier: "unknown".to_owned() }
    }
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent {
    /// Early releases stored it as `order_created`.
    #[event(aliases("order_created"))]
    OrderCreated(OrderCreated),
    OrderApproved(OrderApproved),
    #[event(version = 2, upcast(from = 1, with = OrderShippedV1))]
    OrderShipped(OrderShipped),
}

// ---------------------------------------------------------------------------------------
// Commands: what someone asks of an order, routed to the `Order` aggregate by `order_id`.

#[derive(Command, Debug, Clone, Serialize, Deserialize)]
#[command(aggregate = Order, expect = new)]
pub struct CreateOrder {
    #[command(id)]
    pub order_id: OrderId,
    pub customer_name: String,
    pub total_cents: u64,
}

#[derive(Command, Debug, Clone, Serialize, Deserialize)]
#[command(aggregate = Order, expect = existing)]
pub struct ApproveOrder {
    #[command(id)]
    pub order_id: OrderId,
    pub approved_by: String,
}

#[derive(Command, Debug, Clone, Serialize, Deserialize)]
#[command(aggregate = Order, expect = existing)]
pub struct ShipOrder {
    #[command(id)]
    pub order_id: OrderId,
    pub carrier: String,
}

/// The seed's dynamic command envelope: `{"type": "ShipOrder", "data": {...}}`.
#[derive(Command, Debug, Clone)]
pub enum OrderCommand {
    CreateOrder(CreateOrder),
    ApproveOrder(ApproveOrder),
    ShipOrder(ShipOrder),
}

/// Why an order refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("an order needs a customer name")]
    MissingCustomer,
    #[error("an order needs a positive total")]
    EmptyOrder,
    #[error("the order is already approved")]
    AlreadyApproved,
    #[error("the order must be approved before it ships")]
    NotApproved,
    #[error("the order has already shipped")]
    AlreadyShipped,
}

// ---------------------------------------------------------------------------------------
// The aggregate: the state commands are checked against, and how each event changes it.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    #[default]
    New,
    Created,
    Approved,
    Shipped,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Order {
    pub status: Status,
    pub customer_name: String,
    pub total_cents: u64,
    pub approved_by: Option<String>,
    pub carrier: Option<String>,
}

#[aggregate(event = OrderEvent, error = OrderError)]
impl Order {
    #[command]
    fn create(&self, command: CreateOrder) -> Result<OrderCreated, OrderError> {
        if command.customer_name.trim().is_empty() {
            return Err(OrderError::MissingCustomer);
        }
        if command.total_cents == 0 {
            return Err(OrderError::EmptyOrder);
        }
        Ok(OrderCreated {
            order_id: command.order_id,
            customer_name: command.customer_name,
            total_cents: command.total_cents,
        })
    }

    #[command]
    fn approve(&self, command: ApproveOrder) -> Result<OrderApproved, OrderError> {
        match self.status {
            Status::Approved | Status::Shipped => Err(OrderError::AlreadyApproved),
            _ => Ok(OrderApproved { order_id: command.order_id, approved_by: command.approved_by }),
        }
    }

    #[command]
    fn ship(&self, command: ShipOrder) -> Result<OrderShipped, OrderError> {
        match self.status {
            Status::Shipped => Err(OrderError::AlreadyShipped),
            Status::Approved => Ok(OrderShipped { order_id: command.order_id, carrier: command.carrier }),
            _ => Err(OrderError::NotApproved),
        }
    }

    #[apply]
    fn created(&mut self, event: &OrderCreated) {
        self.status = Status::Created;
        self.customer_name.clone_from(&event.customer_name);
        self.total_cents = event.total_cents;
    }

    #[apply]
    fn approved(&mut self, event: &OrderApproved) {
        self.status = Status::Approved;
        self.approved_by = Some(event.approved_by.clone());
    }

    #[apply]
    fn shipped(&mut self, event: &OrderShipped) {
        self.status = Status::Shipped;
        self.carrier = Some(event.carrier.clone());
    }
}

// ---------------------------------------------------------------------------------------
// The query model: one document per order in the read model's database, fed from the global
// log, each event applied once; any process with the database answers its queries.

/// One order as the read side shows it: its document, keyed by the order's id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub order_id: OrderId,
    pub customer_name: String,
    pub total_cents: u64,
    pub status: Status,
    pub carrier: Option<String>,
    /// The global position of the last event that changed it.
    pub updated_at: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GetOrder {
    pub order_id: OrderId,
}

/// A page of orders in id order: those after `after`, at most `limit` (100 unless given).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListOrders {
    /// Only orders in this status, if given.
    #[serde(default)]
    pub status: Option<Status>,
    /// The last order id of the page before.
    #[serde(default)]
    pub after: Option<OrderId>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The seed's dynamic query envelope: `{"type": "GetOrder", "data": {...}}`.
#[derive(QueryEnvelope, Debug, Clone)]
pub enum OrderQuery {
    GetOrder(GetOrder),
    ListOrders(ListOrders),
}

#[projection(name = "orders", events = OrderEvent, documents(index(status)))]
impl OrderSummary {
    #[apply(key = event.order_id)]
    fn created(&mut self, event: &Recorded<OrderCreated>) {
        *self = OrderSummary {
            order_id: event.order_id.clone(),
            customer_name: event.customer_name.clone(),
            total_cents: event.total_cents,
            status: Status::Created,
            carrier: None,
            updated_at: event.position,
        };
    }

    #[apply(key = event.order_id)]
    fn approved(&mut self, event: &Recorded<OrderApproved>) {
        self.status = Status::Approved;
        self.updated_at = event.position;
    }

    #[apply(key = event.order_id)]
    fn shipped(&mut self, event: &Recorded<OrderShipped>) {
        self.status = Status::Shipped;
        self.carrier = Some(event.carrier.clone());
        self.updated_at = event.position;
    }

    #[query]
    async fn get_order(documents: &Documents<Self>, query: GetOrder) -> Result<Option<Self>, DocumentError> {
        documents.get(&query.order_id.0).await
    }

    #[query]
    async fn list_orders(documents: &Documents<Self>, query: ListOrders) -> Result<Vec<Self>, DocumentError> {
        let (after, limit) = (query.after.as_ref().map(|id| id.0.as_str()), query.limit.unwrap_or(100));
        let page = match query.status {
            Some(status) => documents.filter("status", &status, after, limit).await?,
            None => documents.list(after, limit).await?,
        };
        Ok(page.into_iter().map(|(_, order)| order).collect())
    }
}

// ---------------------------------------------------------------------------------------

/// What the command line asks for.
struct Args {
    /// Where the events are: a SQLite file, `memory`, or a server's URL.
    store: String,
    /// Only answer queries from the read model.
    query_only: bool,
}

fn args() -> Args {
    let mut parsed = Args { store: "orders.db".to_owned(), query_only: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--store" => parsed.store = args.next().unwrap_or(parsed.store),
            "--query-only" => parsed.query_only = true,
            path if !path.starts_with("--") => parsed.store = path.to_owned(),
            other => eprintln!("ignoring unknown option `{other}`"),
        }
    }
    parsed
}

/// The event store and the read model's database at `location`: one SQLite file or one
/// PostgreSQL database for both; NATS keeps its read model in a SQLite file beside.
async fn open(location: &str) -> eventsmith::Result<(Arc<dyn EventStore>, Arc<dyn DocumentStore>)> {
    use eventsmith::documents::SqliteDocuments;
    Ok(match location {
        "memory" => (Arc::new(MemoryStore::new()), Arc::new(SqliteDocuments::in_memory().await?)),
        #[cfg(feature = "postgres")]
        url if url.starts_with("postgres://") || url.starts_with("postgresql://") => (
            Arc::new(eventsmith::PostgresStore::connect(url).await?),
            Arc::new(eventsmith::documents::PostgresDocuments::connect(url).await?),
        ),
        #[cfg(feature = "nats")]
        url if url.starts_with("nats://") => (
            Arc::new(eventsmith::NatsStore::connect(url).await?),
            Arc::new(SqliteDocuments::open("orders-read-model.db").await?),
        ),
        url if url.contains("://") && !url.starts_with("sqlite://") => {
            return Err(eventsmith::Error::Config(format!(
                "cannot open `{url}`: build the example with the store's feature, e.g. `--features postgres` or `--features nats`"
            )));
        }
        path => {
            let path = path.trim_start_matches("sqlite://");
            (Arc::new(eventsmith::SqliteStore::open(path).await?), Arc::new(SqliteDocuments::open(path).await?))
        }
    })
}

/// How many orders the read model holds, page by page.
async fn count_orders(app: &App) -> eventsmith::Result<usize> {
    let (mut count, mut after) = (0, None);
    loop {
        let page = app.query(ListOrders { after, limit: Some(500), ..ListOrders::default() }).await?;
        count += page.len();
        match page.last() {
            Some(last) => after = Some(last.order_id.clone()),
            None => return Ok(count),
        }
    }
}

/// A process that only answers queries: no projection registered, nothing replayed.
async fn answer_queries(app: &App, location: &str) -> eventsmith::Result<()> {
    let applied = app.documents::<OrderSummary>()?.checkpoint().await?;
    println!("store: {location}, query-only (the read model has applied the log up to position {applied})\n");
    println!("ListOrders {{}} (the first 10):");
    for order in app.query(ListOrders { limit: Some(10), ..ListOrders::default() }).await? {
        println!("  {order:?}");
    }
    println!("ListOrders {{ status: Shipped }}: {} on the first page", {
        app.query(ListOrders { status: Some(Status::Shipped), ..ListOrders::default() }).await?.len()
    });
    Ok(())
}

#[tokio::main]
async fn main() -> eventsmith::Result<()> {
    let Args { store: location, query_only } = args();
    let (store, read_model) = open(&location).await?;
    let builder = App::builder().shared_store(store).shared_documents(read_model);
    if query_only {
        return answer_queries(&builder.build().await?, &location).await;
    }
    let app = builder.aggregate::<Order>().document_projection::<OrderSummary>().build().await?;
    // Brings the read model up to the log (written by earlier runs, or by other processes).
    app.update_documents::<OrderSummary>().await?;
    let earlier = count_orders(&app).await?;
    println!("store: {location} ({earlier} orders from earlier runs)\n");
    let order_id = OrderId(format!("order-{}", earlier + 1));

    println!("> CreateOrder {{ order_id: {order_id}, customer_name: \"Ada\", total_cents: 4200 }}");
    app.execute(CreateOrder { order_id: order_id.clone(), customer_name: "Ada".into(), total_cents: 4200 }).await?;

    println!("> ShipOrder {{ order_id: {order_id} }}   (before approval)");
    match app.execute(ShipOrder { order_id: order_id.clone(), carrier: "DHL".into() }).await {
        Err(ExecuteError::Rejected { source, .. }) => println!("  rejected: {source}"),
        other => println!("  unexpected: {other:?}"),
    }

    println!("> ApproveOrder {{ order_id: {order_id}, approved_by: \"Grace\" }}");
    app.execute(ApproveOrder { order_id: order_id.clone(), approved_by: "Grace".into() }).await?;

    let json = format!(r#"{{"type": "ShipOrder", "data": {{"order_id": "{order_id}", "carrier": "DHL"}}}}"#);
    println!("> {json}   (dynamic envelope)");
    let dispatched = OrderCommand::from_json(json.as_bytes())?.dispatch(&app).await?;
    println!("  dispatched: {dispatched:?}");

    println!("\nRecorded events of {}:", eventsmith::app::stream_id::<Order>(&order_id));
    for recorded in app.read_stream::<Order>(&order_id).await? {
        println!(
            "  #{} v{} {} id={} correlation={} recorded_at={}ms\n     {:?}",
            recorded.position,
            recorded.stream_version,
            recorded.event.event_type(),
            recorded.id,
            recorded.metadata.correlation_id.map(|id| id.to_string()).unwrap_or_default(),
            recorded.recorded_at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis(),
            recorded.event,
        );
    }

    let loaded = app.load::<Order>(&order_id).await?;
    println!("\nState of {} at version {}:\n  {:?}", loaded.stream_id, loaded.version, loaded.state);

    println!("\nQuery model:");
    let order: Option<OrderSummary> = app.query(GetOrder { order_id: order_id.clone() }).await?;
    println!("  GetOrder {{ order_id: {order_id} }}\n    {order:?}");
    println!("  ListOrders {{ after: order-{} }}", earlier);
    let after = Some(OrderId(format!("order-{earlier}")));
    for order in app.query(ListOrders { after, limit: Some(3), ..ListOrders::default() }).await? {
        println!("    {order:?}");
    }
    let json = br#"{"type": "ListOrders", "data": {"status": "Shipped"}}"#;
    println!("  {}   (dynamic envelope)", String::from_utf8_lossy(json));
    println!("    {}", OrderQuery::from_json(json)?.answer(&app).await?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use eventsmith::testing::{given, when};
    use proptest::prelude::*;

    use super::*;

    fn created() -> OrderCreated {
        OrderCreated { order_id: "o".into(), customer_name: "Ada".into(), total_cents: 100 }
    }

    fn approved() -> OrderApproved {
        OrderApproved { order_id: "o".into(), approved_by: "Grace".into() }
    }

    #[test]
    fn creating_an_order_records_it() {
        let command = CreateOrder { order_id: "o".into(), customer_name: "Ada".into(), total_cents: 100 };
        let state = when(command).then([created()]);
        assert_eq!(state.status, Status::Created);
    }

    #[test]
    fn an_order_needs_a_customer() {
        when(CreateOrder { order_id: "o".into(), customer_name: " ".into(), total_cents: 1 })
            .then_error(OrderError::MissingCustomer);
    }

    #[test]
    fn an_order_cannot_ship_before_approval() {
        given([created()])
            .when(ShipOrder { order_id: "o".into(), carrier: "DHL".into() })
            .then_error(OrderError::NotApproved);
    }

    #[test]
    fn an_approved_order_ships() {
        let state = given([OrderEvent::from(created()), approved().into()])
            .when(ShipOrder { order_id: "o".into(), carrier: "DHL".into() })
            .then([OrderShipped { order_id: "o".into(), carrier: "DHL".into() }]);
        assert_eq!(state.carrier.as_deref(), Some("DHL"));
    }

    #[test]
    fn an_order_is_approved_once() {
        given([OrderEvent::from(created()), approved().into()])
            .when(ApproveOrder { order_id: "o".into(), approved_by: "Bob".into() })
            .then_error(OrderError::AlreadyApproved);
    }

    #[tokio::test]
    async fn approving_a_missing_order_names_its_stream() {
        let app = App::builder().store(MemoryStore::new()).build().await.unwrap();
        let error = app.execute(ApproveOrder { order_id: "nope".into(), approved_by: "Bob".into() }).await.unwrap_err();
        assert!(matches!(&error, ExecuteError::NotFound { stream_id } if stream_id == "Order-nope"), "{error:?}");
    }

    #[tokio::test]
    async fn creating_an_order_twice_is_refused() {
        let app = App::builder().store(MemoryStore::new()).build().await.unwrap();
        let create = CreateOrder { order_id: "o".into(), customer_name: "Ada".into(), total_cents: 1 };
        app.execute(create.clone()).await.unwrap();
        let error = app.execute(create).await.unwrap_err();
        assert!(matches!(error, ExecuteError::AlreadyExists { version: 1, .. }), "{error:?}");
    }

    #[tokio::test]
    async fn the_scenario_runs_end_to_end() {
        let app = App::builder().store(MemoryStore::new()).build().await.unwrap();
        let id = OrderId::from("o");
        app.execute(CreateOrder { order_id: id.clone(), customer_name: "Ada".into(), total_cents: 5 }).await.unwrap();
        app.execute(ApproveOrder { order_id: id.clone(), approved_by: "Grace".into() }).await.unwrap();
        let json = br#"{"data": {"order_id": "o", "carrier": "UPS"}, "type": "ShipOrder"}"#;
        let dispatched = OrderCommand::from_json(json).unwrap().dispatch(&app).await.unwrap();
        assert_eq!(dispatched.version, 3);
        assert_eq!(dispatched.events[0].event_type, "OrderShipped");
        let loaded = app.load::<Order>(&id).await.unwrap();
        assert_eq!(loaded.version, 3);
        assert_eq!(loaded.state.status, Status::Shipped);
        assert_eq!(loaded.state.carrier.as_deref(), Some("UPS"));
    }

    #[test]
    fn the_view_follows_an_order() {
        let created = OrderEvent::from(created());
        given([created.clone()])
            .then_query(
                ListOrders { status: Some(Status::Created), ..ListOrders::default() },
                vec![summary(Status::Created, None, 1)],
            )
            .then_query(GetOrder { order_id: "other".into() }, None);
        given([created, approved().into(), OrderShipped { order_id: "o".into(), carrier: "UPS".into() }.into()])
            .then_query(GetOrder { order_id: "o".into() }, Some(summary(Status::Shipped, Some("UPS"), 3)))
            .then_query(ListOrders { status: Some(Status::Created), ..ListOrders::default() }, vec![]);
    }

    fn summary(status: Status, carrier: Option<&str>, updated_at: u64) -> OrderSummary {
        OrderSummary {
            order_id: "o".into(),
            customer_name: "Ada".into(),
            total_cents: 100,
            status,
            carrier: carrier.map(str::to_owned),
            updated_at,
        }
    }

    #[tokio::test]
    async fn queries_see_every_executed_command_and_answer_json() {
        let app = App::builder()
            .store(MemoryStore::new())
            .documents_in(eventsmith::documents::SqliteDocuments::in_memory().await.unwrap())
            .document_projection::<OrderSummary>()
            .build()
            .await
            .unwrap();
        app.execute(CreateOrder { order_id: "o".into(), customer_name: "Ada".into(), total_cents: 100 }).await.unwrap();
        assert_eq!(
            app.query(GetOrder { order_id: "o".into() }).await.unwrap(),
            Some(summary(Status::Created, None, 1))
        );
        let json = OrderQuery::from_json(br#"{"type": "GetOrder", "data": {"order_id": "o"}}"#)
            .unwrap()
            .answer(&app)
            .await
            .unwrap();
        assert!(json.starts_with(r#"{"order_id":"o","customer_name":"Ada""#), "{json}");
        assert!(OrderQuery::from_json(br#"{"type": "GetOrders", "data": {}}"#).is_err());
    }

    #[test]
    fn the_stored_event_shapes_match_the_lock() {
        eventsmith::assert_event_schemas!(OrderEvent, "examples/orders.events.lock.json");
    }

    /// The domain's catalog, rendered as Markdown with its diagram, is committed under docs.
    #[test]
    fn the_catalog_matches_docs() {
        let catalog = App::builder().aggregate::<Order>().document_projection::<OrderSummary>().catalog();
        eventsmith::assert_catalog!(catalog, "docs/orders-catalog.md");
    }

    #[test]
    fn old_versions_and_names_still_decode() {
        let shipped = OrderEvent::decode("OrderShipped", 1, br#"{"order_id":"o"}"#).unwrap();
        assert_eq!(shipped, OrderShipped { order_id: "o".into(), carrier: "unknown".into() }.into());
        let created =
            OrderEvent::decode("order_created", 1, br#"{"order_id":"o","customer_name":"Ada","total_cents":1}"#);
        assert_eq!(created.unwrap().event_type(), "OrderCreated");
        let future = OrderEvent::decode("OrderShipped", 3, b"{}").unwrap_err();
        assert!(future.to_string().contains("no version 3; the newest known version is 2"), "{future}");
    }

    fn order_id() -> impl Strategy<Value = OrderId> {
        "[a-z0-9-]{1,12}".prop_map(OrderId)
    }

    fn any_event() -> impl Strategy<Value = OrderEvent> {
        prop_oneof![
            (order_id(), any::<String>(), any::<u64>()).prop_map(|(order_id, customer_name, total_cents)| {
                OrderCreated { order_id, customer_name, total_cents }.into()
            }),
            (order_id(), any::<String>())
                .prop_map(|(order_id, approved_by)| OrderApproved { order_id, approved_by }.into()),
            (order_id(), any::<String>()).prop_map(|(order_id, carrier)| OrderShipped { order_id, carrier }.into()),
        ]
    }

    proptest! {
        #[test]
        fn encoding_then_decoding_is_the_identity(event in any_event()) {
            let bytes = event.encode().unwrap();
            prop_assert_eq!(OrderEvent::decode(event.event_type(), event.event_version(), &bytes).unwrap(), event);
        }
    }

    #[test]
    fn unknown_dynamic_commands_are_typed_errors() {
        let error = OrderCommand::from_json(br#"{"type": "CancelOrder", "data": {}}"#).unwrap_err();
        assert!(error.to_string().contains("unknown type `CancelOrder`"), "{error}");
        let error = OrderCommand::from_json(br#"{"type": "ShipOrder", "data": {"order_id": 5}}"#).unwrap_err();
        assert!(error.to_string().contains("ShipOrder"), "{error}");
        assert!(OrderCommand::from_json(b"[]").is_err());
    }
}
