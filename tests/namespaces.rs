//! A projection only ever receives events of the enums it lists, on every store, whatever
//! other enums share the store: three aggregates here store an event named `Created` (of the
//! same shape for orders and payments, of another shape for refunds). Every event is stored
//! with its enum's namespace, and a projection takes an event only when both its name and
//! its namespace are one of its enums'. Two registered enums that would store the same name
//! in the same namespace are refused when the app is built.
//!
//! Each behaviour runs on the memory store and a SQLite file here, and on PostgreSQL and
//! NATS with their features (`cargo test --all-features`).

mod support;

use std::sync::Arc;

use eventsmith::prelude::*;
use eventsmith::store::{EventStore, NewEvent};
use eventsmith::{Error, SqliteStore};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCreated {
    pub id: u32,
}

/// The same shape as `OrderCreated`: decoding one as the other would succeed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentCreated {
    pub id: u32,
}

/// Another shape: decoding it as `OrderCreated` would fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundCreated {
    pub id: String,
    pub reason: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent {
    Created(OrderCreated),
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum PaymentEvent {
    Created(PaymentCreated),
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum RefundEvent {
    Created(RefundCreated),
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Command, Debug, Clone)]
#[command(aggregate = Order)]
pub struct CreateOrder {
    #[command(id)]
    pub id: u32,
}

#[derive(Debug, Default)]
pub struct Order;

#[aggregate(event = OrderEvent, error = Never)]
impl Order {
    #[command]
    fn create(&self, command: CreateOrder) -> Result<OrderCreated, Never> {
        Ok(OrderCreated { id: command.id })
    }

    #[apply]
    fn created(&mut self, _: &OrderCreated) {}
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Payment)]
pub struct CreatePayment {
    #[command(id)]
    pub id: u32,
}

#[derive(Debug, Default)]
pub struct Payment;

#[aggregate(event = PaymentEvent, error = Never)]
impl Payment {
    #[command]
    fn create(&self, command: CreatePayment) -> Result<PaymentCreated, Never> {
        Ok(PaymentCreated { id: command.id })
    }

    #[apply]
    fn created(&mut self, _: &PaymentCreated) {}
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Refund)]
pub struct CreateRefund {
    #[command(id)]
    pub id: u32,
}

#[derive(Debug, Default)]
pub struct Refund;

#[aggregate(event = RefundEvent, error = Never)]
impl Refund {
    #[command]
    fn create(&self, command: CreateRefund) -> Result<RefundCreated, Never> {
        Ok(RefundCreated { id: format!("refund-{}", command.id), reason: "damaged".into() })
    }

    #[apply]
    fn created(&mut self, _: &RefundCreated) {}
}

/// The ids of the orders created, in log order, with the stream each came from.
#[derive(Debug, Default)]
pub struct OrdersView {
    orders: Vec<(u32, String)>,
}

#[derive(Debug, Clone)]
pub struct ListOrders;

#[projection(name = "orders", events = OrderEvent)]
impl OrdersView {
    #[apply]
    fn created(&mut self, event: &Recorded<OrderCreated>) {
        self.orders.push((event.event.id, event.stream_id.clone()));
    }

    #[query]
    fn list(&self, _: ListOrders) -> Vec<(u32, String)> {
        self.orders.clone()
    }
}

/// A projection over two of the enums, each with its `Created`.
#[derive(Debug, Default)]
pub struct LedgerView {
    orders: Vec<u32>,
    payments: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct Ledger;

#[projection(name = "ledger", events(OrderEvent, PaymentEvent))]
impl LedgerView {
    #[apply]
    fn order(&mut self, event: &Recorded<OrderCreated>) {
        self.orders.push(event.event.id);
    }

    #[apply]
    fn payment(&mut self, event: &Recorded<PaymentCreated>) {
        self.payments.push(event.event.id);
    }

