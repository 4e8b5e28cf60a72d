//! Another service on the bus, played by a test: it sends what that service would send, and
//! reads what comes back to it, over the same bus the service under test is configured with.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_contracts::Message;
use flotilla_messaging::settings::BusSettings;
use flotilla_messaging::{Bus, ConsumerSpec, Envelope, RawMessage, Settle, Subscription};

use crate::TestApp;

pub struct Peer {
    bus: Arc<dyn Bus>,
    /// What it reads; `None` for a peer that only sends.
    inbox: Option<Box<dyn Subscription>>,
}

impl Peer {
    /// Connects to `app`'s bus as `name`, reading `addresses` as the durable consumer `<name>.test`.
    pub async fn join(app: &TestApp, name: &str, addresses: Vec<String>) -> Self {
        let settings = BusSettings::from_config(app.config()).unwrap();
        let bus = flotilla_messaging::service::connect(&settings, &app.config().settings.data_dir, name).await.unwrap();
        let spec = ConsumerSpec { name: format!("{name}.test"), addresses, ack_wait: Duration::from_secs(30) };
        let inbox = bus.subscribe(&spec).await.unwrap();
        Self { bus, inbox: Some(inbox) }
    }

    /// Connects to `app`'s bus as `name`, to send only.
    pub async fn connect(app: &TestApp, name: &str) -> Self {
        let settings = BusSettings::from_config(app.config()).unwrap();
        let bus = flotilla_messaging::service::connect(&settings, &app.config().settings.data_dir, name).await.unwrap();
        Self { bus, inbox: None }
    }

    fn inbox(&mut self) -> &mut Box<dyn Subscription> {
        self.inbox.as_mut().expect("a peer that reads: Peer::join")
    }

    /// Puts `message` on the bus as `sender` would; returns its envelope.
    pub async fn send<M: Message>(&self, sender: &str, message: &M) -> Envelope {
        let envelope = Envelope::new(sender, message).unwrap();
        self.bus.publish(&[raw(&envelope)]).await.unwrap();
        envelope
    }

    /// Answers `command` as `sender` (the service that owns it) would.
    pub async fn reply<M: Message>(&self, sender: &str, command: &Envelope, reply: &M) -> Envelope {
        let envelope = Envelope::reply_to(sender, command, reply).unwrap();
        self.bus.publish(&[raw(&envelope)]).await.unwrap();
        envelope
    }

    /// Puts the same envelope on the bus again under another bus id, as a resend after a lost
    /// acknowledgement would: only the receiver's inbox can tell it is a duplicate.
    pub async fn resend(&self, envelope: &Envelope) {
        let again = RawMessage { id: uuid::Uuid::now_v7().to_string(), ..raw(envelope) };
        self.bus.publish(&[again]).await.unwrap();
    }

    /// The next `count` messages that arrive, in arrival order.
    pub async fn receive(&mut self, count: usize) -> Vec<Envelope> {
        let mut envelopes = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while envelopes.len() < count {
            assert!(Instant::now() < deadline, "only {} of {count} messages arrived", envelopes.len());
            for delivery in self.inbox().next_batch(count - envelopes.len(), Duration::from_millis(200)).await.unwrap()
            {
                envelopes
                    .push(Envelope::from_parts(&delivery.message.headers, delivery.message.payload.clone()).unwrap());
                delivery.settle(Settle::Ack).await.unwrap();
            }
        }
        envelopes
    }

    /// The next message, which must be of type `M`.
    pub async fn expect<M: Message>(&mut self) -> M {
        let envelope = self.receive(1).await.remove(0);
        assert_eq!(envelope.message_type, M::TYPE, "{:?}", String::from_utf8_lossy(&envelope.data));
        envelope.decode().unwrap()
    }

    /// Waits until the consumer `name` (of the service under test, reading `addresses`) has
    /// handled everything on the bus for it: "nothing changed" is then a finding, not a race.
    pub async fn settled(&self, name: &str, addresses: &[String]) {
        let spec = ConsumerSpec { name: name.into(), addresses: addresses.to_vec(), ack_wait: Duration::from_secs(30) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // Before the service has subscribed, NATS knows no such consumer: not settled yet.
            let left = self.bus.backlog(&spec).await;
            if matches!(left, Ok(0)) {
                return;
            }
            assert!(Instant::now() < deadline, "{name} has not settled after 30 s: {left:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Asserts that nothing more arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        let extra = self.inbox().next_batch(1, wait).await.unwrap();
        assert!(extra.is_empty(), "unexpected {:?}", extra[0].message.address);
    }
}

fn raw(envelope: &Envelope) -> RawMessage {
    RawMessage {
        id: envelope.id.to_string(),
        address: envelope.address(),
        headers: envelope.headers(),
        payload: envelope.data.clone(),
    }
}
