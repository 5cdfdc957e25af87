//! Route planning (issue 11): a booking's planned arrival and its position on the staff
//! member's route, written by `applyRoute` / `applyDispatch`. Both nullable: a booking that
//! was never planned has neither.

use sea_orm_migration::prelude::*;

/// Adds `bookings.planned_arrival_at` and `bookings.route_position`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000008_dispatch"
    }
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    PlannedArrivalAt,
    RoutePosition,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Bookings::Table)
                    .add_column(
                        ColumnDef::new(Bookings::PlannedArrivalAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Bookings::Table)
                    .add_column(ColumnDef::new(Bookings::RoutePosition).integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Bookings::Table)
                    .drop_column(Bookings::RoutePosition)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Bookings::Table)
                    .drop_column(Bookings::PlannedArrivalAt)
                    .to_owned(),
            )
            .await
    }
}
