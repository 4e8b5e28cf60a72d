//! The checkout saga as a state machine: from a phase and what just happened, the next phase,
//! the commands to send, the event to publish and what to do with the step's timer.
//!
//! Forward: reserve stock, authorize payment, commit stock, capture payment; then the order is
//! confirmed and waits for the carrier. Anything that fails on the way, or takes longer than its
//! step's timeout, is compensated: what was done is undone (stock released, payment voided or
//! refunded) and only once every undo is answered does the order end, rejected or cancelled.
//! An input the phase does not expect (a duplicate, a late or overtaken reply) changes nothing.

/// What the saga waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Reserving,
    Authorizing,
    Committing,
    Capturing,
    /// Paid and sold: waits for the carrier. The saga's own work is done.
    Confirmed,
    Shipped,
    /// A cancellation of a confirmed order: waits for shipping to say whether it can stop it.
    StoppingShipment,
    /// Waits for the undos still outstanding, then ends.
    Undoing,
    Rejected,
    Cancelled,
}

impl Phase {
    const ALL: [Self; 10] = [
        Self::Reserving,
        Self::Authorizing,
        Self::Committing,
        Self::Capturing,
        Self::Confirmed,
        Self::Shipped,
        Self::StoppingShipment,
        Self::Undoing,
        Self::Rejected,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserving => "reserving",
            Self::Authorizing => "authorizing",
            Self::Committing => "committing",
            Self::Capturing => "capturing",
            Self::Confirmed => "confirmed",
            Self::Shipped => "shipped",
            Self::StoppingShipment => "stopping_shipment",
            Self::Undoing => "undoing",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|phase| phase.as_str() == text)
    }

    /// Whether the saga has steps left that a timer must watch.
    pub fn is_in_progress(self) -> bool {
        !matches!(self, Self::Confirmed | Self::Shipped | Self::Rejected | Self::Cancelled)
    }
}

/// The order's status as customers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    StockReserved,
    PaymentAuthorized,
    Confirmed,
    Shipped,
    Rejected,
    Cancelled,
}

impl Status {
    pub const ALL: [Self; 7] = [
        Self::Pending,
        Self::StockReserved,
        Self::PaymentAuthorized,
        Self::Confirmed,
        Self::Shipped,
        Self::Rejected,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::StockReserved => "stock_reserved",
            Self::PaymentAuthorized => "payment_authorized",
            Self::Confirmed => "confirmed",
            Self::Shipped => "shipped",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Shipped | Self::Rejected | Self::Cancelled)
    }
}

/// How a compensated order ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Rejected(Reason),
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    OutOfStock,
    PaymentDeclined,
    PaymentFailed,
    TimedOut,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutOfStock => "out-of-stock",
            Self::PaymentDeclined => "payment-declined",
            Self::PaymentFailed => "payment-failed",
            Self::TimedOut => "timed-out",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::OutOfStock, Self::PaymentDeclined, Self::PaymentFailed, Self::TimedOut]
            .into_iter()
            .find(|reason| reason.as_str() == text)
    }
}

/// A saga's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saga {
    pub phase: Phase,
    /// In `Undoing`: the stock still to be given back...
    pub undo_stock: bool,
    /// ...and the payment still to be voided or refunded.
    pub undo_payment: bool,
    /// In `Undoing` and `StoppingShipment`: how the order will end.
    pub ending: Option<Ending>,
    /// The public status as it stood before compensation began (compensation changes it only
    /// when the order ends).
    pub status: Status,
}

impl Saga {
    /// An accepted order: its stock is being reserved.
    pub fn start() -> Self {
        Self { phase: Phase::Reserving, undo_stock: false, undo_payment: false, ending: None, status: Status::Pending }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    StockReserved,
    StockUnavailable,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentFailed,
    StockCommitted,
    ReservationLapsed,
    PaymentCaptured,
    PaymentCaptureFailed,
    StockReleased,
    PaymentCancelled,
    /// The carrier has the parcel (a status of dispatched or later).
    ShipmentDispatched,
    ShipmentCancelled,
    ShipmentNotCancellable,
    /// The customer asked to cancel.
    CancelRequested,
    /// The current step's timer came due.
    TimedOut,
}

/// A command the saga sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    ReserveStock,
    AuthorizePayment,
    CommitStock,
    CapturePayment,
    ReleaseStock,
    CancelPayment,
    CancelShipment,
}

/// An event the saga publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    Confirmed,
    Shipped,
    Rejected(Reason),
    Cancelled,
}

