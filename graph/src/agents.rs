//! Agent keys: API keys for machine principals (the AI voice assistant, or an external
//! one such as Vapi or Retell) acting for one tenant. Keys look like
//! `sgk_<tenant id>_<256 random bits, base64url>`, are shown once, and are stored as
//! SHA-256 hashes. Owners create and revoke them.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::agent_key;
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use crate::auth::tokens::{hash_token, new_tenant_token, token_tenant};
use crate::context::{RequestCtx, Role};
use crate::db::{Db, scoped};
use crate::error::{ApiError, UserError, UserErrorCode as C};
use crate::guards::RoleGuard;
use crate::state::{caller, state};
use crate::util::{new_id, now, parse_id};

/// Only owners manage agent keys.
const OWNERS: &[Role] = &[Role::Owner];

/// A new agent key for `tenant_id`.
pub fn new_key(tenant_id: Uuid) -> String {
    new_tenant_token("sgk", tenant_id)
}

/// The tenant id in an agent key, when it is well-formed.
pub fn key_tenant(key: &str) -> Option<Uuid> {
    token_tenant("sgk", key)
}

/// Resolves an agent key to `(tenant id, key id)`; `None` when unknown or revoked.
pub async fn authenticate(db: &Db, key: &str) -> Result<Option<(Uuid, Uuid)>, ApiError> {
    let Some(tenant) = key_tenant(key) else {
        return Ok(None);
    };
    let tx = db.read(tenant).await?;
    let row = scoped::<agent_key::Entity>(tenant)
        .filter(agent_key::Column::KeyHash.eq(hash_token(key)))
        .filter(agent_key::Column::RevokedAt.is_null())
        .one(&*tx)
        .await?;
    tx.commit().await?;
    Ok(row.map(|r| (tenant, r.id)))
}

/// An agent key as listed (never the key itself).
#[derive(SimpleObject, Clone, Debug)]
pub struct AgentKey {
    /// Key id.
    pub id: ID,
    /// What it is for.
    pub name: String,
    /// The key's first 12 characters, to recognise it.
    pub key_prefix: String,
    /// When it was created (UTC).
    pub created_at: DateTime<Utc>,
    /// When it was revoked (UTC), if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<agent_key::Model> for AgentKey {
    fn from(m: agent_key::Model) -> Self {
        AgentKey {
            id: ID(m.id.to_string()),
            name: m.name,
            key_prefix: m.key_prefix,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// Result of `createAgentKey`.
#[derive(SimpleObject, Default)]
pub struct CreateAgentKeyPayload {
    /// The key record.
    pub agent_key: Option<AgentKey>,
    /// The key: `Authorization: Bearer <key>`. Shown only now.
    pub key: Option<String>,
    /// Why it was refused.
    pub user_errors: Vec<UserError>,
}

/// Agent key queries.
#[derive(Default)]
pub struct AgentQuery;

/// Agent key queries.
#[Object]
impl AgentQuery {
    /// The tenant's agent keys, newest first. Errors: `UNAUTHENTICATED`, `FORBIDDEN`
    /// (owners only).
    #[graphql(guard = "RoleGuard::new(OWNERS)")]
    async fn agent_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AgentKey>> {
        let rc = caller(ctx)?;
        let st = state(ctx)?;
        let tx = st.db.read(rc.tenant_id).await?;
        let rows = scoped::<agent_key::Entity>(rc.tenant_id)
            .order_by_desc(agent_key::Column::CreatedAt)
            .all(&*tx)
            .await
            .map_err(ApiError::from)?;
        tx.commit().await?;
        Ok(rows.into_iter().map(AgentKey::from).collect())
    }
}

/// Agent key mutations (owners).
#[derive(Default)]
pub struct AgentMutation;

async fn create(
    st: &crate::state::GraphState,
    rc: &RequestCtx,
    name: String,
) -> Result<CreateAgentKeyPayload, ApiError> {
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Ok(CreateAgentKeyPayload {
            user_errors: vec![UserError::new(
                Some("name"),
                C::InvalidInput,
                "name must be 1–100 characters",
            )],
            ..Default::default()
        });
    }
    let key = new_key(rc.tenant_id);
    let tx = st.db.write(rc.tenant_id).await?;
    let row = agent_key::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(rc.tenant_id),
        name: Set(name),
        key_hash: Set(hash_token(&key)),
        key_prefix: Set(key.chars().take(12).collect()),
        created_at: Set(now()),
        revoked_at: Set(None),
    }
    .insert(&*tx)
    .await?;
    tx.commit().await?;
    Ok(CreateAgentKeyPayload {
        agent_key: Some(row.into()),
        key: Some(key),
        user_errors: vec![],
    })
}

/// Agent key mutations (owners).
#[Object]
impl AgentMutation {
    /// Creates an API key for a voice agent acting for this business. The key is
    /// returned once. Agents may read availability, look up customers, and book,
    /// reschedule and cancel under the customer rules. Errors: `UNAUTHENTICATED`,
    /// `FORBIDDEN` (owners only). User errors: `INVALID_INPUT`.
    #[graphql(guard = "RoleGuard::new(OWNERS)")]
    async fn create_agent_key(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> async_graphql::Result<CreateAgentKeyPayload> {
        Ok(create(state(ctx)?, caller(ctx)?, name).await?)
    }

    /// Revokes an agent key at once. Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(OWNERS)")]
    async fn revoke_agent_key(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<AgentKey> {
        let rc = caller(ctx)?;
        let st = state(ctx)?;
        let id = parse_id(&id, "id")?;
        let tx = st.db.write(rc.tenant_id).await?;
        let row = scoped::<agent_key::Entity>(rc.tenant_id)
            .filter(agent_key::Column::Id.eq(id))
            .one(&*tx)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound("agent key"))?;
        let mut am: agent_key::ActiveModel = row.into();
        am.revoked_at = Set(Some(now()));
        let row = am.update(&*tx).await.map_err(ApiError::from)?;
        tx.commit().await?;
        // Open sockets using this key close on every instance.
        st.events
            .signal(crate::events::ControlSignal::CredentialsRevoked {
                tenant_id: rc.tenant_id,
                revoked: crate::events::Revoked::AgentKey { key_id: row.id },
            })
            .await;
        Ok(row.into())
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn key_shape() {
        let t = Uuid::now_v7();
        let k = new_key(t);
        assert!(k.starts_with("sgk_"));
        assert_eq!(key_tenant(&k), Some(t));
        assert_eq!(key_tenant("sgk_nope"), None);
        assert_ne!(new_key(t), k);
    }
}
