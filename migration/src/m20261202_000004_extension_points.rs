//! Extension points (issue 8), append-only:
//!
//! - `outbox_messages.dedupe_key`: a job can be replaced or canceled by a key (a reminder
//!   follows its booking); a partial unique index keeps at most one `PENDING` job per
//!   tenant and key. Rows queued before this migration have no key and deliver as
//!   before; the new status `CANCELED` is a new text value in the same column.
//! - `app_due_jobs` (PostgreSQL): due jobs across tenants, only of the kinds the asking
//!   instance has handlers for (a comma-separated list), so an instance never claims a kind it cannot deliver
//!   (during a rolling upgrade that adds a kind).
//! - `slot_holds.client_key`: the client address of an anonymous hold, so the holds one
//!   client and all anonymous clients may keep on a tenant's calendar are capped.
//! - `periodic_jobs`: the schedule of platform-wide periodic work (sweeps, syncs); not a
//!   tenant table. Each scheduled run is claimed by one instance with a compare-and-set
//!   on `next_run_at`.
//! - `provider_routes`: provider-side identifiers (a Stripe connected account, a billing
//!   Customer, later a Twilio number or a Google channel id) → tenant, with one
//!   `SECURITY DEFINER` look-up on PostgreSQL (`app_tenant_by_route`) instead of one
//!   function per provider. Backfilled from the tenants' Stripe account and billing
//!   Customer ids. The functions they replace (`app_due_outbox`,
//!   `app_tenant_id_by_stripe_account`, `app_tenant_id_by_billing_customer`) are dropped.

use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::tenant_fk;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000004_extension_points"
    }
}

#[derive(DeriveIden)]
enum OutboxMessages {
    Table,
    DedupeKey,
}

#[derive(DeriveIden)]
enum SlotHolds {
    Table,
    ClientKey,
}

#[derive(DeriveIden)]
enum PeriodicJobs {
    Table,
    Name,
    NextRunAt,
    Runs,
    LastStartedAt,
    LastFinishedAt,
    LastError,
}

#[derive(DeriveIden)]
enum ProviderRoutes {
    Table,
    Id,
    TenantId,
    Provider,
    ExternalId,
    CreatedAt,
}

/// Tenant tables this migration adds (row-level security on PostgreSQL).
pub const TABLES: &[&str] = &["provider_routes"];

const PENDING_KEY_INDEX: &str = "CREATE UNIQUE INDEX outbox_messages_pending_key \
     ON outbox_messages (tenant_id, dedupe_key) \
     WHERE status = 'PENDING' AND dedupe_key IS NOT NULL";

const PG_UP: &str = r#"
CREATE FUNCTION app_due_jobs(p_now timestamptz, p_limit integer, p_kinds text)
    RETURNS TABLE (tenant_id uuid, id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT tenant_id, id FROM outbox_messages
          WHERE status = 'PENDING' AND next_attempt_at <= p_now AND kind = ANY (string_to_array(p_kinds, ','))
          ORDER BY next_attempt_at LIMIT p_limit $$;
REVOKE ALL ON FUNCTION app_due_jobs(timestamptz, integer, text) FROM PUBLIC;

CREATE FUNCTION app_tenant_by_route(p_provider text, p_external_id text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT tenant_id FROM provider_routes
          WHERE provider = p_provider AND external_id = p_external_id $$;
REVOKE ALL ON FUNCTION app_tenant_by_route(text, text) FROM PUBLIC;

ALTER TABLE provider_routes ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider_routes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON provider_routes
    USING (tenant_id = app_current_tenant())
    WITH CHECK (tenant_id = app_current_tenant());

-- Replaced by app_due_jobs and app_tenant_by_route.
DROP FUNCTION IF EXISTS app_due_outbox(timestamptz, integer);
DROP FUNCTION IF EXISTS app_tenant_id_by_stripe_account(text);
DROP FUNCTION IF EXISTS app_tenant_id_by_billing_customer(text);

INSERT INTO provider_routes (id, tenant_id, provider, external_id, created_at)
    SELECT gen_random_uuid(), id, 'stripe_account', stripe_account_id, now()
    FROM tenants WHERE stripe_account_id IS NOT NULL;
INSERT INTO provider_routes (id, tenant_id, provider, external_id, created_at)
    SELECT gen_random_uuid(), id, 'stripe_billing_customer', billing_customer_id, now()
    FROM tenants WHERE billing_customer_id IS NOT NULL;
"#;

// SQLite stores UUIDs as 16-byte blobs and instants as RFC 3339 text with `+00:00`
// (sqlx's encodings); `randomblob(16)` is a random (v4-like) id.
const SQLITE_BACKFILL: &str = r#"
INSERT INTO provider_routes (id, tenant_id, provider, external_id, created_at)
    SELECT randomblob(16), id, 'stripe_account', stripe_account_id, strftime('%Y-%m-%dT%H:%M:%f', 'now') || '+00:00'
    FROM tenants WHERE stripe_account_id IS NOT NULL;
INSERT INTO provider_routes (id, tenant_id, provider, external_id, created_at)
    SELECT randomblob(16), id, 'stripe_billing_customer', billing_customer_id, strftime('%Y-%m-%dT%H:%M:%f', 'now') || '+00:00'
    FROM tenants WHERE billing_customer_id IS NOT NULL;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OutboxMessages::Table)
                    .add_column(string_len_null(OutboxMessages::DedupeKey, 255))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(PENDING_KEY_INDEX)
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(SlotHolds::Table)
                    .add_column(string_len_null(SlotHolds::ClientKey, 64))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PeriodicJobs::Table)
                    .col(string_len(PeriodicJobs::Name, 64).primary_key())
                    .col(timestamp_with_time_zone(PeriodicJobs::NextRunAt))
                    .col(big_integer(PeriodicJobs::Runs).default(0))
                    .col(timestamp_with_time_zone_null(PeriodicJobs::LastStartedAt))
                    .col(timestamp_with_time_zone_null(PeriodicJobs::LastFinishedAt))
                    .col(text_null(PeriodicJobs::LastError))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProviderRoutes::Table)
                    .col(pk_uuid(ProviderRoutes::Id))
                    .col(uuid(ProviderRoutes::TenantId))
                    .col(string_len(ProviderRoutes::Provider, 32))
                    .col(string_len(ProviderRoutes::ExternalId, 255))
                    .col(timestamp_with_time_zone(ProviderRoutes::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        ProviderRoutes::Table,
                        ProviderRoutes::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("provider_routes_key")
                    .table(ProviderRoutes::Table)
                    .col(ProviderRoutes::Provider)
                    .col(ProviderRoutes::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("provider_routes_tenant_idx")
                    .table(ProviderRoutes::Table)
                    .col(ProviderRoutes::TenantId)
                    .col(ProviderRoutes::Provider)
                    .to_owned(),
            )
            .await?;

        let sql = match manager.get_database_backend() {
            DatabaseBackend::Postgres => PG_UP,
            _ => SQLITE_BACKFILL,
        };
        manager.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "DROP FUNCTION IF EXISTS app_tenant_by_route(text, text);
                     DROP FUNCTION IF EXISTS app_due_jobs(timestamptz, integer, text);",
                )
                .await?;
        }
        for table in [
            ProviderRoutes::Table.into_iden(),
            PeriodicJobs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS outbox_messages_pending_key")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OutboxMessages::Table)
                    .drop_column(OutboxMessages::DedupeKey)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SlotHolds::Table)
                    .drop_column(SlotHolds::ClientKey)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