/// What to do with the order's step timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Set it (again) for the new step.
    Set,
    Cancel,
}

/// One step of the saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub saga: Saga,
    pub send: Vec<Command>,
    pub publish: Option<Publish>,
    pub timer: Timer,
    /// What the timeline says about it.
    pub note: &'static str,
}

/// The saga's next step after `input`; `None` when the phase does not expect it.
pub fn step(saga: &Saga, input: Input) -> Option<Transition> {
    use Input as I;
    use Phase as P;
    let forward = |phase, status, send: Command, note| Transition {
        saga: Saga { phase, status, ..saga.clone() },
        send: vec![send],
        publish: None,
        timer: Timer::Set,
        note,
    };
    match (saga.phase, input) {
        (P::Reserving, I::StockReserved) => {
            Some(forward(P::Authorizing, Status::StockReserved, Command::AuthorizePayment, "stock reserved"))
        }
        (P::Reserving, I::StockUnavailable) => Some(end(Ending::Rejected(Reason::OutOfStock), "out of stock")),
        (P::Authorizing, I::PaymentAuthorized) => {
            Some(forward(P::Committing, Status::PaymentAuthorized, Command::CommitStock, "payment authorized"))
        }
        (P::Authorizing, I::PaymentDeclined) => {
            Some(undo(saga, true, false, Ending::Rejected(Reason::PaymentDeclined), "payment declined"))
        }
        (P::Authorizing, I::PaymentFailed) => {
            Some(undo(saga, true, false, Ending::Rejected(Reason::PaymentFailed), "payment failed"))
        }
        (P::Committing, I::StockCommitted) => {
            Some(forward(P::Capturing, saga.status, Command::CapturePayment, "stock committed"))
        }
        (P::Committing, I::ReservationLapsed) => {
            Some(undo(saga, false, true, Ending::Rejected(Reason::TimedOut), "the stock reservation lapsed"))
        }
        (P::Capturing, I::PaymentCaptured) => Some(Transition {
            saga: Saga { phase: P::Confirmed, status: Status::Confirmed, ..saga.clone() },
            send: Vec::new(),
            publish: Some(Publish::Confirmed),
            timer: Timer::Cancel,
            note: "payment captured: confirmed",
        }),
        (P::Capturing, I::PaymentCaptureFailed) => {
            Some(undo(saga, true, true, Ending::Rejected(Reason::PaymentFailed), "payment capture failed"))
        }
        (P::Confirmed, I::ShipmentDispatched) => Some(shipped(saga)),
        (P::Confirmed, I::CancelRequested) => Some(Transition {
            saga: Saga { phase: P::StoppingShipment, ending: Some(Ending::Cancelled), ..saga.clone() },
            send: vec![Command::CancelShipment],
            publish: None,
            timer: Timer::Set,
            note: "cancellation requested: stopping the shipment",
        }),
        (P::StoppingShipment, I::ShipmentCancelled) => {
            Some(undo(saga, true, true, Ending::Cancelled, "shipment stopped"))
        }
        (P::StoppingShipment, I::ShipmentNotCancellable) => {
            Some(Transition { note: "too late to cancel: the carrier has the parcel", ..shipped(saga) })
        }
        (P::Undoing, I::StockReleased) if saga.undo_stock => {
            Some(undone(saga, false, saga.undo_payment, "stock released"))
        }
        (P::Undoing, I::PaymentCancelled) if saga.undo_payment => {
            Some(undone(saga, saga.undo_stock, false, "payment voided or refunded"))
        }
        // Before confirmation, a cancellation undoes whatever may have been done: a command in
        // flight is overtaken safely (inventory and payments refuse what comes after an undo).
        (P::Reserving, I::CancelRequested) => {
            Some(undo(saga, true, false, Ending::Cancelled, "cancellation requested"))
        }
        (P::Authorizing | P::Committing | P::Capturing, I::CancelRequested) => {
            Some(undo(saga, true, true, Ending::Cancelled, "cancellation requested"))
        }
        (P::Reserving, I::TimedOut) => {
            Some(undo(saga, true, false, Ending::Rejected(Reason::TimedOut), "reservation timed out"))
        }
        (P::Authorizing | P::Committing | P::Capturing, I::TimedOut) => {
            Some(undo(saga, true, true, Ending::Rejected(Reason::TimedOut), "step timed out"))
        }
        // Undos are idempotent: one that is not answered in time is sent again, until it is.
        (P::Undoing, I::TimedOut) => Some(Transition {
            saga: saga.clone(),
            send: undo_commands(saga.undo_stock, saga.undo_payment),
            publish: None,
            timer: Timer::Set,
            note: "undo not yet answered: sent again",
        }),
        (P::StoppingShipment, I::TimedOut) => Some(Transition {
            saga: saga.clone(),
            send: vec![Command::CancelShipment],
            publish: None,
            timer: Timer::Set,
            note: "shipment stop not yet answered: sent again",
        }),
        _ => None,
    }
}

