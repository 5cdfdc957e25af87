//! `StripeClient` against a local mock of the Stripe API: what we send (paths, form
//! fields, headers) and how Stripe's documented answers and errors are read.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![recursion_limit = "256"]

use std::collections::HashMap;
use std::time::Duration;

use integrations::ProviderError;
use integrations::payments::{
    CheckoutRequest, CheckoutSession, OffSessionCharge, PaymentIntent, PaymentProvider, Refund,
    RefundRequest,
};
use integrations::stripe::{
    Account, AccountLink, STRIPE_API_VERSION, StripeClient, StripeConfig,
    SubscriptionCheckoutRequest,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRET_KEY: &str = "sk_test_51Hx9SecretKeyThatMustNeverLeak0123456789";
const ACCOUNT: &str = "acct_1Nv0FGQ9RKHgCVdK";

fn config(server: &MockServer) -> StripeConfig {
    StripeConfig {
        base_url: server.uri(),
        secret_key: SECRET_KEY.to_owned(),
        timeout: Duration::from_secs(5),
        account: None,
    }
}

fn client(server: &MockServer) -> StripeClient {
    StripeClient::new(config(server)).unwrap()
}

/// The only request the server received.
async fn only_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "expected exactly one request");
    requests.remove(0)
}

/// The decoded form body, in order.
fn form_pairs(req: &Request) -> Vec<(String, String)> {
    assert_eq!(
        req.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/x-www-form-urlencoded")
    );
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

/// The decoded form body as a map; fails on duplicate keys.
fn form(req: &Request) -> HashMap<String, String> {
    let pairs = form_pairs(req);
    let map: HashMap<_, _> = pairs.iter().cloned().collect();
    assert_eq!(map.len(), pairs.len(), "duplicate form keys: {pairs:?}");
    map
}

fn header_value<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Headers every Stripe call carries.
fn assert_common_headers(req: &Request) {
    assert_eq!(
        header_value(req, "authorization"),
        Some(format!("Bearer {SECRET_KEY}").as_str())
    );
    assert_eq!(
        header_value(req, "stripe-version"),
        Some(STRIPE_API_VERSION)
    );
}

fn checkout_session_json(overrides: Value) -> Value {
    let mut v = json!({
        "id": "cs_test_a11YYufWQzNY63zpQ6QSNRQhkUpVph4WRmzW0zWJO2znZKdVujZ0N0S22u",
        "object": "checkout.session",
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": 5000,
        "amount_total": 5000,
        "automatic_tax": {"enabled": false, "liability": null, "status": null},
        "billing_address_collection": null,
        "cancel_url": "https://app.example.com/pay/cancel",
        "client_reference_id": "booking_42",
        "consent": null,
        "consent_collection": null,
        "created": 1_700_000_000,
        "currency": "usd",
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "customer": null,
        "customer_creation": "always",
        "customer_details": null,
        "customer_email": "pat@example.com",
        "expires_at": 1_700_003_600,
        "invoice": null,
        "invoice_creation": {"enabled": false, "invoice_data": {"account_tax_ids": null, "custom_fields": null, "description": null, "footer": null, "issuer": null, "metadata": {}, "rendering_options": null}},
        "livemode": false,
        "locale": null,
        "metadata": {"booking_id": "42", "tenant": "acme"},
        "mode": "payment",
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": "if_required",
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": false},
        "recovered_from": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": "open",
        "submit_type": null,
        "subscription": null,
        "success_url": "https://app.example.com/pay/done?session={CHECKOUT_SESSION_ID}",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": "https://checkout.stripe.com/c/pay/cs_test_a11YYufWQzNY63zpQ6QSNRQhkUpVph4WRmzW0zWJO2znZKdVujZ0N0S22u#fidkdWxOYHwnPyd1blpxYHZxWjA0SDdPUW5JbmFMck1wMmx9N2BLZjFEfGRUNWhqTmJ%2FM2F8bUA2SDRySkFdUV81T1BCdjNdQ2hRZ3dIRjZ"
    });
    if let (Some(base), Some(extra)) = (v.as_object_mut(), overrides.as_object()) {
        for (k, val) in extra {
            base.insert(k.clone(), val.clone());
        }
    }
    v
}

fn payment_intent_json(overrides: Value) -> Value {
    let mut v = json!({
        "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "object": "payment_intent",
        "amount": 2500,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 2500,
        "application": null,
        "application_fee_amount": 250,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": true},
        "canceled_at": null,
        "cancellation_reason": null,
        "capture_method": "automatic_async",
        "client_secret": "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH",
        "confirmation_method": "automatic",
        "created": 1_700_000_000,
        "currency": "usd",
        "customer": "cus_NffrFeUfNV2Hib",
        "description": "No-show fee",
        "last_payment_error": null,
        "latest_charge": "ch_3MtwBwLkdIwHu7ix2dQ8Qw3T",
        "livemode": false,
        "metadata": {"booking_id": "42"},
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": "pm_1MtwBwLkdIwHu7ixiEiOn3fG",
        "payment_method_configuration_details": null,
        "payment_method_options": {"card": {"installments": null, "mandate_options": null, "network": null, "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "processing": null,
        "receipt_email": null,
        "review": null,
        "setup_future_usage": null,
        "shipping": null,
        "source": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": "succeeded",
        "transfer_data": null,
        "transfer_group": null
    });
    if let (Some(base), Some(extra)) = (v.as_object_mut(), overrides.as_object()) {
        for (k, val) in extra {
            base.insert(k.clone(), val.clone());
        }
    }
    v
}

fn account_json() -> Value {
    json!({
        "id": ACCOUNT,
        "object": "account",
        "business_profile": {"mcc": null, "name": null, "product_description": null, "support_address": null, "support_email": null, "support_phone": null, "support_url": null, "url": null},
        "business_type": null,
        "capabilities": {},
        "charges_enabled": false,
        "controller": {"is_controller": true, "type": "account"},
        "country": "US",
        "created": 1_695_830_751,
        "default_currency": "usd",
        "details_submitted": false,
        "email": "owner@acme.example",
        "external_accounts": {"object": "list", "data": [], "has_more": false, "url": "/v1/accounts/acct_1Nv0FGQ9RKHgCVdK/external_accounts"},
        "future_requirements": {"alternatives": [], "current_deadline": null, "currently_due": [], "disabled_reason": null, "errors": [], "eventually_due": [], "past_due": [], "pending_verification": []},
        "metadata": {"tenant_id": "t_1"},
        "payouts_enabled": false,
        "requirements": {"alternatives": [], "current_deadline": null, "currently_due": ["business_profile.url", "external_account"], "disabled_reason": "requirements.past_due", "errors": [], "eventually_due": [], "past_due": [], "pending_verification": []},
        "settings": {},
        "tos_acceptance": {"date": null, "ip": null, "user_agent": null},
        "type": "standard"
    })
}

fn stripe_error(status: u16, error: Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("request-id", "req_8PnOtEoK4oSZuf")
        .set_body_json(json!({ "error": error }))
}

fn checkout_request() -> CheckoutRequest {
    CheckoutRequest {
        amount_cents: 5000,
        currency: "usd".into(),
        product_name: "Deposit: lawn care visit".into(),
        success_url: "https://app.example.com/pay/done?session={CHECKOUT_SESSION_ID}".into(),
        cancel_url: "https://app.example.com/pay/cancel".into(),
        customer_email: Some("pat@example.com".into()),
        client_reference_id: Some("booking_42".into()),
        metadata: vec![
            ("booking_id".into(), "42".into()),
            ("tenant".into(), "acme".into()),
        ],
        application_fee_cents: Some(150),
        expires_at: Some(1_700_003_600),
        save_card_for_off_session: true,
    }
}

fn minimal_checkout_request() -> CheckoutRequest {
    CheckoutRequest {
        amount_cents: 1999,
        currency: "eur".into(),
        product_name: "Window cleaning".into(),
        success_url: "https://app.example.com/ok".into(),
        cancel_url: "https://app.example.com/cancel".into(),
        customer_email: None,
        client_reference_id: None,
        metadata: vec![],
        application_fee_cents: None,
        expires_at: None,
        save_card_for_off_session: false,
    }
}

fn off_session_charge() -> OffSessionCharge {
    OffSessionCharge {
        amount_cents: 2500,
        currency: "usd".into(),
        customer: "cus_NffrFeUfNV2Hib".into(),
        payment_method: Some("pm_1MtwBwLkdIwHu7ixiEiOn3fG".into()),
        application_fee_cents: Some(250),
        description: Some("No-show fee".into()),
        metadata: vec![("booking_id".into(), "42".into())],
    }
}

// ---------------------------------------------------------------- checkout sessions

#[tokio::test]
async fn checkout_session_sends_stripe_fields() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(checkout_session_json(json!({}))))
        .expect(1)
        .mount(&server)
        .await;

    let session = client(&server)
        .create_checkout_session(&checkout_request(), "deposit:booking_42")
        .await
        .unwrap();

    let req = only_request(&server).await;
    assert_common_headers(&req);
    assert_eq!(
        header_value(&req, "idempotency-key"),
        Some("deposit:booking_42")
    );
    assert_eq!(header_value(&req, "stripe-account"), None);
    let f = form(&req);
    let expected: HashMap<String, String> = [
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[0][price_data][unit_amount]", "5000"),
        (
            "line_items[0][price_data][product_data][name]",
            "Deposit: lawn care visit",
        ),
        ("line_items[0][quantity]", "1"),
        (
            "success_url",
            "https://app.example.com/pay/done?session={CHECKOUT_SESSION_ID}",
        ),
        ("cancel_url", "https://app.example.com/pay/cancel"),
        ("customer_email", "pat@example.com"),
        ("client_reference_id", "booking_42"),
        ("metadata[booking_id]", "42"),
        ("metadata[tenant]", "acme"),
        ("payment_intent_data[metadata][booking_id]", "42"),
        ("payment_intent_data[metadata][tenant]", "acme"),
        ("payment_intent_data[application_fee_amount]", "150"),
        ("expires_at", "1700003600"),
        ("customer_creation", "always"),
        ("payment_intent_data[setup_future_usage]", "off_session"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(f, expected);

    assert_eq!(
        session,
        CheckoutSession {
            id: "cs_test_a11YYufWQzNY63zpQ6QSNRQhkUpVph4WRmzW0zWJO2znZKdVujZ0N0S22u".into(),
            url: Some("https://checkout.stripe.com/c/pay/cs_test_a11YYufWQzNY63zpQ6QSNRQhkUpVph4WRmzW0zWJO2znZKdVujZ0N0S22u#fidkdWxOYHwnPyd1blpxYHZxWjA0SDdPUW5JbmFMck1wMmx9N2BLZjFEfGRUNWhqTmJ%2FM2F8bUA2SDRySkFdUV81T1BCdjNdQ2hRZ3dIRjZ".into()),
            status: Some("open".into()),
            payment_status: Some("unpaid".into()),
            payment_intent: None,
            customer: None,
            expires_at: Some(1_700_003_600),
            amount_total: Some(5000),
        }
    );
}

#[tokio::test]
async fn checkout_session_for_account_sends_stripe_account_and_omits_unset_fields() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header("stripe-account", ACCOUNT))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(checkout_session_json(json!({
                "amount_total": 1999,
                "currency": "eur",
                "status": "complete",
                "payment_status": "paid",
                "payment_intent": "pi_3OqpKzLkdIwHu7ix1XJvYk4V",
                "customer": {"id": "cus_PfzaLVbDCTX5Fm", "object": "customer"},
                "url": null
            }))),
        )
        .expect(1)
        .mount(&server)
        .await;

    let platform = client(&server);
    let tenant = platform.for_account(ACCOUNT);
    assert_eq!(tenant.account(), Some(ACCOUNT));
    assert_eq!(platform.account(), None);
    let session = tenant
        .create_checkout_session(&minimal_checkout_request(), "key-2")
        .await
        .unwrap();

    let req = only_request(&server).await;
    assert_common_headers(&req);
    assert_eq!(header_value(&req, "stripe-account"), Some(ACCOUNT));
    assert_eq!(header_value(&req, "idempotency-key"), Some("key-2"));
    let f = form(&req);
    let mut keys: Vec<_> = f.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "cancel_url",
            "line_items[0][price_data][currency]",
            "line_items[0][price_data][product_data][name]",
            "line_items[0][price_data][unit_amount]",
            "line_items[0][quantity]",
            "mode",
            "success_url",
        ]
    );
    assert_eq!(f["line_items[0][price_data][currency]"], "eur");
    assert_eq!(f["line_items[0][price_data][unit_amount]"], "1999");

    assert_eq!(
        session.payment_intent.as_deref(),
        Some("pi_3OqpKzLkdIwHu7ix1XJvYk4V")
    );
    assert_eq!(session.customer.as_deref(), Some("cus_PfzaLVbDCTX5Fm"));
    assert_eq!(session.url, None);
    assert_eq!(session.status.as_deref(), Some("complete"));
    assert_eq!(session.payment_status.as_deref(), Some("paid"));
}

