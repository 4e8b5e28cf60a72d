//! The mail sink is a real SMTP server: a standard client (Python's smtplib) delivers to it, a
//! client that breaks the protocol gets 5xx replies, and a silent one is hung up on.

use std::time::Duration;

use flotilla_testkit::{Backend, on_both_backends};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::support::*;

on_both_backends!(the_sink_takes_mail_from_a_standard_client, the_sink_refuses_what_is_not_smtp);

const SMTPLIB: &str = r#"
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "tester@example.com"
m["To"] = "ada@example.com, bob@example.com"
m["Subject"] = "Hello from smtplib"
m["Message-ID"] = "<smtplib-1@example.com>"
m.set_content("first line\n.a line that starts with a dot\n..two dots\nlast line\n")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
    s.ehlo("client.test")
    assert s.has_extn("size"), s.esmtp_features
    refused = s.send_message(m)
    assert not refused, refused
    code, _ = s.docmd("FROB")
    assert code == 500, code
print("sent")
"#;

async fn sink_service(
    backend: Backend,
    port: u16,
) -> (flotilla_testkit::TestApp, Option<flotilla_testkit::NatsServer>) {
    service(
        backend,
        &[
            ("services.notifications.sink.port", json!(port)),
            ("services.notifications.sink.max_message_bytes", json!(4096)),
            ("services.notifications.sink.idle_timeout_ms", json!(500)),
        ],
    )
    .await
}

async fn the_sink_takes_mail_from_a_standard_client(backend: Backend) {
    let port = flotilla_testkit::free_port();
    let (app, _nats) = sink_service(backend, port).await;
    // On the blocking pool: the service, on this test's runtime, must keep serving meanwhile.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3").args(["-c", SMTPLIB, &port.to_string()]).output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("python3 is required by this test and cannot be started: {e}"));
    assert!(output.status.success(), "smtplib: {}", String::from_utf8_lossy(&output.stderr));

    let messages = wait_for_sink(&app, 1).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message["from"], "tester@example.com");
    assert_eq!(message["to"], json!(["ada@example.com", "bob@example.com"]));
    assert_eq!(message["subject"], "Hello from smtplib");
    assert_eq!(message["message_id"], "<smtplib-1@example.com>");
    assert_eq!(message["body"], "first line\n.a line that starts with a dot\n..two dots\nlast line\n", "unstuffed");
    assert!(message["received_at"].is_string());

    // Restarted, the service still lists what its sink received.
    let app = app.restart().await;
    assert_eq!(sink_messages(&app).await.len(), 1);
    app.stop().await;
}

/// One side of an SMTP conversation, the test being the client.
struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    async fn connect(port: u16) -> Self {
        let (read, writer) = TcpStream::connect(("127.0.0.1", port)).await.unwrap().into_split();
        let mut client = Self { reader: BufReader::new(read), writer };
        assert_eq!(client.reply().await, 220);
        client
    }

    /// The code of the next (possibly multi-line) reply.
    async fn reply(&mut self) -> u16 {
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line)).await;
            assert!(read.unwrap().unwrap() > 0, "the sink hung up");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line[..3].parse().unwrap();
            }
        }
    }

    async fn say(&mut self, line: &str) -> u16 {
        self.writer.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
        self.reply().await
    }

    async fn hung_up(mut self) -> bool {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), self.reader.read_to_end(&mut rest)).await;
        matches!(read, Ok(Ok(0)))
    }
}

async fn the_sink_refuses_what_is_not_smtp(backend: Backend) {
    let port = flotilla_testkit::free_port();
    let (app, _nats) = sink_service(backend, port).await;
    let mut client = Client::connect(port).await;
    assert_eq!(client.say("MAIL FROM:<a@b.c>").await, 503, "before EHLO");
    assert_eq!(client.say("FROB").await, 500);
    assert_eq!(client.say("EHLO client.test").await, 250);
    assert_eq!(client.say("MAIL FROM:a@b.c").await, 501, "no angle brackets");
    assert_eq!(client.say("RCPT TO:<a@b.c>").await, 503, "before MAIL");
    assert_eq!(client.say(&"X".repeat(600)).await, 500, "a command line beyond 512 octets");
    assert_eq!(client.say("MAIL FROM:<a@b.c> SIZE=999999").await, 552, "announced beyond the limit");
    assert_eq!(client.say("MAIL FROM:<a@b.c>").await, 250);
    assert_eq!(client.say("RCPT TO:<not an address>").await, 501);
    assert_eq!(client.say("RCPT TO:<d@e.f>").await, 250);
    assert_eq!(client.say("DATA").await, 354);
    let line = "x".repeat(500);
    for _ in 0..10 {
        client.writer.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
    }
    assert_eq!(client.say(".").await, 552, "5000 octets beyond the 4096 allowed");
    assert_eq!(client.say("RSET").await, 250);
    assert_eq!(client.say("NOOP").await, 250);
    assert_eq!(client.say("QUIT").await, 221);
    assert!(client.hung_up().await);

    // Silent for longer than the idle timeout: a 421, then the sink hangs up.
    let mut idle = Client::connect(port).await;
    assert_eq!(idle.reply().await, 421);
    assert!(idle.hung_up().await);
    assert!(sink_messages(&app).await.is_empty(), "nothing refused was kept");
    app.stop().await;
}
