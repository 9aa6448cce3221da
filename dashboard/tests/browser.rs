//! The dashboard end to end: served by axum, mounted under `/ops` as a user would, over a
//! SQLite store with real data, and read in a real headless Chromium (Debian's `chromium`,
//! which `.ci/run` installs; `EVENTSMITH_CHROMIUM` names another binary). The pages'
//! scripts run in the browser, and the DOM it builds is what is checked.
//!
//! With `EVENTSMITH_SCREENSHOTS=1` the test also writes the README's screenshots to
//! `docs/screenshots/`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use eventsmith::documents::SqliteDocuments;
use eventsmith::prelude::*;

#[path = "browser/devtools.rs"]
mod devtools;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    pub customer: String,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paid {
    pub amount: u64,
}

#[derive(Event, Debug, Clone, PartialEq)]
#[event(namespace = "shop")]
pub enum ShopEvent {
    Placed(Placed),
    Paid(Paid),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Order, expect = new)]
pub struct Place {
    #[command(id)]
    pub id: u32,
    pub customer: String,
    pub total: u64,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Order, expect = existing)]
pub struct Pay {
    #[command(id)]
    pub id: u32,
    pub amount: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default, Clone)]
pub struct Order;

#[aggregate(event = ShopEvent, error = Never)]
impl Order {
    #[command]
    fn place(&self, command: Place) -> Result<Placed, Never> {
        Ok(Placed { customer: command.customer, total: command.total })
    }

    #[command]
    fn pay(&self, command: Pay) -> Result<Paid, Never> {
        Ok(Paid { amount: command.amount })
    }

    #[apply]
    fn placed(&mut self, _: &Placed) {}

    #[apply]
    fn paid(&mut self, _: &Paid) {}
}

/// What each customer ordered, one document per customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerTotals {
    pub ordered: u64,
}

#[derive(Debug, Clone)]
pub struct TotalOf(pub String);

#[projection(name = "customer_totals", events = ShopEvent, documents)]
impl CustomerTotals {
    #[apply(key = event.customer)]
    fn placed(&mut self, event: &Recorded<Placed>) {
        self.ordered += event.total;
    }

    #[query]
    async fn total(documents: &Documents<Self>, query: TotalOf) -> Result<Option<Self>, DocumentError> {
        documents.get(&query.0).await
    }
}

/// Payments seen, in memory.
#[derive(Debug, Default)]
pub struct Payments {
    count: u64,
}

#[projection(name = "payments", events = ShopEvent)]
impl Payments {
    #[apply]
    fn paid(&mut self, _: &Recorded<Paid>) {
        self.count += 1;
    }
}

/// The script of the test's own page: it submits the page's one form, as a click would.
const DRIVE_JS: &str = "document.forms[0].submit();";

/// Debian's Chromium, or the one `EVENTSMITH_CHROMIUM` names.
fn chromium() -> PathBuf {
    let path =
        std::env::var_os("EVENTSMITH_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "no Chromium at {}: install Debian's `chromium` package (`.ci/run` does), or name one with EVENTSMITH_CHROMIUM",
        path.display()
    );
    path
}

/// Runs headless Chromium on `url` with `extra` arguments, and gives back its standard
/// output and what the page wrote to its console. Virtual time lets the page's timers and
/// fetches run before the DOM is dumped.
async fn chromium_run(url: String, extra: Vec<String>) -> (String, Vec<String>) {
    let profile = std::env::temp_dir().join(format!("eventsmith-chromium-{}", uuid::Uuid::now_v7().simple()));
    let run = tokio::task::spawn_blocking(move || {
        let output = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--virtual-time-budget=6000",
                // The pages' console (script errors, refused loads) on standard error.
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(url)
            .output()
            .expect("start chromium");
        let _ = std::fs::remove_dir_all(&profile);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "chromium failed: {stderr}");
        let stdout = String::from_utf8(output.stdout).expect("the DOM is UTF-8");
        let failed: Vec<&str> = stderr.lines().filter(|line| line.contains("Page load failed")).collect();
        assert!(failed.is_empty(), "{failed:?}");
        let console = stderr.lines().filter(|line| line.contains(":CONSOLE")).map(str::to_owned).collect();
        (stdout, console)
    });
    tokio::time::timeout(Duration::from_secs(90), run).await.expect("chromium within 90 s").expect("chromium's thread")
}

