//! Rebuilds started from the dashboard, over plain HTTP: one at a time per projection, a
//! request that names none, and a rebuild whose `apply` panics (shown as failed, with why,
//! and startable again).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    pub total: u64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum ShopEvent {
    Placed(Placed),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Order, expect = new)]
pub struct Place {
    #[command(id)]
    pub id: u32,
    pub total: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default)]
pub struct Order;

#[aggregate(event = ShopEvent, error = Never)]
impl Order {
    #[command]
    fn place(&self, command: Place) -> Result<Placed, Never> {
        Ok(Placed { total: command.total })
    }

    #[apply]
    fn placed(&mut self, _: &Placed) {}
}

/// Set by the test to keep a rebuild running.
static HOLD: AtomicBool = AtomicBool::new(false);
/// Set by the test to make the next apply panic.
static PANIC: AtomicBool = AtomicBool::new(false);

/// The orders' total, in memory; its apply waits while the test holds it, and panics when
/// told to.
#[derive(Debug, Default)]
pub struct Totals {
    total: u64,
}

#[projection(name = "totals", events = ShopEvent)]
impl Totals {
    #[apply]
    fn placed(&mut self, event: &Recorded<Placed>) {
        while HOLD.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!PANIC.load(Ordering::SeqCst), "an apply that panics");
        self.total += event.total;
    }
}

fn request(address: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    (response.split(' ').nth(1).unwrap().parse().unwrap(), response)
}

/// The projections page once it shows `text`.
async fn page_showing(address: SocketAddr, text: &str) -> String {
    let mut page = String::new();
    for _ in 0..1000 {
        page = tokio::task::spawn_blocking(move || request(address, "GET", "/projections").1).await.unwrap();
        if page.contains(text) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the page never showed `{text}`: {page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilds_one_at_a_time_and_a_panic_is_a_failure() {
    // A SQLite file: its log is folded on a connection of its own, on a blocking thread, so a
    // held apply holds nothing the page needs (the memory store folds under its lock).
    let directory = std::env::temp_dir().join(format!("eventsmith-rebuilds-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&directory).unwrap();
    let app = App::builder()
        .store(eventsmith::SqliteStore::open(directory.join("shop.db")).await.unwrap())
        .aggregate::<Order>()
        .projection::<Totals>()
        .build()
        .await
        .unwrap();
    app.execute(Place { id: 1, total: 5 }).await.unwrap();
    let router = eventsmith_dashboard::Dashboard::new(app.clone()).with_rebuilds().router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let post = |path: &'static str| tokio::task::spawn_blocking(move || request(address, "POST", path));

    // No name: a bad request.
    let (status, body) = post("/projections/rebuild").await.unwrap();
    assert_eq!(status, 400, "{body}");

    // Held, the rebuild runs: a second one is refused, and the button is gone.
    HOLD.store(true, Ordering::SeqCst);
    let (status, body) = post("/projections/rebuild?projection=totals").await.unwrap();
    assert_eq!(status, 303, "{body}");
    let (status, body) = post("/projections/rebuild?projection=totals").await.unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("has been rebuilding for"), "{body}");
    let running = page_showing(address, "rebuilding for").await;
    assert!(!running.contains("<button>Rebuild</button>"), "{running}");
    HOLD.store(false, Ordering::SeqCst);
    page_showing(address, "rebuilt: 1 events applied").await;

    // An apply that panics: the runtime stops the rebuild, the row says why, and another may
    // start.
    PANIC.store(true, Ordering::SeqCst);
    let (status, _) = post("/projections/rebuild?projection=totals").await.unwrap();
    assert_eq!(status, 303);
    let failed = page_showing(address, "rebuild failed: projection `totals` stopped").await;
    assert!(failed.contains("panicked: an apply that panics"), "{failed}");
    assert!(failed.contains("<button>Rebuild</button>"), "{failed}");
    PANIC.store(false, Ordering::SeqCst);
    let (status, body) = post("/projections/rebuild?projection=totals").await.unwrap();
    assert_eq!(status, 303, "{body}");
    page_showing(address, "rebuilt: 1 events applied").await;
    let _ = std::fs::remove_dir_all(&directory);
}
