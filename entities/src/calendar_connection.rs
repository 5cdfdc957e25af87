//! `calendar_connections`: a staff member's Google Calendar account.

use sea_orm::entity::prelude::*;

/// One staff member's connected Google account. The refresh token (and the current
/// access token) are stored sealed (`plugins::secrets::Sealed` as JSON, AAD = tenant +
/// `google_calendar` + connection id), never in the clear.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calendar_connections")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The staff member whose calendar this is (one connection each).
    pub staff_member_id: Uuid,
    /// `CONNECTED` or `BROKEN` (the grant was revoked or expired: connect again).
    pub status: String,
    /// The Google account's address (the primary calendar's id), when known.
    pub account_email: Option<String>,
    /// Sealed refresh token (JSON).
    pub refresh_token_sealed: String,
    /// Sealed current access token (JSON).
    pub access_token_sealed: Option<String>,
    /// When the access token expires (UTC).
    pub access_token_expires_at: Option<DateTimeUtc>,
    /// The calendar bookings are written to (`None`: not exported).
    pub write_calendar_id: Option<String>,
    /// End of the last successful sync (UTC).
    pub last_sync_at: Option<DateTimeUtc>,
    /// Code of the last failure (`invalid_grant`, `rate_limited`, …), cleared on success.
    pub last_error: Option<String>,
    /// Who connected it.
    pub connected_by_user_id: Option<Uuid>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