#[tokio::test]
async fn account_in_config_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(checkout_session_json(json!({}))))
        .mount(&server)
        .await;
    let client = StripeClient::new(StripeConfig {
        account: Some(ACCOUNT.into()),
        ..config(&server)
    })
    .unwrap();
    client
        .create_checkout_session(&minimal_checkout_request(), "k")
        .await
        .unwrap();
    let req = only_request(&server).await;
    assert_eq!(header_value(&req, "stripe-account"), Some(ACCOUNT));
}

// ---------------------------------------------------------------- off-session charges

#[tokio::test]
async fn off_session_charge_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(payment_intent_json(json!({}))))
        .expect(1)
        .mount(&server)
        .await;

    let intent = client(&server)
        .for_account(ACCOUNT)
        .charge_off_session(&off_session_charge(), "no-show:booking_42")
        .await
        .unwrap();

    let req = only_request(&server).await;
    assert_common_headers(&req);
    assert_eq!(
        header_value(&req, "idempotency-key"),
        Some("no-show:booking_42")
    );
    assert_eq!(header_value(&req, "stripe-account"), Some(ACCOUNT));
    let f = form(&req);
    let expected: HashMap<String, String> = [
        ("amount", "2500"),
        ("currency", "usd"),
        ("customer", "cus_NffrFeUfNV2Hib"),
        ("payment_method", "pm_1MtwBwLkdIwHu7ixiEiOn3fG"),
        ("off_session", "true"),
        ("confirm", "true"),
        ("application_fee_amount", "250"),
        ("description", "No-show fee"),
        ("metadata[booking_id]", "42"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(f, expected);

    assert_eq!(
        intent,
        PaymentIntent {
            id: "pi_3MtwBwLkdIwHu7ix28a3tqPa".into(),
            status: "succeeded".into(),
            amount: 2500,
            amount_received: 2500,
            latest_charge: Some("ch_3MtwBwLkdIwHu7ix2dQ8Qw3T".into()),
            payment_method: Some("pm_1MtwBwLkdIwHu7ixiEiOn3fG".into()),
            customer: Some("cus_NffrFeUfNV2Hib".into()),
            failure_code: None,
            failure_message: None,
        }
    );
}

#[tokio::test]
async fn off_session_decline_returns_the_intent() {
    let server = MockServer::start().await;
    let last_error = json!({
        "charge": "ch_3P0yQhLkdIwHu7ix0ZqWcWkH",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "message": "Your card has insufficient funds.",
        "payment_method": {"id": "pm_1MtwBwLkdIwHu7ixiEiOn3fG", "object": "payment_method", "type": "card"},
        "type": "card_error"
    });
    let declined_intent = payment_intent_json(json!({
        "amount_received": 0,
        "status": "requires_payment_method",
        "payment_method": null,
        "latest_charge": "ch_3P0yQhLkdIwHu7ix0ZqWcWkH",
        "last_payment_error": last_error,
    }));
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(stripe_error(
            402,
            json!({
                "charge": "ch_3P0yQhLkdIwHu7ix0ZqWcWkH",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                "message": "Your card has insufficient funds.",
                "payment_intent": declined_intent,
                "payment_method": {"id": "pm_1MtwBwLkdIwHu7ixiEiOn3fG", "object": "payment_method", "type": "card"},
                "request_log_url": "https://dashboard.stripe.com/test/logs/req_8PnOtEoK4oSZuf?t=1700000000",
                "type": "card_error"
            }),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let intent = client(&server)
        .charge_off_session(&off_session_charge(), "no-show:booking_43")
        .await
        .unwrap();
    assert_eq!(
        intent,
        PaymentIntent {
            id: "pi_3MtwBwLkdIwHu7ix28a3tqPa".into(),
            status: "requires_payment_method".into(),
            amount: 2500,
            amount_received: 0,
            latest_charge: Some("ch_3P0yQhLkdIwHu7ix0ZqWcWkH".into()),
            payment_method: None,
            customer: Some("cus_NffrFeUfNV2Hib".into()),
            failure_code: Some("insufficient_funds".into()),
            failure_message: Some("Your card has insufficient funds.".into()),
        }
    );
}

#[tokio::test]
async fn off_session_authentication_required_uses_outer_error_when_intent_has_none() {
    let server = MockServer::start().await;
    let intent = payment_intent_json(json!({
        "amount_received": 0,
        "status": "requires_payment_method",
        "last_payment_error": null,
    }));
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(stripe_error(
            402,
            json!({
                "code": "authentication_required",
                "decline_code": "authentication_required",
                "message": "Your card was declined. This transaction requires authentication.",
                "payment_intent": intent,
                "type": "card_error"
            }),
        ))
        .mount(&server)
        .await;
    let intent = client(&server)
        .charge_off_session(&off_session_charge(), "k")
        .await
        .unwrap();
    assert_eq!(intent.status, "requires_payment_method");
    assert_eq!(
        intent.failure_code.as_deref(),
        Some("authentication_required")
    );
    assert!(
        intent
            .failure_message
            .unwrap()
            .contains("requires authentication")
    );
}

#[tokio::test]
async fn off_session_decline_without_intent_is_rejected() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(stripe_error(
            402,
            json!({
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
                "type": "card_error"
            }),
        ))
        .mount(&server)
        .await;
    let err = client(&server)
        .charge_off_session(&off_session_charge(), "k")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "card_declined".into()
        }
    );
    assert!(!err.is_retryable());
}

