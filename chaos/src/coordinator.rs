//! The run: start the store's servers and the processes, kill and restart processes at
//! random while disturbing the servers, stop, then check everything.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::rng::Rng;
use crate::servers::{self, NatsNode, Postgres};
use crate::target::Target;
use crate::verify::{self, Findings};

pub struct Options {
    pub store: String,
    pub duration: Duration,
    pub writers: u32,
    pub followers: u32,
    pub json: Option<PathBuf>,
}

/// What was done to the run, and what the checks found.
#[derive(Debug, Default, Serialize)]
struct Report {
    store: String,
    seconds: u64,
    writers_killed: u64,
    followers_killed: u64,
    backends_terminated: u64,
    server_restarts: u64,
    leaders_killed: u64,
    /// The longest time without a stream leader after a leader was killed, in ms.
    longest_leaderless_ms: u64,
    findings: Findings,
}

/// A process of the run.
struct Worker {
    role: &'static str,
    id: u32,
    file: PathBuf,
    process: Child,
}

fn spawn(role: &str, id: u32, target: &Target, file: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("open the process log");
    Command::new(std::env::current_exe().expect("this program's path"))
        .args(["--role", role, "--id", &id.to_string(), "--target", &target.to_arg(), "--file"])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start a process of the run")
}

/// The store's servers, as the run disturbs them.
enum Servers {
    None,
    Postgres(Postgres),
    Nats(Vec<NatsNode>),
}

pub async fn run(options: Options) -> Result<bool, String> {
    let directory = std::env::temp_dir().join(format!("eventsmith-chaos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).map_err(|error| format!("{}: {error}", directory.display()))?;
    let run_name = format!("chaos_{}", std::process::id());
    let (target, mut servers) = match options.store.as_str() {
        "sqlite" => (Target::Sqlite { path: directory.join("events.db").display().to_string() }, Servers::None),
        "postgres" => {
            let url = std::env::var("EVENTSMITH_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            (Target::Postgres { schema: run_name.clone(), url: url.clone() }, Servers::Postgres(Postgres { url }))
        }
        "nats" | "nats-cluster" => {
            let count = if options.store == "nats" { 1 } else { 3 };
            let nodes = servers::start_nats(&directory, count);
            let url = nodes.iter().map(NatsNode::url).collect::<Vec<_>>().join(",");
            (Target::Nats { stream: run_name.to_uppercase(), replicas: count, url }, Servers::Nats(nodes))
        }
        other => return Err(format!("unknown store `{other}`: sqlite, postgres, nats or nats-cluster")),
    };
    // The store is created once, before the processes race to open it.
    drop(target.open_patiently().await);

    let log = directory.join("processes.log");
    let mut workers: Vec<Worker> = Vec::new();
    for id in 0..options.writers {
        let file = directory.join(format!("writer-{id}.jsonl"));
        workers.push(Worker { role: "writer", id, process: spawn("writer", id, &target, &file, &log), file });
    }
    for id in 0..options.followers {
        let file = directory.join(format!("follower-{id}.json"));
        workers.push(Worker { role: "follower", id, process: spawn("follower", id, &target, &file, &log), file });
    }

    let mut report = Report { store: options.store.clone(), seconds: options.duration.as_secs(), ..Report::default() };
    let mut rng = Rng::seeded();
    let started = Instant::now();
    let mut next_fault = started + fault_interval(&options.store, options.duration);
    let mut next_backend_kill = started + Duration::from_secs(2);
    eprintln!(
        "chaos on {}: {} s, {} writers, {} followers, in {}",
        options.store,
        report.seconds,
        options.writers,
        options.followers,
        directory.display()
    );
    while started.elapsed() < options.duration {
        tokio::time::sleep(Duration::from_millis(150 + rng.below(550))).await;
        // A random process, killed with SIGKILL and started again.
        let index = rng.below(workers.len() as u64) as usize;
        let worker = &mut workers[index];
        let _ = worker.process.kill();
        let _ = worker.process.wait();
        if worker.role == "writer" {
            report.writers_killed += 1
        } else {
            report.followers_killed += 1
        }
        worker.process = spawn(worker.role, worker.id, &target, &worker.file, &log);
        let now = Instant::now();
        match &mut servers {
            Servers::Postgres(postgres) => {
                if now >= next_backend_kill {
                    report.backends_terminated += postgres.terminate_backends()?;
                    next_backend_kill = now + Duration::from_secs(2 + rng.below(3));
                }
                if now >= next_fault {
                    let took = postgres.restart()?;
                    eprintln!(
                        "PostgreSQL restarted (immediate shutdown), answering again after {} ms",
                        took.as_millis()
                    );
                    report.server_restarts += 1;
                    next_fault = Instant::now() + fault_interval(&options.store, options.duration);
                }
            }
            Servers::Nats(nodes) if now >= next_fault => {
                if nodes.len() == 1 {
                    nodes[0].kill();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    nodes[0].restart();
                    report.server_restarts += 1;
                } else {
                    let leaderless = kill_leader(nodes, &target).await?;
                    report.leaders_killed += 1;
                    report.longest_leaderless_ms = report.longest_leaderless_ms.max(leaderless.as_millis() as u64);
                }
                next_fault = Instant::now() + fault_interval(&options.store, options.duration);
            }
            _ => {}
        }
    }
    for worker in &mut workers {
        let _ = worker.process.kill();
        let _ = worker.process.wait();
    }

    // Every node up and a leader elected before reading, so that the checks see the store
    // whole.
    if let Servers::Nats(nodes) = &mut servers {
        for node in nodes.iter_mut() {
            if std::net::TcpStream::connect(("127.0.0.1", node.client_port)).is_err() {
                node.restart();
            }
        }
    }
    let store = target.open_patiently().await;
    let journals: Vec<PathBuf> =
        workers.iter().filter(|worker| worker.role == "writer").map(|worker| worker.file.clone()).collect();
    let (mut findings, rebuilt) = verify::check_log(&*store, &journals).await;
    for worker in workers.iter().filter(|worker| worker.role == "follower") {
        // The follower's persisted projection, caught up to the head by a process that is not
        // killed, against the rebuild.
        let mut last = spawn("final", worker.id, &target, &worker.file, &log);
        let status = last.wait().map_err(|error| format!("the final follower: {error}"))?;
        if !status.success() {
            findings.misread += 1;
        }
        verify::check_follower(&mut findings, &format!("follower {}", worker.id), &worker.file, &rebuilt);
    }
    report.findings = findings;
    let passed = print(&report);
    if let Some(path) = &options.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report).expect("the report serializes"))
            .map_err(|error| format!("{}: {error}", path.display()))?;
    }
    if let Servers::Postgres(postgres) = &servers {
        postgres.drop_schema(&run_name);
    }
    drop(servers);
    if passed {
        let _ = std::fs::remove_dir_all(&directory);
    } else {
        eprintln!("the run's files are kept in {}", directory.display());
    }
    Ok(passed)
}

