//! The futures [`App::execute`](super::App::execute) and [`App::query`](super::App::query)
//! return. They are named types rather than `impl Future` so that a call with the wrong
//! argument fails once, at the argument: an opaque return type repeats the call's bounds at
//! the call and again at its `.await`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::Committed;
use super::error::{Error, ExecuteError};
use crate::aggregate::Aggregate;
use crate::store::BoxFuture;

/// The future of [`App::execute`](super::App::execute): what the command committed, or why
/// it did not.
pub type Execution<'a, A> = BoxFuture<'a, Result<Committed<A>, ExecuteError<<A as Aggregate>::Error>>>;

/// The future of [`App::query`](super::App::query): the query's typed answer.
///
/// Ready when created for a projection in memory; a document projection's answer is read
/// from its database when awaited.
#[must_use = "a query's answer is only read by awaiting it"]
pub struct Answer<O>(State<O>);

enum State<O> {
    Ready(Option<Result<O, Error>>),
    Reading(BoxFuture<'static, Result<O, Error>>),
}

impl<O> Answer<O> {
    pub(super) fn ready(answer: Result<O, Error>) -> Self {
        Answer(State::Ready(Some(answer)))
    }

    pub(super) fn pending(reading: BoxFuture<'static, Result<O, Error>>) -> Self {
        Answer(State::Reading(reading))
    }
}

impl<O> std::fmt::Debug for Answer<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.0 {
            State::Ready(Some(_)) => "ready",
            State::Ready(None) => "taken",
            State::Reading(_) => "reading",
        };
        f.debug_tuple("Answer").field(&state).finish()
    }
}

impl<O> Unpin for Answer<O> {}

impl<O> Future for Answer<O> {
    type Output = Result<O, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            State::Ready(answer) => Poll::Ready(answer.take().expect("an `Answer` is not polled after it is ready")),
            State::Reading(reading) => reading.as_mut().poll(cx),
        }
    }
}
