//! Stripe over HTTP: [`StripeClient`] implements [`PaymentProvider`] with Stripe
//! Checkout, PaymentIntents and Refunds, and offers the platform-only Connect calls
//! (creating and onboarding tenants' Standard accounts, platform subscriptions).
//! [`webhook`] verifies and parses the events Stripe sends back.
//!
//! Wire format (<https://docs.stripe.com/api>):
//!
//! - requests are `application/x-www-form-urlencoded` in Stripe's bracket notation
//!   (`metadata[booking]=42`), authenticated with `Authorization: Bearer <secret key>`
//!   and pinned to [`STRIPE_API_VERSION`] with the `Stripe-Version` header;
//! - every POST carries the caller's `Idempotency-Key`
//!   (<https://docs.stripe.com/api/idempotent_requests>);
//! - calls on behalf of a tenant's connected account carry `Stripe-Account: acct_…`
//!   (<https://docs.stripe.com/connect/authentication>);
//! - amounts are integer cents (the currency's smallest unit), times Unix seconds UTC.
//!
//! Errors (<https://docs.stripe.com/api/errors>): a timeout is
//! [`ProviderError::Timeout`]; a failed connection, HTTP 5xx, HTTP 429, a busy
//! idempotency key or lock (`idempotency_key_in_use`, `lock_timeout`, HTTP 409) and any
//! answer marked `Stripe-Should-Retry: true` are [`ProviderError::Unavailable`]
//! (retryable with the same idempotency key); other 4xx are
//! [`ProviderError::Rejected`] with Stripe's `error.code`, else `error.type`, else
//! `http_<status>`; a 2xx body that is not the expected object is
//! `Unavailable("unexpected response")`. Input Stripe would refuse (non-positive
//! amounts, bad currency codes, oversized metadata, bad idempotency keys) is
//! [`ProviderError::InvalidInput`] and nothing is sent.
//!
//! The secret key never appears in `Debug` output, logs or error messages.

mod form;
pub mod webhook;
mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ProviderError;
use crate::payments::{
    CheckoutRequest, CheckoutSession, OffSessionCharge, PaymentIntent, PaymentProvider, Refund,
    RefundRequest,
};
use form::{
    Form, check_amount, check_currency, check_fee, check_id, check_idempotency_key, check_metadata,
    check_present,
};
use wire::{
    WireAccount, WireAccountLink, WireBalance, WireCheckoutSession, WireError, WireErrorBody,
    WirePaymentIntent, WireRefund,
};

/// Stripe's production API root.
pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";

/// The Stripe API version every request pins with the `Stripe-Version` header, so the
/// account's default version (set in the Dashboard) cannot change the shapes this
/// client reads. Webhook endpoints have their own version, chosen when the endpoint is
/// created; create them with this one. <https://docs.stripe.com/api/versioning>
pub const STRIPE_API_VERSION: &str = "2025-09-30.clover";

/// Request timeout used by [`StripeConfig::new`]. Stripe's own SDKs allow 80 s; API
/// calls normally answer in well under a second.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const HEADER_IDEMPOTENCY_KEY: &str = "Idempotency-Key";
const HEADER_STRIPE_ACCOUNT: &str = "Stripe-Account";
const HEADER_STRIPE_VERSION: &str = "Stripe-Version";
const HEADER_SHOULD_RETRY: &str = "Stripe-Should-Retry";
const HEADER_REQUEST_ID: &str = "Request-Id";

/// How to reach Stripe. `Debug` redacts the secret key.
#[derive(Clone)]
pub struct StripeConfig {
    /// API root without a trailing slash; [`DEFAULT_BASE_URL`] in production, a mock
    /// server's address in tests.
    pub base_url: String,
    /// The platform's secret (`sk_…`) or restricted (`rk_…`) key.
    pub secret_key: String,
    /// Limit for a whole request, from connecting to reading the body.
    pub timeout: Duration,
    /// A connected account (`acct_…`) to act on by default, sent as `Stripe-Account`;
    /// `None` acts on the platform account. See also [`StripeClient::for_account`].
    pub account: Option<String>,
}