/// The DOM Chromium builds for `url`, after its scripts ran; the page must have written
/// nothing to the console (no script error, no load the security policy refused).
async fn dom(address: SocketAddr, path: &str) -> String {
    let (dom, console) = chromium_run(format!("http://{address}{path}"), vec!["--dump-dom".to_owned()]).await;
    assert!(console.is_empty(), "{path} wrote to the console: {console:?}");
    dom
}

/// A screenshot of `path` into `docs/screenshots/NAME.png`, when `EVENTSMITH_SCREENSHOTS`
/// is set.
async fn screenshot(address: SocketAddr, path: &str, name: &str) {
    if std::env::var_os("EVENTSMITH_SCREENSHOTS").is_none_or(|value| value == "0") {
        return;
    }
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&directory).unwrap();
    let file = directory.join(format!("{name}.png"));
    let arguments = vec![format!("--screenshot={}", file.display()), "--window-size=1280,820".to_owned()];
    let (_, console) = chromium_run(format!("http://{address}{path}"), arguments).await;
    assert!(console.is_empty(), "{path} wrote to the console: {console:?}");
    assert!(file.metadata().is_ok_and(|metadata| metadata.len() > 10_000), "a screenshot of {path}");
}

/// A plain HTTP/1.0 GET, for what the server sends before any script runs: the status, the
/// head and the body.
fn get(address: SocketAddr, path: &str) -> (u16, String, String) {
    request(address, "GET", path, "")
}

