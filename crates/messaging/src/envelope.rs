//! The CloudEvents 1.0 envelope, and its binary content mode: attributes as `ce-` headers, the
//! JSON payload as the body. Both backends carry exactly these headers and body.

use std::collections::BTreeMap;

use flotilla_chassis::telemetry::causality::Causality;
use flotilla_contracts::Message;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

pub const SPEC_VERSION: &str = "1.0";
pub const CONTENT_TYPE: &str = "application/json";

/// A message's headers as they travel: names in lower case, in a stable order.
pub type Headers = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: Uuid,
    /// `/flotilla/<service>`.
    pub source: String,
    pub message_type: String,
    pub time: OffsetDateTime,
    /// The aggregate id.
    pub subject: String,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    /// The one service a reply or a timer is addressed to; `None` for events and commands.
    pub recipient: Option<String>,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("header {0} is missing")]
    Missing(&'static str),
    #[error("header {name} is not valid: {value:?}")]
    Invalid { name: &'static str, value: String },
    #[error("the payload is not JSON: {0}")]
    NotJson(String),
    #[error("no consumer handles the type {0}")]
    UnknownType(String),
    #[error("the payload does not match the schema of {message_type}: {reason}")]
    SchemaViolation { message_type: String, reason: String },
}

impl Envelope {
    /// A new message from `service` about `message`, caused by the work in progress (its trace,
    /// correlation and causation travel along).
    pub fn new<M: Message>(service: &str, message: &M) -> Result<Self, serde_json::Error> {
        let causality = Causality::current();
        Ok(Self {
            id: Uuid::now_v7(),
            source: format!("/flotilla/{service}"),
            message_type: M::TYPE.to_owned(),
            time: OffsetDateTime::now_utc(),
            subject: message.subject(),
            traceparent: causality.as_ref().map(|c| c.trace.traceparent()),
            tracestate: None,
            correlation_id: causality.as_ref().map(|c| c.correlation_id.clone()),
            causation_id: causality.map(|c| c.causation_id),
            recipient: None,
            data: serde_json::to_vec(message)?,
        })
    }

    /// The reply from `service` to `command`: addressed to the command's sender, caused by the
    /// command and in its correlation, whatever work is in progress when it is sent.
    pub fn reply_to<M: Message>(service: &str, command: &Envelope, message: &M) -> Result<Self, serde_json::Error> {
        let mut reply = Self::new(service, message)?;
        reply.recipient = Some(command.sender().to_owned());
        reply.causation_id = Some(command.id.to_string());
        reply.correlation_id = Some(command.correlation_id.clone().unwrap_or_else(|| command.id.to_string()));
        reply.traceparent = command.traceparent.clone().or(reply.traceparent);
        Ok(reply)
    }

    /// The service that sent this message (its `source` is `/flotilla/<service>`).
    pub fn sender(&self) -> &str {
        self.source.strip_prefix("/flotilla/").unwrap_or(&self.source)
    }

    /// Where the message travels: see [`flotilla_contracts::address`].
    pub fn address(&self) -> String {
        flotilla_contracts::address(&self.message_type, self.recipient.as_deref())
    }

    /// The context segment of the type, which names the stream (`catalog`).
    pub fn context(&self) -> &str {
        context_of(&self.message_type)
    }

    pub fn headers(&self) -> Headers {
        let mut headers = Headers::new();
        let mut put = |name: &str, value: String| {
            headers.insert(name.to_owned(), value);
        };
        put("ce-id", self.id.to_string());
        put("ce-source", self.source.clone());
        put("ce-type", self.message_type.clone());
        put("ce-specversion", SPEC_VERSION.to_owned());
        put("ce-time", self.time.format(&Rfc3339).unwrap_or_default());
        put("ce-subject", self.subject.clone());
        put("content-type", CONTENT_TYPE.to_owned());
        let optional = [
            ("ce-traceparent", &self.traceparent),
            ("ce-tracestate", &self.tracestate),
            ("ce-correlationid", &self.correlation_id),
            ("ce-causationid", &self.causation_id),
            ("ce-recipient", &self.recipient),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                put(name, value.clone());
            }
        }
        headers
    }

    /// Reads a message in binary content mode. The payload is checked to be JSON; its shape is the
    /// consumer's concern, which knows the type.
    pub fn from_parts(headers: &Headers, data: Vec<u8>) -> Result<Self, DecodeError> {
        let required = |name: &'static str| headers.get(name).ok_or(DecodeError::Missing(name));
        let invalid = |name: &'static str, value: &str| DecodeError::Invalid { name, value: value.to_owned() };
        let id = required("ce-id")?;
        let id = Uuid::parse_str(id).map_err(|_| invalid("ce-id", id))?;
        let spec = required("ce-specversion")?;
        if spec != SPEC_VERSION {
            return Err(invalid("ce-specversion", spec));
        }
        let time = required("ce-time")?;
        let time = OffsetDateTime::parse(time, &Rfc3339).map_err(|_| invalid("ce-time", time))?;
        if let Some(content_type) = headers.get("content-type")
            && !content_type.starts_with(CONTENT_TYPE)
        {
            return Err(invalid("content-type", content_type));
        }
        if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&data) {
            return Err(DecodeError::NotJson(error.to_string()));
        }
        let optional = |name: &str| headers.get(name).cloned();
        Ok(Self {
            id,
            source: required("ce-source")?.clone(),
            message_type: required("ce-type")?.clone(),
            time,
            subject: required("ce-subject")?.clone(),
            traceparent: optional("ce-traceparent"),
            tracestate: optional("ce-tracestate"),
            correlation_id: optional("ce-correlationid"),
            causation_id: optional("ce-causationid"),
            recipient: optional("ce-recipient"),
            data,
        })
    }

    /// The payload as the message type `M`.
    pub fn decode<M: Message>(&self) -> Result<M, DecodeError> {
        serde_json::from_slice(&self.data).map_err(|error| DecodeError::SchemaViolation {
            message_type: self.message_type.clone(),
            reason: error.to_string(),
        })
    }
}

