//! Handing one notification to the SMTP relay (or the sink), through lettre.
//!
//! Every mail carries the Message-ID recorded with its notification, derived from its order and
//! milestone. The relay's acceptance and our marking it sent are two systems that cannot commit
//! together: a crash between them sends the mail again on the next attempt. That is the trade-off
//! taken (at least once, rather than at most once: a lost confirmation is worse than a double),
//! and the stable Message-ID is what lets mail systems and clients recognise the second copy as
//! the same message.

use std::time::Duration;

use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::domain::notification::domain_of;
use crate::domain::retry::Failure;
use crate::settings::{Invalid, Settings, Target, TlsMode};
use crate::store::Notification;

/// The longest relay error kept with a notification.
const MAX_ERROR_CHARS: usize = 500;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    deadline: Duration,
}

/// Why a delivery did not happen, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub failure: Failure,
    pub reason: String,
}

impl Mailer {
    pub fn new(target: &Target, settings: &Settings) -> Result<Self, Invalid> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| Invalid { key: "from", message: format!("{:?} is not a mail address: {e}", settings.from) })?;
        let timeout = settings.smtp_timeout();
        let builder = match target {
            Target::Sink(addr) => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string()).port(addr.port())
            }
            Target::Relay { host, port, tls } => {
                let relay = |e: lettre::transport::smtp::Error| Invalid { key: "smtp.host", message: e.to_string() };
                let builder = match tls {
                    // Plain SMTP only when asked for by name: `builder_dangerous` is lettre's word for it.
                    TlsMode::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str()),
                    TlsMode::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(relay)?,
                    TlsMode::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(relay)?,
                };
                let builder = builder.port(*port);
                match (&settings.smtp.username, &settings.smtp.password) {
                    (Some(user), password) => builder.credentials(Credentials::new(
                        user.clone(),
                        password.as_ref().map(|p| p.expose_secret().to_owned()).unwrap_or_default(),
                    )),
                    (None, _) => builder,
                }
            }
        };
        let transport =
            builder.hello_name(ClientId::Domain(domain_of(&settings.from).to_owned())).timeout(Some(timeout)).build();
        Ok(Self { transport, from, deadline: timeout })
    }

    /// The longest [`Mailer::send`] takes.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    pub async fn send(&self, notification: &Notification) -> Result<(), Refused> {
        let message = self.message(notification)?;
        match tokio::time::timeout(self.deadline, self.transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(error)) => Err(Refused { failure: classify(&error), reason: truncate(&error.to_string()) }),
            Err(_elapsed) => Err(Refused {
                failure: Failure::Transient,
                reason: format!("no answer from the relay within {} ms", self.deadline.as_millis()),
            }),
        }
    }

    fn message(&self, notification: &Notification) -> Result<Message, Refused> {
        let permanent = |reason: String| Refused { failure: Failure::Permanent, reason: truncate(&reason) };
        let to: Mailbox = notification
            .recipient
            .parse()
            .map_err(|e| permanent(format!("the recipient {:?} is not a mail address: {e}", notification.recipient)))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(notification.subject.clone())
            .message_id(Some(notification.message_id.clone()))
            .singlepart(SinglePart::plain(notification.body.clone()))
            .map_err(|e| permanent(format!("the mail cannot be built: {e}")))
    }
}

/// 5xx and errors of our own making will fail again the same way; everything else (no
/// connection, timeouts, TLS trouble, 4xx, a garbled reply) may pass later.
fn classify(error: &lettre::transport::smtp::Error) -> Failure {
    if error.is_permanent() || error.is_client() { Failure::Permanent } else { Failure::Transient }
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}
