//! Long reads of the log through an ephemeral pull consumer, which the server streams in
//! fetches, instead of one direct get per message.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use eventsmith_runtime::store::{StoreError, StoredEvent};
use futures_util::StreamExt;

use crate::batch::{Batch, INDEX_BITS};
use crate::{NatsStore, backend};

/// The most messages, and bytes, one fetch of a read through a consumer asks for.
const FETCH_MESSAGES: usize = 1024;
const FETCH_BYTES: usize = 8 << 20;

/// How long one fetch may take: a fetch whose messages stop coming fails the read.
const FETCH_EXPIRES: Duration = Duration::from_secs(10);

/// How long the server keeps a read's consumer that its reader left without deleting it.
const CONSUMER_IDLE: Duration = Duration::from_secs(30);

impl NatsStore {
    /// Reads the log from `from_position` through an ephemeral pull consumer, which the
    /// server streams in fetches, instead of one direct get per message: what catching up
    /// many events needs. Reads the messages the consumer had pending when it was created
    /// (the log as it was), or to `max_count` events of `types`.
    pub(crate) async fn read_log_through_consumer(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let first_sequence = (from_position >> INDEX_BITS).max(1);
        // Without a filter when the stream holds only the events' subjects (as the store
        // creates it): NATS 2.9 counts a filtered consumer's pending messages by scanning the
        // stream, which made each read take as long as the log is.
        let subject = format!("{}.e.>", self.shared.prefix);
        let only_events = self.shared.stream.cached_info().config.subjects == [subject.as_str()];
        let config = consumer::pull::Config {
            filter_subject: if only_events { String::new() } else { subject },
            deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: first_sequence },
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: CONSUMER_IDLE,
            memory_storage: true,
            ..consumer::pull::Config::default()
        };
        let mut consumer = self.shared.stream.create_consumer(config).await.map_err(|error| backend("read", error))?;
        let pending = consumer.cached_info().num_pending;
        let name = consumer.cached_info().name.clone();
        let result = self.read_pending(&mut consumer, pending, from_position, max_count, types).await;
        let _ = self.shared.stream.delete_consumer(&name).await;
        result
    }

    /// Fetches the `pending` messages of a read's consumer, checking that none is missing: a
    /// short or holed page would read as "the end of the log" or as a log without those
    /// events, and its reader would skip them.
    async fn read_pending(
        &self,
        consumer: &mut consumer::PullConsumer,
        mut pending: u64,
        from_position: u64,
        max_count: usize,
        types: &[&str],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Backend {
            operation: "read",
            retryable: true,
            source,
        };
        let mut events = Vec::new();
        let mut delivered = 0;
        while events.len() < max_count && pending > 0 {
            let wanted =
                (max_count - events.len()).min(FETCH_MESSAGES).min(usize::try_from(pending).unwrap_or(usize::MAX));
            let mut fetched = consumer
                .fetch()
                .max_messages(wanted)
                .max_bytes(FETCH_BYTES)
                .expires(FETCH_EXPIRES)
                .messages()
                .await
                .map_err(|error| backend("read", error))?;
            let before = delivered;
            while let Some(message) = fetched.next().await {
                let message = message.map_err(failed)?;
                let info = message.info().map_err(failed)?;
                let (sequence, time) = (info.stream_sequence, info.published);
                if info.consumer_sequence != delivered + 1 {
                    return Err(failed(
                        format!("the consumer skipped from message {delivered} to {}", info.consumer_sequence).into(),
                    ));
                }
                (delivered, pending) = (info.consumer_sequence, info.pending);
                let message = message.split().0;
                let batch = Batch::from_message(jetstream::message::StreamMessage {
                    subject: message.subject,
                    sequence,
                    headers: message.headers.unwrap_or_default(),
                    payload: message.payload,
                    time,
                })?;
                let wanted = batch
                    .into_stored()
                    .filter(|event| event.position >= from_position)
                    .filter(|event| types.is_empty() || types.contains(&event.event_type.as_str()));
                events.extend(wanted.take(max_count - events.len()));
                if events.len() >= max_count || pending == 0 {
                    break;
                }
            }
            if delivered == before {
                return Err(failed(format!("the consumer delivered nothing with {pending} messages pending").into()));
            }
        }
        Ok(events)
    }
}