/// A plain HTTP/1.0 request with `headers` (each ending in CRLF): the status, the head and
/// the body.
fn request(address: SocketAddr, method: &str, path: &str, headers: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: 0\r\n{headers}\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

/// The positions of the log's rows in a page or DOM, in order.
fn log_positions(html: &str) -> Vec<u64> {
    html.split("<tr data-position=\"").skip(1).map(|rest| rest.split('"').next().unwrap().parse().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser() {
    // What a page writes to its console reaches the test (so that its silence means
    // something).
    let page = "data:text/html,<script>console.error('a-marker')</script>".to_owned();
    let (_, console) = chromium_run(page, vec!["--dump-dom".to_owned()]).await;
    assert!(console.iter().any(|line| line.contains("a-marker")), "{console:?}");

    let directory = std::env::temp_dir().join(format!("eventsmith-dashboard-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&directory).unwrap();
    let app = App::builder()
        .store(eventsmith::SqliteStore::open(directory.join("shop.db")).await.unwrap())
        .documents_in(SqliteDocuments::open(directory.join("views.db")).await.unwrap())
        .aggregate::<Order>()
        .document_projection::<CustomerTotals>()
        .projection::<Payments>()
        .build()
        .await
        .unwrap();
    // A customer name that would be markup if it were not escaped.
    let customers = ["Ada", "Grace", "<b>Bob</b> & co"];
    for (id, customer) in (1..).zip(customers) {
        app.execute(Place { id, customer: customer.to_owned(), total: u64::from(id) * 100 }).await.unwrap();
    }
    app.execute(Pay { id: 1, amount: 100 }).await.unwrap();
    app.execute(Pay { id: 2, amount: 50 }).await.unwrap();
    let head = app.store().head().await.unwrap();
    assert_eq!(head, 5);

    // Mounted under a path of the user's server, with a middleware of theirs: on the live
    // log's second request for new rows, another command commits, after the page was served.
    let polls = Arc::new(AtomicU32::new(0));
    let (committer, counted) = (app.clone(), Arc::clone(&polls));
    // Beside it, the same dashboard allowed to rebuild, and a page of the test's own that
    // submits a form (`drive`), from this origin or another one.
    let drive = Arc::new(std::sync::Mutex::new(String::new()));
    let page = Arc::clone(&drive);
    let router = axum::Router::new()
        .nest("/ops", eventsmith_dashboard::router(app.clone()))
        .nest("/admin", eventsmith_dashboard::Dashboard::new(app.clone()).with_rebuilds().router())
        .route("/drive", axum::routing::get(move || async move { axum::response::Html(page.lock().unwrap().clone()) }))
        .route("/drive.js", axum::routing::get(|| async { ([("content-type", "text/javascript")], DRIVE_JS) }))
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            let (app, polls) = (committer.clone(), Arc::clone(&counted));
            async move {
                if request.uri().path() == "/ops/log/rows" && polls.fetch_add(1, Ordering::SeqCst) == 1 {
                    app.execute(Pay { id: 3, amount: 300 }).await.unwrap();
                }
                next.run(request).await
            }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    // The overview: the log's head and each projection's lag, with the nested mount as base.
    let overview = dom(address, "/ops").await;
    assert!(overview.contains("<base href=\"/ops/\">"), "{overview}");
    assert!(overview.contains("<a href=\"/ops\" aria-current=\"page\">Overview</a><a href=\"streams\">"));
    assert!(overview.contains("<dd id=\"head\">5</dd>"), "{overview}");
    assert!(
        overview.contains("<tr data-projection=\"customer_totals\"><td>customer_totals</td><td>in a database</td>")
    );
    assert!(overview.contains("<tr data-projection=\"payments\"><td>payments</td><td>in memory</td>"));
    assert!(overview.contains("up to date"), "{overview}");

    // The streams, in id order, each with its events and a link to its page.
    let streams = dom(address, "/ops/streams?prefix=Order-").await;
    let listed: Vec<&str> =
        streams.split("<a href=\"stream?id=").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]).collect();
    assert_eq!(listed, ["Order-1", "Order-2", "Order-3"], "{streams}");
    assert!(streams.contains("Order-1</a></td><td class=\"number\">2</td>"), "{streams}");

    // A stream's events with envelope and payload; a name with markup shown as text.
    let stream = dom(address, "/ops/stream?id=Order-3").await;
    assert!(stream.contains("<span class=\"type\">shop::Placed</span>"), "{stream}");
    assert!(stream.contains("&lt;b&gt;Bob&lt;/b&gt; &amp; co"), "{stream}");
    assert!(!stream.contains("<b>Bob</b>"), "markup in a payload must not become markup: {stream}");
    assert!(stream.contains("\"total\": 300"), "{stream}");

    // A stream that does not exist: a 404 that says so, in the browser too.
    let (status, _, _) = get(address, "/ops/stream?id=Order-404");
    assert_eq!(status, 404);
    let missing = dom(address, "/ops/stream?id=Order-404").await;
    assert!(missing.contains("This store has no stream “Order-404”"), "{missing}");
    let (status, _, _) = get(address, "/ops/event?position=999");
    assert_eq!(status, 404);
    let (status, _, body) = get(address, "/ops/event?position=two");
    assert_eq!(status, 400, "{body}");

    // One event of the log: its envelope, with the command's correlation id.
    let event = dom(address, "/ops/event?position=4").await;
    assert!(event.contains("<h1>Event 4</h1>"), "{event}");
    assert!(event.contains("<dt>correlation</dt>"), "{event}");
    assert!(event.contains("\"amount\": 100"), "{event}");

    // The live log: the server sends the first two events; the script fetches the rest, and
    // the event committed after the page was served (position 6).
    let (_, head_lines, served) = get(address, "/ops/log?from=1&limit=2");
    assert_eq!(log_positions(&served), [1, 2]);
    assert!(head_lines.to_ascii_lowercase().contains("content-security-policy: default-src 'none'; script-src 'self'"));
    polls.store(0, Ordering::SeqCst);
    let live = dom(address, "/ops/log?from=1&limit=2").await;
    assert_eq!(log_positions(&live), [1, 2, 3, 4, 5, 6], "{live}");
    assert!(polls.load(Ordering::SeqCst) >= 3, "the script kept asking");
    assert!(live.contains("id=\"live\">Following"), "the page says it follows: {live}");

    // The projections, behind an event appended around the application.
    let mut placed = eventsmith::store::NewEvent::new("Placed", 1, br#"{"customer":"Eve","total":1}"#.to_vec());
    placed.namespace = Some("shop".into());
    app.store().append("Order-9", eventsmith::ExpectedVersion::NoStream, vec![placed]).await.unwrap();
    // A worker of another process holds the document projection's lease, under a name that
    // would be markup if it were not escaped.
    let views = SqliteDocuments::open(directory.join("views.db")).await.unwrap();
    let holder = "api-1/<i>42</i>";
    let lease =
        eventsmith::documents::DocumentStore::claim(&views, "customer_totals", holder, Duration::from_secs(600))
            .await
            .unwrap();
    assert!(lease.held_by(holder));
    let projections = dom(address, "/ops/projections").await;
    assert!(projections.contains("against the log's head at 7"), "{projections}");
    let row = |name: &str| {
        let row = &projections[projections.find(&format!("<td>{name}</td>")).unwrap()..];
        row[..row.find("</tr>").unwrap()].to_owned()
    };
    // Documents stay at their last event (3, the last order placed) and have one to apply;
    // in memory, the checkpoint moves over every event (6), and the new one is not its type
    // but is still to be gone over.
    let totals = row("customer_totals");
    assert!(totals.contains("<td class=\"number\">3</td><td class=\"number\">1</td>"), "{totals}");
    assert!(totals.contains("catching up"), "{totals}");
    assert!(totals.contains(">api-1/&lt;i&gt;42&lt;/i&gt;</span></td>"), "the lease's holder: {totals}");
    let payments = row("payments");
    assert!(payments.contains("<td class=\"worker\"><span class=\"empty\">each process</span></td>"), "{payments}");
    assert!(payments.contains("<td class=\"number\">6</td><td class=\"number\">1</td>"), "{payments}");

    // The domain: the diagram drawn on the server, and the tables.
    let domain = dom(address, "/ops/domain").await;
    assert!(domain.contains("<svg class=\"domain\""), "{domain}");
    for label in ["Place", "Order", "Placed v1", "customer_totals", "TotalOf"] {
        assert!(domain.contains(&format!("\">{label}</text></g>")), "`{label}` in the diagram: {domain}");
    }
    assert!(domain.contains("<td><code>Option&lt;CustomerTotals&gt;</code></td>"), "{domain}");

    // Every asset is the dashboard's own: no address outside it.
    for page in [&overview, &streams, &stream, &event, &live, &domain] {
        for outside in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
            assert!(!page.contains(outside), "an outside asset ({outside}) in {page}");
        }
    }
    let (status, head_lines, script) = get(address, "/ops/assets/live.js");
    assert_eq!(status, 200);
    assert!(head_lines.to_ascii_lowercase().contains("content-type: text/javascript"), "{head_lines}");
    assert!(script.contains("log/rows?after="));

    // Read-only: no button, no route that rebuilds, and the navigation says so.
    let projections = dom(address, "/ops/projections").await;
    assert!(!projections.contains("<form class=\"action\""), "{projections}");
    assert!(projections.contains("<span class=\"mode\">read-only</span>"), "{projections}");
    let (status, _, _) = request(address, "POST", "/ops/projections/rebuild?projection=payments", "");
    assert_eq!(status, 404, "a read-only dashboard has no rebuild");

    // Allowed to rebuild: a button on each projection's row, posting to the dashboard.
    let operated = dom(address, "/admin/projections").await;
    assert!(operated.contains("<span class=\"mode\">rebuilds allowed</span>"), "{operated}");
    let form = |name: &str| {
        let start = operated
            .find(&format!("<form class=\"action\" method=\"post\" action=\"projections/rebuild?projection={name}\">"));
        let form = &operated[start.unwrap_or_else(|| panic!("a rebuild button for {name}: {operated}"))..];
        form[..form.find("</form>").unwrap() + "</form>".len()].to_owned()
    };

    // The dashboard's own form, submitted by a page of another origin (`localhost`, where the
    // dashboard is at 127.0.0.1): the browser says so, and the dashboard refuses.
    *drive.lock().unwrap() = format!(
        "<!doctype html><html><head><base href=\"http://{address}/admin/\"><script src=\"http://{address}/drive.js\" \
         defer></script></head><body>{}</body></html>",
        form("payments")
    );
    let (refused, _) =
        chromium_run(format!("http://localhost:{}/drive", address.port()), vec!["--dump-dom".to_owned()]).await;
    assert!(refused.contains("<h1>Refused</h1>"), "{refused}");
    assert!(refused.contains("Sec-Fetch-Site: cross-site"), "{refused}");
    let (_, _, page) = get(address, "/admin/projections");
    for started in ["rebuilding for", "rebuilt:", "rebuild failed"] {
        assert!(!page.contains(started), "a refused request started nothing: {page}");
    }
    // Without a browser's headers (a script) the origin decides, and an unknown name is a 404.
    let (status, _, body) =
        request(address, "POST", "/admin/projections/rebuild?projection=payments", "Origin: http://evil.example\r\n");
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = request(address, "POST", "/admin/projections/rebuild?projection=nope", "");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no projection named “nope”"), "{body}");

    // The dashboard's own page, its button clicked in the browser (driven through the
    // DevTools protocol): the post goes out under the page's own base and security policy,
    // and the document projection is rebuilt from the whole log, so the order placed around
    // the application (Eve's) now has its document.
    assert_eq!(app.query(TotalOf("Eve".to_owned())).await.unwrap(), None);
    let page = format!("http://{address}/admin/projections");
    let (landed, console) = tokio::task::spawn_blocking(move || {
        let mut browser = devtools::Devtools::start(&chromium());
        browser.call("Page.navigate", serde_json::json!({ "url": page }));
        browser.wait_for("document.readyState === 'complete' && document.querySelector('form.action button')");
        browser.evaluate(
            "window.clickedFrom = true; \
             document.querySelector('tr[data-projection=\"customer_totals\"] form.action button').click(); true",
        );
        // The click posts, and the answer's redirect loads the projections page anew.
        browser.wait_for("!window.clickedFrom && document.readyState === 'complete'");
        let landed = browser.evaluate("location.pathname + ' ' + document.querySelector('h1').textContent");
        (landed, browser.console())
    })
    .await
    .unwrap();
    assert!(console.is_empty(), "{console:?}");
    assert_eq!(landed, "/admin/projections Projections", "the browser is sent back to the projections");
    let mut rebuilt = String::new();
    for _ in 0..500 {
        rebuilt = get(address, "/admin/projections").2;
        if rebuilt.contains("rebuilt: 4 events applied") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(rebuilt.contains("rebuilt: 4 events applied"), "{rebuilt}");
    assert_eq!(app.query(TotalOf("Eve".to_owned())).await.unwrap(), Some(CustomerTotals { ordered: 1 }));

    screenshot(address, "/admin/projections", "projections").await;
    screenshot(address, "/ops", "overview").await;
    screenshot(address, "/ops/log?from=1", "log").await;
    screenshot(address, "/ops/stream?id=Order-3", "stream").await;
    screenshot(address, "/ops/domain", "domain").await;
    let _ = std::fs::remove_dir_all(&directory);
}
