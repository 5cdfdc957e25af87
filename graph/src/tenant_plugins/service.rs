//! Storing a tenant's plugin configurations: validation against the catalog, sealing
//! secret fields, and the registry's [`ConfigSource`] over the database.

use std::sync::Arc;

use async_trait::async_trait;
use entities::{plugin_config, tenant};
use plugins::catalog::PluginSpec;
use plugins::registry::{ConfigSource, LoadedPlugin, TenantPluginState};
use plugins::secrets::{KeyRing, Sealed, hint};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::context::RequestCtx;
use crate::db::{Db, Tx, scoped};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode as C};
use crate::state::GraphState;
use crate::util::{new_id, now};

/// Associated data binding a sealed config to its row: a ciphertext copied into another
/// tenant's or plugin's row does not open.
pub fn aad(tenant_id: Uuid, plugin_id: &str) -> Vec<u8> {
    format!("plugin_configs|{tenant_id}|{plugin_id}").into_bytes()
}

fn parse_map(s: &str) -> Map<String, Value> {
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The stored row of `plugin_id`, if any.
pub async fn row(tx: &Tx, plugin_id: &str) -> Result<Option<plugin_config::Model>, ApiError> {
    Ok(scoped::<plugin_config::Entity>(tx.tenant_id())
        .filter(plugin_config::Column::PluginId.eq(plugin_id))
        .one(&**tx)
        .await?)
}

/// Every stored row of the tenant.
pub async fn rows(st: &GraphState, rc: &RequestCtx) -> Result<Vec<plugin_config::Model>, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let r = scoped::<plugin_config::Entity>(rc.tenant_id)
        .all(&*tx)
        .await?;
    tx.commit().await?;
    Ok(r)
}

/// Secret-field hints of a row: field → last 4 characters (or "" when too short).
pub fn hints(row: &plugin_config::Model) -> Map<String, Value> {
    parse_map(&row.secret_hints)
}

/// Public fields of a row.
pub fn public(row: &plugin_config::Model) -> Map<String, Value> {
    parse_map(&row.config)
}

fn spec_for(plugin_id: &str) -> Result<&'static PluginSpec, Vec<UserError>> {
    match plugins::builtin::spec(plugin_id) {
        Some(s) if !s.built_in => Ok(s),
        Some(_) => Err(vec![UserError::new(
            Some("pluginId"),
            C::UnknownPlugin,
            "built-in plugins are always available and take no configuration",
        )]),
        None => Err(vec![UserError::new(
            Some("pluginId"),
            C::UnknownPlugin,
            "no such plugin in the catalog",
        )]),
    }
}