// ---------------------------------------------------------------- refunds

#[tokio::test]
async fn partial_refund() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "re_3MtwBwLkdIwHu7ix0gmtWZKS",
            "object": "refund",
            "amount": 1000,
            "balance_transaction": "txn_3MtwBwLkdIwHu7ix0ilzZzT6",
            "charge": "ch_3MtwBwLkdIwHu7ix2dQ8Qw3T",
            "created": 1_700_000_500,
            "currency": "usd",
            "destination_details": {"card": {"reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund"}, "type": "card"},
            "metadata": {"reason": "late_arrival"},
            "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
            "reason": null,
            "receipt_number": null,
            "source_transfer_reversal": null,
            "status": "succeeded",
            "transfer_reversal": null
        })))
        .expect(1)
        .mount(&server)
        .await;

    let refund = client(&server)
        .refund(
            &RefundRequest {
                payment_intent: "pi_3MtwBwLkdIwHu7ix28a3tqPa".into(),
                amount_cents: Some(1000),
                metadata: vec![("reason".into(), "late_arrival".into())],
            },
            "refund:booking_42:1",
        )
        .await
        .unwrap();

    let req = only_request(&server).await;
    assert_common_headers(&req);
    assert_eq!(
        header_value(&req, "idempotency-key"),
        Some("refund:booking_42:1")
    );
    assert_eq!(
        form_pairs(&req),
        vec![
            (
                "payment_intent".to_owned(),
                "pi_3MtwBwLkdIwHu7ix28a3tqPa".to_owned()
            ),
            ("amount".to_owned(), "1000".to_owned()),
            ("metadata[reason]".to_owned(), "late_arrival".to_owned()),
        ]
    );
    assert_eq!(
        refund,
        Refund {
            id: "re_3MtwBwLkdIwHu7ix0gmtWZKS".into(),
            status: "succeeded".into(),
            amount: 1000,
            payment_intent: Some("pi_3MtwBwLkdIwHu7ix28a3tqPa".into()),
        }
    );
}

