//! Stripe events in: each event is stored once (unique per tenant, source and event id)
//! in the same transaction as its effect, so a redelivery is acknowledged and changes
//! nothing, and effects are written so that events applied out of order end in the same
//! state as in order:
//!
//! - payments only move forward (`PENDING` → `FAILED` → `SUCCEEDED`; `SUCCEEDED` is
//!   final; a lapsed session never overrides a payment);
//! - `refunded_cents` only grows (Stripe's cumulative `amount_refunded`);
//! - account and subscription state carry the event's `created` and older events are
//!   ignored.
//!
//! Signatures are verified by the HTTP edge before anything here runs.

use chrono::DateTime;
use entities::{BookingStatus, PaymentKind, PaymentStatus, TenantStatus, booking, payment, tenant};
use integrations::stripe::webhook::Event;
use sea_orm::prelude::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::events::{BookingEventKind, Envelope};
use crate::inbound::{self, InboundEvent};
use crate::jobs::{self, Job};
use crate::lifecycle::{self, AfterCommit};
use crate::notifications::{PAYMENT_FAILED, PAYMENT_REFUNDED, notify};
use crate::payments::jobs::sync_refunded;
use crate::payments::service::{self, KIND_REFUND, clear_deadline};
use crate::platform::Plan;
use crate::routes;
use crate::state::GraphState;
use crate::util::now;

/// Provider route kind of a tenant's Stripe Connect account (`acct_…`).
pub const ROUTE_STRIPE_ACCOUNT: &str = "stripe_account";
/// Provider route kind of a tenant's billing Customer on the platform account (`cus_…`).
pub const ROUTE_BILLING_CUSTOMER: &str = "stripe_billing_customer";

/// Where an event came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A tenant's endpoint `/webhooks/{slug}/stripe` (signed with the tenant's secret).
    Tenant,
    /// The platform endpoint `/webhooks/platform/stripe` (platform and Connect events).
    Platform,
}

/// The provider name events are deduplicated under. Both endpoints share it: a Connect
/// event can reach the platform endpoint and the tenant's own endpoint with the same
/// Stripe event id, and must take effect once.
const PROVIDER: &str = "stripe";

/// What happened to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Applied now.
    Applied,
    /// Seen before; nothing done.
    Duplicate,
    /// Not for any tenant we know, a type we do not use, or not acceptable from where it
    /// came (see [`admissible`]); acknowledged, nothing changed.
    Ignored,
    /// Refused (dated in the future); answered 400, nothing changed.
    Refused,
}

/// How far an event's `created` may lie ahead of our clock (clock skew), in seconds:
/// the signature tolerance (`DEFAULT_TOLERANCE_SECS`, 300 s). A later `created` could
/// freeze account or billing state (older events are ignored), so it is refused.
pub const MAX_FUTURE_SKEW_SECS: i64 = 300;

/// Payment events of a connected account: the only ones a tenant's own endpoint may
/// apply.
pub const PAYMENT_EVENTS: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.expired",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.refunded",
];

/// The platform's billing of tenants and Connect account state: accepted only at the
/// platform endpoint, signed with the platform's secret.
pub const PLATFORM_EVENTS: &[&str] = &[
    "account.updated",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "invoice.payment_failed",
];

/// Whether event `e` may act on a tenant whose onboarded connected account is
/// `account`, arriving from `source`:
///
/// - payment events only from that connected account (`event.account` must be it; the
///   tenant endpoint's secret is typed in by the owner, so nothing else signed with it
///   is believed);
/// - billing events (subscriptions, invoices, subscription Checkout) only at the platform
///   endpoint and only from the platform's own account (`event.account` absent: a
///   tenant's connected account could otherwise mint its own "subscription");
/// - `account.updated` only at the platform endpoint, for that connected account.
pub fn admissible(e: &Event, source: Source, account: Option<&str>) -> bool {
    let from_tenant_account = account.is_some() && e.account.as_deref() == account;
    let t = e.event_type.as_str();
    let subscription_checkout =
        t.starts_with("checkout.session.") && s(obj(e), "mode") == Some("subscription");
    if subscription_checkout {
        return source == Source::Platform && e.account.is_none();
    }
    if PAYMENT_EVENTS.contains(&t) {
        return from_tenant_account;
    }
    if t == "account.updated" {
        return source == Source::Platform && from_tenant_account;
    }
    if PLATFORM_EVENTS.contains(&t) {
        return source == Source::Platform && e.account.is_none();
    }
    false
}

