use schemars::{JsonSchema, generate::SchemaSettings};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What a message is for, which decides where it travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Something that happened: published by the owning context to whoever subscribes.
    Event,
    /// A request addressed to the one context that owns the type, which answers with a reply.
    Command,
    /// The answer to a command, addressed to the service that sent the command.
    Reply,
    /// A message a service schedules to itself (a durable timer); it never leaves the service.
    Timer,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Command => "command",
            Self::Reply => "reply",
            Self::Timer => "timer",
        }
    }

    /// Replies and timers are addressed to one service; events and commands travel by type.
    pub fn is_addressed(self) -> bool {
        matches!(self, Self::Reply | Self::Timer)
    }
}

/// A message type of the published language.
pub trait Message: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// The CloudEvents type: `flotilla.<context>.<name>.v<major>`.
    const TYPE: &'static str;
    /// One sentence for the AsyncAPI document.
    const SUMMARY: &'static str;
    /// Events unless the type says otherwise.
    const KIND: MessageKind = MessageKind::Event;

    /// The CloudEvents subject: the id of the aggregate this message is about. Consumers rely on
    /// messages with one subject arriving in the order they were published.
    fn subject(&self) -> String;
}

/// Where a message travels (the NATS subject; the embedded log's routing key): its type, and for
/// a message addressed to one service (a reply, a timer), the type followed by `.to.<service>`.
/// The address starts with the type, so it stays in the owning context's stream.
pub fn address(message_type: &str, recipient: Option<&str>) -> String {
    match recipient {
        Some(recipient) => format!("{message_type}.to.{recipient}"),
        None => message_type.to_owned(),
    }
}

/// What the documents and the run-time schema endpoints need to know about a message type.
#[derive(Debug, Clone)]
pub struct MessageInfo {
    pub message_type: &'static str,
    pub summary: &'static str,
    pub kind: MessageKind,
    /// The context that owns the type (its second segment): it publishes its events, receives its
    /// commands and sends its replies.
    pub owner: &'static str,
    /// The services that put it on the bus.
    pub senders: Vec<&'static str>,
    /// The consumers that receive it, as `<service>.<consumer>`.
    pub receivers: Vec<&'static str>,
    /// For a reply: the command it answers.
    pub answers: Option<&'static str>,
    pub schema: serde_json::Value,
    /// Decodes a payload as this type, for compatibility checks of committed examples.
    pub decode: fn(serde_json::Value) -> Result<(), serde_json::Error>,
}

impl MessageInfo {
    fn of<M: Message>(senders: Vec<&'static str>, receivers: &[&'static str]) -> Self {
        Self {
            message_type: M::TYPE,
            summary: M::SUMMARY,
            kind: M::KIND,
            owner: context_of(M::TYPE),
            senders,
            receivers: receivers.to_vec(),
            answers: None,
            schema: schema_of::<M>(),
            decode: |payload| serde_json::from_value::<M>(payload).map(drop),
        }
    }

    /// An event, published by its owner and received by `consumers`.
    pub fn event<M: Message>(consumers: &[&'static str]) -> Self {
        Self::of::<M>(vec![context_of(M::TYPE)], consumers)
    }

    /// A command, sent by `senders` and received by the owner's `consumer` (`<owner>.<name>`).
    pub fn command<M: Message>(senders: &[&'static str], consumer: &'static str) -> Self {
        Self::of::<M>(senders.to_vec(), &[consumer])
    }

    /// A reply to the command `C`, sent by its owner to the consumers of the command's senders.
    pub fn reply<M: Message, C: Message>(consumers: &[&'static str]) -> Self {
        Self { answers: Some(C::TYPE), ..Self::of::<M>(vec![context_of(M::TYPE)], consumers) }
    }

    /// The context segment of the type (`catalog` in `flotilla.catalog.product-created.v1`).
    pub fn context(&self) -> &'static str {
        context_of(self.message_type)
    }

    /// Whether `service` puts this message on the bus.
    pub fn is_sent_by(&self, service: &str) -> bool {
        self.senders.contains(&service)
    }
}

fn context_of(message_type: &'static str) -> &'static str {
    message_type.split('.').nth(1).unwrap_or_default()
}

/// The message's JSON Schema, self-contained (no `$ref`) and in draft-07, the dialect AsyncAPI 3.0
/// embeds, so that the same schema serves both the per-message files and the AsyncAPI document.
pub fn schema_of<M: JsonSchema>() -> serde_json::Value {
    let mut settings = SchemaSettings::draft07();
    settings.inline_subschemas = true;
    settings.into_generator().into_root_schema_for::<M>().to_value()
}
