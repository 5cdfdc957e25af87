//! DataLoaders for booking → customer / service / staff member edges.
//!
//! Keys carry the tenant: `(tenant_id, id)`. A batch is loaded with one query per tenant
//! (in practice one: a request belongs to one tenant), inside a tenant-scoped read
//! transaction, so a loader can never return another tenant's row. A loader is created
//! per request, so its cache never outlives the request.
//!
//! Transactions: for an HTTP query ([`shared_loaders`]) every batch of the request
//! shares one read transaction per tenant ([`RequestReads`]: `BEGIN`,
//! the tenant setting and `COMMIT` once, not per batch — 3 statements instead of 3 per
//! edge), committed when the request ends. Mutations and long-lived WebSocket
//! connections ([`loaders`]) open a transaction per batch, so a read after a write sees
//! that write on SQLite too.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entities::{customer, service, staff_member};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::db::{Db, RequestReads, scoped};
use crate::error::ApiError;

/// Loads rows by `(tenant_id, id)`.
pub struct DbLoader {
    db: Db,
}

/// The per-request loader. Its cache is on only for HTTP queries ([`shared_loaders`]),
/// where one read transaction serves the whole request. (A page of bookings carries its
/// joined edges itself: `bookings::types::Booking`.)
pub type Loaders = DataLoader<DbLoader, HashMapCache>;

/// A loader over `db` that opens a read transaction per batch and caches nothing
/// (mutations, WebSocket connections: a read after a write must see the write).
pub fn loaders(db: Db) -> Loaders {
    let l = DataLoader::with_cache(DbLoader { db }, tokio::spawn, HashMapCache::default());
    l.enable_all_cache(false);
    l
}

/// A caching loader for one HTTP query whose batches read in `reads` (a batch runs in
/// a task of its own, spawned inside [`RequestReads::scope`]).
pub fn shared_loaders(db: Db, reads: std::sync::Arc<RequestReads>) -> Loaders {
    DataLoader::with_cache(
        DbLoader { db },
        move |batch| tokio::spawn(reads.scope(batch)),
        HashMapCache::default(),
    )
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

/// Loads the children of parent rows (weekly hours of staff members, add-ons of
/// services, lines of bookings) with one query per tenant, grouped by
/// `(tenant, parent id)`.
async fn load_children<E>(
    loader: &DbLoader,
    keys: &[(Uuid, Uuid)],
    parent: E::Column,
    order: &[E::Column],
    extra: Option<sea_orm::Condition>,
    parent_of: fn(&E::Model) -> Uuid,
) -> Result<HashMap<(Uuid, Uuid), Vec<E::Model>>, std::sync::Arc<String>>
where
    E: entities::TenantOwned,
    E::Model: Send + Sync,
{
    use sea_orm::QueryOrder;
    let mut out: HashMap<(Uuid, Uuid), Vec<E::Model>> = HashMap::new();
    for (tenant, ids) in by_tenant(keys) {
        let rows = async {
            let tx = loader.db.read(tenant).await?;
            let mut q = scoped::<E>(tenant).filter(parent.is_in(ids));
            if let Some(c) = extra.clone() {
                q = q.filter(c);
            }
            for col in order {
                q = q.order_by_asc(*col);
            }
            let rows = q.all(&*tx).await?;
            tx.commit().await?;
            Ok::<_, ApiError>(rows)
        }
        .await
        .map_err(|e| {
            tracing::error!(error = ?e, "children loader failed");
            std::sync::Arc::new("internal error".to_string())
        })?;
        for row in rows {
            out.entry((tenant, parent_of(&row))).or_default().push(row);
        }
    }
    Ok(out)
}

macro_rules! children_loader {
    ($(#[$doc:meta])* $key:ident => $module:ident by $parent:ident, order [$($order:ident),*], filter $extra:expr, parent $parent_of:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub Uuid, pub Uuid);

        impl Loader<$key> for DbLoader {
            type Value = Vec<entities::$module::Model>;
            type Error = std::sync::Arc<String>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                use entities::$module;
                let pairs: Vec<(Uuid, Uuid)> = keys.iter().map(|k| (k.0, k.1)).collect();
                let map = load_children::<$module::Entity>(
                    self,
                    &pairs,
                    $module::Column::$parent,
                    &[$($module::Column::$order),*],
                    $extra,
                    $parent_of,
                )
                .await?;
                Ok(map.into_iter().map(|((t, p), v)| ($key(t, p), v)).collect())
            }
        }
    };
}

children_loader!(
    /// Key of a staff member's weekly hours.
    HoursKey => working_hours by StaffMemberId,
    order [Weekday, StartMinute],
    filter None,
    parent |r: &entities::working_hours::Model| r.staff_member_id
);

children_loader!(
    /// Key of a service's active add-ons.
    AddonsKey => service_addon by ServiceId,
    order [Name],
    filter Some(sea_orm::Condition::all().add(entities::service_addon::Column::Active.eq(true))),
    parent |r: &entities::service_addon::Model| r.service_id
);

children_loader!(
    /// Key of a booking's lines.
    ItemsKey => booking_item by BookingId,
    order [Position],
    filter None,
    parent |r: &entities::booking_item::Model| r.booking_id
);

children_loader!(
    /// Key of a booking's payments (for `Booking.payments` and `Booking.money`).
    PaymentsKey => payment by BookingId,
    order [CreatedAt],
    filter None,
    parent |r: &entities::payment::Model| r.booking_id
);

children_loader!(
    /// Key of a payment's refunds.
    RefundsKey => refund by PaymentId,
    order [CreatedAt],
    filter None,
    parent |r: &entities::refund::Model| r.payment_id
);

/// All children of `key` through the request's loader (empty when none).
pub async fn load_children_of<K, V>(
    ctx: &async_graphql::Context<'_>,
    key: K,
) -> Result<Vec<V>, ApiError>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    DbLoader: Loader<K, Value = Vec<V>, Error = std::sync::Arc<String>>,
    V: Send + Sync + Clone + 'static,
{
    let loader = ctx
        .data::<Loaders>()
        .map_err(|_| ApiError::Internal("loaders missing from request data".into()))?;
    Ok(loader
        .load_one(key)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .unwrap_or_default())
}
