//! Payments end to end against a local mock Stripe (wiremock) that checks what we send
//! (paths, form fields, `Stripe-Account`, `Idempotency-Key`) and answers with Stripe's
//! documented JSON shapes; webhooks signed with Stripe's scheme.

use std::sync::Arc;
use std::time::Duration;

use chrono::Weekday;
use integrations::stripe::webhook::sign;
use serde_json::{Value, json};
use servicegraph::settings::Secret;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::stripe::{self, event, field, post_webhook, requests_to};
use crate::helpers::{
    Options, Owner, TestApp, every_day, local, next_weekday, slug, spawn_app_with,
};

const PLATFORM_KEY: &str = "sk_test_platform_key_do_not_leak_1234";
const PLATFORM_WHSEC: &str = "whsec_platform_signing_secret_1";
const PLATFORM_WHSEC_OLD: &str = "whsec_platform_signing_secret_0";
const TENANT_WHSEC: &str = "whsec_tenant_signing_secret_abcd";
const PRICE_PRO: &str = "price_pro_monthly";

fn settings_for(mock: &MockServer) -> Options {
    stripe::platform(mock, PLATFORM_KEY, |s| {
        s.stripe.webhook_secrets =
            vec![Secret::new(PLATFORM_WHSEC), Secret::new(PLATFORM_WHSEC_OLD)];
        s.stripe.prices = [
            Some("price_starter_monthly".into()),
            Some(PRICE_PRO.into()),
            Some("price_teams_monthly".into()),
        ];
    })
}

/// A tenant connected to Stripe (onboarding through the mock, `account.updated`
/// enabling charges), with the `stripe` plugin configured, a 25 % deposit policy, a
/// 50.00 service and a staff member working every day.
struct Shop {
    owner: Owner,
    account: String,
    service: String,
    staff: String,
}

async fn platform_event(app: &TestApp, body: &str) -> (u16, Value) {
    stripe::post_signed(app, "/webhooks/platform/stripe", body, PLATFORM_WHSEC).await
}

async fn tenant_event(app: &TestApp, shop_slug: &str, body: &str) -> (u16, Value) {
    stripe::post_signed(
        app,
        &format!("/webhooks/{shop_slug}/stripe"),
        body,
        TENANT_WHSEC,
    )
    .await
}

async fn open_shop(app: &TestApp, mock: &MockServer) -> Shop {
    let owner = app.sign_up(&slug("pay")).await;
    let account = format!("acct_{}", uuid::Uuid::new_v4().simple());
    stripe::mount_accounts(mock, &account).await;
    let url = app
        .gql(
            Some(&owner.token),
            "mutation { startStripeOnboarding { url } }",
            json!({}),
        )
        .await["startStripeOnboarding"]["url"]
        .as_str()
        .expect("onboarding url")
        .to_string();
    assert!(url.starts_with("https://connect.stripe.com/"), "{url}");
    let cfg = app
        .gql(
            Some(&owner.token),
            "mutation($input: ConfigurePluginInput!) { configurePlugin(input: $input) { plugin { id enabled } userErrors { field code message } } }",
            json!({"input": {"pluginId": "stripe", "config": {"webhookSigningSecret": TENANT_WHSEC}}}),
        )
        .await;
    assert_eq!(cfg["configurePlugin"]["userErrors"], json!([]), "{cfg}");
    let body = event(
        &format!("evt_acct_{}", uuid::Uuid::new_v4().simple()),
        "account.updated",
        chrono::Utc::now().timestamp(),
        Some(&account),
        json!({"id": account, "object": "account", "charges_enabled": true, "payouts_enabled": true, "details_submitted": true}),
    );
    let (status, _) = platform_event(app, &body).await;
    assert_eq!(status, 200);
    let service = app.create_service(&owner.token, 60).await;
    let staff = app
        .create_staff(&owner.token, "Pat", &every_day("08:00", "18:00"))
        .await;
    let set = app
        .gql(
            Some(&owner.token),
            "mutation($input: SetDepositPolicyInput!) { setDepositPolicy(input: $input) { ok userErrors { code } } }",
            json!({"input": {"policy": "PERCENT", "value": 2500}}),
        )
        .await;
    assert_eq!(set["setDepositPolicy"]["ok"], json!(true), "{set}");
    Shop {
        owner,
        account,
        service,
        staff,
    }
}

const PUBLIC_BOOK: &str = "mutation($input: PublicCreateBookingInput!) { publicCreateBooking(input: $input) { booking { id status depositCents checkoutUrl } userErrors { field code message } } }";

const BOOKING: &str = "query($id: ID!) { booking(id: $id) { id status cancellationReason depositExpiresAt money { priceCents paidCents refundedCents balanceCents } payments { id kind method status amountCents refundedCents applicationFeeCents checkoutUrl checkoutSessionId paymentIntentId failureCode refunds { amountCents status } } } }";

async fn booking(app: &TestApp, token: &str, id: &str) -> Value {
    app.gql(Some(token), BOOKING, json!({"id": id})).await["booking"].clone()
}

async fn public_book(app: &TestApp, shop: &Shop, day_offset: i64, time: &str) -> Value {
    let day = next_weekday(Weekday::Wed, day_offset);
    let starts = local(chrono_tz::America::New_York, day, time);
    app.gql(
        None,
        PUBLIC_BOOK,
        json!({"input": {"tenantSlug": shop.owner.slug, "serviceId": shop.service, "staffMemberId": shop.staff, "startsAt": starts, "customer": {"name": "Dana", "phone": "+12025550143", "email": "dana@example.com"}}}),
    )
    .await["publicCreateBooking"]
        .clone()
}

/// Polls `check` on the booking until it holds (the outbox worker runs in the
/// background); panics with the last state after ~20 s.
async fn eventually(app: &TestApp, token: &str, id: &str, check: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = booking(app, token, id).await;
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition not reached; booking: {last}");
}

/// `checkout.session.completed` of a deposit on the shop's connected account (the
/// `account` a connected account's events carry).
fn checkout_completed(
    shop: &Shop,
    id: &str,
    created: i64,
    session: &str,
    payment_id: &str,
    booking_id: &str,
) -> String {
    checkout_completed_on(
        id,
        created,
        Some(&shop.account),
        session,
        payment_id,
        booking_id,
    )
}

fn checkout_completed_on(
    id: &str,
    created: i64,
    account: Option<&str>,
    session: &str,
    payment_id: &str,
    booking_id: &str,
) -> String {
    event(
        id,
        "checkout.session.completed",
        created,
        account,
        json!({"id": session, "object": "checkout.session", "mode": "payment", "status": "complete",
               "payment_status": "paid", "customer": "cus_saved_1", "payment_intent": "pi_deposit_1",
               "metadata": {"payment_id": payment_id, "booking_id": booking_id}}),
    )
}

