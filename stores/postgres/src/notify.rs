//! Live readers: a task that listens for the appends' notifications (LISTEN/NOTIFY) on a
//! connection of its own, reconnecting when it drops, and moves the store's head.

use eventsmith_runtime::store::Head;
use futures_util::StreamExt;
use tokio_postgres::NoTls;

use crate::tls::Tls;

/// Where the listener connects: the store's own connection settings and TLS.
#[derive(Clone)]
pub(crate) struct ListenTo {
    pub config: tokio_postgres::Config,
    pub tls: Tls,
}

/// Listens for ever: on `channel` of the store's database, reconnecting a second after a
/// failure.
pub(crate) async fn listen_for_ever(to: ListenTo, schema: String, channel: String, head: Head) {
    loop {
        if let Err(error) = listen(&to, &schema, &channel, &head).await {
            tracing::debug!(%error, "notification listener stopped; reconnecting");
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Listens on `channel` and moves `head` to each notified position until the connection
/// fails.
async fn listen(to: &ListenTo, schema: &str, channel: &str, head: &Head) -> Result<(), tokio_postgres::Error> {
    let (sender, notifications) = tokio::sync::mpsc::unbounded_channel();
    let (client, driver) = match &to.tls {
        Tls::None => {
            let (client, connection) = to.config.connect(NoTls).await?;
            (client, drive(connection, sender))
        }
        Tls::Rustls(connector) => {
            let (client, connection) = to.config.connect(connector.clone()).await?;
            (client, drive(connection, sender))
        }
    };
    listen_on(&client, schema, channel, head, notifications).await?;
    driver.abort();
    Ok(())
}

/// Drives the connection, sending each notified position to `sender`.
fn drive<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    sender: tokio::sync::mpsc::UnboundedSender<u64>,
) -> tokio::task::JoinHandle<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
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
    })
}

async fn listen_on(
    client: &tokio_postgres::Client,
    schema: &str,
    channel: &str,
    head: &Head,
    mut notifications: tokio::sync::mpsc::UnboundedReceiver<u64>,
) -> Result<(), tokio_postgres::Error> {
    client.query_one("SELECT set_config('search_path', $1, false)", &[&schema]).await?;
    client.execute("SELECT eventsmith_listen($1)", &[&channel]).await?;
    while let Some(position) = notifications.recv().await {
        head.advance(position);
    }
    Ok(())
}
