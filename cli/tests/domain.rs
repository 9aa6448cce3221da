//! The commands that need the application's domain, run in an application's own binary (the
//! crate's `shop` example, which calls `eventsmith_cli::run_with`) against a SQLite store
//! the library wrote: `verify`, `projections`, `rebuild`; and `catalog`, which needs no store.

use std::path::PathBuf;
use std::process::{Command, Output};

use eventsmith::SqliteStore;
use eventsmith::store::{EventStore, ExpectedVersion, NewEvent};

/// The example's binary, built by `cargo test` with the tests (and here when a filtered run
/// did not build it).
fn shop() -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let binary = deps.parent().unwrap().join("examples").join(format!("shop{}", std::env::consts::EXE_SUFFIX));
    if !binary.exists() {
        let built = Command::new(env!("CARGO"))
            .args(["build", "-p", "eventsmith-cli", "--example", "shop"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(built.success(), "build the shop example");
    }
    binary
}

fn run(binary: &PathBuf, views: &PathBuf, args: &[&str]) -> Output {
    Command::new(binary).args(args).env("SHOP_VIEWS", views).env_remove("EVENTSMITH_STORE").output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn shop_event(event_type: &'static str, payload: &str) -> NewEvent {
    let mut event = NewEvent::new(event_type, 1, payload.as_bytes().to_vec());
    event.namespace = Some("ShopEvent".into());
    event
}

/// Two orders, a payment whose payload no longer decodes, and another service's event.
async fn seeded() -> (PathBuf, PathBuf) {
    let directory = std::env::temp_dir().join(format!("eventsmith-cli-domain-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&directory).unwrap();
    let (path, views) = (directory.join("shop.db"), directory.join("views.db"));
    let store = SqliteStore::open(&path).await.unwrap();
    let placed =
        |customer: &str, total: u64| shop_event("Placed", &format!(r#"{{"customer":"{customer}","total":{total}}}"#));
    store.append("Order-1", ExpectedVersion::NoStream, vec![placed("ann", 10)]).await.unwrap();
    store.append("Order-2", ExpectedVersion::NoStream, vec![placed("bob", 5)]).await.unwrap();
    store.append("Order-1", ExpectedVersion::Exact(1), vec![shop_event("Paid", r#"{"amount":"lots"}"#)]).await.unwrap();
    let mut invoice = NewEvent::new("InvoiceSent", 1, b"{}".to_vec());
    invoice.namespace = Some("Billing".into());
    store.append("Invoice-1", ExpectedVersion::NoStream, vec![invoice]).await.unwrap();
    (path, views)
}

#[tokio::test]
async fn verify_reports_the_events_that_no_longer_decode() {
    let (path, views) = seeded().await;
    let shop = shop();
    let store = path.to_str().unwrap();
    let output = run(&shop, &views, &["--store", store, "verify"]);
    assert_eq!(output.status.code(), Some(1), "a failed verification fails");
    let report = text(&output.stdout);
    assert!(report.starts_with("4 events, 1 do not decode"), "{report}");
    assert!(report.contains("2  ShopEvent::Placed v1: all decode"), "{report}");
    assert!(report.contains("1  ShopEvent::Paid v1: 1 do not decode"), "{report}");
    assert!(report.contains("at 3: "), "the position of the failure: {report}");
    assert!(report.contains("1  Billing::InvoiceSent v1: not read by this application"), "{report}");
    assert!(text(&output.stderr).contains("1 of 4 events do not decode"));

    let output = run(&shop, &views, &["--store", store, "--json", "verify"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((report["events"].as_u64(), report["failed"].as_u64()), (Some(4), Some(1)));
    let paid = report["types"].as_array().unwrap().iter().find(|row| row["event_type"] == "Paid").unwrap();
    assert_eq!(paid["failures"][0]["position"], 3);

    // The tool without the domain cannot.
    let plain = Command::new(env!("CARGO_BIN_EXE_eventsmith")).args(["--store", store, "verify"]).output().unwrap();
    assert_eq!(plain.status.code(), Some(1));
    assert!(text(&plain.stderr).contains("needs the application's domain"), "{}", text(&plain.stderr));
}

#[tokio::test]
async fn projections_are_listed_and_rebuilt_by_name() {
    let (path, views) = seeded().await;
    let shop = shop();
    let store = path.to_str().unwrap();
    let listed = text(&run(&shop, &views, &["--store", store, "projections"]).stdout);
    assert!(listed.contains("placements  in memory  at 0  4 events behind"), "{listed}");
    assert!(listed.contains("customer_totals  in a database  at 0  4 events behind"), "{listed}");

    let output = run(&shop, &views, &["--store", store, "rebuild", "customer_totals"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("rebuilt customer_totals: 2 events applied"), "{}", text(&output.stdout));
    let listed = run(&shop, &views, &["--store", store, "--json", "projections"]);
    let lines: Vec<serde_json::Value> =
        text(&listed.stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let totals = lines.iter().find(|line| line["projection"] == "customer_totals").unwrap();
    assert_eq!((totals["position"].as_u64(), totals["stored"].as_bool()), (Some(2), Some(true)));
    // Its checkpoint stays at its last event (2); the two after it are not its to apply.
    assert_eq!((totals["head"].as_u64(), totals["behind"].as_u64()), (Some(4), Some(0)));
    // Its documents are in the read-model database, for any process.
    let documents = eventsmith::documents::SqliteDocuments::open(&views).await.unwrap();
    let checkpoint = eventsmith::documents::DocumentStore::checkpoint(&documents, "customer_totals").await.unwrap();
    assert_eq!(checkpoint.position, 2);
    assert!(totals["worker"].is_null(), "no worker took it: {totals}");

    // A worker of another process holds its lease: the tool says whose, and until when.
    let lease = eventsmith::documents::DocumentStore::claim(
        &documents,
        "customer_totals",
        "api-1/4242/abc123",
        std::time::Duration::from_secs(600),
    )
    .await
    .unwrap();
    let listed = text(&run(&shop, &views, &["--store", store, "projections"]).stdout);
    let until = eventsmith::time::rfc3339(lease.until);
    assert!(listed.contains(&format!("behind  worker: api-1/4242/abc123 (lease until {until})")), "{listed}");
    let listed = run(&shop, &views, &["--store", store, "--json", "projections"]);
    let lines: Vec<serde_json::Value> =
        text(&listed.stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let totals = lines.iter().find(|line| line["projection"] == "customer_totals").unwrap();
    assert_eq!(totals["worker"]["holder"], "api-1/4242/abc123", "{totals}");
    assert_eq!(
        (totals["worker"]["until"].as_str(), totals["worker"]["expired"].as_bool()),
        (Some(&*until), Some(false))
    );
    let placements = lines.iter().find(|line| line["projection"] == "placements").unwrap();
    assert!(placements["worker"].is_null(), "one in memory has no lease: {placements}");

    let output = run(&shop, &views, &["--store", store, "rebuild", "nope"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("no projection is named `nope`"), "{}", text(&output.stderr));
}

/// `dashboard --allow-rebuild` in the application's binary: the projections page has a
/// rebuild button per projection, and a post to it rebuilds in the background.
#[tokio::test]
async fn the_dashboard_rebuilds_a_projection_when_allowed() {
    use std::io::{BufRead, Read, Write};
    let (path, views) = seeded().await;
    let mut child = Command::new(shop())
        .args(["--store", path.to_str().unwrap(), "--json", "dashboard", "--listen", "127.0.0.1:0", "--allow-rebuild"])
        .env("SHOP_VIEWS", &views)
        .env_remove("EVENTSMITH_STORE")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let announced: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let address =
        announced["dashboard"].as_str().unwrap().trim_start_matches("http://").trim_end_matches('/').to_owned();
    let request = |method: &str, path: &str| {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(stream, "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: 0\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    let page = request("GET", "/projections");
    assert!(page.contains("<span class=\"mode\">rebuilds allowed</span>"), "{page}");
    assert!(page.contains("action=\"projections/rebuild?projection=customer_totals\""), "{page}");
    let posted = request("POST", "/projections/rebuild?projection=customer_totals");
    assert!(posted.starts_with("HTTP/1.0 303"), "{posted}");
    assert!(posted.to_ascii_lowercase().contains("location: /projections\r\n"), "{posted}");
    let mut page = String::new();
    for _ in 0..500 {
        page = request("GET", "/projections");
        if page.contains("rebuilt: 2 events applied") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(page.contains("rebuilt: 2 events applied"), "{page}");
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
    // The documents are in the read-model database, for any process.
    let documents = eventsmith::documents::SqliteDocuments::open(&views).await.unwrap();
    let checkpoint = eventsmith::documents::DocumentStore::checkpoint(&documents, "customer_totals").await.unwrap();
    assert_eq!(checkpoint.position, 2);
}

#[test]
fn the_catalog_is_drawn_from_the_code_without_a_store() {
    let shop = shop();
    let views = std::env::temp_dir().join(format!("eventsmith-cli-catalog-{}.db", uuid::Uuid::now_v7().simple()));
    let output = run(&shop, &views, &["catalog"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let markdown = text(&output.stdout);
    for part in [
        "# Domain catalog",
        "```mermaid\nflowchart LR\n",
        "| `Place` | anything | `Placed` |",
        "Read model `CustomerTotals`, documents; applies `Placed`.",
        "| `PlacementCount` | `u64` |",
    ] {
        assert!(markdown.contains(part), "`{part}` missing from\n{markdown}");
    }
    let mermaid = text(&run(&shop, &views, &["catalog", "--mermaid"]).stdout);
    assert!(mermaid.starts_with("flowchart LR\n") && mermaid.contains("c0_0 --> a0"), "{mermaid}");
    let json: serde_json::Value = serde_json::from_slice(&run(&shop, &views, &["--json", "catalog"]).stdout).unwrap();
    assert_eq!(json["aggregates"][0]["commands"][0]["produces"], serde_json::json!(["Placed"]));
    assert_eq!(json["projections"][1]["kind"]["form"], "documents");
    // `--mermaid` and `--json` are two answers to one question: refused together.
    assert_eq!(run(&shop, &views, &["--json", "catalog", "--mermaid"]).status.code(), Some(2));
}
