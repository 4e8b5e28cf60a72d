//! Relays that are not there, or that say no: a relay down is retried with backoff until it is
//! up, and then gets the mail once; a relay that refuses for good (5xx) is tried a bounded
//! number of times, after which the notification is `failed`, as the API shows.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use flotilla_testkit::{Backend, on_both_backends};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

use crate::support::*;

on_both_backends!(a_relay_that_is_down_gets_the_mail_once_it_is_up, a_relay_that_refuses_for_good_fails_the_mail);

/// Forwards connections on `port` to `to`, from now on: the relay coming up.
async fn forward(port: u16, to: SocketAddr) {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut outbound = TcpStream::connect(to).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
}

/// A relay that greets, then refuses every sender with 550; counts the MAIL commands it refused.
async fn refusing_relay() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let refused = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&refused);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 refusing.test ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split(' ').next().unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 refusing.test\r\n",
                        "MAIL" => {
                            counter.fetch_add(1, Ordering::SeqCst);
                            b"550 5.7.1 Relaying denied\r\n"
                        }
                        "RSET" | "NOOP" => b"250 2.0.0 OK\r\n",
                        "QUIT" => b"221 2.0.0 Bye\r\n",
                        _ => b"503 5.5.1 Bad sequence of commands\r\n",
                    };
                    if write.write_all(reply).await.is_err() || verb == "QUIT" {
                        return;
                    }
                }
            });
        }
    });
    (port, refused)
}

async fn a_relay_that_is_down_gets_the_mail_once_it_is_up(backend: Backend) {
    let (relay_port, sink_port) = (flotilla_testkit::free_port(), flotilla_testkit::free_port());
    let (app, _nats) = service(
        backend,
        &[
            ("services.notifications.sink.port", json!(sink_port)),
            ("services.notifications.smtp.host", json!("127.0.0.1")),
            ("services.notifications.smtp.port", json!(relay_port)),
            ("services.notifications.smtp.tls", json!("none")),
            ("services.notifications.retry.max_attempts", json!(100)),
        ],
    )
    .await;
    let peer = ordering(&app).await;
    let order_id = Uuid::now_v7();
    let envelope = peer.send("ordering", &confirmed(order_id, customer("ada"))).await;

    // Nothing listens on the relay's port: each attempt fails, and is retried.
    let failing = wait_for(&app, order_id, 1, |n| n["status"] == "pending" && n["attempts"].as_u64() >= Some(2)).await;
    assert!(failing[0]["last_error"].is_string(), "admins see why: {failing:?}");
    assert!(sink_messages(&app).await.is_empty());

    forward(relay_port, SocketAddr::from(([127, 0, 0, 1], sink_port))).await;
    let sent = wait_for(&app, order_id, 1, is("sent")).await;
    assert!(sent[0].get("last_error").is_none(), "a sent mail has no error: {sent:?}");
    let messages = wait_for_sink(&app, 1).await;
    assert_eq!(messages[0]["message_id"], format!("<order-confirmed.{order_id}@flotilla.localhost>"));

    peer.resend(&envelope).await;
    settled(&peer).await;
    assert_eq!(notifications(&app, order_id).await.len(), 1);
    assert_eq!(sink_messages(&app).await.len(), 1, "delivered once, the resend recorded nothing");
    app.stop().await;
}

async fn a_relay_that_refuses_for_good_fails_the_mail(backend: Backend) {
    let (relay_port, refused) = refusing_relay().await;
    let (app, _nats) = service(
        backend,
        &[
            ("services.notifications.smtp.host", json!("127.0.0.1")),
            ("services.notifications.smtp.port", json!(relay_port)),
            ("services.notifications.smtp.tls", json!("none")),
            ("services.notifications.retry.max_permanent_attempts", json!(3)),
        ],
    )
    .await;
    let peer = ordering(&app).await;
    let order_id = Uuid::now_v7();
    peer.send("ordering", &shipped(order_id, customer("ada"))).await;

    let failed = wait_for(&app, order_id, 1, is("failed")).await;
    assert_eq!(failed[0]["attempts"], 3, "{failed:?}");
    assert!(failed[0]["sent_at"].is_null());
    let error = failed[0]["last_error"].as_str().unwrap();
    assert!(error.contains("550") || error.contains("Relaying denied"), "{error}");
    assert_eq!(refused.load(Ordering::SeqCst), 3, "the relay was asked three times, no more");

    let own = customer_client(&app, "ada").get(app.url(&format!("{ORDERS}/{order_id}"))).send().await.unwrap();
    let own: Vec<serde_json::Value> = own.json().await.unwrap();
    assert_eq!(own[0]["status"], "failed");
    assert!(own[0].get("last_error").is_none(), "the relay's words are for admins: {own:?}");
    assert!(sink_messages(&app).await.is_empty(), "a configured relay is used, not the sink");
    app.stop().await;
}
