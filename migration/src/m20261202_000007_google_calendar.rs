//! Google Calendar two-way sync (issue 12), append-only:
//!
//! - `calendar_connections`: one Google account per staff member: the sealed refresh
//!   token (and the current access token), status (`CONNECTED` / `BROKEN`), the
//!   calendar bookings are written to, last sync and last error;
//! - `calendar_calendars`: the account's calendars: whether each is read for busy time,
//!   its `nextSyncToken`, and its push channel (id, Google's resource id, a hash of the
//!   channel token, expiry);
//! - `calendar_busy_blocks`: imported events (times only: no title, no attendees) that
//!   block a staff member's availability, unique per (connection, calendar, event);
//! - `calendar_event_links`: which Google event (calendar, id) each exported booking is;
//! - `calendar_oauth_states`: pending consent requests: a hash of `state`, the PKCE
//!   verifier (sealed), who asked, for which staff member, until when.
//!
//! On PostgreSQL all five are tenant tables with row-level security, and
//! `app_calendar_connections()` (`SECURITY DEFINER`) lists `(tenant_id, id)` of the
//! connected accounts for the periodic sync; the OAuth callback and push notifications
//! find their tenant through `provider_routes`.

use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::tenant_fk;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000007_google_calendar"
    }
}

#[derive(DeriveIden)]
enum CalendarConnections {
    Table,
    Id,
    TenantId,
    StaffMemberId,
    Status,
    AccountEmail,
    RefreshTokenSealed,
    AccessTokenSealed,
    AccessTokenExpiresAt,
    WriteCalendarId,
    LastSyncAt,
    LastError,
    ConnectedByUserId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CalendarCalendars {
    Table,
    Id,
    TenantId,
    ConnectionId,
    CalendarId,
    Summary,
    IsPrimary,
    AccessRole,
    TimeZone,
    ReadBusy,
    SyncToken,
    LastFullSyncAt,
    LastSyncAt,
    ChannelId,
    ChannelResourceId,
    ChannelTokenHash,
    ChannelExpiresAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CalendarBusyBlocks {
    Table,
    Id,
    TenantId,
    StaffMemberId,
    ConnectionId,
    CalendarId,
    EventId,
    StartsAt,
    EndsAt,
    AllDay,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CalendarEventLinks {
    Table,
    BookingId,
    TenantId,
    ConnectionId,
    CalendarId,
    EventId,
    StartsAt,
    EndsAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CalendarOauthStates {
    Table,
    StateHash,
    TenantId,
    UserId,
    StaffMemberId,
    VerifierSealed,
    ExpiresAt,
    CreatedAt,
}

/// Tenant tables this migration adds (row-level security on PostgreSQL).
pub const TABLES: &[&str] = &[
    "calendar_connections",
    "calendar_calendars",
    "calendar_busy_blocks",
    "calendar_event_links",
    "calendar_oauth_states",
];

const PG_FUNCTIONS: &str = r#"
CREATE FUNCTION app_calendar_connections()
    RETURNS TABLE (tenant_id uuid, id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT tenant_id, id FROM calendar_connections WHERE status = 'CONNECTED'
          ORDER BY id $$;
REVOKE ALL ON FUNCTION app_calendar_connections() FROM PUBLIC;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CalendarConnections::Table)
                    .col(uuid(CalendarConnections::Id).primary_key())
                    .col(uuid(CalendarConnections::TenantId))
                    .col(uuid(CalendarConnections::StaffMemberId))
                    .col(string_len(CalendarConnections::Status, 16))
                    .col(string_len_null(CalendarConnections::AccountEmail, 320))
                    .col(text(CalendarConnections::RefreshTokenSealed))
                    .col(text_null(CalendarConnections::AccessTokenSealed))
                    .col(timestamp_with_time_zone_null(
                        CalendarConnections::AccessTokenExpiresAt,
                    ))
                    .col(string_len_null(CalendarConnections::WriteCalendarId, 255))
                    .col(timestamp_with_time_zone_null(
                        CalendarConnections::LastSyncAt,
                    ))
                    .col(string_len_null(CalendarConnections::LastError, 255))
                    .col(uuid_null(CalendarConnections::ConnectedByUserId))
                    .col(timestamp_with_time_zone(CalendarConnections::CreatedAt))
                    .col(timestamp_with_time_zone(CalendarConnections::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        CalendarConnections::Table,
                        CalendarConnections::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("calendar_connections_staff")
                    .table(CalendarConnections::Table)
                    .col(CalendarConnections::TenantId)
                    .col(CalendarConnections::StaffMemberId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CalendarCalendars::Table)
                    .col(uuid(CalendarCalendars::Id).primary_key())
                    .col(uuid(CalendarCalendars::TenantId))
                    .col(uuid(CalendarCalendars::ConnectionId))
                    .col(string_len(CalendarCalendars::CalendarId, 255))
                    .col(string_len(CalendarCalendars::Summary, 255))
                    .col(boolean(CalendarCalendars::IsPrimary))
                    .col(string_len(CalendarCalendars::AccessRole, 32))
                    .col(string_len_null(CalendarCalendars::TimeZone, 64))
                    .col(boolean(CalendarCalendars::ReadBusy))
                    .col(text_null(CalendarCalendars::SyncToken))
                    .col(timestamp_with_time_zone_null(
                        CalendarCalendars::LastFullSyncAt,
                    ))
                    .col(timestamp_with_time_zone_null(CalendarCalendars::LastSyncAt))
                    .col(uuid_null(CalendarCalendars::ChannelId))
                    .col(string_len_null(CalendarCalendars::ChannelResourceId, 255))
                    .col(string_len_null(CalendarCalendars::ChannelTokenHash, 64))
                    .col(timestamp_with_time_zone_null(
                        CalendarCalendars::ChannelExpiresAt,
                    ))
                    .col(timestamp_with_time_zone(CalendarCalendars::CreatedAt))
                    .col(timestamp_with_time_zone(CalendarCalendars::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        CalendarCalendars::Table,
                        CalendarCalendars::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CalendarCalendars::Table, CalendarCalendars::ConnectionId)
                            .to(CalendarConnections::Table, CalendarConnections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("calendar_calendars_unique")
                    .table(CalendarCalendars::Table)
                    .col(CalendarCalendars::ConnectionId)
                    .col(CalendarCalendars::CalendarId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CalendarBusyBlocks::Table)
                    .col(uuid(CalendarBusyBlocks::Id).primary_key())
                    .col(uuid(CalendarBusyBlocks::TenantId))
                    .col(uuid(CalendarBusyBlocks::StaffMemberId))
                    .col(uuid(CalendarBusyBlocks::ConnectionId))
                    .col(string_len(CalendarBusyBlocks::CalendarId, 255))
                    .col(string_len(CalendarBusyBlocks::EventId, 1024))
                    .col(timestamp_with_time_zone(CalendarBusyBlocks::StartsAt))
                    .col(timestamp_with_time_zone(CalendarBusyBlocks::EndsAt))
                    .col(boolean(CalendarBusyBlocks::AllDay))
                    .col(timestamp_with_time_zone(CalendarBusyBlocks::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        CalendarBusyBlocks::Table,
                        CalendarBusyBlocks::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CalendarBusyBlocks::Table, CalendarBusyBlocks::ConnectionId)
                            .to(CalendarConnections::Table, CalendarConnections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("calendar_busy_blocks_event")
                    .table(CalendarBusyBlocks::Table)
                    .col(CalendarBusyBlocks::ConnectionId)
                    .col(CalendarBusyBlocks::CalendarId)
                    .col(CalendarBusyBlocks::EventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("calendar_busy_blocks_staff")
                    .table(CalendarBusyBlocks::Table)
                    .col(CalendarBusyBlocks::TenantId)
                    .col(CalendarBusyBlocks::StaffMemberId)
                    .col(CalendarBusyBlocks::StartsAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CalendarEventLinks::Table)
                    .col(uuid(CalendarEventLinks::BookingId).primary_key())
                    .col(uuid(CalendarEventLinks::TenantId))
                    .col(uuid(CalendarEventLinks::ConnectionId))
                    .col(string_len(CalendarEventLinks::CalendarId, 255))
                    .col(string_len(CalendarEventLinks::EventId, 64))
                    .col(timestamp_with_time_zone(CalendarEventLinks::StartsAt))
                    .col(timestamp_with_time_zone(CalendarEventLinks::EndsAt))
                    .col(timestamp_with_time_zone(CalendarEventLinks::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        CalendarEventLinks::Table,
                        CalendarEventLinks::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CalendarOauthStates::Table)
                    .col(string_len(CalendarOauthStates::StateHash, 64).primary_key())
                    .col(uuid(CalendarOauthStates::TenantId))
                    .col(uuid(CalendarOauthStates::UserId))
                    .col(uuid(CalendarOauthStates::StaffMemberId))
                    .col(text(CalendarOauthStates::VerifierSealed))
                    .col(timestamp_with_time_zone(CalendarOauthStates::ExpiresAt))
                    .col(timestamp_with_time_zone(CalendarOauthStates::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        CalendarOauthStates::Table,
                        CalendarOauthStates::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let conn = manager.get_connection();
            conn.execute_unprepared(&crate::tenant_rls(TABLES)).await?;
            conn.execute_unprepared(PG_FUNCTIONS).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS app_calendar_connections()")
                .await?;
        }
        for table in [
            CalendarOauthStates::Table.into_iden(),
            CalendarEventLinks::Table.into_iden(),
            CalendarBusyBlocks::Table.into_iden(),
            CalendarCalendars::Table.into_iden(),
            CalendarConnections::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
