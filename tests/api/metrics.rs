//! `GET /metrics`: the series of `src/metrics.rs` after requests, and who may read them.

use std::sync::Arc;
use std::time::Duration;

use graph::limits::Quota;
use serde_json::json;
use servicegraph::Settings;
use servicegraph::settings::{AppEnv, Secret};

use crate::helpers::{Options, slug, spawn_app, spawn_app_with, subscribe_to};

#[tokio::test]
async fn metrics_expose_requests_errors_pool_jobs_and_refusals() {
    let app = spawn_app_with(Options {
        settings: Some(Arc::new(|s: &mut Settings| {
            s.limits.config.public_per_ip = Quota {
                count: 2,
                period: Duration::from_secs(60),
            };
        })),
        ..Options::default()
    })
    .await;
    let owner = app.sign_up(&slug("metrics")).await;
    let (status, _) = app
        .post(
            Some(&owner.token),
            "query MetricsProbe { me { user { email } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    // Anonymous: `me` needs a login; then the per-IP budget (2) runs out.
    for _ in 0..4 {
        app.post(
            None,
            "query MetricsAnon { me { user { email } } }",
            json!({}),
        )
        .await;
    }
    let _ws = subscribe_to(
        &app,
        &owner.token,
        "subscription { bookingEvents { kind } }",
    )
    .await;
    let text = app.get("/metrics").await.text().await.unwrap();
    for series in [
        "graphql_request_duration_seconds_bucket{operation_type=\"query\",operation_name=\"MetricsProbe\",le=\"0.001\"}",
        "graphql_request_duration_seconds_count{operation_type=\"query\",operation_name=\"MetricsProbe\"}",
        "graphql_request_duration_seconds_count{operation_type=\"mutation\",operation_name=\"anonymous\"}",
        "graphql_errors_total{code=\"UNAUTHENTICATED\"}",
        "graphql_errors_total{code=\"RATE_LIMITED\"}",
        "rate_limit_refusals_total{scope=\"ip\"}",
        "graphql_subscriptions_open",
        "websocket_connections_open",
        "db_pool_connections{state=\"in_use\"}",
        "db_pool_connections{state=\"idle\"}",
        "db_pool_max_connections",
        "db_statements_total",
        "db_transactions_total",
        "jobs_pending",
        "jobs_due",
        "jobs_oldest_due_age_seconds",
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set_and_are_off_in_production_without() {
    let app = spawn_app_with(Options {
        settings: Some(Arc::new(|s: &mut Settings| {
            s.metrics_token = Some(Secret::new("scrape-me"));
        })),
        ..Options::default()
    })
    .await;
    let url = format!("{}/metrics", app.address);
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("scrape-me"),
        Some("Bearer scrape-mee"),
    ] {
        let mut req = app.http.get(&url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        assert_eq!(req.send().await.unwrap().status().as_u16(), 401, "{auth:?}");
    }
    let ok = app
        .http
        .get(&url)
        .header("authorization", "Bearer scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert!(
        ok.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );

    let prod = spawn_app_with(Options {
        settings: Some(Arc::new(|s: &mut Settings| {
            s.app_env = AppEnv::Production;
            s.seed_demo = false;
        })),
        ..Options::default()
    })
    .await;
    assert_eq!(prod.get("/metrics").await.status().as_u16(), 404);
    // Development without a token: open.
    let dev = spawn_app().await;
    assert_eq!(dev.get("/metrics").await.status().as_u16(), 200);
}
