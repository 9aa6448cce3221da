//! The spans `execute` opens carry what an operator correlates by: the command, its stream,
//! the command's id, and the correlation and causation ids stored on its events.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use eventsmith::prelude::*;
use eventsmith::recorded::Metadata;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};

type Spans = Arc<Mutex<Vec<(&'static str, HashMap<&'static str, String>)>>>;

/// A subscriber that keeps every span's name and fields.
struct Capture(Spans);

struct Fields<'a>(&'a mut HashMap<&'static str, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = HashMap::new();
        span.record(&mut Fields(&mut fields));
        let mut spans = self.0.lock().unwrap();
        spans.push((span.metadata().name(), fields));
        Id::from_u64(spans.len() as u64)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rung {
    pub by: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum BellEvent {
    Rung(Rung),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Bell)]
pub struct Ring {
    #[command(id)]
    pub id: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default, Clone)]
pub struct Bell;

#[aggregate(event = BellEvent, error = Never)]
impl Bell {
    #[command]
    fn ring(&self, _: Ring) -> Result<Rung, Never> {
        Ok(Rung { by: "ann".into() })
    }

    #[apply]
    fn rung(&mut self, _: &Rung) {}
}

#[test]
fn execute_spans_carry_the_command_stream_and_correlation() {
    let spans = Spans::default();
    let _subscriber = tracing::subscriber::set_default(Capture(Arc::clone(&spans)));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let app = App::builder().store(MemoryStore::new()).aggregate::<Bell>().build().await.unwrap();
        // The request's correlation id, given by the caller; the command's own id causes it.
        let correlation = uuid::Uuid::now_v7();
        let metadata = Metadata { correlation_id: Some(correlation), ..Metadata::default() };
        let committed = app.execute_with(Ring { id: 7 }, metadata).await.unwrap();
        let stored = &committed.events[0].metadata;
        assert_eq!(stored.correlation_id, Some(correlation));

        let spans = spans.lock().unwrap();
        let (_, execute) = spans.iter().find(|(name, _)| *name == "execute").expect("an execute span");
        assert!(execute["command"].ends_with("Ring"), "{execute:?}");
        assert_eq!(execute["stream"], "Bell-7");
        assert_eq!(execute["correlation_id"], correlation.to_string());
        let causation = stored.causation_id.unwrap().to_string();
        assert_eq!(execute["causation_id"], causation, "{execute:?}");
        assert_eq!(execute["command_id"], causation, "the command's id causes its events: {execute:?}");
        let (_, append) = spans.iter().find(|(name, _)| *name == "append").expect("an append span");
        assert_eq!((append["stream"].as_str(), append["events"].as_str()), ("Bell-7", "1"));
    });
}
