//! What the read models kept in a database (documents, SQL tables) offer alike: waiting
//! until one has applied a committed position, from any process.

use std::sync::Arc;

use super::App;
use super::error::Error;
use super::runner::ProjectionStopped;
use crate::documents::DocumentProjection;
use crate::store::BoxFuture;

/// A projection whose read model and checkpoint are in a database: every
/// `#[projection(documents)]` and `#[projection(sql(...))]`.
pub trait StoredProjection: Send + Sync + 'static {
    /// The projection's name.
    const NAME: &'static str;

    /// The stored type names of the events it consumes.
    fn event_types() -> Vec<&'static str>;

    /// The position up to which its database says it applied the log.
    #[doc(hidden)]
    fn reached(app: &App) -> BoxFuture<'_, Result<u64, Error>>;

    /// Why it stopped, when this app runs it and it did.
    #[doc(hidden)]
    fn stopped(app: &App) -> Option<Arc<ProjectionStopped>>;
}

impl<D: DocumentProjection> StoredProjection for D {
    const NAME: &'static str = D::NAME;

    fn event_types() -> Vec<&'static str> {
        <D as DocumentProjection>::event_types()
    }

    fn reached(app: &App) -> BoxFuture<'_, Result<u64, Error>> {
        Box::pin(async move { Ok(app.documents::<D>()?.checkpoint().await?) })
    }

    fn stopped(app: &App) -> Option<Arc<ProjectionStopped>> {
        app.document_runner::<D>().ok().and_then(super::documents::DocumentRunner::stopped)
    }
}

impl App {
    /// Waits until stored projection `S` (documents or SQL tables) has applied the log up to
    /// `position` (the position of an event a command committed, in this process or
    /// another), checking every 10 ms: read-your-writes across processes.
    ///
    /// # Errors
    /// [`Error::NotYet`] when `timeout` runs out first; [`Error::ProjectionStopped`] when
    /// this app runs the projection and it stopped; a database failure.
    pub async fn wait_for<S: StoredProjection>(
        &self,
        position: u64,
        timeout: std::time::Duration,
    ) -> Result<(), Error> {
        let types = S::event_types();
        let started = std::time::Instant::now();
        loop {
            // Run here and stopped: it will not get there.
            if let Some(stopped) = S::stopped(self) {
                return Err(Error::ProjectionStopped(stopped));
            }
            let reached = S::reached(self).await?;
            if reached >= position {
                return Ok(());
            }
            // The checkpoint stays at the last event the projection consumed: it is done when
            // none of its events lies between there and `position` (committed, so visible).
            let next = self.inner.store.read_all(reached + 1, 1, &types).await?;
            if next.first().is_none_or(|event| event.position > position) {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(Error::NotYet { projection: S::NAME, position, reached, waited: started.elapsed() });
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
