//! `tenants`: one business using the platform.

use sea_orm::entity::prelude::*;

/// A tenant row. `slug` is globally unique (the booking-page name); `timezone` is an IANA
/// name; `currency` is an ISO 4217 code; `plan` and `status` are upper-case enum names.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Display name of the business.
    pub name: String,
    /// Unique booking-page name: lower-case ASCII letters, digits and hyphens.
    #[sea_orm(unique)]
    pub slug: String,
    /// IANA timezone, e.g. `America/New_York`.
    pub timezone: String,
    /// ISO 4217 currency code, e.g. `USD`.
    pub currency: String,
    /// Plan: `STARTER`, `PRO` or `TEAMS`.
    pub plan: String,
    /// Status: `TRIAL`, `ACTIVE`, `PAST_DUE` or `CANCELED`.
    pub status: String,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared; edges are loaded with DataLoaders.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
