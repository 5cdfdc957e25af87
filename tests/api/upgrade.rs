//! Upgrading a database written by the release before the extension points: jobs queued
//! under the old kinds still deliver, and the provider routing table is backfilled from
//! the tenants' Stripe accounts (append-only migration).

use chrono::Utc;
use entities::{plugin_config, tenant};
use graph::tenant_plugins::service::aad;
use migration::MigratorTrait;
use plugins::secrets::KeyRing;
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, EntityTrait, Set};
use serde_json::{Map, json};
use uuid::Uuid;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::stripe::{self, event, field, requests_to};
use crate::helpers::{TEST_ENCRYPTION_KEY, fresh_postgres, spawn_app_with};

const PLATFORM_KEY: &str = "sk_test_upgrade_platform_key";
const PLATFORM_WHSEC: &str = "whsec_upgrade_platform";
const ACCOUNT: &str = "acct_1UpgradeTenant";

/// The tenant row of the release before (every column it had).
fn old_tenant(id: Uuid) -> tenant::ActiveModel {
    let at = Utc::now();
    tenant::ActiveModel {
        id: Set(id),
        name: Set("Before Upgrade".into()),
        slug: Set(format!("before-{}", &id.simple().to_string()[..8])),
        timezone: Set("America/New_York".into()),
        currency: Set("USD".into()),
        plan: Set("STARTER".into()),
        status: Set(entities::TenantStatus::Active),
        slot_interval_minutes: Set(15),
        min_notice_minutes: Set(0),
        horizon_days: Set(365),
        cancellation_notice_hours: Set(0),
        assignment_policy: Set("LEAST_BUSY".into()),
        travel_detour_factor: Set(1.3),
        travel_speed_kmh: Set(40.0),
        deposit_policy: Set("NONE".into()),
        deposit_value: Set(0),
        stripe_account_id: Set(Some(ACCOUNT.into())),
        stripe_charges_enabled: Set(true),
        stripe_payouts_enabled: Set(true),
        stripe_details_submitted: Set(true),
        stripe_account_event_at: Set(0),
        billing_customer_id: Set(None),
        billing_subscription_id: Set(None),
        trial_ends_at: Set(None),
        billing_event_at: Set(0),
        created_at: Set(at),
    }
}

#[tokio::test]
async fn jobs_queued_before_the_upgrade_still_deliver_and_routes_are_backfilled() {
    servicegraph::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let (url, owner) = match std::env::var("TEST_DATABASE_URL") {
        Ok(u) if u.starts_with("postgres") => {
            let (app, owner) = fresh_postgres(&u).await;
            (app, Some(owner))
        }
        _ => (
            format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display()),
            None,
        ),
    };
    // The database as the previous release left it: migrated through the payments
    // migration, a connected tenant with the stripe plugin, one refund queued.
    let conn = Database::connect(owner.as_deref().unwrap_or(&url))
        .await
        .unwrap();
    migration::Migrator::up(&conn, Some(3)).await.unwrap();
    let t = Uuid::now_v7();
    old_tenant(t).insert(&conn).await.unwrap();
    let keys = KeyRing::parse(TEST_ENCRYPTION_KEY).unwrap();
    let secrets = Map::from_iter([(
        "webhookSigningSecret".to_string(),
        json!("whsec_upgrade_tenant"),
    )]);
    let sealed = keys.seal_json(&secrets, &aad(t, "stripe")).unwrap();
    let at = Utc::now();
    plugin_config::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(t),
        plugin_id: Set("stripe".into()),
        enabled: Set(true),
        config: Set("{}".into()),
        secrets_ciphertext: Set(Some(sealed.ciphertext)),
        secrets_key_id: Set(Some(sealed.key_id)),
        secret_hints: Set(r#"{"webhookSigningSecret":"nant"}"#.into()),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&conn)
    .await
    .unwrap();
    let queued = Uuid::now_v7();
    let payload = json!({"refund_id": Uuid::now_v7(), "payment_id": Uuid::now_v7(),
        "payment_intent": "pi_before_upgrade", "amount_cents": 1250});
    let insert = Query::insert()
        .into_table(Alias::new("outbox_messages"))
        .columns(
            [
                "id",
                "tenant_id",
                "kind",
                "payload",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
                "updated_at",
            ]
            .map(Alias::new),
        )
        .values_panic([
            queued.into(),
            t.into(),
            "stripe.refund".into(),
            payload.to_string().into(),
            "PENDING".into(),
            0i32.into(),
            at.into(),
            at.into(),
            at.into(),
        ])
        .to_owned();
    conn.execute(&insert).await.unwrap();
    conn.close().await.unwrap();

    // The new release starts on it (and migrates).
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("Stripe-Account", ACCOUNT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "re_before_upgrade", "object": "refund", "amount": 1250,
            "currency": "usd", "payment_intent": "pi_before_upgrade", "status": "succeeded"
        })))
        .mount(&mock)
        .await;
    let mut opts = stripe::platform(&mock, PLATFORM_KEY, |s| {
        s.stripe.webhook_secrets = vec![servicegraph::settings::Secret::new(PLATFORM_WHSEC)];
    });
    opts.database = Some((url, owner));
    let app = spawn_app_with(opts).await;
    let mut delivered = Vec::new();
    for _ in 0..100 {
        delivered = requests_to(&mock, "/v1/refunds").await;
        if !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(delivered.len(), 1, "the queued refund was not delivered");
    assert_eq!(
        stripe::header(&delivered[0], "idempotency-key"),
        Some(queued.to_string().as_str())
    );
    assert_eq!(field(&delivered[0], "amount").as_deref(), Some("1250"));

    // The routing table knows the tenant's Connect account: a platform event for it
    // reaches the tenant.
    assert_eq!(
        graph::routes::tenant_by_route(&app.state.db, "stripe_account", ACCOUNT)
            .await
            .unwrap(),
        Some(t)
    );
    let body = event(
        "evt_upgrade_acct",
        "account.updated",
        Utc::now().timestamp(),
        Some(ACCOUNT),
        json!({"id": ACCOUNT, "object": "account", "charges_enabled": false,
               "payouts_enabled": true, "details_submitted": true}),
    );
    let (status, reply) =
        stripe::post_signed(&app, "/webhooks/platform/stripe", &body, PLATFORM_WHSEC).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply, json!({"received": true}));
    let tx = app.state.db.read(t).await.unwrap();
    let row = tenant::Entity::find_by_id(t)
        .one(&*tx)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert!(!row.stripe_charges_enabled);
}
