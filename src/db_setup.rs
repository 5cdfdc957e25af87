//! Connecting, migrating, and (PostgreSQL) granting the runtime role.

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection};

use crate::settings::Settings;

/// Opens a pool with the default 10 s acquire timeout. SQLite gets WAL journaling and a
/// busy timeout (sqlx defaults), and foreign keys on.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    connect_with(url, max_connections, Duration::from_secs(10)).await
}

/// [`connect`] with `acquire_timeout` for a pooled connection and for a new
/// connection's handshake.
pub async fn connect_with(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(acquire_timeout)
        .acquire_timeout(acquire_timeout)
        .sqlx_logging(false);
    let conn = Database::connect(opts)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    if conn.get_database_backend() == DatabaseBackend::Sqlite {
        conn.execute_unprepared(
            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
        )
        .await?;
    }
    Ok(conn)
}

/// A URL with its password replaced by `***`, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The user name in a PostgreSQL URL.
fn pg_user(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let (creds, _) = rest.rsplit_once('@')?;
    let user = creds.split(':').next()?;
    (!user.is_empty()).then(|| user.to_string())
}

/// Whether the role `conn` is connected as bypasses row-level security (a superuser or
/// `BYPASSRLS`): then the third tenant wall is silently off. `false` on SQLite.
pub async fn bypasses_rls(conn: &DatabaseConnection) -> anyhow::Result<bool> {
    if conn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(false);
    }
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT (rolsuper OR rolbypassrls) AS bypass FROM pg_roles WHERE rolname = current_user",
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<bool>("", "bypass")?,
        None => false,
    })
}

/// Applies pending migrations (as the owner when `MIGRATION_DATABASE_URL` is set) and,
/// on PostgreSQL with a distinct runtime role, grants it DML on the tables and use of
/// the look-up functions. The runtime role owns nothing, so row-level security applies
/// to it (`FORCE ROW LEVEL SECURITY` is set too).
pub async fn migrate(settings: &Settings, runtime: &DatabaseConnection) -> anyhow::Result<()> {
    match &settings.database.migration_url {
        Some(owner_url) => {
            let owner = connect(owner_url, 2).await?;
            Migrator::up(&owner, None).await.context("migrating")?;
            if let Some(role) = pg_user(&settings.database.url)
                && owner.get_database_backend() == DatabaseBackend::Postgres
                && Some(role.clone()) != pg_user(owner_url)
            {
                grant_runtime_role(&owner, &role).await?;
            }
            owner.close().await.ok();
        }
        None => Migrator::up(runtime, None).await.context("migrating")?,
    }
    Ok(())
}

/// Grants `role` what the server needs and nothing more.
pub async fn grant_runtime_role(owner: &DatabaseConnection, role: &str) -> anyhow::Result<()> {
    if !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        anyhow::bail!("refusing to grant to role name {role:?}");
    }
    owner
        .execute_unprepared(&format!(
            "GRANT USAGE ON SCHEMA public TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
             REVOKE ALL ON seaql_migrations FROM {role};
             GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role};
             "
        ))
        .await
        .context("granting the runtime role")?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
        assert_eq!(pg_user("postgres://app@h/x").as_deref(), Some("app"));
    }
}