#[tokio::test]
async fn full_refund_omits_amount() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "re_1", "object": "refund", "amount": 2500, "currency": "usd",
            "payment_intent": "pi_1", "status": "pending", "metadata": {}
        })))
        .mount(&server)
        .await;
    let refund = client(&server)
        .refund(
            &RefundRequest {
                payment_intent: "pi_1".into(),
                amount_cents: None,
                metadata: vec![],
            },
            "refund:pi_1",
        )
        .await
        .unwrap();
    let req = only_request(&server).await;
    assert_eq!(
        form_pairs(&req),
        vec![("payment_intent".to_owned(), "pi_1".to_owned())]
    );
    assert_eq!(refund.status, "pending");
    assert_eq!(refund.amount, 2500);
}

// ---------------------------------------------------------------- Connect (platform-only)

#[tokio::test]
async fn create_account_is_platform_only() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/accounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_json()))
        .expect(1)
        .mount(&server)
        .await;

    // Even a copy bound to a connected account creates accounts as the platform.
    let account = client(&server)
        .for_account("acct_other")
        .create_account(
            Some("owner@acme.example"),
            Some("US"),
            &[("tenant_id".into(), "t_1".into())],
            "tenant:t_1:account",
        )
        .await
        .unwrap();

    let req = only_request(&server).await;
    assert_common_headers(&req);
    assert_eq!(header_value(&req, "stripe-account"), None);
    assert_eq!(
        header_value(&req, "idempotency-key"),
        Some("tenant:t_1:account")
    );
    let f = form(&req);
    assert_eq!(f.len(), 4);
    assert_eq!(f["type"], "standard");
    assert_eq!(f["email"], "owner@acme.example");
    assert_eq!(f["country"], "US");
    assert_eq!(f["metadata[tenant_id]"], "t_1");
    assert_eq!(
        account,
        Account {
            id: ACCOUNT.into(),
            charges_enabled: false,
            payouts_enabled: false,
            details_submitted: false,
        }
    );
}

