//! [`Head`]: the last position of the log as a process knows it, for live readers.

use tokio::sync::watch;

/// The head of a store's global log as this process knows it: moved forward after each of
/// the process's own appends, and by whatever the store hears of other processes' appends;
/// what [`EventStore::subscribe`](super::EventStore::subscribe) hands out.
///
/// ```
/// use eventsmith::store::Head;
///
/// let head = Head::new(0);
/// let mut receiver = head.subscribe();
/// head.advance(7);
/// head.advance(5); // never back
/// assert_eq!(*receiver.borrow_and_update(), 7);
/// ```
#[derive(Debug)]
pub struct Head(watch::Sender<u64>);

impl Head {
    /// A head at `position`.
    #[must_use]
    pub fn new(position: u64) -> Self {
        Self(watch::Sender::new(position))
    }

    /// Moves the head forward to `position` (never back), waking the receivers.
    pub fn advance(&self, position: u64) {
        self.0.send_if_modified(|current| {
            let advanced = position > *current;
            *current = (*current).max(position);
            advanced
        });
    }

    /// The head now.
    #[must_use]
    pub fn position(&self) -> u64 {
        *self.0.borrow()
    }

    /// A receiver of the head's moves.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

impl Clone for Head {
    /// Another handle on the same head.
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}