fn obj(e: &Event) -> &Value {
    &e.data.object
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    match v.get(k) {
        Some(Value::String(x)) => Some(x.as_str()),
        // Expanded objects carry their id.
        Some(Value::Object(o)) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

fn meta<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get("metadata")
        .and_then(|m| m.get(k))
        .and_then(Value::as_str)
}

/// Handles an event for `tenant_id` (verified already). Errors: database failures only
/// (the edge answers 500 and Stripe redelivers).
pub async fn handle(
    st: &GraphState,
    tenant_id: Uuid,
    source: Source,
    e: &Event,
) -> Result<Handled, ApiError> {
    if e.created > now().timestamp() + MAX_FUTURE_SKEW_SECS {
        tracing::debug!(event_id = %e.id, "stripe event dated in the future refused");
        return Ok(Handled::Refused);
    }
    let tx = st.db.write(tenant_id).await?;
    tracing::debug!(event_id = %e.id, kind = %e.event_type, ?source, "stripe event");
    let account = tenant::Entity::find_by_id(tenant_id)
        .one(&*tx)
        .await?
        .and_then(|t| t.stripe_account_id);
    if !admissible(e, source, account.as_deref()) {
        tracing::debug!(event_id = %e.id, kind = %e.event_type, ?source,
            "stripe event not admissible here; ignored");
        tx.commit().await?;
        return Ok(Handled::Ignored);
    }
    // Dedupe first: a repeat (a concurrent one waits on the first's unique key) is
    // answered without queueing behind the tenant's write lock.
    let seen = InboundEvent {
        provider: PROVIDER,
        event_id: &e.id,
        event_type: &e.event_type,
        created: e.created,
    };
    if !inbound::record(&tx, seen).await? {
        tx.commit().await?;
        return Ok(Handled::Duplicate);
    }
    st.db.lock_schedule(&tx).await?;
    let mut changed: Vec<(booking::Model, BookingEventKind)> = Vec::new();
    let mut after = AfterCommit::default();
    let mut invalidate = false;
    match e.event_type.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            if s(obj(e), "mode") == Some("subscription") {
                subscription_checkout_completed(&tx, e).await?;
            } else if let Some((b, then)) = checkout_completed(st, &tx, e).await? {
                changed.push((b, BookingEventKind::Updated));
                after = after.merge(then);
            }
        }
        "checkout.session.expired" => {
            if let Some(p) = find_payment(&tx, obj(e), "checkout_session_id").await? {
                payment::Entity::update_many()
                    .col_expr(payment::Column::Status, Expr::value(PaymentStatus::Expired))
                    .col_expr(
                        payment::Column::CheckoutUrl,
                        Expr::value(Option::<String>::None),
                    )
                    .col_expr(payment::Column::UpdatedAt, Expr::value(now()))
                    .filter(payment::Column::TenantId.eq(tenant_id))
                    .filter(payment::Column::Id.eq(p.id))
                    .filter(payment::Column::Status.eq(PaymentStatus::Pending))
                    .exec(&*tx)
                    .await?;
                if p.kind == PaymentKind::Deposit
                    && let Some((b, then)) =
                        service::release_unpaid(st, &tx, p.booking_id, PaymentStatus::Expired)
                            .await?
                {
                    changed.push((b, BookingEventKind::Canceled));
                    after = after.merge(then);
                }
            }
        }
        "payment_intent.succeeded" => payment_intent_succeeded(&tx, e).await?,
        "payment_intent.payment_failed" => payment_intent_failed(&tx, e).await?,
        "charge.refunded" => {
            let o = obj(e);
            if let Some(pi) = s(o, "payment_intent")
                && let Some(p) = scoped::<payment::Entity>(tenant_id)
                    .filter(payment::Column::PaymentIntentId.eq(pi))
                    .one(&*tx)
                    .await?
            {
                let total = o
                    .get("amount_refunded")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                sync_refunded(&tx, p.id, total).await?;
                settle_pending_refunds(&tx, p.id, total).await?;
            }
        }
        "account.updated" => invalidate = account_updated(&tx, e).await?,
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => subscription_changed(st, &tx, e).await?,
        "invoice.payment_failed" => {
            billing_status(&tx, e.created, TenantStatus::PastDue, None, None).await?
        }
        _ => {}
    }
    tx.commit().await?;
    if invalidate {
        st.registry.invalidate(tenant_id);
        st.events.publish_plugin_change(tenant_id).await;
    }
    after.run(st).await;
    for (b, kind) in changed {
        st.events.publish(Envelope::booking(&b, kind)).await;
    }
    Ok(Handled::Applied)
}

