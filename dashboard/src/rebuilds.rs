//! The one action a dashboard may be allowed: rebuilding a projection, in the background,
//! from a button on the projections page.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eventsmith_runtime::App;
use eventsmith_runtime::catalog::ProjectionKind;

use crate::html::{Escaped, Mount, Page, query_value};
use crate::pages::{Failure, Params, respond, text};

/// The rebuilds, when the dashboard may start them.
pub(crate) type Rebuilding = Option<Arc<Rebuilds>>;

/// Each projection's last rebuild started from this dashboard.
#[derive(Default)]
pub(crate) struct Rebuilds {
    runs: Mutex<HashMap<&'static str, Run>>,
}

enum Run {
    Running { since: Instant },
    Done { applied: u64, took: Duration },
    Failed { error: String },
}

impl Rebuilds {
    /// A projection's two cells: how its last rebuild went (after its state), and the
    /// button that starts one (none while one runs, or for a SQL projection).
    pub(crate) fn cells(&self, name: &str, sql: bool) -> (String, String) {
        let runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        let outcome = match runs.get(name) {
            None => String::new(),
            Some(Run::Running { since }) => {
                format!("<br><span class=\"lagging\">rebuilding for {:.1} s</span>", since.elapsed().as_secs_f64())
            }
            Some(Run::Done { applied, took }) => format!(
                "<br><span class=\"ok\">rebuilt: {applied} events applied in {:.2} s</span>",
                took.as_secs_f64()
            ),
            Some(Run::Failed { error }) => {
                format!("<br><span class=\"stopped\">rebuild failed: {}</span>", Escaped(error))
            }
        };
        let action = if sql {
            "<span class=\"empty\" title=\"Its tables are its own: rebuild it under a new name.\">under a new name</span>"
                .to_owned()
        } else if matches!(runs.get(name), Some(Run::Running { .. })) {
            String::new()
        } else {
            format!(
                "<form class=\"action\" method=\"post\" action=\"projections/rebuild?projection={}\">\
                 <button>Rebuild</button></form>",
                query_value(name)
            )
        };
        (outcome, action)
    }
}

/// `POST projections/rebuild?projection=NAME`: starts the rebuild and sends the browser back to
/// the projections page, which shows it.
pub(crate) async fn rebuild(
    State(app): State<App>,
    Extension(rebuilds): Extension<Arc<Rebuilds>>,
    mount: Mount,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    if let Some(site) = cross_site(&headers) {
        let message = format!(
            "The dashboard takes actions only from its own pages, and this request came from {site}. Open the \
             projections page and use its button."
        );
        return Page::error(StatusCode::FORBIDDEN, "Refused", &message).render(&mount);
    }
    let name = text(&params, "projection");
    if name.is_empty() {
        let message = "Which projection? Give its name: `projections/rebuild?projection=orders`.".to_owned();
        return respond(&mount, Err(Failure::BadRequest(message)));
    }
    let catalog = app.catalog();
    let Some(projection) = catalog.projections.iter().find(|projection| projection.name == name) else {
        let names: Vec<&str> = catalog.projections.iter().map(|projection| projection.name).collect();
        let message = format!("This application has no projection named “{name}”; it has {names:?}.");
        return respond(&mount, Err(Failure::NotFound("No such projection".to_owned(), message)));
    };
    if let ProjectionKind::Sql { .. } = projection.kind {
        let message = format!(
            "“{name}” keeps its rows in tables of its own, which eventsmith does not drop: rebuild it under a new \
             name (its migrations create new tables, and it applies the log from the start)."
        );
        return Page::error(StatusCode::CONFLICT, "Not rebuilt here", &message).render(&mount);
    }
    let name = projection.name;
    {
        let mut runs = rebuilds.runs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(Run::Running { since }) = runs.get(name) {
            let message = format!("“{name}” has been rebuilding for {:.1} s already.", since.elapsed().as_secs_f64());
            return Page::error(StatusCode::CONFLICT, "Already rebuilding", &message).render(&mount);
        }
        runs.insert(name, Run::Running { since: Instant::now() });
    }
    // The rebuild runs on a task of its own, watched by another: a panic in an `apply` (the
    // user's code) is a failed rebuild, not one shown as running for ever.
    let rebuilding = tokio::spawn(async move {
        let started = Instant::now();
        app.rebuild_named(name).await.map(|applied| (applied, started.elapsed()))
    });
    tokio::spawn(async move {
        let run = match rebuilding.await {
            Ok(Ok((applied, took))) => Run::Done { applied, took },
            Ok(Err(error)) => Run::Failed { error: error.to_string() },
            Err(ended) => Run::Failed { error: format!("the rebuild panicked: {ended}") },
        };
        rebuilds.runs.lock().unwrap_or_else(PoisonError::into_inner).insert(name, run);
    });
    see_other(&mount.path("projections"))
}

/// Where a request came from, when a browser says it is another site than the dashboard's:
/// by `Sec-Fetch-Site` (every current browser sends it), else by an `Origin` that is not
/// the host the request was sent to. A request that has neither is no browser's (a script,
/// `curl`), and may go on.
fn cross_site(headers: &HeaderMap) -> Option<String> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => None,
            other => Some(format!("a page of another site (Sec-Fetch-Site: {})", String::from_utf8_lossy(other))),
        };
    }
    let origin = headers.get(header::ORIGIN)?;
    let host = headers.get(header::HOST).map(HeaderValue::as_bytes);
    let origin_host = origin.as_bytes().split(|byte| *byte == b'/').nth(2);
    if origin_host.is_some() && origin_host == host {
        return None;
    }
    Some(format!("another origin ({})", String::from_utf8_lossy(origin.as_bytes())))
}

/// A `303 See Other` to `location`, so that the browser asks for the page with a GET.
fn see_other(location: &str) -> Response {
    match HeaderValue::try_from(location) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => StatusCode::SEE_OTHER.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn requests_from_another_site_are_refused() {
        let same = [
            headers(&[("sec-fetch-site", "same-origin")]),
            headers(&[("origin", "http://127.0.0.1:7070"), ("host", "127.0.0.1:7070")]),
            headers(&[("host", "127.0.0.1:7070")]),
        ];
        for request in &same {
            assert_eq!(cross_site(request), None, "{request:?}");
        }
        let other = [
            headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://127.0.0.1:7070"),
                ("host", "127.0.0.1:7070"),
            ]),
            headers(&[("sec-fetch-site", "same-site")]),
            headers(&[("origin", "http://evil.example"), ("host", "127.0.0.1:7070")]),
            headers(&[("origin", "null"), ("host", "127.0.0.1:7070")]),
            headers(&[("origin", "http://127.0.0.1:7070")]),
            headers(&[("origin", "http://127.0.0.1:7070.evil.example"), ("host", "127.0.0.1:7070")]),
        ];
        for request in &other {
            assert!(cross_site(request).is_some(), "{request:?}");
        }
    }
}
