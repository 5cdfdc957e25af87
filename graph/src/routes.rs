//! The provider routing table: provider-side identifiers that must find their tenant
//! before any tenant is known (a Stripe connected account on a platform webhook, a
//! Twilio number on an inbound text, a Google channel id on a push notification).
//!
//! A route is written in the tenant's own transaction ([`add`], [`replace`]) when the
//! identifier becomes the tenant's (onboarding, configuring a plugin); it is looked up
//! with [`tenant_by_route`], which on PostgreSQL goes through the one `SECURITY DEFINER`
//! function `app_tenant_by_route` (it reveals the tenant id only). One identifier belongs
//! to one tenant (unique `(provider, external_id)`). Infrastructure: imports no domain.

use entities::provider_route;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, Set, Statement,
};
use uuid::Uuid;

use crate::db::{Db, Tx, scoped};
use crate::error::ApiError;
use crate::util::{new_id, now};

/// Longest external id, in bytes (the column is `VARCHAR(255)`).
pub const MAX_EXTERNAL_ID_LEN: usize = 255;

fn check(provider: &str, external_id: &str) -> Result<(), ApiError> {
    if provider.is_empty() || provider.len() > 32 {
        return Err(ApiError::Internal(format!(
            "bad route provider {provider:?}"
        )));
    }
    if external_id.is_empty() || external_id.len() > MAX_EXTERNAL_ID_LEN {
        return Err(ApiError::BadUserInput(
            "provider identifier must be 1–255 bytes".into(),
        ));
    }
    Ok(())
}

/// Routes `(provider, external_id)` to the transaction's tenant. Returns `false` when
/// the route already existed (for this tenant, or for another one: check with
/// [`mine`] when that matters).
pub async fn add(tx: &Tx, provider: &str, external_id: &str) -> Result<bool, ApiError> {
    check(provider, external_id)?;
    let res = provider_route::Entity::insert(provider_route::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tx.tenant_id()),
        provider: Set(provider.into()),
        external_id: Set(external_id.into()),
        created_at: Set(now()),
    })
    .on_conflict(
        OnConflict::columns([
            provider_route::Column::Provider,
            provider_route::Column::ExternalId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&**tx)
    .await?;
    Ok(res > 0)
}

/// Makes `external_id` the tenant's only route of `provider` (drops its others), e.g.
/// when a tenant's sending number changes. Errors: `CONFLICT` when another tenant owns
/// `external_id`.
pub async fn replace(tx: &Tx, provider: &str, external_id: &str) -> Result<(), ApiError> {
    check(provider, external_id)?;
    provider_route::Entity::delete_many()
        .filter(provider_route::Column::TenantId.eq(tx.tenant_id()))
        .filter(provider_route::Column::Provider.eq(provider))
        .filter(provider_route::Column::ExternalId.ne(external_id))
        .exec(&**tx)
        .await?;
    add(tx, provider, external_id).await?;
    if !mine(tx, provider, external_id).await? {
        return Err(ApiError::Conflict(
            "this identifier is already connected to another business".into(),
        ));
    }
    Ok(())
}

/// Whether `(provider, external_id)` routes to the transaction's tenant.
pub async fn mine(tx: &Tx, provider: &str, external_id: &str) -> Result<bool, ApiError> {
    Ok(scoped::<provider_route::Entity>(tx.tenant_id())
        .filter(provider_route::Column::Provider.eq(provider))
        .filter(provider_route::Column::ExternalId.eq(external_id))
        .one(&**tx)
        .await?
        .is_some())
}

/// Removes the tenant's route `(provider, external_id)`, if any.
pub async fn remove(tx: &Tx, provider: &str, external_id: &str) -> Result<(), ApiError> {
    provider_route::Entity::delete_many()
        .filter(provider_route::Column::TenantId.eq(tx.tenant_id()))
        .filter(provider_route::Column::Provider.eq(provider))
        .filter(provider_route::Column::ExternalId.eq(external_id))
        .exec(&**tx)
        .await?;
    Ok(())
}

/// Removes every route of `provider` of the transaction's tenant. Returns how many.
pub async fn remove_all(tx: &Tx, provider: &str) -> Result<u64, ApiError> {
    let res = provider_route::Entity::delete_many()
        .filter(provider_route::Column::TenantId.eq(tx.tenant_id()))
        .filter(provider_route::Column::Provider.eq(provider))
        .exec(&**tx)
        .await?;
    Ok(res.rows_affected)
}

/// The tenant `(provider, external_id)` routes to, across tenants (before a tenant is
/// known). On PostgreSQL through `app_tenant_by_route` (`SECURITY DEFINER`, returns the
/// tenant id only).
pub async fn tenant_by_route(
    db: &Db,
    provider: &str,
    external_id: &str,
) -> Result<Option<Uuid>, ApiError> {
    if external_id.is_empty() || external_id.len() > MAX_EXTERNAL_ID_LEN {
        return Ok(None);
    }
    let conn = db.connection();
    if db.backend() == DatabaseBackend::Postgres {
        let row = conn
            .query_one_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT app_tenant_by_route($1, $2) AS id",
                [provider.into(), external_id.into()],
            ))
            .await?;
        return match row {
            Some(r) => Ok(r.try_get::<Option<Uuid>>("", "id")?),
            None => Ok(None),
        };
    }
    Ok(provider_route::Entity::find()
        .filter(provider_route::Column::Provider.eq(provider))
        .filter(provider_route::Column::ExternalId.eq(external_id))
        .one(conn)
        .await?
        .map(|r| r.tenant_id))
}
