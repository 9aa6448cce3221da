//! Names of the attributes and their keys.

pub const EVENT: &str = "event";
pub const COMMAND: &str = "command";
pub const APPLY: &str = "apply";

// #[event(name = "...")], #[command(name = "...")], #[aggregate(name = "...")]
pub const NAME: &str = "name";
// #[event(namespace = "orders")] on an event enum
pub const NAMESPACE: &str = "namespace";
// #[event(version = 2)]
pub const VERSION: &str = "version";
// #[command(aggregate = Order)]
pub const AGGREGATE: &str = "aggregate";
// #[command(id)]
pub const ID: &str = "id";
// #[command(expect = new)] / #[command(expect = existing)]
pub const EXPECT: &str = "expect";
// #[aggregate(event = OrderEvent)]
pub const EVENT_KEY: &str = "event";
// #[aggregate(error = OrderError)]
pub const ERROR: &str = "error";
// #[aggregate(ignore(OrderShipped, OrderEvent::Cancelled))]
pub const IGNORE: &str = "ignore";
pub const QUERY: &str = "query";
// #[projection(events = OrderEvent)] or #[projection(events(OrderEvent, PaymentEvent))]
pub const EVENTS: &str = "events";
// #[projection(persist)]
pub const PERSIST: &str = "persist";
// #[aggregate(snapshot_every = 500)]
pub const SNAPSHOT_EVERY: &str = "snapshot_every";
// #[aggregate(snapshot_revision = 2)]
pub const SNAPSHOT_REVISION: &str = "snapshot_revision";
// #[event(aliases("order_created", "OrderOpened"))]
pub const ALIASES: &str = "aliases";
// #[event(upcast(from = 1, with = ShippedV1))] or #[event(upcast(from = 1, with = ShippedV1, via = upgrade))]
pub const UPCAST: &str = "upcast";
pub const FROM: &str = "from";
pub const WITH: &str = "with";
pub const VIA: &str = "via";
// #[event(deprecated)]
pub const DEPRECATED: &str = "deprecated";
// #[projection(documents)] or #[projection(documents(index(status)))]
pub const DOCUMENTS: &str = "documents";
pub const INDEX: &str = "index";
// #[apply(key = event.customer_id)] on a document projection
pub const KEY: &str = "key";
// #[projection(sql(migrations = ["CREATE TABLE ..."]))]
pub const SQL: &str = "sql";
pub const MIGRATIONS: &str = "migrations";
