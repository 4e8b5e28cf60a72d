//! The embedded mail sink: a small SMTP server that keeps what it receives in the service's
//! database (so that it survives restarts, and every replica's API lists the same mail), for
//! development and tests in place of a real relay. The protocol is `domain::smtp`; this is the
//! network around it: a connection limit, line limits enforced while reading, timeouts on every
//! read and write, and a 421 to every client when the service stops.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use flotilla_chassis::db::Database;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::domain::mail;
use crate::domain::smtp::{Limits, Mail, Reply, Session, Step};
use crate::settings::SinkSettings;
use crate::store::{self, SinkMessage};

/// How the sink names itself in its replies.
const HOSTNAME: &str = "flotilla-sink";
/// A client that does not take a reply within this long is gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[error("the mail sink cannot listen on {addr}: {source} (set services.notifications.sink.port, 0 for any free port)")]
pub struct BindError {
    addr: SocketAddr,
    source: std::io::Error,
}

pub struct Sink {
    listener: TcpListener,
    db: Database,
    limits: Limits,
    keep: u32,
    idle: Duration,
    connections: Arc<Semaphore>,
}

impl Sink {
    pub async fn bind(settings: &SinkSettings, db: Database) -> Result<Self, BindError> {
        let addr = SocketAddr::new(settings.host, settings.port);
        let listener = TcpListener::bind(addr).await.map_err(|source| BindError { addr, source })?;
        Ok(Self {
            listener,
            db,
            limits: Limits::new(settings.max_message_bytes),
            keep: settings.max_messages,
            idle: Duration::from_millis(settings.idle_timeout_ms),
            connections: Arc::new(Semaphore::new(settings.max_connections)),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `stopping`, each served as tracked background work.
    pub async fn run(self, tasks: TaskTracker, stopping: CancellationToken) {
        let sink = Arc::new(self);
        loop {
            let accepted = tokio::select! {
                () = stopping.cancelled() => return,
                accepted = sink.listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    // Out of file descriptors, say: pause rather than spin.
                    tracing::warn!(%error, "the mail sink cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&sink.connections).try_acquire_owned() else {
                tasks.spawn(async move {
                    let mut stream = stream;
                    let _ = write(&mut stream, &Session::busy(HOSTNAME)).await;
                });
                continue;
            };
            let (sink, stopping) = (Arc::clone(&sink), stopping.clone());
            tasks.spawn(async move {
                let _permit = permit;
                if let Err(error) = sink.serve(stream, stopping).await {
                    tracing::debug!(%error, "mail sink connection ended with an error");
                }
            });
        }
    }

    async fn serve(&self, stream: TcpStream, stopping: CancellationToken) -> std::io::Result<()> {
        let (read, mut writer) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut session = Session::new(HOSTNAME, self.limits);
        write(&mut writer, &session.greeting()).await?;
        loop {
            let line = tokio::select! {
                () = stopping.cancelled() => return write(&mut writer, &session.shutting_down()).await,
                read = tokio::time::timeout(self.idle, read_line(&mut reader, session.max_line())) => read,
            };
            let step = match line {
                Err(_idle) => return write(&mut writer, &session.timed_out()).await,
                Ok(Err(error)) => return Err(error),
                Ok(Ok(Line::End)) => return Ok(()),
                Ok(Ok(Line::TooLong)) => session.line_too_long(),
                Ok(Ok(Line::Text(bytes))) => session.line(&bytes),
            };
            match step {
                Step::Silent => {}
                Step::Reply(reply) => write(&mut writer, &reply).await?,
                Step::Close(reply) => return write(&mut writer, &reply).await,
                Step::Deliver(mail) => {
                    let reply = match self.keep_mail(mail).await {
                        Ok(id) => session.stored(&id.to_string()),
                        Err(error) => {
                            tracing::warn!(%error, "the mail sink cannot store a message");
                            session.not_stored()
                        }
                    };
                    write(&mut writer, &reply).await?;
                }
            }
        }
    }

    async fn keep_mail(&self, mail: Mail) -> Result<Uuid, sqlx::Error> {
        let parsed = mail::parse(&mail.data);
        let message = SinkMessage {
            id: Uuid::now_v7(),
            from: mail.from,
            to: mail.to,
            subject: parsed.subject,
            message_id: parsed.message_id,
            body: parsed.body,
            size_bytes: i64::try_from(mail.data.len()).unwrap_or(i64::MAX),
            received_at: OffsetDateTime::now_utc(),
        };
        store::insert_sink_message(&self.db, &message, self.keep).await?;
        // Recipients are customers' addresses: not for the logs.
        tracing::info!(id = %message.id, subject = ?message.subject, "the mail sink received a message");
        Ok(message.id)
    }
}

enum Line {
    /// A line without its CRLF (or bare LF).
    Text(Vec<u8>),
    /// Longer than allowed; the rest of it was read and dropped.
    TooLong,
    /// The client hung up (mid-line or not).
    End,
}

/// Reads one line of at most `max` octets (line ending included) without ever holding more.
async fn read_line(reader: &mut BufReader<OwnedReadHalf>, max: usize) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(Line::End);
        }
        let (chunk, consumed, complete) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (&available[..at], at + 1, true),
            None => (available, available.len(), false),
        };
        if !too_long {
            line.extend_from_slice(chunk);
            if line.len() > max {
                too_long = true;
                line = Vec::new();
            }
        }
        reader.consume(consumed);
        if complete {
            break;
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if too_long || line.len() + 2 > max {
        return Ok(Line::TooLong);
    }
    Ok(Line::Text(line))
}

async fn write<W: AsyncWriteExt + Unpin>(writer: &mut W, reply: &Reply) -> std::io::Result<()> {
    match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(reply.render().as_bytes())).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client does not read its replies")),
    }
}
