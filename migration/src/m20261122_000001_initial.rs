//! Tables of the walking skeleton. Every unique key of a tenant table includes
//! `tenant_id`, and references between tenant tables are composite
//! `(tenant_id, x_id) -> x (tenant_id, id)` so that a row can never point at another
//! tenant's row (DESIGN.md §4, wall 4).

use sea_orm_migration::{prelude::*, schema::*};

use crate::tenant_fk;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000001_initial"
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    Slug,
    Timezone,
    Currency,
    Plan,
    Status,
    SlotIntervalMinutes,
    MinNoticeMinutes,
    HorizonDays,
    CancellationNoticeHours,
    AssignmentPolicy,
    TravelDetourFactor,
    TravelSpeedKmh,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TenantId,
    Email,
    Name,
    PasswordHash,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    TenantId,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    ReplacedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
    TenantId,
    Name,
    Phone,
    Email,
    Address,
    Notes,
    ArchivedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Services {
    Table,
    Id,
    TenantId,
    Name,
    Description,
    DurationMinutes,
    PriceCents,
    Active,
    DisplayOrder,
    BufferBeforeMinutes,
    BufferAfterMinutes,
    SlotIntervalMinutes,
    MinNoticeMinutes,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StaffMembers {
    Table,
    Id,
    TenantId,
    Name,
    UserId,
    Active,
    HomeLatitude,
    HomeLongitude,
    AreaLatitude,
    AreaLongitude,
    AreaRadiusKm,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WorkingHours {
    Table,
    Id,
    TenantId,
    StaffMemberId,
    Weekday,
    StartMinute,
    EndMinute,
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    Id,
    TenantId,
    CustomerId,
    ServiceId,
    StaffMemberId,
    StartsAt,
    EndsAt,
    BlockedFrom,
    BlockedUntil,
    Status,
    Address,
    PriceCents,
    Currency,
    Source,
    Notes,
    AssignmentReason,
    CancellationTokenHash,
    SeriesId,
    Latitude,
    Longitude,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AvailabilityOverrides {
    Table,
    Id,
    TenantId,
    StaffMemberId,
    Date,
    StartMinute,
    EndMinute,
    Note,
}

#[derive(DeriveIden)]
enum TimeOff {
    Table,
    Id,
    TenantId,
    StaffMemberId,
    StartsAt,
    EndsAt,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StaffServices {
    Table,
    Id,
    TenantId,
    StaffMemberId,
    ServiceId,
    PriceCents,
    DurationMinutes,
}

#[derive(DeriveIden)]
enum AgentKeys {
    Table,
    Id,
    TenantId,
    Name,
    KeyHash,
    KeyPrefix,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ServiceAddons {
    Table,
    Id,
    TenantId,
    ServiceId,
    Name,
    DurationMinutes,
    PriceCents,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BookingItems {
    Table,
    Id,
    TenantId,
    BookingId,
    Position,
    ServiceId,
    AddonId,
    Name,
    DurationMinutes,
    PriceCents,
}

#[derive(DeriveIden)]
enum SlotHolds {
    Table,
    Id,
    TenantId,
    StaffMemberId,
    ServiceId,
    StartsAt,
    EndsAt,
    BlockedFrom,
    BlockedUntil,
    ExpiresAt,
    TokenHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    TenantId,
    Key,
    Operation,
    Response,
    CreatedAt,
}

/// Unique `(tenant_id, id)` so that other tenant tables can reference `(tenant_id, id)`.
fn tenant_id_key<T: IntoIden + 'static>(
    name: &str,
    table: T,
    tenant: T,
    id: T,
) -> IndexCreateStatement {
    Index::create()
        .name(name)
        .table(table)
        .col(tenant)
        .col(id)
        .unique()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(pk_uuid(Tenants::Id))
                    .col(string(Tenants::Name))
                    .col(string_uniq(Tenants::Slug))
                    .col(string(Tenants::Timezone))
                    .col(string_len(Tenants::Currency, 3))
                    .col(string_len(Tenants::Plan, 16))
                    .col(string_len(Tenants::Status, 16))
                    .col(integer(Tenants::SlotIntervalMinutes).default(15))
                    .col(integer(Tenants::MinNoticeMinutes).default(0))
                    .col(integer(Tenants::HorizonDays).default(365))
                    .col(integer(Tenants::CancellationNoticeHours).default(0))
                    .col(string_len(Tenants::AssignmentPolicy, 16).default("LEAST_BUSY"))
                    .col(double(Tenants::TravelDetourFactor).default(1.3))
                    .col(double(Tenants::TravelSpeedKmh).default(40.0))
                    .check(Expr::col(Tenants::SlotIntervalMinutes).is_in([5, 10, 15, 20, 30, 60]))
                    .check(Expr::col(Tenants::MinNoticeMinutes).gte(0))
                    .check(Expr::col(Tenants::HorizonDays).between(1, 731))
                    .check(Expr::col(Tenants::CancellationNoticeHours).gte(0))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(uuid(Users::TenantId))
                    .col(string(Users::Email))
                    .col(string(Users::Name))
                    .col(string(Users::PasswordHash))
                    .col(string_len(Users::Role, 16))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .foreign_key(&mut tenant_fk(Users::Table, Users::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_id_key(
                "users_tenant_id_id_key",
                Users::Table,
                Users::TenantId,
                Users::Id,
            ))
            .await?;
        manager
            .create_index(tenant_id_key(
                "users_tenant_id_email_key",
                Users::Table,
                Users::TenantId,
                Users::Email,
            ))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_email_idx")
                    .table(Users::Table)
                    .col(Users::Email)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(pk_uuid(RefreshTokens::Id))
                    .col(uuid(RefreshTokens::TenantId))
                    .col(uuid(RefreshTokens::UserId))
                    .col(uuid(RefreshTokens::FamilyId))
                    .col(string(RefreshTokens::TokenHash))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::ReplacedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        RefreshTokens::Table,
                        RefreshTokens::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                RefreshTokens::Table,
                                (RefreshTokens::TenantId, RefreshTokens::UserId),
                            )
                            .to(Users::Table, (Users::TenantId, Users::Id))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_id_key(
                "refresh_tokens_tenant_id_token_hash_key",
                RefreshTokens::Table,
                RefreshTokens::TenantId,
                RefreshTokens::TokenHash,
            ))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("refresh_tokens_tenant_id_family_id_idx")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::TenantId)
                    .col(RefreshTokens::FamilyId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Customers::Table)
                    .col(pk_uuid(Customers::Id))
                    .col(uuid(Customers::TenantId))
                    .col(string(Customers::Name))
                    .col(string_null(Customers::Phone))
                    .col(string_null(Customers::Email))
                    .col(text_null(Customers::Address))
                    .col(text_null(Customers::Notes))
                    .col(timestamp_with_time_zone_null(Customers::ArchivedAt))
                    .col(timestamp_with_time_zone(Customers::CreatedAt))
                    .foreign_key(&mut tenant_fk(Customers::Table, Customers::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_id_key(
                "customers_tenant_id_id_key",
                Customers::Table,
                Customers::TenantId,
                Customers::Id,
            ))
            .await?;
        manager
            .create_index(tenant_id_key(
                "customers_tenant_id_phone_key",
                Customers::Table,
                Customers::TenantId,
                Customers::Phone,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Services::Table)
                    .col(pk_uuid(Services::Id))
                    .col(uuid(Services::TenantId))
                    .col(string(Services::Name))
                    .col(text_null(Services::Description))
                    .col(integer(Services::DurationMinutes))
                    .col(big_integer(Services::PriceCents))
                    .col(boolean(Services::Active))
                    .col(integer(Services::DisplayOrder))
                    .col(integer(Services::BufferBeforeMinutes).default(0))
                    .col(integer(Services::BufferAfterMinutes).default(0))
                    .col(integer_null(Services::SlotIntervalMinutes))
                    .col(integer_null(Services::MinNoticeMinutes))
                    .check(Expr::col(Services::BufferBeforeMinutes).between(0, 720))
                    .check(Expr::col(Services::BufferAfterMinutes).between(0, 720))
                    .col(timestamp_with_time_zone(Services::CreatedAt))
                    .check(Expr::col(Services::DurationMinutes).gt(0))
                    .check(Expr::col(Services::PriceCents).gte(0))
                    .foreign_key(&mut tenant_fk(Services::Table, Services::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_id_key(
                "services_tenant_id_id_key",
                Services::Table,
                Services::TenantId,
                Services::Id,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StaffMembers::Table)
                    .col(pk_uuid(StaffMembers::Id))
                    .col(uuid(StaffMembers::TenantId))
                    .col(string(StaffMembers::Name))
                    .col(uuid_null(StaffMembers::UserId))
                    .col(boolean(StaffMembers::Active))
                    .col(double_null(StaffMembers::HomeLatitude))
                    .col(double_null(StaffMembers::HomeLongitude))
                    .col(double_null(StaffMembers::AreaLatitude))
                    .col(double_null(StaffMembers::AreaLongitude))
                    .col(double_null(StaffMembers::AreaRadiusKm))
                    .col(timestamp_with_time_zone(StaffMembers::CreatedAt))
                    .foreign_key(&mut tenant_fk(StaffMembers::Table, StaffMembers::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                StaffMembers::Table,
                                (StaffMembers::TenantId, StaffMembers::UserId),
                            )
                            .to(Users::Table, (Users::TenantId, Users::Id)),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_id_key(
                "staff_members_tenant_id_id_key",
                StaffMembers::Table,
                StaffMembers::TenantId,
                StaffMembers::Id,
            ))
            .await?;
        manager
            .create_index(tenant_id_key(
                "staff_members_tenant_id_user_id_key",
                StaffMembers::Table,
                StaffMembers::TenantId,
                StaffMembers::UserId,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WorkingHours::Table)
                    .col(pk_uuid(WorkingHours::Id))
                    .col(uuid(WorkingHours::TenantId))
                    .col(uuid(WorkingHours::StaffMemberId))
                    .col(small_integer(WorkingHours::Weekday))
                    .col(integer(WorkingHours::StartMinute))
                    .col(integer(WorkingHours::EndMinute))
                    .check(Expr::col(WorkingHours::Weekday).between(0, 6))
                    .check(Expr::col(WorkingHours::StartMinute).gte(0))
                    .check(
                        Expr::col(WorkingHours::EndMinute).gt(Expr::col(WorkingHours::StartMinute)),
                    )
                    .check(Expr::col(WorkingHours::EndMinute).lte(1440))
                    .foreign_key(&mut tenant_fk(WorkingHours::Table, WorkingHours::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                WorkingHours::Table,
                                (WorkingHours::TenantId, WorkingHours::StaffMemberId),
                            )
                            .to(
                                StaffMembers::Table,
                                (StaffMembers::TenantId, StaffMembers::Id),
                            )
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("working_hours_tenant_id_staff_member_id_idx")
                    .table(WorkingHours::Table)
                    .col(WorkingHours::TenantId)
                    .col(WorkingHours::StaffMemberId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Bookings::Table)
                    .col(pk_uuid(Bookings::Id))
                    .col(uuid(Bookings::TenantId))
                    .col(uuid(Bookings::CustomerId))
                    .col(uuid(Bookings::ServiceId))
                    .col(uuid(Bookings::StaffMemberId))
                    .col(timestamp_with_time_zone(Bookings::StartsAt))
                    .col(timestamp_with_time_zone(Bookings::EndsAt))
                    .col(timestamp_with_time_zone(Bookings::BlockedFrom))
                    .col(timestamp_with_time_zone(Bookings::BlockedUntil))
                    .col(string_len(Bookings::Status, 16))
                    .col(text_null(Bookings::Address))
                    .col(big_integer(Bookings::PriceCents))
                    .col(string_len(Bookings::Currency, 3))
                    .col(string_len(Bookings::Source, 16))
                    .col(text_null(Bookings::Notes))
                    .col(text_null(Bookings::AssignmentReason))
                    .col(string_null(Bookings::CancellationTokenHash))
                    .col(uuid_null(Bookings::SeriesId))
                    .col(double_null(Bookings::Latitude))
                    .col(double_null(Bookings::Longitude))
                    .col(timestamp_with_time_zone(Bookings::CreatedAt))
                    .col(timestamp_with_time_zone(Bookings::UpdatedAt))
                    .check(Expr::col(Bookings::EndsAt).gt(Expr::col(Bookings::StartsAt)))
                    .check(Expr::col(Bookings::BlockedFrom).lte(Expr::col(Bookings::StartsAt)))
                    .check(Expr::col(Bookings::BlockedUntil).gte(Expr::col(Bookings::EndsAt)))
                    .foreign_key(&mut tenant_fk(Bookings::Table, Bookings::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Bookings::Table, (Bookings::TenantId, Bookings::CustomerId))
                            .to(Customers::Table, (Customers::TenantId, Customers::Id)),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Bookings::Table, (Bookings::TenantId, Bookings::ServiceId))
                            .to(Services::Table, (Services::TenantId, Services::Id)),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                Bookings::Table,
                                (Bookings::TenantId, Bookings::StaffMemberId),
                            )
                            .to(
                                StaffMembers::Table,
                                (StaffMembers::TenantId, StaffMembers::Id),
                            ),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("bookings_tenant_staff_starts_idx")
                    .table(Bookings::Table)
                    .col(Bookings::TenantId)
                    .col(Bookings::StaffMemberId)
                    .col(Bookings::StartsAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("bookings_tenant_starts_idx")
                    .table(Bookings::Table)
                    .col(Bookings::TenantId)
                    .col(Bookings::StartsAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AvailabilityOverrides::Table)
                    .col(pk_uuid(AvailabilityOverrides::Id))
                    .col(uuid(AvailabilityOverrides::TenantId))
                    .col(uuid_null(AvailabilityOverrides::StaffMemberId))
                    .col(date(AvailabilityOverrides::Date))
                    .col(integer_null(AvailabilityOverrides::StartMinute))
                    .col(integer_null(AvailabilityOverrides::EndMinute))
                    .col(text_null(AvailabilityOverrides::Note))
                    .check(
                        Expr::col(AvailabilityOverrides::StartMinute)
                            .is_null()
                            .and(Expr::col(AvailabilityOverrides::EndMinute).is_null())
                            .or(Expr::col(AvailabilityOverrides::StartMinute)
                                .gte(0)
                                .and(
                                    Expr::col(AvailabilityOverrides::EndMinute)
                                        .gt(Expr::col(AvailabilityOverrides::StartMinute)),
                                )
                                .and(Expr::col(AvailabilityOverrides::EndMinute).lte(1440))),
                    )
                    .foreign_key(&mut tenant_fk(
                        AvailabilityOverrides::Table,
                        AvailabilityOverrides::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                AvailabilityOverrides::Table,
                                (
                                    AvailabilityOverrides::TenantId,
                                    AvailabilityOverrides::StaffMemberId,
                                ),
                            )
                            .to(
                                StaffMembers::Table,
                                (StaffMembers::TenantId, StaffMembers::Id),
                            )
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("availability_overrides_tenant_date_idx")
                    .table(AvailabilityOverrides::Table)
                    .col(AvailabilityOverrides::TenantId)
                    .col(AvailabilityOverrides::Date)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TimeOff::Table)
                    .col(pk_uuid(TimeOff::Id))
                    .col(uuid(TimeOff::TenantId))
                    .col(uuid(TimeOff::StaffMemberId))
                    .col(timestamp_with_time_zone(TimeOff::StartsAt))
                    .col(timestamp_with_time_zone(TimeOff::EndsAt))
                    .col(text_null(TimeOff::Reason))
                    .col(timestamp_with_time_zone(TimeOff::CreatedAt))
                    .check(Expr::col(TimeOff::EndsAt).gt(Expr::col(TimeOff::StartsAt)))
                    .foreign_key(&mut tenant_fk(TimeOff::Table, TimeOff::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TimeOff::Table, (TimeOff::TenantId, TimeOff::StaffMemberId))
                            .to(
                                StaffMembers::Table,
                                (StaffMembers::TenantId, StaffMembers::Id),
                            )
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("time_off_tenant_staff_starts_idx")
                    .table(TimeOff::Table)
                    .col(TimeOff::TenantId)
                    .col(TimeOff::StaffMemberId)
                    .col(TimeOff::StartsAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StaffServices::Table)
                    .col(pk_uuid(StaffServices::Id))
                    .col(uuid(StaffServices::TenantId))
                    .col(uuid(StaffServices::StaffMemberId))
                    .col(uuid(StaffServices::ServiceId))
                    .col(big_integer_null(StaffServices::PriceCents))
                    .col(integer_null(StaffServices::DurationMinutes))
                    .check(Expr::col(StaffServices::PriceCents).gte(0))
                    .check(Expr::col(StaffServices::DurationMinutes).between(5, 1440))
                    .foreign_key(&mut tenant_fk(
                        StaffServices::Table,
                        StaffServices::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                StaffServices::Table,
                                (StaffServices::TenantId, StaffServices::StaffMemberId),
                            )
                            .to(
                                StaffMembers::Table,
                                (StaffMembers::TenantId, StaffMembers::Id),
                            )
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                StaffServices::Table,
                                (StaffServices::TenantId, StaffServices::ServiceId),
                            )
                            .to(Services::Table, (Services::TenantId, Services::Id))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("staff_services_tenant_staff_service_key")
                    .table(StaffServices::Table)
                    .col(StaffServices::TenantId)
                    .col(StaffServices::StaffMemberId)
                    .col(StaffServices::ServiceId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(tenant_id_key(
                "bookings_tenant_id_id_key",
                Bookings::Table,
                Bookings::TenantId,
                Bookings::Id,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AgentKeys::Table)
                    .col(pk_uuid(AgentKeys::Id))
                    .col(uuid(AgentKeys::TenantId))
                    .col(string(AgentKeys::Name))
                    .col(string(AgentKeys::KeyHash))
                    .col(string(AgentKeys::KeyPrefix))
                    .col(timestamp_with_time_zone(AgentKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(AgentKeys::RevokedAt))
                    .foreign_key(&mut tenant_fk(AgentKeys::Table, AgentKeys::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_id_key(
                "agent_keys_tenant_key_hash_key",
                AgentKeys::Table,
                AgentKeys::TenantId,
                AgentKeys::KeyHash,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServiceAddons::Table)
                    .col(pk_uuid(ServiceAddons::Id))
                    .col(uuid(ServiceAddons::TenantId))
                    .col(uuid(ServiceAddons::ServiceId))
                    .col(string(ServiceAddons::Name))
                    .col(integer(ServiceAddons::DurationMinutes))
                    .col(big_integer(ServiceAddons::PriceCents))
                    .col(boolean(ServiceAddons::Active))
                    .col(timestamp_with_time_zone(ServiceAddons::CreatedAt))
                    .check(Expr::col(ServiceAddons::DurationMinutes).between(0, 720))
                    .check(Expr::col(ServiceAddons::PriceCents).gte(0))
                    .foreign_key(&mut tenant_fk(
                        ServiceAddons::Table,
                        ServiceAddons::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ServiceAddons::Table,
                                (ServiceAddons::TenantId, ServiceAddons::ServiceId),
                            )
                            .to(Services::Table, (Services::TenantId, Services::Id))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_id_key(
                "service_addons_tenant_id_id_key",
                ServiceAddons::Table,
                ServiceAddons::TenantId,
                ServiceAddons::Id,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BookingItems::Table)
                    .col(pk_uuid(BookingItems::Id))
                    .col(uuid(BookingItems::TenantId))
                    .col(uuid(BookingItems::BookingId))
                    .col(integer(BookingItems::Position))
                    .col(uuid_null(BookingItems::ServiceId))
                    .col(uuid_null(BookingItems::AddonId))
                    .col(string(BookingItems::Name))
                    .col(integer(BookingItems::DurationMinutes))
                    .col(big_integer(BookingItems::PriceCents))
                    .foreign_key(&mut tenant_fk(BookingItems::Table, BookingItems::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                BookingItems::Table,
                                (BookingItems::TenantId, BookingItems::BookingId),
                            )
                            .to(Bookings::Table, (Bookings::TenantId, Bookings::Id))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                BookingItems::Table,
                                (BookingItems::TenantId, BookingItems::ServiceId),
                            )
                            .to(Services::Table, (Services::TenantId, Services::Id)),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                BookingItems::Table,
                                (BookingItems::TenantId, BookingItems::AddonId),
                            )
                            .to(
                                ServiceAddons::Table,
                                (ServiceAddons::TenantId, ServiceAddons::Id),
                            ),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("booking_items_tenant_booking_idx")
                    .table(BookingItems::Table)
                    .col(BookingItems::TenantId)
                    .col(BookingItems::BookingId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SlotHolds::Table)
                    .col(pk_uuid(SlotHolds::Id))
                    .col(uuid(SlotHolds::TenantId))
                    .col(uuid(SlotHolds::StaffMemberId))
                    .col(uuid(SlotHolds::ServiceId))
                    .col(timestamp_with_time_zone(SlotHolds::StartsAt))
                    .col(timestamp_with_time_zone(SlotHolds::EndsAt))
                    .col(timestamp_with_time_zone(SlotHolds::BlockedFrom))
                    .col(timestamp_with_time_zone(SlotHolds::BlockedUntil))
                    .col(timestamp_with_time_zone(SlotHolds::ExpiresAt))
                    .col(string(SlotHolds::TokenHash))
                    .col(timestamp_with_time_zone(SlotHolds::CreatedAt))
                    .foreign_key(&mut tenant_fk(SlotHolds::Table, SlotHolds::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                SlotHolds::Table,
                                (SlotHolds::TenantId, SlotHolds::StaffMemberId),
                            )
                            .to(
                                StaffMembers::Table,
                                (StaffMembers::TenantId, StaffMembers::Id),
                            )
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                SlotHolds::Table,
                                (SlotHolds::TenantId, SlotHolds::ServiceId),
                            )
                            .to(Services::Table, (Services::TenantId, Services::Id))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("slot_holds_tenant_token_key")
                    .table(SlotHolds::Table)
                    .col(SlotHolds::TenantId)
                    .col(SlotHolds::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("slot_holds_tenant_staff_idx")
                    .table(SlotHolds::Table)
                    .col(SlotHolds::TenantId)
                    .col(SlotHolds::StaffMemberId)
                    .col(SlotHolds::BlockedFrom)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(pk_uuid(IdempotencyKeys::Id))
                    .col(uuid(IdempotencyKeys::TenantId))
                    .col(string(IdempotencyKeys::Key))
                    .col(string(IdempotencyKeys::Operation))
                    .col(text(IdempotencyKeys::Response))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        IdempotencyKeys::Table,
                        IdempotencyKeys::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_keys_tenant_key_key")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::TenantId)
                    .col(IdempotencyKeys::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdempotencyKeys::Table.into_iden(),
            SlotHolds::Table.into_iden(),
            BookingItems::Table.into_iden(),
            AgentKeys::Table.into_iden(),
            ServiceAddons::Table.into_iden(),
            StaffServices::Table.into_iden(),
            TimeOff::Table.into_iden(),
            AvailabilityOverrides::Table.into_iden(),
            Bookings::Table.into_iden(),
            WorkingHours::Table.into_iden(),
            StaffMembers::Table.into_iden(),
            Services::Table.into_iden(),
            Customers::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Users::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
