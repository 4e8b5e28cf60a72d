//! Delivery to a stock SMTP server: Python's aiosmtpd, which prints what it receives. It must be
//! installed (`pip install aiosmtpd`, provisioned by scripts/test); the test fails, never skips,
//! when it is not.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flotilla_testkit::{Backend, on_both_backends};
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

on_both_backends!(a_stock_smtp_server_receives_the_mail);

/// `python3 -m aiosmtpd -n` on a free port, once it listens. `-n`: no setuid; its default
/// handler (`Debugging`) prints every message to stdout, unbuffered with `-u`.
fn aiosmtpd() -> (Child, u16) {
    let port = flotilla_testkit::free_port();
    let mut child = Command::new("python3")
        .args(["-u", "-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 is required by this test and cannot be started: {e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            panic!(
                "aiosmtpd is required by this test and did not start ({status}); install it with \
                 `pip install aiosmtpd==1.4.6`: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, port);
        }
        assert!(Instant::now() < deadline, "aiosmtpd did not listen on {port} within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn a_stock_smtp_server_receives_the_mail(backend: Backend) {
    let (mut server, port) = aiosmtpd();
    let (app, _nats) = service(
        backend,
        &[
            ("services.notifications.sink.enabled", json!(false)),
            ("services.notifications.smtp.host", json!("127.0.0.1")),
            ("services.notifications.smtp.port", json!(port)),
            ("services.notifications.smtp.tls", json!("none")),
        ],
    )
    .await;
    let peer = ordering(&app).await;
    let order_id = Uuid::now_v7();
    peer.send("ordering", &shipped(order_id, customer("ada"))).await;
    let sent = wait_for(&app, order_id, 1, is("sent")).await;
    assert_eq!(sent[0]["attempts"], 1);
    app.stop().await;

    server.kill().unwrap();
    let output = server.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(printed.matches("---------- MESSAGE FOLLOWS ----------").count(), 1, "one message: {printed}");
    for expected in [
        format!("Subject: Your order {order_id} has shipped"),
        format!("Message-ID: <order-shipped.{order_id}@flotilla.localhost>"),
        "From: Flotilla <orders@flotilla.localhost>".to_owned(),
        "To: ada@example.com".to_owned(),
        "Carrier: DHL".to_owned(),
        "Tracking number: JD014600006281230".to_owned(),
    ] {
        assert!(printed.contains(&expected), "aiosmtpd printed no {expected:?}: {printed}");
    }
}
