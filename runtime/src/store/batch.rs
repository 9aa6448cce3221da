//! Group commit: appends that wait while a commit is in flight are committed together by
//! whoever commits next, one transaction (and one sync to disk) for all, each still refused
//! or accepted on its own. The parts every store that does it needs.

use tokio::sync::oneshot;

use super::{AppendOutcome, ExpectedVersion, NewEvent, StoreError};

/// An append waiting to be committed with others.
#[derive(Debug)]
pub struct PendingAppend {
    /// The stream appended to.
    pub stream_id: String,
    /// What the append expects of the stream.
    pub expected: ExpectedVersion,
    /// The events, in order.
    pub events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// Where a [`PendingAppend`]'s caller waits for its outcome.
#[derive(Debug)]
pub struct AppendReply(oneshot::Receiver<Result<AppendOutcome, StoreError>>);

impl PendingAppend {
    /// An append to queue, and the reply its caller awaits.
    #[must_use]
    pub fn new(stream_id: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> (Self, AppendReply) {
        let (reply, receiver) = oneshot::channel();
        (Self { stream_id: stream_id.to_owned(), expected, events, reply }, AppendReply(receiver))
    }

    /// Answers the caller (who may have gone away: then nobody is told).
    pub fn answer(self, outcome: Result<AppendOutcome, StoreError>) {
        let _ = self.reply.send(outcome);
    }
}

impl AppendReply {
    /// The append's outcome, once whoever committed it answers.
    ///
    /// # Errors
    /// The append's own error, or a retryable [`StoreError::Backend`] when it was dropped
    /// unanswered (its committer stopped; nothing is known to have been written).
    pub async fn outcome(self) -> Result<AppendOutcome, StoreError> {
        self.0.await.map_err(|_| StoreError::backend("append", true, "the append was dropped unanswered"))?
    }
}

/// Answers every append of a batch that failed as a whole (nothing of it was committed) with
/// the batch's error, retryable as it was.
pub fn fail_all(batch: Vec<PendingAppend>, error: &StoreError) {
    for append in batch {
        append.answer(Err(error.for_each_caller("append")));
    }
}
