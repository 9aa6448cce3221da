//! Read models kept in a database, one serde document per key: a
//! `#[projection(..., documents)]` is applied to the documents its events touch, batch by
//! batch, and each batch's documents are written in one transaction with the projection's
//! checkpoint, so that every event is applied exactly once, also when the process dies
//! between applying and committing. Queries read the database, from any process.
//!
//! [`DocumentProjection`] is what `#[projection(documents)]` implements; [`DocumentStore`] is
//! what a database provides (SQLite and PostgreSQL in their store crates);
//! [`Documents`] is the query side.

use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::decode::decode_logged;
use crate::event::EventSet;
use crate::projection::{ApplyError, Member, panic_message};
use crate::recorded::Recorded;
use crate::store::sql::{Sql, SqlError};
use crate::store::{BoxFuture, LogEvent, StoreError};

/// A read model of documents: implemented by `#[projection(name = "...", events = E,
/// documents)]` on the document type's impl block.
pub trait DocumentProjection: StoredDocument + Send + Sync + 'static {
    /// The projection's stable name: the key of its checkpoint and of its documents.
    const NAME: &'static str;
    /// The event enums it consumes.
    type Events: EventSet;
    /// The fields queries may filter on (`documents(index(status, customer))`).
    const INDEXED: &'static [&'static str];

    /// The document a key has before any event touched it: `Default::default()`.
    fn initial() -> Self;

    /// The stored type names of the events it consumes.
    fn event_types() -> Vec<&'static str>;

    /// The document an event of the log updates, and how; `None` for an event of another
    /// enum stored under one of its names.
    ///
    /// # Errors
    /// An event that does not decode.
    fn route(event: LogEvent<'_>) -> Result<Option<Routed<Self>>, ApplyError>;

    /// How each event type its `#[apply]` methods take is stored, in their order, for the
    /// [catalog](crate::catalog). Written by `#[projection]`.
    #[doc(hidden)]
    fn applies() -> Vec<crate::projection::StoredAs> {
        Vec::new()
    }

    /// The queries its `#[query]` methods answer, for the [catalog](crate::catalog).
    /// Written by `#[projection]`.
    fn queries() -> Vec<crate::described::QueryEntry> {
        Vec::new()
    }
}

/// What a document needs: it is kept in its database as JSON, so it implements `Serialize`
/// and `Deserialize`. Implemented for every such type.
#[diagnostic::on_unimplemented(
    message = "document projection `{Self}` is kept as JSON, so it must implement both `Serialize` and `Deserialize`",
    label = "its documents are stored in a database as JSON",
    note = "derive the one `{Self}` lacks, or both: `#[derive(Serialize, Deserialize)]`"
)]
pub trait StoredDocument: Sized {
    /// The document as stored.
    ///
    /// # Errors
    /// A failing `Serialize` impl.
    fn encode_document(&self) -> Result<Vec<u8>, serde_json::Error>;

    /// The document from what was stored.
    ///
    /// # Errors
    /// A stored document that does not decode.
    fn decode_document(json: &[u8]) -> Result<Self, serde_json::Error>;
}

#[diagnostic::do_not_recommend]
impl<D: serde::Serialize + serde::de::DeserializeOwned> StoredDocument for D {
    fn encode_document(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    fn decode_document(json: &[u8]) -> Result<Self, serde_json::Error> {
        // Checked as UTF-8 once, then parsed as text: serde_json checks the bytes of each
        // string again when it parses from bytes.
        match std::str::from_utf8(json) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(json),
        }
    }
}

/// The key of a document, from the value an `#[apply(key = ...)]` gives: its `Display`
/// text. Implemented for every type that implements `Display`.
#[diagnostic::on_unimplemented(
    message = "a document's key is text: `{Self}` does not implement `Display`",
    label = "the key of the document this event updates",
    note = "pick a field that implements `Display` (a string, a number, an id type), or write the key: `key = format!(\"{{}}-{{}}\", event.a, event.b)`"
)]
pub trait DocumentKey {
    /// The key.
    fn document_key(&self) -> String;
}

#[diagnostic::do_not_recommend]
impl<T: std::fmt::Display + ?Sized> DocumentKey for T {
    fn document_key(&self) -> String {
        self.to_string()
    }
}