impl StripeConfig {
    /// Production settings ([`DEFAULT_BASE_URL`], [`DEFAULT_TIMEOUT`], platform account)
    /// with the given secret key.
    pub fn new(secret_key: impl Into<String>) -> StripeConfig {
        StripeConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            secret_key: secret_key.into(),
            timeout: DEFAULT_TIMEOUT,
            account: None,
        }
    }
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("base_url", &self.base_url)
            .field("secret_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("account", &self.account)
            .finish()
    }
}

/// A connected Stripe account (<https://docs.stripe.com/api/accounts/object>).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Account id (`acct_…`), to pass to [`StripeClient::for_account`].
    pub id: String,
    /// Whether the account can take payments.
    pub charges_enabled: bool,
    /// Whether Stripe can pay out to the account's bank.
    pub payouts_enabled: bool,
    /// Whether the owner finished the onboarding form (it may still await review).
    pub details_submitted: bool,
}

/// A single-use link to Stripe's hosted onboarding
/// (<https://docs.stripe.com/api/account_links/object>).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLink {
    /// Send the account owner here. Usable once.
    pub url: String,
    /// When the link stops working (Unix seconds, UTC; a few minutes after creation).
    pub expires_at: i64,
}

/// A subscription to one of the platform's prices through Stripe Checkout
/// (`mode=subscription`), e.g. a tenant subscribing to a Servicegraph plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionCheckoutRequest {
    /// The recurring price (`price_…`).
    pub price_id: String,
    /// Free trial length in days (Stripe requires at least 1); `None` = no trial.
    pub trial_period_days: Option<u32>,
    /// Where the customer lands after subscribing (`{CHECKOUT_SESSION_ID}` is replaced).
    pub success_url: String,
    /// Where the customer lands when they abandon the page.
    pub cancel_url: String,
    /// Our own reference (e.g. the tenant id), echoed back in webhooks.
    pub client_reference_id: Option<String>,
    /// Pre-fills the e-mail field.
    pub customer_email: Option<String>,
    /// Copied onto both the checkout session and the subscription.
    pub metadata: Vec<(String, String)>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
}

/// Stripe API client. Cloning is cheap (the connection pool is shared).
///
/// `Debug` shows the base URL, API version and account, never the secret key.
#[derive(Clone)]
pub struct StripeClient {
    inner: Arc<Inner>,
    account: Option<Arc<str>>,
}

impl fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient")
            .field("base_url", &self.inner.base_url)
            .field("api_version", &STRIPE_API_VERSION)
            .field("account", &self.account)
            .field("secret_key", &"[redacted]")
            .finish()
    }
}

/// A non-2xx answer from Stripe.
struct Failure {
    status: u16,
    error: Option<WireError>,
    should_retry: Option<bool>,
}

impl Failure {
    fn into_error(self) -> ProviderError {
        wire::map_error(self.status, self.error.as_ref(), self.should_retry)
    }
}

/// Whether a request acts as the client's account or always as the platform.
#[derive(Clone, Copy)]
enum Scope {
    /// Sends `Stripe-Account` when the client has one.
    Client,
    /// Never sends `Stripe-Account`.
    Platform,
}

fn unexpected() -> ProviderError {
    ProviderError::Unavailable("unexpected response".into())
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|_| unexpected())
}

/// Maps a transport failure; the description never includes the request.
fn transport_error(e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else if e.is_connect() {
        ProviderError::Unavailable("could not connect to stripe".into())
    } else {
        ProviderError::Unavailable("stripe request failed".into())
    }
}

