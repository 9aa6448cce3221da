//! The commands: each opens the store, does its work and writes to standard output.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufWriter, Write};
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse as _;
use eventsmith::store::{EventStore, ExpectedVersion, StoreError, StoredEvent, StreamAppend};
use indicatif::{ProgressBar, ProgressStyle};

use crate::line::EventLine;
use crate::open::{Access, open};
use crate::{Cli, Command};

/// Events read from the store at a time.
pub(crate) const PAGE: usize = 1000;

/// Events an import appends together (whole runs of a stream's lines).
const IMPORT_BATCH: usize = 32_768;

/// Why a command failed, as standard error says it.
#[derive(Debug)]
pub(crate) struct Failure(String);

impl Failure {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Failure(message.into())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure(format!("the store failed: {error}"))
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure(format!("cannot write: {error}"))
    }
}

pub(crate) async fn run(cli: Cli, builder: Option<eventsmith::AppBuilder>) -> Result<(), Failure> {
    // The catalog is the code's alone: no store is opened for it.
    if let Command::Catalog { mermaid } = cli.command {
        return crate::domain::catalog(&domain(builder)?, mermaid, cli.json);
    }
    let access = if matches!(cli.command, Command::Import { .. }) { Access::Write } else { Access::Read };
    let store = open(&cli, access).await?;
    let json = cli.json;
    let app = |builder| build(builder, Arc::clone(&store));
    match cli.command {
        Command::Verify => crate::domain::verify(&app(builder).await?, json).await,
        Command::Rebuild { projection } => crate::domain::rebuild(&app(builder).await?, &projection, json).await,
        Command::Projections => crate::domain::projections(&app(builder).await?, json).await,
        Command::Catalog { mermaid } => crate::domain::catalog(&domain(builder)?, mermaid, json),
        Command::Dashboard { listen, allow_rebuild, allow_hosts } => {
            let builder = builder.unwrap_or_else(eventsmith::App::builder);
            let app = build(Some(builder), Arc::clone(&store)).await?;
            dashboard(app, listen, allow_rebuild, allow_hosts, json).await
        }
        Command::Streams { prefix, after, limit } => streams(&*store, &prefix, after, limit, json).await,
        Command::Show { stream } => show(&*store, &stream, json).await,
        Command::Log { from, limit, follow } => log(&*store, from, limit, follow, json).await,
        Command::Stats => stats(&*store, json).await,
        Command::Trace { correlation } => crate::trace::trace(&*store, correlation, json).await,
        Command::Export { from, output } => export(&*store, from, output.as_deref()).await,
        Command::Import { input } => import(store, input.as_deref()).await,
    }
}

/// The application on the store, its projections where their checkpoints are.
async fn build(
    builder: Option<eventsmith::AppBuilder>,
    store: Arc<dyn EventStore>,
) -> Result<eventsmith::App, Failure> {
    let built = domain(builder)?.shared_store(store).catch_up_at_build(false).build().await;
    built.map_err(|error| Failure::new(format!("the application does not start: {error}")))
}

/// Serves the dashboard on `listen` until interrupted (SIGINT or SIGTERM), allowed to rebuild
/// projections when `rebuilds`, to requests for IP addresses, `localhost` and `hosts`.
async fn dashboard(
    app: eventsmith::App,
    listen: std::net::SocketAddr,
    rebuilds: bool,
    hosts: Vec<String>,
    json: bool,
) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| Failure::new(format!("cannot listen on {listen}: {error}")))?;
    let address = listener.local_addr()?;
    let mut out = stdout();
    if json {
        writeln!(out, "{}", serde_json::json!({"dashboard": format!("http://{address}/"), "rebuilds": rebuilds}))?;
    } else {
        let mode = if rebuilds { "rebuilds allowed" } else { "read-only" };
        writeln!(out, "dashboard on http://{address}/ ({mode}; interrupt to stop)")?;
    }
    out.flush()?;
    let mut dashboard = eventsmith_dashboard::Dashboard::new(app);
    if rebuilds {
        dashboard = dashboard.with_rebuilds();
    }
    let hosts: Arc<[String]> = hosts.into();
    let router = dashboard.router().layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let hosts = Arc::clone(&hosts);
            async move {
                let host = request.headers().get(axum::http::header::HOST).map(|host| host.to_str().unwrap_or("?"));
                match host {
                    Some(host) if !host_allowed(host, &hosts) => {
                        let refusal = format!(
                            "this dashboard does not answer to the host `{host}`: open it by its IP address or \
                             localhost, or name the host with --allow-host\n"
                        );
                        (axum::http::StatusCode::FORBIDDEN, refusal).into_response()
                    }
                    _ => next.run(request).await,
                }
            }
        },
    ));
    axum::serve(listener, router)
        .with_graceful_shutdown(interrupted())
        .await
        .map_err(|error| Failure::new(format!("the dashboard stopped: {error}")))
}

