//! What the app measures, through the [`metrics`](https://docs.rs/metrics) facade, with the
//! `metrics` feature: the application installs a recorder (a Prometheus exporter, say), and
//! every app of the process reports to it. Without the feature, nothing is measured and
//! nothing is read for it.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `eventsmith_commands_total` | counter | `aggregate`, `outcome` | commands executed, by outcome: `committed`, `unchanged` (decided to write nothing), `rejected` (by the aggregate, or the stream was not as the command expects), `conflict` (past the retries), `failed` (a store, encoding or inline projection failure, or an unknown outcome) |
//! | `eventsmith_command_duration_seconds` | histogram | `aggregate` | from `execute` to its answer, retries and projections included |
//! | `eventsmith_appends_total` | counter | | appends committed by the app's commands (one per command that wrote) |
//! | `eventsmith_appended_events_total` | counter | | events those appends committed |
//! | `eventsmith_append_duration_seconds` | histogram | | one append to the store, from the call to its answer |
//! | `eventsmith_projection_position` | gauge | `projection` | the position up to which the projection has applied the log |
//! | `eventsmith_projection_lag_events` | gauge | `projection` | how many positions of the log, up to its head, the projection has still to go over (for a stored one, from its next event on: its checkpoint stays at the last event it applied); the head is the last position a command committed, or for a worker the store's head after its catch-up |
//! | `eventsmith_projection_stopped` | gauge | `projection` | 1 while the projection is stopped, else 0 |
//!
//! The projection gauges are set after each update of a projection by a command, and after
//! each catch-up of a [worker](super::AppBuilder::projection_workers).

use std::time::Duration;

use super::runner::Runner;
use crate::store::EventStore;

/// A command's outcome, as the `outcome` label says it.
pub(crate) fn command(aggregate: &'static str, outcome: &'static str, elapsed: Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("eventsmith_commands_total", "aggregate" => aggregate, "outcome" => outcome).increment(1);
        metrics::histogram!("eventsmith_command_duration_seconds", "aggregate" => aggregate).record(elapsed);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (aggregate, outcome, elapsed);
}

/// An append of `events` committed, which took `elapsed`.
pub(crate) fn appended(events: usize, elapsed: Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("eventsmith_appends_total").increment(1);
        metrics::counter!("eventsmith_appended_events_total").increment(events as u64);
        metrics::histogram!("eventsmith_append_duration_seconds").record(elapsed);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (events, elapsed);
}

/// Where `runner` is against `head`, the log's head. Reads the projection's position (its
/// database's, for a stored one, and whether its next event is before the head): called
/// only with the feature.
pub(crate) async fn projection(store: &dyn EventStore, runner: &dyn Runner, head: u64) {
    #[cfg(feature = "metrics")]
    {
        let name = runner.name();
        let stopped = if runner.stop().is_some() { 1.0 } else { 0.0 };
        metrics::gauge!("eventsmith_projection_stopped", "projection" => name).set(stopped);
        if let Ok(position) = runner.position().await {
            metrics::gauge!("eventsmith_projection_position", "projection" => name).set(position as f64);
        }
        if let Ok(seen) = super::runner::caught_up_to(store, runner, head).await {
            metrics::gauge!("eventsmith_projection_lag_events", "projection" => name)
                .set(head.saturating_sub(seen) as f64);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (store, runner, head);
}

/// Whether the gauges of projections are worth a read of their positions.
pub(crate) const ENABLED: bool = cfg!(feature = "metrics");
