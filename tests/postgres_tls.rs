//! `PostgresStore` over TLS as `sslmode` says, against the local server with certificates
//! made by the test: a CA of its own, a server certificate for `localhost` and one for
//! another name, installed with `ALTER SYSTEM` and a reload, and the server's own settings
//! restored at the end. Every connection of the store (the pool's and the listener's) is
//! checked in `pg_stat_ssl`.
#![cfg(feature = "postgres")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use eventsmith::PostgresStore;
use eventsmith::store::{EventStore, ExpectedVersion, PostgresOptions};
use support::postgres::{admin, unique_schema, url};

/// A CA, and a server certificate it signs for the names in `san`, with the server's key
/// owned by the server's user (the server reads only a private key of its own).
fn certificates(directory: &Path, name: &str, san: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (ca, certificate, key) = support::tls::certificates(directory, name, san);
    let status = Command::new("chown").arg("postgres:postgres").arg(&key).arg(&certificate).status().unwrap();
    assert!(status.success(), "chown the server's key to postgres (the test runs as root, as .ci/run does)");
    (ca, certificate, key)
}

async fn serve(certificate: &Path, key: &Path) {
    let admin = admin().await;
    admin.batch_execute(&format!("ALTER SYSTEM SET ssl_cert_file = '{}'", certificate.display())).await.unwrap();
    admin.batch_execute(&format!("ALTER SYSTEM SET ssl_key_file = '{}'", key.display())).await.unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").await.unwrap();
}

/// The test's URL with `parameters`, on host `host`.
fn secured(host: &str, parameters: &str) -> String {
    let base = url().replace("127.0.0.1", host);
    format!("{base}{}{parameters}", if base.contains('?') { "&" } else { "?" })
}

async fn connect(url: &str) -> Result<PostgresStore, eventsmith::StoreError> {
    let options = PostgresOptions { schema: unique_schema(), pool_size: 2, ..PostgresOptions::default() };
    PostgresStore::connect_with(url, options).await
}

/// Connects until the reloaded server presents the new certificate (a reload is not
/// instant), or gives the last error.
async fn connect_after_reload(url: &str) -> PostgresStore {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match connect(url).await {
            Ok(store) => return store,
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("{url}: {error}"),
        }
    }
}

/// How many of `application`'s connections there are, and how many use TLS.
async fn tls_connections(application: &str) -> (i64, i64) {
    let row = admin()
        .await
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
             WHERE a.application_name = $1",
            &[&application],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_is_secured_as_sslmode_says() {
    let directory = std::env::temp_dir().join(format!("eventsmith-tls-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let (ca, certificate, key) = certificates(&directory, "right", "DNS:localhost,IP:127.0.0.1");
    let (other_ca, wrong_name, wrong_key) = certificates(&directory, "wrong", "DNS:wrong.example");
    serve(&certificate, &key).await;

    // verify-full: the chain and the name; the pool's and the listener's connections both TLS.
    let application = format!("tls_{}", std::process::id());
    let url = secured(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}&application_name={application}", ca.display()),
    );
    let store = connect_after_reload(&url).await;
    store.append("secured", ExpectedVersion::NoStream, vec![eventsmith::testkit::event("Sent", "{}")]).await.unwrap();
    let _head = store.subscribe().expect("the store notifies");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (connections, secured_connections) = tls_connections(&application).await;
    assert!(connections >= 2, "the pool's connection and the listener's: {connections}");
    assert_eq!(secured_connections, connections, "every connection of the store uses TLS");

    // verify-full with a CA that did not sign the server's certificate: refused, clearly.
    let error = connect(&secured("localhost", &format!("sslmode=verify-full&sslrootcert={}", other_ca.display())))
        .await
        .expect_err("a certificate no root signed is refused");
    assert!(format!("{error} {error:?}").to_lowercase().contains("certificate"), "the error says why: {error:?}");

    // require: TLS, whatever the certificate.
    let application = format!("tls_require_{}", std::process::id());
    let store =
        connect(&secured("127.0.0.1", &format!("sslmode=require&application_name={application}"))).await.unwrap();
    store.read_all(1, 1, &[]).await.unwrap();
    let (connections, secured_connections) = tls_connections(&application).await;
    assert!(
        connections >= 1 && secured_connections == connections,
        "require uses TLS: {secured_connections}/{connections}"
    );

    // A certificate for another name: verify-ca takes it (the chain is right), verify-full
    // does not.
    serve(&wrong_name, &wrong_key).await;
    let url = secured("localhost", &format!("sslmode=verify-ca&sslrootcert={}", other_ca.display()));
    connect_after_reload(&url).await.read_all(1, 1, &[]).await.unwrap();
    let error = connect(&secured("localhost", &format!("sslmode=verify-full&sslrootcert={}", other_ca.display())))
        .await
        .expect_err("a certificate for another name fails verify-full");
    assert!(format!("{error:?}").contains("NotValidForName"), "the error names the mismatch: {error:?}");

    // A mode that does not exist is refused before anything is sent.
    let error = connect(&secured("localhost", "sslmode=verify-everything")).await.expect_err("an unknown mode");
    assert!(error.to_string().contains("sslmode=verify-everything"), "{error}");

    // The server as it was.
    let admin = admin().await;
    for statement in ["ALTER SYSTEM RESET ssl_cert_file", "ALTER SYSTEM RESET ssl_key_file", "SELECT pg_reload_conf()"]
    {
        admin.batch_execute(statement).await.unwrap();
    }
    let _ = std::fs::remove_dir_all(&directory);
}