fn shipped(saga: &Saga) -> Transition {
    Transition {
        saga: Saga { phase: Phase::Shipped, status: Status::Shipped, ending: None, ..saga.clone() },
        send: Vec::new(),
        publish: Some(Publish::Shipped),
        timer: Timer::Cancel,
        note: "shipped",
    }
}

fn undo_commands(stock: bool, payment: bool) -> Vec<Command> {
    let mut send = Vec::new();
    if payment {
        send.push(Command::CancelPayment);
    }
    if stock {
        send.push(Command::ReleaseStock);
    }
    send
}

/// Starts compensating: undoes the stock and/or the payment, to end in `ending`.
fn undo(saga: &Saga, stock: bool, payment: bool, ending: Ending, note: &'static str) -> Transition {
    if !stock && !payment {
        return end(ending, note);
    }
    Transition {
        saga: Saga {
            phase: Phase::Undoing,
            undo_stock: stock,
            undo_payment: payment,
            ending: Some(ending),
            ..saga.clone()
        },
        send: undo_commands(stock, payment),
        publish: None,
        timer: Timer::Set,
        note,
    }
}

/// One undo answered: wait for the rest, or end.
fn undone(saga: &Saga, stock: bool, payment: bool, note: &'static str) -> Transition {
    if stock || payment {
        return Transition {
            saga: Saga { undo_stock: stock, undo_payment: payment, ..saga.clone() },
            send: Vec::new(),
            publish: None,
            timer: Timer::Set,
            note,
        };
    }
    let ending = saga.ending.clone().unwrap_or(Ending::Cancelled);
    end(ending, note)
}