/// An `#[apply]` method bound to its event, waiting for the document.
type ApplyTo<D> = Box<dyn FnOnce(&mut D) -> Result<(), String> + Send>;

/// Documents as a database holds them: each key with its JSON.
pub type Keyed = Vec<(String, Vec<u8>)>;

/// An event on its way to the document it updates.
pub struct Routed<D> {
    /// The document's key.
    pub key: String,
    /// The event's global position.
    pub position: u64,
    event_type: &'static str,
    stream_id: String,
    apply: ApplyTo<D>,
}

impl<D> Routed<D> {
    /// Applies the event to its document; an error or a panic of the `#[apply]` method is an
    /// [`ApplyError`] naming the event.
    ///
    /// # Errors
    /// As said.
    pub fn apply(self, document: &mut D) -> Result<(), ApplyError> {
        let Routed { position, event_type, stream_id, apply, .. } = self;
        match catch_unwind(AssertUnwindSafe(|| apply(document))) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(ApplyError::Failed { event_type, stream_id, position, message }),
            Err(panic) => {
                Err(ApplyError::Panicked { event_type, stream_id, position, message: panic_message(&*panic) })
            }
        }
    }
}

/// The key of the document an event updates by default: the aggregate id of its stream (the
/// part after the first `-` of `Order-42`), or the whole stream id when it has no `-`.
#[must_use]
pub fn default_key(stream_id: &str) -> &str {
    stream_id.split_once('-').map_or(stream_id, |(_, id)| id)
}

/// Decodes a logged event into the member `X` and routes it: what generated code calls for
/// each `#[apply]` of a document projection.
///
/// # Errors
/// An event that does not decode.
#[doc(hidden)]
pub fn route_member<X, Es, I, D>(
    logged: LogEvent<'_>,
    key: impl FnOnce(&Recorded<X>) -> String,
    apply: impl FnOnce(&mut D, &Recorded<X>) -> Result<(), String> + Send + 'static,
) -> Result<Option<Routed<D>>, ApplyError>
where
    X: Member<Es, I> + Send + 'static,
{
    let enum_event = decode_logged::<X::Enum>(&logged).map_err(ApplyError::Corrupt)?;
    let Some(event) = X::extract(enum_event) else { return Ok(None) };
    let recorded = crate::decode::recorded(logged, event);
    Ok(Some(Routed {
        key: key(&recorded),
        position: recorded.position,
        event_type: X::NAME,
        stream_id: recorded.stream_id.clone(),
        apply: Box::new(move |document| apply(document, &recorded)),
    }))
}

