//! A process killed while it appends leaves no partial batch in a `SqliteStore`, and loses
//! none of the batches it was told were committed.
//!
//! This test binary has no harness: run plainly, it starts itself again as a child that
//! appends batches to a database file until it is killed, writing a journal line for every
//! batch acknowledged; it kills the child mid-run with SIGKILL, and checks that every stream
//! holds whole batches only and every journaled batch is there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use eventsmith::SqliteStore;
use eventsmith::store::{Durability, EventStore, ExpectedVersion, NewEvent, SqliteOptions};

const CHILD: &str = "EVENTSMITH_CRASH_CHILD_DB";
const BATCH: usize = 200;
const STREAMS: usize = 5;

fn event(index: usize) -> NewEvent {
    NewEvent::new("Added", 1, format!(r#"{{"amount":{index}}}"#).into_bytes())
}

fn journal_path(database: &Path) -> PathBuf {
    database.with_extension("journal.txt")
}

async fn append_until_killed(path: &Path) {
    use std::io::Write;
    // `Normal` survives the death of the process (not a power loss): what is checked here.
    let options = SqliteOptions { durability: Durability::Normal, ..SqliteOptions::default() };
    let store = SqliteStore::open_with(path, options).await.expect("the child opens the store");
    let mut journal = std::fs::File::create(journal_path(path)).expect("create the journal");
    for batch in 0.. {
        let events: Vec<NewEvent> = (0..BATCH).map(event).collect();
        let first = events[0].id;
        let stream = format!("crash-{}", batch % STREAMS);
        let outcome = store.append(&stream, ExpectedVersion::Any, events).await.expect("append");
        // One write per line, after the acknowledgement: what the store promised.
        journal.write_all(format!("{stream} {} {first}\n", outcome.first_version).as_bytes()).expect("journal");
    }
}

async fn kill_mid_append_and_check() {
    let directory = std::env::temp_dir().join(format!("eventsmith-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("create a temporary directory");
    let path: PathBuf = directory.join("events.db");
    drop(SqliteStore::open(&path).await.expect("create the store"));

    let mut child = Command::new(std::env::current_exe().expect("this test's path"))
        .env(CHILD, &path)
        .stdout(Stdio::null())
        .spawn()
        .expect("start the child");
    let store = SqliteStore::open(&path).await.expect("open the store");
    // Let the child commit some batches, then kill it while it is still appending.
    let mut committed = false;
    for _ in 0..500 {
        if !store.read_all(1, 1, &[]).await.expect("read").is_empty() {
            committed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(committed, "the child committed nothing in 5 s");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(child.try_wait().expect("poll the child").is_none(), "the child must still be appending when killed");
    child.kill().expect("kill the child");
    child.wait().expect("reap the child");
    drop(store);

    let store = SqliteStore::open(&path).await.expect("reopen after the crash");
    let journal = std::fs::read_to_string(journal_path(&path)).expect("the child's journal");
    let mut acknowledged = 0;
    for line in journal.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let [stream, version, id] = fields.as_slice() else { continue }; // a line cut by the kill
        let version: u64 = version.parse().expect("a version");
        let stored = store.read_stream(stream, version, 1).await.expect("read");
        assert_eq!(
            stored.first().map(|event| event.id.to_string()),
            Some((*id).to_owned()),
            "the batch at {stream}@{version} was acknowledged and is lost"
        );
        acknowledged += 1;
    }
    assert!(acknowledged > 0, "the child was told of at least one committed batch");
    let mut total = 0;
    for stream in 0..STREAMS {
        let events = store.read_stream(&format!("crash-{stream}"), 1, usize::MAX >> 1).await.expect("read");
        assert_eq!(
            events.len() % BATCH,
            0,
            "stream crash-{stream} holds a partial batch ({} events)",
            events.len() % BATCH
        );
        for (index, event) in events.iter().enumerate() {
            assert_eq!(event.stream_version, index as u64 + 1, "versions have no gaps");
            assert_eq!(event.payload, format!(r#"{{"amount":{}}}"#, index % BATCH).into_bytes());
        }
        total += events.len();
    }
    let _ = std::fs::remove_dir_all(&directory);
    println!(
        "killed mid-append after {} whole batches ({acknowledged} acknowledged, all there); no partial batch",
        total / BATCH
    );
    println!("1 passed, 0 failed");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    match std::env::var_os(CHILD) {
        Some(path) => runtime.block_on(append_until_killed(Path::new(&path))),
        None => runtime.block_on(kill_mid_append_and_check()),
    }
}
