//! Customer messaging (issue 10), append-only:
//!
//! - `conversations`: one text thread per tenant and customer phone number (E.164),
//!   with its opt-out state (STOP/START) and unread count;
//! - `messages`: every text in or out of a thread, with the provider's id (`MessageSid`,
//!   unique per tenant) and delivery status, and for outbound texts the job that sends
//!   them and when a send was last attempted (the unknown-outcome guard);
//! - `messaging_settings`: per-tenant quiet hours, reminder offsets, HELP text and the
//!   switch for automatic messages (a tenant without a row has the defaults);
//! - `message_templates`: per-tenant bodies replacing the default automatic messages;
//! - `emails`: automatic messages sent by email (customers without a mobile number),
//!   with the Message-ID we set and their status.

use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::tenant_fk;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000005_messaging"
    }
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    TenantId,
    Phone,
    CustomerId,
    OptedOutAt,
    UnreadCount,
    LastMessageAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    TenantId,
    ConversationId,
    Direction,
    Body,
    Status,
    Kind,
    ProviderSid,
    ErrorCode,
    BookingId,
    JobId,
    SentByUserId,
    MediaUrls,
    SendStartedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MessagingSettings {
    Table,
    TenantId,
    AutomaticMessages,
    QuietStartMinute,
    QuietEndMinute,
    ReminderHours,
    HelpText,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Emails {
    Table,
    Id,
    TenantId,
    CustomerId,
    ToAddress,
    Subject,
    Body,
    Status,
    Kind,
    BookingId,
    JobId,
    ProviderId,
    ErrorCode,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MessageTemplates {
    Table,
    Id,
    TenantId,
    Kind,
    Body,
    UpdatedAt,
}

/// Tenant tables this migration adds (row-level security on PostgreSQL).
pub const TABLES: &[&str] = &[
    "conversations",
    "messages",
    "messaging_settings",
    "message_templates",
    "emails",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .col(pk_uuid(Conversations::Id))
                    .col(uuid(Conversations::TenantId))
                    .col(string_len(Conversations::Phone, 20))
                    .col(uuid_null(Conversations::CustomerId))
                    .col(timestamp_with_time_zone_null(Conversations::OptedOutAt))
                    .col(integer(Conversations::UnreadCount).default(0))
                    .col(timestamp_with_time_zone(Conversations::LastMessageAt))
                    .col(timestamp_with_time_zone(Conversations::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        Conversations::Table,
                        Conversations::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("conversations_phone")
                    .table(Conversations::Table)
                    .col(Conversations::TenantId)
                    .col(Conversations::Phone)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("conversations_recent")
                    .table(Conversations::Table)
                    .col(Conversations::TenantId)
                    .col(Conversations::LastMessageAt)
                    .col(Conversations::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .col(pk_uuid(Messages::Id))
                    .col(uuid(Messages::TenantId))
                    .col(uuid(Messages::ConversationId))
                    .col(string_len(Messages::Direction, 16))
                    .col(text(Messages::Body))
                    .col(string_len(Messages::Status, 16))
                    .col(string_len(Messages::Kind, 32))
                    .col(string_len_null(Messages::ProviderSid, 64))
                    .col(string_len_null(Messages::ErrorCode, 64))
                    .col(uuid_null(Messages::BookingId))
                    .col(uuid_null(Messages::JobId))
                    .col(uuid_null(Messages::SentByUserId))
                    .col(text_null(Messages::MediaUrls))
                    .col(timestamp_with_time_zone_null(Messages::SendStartedAt))
                    .col(timestamp_with_time_zone(Messages::CreatedAt))
                    .col(timestamp_with_time_zone(Messages::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Messages::Table, Messages::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("messages_thread")
                    .table(Messages::Table)
                    .col(Messages::TenantId)
                    .col(Messages::ConversationId)
                    .col(Messages::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("messages_sid")
                    .table(Messages::Table)
                    .col(Messages::TenantId)
                    .col(Messages::ProviderSid)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("messages_job")
                    .table(Messages::Table)
                    .col(Messages::TenantId)
                    .col(Messages::JobId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("messages_month")
                    .table(Messages::Table)
                    .col(Messages::TenantId)
                    .col(Messages::Direction)
                    .col(Messages::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MessagingSettings::Table)
                    .col(uuid(MessagingSettings::TenantId).primary_key())
                    .col(boolean(MessagingSettings::AutomaticMessages).default(true))
                    .col(integer(MessagingSettings::QuietStartMinute))
                    .col(integer(MessagingSettings::QuietEndMinute))
                    .col(string_len(MessagingSettings::ReminderHours, 64))
                    .col(string_len(MessagingSettings::HelpText, 320))
                    .col(timestamp_with_time_zone(MessagingSettings::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        MessagingSettings::Table,
                        MessagingSettings::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MessageTemplates::Table)
                    .col(pk_uuid(MessageTemplates::Id))
                    .col(uuid(MessageTemplates::TenantId))
                    .col(string_len(MessageTemplates::Kind, 32))
                    .col(text(MessageTemplates::Body))
                    .col(timestamp_with_time_zone(MessageTemplates::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        MessageTemplates::Table,
                        MessageTemplates::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("message_templates_kind")
                    .table(MessageTemplates::Table)
                    .col(MessageTemplates::TenantId)
                    .col(MessageTemplates::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Emails::Table)
                    .col(pk_uuid(Emails::Id))
                    .col(uuid(Emails::TenantId))
                    .col(uuid_null(Emails::CustomerId))
                    .col(string_len(Emails::ToAddress, 254))
                    .col(string_len(Emails::Subject, 200))
                    .col(text(Emails::Body))
                    .col(string_len(Emails::Status, 16))
                    .col(string_len(Emails::Kind, 32))
                    .col(uuid_null(Emails::BookingId))
                    .col(uuid_null(Emails::JobId))
                    .col(string_len_null(Emails::ProviderId, 255))
                    .col(string_len_null(Emails::ErrorCode, 64))
                    .col(timestamp_with_time_zone(Emails::CreatedAt))
                    .col(timestamp_with_time_zone(Emails::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Emails::Table, Emails::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("emails_recent")
                    .table(Emails::Table)
                    .col(Emails::TenantId)
                    .col(Emails::CreatedAt)
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
            Emails::Table.into_iden(),
            MessageTemplates::Table.into_iden(),
            MessagingSettings::Table.into_iden(),
            Messages::Table.into_iden(),
            Conversations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
