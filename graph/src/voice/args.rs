//! The arguments of each voice tool: the one source of the tool contract. Each type is
//! a GraphQL input object (so its documentation is in the published SDL) and the
//! serde shape the tool layer reads; [`super::schema`] turns the GraphQL description
//! of each into an OpenAI function tool (`agentTools`). The type's doc comment is the
//! tool's description, each field's doc comment its parameter's description, a
//! non-null field a required parameter. Field names are snake_case, as voice platforms
//! send them. Times are the tenant's local wall-clock time. `runAgentTool` takes them
//! (one per call), which puts them into the schema.

use async_graphql::InputObject;
use serde::{Deserialize, Serialize};

/// Checks which start times are free for a service on one day (the business's local
/// time). With `time`, says whether that time is free and otherwise offers the nearest
/// free times that day.
#[derive(InputObject, Deserialize, Serialize, Debug, Clone)]
#[graphql(rename_fields = "snake_case")]
#[serde(deny_unknown_fields)]
pub struct CheckAvailabilityArgs {
    /// The service, by name (case-insensitive) or id.
    pub service: String,
    /// The day, `YYYY-MM-DD`, in the business's local time.
    pub date: String,
    /// The preferred start, `HH:MM` (24-hour, local time), or null for the whole day.
    pub time: Option<String>,
    /// A staff member, by name or id, or null for anyone who performs the service.
    pub staff: Option<String>,
}

/// Books an appointment for the caller at a local date and time (confirm service, day,
/// time and staff with the caller first). When the time is taken, nothing is booked and
/// the nearest free times that day are offered.
#[derive(InputObject, Deserialize, Serialize, Debug, Clone)]
#[graphql(rename_fields = "snake_case")]
#[serde(deny_unknown_fields)]
pub struct BookAppointmentArgs {
    /// The service, by name (case-insensitive) or id.
    pub service: String,
    /// The day, `YYYY-MM-DD`, in the business's local time.
    pub date: String,
    /// The start, `HH:MM` (24-hour, local time).
    pub time: String,
    /// The customer's full name.
    pub customer_name: String,
    /// The customer's phone number (E.164, e.g. +14155550123), or null for the number
    /// the caller is calling from.
    pub customer_phone: Option<String>,
    /// A staff member, by name or id, or null for anyone who performs the service.
    pub staff: Option<String>,
    /// Anything the business should know (at most 2000 characters), or null.
    pub notes: Option<String>,
}

/// Lists the caller's upcoming appointments (for the number they are calling from),
/// with the appointment ids that rescheduling and canceling need.
#[derive(InputObject, Deserialize, Serialize, Debug, Clone)]
#[graphql(rename_fields = "snake_case")]
#[serde(deny_unknown_fields)]
pub struct FindAppointmentsArgs {
    /// The customer's phone number (E.164), or null for the caller's number. Only the
    /// caller's own number is looked up.
    pub customer_phone: Option<String>,
}

/// Moves one of the caller's appointments to another local date and time (under the
/// business's cancellation notice). When the time is taken, nothing changes and the
/// nearest free times that day are offered.
#[derive(InputObject, Deserialize, Serialize, Debug, Clone)]
#[graphql(rename_fields = "snake_case")]
#[serde(deny_unknown_fields)]
pub struct RescheduleAppointmentArgs {
    /// The appointment id, from find_appointments or book_appointment.
    pub appointment_id: String,
    /// The new day, `YYYY-MM-DD`, in the business's local time.
    pub date: String,
    /// The new start, `HH:MM` (24-hour, local time).
    pub time: String,
}

/// Cancels one of the caller's appointments (under the business's cancellation
/// notice).
#[derive(InputObject, Deserialize, Serialize, Debug, Clone)]
#[graphql(rename_fields = "snake_case")]
#[serde(deny_unknown_fields)]
pub struct CancelAppointmentArgs {
    /// The appointment id, from find_appointments or book_appointment.
    pub appointment_id: String,
    /// Why the caller cancels (at most 500 characters), or null.
    pub reason: Option<String>,
}

/// Answers questions about the business: opening hours, address, services, prices and
/// policies.
#[derive(InputObject, Deserialize, Serialize, Debug, Clone)]
#[graphql(rename_fields = "snake_case")]
#[serde(deny_unknown_fields)]
pub struct BusinessInfoArgs {
    /// What the caller asks about: hours, address, services, prices, policies, or the
    /// question in their words; null for an overview.
    pub topic: Option<String>,
}

/// Hands the call over to a person at the business (when the caller asks for one, or
/// the assistant cannot help).
#[derive(InputObject, Deserialize, Serialize, Debug, Clone)]
#[graphql(rename_fields = "snake_case")]
#[serde(deny_unknown_fields)]
pub struct TransferToHumanArgs {
    /// Why the call is handed over (at most 500 characters), or null.
    pub reason: Option<String>,
}

/// Input of `runAgentTool`: exactly one of the tool fields, plus the call's context.
#[derive(InputObject, Debug, Clone, Default)]
pub struct RunAgentToolInput {
    /// The voice platform's tool-call id (1–255 characters): a repeat with the same id
    /// returns the first result and never acts twice. Null: no such guarantee.
    pub tool_call_id: Option<String>,
    /// The number the caller is calling from (E.164), as the voice platform reports
    /// it; null when withheld. Appointments are looked up and changed only for it.
    pub caller_phone: Option<String>,
    /// Run `check_availability`.
    pub check_availability: Option<CheckAvailabilityArgs>,
    /// Run `book_appointment`.
    pub book_appointment: Option<BookAppointmentArgs>,
    /// Run `find_appointments`.
    pub find_appointments: Option<FindAppointmentsArgs>,
    /// Run `reschedule_appointment`.
    pub reschedule_appointment: Option<RescheduleAppointmentArgs>,
    /// Run `cancel_appointment`.
    pub cancel_appointment: Option<CancelAppointmentArgs>,
    /// Run `business_info`.
    pub business_info: Option<BusinessInfoArgs>,
    /// Run `transfer_to_human`.
    pub transfer_to_human: Option<TransferToHumanArgs>,
}

impl RunAgentToolInput {
    /// The one tool chosen, as `(tool name, arguments)`; `None` unless exactly one
    /// tool field is set.
    pub fn chosen(&self) -> Option<(&'static str, serde_json::Value)> {
        fn arg<T: Serialize>(
            name: &'static str,
            v: &Option<T>,
        ) -> Option<(&'static str, serde_json::Value)> {
            v.as_ref()
                .and_then(|a| serde_json::to_value(a).ok())
                .map(|a| (name, a))
        }
        let set: Vec<(&'static str, serde_json::Value)> = [
            arg("check_availability", &self.check_availability),
            arg("book_appointment", &self.book_appointment),
            arg("find_appointments", &self.find_appointments),
            arg("reschedule_appointment", &self.reschedule_appointment),
            arg("cancel_appointment", &self.cancel_appointment),
            arg("business_info", &self.business_info),
            arg("transfer_to_human", &self.transfer_to_human),
        ]
        .into_iter()
        .flatten()
        .collect();
        match <[_; 1]>::try_from(set) {
            Ok([one]) => Some(one),
            Err(_) => None,
        }
    }
}