fn end(ending: Ending, note: &'static str) -> Transition {
    let (phase, status, publish) = match ending {
        Ending::Rejected(reason) => (Phase::Rejected, Status::Rejected, Publish::Rejected(reason)),
        Ending::Cancelled => (Phase::Cancelled, Status::Cancelled, Publish::Cancelled),
    };
    Transition {
        saga: Saga { phase, status, ending: Some(ending), undo_stock: false, undo_payment: false },
        send: Vec::new(),
        publish: Some(publish),
        timer: Timer::Cancel,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUTS: [Input; 16] = [
        Input::StockReserved,
        Input::StockUnavailable,
        Input::PaymentAuthorized,
        Input::PaymentDeclined,
        Input::PaymentFailed,
        Input::StockCommitted,
        Input::ReservationLapsed,
        Input::PaymentCaptured,
        Input::PaymentCaptureFailed,
        Input::StockReleased,
        Input::PaymentCancelled,
        Input::ShipmentDispatched,
        Input::ShipmentCancelled,
        Input::ShipmentNotCancellable,
        Input::CancelRequested,
        Input::TimedOut,
    ];

    fn run(inputs: &[Input]) -> (Saga, Vec<Command>, Vec<Publish>) {
        let mut saga = Saga::start();
        let (mut sent, mut published) = (vec![Command::ReserveStock], Vec::new());
        for input in inputs {
            let next = step(&saga, *input).unwrap_or_else(|| panic!("{input:?} unexpected in {:?}", saga.phase));
            sent.extend(next.send);
            published.extend(next.publish);
            saga = next.saga;
        }
        (saga, sent, published)
    }

    #[test]
    fn the_happy_path_reserves_authorizes_commits_captures_and_ships() {
        use Input as I;
        let (saga, sent, published) = run(&[
            I::StockReserved,
            I::PaymentAuthorized,
            I::StockCommitted,
            I::PaymentCaptured,
            I::ShipmentDispatched,
        ]);
        assert_eq!((saga.phase, saga.status), (Phase::Shipped, Status::Shipped));
        use Command as C;
        assert_eq!(sent, [C::ReserveStock, C::AuthorizePayment, C::CommitStock, C::CapturePayment]);
        assert_eq!(published, [Publish::Confirmed, Publish::Shipped]);
    }

    #[test]
    fn no_stock_rejects_with_nothing_to_undo() {
        let (saga, sent, published) = run(&[Input::StockUnavailable]);
        assert_eq!(saga.status, Status::Rejected);
        assert_eq!(sent, [Command::ReserveStock]);
        assert_eq!(published, [Publish::Rejected(Reason::OutOfStock)]);
    }

    #[test]
    fn a_declined_payment_releases_the_stock_then_rejects() {
        let (saga, sent, published) = run(&[Input::StockReserved, Input::PaymentDeclined]);
        assert_eq!(
            (saga.phase, saga.status),
            (Phase::Undoing, Status::StockReserved),
            "not rejected before the release"
        );
        assert!(published.is_empty());
        assert_eq!(sent.last(), Some(&Command::ReleaseStock));
        let (saga, _, published) = run(&[Input::StockReserved, Input::PaymentDeclined, Input::StockReleased]);
        assert_eq!(saga.status, Status::Rejected);
        assert_eq!(published, [Publish::Rejected(Reason::PaymentDeclined)]);
    }

    #[test]
    fn a_timeout_undoes_everything_that_may_have_been_done() {
        let (saga, sent, _) = run(&[Input::StockReserved, Input::TimedOut]);
        assert_eq!((saga.undo_stock, saga.undo_payment), (true, true));
        assert_eq!(&sent[2..], [Command::CancelPayment, Command::ReleaseStock]);
        // Unanswered undos are sent again; the order ends only when both are answered.
        let (saga, sent, _) = run(&[Input::StockReserved, Input::TimedOut, Input::StockReleased, Input::TimedOut]);
        assert_eq!(saga.phase, Phase::Undoing);
        assert_eq!(sent.last(), Some(&Command::CancelPayment));
        let (saga, _, published) =
            run(&[Input::StockReserved, Input::TimedOut, Input::PaymentCancelled, Input::StockReleased]);
        assert_eq!(saga.status, Status::Rejected);
        assert_eq!(published, [Publish::Rejected(Reason::TimedOut)]);
    }

    #[test]
    fn a_cancellation_after_confirmation_stops_the_shipment_first() {
        use Input as I;
        let paid = [I::StockReserved, I::PaymentAuthorized, I::StockCommitted, I::PaymentCaptured, I::CancelRequested];
        let (saga, sent, _) = run(&paid);
        assert_eq!((saga.phase, sent.last()), (Phase::StoppingShipment, Some(&Command::CancelShipment)));
        let mut stopped = paid.to_vec();
        stopped.extend([I::ShipmentCancelled, I::StockReleased, I::PaymentCancelled]);
        let (saga, _, published) = run(&stopped);
        assert_eq!(saga.status, Status::Cancelled);
        assert_eq!(published, [Publish::Confirmed, Publish::Cancelled]);
        let mut too_late = paid.to_vec();
        too_late.push(I::ShipmentNotCancellable);
        let (saga, _, published) = run(&too_late);
        assert_eq!(saga.status, Status::Shipped);
        assert_eq!(published, [Publish::Confirmed, Publish::Shipped]);
    }

    #[test]
    fn terminal_orders_ignore_everything() {
        for ended in [&[Input::StockUnavailable][..], &[Input::CancelRequested, Input::StockReleased]] {
            let (saga, _, _) = run(ended);
            assert!(saga.status.is_terminal());
            for input in INPUTS {
                assert_eq!(step(&saga, input), None, "{input:?} after {:?}", saga.phase);
            }
        }
    }

    /// Whatever arrives in whatever order, every phase either ignores it or moves to a phase
    /// that is terminal or waits under a timer, and never undoes what it does not owe.
    #[test]
    fn every_reachable_state_is_terminal_or_timed() {
        let mut seen = vec![Saga::start()];
        let mut frontier = seen.clone();
        while let Some(saga) = frontier.pop() {
            for input in INPUTS {
                let Some(next) = step(&saga, input) else { continue };
                let waits = next.saga.phase.is_in_progress();
                assert_eq!(next.timer == Timer::Set, waits, "{:?} --{input:?}--> {:?}", saga.phase, next.saga.phase);
                assert_eq!(next.saga.phase == Phase::Undoing, next.saga.undo_stock || next.saga.undo_payment);
                if !seen.contains(&next.saga) {
                    seen.push(next.saga.clone());
                    frontier.push(next.saga);
                }
            }
        }
        assert!(seen.len() > 12, "{} states", seen.len());
    }

    #[test]
    fn names_round_trip() {
        for phase in Phase::ALL {
            assert_eq!(Phase::parse(phase.as_str()), Some(phase));
        }
        for reason in [Reason::OutOfStock, Reason::PaymentDeclined, Reason::PaymentFailed, Reason::TimedOut] {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
        }
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
    }
}
