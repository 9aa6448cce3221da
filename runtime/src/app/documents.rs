//! Runs a document projection: reads a batch of the log after the checkpoint in its
//! database, loads the documents the batch touches, applies the events in log order, and
//! writes the documents with the new checkpoint in one transaction. A batch whose checkpoint
//! another process moved first is dropped and read again, so every event is applied once.

use std::any::{Any, type_name};
use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use tracing::{Instrument, info_span};

use super::batches::{Applying, Batch, Batches};
use super::error::Error;
use super::runner::{ProjectionStopped, Runner};
use super::{App, AppBuilder};
use crate::documents::{
    DocumentError, DocumentProjection, DocumentStore, Documents, Keyed, Lease, RecordedStop, Routed,
};
use crate::event::EventSet;
use crate::projection::ApplyError;
use crate::store::{BoxFuture, EventStore, EventStoreExt, LogEvent, LogFold};

impl App {
    /// The documents of projection `D`, read from the app's document store: they need not be
    /// registered here, so that a process that only answers queries never applies events.
    ///
    /// # Errors
    /// The app has no document store.
    pub fn documents<D: DocumentProjection>(&self) -> Result<Documents<D>, Error> {
        let store = self.inner.documents.clone().ok_or(DocumentError::NoStore)?;
        Ok(Documents::new(store))
    }

    /// Applies to document projection `D` what the log holds after its checkpoint, now
    /// (`execute` and [`follow_log`](Self::follow_log) do it on their own); returns how many
    /// events this process applied.
    ///
    /// # Errors
    /// The projection is not registered here, or has stopped at an event it cannot apply
    /// ([`Error::ProjectionStopped`], until a rebuild); a database failure.
    pub async fn update_documents<D: DocumentProjection>(&self) -> Result<u64, Error> {
        let runner = self.document_runner::<D>()?;
        Runner::catch_up(runner, &*self.inner.store).await
    }

    /// Builds document projection `D`'s documents again from the whole log: after a change
    /// to what its `#[apply]` methods do, or to fix a stopped projection. Returns how many
    /// events were applied.
    ///
    /// On SQLite and PostgreSQL the new documents are built aside, under a name of the
    /// rebuild's own, while queries read the old ones and commands keep them up to date; once
    /// the new ones have caught up, one transaction puts them in place (indexes included) and
    /// drops the old ones. A rebuild that fails (an event the code cannot apply) leaves the
    /// old documents in place. A document store that cannot build aside clears the
    /// documents and applies the log in place: queries see fewer documents until it ends.
    ///
    /// # Errors
    /// As [`update_documents`](Self::update_documents); a rebuild that stops names the
    /// documents it was building (`projection#rebuild-<id>`), which it drops.
    pub async fn rebuild_documents<D: DocumentProjection>(&self) -> Result<u64, Error> {
        let runner = self.document_runner::<D>()?;
        Runner::rebuild(runner, &*self.inner.store).instrument(info_span!("rebuild", projection = D::NAME)).await
    }

    pub(crate) fn document_runner<D: DocumentProjection>(&self) -> Result<&DocumentRunner<D>, Error> {
        self.inner
            .projections
            .iter()
            .find_map(|runner| runner.as_any().downcast_ref::<DocumentRunner<D>>())
            .ok_or(Error::DocumentProjectionNotRegistered { projection: D::NAME, rust_type: type_name::<D>() })
    }
}

impl AppBuilder {
    /// The database that keeps the document read models (`#[projection(documents)]`): a
    /// `SqliteDocuments` or `PostgresDocuments`, which may be another database than the
    /// events'.
    pub fn documents_in(mut self, documents: impl DocumentStore) -> Self {
        self.documents = Some(Arc::new(documents));
        self
    }

    /// [`documents_in`](Self::documents_in) with a database shared with other apps.
    pub fn shared_documents(mut self, documents: Arc<dyn DocumentStore>) -> Self {
        self.documents = Some(documents);
        self
    }

    /// Registers a document projection: `build` catches it up from the checkpoint in its
    /// database, and every `execute` brings it up to date before returning. Another process
    /// may run it too: each batch of events is applied once, by whichever commits it first.
    pub fn document_projection<D: DocumentProjection>(mut self) -> Self {
        self.document_projections.push(Box::new(|documents, batch| {
            (Arc::new(DocumentRunner::<D>::new(documents, batch)) as Arc<dyn Runner>, None)
        }));
        self.described.documents::<D>(false);
        self.enums.extend(<D::Events as EventSet>::enums());
        self
    }

