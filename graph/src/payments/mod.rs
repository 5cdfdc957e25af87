//! Payments: deposits through Stripe Checkout, balance charges on completion, manual
//! payments, refunds, Stripe Connect onboarding, the platform's billing of tenants, and
//! operator notifications.

pub mod billing;
pub mod config;
pub mod delivery;
pub mod service;
pub mod webhooks;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::{notification, payment, refund, tenant};
use sea_orm::{ColumnTrait, QueryFilter};

use crate::db::scoped;
use crate::error::{ApiError, UserError};
use crate::guards::{MANAGE, OWNER, RoleGuard};
use crate::state::{caller, state};
use crate::util::{parse_id, parse_input_id};
use config::Plan;
use service::{DepositPolicy, ManualMethod};

macro_rules! stored_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? } default $default:ident) => {
        $(#[$doc])*
        #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Parses the stored spelling (unknown values map to the documented default).
            pub fn parse(s: &str) -> $name {
                match s {
                    $($text => $name::$variant,)+
                    _ => $name::$default,
                }
            }
        }
    };
}

stored_enum!(
    /// What a payment is for.
    PaymentKind {
        /// Taken through Stripe Checkout when booking (or from a payment link).
        Deposit => "DEPOSIT",
        /// The rest, charged to the saved card when the job is completed.
        Balance => "BALANCE",
        /// Recorded by staff (cash, check, other).
        Manual => "MANUAL",
        /// Paid through a payment link (`createPaymentLink`).
        Link => "LINK",
    } default Manual
);

stored_enum!(
    /// How a payment was made.
    PaymentMethod {
        /// Card, through Stripe.
        Card => "CARD",
        /// Cash.
        Cash => "CASH",
        /// Paper check.
        Check => "CHECK",
        /// Anything else.
        Other => "OTHER",
    } default Other
);

stored_enum!(
    /// Where a payment or refund stands.
    PaymentStatus {
        /// Waiting for the customer or the provider.
        Pending => "PENDING",
        /// Money moved.
        Succeeded => "SUCCEEDED",
        /// The charge or refund failed (see `failureCode`).
        Failed => "FAILED",
        /// The Checkout Session lapsed unpaid.
        Expired => "EXPIRED",
        /// Abandoned (the booking was canceled before payment).
        Canceled => "CANCELED",
    } default Pending
);

/// A payment toward a booking (amounts in cents of `currency`).
#[derive(Clone)]
pub struct Payment(pub payment::Model);

/// A payment toward a booking (amounts in cents of `currency`).
#[Object]
impl Payment {
    /// Payment id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The booking paid for.
    async fn booking_id(&self) -> ID {
        ID(self.0.booking_id.to_string())
    }
    /// What the payment is for.
    async fn kind(&self) -> PaymentKind {
        PaymentKind::parse(&self.0.kind)
    }
    /// How it was paid.
    async fn method(&self) -> PaymentMethod {
        PaymentMethod::parse(&self.0.method)
    }
    /// Where it stands.
    async fn status(&self) -> PaymentStatus {
        PaymentStatus::parse(&self.0.status)
    }
    /// Amount in cents.
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    /// Refunded so far, in cents.
    async fn refunded_cents(&self) -> i64 {
        self.0.refunded_cents
    }
    /// The platform's application fee, in cents.
    async fn application_fee_cents(&self) -> i64 {
        self.0.application_fee_cents
    }
    /// ISO 4217 currency code.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// Where the customer pays, while a Checkout Session is open (null once paid or
    /// lapsed, or while the session is still being created).
    async fn checkout_url(&self) -> Option<&str> {
        self.0.checkout_url.as_deref()
    }
    /// Stripe Checkout Session id (`cs_…`).
    async fn checkout_session_id(&self) -> Option<&str> {
        self.0.checkout_session_id.as_deref()
    }
    /// Stripe PaymentIntent id (`pi_…`).
    async fn payment_intent_id(&self) -> Option<&str> {
        self.0.payment_intent_id.as_deref()
    }
    /// Provider failure code (`card_declined`, `insufficient_funds`, …).
    async fn failure_code(&self) -> Option<&str> {
        self.0.failure_code.as_deref()
    }
    /// Provider failure explanation, for the operator.
    async fn failure_message(&self) -> Option<&str> {
        self.0.failure_message.as_deref()
    }
    /// When an open Checkout Session lapses (UTC).
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// Staff note (manual payments).
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// When it was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Refunds of this payment, oldest first.
    async fn refunds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Refund>> {
        let key = crate::loaders::RefundsKey(self.0.tenant_id, self.0.id);
        let rows = crate::loaders::load_children_of(ctx, key).await?;
        Ok(rows.into_iter().map(Refund).collect())
    }
}

/// A refund (cents).
#[derive(Clone)]
pub struct Refund(pub refund::Model);

/// A refund (cents).
#[Object]
impl Refund {
    /// Refund id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The payment refunded.
    async fn payment_id(&self) -> ID {
        ID(self.0.payment_id.to_string())
    }
    /// Amount in cents.
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    /// `PENDING`, `SUCCEEDED` or `FAILED`.
    async fn status(&self) -> PaymentStatus {
        PaymentStatus::parse(&self.0.status)
    }
    /// Why.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// When it was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Something an operator must look at.
#[derive(Clone)]
pub struct Notification(pub notification::Model);

/// Something an operator must look at.
#[Object]
impl Notification {
    /// Notification id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// `PAYMENT_FAILED`, `PAYMENT_REFUNDED`, `DELIVERY_FAILED`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// Human-readable text.
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// The booking concerned.
    async fn booking_id(&self) -> Option<ID> {
        self.0.booking_id.map(|i| ID(i.to_string()))
    }
    /// The payment concerned.
    async fn payment_id(&self) -> Option<ID> {
        self.0.payment_id.map(|i| ID(i.to_string()))
    }
    /// When it was marked read (UTC); null while unread.
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }
    /// When it was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The tenant's subscription status with the platform.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum BillingStatus {
    /// Free trial.
    Trial,
    /// Paid and current.
    Active,
    /// A payment failed: read access only, no new bookings.
    PastDue,
    /// Subscription ended: read access only, no new bookings.
    Canceled,
}

impl BillingStatus {
    fn parse(s: &str) -> BillingStatus {
        match s {
            "ACTIVE" => BillingStatus::Active,
            "PAST_DUE" => BillingStatus::PastDue,
            "CANCELED" => BillingStatus::Canceled,
            _ => BillingStatus::Trial,
        }
    }
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
    pub billing_status: BillingStatus,
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
        let t: tenant::Model = service::tenant_row(&tx).await?;
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
            billing_status: BillingStatus::parse(&t.status),
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

    /// Operator notifications, newest first (at most `first`, 1–100). Owners and
    /// managers.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] unread_only: bool,
        #[graphql(default = 50)] first: i32,
    ) -> async_graphql::Result<Vec<Notification>> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        Ok(
            service::notifications(st, rc, unread_only, first.clamp(1, 100) as u64)
                .await?
                .into_iter()
                .map(Notification)
                .collect(),
        )
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

    /// Marks a notification read. Owners and managers. Errors: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn mark_notification_read(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Notification> {
        let st = state(ctx)?;
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(Notification(service::mark_read(st, rc, id).await?))
    }
}