#[tokio::test]
async fn retrieve_account() {
    let server = MockServer::start().await;
    let mut body = account_json();
    body["charges_enabled"] = json!(true);
    body["payouts_enabled"] = json!(true);
    body["details_submitted"] = json!(true);
    Mock::given(method("GET"))
        .and(path(format!("/v1/accounts/{ACCOUNT}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let account = client(&server).retrieve_account(ACCOUNT).await.unwrap();
    assert!(account.charges_enabled && account.payouts_enabled && account.details_submitted);
    let req = only_request(&server).await;
    assert_common_headers(&req);
    assert_eq!(header_value(&req, "idempotency-key"), None);
    assert_eq!(header_value(&req, "stripe-account"), None);

    // Ids go in the URL path, so anything but a Stripe id is refused locally.
    let err = client(&server)
        .retrieve_account("acct_1/../../v1/balance")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::InvalidInput(_)));
}

#[tokio::test]
async fn create_account_link() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/account_links"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "account_link",
            "created": 1_700_000_000,
            "expires_at": 1_700_000_300,
            "url": "https://connect.stripe.com/setup/s/acct_1Nv0FGQ9RKHgCVdK/TqckGNUHg2mG"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let link = client(&server)
        .create_account_link(
            ACCOUNT,
            "https://app.example.com/stripe/refresh",
            "https://app.example.com/stripe/return",
            "tenant:t_1:link:1",
        )
        .await
        .unwrap();

    let req = only_request(&server).await;
    assert_common_headers(&req);
    assert_eq!(
        header_value(&req, "idempotency-key"),
        Some("tenant:t_1:link:1")
    );
    assert_eq!(header_value(&req, "stripe-account"), None);
    let f = form(&req);
    assert_eq!(f.len(), 4);
    assert_eq!(f["account"], ACCOUNT);
    assert_eq!(f["refresh_url"], "https://app.example.com/stripe/refresh");
    assert_eq!(f["return_url"], "https://app.example.com/stripe/return");
    assert_eq!(f["type"], "account_onboarding");
    assert_eq!(
        link,
        AccountLink {
            url: "https://connect.stripe.com/setup/s/acct_1Nv0FGQ9RKHgCVdK/TqckGNUHg2mG".into(),
            expires_at: 1_700_000_300,
        }
    );
}

