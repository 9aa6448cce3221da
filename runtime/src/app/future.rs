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
/// Ready when created, since projections answer from memory.
#[must_use = "a query's answer is only read by awaiting it"]
#[derive(Debug)]
pub struct Answer<O>(Option<Result<O, Error>>);

impl<O> Answer<O> {
    pub(super) fn ready(answer: Result<O, Error>) -> Self {
        Answer(Some(answer))
    }
}

impl<O> Unpin for Answer<O> {}

impl<O> Future for Answer<O> {
    type Output = Result<O, Error>;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(self.0.take().expect("an `Answer` is not polled after it is ready"))
    }
}
