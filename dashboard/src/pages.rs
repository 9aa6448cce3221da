//! The pages, each rendered from the store and the app as it is when asked.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eventsmith_runtime::App;
use eventsmith_runtime::catalog::ProjectionKind;
use eventsmith_runtime::store::StoredEvent;
use eventsmith_runtime::time::rfc3339;

use crate::html::{Escaped, Mount, Page, Section, html_response, query_value};
use crate::rebuilds::{Rebuilding, Rebuilds};

/// Streams per page of `/streams`.
const STREAMS_PER_PAGE: usize = 50;
/// Events per page of `/stream`.
const EVENTS_PER_PAGE: usize = 100;
/// Events `/log` shows at most, and the live log adds per request.
const LOG_PAGE: u64 = 100;
/// Events `/log` shows when it is not given a position: the last ones.
const LOG_TAIL: u64 = 50;

pub(crate) type Params = Query<HashMap<String, String>>;

/// What a page could not do: a store failure, or a parameter that does not parse.
pub(crate) enum Failure {
    Store(String),
    BadRequest(String),
    NotFound(String, String),
}

impl<E: std::error::Error> From<E> for Failure {
    fn from(error: E) -> Self {
        Self::Store(error.to_string())
    }
}

pub(crate) fn respond(mount: &Mount, page: Result<Page, Failure>) -> Response {
    let page = page.unwrap_or_else(|failure| match failure {
        Failure::Store(message) => Page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The store did not answer",
            &format!("The page could not be read from the store: {message}"),
        ),
        Failure::BadRequest(message) => Page::error(StatusCode::BAD_REQUEST, "Not a valid address", &message),
        Failure::NotFound(title, message) => Page::error(StatusCode::NOT_FOUND, &title, &message),
    });
    page.render(mount)
}

/// A numeric parameter: absent is `default`, anything else but a number is a bad request.
fn number(params: &HashMap<String, String>, name: &str, default: u64) -> Result<u64, Failure> {
    match params.get(name).map(|value| value.trim()).filter(|value| !value.is_empty()) {
        None => Ok(default),
        Some(value) => {
            value.parse().map_err(|_| Failure::BadRequest(format!("`{name}` is a whole number, not `{value}`.")))
        }
    }
}

pub(crate) fn text<'p>(params: &'p HashMap<String, String>, name: &str) -> &'p str {
    params.get(name).map_or("", String::as_str)
}

pub(crate) async fn overview(State(app): State<App>, State(rebuilds): State<Rebuilding>, mount: Mount) -> Response {
    respond(&mount, overview_page(&app, rebuilds.as_deref()).await)
}

async fn overview_page(app: &App, rebuilds: Option<&Rebuilds>) -> Result<Page, Failure> {
    let head = app.store().head().await?;
    let catalog = app.catalog();
    let commands: usize = catalog.aggregates.iter().map(|aggregate| aggregate.commands.len()).sum();
    let event_types: usize = catalog.events.iter().map(|events| events.types.len()).sum();
    let mut body = String::from("<h1>Overview</h1>\n<dl class=\"figures\">\n");
    let _ = write!(
        body,
        "<div><dt>log head</dt><dd id=\"head\">{head}</dd></div>\n\
         <div><dt>aggregates</dt><dd>{}</dd></div>\n<div><dt>commands</dt><dd>{commands}</dd></div>\n\
         <div><dt>event types</dt><dd>{event_types}</dd></div>\n<div><dt>projections</dt><dd>{}</dd></div>\n</dl>\n",
        catalog.aggregates.len(),
        catalog.projections.len()
    );
    body.push_str("<h2>Projections</h2>\n");
    body.push_str(&projections_table(app, rebuilds).await?);
    body.push_str("<p><a href=\"log\">Follow the log</a> · <a href=\"streams\">Browse the streams</a></p>\n");
    Ok(Page::new(Section::Overview, "Overview", body))
}

