//! Plugins in GraphQL (owners only): the catalog with this tenant's state,
//! `configurePlugin`, `disablePlugin`, `testPlugin`. Secret fields are write-only: a
//! response says whether each is set and shows its last 4 characters, never the value.

pub mod service;

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::plugin_config;
use integrations::Capability;
use plugins::catalog::{FieldKind, FieldSpec, PluginSpec};
use serde_json::{Map, Value};

use crate::error::{ApiError, UserError};
use crate::guards::{OWNER, RoleGuard};
use crate::state::{caller, state};

/// What a plugin provides.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "Capability")]
pub enum CapabilityKind {
    /// Card payments, deposits, refunds.
    Payments,
    /// Text messages.
    Sms,
    /// Email.
    Email,
    /// Phone calls.
    Voice,
    /// Travel times.
    Routing,
    /// External calendars.
    Calendar,
    /// Language models.
    Llm,
}

impl From<Capability> for CapabilityKind {
    fn from(c: Capability) -> Self {
        match c {
            Capability::Payments => CapabilityKind::Payments,
            Capability::Sms => CapabilityKind::Sms,
            Capability::Email => CapabilityKind::Email,
            Capability::Voice => CapabilityKind::Voice,
            Capability::Routing => CapabilityKind::Routing,
            Capability::Calendar => CapabilityKind::Calendar,
            Capability::Llm => CapabilityKind::Llm,
        }
    }
}

/// The kind of a configuration field.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum PluginFieldKind {
    /// Free text.
    Text,
    /// An http(s) URL.
    Url,
    /// A whole number.
    Integer,
    /// A percentage, 0–100.
    Percent,
}

/// One configuration field of a plugin.
#[derive(SimpleObject)]
pub struct PluginField {
    /// Field name in `config` (camelCase).
    pub name: String,
    /// Label to show.
    pub label: String,
    /// What it is for.
    pub description: String,
    /// Its kind.
    pub kind: PluginFieldKind,
    /// Whether it must be set.
    pub required: bool,
    /// Whether it is a secret (write-only).
    pub secret: bool,
    /// A prefix the value must start with (`whsec_`, `acct_`).
    pub prefix: Option<String>,
}

/// A secret field's state: set or not, and its last 4 characters.
#[derive(SimpleObject)]
pub struct SecretFieldState {
    /// Field name.
    pub name: String,
    /// Whether a value is stored.
    pub is_set: bool,
    /// Its last 4 characters, to recognise it (empty for short values).
    pub last4: Option<String>,
}

/// A catalog plugin and this tenant's configuration of it.
pub struct Plugin {
    spec: &'static PluginSpec,
    row: Option<plugin_config::Model>,
}

/// A catalog plugin and this tenant's configuration of it.
#[Object]
impl Plugin {
    /// Catalog id (`stripe`, `manual`, `builtin_routing`).
    async fn id(&self) -> &str {
        self.spec.id
    }
    /// What it provides.
    async fn capability(&self) -> CapabilityKind {
        self.spec.capability.into()
    }
    /// Display name.
    async fn display_name(&self) -> &str {
        self.spec.display_name
    }
    /// What it does.
    async fn description(&self) -> &str {
        self.spec.description
    }
    /// Built in: always available, needs no configuration.
    async fn built_in(&self) -> bool {
        self.spec.built_in
    }
    /// Provider documentation.
    async fn docs_url(&self) -> &str {
        self.spec.docs_url
    }
    /// JSON Schema (draft 2020-12) of `config`; secret fields are `writeOnly`.
    async fn config_schema(&self) -> Json<Value> {
        Json(self.spec.json_schema())
    }
    /// The configuration fields.
    async fn fields(&self) -> Vec<PluginField> {
        self.spec.fields.iter().map(field).collect()
    }
    /// Whether the tenant uses it (built-ins: always).
    async fn enabled(&self) -> bool {
        self.spec.built_in || self.row.as_ref().is_some_and(|r| r.enabled)
    }
    /// Whether the tenant has saved a configuration.
    async fn configured(&self) -> bool {
        self.row.is_some()
    }
    /// Non-secret configuration values (a JSON object).
    async fn config(&self) -> Json<Value> {
        Json(Value::Object(
            self.row.as_ref().map(service::public).unwrap_or_default(),
        ))
    }
    /// Secret fields: set or not, with the last 4 characters. Values are never returned.
    async fn secrets(&self) -> Vec<SecretFieldState> {
        let hints = self.row.as_ref().map(service::hints).unwrap_or_default();
        self.spec
            .fields
            .iter()
            .filter(|f| f.secret)
            .map(|f| {
                let h = hints.get(f.name).and_then(Value::as_str);
                SecretFieldState {
                    name: f.name.into(),
                    is_set: h.is_some(),
                    last4: h.filter(|h| !h.is_empty()).map(str::to_string),
                }
            })
            .collect()
    }
    /// Last change of the configuration (UTC).
    async fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.row.as_ref().map(|r| r.updated_at)
    }
}