/// Taking a deposit checks the tenant's payment provider inside the booking's write
/// transaction; on a cold provider cache that check loads the plugin configuration
/// through the same transaction, never through a second connection. With a pool of one
/// connection a second acquisition would wait for the first until the acquire timeout,
/// and the booking would go through without its deposit.
#[tokio::test]
async fn a_deposit_is_collected_on_a_cold_provider_cache_with_a_pool_of_one() {
    let mock = MockServer::start().await;
    let app = spawn_app_with(stripe::platform(&mock, PLATFORM_KEY, |s| {
        s.stripe.webhook_secrets = vec![Secret::new(PLATFORM_WHSEC)];
        s.database.max_connections = 1;
        s.database.acquire_timeout = Duration::from_secs(3);
    }))
    .await;
    stripe::mount_checkout(&mock).await;
    let shop = open_shop(&app, &mock).await;
    let tenant: uuid::Uuid = shop.owner.tenant_id.parse().unwrap();
    app.state.registry.invalidate(tenant);
    assert!(!app.state.registry.is_cached(tenant));
    let p = public_book(&app, &shop, 3, "10:00").await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["booking"]["status"], json!("PENDING"), "{p}");
    assert_eq!(p["booking"]["depositCents"], json!(1250), "{p}");
    assert!(p["booking"]["checkoutUrl"].as_str().is_some(), "{p}");
    assert!(app.state.registry.is_cached(tenant));
}

#[tokio::test]
async fn deposit_balance_and_refund_end_to_end() {
    let mock = MockServer::start().await;
    let app = spawn_app_with(settings_for(&mock)).await;
    stripe::mount_checkout(&mock).await;
    let shop = open_shop(&app, &mock).await;
    let tok = shop.owner.token.clone();

    // Onboarding sent a Standard account creation with an idempotency key, platform-level.
    let acct_req = &requests_to(&mock, "/v1/accounts").await[0];
    assert_eq!(field(acct_req, "type").as_deref(), Some("standard"));
    assert!(stripe::header(acct_req, "idempotency-key").is_some());
    assert_eq!(stripe::header(acct_req, "stripe-account"), None);
    assert_eq!(
        stripe::header(acct_req, "authorization"),
        Some(format!("Bearer {PLATFORM_KEY}").as_str())
    );
    let settings = app
        .gql(
            Some(&tok),
            "{ paymentSettings { stripeAccountId chargesEnabled depositPolicy depositValue } }",
            json!({}),
        )
        .await;
    assert_eq!(settings["paymentSettings"]["chargesEnabled"], json!(true));
    assert_eq!(
        settings["paymentSettings"]["stripeAccountId"],
        json!(shop.account)
    );

    // Public booking: a 25 % deposit of 50.00 is due → PENDING with a Checkout URL.
    let p = public_book(&app, &shop, 3, "10:00").await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let b = &p["booking"];
    assert_eq!(b["status"], json!("PENDING"));
    assert_eq!(b["depositCents"], json!(1250));
    let url = b["checkoutUrl"].as_str().expect("checkout url");
    assert!(
        url.starts_with("https://checkout.stripe.com/c/pay/cs_test_"),
        "{url}"
    );
    let booking_id = b["id"].as_str().unwrap().to_string();

    let reqs = requests_to(&mock, "/v1/checkout/sessions").await;
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        stripe::header(r, "stripe-account"),
        Some(shop.account.as_str())
    );
    let idem = stripe::header(r, "idempotency-key").expect("idempotency key");
    assert!(
        uuid::Uuid::try_parse(idem).is_ok(),
        "outbox id as key: {idem}"
    );
    assert_eq!(field(r, "mode").as_deref(), Some("payment"));
    assert_eq!(
        field(r, "line_items[0][price_data][unit_amount]").as_deref(),
        Some("1250")
    );
    assert_eq!(
        field(r, "line_items[0][price_data][currency]").as_deref(),
        Some("usd")
    );
    assert_eq!(
        field(r, "payment_intent_data[application_fee_amount]").as_deref(),
        Some("25")
    );
    assert_eq!(
        field(r, "payment_intent_data[setup_future_usage]").as_deref(),
        Some("off_session")
    );
    assert_eq!(
        field(r, "customer_email").as_deref(),
        Some("dana@example.com")
    );
    assert_eq!(
        field(r, "metadata[booking_id]").as_deref(),
        Some(booking_id.as_str())
    );

    let view = booking(&app, &tok, &booking_id).await;
    let deposit = view["payments"][0].clone();
    assert_eq!(deposit["status"], json!("PENDING"));
    assert!(view["depositExpiresAt"].is_string());
    let payment_id = deposit["id"].as_str().unwrap().to_string();
    let session = deposit["checkoutSessionId"].as_str().unwrap().to_string();

    // The slot is held while the customer pays.
    let again = public_book(&app, &shop, 3, "10:00").await;
    assert_eq!(again["userErrors"][0]["code"], json!("SLOT_UNAVAILABLE"));

    // Paid: the booking is confirmed, the payment recorded.
    let now = chrono::Utc::now().timestamp();
    let (s, _) = tenant_event(
        &app,
        &shop.owner.slug,
        &checkout_completed(&shop, "evt_cs_1", now, &session, &payment_id, &booking_id),
    )
    .await;
    assert_eq!(s, 200);
    let pi_ok = event(
        "evt_pi_dep_1",
        "payment_intent.succeeded",
        now,
        Some(&shop.account),
        json!({"id": "pi_deposit_1", "object": "payment_intent", "status": "succeeded", "amount": 1250,
               "customer": "cus_saved_1", "payment_method": "pm_saved_1", "metadata": {"payment_id": payment_id}}),
    );
    let (s, _) = tenant_event(&app, &shop.owner.slug, &pi_ok).await;
    assert_eq!(s, 200);
    let view = booking(&app, &tok, &booking_id).await;
    assert_eq!(view["status"], json!("CONFIRMED"));
    assert_eq!(view["depositExpiresAt"], Value::Null);
    assert_eq!(view["payments"][0]["status"], json!("SUCCEEDED"));
    assert_eq!(view["payments"][0]["checkoutUrl"], Value::Null);
    assert_eq!(
        view["money"],
        json!({"priceCents": 5000, "paidCents": 1250, "refundedCents": 0, "balanceCents": 3750})
    );

    // Completion charges the balance off-session to the saved card.
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(header("stripe-account", shop.account.as_str()))
        .respond_with(|req: &Request| {
            ResponseTemplate::new(200).set_body_json(json!({
                "id": "pi_balance_1", "object": "payment_intent", "status": "succeeded",
                "amount": field(req, "amount").and_then(|a| a.parse::<i64>().ok()),
                "amount_received": field(req, "amount").and_then(|a| a.parse::<i64>().ok()),
                "customer": field(req, "customer"), "payment_method": field(req, "payment_method"),
                "latest_charge": "ch_balance_1", "last_payment_error": null
            }))
        })
        .mount(&mock)
        .await;
    for status in ["IN_PROGRESS", "COMPLETED"] {
        let r = app
            .gql(
                Some(&tok),
                "mutation($id: ID!, $s: BookingStatus!) { setBookingStatus(id: $id, status: $s) { booking { status } userErrors { code } } }",
                json!({"id": booking_id, "s": status}),
            )
            .await;
        assert_eq!(
            r["setBookingStatus"]["booking"]["status"],
            json!(status),
            "{r}"
        );
    }
    let view = eventually(&app, &tok, &booking_id, |b| {
        b["money"]["balanceCents"] == json!(0)
    })
    .await;
    let balance = view["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == json!("BALANCE"))
        .unwrap()
        .clone();
    assert_eq!(balance["status"], json!("SUCCEEDED"));
    assert_eq!(balance["amountCents"], json!(3750));
    assert_eq!(balance["applicationFeeCents"], json!(75));
    let pi_reqs = requests_to(&mock, "/v1/payment_intents").await;
    assert_eq!(pi_reqs.len(), 1);
    let r = &pi_reqs[0];
    assert_eq!(field(r, "off_session").as_deref(), Some("true"));
    assert_eq!(field(r, "confirm").as_deref(), Some("true"));
    assert_eq!(field(r, "amount").as_deref(), Some("3750"));
    assert_eq!(field(r, "customer").as_deref(), Some("cus_saved_1"));
    assert_eq!(field(r, "payment_method").as_deref(), Some("pm_saved_1"));
    assert!(stripe::header(r, "idempotency-key").is_some());

    // A partial refund of the deposit, then Stripe's charge.refunded: counted once.
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(|req: &Request| {
            ResponseTemplate::new(200).set_body_json(json!({
                "id": "re_1", "object": "refund", "status": "succeeded",
                "amount": field(req, "amount").and_then(|a| a.parse::<i64>().ok()),
                "payment_intent": field(req, "payment_intent")
            }))
        })
        .mount(&mock)
        .await;
    let refund = app
        .gql(
            Some(&tok),
            "mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { refund { status amountCents } userErrors { code message } } }",
            json!({"input": {"paymentId": payment_id, "amountCents": 1000, "reason": "goodwill"}}),
        )
        .await;
    assert_eq!(
        refund["refundPayment"]["refund"]["status"],
        json!("PENDING"),
        "{refund}"
    );
    let too_much = app
        .gql(
            Some(&tok),
            "mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { refund { status } userErrors { code } } }",
            json!({"input": {"paymentId": payment_id, "amountCents": 300}}),
        )
        .await;
    assert_eq!(
        too_much["refundPayment"]["userErrors"][0]["code"],
        json!("AMOUNT_EXCEEDS_REFUNDABLE")
    );
    let view = eventually(&app, &tok, &booking_id, |b| {
        b["money"]["refundedCents"] == json!(1000)
    })
    .await;
    assert_eq!(view["money"]["balanceCents"], json!(1000));
    let rr = requests_to(&mock, "/v1/refunds").await;
    assert_eq!(rr.len(), 1);
    assert_eq!(
        field(&rr[0], "payment_intent").as_deref(),
        Some("pi_deposit_1")
    );
    assert_eq!(field(&rr[0], "amount").as_deref(), Some("1000"));
    let refunded = event(
        "evt_ch_ref_1",
        "charge.refunded",
        now + 5,
        Some(&shop.account),
        json!({"id": "ch_dep_1", "object": "charge", "payment_intent": "pi_deposit_1", "amount": 1250, "amount_refunded": 1000, "refunded": false}),
    );
    let (s, _) = tenant_event(&app, &shop.owner.slug, &refunded).await;
    assert_eq!(s, 200);
    let view = booking(&app, &tok, &booking_id).await;
    assert_eq!(
        view["money"],
        json!({"priceCents": 5000, "paidCents": 5000, "refundedCents": 1000, "balanceCents": 1000})
    );

    // A manual payment settles the rest; more than the balance is refused.
    let over = app
        .gql(
            Some(&tok),
            "mutation($input: RecordPaymentInput!) { recordPayment(input: $input) { payment { id } userErrors { code } } }",
            json!({"input": {"bookingId": booking_id, "amountCents": 1001, "method": "CASH"}}),
        )
        .await;
    assert_eq!(
        over["recordPayment"]["userErrors"][0]["code"],
        json!("AMOUNT_EXCEEDS_BALANCE")
    );
    let cash = app
        .gql(
            Some(&tok),
            "mutation($input: RecordPaymentInput!) { recordPayment(input: $input) { payment { status method } userErrors { code } } }",
            json!({"input": {"bookingId": booking_id, "amountCents": 1000, "method": "CASH", "note": "paid at the door"}}),
        )
        .await;
    assert_eq!(
        cash["recordPayment"]["payment"],
        json!({"status": "SUCCEEDED", "method": "CASH"})
    );
    let view = booking(&app, &tok, &booking_id).await;
    assert_eq!(view["money"]["balanceCents"], json!(0));
}