/// The projections' table; with `rebuilds`, each row also says how its last rebuild went and
/// has the button that starts one.
async fn projections_table(app: &App, rebuilds: Option<&Rebuilds>) -> Result<String, Failure> {
    let statuses = app.projections().await.map_err(|error| Failure::Store(error.to_string()))?;
    if statuses.is_empty() {
        return Ok("<p class=\"empty\">The application registers no projections.</p>\n".to_owned());
    }
    let kinds: HashMap<&str, ProjectionKind> =
        app.catalog().projections.into_iter().map(|projection| (projection.name, projection.kind)).collect();
    let mut table = String::from(
        "<table class=\"projections\">\n<thead><tr><th>projection</th><th>read model</th><th>position</th>\
         <th>behind</th><th>worker</th><th>state</th>",
    );
    if rebuilds.is_some() {
        table.push_str("<th>rebuild</th>");
    }
    table.push_str("</tr></thead>\n<tbody>\n");
    for status in statuses {
        let behind = status.behind;
        let kind = if status.stored { "in a database" } else { "in memory" };
        let mut state = match &status.stopped {
            Some(reason) => format!("<span class=\"stopped\">stopped: {}</span>", Escaped(reason)),
            None if behind == 0 => "<span class=\"ok\">up to date</span>".to_owned(),
            None => "<span class=\"lagging\">catching up</span>".to_owned(),
        };
        // Its documents rebuilt aside, in this process: queries read the live ones meanwhile.
        if let Some(at) = status.rebuilding {
            let _ = write!(state, "<br><span class=\"lagging\">rebuilding aside: at {at} of {}</span>", status.head);
        }
        // Who runs it: in memory, every process that registers it; in a database, the
        // worker holding its lease, when workers run it.
        let worker = match &status.worker {
            None if status.stored => "<span class=\"empty\">no worker</span>".to_owned(),
            None => "<span class=\"empty\">each process</span>".to_owned(),
            Some(lease) if lease.expired => format!(
                "<span class=\"lagging\" title=\"its lease ran out at {} UTC\">none: {} stopped renewing</span>",
                rfc3339(lease.until),
                Escaped(&lease.holder)
            ),
            Some(lease) => format!(
                "<span title=\"holds the lease since {} UTC, until {} UTC\">{}</span>",
                rfc3339(lease.since),
                rfc3339(lease.until),
                Escaped(&lease.holder)
            ),
        };
        let _ = write!(
            table,
            "<tr data-projection=\"{name}\"><td>{name}</td><td>{kind}</td><td class=\"number\">{}</td>\
             <td class=\"number\">{behind}</td><td class=\"worker\">{worker}</td><td>{state}",
            status.position,
            name = Escaped(status.name),
        );
        if let Some(rebuilds) = rebuilds {
            let sql = matches!(kinds.get(status.name), Some(ProjectionKind::Sql { .. }));
            let (outcome, action) = rebuilds.cells(status.name, sql);
            let _ = write!(table, "{outcome}</td><td>{action}");
        }
        table.push_str("</td></tr>\n");
    }
    table.push_str("</tbody>\n</table>\n");
    Ok(table)
}

pub(crate) async fn projections(State(app): State<App>, State(rebuilds): State<Rebuilding>, mount: Mount) -> Response {
    let page = async {
        let head = app.store().head().await?;
        let mut body = format!(
            "<h1>Projections</h1>\n<p>Where each projection of this application is, against the log's head at \
             {head}. A projection in memory is where this process has taken it; one in a database is where its \
             database says, for every process.</p>\n"
        );
        body.push_str(&projections_table(&app, rebuilds.as_deref()).await?);
        Ok(Page::new(Section::Projections, "Projections", body))
    };
    respond(&mount, page.await)
}

