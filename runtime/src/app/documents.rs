//! Runs a document projection: reads a batch of the log after the checkpoint in its
//! database, loads the documents the batch touches, applies the events in log order, and
//! writes the documents with the new checkpoint in one transaction. A batch whose checkpoint
//! another process moved first is dropped and read again, so every event is applied once.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::{Instrument, info_span};

use super::error::Error;
use super::runner::{ProjectionStopped, Runner};
use crate::documents::{DocumentProjection, DocumentStore, Routed};
use crate::projection::ApplyError;
use crate::store::{BoxFuture, EventStore, EventStoreExt, LogEvent, LogFold};

/// Events read, routed and applied per transaction, unless the builder says otherwise.
pub(crate) const DEFAULT_DOCUMENT_BATCH: usize = 1024;

pub(crate) struct DocumentRunner<D> {
    documents: Arc<dyn DocumentStore>,
    types: Vec<&'static str>,
    batch: usize,
    /// Serializes this process's catch-ups (other processes are kept out by the checkpoint).
    applying: tokio::sync::Mutex<()>,
    stopped: Mutex<Option<Arc<ProjectionStopped>>>,
    projection: std::marker::PhantomData<fn() -> D>,
}

impl<D: DocumentProjection> DocumentRunner<D> {
    pub(crate) fn new(documents: Arc<dyn DocumentStore>, batch: usize) -> Self {
        DocumentRunner {
            documents,
            types: D::event_types(),
            batch: batch.max(1),
            applying: tokio::sync::Mutex::new(()),
            stopped: Mutex::new(None),
            projection: std::marker::PhantomData,
        }
    }

    pub(crate) fn stopped(&self) -> Option<Arc<ProjectionStopped>> {
        self.stopped.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn stop(&self, source: ApplyError) -> Error {
        tracing::error!(projection = D::NAME, error = %source, "document projection stopped");
        let stopped = Arc::new(ProjectionStopped { projection: D::NAME, source });
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&stopped));
        Error::ProjectionStopped(stopped)
    }

    async fn catch_up_inner(&self, store: &dyn EventStore) -> Result<u64, Error> {
        let _applying = self.applying.lock().await;
        if let Some(stopped) = self.stopped() {
            return Err(Error::ProjectionStopped(stopped));
        }
        let mut applied = 0;
        // After an event failed: the position before it, up to which the rest is applied
        // (again without it, since the documents it touched may be half-changed), and why.
        let mut failed: Option<(u64, ApplyError)> = None;
        loop {
            let until = failed.as_ref().map(|(last, _)| *last);
            if let Some(last) = until
                && self.documents.checkpoint(D::NAME).await?.position >= last
            {
                let (_, error) = failed.take().expect("a failure to report");
                return Err(self.stop(error));
            }
            match self.batch(store, until).await? {
                Batch::Empty => match failed.take() {
                    Some((_, error)) => return Err(self.stop(error)),
                    None => return Ok(applied),
                },
                Batch::Committed(count) => applied += count,
                // Another process applied the batch first: read on from where it got.
                Batch::Lost => {}
                Batch::FailedAt { position, error } => match failed {
                    None => failed = Some((position - 1, error)),
                    Some(_) => return Err(self.stop(error)),
                },
            }
        }
    }

    /// Applies one batch of the log after the checkpoint (up to `until`'s position), and
    /// commits it with the new checkpoint.
    async fn batch(&self, store: &dyn EventStore, until: Option<u64>) -> Result<Batch, Error> {
        let from = self.documents.checkpoint(D::NAME).await?;
        let collecting =
            Collecting::<D> { routed: Vec::new(), last: from.position, failed: None, limit: self.batch, until };
        let (collected, _) = store.fold_log_into(from.position + 1, self.batch, &self.types, collecting).await?;
        let Collecting { routed, last, failed, .. } = collected;
        if routed.is_empty() && last == from.position {
            return Ok(match failed {
                Some((position, error)) => Batch::FailedAt { position, error },
                None => Batch::Empty,
            });
        }
        // The documents the batch touches, each with the first event that touches it.
        let mut first: HashMap<String, u64> = HashMap::with_capacity(routed.len());
        for routed in &routed {
            first.entry(routed.key.clone()).or_insert(routed.position);
        }
        let keys: Vec<String> = first.keys().cloned().collect();
        let mut documents: HashMap<String, D> = HashMap::with_capacity(keys.len());
        for (key, json) in self.documents.load(D::NAME, &keys).await? {
            match D::decode_document(&json) {
                Ok(document) => {
                    documents.insert(key, document);
                }
                Err(source) => {
                    let position = first[&key];
                    return Ok(Batch::FailedAt {
                        position,
                        error: ApplyError::Document { key, position, action: "decode", source },
                    });
                }
            }
        }
        let count = routed.len() as u64;
        for routed in routed {
            let position = routed.position;
            let document = documents.entry(routed.key.clone()).or_insert_with(D::initial);
            if let Err(error) = routed.apply(document) {
                // Nothing of this batch is written: the document may be half-changed.
                return Ok(Batch::FailedAt { position, error });
            }
        }
        let mut written = Vec::with_capacity(documents.len());
        for (key, document) in documents {
            match document.encode_document() {
                Ok(json) => written.push((key, json)),
                Err(source) => {
                    let position = first[&key];
                    return Ok(Batch::FailedAt {
                        position,
                        error: ApplyError::Document { key, position, action: "encode", source },
                    });
                }
            }
        }
        if !self.documents.commit(D::NAME, from, last, written).await? {
            return Ok(Batch::Lost);
        }
        Ok(match failed {
            // The batch ended before an event that does not decode: applied up to it.
            Some((position, error)) => Batch::FailedAt { position, error },
            None => Batch::Committed(count),
        })
    }
}