#[tokio::test]
async fn webhook_signatures_are_checked_before_anything_else() {
    let mock = MockServer::start().await;
    let app = spawn_app_with(settings_for(&mock)).await;
    stripe::mount_checkout(&mock).await;
    let shop = open_shop(&app, &mock).await;
    let p = public_book(&app, &shop, 4, "11:00").await;
    let booking_id = p["booking"]["id"].as_str().unwrap().to_string();
    let view = booking(&app, &shop.owner.token, &booking_id).await;
    let payment_id = view["payments"][0]["id"].as_str().unwrap().to_string();
    let session = view["payments"][0]["checkoutSessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let now = chrono::Utc::now().timestamp();
    let body = checkout_completed(&shop, "evt_sig_1", now, &session, &payment_id, &booking_id);
    let route = format!("/webhooks/{}/stripe", shop.owner.slug);

    let mut tampered = body.clone().into_bytes();
    let i = tampered.iter().position(|c| *c == b'p').unwrap();
    tampered[i] = b'q';
    let tampered = String::from_utf8(tampered).unwrap();
    let cases = [
        (
            "one byte changed",
            tampered.clone(),
            Some(sign(body.as_bytes(), TENANT_WHSEC, now)),
        ),
        (
            "stale timestamp",
            body.clone(),
            Some(sign(body.as_bytes(), TENANT_WHSEC, now - 301)),
        ),
        ("missing header", body.clone(), None),
        ("garbled header", body.clone(), Some("v1=abc,t=x".into())),
        (
            "wrong secret",
            body.clone(),
            Some(sign(body.as_bytes(), "whsec_someone_else", now)),
        ),
    ];
    for (what, payload, signature) in cases {
        let (status, resp) = post_webhook(&app, &route, &payload, signature).await;
        assert_eq!(status, 400, "{what}: {resp}");
        assert!(
            !resp.to_string().contains(TENANT_WHSEC),
            "{what}: secret echoed"
        );
        let v = booking(&app, &shop.owner.token, &booking_id).await;
        assert_eq!(v["status"], json!("PENDING"), "{what} had an effect");
    }
    // Rotation: a header with an old and a new v1 is accepted; a platform endpoint
    // configured with two secrets accepts either.
    let t = now;
    let old = sign(body.as_bytes(), "whsec_retired_secret", t);
    let new = sign(body.as_bytes(), TENANT_WHSEC, t);
    let both = format!(
        "{old},{}",
        new.split(',').find(|p| p.starts_with("v1=")).unwrap()
    );
    let (status, _) = post_webhook(&app, &route, &body, Some(both)).await;
    assert_eq!(status, 200);
    assert_eq!(
        booking(&app, &shop.owner.token, &booking_id).await["status"],
        json!("CONFIRMED")
    );
    for (i, secret) in [PLATFORM_WHSEC, PLATFORM_WHSEC_OLD].into_iter().enumerate() {
        let e = event(
            &format!("evt_rot_{i}"),
            "ping",
            now,
            None,
            json!({"id": "x"}),
        );
        let (status, _) = post_webhook(
            &app,
            "/webhooks/platform/stripe",
            &e,
            Some(sign(e.as_bytes(), secret, now)),
        )
        .await;
        assert_eq!(status, 200);
    }
    // Unknown tenant / plugin.
    let (status, _) = post_webhook(
        &app,
        "/webhooks/no-such-shop/stripe",
        &body,
        Some(new.clone()),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post_webhook(
        &app,
        &format!("/webhooks/{}/paypal", shop.owner.slug),
        &body,
        Some(new),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_same_event_ten_times_concurrently_has_one_effect() {
    let mock = MockServer::start().await;
    let app = spawn_app_with(settings_for(&mock)).await;
    stripe::mount_checkout(&mock).await;
    let shop = open_shop(&app, &mock).await;
    let p = public_book(&app, &shop, 5, "09:00").await;
    let booking_id = p["booking"]["id"].as_str().unwrap().to_string();
    let view = booking(&app, &shop.owner.token, &booking_id).await;
    let payment_id = view["payments"][0]["id"].as_str().unwrap().to_string();
    let session = view["payments"][0]["checkoutSessionId"]
        .as_str()
        .unwrap()
        .to_string();
    // Paid after the booking lapsed: the effect is one refund, however often it arrives.
    let r = app
        .gql(
            Some(&shop.owner.token),
            "mutation($id: ID!) { cancelBooking(id: $id) { booking { status } userErrors { code } } }",
            json!({"id": booking_id}),
        )
        .await;
    assert_eq!(
        r["cancelBooking"]["booking"]["status"],
        json!("CANCELED"),
        "{r}"
    );
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "re_late", "object": "refund", "status": "succeeded", "amount": 1250, "payment_intent": "pi_deposit_1"
        })))
        .mount(&mock)
        .await;
    // The Connect event reaches both the tenant's endpoint (ten times at once) and the
    // platform's endpoint: one effect.
    let body = checkout_completed_on(
        "evt_dup_1",
        chrono::Utc::now().timestamp(),
        Some(&shop.account),
        &session,
        &payment_id,
        &booking_id,
    );
    let sends = (0..10).map(|_| tenant_event(&app, &shop.owner.slug, &body));
    let (results, platform) = tokio::join!(
        futures::future::join_all(sends),
        platform_event(&app, &body)
    );
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
    assert_eq!(platform.0, 200, "{platform:?}");
    let duplicates = results
        .iter()
        .chain(std::iter::once(&platform))
        .filter(|(_, b)| b["duplicate"] == json!(true))
        .count();
    assert_eq!(duplicates, 10);
    let view = eventually(&app, &shop.owner.token, &booking_id, |b| {
        b["money"]["refundedCents"] == json!(1250)
    })
    .await;
    assert_eq!(view["status"], json!("CANCELED"));
    assert_eq!(view["payments"][0]["refunds"].as_array().unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(requests_to(&mock, "/v1/refunds").await.len(), 1);
    let notes = app
        .gql(
            Some(&shop.owner.token),
            "{ notifications { kind bookingId } }",
            json!({}),
        )
        .await;
    let refunds = notes["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == json!("PAYMENT_REFUNDED"))
        .count();
    assert_eq!(refunds, 1);
}

fn subscription(
    id: &str,
    status: &str,
    price: &str,
    tenant_id: &str,
    trial_end: Option<i64>,
) -> Value {
    json!({"id": id, "object": "subscription", "status": status, "customer": "cus_platform_1",
           "trial_end": trial_end, "metadata": {"tenant_id": tenant_id},
           "items": {"object": "list", "data": [{"id": "si_1", "object": "subscription_item", "price": {"id": price, "object": "price"}}]}})
}

async fn billing_state(app: &TestApp, token: &str) -> Value {
    app.gql(
        Some(token),
        "{ paymentSettings { plan billingStatus } }",
        json!({}),
    )
    .await["paymentSettings"]
        .clone()
}

#[tokio::test]
async fn billing_events_in_any_order_reach_the_same_state_and_past_due_stops_bookings() {
    let mock = MockServer::start().await;
    let app = spawn_app_with(settings_for(&mock)).await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_sub_1", "object": "checkout.session", "mode": "subscription", "status": "open",
            "url": "https://checkout.stripe.com/c/pay/cs_sub_1"
        })))
        .mount(&mock)
        .await;
    let t0 = chrono::Utc::now().timestamp() - 1000;
    let mut end_states = Vec::new();
    for order in [[0usize, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]] {
        let owner = app.sign_up(&slug("bill")).await;
        let url = app
            .gql(
                Some(&owner.token),
                "mutation { startSubscriptionCheckout(plan: PRO) { url } }",
                json!({}),
            )
            .await["startSubscriptionCheckout"]["url"]
            .clone();
        assert_eq!(url, json!("https://checkout.stripe.com/c/pay/cs_sub_1"));
        let tid = &owner.tenant_id;
        let sub = format!("sub_{}", &tid[..8]);
        let events = [
            event(
                &format!("evt_a_{tid}"),
                "customer.subscription.created",
                t0,
                None,
                subscription(&sub, "trialing", PRICE_PRO, tid, Some(t0 + 14 * 86400)),
            ),
            event(
                &format!("evt_b_{tid}"),
                "customer.subscription.updated",
                t0 + 10,
                None,
                subscription(&sub, "active", PRICE_PRO, tid, None),
            ),
            event(
                &format!("evt_c_{tid}"),
                "invoice.payment_failed",
                t0 + 20,
                None,
                json!({"id": "in_1", "object": "invoice", "customer": "cus_platform_1", "subscription": sub, "metadata": {"tenant_id": tid}}),
            ),
            event(
                &format!("evt_d_{tid}"),
                "customer.subscription.updated",
                t0 + 30,
                None,
                subscription(&sub, "active", PRICE_PRO, tid, None),
            ),
        ];
        for i in order {
            let (s, _) = platform_event(&app, &events[i]).await;
            assert_eq!(s, 200);
        }
        end_states.push(billing_state(&app, &owner.token).await);
    }
    assert!(
        end_states
            .iter()
            .all(|s| *s == json!({"plan": "PRO", "billingStatus": "ACTIVE"})),
        "{end_states:?}"
    );

    // PAST_DUE: reads work, new bookings do not.
    let mock2 = MockServer::start().await;
    stripe::mount_checkout(&mock2).await;
    let shop = open_shop(&app, &mock).await;
    let tid = shop.owner.tenant_id.clone();
    let failed = event(
        &format!("evt_pd_{tid}"),
        "invoice.payment_failed",
        chrono::Utc::now().timestamp(),
        None,
        json!({"id": "in_2", "object": "invoice", "customer": "cus_x", "metadata": {"tenant_id": tid}}),
    );
    let (s, _) = platform_event(&app, &failed).await;
    assert_eq!(s, 200);
    assert_eq!(
        billing_state(&app, &shop.owner.token).await["billingStatus"],
        json!("PAST_DUE")
    );
    let p = public_book(&app, &shop, 6, "10:00").await;
    assert_eq!(
        p["userErrors"][0]["code"],
        json!("TENANT_NOT_ACCEPTING_BOOKINGS"),
        "{p}"
    );
    let services = app
        .gql(
            Some(&shop.owner.token),
            "{ services { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(services["services"]["totalCount"], json!(1));
}

