//! The [`Catalog`] of an app: what its registered aggregates, event enums and projections
//! say about themselves.

use std::any::TypeId;

use super::{App, AppBuilder};
use crate::aggregate::Aggregate;
use crate::catalog::{AggregateEntry, Catalog, EventEnumEntry, ProjectionEntry, ProjectionKind, short_type_name};
use crate::documents::DocumentProjection;
use crate::event::{Event, EventEnumInfo};
use crate::projection::Projection;
use crate::sql::SqlProjection;

/// How to describe each registered aggregate and projection, in registration order.
#[derive(Clone, Default)]
pub(crate) struct Described {
    aggregates: Vec<fn() -> AggregateEntry>,
    projections: Vec<fn() -> ProjectionEntry>,
}

impl Described {
    pub(crate) fn aggregate<A: Aggregate>(&mut self) {
        self.aggregates.push(|| AggregateEntry {
            name: A::NAME,
            rust_type: short_type_name::<A>(),
            event_enum: short_type_name::<A::Event>(),
            namespace: <A::Event as Event>::NAMESPACE,
            snapshot_every: A::SNAPSHOT_EVERY,
            commands: A::commands(),
        });
    }

    pub(crate) fn projection<P: Projection>(&mut self) {
        self.projections.push(|| {
            let kind = ProjectionKind::InMemory { persisted: P::PERSIST };
            ProjectionEntry::of::<P>(P::NAME, kind, &P::applies(), P::queries())
        });
    }

    pub(crate) fn documents<D: DocumentProjection>(&mut self, inline: bool) {
        self.projections.push(if inline {
            || {
                let kind = ProjectionKind::Documents { indexed: D::INDEXED, inline: true };
                ProjectionEntry::of::<D>(D::NAME, kind, &D::applies(), D::queries())
            }
        } else {
            || {
                let kind = ProjectionKind::Documents { indexed: D::INDEXED, inline: false };
                ProjectionEntry::of::<D>(D::NAME, kind, &D::applies(), D::queries())
            }
        });
    }

    pub(crate) fn sql<P: SqlProjection>(&mut self, inline: bool) {
        self.projections.push(if inline {
            || ProjectionEntry::of::<P>(P::NAME, ProjectionKind::Sql { inline: true }, &P::applies(), P::queries())
        } else {
            || ProjectionEntry::of::<P>(P::NAME, ProjectionKind::Sql { inline: false }, &P::applies(), P::queries())
        });
    }

    fn catalog(&self, enums: &[EventEnumInfo]) -> Catalog {
        let mut seen: Vec<TypeId> = Vec::new();
        let events = enums
            .iter()
            .filter(|info| {
                let first = !seen.contains(&info.type_id);
                seen.push(info.type_id);
                first
            })
            .map(EventEnumEntry::from_info)
            .collect();
        Catalog {
            aggregates: self.aggregates.iter().map(|describe| describe()).collect(),
            events,
            projections: self.projections.iter().map(|describe| describe()).collect(),
        }
    }
}

impl App {
    /// The domain this app runs, as its macros describe it: aggregates with their commands,
    /// event types with their versions and schemas, projections with their events and
    /// queries. Render it with [`Catalog::markdown`], or serialize it as JSON.
    #[must_use]
    pub fn catalog(&self) -> Catalog {
        self.inner.described.catalog(&self.inner.enums)
    }
}

impl AppBuilder {
    /// The [catalog](App::catalog) of what is registered so far, without building the app:
    /// no store is needed.
    #[must_use]
    pub fn catalog(&self) -> Catalog {
        self.described.catalog(&self.enums)
    }
}
