//! Periodic jobs: platform-wide work on a schedule (expire unpaid deposits, sync
//! calendars, prune old rows), run once per period across every server instance.
//!
//! Each periodic job has a row in `periodic_jobs` with its `next_run_at`. On each pass of
//! the worker, an instance whose local view says a job is due reads the row and tries a
//! compare-and-set:
//!
//! ```sql
//! UPDATE periodic_jobs SET next_run_at = now + interval, runs = runs + 1, …
//! WHERE name = $name AND next_run_at = $seen AND next_run_at <= now
//! ```
//!
//! Only the instance whose update changes the row runs that period; the others see 0 rows
//! and wait for the new `next_run_at`. A run that fails or whose instance dies is not
//! repeated before its next period, so a periodic job must be safe to run again (sweeps
//! are: each tenant's change is its own transaction, checked again inside it).

use chrono::{DateTime, Utc};
use entities::periodic_job;
use sea_orm::prelude::Expr;
use sea_orm::sea_query::{ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use super::handler::PeriodicJob;
use crate::error::ApiError;
use crate::state::GraphState;
use crate::util::now;

fn interval(job: &dyn PeriodicJob<GraphState>) -> chrono::Duration {
    chrono::Duration::from_std(job.interval()).unwrap_or(chrono::Duration::days(1))
}

/// Claims the current period of `job` for this instance: `Some(scheduled_for)` when this
/// instance won it, `None` when it is not due or another instance ran it.
pub async fn claim(
    st: &GraphState,
    job: &dyn PeriodicJob<GraphState>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let tx = st.db.platform_write().await?;
    let conn = &tx;
    let at = now();
    // Create the row on first sight (due now).
    periodic_job::Entity::insert(periodic_job::ActiveModel {
        name: Set(job.name().into()),
        next_run_at: Set(at),
        runs: Set(0),
        last_started_at: Set(None),
        last_finished_at: Set(None),
        last_error: Set(None),
    })
    .on_conflict(
        OnConflict::column(periodic_job::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    let Some(row) = periodic_job::Entity::find_by_id(job.name().to_string())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if row.next_run_at > at {
        tx.commit().await?;
        st.periodic_schedule.set(job.name(), row.next_run_at);
        return Ok(None);
    }
    let next = at + interval(job);
    let res = periodic_job::Entity::update_many()
        .col_expr(periodic_job::Column::NextRunAt, Expr::value(next))
        .col_expr(
            periodic_job::Column::Runs,
            Expr::col(periodic_job::Column::Runs).add(1),
        )
        .col_expr(periodic_job::Column::LastStartedAt, Expr::value(Some(at)))
        .filter(periodic_job::Column::Name.eq(job.name()))
        .filter(periodic_job::Column::NextRunAt.eq(row.next_run_at))
        .exec(conn)
        .await?;
    tx.commit().await?;
    st.periodic_schedule.set(job.name(), next);
    Ok((res.rows_affected == 1).then_some(row.next_run_at))
}

async fn record(st: &GraphState, name: &str, error: Option<String>) -> Result<(), ApiError> {
    let tx = st.db.platform_write().await?;
    periodic_job::Entity::update_many()
        .col_expr(
            periodic_job::Column::LastFinishedAt,
            Expr::value(Some(now())),
        )
        .col_expr(periodic_job::Column::LastError, Expr::value(error))
        .filter(periodic_job::Column::Name.eq(name))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Runs every registered periodic job that is due and whose period this instance wins.
/// A failing run is logged and recorded in its row; the others still run.
pub async fn run_due(st: &GraphState) -> Result<(), ApiError> {
    let at = now();
    for job in st.extensions.jobs.periodic() {
        if !st.periodic_schedule.due(job.name(), at) {
            continue;
        }
        let Some(scheduled_for) = claim(st, job.as_ref()).await? else {
            continue;
        };
        match job.run(st, scheduled_for).await {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(job = job.name(), handled = n, "periodic job ran");
                }
                record(st, job.name(), None).await?;
            }
            Err(e) => {
                tracing::error!(job = job.name(), error = ?e, "periodic job failed");
                record(st, job.name(), Some(format!("{e:?}"))).await?;
            }
        }
    }
    Ok(())
}
