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
//! `Content-Security-Policy`, which it sends. It is read-only: no route writes to the store
//! or to a read model. Links are relative to the path the router is mounted at.

mod diagram;
mod html;
mod pages;

use axum::Router;
use axum::routing::get;
use eventsmith_runtime::App;

pub use diagram::svg;

/// The dashboard's routes, on `app`'s store, projections and catalog:
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
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/streams", get(pages::streams))
        .route("/stream", get(pages::stream))
        .route("/event", get(pages::event))
        .route("/log", get(pages::log))
        .route("/log/rows", get(pages::log_rows))
        .route("/projections", get(pages::projections))
        .route("/domain", get(pages::domain))
        .route("/assets/style.css", get(pages::style))
        .route("/assets/live.js", get(pages::script))
        .fallback(pages::not_found)
        .with_state(app)
}

/// The dashboard's guide, `docs/dashboard.md`: its code blocks are compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/dashboard.md")]
pub struct Guide;
