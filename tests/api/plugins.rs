//! The plugin platform: the catalog in GraphQL, storing configurations with write-only
//! secrets sealed at rest, key rotation, the per-tenant provider registry (Stripe
//! through the platform key on the tenant's connected account) and its invalidation
//! across server instances.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Weekday;
use entities::{plugin_config, tenant};
use graph::tenant_plugins::service::aad;
use integrations::stripe::{StripeClient, StripeConfig};
use plugins::registry::{LoadedPlugin, TenantPluginState};
use plugins::secrets::{KeyRing, Sealed, SecretsError};
use sea_orm::prelude::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Map, Value, json};
use servicegraph::Settings;
use servicegraph::settings::Secret;
use tracing_subscriber::layer::SubscriberExt;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::stripe::{self, header, requests_to};
use crate::helpers::{
    Options, Owner, TEST_ENCRYPTION_KEY, TestApp, every_day, local, next_weekday, slug, spawn_app,
    spawn_app_with,
};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

/// The platform's Stripe secret key in these tests (a made-up test value).
const PLATFORM_KEY: &str = "sk_test_51PlatformKeyThatMustNeverLeakAbCdEf0123";
/// A tenant's webhook signing secret (a made-up test value).
const WHSEC: &str = "whsec_TenantSigningSecretNeverShown9876";
/// Another tenant's webhook signing secret.
const WHSEC_B: &str = "whsec_OtherTenantSigningSecretXyZw4321";
const ACCOUNT: &str = "acct_1Nv0FGQ9RKHgCVdK";

const PLUGINS_QUERY: &str = "query { plugins { id capability displayName builtIn enabled configured config configSchema fields { name secret required prefix } secrets { name isSet last4 } updatedAt } }";
const CONFIGURE: &str = "mutation($input: ConfigurePluginInput!) { configurePlugin(input: $input) { plugin { id enabled config secrets { name isSet last4 } } userErrors { field code message } } }";
const DISABLE: &str = "mutation($id: ID!) { disablePlugin(pluginId: $id) { plugin { id enabled } userErrors { code } } }";
const TEST_PLUGIN: &str = "mutation($id: ID!) { testPlugin(pluginId: $id) { ok message } }";
const DEPOSIT: &str = "mutation($id: ID!) { createDepositCheckout(bookingId: $id) { payment { id status amountCents checkoutUrl } userErrors { code } } }";

fn tenant_id(owner: &Owner) -> Uuid {
    Uuid::parse_str(&owner.tenant_id).expect("tenant id is a UUID")
}

fn last4(s: &str) -> String {
    s[s.len() - 4..].to_string()
}

/// A server whose platform Stripe key is [`PLATFORM_KEY`] and whose Stripe API is `server`.
async fn spawn_with_stripe(server: &MockServer) -> TestApp {
    spawn_app_with(stripe::platform(server, PLATFORM_KEY, |_| {})).await
}

/// `configurePlugin` (`enabled` omitted when `None`); returns the whole response body.
async fn configure_raw(
    app: &TestApp,
    token: &str,
    plugin_id: &str,
    config: Value,
    enabled: Option<bool>,
) -> Value {
    let mut input = json!({"pluginId": plugin_id, "config": config});
    if let Some(e) = enabled {
        input["enabled"] = json!(e);
    }
    let (status, body) = app
        .post(Some(token), CONFIGURE, json!({"input": input}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "errors: {body}");
    body
}

/// `configurePlugin`; returns the payload.
async fn configure(app: &TestApp, token: &str, plugin_id: &str, config: Value) -> Value {
    configure_raw(app, token, plugin_id, config, None).await["data"]["configurePlugin"].clone()
}

/// `configurePlugin` that must succeed; returns the plugin.
async fn configure_ok(app: &TestApp, token: &str, plugin_id: &str, config: Value) -> Value {
    let p = configure(app, token, plugin_id, config).await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    p["plugin"].clone()
}

/// The `plugins` query; returns the whole response body.
async fn plugins_raw(app: &TestApp, token: &str) -> Value {
    let (status, body) = app.post(Some(token), PLUGINS_QUERY, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "errors: {body}");
    body
}

/// One plugin of the `plugins` query.
async fn plugin(app: &TestApp, token: &str, id: &str) -> Value {
    plugins_raw(app, token).await["data"]["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no plugin {id}"))
        .clone()
}

async fn test_plugin(app: &TestApp, token: &str, id: &str) -> Value {
    app.gql(Some(token), TEST_PLUGIN, json!({"id": id})).await["testPlugin"].clone()
}

/// A connection that sees every tenant's rows: the owner role on PostgreSQL (the runtime
/// role is subject to row-level security), the database file on SQLite.
async fn admin_db(app: &TestApp) -> DatabaseConnection {
    let url = app
        .owner_url
        .as_deref()
        .filter(|_| app.postgres)
        .unwrap_or(&app.settings.database.url);
    servicegraph::db_setup::connect(url, 2)
        .await
        .expect("connect as owner")
}

/// Whether the tenant's `stripe` webhook verifier accepts a request signed now with
/// `secret` (so the decrypted secret is the one configured).
fn accepts_signed_by(providers: &plugins::TenantProviders, secret: &str) -> bool {
    let Some(v) = providers.inbound("stripe") else {
        return false;
    };
    let body = br#"{"id":"evt_probe"}"#;
    let now = chrono::Utc::now().timestamp();
    let headers = vec![(
        "stripe-signature".to_string(),
        integrations::stripe::webhook::sign(body, secret, now),
    )];
    v.verify(&plugins::InboundHttp {
        url: "http://app.test/webhooks/t/stripe",
        headers: &headers,
        body,
        now,
    })
    .is_ok()
}