async fn completed_with_saved_card(app: &TestApp, shop: &Shop, day: i64) -> String {
    let p = public_book(app, shop, day, "14:00").await;
    let booking_id = p["booking"]["id"].as_str().unwrap().to_string();
    let view = booking(app, &shop.owner.token, &booking_id).await;
    let payment_id = view["payments"][0]["id"].as_str().unwrap().to_string();
    let session = view["payments"][0]["checkoutSessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let now = chrono::Utc::now().timestamp();
    let evt = format!("evt_{}", uuid::Uuid::new_v4().simple());
    tenant_event(
        app,
        &shop.owner.slug,
        &checkout_completed(shop, &evt, now, &session, &payment_id, &booking_id),
    )
    .await;
    let pi = event(
        &format!("evt_{}", uuid::Uuid::new_v4().simple()),
        "payment_intent.succeeded",
        now,
        Some(&shop.account),
        json!({"id": "pi_deposit_1", "object": "payment_intent", "status": "succeeded", "customer": "cus_saved_1",
               "payment_method": "pm_saved_1", "metadata": {"payment_id": payment_id}}),
    );
    tenant_event(app, &shop.owner.slug, &pi).await;
    for status in ["IN_PROGRESS", "COMPLETED"] {
        app.gql(
            Some(&shop.owner.token),
            "mutation($id: ID!, $s: BookingStatus!) { setBookingStatus(id: $id, status: $s) { booking { status } } }",
            json!({"id": booking_id, "s": status}),
        )
        .await;
    }
    booking_id
}

fn pi_succeeded(req: &Request) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "pi_balance_ok", "object": "payment_intent", "status": "succeeded",
        "amount": field(req, "amount").and_then(|a| a.parse::<i64>().ok()),
        "amount_received": field(req, "amount").and_then(|a| a.parse::<i64>().ok()),
        "customer": "cus_saved_1", "payment_method": "pm_saved_1"
    }))
}

