//! Stored statuses and kinds as enums: one definition per value set, used by the
//! entities, the services and (through `async_graphql::Enum`) the GraphQL schema. Each is
//! stored as its `SCREAMING_SNAKE_CASE` name in a text column, so rows written before
//! these enums existed read back unchanged.
//!
//! Hand-written beside the generated entity files (DESIGN.md §2).

use async_graphql::Enum;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Defines a stored enum: the GraphQL enum, the SeaORM active enum stored as its
/// `SCREAMING_SNAKE_CASE` name in a text column, and the same spelling in serde.
macro_rules! stored_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($body:tt)* }) => {
        #[derive(
            Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum,
            Serialize, Deserialize,
        )]
        #[sea_orm(
            rs_type = "String",
            db_type = "String(StringLen::None)",
            rename_all = "SCREAMING_SNAKE_CASE"
        )]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        $(#[$meta])*
        pub enum $name { $($body)* }
    };
}

stored_enum! {
/// Lifecycle of a booking: `PENDING → CONFIRMED → IN_PROGRESS → COMPLETED`, or
/// `CANCELED` (from `PENDING`/`CONFIRMED`) / `NO_SHOW` (from `CONFIRMED`).
pub enum BookingStatus {
    /// Requested, not yet confirmed.
    Pending,
    /// Confirmed; the slot is held.
    Confirmed,
    /// Work has started.
    InProgress,
    /// Work is done.
    Completed,
    /// Canceled; the slot is free again.
    Canceled,
    /// The customer did not show up.
    NoShow,
}
}

impl BookingStatus {
    /// Stored spelling (`PENDING`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Pending => "PENDING",
            BookingStatus::Confirmed => "CONFIRMED",
            BookingStatus::InProgress => "IN_PROGRESS",
            BookingStatus::Completed => "COMPLETED",
            BookingStatus::Canceled => "CANCELED",
            BookingStatus::NoShow => "NO_SHOW",
        }
    }

    /// Whether `self → to` is a legal transition of the lifecycle above.
    pub fn can_become(self, to: BookingStatus) -> bool {
        use BookingStatus::*;
        matches!(
            (self, to),
            (Pending, Confirmed)
                | (Pending, Canceled)
                | (Confirmed, InProgress)
                | (Confirmed, Canceled)
                | (Confirmed, NoShow)
                | (InProgress, Completed)
        )
    }

    /// Whether the booking still blocks its time (not `CANCELED`).
    pub fn blocks_time(self) -> bool {
        self != BookingStatus::Canceled
    }
}

stored_enum! {
/// Where a booking came from.
pub enum BookingSource {
    /// Created by a user in the operator app.
    Platform,
    /// Created by a customer on the public booking page.
    Public,
    /// Created by an AI voice agent.
    Agent,
    /// Entered by hand on a customer's behalf (e.g. taken over the phone).
    Manual,
}
}

impl BookingSource {
    /// Whether the customer (or an agent for them) made it: the slot grid applies and a
    /// cancellation token is issued.
    pub fn is_customer_facing(self) -> bool {
        matches!(self, BookingSource::Public | BookingSource::Agent)
    }
}

stored_enum! {
/// What a payment is for.
pub enum PaymentKind {
    /// Taken through Stripe Checkout when booking (or from a payment link).
    Deposit,
    /// The rest, charged to the saved card when the job is completed.
    Balance,
    /// Recorded by staff (cash, check, other).
    Manual,
    /// Paid through a payment link (`createPaymentLink`).
    Link,
}
}

stored_enum! {
/// How a payment was made.
pub enum PaymentMethod {
    /// Card, through Stripe.
    Card,
    /// Cash.
    Cash,
    /// Paper check.
    Check,
    /// Anything else.
    Other,
}
}

stored_enum! {
/// Where a payment or refund stands.
pub enum PaymentStatus {
    /// Waiting for the customer or the provider.
    Pending,
    /// Money moved.
    Succeeded,
    /// The charge or refund failed (see `failureCode`).
    Failed,
    /// The Checkout Session lapsed unpaid.
    Expired,
    /// Abandoned (the booking was canceled before payment).
    Canceled,
}
}

stored_enum! {
/// The tenant's subscription status with the platform.
#[graphql(name = "BillingStatus")]
pub enum TenantStatus {
    /// Free trial.
    Trial,
    /// Paid and current.
    Active,
    /// A payment failed: read access only, no new bookings.
    PastDue,
    /// Subscription ended: read access only, no new bookings.
    Canceled,
}
}

stored_enum! {
/// Where a job (a queued call to the outside world) stands.
pub enum JobStatus {
    /// Due at `next_attempt_at` (a claimed job is pending with its lease in the future).
    Pending,
    /// Done: the provider accepted it and the result was applied.
    Delivered,
    /// Given up (attempts exhausted or refused for good); its handler's `dead` ran.
    Dead,
    /// Canceled or replaced by its dedupe key before it ran.
    Canceled,
}
}

stored_enum! {
/// Which way a text message went.
pub enum MessageDirection {
    /// From the customer to the business.
    Inbound,
    /// From the business to the customer.
    Outbound,
}
}

