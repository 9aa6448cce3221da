//! A dashboard of an eventsmith application, as an [axum] router to mount in your own server,
//! behind your own authentication: the streams and their events, an event's envelope and
//! payload, the global log live, the projections with their lag, and the domain's diagram.
//!
//! ```no_run
//! # async fn serve(app: eventsmith_runtime::App) -> std::io::Result<()> {
//! // `app` is the application's `App` (its store, projections and catalog).
//! let router = axum::Router::new().nest("/events", eventsmith_dashboard::router(app));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:7070").await?;
//! axum::serve(listener, router).await
//! # }
//! ```
//!
//! Every page is HTML rendered on the server; the one script (the live log's) and the style
//! sheet are served by the router itself, so it works offline and under a strict
//! `Content-Security-Policy`, which it sends. Links are relative to the path the router is
//! mounted at.
//!
//! It is read-only unless told otherwise: [`router`] has no route that writes to the store
//! or to a read model. [`Dashboard::with_rebuilds`] adds one action, rebuilding a
//! projection from its row on the projections page; mount that router behind
//! authentication that admits operators only.

mod diagram;
mod html;
mod pages;
mod rebuilds;

use std::sync::Arc;

use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::{Extension, Router};
use eventsmith_runtime::App;

pub use diagram::svg;

/// The dashboard's routes, on `app`'s store, projections and catalog, read-only:
///
/// | path | page |
/// |---|---|
/// | `/` | the log's head, the projections and how far behind each one is |
/// | `/streams?prefix=P&after=ID` | the streams in the byte order of their ids, a page at a time |
/// | `/stream?id=ID&from=V` | one stream's events with their envelopes and payloads (404 when it has none) |
/// | `/event?position=N` | one event of the log (404 when there is none there) |
/// | `/log?from=N&limit=L` | the global log from a position (the last events by default), followed live |
/// | `/projections` | each projection: where it lives, its position, its lag, why it stopped |
/// | `/domain` | the domain's diagram and catalog |
///
/// The same as `Dashboard::new(app).router()`.
pub fn router(app: App) -> Router {
    Dashboard::new(app).router()
}

/// A dashboard to be told what it may do before it becomes a [`Router`]: read-only unless
/// told otherwise.
///
/// ```no_run
/// # async fn serve(app: eventsmith_runtime::App) -> std::io::Result<()> {
/// // Behind the user's own authentication, which admits operators only.
/// let operators = eventsmith_dashboard::Dashboard::new(app).with_rebuilds().router();
/// let router = axum::Router::new().nest("/ops", operators);
/// # let listener = tokio::net::TcpListener::bind("127.0.0.1:7070").await?;
/// # axum::serve(listener, router).await
/// # }
/// ```
pub struct Dashboard {
    app: App,
    rebuilds: bool,
}

impl Dashboard {
    /// A read-only dashboard of `app`.
    #[must_use]
    pub fn new(app: App) -> Self {
        Self { app, rebuilds: false }
    }

    /// Lets the projections page rebuild a projection: a button on each one that can be
    /// rebuilt (in memory, or documents: a SQL projection is rebuilt under a new name) posts
    /// `projections/rebuild?projection=NAME`, which starts [`App::rebuild_named`] in the
    /// background and shows its progress and outcome on the page. One rebuild per
    /// projection at a time. A document projection's documents are cleared first, so its
    /// queries answer from what is rebuilt so far until it is done.
    ///
    /// A request from another site is refused (its browser says so in `Sec-Fetch-Site`, or
    /// its `Origin` is not the host it was sent to), so that a page elsewhere cannot make an
    /// operator's browser start a rebuild; who may reach the route at all is the
    /// authentication's concern.
    #[must_use]
    pub fn with_rebuilds(mut self) -> Self {
        self.rebuilds = true;
        self
    }

    /// The router, to mount in the user's own server.
    pub fn router(self) -> Router {
        let rebuilds = self.rebuilds.then(|| Arc::new(rebuilds::Rebuilds::default()));
        let access = if rebuilds.is_some() { html::Access::Rebuilds } else { html::Access::ReadOnly };
        let mut router = Router::new()
            .route("/", get(pages::overview))
            .route("/streams", get(pages::streams))
            .route("/stream", get(pages::stream))
            .route("/event", get(pages::event))
            .route("/log", get(pages::log))
            .route("/log/rows", get(pages::log_rows))
            .route("/projections", get(pages::projections))
            .route("/domain", get(pages::domain))
            .route("/assets/style.css", get(pages::style))
            .route("/assets/live.js", get(pages::script));
        if let Some(rebuilds) = &rebuilds {
            // The action's route exists only here, so its handler takes the rebuilds as they
            // are, not as an option.
            router =
                router.route("/projections/rebuild", post(rebuilds::rebuild).layer(Extension(Arc::clone(rebuilds))));
        }
        router.fallback(pages::not_found).layer(Extension(access)).with_state(Shared { app: self.app, rebuilds })
    }
}

/// What the pages share: the app, and the rebuilds when the dashboard may start them.
#[derive(Clone)]
pub(crate) struct Shared {
    app: App,
    rebuilds: Option<Arc<rebuilds::Rebuilds>>,
}

impl FromRef<Shared> for App {
    fn from_ref(shared: &Shared) -> Self {
        shared.app.clone()
    }
}

impl FromRef<Shared> for Option<Arc<rebuilds::Rebuilds>> {
    fn from_ref(shared: &Shared) -> Self {
        shared.rebuilds.clone()
    }
}

/// The dashboard's guide, `docs/dashboard.md`: its code blocks are compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/dashboard.md")]
pub struct Guide;
