//! `NatsStore` against a real NATS server with JetStream: batch atomicity and live
//! notifications. Its conformance run is in `tests/conformance.rs`.
//!
//! The server is `EVENTSMITH_NATS_URL` (default `nats://127.0.0.1:4222`); `.ci/run` starts
//! it if it is down. Each test uses a JetStream stream and buckets of its own.
#![cfg(feature = "nats")]

use std::time::Duration;

use eventsmith::prelude::*;
use eventsmith::store::{NatsOptions, NewEvent};
use eventsmith::{NatsStore, StoreError};

mod support;

use support::nats::fresh_store;

fn raw(event_type: &str, payload: &[u8]) -> NewEvent {
    NewEvent::new(event_type.to_owned(), 1, payload.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_too_large_for_one_message_is_refused_whole() {
    let store = fresh_store().await;
    let big = vec![b'x'; 300_000];
    let batch: Vec<NewEvent> = (0..5).map(|_| raw("Big", &big)).collect();
    let error = store.append("s", ExpectedVersion::Any, batch).await.unwrap_err();
    assert!(matches!(error, StoreError::Backend { retryable: false, .. }), "{error:?}");
    assert!(store.read_stream("s", 1, 10).await.unwrap().is_empty(), "nothing of the batch is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stream_ids_with_any_characters_are_kept_apart() {
    let store = fresh_store().await;
    for stream in ["a.b", "a~2Eb", "a b", "a*>", "ünï"] {
        store.append(stream, ExpectedVersion::NoStream, vec![raw("Added", b"{}")]).await.unwrap();
        let events = store.read_stream(stream, 1, 10).await.unwrap();
        assert_eq!((events.len(), events[0].stream_id.as_str()), (1, stream));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_subscribers_are_woken_by_new_messages() {
    // The writer is another store on the same stream, with a client of its own, as another
    // process would be: only the consumer can tell the first one of its append.
    let options = support::nats::unique_options();
    let store = NatsStore::connect_with(&support::nats::url(), options.clone()).await.unwrap();
    let mut head = store.subscribe().expect("the store notifies");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let other = NatsStore::connect_with(&support::nats::url(), options).await.unwrap();
    let outcome = other.append("s", ExpectedVersion::Any, vec![raw("Added", b"{}")]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        while *head.borrow_and_update() < outcome.positions[0] {
            head.changed().await.unwrap();
        }
    })
    .await
    .expect("a notification arrives");
}

/// A NATS server of this test's own, on a free port, so that it can be stopped and started.
struct OwnServer {
    child: std::process::Child,
    port: u16,
    directory: std::path::PathBuf,
}

impl OwnServer {
    fn start(port: u16, directory: &std::path::Path) -> Self {
        Self::start_with(port, directory, &[])
    }

    /// A server with more arguments (TLS, users).
    fn start_with(port: u16, directory: &std::path::Path, extra: &[&str]) -> Self {
        let child = std::process::Command::new(
            std::env::var("EVENTSMITH_NATS_SERVER").unwrap_or_else(|_| "nats-server".into()),
        )
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(directory)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start nats-server (set EVENTSMITH_NATS_SERVER to its path)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port, directory: directory.to_path_buf() }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_fails_retryably_while_the_server_is_down_and_works_when_it_returns() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let directory = std::env::temp_dir().join(format!("eventsmith-nats-restart-{}", std::process::id()));
    let mut server = OwnServer::start(port, &directory);
    let url = format!("nats://127.0.0.1:{}", server.port);
    let options =
        async_nats::ConnectOptions::new().retry_on_initial_connect().request_timeout(Some(Duration::from_secs(1)));
    let client = options.connect(&url).await.unwrap();
    let store = NatsStore::from_client(client, NatsOptions::default()).await.unwrap();
    let app = App::builder().store(store.clone()).build().await.unwrap();
    store.append("s", ExpectedVersion::NoStream, vec![raw("Added", b"{}")]).await.unwrap();

    server.stop();
    let error = store.append("s", ExpectedVersion::Exact(1), vec![raw("Added", b"{}")]).await.unwrap_err();
    assert!(matches!(error, StoreError::Backend { retryable: true, .. }), "{error:?}");

    let _restarted = OwnServer::start(port, &directory);
    let mut appended = None;
    for _ in 0..100 {
        let version = match store.read_stream("s", 1, 10).await {
            Ok(events) => events.len() as u64,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        assert_eq!(version, 1, "nothing of the failed append was written");
        appended = Some(store.append("s", ExpectedVersion::Exact(version), vec![raw("Added", b"{}")]).await.unwrap());
        break;
    }
    assert_eq!(appended.expect("the store works again after the restart").first_version, 2);
    drop(app);
}

/// Messages published around the store on its subjects, with missing, malformed or lying
/// headers and any payload: reading them is events or typed errors, never a panic or hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_messages_are_typed_errors() {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    let options = support::nats::unique_options();
    let store = support::nats::store_with(options.clone()).await;
    let client = async_nats::connect(support::nats::url()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let header = || prop::option::of(prop_oneof!["[0-9]{1,3}", "[ -~]{0,8}", Just("18446744073709551615".to_owned())]);
    let strategy = (
        header(),
        header(),
        header(),
        prop::option::of(prop_oneof![Just("2".to_owned()), "[ -~]{0,3}"]),
        prop::collection::vec(any::<u8>(), 0..128),
    );
    // The edges first: an empty message without headers; a real batch of two events whose
    // headers claim the last version there is, or a count it does not have.
    store.append("model", ExpectedVersion::NoStream, vec![raw("Added", b"{}"), raw("Added", b"{}")]).await.unwrap();
    let stream = jetstream.get_stream(&options.stream).await.unwrap();
    let model = stream.get_last_raw_message_by_subject(&format!("{}.e.model", options.prefix)).await.unwrap();
    // (stream id, first version, count, payload)
    type Edge<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, Vec<u8>);
    let edges: [Edge<'_>; 4] = [
        (None, None, None, Vec::new()),
        (Some("edge-1"), Some("0"), Some("0"), Vec::new()),
        (Some("edge-2"), Some("18446744073709551615"), Some("2"), model.payload.to_vec()),
        (Some("edge-3"), Some("1"), Some("5"), model.payload.to_vec()),
    ];
    for (index, (stream_id, first_version, count, payload)) in edges.into_iter().enumerate() {
        let mut headers = async_nats::HeaderMap::new();
        for (name, value) in [
            ("Es-Stream", stream_id),
            ("Es-First-Version", first_version),
            ("Es-Count", count),
            ("Es-Format", Some("2")),
        ] {
            if let Some(value) = value {
                headers.insert(name, value);
            }
        }
        let subject = format!("{}.e.edge-{index}", options.prefix);
        jetstream.publish_with_headers(subject, headers, payload.into()).await.unwrap().await.unwrap();
        let appended = store.append(&format!("edge-{index}"), ExpectedVersion::Any, vec![raw("Added", b"{}")]).await;
        assert!(matches!(appended, Err(StoreError::CorruptRow { .. })), "edge {index}: {appended:?}");
        let read = store.read_stream(&format!("edge-{index}"), 1, 10).await;
        assert!(matches!(read, Err(StoreError::CorruptRow { .. })), "edge {index}: {read:?}");
    }
    let cases = std::env::var("EVENTSMITH_FUZZ_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(256) / 4;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for case in 0..cases {
        let (stream, first_version, count, format, payload) = strategy.new_tree(&mut runner).unwrap().current();
        let mut headers = async_nats::HeaderMap::new();
        for (name, value) in
            [("Es-Stream", stream), ("Es-First-Version", first_version), ("Es-Count", count), ("Es-Format", format)]
        {
            if let Some(value) = value {
                headers.insert(name, value.as_str());
            }
        }
        let subject = format!("{}.e.fuzz-{}", options.prefix, case % 4);
        jetstream.publish_with_headers(subject, headers, payload.into()).await.unwrap().await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), async {
            let _ = store.read_all(1, 10_000, &[]).await;
            let _ = store.read_stream(&format!("fuzz-{}", case % 4), 1, 10_000).await;
            // An append reads the stream's last message to learn its version.
            let _ = store.append(&format!("fuzz-{}", case % 4), ExpectedVersion::Any, vec![raw("Added", b"{}")]).await;
        })
        .await
        .expect("reading never hangs");
    }
    // A message without the store's headers at all, read as a typed error.
    match store.read_all(1, 10_000, &[]).await {
        Ok(_) | Err(StoreError::CorruptRow { .. }) => {}
        Err(other) => panic!("an unexpected error: {other:?}"),
    }
}

/// TLS and credentials: a server of the test's own that requires TLS, with a certificate
/// from a CA the test made, and a user and password. The store connects with `tls://`, the
/// CA in `NatsOptions::root_certificates` and the credentials in the URL; without TLS, with
/// another CA or with a wrong password it is refused, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_and_credentials() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let directory = std::env::temp_dir().join(format!("eventsmith-nats-tls-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let (ca, certificate, key) = support::tls::certificates(&directory, "nats", "DNS:localhost,IP:127.0.0.1");
    let (other_ca, _, _) = support::tls::certificates(&directory, "other", "DNS:localhost");
    let (certificate, key) = (certificate.display().to_string(), key.display().to_string());
    let _server = OwnServer::start_with(
        port,
        &directory.join("store"),
        &["--tls", "--tlscert", &certificate, "--tlskey", &key, "--user", "writer", "--pass", "w-secret"],
    );
    let with_ca = |ca: &std::path::Path| NatsOptions {
        root_certificates: Some(ca.to_path_buf()),
        ..support::nats::unique_options()
    };

    let store = NatsStore::connect_with(&format!("tls://writer:w-secret@localhost:{port}"), with_ca(&ca))
        .await
        .expect("TLS with the test's CA and the right password");
    store.append("s", ExpectedVersion::NoStream, vec![raw("Added", b"{}")]).await.unwrap();
    assert_eq!(store.read_stream("s", 1, 10).await.unwrap().len(), 1);

    let refused = [
        ("another CA", format!("tls://writer:w-secret@localhost:{port}"), with_ca(&other_ca)),
        ("a wrong password", format!("tls://writer:wrong@localhost:{port}"), with_ca(&ca)),
        ("no TLS", format!("nats://writer:w-secret@127.0.0.1:{port}"), support::nats::unique_options()),
    ];
    for (what, url, options) in refused {
        let connect = NatsStore::connect_with(&url, options);
        let error =
            tokio::time::timeout(Duration::from_secs(20), connect).await.expect("refused within 20 s").expect_err(what);
        assert!(matches!(error, StoreError::Backend { .. }), "{what}: {error:?}");
        assert!(!format!("{error} {error:?}").contains("w-secret"), "{what}: the error shows no password: {error:?}");
    }
    let _ = std::fs::remove_dir_all(&directory);
}

/// Long reads stream through a consumer in fetches of up to 1,024 messages: a read across
/// several fetches returns every event once, in order, from where it was asked, including
/// messages of several events, also from a store opened afterwards; short reads (direct
/// gets) return the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn long_reads_cross_fetches_without_losing_or_repeating_events() {
    let options = support::nats::unique_options();
    let store = std::sync::Arc::new(support::nats::store_with(options.clone()).await);
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                for n in 0..300 {
                    // Every 50th append holds three events: one message, three positions.
                    let count = if n % 50 == 0 { 3 } else { 1 };
                    let events = (0..count).map(|_| raw("Numbered", b"{}")).collect();
                    store.append(&format!("Long-{writer}"), ExpectedVersion::Any, events).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let total = 8 * (300 + 6 * 2);
    let all = store.read_all(1, 10_000, &[]).await.unwrap();
    assert_eq!(all.len(), total);
    assert!(all.windows(2).all(|pair| pair[0].position < pair[1].position), "in order, each once");
    // From the middle of a message of three events, across fetches, and a page's worth.
    let three = all.iter().position(|event| event.position & 0xF_FFFF == 1).expect("a message of several events");
    let from_middle = store.read_all(all[three].position, 2_000, &[]).await.unwrap();
    assert_eq!(from_middle, all[three..three + 2_000]);
    let short = store.read_all(all[three].position, 5, &[]).await.unwrap();
    assert_eq!(short, all[three..three + 5]);
    // A store opened afterwards (a process starting up) reads the same.
    let reopened = support::nats::store_with(options).await;
    assert_eq!(reopened.read_all(1, 10_000, &[]).await.unwrap(), all);
    // Filtered by type: none of another type, all of this one.
    assert!(store.read_all(1, 5_000, &["Other"]).await.unwrap().is_empty());
    assert_eq!(store.read_all(1, 5_000, &["Numbered"]).await.unwrap().len(), total);
}
