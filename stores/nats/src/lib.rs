//! [`NatsStore`]: the distributed store on NATS JetStream, which replicates and clusters.
//!
//! - One JetStream stream holds the store; each event stream is one subject,
//!   `<prefix>.e.<stream id>` (characters outside `[A-Za-z0-9_-]` are escaped as `~HH`).
//! - **A batch append is one message** carrying all its events: JetStream 2.9 cannot publish
//!   several messages atomically, and one message is atomic. So a batch is limited by the
//!   server's `max_payload` (1 MB by default); a larger one is refused whole.
//! - The expected version is enforced by JetStream's expected-last-subject-sequence: the
//!   append reads the subject's last message (its version is in its headers) and publishes
//!   on condition that it is still the last.
//! - **Global order is the JetStream stream sequence**, assigned in commit order. An event's
//!   position is `sequence << 20 | index in its batch`, so positions grow in log order but are
//!   not consecutive.
//! - Idempotency uses message ids: a retried batch (the same event ids) within the stream's
//!   duplicate window is acknowledged with the first outcome, as is a retry at any time of a
//!   batch at the version its expectation names (found by reading the subject's batches up
//!   to it, only when the expectation no longer holds). JetStream has no per-event uniqueness, so a batch that only
//!   partly repeats an earlier one is not detected: the store declares
//!   `unique_event_ids: false`.
//! - Checkpoints and snapshots live in key-value buckets: JetStream streams named
//!   `KV_<prefix>_checkpoints` and `KV_<prefix>_snapshots` with subjects `$KV.<bucket>.<key>`
//!   and one message kept per subject, which is what a JetStream bucket is (the `nats kv`
//!   tools read them). They are driven through the stream API, which works with every
//!   server since 2.9. Live subscribers use an ordered consumer on new messages.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod bucket;
mod names;
mod read;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, stream};
use bytes::{Buf, BufMut, BytesMut};
use eventsmith_runtime::id::fnv1a;
use eventsmith_runtime::store::{
    AppendOutcome, BoxFuture, Capabilities, Checkpoint, EventStore, ExpectedVersion, Head, NewEvent, Snapshot,
    StoreError, StoredEvent,
};
use futures_util::StreamExt;
use tokio::sync::watch;

use batch::{
    Batch, FORMAT_NAMESPACES, HEADER_COUNT, HEADER_FIRST_VERSION, HEADER_FORMAT, HEADER_RECORDED_AT,
    HEADER_STREAM_TOKEN, INDEX_BITS, encode_batch, header_u64, position, recorded_at_header,
};
use bucket::{Bucket, decode_snapshot};
use names::{MAX_TOKEN, subject_token};
pub(crate) use names::{kv_key, stream_id_of_token};

/// The most events one batch (one message) holds: positions keep 20 bits for the index.
const MAX_BATCH: usize = 1 << batch::INDEX_BITS;

/// Reads of the log of at most this many events, or this many messages from the head, are
/// direct gets, one message each (a follower's next event, a wait for a position); longer
/// ones stream through a consumer.
const DIRECT_READS: usize = 16;

/// How long a read waits for the replica answering it to get a message the leader has.
const REPLICA_WAIT: Duration = Duration::from_secs(5);

/// Options for [`NatsStore::connect_with`] and [`NatsStore::from_client`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsOptions {
    /// The JetStream stream holding the events (letters, digits, `_` and `-`).
    pub stream: String,
    /// The subject prefix of the event subjects, and of the key-value bucket names.
    pub prefix: String,
    /// How long JetStream remembers message ids for duplicate detection.
    pub duplicate_window: Duration,
    /// Replicas of the stream and buckets (1 on a single server; 3 or 5 in a cluster).
    pub replicas: usize,
    /// A PEM file of the certificates that sign the servers' (TLS is then required); the
    /// system's roots otherwise, for `tls://` URLs.
    pub root_certificates: Option<std::path::PathBuf>,
    /// A NATS credentials file (`.creds`: a user JWT and its NKey seed).
    pub credentials_file: Option<std::path::PathBuf>,
}

impl Default for NatsOptions {
    fn default() -> Self {
        Self {
            stream: "EVENTSMITH".into(),
            prefix: "eventsmith".into(),
            duplicate_window: Duration::from_secs(120),
            replicas: 1,
            root_certificates: None,
            credentials_file: None,
        }
    }
}