/// `configurePlugin`: validates `input` against the catalog entry, merges it with the
/// stored configuration (omitted secrets keep their stored value; `null` clears an
/// optional field), seals the secret fields, enables the plugin and announces the change
/// so every instance drops its cached providers. User errors: `UNKNOWN_PLUGIN`,
/// `INVALID_INPUT` (per field, never echoing a secret).
pub async fn configure(
    st: &GraphState,
    rc: &RequestCtx,
    plugin_id: &str,
    input: Map<String, Value>,
    enabled: bool,
) -> Result<Outcome<plugin_config::Model>, ApiError> {
    let spec = match spec_for(plugin_id) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let tx = st.db.write(rc.tenant_id).await?;
    let existing = row(&tx, spec.id).await?;
    let aad = aad(rc.tenant_id, spec.id);
    let mut stored_secrets = match existing.as_ref().and_then(|r| {
        Some(Sealed {
            key_id: r.secrets_key_id.clone()?,
            ciphertext: r.secrets_ciphertext.clone()?,
        })
    }) {
        Some(sealed) => match st.keys.open_json(&sealed, &aad) {
            Ok(m) => m,
            Err(e) => {
                // Key lost or row tampered with: the stored secrets are unusable. Treat
                // them as unset so that the owner can repair the configuration by
                // entering them again (validation then requires them).
                tracing::warn!(plugin = spec.id, error = %e, "stored plugin secrets cannot be opened");
                Map::new()
            }
        },
        None => Map::new(),
    };
    let set: Vec<&str> = stored_secrets.keys().map(String::as_str).collect();
    let validated = match spec.validate(&input, &set) {
        Ok(v) => v,
        Err(errors) => {
            return Ok(Err(errors
                .into_iter()
                .map(|e| {
                    UserError::new(
                        Some(&format!("config.{}", e.field)),
                        C::InvalidInput,
                        e.message,
                    )
                })
                .collect()));
        }
    };
    let mut public_map = existing.as_ref().map(public).unwrap_or_default();
    for (k, v) in validated.public {
        if v.is_null() {
            public_map.remove(&k);
        } else {
            public_map.insert(k, v);
        }
    }
    for (k, v) in validated.secrets {
        if v.is_null() {
            stored_secrets.remove(&k);
        } else {
            stored_secrets.insert(k, v);
        }
    }
    // The plugin reads the merged configuration as its typed config.
    if let Some(plugin) = plugins::builtin::find(spec.id) {
        let merged = LoadedPlugin {
            plugin_id: spec.id.into(),
            public: public_map.clone(),
            secrets: stored_secrets.clone(),
        };
        if let Err(errors) = plugin.check(&merged) {
            return Ok(Err(errors
                .into_iter()
                .map(|e| UserError::new(Some(&e.field), C::InvalidInput, e.message))
                .collect()));
        }
    }
    let mut hint_map = Map::new();
    for (k, v) in &stored_secrets {
        hint_map.insert(
            k.clone(),
            Value::String(v.as_str().map(hint).unwrap_or_default()),
        );
    }
    let sealed = if stored_secrets.is_empty() {
        None
    } else {
        Some(
            st.keys
                .seal_json(&stored_secrets, &aad)
                .map_err(|e| ApiError::Internal(format!("sealing plugin secrets: {e}")))?,
        )
    };
    let at = now();
    let saved = match existing {
        Some(r) => {
            let version = r.version + 1;
            plugin_config::ActiveModel {
                enabled: Set(enabled),
                config: Set(Value::Object(public_map).to_string()),
                secrets_ciphertext: Set(sealed.as_ref().map(|s| s.ciphertext.clone())),
                secrets_key_id: Set(sealed.as_ref().map(|s| s.key_id.clone())),
                secret_hints: Set(Value::Object(hint_map).to_string()),
                version: Set(version),
                updated_at: Set(at),
                ..r.into()
            }
            .update(&*tx)
            .await?
        }
        None => {
            plugin_config::ActiveModel {
                id: Set(new_id()),
                tenant_id: Set(rc.tenant_id),
                plugin_id: Set(spec.id.into()),
                enabled: Set(enabled),
                config: Set(Value::Object(public_map).to_string()),
                secrets_ciphertext: Set(sealed.as_ref().map(|s| s.ciphertext.clone())),
                secrets_key_id: Set(sealed.as_ref().map(|s| s.key_id.clone())),
                secret_hints: Set(Value::Object(hint_map).to_string()),
                version: Set(1),
                created_at: Set(at),
                updated_at: Set(at),
            }
            .insert(&*tx)
            .await?
        }
    };
    if let Some(plugin) = plugins::builtin::find(spec.id)
        && let Err(e) = sync_routes(&tx, plugin, enabled.then_some(&public(&saved))).await?
    {
        return Ok(Err(vec![e]));
    }
    tx.commit().await?;
    changed(st, rc.tenant_id).await;
    Ok(Ok(saved))
}