    #[query]
    fn ledger(&self, _: Ledger) -> (Vec<u32>, Vec<u32>) {
        (self.orders.clone(), self.payments.clone())
    }
}

async fn app_on(store: &Arc<dyn EventStore>) -> App {
    App::builder()
        .shared_store(Arc::clone(store))
        .aggregate::<Order>()
        .aggregate::<Payment>()
        .aggregate::<Refund>()
        .projection::<OrdersView>()
        .projection::<LedgerView>()
        .build()
        .await
        .expect("build the app")
}

/// Payments are `Created` events of the same shape as orders': they are neither counted as
/// orders nor sent to the orders' `#[apply]` of a projection over both, in the app that
/// wrote them or in one that catches up from the start of the log.
async fn same_shape_events_of_another_enum_are_not_applied(store: Arc<dyn EventStore>) {
    let app = app_on(&store).await;
    app.execute(CreatePayment { id: 1 }).await.unwrap();
    app.execute(CreateOrder { id: 2 }).await.unwrap();
    app.execute(CreatePayment { id: 3 }).await.unwrap();
    app.execute(CreateOrder { id: 4 }).await.unwrap();
    let expected_orders = vec![(2, "Order-2".to_owned()), (4, "Order-4".to_owned())];
    assert_eq!(app.query(ListOrders).await.unwrap(), expected_orders);
    assert_eq!(app.query(Ledger).await.unwrap(), (vec![2, 4], vec![1, 3]));

    let caught_up = app_on(&store).await;
    assert_eq!(caught_up.query(ListOrders).await.unwrap(), expected_orders);
    assert_eq!(caught_up.query(Ledger).await.unwrap(), (vec![2, 4], vec![1, 3]));
}

/// Refunds are `Created` events that do not decode as orders: the projection neither stops
/// on them nor counts them.
async fn other_shaped_events_of_another_enum_do_not_stop_a_projection(store: Arc<dyn EventStore>) {
    let app = app_on(&store).await;
    app.execute(CreateRefund { id: 1 }).await.unwrap();
    app.execute(CreateOrder { id: 2 }).await.unwrap();
    app.execute(CreateRefund { id: 3 }).await.unwrap();
    assert_eq!(app.query(ListOrders).await.unwrap(), vec![(2, "Order-2".to_owned())]);
    let caught_up = app_on(&store).await;
    assert_eq!(caught_up.query(ListOrders).await.unwrap(), vec![(2, "Order-2".to_owned())]);
    assert_eq!(caught_up.query(Ledger).await.unwrap(), (vec![2], vec![]));
}

/// Another process writes payments and refunds with an app that this one does not share
/// and whose enums this app does not register: its projection still sees only orders.
async fn events_of_an_unregistered_enum_written_elsewhere_are_not_applied(store: Arc<dyn EventStore>) {
    let ours = App::builder().shared_store(Arc::clone(&store)).projection::<OrdersView>().build().await.unwrap();
    let theirs = App::builder()
        .shared_store(Arc::clone(&store))
        .aggregate::<Payment>()
        .aggregate::<Refund>()
        .build()
        .await
        .unwrap();
    theirs.execute(CreatePayment { id: 1 }).await.unwrap();
    theirs.execute(CreateRefund { id: 2 }).await.unwrap();
    ours.execute(CreateOrder { id: 3 }).await.unwrap();
    theirs.execute(CreatePayment { id: 4 }).await.unwrap();
    ours.execute(CreateOrder { id: 5 }).await.unwrap();
    let expected = vec![(3, "Order-3".to_owned()), (5, "Order-5".to_owned())];
    assert_eq!(ours.query(ListOrders).await.unwrap(), expected);
    let rebuilt = ours.rebuild::<OrdersView>().await.unwrap();
    assert_eq!(rebuilt, 2, "the rebuild applies the two orders and nothing else");
    assert_eq!(ours.query(ListOrders).await.unwrap(), expected);
}

/// Events stored without a namespace (by a release before namespaces, or by code that
/// appends raw events) are read by their type name, as before.
async fn events_without_a_namespace_are_read_by_name(store: Arc<dyn EventStore>) {
    let legacy = NewEvent::new("Created", 1, br#"{"id":7}"#.to_vec());
    store.append("Order-7", ExpectedVersion::NoStream, vec![legacy]).await.unwrap();
    let app = app_on(&store).await;
    app.execute(CreateOrder { id: 8 }).await.unwrap();
    let stored = store.read_stream("Order-8", 1, 10).await.unwrap();
    assert_eq!(stored[0].namespace.as_deref(), Some("OrderEvent"), "new events carry their enum's namespace");
    assert_eq!(store.read_stream("Order-7", 1, 10).await.unwrap()[0].namespace, None);
    let orders = app.query(ListOrders).await.unwrap();
    assert_eq!(orders, vec![(7, "Order-7".to_owned()), (8, "Order-8".to_owned())]);
    assert_eq!(app.load::<Order>(7).await.unwrap().version, 1, "the aggregate loads its legacy event");
}

macro_rules! on_store {
    ($store:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn same_shape_events_of_another_enum_are_not_applied() {
            super::same_shape_events_of_another_enum_are_not_applied($store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn other_shaped_events_of_another_enum_do_not_stop_a_projection() {
            super::other_shaped_events_of_another_enum_do_not_stop_a_projection($store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn events_of_an_unregistered_enum_written_elsewhere_are_not_applied() {
            super::events_of_an_unregistered_enum_written_elsewhere_are_not_applied($store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn events_without_a_namespace_are_read_by_name() {
            super::events_without_a_namespace_are_read_by_name($store).await;
        }
    };
}

mod memory {
    use super::*;
    on_store!(Arc::new(MemoryStore::new()));
}

mod sqlite {
    use super::*;
    on_store!(Arc::new(SqliteStore::open(support::temp_db("namespaces")).await.unwrap()));
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    on_store!(Arc::new(support::postgres::fresh_store().await));
}

#[cfg(feature = "nats")]
mod nats {
    use super::*;
    on_store!(Arc::new(support::nats::fresh_store().await));
}

/// Two modules each with an enum called `Event`: by default both store their types in the
/// namespace `Event`, so one `Created` could not be told from the other.
mod billing {
    use eventsmith::prelude::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Created {
        pub invoice: u32,
    }

    #[derive(Event, Debug, Clone, PartialEq)]
    pub enum Event {
        Created(Created),
    }

    #[derive(Debug, Default)]
    pub struct Invoices;

    #[projection(name = "invoices", events = Event)]
    impl Invoices {
        #[apply]
        fn created(&mut self, _: &Recorded<Created>) {}
    }
}

mod shipping {
    use eventsmith::prelude::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Created {
        pub parcel: u32,
    }

    #[derive(Event, Debug, Clone, PartialEq)]
    pub enum Event {
        Created(Created),
    }

    #[derive(Debug, Default)]
    pub struct Parcels;

    #[projection(name = "parcels", events = Event)]
    impl Parcels {
        #[apply]
        fn created(&mut self, _: &Recorded<Created>) {}
    }

    /// The same module's enum with a namespace of its own.
    #[derive(Event, Debug, Clone, PartialEq)]
    #[event(namespace = "shipping")]
    pub enum Namespaced {
        Created(Created),
    }

    #[derive(Debug, Default)]
    pub struct NamespacedParcels;

    #[projection(name = "namespaced_parcels", events = Namespaced)]
    impl NamespacedParcels {
        #[apply]
        fn created(&mut self, _: &Recorded<Created>) {}
    }
}

#[tokio::test]
async fn two_enums_storing_one_name_in_one_namespace_are_refused_at_build() {
    let result = App::builder()
        .store(MemoryStore::new())
        .projection::<billing::Invoices>()
        .projection::<shipping::Parcels>()
        .build()
        .await;
    let Err(Error::Config(message)) = result else { panic!("the app was built: {result:?}") };
    for part in [
        "`namespaces::billing::Event`",
        "`namespaces::shipping::Event`",
        "named `Created`",
        "namespace `Event`",
        "#[event(namespace = \"...\")]",
        "#[event(name = \"...\")]",
    ] {
        assert!(message.contains(part), "the message names {part}: {message}");
    }
}

#[tokio::test]
async fn a_namespace_of_its_own_tells_two_enums_apart() {
    assert_eq!(<shipping::Namespaced as eventsmith::Event>::NAMESPACE, "shipping");
    assert_eq!(<billing::Event as eventsmith::Event>::NAMESPACE, "Event");
    let app = App::builder()
        .store(MemoryStore::new())
        .projection::<billing::Invoices>()
        .projection::<shipping::NamespacedParcels>()
        .build()
        .await;
    assert!(app.is_ok(), "{app:?}");
}
