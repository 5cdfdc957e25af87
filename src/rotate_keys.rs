//! `rotate-keys`: re-encrypts every sealed plugin secret (and every Google Calendar
//! token) under the primary key of `ENCRYPTION_KEY`.
//!
//! Rotation: put a new key first in `ENCRYPTION_KEY` (keep the old ones after it), deploy,
//! run `servicegraph rotate-keys`, then drop the old keys. Values already under the
//! primary key are left alone, so the command can be re-run safely. It connects with
//! `MIGRATION_DATABASE_URL` when set (the owner role, which must be able to read every
//! tenant's rows: superuser or `BYPASSRLS`), else `DATABASE_URL`.

use anyhow::Context;
use entities::plugin_config;
use graph::tenant_plugins::service::aad;
use plugins::secrets::{KeyRing, Sealed};
use sea_orm::prelude::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, Statement};

use crate::db_setup;
use crate::settings::Settings;

/// What `rotate-keys` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rows holding sealed secrets.
    pub sealed: usize,
    /// Rows re-encrypted (were under an older key).
    pub rotated: usize,
}

/// Re-encrypts every plugin secret not yet under the primary key. Errors: a value
/// sealed under a key no longer in `ENCRYPTION_KEY`, or one that fails to authenticate
/// (nothing is changed for that row; the command stops).
pub async fn run(settings: &Settings) -> anyhow::Result<Rotation> {
    let keys = KeyRing::parse(settings.encryption_key.expose())
        .map_err(|e| anyhow::anyhow!("ENCRYPTION_KEY: {e}"))?;
    let url = settings
        .database
        .migration_url
        .as_deref()
        .unwrap_or(&settings.database.url);
    let conn = db_setup::connect(url, 2).await?;
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        // Row-level security would hide every tenant's rows from the runtime role and
        // the command would "succeed" having rotated nothing.
        let row = conn
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT (rolsuper OR rolbypassrls) AS bypass FROM pg_roles WHERE rolname = current_user",
            ))
            .await?;
        let bypass = row
            .map(|r| r.try_get::<bool>("", "bypass"))
            .transpose()?
            .unwrap_or(false);
        if !bypass {
            anyhow::bail!(
                "rotate-keys must see every tenant's rows: set MIGRATION_DATABASE_URL to a \
                 superuser or BYPASSRLS role"
            );
        }
    }
    let rows = plugin_config::Entity::find()
        .filter(plugin_config::Column::SecretsCiphertext.is_not_null())
        .all(&conn)
        .await
        .context("reading plugin configurations")?;
    let mut out = Rotation {
        sealed: rows.len(),
        rotated: 0,
    };
    for r in rows {
        let (Some(key_id), Some(ciphertext)) =
            (r.secrets_key_id.clone(), r.secrets_ciphertext.clone())
        else {
            continue;
        };
        let sealed = Sealed { key_id, ciphertext };
        let resealed = keys
            .reseal(&sealed, &aad(r.tenant_id, &r.plugin_id))
            .map_err(|e| anyhow::anyhow!("plugin config {}: {e}", r.id))?;
        if let Some(new) = resealed {
            let res = plugin_config::Entity::update_many()
                .col_expr(
                    plugin_config::Column::SecretsKeyId,
                    Expr::value(Some(new.key_id)),
                )
                .col_expr(
                    plugin_config::Column::SecretsCiphertext,
                    Expr::value(Some(new.ciphertext)),
                )
                .filter(plugin_config::Column::Id.eq(r.id))
                .filter(plugin_config::Column::SecretsKeyId.eq(sealed.key_id.clone()))
                .exec(&conn)
                .await
                .context("writing a re-encrypted secret")?;
            // A row changed meanwhile (re-configured) is already under the primary key.
            out.rotated += res.rows_affected as usize;
        }
    }
    let cal = rotate_calendar_tokens(&conn, &keys).await?;
    out.sealed += cal.sealed;
    out.rotated += cal.rotated;
    Ok(out)
}

/// Re-seals the refresh and access tokens of Google Calendar connections.
async fn rotate_calendar_tokens(
    conn: &sea_orm::DatabaseConnection,
    keys: &KeyRing,
) -> anyhow::Result<Rotation> {
    use entities::calendar_connection as cc;
    use graph::calendar::google::aad as cal_aad;
    let rows = cc::Entity::find()
        .all(conn)
        .await
        .context("reading calendar connections")?;
    let mut out = Rotation {
        sealed: 0,
        rotated: 0,
    };
    for r in rows {
        let mut refresh = None;
        let mut access = None;
        for (what, stored, slot) in [
            (
                "refresh",
                Some(r.refresh_token_sealed.clone()),
                &mut refresh,
            ),
            ("access", r.access_token_sealed.clone(), &mut access),
        ] {
            let Some(stored) = stored else { continue };
            out.sealed += 1;
            let sealed: Sealed = serde_json::from_str(&stored)
                .with_context(|| format!("calendar connection {}", r.id))?;
            if let Some(new) = keys
                .reseal(&sealed, &cal_aad(r.tenant_id, r.id, what))
                .map_err(|e| anyhow::anyhow!("calendar connection {}: {e}", r.id))?
            {
                *slot = Some(serde_json::to_string(&new)?);
            }
        }
        if refresh.is_none() && access.is_none() {
            continue;
        }
        let mut q = cc::Entity::update_many().filter(cc::Column::Id.eq(r.id));
        if let Some(v) = refresh {
            q = q
                .col_expr(cc::Column::RefreshTokenSealed, Expr::value(v))
                .filter(cc::Column::RefreshTokenSealed.eq(r.refresh_token_sealed.clone()));
            out.rotated += 1;
        }
        if let Some(v) = access {
            q = q.col_expr(cc::Column::AccessTokenSealed, Expr::value(Some(v)));
            out.rotated += 1;
        }
        q.exec(conn)
            .await
            .context("writing a re-sealed calendar token")?;
    }
    Ok(out)
}
