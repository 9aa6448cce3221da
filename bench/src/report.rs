//! The results: one line per case while the run goes, then markdown tables, a JSON file and
//! a plot (SVG, drawn here: bars need no plotting library).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::compile::CompileResult;
use crate::harness::{Case, Result, Sizes, Summary};

pub struct StoreResults {
    pub store: String,
    pub cases: Vec<(Case, Vec<Summary>)>,
}

pub struct Report {
    url: String,
    runs: u64,
    scale: f64,
    pub stores: Vec<StoreResults>,
    pub compile: Option<CompileResult>,
    pub elapsed: Duration,
}

/// The raw baseline of a store's contenders (always the last one).
fn baseline(summaries: &[Summary]) -> &Summary {
    summaries.last().expect("contenders")
}

/// How many times faster `a` is than `b` (the same work, so the ratio of median times).
fn speed(a: &Summary, b: &Summary) -> f64 {
    b.median.as_secs_f64() / a.median.as_secs_f64()
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

/// The case in one line: each contender's median throughput and its ratio to the raw driver.
pub fn case_line(case: Case, sizes: &Sizes, summaries: &[Summary]) -> String {
    let raw = baseline(summaries);
    let parts: Vec<String> = summaries
        .iter()
        .map(|summary| {
            let mut part = format!(
                "{} {} {}/s ({:.2}x raw)",
                summary.contender,
                rate(summary.throughput()),
                case.unit(),
                speed(summary, raw)
            );
            if summary.retries > 0 || summary.failures > 0 {
                let _ = write!(part, " [{} retries, {} failed]", summary.retries, summary.failures);
            }
            part
        })
        .collect();
    format!("{}: {}", case.title(sizes), parts.join(" | "))
}

impl Report {
    pub fn new(url: &str, runs: u64, scale: f64) -> Self {
        Report { url: url.to_owned(), runs, scale, stores: Vec::new(), compile: None, elapsed: Duration::ZERO }
    }

    pub fn markdown(&self, sizes: &Sizes) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.environment());
        for store in &self.stores {
            let peers: Vec<&str> = store
                .cases
                .first()
                .map(|(_, summaries)| {
                    summaries[1..summaries.len() - 1].iter().map(|summary| summary.contender.as_str()).collect()
                })
                .unwrap_or_default();
            let _ = writeln!(out, "**{}** (median of {} runs; min–max in brackets)\n", store.store, self.runs);
            let mut header = "| case | contender | median time | throughput | vs raw |".to_owned();
            let mut rule = "|---|---|---|---|---|".to_owned();
            for peer in &peers {
                let _ = write!(header, " eventsmith vs {peer} |");
                rule.push_str("---|");
            }
            let _ = writeln!(out, "{header}\n{rule}");
            for (case, summaries) in &store.cases {
                let raw = baseline(summaries);
                let ours = &summaries[0];
                for summary in summaries {
                    let mut row = format!(
                        "| {} | {} | {} ({}–{}) | {} {}/s | {:.2}x |",
                        case.title(sizes),
                        summary.contender,
                        time(summary.median),
                        time(summary.min),
                        time(summary.max),
                        rate(summary.throughput()),
                        case.unit(),
                        speed(summary, raw),
                    );
                    if summary.retries > 0 || summary.failures > 0 {
                        row.insert_str(
                            row.len() - 1,
                            &format!(" {} retries, {} failed ", summary.retries, summary.failures),
                        );
                    }
                    for peer in &summaries[1..summaries.len() - 1] {
                        if std::ptr::eq(summary, ours) {
                            let _ = write!(row, " **{:.2}x** |", speed(ours, peer));
                        } else {
                            row.push_str(" |");
                        }
                    }
                    let _ = writeln!(out, "{row}");
                }
            }
            out.push('\n');
        }
        if let Some(compile) = &self.compile {
            let _ = writeln!(out, "{}", compile.markdown());
        }
        out
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
             client; {runs} runs per case{scale}, {minutes:.1} minutes in all. Versions: eventsmith {es}, cqrs-es {cqrs}, \
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
        let stores: Vec<serde_json::Value> = self
            .stores
            .iter()
            .map(|store| {
                let cases: Vec<serde_json::Value> = store
                    .cases
                    .iter()
                    .map(|(case, summaries)| {
                        let raw = baseline(summaries);
                        let contenders: Vec<serde_json::Value> = summaries
                            .iter()
                            .map(|summary| {
                                serde_json::json!({
                                    "contender": summary.contender,
                                    "median_seconds": summary.median.as_secs_f64(),
                                    "min_seconds": summary.min.as_secs_f64(),
                                    "max_seconds": summary.max.as_secs_f64(),
                                    "operations": summary.operations,
                                    "throughput_per_second": summary.throughput(),
                                    "speed_vs_raw": speed(summary, raw),
                                    "eventsmith_speedup": speed(&summaries[0], summary),
                                    "retries": summary.retries,
                                    "failures": summary.failures,
                                    "runs": summary.runs,
                                })
                            })
                            .collect();
                        serde_json::json!({ "case": case.key(), "title": case.title(sizes), "unit": case.unit(), "contenders": contenders })
                    })
                    .collect();
                serde_json::json!({ "store": store.store, "cases": cases })
            })
            .collect();
        serde_json::json!({
            "environment": self.environment(),
            "stores": stores,
            "compile": self.compile.as_ref().map(CompileResult::json),
        })
    }

    /// Grouped bars: per store and case, each contender's throughput relative to the raw
    /// driver (1.0 = raw), with its absolute throughput written beside the bar.
    fn svg(&self, sizes: &Sizes) -> String {
        const COLORS: [&str; 4] = ["#d9480f", "#1971c2", "#2f9e44", "#868e96"];
        const BAR: f64 = 14.0;
        const LEFT: f64 = 300.0;
        const WIDTH: f64 = 520.0;
        let max_speed = self
            .stores
            .iter()
            .flat_map(|store| store.cases.iter())
            .flat_map(|(_, summaries)| summaries.iter().map(move |summary| speed(summary, baseline(summaries))))
            .fold(1.2_f64, f64::max)
            .min(3.0);
        let scale = WIDTH / max_speed;
        let mut body = String::new();
        let mut y = 40.0;
        for store in &self.stores {
            let _ = writeln!(
                body,
                r#"<text x="10" y="{y}" font-size="15" font-weight="bold">{}: throughput relative to the raw driver (1.0 = raw; higher is faster)</text>"#,
                store.store
            );
            y += 14.0;
            for (case, summaries) in &store.cases {
                y += 10.0;
                let group_top = y;
                let raw = baseline(summaries);
                for (index, summary) in summaries.iter().enumerate() {
                    let ratio = speed(summary, raw);
                    let width = (ratio.min(max_speed) * scale).max(1.0);
                    let color = COLORS[index.min(COLORS.len() - 1)];
                    let _ = writeln!(
                        body,
                        r#"<rect x="{LEFT}" y="{y}" width="{width:.1}" height="{h}" fill="{color}"/><text x="{tx:.1}" y="{ty:.1}" font-size="11">{name} {ratio:.2}x ({rate} {unit}/s)</text>"#,
                        h = BAR - 2.0,
                        tx = LEFT + width + 4.0,
                        ty = y + BAR - 4.0,
                        name = summary.contender,
                        rate = rate(summary.throughput()),
                        unit = case.unit(),
                    );
                    y += BAR;
                }
                let _ = writeln!(
                    body,
                    r#"<text x="{x}" y="{ty:.1}" font-size="12" text-anchor="end">{}</text>"#,
                    case.title(sizes),
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
<text x="10" y="20" font-size="13" fill="#495057">eventsmith benchmark, {date}: median of {runs} runs per case</text>
<line x1="{one:.1}" y1="30" x2="{one:.1}" y2="{bottom:.1}" stroke="#495057" stroke-dasharray="4 3"/>
{body}</svg>
"##,
            total_width = LEFT + WIDTH + 330.0,
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
