//! Payments: deposits through Stripe Checkout, balance charges on completion, manual
//! payments, refunds, Stripe Connect onboarding and the platform's billing of tenants.
//!
//! How it plugs in ([`register`]): a booking hook ([`hooks::PaymentsHook`]), job handlers
//! and a periodic sweep ([`jobs`]), and the Stripe inbound-webhook handler
//! ([`webhooks::StripeInbound`]). It reads the ledger (`crate::ledger`) and is read by
//! nothing but the schema.

pub mod billing;
pub mod hooks;
pub mod jobs;
pub mod service;
pub mod webhooks;

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::{TenantStatus, payment, tenant};
use sea_orm::{ColumnTrait, QueryFilter};

use crate::db::scoped;
use crate::error::{ApiError, UserError};
use crate::extensions::Extensions;
use crate::guards::{MANAGE, OWNER, RoleGuard};
use crate::ledger::{Payment, Refund};
use crate::platform::Plan;
use crate::state::{GraphState, caller, state};
use crate::util::{parse_id, parse_input_id};
use service::{DepositPolicy, ManualMethod};

/// Plugs payments into the platform: its booking hook, job handlers, periodic sweep
/// and the `stripe` inbound-webhook handler.
pub fn register(ext: &mut Extensions<GraphState>) {
    ext.booking_hooks.register(Arc::new(hooks::PaymentsHook));
    jobs::register(&mut ext.jobs);
    ext.inbound.register(Arc::new(webhooks::StripeInbound));
}

/// How the tenant takes payments and how the platform bills it.
#[derive(SimpleObject)]
pub struct PaymentSettings {
    /// Default deposit policy for services without their own.
    pub deposit_policy: DepositPolicy,
    /// Cents (`FIXED`) or basis points (`PERCENT`).
    pub deposit_value: i64,
    /// Stripe Connect account (`acct_…`), once onboarding started.
    pub stripe_account_id: Option<String>,
    /// Whether Stripe lets the account take charges (card payments work).
    pub charges_enabled: bool,
    /// Whether Stripe pays out to the tenant's bank.
    pub payouts_enabled: bool,
    /// Whether the tenant finished Stripe's onboarding form.
    pub details_submitted: bool,
    /// Platform plan.
    pub plan: Option<Plan>,
    /// Platform subscription status.
    pub billing_status: TenantStatus,
    /// End of the free trial (UTC).
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// The platform's application fee on card payments, in basis points.
    pub application_fee_bps: i64,
}

/// Result of payment mutations.
#[derive(SimpleObject, Default)]
pub struct PaymentPayload {
    /// The payment.
    pub payment: Option<Payment>,
    /// Why it was refused.
    pub user_errors: Vec<UserError>,
}

/// Result of `refundPayment`.
#[derive(SimpleObject, Default)]
pub struct RefundPayload {
    /// The refund.
    pub refund: Option<Refund>,
    /// Why it was refused: `AMOUNT_EXCEEDS_REFUNDABLE`, `INVALID_STATUS_TRANSITION`, ….
    pub user_errors: Vec<UserError>,
}

/// A URL to send the user to (Stripe-hosted onboarding or Checkout).
#[derive(SimpleObject)]
pub struct RedirectPayload {
    /// Where to go.
    pub url: String,
}

/// Result of `setDepositPolicy`.
#[derive(SimpleObject, Default)]
pub struct DepositPolicyPayload {
    /// Whether it was saved.
    pub ok: bool,
    /// Why it was refused.
    pub user_errors: Vec<UserError>,
}

/// Input of `recordPayment`.
#[derive(InputObject)]
pub struct RecordPaymentInput {
    /// The booking paid for.
    pub booking_id: ID,
    /// Amount in cents (> 0, at most the balance).
    pub amount_cents: i64,
    /// Cash, check or other.
    pub method: ManualMethod,
    /// Note (≤ 500 characters), e.g. a check number.
    pub note: Option<String>,
}

/// Input of `refundPayment`.
#[derive(InputObject)]
pub struct RefundPaymentInput {
    /// The payment to refund.
    pub payment_id: ID,
    /// Cents to refund; default: everything not yet refunded.
    pub amount_cents: Option<i64>,
    /// Why (≤ 500 characters).
    pub reason: Option<String>,
}