/// The event store on NATS JetStream.
#[derive(Clone)]
pub struct NatsStore {
    shared: Arc<Shared>,
}

struct Shared {
    context: jetstream::Context,
    stream: stream::Stream,
    prefix: String,
    checkpoints: Bucket,
    snapshots: Bucket,
    head: Head,
    follower: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Whether the stream is replicated (more than one replica). JetStream 2.9 checks
    /// `Nats-Expected-Last-Subject-Sequence` of a replicated stream against what it has
    /// applied, not against what is in flight, so two appends at one version can both pass
    /// (nats-server issue 4320, found here by the chaos run): on a replicated stream an append
    /// is conditioned on the stream's last sequence instead, read from the leader.
    replicated: bool,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(follower) = self.follower.lock().ok().and_then(|mut follower| follower.take()) {
            follower.abort();
        }
    }
}

impl std::fmt::Debug for NatsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsStore").field("prefix", &self.shared.prefix).finish_non_exhaustive()
    }
}

pub(crate) fn backend(operation: &'static str, error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend { operation, retryable: true, source: Box::new(error) }
}

/// Credentials taken out of a server URL.
enum Credentials {
    UserAndPassword(String, String),
    Token(String),
}

/// The servers of a URL (a cluster's are separated by commas), without their credentials,
/// and the credentials (`nats://user:password@host` or `nats://token@host`).
fn servers_and_credentials(url: &str) -> Result<(Vec<async_nats::ServerAddr>, Option<Credentials>), StoreError> {
    let mut credentials = None;
    let mut servers = Vec::new();
    for server in url.split(',').map(str::trim) {
        let server = match server.split_once("://").and_then(|(scheme, rest)| {
            rest.rsplit_once('@').map(|(secret, host)| (format!("{scheme}://{host}"), secret))
        }) {
            Some((bare, secret)) => {
                credentials = Some(match secret.split_once(':') {
                    Some((user, password)) => Credentials::UserAndPassword(user.to_owned(), password.to_owned()),
                    None => Credentials::Token(secret.to_owned()),
                });
                bare
            }
            None => server.to_owned(),
        };
        // The error names what is wrong with the address, never the credentials, which are
        // no longer in it.
        let address = server.parse::<async_nats::ServerAddr>().map_err(|error| StoreError::Backend {
            operation: "connect",
            retryable: false,
            source: error.into(),
        })?;
        servers.push(address);
    }
    Ok((servers, credentials))
}