/// Time between server faults: often enough to hit a short run several times.
fn fault_interval(store: &str, run: Duration) -> Duration {
    let every = match store {
        "postgres" => Duration::from_secs(20),
        "nats" => Duration::from_secs(12),
        "nats-cluster" => Duration::from_secs(10),
        _ => Duration::from_secs(3600),
    };
    every.min(run / 3)
}

/// Kills the stream's leader, measures how long the stream has no leader, and starts the
/// killed node again.
async fn kill_leader(nodes: &mut [NatsNode], target: &Target) -> Result<Duration, String> {
    let Target::Nats { stream, .. } = target else { unreachable!("a NATS run") };
    let urls: Vec<String> = nodes.iter().map(NatsNode::url).collect();
    let mut leader = None;
    for url in &urls {
        if let Some(client) = servers::leader_client(url).await
            && let Some(name) = servers::stream_leader(&client, stream).await
        {
            leader = Some(name);
            break;
        }
    }
    let Some(leader) = leader else { return Err(format!("the stream {stream} has no leader to kill")) };
    let index = nodes.iter().position(|node| node.name == leader).ok_or(format!("no node named {leader}"))?;
    let survivor =
        urls.iter().enumerate().find(|(other, _)| *other != index).map(|(_, url)| url.clone()).expect("three nodes");
    let client = servers::leader_client(&survivor).await.ok_or(format!("cannot reach {survivor}"))?;
    let killed = Instant::now();
    nodes[index].kill();
    loop {
        if let Some(new_leader) = servers::stream_leader(&client, stream).await
            && new_leader != leader
        {
            break;
        }
        if killed.elapsed() > Duration::from_secs(60) {
            return Err(format!("no new leader for {stream} 60 s after {leader} was killed"));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let leaderless = killed.elapsed();
    eprintln!("killed leader {leader}; a new leader after {} ms", leaderless.as_millis());
    nodes[index].restart();
    Ok(leaderless)
}

/// Prints the report; whether nothing was lost, doubled or misread.
fn print(report: &Report) -> bool {
    let findings = &report.findings;
    println!(
        "| {} | {} s | writers killed {}, followers killed {}, backends terminated {}, server restarts {}, leaders killed {} (longest without a leader {} ms) | {} acknowledged, {} unknown, {} events | lost {} | duplicated {} | misread {} |",
        report.store,
        report.seconds,
        report.writers_killed,
        report.followers_killed,
        report.backends_terminated,
        report.server_restarts,
        report.leaders_killed,
        report.longest_leaderless_ms,
        findings.acknowledged,
        findings.unknown,
        findings.events,
        findings.lost,
        findings.duplicated,
        findings.misread,
    );
    for problem in &findings.problems {
        println!("  - {problem}");
    }
    findings.lost == 0 && findings.duplicated == 0 && findings.misread == 0 && findings.acknowledged > 0
}
