//! Team dispatch (issue 11): `applyDispatch` may swap two bookings' staff members in one
//! transaction, which passes through a state where both are on one staff member. The
//! PostgreSQL exclusion constraint `bookings_no_overlap` becomes `DEFERRABLE INITIALLY
//! IMMEDIATE`: every statement is still checked at once unless a transaction says
//! `SET CONSTRAINTS bookings_no_overlap DEFERRED`, and then the final state is checked at
//! its commit (PostgreSQL docs, "SET CONSTRAINTS": exclusion constraints may be
//! deferrable). No-op on SQLite, which has no such constraint.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// Re-creates `bookings_no_overlap` as deferrable.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000009_deferrable_overlap"
    }
}

fn constraint(deferrable: bool) -> String {
    format!(
        "ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap;
         ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
             tenant_id WITH =,
             staff_member_id WITH =,
             tstzrange(blocked_from, blocked_until, '[)') WITH &&
         ) WHERE (status <> 'CANCELED'){};",
        if deferrable {
            " DEFERRABLE INITIALLY IMMEDIATE"
        } else {
            ""
        }
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&constraint(true))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&constraint(false))
                .await?;
        }
        Ok(())
    }
}
