//! Sign-up, log-in, tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::helpers::{PASSWORD, slug, spawn_app};

const ME: &str = "{ me { user { email role } tenant { slug timezone currency plan status } } }";

#[tokio::test]
async fn sign_up_logs_the_owner_in() {
    let app = spawn_app().await;
    let s = slug("mikes");
    let owner = app.sign_up(&s).await;
    let data = app.gql(Some(&owner.token), ME, json!({})).await;
    assert_eq!(data["me"]["user"]["role"], "OWNER");
    assert_eq!(data["me"]["tenant"]["slug"], s.as_str());
    assert_eq!(data["me"]["tenant"]["plan"], "STARTER");
    assert_eq!(data["me"]["tenant"]["status"], "TRIAL");
}

#[tokio::test]
async fn sign_up_derives_slug_from_business_name_and_keeps_the_name() {
    let app = spawn_app().await;
    let data = app
        .gql(
            None,
            "mutation { signUp(input: {businessName: \"Mike's Détailing & Co\", timezone: \"America/New_York\", email: \"mike@example.com\", password: \"long enough pw\"}) { tenant { slug name } userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["signUp"]["tenant"]["slug"], "mikes-detailing-and-co");
    assert_eq!(data["signUp"]["tenant"]["name"], "Mike's Détailing & Co");
}

#[tokio::test]
async fn invalid_sign_up_is_refused_with_typed_errors_and_creates_nothing() {
    let app = spawn_app().await;
    let data = app
        .gql(
            None,
            "mutation { signUp(input: {businessName: \"X\", slug: \"Bad Slug\", timezone: \"Mars/Olympus\", currency: \"dollars\", email: \"nope\", password: \"short\"}) { accessToken userErrors { field code } } }",
            json!({}),
        )
        .await;
    let p = &data["signUp"];
    assert!(p["accessToken"].is_null());
    let codes: Vec<&str> = p["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    for c in [
        "INVALID_INPUT",
        "INVALID_TIMEZONE",
        "INVALID_CURRENCY",
        "INVALID_EMAIL",
        "WEAK_PASSWORD",
    ] {
        assert!(codes.contains(&c), "{c} missing in {codes:?}");
    }
    let code = app
        .gql_error_code(
            None,
            "{ publicTenant(slug: \"bad-slug\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
}

#[tokio::test]
async fn duplicate_slug_is_slug_taken() {
    let app = spawn_app().await;
    let s = slug("dup");
    app.sign_up(&s).await;
    let data = app
        .gql(
            None,
            "mutation($s: String!) { signUp(input: {businessName: \"Other\", slug: $s, timezone: \"UTC\", email: \"o@example.com\", password: \"long enough pw\"}) { accessToken userErrors { field code } } }",
            json!({"s": s}),
        )
        .await;
    assert_eq!(data["signUp"]["userErrors"][0]["code"], "SLUG_TAKEN");
    assert_eq!(
        data["signUp"]["userErrors"][0]["field"],
        json!(["input", "slug"])
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_are_indistinguishable() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("pw")).await;
    let wrong = app.log_in(&owner.email, "not the password", None).await;
    assert!(wrong["accessToken"].is_null());
    assert_eq!(wrong["userErrors"][0]["code"], "INVALID_CREDENTIALS");
    let unknown = app.log_in("nobody@example.com", PASSWORD, None).await;
    assert_eq!(unknown["userErrors"], wrong["userErrors"]);
    let ok = app
        .log_in(&owner.email.to_uppercase(), PASSWORD, None)
        .await;
    assert!(ok["accessToken"].is_string(), "{ok}");
}

#[tokio::test]
async fn email_in_two_tenants_needs_a_tenant_slug() {
    let app = spawn_app().await;
    let a = app.sign_up(&slug("a")).await;
    let b_slug = slug("b");
    app.gql(
        None,
        "mutation($s: String!, $e: String!, $p: String!) { signUp(input: {businessName: \"B\", slug: $s, timezone: \"UTC\", email: $e, password: $p}) { userErrors { code } } }",
        json!({"s": b_slug, "e": a.email, "p": PASSWORD}),
    )
    .await;
    let ambiguous = app.log_in(&a.email, PASSWORD, None).await;
    assert_eq!(ambiguous["userErrors"][0]["code"], "TENANT_REQUIRED");
    let chosen = app.log_in(&a.email, PASSWORD, Some(&b_slug)).await;
    let token = chosen["accessToken"].as_str().unwrap();
    let me = app.gql(Some(token), ME, json!({})).await;
    assert_eq!(me["me"]["tenant"]["slug"], b_slug.as_str());
}

fn forge(claims: serde_json::Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

async fn assert_unauthenticated(app: &crate::helpers::TestApp, token: &str) {
    let (status, body) = app.post(Some(token), ME, json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert!(body.get("data").is_none());
}

#[tokio::test]
async fn expired_tampered_foreign_and_alg_none_tokens_are_refused() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("tok")).await;
    let parts: Vec<&str> = owner.token.split('.').collect();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let secret = app.settings.jwt_secret.expose().as_bytes().to_vec();

    // Sanity: a token we forge with the right secret and claims works.
    let good = forge(claims.clone(), &secret);
    assert!(app.post(Some(&good), ME, json!({})).await.1["data"]["me"].is_object());

    // Expired a minute ago.
    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 60);
    assert_unauthenticated(&app, &forge(expired, &secret)).await;

    // Payload changed (role escalation) without re-signing.
    let mut escalated = claims.clone();
    escalated["tid"] = json!(uuid::Uuid::now_v7());
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&escalated).unwrap());
    assert_unauthenticated(&app, &format!("{}.{}.{}", parts[0], body, parts[2])).await;

    // Signed with another secret.
    assert_unauthenticated(
        &app,
        &forge(claims.clone(), b"some-other-secret-some-other-secret"),
    )
    .await;

    // alg: none.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    assert_unauthenticated(&app, &format!("{header}.{}.", parts[1])).await;

    // Wrong audience.
    let mut aud = claims.clone();
    aud["aud"] = json!("someone-else");
    assert_unauthenticated(&app, &forge(aud, &secret)).await;

    // Garbage and a malformed header.
    assert_unauthenticated(&app, "not-a-jwt").await;
    let resp = app
        .http
        .post(format!("{}/graphql", app.address))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .json(&json!({"query": ME}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[tokio::test]
async fn anonymous_callers_get_unauthenticated() {
    let app = spawn_app().await;
    assert_eq!(
        app.gql_error_code(None, ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.gql_error_code(None, "{ bookings { totalCount } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
}

const REFRESH: &str = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken userErrors { code } } }";

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("rt")).await;
    let first = app.gql(None, REFRESH, json!({"t": owner.refresh})).await["refreshToken"].clone();
    let second_refresh = first["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(second_refresh, owner.refresh);
    let token = first["accessToken"].as_str().unwrap();
    assert!(app.gql(Some(token), ME, json!({})).await["me"].is_object());

    // The old token again: theft assumed, family revoked.
    let reuse = app.gql(None, REFRESH, json!({"t": owner.refresh})).await["refreshToken"].clone();
    assert!(reuse["accessToken"].is_null());
    assert_eq!(reuse["userErrors"][0]["code"], "INVALID_REFRESH_TOKEN");
    // ...so even the newest token of the family is dead now.
    let after = app.gql(None, REFRESH, json!({"t": second_refresh})).await["refreshToken"].clone();
    assert_eq!(after["userErrors"][0]["code"], "INVALID_REFRESH_TOKEN");

    // Another log-in (another family) is unaffected.
    let login = app.log_in(&owner.email, PASSWORD, None).await;
    let other = app
        .gql(None, REFRESH, json!({"t": login["refreshToken"]}))
        .await["refreshToken"]
        .clone();
    assert!(other["accessToken"].is_string());

    // Garbage.
    let bad = app.gql(None, REFRESH, json!({"t": "rt_nope"})).await["refreshToken"].clone();
    assert_eq!(bad["userErrors"][0]["code"], "INVALID_REFRESH_TOKEN");
}

#[tokio::test]
async fn log_out_revokes_the_refresh_token() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("lo")).await;
    let out = app
        .gql(
            None,
            "mutation($t: String!) { logOut(refreshToken: $t) { success userErrors { code } } }",
            json!({"t": owner.refresh}),
        )
        .await;
    assert_eq!(out["logOut"]["success"], true);
    let after = app.gql(None, REFRESH, json!({"t": owner.refresh})).await;
    assert_eq!(
        after["refreshToken"]["userErrors"][0]["code"],
        "INVALID_REFRESH_TOKEN"
    );
}
