//! Live readers: a task that listens for the appends' notifications (LISTEN/NOTIFY) on a
//! connection of its own, reconnecting when it drops, and moves the store's head.

use eventsmith_runtime::store::Head;
use futures_util::StreamExt;
use tokio_postgres::NoTls;

/// Listens for ever: on `channel` of `url`'s database, reconnecting a second after a failure.
pub(crate) async fn listen_for_ever(url: String, schema: String, channel: String, head: Head) {
    loop {
        if let Err(error) = listen(&url, &schema, &channel, &head).await {
            tracing::debug!(%error, "notification listener stopped; reconnecting");
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Listens on `channel` and moves `head` to each notified position until the connection
/// fails.
async fn listen(url: &str, schema: &str, channel: &str, head: &Head) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(notification)) => {
                    if sender.send(notification.payload().parse::<u64>().unwrap_or(0)).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    client.query_one("SELECT set_config('search_path', $1, false)", &[&schema]).await?;
    client.execute("SELECT eventsmith_listen($1)", &[&channel]).await?;
    while let Some(position) = notifications.recv().await {
        head.advance(position);
    }
    driver.abort();
    Ok(())
}