/// What one batch did.
enum Batch {
    /// Nothing after the checkpoint.
    Empty,
    /// Applied and committed this many events.
    Committed(u64),
    /// Another process moved the checkpoint first; nothing written.
    Lost,
    /// The event at `position` could not be applied.
    FailedAt { position: u64, error: ApplyError },
}

/// Collects a batch of the log, routed to documents; stops at the first event that does not
/// decode (the batch ends before it).
struct Collecting<D> {
    routed: Vec<Routed<D>>,
    /// The position of the last event read and routed (or skipped as another enum's).
    last: u64,
    /// The first event that does not decode, where the batch ends.
    failed: Option<(u64, ApplyError)>,
    limit: usize,
    /// The last position to take.
    until: Option<u64>,
}

impl<D: DocumentProjection> LogFold for Collecting<D> {
    fn fold(&mut self, event: LogEvent<'_>) -> bool {
        let position = event.position;
        if self.until.is_some_and(|until| position > until) {
            return false;
        }
        match D::route(event) {
            Ok(Some(routed)) => self.routed.push(routed),
            Ok(None) => {}
            Err(error) => {
                self.failed = Some((position, error));
                return false;
            }
        }
        self.last = position;
        self.routed.len() < self.limit
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl<D: DocumentProjection> Runner for DocumentRunner<D> {
    fn name(&self) -> &'static str {
        D::NAME
    }

    fn catch_up<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(self.catch_up_inner(store).instrument(info_span!("catch_up", projection = D::NAME)))
    }

    fn restore<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            check_indexed::<D>()?;
            self.documents.prepare(D::NAME, D::INDEXED).await?;
            let checkpoint = self.documents.checkpoint(D::NAME).await?.position;
            if checkpoint > 0 {
                let at = store.read_all(checkpoint, 1, &[]).await?;
                if at.first().is_none_or(|event| event.position != checkpoint) {
                    return Err(Error::CheckpointAhead { projection: D::NAME, checkpoint });
                }
            }
            Ok(())
        })
    }

    fn rebuild<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            {
                let _applying = self.applying.lock().await;
                self.documents.clear(D::NAME).await?;
                *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = None;
            }
            self.catch_up_inner(store).await
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Each indexed field must be a key of the document's JSON object: a field renamed by serde
/// (`rename`, `rename_all`) would otherwise be filtered on a key no document has.
fn check_indexed<D: DocumentProjection>() -> Result<(), Error> {
    if D::INDEXED.is_empty() {
        return Ok(());
    }
    let json = D::initial().encode_document().map_err(|error| {
        Error::Config(format!("the empty document of projection `{}` does not encode: {error}", D::NAME))
    })?;
    let keys: Vec<String> = match serde_json::from_slice::<serde_json::Value>(&json) {
        Ok(serde_json::Value::Object(object)) => object.into_iter().map(|(key, _)| key).collect(),
        _ => return Err(Error::Config(format!("a document of projection `{}` is not a JSON object", D::NAME))),
    };
    match D::INDEXED.iter().find(|field| !keys.iter().any(|key| key == *field)) {
        None => Ok(()),
        Some(field) => Err(Error::Config(format!(
            "projection `{}` indexes `{field}`, which its documents do not have as a JSON key (they have {}): an \
             indexed field must be written by serde under its own name (no `rename`, no `skip`)",
            D::NAME,
            keys.iter().map(|key| format!("`{key}`")).collect::<Vec<_>>().join(", ")
        ))),
    }
}
