//! How payments reacts to the booking lifecycle ([`BookingHook`]):
//!
//! - **created** with `collect_deposit` (public booking page): when card payments are
//!   set up and the policy asks for a deposit, the booking stays `PENDING` with a
//!   deposit deadline, and a Checkout Session is opened (an inline job: the customer
//!   sees the URL at once);
//! - **completed**: the balance is charged to the card saved with the deposit (a job);
//! - **canceled**: an unpaid deposit's Checkout Session is abandoned with the booking.

use async_trait::async_trait;
use entities::{BookingStatus, PaymentKind, booking, service};
use sea_orm::prelude::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::lifecycle::{BookingChange, BookingHook, HookOutput};
use crate::payments::service::{
    abandon_open_deposits, card_payments_ready, charge_balance_on_completion, deposit_amount,
    open_checkout,
};
use crate::state::GraphState;

/// Payments' booking hook.
pub struct PaymentsHook;

#[async_trait]
impl BookingHook<GraphState> for PaymentsHook {
    fn name(&self) -> &'static str {
        "payments"
    }

    async fn on_booking(
        &self,
        st: &GraphState,
        tx: &Tx,
        b: &mut booking::Model,
        change: &BookingChange,
    ) -> Result<HookOutput, ApiError> {
        match change {
            BookingChange::Created {
                collect_deposit: true,
            } => collect_deposit(st, tx, b).await,
            BookingChange::StatusChanged { .. } if b.status == BookingStatus::Completed => {
                Ok(HookOutput::jobs(
                    charge_balance_on_completion(st, tx, b)
                        .await?
                        .into_iter()
                        .collect(),
                ))
            }
            BookingChange::Canceled { .. } => {
                abandon_open_deposits(tx, b.id).await?;
                b.deposit_expires_at = None;
                Ok(HookOutput::none())
            }
            _ => Ok(HookOutput::none()),
        }
    }
}

/// Opens the deposit of a booking made on the public page, if one is due.
async fn collect_deposit(
    st: &GraphState,
    tx: &Tx,
    b: &mut booking::Model,
) -> Result<HookOutput, ApiError> {
    let t = tx.tenant().await?;
    if !card_payments_ready(st, tx, &t).await {
        return Ok(HookOutput::none());
    }
    let Some(svc) = scoped::<service::Entity>(t.id)
        .filter(service::Column::Id.eq(b.service_id))
        .one(&**tx)
        .await?
    else {
        return Ok(HookOutput::none());
    };
    let deposit = deposit_amount(&t, &svc, b.price_cents);
    if deposit <= 0 {
        return Ok(HookOutput::none());
    }
    if b.status != BookingStatus::Pending {
        booking::Entity::update_many()
            .col_expr(booking::Column::Status, Expr::value(BookingStatus::Pending))
            .filter(booking::Column::TenantId.eq(t.id))
            .filter(booking::Column::Id.eq(b.id))
            .exec(&**tx)
            .await?;
        b.status = BookingStatus::Pending;
    }
    let (_, job) = open_checkout(st, tx, &t, b, deposit, PaymentKind::Deposit).await?;
    Ok(HookOutput::jobs(vec![job]))
}
