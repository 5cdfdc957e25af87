//! `bookings.cancellation_reason`: why a booking was canceled, as given by whoever
//! canceled it (an operator's `cancelBooking(reason:)`, a customer's
//! `publicCancelBooking(reason:)`, a caller's `cancel_appointment` on the phone) or by the
//! system (a lapsed deposit). Null for bookings that are not canceled and for those
//! canceled without a reason. Like Cal.com's `cancellationReason`.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000012_cancellation_reason"
    }
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    CancellationReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Bookings::Table)
                    .add_column(text_null(Bookings::CancellationReason))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Bookings::Table)
                    .drop_column(Bookings::CancellationReason)
                    .to_owned(),
            )
            .await
    }
}