pub(crate) async fn streams(State(app): State<App>, mount: Mount, Query(params): Params) -> Response {
    let page = async {
        let prefix = text(&params, "prefix");
        let after = params.get("after").filter(|after| !after.is_empty());
        let streams = app.store().streams(prefix, after.map(String::as_str), STREAMS_PER_PAGE).await?;
        let mut body = format!(
            "<h1>Streams</h1>\n<form method=\"get\" action=\"streams\"><label>Stream ids starting with \
             <input name=\"prefix\" value=\"{}\" placeholder=\"Order-\"></label> <button>List</button></form>\n",
            Escaped(prefix)
        );
        if streams.is_empty() {
            let _ = writeln!(
                body,
                "<p class=\"empty\">No stream {}{}.</p>",
                if prefix.is_empty() { String::new() } else { format!("starts with “{}”", Escaped(prefix)) },
                after.map(|after| format!(" after “{}”", Escaped(after))).unwrap_or_default()
            );
            return Ok(Page::new(Section::Streams, "Streams", body));
        }
        body.push_str(
            "<table class=\"streams\">\n<thead><tr><th>stream</th><th>events</th><th>last commit (UTC)</th></tr>\
             </thead>\n<tbody>\n",
        );
        for stream in &streams {
            let _ = writeln!(
                body,
                "<tr><td><a href=\"stream?id={}\">{}</a></td><td class=\"number\">{}</td><td>{}</td></tr>",
                query_value(&stream.stream_id),
                Escaped(&stream.stream_id),
                stream.version,
                rfc3339(stream.last_recorded_at)
            );
        }
        body.push_str("</tbody>\n</table>\n");
        if let (Some(last), true) = (streams.last(), streams.len() == STREAMS_PER_PAGE) {
            let _ = writeln!(
                body,
                "<p><a rel=\"next\" href=\"streams?prefix={}&amp;after={}\">Next streams</a></p>",
                query_value(prefix),
                query_value(&last.stream_id)
            );
        }
        Ok(Page::new(Section::Streams, "Streams", body))
    };
    respond(&mount, page.await)
}

pub(crate) async fn stream(State(app): State<App>, mount: Mount, Query(params): Params) -> Response {
    let page = async {
        let id = text(&params, "id");
        if id.is_empty() {
            return Err(Failure::BadRequest("Which stream? Give its id: `stream?id=Order-42`.".to_owned()));
        }
        let from = number(&params, "from", 1)?.max(1);
        let events = app.store().read_stream(id, from, EVENTS_PER_PAGE).await?;
        if events.is_empty() {
            let message = if from == 1 {
                format!("This store has no stream “{id}”: no event was ever appended to it.")
            } else {
                format!("The stream “{id}” has no event at version {from} or after.")
            };
            return Err(Failure::NotFound("No such stream".to_owned(), message));
        }
        let mut body = format!("<h1>Stream <code>{}</code></h1>\n", Escaped(id));
        let _ = writeln!(
            body,
            "<p>Versions {} to {}, oldest first.</p>",
            events[0].stream_version,
            events[events.len() - 1].stream_version
        );
        for event in &events {
            body.push_str(&event_section(event, false));
        }
        if events.len() == EVENTS_PER_PAGE {
            let next = events[events.len() - 1].stream_version + 1;
            let _ = writeln!(
                body,
                "<p><a rel=\"next\" href=\"stream?id={}&amp;from={next}\">Later events</a></p>",
                query_value(id)
            );
        }
        Ok(Page::new(Section::Streams, format!("Stream {id}"), body))
    };
    respond(&mount, page.await)
}

pub(crate) async fn event(State(app): State<App>, mount: Mount, Query(params): Params) -> Response {
    let page = async {
        let position = number(&params, "position", 0)?;
        if position == 0 {
            return Err(Failure::BadRequest("Which event? Give its position in the log: `event?position=42`.".into()));
        }
        let found = app.store().read_all(position, 1, &[]).await?.into_iter().next();
        let Some(event) = found.filter(|event| event.position == position) else {
            let head = app.store().head().await?;
            return Err(Failure::NotFound(
                "No such event".to_owned(),
                format!("The log has no event at position {position} (its head is at {head})."),
            ));
        };
        let body = format!("<h1>Event {position}</h1>\n{}", event_section(&event, true));
        Ok(Page::new(Section::Log, format!("Event {position}"), body))
    };
    respond(&mount, page.await)
}