#[tokio::test]
async fn subscription_checkout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(checkout_session_json(json!({
                "id": "cs_test_b1sub",
                "mode": "subscription",
                "amount_total": 0,
                "customer_creation": null,
                "payment_method_collection": "always"
            }))),
        )
        .expect(1)
        .mount(&server)
        .await;

    let session = client(&server)
        .for_account(ACCOUNT)
        .create_subscription_checkout(
            &SubscriptionCheckoutRequest {
                price_id: "price_1MoBy5LkdIwHu7ixZhnattbh".into(),
                trial_period_days: Some(14),
                success_url: "https://app.example.com/billing/done".into(),
                cancel_url: "https://app.example.com/billing".into(),
                client_reference_id: Some("tenant_t_1".into()),
                customer_email: Some("owner@acme.example".into()),
                metadata: vec![("tenant_id".into(), "t_1".into())],
            },
            "tenant:t_1:subscribe",
        )
        .await
        .unwrap();

    let req = only_request(&server).await;
    assert_common_headers(&req);
    assert_eq!(header_value(&req, "stripe-account"), None);
    assert_eq!(
        header_value(&req, "idempotency-key"),
        Some("tenant:t_1:subscribe")
    );
    let f = form(&req);
    let expected: HashMap<String, String> = [
        ("mode", "subscription"),
        ("line_items[0][price]", "price_1MoBy5LkdIwHu7ixZhnattbh"),
        ("line_items[0][quantity]", "1"),
        ("success_url", "https://app.example.com/billing/done"),
        ("cancel_url", "https://app.example.com/billing"),
        ("client_reference_id", "tenant_t_1"),
        ("customer_email", "owner@acme.example"),
        ("subscription_data[trial_period_days]", "14"),
        ("metadata[tenant_id]", "t_1"),
        ("subscription_data[metadata][tenant_id]", "t_1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(f, expected);
    assert_eq!(session.id, "cs_test_b1sub");
    assert_eq!(session.amount_total, Some(0));
}

// ---------------------------------------------------------------- check

#[tokio::test]
async fn check_reads_balance() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "balance",
            "available": [{"amount": 666670, "currency": "usd", "source_types": {"card": 666670}}],
            "connect_reserved": [{"amount": 0, "currency": "usd"}],
            "livemode": false,
            "pending": [{"amount": 61414, "currency": "usd", "source_types": {"card": 61414}}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).check().await.unwrap();
    let req = only_request(&server).await;
    assert_common_headers(&req);
    assert_eq!(header_value(&req, "idempotency-key"), None);
    assert!(req.body.is_empty());
}