/// The `stripe` plugin's inbound handler: a tenant endpoint's verified event
/// (`/webhooks/{tenant_slug}/stripe`), applied as [`Source::Tenant`].
pub struct StripeInbound;

#[async_trait::async_trait]
impl crate::inbound::InboundHandler<GraphState> for StripeInbound {
    fn plugin_id(&self) -> &'static str {
        "stripe"
    }

    async fn handle(
        &self,
        st: &GraphState,
        tenant_id: Uuid,
        req: &crate::inbound::InboundRequest<'_>,
    ) -> Result<crate::inbound::InboundReply, ApiError> {
        if req.action.is_some() {
            return Ok(crate::inbound::InboundReply::json(
                404,
                serde_json::json!({"error": "unknown endpoint"}),
            ));
        }
        let Ok(event) = integrations::stripe::webhook::parse_event(req.body) else {
            return Ok(crate::inbound::InboundReply::json(
                400,
                serde_json::json!({"error": "malformed event"}),
            ));
        };
        Ok(reply(handle(st, tenant_id, Source::Tenant, &event).await?))
    }
}

/// The answer to Stripe for a handled event.
pub fn reply(h: Handled) -> crate::inbound::InboundReply {
    let (status, body) = match h {
        Handled::Duplicate => (
            200,
            serde_json::json!({"received": true, "duplicate": true}),
        ),
        Handled::Applied => (200, serde_json::json!({"received": true})),
        Handled::Ignored => (200, serde_json::json!({"received": true, "ignored": true})),
        Handled::Refused => (
            400,
            serde_json::json!({"error": "event dated in the future"}),
        ),
    };
    crate::inbound::InboundReply::json(status, body)
}

/// Finds the tenant a platform event concerns: a Connect event's `account`, the
/// `tenant_id` metadata we set on subscriptions and sessions, the session's
/// `client_reference_id`, or the billing Customer.
pub async fn platform_tenant(st: &GraphState, e: &Event) -> Result<Option<Uuid>, ApiError> {
    if let Some(acct) = &e.account {
        return routes::tenant_by_route(&st.db, ROUTE_STRIPE_ACCOUNT, acct).await;
    }
    let o = obj(e);
    if e.event_type == "account.updated"
        && let Some(id) = s(o, "id")
    {
        return routes::tenant_by_route(&st.db, ROUTE_STRIPE_ACCOUNT, id).await;
    }
    let candidate = meta(o, "tenant_id")
        .or_else(|| {
            o.get("subscription_details")
                .and_then(|d| d.get("metadata"))
                .and_then(|m| m.get("tenant_id"))
                .and_then(Value::as_str)
        })
        .or_else(|| {
            o.get("parent")
                .and_then(|p| p.get("subscription_details"))
                .and_then(|d| d.get("metadata"))
                .and_then(|m| m.get("tenant_id"))
                .and_then(Value::as_str)
        })
        .or_else(|| s(o, "client_reference_id"))
        .and_then(|t| Uuid::try_parse(t).ok());
    if let Some(t) = candidate {
        return Ok(Some(t));
    }
    match s(o, "customer") {
        Some(c) => routes::tenant_by_route(&st.db, ROUTE_BILLING_CUSTOMER, c).await,
        None => Ok(None),
    }
}

async fn find_payment(
    tx: &Tx,
    o: &Value,
    id_column: &str,
) -> Result<Option<payment::Model>, ApiError> {
    if let Some(pid) = meta(o, "payment_id").and_then(|p| Uuid::try_parse(p).ok())
        && let Some(p) = scoped::<payment::Entity>(tx.tenant_id())
            .filter(payment::Column::Id.eq(pid))
            .one(&**tx)
            .await?
    {
        return Ok(Some(p));
    }
    let Some(id) = s(o, "id") else {
        return Ok(None);
    };
    let col = if id_column == "checkout_session_id" {
        payment::Column::CheckoutSessionId
    } else {
        payment::Column::PaymentIntentId
    };
    Ok(scoped::<payment::Entity>(tx.tenant_id())
        .filter(col.eq(id))
        .one(&**tx)
        .await?)
}