    /// How many events a document projection applies per transaction (default 1024).
    pub fn document_batch(mut self, events: usize) -> Self {
        self.document_batch = events;
        self
    }
}

/// The rebuild a runner says it has under way, for [`Runner::rebuilding`], while it lives.
struct Progress<'a> {
    rebuilt_as: &'a std::sync::Mutex<Option<&'static str>>,
}

impl<'a> Progress<'a> {
    fn of(rebuilt_as: &'a std::sync::Mutex<Option<&'static str>>, name: &'static str) -> Self {
        *rebuilt_as.lock().unwrap_or_else(PoisonError::into_inner) = Some(name);
        Progress { rebuilt_as }
    }
}

impl Drop for Progress<'_> {
    fn drop(&mut self) {
        *self.rebuilt_as.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// How many times a rebuild catches its documents up before it swaps them in, when the live
/// ones keep moving past the head it read (appends come faster than it catches up).
const ASIDE_ROUNDS: u32 = 3;

/// Events read, routed and applied per transaction, unless the builder says otherwise.
pub(crate) const DEFAULT_DOCUMENT_BATCH: usize = 1024;

pub(crate) struct DocumentRunner<D> {
    pub(crate) documents: Arc<dyn DocumentStore>,
    /// The name its documents and checkpoint are kept under: the projection's, or a
    /// rebuild's (which builds them aside, see [`Runner::rebuild`]).
    name: &'static str,
    types: Vec<&'static str>,
    batch: usize,
    /// Applied in the transactions of this app's appends: its checkpoint is the position up
    /// to which the log is scanned, events of other types included.
    inline: bool,
    applying: Applying,
    /// Held by this process's rebuild, so that it runs one at a time.
    rebuilding: tokio::sync::Mutex<()>,
    /// The name the rebuild under way builds the documents under, for its progress.
    rebuilt_as: std::sync::Mutex<Option<&'static str>>,
    projection: std::marker::PhantomData<fn() -> D>,
}

impl<D: DocumentProjection> DocumentRunner<D> {
    pub(crate) fn new(documents: Arc<dyn DocumentStore>, batch: usize) -> Self {
        Self::named(documents, batch, D::NAME)
    }

    fn named(documents: Arc<dyn DocumentStore>, batch: usize, name: &'static str) -> Self {
        DocumentRunner {
            documents,
            name,
            types: D::event_types(),
            batch: batch.max(1),
            inline: false,
            applying: Applying::new(name),
            rebuilding: tokio::sync::Mutex::new(()),
            rebuilt_as: std::sync::Mutex::new(None),
            projection: std::marker::PhantomData,
        }
    }

    /// The runner of an inline projection.
    pub(crate) fn inline(mut self) -> Self {
        self.inline = true;
        self
    }

    pub(crate) fn stopped(&self) -> Option<Arc<ProjectionStopped>> {
        self.applying.stopped()
    }

    /// Catches `aside` up to the log's head, again while the live documents have applied
    /// events past it (a few times at most), then swaps it in. Returns how many events it
    /// applied. An error leaves the live documents as they were.
    async fn rebuild_aside(&self, aside: &DocumentRunner<D>, store: &dyn EventStore) -> Result<u64, Error> {
        let mut applied = 0;
        let mut rounds = 0;
        let scanned = loop {
            let head = store.head().await?;
            // Ends on a read of the log past `head`: every event up to it is applied.
            applied += aside.applying.catch_up(aside, store, None).await?;
            rounds += 1;
            if self.documents.checkpoint(D::NAME).await?.position <= head || rounds == ASIDE_ROUNDS {
                break head;
            }
        };
        // Behind the live documents still, the swap moves the checkpoint back to where the
        // rebuilt ones are, and the live runner applies the events after it. A live batch
        // in flight meanwhile (in this process too) was read in the old generation: it
        // cannot commit, and reads again from the new checkpoint.
        if !self.documents.swap(D::NAME, aside.name, D::INDEXED, scanned).await? {
            return Err(Error::Config(format!(
                "the documents rebuilt as `{}` were gone when the rebuild swapped them in",
                aside.name
            )));
        }
        // A stop of the live documents no longer holds: they are gone.
        self.applying.reset(async { Ok(()) }).await?;
        Ok(applied)
    }

    async fn batch_inner(&self, store: &dyn EventStore, until: Option<u64>) -> Result<Batch, Error> {
        let from = self.documents.checkpoint(self.name).await?;
        // Read before the log: every event up to it is committed, so a read that ends short
        // has seen them all.
        let head = if self.inline { store.head().await? } else { 0 };
        let collecting =
            Collecting::<D> { routed: Vec::new(), last: from.position, failed: None, limit: self.batch, until };
        let (collected, folded) = store.fold_log_into(from.position + 1, self.batch, &self.types, collecting).await?;
        let Collecting { routed, mut last, failed, .. } = collected;
        // An inline projection's checkpoint moves over the events of other types too, to the
        // head, where the next append of this app expects it.
        if self.inline && failed.is_none() && until.is_none() && !folded.stopped && folded.folded < self.batch {
            last = last.max(head);
        }
        if routed.is_empty() && last == from.position {
            return Ok(match failed {
                Some((position, error)) => Batch::FailedAt { position, error },
                None => Batch::Empty,
            });
        }
        let touched = Touched::of(&routed);
        let stored = self.documents.load(self.name, &touched.keys).await?;
        let count = routed.len() as u64;
        let written = match touched.apply(routed, stored) {
            Ok(written) => written,
            // Nothing of this batch is written: a document may be half-changed.
            Err((position, error)) => return Ok(Batch::FailedAt { position, error }),
        };
        if !self.documents.commit(self.name, from, last, written).await? {
            return Ok(Batch::Lost);
        }
        Ok(match failed {
            // The batch ended before an event that does not decode: applied up to it.
            Some((position, error)) => Batch::FailedAt { position, error },
            None => Batch::Committed(count),
        })
    }
}

impl<D: DocumentProjection> Batches for DocumentRunner<D> {
    fn position<'a>(&'a self) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move { Ok(self.documents.checkpoint(self.name).await?.position) })
    }

    fn batch<'a>(&'a self, store: &'a dyn EventStore, until: Option<u64>) -> BoxFuture<'a, Result<Batch, Error>> {
        Box::pin(self.batch_inner(store, until))
    }

    fn record_stop<'a>(&'a self, position: u64, reason: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(self.documents.record_stop(self.name, position, reason).await?) })
    }
}