async fn stored(conn: &DatabaseConnection, tenant: Uuid, plugin_id: &str) -> plugin_config::Model {
    plugin_config::Entity::find()
        .filter(plugin_config::Column::TenantId.eq(tenant))
        .filter(plugin_config::Column::PluginId.eq(plugin_id))
        .one(conn)
        .await
        .expect("query plugin_configs")
        .expect("a plugin_configs row")
}

fn sealed_of(row: &plugin_config::Model) -> Sealed {
    Sealed {
        key_id: row.secrets_key_id.clone().expect("secrets_key_id"),
        ciphertext: row.secrets_ciphertext.clone().expect("secrets_ciphertext"),
    }
}

async fn set_tenant_stripe(
    app: &TestApp,
    tenant: Uuid,
    account: Option<&str>,
    charges_enabled: bool,
) {
    let conn = admin_db(app).await;
    let r = tenant::Entity::update_many()
        .col_expr(
            tenant::Column::StripeAccountId,
            Expr::value(account.map(str::to_string)),
        )
        .col_expr(
            tenant::Column::StripeChargesEnabled,
            Expr::value(charges_enabled),
        )
        .filter(tenant::Column::Id.eq(tenant))
        .exec(&conn)
        .await
        .expect("update tenant");
    assert_eq!(r.rows_affected, 1);
    // The registry caches what it read from the tenant row.
    app.state.registry.invalidate(tenant);
}

fn balance_json() -> Value {
    json!({
        "object": "balance",
        "available": [{"amount": 666_670, "currency": "usd", "source_types": {"card": 666_670}}],
        "connect_reserved": [{"amount": 0, "currency": "usd"}],
        "livemode": false,
        "pending": [{"amount": 61_414, "currency": "usd", "source_types": {"card": 61_414}}]
    })
}

#[tokio::test]
async fn catalog_lists_plugins_to_owners_only() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("plugcat")).await;

    let body = plugins_raw(&app, &owner.token).await;
    let list = body["data"]["plugins"].as_array().expect("plugins");
    let ids: Vec<&str> = list.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "stripe",
            "manual",
            "twilio",
            "sms_log",
            "smtp",
            "email_log",
            "mapbox",
            "builtin_routing",
            "retell",
            "openai"
        ]
    );

    let stripe = &list[0];
    assert_eq!(stripe["capability"], "PAYMENTS");
    assert_eq!(stripe["displayName"], "Stripe");
    assert_eq!(stripe["builtIn"], false);
    assert_eq!(stripe["enabled"], false);
    assert_eq!(stripe["configured"], false);
    assert_eq!(stripe["config"], json!({}));
    assert_eq!(stripe["updatedAt"], Value::Null);
    assert_eq!(
        stripe["fields"],
        json!([
            {"name": "webhookSigningSecret", "secret": true, "required": true, "prefix": "whsec_"},
            {"name": "statementDescriptorSuffix", "secret": false, "required": false, "prefix": null},
        ])
    );
    assert_eq!(
        stripe["secrets"],
        json!([{"name": "webhookSigningSecret", "isSet": false, "last4": null}])
    );
    let schema = &stripe["configSchema"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["required"], json!(["webhookSigningSecret"]));
    let props = &schema["properties"];
    assert_eq!(props["webhookSigningSecret"]["writeOnly"], true);
    assert_eq!(props["webhookSigningSecret"]["pattern"], "^whsec_");
    assert!(
        props["statementDescriptorSuffix"]
            .get("writeOnly")
            .is_none()
    );
    assert_eq!(props["statementDescriptorSuffix"]["maxLength"], 22);

    for (id, capability) in [
        ("manual", "PAYMENTS"),
        ("sms_log", "SMS"),
        ("email_log", "EMAIL"),
        ("builtin_routing", "ROUTING"),
    ] {
        let p = list.iter().find(|p| p["id"] == id).unwrap();
        assert_eq!(p["capability"], capability, "{p}");
        assert_eq!(p["builtIn"], true, "{p}");
        // Built-ins are always on and take no configuration.
        assert_eq!(p["enabled"], true, "{p}");
        assert_eq!(p["configured"], false, "{p}");
        assert_eq!(p["fields"], json!([]), "{p}");
        assert_eq!(p["secrets"], json!([]), "{p}");
        assert_eq!(p["configSchema"]["properties"], json!({}), "{p}");
    }

    // Managers run the business but not its credentials.
    let (_, manager) = app
        .create_user(&owner, "manager@plugcat.example.com", "MANAGER")
        .await;
    assert_eq!(
        app.gql_error_code(Some(&manager), PLUGINS_QUERY, json!({}))
            .await,
        "FORBIDDEN"
    );
    let input = json!({"input": {"pluginId": "stripe", "config": {"webhookSigningSecret": WHSEC}}});
    assert_eq!(
        app.gql_error_code(Some(&manager), CONFIGURE, input.clone())
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(Some(&manager), DISABLE, json!({"id": "stripe"}))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(Some(&manager), TEST_PLUGIN, json!({"id": "stripe"}))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_error_code(None, PLUGINS_QUERY, json!({})).await,
        "UNAUTHENTICATED"
    );
    // The manager's attempt stored nothing.
    assert_eq!(
        plugin(&app, &owner.token, "stripe").await["configured"],
        false
    );
}