#[tokio::test]
async fn a_failing_provider_is_retried_until_it_recovers_and_charged_once() {
    let mock = MockServer::start().await;
    let app = spawn_app_with(settings_for(&mock)).await;
    stripe::mount_checkout(&mock).await;
    let shop = open_shop(&app, &mock).await;
    // First a timeout (the client gives up after 2 s), then two 500s, then success.
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"error": {"type": "api_error", "message": "Something went wrong"}}),
        ))
        .up_to_n_times(2)
        .with_priority(2)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(pi_succeeded)
        .with_priority(3)
        .mount(&mock)
        .await;
    let booking_id = completed_with_saved_card(&app, &shop, 7).await;
    let view = eventually(&app, &shop.owner.token, &booking_id, |b| {
        b["money"]["balanceCents"] == json!(0)
    })
    .await;
    let balances: Vec<&Value> = view["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == json!("BALANCE"))
        .collect();
    assert_eq!(balances.len(), 1);
    assert_eq!(balances[0]["status"], json!("SUCCEEDED"));
    let reqs = requests_to(&mock, "/v1/payment_intents").await;
    assert_eq!(reqs.len(), 4, "timeout, 500, 500, success");
    let keys: std::collections::HashSet<_> = reqs
        .iter()
        .filter_map(|r| stripe::header(r, "idempotency-key"))
        .collect();
    assert_eq!(keys.len(), 1, "every retry is the same request to Stripe");
}

#[tokio::test]
async fn a_server_killed_mid_delivery_resumes_after_restart_without_a_second_charge() {
    let mock = MockServer::start().await;
    let opts = settings_for(&mock);
    let app = spawn_app_with(opts.clone()).await;
    stripe::mount_checkout(&mock).await;
    let shop = open_shop(&app, &mock).await;
    // Stripe is slow to answer the first attempt; the server dies while waiting.
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(|req: &Request| pi_succeeded(req).set_delay(Duration::from_millis(1500)))
        .mount(&mock)
        .await;
    let booking_id = completed_with_saved_card(&app, &shop, 8).await;
    for _ in 0..100 {
        if !requests_to(&mock, "/v1/payment_intents").await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(requests_to(&mock, "/v1/payment_intents").await.len(), 1);
    let database = (app.settings.database.url.clone(), app.owner_url.clone());
    let token = shop.owner.token.clone();
    let _dir = app.stop();
    // Restart on the same database; the claim lapses and the worker redelivers.
    let app2 = spawn_app_with(Options {
        database: Some(database),
        ..opts
    })
    .await;
    let view = eventually(&app2, &token, &booking_id, |b| {
        b["payments"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["kind"] == json!("BALANCE") && p["status"] == json!("SUCCEEDED"))
        })
    })
    .await;
    let balances = view["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == json!("BALANCE"))
        .count();
    assert_eq!(balances, 1, "{view}");
    assert_eq!(view["money"]["balanceCents"], json!(0), "{view}");
    let reqs = requests_to(&mock, "/v1/payment_intents").await;
    assert_eq!(reqs.len(), 2, "the interrupted attempt and the redelivery");
    let keys: std::collections::HashSet<_> = reqs
        .iter()
        .filter_map(|r| stripe::header(r, "idempotency-key"))
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "Stripe sees one request twice, so charges once"
    );
}

