//! Customers: the tenant's clients.

pub mod service;
pub mod types;

use async_graphql::{Context, ID, Object};

use crate::guards::{MANAGE, RoleGuard};
use crate::pagination::{Page, PageArgs};
use crate::state::{caller, state};
use crate::util::parse_id;
use types::{Customer, CustomerInput, CustomerPayload, UpdateCustomerInput};

/// Customer queries (owners and managers).
#[derive(Default)]
pub struct CustomerQuery;

/// Customer queries (owners and managers).
#[Object]
impl CustomerQuery {
    /// Customers by name. `search` matches name, email or phone, case-insensitively.
    /// Errors: `UNAUTHENTICATED`, `FORBIDDEN` (technicians), `BAD_USER_INPUT`.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "RoleGuard::or_agent(MANAGE)",
        complexity = "crate::cost::page(first, last, child_complexity)"
    )]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Substring of name, email or phone.")] search: Option<String>,
        #[graphql(default = false, desc = "Include archived customers.")] include_archived: bool,
        #[graphql(desc = "Page forward: at most this many (0–100, default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Page forward: after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page backward: at most this many (0–100).")] last: Option<i32>,
        #[graphql(desc = "Page backward: before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Page<Customer>> {
        let rc = caller(ctx)?;
        let args = PageArgs::of(ctx, first, after, last, before);
        let st = state(ctx)?;
        let tx = st.db.read(rc.tenant_id).await?;
        let page = service::list(&*tx, rc, search, include_archived, args).await?;
        tx.commit().await?;
        Ok(page.into_page(Customer))
    }

    /// One customer. Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::or_agent(MANAGE)")]
    async fn customer(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Customer> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(Customer(service::get(state(ctx)?, rc, id).await?))
    }
}

/// Customer mutations (owners and managers).
#[derive(Default)]
pub struct CustomerMutation;

/// Customer mutations (owners and managers).
#[Object]
impl CustomerMutation {
    /// Adds a customer. Errors: `UNAUTHENTICATED`, `FORBIDDEN`. User errors:
    /// `INVALID_INPUT`, `INVALID_PHONE`, `INVALID_EMAIL`, `PHONE_TAKEN`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn create_customer(
        &self,
        ctx: &Context<'_>,
        input: CustomerInput,
    ) -> async_graphql::Result<CustomerPayload> {
        let rc = caller(ctx)?;
        Ok(service::create(state(ctx)?, rc, input).await?.into())
    }

    /// Changes a customer; omitted fields are unchanged, empty strings clear optional
    /// ones. Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`. User errors as
    /// `createCustomer`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn update_customer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateCustomerInput,
    ) -> async_graphql::Result<CustomerPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(service::update(state(ctx)?, rc, id, input).await?.into())
    }

    /// Archives a customer: hidden from lists, history kept. Errors: `UNAUTHENTICATED`,
    /// `FORBIDDEN`, `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn archive_customer(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<CustomerPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(service::archive(state(ctx)?, rc, id).await?.into())
    }
}
