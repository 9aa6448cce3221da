//! The commands that need the application's domain: `verify`, `rebuild`, `projections`,
//! `catalog`.

use std::io::Write;
use std::time::Duration;

use eventsmith::App;
use eventsmith::time::rfc3339;

use crate::commands::{Failure, progress, quiet_on_closed_pipe, stdout};

pub(crate) async fn verify(app: &App, json: bool) -> Result<(), Failure> {
    let bar = progress(app.store().head().await?, "verifying");
    let verification = app.verify(|position| bar.set_position(position)).await.map_err(app_failed)?;
    bar.finish_and_clear();
    let mut out = stdout();
    let printed = if json {
        let types: Vec<_> = verification
            .types
            .iter()
            .map(|verified| {
                let failures: Vec<_> = verified
                    .failures
                    .iter()
                    .map(|(position, reason)| serde_json::json!({"position": position, "reason": reason}))
                    .collect();
                serde_json::json!({
                    "namespace": verified.namespace,
                    "event_type": verified.event_type,
                    "event_version": verified.event_version,
                    "events": verified.events,
                    "read": verified.read,
                    "failed": verified.failed,
                    "failures": failures,
                })
            })
            .collect();
        let report =
            serde_json::json!({"events": verification.events, "failed": verification.failed(), "types": types});
        writeln!(out, "{report}").map_err(Failure::from)
    } else {
        print_verification(&mut out, &verification)
    };
    quiet_on_closed_pipe(printed.and_then(|()| out.flush().map_err(Failure::from)))?;
    match verification.failed() {
        0 => Ok(()),
        failed => Err(Failure::new(format!("{failed} of {} events do not decode", verification.events))),
    }
}

fn print_verification(out: &mut impl Write, verification: &eventsmith::Verification) -> Result<(), Failure> {
    writeln!(out, "{} events, {} do not decode", verification.events, verification.failed())?;
    for verified in &verification.types {
        let namespace = verified.namespace.as_deref().map(|namespace| format!("{namespace}::")).unwrap_or_default();
        let what = match (verified.read, verified.failed) {
            (false, _) => "not read by this application".to_owned(),
            (true, 0) => "all decode".to_owned(),
            (true, failed) => format!("{failed} do not decode"),
        };
        writeln!(
            out,
            "{:>12}  {namespace}{} v{}: {what}",
            verified.events, verified.event_type, verified.event_version
        )?;
        for (position, reason) in &verified.failures {
            writeln!(out, "              at {position}: {reason}")?;
        }
    }
    Ok(())
}

pub(crate) async fn rebuild(app: &App, projection: &str, json: bool) -> Result<(), Failure> {
    let head = app.store().head().await?;
    let bar = progress(head, &format!("rebuilding {projection}"));
    let started = std::time::Instant::now();
    let rebuilding = app.rebuild_named(projection);
    tokio::pin!(rebuilding);
    let applied = loop {
        tokio::select! {
            done = &mut rebuilding => break done.map_err(app_failed)?,
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                if let Ok(statuses) = app.projections().await
                    && let Some(status) = statuses.iter().find(|status| status.name == projection)
                {
                    // Built aside: the live documents stay where they are meanwhile.
                    bar.set_position(status.rebuilding.unwrap_or(status.position));
                }
            }
        }
    };
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let mut out = stdout();
    let printed = if json {
        let report = serde_json::json!({"projection": projection, "applied": applied, "seconds": seconds});
        writeln!(out, "{report}")
    } else {
        writeln!(
            out,
            "rebuilt {projection}: {applied} events applied in {seconds:.1} s ({:.0} events/s)",
            applied as f64 / seconds.max(1e-9)
        )
    };
    quiet_on_closed_pipe(printed.map_err(Failure::from))
}

pub(crate) async fn projections(app: &App, json: bool) -> Result<(), Failure> {
    let statuses = app.projections().await.map_err(app_failed)?;
    let mut out = stdout();
    for status in statuses {
        let (head, behind) = (status.head, status.behind);
        let kind = if status.stored { "in a database" } else { "in memory" };
        let printed = if json {
            let line = serde_json::json!({
                "projection": status.name,
                "stored": status.stored,
                "position": status.position,
                "head": head,
                "behind": behind,
                "stopped": status.stopped,
                "worker": status.worker.as_ref().map(|lease| serde_json::json!({
                    "holder": lease.holder,
                    "since": rfc3339(lease.since),
                    "until": rfc3339(lease.until),
                    "expired": lease.expired,
                })),
            });
            writeln!(out, "{line}")
        } else {
            let stopped = status.stopped.map(|reason| format!("  stopped: {reason}")).unwrap_or_default();
            let worker = match &status.worker {
                Some(lease) if lease.expired => {
                    format!("  worker: none (the lease of {} ran out at {})", lease.holder, rfc3339(lease.until))
                }
                Some(lease) => format!("  worker: {} (lease until {})", lease.holder, rfc3339(lease.until)),
                None => String::new(),
            };
            writeln!(out, "{}  {kind}  at {}  {behind} events behind{worker}{stopped}", status.name, status.position)
        };
        quiet_on_closed_pipe(printed.map_err(Failure::from))?;
    }
    quiet_on_closed_pipe(out.flush().map_err(Failure::from))
}

pub(crate) fn catalog(builder: &eventsmith::AppBuilder, mermaid: bool, json: bool) -> Result<(), Failure> {
    let catalog = builder.catalog();
    let mut out = stdout();
    let printed = if json {
        serde_json::to_writer(&mut out, &catalog).map_err(std::io::Error::other).and_then(|()| writeln!(out))
    } else if mermaid {
        out.write_all(catalog.mermaid().as_bytes())
    } else {
        out.write_all(catalog.markdown().as_bytes())
    };
    quiet_on_closed_pipe(printed.and_then(|()| out.flush()).map_err(Failure::from))
}

fn app_failed(error: eventsmith::Error) -> Failure {
    Failure::new(error.to_string())
}