#[tokio::test]
async fn a_declined_balance_charge_fails_clearly_and_notifies_the_operator() {
    let mock = MockServer::start().await;
    let app = spawn_app_with(settings_for(&mock)).await;
    stripe::mount_checkout(&mock).await;
    let shop = open_shop(&app, &mock).await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({"error": {
            "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
            "payment_intent": {"id": "pi_declined", "object": "payment_intent", "status": "requires_payment_method",
                "amount": 3750, "amount_received": 0, "customer": "cus_saved_1", "payment_method": null,
                "last_payment_error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}}
        }})))
        .mount(&mock)
        .await;
    let booking_id = completed_with_saved_card(&app, &shop, 9).await;
    let view = eventually(&app, &shop.owner.token, &booking_id, |b| {
        b["payments"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["kind"] == json!("BALANCE") && p["status"] == json!("FAILED"))
        })
    })
    .await;
    let failed = view["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == json!("BALANCE"))
        .unwrap()
        .clone();
    assert_eq!(failed["failureCode"], json!("insufficient_funds"));
    assert_eq!(failed["paymentIntentId"], json!("pi_declined"));
    assert_eq!(view["money"]["balanceCents"], json!(3750));
    let notes = app
        .gql(
            Some(&shop.owner.token),
            "{ notifications(unreadOnly: true) { id kind bookingId } }",
            json!({}),
        )
        .await;
    let n = notes["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == json!("PAYMENT_FAILED"))
        .expect("notified")
        .clone();
    assert_eq!(n["bookingId"], json!(booking_id));
    // A decline is an answer, not a delivery failure: one request, no retries.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(requests_to(&mock, "/v1/payment_intents").await.len(), 1);
    app.gql(
        Some(&shop.owner.token),
        "mutation($id: ID!) { markNotificationRead(id: $id) { readAt } }",
        json!({"id": n["id"]}),
    )
    .await;
    let unread = app
        .gql(
            Some(&shop.owner.token),
            "{ notifications(unreadOnly: true) { kind } }",
            json!({}),
        )
        .await;
    assert!(
        !unread["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == json!("PAYMENT_FAILED"))
    );

    // The operator sends a payment link for the balance instead. A lapsed link leaves
    // the (completed) booking alone; a new link is paid.
    const LINK: &str = "mutation($id: ID!, $amount: Int) { createPaymentLink(bookingId: $id, amountCents: $amount) { payment { id kind status amountCents checkoutUrl checkoutSessionId } userErrors { code } } }";
    let too_much = app
        .gql(
            Some(&shop.owner.token),
            LINK,
            json!({"id": booking_id, "amount": 3751}),
        )
        .await;
    assert_eq!(
        too_much["createPaymentLink"]["userErrors"][0]["code"],
        json!("AMOUNT_EXCEEDS_BALANCE")
    );
    let link = app
        .gql(Some(&shop.owner.token), LINK, json!({"id": booking_id}))
        .await["createPaymentLink"]["payment"]
        .clone();
    assert_eq!(link["kind"], json!("LINK"));
    assert_eq!(link["amountCents"], json!(3750));
    assert!(
        link["checkoutUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/")
    );
    let session = link["checkoutSessionId"].as_str().unwrap().to_string();
    let link_id = link["id"].as_str().unwrap().to_string();
    let again = app
        .gql(Some(&shop.owner.token), LINK, json!({"id": booking_id}))
        .await["createPaymentLink"]["payment"]["id"]
        .clone();
    assert_eq!(again, json!(link_id), "an open link is reused");
    let expired = event(
        "evt_link_exp",
        "checkout.session.expired",
        chrono::Utc::now().timestamp(),
        Some(&shop.account),
        json!({"id": session, "object": "checkout.session", "status": "expired", "payment_status": "unpaid", "metadata": {"payment_id": link_id}}),
    );
    assert_eq!(tenant_event(&app, &shop.owner.slug, &expired).await.0, 200);
    let view = booking(&app, &shop.owner.token, &booking_id).await;
    assert_eq!(view["status"], json!("COMPLETED"));
    let link2 = app
        .gql(Some(&shop.owner.token), LINK, json!({"id": booking_id}))
        .await["createPaymentLink"]["payment"]
        .clone();
    assert_ne!(link2["id"], json!(link_id));
    let paid = event(
        "evt_link_paid",
        "checkout.session.completed",
        chrono::Utc::now().timestamp(),
        Some(&shop.account),
        json!({"id": link2["checkoutSessionId"], "object": "checkout.session", "mode": "payment",
               "status": "complete", "payment_status": "paid", "customer": "cus_saved_1",
               "payment_intent": "pi_link_2", "metadata": {"payment_id": link2["id"], "booking_id": booking_id}}),
    );
    assert_eq!(tenant_event(&app, &shop.owner.slug, &paid).await.0, 200);
    let view = booking(&app, &shop.owner.token, &booking_id).await;
    assert_eq!(view["money"]["balanceCents"], json!(0), "{view}");
    assert_eq!(view["status"], json!("COMPLETED"));
    let nothing = app
        .gql(Some(&shop.owner.token), LINK, json!({"id": booking_id}))
        .await;
    assert_eq!(
        nothing["createPaymentLink"]["userErrors"][0]["code"],
        json!("NOTHING_TO_PAY")
    );
}

#[tokio::test]
async fn an_unpaid_deposit_releases_the_slot_on_expiry() {
    let mock = MockServer::start().await;
    let app = spawn_app_with(settings_for(&mock)).await;
    stripe::mount_checkout(&mock).await;
    let shop = open_shop(&app, &mock).await;
    // Stripe says the session expired.
    let p = public_book(&app, &shop, 10, "10:00").await;
    let first = p["booking"]["id"].as_str().unwrap().to_string();
    let view = booking(&app, &shop.owner.token, &first).await;
    let session = view["payments"][0]["checkoutSessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let payment_id = view["payments"][0]["id"].as_str().unwrap().to_string();
    let expired = event(
        "evt_exp_1",
        "checkout.session.expired",
        chrono::Utc::now().timestamp(),
        Some(&shop.account),
        json!({"id": session, "object": "checkout.session", "status": "expired", "payment_status": "unpaid", "metadata": {"payment_id": payment_id}}),
    );
    let (s, _) = tenant_event(&app, &shop.owner.slug, &expired).await;
    assert_eq!(s, 200);
    let view = booking(&app, &shop.owner.token, &first).await;
    assert_eq!(view["status"], json!("CANCELED"));
    assert_eq!(view["cancellationReason"], json!("deposit not paid"));
    assert_eq!(view["payments"][0]["status"], json!("EXPIRED"));
    // The slot is free again; this time the deadline passes without any event: the
    // worker's sweep releases it.
    let p = public_book(&app, &shop, 10, "10:00").await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let second = p["booking"]["id"].as_str().unwrap().to_string();
    let tenant = uuid::Uuid::parse_str(&shop.owner.tenant_id).unwrap();
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, prelude::Expr};
        let tx = app.state.db.write(tenant).await.unwrap();
        entities::booking::Entity::update_many()
            .col_expr(
                entities::booking::Column::DepositExpiresAt,
                Expr::value(Some(chrono::Utc::now() - chrono::Duration::minutes(1))),
            )
            .filter(entities::booking::Column::TenantId.eq(tenant))
            .filter(entities::booking::Column::Id.eq(uuid::Uuid::parse_str(&second).unwrap()))
            .exec(&*tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let view = eventually(&app, &shop.owner.token, &second, |b| {
        b["status"] == json!("CANCELED")
    })
    .await;
    assert_eq!(view["cancellationReason"], json!("deposit not paid"));
    assert_eq!(view["payments"][0]["status"], json!("EXPIRED"));
    let p = public_book(&app, &shop, 10, "10:00").await;
    assert_eq!(p["booking"]["status"], json!("PENDING"), "{p}");
}

#[tokio::test]
async fn deposits_without_stripe_are_unavailable_and_manual_payments_work() {
    let app = spawn_app_with(Options::default()).await;
    let owner = app.sign_up(&slug("cash")).await;
    let service = app.create_service(&owner.token, 60).await;
    let staff = app
        .create_staff(&owner.token, "Lee", &every_day("08:00", "18:00"))
        .await;
    let customer = app
        .create_customer(&owner.token, "Kim", "+12025550177")
        .await;
    let day = next_weekday(Weekday::Thu, 3);
    let b = app
        .book(
            &owner.token,
            &service,
            &staff,
            &customer,
            &local(chrono_tz::America::New_York, day, "10:00"),
        )
        .await;
    let id = b["booking"]["id"].as_str().unwrap().to_string();
    let code = app
        .gql_error_code(
            Some(&owner.token),
            "mutation($id: ID!) { createDepositCheckout(bookingId: $id) { payment { id } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(code, "FEATURE_UNAVAILABLE");
    let code = app
        .gql_error_code(
            Some(&owner.token),
            "mutation { startStripeOnboarding { url } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "FEATURE_UNAVAILABLE");
    // Public bookings are confirmed straight away when no card payments are set up.
    let p = app
        .public_book(
            &owner.slug,
            &service,
            &local(chrono_tz::America::New_York, day, "13:00"),
            Some(&staff),
            "+12025550178",
        )
        .await;
    assert_eq!(p["booking"]["status"], json!("CONFIRMED"), "{p}");
    let pay = app
        .gql(
            Some(&owner.token),
            "mutation($input: RecordPaymentInput!) { recordPayment(input: $input) { payment { id status } userErrors { code field } } }",
            json!({"input": {"bookingId": id, "amountCents": 2000, "method": "CHECK", "note": "check #1042"}}),
        )
        .await;
    let pid = pay["recordPayment"]["payment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bad = app
        .gql(
            Some(&owner.token),
            "mutation($input: RecordPaymentInput!) { recordPayment(input: $input) { payment { id } userErrors { code field } } }",
            json!({"input": {"bookingId": id, "amountCents": 0, "method": "CASH"}}),
        )
        .await;
    assert_eq!(
        bad["recordPayment"]["userErrors"][0]["code"],
        json!("INVALID_INPUT")
    );
    let r = app
        .gql(
            Some(&owner.token),
            "mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { refund { status amountCents } userErrors { code } } }",
            json!({"input": {"paymentId": pid}}),
        )
        .await;
    assert_eq!(
        r["refundPayment"]["refund"],
        json!({"status": "SUCCEEDED", "amountCents": 2000})
    );
    let view = booking(&app, &owner.token, &id).await;
    assert_eq!(
        view["money"],
        json!({"priceCents": 5000, "paidCents": 2000, "refundedCents": 2000, "balanceCents": 5000})
    );
}

/// Collects formatted log lines of the test's thread.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_reach_responses_logs_or_error_messages() {
    // The test runtime is single-threaded, so a thread-local subscriber sees every log
    // line the server writes while this test runs.
    let logs = Captured::default();
    let writer = logs.clone();
    // Events only (debug and above): span ids created here would travel to the SQLite
    // worker threads, whose (global) subscriber does not know them, and closing one
    // there panics the worker (tracing-subscriber's registry), leaving its connection
    // dead and the next request on it waiting until its timeout.
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::filter_fn(|m| {
            m.is_event() && *m.level() <= tracing::Level::DEBUG
        }))
        .with(tracing_subscriber::fmt::layer().with_writer(move || writer.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);

    let mock = MockServer::start().await;
    let app = spawn_app_with(settings_for(&mock)).await;
    // Stripe refuses and (as a hostile or buggy server might) echoes the key back.
    let echo = json!({"error": {"type": "invalid_request_error", "code": "api_key_invalid",
        "message": format!("Invalid API Key provided: {PLATFORM_KEY} {TENANT_WHSEC}")}});
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(401).set_body_json(echo.clone()))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(ResponseTemplate::new(401).set_body_json(echo))
        .mount(&mock)
        .await;
    let shop = open_shop(&app, &mock).await;
    let mut responses = Vec::new();

    // A deposit whose Checkout creation is refused: dead-lettered, payment failed,
    // operator notified — with Stripe's code, not its text.
    let p = public_book(&app, &shop, 11, "10:00").await;
    responses.push(p.to_string());
    let id = p["booking"]["id"].as_str().unwrap().to_string();
    let view = booking(&app, &shop.owner.token, &id).await;
    assert_eq!(view["payments"][0]["status"], json!("FAILED"), "{view}");
    assert_eq!(view["payments"][0]["failureCode"], json!("api_key_invalid"));
    responses.push(view.to_string());
    let (_, b) = app
        .post(
            Some(&shop.owner.token),
            "{ notifications { kind message } plugins { id config secrets { name isSet last4 } } }",
            json!({}),
        )
        .await;
    assert!(b.to_string().contains("PAYMENT_FAILED"), "{b}");
    responses.push(b.to_string());
    let (_, b) = app
        .post(
            Some(&shop.owner.token),
            "mutation { testPlugin(pluginId: \"stripe\") { ok message } }",
            json!({}),
        )
        .await;
    assert_eq!(b["data"]["testPlugin"]["ok"], json!(false), "{b}");
    responses.push(b.to_string());
    // Refused webhooks.
    let body = event(
        "evt_secret_1",
        "ping",
        chrono::Utc::now().timestamp(),
        None,
        json!({}),
    );
    let (s, r) = post_webhook(
        &app,
        &format!("/webhooks/{}/stripe", shop.owner.slug),
        &body,
        Some(sign(body.as_bytes(), "whsec_wrong", 1)),
    )
    .await;
    assert_eq!(s, 400);
    responses.push(r.to_string());

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("webhook signature refused"),
        "logs were captured"
    );
    assert!(logs.contains("dead-lettered"), "logs were captured");
    for secret in [
        PLATFORM_KEY,
        TENANT_WHSEC,
        PLATFORM_WHSEC,
        PLATFORM_WHSEC_OLD,
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
        for r in &responses {
            assert!(!r.contains(secret), "a secret reached a response: {r}");
        }
    }
}

#[tokio::test]
async fn a_trial_that_ended_without_a_subscription_stops_new_bookings() {
    let mock = MockServer::start().await;
    let app = spawn_app_with(settings_for(&mock)).await;
    stripe::mount_checkout(&mock).await;
    let shop = open_shop(&app, &mock).await;
    let s = app
        .gql(
            Some(&shop.owner.token),
            "{ paymentSettings { billingStatus trialEndsAt } }",
            json!({}),
        )
        .await["paymentSettings"]
        .clone();
    assert_eq!(s["billingStatus"], json!("TRIAL"));
    let ends: chrono::DateTime<chrono::Utc> = s["trialEndsAt"].as_str().unwrap().parse().unwrap();
    let days = (ends - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((13.9..=14.1).contains(&days), "{days}");
    assert_eq!(
        public_book(&app, &shop, 12, "09:00").await["userErrors"],
        json!([])
    );

    let tenant = uuid::Uuid::parse_str(&shop.owner.tenant_id).unwrap();
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, prelude::Expr};
        let tx = app.state.db.write(tenant).await.unwrap();
        entities::tenant::Entity::update_many()
            .col_expr(
                entities::tenant::Column::TrialEndsAt,
                Expr::value(Some(chrono::Utc::now() - chrono::Duration::hours(1))),
            )
            .filter(entities::tenant::Column::Id.eq(tenant))
            .exec(&*tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let p = public_book(&app, &shop, 12, "11:00").await;
    assert_eq!(
        p["userErrors"][0]["code"],
        json!("TENANT_NOT_ACCEPTING_BOOKINGS"),
        "{p}"
    );
    // Subscribing ends the restriction.
    let sub = event(
        "evt_trial_sub",
        "customer.subscription.created",
        chrono::Utc::now().timestamp(),
        None,
        subscription(
            "sub_trial",
            "active",
            PRICE_PRO,
            &shop.owner.tenant_id,
            None,
        ),
    );
    assert_eq!(platform_event(&app, &sub).await.0, 200);
    let p = public_book(&app, &shop, 12, "11:00").await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
}

/// Issue 15, finding 1: the tenant's own endpoint is verified with a secret the owner
/// types in, so it must not be believed for billing, account state, or another account's
/// payments; events dated in the future are refused everywhere.
#[tokio::test]
async fn a_tenant_cannot_forge_billing_account_state_or_foreign_payments() {
    let mock = MockServer::start().await;
    let app = spawn_app_with(settings_for(&mock)).await;
    stripe::mount_checkout(&mock).await;
    let shop = open_shop(&app, &mock).await;
    let now = chrono::Utc::now().timestamp();
    let settings = || async {
        app.gql(
            Some(&shop.owner.token),
            "{ paymentSettings { plan billingStatus chargesEnabled payoutsEnabled } }",
            json!({}),
        )
        .await["paymentSettings"]
            .clone()
    };
    let before = settings().await;
    assert_eq!(before["chargesEnabled"], true, "{before}");

    // Billing, signed with the tenant's own secret: ignored, whatever `account` says.
    let sub = |id: &str, account: Option<&str>| {
        event(
            id,
            "customer.subscription.updated",
            now,
            account,
            json!({"id": "sub_forged", "object": "subscription", "status": "active",
                   "customer": "cus_forged", "metadata": {"plan": "TEAMS", "tenant_id": shop.owner.tenant_id}}),
        )
    };
    for (i, account) in [None, Some(shop.account.as_str())].into_iter().enumerate() {
        let (s, body) = tenant_event(
            &app,
            &shop.owner.slug,
            &sub(&format!("evt_forge_{i}"), account),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body, json!({"received": true, "ignored": true}));
    }
    // A subscription on the tenant's own connected account reaches the platform endpoint
    // too (Connect): it is the tenant's business, not the platform's billing.
    let (s, body) = platform_event(&app, &sub("evt_forge_connect", Some(&shop.account))).await;
    assert_eq!((s, body["ignored"].clone()), (200, json!(true)), "{body}");
    // Account state and an invoice failure at the tenant endpoint: ignored.
    let acct = event(
        "evt_forge_acct",
        "account.updated",
        now,
        Some(&shop.account),
        json!({"id": shop.account, "object": "account", "charges_enabled": false, "payouts_enabled": false, "details_submitted": true}),
    );
    assert_eq!(
        tenant_event(&app, &shop.owner.slug, &acct).await.1["ignored"],
        true
    );
    let inv = event(
        "evt_forge_inv",
        "invoice.payment_failed",
        now,
        None,
        json!({"id": "in_1", "object": "invoice", "customer": "cus_forged"}),
    );
    assert_eq!(
        tenant_event(&app, &shop.owner.slug, &inv).await.1["ignored"],
        true
    );
    assert_eq!(settings().await, before);

    // A deposit "paid" by an event from another account (or none) does not confirm it.
    let p = public_book(&app, &shop, 4, "10:00").await;
    let booking_id = p["booking"]["id"].as_str().unwrap().to_string();
    let view = booking(&app, &shop.owner.token, &booking_id).await;
    assert_eq!(view["status"], "PENDING", "{view}");
    let session = view["payments"][0]["checkoutSessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let payment_id = view["payments"][0]["id"].as_str().unwrap().to_string();
    for (i, account) in [None, Some("acct_SomebodyElse")].into_iter().enumerate() {
        let forged = checkout_completed_on(
            &format!("evt_forge_cs_{i}"),
            now,
            account,
            &session,
            &payment_id,
            &booking_id,
        );
        assert_eq!(
            tenant_event(&app, &shop.owner.slug, &forged).await.1["ignored"],
            true
        );
    }
    let view = booking(&app, &shop.owner.token, &booking_id).await;
    assert_eq!(view["status"], "PENDING", "{view}");
    assert_eq!(view["payments"][0]["status"], "PENDING", "{view}");

    // Dated an hour ahead (it would freeze state, older events being ignored): refused at
    // both endpoints, nothing recorded — the same event id is applied once it is honest.
    let future = event(
        "evt_future",
        "account.updated",
        now + 3600,
        Some(&shop.account),
        json!({"id": shop.account, "object": "account", "charges_enabled": false, "payouts_enabled": true, "details_submitted": true}),
    );
    let (s, _) = platform_event(&app, &future).await;
    assert_eq!(s, 400);
    let future_paid = checkout_completed_on(
        "evt_future_cs",
        now + 3600,
        Some(&shop.account),
        &session,
        &payment_id,
        &booking_id,
    );
    assert_eq!(
        tenant_event(&app, &shop.owner.slug, &future_paid).await.0,
        400
    );
    assert_eq!(settings().await, before);
    assert_eq!(
        booking(&app, &shop.owner.token, &booking_id).await["status"],
        "PENDING"
    );
    let honest = checkout_completed_on(
        "evt_future_cs",
        now,
        Some(&shop.account),
        &session,
        &payment_id,
        &booking_id,
    );
    let (s, body) = tenant_event(&app, &shop.owner.slug, &honest).await;
    assert_eq!((s, body), (200, json!({"received": true})));
    assert_eq!(
        booking(&app, &shop.owner.token, &booking_id).await["status"],
        "CONFIRMED"
    );
}
