//! Role guards for resolvers: `#[graphql(guard = "RoleGuard::new(MANAGE)")]`.
//!
//! A guard fails with `UNAUTHENTICATED` for anonymous callers and `FORBIDDEN` for users
//! whose role is not listed. Services re-check where a rule depends on data (e.g. a
//! technician's own bookings).

use async_graphql::{Context, Guard};

use crate::context::Role;
use crate::state::caller;

/// Owners and managers: the roles that run the business.
pub const MANAGE: &[Role] = &[Role::Owner, Role::Manager];

/// Every user role (not agents, not anonymous callers).
pub const USERS: &[Role] = &[Role::Owner, Role::Manager, Role::Technician];

/// Owners only: users, plugins and credentials, billing.
pub const OWNER: &[Role] = &[Role::Owner];

/// Admits users with one of `roles` (and, when built with [`RoleGuard::or_agent`],
/// agents).
pub struct RoleGuard {
    roles: &'static [Role],
    agents: bool,
}

impl RoleGuard {
    /// A guard for `roles`.
    pub fn new(roles: &'static [Role]) -> RoleGuard {
        RoleGuard {
            roles,
            agents: false,
        }
    }

    /// A guard for `roles` that also admits agents (booking operations a voice agent
    /// performs on a caller's behalf).
    pub fn or_agent(roles: &'static [Role]) -> RoleGuard {
        RoleGuard {
            roles,
            agents: true,
        }
    }
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let rc = caller(ctx)?;
        if self.agents && rc.is_agent() {
            return Ok(());
        }
        rc.require_role(self.roles)?;
        Ok(())
    }
}
