//! The built-in phone assistant (issue 13, Twilio Voice turn loop):
//!
//! - `calls`: one row per phone call the assistant answered, keyed by Twilio's
//!   `CallSid` (unique per tenant): caller and called numbers, times, duration, Twilio
//!   status, intent and outcome, the LLM summary, the transcript and tool calls (JSON),
//!   and the turn loop's state (the conversation so far and a pending change awaiting
//!   the caller's yes), so that any server instance can take the next turn;
//! - `assistant_settings`: per-tenant greeting, tone, FAQ entries, transfer number,
//!   after-hours behaviour and booking mode (a tenant without a row has the defaults).

use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::tenant_fk;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000010_voice_calls"
    }
}

#[derive(DeriveIden)]
#[allow(clippy::enum_variant_names)] // `tool_calls` is a column of `calls`
enum Calls {
    Table,
    Id,
    TenantId,
    CallSid,
    FromPhone,
    ToPhone,
    StartedAt,
    EndedAt,
    DurationSeconds,
    Status,
    Intent,
    Outcome,
    Summary,
    Transcript,
    ToolCalls,
    Conversation,
    PendingAction,
    Turns,
    SilentTurns,
    BookingId,
    VoicemailUrl,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AssistantSettings {
    Table,
    TenantId,
    Greeting,
    Tone,
    Faq,
    TransferNumber,
    AfterHours,
    BookingMode,
    UpdatedAt,
}

/// The tenant tables this migration adds (row-level security on PostgreSQL).
pub const TABLES: &[&str] = &["calls", "assistant_settings"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Calls::Table)
                    .col(pk_uuid(Calls::Id))
                    .col(uuid(Calls::TenantId))
                    .col(string_len(Calls::CallSid, 64))
                    .col(string_len_null(Calls::FromPhone, 20))
                    .col(string_len_null(Calls::ToPhone, 20))
                    .col(timestamp_with_time_zone(Calls::StartedAt))
                    .col(timestamp_with_time_zone_null(Calls::EndedAt))
                    .col(integer_null(Calls::DurationSeconds))
                    .col(string_len(Calls::Status, 16))
                    .col(string_len_null(Calls::Intent, 16))
                    .col(string_len_null(Calls::Outcome, 16))
                    .col(text_null(Calls::Summary))
                    .col(text(Calls::Transcript))
                    .col(text(Calls::ToolCalls))
                    .col(text(Calls::Conversation))
                    .col(text_null(Calls::PendingAction))
                    .col(integer(Calls::Turns).default(0))
                    .col(integer(Calls::SilentTurns).default(0))
                    .col(uuid_null(Calls::BookingId))
                    .col(string_len_null(Calls::VoicemailUrl, 500))
                    .col(timestamp_with_time_zone(Calls::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Calls::Table, Calls::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("calls_call_sid")
                    .table(Calls::Table)
                    .col(Calls::TenantId)
                    .col(Calls::CallSid)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("calls_recent")
                    .table(Calls::Table)
                    .col(Calls::TenantId)
                    .col(Calls::StartedAt)
                    .col(Calls::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AssistantSettings::Table)
                    .col(uuid(AssistantSettings::TenantId).primary_key())
                    .col(string_len_null(AssistantSettings::Greeting, 300))
                    .col(string_len_null(AssistantSettings::Tone, 200))
                    .col(text(AssistantSettings::Faq))
                    .col(string_len_null(AssistantSettings::TransferNumber, 20))
                    .col(string_len(AssistantSettings::AfterHours, 16))
                    .col(string_len(AssistantSettings::BookingMode, 16))
                    .col(timestamp_with_time_zone(AssistantSettings::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        AssistantSettings::Table,
                        AssistantSettings::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&crate::tenant_rls(TABLES))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AssistantSettings::Table.into_iden(),
            Calls::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