/// The context segment of a type or an address, which names the stream (`catalog`).
pub fn context_of(message_type: &str) -> &str {
    message_type.split('.').nth(1).unwrap_or_default()
}

/// The address of a message as it sits in an outbox or a dead letter: from its headers.
pub fn address_of(headers: &Headers) -> Option<String> {
    let message_type = headers.get("ce-type")?;
    Some(flotilla_contracts::address(message_type, headers.get("ce-recipient").map(String::as_str)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_contracts::catalog::ProductDeletedV1;

    fn deleted() -> ProductDeletedV1 {
        ProductDeletedV1 { product_id: Uuid::now_v7(), version: 3, sku: "KIT-1".into() }
    }

    #[test]
    fn round_trips_through_headers_and_body() {
        let envelope = Envelope::new("catalog", &deleted()).unwrap();
        let back = Envelope::from_parts(&envelope.headers(), envelope.data.clone()).unwrap();
        // RFC 3339 keeps nanoseconds, so the time survives exactly.
        assert_eq!(back, envelope);
        assert_eq!(back.decode::<ProductDeletedV1>().unwrap().sku, "KIT-1");
        assert_eq!(envelope.context(), "catalog");
        assert_eq!(envelope.headers()["ce-source"], "/flotilla/catalog");
    }

    #[test]
    fn carries_the_causality_of_the_work_in_progress() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let trace = flotilla_chassis::telemetry::trace_context::TraceContext::continue_or_start(None);
        let causality = Causality {
            trace: trace.clone(),
            correlation_id: "corr-1".into(),
            causation_id: "req-9".into(),
            tracer: Default::default(),
        };
        let envelope = runtime.block_on(causality.scope(async { Envelope::new("catalog", &deleted()).unwrap() }));
        assert_eq!(envelope.traceparent, Some(trace.traceparent()));
        assert_eq!(envelope.correlation_id.as_deref(), Some("corr-1"));
        assert_eq!(envelope.causation_id.as_deref(), Some("req-9"));
    }

    #[test]
    fn a_reply_is_addressed_to_the_sender_and_caused_by_the_command() {
        let command = Envelope::new("ordering", &deleted()).unwrap();
        let reply = Envelope::reply_to("inventory", &command, &deleted()).unwrap();
        assert_eq!(reply.recipient.as_deref(), Some("ordering"));
        assert_eq!(reply.causation_id, Some(command.id.to_string()));
        assert_eq!(reply.correlation_id, Some(command.id.to_string()), "the command started the flow");
        assert_eq!(reply.address(), format!("{}.to.ordering", ProductDeletedV1::TYPE));
        assert_eq!(address_of(&reply.headers()), Some(reply.address()));
        assert_eq!(Envelope::from_parts(&reply.headers(), reply.data.clone()).unwrap(), reply);
        assert_eq!(command.address(), ProductDeletedV1::TYPE, "unaddressed messages travel by type");
    }

    #[test]
    fn rejects_what_is_not_a_cloudevent_of_ours() {
        let envelope = Envelope::new("catalog", &deleted()).unwrap();
        let mut headers = envelope.headers();
        headers.remove("ce-type");
        assert_eq!(Envelope::from_parts(&headers, envelope.data.clone()), Err(DecodeError::Missing("ce-type")));

        let mut headers = envelope.headers();
        headers.insert("ce-specversion".into(), "0.3".into());
        assert!(matches!(Envelope::from_parts(&headers, envelope.data.clone()), Err(DecodeError::Invalid { .. })));

        let not_json = Envelope::from_parts(&envelope.headers(), b"<xml/>".to_vec());
        assert!(matches!(not_json, Err(DecodeError::NotJson(_))));

        let wrong_shape = Envelope { data: br#"{"sku": 1}"#.to_vec(), ..envelope };
        assert!(matches!(wrong_shape.decode::<ProductDeletedV1>(), Err(DecodeError::SchemaViolation { .. })));
    }
}