#[tokio::test]
async fn check_with_bad_key_is_rejected_without_leaking_it() {
    let server = MockServer::start().await;
    // Hostile: a body that quotes the key back in full.
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(stripe_error(
            401,
            json!({
                "message": format!("Invalid API Key provided: {SECRET_KEY}"),
                "type": "invalid_request_error"
            }),
        ))
        .mount(&server)
        .await;
    let err = client(&server).check().await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "invalid_request_error".into()
        }
    );
    assert!(!format!("{err:?} {err}").contains(SECRET_KEY));
}

// ---------------------------------------------------------------- errors

#[tokio::test]
async fn server_error_is_unavailable_and_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(stripe_error(
            500,
            json!({"message": "An unknown error occurred", "type": "api_error"}),
        ))
        .mount(&server)
        .await;
    let err = client(&server)
        .refund(
            &RefundRequest {
                payment_intent: "pi_1".into(),
                amount_cents: None,
                metadata: vec![],
            },
            "k",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(!format!("{err:?}").contains(SECRET_KEY));
}

#[tokio::test]
async fn invalid_request_is_rejected_with_code() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(stripe_error(
            400,
            json!({
                "code": "url_invalid",
                "doc_url": "https://stripe.com/docs/error-codes/url-invalid",
                "message": "Not a valid URL",
                "param": "success_url",
                "request_log_url": "https://dashboard.stripe.com/test/logs/req_8PnOtEoK4oSZuf?t=1700000000",
                "type": "invalid_request_error"
            }),
        ))
        .mount(&server)
        .await;
    let err = client(&server)
        .create_checkout_session(&minimal_checkout_request(), "k")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "url_invalid".into()
        }
    );
    assert!(!err.is_retryable());
    assert!(!format!("{err:?}").contains(SECRET_KEY));
}

#[tokio::test]
async fn busy_idempotency_key_and_rate_limit_are_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(stripe_error(
            409,
            json!({
                "code": "idempotency_key_in_use",
                "message": "There is currently another in-progress request using this idempotent key.",
                "type": "invalid_request_error"
            }),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(stripe_error(
            429,
            json!({
                "code": "rate_limit",
                "message": "Request rate limit exceeded.",
                "type": "invalid_request_error"
            }),
        ))
        .mount(&server)
        .await;
    let c = client(&server);
    let err = c
        .charge_off_session(&off_session_charge(), "k")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    let err = c
        .refund(
            &RefundRequest {
                payment_intent: "pi_1".into(),
                amount_cents: None,
                metadata: vec![],
            },
            "k",
        )
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn unexpected_success_body_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>gateway</html>"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"object": "list"})))
        .mount(&server)
        .await;
    let c = client(&server);
    let err = c
        .create_checkout_session(&minimal_checkout_request(), "k")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unavailable("unexpected response".into())
    );
    let err = c.check().await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unavailable("unexpected response".into())
    );
}

