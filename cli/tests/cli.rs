//! The `eventsmith` binary, run as a user would, against stores the library wrote: SQLite
//! files, and the PostgreSQL and NATS servers of `EVENTSMITH_POSTGRES_URL` and
//! `EVENTSMITH_NATS_URL` (schemas and streams of each test's own).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use eventsmith::SqliteStore;
use eventsmith::recorded::Metadata;
use eventsmith::store::{
    EventStore, ExpectedVersion, NatsOptions, NatsStore, NewEvent, PostgresOptions, PostgresStore,
};

fn postgres_url() -> String {
    std::env::var("EVENTSMITH_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn nats_url() -> String {
    std::env::var("EVENTSMITH_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A name of this test's own (`.ci/run` drops PostgreSQL schemas named `es_t_...`).
fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

fn temp_file(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(unique("eventsmith-cli"));
    std::fs::create_dir_all(&directory).unwrap();
    directory.join(name)
}

/// Runs `eventsmith` with `args`, `input` on its standard input.
fn eventsmith(args: &[&str], input: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventsmith"))
        .args(args)
        .env_remove("EVENTSMITH_STORE")
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run eventsmith");
    if let Some(input) = input {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn succeeded(output: &Output) -> String {
    assert!(output.status.success(), "eventsmith failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn failed(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "stdout: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().map(|line| serde_json::from_str(line).expect("a line of JSON")).collect()
}

fn event(event_type: &'static str, payload: &str) -> NewEvent {
    NewEvent::new(event_type, 1, payload.as_bytes().to_vec())
}

/// Five events in two streams, one of them with metadata and one with a payload on several
/// lines (as a direct append may store one).
async fn seed(store: &dyn EventStore) -> Vec<NewEvent> {
    let correlation = uuid::Uuid::now_v7();
    let mut placed = event("OrderPlaced", r#"{"customer":"ann","total":10}"#);
    placed.metadata = Metadata { correlation_id: Some(correlation), ..Metadata::default() };
    let spread = event("OrderPaid", "{\n  \"amount\": 4,\n  \"note\": \"a \\\"b\\\"\"\n}");
    let first = vec![placed, spread];
    let second = vec![event("OrderPlaced", r#"{"customer":"bob","total":20}"#)];
    let third = vec![event("OrderPaid", r#"{"amount":6}"#), event("OrderShipped", "{}")];
    store.append("Order-1", ExpectedVersion::NoStream, first.clone()).await.unwrap();
    store.append("Order-2", ExpectedVersion::NoStream, second.clone()).await.unwrap();
    store.append("Order-1", ExpectedVersion::Exact(2), third.clone()).await.unwrap();
    [&first[..1], &first[1..], &second[..], &third[..]].concat()
}

async fn sqlite_seeded() -> (PathBuf, Vec<NewEvent>) {
    let path = temp_file("events.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let events = seed(&store).await;
    (path, events)
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test]
async fn show_prints_a_streams_events_with_their_envelopes() {
    let (path, events) = sqlite_seeded().await;
    let text = succeeded(&eventsmith(&["--store", arg(&path), "show", "Order-1"], None));
    assert!(text.contains("Order-1 v1  OrderPlaced v1"), "{text}");
    assert!(text.contains(&format!("id {}", events[0].id)), "{text}");
    assert!(text.contains("correlation_id"), "{text}");
    assert!(text.contains("\"customer\": \"ann\""), "the payload is pretty-printed: {text}");
    assert!(!text.contains("Order-2"), "{text}");

    let lines = json_lines(&succeeded(&eventsmith(&["--store", arg(&path), "--json", "show", "Order-1"], None)));
    let versions: Vec<_> = lines.iter().map(|line| line["stream_version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [1, 2, 3, 4]);
    let ids: Vec<_> = lines.iter().map(|line| line["id"].as_str().unwrap().to_owned()).collect();
    let expected: Vec<_> = [0, 1, 3, 4].iter().map(|&index| events[index].id.to_string()).collect();
    assert_eq!(ids, expected);
    assert_eq!(lines[1]["payload"], serde_json::json!({"amount": 4, "note": "a \"b\""}));
}

#[tokio::test]
async fn log_follows_the_global_order_from_a_position() {
    let (path, _) = sqlite_seeded().await;
    let lines = json_lines(&succeeded(&eventsmith(&["--store", arg(&path), "--json", "log", "--from", "2"], None)));
    let positions: Vec<_> = lines.iter().map(|line| line["position"].as_u64().unwrap()).collect();
    assert_eq!(positions, [2, 3, 4, 5]);
    assert_eq!(lines[1]["stream_id"], "Order-2");
    let limited = json_lines(&succeeded(&eventsmith(
        &["--store", arg(&path), "--json", "log", "--from", "2", "--limit", "2"],
        None,
    )));
    assert_eq!(limited.len(), 2);
    let text = succeeded(&eventsmith(&["--store", arg(&path), "log"], None));
    assert_eq!(text.lines().filter(|line| line.contains("Order-")).count(), 5, "{text}");
}

/// `log --follow` prints events appended after it started, by another process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_follow_prints_later_appends() {
    let (path, _) = sqlite_seeded().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventsmith"))
        .args(["--store", arg(&path), "--json", "log", "--from", "5", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["position"], 5);
    let store = SqliteStore::open(&path).await.unwrap();
    store.append("Order-3", ExpectedVersion::NoStream, vec![event("OrderPlaced", "{}")]).await.unwrap();
    let next: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!((next["position"].as_u64(), next["stream_id"].as_str()), (Some(6), Some("Order-3")));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn stats_count_events_streams_and_types() {
    let (path, _) = sqlite_seeded().await;
    let stats = json_lines(&succeeded(&eventsmith(&["--store", arg(&path), "--json", "stats"], None))).remove(0);
    assert_eq!(stats["head"], 5);
    assert_eq!(stats["events"], 5);
    assert_eq!(stats["streams"], 2);
    let paid = stats["types"].as_array().unwrap().iter().find(|row| row["event_type"] == "OrderPaid").unwrap();
    assert_eq!(paid["events"], 2);
}

#[tokio::test]
async fn a_missing_store_or_stream_says_what_was_tried() {
    let (path, _) = sqlite_seeded().await;
    let stderr = failed(&eventsmith(&["--store", arg(&path), "show", "Order-9"], None));
    assert!(stderr.contains("the stream `Order-9` has no events"), "{stderr}");

    let missing = path.with_file_name("missing.db");
    let stderr = failed(&eventsmith(&["--store", arg(&missing), "log"], None));
    assert!(stderr.contains("no SQLite event store at") && stderr.contains("missing.db"), "{stderr}");
    assert!(!missing.exists(), "a read made a store");

    let stderr = failed(&eventsmith(&["--store", "postgres://ann:secret@127.0.0.1:1/test", "log"], None));
    assert!(stderr.contains("postgres://ann:***@127.0.0.1:1/test"), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");

    let stderr = failed(&eventsmith(&["log"], None));
    assert!(stderr.contains("no store"), "{stderr}");
    let usage = eventsmith(&["--store", arg(&path), "log", "--from", "first"], None);
    assert_eq!(usage.status.code(), Some(2), "a command line that does not parse");
}

/// SQLite to PostgreSQL to NATS, through `export | import`: the same events (ids, streams,
/// versions, types, metadata, payloads) in the same order; importing again writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_move_a_store_and_write_nothing_twice() {
    let (path, events) = sqlite_seeded().await;
    let exported = succeeded(&eventsmith(&["--store", arg(&path), "export"], None));
    assert_eq!(exported.lines().count(), 5);

    let (url, schema) = (postgres_url(), unique("es_t_cli"));
    let to_postgres = ["--store", &url, "--schema", &schema, "import"];
    let output = eventsmith(&to_postgres, Some(exported.as_bytes()));
    succeeded(&output);
    assert!(String::from_utf8_lossy(&output.stderr).contains("imported 5 events (0 were there already)"));
    let again = eventsmith(&to_postgres, Some(exported.as_bytes()));
    succeeded(&again);
    assert!(String::from_utf8_lossy(&again.stderr).contains("imported 0 events (5 were there already)"));

    let postgres_options = PostgresOptions { schema: schema.clone(), ..PostgresOptions::default() };
    let postgres = PostgresStore::connect_with(&url, postgres_options).await.unwrap();
    assert_same_log(&postgres, &events).await;

    let from_postgres = succeeded(&eventsmith(&["--store", &url, "--schema", &schema, "export"], None));
    let (nats, name) = (nats_url(), unique("es_t_cli"));
    succeeded(&eventsmith(
        &["--store", &nats, "--nats-stream", &name, "--nats-prefix", &name, "import"],
        Some(from_postgres.as_bytes()),
    ));
    let nats_options = NatsOptions { stream: name.clone(), prefix: name, ..NatsOptions::default() };
    let nats_store = NatsStore::connect_with(&nats, nats_options).await.unwrap();
    assert_same_log(&nats_store, &events).await;
}

async fn assert_same_log(store: &dyn EventStore, events: &[NewEvent]) {
    let log = store.read_all(1, 100, &[]).await.unwrap();
    assert_eq!(log.len(), events.len());
    let streams = ["Order-1", "Order-1", "Order-2", "Order-1", "Order-1"];
    let versions = [1, 2, 1, 3, 4];
    for (index, (stored, sent)) in log.iter().zip(events).enumerate() {
        assert_eq!(stored.id, sent.id);
        assert_eq!((stored.stream_id.as_str(), stored.stream_version), (streams[index], versions[index]));
        assert_eq!(stored.event_type, sent.event_type);
        assert_eq!(stored.metadata, sent.metadata);
        let (stored, sent): (serde_json::Value, serde_json::Value) =
            (serde_json::from_slice(&stored.payload).unwrap(), serde_json::from_slice(&sent.payload).unwrap());
        assert_eq!(stored, sent);
    }
}

/// An export written to a file and resumed from a position; a line that does not parse
/// stops the import with its number, after the lines before it (here: the first of a run
/// of two events of one stream), and a second import after the fix goes on from there.
#[tokio::test]
async fn a_resumed_export_and_a_malformed_line() {
    let (path, events) = sqlite_seeded().await;
    let file = path.with_file_name("export.jsonl");
    succeeded(&eventsmith(&["--store", arg(&path), "log", "--limit", "1"], None));
    let first_three = succeeded(&eventsmith(&["--store", arg(&path), "--json", "log", "--limit", "3"], None));
    std::fs::write(&file, &first_three).unwrap();
    succeeded(&eventsmith(&["--store", arg(&path), "export", "--from", "4", "--output", arg(&file)], None));
    let whole = std::fs::read_to_string(&file).unwrap();
    assert_eq!(whole, succeeded(&eventsmith(&["--store", arg(&path), "export"], None)), "resumed = whole");

    let mut lines: Vec<&str> = whole.lines().collect();
    let fifth = lines[4].to_owned();
    lines[4] = "{\"position\": 5, \"stream_id\": ";
    let broken = lines.join("\n");
    let target = path.with_file_name("target.db");
    let stderr = failed(&eventsmith(&["--store", arg(&target), "import"], Some(broken.as_bytes())));
    assert!(stderr.contains("line 5 is not an exported event"), "{stderr}");
    assert!(stderr.contains("imported 4 events"), "{stderr}");
    let store = SqliteStore::open(&target).await.unwrap();
    assert_eq!(store.head().await.unwrap(), 4, "the lines before the broken one are imported, no more");

    lines[4] = &fifth;
    // An export resumed from its last line repeats it: imported once.
    lines.insert(5, &fifth);
    let fixed = lines.join("\n");
    let output = eventsmith(&["--store", arg(&target), "import"], Some(fixed.as_bytes()));
    succeeded(&output);
    assert!(String::from_utf8_lossy(&output.stderr).contains("imported 1 events (4 were there already)"));
    assert_same_log(&store, &events).await;

    let version_zero = whole.lines().next().unwrap().replace("\"stream_version\":1", "\"stream_version\":0");
    let stderr = failed(&eventsmith(
        &["--store", arg(&path.with_file_name("zero.db")), "import"],
        Some(version_zero.as_bytes()),
    ));
    assert!(stderr.contains("line 1: `Order-1` has version 0"), "{stderr}");
}

/// A request's events under what caused them: a command's two events, an event a reaction
/// appended in another stream because of the first, and one caused by that one.
#[tokio::test]
async fn trace_draws_a_requests_events_by_causation() {
    let path = temp_file("trace.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let (request, other) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let caused = |event_type: &'static str, cause: uuid::Uuid| {
        let mut event = event(event_type, "{}");
        event.metadata = Metadata { correlation_id: Some(request), causation_id: Some(cause), ..Metadata::default() };
        event
    };
    let (placed, approved) = (caused("OrderPlaced", request), caused("OrderApproved", request));
    let requested = caused("ShipmentRequested", placed.id);
    let booked = caused("CarrierBooked", requested.id);
    let mut unrelated = event("OrderPlaced", "{}");
    unrelated.metadata.correlation_id = Some(other);
    store.append("Order-1", ExpectedVersion::NoStream, vec![placed, approved]).await.unwrap();
    store.append("Order-2", ExpectedVersion::NoStream, vec![unrelated]).await.unwrap();
    store.append("Shipment-1", ExpectedVersion::NoStream, vec![requested.clone()]).await.unwrap();
    store.append("Shipment-1", ExpectedVersion::Exact(1), vec![booked]).await.unwrap();

    let request_text = request.to_string();
    let text = succeeded(&eventsmith(&["--store", arg(&path), "trace", &request_text], None));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("correlation {request}: 4 events"));
    assert_eq!(lines[1], format!("request {request}"));
    assert!(lines[2].starts_with("├─ 1  Order-1 v1  OrderPlaced v1"), "{text}");
    assert!(lines[3].starts_with("│  └─ 4  Shipment-1 v1  ShipmentRequested v1"), "{text}");
    assert!(lines[4].starts_with("│     └─ 5  Shipment-1 v2  CarrierBooked v1"), "{text}");
    assert!(lines[5].starts_with("└─ 2  Order-1 v2  OrderApproved v1"), "{text}");
    assert_eq!(lines.len(), 6, "{text}");

    let json = json_lines(&succeeded(&eventsmith(&["--store", arg(&path), "--json", "trace", &request_text], None)));
    assert_eq!(json.len(), 4);
    assert_eq!(json[2]["event_type"], "ShipmentRequested");
    assert_eq!((json[2]["caused_by_event"].as_bool(), json[0]["caused_by_event"].as_bool()), (Some(true), Some(false)));

    // Two events that name each other as their cause hang from no root: printed anyway.
    let (mut first, mut second) = (caused("Looped", request), caused("Looped", request));
    (first.metadata.causation_id, second.metadata.causation_id) = (Some(second.id), Some(first.id));
    store.append("Loop-1", ExpectedVersion::NoStream, vec![first, second]).await.unwrap();
    let text = succeeded(&eventsmith(&["--store", arg(&path), "trace", &request_text], None));
    assert!(text.starts_with(&format!("correlation {request}: 6 events")), "{text}");
    assert_eq!(text.matches("Loop-1 v").count(), 2, "{text}");

    let stderr = failed(&eventsmith(&["--store", arg(&path), "trace", &uuid::Uuid::now_v7().to_string()], None));
    assert!(stderr.contains("no event has the correlation id"), "{stderr}");
}

#[tokio::test]
async fn streams_are_listed_by_prefix_with_their_lengths() {
    let (path, _) = sqlite_seeded().await;
    let store = SqliteStore::open(&path).await.unwrap();
    store.append("Invoice-1", ExpectedVersion::NoStream, vec![event("InvoiceSent", "{}")]).await.unwrap();
    let text = succeeded(&eventsmith(&["--store", arg(&path), "streams"], None));
    let ids: Vec<&str> = text.lines().map(|line| line.split_whitespace().next().unwrap()).collect();
    assert_eq!(ids, ["Invoice-1", "Order-1", "Order-2"]);
    assert!(text.contains("Order-1  4 events  last 20"), "{text}");
    let orders = json_lines(&succeeded(&eventsmith(
        &["--store", arg(&path), "--json", "streams", "--prefix", "Order-", "--after", "Order-1"],
        None,
    )));
    assert_eq!(orders.len(), 1);
    assert_eq!((orders[0]["stream_id"].as_str(), orders[0]["version"].as_u64()), (Some("Order-2"), Some(1)));
    let first = succeeded(&eventsmith(&["--store", arg(&path), "streams", "--limit", "1"], None));
    assert_eq!(first.lines().count(), 1);
}

/// `dashboard` serves the store's pages until it is told to stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_serves_the_stores_pages_until_stopped() {
    use std::io::{BufRead, Read, Write};
    let (path, _) = sqlite_seeded().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventsmith"))
        .args(["--store", arg(&path), "--json", "dashboard", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let announced: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let url = announced["dashboard"].as_str().unwrap().to_owned();
    let address = url.trim_start_matches("http://").trim_end_matches('/').to_owned();
    // A GET of `path` that names `host` as the one asked for.
    let get_for = |host: &str, path: &str| {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    let get = |path: &str| get_for(&address, path);
    let streams = get("/streams");
    assert!(streams.starts_with("HTTP/1.0 200"), "{streams}");
    assert!(streams.contains("<a href=\"stream?id=Order-1\">Order-1</a></td><td class=\"number\">4</td>"), "{streams}");
    let missing = get("/stream?id=Order-9");
    assert!(missing.starts_with("HTTP/1.0 404"), "{missing}");
    // Another name for this machine (DNS rebinding: a page elsewhere made its name resolve
    // here) is refused; `localhost` is not.
    let port = address.rsplit(':').next().unwrap();
    let refused = get_for(&format!("attacker.example:{port}"), "/streams");
    assert!(refused.starts_with("HTTP/1.0 403"), "{refused}");
    assert!(refused.contains("--allow-host"), "{refused}");
    assert!(get_for(&format!("localhost:{port}"), "/streams").starts_with("HTTP/1.0 200"));
    // SIGTERM: it stops, and says nothing went wrong.
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
