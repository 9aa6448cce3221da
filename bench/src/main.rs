//! eventsmith against cqrs-es, disintegrate and the raw drivers, in one process.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- --all
//! cargo run --release --manifest-path bench/Cargo.toml -- --stores postgres --cases a,b,d --runs 3
//! ```
//!
//! Each store runs its contenders on the same cases, through one harness (`workload.rs`):
//! within a case every contender is set up first (then PostgreSQL's statistics refreshed for
//! all), each runs once untimed, then the timed runs interleave (round `r` starts with
//! contender `r mod n`), so drift of the machine lands on all of them alike. Every run's
//! result is checked. Medians, paired ratios with 95% intervals and the goals are printed,
//! and written with a plot to `bench/results/`.

mod cases;
mod compile;
mod contender;
mod contenders;
mod domain;
mod goals;
mod pg;
mod report;
mod stats;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use cases::{Case, Sizes};
use contender::{Contender, Result, Session};
use contenders::eventsmith::{Backend, Eventsmith, Variant};
use report::{CaseResult, ContenderRuns, StoreResults};

const USAGE: &str = "\
eventsmith-bench: eventsmith against cqrs-es, disintegrate and the raw drivers

USAGE:
    cargo run --release --manifest-path bench/Cargo.toml -- [OPTIONS]

OPTIONS:
    --all               every case on every store, the compile-time comparison, and the
                        results written to bench/results/ and the README's table
    --stores LIST       postgres,sqlite,memory (default: all three)
    --cases LIST        letters or names: a sequential, b concurrent, c contended, d load,
                        e snapshot, f import, g catch-up, h projections (default: all)
    --runs N            timed runs per case and contender, after one untimed warm-up run
                        (default: 15)
    --scale F           multiplies the sizes (default: 1; 0.1 for a quick look)
    --aggregates N      aggregates of case a (default: 500)
    --tasks N           concurrent tasks of cases b and c (default: 8)
    --history N         events of the aggregate loaded in cases d and e, a multiple of 100
                        (default: 10000)
    --events N          events imported in case f and caught up in case g (default: 100000)
    --url URL           the PostgreSQL server (default: $EVENTSMITH_BENCH_URL or
                        postgres://postgres@127.0.0.1:5432/postgres); the benchmark creates
                        its own database there and drops it at the end
    --database NAME     the name of that database (default: eventsmith_bench)
    --compile           measure the build time of a generated against a hand-written domain
    --compile-runs N    builds of each (default: 5)
    --write             write bench/results/ (and the README's table after a full run)
";

struct Options {
    /// Sizes given one by one, applied after `--scale`.
    sizes: Vec<(String, u64)>,
    stores: Vec<String>,
    cases: Vec<Case>,
    runs: u64,
    scale: f64,
    url: String,
    database: String,
    compile: bool,
    compile_runs: u64,
    write: bool,
    full: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        sizes: Vec::new(),
        stores: vec!["postgres".into(), "sqlite".into(), "memory".into()],
        cases: Case::ALL.to_vec(),
        runs: 15,
        scale: 1.0,
        url: std::env::var("EVENTSMITH_BENCH_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
        database: "eventsmith_bench".to_owned(),
        compile: false,
        compile_runs: 5,
        write: false,
        full: false,
    };
    if args.is_empty() {
        return Err(USAGE.into());
    }
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().cloned().ok_or_else(|| format!("{arg} needs a value\n\n{USAGE}"));
        match arg.as_str() {
            "--all" => (options.compile, options.write, options.full) = (true, true, true),
            "--stores" => {
                options.stores = value()?.split(',').map(str::to_owned).collect();
                if let Some(unknown) =
                    options.stores.iter().find(|s| !["postgres", "sqlite", "memory"].contains(&s.as_str()))
                {
                    return Err(format!("unknown store `{unknown}`: postgres, sqlite or memory").into());
                }
                options.full = false;
            }
            "--cases" => {
                options.cases = value()?
                    .split(',')
                    .map(|case| Case::parse(case).ok_or_else(|| format!("unknown case `{case}`\n\n{USAGE}")))
                    .collect::<Result<_, _>>()?;
                options.full = false;
            }
            "--runs" => options.runs = value()?.parse().map_err(|_| "--runs takes a number")?,
            "--scale" => {
                options.scale = value()?.parse().map_err(|_| "--scale takes a number")?;
                options.full &= options.scale == 1.0;
            }
            "--aggregates" | "--tasks" | "--history" | "--events" => {
                let size: u64 = value()?.parse().map_err(|_| format!("{arg} takes a number"))?;
                let least = if arg == "--history" { 200 } else { 1 };
                if size < least || (arg == "--history" && !size.is_multiple_of(100)) {
                    return Err(format!(
                        "{arg} {size}: too small{}",
                        if arg == "--history" {
                            ", or not a multiple of 100 (snapshots are taken every 100 events)"
                        } else {
                            ""
                        }
                    )
                    .into());
                }
                options.sizes.push((arg.trim_start_matches("--").to_owned(), size));
                options.full = false;
            }
            "--url" => options.url = value()?,
            "--database" => options.database = value()?,
            "--compile" => options.compile = true,
            "--compile-runs" => options.compile_runs = value()?.parse().map_err(|_| "--compile-runs takes a number")?,
            "--write" => options.write = true,
            "--help" | "-h" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}").into()),
        }
    }
    if options.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(options)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    if let Err(error) = runtime.block_on(run(options)) {
        eprintln!("\nerror: {error}");
        std::process::exit(1);
    }
}