#[tokio::test]
async fn slow_answer_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"object": "balance"}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let client = StripeClient::new(StripeConfig {
        timeout: Duration::from_millis(200),
        ..config(&server)
    })
    .unwrap();
    let err = client.check().await.unwrap_err();
    assert_eq!(err, ProviderError::Timeout);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    // Bind then drop a listener to get a local port nobody listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = StripeClient::new(StripeConfig {
        base_url: format!("http://127.0.0.1:{port}"),
        secret_key: SECRET_KEY.into(),
        timeout: Duration::from_secs(2),
        account: None,
    })
    .unwrap();
    let err = client.check().await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(!format!("{err:?}").contains(SECRET_KEY));
}

#[tokio::test]
async fn invalid_input_is_refused_before_sending() {
    let server = MockServer::start().await;
    let c = client(&server);
    let cases: Vec<CheckoutRequest> = vec![
        CheckoutRequest {
            amount_cents: 0,
            ..minimal_checkout_request()
        },
        CheckoutRequest {
            currency: "dollars".into(),
            ..minimal_checkout_request()
        },
        CheckoutRequest {
            application_fee_cents: Some(5000),
            ..minimal_checkout_request()
        },
        CheckoutRequest {
            metadata: vec![("a[b]".into(), "x".into())],
            ..minimal_checkout_request()
        },
    ];
    for req in &cases {
        let err = c.create_checkout_session(req, "k").await.unwrap_err();
        assert!(matches!(err, ProviderError::InvalidInput(_)), "{err:?}");
        assert!(!err.is_retryable());
    }
    for key in ["", "has space", &"k".repeat(256)] {
        let err = c
            .create_checkout_session(&minimal_checkout_request(), key)
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::InvalidInput(_)), "{err:?}");
    }
    let err = c
        .for_account("acct_1\r\nX-Evil: 1")
        .check()
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::InvalidInput(_)), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

// ---------------------------------------------------------------- construction & secrecy

#[tokio::test]
async fn debug_output_redacts_the_key() {
    let server = MockServer::start().await;
    let cfg = config(&server);
    assert!(!format!("{cfg:?}").contains(SECRET_KEY));
    let c = StripeClient::new(cfg).unwrap();
    for shown in [
        format!("{c:?}"),
        format!("{:?}", c.for_account(ACCOUNT)),
        format!("{:#?}", c),
    ] {
        assert!(!shown.contains(SECRET_KEY), "{shown}");
        assert!(!shown.contains("sk_test"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
}

#[test]
fn constructor_validates_config() {
    let base = StripeConfig::new(SECRET_KEY);
    assert_eq!(base.base_url, "https://api.stripe.com");
    assert!(StripeClient::new(base.clone()).is_ok());
    for bad in [
        StripeConfig {
            base_url: "not a url".into(),
            ..base.clone()
        },
        StripeConfig {
            base_url: "ftp://api.stripe.com".into(),
            ..base.clone()
        },
        StripeConfig {
            secret_key: String::new(),
            ..base.clone()
        },
        StripeConfig {
            secret_key: format!("{SECRET_KEY}\n"),
            ..base.clone()
        },
        StripeConfig {
            timeout: Duration::ZERO,
            ..base.clone()
        },
        StripeConfig {
            account: Some("acct 1".into()),
            ..base.clone()
        },
    ] {
        let err = StripeClient::new(bad).unwrap_err();
        assert!(matches!(err, ProviderError::InvalidInput(_)), "{err:?}");
        assert!(!format!("{err:?} {err}").contains(SECRET_KEY));
    }
}

#[test]
fn stripe_account_is_cheap_to_clone_and_share() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<StripeClient>();
    let c = StripeClient::new(StripeConfig::new(SECRET_KEY)).unwrap();
    let provider: std::sync::Arc<dyn PaymentProvider> = std::sync::Arc::new(c.clone());
    drop(provider);
}
