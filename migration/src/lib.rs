//! Database migrations for Servicegraph, runnable on SQLite and PostgreSQL.
//!
//! [`Migrator`] lists them in order. PostgreSQL-only guards (row-level security, the
//! booking exclusion constraint, tenant lookup functions) live in their own migration and
//! run only on that backend.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261122_000002_postgres_guards;
mod m20261122_000003_payments;
mod m20261202_000004_extension_points;
mod m20261202_000005_messaging;
mod m20261202_000006_keyset_indexes;
mod m20261202_000007_google_calendar;
mod m20261202_000008_dispatch;
mod m20261203_000009_deferrable_overlap;
mod m20261203_000010_voice_calls;
mod m20261203_000011_voice_stream;
mod m20261204_000012_cancellation_reason;

/// Name of the PostgreSQL setting that carries the current tenant id per transaction.
pub const TENANT_SETTING: &str = "app.tenant_id";

/// Tables that belong to one tenant (all have `tenant_id`). Row-level security is enabled
/// on each of these, and on `tenants` itself.
pub const TENANT_TABLES: &[&str] = &[
    "users",
    "refresh_tokens",
    "customers",
    "services",
    "staff_members",
    "working_hours",
    "bookings",
    "availability_overrides",
    "time_off",
    "staff_services",
    "idempotency_keys",
    "slot_holds",
    "service_addons",
    "booking_items",
    "agent_keys",
];

/// Tenant tables added by the payments migration; row-level security is enabled on
/// them there (the list above is what the guards migration secured).
pub const PAYMENT_TENANT_TABLES: &[&str] = &[
    "plugin_configs",
    "outbox_messages",
    "webhook_events",
    "payments",
    "refunds",
    "notifications",
];

/// Every tenant table, for checks that must cover them all.
pub fn all_tenant_tables() -> impl Iterator<Item = &'static str> {
    TENANT_TABLES
        .iter()
        .chain(PAYMENT_TENANT_TABLES)
        .chain(m20261202_000004_extension_points::TABLES)
        .chain(m20261202_000005_messaging::TABLES)
        .chain(m20261202_000007_google_calendar::TABLES)
        .chain(m20261203_000010_voice_calls::TABLES)
        .copied()
}

/// PostgreSQL: row-level security on each of `tables` (enabled, forced, and the
/// `tenant_isolation` policy on `tenant_id = app_current_tenant()`).
pub(crate) fn tenant_rls(tables: &[&str]) -> String {
    tables
        .iter()
        .map(|t| {
            format!(
                "ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE {t} FORCE ROW LEVEL SECURITY;
                 CREATE POLICY tenant_isolation ON {t}
                     USING (tenant_id = app_current_tenant())
                     WITH CHECK (tenant_id = app_current_tenant());"
            )
        })
        .collect()
}

/// A `tenant_id` column of `table` referencing `tenants(id)`, deleted with its tenant.
pub(crate) fn tenant_fk<T: IntoIden + 'static>(table: T, col: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(Alias::new("tenants"), Alias::new("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// The ordered list of migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261122_000002_postgres_guards::Migration),
            Box::new(m20261122_000003_payments::Migration),
            Box::new(m20261202_000004_extension_points::Migration),
            Box::new(m20261202_000005_messaging::Migration),
            Box::new(m20261202_000006_keyset_indexes::Migration),
            Box::new(m20261202_000007_google_calendar::Migration),
            Box::new(m20261202_000008_dispatch::Migration),
            Box::new(m20261203_000009_deferrable_overlap::Migration),
            Box::new(m20261203_000010_voice_calls::Migration),
            Box::new(m20261203_000011_voice_stream::Migration),
            Box::new(m20261204_000012_cancellation_reason::Migration),
        ]
    }
}
