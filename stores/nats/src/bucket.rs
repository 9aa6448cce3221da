//! Key-value buckets for checkpoints and snapshots, driven through the stream API so that a
//! 2.9 server works.

use async_nats::jetstream::{self, stream};
use bytes::{Buf, Bytes};
use eventsmith_runtime::store::{Snapshot, StoreError};

use crate::{backend, kv_key};

/// A key-value bucket: a stream keeping the last message of each `$KV.<bucket>.<key>`.
pub(crate) struct Bucket {
    stream: stream::Stream,
    context: jetstream::Context,
    prefix: String,
}

impl Bucket {
    pub(crate) async fn open(context: &jetstream::Context, bucket: &str, replicas: usize) -> Result<Self, StoreError> {
        let config = stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            allow_direct: true,
            allow_rollup: true,
            deny_delete: true,
            num_replicas: replicas,
            discard: stream::DiscardPolicy::New,
            ..stream::Config::default()
        };
        let stream = context.get_or_create_stream(config).await.map_err(|error| backend("create a bucket", error))?;
        Ok(Self { stream, context: context.clone(), prefix: format!("$KV.{bucket}.") })
    }

    /// The value under `name` and its revision (its stream sequence).
    pub(crate) async fn get(&self, name: &str) -> Result<Option<(Bytes, u64)>, StoreError> {
        match self.stream.direct_get_last_for_subject(format!("{}{}", self.prefix, kv_key(name))).await {
            Ok(message) => Ok(Some((message.payload, message.sequence))),
            Err(error) if error.kind() == stream::DirectGetErrorKind::NotFound => Ok(None),
            Err(error) => Err(backend("read a bucket", error)),
        }
    }

    /// Puts `value` under `name`; with `revision`, only if that is still the key's revision
    /// (0: the key has none). Returns whether it was written.
    pub(crate) async fn put(&self, name: &str, value: Bytes, revision: Option<u64>) -> Result<bool, StoreError> {
        let mut publish = jetstream::message::PublishMessage::build().payload(value);
        if let Some(revision) = revision {
            publish = publish.expected_last_subject_sequence(revision);
        }
        let subject = format!("{}{}", self.prefix, kv_key(name));
        let acknowledged = match self.context.send_publish(subject, publish).await {
            Ok(future) => future.await,
            Err(error) => Err(error),
        };
        match acknowledged {
            Ok(_) => Ok(true),
            Err(error) if error.kind() == jetstream::context::PublishErrorKind::WrongLastSequence => Ok(false),
            Err(error) => Err(backend("write a bucket", error)),
        }
    }
}

pub(crate) fn decode_snapshot(mut value: Bytes) -> Result<Snapshot, StoreError> {
    let corrupt = || StoreError::CorruptRow { position: 0, reason: "a snapshot is truncated".into() };
    if value.remaining() < 12 {
        return Err(corrupt());
    }
    let version = value.get_u64();
    let length = value.get_u32() as usize;
    if value.remaining() < length {
        return Err(corrupt());
    }
    let fingerprint = String::from_utf8(value.split_to(length).to_vec()).map_err(|_| corrupt())?;
    Ok(Snapshot { version, fingerprint, state: value.to_vec() })
}
