//! The results: one line per case while the run goes, then markdown tables with paired
//! ratios and their 95% intervals, the goals, a JSON file with every sample, and a plot (SVG,
//! drawn here: bars and whiskers need no plotting library).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::cases::{Case, Sizes};
use crate::compile::CompileResult;
use crate::contender::{Result, Role};
use crate::goals::GOALS;
use crate::stats::{Estimate, median_duration, paired_speed};
use crate::workload::Sample;

/// One contender's runs of one case, in round order.
pub struct ContenderRuns {
    pub name: String,
    pub role: Role,
    pub samples: Vec<Sample>,
}

impl ContenderRuns {
    pub fn times(&self) -> Vec<Duration> {
        self.samples.iter().map(|sample| sample.elapsed).collect()
    }

    pub fn median(&self) -> Duration {
        median_duration(&self.times())
    }

    fn min(&self) -> Duration {
        self.times().into_iter().min().unwrap_or_default()
    }

    fn max(&self) -> Duration {
        self.times().into_iter().max().unwrap_or_default()
    }

    fn retries(&self) -> u64 {
        self.samples.iter().map(|sample| sample.retries).sum()
    }

    /// Operations per second at the median run.
    fn throughput(&self, case: Case, sizes: &Sizes) -> f64 {
        case.operations(sizes) as f64 / self.median().as_secs_f64()
    }

    /// This contender's speed relative to `other`, paired by round.
    fn speed_against(&self, other: &ContenderRuns) -> Estimate {
        Estimate::of(&paired_speed(&self.times(), &other.times()))
    }
}

/// The contenders of one case (those that run it) and those that do not, with the reason.
pub struct CaseResult {
    pub case: Case,
    pub contenders: Vec<ContenderRuns>,
    pub skipped: Vec<(String, &'static str)>,
}

impl CaseResult {
    fn with_role(&self, role: Role) -> impl Iterator<Item = &ContenderRuns> {
        self.contenders.iter().filter(move |runs| runs.role == role)
    }