/// The documents a batch of routed events touches: their keys in key order (a database finds,
/// and writes, neighbouring keys on the same pages), each with the first event that touches
/// it.
pub(crate) struct Touched {
    pub(crate) keys: Vec<String>,
    first: HashMap<String, u64>,
}

impl Touched {
    pub(crate) fn of<D>(routed: &[Routed<D>]) -> Self {
        let mut first: HashMap<String, u64> = HashMap::with_capacity(routed.len());
        for routed in routed {
            first.entry(routed.key.clone()).or_insert(routed.position);
        }
        let mut keys: Vec<String> = first.keys().cloned().collect();
        keys.sort_unstable();
        Touched { keys, first }
    }

    /// Applies `routed`, in log order, to the `stored` documents (the rest start empty): the
    /// documents to write, in key order, or the event at which the batch fails (a stored
    /// document that does not decode fails at the first event that touches it).
    pub(crate) fn apply<D: DocumentProjection>(
        &self,
        routed: Vec<Routed<D>>,
        stored: Keyed,
    ) -> Result<Keyed, (u64, ApplyError)> {
        let mut documents: HashMap<String, D> = HashMap::with_capacity(self.keys.len());
        for (key, json) in stored {
            match D::decode_document(&json) {
                Ok(document) => {
                    documents.insert(key, document);
                }
                Err(source) => {
                    let position = self.first[&key];
                    return Err((position, ApplyError::Document { key, position, action: "decode", source }));
                }
            }
        }
        for routed in routed {
            let position = routed.position;
            let document = documents.entry(routed.key.clone()).or_insert_with(D::initial);
            routed.apply(document).map_err(|error| (position, error))?;
        }
        let mut written = Vec::with_capacity(documents.len());
        for (key, document) in documents {
            match document.encode_document() {
                Ok(json) => written.push((key, json)),
                Err(source) => {
                    let position = self.first[&key];
                    return Err((position, ApplyError::Document { key, position, action: "encode", source }));
                }
            }
        }
        written.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        Ok(written)
    }
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
        Box::pin(self.applying.catch_up(self, store, None).instrument(info_span!("catch_up", projection = D::NAME)))
    }

    fn catch_up_holding<'a>(
        &'a self,
        store: &'a dyn EventStore,
        held: &'a std::sync::atomic::AtomicBool,
    ) -> BoxFuture<'a, Result<u64, Error>> {
        let catch_up = self.applying.catch_up(self, store, Some(held));
        Box::pin(catch_up.instrument(info_span!("catch_up", projection = D::NAME)))
    }

    fn restore<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            check_indexed::<D>()?;
            self.documents.prepare(D::NAME, D::INDEXED).await?;
            let checkpoint = self.documents.checkpoint(D::NAME).await?.position;
            check_checkpoint(store, D::NAME, checkpoint).await
        })
    }

    /// Builds the documents aside, under a name of the rebuild's own, while these keep
    /// answering queries and taking the log's new events, then swaps them in, in one
    /// transaction; where the database cannot, clears these and applies the log again.
    fn rebuild<'a>(&'a self, store: &'a dyn EventStore) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            if !self.documents.builds_aside() {
                self.applying.reset(async { Ok(self.documents.clear(D::NAME).await?) }).await?;
                return self.applying.catch_up(self, store, None).await;
            }
            let _rebuilding = self.rebuilding.lock().await;
            // A name of this rebuild's own: another process's rebuild of the projection at
            // the same time builds under its own, and the names a database keeps for the
            // aside documents (SQLite's indexes) are never those of the live ones. Kept for
            // the process (a stop names it as a `&'static str`): one per rebuild.
            let name: &'static str =
                Box::leak(format!("{}#rebuild-{}", D::NAME, uuid::Uuid::now_v7().simple()).into_boxed_str());
            let aside = DocumentRunner::<D>::named(Arc::clone(&self.documents), self.batch, name);
            let _progress = Progress::of(&self.rebuilt_as, name);
            let rebuilt = async {
                self.documents.prepare(name, D::INDEXED).await?;
                self.rebuild_aside(&aside, store).await
            }
            .await;
            if rebuilt.is_err()
                && let Err(error) = self.documents.discard(name).await
            {
                tracing::warn!(projection = D::NAME, aside = name, %error, "the documents of a failed rebuild are left");
            }
            let applied = rebuilt?;
            // The events the live documents applied past where the rebuilt ones were, now.
            Ok(applied + self.applying.catch_up(self, store, None).await?)
        })
    }

    fn rebuilding<'a>(&'a self) -> BoxFuture<'a, Result<Option<u64>, Error>> {
        Box::pin(async move {
            let aside = *self.rebuilt_as.lock().unwrap_or_else(PoisonError::into_inner);
            match aside {
                Some(name) => Ok(Some(self.documents.checkpoint(name).await?.position)),
                None => Ok(None),
            }
        })
    }

    fn stored(&self) -> bool {
        true
    }

    fn stop(&self) -> Option<Arc<ProjectionStopped>> {
        self.stopped()
    }

    fn position<'a>(&'a self) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move { Ok(self.documents.checkpoint(D::NAME).await?.position) })
    }

    fn event_types(&self) -> Vec<&'static str> {
        self.types.clone()
    }

    fn recorded_stop<'a>(&'a self) -> BoxFuture<'a, Result<Option<RecordedStop>, Error>> {
        Box::pin(async move { Ok(self.documents.recorded_stop(D::NAME).await?) })
    }

    fn claim<'a>(&'a self, holder: &'a str, ttl: std::time::Duration) -> BoxFuture<'a, Result<Option<Lease>, Error>> {
        Box::pin(async move { Ok(Some(self.documents.claim(D::NAME, holder, ttl).await?)) })
    }

    fn release<'a>(&'a self, holder: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(self.documents.release(D::NAME, holder).await?) })
    }

    fn lease<'a>(&'a self) -> BoxFuture<'a, Result<Option<Lease>, Error>> {
        Box::pin(async move { Ok(self.documents.lease(D::NAME).await?) })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Refuses a stored read model's checkpoint that is past the end of the log (the store was
/// restored from an older copy): applying on from there would skip the events in between.
pub(crate) async fn check_checkpoint(
    store: &dyn EventStore,
    projection: &'static str,
    checkpoint: u64,
) -> Result<(), Error> {
    if checkpoint > 0 {
        let at = store.read_all(checkpoint, 1, &[]).await?;
        if at.first().is_none_or(|event| event.position != checkpoint) {
            return Err(Error::CheckpointAhead { projection, checkpoint });
        }
    }
    Ok(())
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