async fn run(options: Options) -> Result<()> {
    let mut sizes = Sizes::scaled(options.scale);
    for (name, size) in &options.sizes {
        match name.as_str() {
            "aggregates" => sizes.aggregates = *size,
            "tasks" => sizes.tasks = *size,
            "history" => sizes.history = *size,
            _ => {
                // The catch-up's history is the same number of events in every stream.
                sizes.import_events = *size;
                sizes.catch_up_streams = sizes.catch_up_streams.min(*size);
                sizes.catch_up_events = *size / sizes.catch_up_streams * sizes.catch_up_streams;
            }
        }
    }
    let started = Instant::now();
    let mut report = report::Report::new(&options.url, options.runs, options.scale);
    for store in &options.stores {
        let results = match store.as_str() {
            "postgres" => {
                let database = pg::Database::create(&options.url, &options.database).await?;
                eprintln!(
                    "PostgreSQL: database `{}` at {} (created for this run, dropped at its end)",
                    options.database, options.url
                );
                let url = database.url.clone();
                let backend = Backend::Postgres { url: url.clone() };
                let mut contenders = eventsmith_variants(&backend);
                contenders.extend::<[Box<dyn Contender>; 4]>([
                    Box::new(contenders::cqrs::CqrsEs::new(url.clone())),
                    Box::new(contenders::disintegrate::Disintegrate::new(url.clone())),
                    Box::new(contenders::raw_postgres::RawPostgres::new(url.clone())),
                    Box::new(contenders::raw_postgres::RawPostgres::one_copy(url)),
                ]);
                let results = run_store("postgres", contenders, &options, &sizes, Some(&database)).await;
                database.drop().await?;
                results?
            }
            "sqlite" => {
                let directory = std::env::temp_dir().join(format!("eventsmith-bench-{}", std::process::id()));
                std::fs::create_dir_all(&directory)?;
                let mut contenders = eventsmith_variants(&Backend::Sqlite { directory: directory.clone() });
                contenders.push(Box::new(contenders::raw_sqlite::RawSqlite::new(directory.clone())));
                let results = run_store("sqlite", contenders, &options, &sizes, None).await;
                std::fs::remove_dir_all(&directory)?;
                results?
            }
            _ => {
                let mut contenders = eventsmith_variants(&Backend::Memory);
                contenders.push(Box::new(contenders::hand_written::HandWritten));
                run_store("memory", contenders, &options, &sizes, None).await?
            }
        };
        report.stores.push(results);
    }
    if options.compile {
        report.compile = Some(compile::measure(options.compile_runs)?);
    }
    report.elapsed = started.elapsed();
    println!("\n{}", report.markdown(&sizes));
    if options.write {
        let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results");
        report.write(&directory, &sizes, options.full)?;
        eprintln!("wrote {}", directory.display());
    }
    Ok(())
}

/// eventsmith as configured by default, with its aggregate cache off, and without projections.
fn eventsmith_variants(backend: &Backend) -> Vec<Box<dyn Contender>> {
    [Variant::Default, Variant::CacheOff, Variant::NoProjections]
        .into_iter()
        .map(|variant| Box::new(Eventsmith::new(backend.clone(), variant)) as Box<dyn Contender>)
        .collect()
}

/// Runs every chosen case on one store's contenders: each set up, PostgreSQL's statistics
/// refreshed, one untimed warm-up run each, then the timed rounds, interleaved.
async fn run_store(
    store: &str,
    mut contenders: Vec<Box<dyn Contender>>,
    options: &Options,
    sizes: &Sizes,
    database: Option<&pg::Database>,
) -> Result<StoreResults> {
    let mut results = StoreResults { store: store.to_owned(), cases: Vec::new() };
    for &case in &options.cases {
        let mut runs: Vec<ContenderRuns> = Vec::new();
        let mut sessions: Vec<Arc<dyn Session>> = Vec::new();
        let mut skipped = Vec::new();
        for contender in &mut contenders {
            let name = contender.name();
            if let Some(reason) = contender.unsupported(case) {
                skipped.push((name, reason));
                continue;
            }
            progress(store, case, &format!("setting up {name}"));
            let failed = |error| format!("{store} {case} {name}, setting up: {error}");
            let session = contender.prepare(case, sizes).await.map_err(failed)?;
            workload::set_up(case, &*session, sizes).await.map_err(failed)?;
            sessions.push(session);
            runs.push(ContenderRuns { name, role: contender.role(), samples: Vec::new() });
        }
        if let Some(database) = database {
            database.analyze().await?;
        }
        for (session, contender) in sessions.iter().zip(&runs) {
            progress(store, case, &format!("warming up {}", contender.name));
            workload::run(case, session, sizes, 1)
                .await
                .map_err(|error| format!("{store} {case} {}, warm-up run: {error}", contender.name))?;
        }
        let count = sessions.len() as u64;
        for round in 0..options.runs {
            for offset in 0..count {
                let index = ((round + offset) % count) as usize;
                let name = runs[index].name.clone();
                progress(store, case, &format!("run {}/{}: {name}", round + 1, options.runs));
                let sample = workload::run(case, &sessions[index], sizes, round + 2)
                    .await
                    .map_err(|error| format!("{store} {case} {name}, run {}: {error}", round + 1))?;
                runs[index].samples.push(sample);
            }
        }
        let result = CaseResult { case, contenders: runs, skipped };
        eprint!("\r\x1b[K");
        eprintln!("{store} {}", report::case_line(&result, sizes));
        results.cases.push(result);
    }
    Ok(results)
}

fn progress(store: &str, case: Case, what: &str) {
    eprint!("\r\x1b[K{store} {case}: {what} ...");
}