fn field(f: &FieldSpec) -> PluginField {
    PluginField {
        name: f.name.into(),
        label: f.label.into(),
        description: f.description.into(),
        kind: match f.kind {
            FieldKind::Text => PluginFieldKind::Text,
            FieldKind::Url => PluginFieldKind::Url,
            FieldKind::Integer => PluginFieldKind::Integer,
            FieldKind::Percent => PluginFieldKind::Percent,
        },
        required: f.required,
        secret: f.secret,
        prefix: f.prefix.map(str::to_string),
    }
}

/// Input of `configurePlugin`.
#[derive(InputObject)]
pub struct ConfigurePluginInput {
    /// Catalog id.
    pub plugin_id: ID,
    /// Field values (a JSON object, see `configSchema`). Omit a stored secret to keep
    /// it; `null` clears an optional field.
    pub config: Json<Value>,
    /// Enable it (default true).
    #[graphql(default = true)]
    pub enabled: bool,
}

/// Result of `configurePlugin` / `disablePlugin`.
#[derive(SimpleObject, Default)]
pub struct PluginPayload {
    /// The plugin with the tenant's configuration.
    pub plugin: Option<Plugin>,
    /// Why it was refused: `UNKNOWN_PLUGIN`, `INVALID_INPUT` (field path
    /// `["input", "config", name]`).
    pub user_errors: Vec<UserError>,
}

/// Result of `testPlugin`.
#[derive(SimpleObject)]
pub struct TestPluginPayload {
    /// Whether the provider answered and accepted the credentials.
    pub ok: bool,
    /// What happened, for the operator (no secrets).
    pub message: String,
}

fn plugin_payload(o: crate::error::Outcome<plugin_config::Model>) -> PluginPayload {
    match o {
        Ok(r) => match plugins::builtin::spec(&r.plugin_id) {
            Some(spec) => PluginPayload {
                plugin: Some(Plugin { spec, row: Some(r) }),
                user_errors: vec![],
            },
            None => PluginPayload::default(),
        },
        Err(user_errors) => PluginPayload {
            plugin: None,
            user_errors,
        },
    }
}

/// Plugin queries.
#[derive(Default)]
pub struct PluginQuery;

/// Plugin queries.
#[Object]
impl PluginQuery {
    /// The plugin catalog with this tenant's configuration of each. Owners only.
    #[graphql(guard = "RoleGuard::new(OWNER)")]
    async fn plugins(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Plugin>> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        let mut rows = service::rows(st, rc).await?;
        Ok(plugins::builtin::specs()
            .map(|spec| {
                let row = rows
                    .iter()
                    .position(|r| r.plugin_id == spec.id)
                    .map(|i| rows.swap_remove(i));
                Plugin { spec, row }
            })
            .collect())
    }
}

/// Plugin mutations.
#[derive(Default)]
pub struct PluginMutation;

/// Plugin mutations.
#[Object]
impl PluginMutation {
    /// Saves and enables a plugin's configuration. Owners only. User errors:
    /// `UNKNOWN_PLUGIN`, `INVALID_INPUT`.
    #[graphql(guard = "RoleGuard::new(OWNER)")]
    async fn configure_plugin(
        &self,
        ctx: &Context<'_>,
        input: ConfigurePluginInput,
    ) -> async_graphql::Result<PluginPayload> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        let config: Map<String, Value> = match input.config.0 {
            Value::Object(m) => m,
            _ => {
                return Ok(PluginPayload {
                    plugin: None,
                    user_errors: vec![UserError::new(
                        Some("config"),
                        crate::error::UserErrorCode::InvalidInput,
                        "config must be a JSON object",
                    )],
                });
            }
        };
        Ok(plugin_payload(
            service::configure(st, rc, input.plugin_id.as_str(), config, input.enabled).await?,
        ))
    }

    /// Stops using a plugin (its configuration is kept). Owners only. User errors:
    /// `UNKNOWN_PLUGIN`. Errors: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(OWNER)")]
    async fn disable_plugin(
        &self,
        ctx: &Context<'_>,
        plugin_id: ID,
    ) -> async_graphql::Result<PluginPayload> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        Ok(plugin_payload(
            service::disable(st, rc, plugin_id.as_str()).await?,
        ))
    }

    /// Checks a plugin's credentials with the provider's cheapest read (Stripe:
    /// `GET /v1/balance` on the connected account). Owners only. Errors:
    /// `FEATURE_UNAVAILABLE` (the plugin is not enabled), `NOT_FOUND` (unknown plugin).
    #[graphql(guard = "RoleGuard::new(OWNER)")]
    async fn test_plugin(
        &self,
        ctx: &Context<'_>,
        plugin_id: ID,
    ) -> async_graphql::Result<TestPluginPayload> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        let plugin =
            plugins::builtin::find(plugin_id.as_str()).ok_or(ApiError::NotFound("plugin"))?;
        let spec = plugin.spec();
        let providers = st
            .registry
            .tenant(rc.tenant_id)
            .await
            .map_err(ApiError::Internal)?;
        if !spec.built_in && !providers.is_enabled(spec.id) {
            return Err(ApiError::FeatureUnavailable(spec.capability.as_str().into()).into());
        }
        let outcome = plugin.test(&providers).await;
        Ok(TestPluginPayload {
            ok: outcome.ok,
            message: outcome.message,
        })
    }
}