#[tokio::test]
async fn configure_stores_secrets_write_only_and_rejects_bad_input() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("plugcfg")).await;
    let t = &owner.token;
    let mut bodies: Vec<Value> = Vec::new();

    // Invalid input on a tenant without configuration.
    let unknown = configure(&app, t, "nope", json!({"webhookSigningSecret": WHSEC})).await;
    assert_eq!(unknown["plugin"], Value::Null);
    assert_eq!(unknown["userErrors"][0]["code"], "UNKNOWN_PLUGIN");
    assert_eq!(
        unknown["userErrors"][0]["field"],
        json!(["input", "pluginId"])
    );
    bodies.push(unknown);

    let built_in = configure(&app, t, "manual", json!({})).await;
    assert_eq!(built_in["plugin"], Value::Null);
    assert_eq!(built_in["userErrors"][0]["code"], "UNKNOWN_PLUGIN");
    assert_eq!(
        configure(&app, t, "builtin_routing", json!({})).await["userErrors"][0]["code"],
        "UNKNOWN_PLUGIN"
    );

    let missing = configure(
        &app,
        t,
        "stripe",
        json!({"statementDescriptorSuffix": "SPARKLE"}),
    )
    .await;
    assert_eq!(missing["plugin"], Value::Null);
    assert_eq!(
        missing["userErrors"],
        json!([{
            "field": ["input", "config", "webhookSigningSecret"],
            "code": "INVALID_INPUT",
            "message": missing["userErrors"][0]["message"],
        }]),
        "{missing}"
    );

    let wrong_value = "sk_live_PastedTheWrongThing5555";
    let body = configure_raw(
        &app,
        t,
        "stripe",
        json!({"webhookSigningSecret": wrong_value}),
        None,
    )
    .await;
    let wrong = &body["data"]["configurePlugin"];
    assert_eq!(wrong["plugin"], Value::Null);
    assert_eq!(wrong["userErrors"][0]["code"], "INVALID_INPUT");
    assert_eq!(
        wrong["userErrors"][0]["field"],
        json!(["input", "config", "webhookSigningSecret"])
    );
    let message = wrong["userErrors"][0]["message"].as_str().unwrap();
    assert!(message.contains("whsec_"), "{message}");
    assert!(!message.contains(wrong_value), "{message}");
    assert!(!body.to_string().contains(wrong_value), "{body}");

    let extra = configure(
        &app,
        t,
        "stripe",
        json!({"webhookSigningSecret": WHSEC, "apiKey": "sk_test_x"}),
    )
    .await;
    assert_eq!(extra["plugin"], Value::Null);
    assert_eq!(
        extra["userErrors"][0]["field"],
        json!(["input", "config", "apiKey"])
    );
    assert_eq!(extra["userErrors"][0]["code"], "INVALID_INPUT");
    bodies.push(extra);

    let not_object = configure(&app, t, "stripe", json!(WHSEC)).await;
    assert_eq!(not_object["userErrors"][0]["code"], "INVALID_INPUT");
    assert_eq!(
        not_object["userErrors"][0]["field"],
        json!(["input", "config"])
    );
    bodies.push(not_object);

    let too_long = configure(
        &app,
        t,
        "stripe",
        json!({"webhookSigningSecret": WHSEC, "statementDescriptorSuffix": "x".repeat(23)}),
    )
    .await;
    assert_eq!(
        too_long["userErrors"][0]["field"],
        json!(["input", "config", "statementDescriptorSuffix"])
    );
    bodies.push(too_long);

    // None of that stored anything.
    let p = plugin(&app, t, "stripe").await;
    assert_eq!(p["configured"], false, "{p}");
    assert_eq!(p["enabled"], false, "{p}");
    assert_eq!(p["secrets"][0]["isSet"], false, "{p}");

    // A valid configuration is stored and enabled; the secret comes back only as a hint.
    let body = configure_raw(
        &app,
        t,
        "stripe",
        json!({"webhookSigningSecret": WHSEC, "statementDescriptorSuffix": "SPARKLE"}),
        None,
    )
    .await;
    let saved = &body["data"]["configurePlugin"];
    assert_eq!(saved["userErrors"], json!([]), "{saved}");
    assert_eq!(
        saved["plugin"],
        json!({
            "id": "stripe",
            "enabled": true,
            "config": {"statementDescriptorSuffix": "SPARKLE"},
            "secrets": [{"name": "webhookSigningSecret", "isSet": true, "last4": last4(WHSEC)}],
        })
    );
    bodies.push(body);

    let listed = plugins_raw(&app, t).await;
    let p = listed["data"]["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "stripe")
        .unwrap()
        .clone();
    assert_eq!(p["configured"], true);
    assert_eq!(p["enabled"], true);
    assert_eq!(p["config"], json!({"statementDescriptorSuffix": "SPARKLE"}));
    assert_eq!(
        p["secrets"],
        json!([{"name": "webhookSigningSecret", "isSet": true, "last4": "9876"}])
    );
    assert!(p["updatedAt"].is_string(), "{p}");
    bodies.push(listed);

    // Bad input on a configured plugin changes nothing.
    let bad = configure(
        &app,
        t,
        "stripe",
        json!({"webhookSigningSecret": "nope_9999", "statementDescriptorSuffix": "CHANGED"}),
    )
    .await;
    assert_eq!(bad["userErrors"][0]["code"], "INVALID_INPUT");
    assert_eq!(bad["plugin"], Value::Null);
    let cleared = configure(&app, t, "stripe", json!({"webhookSigningSecret": null})).await;
    assert_eq!(cleared["userErrors"][0]["code"], "INVALID_INPUT");
    assert_eq!(
        cleared["userErrors"][0]["field"],
        json!(["input", "config", "webhookSigningSecret"])
    );
    let after = plugin(&app, t, "stripe").await;
    assert_eq!(
        after["config"],
        json!({"statementDescriptorSuffix": "SPARKLE"})
    );
    assert_eq!(after["secrets"], p["secrets"]);
    assert_eq!(after["updatedAt"], p["updatedAt"]);
    let providers = app.state.registry.tenant(tenant_id(&owner)).await.unwrap();
    assert!(accepts_signed_by(&providers, WHSEC));
    assert_eq!(providers.enabled, ["stripe"]);

    // Short secrets are set but show no hint (at most half of a short value is revealed).
    let short = configure_ok(
        &app,
        t,
        "stripe",
        json!({"webhookSigningSecret": "whsec_1"}),
    )
    .await;
    assert_eq!(
        short["secrets"],
        json!([{"name": "webhookSigningSecret", "isSet": true, "last4": null}])
    );

    for b in &bodies {
        assert!(!b.to_string().contains(WHSEC), "secret in a response: {b}");
    }
}