impl StripeClient {
    /// Builds a client.
    ///
    /// Errors: [`ProviderError::InvalidInput`] when the base URL is not an http(s) URL,
    /// the secret key is empty or not a valid header value, the timeout is zero or the
    /// account is not a Stripe id; [`ProviderError::Unavailable`] if the HTTP client
    /// (TLS) cannot be initialised. No request is made; use
    /// [`PaymentProvider::check`] to test the key.
    pub fn new(config: StripeConfig) -> Result<StripeClient, ProviderError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let parsed = Url::parse(&base_url)
            .map_err(|_| ProviderError::InvalidInput("stripe base_url is not a URL".into()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ProviderError::InvalidInput(
                "stripe base_url must be http or https".into(),
            ));
        }
        if config.secret_key.trim().is_empty() {
            return Err(ProviderError::InvalidInput(
                "stripe secret key is empty".into(),
            ));
        }
        if config.timeout.is_zero() {
            return Err(ProviderError::InvalidInput(
                "stripe timeout must be positive".into(),
            ));
        }
        if let Some(account) = &config.account {
            check_id("account", account)?;
        }
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", config.secret_key)).map_err(|_| {
                ProviderError::InvalidInput("stripe secret key has invalid characters".into())
            })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(
            HEADER_STRIPE_VERSION,
            HeaderValue::from_static(STRIPE_API_VERSION),
        );
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!(
                "servicegraph-integrations/",
                env!("CARGO_PKG_VERSION")
            ))
            .default_headers(headers)
            .build()
            .map_err(|_| ProviderError::Unavailable("could not initialise HTTP client".into()))?;
        Ok(StripeClient {
            inner: Arc::new(Inner { http, base_url }),
            account: config.account.map(Arc::from),
        })
    }

    /// A copy that acts on the connected account `account` (`acct_…`), sending it as
    /// `Stripe-Account` on every [`PaymentProvider`] call
    /// (<https://docs.stripe.com/connect/authentication>). Shares the connection pool.
    /// An id that is not a Stripe id makes each call fail with
    /// [`ProviderError::InvalidInput`].
    pub fn for_account(&self, account: &str) -> StripeClient {
        StripeClient {
            inner: Arc::clone(&self.inner),
            account: Some(Arc::from(account)),
        }
    }

    /// The connected account this client acts on, if any.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// Sends one request and returns the raw 2xx body or the parsed failure.
    async fn call(
        &self,
        method: Method,
        path: &str,
        form: Option<Vec<(String, String)>>,
        idempotency_key: Option<&str>,
        scope: Scope,
    ) -> Result<Result<Vec<u8>, Failure>, ProviderError> {
        let account = match scope {
            Scope::Client => self.account.as_deref(),
            Scope::Platform => None,
        };
        let url = format!("{}{}", self.inner.base_url, path);
        let mut req = self.inner.http.request(method.clone(), url);
        if let Some(key) = idempotency_key {
            check_idempotency_key(key)?;
            req = req.header(HEADER_IDEMPOTENCY_KEY, key);
        }
        if let Some(account) = account {
            check_id("Stripe-Account", account)?;
            req = req.header(HEADER_STRIPE_ACCOUNT, account);
        }
        if let Some(form) = form {
            req = req.form(&form);
        }
        tracing::debug!(%method, path, account, "stripe request");

        let resp = req.send().await.map_err(|e| {
            let mapped = transport_error(&e);
            tracing::warn!(%method, path, account, error = %e.without_url(), "stripe request failed");
            mapped
        })?;
        let status = resp.status();
        let request_id = resp
            .headers()
            .get(HEADER_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let should_retry = resp
            .headers()
            .get(HEADER_SHOULD_RETRY)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.eq_ignore_ascii_case("true"));
        let body = resp.bytes().await.map_err(|e| {
            let mapped = transport_error(&e);
            tracing::warn!(%method, path, account, error = %e.without_url(), "stripe response unreadable");
            mapped
        })?;
        if status.is_success() {
            return Ok(Ok(body.to_vec()));
        }
        let error = serde_json::from_slice::<WireErrorBody>(&body)
            .ok()
            .map(|b| b.error);
        let e = error.as_ref();
        tracing::warn!(
            %method,
            path,
            account,
            status = status.as_u16(),
            request_id = request_id.as_deref(),
            error_type = e.and_then(|e| e.error_type.as_deref()),
            code = e.and_then(|e| e.code.as_deref()),
            decline_code = e.and_then(|e| e.decline_code.as_deref()),
            param = e.and_then(|e| e.param.as_deref()),
            "stripe returned an error"
        );
        Ok(Err(Failure {
            status: status.as_u16(),
            error,
            should_retry,
        }))
    }

    /// [`call`](Self::call), then parses a 2xx body as `T` and maps failures.
    async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: Option<Form>,
        idempotency_key: Option<&str>,
        scope: Scope,
    ) -> Result<T, ProviderError> {
        let form = form.map(Form::into_pairs);
        match self
            .call(method, path, form, idempotency_key, scope)
            .await?
        {
            Ok(body) => parse(&body),
            Err(failure) => Err(failure.into_error()),
        }
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: Form,
        idempotency_key: &str,
        scope: Scope,
    ) -> Result<T, ProviderError> {
        self.request(Method::POST, path, Some(form), Some(idempotency_key), scope)
            .await
    }

    /// Creates a Standard connected account for a tenant: `POST /v1/accounts` with
    /// `type=standard`, `email`, `country` (ISO 3166-1 alpha-2, e.g. `"US"`) and
    /// `metadata[k]` (<https://docs.stripe.com/api/accounts/create>). The owner then
    /// completes onboarding through [`create_account_link`](Self::create_account_link).
    ///
    /// Platform-only: never sends `Stripe-Account`, even on a
    /// [`for_account`](Self::for_account) copy. Errors: see the [module docs](self).
    pub async fn create_account(
        &self,
        email: Option<&str>,
        country: Option<&str>,
        metadata: &[(String, String)],
        idempotency_key: &str,
    ) -> Result<Account, ProviderError> {
        check_metadata(metadata)?;
        let mut form = Form::new();
        form.push("type", "standard")
            .push_opt("email", email)
            .push_opt("country", country)
            .push_metadata("metadata", metadata);
        let account: WireAccount = self
            .post("/v1/accounts", form, idempotency_key, Scope::Platform)
            .await?;
        Ok(account.into())
    }

    /// Reads a connected account (`GET /v1/accounts/{id}`,
    /// <https://docs.stripe.com/api/accounts/retrieve>), e.g. to see whether onboarding
    /// enabled charges. Platform-only: never sends `Stripe-Account`.
    /// Errors: [`ProviderError::InvalidInput`] if `id` is not a Stripe id; otherwise see
    /// the [module docs](self).
    pub async fn retrieve_account(&self, id: &str) -> Result<Account, ProviderError> {
        check_id("account id", id)?;
        let path = format!("/v1/accounts/{id}");
        let account: WireAccount = self
            .request(Method::GET, &path, None, None, Scope::Platform)
            .await?;
        Ok(account.into())
    }

    /// Creates a single-use onboarding link for `account`: `POST /v1/account_links`
    /// with `type=account_onboarding`, `refresh_url` (where Stripe sends the owner if
    /// the link expired or was reused; generate a fresh link there) and `return_url`
    /// (where the owner lands afterwards; it does not mean onboarding is complete —
    /// check [`retrieve_account`](Self::retrieve_account))
    /// (<https://docs.stripe.com/api/account_links/create>). Platform-only.
    pub async fn create_account_link(
        &self,
        account: &str,
        refresh_url: &str,
        return_url: &str,
        idempotency_key: &str,
    ) -> Result<AccountLink, ProviderError> {
        check_id("account", account)?;
        check_present("refresh_url", refresh_url)?;
        check_present("return_url", return_url)?;
        let mut form = Form::new();
        form.push("account", account)
            .push("refresh_url", refresh_url)
            .push("return_url", return_url)
            .push("type", "account_onboarding");
        let link: WireAccountLink = self
            .post("/v1/account_links", form, idempotency_key, Scope::Platform)
            .await?;
        Ok(link.into())
    }

    /// Creates a Checkout page for a subscription to one of the platform's prices:
    /// `POST /v1/checkout/sessions` with `mode=subscription`, `line_items[0][price]`,
    /// `line_items[0][quantity]=1`, `subscription_data[trial_period_days]`,
    /// `subscription_data[metadata][k]`, `metadata[k]`, `client_reference_id`,
    /// `customer_email`, `success_url`, `cancel_url`
    /// (<https://docs.stripe.com/api/checkout/sessions/create>). Platform-only.
    /// Errors: [`ProviderError::InvalidInput`] for an empty price or URL, a zero-day
    /// trial or bad metadata; otherwise see the [module docs](self).
    pub async fn create_subscription_checkout(
        &self,
        req: &SubscriptionCheckoutRequest,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, ProviderError> {
        check_present("price_id", &req.price_id)?;
        check_present("success_url", &req.success_url)?;
        check_present("cancel_url", &req.cancel_url)?;
        check_metadata(&req.metadata)?;
        if req.trial_period_days == Some(0) {
            return Err(ProviderError::InvalidInput(
                "trial_period_days must be at least 1".into(),
            ));
        }
        let mut form = Form::new();
        form.push("mode", "subscription")
            .push("line_items[0][price]", &req.price_id)
            .push("line_items[0][quantity]", 1)
            .push("success_url", &req.success_url)
            .push("cancel_url", &req.cancel_url)
            .push_opt("client_reference_id", req.client_reference_id.as_ref())
            .push_opt("customer_email", req.customer_email.as_ref())
            .push_opt(
                "subscription_data[trial_period_days]",
                req.trial_period_days,
            )
            .push_metadata("metadata", &req.metadata)
            .push_metadata("subscription_data[metadata]", &req.metadata);
        let session: WireCheckoutSession = self
            .post(
                "/v1/checkout/sessions",
                form,
                idempotency_key,
                Scope::Platform,
            )
            .await?;
        Ok(session.into())
    }
}