/// A database that keeps document read models, with their checkpoints.
///
/// Documents are JSON. Every projection's documents and checkpoint are its own; a store may
/// hold those of many projections.
pub trait DocumentStore: Send + Sync + 'static {
    /// Creates what a projection's documents need (tables, and an index per field queries
    /// filter on), once.
    fn prepare<'a>(&'a self, projection: &'a str, indexed: &'a [&'a str]) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The global position up to which the projection's documents are applied (0 for none),
    /// and the generation of the documents (which every [`clear`](Self::clear) moves on).
    fn checkpoint<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<DocumentCheckpoint, StoreError>>;

    /// The stored documents of `keys` (those there are), as JSON.
    fn load<'a>(&'a self, projection: &'a str, keys: &'a [String]) -> BoxFuture<'a, Result<Keyed, StoreError>>;

    /// The stored document of `key`, if there is one: [`load`](Self::load) of one key, which
    /// a database may answer with less work.
    fn load_one<'a>(&'a self, projection: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            let keys = [key.to_owned()];
            Ok(self.load(projection, &keys).await?.into_iter().next().map(|(_, json)| json))
        })
    }

    /// Writes `documents` and moves the checkpoint from `from` to position `to`, in one
    /// transaction. `Ok(false)`, and nothing written, when the checkpoint is no longer
    /// `from` (position and generation): another process applied those events first, or
    /// cleared the documents for a rebuild.
    fn commit<'a>(
        &'a self,
        projection: &'a str,
        from: DocumentCheckpoint,
        to: u64,
        documents: Keyed,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Documents in key order (the bytes of the keys, as UTF-8) after the key `after`, at
    /// most `limit`; with `filter`, only those whose indexed `field` holds the JSON scalar
    /// `value` (`"paid"`, `42`, `true`, `null`), as serde_json writes it.
    fn list<'a>(
        &'a self,
        projection: &'a str,
        filter: Option<(&'a str, &'a str)>,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Keyed, StoreError>>;

    /// Removes the projection's documents and sets its checkpoint to position 0 of a new
    /// generation, for a rebuild, in one transaction that waits for a commit in flight: a
    /// batch read before it can no longer commit.
    fn clear<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Whether a rebuild can build the documents aside, under another projection name
    /// (a table and checkpoint of their own), while these keep answering queries, and then
    /// put them in their place with [`swap`](Self::swap). `false` by default: a rebuild
    /// then [`clear`](Self::clear)s the documents and applies the log again in place.
    fn builds_aside(&self) -> bool {
        false
    }

    /// Puts the documents of `shadow` (built aside by a rebuild of `projection`, through
    /// this store under that name, with the same `indexed` fields) in the place of
    /// `projection`'s, in one transaction that waits for a commit in flight (and for the
    /// queries reading `projection`'s documents, where the database makes them wait):
    /// `projection`'s documents are dropped, `shadow`'s become its own (indexes included),
    /// and its checkpoint moves to a new generation at `shadow`'s position, or at its own
    /// when that is further but not past `scanned` (the shadow read the log up to `scanned`
    /// and found none of its events after its own position; a live checkpoint past it moves
    /// back, and the events after are applied again to the new documents). A batch read before the swap can no
    /// longer commit; a kept stop of either is forgotten. `Ok(false)`, and nothing done,
    /// when `shadow` has no checkpoint.
    /// [`StoreError::Unsupported`] by default.
    fn swap<'a>(
        &'a self,
        projection: &'a str,
        shadow: &'a str,
        indexed: &'a [&'a str],
        scanned: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let _ = (projection, shadow, indexed, scanned);
        Box::pin(async { Err(StoreError::Unsupported { capability: "rebuilding documents aside" }) })
    }

    /// Drops what [`prepare`](Self::prepare) and commits made for `aside` (a rebuild's
    /// documents that will not be swapped in): its table and checkpoint, and a kept stop.
    /// Nothing by default.
    fn discard<'a>(&'a self, aside: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = aside;
        Box::pin(async { Ok(()) })
    }

    /// Keeps, for every process to see, that `projection` stopped at the event at
    /// `position` and why. It counts while the projection's checkpoint is before
    /// `position`; clearing the projection (a rebuild) forgets it. The default keeps
    /// nothing: the stop is then known only in the process where it happened.
    fn record_stop<'a>(
        &'a self,
        projection: &'a str,
        position: u64,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = (projection, position, reason);
        Box::pin(async { Ok(()) })
    }

    /// What [`record_stop`](Self::record_stop) kept for `projection`, if anything.
    fn recorded_stop<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<Option<RecordedStop>, StoreError>> {
        let _ = projection;
        Box::pin(async { Ok(None) })
    }

    /// Takes `projection`'s worker lease for `holder`, or renews it, for `ttl`: when no one
    /// holds it, its holder's time is up, or `holder` holds it already. Returns the lease as
    /// it stands after (another's, when another holds it). See [`Lease`]. The default keeps
    /// no lease: every worker is given it, as each one's batches are safe beside the others'.
    fn claim<'a>(
        &'a self,
        projection: &'a str,
        holder: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<Lease, StoreError>> {
        let _ = projection;
        Box::pin(async move { Ok(Lease::unkept(holder, ttl)) })
    }

    /// Gives `projection`'s worker lease up, if `holder` holds it, so that another worker
    /// takes it at once.
    fn release<'a>(&'a self, projection: &'a str, holder: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = (projection, holder);
        Box::pin(async { Ok(()) })
    }

    /// `projection`'s worker lease as the database keeps it, expired or not; `None` when no
    /// worker took it (or the database keeps no leases).
    fn lease<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<Option<Lease>, StoreError>> {
        let _ = projection;
        Box::pin(async { Ok(None) })
    }

    /// Which database this is, as [`SqlStore::database_identity`](crate::sql::SqlStore::database_identity)
    /// says: inline document projections need the events' own. `None` by default (no other
    /// connection can share it).
    fn database_identity(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        Box::pin(async { Ok(None) })
    }

    /// [`commit`](Self::commit) inside a transaction of the event store's (an append's, in
    /// this same database), through its connection `sql`, for an inline document projection:
    /// if the checkpoint is at position `from`, loads the stored documents of `work`'s keys,
    /// writes the documents `work` makes of them, and moves the checkpoint to `to`.
    /// `Ok(false)`, and nothing done, if the checkpoint is elsewhere or a catch-up holds it
    /// (the catch-up applies these events after the append). [`StoreError::Unsupported`] by
    /// default: a store whose [`database_identity`](Self::database_identity) is `Some` must
    /// implement it, or every append of an app with inline document projections fails.
    fn commit_in<'a>(
        &'a self,
        sql: &'a mut Sql<'_>,
        projection: &'static str,
        from: u64,
        to: u64,
        work: Box<dyn DocumentWork>,
    ) -> BoxFuture<'a, Result<bool, SqlError>> {
        let _ = (sql, projection, from, to, work);
        Box::pin(async { Err(SqlError::Store(StoreError::Unsupported { capability: "inline document projections" })) })
    }
}

