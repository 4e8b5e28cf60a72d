//! A shipment's life. The (simulated) carrier walks it one step at a time from the label to the
//! doorstep; until the carrier collects it, the order's cancellation stops it. Every message is
//! answered from what is recorded for the order, so one that arrives twice, late, or after
//! another that overtook it changes nothing.

use std::time::Duration;

/// Where a shipment is. The carrier's steps come in this order; `Cancelled` branches off
/// `LabelCreated` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    LabelCreated,
    Dispatched,
    InTransit,
    OutForDelivery,
    Delivered,
    Cancelled,
}

impl Status {
    pub const ALL: [Self; 6] =
        [Self::LabelCreated, Self::Dispatched, Self::InTransit, Self::OutForDelivery, Self::Delivered, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LabelCreated => "label_created",
            Self::Dispatched => "dispatched",
            Self::InTransit => "in_transit",
            Self::OutForDelivery => "out_for_delivery",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// The carrier's next step from here; `None` once the walk is over.
    pub fn next(self) -> Option<Self> {
        match self {
            Self::LabelCreated => Some(Self::Dispatched),
            Self::Dispatched => Some(Self::InTransit),
            Self::InTransit => Some(Self::OutForDelivery),
            Self::OutForDelivery => Some(Self::Delivered),
            Self::Delivered | Self::Cancelled => None,
        }
    }

    /// Whether a shipment here may move to `to`: the carrier's next step, or a cancellation
    /// before the carrier has the parcel.
    pub fn can_become(self, to: Self) -> bool {
        self.next() == Some(to) || (to == Self::Cancelled && self.is_cancellable())
    }

    /// Only a parcel still in the warehouse can be held back.
    pub fn is_cancellable(self) -> bool {
        self == Self::LabelCreated
    }

    /// Where the status sorts in a tracking history. The machine has no cycles, so each status
    /// is entered at most once and this orders a history completely.
    pub fn step(self) -> i64 {
        match self {
            Self::LabelCreated => 0,
            Self::Dispatched | Self::Cancelled => 1,
            Self::InTransit => 2,
            Self::OutForDelivery => 3,
            Self::Delivered => 4,
        }
    }
}

/// What shipping has recorded for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Nothing: neither the order's confirmation nor its cancellation has arrived.
    Unknown,
    /// The cancellation came first: the order must never be shipped.
    Barred,
    /// A shipment exists, here.
    Shipment(Status),
}

/// What the order's confirmation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConfirmed {
    /// Create the shipment and start the carrier.
    Create,
    /// Nothing: the shipment exists already (the event came again), or the order was cancelled
    /// before it was confirmed here.
    Ignore,
}

pub fn on_confirmed(standing: Standing) -> OnConfirmed {
    match standing {
        Standing::Unknown => OnConfirmed::Create,
        Standing::Barred | Standing::Shipment(_) => OnConfirmed::Ignore,
    }
}

/// What a cancellation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCancel {
    /// Stop the shipment before the carrier collects it, and answer cancelled.
    Cancel,
    /// Bar the order from ever being shipped (the cancellation overtook the confirmation), and
    /// answer cancelled.
    Bar,
    /// Answer cancelled again: it was, by this command sent earlier or by another.
    AnswerCancelled,
    /// Too late: the carrier has it, at this status.
    AnswerNotCancellable(Status),
}

pub fn on_cancel(standing: Standing) -> OnCancel {
    match standing {
        Standing::Unknown => OnCancel::Bar,
        Standing::Barred | Standing::Shipment(Status::Cancelled) => OnCancel::AnswerCancelled,
        Standing::Shipment(status) if status.is_cancellable() => OnCancel::Cancel,
        Standing::Shipment(status) => OnCancel::AnswerNotCancellable(status),
    }
}

/// How fast the simulated carrier moves a parcel along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carrier {
    /// From the label to collection: the window in which an order can still be cancelled.
    pub dispatch_after: Duration,
    /// Between each later step.
    pub step: Duration,
}

impl Carrier {
    /// The step after `current` and how long after `current` the carrier takes it; `None` once
    /// the walk is over.
    pub fn next_step(&self, current: Status) -> Option<(Status, Duration)> {
        let next = current.next()?;
        let delay = if next == Status::Dispatched { self.dispatch_after } else { self.step };
        Some((next, delay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("lost"), None);
        assert_eq!(Status::parse("Delivered"), None, "names are exact");
    }

    #[test]
    fn the_carrier_walks_from_the_label_to_the_doorstep_and_stops() {
        let mut walked = vec![Status::LabelCreated];
        while let Some(next) = walked.last().and_then(|s| s.next()) {
            walked.push(next);
        }
        assert_eq!(
            walked,
            [Status::LabelCreated, Status::Dispatched, Status::InTransit, Status::OutForDelivery, Status::Delivered]
        );
        assert_eq!(Status::Cancelled.next(), None, "a cancelled shipment goes nowhere");
        let steps: Vec<i64> = walked.iter().map(|s| s.step()).collect();
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "history sorts in walking order: {steps:?}");
    }

    #[test]
    fn only_the_next_step_or_an_early_cancellation_is_allowed() {
        for from in Status::ALL {
            for to in Status::ALL {
                let allowed = from.next() == Some(to) || (from == Status::LabelCreated && to == Status::Cancelled);
                assert_eq!(from.can_become(to), allowed, "{from:?} -> {to:?}");
            }
        }
        assert!(!Status::Dispatched.can_become(Status::Cancelled));
        assert!(!Status::Delivered.can_become(Status::LabelCreated), "no going back");
        assert!(!Status::LabelCreated.can_become(Status::InTransit), "no skipping");
    }

    #[test]
    fn a_confirmation_creates_one_shipment_and_none_for_a_barred_order() {
        assert_eq!(on_confirmed(Standing::Unknown), OnConfirmed::Create);
        assert_eq!(on_confirmed(Standing::Barred), OnConfirmed::Ignore);
        for status in Status::ALL {
            assert_eq!(on_confirmed(Standing::Shipment(status)), OnConfirmed::Ignore, "{status:?}");
        }
    }

    #[test]
    fn a_cancellation_stops_only_what_the_carrier_does_not_have() {
        assert_eq!(on_cancel(Standing::Unknown), OnCancel::Bar);
        assert_eq!(on_cancel(Standing::Barred), OnCancel::AnswerCancelled);
        assert_eq!(on_cancel(Standing::Shipment(Status::LabelCreated)), OnCancel::Cancel);
        assert_eq!(on_cancel(Standing::Shipment(Status::Cancelled)), OnCancel::AnswerCancelled);
        for status in [Status::Dispatched, Status::InTransit, Status::OutForDelivery, Status::Delivered] {
            assert_eq!(on_cancel(Standing::Shipment(status)), OnCancel::AnswerNotCancellable(status));
        }
    }

    #[test]
    fn collection_waits_for_the_cancellation_window_and_later_steps_for_the_step_time() {
        let carrier = Carrier { dispatch_after: Duration::from_secs(10), step: Duration::from_secs(3) };
        assert_eq!(carrier.next_step(Status::LabelCreated), Some((Status::Dispatched, Duration::from_secs(10))));
        assert_eq!(carrier.next_step(Status::Dispatched), Some((Status::InTransit, Duration::from_secs(3))));
        assert_eq!(carrier.next_step(Status::OutForDelivery), Some((Status::Delivered, Duration::from_secs(3))));
        assert_eq!(carrier.next_step(Status::Delivered), None);
        assert_eq!(carrier.next_step(Status::Cancelled), None);
    }
}