/// Input of `setDepositPolicy`.
#[derive(InputObject)]
pub struct SetDepositPolicyInput {
    /// The service; omit to set the tenant's default.
    pub service_id: Option<ID>,
    /// The policy; null on a service = use the tenant's default.
    pub policy: Option<DepositPolicy>,
    /// Cents (`FIXED`) or basis points 0–10000 (`PERCENT`); ignored for `NONE`.
    #[graphql(default = 0)]
    pub value: i64,
}

fn payment_payload(o: crate::error::Outcome<payment::Model>) -> PaymentPayload {
    match o {
        Ok(p) => PaymentPayload {
            payment: Some(Payment(p)),
            user_errors: vec![],
        },
        Err(user_errors) => PaymentPayload {
            payment: None,
            user_errors,
        },
    }
}

/// Payment queries.
#[derive(Default)]
pub struct PaymentQuery;

/// Payment queries.
#[Object]
impl PaymentQuery {
    /// The tenant's payment and billing settings. Owners and managers.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn payment_settings(&self, ctx: &Context<'_>) -> async_graphql::Result<PaymentSettings> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        let tx = st.db.read(rc.tenant_id).await?;
        let t: tenant::Model = tx.tenant().await?;
        tx.commit().await?;
        let plan = Plan::parse(&t.plan);
        Ok(PaymentSettings {
            deposit_policy: DepositPolicy::parse(&t.deposit_policy),
            deposit_value: t.deposit_value,
            stripe_account_id: t.stripe_account_id,
            charges_enabled: t.stripe_charges_enabled,
            payouts_enabled: t.stripe_payouts_enabled,
            details_submitted: t.stripe_details_submitted,
            plan,
            billing_status: t.status,
            trial_ends_at: t.trial_ends_at,
            application_fee_bps: st.platform.fee_bps[plan.unwrap_or(Plan::Starter).index()],
        })
    }

    /// One payment. Owners and managers. Errors: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn payment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Payment> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        let tx = st.db.read(rc.tenant_id).await?;
        let p = scoped::<payment::Entity>(rc.tenant_id)
            .filter(payment::Column::Id.eq(id))
            .one(&*tx)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound("payment"))?;
        tx.commit().await?;
        Ok(Payment(p))
    }
}

/// Payment mutations.
#[derive(Default)]
pub struct PaymentMutation;