async fn checkout_completed(
    st: &GraphState,
    tx: &Tx,
    e: &Event,
) -> Result<Option<(booking::Model, AfterCommit)>, ApiError> {
    let o = obj(e);
    if !matches!(
        s(o, "payment_status"),
        Some("paid") | Some("no_payment_required")
    ) {
        return Ok(None);
    }
    let Some(p) = find_payment(tx, o, "checkout_session_id").await? else {
        return Ok(None);
    };
    let at = now();
    payment::Entity::update_many()
        .col_expr(
            payment::Column::Status,
            Expr::value(PaymentStatus::Succeeded),
        )
        .col_expr(
            payment::Column::CheckoutSessionId,
            Expr::value(s(o, "id").map(str::to_string)),
        )
        .col_expr(
            payment::Column::PaymentIntentId,
            Expr::value(
                s(o, "payment_intent")
                    .map(str::to_string)
                    .or(p.payment_intent_id.clone()),
            ),
        )
        .col_expr(
            payment::Column::ProviderCustomerId,
            Expr::value(
                s(o, "customer")
                    .map(str::to_string)
                    .or(p.provider_customer_id.clone()),
            ),
        )
        .col_expr(
            payment::Column::CheckoutUrl,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            payment::Column::FailureCode,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            payment::Column::FailureMessage,
            Expr::value(Option::<String>::None),
        )
        .col_expr(payment::Column::UpdatedAt, Expr::value(at))
        .filter(payment::Column::TenantId.eq(tx.tenant_id()))
        .filter(payment::Column::Id.eq(p.id))
        .exec(&**tx)
        .await?;
    let Some(b) = scoped::<booking::Entity>(tx.tenant_id())
        .filter(booking::Column::Id.eq(p.booking_id))
        .one(&**tx)
        .await?
    else {
        return Ok(None);
    };
    if b.status == BookingStatus::Canceled {
        // Paid after the booking lapsed or was canceled: give the money back.
        if p.status != PaymentStatus::Succeeded
            && let Some(pi) = s(o, "payment_intent")
                .map(str::to_string)
                .or(p.payment_intent_id)
        {
            let r = crate::payments::service::refund_row(
                tx,
                p.id,
                p.amount_cents,
                PaymentStatus::Pending,
                Some("booking canceled before payment".into()),
            )
            .await?
            .id;
            jobs::enqueue(
                tx,
                Job::new(
                    KIND_REFUND,
                    serde_json::json!({"refund_id": r, "payment_id": p.id, "payment_intent": pi, "amount_cents": p.amount_cents}),
                ),
            )
            .await?;
            notify(
                tx,
                PAYMENT_REFUNDED,
                "A deposit was paid for a canceled booking; it is being refunded.",
                Some(b.id),
                Some(p.id),
            )
            .await?;
        }
        return Ok(None);
    }
    if b.status != BookingStatus::Pending {
        return Ok(None);
    }
    clear_deadline(tx, b.id).await?;
    let b = booking::Model {
        deposit_expires_at: None,
        ..b
    };
    lifecycle::transition(st, tx, b, BookingStatus::Confirmed, None).await
}

async fn payment_intent_succeeded(tx: &Tx, e: &Event) -> Result<(), ApiError> {
    let o = obj(e);
    let Some(p) = find_payment(tx, o, "payment_intent_id").await? else {
        return Ok(());
    };
    let mut q = payment::Entity::update_many()
        .col_expr(
            payment::Column::PaymentIntentId,
            Expr::value(s(o, "id").map(str::to_string)),
        )
        .col_expr(
            payment::Column::PaymentMethodId,
            Expr::value(
                s(o, "payment_method")
                    .map(str::to_string)
                    .or(p.payment_method_id.clone()),
            ),
        )
        .col_expr(
            payment::Column::ProviderCustomerId,
            Expr::value(
                s(o, "customer")
                    .map(str::to_string)
                    .or(p.provider_customer_id.clone()),
            ),
        )
        .col_expr(payment::Column::UpdatedAt, Expr::value(now()));
    // A deposit is confirmed by its Checkout Session (which also confirms the booking);
    // a balance charge by its PaymentIntent.
    if p.kind == PaymentKind::Balance {
        q = q
            .col_expr(
                payment::Column::Status,
                Expr::value(PaymentStatus::Succeeded),
            )
            .col_expr(
                payment::Column::FailureCode,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                payment::Column::FailureMessage,
                Expr::value(Option::<String>::None),
            );
    }
    q.filter(payment::Column::TenantId.eq(tx.tenant_id()))
        .filter(payment::Column::Id.eq(p.id))
        .exec(&**tx)
        .await?;
    Ok(())
}

