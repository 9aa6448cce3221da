//! The conformance kit against a replicated stream on a three-node JetStream cluster that the
//! test starts on loopback ports. A replicated stream takes another append path than a
//! single server's (JetStream 2.9 does not serialize a replicated stream's per-subject check
//! against appends in flight, so the store conditions on the stream's last sequence): the
//! racing-append behaviours here are what hold it to one winner per version.
//!
//! No harness: the cluster is started once, every behaviour runs on a fresh stream, and the
//! cluster is stopped at the end, also when a behaviour fails.

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eventsmith::NatsStore;
use eventsmith::conformance;
use eventsmith::store::NatsOptions;

/// The three servers, killed when dropped.
struct Cluster {
    servers: Vec<Child>,
    urls: Vec<String>,
    directory: std::path::PathBuf,
}

impl Cluster {
    fn start() -> Self {
        let free = || TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a port");
        let clients: Vec<u16> = (0..3).map(|_| free()).collect();
        let routes: Vec<u16> = (0..3).map(|_| free()).collect();
        let directory = std::env::temp_dir().join(format!("eventsmith-cluster-{}", std::process::id()));
        let servers = (0..3)
            .map(|index| {
                let others: Vec<String> = (0..3)
                    .filter(|other| *other != index)
                    .map(|other| format!("nats://127.0.0.1:{}", routes[other]))
                    .collect();
                Command::new("nats-server")
                    .args(["-n", &format!("n{index}"), "-a", "127.0.0.1", "-p", &clients[index].to_string(), "-js"])
                    .args(["-sd", &directory.join(format!("n{index}")).display().to_string()])
                    .args([
                        "--cluster_name",
                        "conformance",
                        "--cluster",
                        &format!("nats://127.0.0.1:{}", routes[index]),
                    ])
                    .args(["--routes", &others.join(",")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start nats-server (Debian's nats-server package)")
            })
            .collect();
        let urls = clients.iter().map(|port| format!("nats://127.0.0.1:{port}")).collect();
        Cluster { servers, urls, directory }
    }

    /// A store on a fresh stream with three replicas, once the cluster has a JetStream
    /// leader (creating the stream fails until then).
    async fn store(&self) -> NatsStore {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let options = NatsOptions { replicas: 3, ..support::nats::unique_options() };
            match NatsStore::connect_with(&self.urls.join(","), options).await {
                Ok(store) => return store,
                Err(error) if Instant::now() < deadline => {
                    eprintln!("the cluster is not ready: {error}");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(error) => panic!("the cluster did not take a stream within 30 s: {error}"),
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

macro_rules! behaviours {
    ($cluster:expr; $($behaviour:ident),* $(,)?) => {{
        let mut failed = Vec::new();
        let mut passed = 0;
        $(
            let store = $cluster.store().await;
            // A store that lets two appends take one version can make a behaviour wait
            // forever for a count it never reaches: a minute is a failure, not a hang.
            match tokio::time::timeout(Duration::from_secs(60), tokio::spawn(conformance::$behaviour(store))).await {
                Ok(Ok(())) => passed += 1,
                Ok(Err(_)) => failed.push(stringify!($behaviour)),
                Err(_) => failed.push(concat!(stringify!($behaviour), " (no end within 60 s)")),
            }
        )*
        (passed, failed)
    }};
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let cluster = Cluster::start();
    let (passed, failed) = behaviours!(cluster;
        append_and_read_back_byte_identical,
        expected_version_exact,
        expected_version_no_stream,
        a_conflict_writes_nothing,
        concurrent_appends_to_one_stream,
        global_order_is_commit_order,
        a_concurrent_reader_never_skips,
        an_exact_retry_is_idempotent,
        a_partial_retry_is_refused,
        a_large_batch_is_one_append,
        the_head_is_the_last_position,
        subscribers_hear_of_appends,
        checkpoints_round_trip,
        snapshots_round_trip,
    );
    drop(cluster);
    for behaviour in &failed {
        println!("FAILED: {behaviour} on a replicated stream");
    }
    println!("{passed} passed, {} failed", failed.len());
    if !failed.is_empty() {
        std::process::exit(1);
    }
}