#[tokio::test]
async fn omitted_secret_is_kept_and_null_clears_optional_fields() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("plugmerge")).await;
    let t = &owner.token;
    let id = tenant_id(&owner);

    let first = configure_ok(
        &app,
        t,
        "stripe",
        json!({
            "webhookSigningSecret": WHSEC,
            "statementDescriptorSuffix": " SPARKLE ",
        }),
    )
    .await;
    assert_eq!(
        first["config"],
        json!({"statementDescriptorSuffix": "SPARKLE"})
    );
    let hint = json!([{"name": "webhookSigningSecret", "isSet": true, "last4": "9876"}]);
    assert_eq!(first["secrets"], hint);

    // Omitting the secret keeps it; omitted public fields are kept too.
    let second = configure_ok(&app, t, "stripe", json!({})).await;
    assert_eq!(second["secrets"], hint);
    assert_eq!(
        second["config"],
        json!({"statementDescriptorSuffix": "SPARKLE"})
    );
    // The stored secret itself (not only its hint) is unchanged.
    let providers = app.state.registry.tenant(id).await.unwrap();
    assert!(accepts_signed_by(&providers, WHSEC));

    // `null` (or an empty string) clears an optional public field.
    let third = configure_ok(
        &app,
        t,
        "stripe",
        json!({"statementDescriptorSuffix": "SHINE"}),
    )
    .await;
    assert_eq!(
        third["config"],
        json!({"statementDescriptorSuffix": "SHINE"})
    );
    let fourth = configure_ok(
        &app,
        t,
        "stripe",
        json!({"statementDescriptorSuffix": null}),
    )
    .await;
    assert_eq!(fourth["config"], json!({}));
    assert_eq!(fourth["secrets"], hint);
    configure_ok(
        &app,
        t,
        "stripe",
        json!({"statementDescriptorSuffix": "SHINE"}),
    )
    .await;
    let fifth = configure_ok(&app, t, "stripe", json!({"statementDescriptorSuffix": ""})).await;
    assert_eq!(fifth["config"], json!({}));
    assert_eq!(fifth["secrets"], hint);
    let listed = plugin(&app, t, "stripe").await;
    assert_eq!(listed["config"], json!({}));
    assert_eq!(listed["secrets"], hint);

    // A new value replaces the secret.
    let sixth = configure_ok(&app, t, "stripe", json!({"webhookSigningSecret": WHSEC_B})).await;
    assert_eq!(
        sixth["secrets"],
        json!([{"name": "webhookSigningSecret", "isSet": true, "last4": "4321"}])
    );
    let providers = app.state.registry.tenant(id).await.unwrap();
    assert!(accepts_signed_by(&providers, WHSEC_B));
    assert!(!accepts_signed_by(&providers, WHSEC));

    // `enabled: false` saves without enabling; the secret is still kept.
    let off = configure_raw(&app, t, "stripe", json!({}), Some(false)).await;
    let off = &off["data"]["configurePlugin"];
    assert_eq!(off["userErrors"], json!([]), "{off}");
    assert_eq!(off["plugin"]["enabled"], false);
    assert_eq!(off["plugin"]["secrets"][0]["isSet"], true);
    let providers = app.state.registry.tenant(id).await.unwrap();
    assert!(providers.enabled.is_empty());
    assert!(providers.inbound("stripe").is_none());
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_bound_to_their_row() {
    let app = spawn_app().await;
    let a = app.sign_up(&slug("plugseal-a")).await;
    let b = app.sign_up(&slug("plugseal-b")).await;
    let (a_id, b_id) = (tenant_id(&a), tenant_id(&b));
    configure_ok(
        &app,
        &a.token,
        "stripe",
        json!({"webhookSigningSecret": WHSEC, "statementDescriptorSuffix": "SPARKLE"}),
    )
    .await;
    configure_ok(
        &app,
        &b.token,
        "stripe",
        json!({"webhookSigningSecret": WHSEC_B}),
    )
    .await;

    // Each tenant sees only its own configuration.
    let b_view = plugin(&app, &b.token, "stripe").await;
    assert_eq!(b_view["config"], json!({}));
    assert_eq!(b_view["secrets"][0]["last4"], "4321");

    let conn = admin_db(&app).await;
    let row_a = stored(&conn, a_id, "stripe").await;
    let row_b = stored(&conn, b_id, "stripe").await;
    let test_ring = KeyRing::parse(TEST_ENCRYPTION_KEY).unwrap();
    for (row, secret) in [(&row_a, WHSEC), (&row_b, WHSEC_B)] {
        assert_eq!(row.secrets_key_id.as_deref(), Some(test_ring.primary_id()));
        let ct = row.secrets_ciphertext.as_deref().expect("ciphertext");
        assert!(!ct.contains(secret));
        assert!(!ct.contains(&STANDARD.encode(secret)));
        // Nothing else in the row holds the plaintext either.
        assert!(!format!("{row:?}").contains(secret), "{row:?}");
        assert_eq!(
            serde_json::from_str::<Value>(&row.secret_hints).unwrap(),
            json!({"webhookSigningSecret": last4(secret)})
        );
    }
    assert_eq!(
        serde_json::from_str::<Value>(&row_a.config).unwrap(),
        json!({"statementDescriptorSuffix": "SPARKLE"})
    );

    // The ciphertext opens only with its own row's associated data.
    let sealed_a = sealed_of(&row_a);
    let opened = app
        .state
        .keys
        .open_json(&sealed_a, &aad(a_id, "stripe"))
        .unwrap();
    assert_eq!(
        Value::Object(opened),
        json!({"webhookSigningSecret": WHSEC})
    );
    assert_eq!(
        app.state.keys.open_json(&sealed_a, &aad(b_id, "stripe")),
        Err(SecretsError::Decrypt)
    );
    assert_eq!(
        app.state.keys.open_json(&sealed_a, &aad(a_id, "other")),
        Err(SecretsError::Decrypt)
    );

    // Copy tenant A's ciphertext into tenant B's row: B's providers fail to load instead
    // of handing A's secret to B.
    let copied = plugin_config::Entity::update_many()
        .col_expr(
            plugin_config::Column::SecretsCiphertext,
            Expr::value(row_a.secrets_ciphertext.clone()),
        )
        .col_expr(
            plugin_config::Column::SecretsKeyId,
            Expr::value(row_a.secrets_key_id.clone()),
        )
        .filter(plugin_config::Column::Id.eq(row_b.id))
        .exec(&conn)
        .await
        .unwrap();
    assert_eq!(copied.rows_affected, 1);
    app.state.registry.invalidate(b_id);
    let err = match app.state.registry.tenant(b_id).await {
        Ok(p) => panic!(
            "B's providers loaded (accepting A's signatures: {})",
            accepts_signed_by(&p, WHSEC)
        ),
        Err(e) => e,
    };
    assert!(!err.contains(WHSEC) && !err.contains(WHSEC_B), "{err}");
    assert!(!app.state.registry.is_cached(b_id));
    // Through the API it is an internal error, without detail.
    let (_, body) = app
        .post(Some(&b.token), TEST_PLUGIN, json!({"id": "stripe"}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INTERNAL",
        "{body}"
    );
    assert!(!body.to_string().contains(WHSEC), "{body}");

    // Tenant A is unaffected.
    app.state.registry.invalidate(a_id);
    let providers = app.state.registry.tenant(a_id).await.unwrap();
    assert!(accepts_signed_by(&providers, WHSEC));
}

#[tokio::test]
async fn rotate_keys_reseals_under_the_new_primary_key() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("plugrot")).await;
    let id = tenant_id(&owner);
    configure_ok(
        &app,
        &owner.token,
        "stripe",
        json!({"webhookSigningSecret": WHSEC, "statementDescriptorSuffix": "SPARKLE"}),
    )
    .await;
    let conn = admin_db(&app).await;
    let old_id = KeyRing::parse(TEST_ENCRYPTION_KEY)
        .unwrap()
        .primary_id()
        .to_string();
    let before = stored(&conn, id, "stripe").await;
    assert_eq!(before.secrets_key_id.as_deref(), Some(old_id.as_str()));

    let new_key = STANDARD.encode([0x5au8; 32]);
    let mut settings = app.settings.clone();
    settings.encryption_key = Secret::new(format!("new:{new_key},{TEST_ENCRYPTION_KEY}"));
    if app.postgres {
        // The runtime role cannot see other tenants' rows: refuse rather than rotate
        // nothing and report success.
        let mut runtime_only = settings.clone();
        runtime_only.database.migration_url = None;
        let err = servicegraph::rotate_keys::run(&runtime_only)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("MIGRATION_DATABASE_URL"), "{err}");
    }
    let first = servicegraph::rotate_keys::run(&settings).await.unwrap();
    assert_eq!(first.sealed, 1);
    assert_eq!(first.rotated, 1);
    // Re-running is safe: everything is already under the primary key.
    let second = servicegraph::rotate_keys::run(&settings).await.unwrap();
    assert_eq!(second.sealed, 1);
    assert_eq!(second.rotated, 0);

    let after = stored(&conn, id, "stripe").await;
    assert_eq!(after.secrets_key_id.as_deref(), Some("new"));
    assert_ne!(after.secrets_ciphertext, before.secrets_ciphertext);
    assert!(!after.secrets_ciphertext.as_deref().unwrap().contains(WHSEC));
    // Public fields and hints are untouched.
    assert_eq!(after.config, before.config);
    assert_eq!(after.secret_hints, before.secret_hints);

    // With the old key dropped, the new one alone opens the row (with its AAD).
    let new_only = KeyRing::parse(&format!("new:{new_key}")).unwrap();
    let opened = new_only
        .open_json(&sealed_of(&after), &aad(id, "stripe"))
        .unwrap();
    assert_eq!(
        Value::Object(opened),
        json!({"webhookSigningSecret": WHSEC})
    );
    assert_eq!(
        new_only.open_json(&sealed_of(&before), &aad(id, "stripe")),
        Err(SecretsError::UnknownKey(old_id.clone()))
    );
    // A ring with only the old key no longer opens it.
    let old_only = KeyRing::parse(TEST_ENCRYPTION_KEY).unwrap();
    assert_eq!(
        old_only.open_json(&sealed_of(&after), &aad(id, "stripe")),
        Err(SecretsError::UnknownKey("new".into()))
    );

    // A server started with only the new key reads and keeps the secret.
    let new_only_setting = format!("new:{new_key}");
    let app2 = spawn_app_with(Options {
        database: Some((app.settings.database.url.clone(), app.owner_url.clone())),
        settings: Some(Arc::new(move |s: &mut Settings| {
            s.encryption_key = Secret::new(new_only_setting.clone());
        })),
        ..Options::default()
    })
    .await;
    let providers = app2.state.registry.tenant(id).await.unwrap();
    assert!(accepts_signed_by(&providers, WHSEC));
    let kept = configure_ok(
        &app2,
        &owner.token,
        "stripe",
        json!({"statementDescriptorSuffix": "ROTATED"}),
    )
    .await;
    assert_eq!(kept["secrets"][0]["last4"], "9876");
    assert_eq!(
        stored(&conn, id, "stripe").await.secrets_key_id.as_deref(),
        Some("new")
    );
    app2.state.registry.invalidate(id);
    let providers = app2.state.registry.tenant(id).await.unwrap();
    assert!(accepts_signed_by(&providers, WHSEC));
}

