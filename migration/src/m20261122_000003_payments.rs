//! Plugin platform and payments (issue 4):
//!
//! - `plugin_configs`: a tenant's configuration of one catalog plugin; secret fields are
//!   sealed with AES-256-GCM (`secrets_ciphertext`), the key id beside them.
//! - `outbox_messages`: provider calls that change something, written in the same
//!   transaction as the business change and delivered by the outbox worker.
//! - `webhook_events`: each provider event stored once (unique per tenant, source and
//!   provider event id), in the same transaction as its effect.
//! - `payments`, `refunds`: money taken and given back, per booking (integer cents).
//! - `notifications`: what an operator must look at (a failed balance charge, …).
//! - Deposit policy on tenants and services; Stripe Connect and platform-billing state on
//!   tenants; the deposit deadline on bookings.
//!
//! On PostgreSQL the new tenant tables get the same forced row-level security as the
//! others, and two `SECURITY DEFINER` functions let the background worker find due work
//! across tenants (ids only) and two let the platform webhook find a tenant by its
//! Stripe account or its platform billing Customer.

use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::{PAYMENT_TENANT_TABLES, tenant_fk};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000003_payments"
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    DepositPolicy,
    DepositValue,
    StripeAccountId,
    StripeChargesEnabled,
    StripePayoutsEnabled,
    StripeDetailsSubmitted,
    StripeAccountEventAt,
    BillingCustomerId,
    BillingSubscriptionId,
    TrialEndsAt,
    BillingEventAt,
}

#[derive(DeriveIden)]
enum Services {
    Table,
    DepositPolicy,
    DepositValue,
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    Id,
    TenantId,
    DepositExpiresAt,
}

#[derive(DeriveIden)]
enum PluginConfigs {
    Table,
    Id,
    TenantId,
    PluginId,
    Enabled,
    Config,
    SecretsCiphertext,
    SecretsKeyId,
    SecretHints,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OutboxMessages {
    Table,
    Id,
    TenantId,
    Kind,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    Result,
    DeliveredAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    TenantId,
    Source,
    EventId,
    EventType,
    EventCreatedAt,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    TenantId,
    BookingId,
    Kind,
    Method,
    Status,
    AmountCents,
    RefundedCents,
    ApplicationFeeCents,
    Currency,
    Provider,
    CheckoutSessionId,
    CheckoutUrl,
    PaymentIntentId,
    ProviderCustomerId,
    PaymentMethodId,
    FailureCode,
    FailureMessage,
    ExpiresAt,
    Note,
    RecordedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Id,
    TenantId,
    PaymentId,
    AmountCents,
    Status,
    ProviderRefundId,
    Reason,
    FailureCode,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    TenantId,
    Kind,
    Message,
    BookingId,
    PaymentId,
    ReadAt,
    CreatedAt,
}

fn index<T: IntoIden + 'static>(
    name: &str,
    table: T,
    cols: Vec<T>,
    unique: bool,
) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(c);
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