/// Whether the dashboard answers to `host` (a `Host` header, with or without its port): an
/// IP address, `localhost`, or one of `allowed`. The tool has no authentication, so a name
/// it does not know may be a page elsewhere that made its name resolve to this machine (DNS
/// rebinding) to read the dashboard or post to it.
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => {
            return bracketed.split_once(']').is_some_and(|(ip, port)| {
                ip.parse::<std::net::Ipv6Addr>().is_ok()
                    && (port.is_empty() || port.strip_prefix(':').is_some_and(|port| port.parse::<u16>().is_ok()))
            });
        }
        None => {
            host.rsplit_once(':').map_or(host, |(name, port)| if port.parse::<u16>().is_ok() { name } else { host })
        }
    };
    name.parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || allowed.iter().any(|allowed| allowed.eq_ignore_ascii_case(name))
}

/// Resolves on SIGINT, or on SIGTERM where there is one.
async fn interrupted() {
    #[cfg(unix)]
    if let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The application's builder, which the commands that need the domain cannot do without.
fn domain(builder: Option<eventsmith::AppBuilder>) -> Result<eventsmith::AppBuilder, Failure> {
    builder.ok_or_else(|| {
        Failure::new(
            "this command needs the application's domain: run it from the application's own binary, which calls \
             `eventsmith_cli::run` with its `App` builder",
        )
    })
}

/// Standard output, buffered; a closed pipe (`| head`) ends the command quietly.
pub(crate) fn stdout() -> BufWriter<std::io::StdoutLock<'static>> {
    BufWriter::new(std::io::stdout().lock())
}

fn print_event(out: &mut impl Write, event: StoredEvent, json: bool, verbose: bool) -> Result<(), Failure> {
    let line = EventLine::of(event)?;
    if json {
        serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::other)?;
        writeln!(out)?;
        return Ok(());
    }
    let namespace = line.namespace.as_deref().map(|namespace| format!("{namespace}::")).unwrap_or_default();
    writeln!(
        out,
        "{:>8}  {} v{}  {namespace}{} v{}  {}",
        line.position, line.stream_id, line.stream_version, line.event_type, line.event_version, line.recorded_at
    )?;
    if verbose {
        writeln!(out, "          id {}", line.id)?;
        if !line.metadata.is_empty() {
            writeln!(
                out,
                "          metadata {}",
                serde_json::to_string(&line.metadata).map_err(std::io::Error::other)?
            )?;
        }
        let pretty = serde_json::from_str::<serde_json::Value>(line.payload.get())
            .and_then(|value| serde_json::to_string_pretty(&value))
            .unwrap_or_else(|_| line.payload.get().to_owned());
        for text in pretty.lines() {
            writeln!(out, "          {text}")?;
        }
    } else {
        writeln!(out, "          {}", line.payload.get())?;
    }
    Ok(())
}

/// A write that failed because the reader went away is the end of the output, not an error.
pub(crate) fn quiet_on_closed_pipe(result: Result<(), Failure>) -> Result<(), Failure> {
    match result {
        Err(Failure(message)) if message.contains("Broken pipe") => Ok(()),
        other => other,
    }
}

async fn streams(
    store: &dyn EventStore,
    prefix: &str,
    mut after: Option<String>,
    limit: Option<usize>,
    json: bool,
) -> Result<(), Failure> {
    let mut out = stdout();
    let mut left = limit.unwrap_or(usize::MAX);
    while left > 0 {
        let page = store.streams(prefix, after.as_deref(), PAGE.min(left)).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.stream_id.clone());
        left -= page.len();
        for stream in page {
            let last_recorded_at = eventsmith::time::rfc3339(stream.last_recorded_at);
            let written = if json {
                let line = serde_json::json!({
                    "stream_id": stream.stream_id,
                    "version": stream.version,
                    "last_recorded_at": last_recorded_at,
                });
                writeln!(out, "{line}")
            } else {
                writeln!(out, "{}  {} events  last {last_recorded_at}", stream.stream_id, stream.version)
            };
            quiet_on_closed_pipe(written.map_err(Failure::from))?;
        }
    }
    quiet_on_closed_pipe(out.flush().map_err(Failure::from))
}

