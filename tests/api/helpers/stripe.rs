//! A local Stripe for the API tests: a wiremock server that answers Stripe's documented
//! request and response shapes (Connect accounts and account links, Checkout Sessions),
//! request inspection (form fields, headers), and signed webhook delivery. Payments and
//! plugin tests share it; a new provider's tests get a sibling module.

use std::sync::Arc;

use integrations::stripe::webhook::sign;
use serde_json::{Value, json};
use servicegraph::settings::Secret;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::{Options, TestApp};

/// Form fields of a request (Stripe requests are `application/x-www-form-urlencoded`).
pub fn form(req: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

/// One form field (`metadata[booking_id]`, …).
pub fn field(req: &Request, name: &str) -> Option<String> {
    form(req)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// One header's value.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Requests the mock received on `path`, in order.
pub async fn requests_to(mock: &MockServer, p: &str) -> Vec<Request> {
    mock.received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

/// Options of a server whose platform Stripe key is `key` and whose Stripe API is `mock`;
/// `adjust` changes anything else (webhook secrets, prices).
pub fn platform(
    mock: &MockServer,
    key: &'static str,
    adjust: impl Fn(&mut servicegraph::Settings) + Send + Sync + 'static,
) -> Options {
    let uri = mock.uri();
    Options {
        settings: Some(Arc::new(move |s: &mut servicegraph::Settings| {
            s.stripe.secret_key = Some(Secret::new(key));
            s.stripe.api_base = uri.clone();
            adjust(s);
        })),
        ..Options::default()
    }
}

/// `POST /v1/accounts` answers a new Standard account `account` (charges not enabled
/// yet); `POST /v1/account_links` answers an onboarding link for it.
pub async fn mount_accounts(mock: &MockServer, account: &str) {
    Mock::given(method("POST"))
        .and(path("/v1/accounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": account, "object": "account", "type": "standard",
            "charges_enabled": false, "payouts_enabled": false, "details_submitted": false
        })))
        .mount(mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/account_links"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "account_link", "created": 1_700_000_000,
            "expires_at": 1_700_000_300, "url": format!("https://connect.stripe.com/setup/s/{account}")
        })))
        .mount(mock)
        .await;
}

/// `POST /v1/checkout/sessions` answers an open session whose id derives from the
/// request's `metadata[payment_id]`, echoing amount, expiry and metadata.
pub async fn mount_checkout(mock: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(|req: &Request| {
            let booking = field(req, "metadata[booking_id]").unwrap_or_default();
            let payment = field(req, "metadata[payment_id]").unwrap_or_default();
            let id = format!("cs_test_{}", payment.replace('-', ""));
            ResponseTemplate::new(200).set_body_json(json!({
                "id": id, "object": "checkout.session", "mode": field(req, "mode"),
                "status": "open", "payment_status": "unpaid", "customer": null,
                "payment_intent": null, "url": format!("https://checkout.stripe.com/c/pay/{id}"),
                "amount_total": field(req, "line_items[0][price_data][unit_amount]").and_then(|v| v.parse::<i64>().ok()),
                "expires_at": field(req, "expires_at").and_then(|v| v.parse::<i64>().ok()),
                "metadata": {"booking_id": booking, "payment_id": field(req, "metadata[payment_id]")}
            }))
        })
        .mount(mock)
        .await;
}

/// A Stripe event envelope (`object: "event"`) around `object`, as JSON text.
pub fn event(id: &str, kind: &str, created: i64, account: Option<&str>, object: Value) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2025-09-30.clover", "created": created,
        "type": kind, "livemode": false, "account": account, "pending_webhooks": 1,
        "data": {"object": object}
    })
    .to_string()
}

/// POSTs `body` to `route` with `Stripe-Signature: signature` (none when `None`);
/// returns `(status, JSON body or null)`.
pub async fn post_webhook(
    app: &TestApp,
    route: &str,
    body: &str,
    signature: Option<String>,
) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}{route}", app.address))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(s) = signature {
        req = req.header("Stripe-Signature", s);
    }
    let resp = req.send().await.expect("webhook");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// POSTs `body` to `route` signed now with `secret`.
pub async fn post_signed(app: &TestApp, route: &str, body: &str, secret: &str) -> (u16, Value) {
    let sig = sign(body.as_bytes(), secret, chrono::Utc::now().timestamp());
    post_webhook(app, route, body, Some(sig)).await
}
