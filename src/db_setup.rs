//! Connecting, migrating, and (PostgreSQL) granting the runtime role.

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection};

use crate::settings::Settings;

/// Opens a pool with the default 10 s acquire timeout. On SQLite every pooled connection
/// gets foreign keys on and a [`SQLITE_BUSY_TIMEOUT`] busy timeout, and the database is
/// put in WAL journaling.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    connect_with(url, max_connections, Duration::from_secs(10)).await
}

/// How long a SQLite statement waits for another connection's write lock before it
/// fails with `SQLITE_BUSY` (`PRAGMA busy_timeout`, <https://www.sqlite.org/pragma.html#pragma_busy_timeout>).
/// Longer than sqlx's 5 s default: a writer under load holds the lock for a whole
/// transaction, and a request gives up at its own timeout anyway.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// [`connect`] with `acquire_timeout` for a pooled connection and for a new
/// connection's handshake.
///
/// The SQLite settings are part of the pool's connect options, so every connection the
/// pool opens has them (a `PRAGMA` run once after connecting reached only the first).
/// `journal_mode = WAL` is recorded in the database file once the file has content; on
/// a database already in WAL each later connection's `PRAGMA` is a no-op.
pub async fn connect_with(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(plaintext_on_loopback(url));
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(acquire_timeout)
        .acquire_timeout(acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
    Database::connect(opts)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))
}

/// A PostgreSQL URL whose host is a loopback address (`localhost`, `127.0.0.0/8`, `::1`)
/// and which does not say `sslmode` gets `sslmode=disable`; every other URL is returned
/// unchanged.
///
/// Why: the driver's default, like libpq's, is `sslmode=prefer`, which on a server with
/// `ssl = on` (Debian's default) encrypts every statement on both ends of a connection
/// that never leaves the machine, and without verifying the certificate, so it guards
/// against nothing a loopback sniffer (root on the box) could not read anyway. Measured on
/// the nested bookings page it cost ~10 % of our CPU (rustls) plus OpenSSL time inside
/// PostgreSQL. Say `sslmode=require` (or `verify-full`) in `DATABASE_URL` to keep TLS;
/// remote hosts keep the driver's default. Source for the modes: PostgreSQL 17 manual,
/// §32.19 "SSL Support" (`sslmode` table).
pub fn plaintext_on_loopback(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_string();
    };
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return url.to_string();
    }
    if parsed
        .query_pairs()
        .any(|(k, _)| k == "sslmode" || k == "host")
    {
        return url.to_string();
    }
    // `postgres:` is not a special scheme, so the URL standard keeps its host opaque:
    // an IPv4 address arrives as a domain string.
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !loopback {
        return url.to_string();
    }
    parsed.query_pairs_mut().append_pair("sslmode", "disable");
    parsed.to_string()
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

/// Gives PostgreSQL's planner statistics for tables that hold rows but have never been
/// analysed, by running `ANALYZE` on them as the tables' owner (`MIGRATION_DATABASE_URL`,
/// or `runtime` when none is set). Returns the tables analysed; a no-op on SQLite.
///
/// Why: a table that was never vacuumed or analysed has no statistics (`reltuples < 0`
/// in `pg_class`, PostgreSQL 14 and later), so the planner guesses a tenant's share of
/// it with its default equality selectivity (0.5 %) and plans a page of bookings as if
/// it had one row: a nested loop that rescans the tenant's customers for every booking
/// (measured on a fresh database with 63 bookings: 1.0 ms per page against 0.3 ms with
/// statistics). Autovacuum analyses a table only after 50 rows plus 10 % have changed
/// (`autovacuum_analyze_threshold`, `autovacuum_analyze_scale_factor`), and at most once
/// a minute, so a new install or the seeded demo tenant would run on guesses for its
/// first minutes, and small tables (services, staff members) never reach the threshold.
/// PostgreSQL's documentation recommends exactly this after loading data ("Populating a
/// Database", §14.4.8 *Run ANALYZE Afterwards*).
///
/// Empty tables are left alone: analysing one records zero rows, which turns off the
/// planner's "at least 10 pages" guess for never-analysed tables. Tables already analysed
/// are left to autovacuum. Errors: connecting, the catalogue query or `ANALYZE` failed.
pub async fn analyze_new_tables(
    settings: &Settings,
    runtime: &DatabaseConnection,
) -> anyhow::Result<Vec<String>> {
    if runtime.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(Vec::new());
    }
    let owner = match &settings.database.migration_url {
        Some(url) => Some(connect(url, 1).await?),
        None => None,
    };
    let conn = owner.as_ref().unwrap_or(runtime);
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT c.oid::regclass::text AS name FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
             AND c.reltuples < 0 AND pg_relation_size(c.oid) > 0 \
             AND pg_has_role(c.relowner, 'USAGE') ORDER BY 1",
        ))
        .await
        .context("listing tables without statistics")?;
    let tables = rows
        .iter()
        .map(|r| r.try_get::<String>("", "name"))
        .collect::<Result<Vec<_>, _>>()?;
    if !tables.is_empty() {
        // The names come from `regclass::text`, which quotes them where needed.
        conn.execute_unprepared(&format!("ANALYZE {}", tables.join(", ")))
            .await
            .context("analysing new tables")?;
    }
    if let Some(owner) = owner {
        owner.close().await.ok();
    }
    Ok(tables)
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

    #[test]
    fn loopback_postgres_skips_tls_unless_asked() {
        assert_eq!(
            plaintext_on_loopback("postgres://app@127.0.0.1:5432/x"),
            "postgres://app@127.0.0.1:5432/x?sslmode=disable"
        );
        assert_eq!(
            plaintext_on_loopback("postgresql://app@localhost/x?application_name=sg"),
            "postgresql://app@localhost/x?application_name=sg&sslmode=disable"
        );
        assert_eq!(
            plaintext_on_loopback("postgres://app@[::1]/x"),
            "postgres://app@[::1]/x?sslmode=disable"
        );
        // An explicit mode, a remote host, a socket directory and SQLite are untouched.
        for url in [
            "postgres://app@127.0.0.1/x?sslmode=require",
            "postgres://app@db.internal:5432/x",
            "postgres://app@10.0.0.5/x",
            "postgres://app@localhost/x?host=/var/run/postgresql",
            "sqlite://data/x.db?mode=rwc",
        ] {
            assert_eq!(plaintext_on_loopback(url), url);
        }
    }

    /// Every connection of a SQLite pool, not just the first, has our busy timeout and
    /// foreign keys on; the database is in WAL mode.
    #[tokio::test]
    async fn every_sqlite_pool_connection_gets_the_settings() {
        use sea_orm::{Statement, TransactionTrait};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
        let conn = connect(&url, 3).await.unwrap();
        conn.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        // Three open transactions hold three distinct pooled connections.
        let mut txs = Vec::new();
        for _ in 0..3 {
            txs.push(conn.begin().await.unwrap());
        }
        let pragma =
            |name: &str| Statement::from_string(DatabaseBackend::Sqlite, format!("PRAGMA {name}"));
        for tx in &txs {
            for (name, expected) in [("busy_timeout", 10_000), ("foreign_keys", 1)] {
                let row = tx.query_one_raw(pragma(name)).await.unwrap().unwrap();
                assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), expected, "{name}");
            }
            let row = tx
                .query_one_raw(pragma("journal_mode"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "wal");
        }
    }
}
