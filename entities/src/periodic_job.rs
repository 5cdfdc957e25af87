//! `periodic_jobs`: the schedule of platform-wide periodic work (sweeps, syncs).

use sea_orm::entity::prelude::*;

/// One periodic job, by name. Not a tenant table: a periodic job runs across tenants and
/// opens each tenant's own transaction for what it changes. An instance runs it only
/// after winning the compare-and-set `UPDATE … SET next_run_at = now + interval WHERE
/// name = $1 AND next_run_at = $seen`, so each scheduled run happens on one instance.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "periodic_jobs")]
pub struct Model {
    /// Stable name (`payments.expire_deposits`, …).
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// When it is next due (UTC).
    pub next_run_at: DateTimeUtc,
    /// Runs started so far, on any instance.
    pub runs: i64,
    /// Start of the last run (UTC).
    pub last_started_at: Option<DateTimeUtc>,
    /// End of the last run (UTC).
    pub last_finished_at: Option<DateTimeUtc>,
    /// Why the last run failed, if it did (no secrets).
    pub last_error: Option<String>,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