/// What an inline document projection does with its documents inside an append's
/// transaction ([`DocumentStore::commit_in`]).
pub trait DocumentWork: Send {
    /// The keys of the documents it changes, each once.
    fn keys(&self) -> &[String];

    /// The documents to write (as JSON), made from the stored ones of [`keys`](Self::keys)
    /// (those there are).
    ///
    /// # Errors
    /// An event could not be applied: the append is rolled back.
    fn apply(self: Box<Self>, stored: Keyed) -> Result<Keyed, SqlError>;
}

/// The statements of [`commit_through`], on one projection's documents table.
#[derive(Debug, Clone, Copy)]
pub struct DocumentStatements {
    /// Reads the projection's (`$1`) position, locking its row where the database locks
    /// rows; no row when another holds the lock.
    pub position: &'static str,
    /// Reads the document of key `$1`, as JSON text, in one column.
    pub load: &'static str,
    /// Writes the document `$2` (JSON text) under key `$1`, in place of any there.
    pub upsert: &'static str,
    /// Moves the projection's (`$1`) position to `$2`.
    pub advance: &'static str,
}

/// What [`DocumentStore::commit_in`] does once a database has said how, in `statements`:
/// `Ok(false)`, and nothing done, unless the projection's position is `from`.
///
/// # Errors
/// One of the statements failed, or `work` refused an event.
pub async fn commit_through(
    sql: &mut Sql<'_>,
    statements: &DocumentStatements,
    projection: &'static str,
    from: u64,
    to: u64,
    work: Box<dyn DocumentWork>,
) -> Result<bool, SqlError> {
    let row = sql.query_opt(statements.position, &[&projection]).await?;
    if row.map(|row| row.get::<u64>(0)).transpose()? != Some(from) {
        return Ok(false);
    }
    let mut stored = Vec::with_capacity(work.keys().len());
    for key in work.keys() {
        if let Some(row) = sql.query_opt(statements.load, &[key]).await? {
            stored.push((key.clone(), row.get::<String>(0)?.into_bytes()));
        }
    }
    for (key, document) in work.apply(stored)? {
        let document = String::from_utf8(document)
            .map_err(|error| SqlError::Store(StoreError::backend("commit documents", false, error)))?;
        sql.execute(statements.upsert, &[&key, &document]).await?;
    }
    sql.execute(statements.advance, &[&projection, &to]).await?;
    Ok(true)
}

/// Checks an indexed field's name for a [`DocumentStore`], which writes it into the SQL of
/// its index (SQL takes no parameter there): ASCII letters, digits and `_`, as a Rust field
/// name is (the macro checks that much already).
///
/// # Errors
/// [`StoreError::InvalidIdentifier`] for any other name.
pub fn check_field(field: &str) -> Result<(), StoreError> {
    if !field.is_empty() && field.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_') {
        Ok(())
    } else {
        Err(StoreError::invalid_identifier("indexed field", field, "a field is a Rust identifier"))
    }
}