const PG_UP: &str = r#"
CREATE FUNCTION app_due_outbox(p_now timestamptz, p_limit integer)
    RETURNS TABLE (tenant_id uuid, id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT tenant_id, id FROM outbox_messages
          WHERE status = 'PENDING' AND next_attempt_at <= p_now
          ORDER BY next_attempt_at LIMIT p_limit $$;

CREATE FUNCTION app_expired_deposits(p_now timestamptz, p_limit integer)
    RETURNS TABLE (tenant_id uuid, id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT tenant_id, id FROM bookings
          WHERE status = 'PENDING' AND deposit_expires_at IS NOT NULL
            AND deposit_expires_at <= p_now
          ORDER BY deposit_expires_at LIMIT p_limit $$;

CREATE FUNCTION app_tenant_id_by_stripe_account(p_account text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT id FROM tenants WHERE stripe_account_id = p_account $$;

CREATE FUNCTION app_tenant_id_by_billing_customer(p_customer text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT id FROM tenants WHERE billing_customer_id = p_customer $$;

REVOKE ALL ON FUNCTION app_tenant_id_by_billing_customer(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_due_outbox(timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_expired_deposits(timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_tenant_id_by_stripe_account(text) FROM PUBLIC;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let tenant_cols = [
            string_len(Tenants::DepositPolicy, 16)
                .default("NONE")
                .to_owned(),
            big_integer(Tenants::DepositValue).default(0).to_owned(),
            string_null(Tenants::StripeAccountId).to_owned(),
            boolean(Tenants::StripeChargesEnabled)
                .default(false)
                .to_owned(),
            boolean(Tenants::StripePayoutsEnabled)
                .default(false)
                .to_owned(),
            boolean(Tenants::StripeDetailsSubmitted)
                .default(false)
                .to_owned(),
            big_integer(Tenants::StripeAccountEventAt)
                .default(0)
                .to_owned(),
            string_null(Tenants::BillingCustomerId).to_owned(),
            string_null(Tenants::BillingSubscriptionId).to_owned(),
            timestamp_with_time_zone_null(Tenants::TrialEndsAt).to_owned(),
            big_integer(Tenants::BillingEventAt).default(0).to_owned(),
        ];
        for mut col in tenant_cols {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(index(
                "tenants_stripe_account_key",
                Tenants::Table,
                vec![Tenants::StripeAccountId],
                true,
            ))
            .await?;
        for mut col in [
            string_len_null(Services::DepositPolicy, 16).to_owned(),
            big_integer_null(Services::DepositValue).to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Services::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Bookings::Table)
                    .add_column(timestamp_with_time_zone_null(Bookings::DepositExpiresAt))
                    .to_owned(),
            )
            .await?;

        // The sweeper looks for lapsed deposits on every pass: a partial index keeps that
        // to the few bookings waiting for a payment (same syntax on both backends).
        // Availability reads a staff member's bookings with `blocked_until > from`: an
        // index ending in `blocked_until` turns that into a range scan over future
        // bookings instead of every booking the staff member ever had (measured: the
        // booking rate fell 28 % as bookings piled up, tests/load/README.md).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX bookings_deposit_due_idx ON bookings (deposit_expires_at) \
                 WHERE deposit_expires_at IS NOT NULL;\n\
                 CREATE INDEX bookings_tenant_staff_until_idx \
                 ON bookings (tenant_id, staff_member_id, blocked_until)",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PluginConfigs::Table)
                    .col(pk_uuid(PluginConfigs::Id))
                    .col(uuid(PluginConfigs::TenantId))
                    .col(string_len(PluginConfigs::PluginId, 64))
                    .col(boolean(PluginConfigs::Enabled))
                    .col(text(PluginConfigs::Config))
                    .col(text_null(PluginConfigs::SecretsCiphertext))
                    .col(string_len_null(PluginConfigs::SecretsKeyId, 32))
                    .col(text(PluginConfigs::SecretHints))
                    .col(big_integer(PluginConfigs::Version))
                    .col(timestamp_with_time_zone(PluginConfigs::CreatedAt))
                    .col(timestamp_with_time_zone(PluginConfigs::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        PluginConfigs::Table,
                        PluginConfigs::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "plugin_configs_tenant_plugin_key",
                PluginConfigs::Table,
                vec![PluginConfigs::TenantId, PluginConfigs::PluginId],
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OutboxMessages::Table)
                    .col(pk_uuid(OutboxMessages::Id))
                    .col(uuid(OutboxMessages::TenantId))
                    .col(string_len(OutboxMessages::Kind, 64))
                    .col(text(OutboxMessages::Payload))
                    .col(string_len(OutboxMessages::Status, 16))
                    .col(integer(OutboxMessages::Attempts).default(0))
                    .col(timestamp_with_time_zone(OutboxMessages::NextAttemptAt))
                    .col(text_null(OutboxMessages::LastError))
                    .col(text_null(OutboxMessages::Result))
                    .col(timestamp_with_time_zone_null(OutboxMessages::DeliveredAt))
                    .col(timestamp_with_time_zone(OutboxMessages::CreatedAt))
                    .col(timestamp_with_time_zone(OutboxMessages::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        OutboxMessages::Table,
                        OutboxMessages::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "outbox_messages_due_idx",
                OutboxMessages::Table,
                vec![OutboxMessages::Status, OutboxMessages::NextAttemptAt],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(pk_uuid(WebhookEvents::Id))
                    .col(uuid(WebhookEvents::TenantId))
                    .col(string_len(WebhookEvents::Source, 32))
                    .col(string(WebhookEvents::EventId))
                    .col(string(WebhookEvents::EventType))
                    .col(big_integer(WebhookEvents::EventCreatedAt))
                    .col(timestamp_with_time_zone(WebhookEvents::ReceivedAt))
                    .foreign_key(&mut tenant_fk(
                        WebhookEvents::Table,
                        WebhookEvents::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "webhook_events_tenant_source_event_key",
                WebhookEvents::Table,
                vec![
                    WebhookEvents::TenantId,
                    WebhookEvents::Source,
                    WebhookEvents::EventId,
                ],
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .col(pk_uuid(Payments::Id))
                    .col(uuid(Payments::TenantId))
                    .col(uuid(Payments::BookingId))
                    .col(string_len(Payments::Kind, 16))
                    .col(string_len(Payments::Method, 16))
                    .col(string_len(Payments::Status, 16))
                    .col(big_integer(Payments::AmountCents))
                    .col(big_integer(Payments::RefundedCents).default(0))
                    .col(big_integer(Payments::ApplicationFeeCents).default(0))
                    .col(string_len(Payments::Currency, 3))
                    .col(string_len(Payments::Provider, 32))
                    .col(string_null(Payments::CheckoutSessionId))
                    .col(text_null(Payments::CheckoutUrl))
                    .col(string_null(Payments::PaymentIntentId))
                    .col(string_null(Payments::ProviderCustomerId))
                    .col(string_null(Payments::PaymentMethodId))
                    .col(string_null(Payments::FailureCode))
                    .col(text_null(Payments::FailureMessage))
                    .col(timestamp_with_time_zone_null(Payments::ExpiresAt))
                    .col(text_null(Payments::Note))
                    .col(uuid_null(Payments::RecordedBy))
                    .col(timestamp_with_time_zone(Payments::CreatedAt))
                    .col(timestamp_with_time_zone(Payments::UpdatedAt))
                    .check(Expr::col(Payments::AmountCents).gt(0))
                    .check(Expr::col(Payments::RefundedCents).gte(0))
                    .check(Expr::col(Payments::RefundedCents).lte(Expr::col(Payments::AmountCents)))
                    .foreign_key(&mut tenant_fk(Payments::Table, Payments::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Payments::Table, (Payments::TenantId, Payments::BookingId))
                            .to(Bookings::Table, (Bookings::TenantId, Bookings::Id))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "payments_tenant_id_id_key",
                vec![Payments::TenantId, Payments::Id],
                true,
            ),
            (
                "payments_tenant_booking_idx",
                vec![Payments::TenantId, Payments::BookingId],
                false,
            ),
            (
                "payments_tenant_checkout_session_key",
                vec![Payments::TenantId, Payments::CheckoutSessionId],
                true,
            ),
            (
                "payments_tenant_payment_intent_key",
                vec![Payments::TenantId, Payments::PaymentIntentId],
                true,
            ),
        ] {
            manager
                .create_index(index(name, Payments::Table, cols, unique))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Refunds::Table)
                    .col(pk_uuid(Refunds::Id))
                    .col(uuid(Refunds::TenantId))
                    .col(uuid(Refunds::PaymentId))
                    .col(big_integer(Refunds::AmountCents))
                    .col(string_len(Refunds::Status, 16))
                    .col(string_null(Refunds::ProviderRefundId))
                    .col(text_null(Refunds::Reason))
                    .col(string_null(Refunds::FailureCode))
                    .col(timestamp_with_time_zone(Refunds::CreatedAt))
                    .col(timestamp_with_time_zone(Refunds::UpdatedAt))
                    .check(Expr::col(Refunds::AmountCents).gt(0))
                    .foreign_key(&mut tenant_fk(Refunds::Table, Refunds::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Refunds::Table, (Refunds::TenantId, Refunds::PaymentId))
                            .to(Payments::Table, (Payments::TenantId, Payments::Id))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "refunds_tenant_payment_idx",
                Refunds::Table,
                vec![Refunds::TenantId, Refunds::PaymentId],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(pk_uuid(Notifications::Id))
                    .col(uuid(Notifications::TenantId))
                    .col(string_len(Notifications::Kind, 32))
                    .col(text(Notifications::Message))
                    .col(uuid_null(Notifications::BookingId))
                    .col(uuid_null(Notifications::PaymentId))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        Notifications::Table,
                        Notifications::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "notifications_tenant_created_idx",
                Notifications::Table,
                vec![Notifications::TenantId, Notifications::CreatedAt],
                false,
            ))
            .await?;

        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let mut sql = String::from(PG_UP);
            for table in PAYMENT_TENANT_TABLES {
                sql.push_str(&format!(
                    "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
                     ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n\
                     CREATE POLICY tenant_isolation ON {table}\n\
                     USING (tenant_id = app_current_tenant())\n\
                     WITH CHECK (tenant_id = app_current_tenant());\n"
                ));
            }
            manager.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "DROP FUNCTION IF EXISTS app_due_outbox(timestamptz, integer);
                     DROP FUNCTION IF EXISTS app_expired_deposits(timestamptz, integer);
                     DROP FUNCTION IF EXISTS app_tenant_id_by_stripe_account(text);
                     DROP FUNCTION IF EXISTS app_tenant_id_by_billing_customer(text);",
                )
                .await?;
        }
        for table in [
            Notifications::Table.into_iden(),
            Refunds::Table.into_iden(),
            Payments::Table.into_iden(),
            WebhookEvents::Table.into_iden(),
            OutboxMessages::Table.into_iden(),
            PluginConfigs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "DROP INDEX IF EXISTS bookings_deposit_due_idx; \
                 DROP INDEX IF EXISTS bookings_tenant_staff_until_idx",
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("tenants_stripe_account_key")
                    .table(Tenants::Table)
                    .to_owned(),
            )
            .await?;
        let drops: [(DynIden, DynIden); 14] = [
            (
                Bookings::Table.into_iden(),
                Bookings::DepositExpiresAt.into_iden(),
            ),
            (
                Services::Table.into_iden(),
                Services::DepositPolicy.into_iden(),
            ),
            (
                Services::Table.into_iden(),
                Services::DepositValue.into_iden(),
            ),
            (
                Tenants::Table.into_iden(),
                Tenants::DepositPolicy.into_iden(),
            ),
            (
                Tenants::Table.into_iden(),
                Tenants::DepositValue.into_iden(),
            ),
            (
                Tenants::Table.into_iden(),
                Tenants::StripeAccountId.into_iden(),
            ),
            (
                Tenants::Table.into_iden(),
                Tenants::StripeChargesEnabled.into_iden(),
            ),
            (
                Tenants::Table.into_iden(),
                Tenants::StripePayoutsEnabled.into_iden(),
            ),
            (
                Tenants::Table.into_iden(),
                Tenants::StripeDetailsSubmitted.into_iden(),
            ),
            (
                Tenants::Table.into_iden(),
                Tenants::StripeAccountEventAt.into_iden(),
            ),
            (
                Tenants::Table.into_iden(),
                Tenants::BillingCustomerId.into_iden(),
            ),
            (
                Tenants::Table.into_iden(),
                Tenants::BillingSubscriptionId.into_iden(),
            ),
            (Tenants::Table.into_iden(), Tenants::TrialEndsAt.into_iden()),
            (
                Tenants::Table.into_iden(),
                Tenants::BillingEventAt.into_iden(),
            ),
        ];
        for (table, col) in drops {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
