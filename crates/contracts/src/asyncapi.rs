//! One AsyncAPI 3.0 document for the whole system: a channel per message type (the NATS subject is
//! the CloudEvents type, or for a reply the type plus `.to.<recipient>`), who sends on it and who
//! receives from it, and which replies answer each command.

use serde_json::{Map, Value, json};

use crate::MessageInfo;

/// The document for these messages (normally [`crate::registry`]).
pub fn document(messages: &[MessageInfo]) -> Value {
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut components = Map::new();
    for info in messages {
        let key = info.message_type;
        components.insert(
            key.into(),
            json!({
                "name": key,
                "title": key,
                "summary": info.summary,
                "contentType": "application/json",
                "headers": headers_schema(),
                "payload": info.schema,
                "correlationId": { "location": "$message.header#/ce-correlationid" },
                "x-flotilla-kind": info.kind.as_str(),
            }),
        );
        let mut channel = json!({
            "address": key,
            "title": key,
            "messages": { key: { "$ref": format!("#/components/messages/{key}") } },
        });
        if info.kind.is_addressed() {
            // A reply travels to the one service that sent the command, in its own channel.
            channel["address"] = json!(crate::address(key, Some("{recipient}")));
            channel["parameters"] =
                json!({ "recipient": { "description": "The service the message is addressed to." } });
        }
        channels.insert(key.into(), channel);
        let channel_ref = json!({ "$ref": format!("#/channels/{key}") });
        let message_ref = json!([{ "$ref": format!("#/channels/{key}/messages/{key}") }]);
        for sender in &info.senders {
            let mut operation = json!({
                "action": "send",
                "channel": channel_ref,
                "messages": message_ref,
                "summary": format!("{sender} sends {key} through its outbox."),
                "x-flotilla-service": sender,
            });
            let replies: Vec<&MessageInfo> =
                messages.iter().filter(|reply| reply.answers == Some(info.message_type)).collect();
            if !replies.is_empty() {
                operation["reply"] = json!({
                    "channel": { "$ref": format!("#/channels/{}", replies[0].message_type) },
                    "messages": replies
                        .iter()
                        .map(|r| json!({ "$ref": format!("#/channels/{0}/messages/{0}", r.message_type) }))
                        .collect::<Vec<_>>(),
                });
            }
            operations.insert(format!("{sender}.send.{key}"), operation);
        }
        for consumer in &info.receivers {
            let service = consumer.split('.').next().unwrap_or(consumer);
            operations.insert(
                format!("{consumer}.receive.{key}"),
                json!({
                    "action": "receive",
                    "channel": channel_ref,
                    "messages": message_ref,
                    "summary": format!("The durable consumer {consumer} handles {key}."),
                    "x-flotilla-service": service,
                    "x-flotilla-consumer": consumer,
                }),
            );
        }
    }
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Flotilla events",
            "version": "1.0.0",
            "description": "Every message that crosses a Flotilla service boundary. Generated from \
                crates/contracts; do not edit by hand. Messages are CloudEvents 1.0 in binary content \
                mode: the attributes travel as ce- headers, the JSON payload as the body.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "jetstream": {
                "host": "nats:4222",
                "protocol": "nats",
                "description": "Distributed mode: one file-backed JetStream stream per context (FLOTILLA_<CONTEXT>).",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": { "messages": components },
    })
}

/// Puts each message's committed examples (`docs/events/examples/<type>/<name>.json`, given here
/// as name and payload) into its message, so that readers and tools see real payloads beside the
/// schema.
pub fn add_examples(document: &mut Value, examples: &[(&str, Vec<(String, Value)>)]) {
    for (message_type, payloads) in examples {
        let message = &mut document["components"]["messages"][*message_type];
        if message.is_object() && !payloads.is_empty() {
            message["examples"] = payloads
                .iter()
                .map(|(name, payload)| json!({ "name": name, "summary": format!("{message_type} as sent"), "payload": payload }))
                .collect();
        }
    }
}

/// The CloudEvents attributes as they travel: `ce-` headers (NATS binary content mode).
fn headers_schema() -> Value {
    let text = |description: &str| json!({ "type": "string", "description": description });
    json!({
        "type": "object",
        "required": ["ce-id", "ce-source", "ce-type", "ce-specversion", "ce-time", "ce-subject", "content-type"],
        "properties": {
            "ce-id": text("UUIDv7, unique per message; also the broker's de-duplication id (Nats-Msg-Id)."),
            "ce-source": text("The publishing service, as /flotilla/<service>."),
            "ce-type": text("flotilla.<context>.<name>.v<major>, equal to the channel address."),
            "ce-specversion": { "const": "1.0" },
            "ce-time": text("When the change was committed, RFC 3339."),
            "ce-subject": text("The id of the aggregate the message is about; ordering holds per subject."),
            "content-type": { "const": "application/json" },
            "ce-traceparent": text("W3C trace context of the change that caused the message."),
            "ce-tracestate": text("W3C trace state, passed through."),
            "ce-correlationid": text("Ties together every message of one business flow."),
            "ce-causationid": text("The id of the message or request that caused this one; a reply's is its command's id."),
            "ce-recipient": text("For a reply or a timer: the one service it is addressed to."),
        },
    })
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::{Message, MessageKind};

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct ReserveV1 {
        id: u32,
    }

    impl Message for ReserveV1 {
        const TYPE: &'static str = "flotilla.stock.reserve.v1";
        const SUMMARY: &'static str = "Reserve.";
        const KIND: MessageKind = MessageKind::Command;
        fn subject(&self) -> String {
            self.id.to_string()
        }
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct ReservedV1 {
        id: u32,
    }

    impl Message for ReservedV1 {
        const TYPE: &'static str = "flotilla.stock.reserved.v1";
        const SUMMARY: &'static str = "Reserved.";
        const KIND: MessageKind = MessageKind::Reply;
        fn subject(&self) -> String {
            self.id.to_string()
        }
    }

    #[test]
    fn a_command_shows_its_senders_receiver_and_reply_and_the_reply_its_addressed_channel() {
        let document = document(&[
            MessageInfo::command::<ReserveV1>(&["ordering"], "stock.reservations"),
            MessageInfo::reply::<ReservedV1, ReserveV1>(&["ordering.stock-replies"]),
        ]);
        let operations = &document["operations"];
        let send = &operations["ordering.send.flotilla.stock.reserve.v1"];
        assert_eq!(send["action"], "send");
        assert_eq!(send["reply"]["channel"]["$ref"], "#/channels/flotilla.stock.reserved.v1");
        assert_eq!(operations["stock.reservations.receive.flotilla.stock.reserve.v1"]["action"], "receive");
        assert_eq!(operations["stock.send.flotilla.stock.reserved.v1"]["action"], "send", "the owner replies");
        assert_eq!(operations["ordering.stock-replies.receive.flotilla.stock.reserved.v1"]["action"], "receive");
        let reply = &document["channels"]["flotilla.stock.reserved.v1"];
        assert_eq!(reply["address"], "flotilla.stock.reserved.v1.to.{recipient}");
        assert!(reply["parameters"]["recipient"].is_object());
        assert_eq!(document["channels"]["flotilla.stock.reserve.v1"]["address"], "flotilla.stock.reserve.v1");
        assert_eq!(document["components"]["messages"]["flotilla.stock.reserve.v1"]["x-flotilla-kind"], "command");
    }
}