/// Where a document projection's documents are: applied up to `position`, in the
/// `generation` the last rebuild started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentCheckpoint {
    /// The global position of the last event applied (0 for none).
    pub position: u64,
    /// How many times the documents were cleared.
    pub generation: u64,
}

/// A stored projection's stop as its read-model database keeps it
/// ([`DocumentStore::record_stop`], [`SqlStore::record_stop`](crate::sql::SqlStore::record_stop)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedStop {
    /// The global position of the event it could not apply.
    pub position: u64,
    /// Why.
    pub reason: String,
}

/// Which worker runs a stored projection: the holder of its lease in the read-model database
/// ([`DocumentStore::claim`], [`SqlStore::claim`](crate::sql::SqlStore::claim)).
///
/// One worker per projection holds it at a time, and renews it while it runs; when its app
/// shuts down ([`App::shutdown`](crate::App::shutdown)) or is dropped while its runtime
/// runs on, it gives the lease up, and when its process dies (or exits without a shutdown),
/// the lease runs out; then another process's worker takes it. The lease saves the work of several workers on one
/// projection; exactly-once does not rest on it: every batch still moves the checkpoint
/// from where it read it, so a worker that lost its lease mid-batch (a process paused
/// longer than the lease) cannot apply an event twice.
///
/// Times are the read-model database's clock (PostgreSQL's `clock_timestamp()`; for a
/// SQLite file, the host's), so the processes' clocks need not agree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    /// The worker's name: [`AppBuilder::worker_name`](crate::AppBuilder::worker_name), by
    /// default the host, the process id and a random part.
    pub holder: String,
    /// When the holder took it.
    pub since: std::time::SystemTime,
    /// When it runs out unless the holder renews it.
    pub until: std::time::SystemTime,
    /// Whether it had run out when it was read.
    pub expired: bool,
}

impl Lease {
    /// The lease a database that keeps none gives every worker.
    #[must_use]
    pub fn unkept(holder: &str, ttl: std::time::Duration) -> Self {
        let now = std::time::SystemTime::now();
        Lease { holder: holder.to_owned(), since: now, until: now + ttl, expired: false }
    }

    /// Whether `holder` holds it (and it has not run out).
    #[must_use]
    pub fn held_by(&self, holder: &str) -> bool {
        !self.expired && self.holder == holder
    }

    /// A lease as a database keeps it: times in milliseconds since the Unix epoch, and the
    /// database's time when it was read.
    #[must_use]
    pub fn from_millis(holder: String, since: i64, until: i64, now: i64) -> Self {
        let time =
            |millis: i64| std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(millis).unwrap_or(0));
        Lease { holder, since: time(since), until: time(until), expired: until <= now }
    }
}

/// Why a document query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored document no longer deserializes into the document type (its shape changed
    /// without the projection being rebuilt).
    #[error("the document `{key}` of projection `{projection}` does not decode: {source}")]
    Decode {
        /// The projection.
        projection: &'static str,
        /// The document's key.
        key: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A filter value that is not a JSON scalar (a string, number, boolean or null).
    #[error("projection `{projection}` filters `{field}` by a string, number, boolean or null; {value} is not one")]
    NotScalar {
        /// The projection.
        projection: &'static str,
        /// The field.
        field: String,
        /// The value, as JSON.
        value: String,
    },
    /// A field that is not among the projection's indexed fields.
    #[error("projection `{projection}` has no indexed field `{field}`; declare it with `documents(index({field}))`")]
    NotIndexed {
        /// The projection.
        projection: &'static str,
        /// The field asked for.
        field: String,
    },
    /// A filter value that does not serialize.
    #[error("a filter value of projection `{projection}` does not serialize: {source}")]
    Encode {
        /// The projection.
        projection: &'static str,
        /// What serde said.
        source: serde_json::Error,
    },
    /// No document store was given to the app.
    #[error("the app has no document store; give it one with `AppBuilder::documents_in`")]
    NoStore,
}

