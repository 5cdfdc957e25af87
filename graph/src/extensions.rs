//! The extension points a domain registers with at start-up (DESIGN.md §5): job handlers
//! and periodic jobs, booking lifecycle hooks, inbound-webhook handlers. Infrastructure:
//! imports no domain; the list of domains is in [`crate::domains`].

use crate::inbound::InboundHandlers;
use crate::jobs::JobRegistry;
use crate::lifecycle::BookingHooks;

/// Everything domains registered.
#[derive(Default, Clone)]
pub struct Extensions {
    /// Job handlers (kind → handler) and periodic jobs.
    pub jobs: JobRegistry,
    /// Booking lifecycle hooks, in order.
    pub booking_hooks: BookingHooks,
    /// Inbound-webhook handlers by plugin id.
    pub inbound: InboundHandlers,
}