/// Payment mutations.
#[Object]
impl PaymentMutation {
    /// Sets the deposit policy of the tenant (no `serviceId`) or of one service. Owners
    /// and managers. User errors: `INVALID_INPUT`. Errors: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn set_deposit_policy(
        &self,
        ctx: &Context<'_>,
        input: SetDepositPolicyInput,
    ) -> async_graphql::Result<DepositPolicyPayload> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        let service_id = match input
            .service_id
            .as_ref()
            .map(|id| parse_input_id(id, "serviceId", "service"))
        {
            Some(Ok(id)) => Some(id),
            Some(Err(e)) => {
                return Ok(DepositPolicyPayload {
                    ok: false,
                    user_errors: vec![e],
                });
            }
            None => None,
        };
        Ok(
            match service::set_deposit_policy(st, rc, service_id, input.policy, input.value).await?
            {
                Ok(()) => DepositPolicyPayload {
                    ok: true,
                    user_errors: vec![],
                },
                Err(user_errors) => DepositPolicyPayload {
                    ok: false,
                    user_errors,
                },
            },
        )
    }

    /// Opens a Stripe Checkout Session for the deposit due on a booking (the policy's
    /// amount, or the whole balance when the policy asks for none) and returns the
    /// payment with its `checkoutUrl`; the card is saved for the balance. If Stripe is
    /// unreachable the payment comes back without a URL and the outbox keeps trying.
    /// Owners and managers. Errors: `NOT_FOUND`, `FEATURE_UNAVAILABLE` (payments). User
    /// errors: `NOTHING_TO_PAY`, `INVALID_STATUS_TRANSITION`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn create_deposit_checkout(
        &self,
        ctx: &Context<'_>,
        booking_id: ID,
    ) -> async_graphql::Result<PaymentPayload> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        let id = parse_id(&booking_id, "bookingId")?;
        Ok(payment_payload(
            service::create_deposit_checkout(st, rc, id).await?,
        ))
    }

    /// A Stripe Checkout payment link for what is still due on a booking (or
    /// `amountCents` of it) — e.g. after the job, when no card was saved or it was
    /// declined; send `payment.checkoutUrl` to the customer. Returns the open link if one
    /// exists. Owners and managers. Errors: `NOT_FOUND`, `FEATURE_UNAVAILABLE` (payments).
    /// User errors: `NOTHING_TO_PAY`, `AMOUNT_EXCEEDS_BALANCE`, `INVALID_INPUT`,
    /// `INVALID_STATUS_TRANSITION`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn create_payment_link(
        &self,
        ctx: &Context<'_>,
        booking_id: ID,
        amount_cents: Option<i64>,
    ) -> async_graphql::Result<PaymentPayload> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        let id = parse_id(&booking_id, "bookingId")?;
        Ok(payment_payload(
            service::create_payment_link(st, rc, id, amount_cents).await?,
        ))
    }

    /// Records a payment taken by hand (cash, check, other). Owners and managers. User
    /// errors: `INVALID_INPUT`, `AMOUNT_EXCEEDS_BALANCE`, `INVALID_STATUS_TRANSITION`.
    /// Errors: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn record_payment(
        &self,
        ctx: &Context<'_>,
        input: RecordPaymentInput,
    ) -> async_graphql::Result<PaymentPayload> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        let id = match parse_input_id(&input.booking_id, "bookingId", "booking") {
            Ok(id) => id,
            Err(e) => {
                return Ok(PaymentPayload {
                    payment: None,
                    user_errors: vec![e],
                });
            }
        };
        Ok(payment_payload(
            service::record_manual(st, rc, id, input.amount_cents, input.method, input.note)
                .await?,
        ))
    }

    /// Refunds all or part of a succeeded payment (card refunds go to Stripe through the
    /// outbox and settle on its answer or `charge.refunded`). Owners and managers. User
    /// errors: `INVALID_INPUT`, `AMOUNT_EXCEEDS_REFUNDABLE`, `INVALID_STATUS_TRANSITION`.
    /// Errors: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn refund_payment(
        &self,
        ctx: &Context<'_>,
        input: RefundPaymentInput,
    ) -> async_graphql::Result<RefundPayload> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        let id = match parse_input_id(&input.payment_id, "paymentId", "payment") {
            Ok(id) => id,
            Err(e) => {
                return Ok(RefundPayload {
                    refund: None,
                    user_errors: vec![e],
                });
            }
        };
        Ok(
            match service::refund_payment(st, rc, id, input.amount_cents, input.reason).await? {
                Ok(r) => RefundPayload {
                    refund: Some(Refund(r)),
                    user_errors: vec![],
                },
                Err(user_errors) => RefundPayload {
                    refund: None,
                    user_errors,
                },
            },
        )
    }

    /// Starts (or resumes) Stripe Connect onboarding: creates the tenant's Standard
    /// account on first use and returns Stripe's hosted onboarding URL. Owners only.
    /// Errors: `FEATURE_UNAVAILABLE`, `UPSTREAM_FAILED`.
    #[graphql(guard = "RoleGuard::new(OWNER)")]
    async fn start_stripe_onboarding(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<RedirectPayload> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        Ok(RedirectPayload {
            url: billing::start_onboarding(st, rc).await?,
        })
    }

    /// Starts a subscription to a platform plan (Stripe Checkout on the platform's
    /// account, with the free trial while the tenant is trialing). Owners only. Errors:
    /// `FEATURE_UNAVAILABLE`, `UPSTREAM_FAILED`.
    #[graphql(guard = "RoleGuard::new(OWNER)")]
    async fn start_subscription_checkout(
        &self,
        ctx: &Context<'_>,
        plan: Plan,
    ) -> async_graphql::Result<RedirectPayload> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        Ok(RedirectPayload {
            url: billing::start_subscription(st, rc, plan).await?,
        })
    }
}