/// Collects formatted log output of the current thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn secrets_stay_out_of_logs_debug_output_and_error_messages() {
    // Stripe refuses the key, quoting it back as it does in its real error messages.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {
                "type": "invalid_request_error",
                "message": format!("Invalid API Key provided: {PLATFORM_KEY} (webhook {WHSEC})"),
            }
        })))
        .mount(&server)
        .await;
    // Logs of this test's thread (the test runtime is single-threaded, so the server's
    // tasks run here too), at every level. Scoped to this thread: nothing global.
    let logs = Captured::default();
    // Events only: span ids created here would travel to the database worker threads,
    // whose (global) subscriber does not know them.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::filter_fn(|m| m.is_event()))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(logs.clone()),
        );
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_with_stripe(&server).await;
    let owner = app.sign_up(&slug("plugleak")).await;
    let id = tenant_id(&owner);
    set_tenant_stripe(&app, id, Some(ACCOUNT), false).await;
    // The secret inline in the query text as well as in variables.
    let inline = format!(
        "mutation {{ configurePlugin(input: {{pluginId: \"stripe\", config: {{webhookSigningSecret: \"{WHSEC}\", statementDescriptorSuffix: \"SPARKLE\"}}}}) {{ plugin {{ id }} userErrors {{ code }} }} }}"
    );
    let (status, body) = app.post(Some(&owner.token), &inline, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["configurePlugin"]["userErrors"],
        json!([]),
        "{body}"
    );
    configure_ok(
        &app,
        &owner.token,
        "stripe",
        json!({"webhookSigningSecret": WHSEC, "statementDescriptorSuffix": "SPARKLE"}),
    )
    .await;

    let (status, body) = app
        .post(Some(&owner.token), TEST_PLUGIN, json!({"id": "stripe"}))
        .await;
    assert_eq!(status, 200);
    let text = body.to_string();
    assert_eq!(body["data"]["testPlugin"]["ok"], false, "{body}");
    let message = body["data"]["testPlugin"]["message"].as_str().unwrap();
    assert!(message.starts_with("Stripe check failed"), "{message}");
    assert!(!text.contains(PLATFORM_KEY), "{text}");
    assert!(!text.contains(WHSEC), "{text}");
    // The call did reach Stripe with the platform key.
    let calls = requests_to(&server, "/v1/balance").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(
        header(&calls[0], "authorization"),
        Some(format!("Bearer {PLATFORM_KEY}").as_str())
    );

    // Debug output of everything that holds a secret.
    let providers = app.state.registry.tenant(id).await.unwrap();
    assert!(accepts_signed_by(&providers, WHSEC));
    let platform = app
        .state
        .registry
        .platform_stripe()
        .expect("platform client");
    let direct = StripeClient::new(StripeConfig {
        base_url: server.uri(),
        secret_key: PLATFORM_KEY.into(),
        timeout: Duration::from_secs(2),
        account: Some(ACCOUNT.into()),
    })
    .unwrap();
    let loaded = LoadedPlugin {
        plugin_id: "stripe".into(),
        public: Map::from_iter([("accountId".to_string(), json!(ACCOUNT))]),
        secrets: Map::from_iter([("webhookSigningSecret".to_string(), json!(WHSEC))]),
    };
    let state = TenantPluginState {
        plugins: vec![loaded.clone()],
        stripe_account_id: Some(ACCOUNT.into()),
        detour_factor: 1.3,
        speed_kmh: 40.0,
        ..TenantPluginState::default()
    };
    let typed: plugins::builtin::stripe::StripeConfig = loaded.config().unwrap();
    let outputs = [
        format!("{loaded:?}"),
        format!("{state:?}"),
        format!("{typed:?}"),
        format!("{:?}", platform.for_account(ACCOUNT)),
        format!("{platform:?}"),
        format!("{direct:?}"),
        format!("{:?}", direct.for_account("acct_Other")),
        format!("{:?}", app.settings),
        format!("{:?}", app.state.keys),
    ];
    for out in &outputs {
        assert!(!out.contains(WHSEC), "{out}");
        assert!(!out.contains(PLATFORM_KEY), "{out}");
        assert!(!out.contains(TEST_ENCRYPTION_KEY), "{out}");
    }
    // They still say what they are about.
    assert!(
        outputs[0].contains("webhookSigningSecret"),
        "{}",
        outputs[0]
    );
    assert!(outputs[3].contains(ACCOUNT), "{}", outputs[3]);

    // The logs saw the failing Stripe call, and no secret.
    let logged = logs.text();
    assert!(logged.contains("stripe returned an error"), "{logged}");
    assert!(!logged.contains(PLATFORM_KEY), "{logged}");
    assert!(!logged.contains(WHSEC), "{logged}");
    assert!(!logged.contains(TEST_ENCRYPTION_KEY), "{logged}");
}

