//! The extension points a domain registers with at start-up (DESIGN.md §5): job handlers
//! and periodic jobs, booking lifecycle hooks, inbound-webhook handlers. Infrastructure:
//! imports no domain; the list of domains is in [`crate::domains`].

use crate::inbound::InboundHandlers;
use crate::jobs::handler::JobRegistry;
use crate::lifecycle::hooks::BookingHooks;

/// Everything domains registered, over the shared state `S` their handlers receive
/// (`GraphState`).
pub struct Extensions<S> {
    /// Job handlers (kind → handler) and periodic jobs.
    pub jobs: JobRegistry<S>,
    /// Booking lifecycle hooks, in order.
    pub booking_hooks: BookingHooks<S>,
    /// Inbound-webhook handlers by plugin id.
    pub inbound: InboundHandlers<S>,
}

impl<S> Default for Extensions<S> {
    fn default() -> Self {
        Extensions {
            jobs: JobRegistry::default(),
            booking_hooks: BookingHooks::default(),
            inbound: InboundHandlers::default(),
        }
    }
}

impl<S> Clone for Extensions<S> {
    fn clone(&self) -> Self {
        Extensions {
            jobs: self.jobs.clone(),
            booking_hooks: self.booking_hooks.clone(),
            inbound: self.inbound.clone(),
        }
    }
}