impl NatsStore {
    /// Connects to `url` (e.g. `nats://127.0.0.1:4222`, or a cluster's servers separated by
    /// commas) and creates the stream and buckets if they do not exist.
    ///
    /// # Errors
    /// A server that cannot be reached, or without JetStream.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, NatsOptions::default()).await
    }

    /// [`connect`](Self::connect) with options.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(url: &str, options: NatsOptions) -> Result<Self, StoreError> {
        let (servers, credentials) = servers_and_credentials(url)?;
        // Credentials go to the client's options, not its server list, which the client
        // writes to its traces.
        let mut connect = match credentials {
            Some(Credentials::UserAndPassword(user, password)) => {
                async_nats::ConnectOptions::with_user_and_password(user, password)
            }
            Some(Credentials::Token(token)) => async_nats::ConnectOptions::with_token(token),
            None => async_nats::ConnectOptions::new(),
        };
        if let Some(path) = &options.root_certificates {
            connect = connect.add_root_certificates(path.clone()).require_tls(true);
        }
        if let Some(path) = &options.credentials_file {
            connect = connect.credentials_file(path).await.map_err(|error| StoreError::Backend {
                operation: "read the credentials file",
                retryable: false,
                source: Box::new(error),
            })?;
        }
        let client = connect.connect(servers.as_slice()).await.map_err(|error| backend("connect", error))?;
        Self::from_client(client, options).await
    }

    /// A store on the application's own client.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn from_client(client: async_nats::Client, options: NatsOptions) -> Result<Self, StoreError> {
        let valid =
            |name: &str| !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid(&options.stream) || !valid(&options.prefix) {
            return Err(StoreError::Backend {
                operation: "open",
                retryable: false,
                source: "the stream name and prefix may hold letters, digits, `_` and `-` only".into(),
            });
        }
        let context = jetstream::new(client);
        let config = stream::Config {
            name: options.stream.clone(),
            subjects: vec![format!("{}.e.>", options.prefix)],
            storage: stream::StorageType::File,
            duplicate_window: options.duplicate_window,
            allow_direct: true,
            num_replicas: options.replicas,
            deny_delete: true,
            deny_purge: true,
            ..stream::Config::default()
        };
        let stream = context.get_or_create_stream(config).await.map_err(|error| backend("create the stream", error))?;
        let replicated = stream.cached_info().config.num_replicas > 1;
        let checkpoints = Bucket::open(&context, &format!("{}_checkpoints", options.prefix), options.replicas).await?;
        let snapshots = Bucket::open(&context, &format!("{}_snapshots", options.prefix), options.replicas).await?;
        let shared = Shared {
            context: context.clone(),
            stream,
            prefix: options.prefix,
            checkpoints,
            snapshots,
            head: Head::new(0),
            follower: std::sync::Mutex::new(None),
            replicated,
        };
        Ok(Self { shared: Arc::new(shared) })
    }

    /// The subject of a stream; an id whose token is longer than [`MAX_TOKEN`] is refused,
    /// since the subject travels in protocol lines the server limits.
    fn subject(&self, stream_id: &str) -> Result<String, StoreError> {
        let token = subject_token(stream_id);
        if token.len() > MAX_TOKEN {
            return Err(StoreError::invalid_identifier(
                "stream id",
                stream_id,
                format!("as a NATS subject it takes {} bytes, and at most {MAX_TOKEN} fit", token.len()),
            ));
        }
        Ok(format!("{}.e.{token}", self.shared.prefix))
    }

    /// The next message at or after `sequence` on `subject` (which may be a wildcard).
    /// The batch of `events` stored earlier in the subject, where an append expecting
    /// `expected` put it (the retry of a writer that did not see its answer, after the stream
    /// moved on): for `Exact(v)` the batch at version `v + 1`, for `NoStream` the first.
    /// The subject's batches grow in version with their sequence, so it is found by a binary
    /// search over the sequences up to `last` (the subject's last batch): a few direct gets,
    /// whatever the stream's length, on a conflict that is not a retry too.
    async fn earlier_batch(
        &self,
        subject: &str,
        last: u64,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<Option<Batch>, StoreError> {
        let first_version = match expected {
            ExpectedVersion::Exact(version) => version + 1,
            ExpectedVersion::NoStream => 1,
            ExpectedVersion::Any | ExpectedVersion::StreamExists => return Ok(None),
        };
        let (mut low, mut high) = (1, last);
        while low <= high {
            let middle = low + (high - low) / 2;
            // The subject's first batch at or after `middle`.
            let Some(batch) = self.next(subject, middle).await? else { return Ok(None) };
            if batch.first_version == first_version {
                return Ok(batch.same_ids(events).then_some(batch));
            }
            if batch.first_version < first_version {
                low = batch.sequence + 1;
            } else {
                // Every batch from `middle` on is past it: it is before `middle`, if anywhere.
                high = middle - 1;
            }
        }
        Ok(None)
    }

    /// The subject's first batch at or after `sequence` (`subject` may be a wildcard).
    ///
    /// A direct get of a replicated stream may be answered by a replica that has not yet
    /// got the newest messages. What it finds is right (a replica holds a prefix of the
    /// stream); that it finds nothing is checked with the leader, and while the leader has
    /// a message there it is asked again, so that a read after an acknowledged append sees it.
    async fn next(&self, subject: &str, sequence: u64) -> Result<Option<Batch>, StoreError> {
        let sequence = sequence.max(1);
        let mut checked_with_leader = false;
        let started = std::time::Instant::now();
        loop {
            match self.shared.stream.direct_get_next_for_subject(subject, Some(sequence)).await {
                Ok(message) => return Batch::from_message(message).map(Some),
                Err(error) if error.kind() == stream::DirectGetErrorKind::NotFound => {}
                Err(error) => return Err(backend("read", error)),
            }
            if !self.shared.replicated {
                return Ok(None);
            }
            if !checked_with_leader {
                if self.leader_last(subject).await? < sequence {
                    return Ok(None);
                }
                checked_with_leader = true;
            }
            if started.elapsed() > REPLICA_WAIT {
                return Err(StoreError::Backend {
                    operation: "read",
                    retryable: true,
                    source: format!(
                        "the replica answering reads has not caught up with the leader within {REPLICA_WAIT:?}"
                    )
                    .into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The sequence of the last message of `subject` on the leader; 0 when there is none.
    /// For the wildcard of all events, the stream's last when the stream holds nothing else
    /// (as the store creates it), and 0 (nothing known) when it does.
    async fn leader_last(&self, subject: &str) -> Result<u64, StoreError> {
        if subject.ends_with('>') || subject.contains('*') {
            if self.shared.stream.cached_info().config.subjects != [subject] {
                return Ok(0);
            }
            let info = self.shared.stream.get_info().await.map_err(|error| backend("read", error))?;
            return Ok(info.state.last_sequence);
        }
        match self.shared.stream.get_last_raw_message_by_subject(subject).await {
            Ok(message) => Ok(message.sequence),
            Err(error) if error.kind() == stream::LastRawMessageErrorKind::NoMessageFound => Ok(0),
            Err(error) => Err(backend("read", error)),
        }
    }

    async fn last(&self, subject: &str) -> Result<Option<Batch>, StoreError> {
        match self.shared.stream.direct_get_last_for_subject(subject).await {
            Ok(message) => Batch::from_message(message).map(Some),
            Err(error) if error.kind() == stream::DirectGetErrorKind::NotFound => Ok(None),
            Err(error) => Err(backend("read", error)),
        }
    }

    /// What an append is conditioned on: the subject's last batch, and the sequence the
    /// publish must expect. On a replicated stream, the stream's last sequence and then the
    /// subject's last batch, both from the leader (a direct get may be answered by a replica
    /// that lags), so that the batch is at least as new as the sequence.
    async fn condition(&self, subject: &str) -> Result<(Option<Batch>, Condition), StoreError> {
        if !self.shared.replicated {
            let last = self.last(subject).await?;
            let sequence = last.as_ref().map_or(0, |batch| batch.sequence);
            return Ok((last, Condition::SubjectSequence(sequence)));
        }
        let info = self.shared.stream.get_info().await.map_err(|error| backend("append", error))?;
        let last = match self.shared.stream.get_last_raw_message_by_subject(subject).await {
            Ok(message) => Some(Batch::from_message(message)?),
            Err(error) if error.kind() == stream::LastRawMessageErrorKind::NoMessageFound => None,
            Err(error) => return Err(backend("append", error)),
        };
        Ok((last, Condition::StreamSequence(info.state.last_sequence)))
    }

    fn advance_head(&self, to: u64) {
        self.shared.head.advance(to);
    }
}

/// What a publish is conditioned on.
#[derive(Clone, Copy)]
enum Condition {
    /// The subject's last sequence: the check of an unreplicated stream.
    SubjectSequence(u64),
    /// The stream's last sequence: the check of a replicated one.
    StreamSequence(u64),
}

fn message_id(events: &[NewEvent]) -> String {
    let mut ids = Vec::with_capacity(events.len() * 16);
    for event in events {
        ids.extend_from_slice(event.id.as_bytes());
    }
    format!("{}-{}-{:016x}", events[0].id.simple(), events.len(), fnv1a(&ids))
}

impl EventStore for NatsStore {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        Box::pin(async move {
            if events.is_empty() {
                return Err(StoreError::EmptyAppend { stream_id: stream_id.to_owned() });
            }
            if events.len() > MAX_BATCH {
                return Err(StoreError::Backend {
                    operation: "append",
                    retryable: false,
                    source: format!("a batch holds at most {MAX_BATCH} events on NATS").into(),
                });
            }
            let subject = self.subject(stream_id)?;
            let body = encode_batch(&events)?;
            let id = message_id(&events);
            loop {
                let (last, condition) = self.condition(&subject).await?;
                let actual = last.as_ref().map_or(0, Batch::last_version);
                if !expected.admits(actual) {
                    let last_sequence = last.as_ref().map_or(0, |batch| batch.sequence);
                    if let Some(batch) = last.filter(|batch| batch.same_ids(&events)) {
                        return Ok(batch.outcome(true));
                    }
                    if let Some(batch) = self.earlier_batch(&subject, last_sequence, expected, &events).await? {
                        return Ok(batch.outcome(true));
                    }
                    return Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual });
                }
                let mut headers = HeaderMap::new();
                headers.insert(HEADER_STREAM_TOKEN, subject_token(stream_id).as_str());
                headers.insert(HEADER_FIRST_VERSION, (actual + 1).to_string().as_str());
                headers.insert(HEADER_COUNT, events.len().to_string().as_str());
                headers.insert(HEADER_FORMAT, FORMAT_NAMESPACES);
                let (recorded_header, recorded_at) = recorded_at_header(SystemTime::now());
                headers.insert(HEADER_RECORDED_AT, recorded_header.as_str());
                let publish =
                    jetstream::message::PublishMessage::build().payload(body.clone()).headers(headers).message_id(&id);
                let publish = match condition {
                    Condition::SubjectSequence(sequence) => publish.expected_last_subject_sequence(sequence),
                    Condition::StreamSequence(sequence) => publish.expected_last_sequence(sequence),
                };
                let acknowledged = match self.shared.context.send_publish(subject.clone(), publish).await {
                    Ok(future) => future.await,
                    Err(error) => Err(error),
                };
                match acknowledged {
                    Ok(ack) if ack.duplicate => {
                        // An earlier append of the same batch: its outcome, if it went to this stream.
                        let message = self
                            .shared
                            .stream
                            .get_raw_message(ack.sequence)
                            .await
                            .map_err(|error| backend("append", error))?;
                        let batch = Batch::from_message(message)?;
                        if batch.stream_id != stream_id || !batch.same_ids(&events) {
                            return Err(StoreError::DuplicateEvent {
                                stream_id: stream_id.to_owned(),
                                event_id: events[0].id,
                            });
                        }
                        return Ok(batch.outcome(true));
                    }
                    Ok(ack) => {
                        let outcome = AppendOutcome {
                            first_version: actual + 1,
                            positions: (0..events.len()).map(|index| position(ack.sequence, index)).collect(),
                            recorded_at,
                            already_stored: false,
                        };
                        self.advance_head(position(ack.sequence, events.len() - 1));
                        return Ok(outcome);
                    }
                    Err(error) if error.kind() == jetstream::context::PublishErrorKind::WrongLastSequence => {
                        // Another writer appended between the read and the publish: on a
                        // replicated stream, perhaps to another subject; read again.
                        if self.shared.replicated {
                            continue;
                        }
                        if expected != ExpectedVersion::Any {
                            let actual = self.last(&subject).await?.map_or(0, |batch| batch.last_version());
                            return Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual });
                        }
                    }
                    Err(error) if error.kind() == jetstream::context::PublishErrorKind::MaxPayloadExceeded => {
                        return Err(StoreError::Backend {
                            operation: "append",
                            retryable: false,
                            source: Box::new(error),
                        });
                    }
                    Err(error) => return Err(backend("append", error)),
                }
            }
        })
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        max_count: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(async move {
            let subject = self.subject(stream_id)?;
            let mut events = Vec::new();
            let mut sequence = 1;
            while events.len() < max_count {
                let Some(batch) = self.next(&subject, sequence).await? else { break };
                sequence = batch.sequence + 1;
                if batch.last_version() < from_version {
                    continue;
                }
                events.extend(
                    batch
                        .into_stored()
                        .filter(|event| event.stream_version >= from_version)
                        .take(max_count - events.len()),
                );
            }
            Ok(events)
        })
    }

    fn read_all<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(async move {
            // A consumer when the read may be long: many events asked for, and many messages
            // between the start and the head (as far as this store has seen it: the stream's
            // end when it was opened, then its own appends and the follower's).
            let head =
                (self.shared.head.position() >> INDEX_BITS).max(self.shared.stream.cached_info().state.last_sequence);
            let behind = head.saturating_sub(from_position >> INDEX_BITS);
            if max_count > DIRECT_READS && behind > DIRECT_READS as u64 {
                return self.read_log_through_consumer(from_position, max_count, types).await;
            }
            let subject = format!("{}.e.>", self.shared.prefix);
            let mut events = Vec::new();
            let mut sequence = (from_position >> INDEX_BITS).max(1);
            while events.len() < max_count {
                let Some(batch) = self.next(&subject, sequence).await? else { break };
                sequence = batch.sequence + 1;
                let wanted = batch
                    .into_stored()
                    .filter(|event| event.position >= from_position)
                    .filter(|event| types.is_empty() || types.contains(&event.event_type.as_str()));
                events.extend(wanted.take(max_count - events.len()));
            }
            Ok(events)
        })
    }

    /// Positions number messages (the stream's sequence) and the events within each: an
    /// append is one message, so it directly follows the message before it.
    fn follows_directly(&self, last: u64, first: u64) -> bool {
        let index_mask = (1 << INDEX_BITS) - 1;
        first & index_mask == 0 && (last >> INDEX_BITS).checked_add(1) == Some(first >> INDEX_BITS)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { checkpoints: true, notifications: true, snapshots: true, unique_event_ids: false, inline: false }
    }

    fn load_checkpoint<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Checkpoint>, StoreError>> {
        Box::pin(async move {
            let Some((mut value, _)) = self.shared.checkpoints.get(name).await? else {
                return Ok(None);
            };
            if value.remaining() < 9 {
                return Err(StoreError::CorruptRow {
                    position: 0,
                    reason: format!("checkpoint `{name}` is truncated"),
                });
            }
            let position = value.get_u64();
            let state = (value.get_u8() == 1).then(|| value.to_vec());
            Ok(Some(Checkpoint { position, state }))
        })
    }

    fn save_checkpoint<'a>(&'a self, name: &'a str, checkpoint: Checkpoint) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            // Position and state are one value, written by one put: both or neither.
            let mut value = BytesMut::new();
            value.put_u64(checkpoint.position);
            value.put_u8(u8::from(checkpoint.state.is_some()));
            value.put_slice(checkpoint.state.as_deref().unwrap_or_default());
            self.shared.checkpoints.put(name, value.freeze(), None).await.map(drop)
        })
    }

    fn load_snapshot<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, StoreError>> {
        Box::pin(async move {
            self.shared.snapshots.get(stream_id).await?.map(|(value, _)| decode_snapshot(value)).transpose()
        })
    }

    fn save_snapshot<'a>(&'a self, stream_id: &'a str, snapshot: Snapshot) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut value = BytesMut::new();
            value.put_u64(snapshot.version);
            value.put_u32(u32::try_from(snapshot.fingerprint.len()).unwrap_or(u32::MAX));
            value.put_slice(snapshot.fingerprint.as_bytes());
            value.put_slice(&snapshot.state);
            let value = value.freeze();
            for _ in 0..8 {
                // Compare and set on the subject's last sequence: an older snapshot never
                // replaces a newer one, whoever writes last.
                let current = self.shared.snapshots.get(stream_id).await?;
                let revision = match current {
                    Some((stored, revision)) => {
                        if decode_snapshot(stored)?.version > snapshot.version {
                            return Ok(());
                        }
                        revision
                    }
                    None => 0,
                };
                if self.shared.snapshots.put(stream_id, value.clone(), Some(revision)).await? {
                    return Ok(());
                }
            }
            Err(StoreError::Backend {
                operation: "save a snapshot",
                retryable: true,
                source: "kept racing other writers".into(),
            })
        })
    }

    fn subscribe(&self) -> Option<watch::Receiver<u64>> {
        if let Ok(mut follower) = self.shared.follower.lock()
            && follower.is_none()
        {
            let store = self.clone();
            *follower = Some(tokio::spawn(async move { store.follow().await }));
        }
        Some(self.shared.head.subscribe())
    }
}

impl NatsStore {
    /// Moves the head receiver as new messages arrive, through an ordered consumer.
    async fn follow(&self) {
        loop {
            let config = consumer::pull::OrderedConfig {
                filter_subject: format!("{}.e.>", self.shared.prefix),
                deliver_policy: consumer::DeliverPolicy::New,
                headers_only: true,
                ..consumer::pull::OrderedConfig::default()
            };
            if let Ok(consumer) = self.shared.stream.create_consumer(config).await
                && let Ok(mut messages) = consumer.messages().await
            {
                while let Some(Ok(message)) = messages.next().await {
                    if let Ok(info) = message.info() {
                        let count =
                            message.headers.as_ref().map_or(1, |headers| header_u64(headers, HEADER_COUNT).max(1));
                        self.advance_head(position(info.stream_sequence, usize::try_from(count - 1).unwrap_or(0)));
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
