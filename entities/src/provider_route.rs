//! `provider_routes`: provider-side identifiers that find their tenant.

use sea_orm::entity::prelude::*;

/// A provider-side identifier that must lead to its tenant before any tenant is known:
/// a Stripe connected account (`stripe_account`, `acct_…`), the platform's billing
/// Customer of a tenant (`stripe_billing_customer`, `cus_…`), a Twilio phone number, a
/// Google Calendar channel id. `(provider, external_id)` is unique across tenants (the
/// identifier belongs to one tenant); rows are written in the tenant's own transaction
/// and looked up, before a tenant is known, through one `SECURITY DEFINER` function
/// (`app_tenant_by_route`) on PostgreSQL that reveals the tenant id only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_routes")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// What kind of identifier (`stripe_account`, `stripe_billing_customer`, …).
    pub provider: String,
    /// The provider's identifier, exactly as the provider sends it.
    pub external_id: String,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