/// The documents of projection `D`, read from its database: from the app that runs the
/// projection, or from any other process with the same database.
pub struct Documents<D> {
    store: Arc<dyn DocumentStore>,
    projection: PhantomData<fn() -> D>,
}

impl<D: DocumentProjection> Documents<D> {
    /// The documents of `D` in `store`.
    #[must_use]
    pub fn new(store: Arc<dyn DocumentStore>) -> Self {
        Documents { store, projection: PhantomData }
    }

    fn decode(key: String, json: &[u8]) -> Result<(String, D), DocumentError> {
        match D::decode_document(json) {
            Ok(document) => Ok((key, document)),
            Err(source) => Err(DocumentError::Decode { projection: D::NAME, key, source }),
        }
    }

    /// The document of `key`, if an event touched it.
    ///
    /// # Errors
    /// The database failed, or the document does not decode.
    pub async fn get(&self, key: &str) -> Result<Option<D>, DocumentError> {
        let Some(json) = self.store.load_one(D::NAME, key).await? else { return Ok(None) };
        match D::decode_document(&json) {
            Ok(document) => Ok(Some(document)),
            Err(source) => Err(DocumentError::Decode { projection: D::NAME, key: key.to_owned(), source }),
        }
    }

    /// The documents of `keys` that exist, with their keys.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<(String, D)>, DocumentError> {
        let found = self.store.load(D::NAME, keys).await?;
        found.into_iter().map(|(key, json)| Self::decode(key, &json)).collect()
    }

    /// A page of documents in key order: those after the key `after`, at most `limit`. The
    /// next page starts after the last key of this one.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn list(&self, after: Option<&str>, limit: usize) -> Result<Vec<(String, D)>, DocumentError> {
        let found = self.store.list(D::NAME, None, after, limit).await?;
        found.into_iter().map(|(key, json)| Self::decode(key, &json)).collect()
    }

    /// A page of the documents whose indexed `field` equals `value` (a string, number,
    /// boolean or `None`: compared as the JSON serde writes), in key order.
    ///
    /// # Errors
    /// A field that is not indexed, a value that is not a JSON scalar, or as
    /// [`get`](Self::get).
    pub async fn filter<V: serde::Serialize + ?Sized>(
        &self,
        field: &str,
        value: &V,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, D)>, DocumentError> {
        if !D::INDEXED.contains(&field) {
            return Err(DocumentError::NotIndexed { projection: D::NAME, field: field.to_owned() });
        }
        let json =
            serde_json::to_string(value).map_err(|source| DocumentError::Encode { projection: D::NAME, source })?;
        if json.starts_with(['{', '[']) {
            return Err(DocumentError::NotScalar { projection: D::NAME, field: field.to_owned(), value: json });
        }
        let found = self.store.list(D::NAME, Some((field, &json)), after, limit).await?;
        found.into_iter().map(|(key, json)| Self::decode(key, &json)).collect()
    }

    /// The position up to which the documents are applied.
    ///
    /// # Errors
    /// The database failed.
    pub async fn checkpoint(&self) -> Result<u64, DocumentError> {
        Ok(self.store.checkpoint(D::NAME).await?.position)
    }
}

/// A query answered by a document projection from its database: implemented by a
/// `#[query] async fn` of a `#[projection(..., documents)]`, which takes the projection's
/// [`Documents`] and the query. [`App::query`](crate::App::query) answers it in any process
/// that has the database, whether it runs the projection or not.
#[diagnostic::on_unimplemented(
    message = "no document projection answers `{Self}`",
    label = "`{Self}` is not answered by any `#[query]` method",
    note = "add `#[query] async fn get(documents: &Documents<Self>, query: {Self}) -> Result<YourAnswer, DocumentError>` to a `#[projection(..., documents)]` impl"
)]
pub trait DocumentQuery: Send + 'static {
    /// The projection whose documents answer it.
    type Projection: DocumentProjection;
    /// The typed answer.
    type Output: Send + 'static;

    /// Answers the query from the projection's documents.
    fn answer(self, documents: &Documents<Self::Projection>) -> BoxFuture<'_, Result<Self::Output, DocumentError>>;
}