async fn payment_intent_failed(tx: &Tx, e: &Event) -> Result<(), ApiError> {
    let o = obj(e);
    let Some(p) = find_payment(tx, o, "payment_intent_id").await? else {
        return Ok(());
    };
    // Failed attempts inside an open Checkout Session are the customer's to retry.
    if p.kind != PaymentKind::Balance || p.status == PaymentStatus::Succeeded {
        return Ok(());
    }
    let err = o.get("last_payment_error");
    let code = err
        .and_then(|x| s(x, "decline_code").or_else(|| s(x, "code")))
        .unwrap_or("payment_failed")
        .to_string();
    let message = err.and_then(|x| s(x, "message")).map(str::to_string);
    let res = payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(PaymentStatus::Failed))
        .col_expr(
            payment::Column::PaymentIntentId,
            Expr::value(s(o, "id").map(str::to_string)),
        )
        .col_expr(
            payment::Column::FailureCode,
            Expr::value(Some(code.clone())),
        )
        .col_expr(payment::Column::FailureMessage, Expr::value(message))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now()))
        .filter(payment::Column::TenantId.eq(tx.tenant_id()))
        .filter(payment::Column::Id.eq(p.id))
        .filter(payment::Column::Status.eq(PaymentStatus::Pending))
        .exec(&**tx)
        .await?;
    if res.rows_affected > 0 {
        notify(
            tx,
            PAYMENT_FAILED,
            format!(
                "Charging the balance of {} cents failed ({code}). Ask the customer for another card or record a payment by hand.",
                p.amount_cents
            ),
            Some(p.booking_id),
            Some(p.id),
        )
        .await?;
    }
    Ok(())
}

async fn settle_pending_refunds(
    tx: &Tx,
    payment_id: Uuid,
    provider_total: i64,
) -> Result<(), ApiError> {
    use entities::refund;
    let rows = scoped::<refund::Entity>(tx.tenant_id())
        .filter(refund::Column::PaymentId.eq(payment_id))
        .all(&**tx)
        .await?;
    let settled: i64 = rows
        .iter()
        .filter(|r| r.status == PaymentStatus::Succeeded)
        .map(|r| r.amount_cents)
        .sum();
    let mut room = provider_total - settled;
    for r in rows.iter().filter(|r| r.status == PaymentStatus::Pending) {
        if r.amount_cents > room {
            break;
        }
        room -= r.amount_cents;
        refund::Entity::update_many()
            .col_expr(
                refund::Column::Status,
                Expr::value(PaymentStatus::Succeeded),
            )
            .col_expr(refund::Column::UpdatedAt, Expr::value(now()))
            .filter(refund::Column::TenantId.eq(tx.tenant_id()))
            .filter(refund::Column::Id.eq(r.id))
            .exec(&**tx)
            .await?;
    }
    Ok(())
}

/// `account.updated`: the connected account's capabilities, if the event is newer than
/// the last applied one. Returns whether the tenant's providers must be rebuilt.
async fn account_updated(tx: &Tx, e: &Event) -> Result<bool, ApiError> {
    let o = obj(e);
    let Some(acct) = s(o, "id") else {
        return Ok(false);
    };
    let flag = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or(false);
    let res = tenant::Entity::update_many()
        .col_expr(
            tenant::Column::StripeChargesEnabled,
            Expr::value(flag("charges_enabled")),
        )
        .col_expr(
            tenant::Column::StripePayoutsEnabled,
            Expr::value(flag("payouts_enabled")),
        )
        .col_expr(
            tenant::Column::StripeDetailsSubmitted,
            Expr::value(flag("details_submitted")),
        )
        .col_expr(tenant::Column::StripeAccountEventAt, Expr::value(e.created))
        .filter(tenant::Column::Id.eq(tx.tenant_id()))
        .filter(tenant::Column::StripeAccountId.eq(acct))
        .filter(tenant::Column::StripeAccountEventAt.lte(e.created))
        .exec(&**tx)
        .await?;
    Ok(res.rows_affected > 0)
}