async fn show(store: &dyn EventStore, stream: &str, json: bool) -> Result<(), Failure> {
    let mut out = stdout();
    let mut from = 1;
    loop {
        let page = store.read_stream(stream, from, PAGE).await?;
        if page.is_empty() && from == 1 {
            return Err(Failure::new(format!("the stream `{stream}` has no events")));
        }
        let Some(last) = page.last() else { break };
        from = last.stream_version + 1;
        let full = page.len() == PAGE;
        for event in page {
            quiet_on_closed_pipe(print_event(&mut out, event, json, true))?;
        }
        if !full {
            break;
        }
    }
    quiet_on_closed_pipe(out.flush().map_err(Failure::from))
}

async fn log(store: &dyn EventStore, from: u64, limit: Option<u64>, follow: bool, json: bool) -> Result<(), Failure> {
    let mut out = stdout();
    let (mut next, mut left) = (from.max(1), limit.unwrap_or(u64::MAX));
    let mut head = follow.then(|| store.subscribe()).flatten();
    while left > 0 {
        let page = store.read_all(next, PAGE.min(usize::try_from(left).unwrap_or(PAGE)), &[]).await?;
        let read = page.len();
        for event in page {
            next = event.position + 1;
            left -= 1;
            quiet_on_closed_pipe(print_event(&mut out, event, json, false))?;
        }
        if read == 0 {
            if !follow {
                break;
            }
            quiet_on_closed_pipe(out.flush().map_err(Failure::from))?;
            // Woken by the store's notifications where it has them, else every half second.
            match &mut head {
                Some(head) => {
                    let _ = tokio::time::timeout(Duration::from_millis(500), head.changed()).await;
                }
                None => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
    quiet_on_closed_pipe(out.flush().map_err(Failure::from))
}

pub(crate) fn progress(length: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    let template = format!("{what} {{wide_bar}} {{pos}}/{{len}} events, {{per_sec}}, {{eta}} left");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

async fn stats(store: &dyn EventStore, json: bool) -> Result<(), Failure> {
    let head = store.head().await?;
    let bar = progress(head, "reading");
    let (mut types, mut streams, mut events, mut next) = (BTreeMap::new(), HashSet::new(), 0u64, 1);
    loop {
        let page = store.read_all(next, PAGE, &[]).await?;
        let Some(last) = page.last() else { break };
        next = last.position + 1;
        events += page.len() as u64;
        bar.set_position(last.position);
        for event in page {
            *types.entry((event.event_type, event.event_version)).or_insert(0u64) += 1;
            if !streams.contains(&event.stream_id) {
                streams.insert(event.stream_id);
            }
        }
    }
    bar.finish_and_clear();
    let mut out = stdout();
    if json {
        let types: Vec<_> = types
            .iter()
            .map(|((name, version), count)| serde_json::json!({"event_type": name, "event_version": version, "events": count}))
            .collect();
        let stats = serde_json::json!({"head": head, "events": events, "streams": streams.len(), "types": types});
        writeln!(out, "{stats}")?;
    } else {
        writeln!(out, "head position {head}\nevents        {events}\nstreams       {}", streams.len())?;
        for ((name, version), count) in &types {
            writeln!(out, "{count:>12}  {name} v{version}")?;
        }
    }
    quiet_on_closed_pipe(out.flush().map_err(Failure::from))
}

async fn export(store: &dyn EventStore, from: u64, output: Option<&std::path::Path>) -> Result<(), Failure> {
    let head = store.head().await?;
    let mut out: Box<dyn Write> = match output {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(from > 1)
                .truncate(from <= 1)
                .open(path)
                .map_err(|error| Failure::new(format!("cannot write `{}`: {error}", path.display())))?;
            Box::new(BufWriter::with_capacity(1 << 20, file))
        }
        None => Box::new(stdout()),
    };
    let bar = progress(head.saturating_sub(from.max(1) - 1), "exporting");
    let mut next = from.max(1);
    loop {
        let page = store.read_all(next, PAGE, &[]).await?;
        let Some(last) = page.last() else { break };
        next = last.position + 1;
        bar.inc(page.len() as u64);
        for event in page {
            let line = EventLine::of(event)?;
            serde_json::to_writer(&mut out, &line).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(())
}

/// Appends the lines' events, one append per run of lines of the same stream, at the
/// versions they had, keeping their ids: events already in the target (an earlier import,
/// whole or in part) are found by id at their versions and not written again. A line that
/// does not parse stops the import after the lines before it.
async fn import(store: Arc<dyn EventStore>, input: Option<&std::path::Path>) -> Result<(), Failure> {
    let (reader, size): (Box<dyn BufRead + Send>, Option<u64>) = match input {
        Some(path) => {
            let file = std::fs::File::open(path)
                .map_err(|error| Failure::new(format!("cannot read `{}`: {error}", path.display())))?;
            let size = file.metadata().ok().map(|metadata| metadata.len());
            (Box::new(std::io::BufReader::with_capacity(1 << 20, file)), size)
        }
        None => (Box::new(std::io::BufReader::with_capacity(1 << 20, std::io::stdin())), None),
    };
    let bar = match size {
        Some(bytes) => {
            let bar = ProgressBar::new(bytes);
            if let Ok(style) =
                ProgressStyle::with_template("importing {wide_bar} {bytes}/{total_bytes}, {bytes_per_sec}, {eta} left")
            {
                bar.set_style(style);
            }
            bar
        }
        None => ProgressBar::new_spinner(),
    };
    // Lines are parsed on a thread of their own while the store writes the batch before.
    let (batches, mut parsed) = tokio::sync::mpsc::channel(2);
    let parser = {
        let bar = bar.clone();
        std::thread::spawn(move || parse(reader, &bar, &batches))
    };
    let mut imported = Imported::default();
    while let Some(batch) = parsed.recv().await {
        match batch {
            Parsed::Runs(runs) => imported.add(&*store, runs).await?,
            Parsed::Stop { runs, reason } => {
                // The lines before it are whole: they go in, and running the import again
                // after a fix goes on from there.
                imported.add(&*store, runs).await?;
                return Err(Failure::new(format!("{reason}; {imported} before it")));
            }
        }
    }
    if parser.join().is_err() {
        return Err(Failure::new(format!("the import stopped unexpectedly; {imported} before it")));
    }
    bar.finish_and_clear();
    eprintln!("{imported}");
    Ok(())
}

/// What the parser of an import hands on: whole runs of lines of one stream each, and a
/// last batch with why it stopped early.
enum Parsed {
    Runs(Vec<Vec<EventLine>>),
    Stop { runs: Vec<Vec<EventLine>>, reason: String },
}

/// Reads and parses the lines into batches of about [`IMPORT_BATCH`] events in runs of one
/// stream each, until the input ends or a line does not parse.
fn parse(reader: Box<dyn BufRead + Send>, bar: &ProgressBar, batches: &tokio::sync::mpsc::Sender<Parsed>) {
    // The lines of the stream being read, the whole runs before it, and their events.
    let (mut run, mut runs, mut batched) = (Vec::<EventLine>::new(), Vec::new(), 0);
    for (index, text) in reader.lines().enumerate() {
        let number = index + 1;
        let parsed = text
            .map_err(|error| format!("cannot read line {number}: {error}"))
            .and_then(|text| {
                bar.inc(text.len() as u64 + 1);
                if text.trim().is_empty() {
                    return Ok(None);
                }
                serde_json::from_str::<EventLine>(&text)
                    .map(Some)
                    .map_err(|error| format!("line {number} is not an exported event: {error}"))
            })
            .and_then(|line| match (run.last(), line) {
                (_, Some(line)) if line.stream_version == 0 => {
                    Err(format!("line {number}: `{}` has version 0; versions start at 1", line.stream_id))
                }
                // The same line twice in a row (an export resumed from its last line): once.
                (Some(previous), Some(line))
                    if previous.id == line.id && previous.stream_version == line.stream_version =>
                {
                    Ok(None)
                }
                (Some(previous), Some(line))
                    if previous.stream_id == line.stream_id && previous.stream_version + 1 != line.stream_version =>
                {
                    Err(format!(
                        "line {number}: `{}` version {} follows version {}",
                        line.stream_id, line.stream_version, previous.stream_version
                    ))
                }
                (_, line) => Ok(line),
            });
        let line = match parsed {
            Ok(Some(line)) => line,
            Ok(None) => continue,
            Err(reason) => {
                runs.push(run);
                let _ = batches.blocking_send(Parsed::Stop { runs, reason });
                return;
            }
        };
        if run.first().is_some_and(|first| first.stream_id != line.stream_id) {
            batched += run.len();
            runs.push(std::mem::take(&mut run));
            if batched >= IMPORT_BATCH {
                if batches.blocking_send(Parsed::Runs(std::mem::take(&mut runs))).is_err() {
                    return;
                }
                batched = 0;
            }
        }
        run.push(line);
    }
    runs.push(run);
    let _ = batches.blocking_send(Parsed::Runs(runs));
}

/// What an import did so far.
#[derive(Debug, Default)]
struct Imported {
    appended: u64,
    there: u64,
}

impl std::fmt::Display for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "imported {} events ({} were there already)", self.appended, self.there)
    }
}

impl Imported {
    /// Appends runs of lines (each of one stream) at their versions, together, in order.
    async fn add(&mut self, store: &dyn EventStore, mut runs: Vec<Vec<EventLine>>) -> Result<(), Failure> {
        runs.retain(|run| !run.is_empty());
        while !runs.is_empty() {
            let appends = runs
                .iter()
                .map(|run| StreamAppend {
                    stream_id: run[0].stream_id.clone(),
                    expected: ExpectedVersion::Exact(run[0].stream_version - 1),
                    events: run.iter().map(EventLine::to_new).collect(),
                })
                .collect();
            let outcomes = store.append_streams(appends).await;
            let tried = outcomes.len();
            if tried == 0 {
                return Err(Failure::new(format!("the store answered no outcome for {} appends; {self}", runs.len())));
            }
            for (outcome, run) in outcomes.into_iter().zip(&runs) {
                match outcome {
                    Ok(outcome) if outcome.already_stored => self.there += run.len() as u64,
                    Ok(_) => self.appended += run.len() as u64,
                    // Refused (part of it there already, or other events): on its own.
                    Err(StoreError::Conflict { .. } | StoreError::DuplicateEvent { .. }) => {
                        self.add_run(store, run).await?;
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            runs.drain(..tried);
        }
        Ok(())
    }

    /// A run the store refused as a whole: the events of it already there (same ids at the
    /// same versions: an earlier import stopped inside it) are skipped, the rest appended.
    async fn add_run(&mut self, store: &dyn EventStore, run: &[EventLine]) -> Result<(), Failure> {
        let Some(first) = run.first() else { return Ok(()) };
        let (stream, from) = (first.stream_id.clone(), first.stream_version);
        let stored = store.read_stream(&stream, from, run.len()).await?;
        let there = stored.iter().zip(run).take_while(|(stored, line)| stored.id == line.id).count();
        if there < stored.len() {
            let version = from + there as u64;
            return Err(Failure::new(format!(
                "`{stream}` version {version} in the target is another event than the export's (id {}): the \
                 target holds other events of that stream; {self} before it",
                run[there].id
            )));
        }
        if stored.is_empty() {
            return Err(Failure::new(format!(
                "`{stream}` ends before version {} in the target, and the export goes on from version {from}: \
                 import the export from its first line; {self} before it",
                from - 1
            )));
        }
        self.there += there as u64;
        let rest: Vec<_> = run[there..].iter().map(EventLine::to_new).collect();
        if !rest.is_empty() {
            store.append(&stream, ExpectedVersion::Exact(from - 1 + there as u64), rest).await?;
            self.appended += (run.len() - there) as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::host_allowed;

    #[test]
    fn the_dashboard_answers_to_addresses_localhost_and_named_hosts() {
        let named = ["ops.example".to_owned()];
        for host in [
            "127.0.0.1:7070",
            "127.0.0.1",
            "[::1]:7070",
            "10.0.0.7:80",
            "localhost:7070",
            "LOCALHOST",
            "ops.example:7070",
        ] {
            assert!(host_allowed(host, &named), "{host}");
        }
        for host in
            ["attacker.example:7070", "127.0.0.1.attacker.example", "localhost.attacker.example:7070", "[::1", "?"]
        {
            assert!(!host_allowed(host, &named), "{host}");
        }
    }
}
