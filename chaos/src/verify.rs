//! The checks after a run: the log read back from the store, every writer's journal held
//! against it, and every follower's ledger held against a rebuild from zero.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use eventsmith::Event;
use eventsmith::store::EventStore;
use serde::Serialize;

use crate::domain::{Ledger, LedgerEvent};
use crate::roles::Entry;

/// What the checks found. Every count but the first three must be 0.
#[derive(Debug, Default, Serialize)]
pub struct Findings {
    /// Events in the log.
    pub events: u64,
    /// Commands the writers were told were committed.
    pub acknowledged: u64,
    /// Commands whose outcome the store could not tell (sent again to no avail).
    pub unknown: u64,
    /// Acknowledged commands whose event is not where they were told it is.
    pub lost: u64,
    /// Commands (or event ids) found more than once.
    pub duplicated: u64,
    /// Events that do not decode, positions out of order or streams with gaps, and
    /// followers whose ledger differs from the rebuild.
    pub misread: u64,
    /// What each nonzero count is about, for the report.
    pub problems: Vec<String>,
}

impl Findings {
    fn problem(&mut self, text: String) {
        if self.problems.len() < 20 {
            self.problems.push(text);
        }
    }
}

/// The result of a read, tried again for up to a minute while the store says a try may
/// succeed: right after a cluster's leaders were killed, its first requests can time out.
/// Only what is read is checked; a store that stays down fails the run.
async fn with_retries<T, F>(what: &str, mut read: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = Result<T, eventsmith::StoreError>>,
{
    let started = std::time::Instant::now();
    loop {
        match read().await {
            Ok(value) => return value,
            Err(error) if error.is_retryable() && started.elapsed() < std::time::Duration::from_secs(60) => {
                eprintln!("{what}: {error}; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(error) => panic!("{what}: {error:?}"),
        }
    }
}

/// Reads the whole log and checks it against the journals. Returns the findings and the
/// ledger rebuilt from zero.
pub async fn check_log(store: &dyn EventStore, journals: &[std::path::PathBuf]) -> (Findings, Ledger) {
    let mut findings = Findings::default();
    let mut rebuilt = Ledger::default();
    let mut by_stream: BTreeMap<String, Vec<(u64, uuid::Uuid)>> = BTreeMap::new();
    let mut ids = HashSet::new();
    let mut ops: HashMap<String, u32> = HashMap::new();
    let mut at: HashMap<(String, u64), uuid::Uuid> = HashMap::new();
    let mut from = 1;
    let mut last_position = 0;
    loop {
        let page = with_retries("read the log", || store.read_all(from, 4096, &[])).await;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for event in page {
            findings.events += 1;
            if event.position <= last_position {
                findings.misread += 1;
                findings.problem(format!("position {} read after {last_position}", event.position));
            }
            last_position = event.position;
            if !ids.insert(event.id) {
                findings.duplicated += 1;
                findings.problem(format!("event id {} stored twice", event.id));
            }
            match LedgerEvent::decode(&event.event_type, event.event_version, &event.payload) {
                Ok(LedgerEvent::Deposited(deposit)) => {
                    *ops.entry(deposit.op.clone()).or_default() += 1;
                    rebuilt.add(event.position, &deposit);
                }
                Err(error) => {
                    findings.misread += 1;
                    findings.problem(format!("the event at {} does not decode: {error}", event.position));
                }
            }
            at.insert((event.stream_id.clone(), event.stream_version), event.id);
            by_stream.entry(event.stream_id).or_default().push((event.stream_version, event.id));
        }
    }
    for (op, count) in &ops {
        if *count > 1 {
            findings.duplicated += 1;
            findings.problem(format!("command {op} committed {count} times"));
        }
    }
    for (stream_id, versions) in &by_stream {
        // The log's order of a stream's events is its version order, with no gap; reading the
        // stream gives the same events.
        let read = with_retries("read a stream", || store.read_stream(stream_id, 1, usize::MAX >> 1)).await;
        let expected: Vec<u64> = (1..=versions.len() as u64).collect();
        let in_log: Vec<u64> = versions.iter().map(|(version, _)| *version).collect();
        let in_stream: Vec<(u64, uuid::Uuid)> = read.iter().map(|event| (event.stream_version, event.id)).collect();
        if in_log != expected || in_stream != *versions {
            findings.misread += 1;
            findings.problem(format!(
                "stream {stream_id}: versions {in_log:?} in the log, {} read from the stream",
                in_stream.len()
            ));
        }
    }
    for journal in journals {
        let text = std::fs::read_to_string(journal).unwrap_or_default();
        for line in text.lines() {
            // A writer killed in the middle of a write leaves a partial last line at most.
            let Ok(entry) = serde_json::from_str::<Entry>(line) else { continue };
            if let Some((version, id, _position)) = entry.committed {
                findings.acknowledged += 1;
                if at.get(&(entry.stream_id.clone(), version)) != Some(&id) {
                    findings.lost += 1;
                    findings.problem(format!(
                        "command {} was acknowledged at {}@{version} but is not there",
                        entry.op, entry.stream_id
                    ));
                }
            } else if entry.unknown.is_some() {
                findings.unknown += 1;
            }
        }
    }
    (findings, rebuilt)
}

/// Holds a follower's final ledger against the rebuild.
pub fn check_follower(findings: &mut Findings, name: &str, view: &Path, rebuilt: &Ledger) {
    let ledger: Option<Ledger> = std::fs::read(view).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let Some(ledger) = ledger else {
        findings.misread += 1;
        findings.problem(format!("{name} left no ledger"));
        return;
    };
    if !ledger.out_of_order.is_empty() {
        findings.misread += 1;
        findings.problem(format!(
            "{name} saw positions out of order: {:?}",
            &ledger.out_of_order[..ledger.out_of_order.len().min(5)]
        ));
    }
    if ledger.balances != rebuilt.balances || ledger.deposits != rebuilt.deposits {
        findings.misread += 1;
        findings.problem(format!(
            "{name} holds {} deposits, the rebuild {}; balances {}",
            ledger.deposits,
            rebuilt.deposits,
            if ledger.balances == rebuilt.balances { "equal" } else { "differ" }
        ));
    }
}
