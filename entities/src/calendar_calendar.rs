//! `calendar_calendars`: the calendars of a connected Google account.

use sea_orm::entity::prelude::*;

/// One calendar of a connection: whether it is read for busy time, its incremental-sync
/// state and its push channel.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calendar_calendars")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The connection.
    pub connection_id: Uuid,
    /// Google's calendar id.
    pub calendar_id: String,
    /// Title.
    pub summary: String,
    /// The account's primary calendar.
    pub is_primary: bool,
    /// `owner`, `writer`, `reader`, `freeBusyReader`.
    pub access_role: String,
    /// The calendar's IANA zone (all-day events are read in it).
    pub time_zone: Option<String>,
    /// Events of this calendar block availability.
    pub read_busy: bool,
    /// `nextSyncToken` of the last completed sync.
    pub sync_token: Option<String>,
    /// Last full sync (UTC).
    pub last_full_sync_at: Option<DateTimeUtc>,
    /// Last completed sync (UTC).
    pub last_sync_at: Option<DateTimeUtc>,
    /// Our push channel id.
    pub channel_id: Option<Uuid>,
    /// Google's `resourceId` of the channel (to stop it).
    pub channel_resource_id: Option<String>,
    /// SHA-256 (hex) of the channel token Google echoes in `X-Goog-Channel-Token`.
    pub channel_token_hash: Option<String>,
    /// When the channel expires (UTC).
    pub channel_expires_at: Option<DateTimeUtc>,
    /// Creation instant (UTC).
    pub created_at: DateTimeUtc,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
