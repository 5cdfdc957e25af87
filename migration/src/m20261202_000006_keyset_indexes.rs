//! Indexes for keyset (seek) pagination (issue 9): each list's order, with `id` breaking
//! ties, so `WHERE tenant_id = ? AND (key, id) > (?, ?) ORDER BY key, id LIMIT n` reads
//! n index entries whatever the page number.
//!
//! - `bookings (tenant_id, starts_at, id)` replaces `bookings (tenant_id, starts_at)`,
//!   its prefix;
//! - `customers (tenant_id, name, id)`;
//! - `app_job_queue_stats` (PostgreSQL): the job queue's depth and oldest due job across
//!   tenants, for `/metrics` (row-level security hides other tenants' rows from the
//!   runtime role otherwise).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

const PG_UP: &str = r#"
CREATE FUNCTION app_job_queue_stats(p_now timestamptz)
    RETURNS TABLE (pending bigint, due bigint, oldest_due timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT count(*),
                 count(*) FILTER (WHERE next_attempt_at <= p_now),
                 min(next_attempt_at) FILTER (WHERE next_attempt_at <= p_now)
          FROM outbox_messages WHERE status = 'PENDING' $$;
REVOKE ALL ON FUNCTION app_job_queue_stats(timestamptz) FROM PUBLIC;
"#;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000006_keyset_indexes"
    }
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    TenantId,
    StartsAt,
    Id,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    TenantId,
    Name,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("bookings_tenant_starts_id_idx")
                    .table(Bookings::Table)
                    .col(Bookings::TenantId)
                    .col(Bookings::StartsAt)
                    .col(Bookings::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("bookings_tenant_starts_idx")
                    .table(Bookings::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("customers_tenant_name_id_idx")
                    .table(Customers::Table)
                    .col(Customers::TenantId)
                    .col(Customers::Name)
                    .col(Customers::Id)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared(PG_UP).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS app_job_queue_stats(timestamptz)")
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("customers_tenant_name_id_idx")
                    .table(Customers::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("bookings_tenant_starts_idx")
                    .table(Bookings::Table)
                    .col(Bookings::TenantId)
                    .col(Bookings::StartsAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("bookings_tenant_starts_id_idx")
                    .table(Bookings::Table)
                    .to_owned(),
            )
            .await
    }
}