/// One event: its envelope as a definition list, then its payload.
fn event_section(event: &StoredEvent, alone: bool) -> String {
    let mut out = String::from("<section class=\"event\">\n");
    if !alone {
        let _ = writeln!(
            out,
            "<h2><a href=\"event?position={position}\">#{position}</a> {}</h2>",
            type_label(event),
            position = event.position
        );
    }
    out.push_str("<dl class=\"envelope\">\n");
    let mut field = |name: &str, value: String| {
        let _ = writeln!(out, "<dt>{name}</dt><dd>{value}</dd>");
    };
    field("type", type_label(event));
    field(
        "stream",
        format!(
            "<a href=\"stream?id={}\">{}</a> version {}",
            query_value(&event.stream_id),
            Escaped(&event.stream_id),
            event.stream_version
        ),
    );
    field("position", event.position.to_string());
    field("recorded at", format!("{} UTC", rfc3339(event.recorded_at)));
    field("id", format!("<code>{}</code>", event.id));
    if let Some(correlation) = event.metadata.correlation_id {
        field("correlation", format!("<code>{correlation}</code>"));
    }
    if let Some(causation) = event.metadata.causation_id {
        field("causation", format!("<code>{causation}</code>"));
    }
    if !event.metadata.custom.is_empty() {
        let custom = serde_json::to_string_pretty(&event.metadata.custom).unwrap_or_default();
        field("metadata", format!("<pre>{}</pre>", Escaped(custom)));
    }
    out.push_str("</dl>\n");
    let payload = match serde_json::from_slice::<serde_json::Value>(&event.payload) {
        Ok(json) => {
            format!("<pre class=\"payload\">{}</pre>", Escaped(serde_json::to_string_pretty(&json).unwrap_or_default()))
        }
        Err(error) => format!(
            "<p class=\"error\">The payload is not JSON ({}); its bytes as text:</p><pre class=\"payload\">{}</pre>",
            Escaped(error),
            Escaped(String::from_utf8_lossy(&event.payload))
        ),
    };
    out.push_str(&payload);
    out.push_str("\n</section>\n");
    out
}

/// `Namespace::Type v2`.
fn type_label(event: &StoredEvent) -> String {
    let namespace = event.namespace.as_deref().map(|namespace| format!("{namespace}::")).unwrap_or_default();
    format!(
        "<span class=\"type\">{}{}</span> <span class=\"version\">v{}</span>",
        Escaped(namespace),
        Escaped(&event.event_type),
        event.event_version
    )
}

pub(crate) async fn log(State(app): State<App>, mount: Mount, Query(params): Params) -> Response {
    let page = async {
        let head = app.store().head().await?;
        let limit = number(&params, "limit", LOG_PAGE)?.clamp(1, LOG_PAGE);
        let from = match params.get("from").filter(|from| !from.is_empty()) {
            Some(_) => number(&params, "from", 1)?.max(1),
            None => head.saturating_sub(LOG_TAIL - 1).max(1),
        };
        let events = app.store().read_all(from, usize::try_from(limit).unwrap_or(usize::MAX), &[]).await?;
        let last = events.last().map_or(from.saturating_sub(1), |event| event.position);
        let mut body = format!(
            "<h1>Log</h1>\n<p>The global log from position {from}, in commit order. \
             <span class=\"live\" id=\"live\" hidden>Following: new events appear below as they are committed \
             (the last 1,000 are kept).</span></p>\n"
        );
        let _ = writeln!(
            body,
            "<table class=\"log\">\n<thead><tr><th>position</th><th>stream</th><th>version</th><th>type</th>\
             <th>recorded at (UTC)</th></tr></thead>\n<tbody id=\"log\" data-after=\"{last}\">"
        );
        body.push_str(&log_rows_html(&events));
        body.push_str("</tbody>\n</table>\n");
        if events.is_empty() {
            body.push_str("<p class=\"empty\" id=\"empty\">No events yet at or after this position.</p>\n");
        }
        let mut page = Page::new(Section::Log, "Log", body);
        page.live = true;
        Ok(page)
    };
    respond(&mount, page.await)
}

fn log_rows_html(events: &[StoredEvent]) -> String {
    let mut rows = String::new();
    for event in events {
        let _ = writeln!(
            rows,
            "<tr data-position=\"{position}\"><td class=\"number\"><a href=\"event?position={position}\">{position}</a></td>\
             <td><a href=\"stream?id={}\">{}</a></td><td class=\"number\">{}</td><td>{}</td><td>{}</td></tr>",
            query_value(&event.stream_id),
            Escaped(&event.stream_id),
            event.stream_version,
            type_label(event),
            rfc3339(event.recorded_at),
            position = event.position,
        );
    }
    rows
}