/// Makes the identifiers of `public` (a configuration's public fields) the tenant's only
/// routes of `plugin`'s kinds; with `None`, drops them. A route owned by another tenant
/// is a user error (`PROVIDER_IDENTIFIER_TAKEN`) and the caller must not commit.
async fn sync_routes(
    tx: &Tx,
    plugin: &dyn plugins::Plugin,
    public: Option<&Map<String, Value>>,
) -> Result<Result<(), UserError>, ApiError> {
    let wanted = public.map(|p| plugin.routes(p)).unwrap_or_default();
    for kind in plugin.route_kinds() {
        if !wanted.iter().any(|(k, _)| k == kind) {
            crate::routes::remove_all(tx, kind).await?;
        }
    }
    for (kind, id) in wanted {
        match crate::routes::replace(tx, kind, &id).await {
            Ok(()) => {}
            Err(ApiError::Conflict(m)) => {
                return Ok(Err(UserError::new(
                    Some("config"),
                    C::ProviderIdentifierTaken,
                    m,
                )));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Ok(()))
}

/// Drops cached providers of the tenant here and on every other instance.
pub async fn changed(st: &GraphState, tenant_id: Uuid) {
    st.registry.invalidate(tenant_id);
    st.events.publish_plugin_change(tenant_id).await;
}

/// `disablePlugin`: keeps the configuration (secrets stay sealed) but stops using it.
/// User errors: `UNKNOWN_PLUGIN`. Errors: `NOT_FOUND` (never configured).
pub async fn disable(
    st: &GraphState,
    rc: &RequestCtx,
    plugin_id: &str,
) -> Result<Outcome<plugin_config::Model>, ApiError> {
    let spec = match spec_for(plugin_id) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let tx = st.db.write(rc.tenant_id).await?;
    let r = row(&tx, spec.id)
        .await?
        .ok_or(ApiError::NotFound("plugin configuration"))?;
    let version = r.version + 1;
    let saved = plugin_config::ActiveModel {
        enabled: Set(false),
        version: Set(version),
        updated_at: Set(now()),
        ..r.into()
    }
    .update(&*tx)
    .await?;
    if let Some(plugin) = plugins::builtin::find(spec.id) {
        sync_routes(&tx, plugin, None).await?.ok();
    }
    tx.commit().await?;
    changed(st, rc.tenant_id).await;
    Ok(Ok(saved))
}

/// The registry's view of the database: enabled plugin rows with secrets opened.
pub struct DbConfigSource {
    db: Db,
    keys: Arc<KeyRing>,
}

impl DbConfigSource {
    /// A source over `db`, opening secrets with `keys`.
    pub fn new(db: Db, keys: Arc<KeyRing>) -> DbConfigSource {
        DbConfigSource { db, keys }
    }
}

#[async_trait]
impl ConfigSource for DbConfigSource {
    async fn load(&self, tenant_id: Uuid) -> Result<TenantPluginState, String> {
        let tx = self
            .db
            .read(tenant_id)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let state = load_state(&tx, &self.keys).await;
        let _ = tx.commit().await;
        state
    }
}

/// The tenant's plugin state read in `tx` (enabled plugins, secrets opened with
/// `keys`). Errors are described for logs, never with a secret value.
async fn load_state(tx: &Tx, keys: &KeyRing) -> Result<TenantPluginState, String> {
    let tenant_id = tx.tenant_id();
    let t = tenant::Entity::find_by_id(tenant_id)
        .one(&**tx)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("tenant not found")?;
    let rows = scoped::<plugin_config::Entity>(tenant_id)
        .filter(plugin_config::Column::Enabled.eq(true))
        .all(&**tx)
        .await
        .map_err(|e| e.to_string())?;
    let mut plugins = Vec::new();
    for r in rows {
        let secrets = match (&r.secrets_key_id, &r.secrets_ciphertext) {
            (Some(key_id), Some(ciphertext)) => keys
                .open_json(
                    &Sealed {
                        key_id: key_id.clone(),
                        ciphertext: ciphertext.clone(),
                    },
                    &aad(tenant_id, &r.plugin_id),
                )
                .map_err(|e| format!("plugin {}: {e}", r.plugin_id))?,
            _ => Map::new(),
        };
        plugins.push(LoadedPlugin {
            plugin_id: r.plugin_id.clone(),
            public: public(&r),
            secrets,
        });
    }
    Ok(TenantPluginState {
        tenant_id,
        plugins,
        stripe_account_id: t.stripe_account_id,
        detour_factor: t.travel_detour_factor,
        speed_kmh: t.travel_speed_kmh,
    })
}

/// The tenant's providers for a caller holding `tx` (see
/// [`plugins::registry::Registry::tenant_with`]): a cache miss is read in `tx`, never
/// through a second connection. Errors: as [`DbConfigSource`]'s.
pub async fn providers_in(
    st: &GraphState,
    tx: &Tx,
) -> Result<Arc<plugins::registry::TenantProviders>, String> {
    st.registry
        .tenant_with(tx.tenant_id(), load_state(tx, &st.keys))
        .await
}