    fn baseline(&self) -> Option<&ContenderRuns> {
        self.with_role(Role::Baseline).next()
    }
}

pub struct StoreResults {
    pub store: String,
    pub cases: Vec<CaseResult>,
}

pub struct Report {
    url: String,
    runs: u64,
    scale: f64,
    pub stores: Vec<StoreResults>,
    pub compile: Option<CompileResult>,
    pub elapsed: Duration,
}

fn rate(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} M", value / 1e6)
    } else if value >= 1e4 {
        format!("{:.0} k", value / 1e3)
    } else if value >= 1e3 {
        format!("{:.1} k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

fn time(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1e3;
    if ms >= 100.0 { format!("{ms:.0} ms") } else { format!("{ms:.2} ms") }
}

/// A paired ratio as the tables show it: the median, and the interval in brackets.
fn ratio(estimate: &Estimate) -> String {
    format!("{:.2}x [{:.2}–{:.2}]", estimate.median, estimate.low, estimate.high)
}

/// The case in one line: each contender's median throughput and its speed relative to the
/// baseline.
pub fn case_line(result: &CaseResult, sizes: &Sizes) -> String {
    let parts: Vec<String> = result
        .contenders
        .iter()
        .map(|runs| {
            let mut part =
                format!("{} {} {}/s", runs.name, rate(runs.throughput(result.case, sizes)), result.case.unit());
            if let Some(baseline) = result.baseline() {
                let _ = write!(part, " ({} raw)", ratio(&runs.speed_against(baseline)));
            }
            if runs.retries() > 0 {
                let _ = write!(part, " [{} retries]", runs.retries());
            }
            part
        })
        .collect();
    format!("{}: {}", result.case.title(sizes), parts.join(" | "))
}

impl Report {
    pub fn new(url: &str, runs: u64, scale: f64) -> Self {
        Report { url: url.to_owned(), runs, scale, stores: Vec::new(), compile: None, elapsed: Duration::ZERO }
    }

    /// The peers of a store, in the order they ran.
    fn peers(store: &StoreResults) -> Vec<&str> {
        let mut peers: Vec<&str> = Vec::new();
        for case in &store.cases {
            for runs in case.with_role(Role::Peer) {
                if !peers.contains(&runs.name.as_str()) {
                    peers.push(&runs.name);
                }
            }
        }
        peers
    }

    pub fn markdown(&self, sizes: &Sizes) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.environment());
        let coverage = self
            .stores
            .iter()
            .flat_map(|store| &store.cases)
            .flat_map(|case| case.contenders.first())
            .next()
            .map(|runs| Estimate::of(&vec![1.0; runs.samples.len()]).coverage);
        let _ = writeln!(
            out,
            "Ratios are speeds (the other side's time over this one's: above 1.00x is faster), one per round of \
             runs, paired with the run of the same round; each cell is their median and, in brackets, the interval \
             that holds the true median with {:.1}% probability (order statistics of the paired ratios; no \
             assumption about their distribution).\n",
            coverage.unwrap_or(0.0) * 100.0
        );
        for store in &self.stores {
            let peers = Self::peers(store);
            let _ = writeln!(out, "**{}** (median of {} runs; min–max in brackets)\n", store.store, self.runs);
            let mut header = "| case | contender | median time | throughput | vs raw |".to_owned();
            let mut rule = "|---|---|---|---|---|".to_owned();
            for peer in &peers {
                let _ = write!(header, " eventsmith vs {peer} |");
                rule.push_str("---|");
            }
            let _ = writeln!(out, "{header}\n{rule}");
            let mut skipped = Vec::new();
            for result in &store.cases {
                let baseline = result.baseline();
                for runs in &result.contenders {
                    let against_raw = match baseline {
                        Some(baseline) if std::ptr::eq(baseline, runs) => "1.00x".to_owned(),
                        Some(baseline) => ratio(&runs.speed_against(baseline)),
                        None => "–".to_owned(),
                    };
                    let mut row = format!(
                        "| {} | {} | {} ({}–{}) | {} {}/s{} | {} |",
                        result.case.title(sizes),
                        runs.name,
                        time(runs.median()),
                        time(runs.min()),
                        time(runs.max()),
                        rate(runs.throughput(result.case, sizes)),
                        result.case.unit(),
                        if runs.retries() > 0 { format!(", {} retries", runs.retries()) } else { String::new() },
                        against_raw,
                    );
                    for peer in &peers {
                        let cell = match (runs.role, result.contenders.iter().find(|other| other.name == *peer)) {
                            (Role::Eventsmith, Some(peer)) => format!(" **{}** |", ratio(&runs.speed_against(peer))),
                            _ => " |".to_owned(),
                        };
                        row.push_str(&cell);
                    }
                    let _ = writeln!(out, "{row}");
                }
                for (name, reason) in &result.skipped {
                    if !name.starts_with("eventsmith") && !name.contains("one COPY") {
                        skipped.push(format!("{name} does not run {}: {reason}", result.case));
                    }
                }
            }
            out.push('\n');
            for line in skipped {
                let _ = writeln!(out, "- {line}.");
            }
            out.push('\n');
        }
        self.goals_markdown(&mut out);
        if let Some(compile) = &self.compile {
            let _ = writeln!(out, "{}", compile.markdown());
        }
        out
    }

    fn goals_markdown(&self, out: &mut String) {
        let evaluated: Vec<_> =
            GOALS.iter().filter_map(|goal| goal.evaluate(&self.stores).map(|result| (goal, result))).collect();
        if evaluated.is_empty() {
            return;
        }
        let _ = writeln!(out, "**Goals** (each a paired ratio of this run)\n");
        let _ = writeln!(out, "| goal | from | measured | verdict |\n|---|---|---|---|");
        for (goal, (estimate, verdict)) in evaluated {
            let _ =
                writeln!(out, "| {} | {} | {} | {} |", goal.describe(), goal.source, ratio(&estimate), verdict.text());
        }
        out.push('\n');
    }

    fn environment(&self) -> String {
        let lock = include_str!("../Cargo.lock");
        let version = |name: &str| {
            let marker = format!("name = \"{name}\"\nversion = \"");
            lock.find(&marker)
                .map(|start| {
                    let rest = &lock[start + marker.len()..];
                    rest[..rest.find('"').unwrap_or(0)].to_owned()
                })
                .unwrap_or_else(|| "?".to_owned())
        };
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| info.lines().find(|line| line.starts_with("model name")).map(|line| line.to_owned()))
            .and_then(|line| line.split(':').nth(1).map(|model| model.trim().to_owned()))
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let cores = std::thread::available_parallelism().map_or(0, |cores| cores.get());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| info.lines().next().map(|line| line.to_owned()))
            .and_then(|line| line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()))
            .map_or(0, |kib| kib / 1024 / 1024);
        format!(
            "Run on {date} (UTC), {cores} cores ({cpu}), {memory} GiB; PostgreSQL at {url}, plain TCP for every \
             client; one untimed warm-up run and {runs} timed runs per case and contender{scale}, {minutes:.1} minutes in all. Versions: eventsmith {es}, cqrs-es {cqrs}, \
             postgres-es {pges}, disintegrate {dis}, disintegrate-postgres {disp}, tokio-postgres {tp}, sqlx {sqlx}, \
             rusqlite {rusqlite} (SQLite bundled, WAL, synchronous FULL).",
            date = today(),
            url = self.url,
            runs = self.runs,
            scale = if self.scale == 1.0 { String::new() } else { format!(", sizes scaled by {}", self.scale) },
            minutes = self.elapsed.as_secs_f64() / 60.0,
            es = version("eventsmith"),
            cqrs = version("cqrs-es"),
            pges = version("postgres-es"),
            dis = version("disintegrate"),
            disp = version("disintegrate-postgres"),
            tp = version("tokio-postgres"),
            sqlx = version("sqlx"),
            rusqlite = version("rusqlite"),
        )
    }

    /// Writes `results.md`, `results.json` and `throughput.svg` to `directory`; after a full
    /// run, also the README's table.
    pub fn write(&self, directory: &Path, sizes: &Sizes, full: bool) -> Result<()> {
        std::fs::create_dir_all(directory)?;
        let markdown = self.markdown(sizes);
        std::fs::write(directory.join("results.md"), &markdown)?;
        std::fs::write(directory.join("results.json"), serde_json::to_string_pretty(&self.json(sizes))?)?;
        std::fs::write(directory.join("throughput.svg"), self.svg(sizes))?;
        if full {
            let readme = directory.join("../../README.md");
            let text = std::fs::read_to_string(&readme)?;
            let (begin, end) = ("<!-- bench:begin -->", "<!-- bench:end -->");
            if let (Some(start), Some(stop)) = (text.find(begin), text.find(end)) {
                let updated = format!("{}{begin}\n{markdown}{}", &text[..start], &text[stop..]);
                std::fs::write(&readme, updated)?;
            }
        }
        Ok(())
    }

    fn json(&self, sizes: &Sizes) -> serde_json::Value {
        let estimate = |estimate: Estimate| serde_json::json!({ "median": estimate.median, "low": estimate.low, "high": estimate.high, "coverage": estimate.coverage });
        let stores: Vec<serde_json::Value> = self
            .stores
            .iter()
            .map(|store| {
                let cases: Vec<serde_json::Value> = store
                    .cases
                    .iter()
                    .map(|result| {
                        let contenders: Vec<serde_json::Value> = result
                            .contenders
                            .iter()
                            .map(|runs| {
                                let peers: serde_json::Map<String, serde_json::Value> = match runs.role {
                                    Role::Eventsmith => result
                                        .with_role(Role::Peer)
                                        .map(|peer| (peer.name.clone(), estimate(runs.speed_against(peer))))
                                        .collect(),
                                    _ => serde_json::Map::new(),
                                };
                                serde_json::json!({
                                    "contender": runs.name,
                                    "seconds": runs.times().iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                                    "median_seconds": runs.median().as_secs_f64(),
                                    "operations": result.case.operations(sizes),
                                    "throughput_per_second": runs.throughput(result.case, sizes),
                                    "speed_vs_raw": result.baseline().map(|baseline| estimate(runs.speed_against(baseline))),
                                    "eventsmith_speed_vs": peers,
                                    "retries": runs.retries(),
                                })
                            })
                            .collect();
                        let skipped: Vec<serde_json::Value> = result
                            .skipped
                            .iter()
                            .map(|(name, reason)| serde_json::json!({ "contender": name, "reason": reason }))
                            .collect();
                        serde_json::json!({
                            "case": result.case.key(),
                            "title": result.case.title(sizes),
                            "unit": result.case.unit(),
                            "contenders": contenders,
                            "not_run": skipped,
                        })
                    })
                    .collect();
                serde_json::json!({ "store": store.store, "cases": cases })
            })
            .collect();
        let goals: Vec<serde_json::Value> = GOALS
            .iter()
            .filter_map(|goal| {
                let (measured, verdict) = goal.evaluate(&self.stores)?;
                Some(serde_json::json!({ "goal": goal.describe(), "from": goal.source, "measured": estimate(measured), "verdict": verdict.text() }))
            })
            .collect();
        serde_json::json!({
            "environment": self.environment(),
            "stores": stores,
            "goals": goals,
            "compile": self.compile.as_ref().map(CompileResult::json),
        })
    }

    /// Grouped bars: per store and case, each contender's speed relative to the raw driver
    /// (1.0 = raw), the paired median as the bar and its 95% interval as a whisker, with the
    /// absolute throughput written beside it.
    fn svg(&self, sizes: &Sizes) -> String {
        const COLORS: [(Role, &str); 5] = [
            (Role::Eventsmith, "#d9480f"),
            (Role::EventsmithVariant, "#f08c00"),
            (Role::Peer, "#1971c2"),
            (Role::Baseline, "#868e96"),
            (Role::RawVariant, "#adb5bd"),
        ];
        const BAR: f64 = 14.0;
        const LEFT: f64 = 330.0;
        const WIDTH: f64 = 520.0;
        const CAP: f64 = 3.0;
        let scale = WIDTH / CAP;
        let mut body = String::new();
        let mut y = 40.0;
        for store in &self.stores {
            let _ = writeln!(
                body,
                r#"<text x="10" y="{y}" font-size="15" font-weight="bold">{}: speed relative to the raw driver (1.0 = raw; higher is faster; whiskers: 95% interval)</text>"#,
                store.store
            );
            y += 14.0;
            for result in &store.cases {
                let Some(baseline) = result.baseline() else { continue };
                y += 10.0;
                let group_top = y;
                for runs in &result.contenders {
                    let speed = runs.speed_against(baseline);
                    let width = (speed.median.min(CAP) * scale).max(1.0);
                    let color = COLORS.iter().find(|(role, _)| *role == runs.role).map_or("#000", |(_, color)| color);
                    let (low, high) = (LEFT + speed.low.min(CAP) * scale, LEFT + speed.high.min(CAP) * scale);
                    let middle = y + (BAR - 2.0) / 2.0;
                    let _ = writeln!(
                        body,
                        r#"<rect x="{LEFT}" y="{y}" width="{width:.1}" height="{h}" fill="{color}"/><line x1="{low:.1}" y1="{middle:.1}" x2="{high:.1}" y2="{middle:.1}" stroke="black"/><text x="{tx:.1}" y="{ty:.1}" font-size="11">{name} {median:.2}x ({rate} {unit}/s)</text>"#,
                        h = BAR - 2.0,
                        tx = LEFT + width.max(high - LEFT) + 4.0,
                        ty = y + BAR - 4.0,
                        name = runs.name,
                        median = speed.median,
                        rate = rate(runs.throughput(result.case, sizes)),
                        unit = result.case.unit(),
                    );
                    y += BAR;
                }
                let _ = writeln!(
                    body,
                    r#"<text x="{x}" y="{ty:.1}" font-size="12" text-anchor="end">{}</text>"#,
                    result.case.title(sizes),
                    x = LEFT - 8.0,
                    ty = (group_top + y) / 2.0 + 4.0,
                );
            }
            y += 30.0;
        }
        let one = LEFT + scale;
        let height = y + 10.0;
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" height="{height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="13" fill="#495057">eventsmith benchmark, {date}: paired medians of {runs} runs per case (bars capped at {CAP}x)</text>
<line x1="{one:.1}" y1="30" x2="{one:.1}" y2="{bottom:.1}" stroke="#495057" stroke-dasharray="4 3"/>
{body}</svg>
"##,
            total_width = LEFT + WIDTH + 360.0,
            date = today(),
            runs = self.runs,
            bottom = height - 10.0,
        )
    }
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
fn today() -> String {
    let days = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
