//! The service catalog: what can be booked, how long it takes and what it costs.

pub mod service;
pub mod types;

use async_graphql::{Context, ID, Object};

use crate::guards::{MANAGE, RoleGuard};
use crate::pagination::{Page, PageArgs};
use crate::state::{caller, state};
use crate::util::parse_id;
use types::{CreateServiceInput, Service, ServicePayload, UpdateServiceInput};

/// Catalog queries.
#[derive(Default)]
pub struct CatalogQuery;

/// Catalog queries.
#[Object]
impl CatalogQuery {
    /// The tenant's services, by `displayOrder` then name. Archived ones only with
    /// `includeArchived`. Any logged-in user. Errors: `UNAUTHENTICATED`, `BAD_USER_INPUT`
    /// (page size above 100, bad cursor).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::page(first, last, child_complexity)")]
    async fn services(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false, desc = "Include archived (inactive) services.")]
        include_archived: bool,
        #[graphql(desc = "Page forward: at most this many (0–100, default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Page forward: after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page backward: at most this many (0–100).")] last: Option<i32>,
        #[graphql(desc = "Page backward: before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Page<Service>> {
        let rc = caller(ctx)?;
        let args = PageArgs::of(ctx, first, after, last, before);
        let st = state(ctx)?;
        let tx = st.db.read(rc.tenant_id).await?;
        let page = service::list(&*tx, rc, include_archived, args).await?;
        tx.commit().await?;
        Ok(page.into_page(Service))
    }

    /// One service by id. Errors: `UNAUTHENTICATED`, `NOT_FOUND`.
    async fn service(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Service> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(Service(service::get(state(ctx)?, rc, id).await?))
    }
}

/// Catalog mutations (owners and managers).
#[derive(Default)]
pub struct CatalogMutation;

/// Catalog mutations (owners and managers).
#[Object]
impl CatalogMutation {
    /// Adds a service. Errors: `UNAUTHENTICATED`, `FORBIDDEN`. User errors:
    /// `INVALID_INPUT`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn create_service(
        &self,
        ctx: &Context<'_>,
        input: CreateServiceInput,
    ) -> async_graphql::Result<ServicePayload> {
        let rc = caller(ctx)?;
        Ok(ServicePayload::from(
            service::create(state(ctx)?, rc, input).await?,
        ))
    }

    /// Changes a service; omitted fields keep their value. Existing bookings keep their
    /// price and times. Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`. User errors:
    /// `INVALID_INPUT`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn update_service(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateServiceInput,
    ) -> async_graphql::Result<ServicePayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(ServicePayload::from(
            service::update(state(ctx)?, rc, id, input).await?,
        ))
    }

    /// Adds an add-on (extra time and price) to a service. Errors: `UNAUTHENTICATED`,
    /// `FORBIDDEN`, `NOT_FOUND`. User errors: `INVALID_INPUT`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn create_service_addon(
        &self,
        ctx: &Context<'_>,
        service_id: ID,
        input: types::ServiceAddonInput,
    ) -> async_graphql::Result<types::ServiceAddonPayload> {
        let rc = caller(ctx)?;
        let service_id = parse_id(&service_id, "serviceId")?;
        Ok(
            match service::create_addon(state(ctx)?, rc, service_id, input).await? {
                Ok(a) => types::ServiceAddonPayload {
                    addon: Some(types::ServiceAddon(a)),
                    user_errors: vec![],
                },
                Err(e) => types::ServiceAddonPayload {
                    addon: None,
                    user_errors: e,
                },
            },
        )
    }

    /// Archives an add-on: no longer bookable; existing bookings keep it. Errors:
    /// `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn archive_service_addon(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<types::ServiceAddonPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        let a = service::archive_addon(state(ctx)?, rc, id).await?;
        Ok(types::ServiceAddonPayload {
            addon: Some(types::ServiceAddon(a)),
            user_errors: vec![],
        })
    }

    /// Archives a service: it can no longer be booked; existing bookings stay. Errors:
    /// `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn archive_service(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ServicePayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        let input = UpdateServiceInput {
            active: Some(false),
            ..Default::default()
        };
        Ok(ServicePayload::from(
            service::update(state(ctx)?, rc, id, input).await?,
        ))
    }
}
