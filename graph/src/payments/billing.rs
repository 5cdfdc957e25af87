//! Platform-side Stripe calls: Connect onboarding of a tenant and the subscription
//! Checkout through which the platform bills tenants.
//!
//! These calls create nothing in our database until Stripe answers (an account id, a
//! link, a session URL) and are safe to repeat: each carries an idempotency key derived
//! from the tenant (and, for links, the minute), so a retried request is recognised by
//! Stripe rather than creating a second account. They run synchronously because the
//! caller needs the URL to redirect to.

use entities::{TenantStatus, tenant};
use integrations::ProviderError;
use integrations::stripe::{StripeClient, SubscriptionCheckoutRequest};
use sea_orm::prelude::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::context::RequestCtx;
use crate::error::ApiError;
use crate::payments::webhooks::ROUTE_STRIPE_ACCOUNT;
use crate::platform::Plan;
use crate::routes;
use crate::state::GraphState;
use crate::util::now;

fn platform(st: &GraphState, what: &str) -> Result<StripeClient, ApiError> {
    st.registry
        .platform_stripe()
        .cloned()
        .ok_or_else(|| ApiError::FeatureUnavailable(what.into()))
}

/// Maps a provider failure to the API error a client sees (no provider text).
pub fn upstream(e: ProviderError) -> ApiError {
    match e {
        ProviderError::Rejected { code } => {
            tracing::warn!(code = %code, "stripe refused a platform request");
            ApiError::UpstreamFailed("stripe".into())
        }
        other => {
            tracing::warn!(error = %other, "stripe platform request failed");
            ApiError::UpstreamFailed("stripe".into())
        }
    }
}

/// `startStripeOnboarding`: creates the tenant's Standard connected account on first use
/// (`POST /v1/accounts`, `type=standard`) and returns an Account Link for Stripe's
/// hosted onboarding (`POST /v1/account_links`, `type=account_onboarding`). The
/// `account.updated` webhook later records `charges_enabled`. Errors:
/// `FEATURE_UNAVAILABLE` (no platform key), `UPSTREAM_FAILED`.
pub async fn start_onboarding(st: &GraphState, rc: &RequestCtx) -> Result<String, ApiError> {
    let client = platform(st, "payments")?;
    let tx = st.db.read(rc.tenant_id).await?;
    let t = tx.tenant().await?;
    tx.commit().await?;
    let account = match &t.stripe_account_id {
        Some(a) => a.clone(),
        None => {
            let a = client
                .create_account(
                    None,
                    None,
                    &[
                        ("tenant_id".into(), t.id.to_string()),
                        ("tenant_slug".into(), t.slug.clone()),
                    ],
                    &format!("acct-create-{}", t.id),
                )
                .await
                .map_err(upstream)?;
            let tx = st.db.write(rc.tenant_id).await?;
            tenant::Entity::update_many()
                .col_expr(
                    tenant::Column::StripeAccountId,
                    Expr::value(Some(a.id.clone())),
                )
                .col_expr(
                    tenant::Column::StripeChargesEnabled,
                    Expr::value(a.charges_enabled),
                )
                .col_expr(
                    tenant::Column::StripePayoutsEnabled,
                    Expr::value(a.payouts_enabled),
                )
                .col_expr(
                    tenant::Column::StripeDetailsSubmitted,
                    Expr::value(a.details_submitted),
                )
                .filter(tenant::Column::Id.eq(rc.tenant_id))
                .filter(tenant::Column::StripeAccountId.is_null())
                .exec(&*tx)
                .await?;
            routes::add(&tx, ROUTE_STRIPE_ACCOUNT, &a.id).await?;
            tx.commit().await?;
            st.registry.invalidate(rc.tenant_id);
            st.events.publish_plugin_change(rc.tenant_id).await;
            a.id
        }
    };
    let base = &st.platform.public_base_url;
    let link = client
        .create_account_link(
            &account,
            &format!("{base}/settings/payments?onboarding=refresh"),
            &format!("{base}/settings/payments?onboarding=done"),
            &format!("acct-link-{}-{}", t.id, now().timestamp() / 60),
        )
        .await
        .map_err(upstream)?;
    Ok(link.url)
}

/// `startSubscriptionCheckout`: a Checkout Session (`mode=subscription`) on the
/// platform's account for `plan`, with the configured trial; the
/// `customer.subscription.*` webhooks then set the tenant's plan and status. Errors:
/// `FEATURE_UNAVAILABLE` (no platform key or no Price for the plan), `UPSTREAM_FAILED`.
pub async fn start_subscription(
    st: &GraphState,
    rc: &RequestCtx,
    plan: Plan,
) -> Result<String, ApiError> {
    let client = platform(st, "billing")?;
    let price = st.platform.prices[plan.index()]
        .clone()
        .ok_or_else(|| ApiError::FeatureUnavailable(format!("billing ({})", plan.as_str())))?;
    let tx = st.db.read(rc.tenant_id).await?;
    let t = tx.tenant().await?;
    tx.commit().await?;
    let base = &st.platform.public_base_url;
    let metadata = vec![
        ("tenant_id".to_string(), t.id.to_string()),
        ("plan".to_string(), plan.as_str().to_string()),
    ];
    let req = SubscriptionCheckoutRequest {
        price_id: price,
        trial_period_days: (t.status == TenantStatus::Trial
            && t.billing_subscription_id.is_none()
            && st.platform.trial_days > 0)
            .then_some(st.platform.trial_days),
        success_url: format!("{base}/settings/billing?checkout=done"),
        cancel_url: format!("{base}/settings/billing?checkout=canceled"),
        client_reference_id: Some(t.id.to_string()),
        customer_email: None,
        metadata,
    };
    let session = client
        .create_subscription_checkout(
            &req,
            &format!(
                "sub-checkout-{}-{}-{}",
                t.id,
                plan.as_str(),
                now().timestamp() / 60
            ),
        )
        .await
        .map_err(upstream)?;
    session
        .url
        .ok_or_else(|| ApiError::UpstreamFailed("stripe".into()))
}
