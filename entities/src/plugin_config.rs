//! `plugin_configs`: a tenant's configuration of one catalog plugin.

use sea_orm::entity::prelude::*;

/// One plugin configured by one tenant (unique per `(tenant_id, plugin_id)`). Public
/// fields are JSON in `config`; secret fields are one JSON object sealed with AES-256-GCM
/// (`secrets_ciphertext`, base64 of nonce ‖ ciphertext ‖ tag) under the key named by
/// `secrets_key_id`, bound to the row by its tenant and plugin id as associated data.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plugin_configs")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Catalog id (`stripe`, …).
    pub plugin_id: String,
    /// Whether the tenant uses it.
    pub enabled: bool,
    /// Non-secret fields, a JSON object.
    pub config: String,
    /// Sealed secret fields, when any are set.
    pub secrets_ciphertext: Option<String>,
    /// Id of the encryption key that sealed them.
    pub secrets_key_id: Option<String>,
    /// JSON object: secret field name → last 4 characters (for display).
    pub secret_hints: String,
    /// Bumped on every change; caches compare it.
    pub version: i64,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
