//! `notifications`: what an operator must look at.

use sea_orm::entity::prelude::*;

/// A message for the tenant's operators (e.g. `PAYMENT_FAILED`), unread until marked.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// `PAYMENT_FAILED`, `DEPOSIT_EXPIRED`, `DELIVERY_FAILED`.
    pub kind: String,
    /// Human-readable text.
    pub message: String,
    /// The booking concerned.
    pub booking_id: Option<Uuid>,
    /// The payment concerned.
    pub payment_id: Option<Uuid>,
    /// When an operator marked it read (UTC).
    pub read_at: Option<DateTimeUtc>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