async fn subscription_checkout_completed(tx: &Tx, e: &Event) -> Result<(), ApiError> {
    let o = obj(e);
    if let Some(cus) = s(o, "customer") {
        routes::add(tx, ROUTE_BILLING_CUSTOMER, cus).await?;
    }
    tenant::Entity::update_many()
        .col_expr(
            tenant::Column::BillingCustomerId,
            Expr::value(s(o, "customer").map(str::to_string)),
        )
        .col_expr(
            tenant::Column::BillingSubscriptionId,
            Expr::value(s(o, "subscription").map(str::to_string)),
        )
        .filter(tenant::Column::Id.eq(tx.tenant_id()))
        .filter(tenant::Column::BillingSubscriptionId.is_null())
        .exec(&**tx)
        .await?;
    Ok(())
}

/// Tenant status for a Stripe subscription status
/// (<https://docs.stripe.com/api/subscriptions/object#subscription_object-status>).
pub fn tenant_status_for(subscription_status: &str) -> Option<TenantStatus> {
    match subscription_status {
        "trialing" => Some(TenantStatus::Trial),
        "active" => Some(TenantStatus::Active),
        "past_due" | "unpaid" | "paused" => Some(TenantStatus::PastDue),
        "canceled" | "incomplete_expired" => Some(TenantStatus::Canceled),
        _ => None,
    }
}

async fn subscription_changed(st: &GraphState, tx: &Tx, e: &Event) -> Result<(), ApiError> {
    let o = obj(e);
    let sub_status = if e.event_type == "customer.subscription.deleted" {
        "canceled"
    } else {
        s(o, "status").unwrap_or("")
    };
    let Some(tenant_status) = tenant_status_for(sub_status) else {
        return Ok(());
    };
    let plan = meta(o, "plan").and_then(Plan::parse).or_else(|| {
        o.get("items")
            .and_then(|i| i.get("data"))
            .and_then(|d| d.get(0))
            .and_then(|item| item.get("price"))
            .and_then(|p| s(p, "id").or_else(|| p.as_str()))
            .and_then(|price| st.platform.plan_for_price(price))
    });
    let trial_end = o
        .get("trial_end")
        .and_then(Value::as_i64)
        .and_then(|t| DateTime::from_timestamp(t, 0));
    billing_status(
        tx,
        e.created,
        tenant_status,
        plan,
        Some((
            s(o, "id").map(str::to_string),
            s(o, "customer").map(str::to_string),
            trial_end,
        )),
    )
    .await
}

type SubscriptionIds = (
    Option<String>,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
);

/// Sets the tenant's billing status (and plan, subscription ids) if `created` is not
/// older than the last applied billing event.
async fn billing_status(
    tx: &Tx,
    created: i64,
    status_to: TenantStatus,
    plan: Option<Plan>,
    ids: Option<SubscriptionIds>,
) -> Result<(), ApiError> {
    let mut q = tenant::Entity::update_many()
        .col_expr(tenant::Column::Status, Expr::value(status_to))
        .col_expr(tenant::Column::BillingEventAt, Expr::value(created));
    if let Some(p) = plan {
        q = q.col_expr(tenant::Column::Plan, Expr::value(p.as_str()));
    }
    if let Some((sub, cus, trial_end)) = ids {
        if let Some(sub) = sub {
            q = q.col_expr(
                tenant::Column::BillingSubscriptionId,
                Expr::value(Some(sub)),
            );
        }
        if let Some(cus) = cus {
            routes::add(tx, ROUTE_BILLING_CUSTOMER, &cus).await?;
            q = q.col_expr(tenant::Column::BillingCustomerId, Expr::value(Some(cus)));
        }
        q = q.col_expr(tenant::Column::TrialEndsAt, Expr::value(trial_end));
    }
    q.filter(tenant::Column::Id.eq(tx.tenant_id()))
        .filter(tenant::Column::BillingEventAt.lte(created))
        .exec(&**tx)
        .await?;
    Ok(())
}
