//! Every store in the repository runs the whole conformance kit.

mod memory {
    eventsmith::conformance_suite!(eventsmith::MemoryStore::new());
}

mod sqlite_in_memory {
    eventsmith::conformance_suite!(eventsmith::SqliteStore::in_memory().await.expect("open SQLite in memory"));
}

mod sqlite_file {
    eventsmith::conformance_suite!({
        let directory = std::env::temp_dir().join(format!("eventsmith-conformance-{}", uuid_like()));
        std::fs::create_dir_all(&directory).expect("create a temporary directory");
        eventsmith::SqliteStore::open(directory.join("events.db")).await.expect("open SQLite")
    });

    fn uuid_like() -> String {
        use std::time::{SystemTime, UNIX_EPOCH};
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
        format!("{}-{nanos}", std::process::id())
    }
}