/// The rows of the events after `after`, at most a page, for the live log's script: an
/// HTML fragment, empty when nothing is new.
pub(crate) async fn log_rows(State(app): State<App>, Query(params): Params) -> Response {
    let rows = async {
        let after = number(&params, "after", 0)?;
        // Nothing comes after the last position there can be.
        let Some(from) = after.checked_add(1) else { return Ok(String::new()) };
        let events = app.store().read_all(from, usize::try_from(LOG_PAGE).unwrap_or(usize::MAX), &[]).await?;
        Ok::<_, Failure>(log_rows_html(&events))
    };
    match rows.await {
        Ok(rows) => html_response(StatusCode::OK, rows),
        Err(Failure::BadRequest(message)) => html_response(StatusCode::BAD_REQUEST, Escaped(message).to_string()),
        Err(Failure::Store(message) | Failure::NotFound(_, message)) => {
            html_response(StatusCode::SERVICE_UNAVAILABLE, Escaped(message).to_string())
        }
    }
}

pub(crate) async fn domain(State(app): State<App>, mount: Mount) -> Response {
    let catalog = app.catalog();
    let mut body = String::from(
        "<h1>Domain</h1>\n<p>Drawn from the code by its macros: commands go to the aggregate that handles them, \
         which writes events; projections apply events and answer queries.</p>\n<figure class=\"diagram\">\n",
    );
    body.push_str(&crate::diagram::svg(&catalog));
    body.push_str("</figure>\n");
    for aggregate in &catalog.aggregates {
        let _ = write!(
            body,
            "<h2>Aggregate {}</h2>\n<table class=\"commands\">\n<thead><tr><th>command</th><th>expects the stream</th>\
             <th>may produce</th></tr></thead>\n<tbody>\n",
            Escaped(aggregate.name)
        );
        for command in &aggregate.commands {
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                Escaped(&command.rust_type),
                command.expects,
                Escaped(command.produces.join(", "))
            );
        }
        body.push_str("</tbody>\n</table>\n");
    }
    for events in &catalog.events {
        let _ = write!(
            body,
            "<h2>Events {} <small>namespace {}</small></h2>\n<table class=\"event-types\">\n<thead><tr><th>type</th>\
             <th>version</th><th>read under</th><th>upcast from</th></tr></thead>\n<tbody>\n",
            Escaped(&events.rust_type),
            Escaped(events.namespace)
        );
        for event_type in &events.types {
            let deprecated = if event_type.deprecated { " <span class=\"deprecated\">deprecated</span>" } else { "" };
            let upcasts: Vec<String> = event_type.upcast_from.iter().map(|from| format!("v{from}")).collect();
            let _ = writeln!(
                body,
                "<tr><td>{}{deprecated}</td><td class=\"number\">{}</td><td>{}</td><td>{}</td></tr>",
                Escaped(event_type.name),
                event_type.version,
                Escaped(event_type.aliases.join(", ")),
                upcasts.join(", ")
            );
        }
        body.push_str("</tbody>\n</table>\n");
    }
    for projection in &catalog.projections {
        let events: Vec<&str> = projection.events.iter().map(|event| event.name).collect();
        let _ = write!(
            body,
            "<h2>Projection {}</h2>\n<p>Read model {}; applies {}.</p>\n",
            Escaped(projection.name),
            Escaped(&projection.rust_type),
            Escaped(events.join(", "))
        );
        if !projection.queries.is_empty() {
            body.push_str(
                "<table class=\"queries\">\n<thead><tr><th>query</th><th>answer</th></tr></thead>\n<tbody>\n",
            );
            for query in &projection.queries {
                let _ = writeln!(
                    body,
                    "<tr><td>{}</td><td><code>{}</code></td></tr>",
                    Escaped(&query.rust_type),
                    Escaped(&query.answer)
                );
            }
            body.push_str("</tbody>\n</table>\n");
        }
    }
    let _ = write!(
        body,
        "<details><summary>The diagram as Mermaid</summary>\n<pre>{}</pre>\n</details>\n",
        Escaped(catalog.mermaid())
    );
    respond(&mount, Ok(Page::new(Section::Domain, "Domain", body)))
}

pub(crate) async fn not_found(mount: Mount) -> Response {
    let page = Page::error(StatusCode::NOT_FOUND, "No such page", "The dashboard has no page at this address.");
    page.render(&mount)
}

pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", include_str!("../assets/style.css"))
}

pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../assets/live.js"))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
    response
}