stored_enum! {
/// Where a text message stands. Outbound: `QUEUED → SENDING → SENT → DELIVERED`, or
/// `UNDELIVERED` / `FAILED`; `SKIPPED` (never sent: opted out, over quota, quiet, or
/// the booking moved on) and `LOGGED` (recorded by the built-in log, not delivered).
/// Inbound: `RECEIVED`. Statuses only move forward (Twilio's callbacks can arrive out
/// of order).
pub enum MessageStatus {
    /// Waiting for the job queue.
    Queued,
    /// Handed to the provider, which has not sent it yet.
    Sending,
    /// Sent to the carrier.
    Sent,
    /// The carrier confirmed delivery.
    Delivered,
    /// The carrier could not deliver it.
    Undelivered,
    /// The provider refused or failed it.
    Failed,
    /// Not sent, on purpose (see `errorCode`).
    Skipped,
    /// Recorded by the built-in log instead of being sent (no SMS provider configured).
    Logged,
    /// Received from the customer.
    Received,
}
}

impl MessageStatus {
    /// Order of progress: a status may only replace one of lower rank.
    pub fn rank(self) -> u8 {
        match self {
            MessageStatus::Queued => 0,
            MessageStatus::Sending => 1,
            MessageStatus::Sent => 2,
            MessageStatus::Delivered
            | MessageStatus::Undelivered
            | MessageStatus::Failed
            | MessageStatus::Skipped
            | MessageStatus::Logged
            | MessageStatus::Received => 3,
        }
    }
}

stored_enum! {
/// Why a message was written: by an operator, or which automatic message it is.
pub enum MessageKind {
    /// Written by an operator, or received from the customer.
    Manual,
    /// Booking confirmed.
    Confirmation,
    /// Reminder some hours before the start.
    Reminder,
    /// The staff member is on the way.
    OnTheWay,
    /// The booking moved.
    Rescheduled,
    /// The booking was canceled.
    Canceled,
    /// Payment is still due after the work was completed.
    PaymentDue,
    /// The answer to HELP/INFO, or to STOP/START.
    Keyword,
    /// A voicemail left with the phone assistant (inbound; the recording's URL is in
    /// `mediaUrls`).
    Voicemail,
}
}

stored_enum! {
/// Where a phone call stands, after Twilio's `CallStatus`
/// (<https://www.twilio.com/docs/voice/api/call-resource#call-status-values>).
pub enum CallStatus {
    /// The assistant is talking with the caller.
    InProgress,
    /// The call ended normally.
    Completed,
    /// The line was busy.
    Busy,
    /// The call could not be connected.
    Failed,
    /// Nobody answered.
    NoAnswer,
    /// Hung up before it was answered.
    Canceled,
}
}

stored_enum! {
/// What a caller wanted, as the assistant's tool calls show it.
pub enum CallIntent {
    /// A new appointment.
    Book,
    /// Move an appointment.
    Reschedule,
    /// Cancel an appointment.
    Cancel,
    /// Hours, services, prices, policies.
    Question,
    /// Anything else.
    Other,
}
}

stored_enum! {
/// How a call ended.
pub enum CallOutcome {
    /// An appointment was booked (or requested, when the business approves bookings).
    Booked,
    /// An appointment was moved.
    Rescheduled,
    /// An appointment was canceled.
    Canceled,
    /// The caller's questions were answered; nothing changed.
    Answered,
    /// Handed over to a person (`<Dial>`).
    Transferred,
    /// The caller left a message.
    Voicemail,
    /// The caller hung up before anything was done.
    Abandoned,
}
}

stored_enum! {
/// What the phone assistant does outside business hours.
pub enum AfterHoursMode {
    /// Answers as during the day.
    Answer,
    /// Offers to take a message (`<Record>`), which lands in the call log.
    TakeMessage,
}
}

stored_enum! {
/// How the phone assistant talks with callers.
pub enum AssistantMode {
    /// Turn by turn: Twilio's speech recognition (`<Gather input="speech">`), Chat
    /// Completions, `<Say>`.
    Turn,
    /// Streaming: Twilio Media Streams (`<Connect><Stream>`) bridged to the OpenAI
    /// Realtime API, speech to speech (lower latency, barge-in).
    Stream,
}
}

stored_enum! {
/// How the phone assistant books.
pub enum PhoneBookingMode {
    /// Books directly (`CONFIRMED`).
    Book,
    /// Only requests: the booking is `PENDING` until an operator confirms it.
    Request,
}
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    #[test]
    fn stored_spellings_are_the_screaming_snake_names() {
        for s in BookingStatus::iter() {
            assert_eq!(s.to_value(), s.as_str());
        }
        assert_eq!(BookingStatus::InProgress.to_value(), "IN_PROGRESS");
        assert_eq!(BookingStatus::NoShow.to_value(), "NO_SHOW");
        assert_eq!(BookingSource::Agent.to_value(), "AGENT");
        assert_eq!(PaymentKind::Link.to_value(), "LINK");
        assert_eq!(PaymentMethod::Check.to_value(), "CHECK");
        assert_eq!(PaymentStatus::Succeeded.to_value(), "SUCCEEDED");
        assert_eq!(TenantStatus::PastDue.to_value(), "PAST_DUE");
        assert_eq!(JobStatus::Canceled.to_value(), "CANCELED");
        assert_eq!(
            BookingStatus::try_from_value(&"CONFIRMED".to_string()).ok(),
            Some(BookingStatus::Confirmed)
        );
        assert!(BookingStatus::try_from_value(&"confirmed".to_string()).is_err());
    }

    #[test]
    fn lifecycle_transitions() {
        use BookingStatus::*;
        assert!(Pending.can_become(Confirmed));
        assert!(Confirmed.can_become(NoShow));
        assert!(!Completed.can_become(Canceled));
        assert!(!Canceled.can_become(Confirmed));
        assert!(!Pending.can_become(InProgress));
    }
}
