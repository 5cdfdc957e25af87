//! Queries: `me`, `tenant`.

use async_graphql::{Context, ID, Object};

use super::service;
use super::types::{Me, Tenant, User};
use crate::state::{caller, state};

/// Auth and tenancy queries.
#[derive(Default)]
pub struct AuthQuery;

/// Auth and tenancy queries.
#[Object]
impl AuthQuery {
    /// The logged-in user, their tenant and linked staff member. Errors: `UNAUTHENTICATED`.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Me> {
        let rc = caller(ctx)?;
        let (user, tenant) = service::me(state(ctx)?, rc).await?;
        let staff_member_id = match &rc.principal {
            crate::context::Principal::User {
                staff_member_id, ..
            } => staff_member_id.map(|s| ID(s.to_string())),
            crate::context::Principal::Public | crate::context::Principal::Agent { .. } => None,
        };
        Ok(Me {
            user: User(user),
            tenant: Tenant(tenant),
            staff_member_id,
        })
    }

    /// The caller's tenant. Errors: `UNAUTHENTICATED`.
    async fn tenant(&self, ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
        let rc = caller(ctx)?;
        Ok(Tenant(service::tenant(state(ctx)?, rc.tenant_id).await?))
    }
}
