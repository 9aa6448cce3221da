//! SQLite on a full disk: an append that does not fit is a typed, retryable error that writes
//! nothing, every event acknowledged before is intact, and appends work again once there is
//! room. The disk is a small tmpfs the test mounts: it needs root, as `.ci/run` has, which is
//! why it lives with the other faults in the chaos package and not in the README's `cargo test`.

use std::path::{Path, PathBuf};
use std::process::Command;

use eventsmith::SqliteStore;
use eventsmith::store::{EventStore, ExpectedVersion, NewEvent, StoreError};

struct SmallDisk {
    mount_point: PathBuf,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let mount_point = std::env::temp_dir().join(format!("eventsmith-full-{}", std::process::id()));
        std::fs::create_dir_all(&mount_point).unwrap();
        run("mount", &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", path(&mount_point)]);
        SmallDisk { mount_point }
    }

    fn resize(&self, size: &str) {
        run("mount", &["-o", &format!("remount,size={size}"), path(&self.mount_point)]);
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount_point).status();
        let _ = std::fs::remove_dir(&self.mount_point);
    }
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status().unwrap_or_else(|error| panic!("{program}: {error}"));
    assert!(status.success(), "`{program} {}` failed: this test mounts a small tmpfs and needs root", args.join(" "));
}

fn batch() -> Vec<NewEvent> {
    let payload = format!(r#"{{"padding":"{}"}}"#, "x".repeat(2_000));
    (0..20).map(|_| NewEvent::new("Padded", 1, payload.clone().into_bytes())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_a_typed_error_and_loses_nothing() {
    let disk = SmallDisk::mount("1m");
    let database = disk.mount_point.join("events.db");
    let store = SqliteStore::open(&database).await.unwrap();
    let mut acknowledged = 0;
    let error = loop {
        match store.append("padded", ExpectedVersion::Exact(acknowledged), batch()).await {
            Ok(outcome) => acknowledged = outcome.last_version(),
            Err(error) => break error,
        }
        assert!(acknowledged < 100_000, "1 MB never filled up");
    };
    assert!(acknowledged > 0, "some batches fit before the disk was full");
    assert!(matches!(error, StoreError::Backend { retryable: true, .. }), "a retryable backend error: {error:?}");
    assert!(error.to_string().contains("full"), "the error says the disk is full: {error}");

    // What was acknowledged is there, whole; the refused batch is not.
    let stored = store.read_stream("padded", 1, 1_000_000).await.unwrap();
    assert_eq!(stored.len() as u64, acknowledged);
    drop(store);
    let connection = rusqlite::Connection::open(&database).unwrap();
    let check: String = connection.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(check, "ok");
    drop(connection);

    // Room again: the store takes appends where it stopped.
    disk.resize("8m");
    let store = SqliteStore::open(&database).await.unwrap();
    let outcome = store.append("padded", ExpectedVersion::Exact(acknowledged), batch()).await.expect("room again");
    assert_eq!(outcome.first_version, acknowledged + 1);
}
