//! Who is calling: [`RequestCtx`] and [`Principal`].
//!
//! The HTTP edge builds a [`Session`] from the `Authorization` header (or the WebSocket
//! `connection_init` payload) and puts it into the GraphQL request data. Services receive
//! a `&RequestCtx` as their first parameter and take the tenant id only from it.

use async_graphql::Enum;
use uuid::Uuid;

use crate::error::ApiError;

/// Role of a user within a tenant.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Owns the business: everything, including users and billing.
    Owner,
    /// Runs the business day to day: catalog, staff, customers, all bookings.
    Manager,
    /// Does the work: sees and changes only the bookings assigned to their staff member.
    Technician,
}

impl Role {
    /// The stored (and JWT) spelling: `OWNER`, `MANAGER`, `TECHNICIAN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "OWNER",
            Role::Manager => "MANAGER",
            Role::Technician => "TECHNICIAN",
        }
    }

    /// Parses the stored spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "OWNER" => Some(Role::Owner),
            "MANAGER" => Some(Role::Manager),
            "TECHNICIAN" => Some(Role::Technician),
            _ => None,
        }
    }
}

/// The authenticated actor behind a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A logged-in user of the tenant.
    User {
        /// The user's id.
        user_id: Uuid,
        /// The user's role.
        role: Role,
        /// The staff member linked to this user, if any (technicians see only its bookings).
        staff_member_id: Option<Uuid>,
    },
    /// An anonymous visitor of the tenant's public booking page (tenant chosen by slug).
    Public,
    /// A machine principal (AI voice agent) authenticated with an agent key: books,
    /// reschedules and cancels on a caller's behalf, under the customer rules (slot grid,
    /// cancellation notice).
    Agent {
        /// The agent key used.
        key_id: Uuid,
    },
}

/// Tenant and principal of one request; the only source of `tenant_id` for services.
#[derive(Clone, Debug)]
pub struct RequestCtx {
    /// The tenant every query of this request is scoped to.
    pub tenant_id: Uuid,
    /// Who is acting.
    pub principal: Principal,
    /// Correlates log lines of one request.
    pub request_id: String,
}

impl RequestCtx {
    /// The role of a user principal, `None` for the public.
    pub fn role(&self) -> Option<Role> {
        match &self.principal {
            Principal::User { role, .. } => Some(*role),
            Principal::Public | Principal::Agent { .. } => None,
        }
    }

    /// Whether the caller is an agent.
    pub fn is_agent(&self) -> bool {
        matches!(self.principal, Principal::Agent { .. })
    }

    /// The user id of a user principal.
    pub fn user_id(&self) -> Option<Uuid> {
        match &self.principal {
            Principal::User { user_id, .. } => Some(*user_id),
            Principal::Public | Principal::Agent { .. } => None,
        }
    }

    /// For technicians: `Some(staff member id or None when unlinked)`; for others `None`
    /// (no restriction).
    pub fn technician_scope(&self) -> Option<Option<Uuid>> {
        match &self.principal {
            Principal::User {
                role: Role::Technician,
                staff_member_id,
                ..
            } => Some(*staff_member_id),
            _ => None,
        }
    }

    /// Fails with `FORBIDDEN` unless the principal is a user with one of `roles`.
    pub fn require_role(&self, roles: &[Role]) -> Result<(), ApiError> {
        match self.role() {
            Some(r) if roles.contains(&r) => Ok(()),
            Some(_) => Err(ApiError::Forbidden(
                "your role does not allow this operation".into(),
            )),
            None if self.is_agent() => Err(ApiError::Forbidden(
                "agents cannot perform this operation".into(),
            )),
            None => Err(ApiError::Unauthenticated),
        }
    }
}

/// What the HTTP edge knows about a request before any resolver runs.
#[derive(Clone, Debug, Default)]
pub struct Session {
    /// Set when a valid access token was presented.
    pub auth: Option<RequestCtx>,
    /// Request id (from `X-Request-Id` or generated).
    pub request_id: String,
    /// The client's address (the socket peer, or the forwarded client when the server
    /// trusts its proxy), for per-client limits.
    pub client_ip: Option<std::net::IpAddr>,
}

impl Session {
    /// The authenticated context, or `UNAUTHENTICATED`.
    pub fn require_user(&self) -> Result<&RequestCtx, ApiError> {
        self.auth.as_ref().ok_or(ApiError::Unauthenticated)
    }

    /// A public context for `tenant_id` carrying this request's id.
    pub fn public_for(&self, tenant_id: Uuid) -> RequestCtx {
        RequestCtx {
            tenant_id,
            principal: Principal::Public,
            request_id: self.request_id.clone(),
        }
    }
}
