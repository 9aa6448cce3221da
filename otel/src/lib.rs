//! An eventsmith application whose spans are exported with OpenTelemetry.
//!
//! `cargo run -p eventsmith-otel-example` executes two commands of one request and prints
//! each finished span, with its attributes, on standard output (OpenTelemetry's stdout
//! exporter): `execute` with the
//! command, its stream, the command's id and the correlation and causation ids its events
//! store; inside it `load` and `append`, and the projection's `update`. A service exports
//! the same spans to a collector by putting an OTLP exporter where the stdout one is.
//!
//! The bridge is `tracing-opentelemetry`: eventsmith writes `tracing` spans, and the layer
//! turns them into OpenTelemetry spans, their fields into attributes.

use eventsmith::prelude::*;
use eventsmith::recorded::Metadata;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use tracing_subscriber::layer::SubscriberExt as _;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub customer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderShipped {
    pub carrier: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum OrderEvent {
    OrderPlaced(OrderPlaced),
    OrderShipped(OrderShipped),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Order, expect = new)]
pub struct PlaceOrder {
    #[command(id)]
    pub order_id: String,
    pub customer: String,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Order, expect = existing)]
pub struct ShipOrder {
    #[command(id)]
    pub order_id: String,
    pub carrier: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("the order has shipped already")]
    AlreadyShipped,
}

#[derive(Debug, Default, Clone)]
pub struct Order {
    shipped: bool,
}

#[aggregate(event = OrderEvent, error = OrderError)]
impl Order {
    #[command]
    fn place(&self, command: PlaceOrder) -> Result<OrderPlaced, OrderError> {
        Ok(OrderPlaced { customer: command.customer })
    }

    #[command]
    fn ship(&self, command: ShipOrder) -> Result<OrderShipped, OrderError> {
        if self.shipped {
            return Err(OrderError::AlreadyShipped);
        }
        Ok(OrderShipped { carrier: command.carrier })
    }

    #[apply]
    fn placed(&mut self, _: &OrderPlaced) {}

    #[apply]
    fn shipped(&mut self, _: &OrderShipped) {
        self.shipped = true;
    }
}

/// Orders shipped, in memory.
#[derive(Debug, Default)]
pub struct Shipments {
    count: u64,
}

#[projection(name = "shipments", events = OrderEvent)]
impl Shipments {
    #[apply]
    fn shipped(&mut self, _: &Recorded<OrderShipped>) {
        self.count += 1;
    }
}

/// A tracer provider that hands each finished span to `exporter` as it ends.
pub fn tracer_provider(exporter: impl SpanExporter + 'static) -> SdkTracerProvider {
    SdkTracerProvider::builder().with_simple_exporter(exporter).build()
}

/// Runs `work` with eventsmith's spans sent to `provider`.
pub fn traced<T>(provider: &SdkTracerProvider, work: impl FnOnce() -> T) -> T {
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("eventsmith-otel-example"));
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, work)
}

/// One request: an order placed and shipped under one correlation id, as a service would
/// pass the id of the request that asked for it.
async fn place_and_ship(app: &App, order_id: &str, request: uuid::Uuid) -> eventsmith::Result<()> {
    let metadata = Metadata { correlation_id: Some(request), ..Metadata::default() };
    let customer = "Ada".to_owned();
    app.execute_with(PlaceOrder { order_id: order_id.to_owned(), customer }, metadata.clone()).await?;
    app.execute_with(ShipOrder { order_id: order_id.to_owned(), carrier: "DHL".into() }, metadata).await?;
    Ok(())
}

/// Builds the app on a memory store and runs one request, with its spans sent to `provider`.
///
/// # Errors
/// The runtime or the app did not start, or a command failed.
pub fn run(provider: &SdkTracerProvider) -> Result<(), Box<dyn std::error::Error>> {
    traced(provider, || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async {
            let app =
                App::builder().store(MemoryStore::new()).aggregate::<Order>().projection::<Shipments>().build().await?;
            place_and_ship(&app, "order-1", uuid::Uuid::now_v7()).await?;
            Ok(())
        })
    })
}

/// The observability guide, `docs/observability.md`: its code blocks are compiled as doc
/// tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/observability.md")]
pub struct Guide;

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry_sdk::trace::InMemorySpanExporter;

    use super::*;

    /// The exported `execute` spans carry the request's correlation id, and each its own
    /// command id as the causation id; `append` is a child of `execute`.
    #[test]
    fn spans_are_exported_with_their_ids() {
        let exporter = InMemorySpanExporter::default();
        let provider = tracer_provider(exporter.clone());
        run(&provider).unwrap();
        provider.force_flush().unwrap();
        let spans = exporter.get_finished_spans().unwrap();
        let attributes = |span: &opentelemetry_sdk::trace::SpanData| -> HashMap<String, String> {
            span.attributes.iter().map(|pair| (pair.key.as_str().to_owned(), pair.value.to_string())).collect()
        };
        let executes: Vec<_> = spans.iter().filter(|span| span.name == "execute").collect();
        assert_eq!(executes.len(), 2, "{spans:?}");
        let (placed, shipped) = (attributes(executes[0]), attributes(executes[1]));
        assert!(placed["command"].ends_with("PlaceOrder"), "{placed:?}");
        assert_eq!(placed["stream"], "Order-order-1");
        assert_eq!(placed["correlation_id"], shipped["correlation_id"], "one request");
        assert_ne!(placed["causation_id"], shipped["causation_id"], "two commands");
        assert_eq!(placed["causation_id"], placed["command_id"]);
        let append = spans.iter().find(|span| span.name == "append").expect("an append span");
        let parents: Vec<_> = executes.iter().map(|span| span.span_context.span_id()).collect();
        assert!(parents.contains(&append.parent_span_id), "append runs inside execute");
        assert!(spans.iter().any(|span| span.name == "update" && attributes(span)["projection"] == "shipments"));
    }
}