#[async_trait]
impl PaymentProvider for StripeClient {
    /// `GET /v1/balance` (<https://docs.stripe.com/api/balance/balance_retrieve>), as the
    /// connected account when the client has one. A bad or revoked key is HTTP 401,
    /// which Stripe sends without `error.code`, so it maps to
    /// `Rejected { code: "invalid_request_error" }`; a key without access to the
    /// connected account is likewise `Rejected`.
    async fn check(&self) -> Result<(), ProviderError> {
        let balance: WireBalance = self
            .request(Method::GET, "/v1/balance", None, None, Scope::Client)
            .await?;
        if balance.object == "balance" {
            Ok(())
        } else {
            Err(unexpected())
        }
    }

    /// `POST /v1/checkout/sessions` with `mode=payment` and one `price_data` line item
    /// (<https://docs.stripe.com/api/checkout/sessions/create>). Metadata goes on the
    /// session and on its payment intent; `save_card_for_off_session` sends
    /// `customer_creation=always` and `payment_intent_data[setup_future_usage]=off_session`
    /// (<https://docs.stripe.com/payments/checkout/save-during-payment>).
    async fn create_checkout_session(
        &self,
        req: &CheckoutRequest,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, ProviderError> {
        check_amount("amount_cents", req.amount_cents)?;
        let currency = check_currency(&req.currency)?;
        check_fee(req.application_fee_cents, req.amount_cents)?;
        check_present("product_name", &req.product_name)?;
        check_present("success_url", &req.success_url)?;
        check_present("cancel_url", &req.cancel_url)?;
        check_metadata(&req.metadata)?;
        let mut form = Form::new();
        form.push("mode", "payment")
            .push("line_items[0][price_data][currency]", currency)
            .push("line_items[0][price_data][unit_amount]", req.amount_cents)
            .push(
                "line_items[0][price_data][product_data][name]",
                &req.product_name,
            )
            .push("line_items[0][quantity]", 1)
            .push("success_url", &req.success_url)
            .push("cancel_url", &req.cancel_url)
            .push_opt("customer_email", req.customer_email.as_ref())
            .push_opt("client_reference_id", req.client_reference_id.as_ref())
            .push_metadata("metadata", &req.metadata)
            .push_metadata("payment_intent_data[metadata]", &req.metadata)
            .push_opt(
                "payment_intent_data[application_fee_amount]",
                req.application_fee_cents,
            )
            .push_opt("expires_at", req.expires_at);
        if req.save_card_for_off_session {
            form.push("customer_creation", "always")
                .push("payment_intent_data[setup_future_usage]", "off_session");
        }
        let session: WireCheckoutSession = self
            .post(
                "/v1/checkout/sessions",
                form,
                idempotency_key,
                Scope::Client,
            )
            .await?;
        Ok(session.into())
    }

    /// `POST /v1/payment_intents` with `off_session=true&confirm=true`
    /// (<https://docs.stripe.com/api/payment_intents/create>). A decline (HTTP 402 with
    /// `error.payment_intent`) returns `Ok` with that intent; see
    /// [`PaymentProvider::charge_off_session`].
    async fn charge_off_session(
        &self,
        req: &OffSessionCharge,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, ProviderError> {
        check_amount("amount_cents", req.amount_cents)?;
        let currency = check_currency(&req.currency)?;
        check_fee(req.application_fee_cents, req.amount_cents)?;
        check_present("customer", &req.customer)?;
        check_metadata(&req.metadata)?;
        let mut form = Form::new();
        form.push("amount", req.amount_cents)
            .push("currency", currency)
            .push("customer", &req.customer)
            .push_opt("payment_method", req.payment_method.as_ref())
            .push("off_session", true)
            .push("confirm", true)
            .push_opt("application_fee_amount", req.application_fee_cents)
            .push_opt("description", req.description.as_ref())
            .push_metadata("metadata", &req.metadata);
        let outcome = self
            .call(
                Method::POST,
                "/v1/payment_intents",
                Some(form.into_pairs()),
                Some(idempotency_key),
                Scope::Client,
            )
            .await?;
        match outcome {
            Ok(body) => Ok(parse::<WirePaymentIntent>(&body)?.into_intent(None)),
            Err(failure) => {
                let embedded = failure
                    .error
                    .as_ref()
                    .and_then(|e| e.payment_intent.clone())
                    .and_then(|v| serde_json::from_value::<WirePaymentIntent>(v).ok());
                match embedded {
                    Some(intent) if (400..500).contains(&failure.status) => {
                        Ok(intent.into_intent(failure.error.as_ref()))
                    }
                    _ => Err(failure.into_error()),
                }
            }
        }
    }

    /// `POST /v1/refunds` with `payment_intent`, `amount` (omitted for a full refund)
    /// and `metadata[k]` (<https://docs.stripe.com/api/refunds/create>).
    async fn refund(
        &self,
        req: &RefundRequest,
        idempotency_key: &str,
    ) -> Result<Refund, ProviderError> {
        check_present("payment_intent", &req.payment_intent)?;
        if let Some(amount) = req.amount_cents {
            check_amount("amount_cents", amount)?;
        }
        check_metadata(&req.metadata)?;
        let mut form = Form::new();
        form.push("payment_intent", &req.payment_intent)
            .push_opt("amount", req.amount_cents)
            .push_metadata("metadata", &req.metadata);
        let refund: WireRefund = self
            .post("/v1/refunds", form, idempotency_key, Scope::Client)
            .await?;
        Ok(refund.into())
    }
}