#[tokio::test]
async fn test_plugin_calls_stripe_on_the_connected_account() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(balance_json()))
        .mount(&server)
        .await;
    let app = spawn_with_stripe(&server).await;
    let owner = app.sign_up(&slug("plugtest")).await;
    let t = &owner.token;
    let id = tenant_id(&owner);
    let test_code =
        |plugin: &'static str| app.gql_error_code(Some(t), TEST_PLUGIN, json!({"id": plugin}));

    // Never configured.
    assert_eq!(test_code("stripe").await, "FEATURE_UNAVAILABLE");
    assert_eq!(test_code("nope").await, "NOT_FOUND");
    assert_eq!(
        app.gql_error_code(Some(t), DISABLE, json!({"id": "stripe"}))
            .await,
        "NOT_FOUND"
    );
    let builtin = app.gql(Some(t), DISABLE, json!({"id": "manual"})).await;
    assert_eq!(
        builtin["disablePlugin"],
        json!({"plugin": null, "userErrors": [{"code": "UNKNOWN_PLUGIN"}]})
    );
    assert_eq!(test_plugin(&app, t, "manual").await["ok"], true);
    assert_eq!(test_plugin(&app, t, "builtin_routing").await["ok"], true);

    // Configured but not enabled.
    let off = configure_raw(
        &app,
        t,
        "stripe",
        json!({"webhookSigningSecret": WHSEC, "statementDescriptorSuffix": "SPARKLE"}),
        Some(false),
    )
    .await;
    assert_eq!(off["data"]["configurePlugin"]["plugin"]["enabled"], false);
    assert_eq!(test_code("stripe").await, "FEATURE_UNAVAILABLE");

    // Enabled without a connected account: nothing to call yet.
    configure_ok(&app, t, "stripe", json!({})).await;
    let r = test_plugin(&app, t, "stripe").await;
    assert_eq!(r["ok"], false, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("no Stripe account"),
        "{r}"
    );
    assert!(requests_to(&server, "/v1/balance").await.is_empty());

    // An account id typed into the configuration is refused and never used: an owner
    // cannot point the platform key at another account.
    let typed = configure(&app, t, "stripe", json!({"accountId": "acct_SomebodyElse"})).await;
    assert_eq!(typed["userErrors"][0]["code"], "INVALID_INPUT", "{typed}");
    assert_eq!(
        typed["userErrors"][0]["field"],
        json!(["input", "config", "accountId"])
    );
    let r = test_plugin(&app, t, "stripe").await;
    assert_eq!(r["ok"], false, "{r}");
    assert!(requests_to(&server, "/v1/balance").await.is_empty());

    // With the account onboarding verified: GET /v1/balance on it, through the platform key.
    set_tenant_stripe(&app, id, Some(ACCOUNT), false).await;
    let r = test_plugin(&app, t, "stripe").await;
    assert_eq!(r["ok"], true, "{r}");
    let calls = requests_to(&server, "/v1/balance").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method.as_str(), "GET");
    assert_eq!(header(&calls[0], "stripe-account"), Some(ACCOUNT));
    assert_eq!(
        header(&calls[0], "authorization"),
        Some(format!("Bearer {PLATFORM_KEY}").as_str())
    );
    assert!(header(&calls[0], "stripe-version").is_some());

    // A configuration stored by an older release with an `accountId` does not choose
    // the account either: the verified one is used.
    let conn = admin_db(&app).await;
    plugin_config::Entity::update_many()
        .col_expr(
            plugin_config::Column::Config,
            Expr::value(r#"{"accountId":"acct_SomebodyElse"}"#),
        )
        .filter(plugin_config::Column::TenantId.eq(id))
        .exec(&conn)
        .await
        .unwrap();
    app.state.registry.invalidate(id);
    assert_eq!(test_plugin(&app, t, "stripe").await["ok"], true);
    let onboarded = "acct_1OnboardedTenant";
    set_tenant_stripe(&app, id, Some(onboarded), false).await;
    assert_eq!(test_plugin(&app, t, "stripe").await["ok"], true);
    let calls = requests_to(&server, "/v1/balance").await;
    let accounts: Vec<_> = calls
        .iter()
        .map(|c| header(c, "stripe-account").unwrap_or("-"))
        .collect();
    assert_eq!(accounts, [ACCOUNT, ACCOUNT, onboarded]);

    // Disabling drops the cached providers: the next test finds the plugin off.
    warm_cache(&app, id).await;
    let d = app.gql(Some(t), DISABLE, json!({"id": "stripe"})).await;
    assert_eq!(
        d["disablePlugin"],
        json!({"plugin": {"id": "stripe", "enabled": false}, "userErrors": []})
    );
    assert!(!app.state.registry.is_cached(id));
    assert_eq!(test_code("stripe").await, "FEATURE_UNAVAILABLE");
    assert_eq!(requests_to(&server, "/v1/balance").await.len(), 3);
    let p = plugin(&app, t, "stripe").await;
    assert_eq!(p["enabled"], false);
    assert_eq!(p["configured"], true);
    // The configuration is kept: re-enabling needs no secret.
    let again = configure_ok(&app, t, "stripe", json!({})).await;
    assert_eq!(again["enabled"], true);
    assert_eq!(test_plugin(&app, t, "stripe").await["ok"], true);
}

