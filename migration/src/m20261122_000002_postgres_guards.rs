//! PostgreSQL-only guards (no-op on SQLite):
//!
//! - `bookings_no_overlap`: an exclusion constraint (btree_gist) so that two non-canceled
//!   bookings of one staff member never overlap, buffers included: each booking blocks the
//!   half-open interval `[blocked_from, blocked_until)` (its time plus the service's
//!   buffers before and after), so back-to-back bookings without buffers are allowed. Violations raise SQLSTATE 23P01.
//! - Row-level security with `FORCE` on `tenants` and every tenant table. The policy
//!   compares `tenant_id` with `app_current_tenant()`, which reads the transaction-local
//!   setting `app.tenant_id`; unset or empty yields NULL and so no row (fails closed).
//! - `SECURITY DEFINER` look-ups that must cross tenants before a tenant is known (public
//!   booking page by slug, log-in by email). They return ids only. They bypass row-level
//!   security because they are owned by the migrating role, which must be a superuser or
//!   have `BYPASSRLS` (the default `postgres` role does).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::TENANT_TABLES;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000002_postgres_guards"
    }
}

const UP_HEAD: &str = r#"
CREATE EXTENSION IF NOT EXISTS btree_gist;

ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
    tenant_id WITH =,
    staff_member_id WITH =,
    tstzrange(blocked_from, blocked_until, '[)') WITH &&
) WHERE (status <> 'CANCELED');

CREATE FUNCTION app_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = app_current_tenant())
    WITH CHECK (id = app_current_tenant());

CREATE FUNCTION app_tenant_id_by_slug(p_slug text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT id FROM tenants WHERE slug = p_slug $$;

CREATE FUNCTION app_login_tenants(p_email text) RETURNS TABLE (tenant_id uuid, slug text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT u.tenant_id, t.slug FROM users u JOIN tenants t ON t.id = u.tenant_id
          WHERE u.email = p_email ORDER BY t.slug $$;

REVOKE ALL ON FUNCTION app_tenant_id_by_slug(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_login_tenants(text) FROM PUBLIC;
"#;

const DOWN: &str = r#"
DROP FUNCTION IF EXISTS app_login_tenants(text);
DROP FUNCTION IF EXISTS app_tenant_id_by_slug(text);
DROP POLICY IF EXISTS tenant_isolation ON tenants;
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tenants DISABLE ROW LEVEL SECURITY;
ALTER TABLE bookings DROP CONSTRAINT IF EXISTS bookings_no_overlap;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let mut sql = String::from(UP_HEAD);
        for table in TENANT_TABLES {
            sql.push_str(&format!(
                "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
                 ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n\
                 CREATE POLICY tenant_isolation ON {table}\n\
                 USING (tenant_id = app_current_tenant())\n\
                 WITH CHECK (tenant_id = app_current_tenant());\n"
            ));
        }
        manager.get_connection().execute_unprepared(&sql).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let mut sql = String::new();
        for table in TENANT_TABLES {
            sql.push_str(&format!(
                "DROP POLICY IF EXISTS tenant_isolation ON {table};\n\
                 ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;\n\
                 ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;\n"
            ));
        }
        sql.push_str(DOWN);
        manager.get_connection().execute_unprepared(&sql).await?;
        Ok(())
    }
}
