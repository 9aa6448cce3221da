//! The servers a run owns or disturbs: NATS servers it starts itself (one, or a cluster of
//! three with the stream replicated on all), and the machine's PostgreSQL, whose backends it
//! terminates and which it restarts.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (the listener is closed before the port is used).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A NATS server the run started, with what it takes to start it again.
pub struct NatsNode {
    pub name: String,
    pub client_port: u16,
    args: Vec<String>,
    process: Option<Child>,
}

impl NatsNode {
    fn start(&mut self) {
        let process = Command::new("nats-server")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server (Debian's nats-server package)");
        self.process = Some(process);
        wait_for_port(self.client_port);
    }

    /// Kills the server with SIGKILL: no goodbye to its peers or clients.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.start();
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }
}

impl Drop for NatsNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `count` NATS servers with JetStream, clustered when more than one, storing under
/// `directory`.
pub fn start_nats(directory: &Path, count: usize) -> Vec<NatsNode> {
    let client_ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
    let cluster_ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
    let mut nodes: Vec<NatsNode> = (0..count)
        .map(|index| {
            let name = format!("n{}", index + 1);
            let store: PathBuf = directory.join(&name);
            let mut args: Vec<String> = vec![
                "-n".into(),
                name.clone(),
                "-a".into(),
                "127.0.0.1".into(),
                "-p".into(),
                client_ports[index].to_string(),
                "-js".into(),
                "-sd".into(),
                store.display().to_string(),
            ];
            if count > 1 {
                let routes: Vec<String> = cluster_ports
                    .iter()
                    .enumerate()
                    .filter(|(other, _)| *other != index)
                    .map(|(_, port)| format!("nats://127.0.0.1:{port}"))
                    .collect();
                args.extend([
                    "--cluster_name".into(),
                    "chaos".into(),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{}", cluster_ports[index]),
                    "--routes".into(),
                    routes.join(","),
                ]);
            }
            NatsNode { name, client_port: client_ports[index], args, process: None }
        })
        .collect();
    for node in &mut nodes {
        node.start();
    }
    nodes
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not listen on port {port} within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A client for asking a cluster who leads a stream: short request timeouts, so that a
/// question asked while there is no leader is answered "none" quickly.
pub async fn leader_client(url: &str) -> Option<async_nats::jetstream::Context> {
    let client =
        async_nats::ConnectOptions::new().request_timeout(Some(Duration::from_millis(200))).connect(url).await.ok()?;
    Some(async_nats::jetstream::new(client))
}

/// The server currently leading the JetStream stream `stream`, by name, if there is one.
pub async fn stream_leader(jetstream: &async_nats::jetstream::Context, stream: &str) -> Option<String> {
    let handle = jetstream.get_stream_no_info(stream).await.ok()?;
    let info = handle.get_info().await.ok()?;
    info.cluster.as_ref().and_then(|cluster| cluster.leader.clone())
}

/// The machine's PostgreSQL, for faults: terminating the backends of one database, and
/// restarting the server.
pub struct Postgres {
    pub url: String,
}

impl Postgres {
    fn psql(&self, sql: &str) -> Result<String, String> {
        let output = Command::new("psql")
            .args([self.url.as_str(), "-tAc", sql])
            .output()
            .map_err(|error| format!("psql: {error}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    }

    /// Terminates every other client backend of the database; returns how many.
    pub fn terminate_backends(&self) -> Result<u64, String> {
        let count = self.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
        )?;
        count.parse().map_err(|_| format!("psql answered `{count}`"))
    }

    /// Restarts the server (every connection is lost), and waits until it answers again.
    pub fn restart(&self) -> Result<Duration, String> {
        let started = Instant::now();
        let version = std::fs::read_dir("/etc/postgresql")
            .map_err(|error| format!("/etc/postgresql: {error}"))?
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .next()
            .ok_or("no cluster in /etc/postgresql")?;
        let status = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", "--mode", "immediate", &version, "main", "restart"])
            .stdout(Stdio::null())
            .status()
            .map_err(|error| format!("pg_ctlcluster: {error}"))?;
        if !status.success() {
            return Err(format!("pg_ctlcluster {version} main restart failed"));
        }
        while self.psql("SELECT 1").is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err("PostgreSQL did not answer within 30 s of its restart".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(started.elapsed())
    }

    pub fn drop_schema(&self, schema: &str) {
        let _ = self.psql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
    }
}