#[tokio::test]
async fn deposit_checkout_follows_the_stripe_plugin() {
    let server = MockServer::start().await;
    let checkout_url = "https://checkout.stripe.com/c/pay/cs_test_a1PluginDeposit";
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_a1PluginDeposit",
            "object": "checkout.session",
            "amount_total": 5000,
            "currency": "usd",
            "expires_at": 1_900_000_000,
            "mode": "payment",
            "payment_intent": null,
            "payment_status": "unpaid",
            "status": "open",
            "url": checkout_url
        })))
        .mount(&server)
        .await;
    let app = spawn_with_stripe(&server).await;
    let owner = app.sign_up(&slug("plugdep")).await;
    let t = &owner.token;
    let id = tenant_id(&owner);
    let service = app.create_service(t, 60).await;
    let staff = app
        .create_staff(t, "Sam Staff", &every_day("09:00", "17:00"))
        .await;
    let customer = app.create_customer(t, "Cust", "+14155550199").await;
    let booked = app
        .book(
            t,
            &service,
            &staff,
            &customer,
            &local(NY, next_weekday(Weekday::Thu, 2), "10:00"),
        )
        .await;
    assert_eq!(booked["userErrors"], json!([]), "{booked}");
    let booking = booked["booking"]["id"].as_str().unwrap().to_string();
    let deposit_code = || app.gql_error_code(Some(t), DEPOSIT, json!({"id": booking}));

    // No plugin, and no account able to take charges.
    assert_eq!(deposit_code().await, "FEATURE_UNAVAILABLE");
    // Charges enabled on the onboarded account, but no plugin.
    set_tenant_stripe(&app, id, Some(ACCOUNT), true).await;
    assert_eq!(deposit_code().await, "FEATURE_UNAVAILABLE");

    configure_ok(
        &app,
        t,
        "stripe",
        json!({"webhookSigningSecret": WHSEC, "statementDescriptorSuffix": "SPARKLE"}),
    )
    .await;
    let d = app.gql(Some(t), DEPOSIT, json!({"id": booking})).await;
    let p = &d["createDepositCheckout"];
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["payment"]["status"], "PENDING", "{p}");
    assert_eq!(p["payment"]["amountCents"], 5000, "{p}");
    assert_eq!(p["payment"]["checkoutUrl"], checkout_url, "{p}");
    let sessions = requests_to(&server, "/v1/checkout/sessions").await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(header(&sessions[0], "stripe-account"), Some(ACCOUNT));
    assert_eq!(
        header(&sessions[0], "authorization"),
        Some(format!("Bearer {PLATFORM_KEY}").as_str())
    );

    // Disabling the plugin turns payments off at once.
    let d = app.gql(Some(t), DISABLE, json!({"id": "stripe"})).await;
    assert_eq!(d["disablePlugin"]["userErrors"], json!([]));
    assert_eq!(deposit_code().await, "FEATURE_UNAVAILABLE");
    assert_eq!(requests_to(&server, "/v1/checkout/sessions").await.len(), 1);
}

