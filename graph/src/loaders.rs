//! DataLoaders for booking → customer / service / staff member edges.
//!
//! Keys carry the tenant: `(tenant_id, id)`. A batch is loaded with one query per tenant
//! (in practice one: a request belongs to one tenant), inside a tenant-scoped read
//! transaction, so a loader can never return another tenant's row. A loader is created
//! per request, so its cache never outlives the request.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
use entities::{customer, service, staff_member};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::db::{Db, scoped};
use crate::error::ApiError;

/// Loads rows by `(tenant_id, id)`.
pub struct DbLoader {
    db: Db,
}

/// The per-request loader.
pub type Loaders = DataLoader<DbLoader>;

/// A new per-request loader over `db`.
pub fn loaders(db: Db) -> Loaders {
    DataLoader::new(DbLoader { db }, tokio::spawn)
}

/// Key of a customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CustomerKey(pub Uuid, pub Uuid);
/// Key of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServiceKey(pub Uuid, pub Uuid);
/// Key of a staff member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StaffKey(pub Uuid, pub Uuid);

fn by_tenant(keys: &[(Uuid, Uuid)]) -> HashMap<Uuid, Vec<Uuid>> {
    let mut m: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (t, id) in keys {
        m.entry(*t).or_default().push(*id);
    }
    m
}

macro_rules! entity_loader {
    ($key:ident, $module:ident) => {
        impl Loader<$key> for DbLoader {
            type Value = $module::Model;
            type Error = std::sync::Arc<String>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let pairs: Vec<(Uuid, Uuid)> = keys.iter().map(|k| (k.0, k.1)).collect();
                let mut out = HashMap::new();
                for (tenant, ids) in by_tenant(&pairs) {
                    let rows = async {
                        let tx = self.db.read(tenant).await?;
                        let rows = scoped::<$module::Entity>(tenant)
                            .filter($module::Column::Id.is_in(ids))
                            .all(&*tx)
                            .await?;
                        tx.commit().await?;
                        Ok::<_, ApiError>(rows)
                    }
                    .await
                    .map_err(|e| {
                        let msg = match &e {
                            ApiError::Internal(d) => d.clone(),
                            other => other.message(),
                        };
                        tracing::error!(error = %msg, "data loader failed");
                        std::sync::Arc::new("internal error".to_string())
                    })?;
                    for row in rows {
                        out.insert($key(tenant, row.id), row);
                    }
                }
                Ok(out)
            }
        }
    };
}

entity_loader!(CustomerKey, customer);
entity_loader!(ServiceKey, service);
entity_loader!(StaffKey, staff_member);

/// Loads one row through the per-request loader in `ctx`, mapping a loader failure to
/// `INTERNAL` and absence to `NOT_FOUND`.
pub async fn load_one<K, V>(
    ctx: &async_graphql::Context<'_>,
    key: K,
    what: &'static str,
) -> Result<V, ApiError>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    DbLoader: Loader<K, Value = V, Error = std::sync::Arc<String>>,
    V: Send + Sync + Clone + 'static,
{
    let loader = ctx
        .data::<Loaders>()
        .map_err(|_| ApiError::Internal("loaders missing from request data".into()))?;
    loader
        .load_one(key)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or(ApiError::NotFound(what))
}

#[allow(unused_imports)]
use EntityTrait as _;

/// Key of a staff member's weekly hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HoursKey(pub Uuid, pub Uuid);

impl Loader<HoursKey> for DbLoader {
    type Value = Vec<entities::working_hours::Model>;
    type Error = std::sync::Arc<String>;

    async fn load(&self, keys: &[HoursKey]) -> Result<HashMap<HoursKey, Self::Value>, Self::Error> {
        use entities::working_hours;
        use sea_orm::QueryOrder;
        let pairs: Vec<(Uuid, Uuid)> = keys.iter().map(|k| (k.0, k.1)).collect();
        let mut out: HashMap<HoursKey, Self::Value> = HashMap::new();
        for (tenant, ids) in by_tenant(&pairs) {
            let rows = async {
                let tx = self.db.read(tenant).await?;
                let rows = scoped::<working_hours::Entity>(tenant)
                    .filter(working_hours::Column::StaffMemberId.is_in(ids))
                    .order_by_asc(working_hours::Column::Weekday)
                    .order_by_asc(working_hours::Column::StartMinute)
                    .all(&*tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, ApiError>(rows)
            }
            .await
            .map_err(|e| {
                tracing::error!(error = ?e, "hours loader failed");
                std::sync::Arc::new("internal error".to_string())
            })?;
            for row in rows {
                out.entry(HoursKey(tenant, row.staff_member_id))
                    .or_default()
                    .push(row);
            }
        }
        Ok(out)
    }
}

/// Key of a service's add-ons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddonsKey(pub Uuid, pub Uuid);

impl Loader<AddonsKey> for DbLoader {
    type Value = Vec<entities::service_addon::Model>;
    type Error = std::sync::Arc<String>;

    async fn load(
        &self,
        keys: &[AddonsKey],
    ) -> Result<HashMap<AddonsKey, Self::Value>, Self::Error> {
        use entities::service_addon;
        use sea_orm::QueryOrder;
        let pairs: Vec<(Uuid, Uuid)> = keys.iter().map(|k| (k.0, k.1)).collect();
        let mut out: HashMap<AddonsKey, Self::Value> = HashMap::new();
        for (tenant, ids) in by_tenant(&pairs) {
            let rows = async {
                let tx = self.db.read(tenant).await?;
                let rows = scoped::<service_addon::Entity>(tenant)
                    .filter(service_addon::Column::ServiceId.is_in(ids))
                    .filter(service_addon::Column::Active.eq(true))
                    .order_by_asc(service_addon::Column::Name)
                    .all(&*tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, ApiError>(rows)
            }
            .await
            .map_err(|e| {
                tracing::error!(error = ?e, "add-ons loader failed");
                std::sync::Arc::new("internal error".to_string())
            })?;
            for row in rows {
                out.entry(AddonsKey(tenant, row.service_id))
                    .or_default()
                    .push(row);
            }
        }
        Ok(out)
    }
}

/// Key of a booking's lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ItemsKey(pub Uuid, pub Uuid);

impl Loader<ItemsKey> for DbLoader {
    type Value = Vec<entities::booking_item::Model>;
    type Error = std::sync::Arc<String>;

    async fn load(&self, keys: &[ItemsKey]) -> Result<HashMap<ItemsKey, Self::Value>, Self::Error> {
        use entities::booking_item;
        use sea_orm::QueryOrder;
        let pairs: Vec<(Uuid, Uuid)> = keys.iter().map(|k| (k.0, k.1)).collect();
        let mut out: HashMap<ItemsKey, Self::Value> = HashMap::new();
        for (tenant, ids) in by_tenant(&pairs) {
            let rows = async {
                let tx = self.db.read(tenant).await?;
                let rows = scoped::<booking_item::Entity>(tenant)
                    .filter(booking_item::Column::BookingId.is_in(ids))
                    .order_by_asc(booking_item::Column::Position)
                    .all(&*tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, ApiError>(rows)
            }
            .await
            .map_err(|e| {
                tracing::error!(error = ?e, "booking items loader failed");
                std::sync::Arc::new("internal error".to_string())
            })?;
            for row in rows {
                out.entry(ItemsKey(tenant, row.booking_id))
                    .or_default()
                    .push(row);
            }
        }
        Ok(out)
    }
}
