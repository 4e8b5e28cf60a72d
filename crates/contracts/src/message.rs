use schemars::{JsonSchema, generate::SchemaSettings};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A message type of the published language.
pub trait Message: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// The CloudEvents type: `flotilla.<context>.<name>.v<major>`.
    const TYPE: &'static str;
    /// One sentence for the AsyncAPI document.
    const SUMMARY: &'static str;

    /// The CloudEvents subject: the id of the aggregate this message is about. Consumers rely on
    /// messages with one subject arriving in the order they were published.
    fn subject(&self) -> String;
}

/// What the documents and the run-time schema endpoints need to know about a message type.
#[derive(Debug, Clone)]
pub struct MessageInfo {
    pub message_type: &'static str,
    pub summary: &'static str,
    /// The service that publishes it (the owner of its context).
    pub publisher: &'static str,
    /// The consumers that subscribe to it, as `<service>.<consumer>`.
    pub consumers: &'static [&'static str],
    pub schema: serde_json::Value,
    /// Decodes a payload as this type, for compatibility checks of committed examples.
    pub decode: fn(serde_json::Value) -> Result<(), serde_json::Error>,
}

impl MessageInfo {
    pub fn of<M: Message>(publisher: &'static str, consumers: &'static [&'static str]) -> Self {
        Self {
            message_type: M::TYPE,
            summary: M::SUMMARY,
            publisher,
            consumers,
            schema: schema_of::<M>(),
            decode: |payload| serde_json::from_value::<M>(payload).map(drop),
        }
    }

    /// The context segment of the type (`catalog` in `flotilla.catalog.product-created.v1`).
    pub fn context(&self) -> &'static str {
        self.message_type.split('.').nth(1).unwrap_or_default()
    }
}

/// The message's JSON Schema, self-contained (no `$ref`) and in draft-07, the dialect AsyncAPI 3.0
/// embeds, so that the same schema serves both the per-message files and the AsyncAPI document.
pub fn schema_of<M: JsonSchema>() -> serde_json::Value {
    let mut settings = SchemaSettings::draft07();
    settings.inline_subschemas = true;
    settings.into_generator().into_root_schema_for::<M>().to_value()
}
