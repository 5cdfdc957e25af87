//! GraphQL types of the catalog.

use async_graphql::{ID, InputObject, Object, SimpleObject};
use entities::service;

use crate::error::{Outcome, UserError};

/// A catalog item that customers book.
#[derive(Clone)]
pub struct Service(pub service::Model);

/// A catalog item that customers book.
#[Object]
impl Service {
    /// Service id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Longer description for the booking page.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// How long the service takes, in minutes.
    async fn duration_minutes(&self) -> i32 {
        self.0.duration_minutes
    }
    /// Price in minor units (cents) of the tenant's currency.
    async fn price_cents(&self) -> i64 {
        self.0.price_cents
    }
    /// False once archived: no longer bookable.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Sort key for display, ascending.
    async fn display_order(&self) -> i32 {
        self.0.display_order
    }
    /// Minutes blocked before each booking (preparation, travel).
    async fn buffer_before_minutes(&self) -> i32 {
        self.0.buffer_before_minutes
    }
    /// Minutes blocked after each booking (clean-up).
    async fn buffer_after_minutes(&self) -> i32 {
        self.0.buffer_after_minutes
    }
    /// Slot grid in minutes for this service; null = the tenant's default.
    async fn slot_interval_minutes(&self) -> Option<i32> {
        self.0.slot_interval_minutes
    }
    /// Minimum notice in minutes for this service; null = the tenant's default.
    async fn min_notice_minutes(&self) -> Option<i32> {
        self.0.min_notice_minutes
    }
    /// Bookable add-ons of this service, by name.
    async fn addons(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Vec<ServiceAddon>> {
        let loader = ctx.data::<crate::loaders::Loaders>()?;
        let rows = loader
            .load_one(crate::loaders::AddonsKey(self.0.tenant_id, self.0.id))
            .await
            .map_err(|e| crate::error::ApiError::Internal(e.to_string()))?
            .unwrap_or_default();
        Ok(rows.into_iter().map(ServiceAddon).collect())
    }
}

/// Input of `createService`.
#[derive(InputObject, Debug, Clone)]
pub struct CreateServiceInput {
    /// Display name, 1–200 characters.
    pub name: String,
    /// Longer description.
    pub description: Option<String>,
    /// Duration in minutes, 5–1440.
    pub duration_minutes: i32,
    /// Price in minor units (cents), 0 or more.
    pub price_cents: i64,
    /// Bookable; default true.
    pub active: Option<bool>,
    /// Sort key; default 0.
    pub display_order: Option<i32>,
    /// Minutes blocked before each booking, 0–720; default 0.
    pub buffer_before_minutes: Option<i32>,
    /// Minutes blocked after each booking, 0–720; default 0.
    pub buffer_after_minutes: Option<i32>,
    /// Slot grid in minutes (5, 10, 15, 20, 30 or 60); omitted or 0: the tenant's.
    pub slot_interval_minutes: Option<i32>,
    /// Minimum notice in minutes (0–43200); omitted or -1: the tenant's.
    pub min_notice_minutes: Option<i32>,
}

/// Input of `updateService`: omitted fields are unchanged.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateServiceInput {
    /// Display name, 1–200 characters.
    pub name: Option<String>,
    /// Longer description.
    pub description: Option<String>,
    /// Duration in minutes, 5–1440.
    pub duration_minutes: Option<i32>,
    /// Price in minor units (cents), 0 or more.
    pub price_cents: Option<i64>,
    /// Bookable.
    pub active: Option<bool>,
    /// Sort key.
    pub display_order: Option<i32>,
    /// Minutes blocked before each booking, 0–720.
    pub buffer_before_minutes: Option<i32>,
    /// Minutes blocked after each booking, 0–720.
    pub buffer_after_minutes: Option<i32>,
    /// Slot grid in minutes (5, 10, 15, 20, 30 or 60); 0 = back to the tenant's default.
    pub slot_interval_minutes: Option<i32>,
    /// Minimum notice in minutes (0–43200); -1 = back to the tenant's default.
    pub min_notice_minutes: Option<i32>,
}

/// Result of service mutations.
#[derive(SimpleObject, Default)]
pub struct ServicePayload {
    /// The service after the change.
    pub service: Option<Service>,
    /// Why the change was refused.
    pub user_errors: Vec<UserError>,
}

impl From<Outcome<service::Model>> for ServicePayload {
    fn from(o: Outcome<service::Model>) -> Self {
        match o {
            Ok(s) => ServicePayload {
                service: Some(Service(s)),
                user_errors: vec![],
            },
            Err(user_errors) => ServicePayload {
                service: None,
                user_errors,
            },
        }
    }
}

/// An extra that extends a service's duration and price (e.g. "Pet hair removal").
pub struct ServiceAddon(pub entities::service_addon::Model);

/// An extra that extends a service's duration and price (e.g. "Pet hair removal").
#[Object]
impl ServiceAddon {
    /// Add-on id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The service it extends.
    async fn service_id(&self) -> ID {
        ID(self.0.service_id.to_string())
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Extra minutes.
    async fn duration_minutes(&self) -> i32 {
        self.0.duration_minutes
    }
    /// Extra price in minor units (cents).
    async fn price_cents(&self) -> i64 {
        self.0.price_cents
    }
    /// False once archived.
    async fn active(&self) -> bool {
        self.0.active
    }
}

/// Input of `createServiceAddon`.
#[derive(InputObject, Debug, Clone)]
pub struct ServiceAddonInput {
    /// Display name, 1–200 characters.
    pub name: String,
    /// Extra minutes, 0–720.
    pub duration_minutes: i32,
    /// Extra price in minor units (cents), 0 or more.
    pub price_cents: i64,
}

/// Result of add-on mutations.
#[derive(SimpleObject, Default)]
pub struct ServiceAddonPayload {
    /// The add-on after the change.
    pub addon: Option<ServiceAddon>,
    /// Why the change was refused.
    pub user_errors: Vec<UserError>,
}
