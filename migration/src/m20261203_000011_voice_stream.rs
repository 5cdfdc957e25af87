//! The phone assistant's streaming mode (issue 13, "Streaming mode"):
//!
//! - `assistant_settings.mode`: `TURN` (Twilio `<Gather>` turn loop, the default for
//!   every existing row) or `STREAM` (Twilio Media Streams bridged to the OpenAI
//!   Realtime API);
//! - `calls.hand_over`: what a streamed call hears once its stream ends (JSON
//!   `{"say", "next"}` written by the bridge: a transfer, a voicemail, a goodbye), read
//!   by the `<Redirect>` after `<Connect><Stream>`; null while the stream runs or when it
//!   ended without a decision.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000011_voice_stream"
    }
}

#[derive(DeriveIden)]
enum Calls {
    Table,
    HandOver,
}

#[derive(DeriveIden)]
enum AssistantSettings {
    Table,
    Mode,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AssistantSettings::Table)
                    .add_column(string_len(AssistantSettings::Mode, 16).default("TURN"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Calls::Table)
                    .add_column(text_null(Calls::HandOver))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Calls::Table)
                    .drop_column(Calls::HandOver)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AssistantSettings::Table)
                    .drop_column(AssistantSettings::Mode)
                    .to_owned(),
            )
            .await
    }
}