#[tokio::test]
async fn plugin_changes_invalidate_caches_on_other_instances() {
    // Instances share invalidations through Redis; without it there is nothing to test.
    if std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .is_none()
    {
        return;
    }
    let channel = format!("sg-test:{}", Uuid::new_v4());
    let app1 = spawn_app_with(Options {
        redis_channel: Some(channel.clone()),
        ..Options::default()
    })
    .await;
    let app2 = spawn_app_with(Options {
        database: Some((app1.settings.database.url.clone(), app1.owner_url.clone())),
        redis_channel: Some(channel),
        ..Options::default()
    })
    .await;
    let owner = app1.sign_up(&slug("plugbus")).await;
    let id = tenant_id(&owner);
    configure_ok(
        &app1,
        &owner.token,
        "stripe",
        json!({"webhookSigningSecret": WHSEC}),
    )
    .await;

    // Warm instance 2's cache.
    let warm = warm_cache(&app2, id).await;
    assert_eq!(warm.enabled, ["stripe"]);
    // The token works on both instances (same database and JWT secret).
    let r = test_plugin(&app2, &owner.token, "stripe").await;
    assert_eq!(r["ok"], false, "{r}");

    // Disable on instance 1; instance 2 drops its entry when the message arrives.
    let d = app1
        .gql(Some(&owner.token), DISABLE, json!({"id": "stripe"}))
        .await;
    assert_eq!(d["disablePlugin"]["plugin"]["enabled"], false);
    let mut dropped = false;
    for _ in 0..100 {
        if !app2.state.registry.is_cached(id) {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dropped, "instance 2 kept its cached providers");
    assert_eq!(
        app2.gql_error_code(Some(&owner.token), TEST_PLUGIN, json!({"id": "stripe"}))
            .await,
        "FEATURE_UNAVAILABLE"
    );

    // And the other way round: re-enabling on instance 2 reaches instance 1.
    let warm = app1.state.registry.tenant(id).await.unwrap();
    assert!(warm.enabled.is_empty());
    configure_ok(&app2, &owner.token, "stripe", json!({})).await;
    let mut dropped = false;
    for _ in 0..100 {
        if !app1.state.registry.is_cached(id) {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dropped, "instance 1 kept its cached providers");
    let r = test_plugin(&app1, &owner.token, "stripe").await;
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(
        app1.state.registry.tenant(id).await.unwrap().enabled,
        ["stripe"]
    );
}

/// Loads the tenant's providers until they stay cached. A load overtaken by an
/// invalidation is deliberately not cached — with Redis, the announcement of a change
/// made just before also reaches the instance that made it, a moment later — so retry
/// until one sticks.
async fn warm_cache(app: &TestApp, id: Uuid) -> std::sync::Arc<plugins::registry::TenantProviders> {
    for _ in 0..50 {
        let providers = app.state.registry.tenant(id).await.unwrap();
        if app.state.registry.is_cached(id) {
            return providers;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the tenant's providers were never cached");
}
