//! What an operator's tools ask of an app: its projections by name and where each one is,
//! rebuilding one by name, and whether every stored event still decodes with the code.

use std::collections::BTreeMap;

use super::App;
use super::error::Error;

/// A projection of the app, as a tool lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProjectionStatus {
    /// Its name.
    pub name: &'static str,
    /// Whether its read model is in a database (documents, SQL tables), not in memory.
    pub stored: bool,
    /// The position up to which its checkpoint says it applied the log (a stored
    /// projection's stays at the last event it applied).
    pub position: u64,
    /// The log's head when it was asked.
    pub head: u64,
    /// How many positions of the log, up to `head`, it has still to go over: after its
    /// checkpoint for one in memory; for a stored one, from its next event on (0 when none
    /// of its events is after its checkpoint).
    pub behind: u64,
    /// Why it stopped: in this process, or, for a stored projection, in any process that
    /// runs it (as its read-model database keeps it, while its checkpoint is before the
    /// event it could not apply).
    pub stopped: Option<String>,
    /// The worker lease of a stored projection, as its read-model database keeps it: which
    /// process's worker runs it, and until when (expired when its process died and no other
    /// took it yet). `None` when no worker took it, and for one in memory.
    pub worker: Option<crate::documents::Lease>,
    /// The position a rebuild of this process has reached, while one builds a document
    /// projection's documents aside (queries read the live ones, at `position`, until it
    /// swaps them in).
    pub rebuilding: Option<u64>,
}

/// What [`App::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// The events read.
    pub events: u64,
    /// Per stored type name and version (and namespace), in that order.
    pub types: Vec<VerifiedType>,
}

impl Verification {
    /// The events that did not decode.
    #[must_use]
    pub fn failed(&self) -> u64 {
        self.types.iter().map(|verified| verified.failed).sum()
    }
}

/// The events of one stored type name and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedType {
    /// The namespace they were stored with (`None`: none).
    pub namespace: Option<String>,
    /// Their stored type name.
    pub event_type: String,
    /// Their stored version.
    pub event_version: u32,
    /// How many there are.
    pub events: u64,
    /// Whether an event enum of the app reads this type; when none does, the events are
    /// counted but not decoded (another service's, or a type the code no longer has).
    pub read: bool,
    /// How many did not decode.
    pub failed: u64,
    /// The first ones that did not decode (at most ten): position and why.
    pub failures: Vec<(u64, String)>,
}

/// Failures kept per type, for the report.
const FAILURES_KEPT: usize = 10;

impl App {
    /// Where each projection of the app is.
    ///
    /// # Errors
    /// A read-model database that fails.
    pub async fn projections(&self) -> Result<Vec<ProjectionStatus>, Error> {
        let mut statuses = Vec::with_capacity(self.inner.projections.len());
        let head = self.inner.store.head().await?;
        for runner in &self.inner.projections {
            let position = runner.position().await?;
            let behind = head - super::runner::caught_up_to(&*self.inner.store, &**runner, head).await?.min(head);
            let stopped = match runner.stop() {
                Some(stopped) => Some(stopped.to_string()),
                // Another process's stop, unless the projection has moved past it since.
                None => runner.recorded_stop().await?.filter(|stop| stop.position > position).map(|stop| stop.reason),
            };
            statuses.push(ProjectionStatus {
                name: runner.name(),
                stored: runner.stored(),
                position,
                head,
                behind,
                stopped,
                worker: runner.lease().await?,
                rebuilding: runner.rebuilding().await?,
            });
        }
        Ok(statuses)
    }

    /// [`rebuild`](Self::rebuild) by the projection's name, for tools that take it from a
    /// command line; a document projection's documents are built aside, as
    /// [`rebuild_documents`](Self::rebuild_documents) does.
    ///
    /// # Errors
    /// No projection of that name ([`Error::Config`] naming those there are), or as
    /// `rebuild`.
    pub async fn rebuild_named(&self, name: &str) -> Result<u64, Error> {
        let Some(runner) = self.inner.projections.iter().find(|runner| runner.name() == name) else {
            let names: Vec<&str> = self.inner.projections.iter().map(|runner| runner.name()).collect();
            return Err(Error::Config(format!("no projection is named `{name}`; this app has {names:?}")));
        };
        runner.rebuild(&*self.inner.store).await
    }

    /// Reads the whole log and decodes every event an event enum of the app reads (by
    /// namespace and type name) with the current code, upcasters included: which stored types
    /// and versions no longer decode, and where. `progress` is told the position reached
    /// after each page.
    ///
    /// # Errors
    /// The store fails.
    pub async fn verify(&self, mut progress: impl FnMut(u64)) -> Result<Verification, Error> {
        let mut types: BTreeMap<(String, u32, Option<String>), VerifiedType> = BTreeMap::new();
        let (mut events, mut next) = (0, 1);
        loop {
            let page = self.inner.store.read_all(next, 1000, &[]).await?;
            let Some(last) = page.last() else { break };
            next = last.position + 1;
            events += page.len() as u64;
            for event in &page {
                let reader = self.inner.enums.iter().find(|info| {
                    event.namespace.as_deref().is_none_or(|namespace| namespace == info.namespace)
                        && info.names().any(|name| name == event.event_type)
                });
                let key = (event.event_type.clone(), event.event_version, event.namespace.clone());
                let verified = types.entry(key).or_insert_with(|| VerifiedType {
                    namespace: event.namespace.clone(),
                    event_type: event.event_type.clone(),
                    event_version: event.event_version,
                    events: 0,
                    read: reader.is_some(),
                    failed: 0,
                    failures: Vec::new(),
                });
                verified.events += 1;
                let Some(reader) = reader else { continue };
                if let Err(error) = (reader.check)(&event.event_type, event.event_version, &event.payload) {
                    verified.failed += 1;
                    if verified.failures.len() < FAILURES_KEPT {
                        verified.failures.push((event.position, error.to_string()));
                    }
                }
            }
            progress(next - 1);
        }
        Ok(Verification { events, types: types.into_values().collect() })
    }
}
