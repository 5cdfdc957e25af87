//! `refunds`: money given back.

use sea_orm::entity::prelude::*;

/// A refund of (part of) a payment, in cents. `status`: `PENDING` (sent or about to be),
/// `SUCCEEDED`, `FAILED`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The payment refunded.
    pub payment_id: Uuid,
    /// Amount in cents (> 0).
    pub amount_cents: i64,
    /// Where it stands (stored `PENDING`, `SUCCEEDED` or `FAILED`).
    pub status: crate::kinds::PaymentStatus,
    /// Stripe Refund (`re_…`).
    pub provider_refund_id: Option<String>,
    /// Why (free text from staff).
    pub reason: Option<String>,
    /// Provider failure code.
    pub failure_code: Option<String>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
