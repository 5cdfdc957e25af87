//! `Application::build(Settings)`: connect, migrate, seed, bind — then serve.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use graph::auth::tokens::JwtKeys;
use graph::db::Db;
use graph::events::EventBus;
use graph::payments::config::{OutboxConfig, PlatformConfig};
use graph::tenant_plugins::service::DbConfigSource;
use graph::{GraphState, Limits, build_schema};
use integrations::stripe::{StripeClient, StripeConfig};
use plugins::registry::{PlatformProviders, Registry};
use plugins::secrets::KeyRing;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::db_setup;
use crate::http::{AppState, router};
use crate::settings::Settings;

/// A built, bound, not yet serving server.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    state: GraphState,
    background: Vec<tokio::task::JoinHandle<()>>,
}

/// Builds the shared [`GraphState`] from settings (database, keys, event bus).
pub async fn graph_state(settings: &Settings) -> anyhow::Result<GraphState> {
    let conn = db_setup::connect(&settings.database_url, settings.database_max_connections).await?;
    if settings.auto_migrate {
        db_setup::migrate(settings, &conn).await?;
    }
    let events = match &settings.redis_url {
        Some(url) => EventBus::redis(url, &settings.redis_events_channel)
            .await
            .with_context(|| format!("connecting to Redis at {}", db_setup::redact(url)))?,
        None => EventBus::in_process(),
    };
    let db = if conn.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        // One writer connection (SQLite allows one writer at a time anyway).
        Db::sqlite(conn, db_setup::connect(&settings.database_url, 1).await?)
    } else {
        Db::new(conn)
    };
    let keys = Arc::new(
        KeyRing::parse(settings.encryption_key.expose())
            .map_err(|e| anyhow::anyhow!("ENCRYPTION_KEY: {e}"))?,
    );
    let stripe = match &settings.stripe_secret_key {
        Some(key) => Some(
            StripeClient::new(StripeConfig {
                base_url: settings.stripe_api_base.clone(),
                secret_key: key.expose().to_string(),
                timeout: settings.stripe_timeout,
                account: None,
            })
            .map_err(|e| anyhow::anyhow!("STRIPE_SECRET_KEY / STRIPE_API_BASE: {e}"))?,
        ),
        None => None,
    };
    let registry = Arc::new(Registry::new(
        Arc::new(DbConfigSource::new(db.clone(), keys.clone())),
        PlatformProviders { stripe },
    ));
    Ok(GraphState {
        db,
        jwt: JwtKeys::new(settings.jwt_secret.expose().as_bytes()),
        events,
        registry,
        keys,
        platform: Arc::new(PlatformConfig {
            public_base_url: settings.public_base_url.clone(),
            stripe_webhook_secrets: settings
                .stripe_webhook_secrets
                .iter()
                .map(|s| s.expose().to_string())
                .collect(),
            prices: settings.stripe_prices.clone(),
            trial_days: settings.trial_days,
            fee_bps: settings.platform_fee_bps,
        }),
        outbox: Arc::new(OutboxConfig {
            poll: settings.outbox_poll,
            max_attempts: settings.outbox_max_attempts.max(1),
            backoff_base: settings.outbox_backoff_base,
            backoff_max: settings.outbox_backoff_max,
            lease: settings.outbox_lease,
        }),
        outbox_wake: Arc::new(Notify::new()),
    })
}

/// Starts the background tasks every instance runs: the outbox worker and the listener
/// that drops cached tenant providers when another instance announces a plugin change.
pub fn spawn_background(state: &GraphState) -> Vec<tokio::task::JoinHandle<()>> {
    let worker = graph::outbox::spawn_worker(state.clone());
    let st = state.clone();
    let listener = tokio::spawn(async move {
        let mut rx = st.events.subscribe_plugin_changes();
        loop {
            match rx.recv().await {
                Ok(tenant_id) => st.registry.invalidate(tenant_id),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // Missed some: drop everything rather than keep stale providers.
                    st.registry.invalidate_all();
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    vec![worker, listener]
}

impl Application {
    /// Connects to the database (migrating unless `AUTO_MIGRATE=false`), seeds the demo
    /// tenant when `SEED_DEMO`, builds the schema and binds `BIND_ADDR`.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let state = graph_state(&settings).await?;
        if settings.seed_demo
            && graph::seed::seed_demo(&state)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?
        {
            tracing::info!("seeded the demo tenant (slug `demo`)");
        }
        let schema = build_schema(
            Some(state.clone()),
            Limits {
                max_depth: settings.max_depth,
                max_complexity: settings.max_complexity,
                ..Limits::default()
            },
        );
        let router = router(
            AppState {
                schema,
                graph: state.clone(),
                request_timeout: settings.request_timeout,
            },
            settings.max_body_bytes,
        );
        let listener = TcpListener::bind(settings.bind_addr)
            .await
            .with_context(|| format!("binding {}", settings.bind_addr))?;
        let background = spawn_background(&state);
        Ok(Application {
            listener,
            router,
            state,
            background,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The shared state (for tests and CLI commands).
    pub fn state(&self) -> &GraphState {
        &self.state
    }

    /// Serves until the process receives Ctrl-C / SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let _background = AbortOnDrop(self.background);
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        Ok(())
    }

    /// Serves until `stop` resolves (tests).
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let _background = AbortOnDrop(self.background);
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(stop)
            .await?;
        Ok(())
    }
}

/// Stops background tasks when the server stops (a test's server "killed" mid-delivery
/// leaves its outbox claim to lapse, as a crashed process would).
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
