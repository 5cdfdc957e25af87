//! SeaORM entities for Servicegraph: one module per table.
//!
//! Every tenant-owned table carries a `tenant_id` column and implements [`TenantOwned`],
//! which the graph crate's tenant-scoped query helper uses so that every query carries the
//! tenant filter (DESIGN.md §4, wall 2). Instants are `DateTimeUtc` (UTC); money is an
//! integer count of minor units (`*_cents`).

pub mod agent_key;
pub mod assistant_settings;
pub mod availability_override;
pub mod booking;
pub mod booking_item;
pub mod by_index;
pub mod calendar_busy_block;
pub mod calendar_calendar;
pub mod calendar_connection;
pub mod calendar_event_link;
pub mod calendar_oauth_state;
pub mod call;
pub mod conversation;
pub mod customer;
pub mod email;
pub mod idempotency_key;
pub mod kinds;
pub mod message;
pub mod message_template;
pub mod messaging_settings;
pub mod notification;
pub mod outbox_message;
pub mod payment;
pub mod periodic_job;
pub mod plugin_config;
pub mod provider_route;
pub mod refresh_token;
pub mod refund;
pub mod service;
pub mod service_addon;
pub mod slot_hold;
pub mod staff_member;
pub mod staff_service;
pub mod tenant;
pub mod time_off;
pub mod user;
pub mod webhook_event;
pub mod working_hours;

pub use kinds::{
    AfterHoursMode, AssistantMode, BookingSource, BookingStatus, CallIntent, CallOutcome,
    CallStatus, JobStatus, MessageDirection, MessageKind, MessageStatus, PaymentKind,
    PaymentMethod, PaymentStatus, PhoneBookingMode, TenantStatus,
};

use sea_orm::EntityTrait;

/// An entity whose rows belong to one tenant.
pub trait TenantOwned: EntityTrait {
    /// The `tenant_id` column of this table.
    fn tenant_column() -> Self::Column;
}

macro_rules! tenant_owned {
    ($($module:ident),*) => {
        $(impl TenantOwned for $module::Entity {
            fn tenant_column() -> Self::Column {
                $module::Column::TenantId
            }
        })*
    };
}

tenant_owned!(
    agent_key,
    availability_override,
    booking,
    booking_item,
    idempotency_key,
    slot_hold,
    staff_service,
    time_off,
    customer,
    refresh_token,
    service,
    service_addon,
    staff_member,
    user,
    working_hours,
    notification,
    outbox_message,
    payment,
    plugin_config,
    provider_route,
    refund,
    webhook_event,
    conversation,
    message,
    messaging_settings,
    message_template,
    email,
    calendar_connection,
    calendar_calendar,
    calendar_busy_block,
    calendar_event_link,
    calendar_oauth_state,
    call,
    assistant_settings
);
