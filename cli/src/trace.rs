//! `trace`: the events one request caused, as a tree by causation.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;

use eventsmith::store::{EventStore, StoredEvent};
use uuid::Uuid;

use crate::commands::{Failure, PAGE, progress, quiet_on_closed_pipe, stdout};
use crate::line::EventLine;

/// Reads the whole log for the events of `correlation` (events carry no index by metadata),
/// then prints them under what caused them: a command (an id that is no event's) or an
/// event, in log order.
pub(crate) async fn trace(store: &dyn EventStore, correlation: Uuid, json: bool) -> Result<(), Failure> {
    let bar = progress(store.head().await?, "reading");
    let (mut found, mut next) = (Vec::new(), 1);
    loop {
        let page = store.read_all(next, PAGE, &[]).await?;
        let Some(last) = page.last() else { break };
        next = last.position + 1;
        bar.set_position(last.position);
        found.extend(page.into_iter().filter(|event| event.metadata.correlation_id == Some(correlation)));
    }
    bar.finish_and_clear();
    if found.is_empty() {
        return Err(Failure::new(format!("no event has the correlation id {correlation}")));
    }
    let ids: HashSet<Uuid> = found.iter().map(|event| event.id).collect();
    // What caused each event: an event of the trace, or else a command (or an event that
    // is not in it); the events with no causation hang from the correlation id itself.
    let mut children: BTreeMap<Uuid, Vec<usize>> = BTreeMap::new();
    let mut roots: Vec<Uuid> = Vec::new();
    for (index, event) in found.iter().enumerate() {
        let cause = event.metadata.causation_id.unwrap_or(correlation);
        if !ids.contains(&cause) && !roots.contains(&cause) {
            roots.push(cause);
        }
        children.entry(cause).or_default().push(index);
    }
    let mut out = stdout();
    let result = if json {
        print_json(&mut out, found, &ids)
    } else {
        writeln!(out, "correlation {correlation}: {} events", found.len()).map_err(Failure::from).and_then(|()| {
            let mut printed = HashSet::new();
            for root in &roots {
                writeln!(out, "{} {root}", if *root == correlation { "request" } else { "command" })?;
                print_tree(&mut out, &found, &children, *root, "", &mut printed)?;
            }
            // Events that cause each other in a cycle (hand-made causation ids) hang from no
            // root: each is printed under the first of them.
            for (index, event) in found.iter().enumerate() {
                if !printed.contains(&index) {
                    writeln!(out, "cycle through {}", event.id)?;
                    let cause = event.metadata.causation_id.unwrap_or(correlation);
                    print_tree(&mut out, &found, &children, cause, "", &mut printed)?;
                }
            }
            Ok(())
        })
    };
    quiet_on_closed_pipe(result.and_then(|()| out.flush().map_err(Failure::from)))
}

/// One line per event: the export's line and what caused it (`caused_by`, an event's id or
/// a command's; `null` for the request itself).
fn print_json(out: &mut impl Write, found: Vec<StoredEvent>, ids: &HashSet<Uuid>) -> Result<(), Failure> {
    for event in found {
        let cause = event.metadata.causation_id;
        let caused_by_event = cause.is_some_and(|cause| ids.contains(&cause));
        let line = EventLine::of(event)?;
        let mut value = serde_json::to_value(&line).map_err(std::io::Error::other)?;
        value["caused_by"] = serde_json::json!(cause);
        value["caused_by_event"] = serde_json::json!(caused_by_event);
        writeln!(out, "{value}")?;
    }
    Ok(())
}

fn print_tree(
    out: &mut impl Write,
    found: &[StoredEvent],
    children: &BTreeMap<Uuid, Vec<usize>>,
    parent: Uuid,
    indent: &str,
    printed: &mut HashSet<usize>,
) -> Result<(), Failure> {
    let Some(below) = children.get(&parent) else { return Ok(()) };
    for (n, &index) in below.iter().enumerate() {
        // Causation ids are set by callers: a hand-made cycle is printed once, not forever.
        if !printed.insert(index) {
            continue;
        }
        let event = &found[index];
        let last = n + 1 == below.len();
        writeln!(
            out,
            "{indent}{} {}  {} v{}  {} v{}  {}",
            if last { "└─" } else { "├─" },
            event.position,
            event.stream_id,
            event.stream_version,
            event.event_type,
            event.event_version,
            event.id
        )?;
        let deeper = format!("{indent}{}", if last { "   " } else { "│  " });
        print_tree(out, found, children, event.id, &deeper, printed)?;
    }
    Ok(())
}
