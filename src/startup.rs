//! `Application::build(Settings)`: connect, migrate, seed, bind — then serve.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use graph::auth::tokens::JwtKeys;
use graph::db::Db;
use graph::events::{ControlSignal, EventBus};
use graph::jobs::JobsConfig;
use graph::limits::RateLimiter;
use graph::platform::PlatformConfig;
use graph::state::AppExtensions;
use graph::tenant_plugins::service::DbConfigSource;
use graph::{GraphState, Limits, build_schema};
use integrations::stripe::{StripeClient, StripeConfig};
use plugins::registry::{PlatformProviders, Registry};
use plugins::secrets::KeyRing;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::app_state::AppState;
use crate::db_setup;
use crate::http::router;
use crate::settings::Settings;

/// A built, bound, not yet serving server.
pub struct Application {
    listener: TcpListener,
    timeouts: crate::serve::ReadTimeouts,
    router: axum::Router,
    state: GraphState,
    background: Vec<tokio::task::JoinHandle<()>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

/// Builds the shared [`GraphState`] from settings (database, keys, event bus) with the
/// standard extensions ([`graph::domains::extensions`]).
pub async fn graph_state(settings: &Settings) -> anyhow::Result<GraphState> {
    graph_state_with(settings, graph::domains::extensions()).await
}

/// Builds the shared [`GraphState`] with the given extensions (tests add their own job
/// handlers, periodic jobs or hooks to the standard ones).
pub async fn graph_state_with(
    settings: &Settings,
    extensions: AppExtensions,
) -> anyhow::Result<GraphState> {
    let db_settings = &settings.database;
    let conn = db_setup::connect_with(
        &db_settings.url,
        db_settings.max_connections,
        db_settings.acquire_timeout,
    )
    .await?;
    if db_setup::bypasses_rls(&conn).await? {
        let msg = "the database role in DATABASE_URL is a superuser or BYPASSRLS: row-level \
                   security does not apply to it. Connect as a role that owns no tables \
                   (see the README: MIGRATION_DATABASE_URL for the owner)";
        if settings.app_env == crate::settings::AppEnv::Production {
            anyhow::bail!("{msg}");
        }
        tracing::warn!("{msg}");
    }
    if db_settings.auto_migrate {
        db_setup::migrate(settings, &conn).await?;
    }
    let events = match &settings.redis.url {
        Some(url) => EventBus::redis(url, &settings.redis.events_channel)
            .await
            .with_context(|| format!("connecting to Redis at {}", db_setup::redact(url)))?,
        None => EventBus::in_process(),
    };
    let db = if conn.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        // One writer connection (SQLite allows one writer at a time anyway).
        Db::sqlite(conn, db_setup::connect(&db_settings.url, 1).await?)
    } else {
        Db::new(conn)
    };
    let keys = Arc::new(
        KeyRing::parse(settings.encryption_key.expose())
            .map_err(|e| anyhow::anyhow!("ENCRYPTION_KEY: {e}"))?,
    );
    let stripe = match &settings.stripe.secret_key {
        Some(key) => Some(
            StripeClient::new(StripeConfig {
                base_url: settings.stripe.api_base.clone(),
                secret_key: key.expose().to_string(),
                timeout: settings.stripe.timeout,
                account: None,
            })
            .map_err(|e| anyhow::anyhow!("STRIPE_SECRET_KEY / STRIPE_API_BASE: {e}"))?,
        ),
        None => None,
    };
    let registry = Arc::new(Registry::new(
        Arc::new(DbConfigSource::new(db.clone(), keys.clone())),
        PlatformProviders {
            stripe,
            twilio_base_url: settings.sms.twilio_api_base.clone(),
            twilio_timeout: Some(settings.sms.twilio_timeout),
            smtp_timeout: Some(settings.sms.smtp_timeout),
            mapbox_base_url: settings.routing.mapbox_api_base.clone(),
            mapbox_timeout: Some(settings.routing.mapbox_timeout),
            mapbox_pools: Default::default(),
            llm_timeout: Some(settings.voice.llm_timeout),
            llm_allow_http: settings.voice.llm_allow_http,
        },
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
                .stripe
                .webhook_secrets
                .iter()
                .map(|s| s.expose().to_string())
                .collect(),
            prices: settings.stripe.prices.clone(),
            trial_days: settings.billing.trial_days,
            fee_bps: settings.billing.platform_fee_bps,
            sms: settings.sms.platform.clone(),
            voice: settings.voice.platform.clone(),
            google_calendar: google_setup(settings)?,
        }),
        jobs: Arc::new(JobsConfig {
            poll: settings.jobs.poll,
            max_attempts: settings.jobs.max_attempts.max(1),
            backoff_base: settings.jobs.backoff_base,
            backoff_max: settings.jobs.backoff_max,
            lease: settings.jobs.lease,
        }),
        jobs_wake: Arc::new(Notify::new()),
        extensions: Arc::new(extensions),
        periodic_schedule: Arc::default(),
        limiter: Arc::new(
            RateLimiter::new(
                settings.limits.config.clone(),
                &format!("rl:{}:", settings.redis.events_channel),
                settings.limits.redis_url.as_deref(),
            )
            .map_err(|e| anyhow::anyhow!("RATE_LIMIT_REDIS_URL / REDIS_URL: {e}"))?,
        ),
    })
}

/// Starts the background tasks every instance runs: the job worker (jobs and periodic
/// jobs) and the listener that drops cached tenant providers when an instance announces
/// a plugin change on the control channel.
pub fn spawn_background(state: &GraphState) -> Vec<tokio::task::JoinHandle<()>> {
    let worker = graph::jobs::spawn_worker(state.clone());
    let st = state.clone();
    let listener = tokio::spawn(async move {
        let mut rx = st.events.subscribe_control();
        loop {
            match rx.recv().await {
                Ok(ControlSignal::PluginsChanged { tenant_id }) if tenant_id.is_nil() => {
                    st.registry.invalidate_all();
                }
                Ok(ControlSignal::PluginsChanged { tenant_id }) => {
                    st.registry.invalidate(tenant_id)
                }
                Ok(ControlSignal::CredentialsRevoked { .. }) => {}
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
    /// tenant when `SEED_DEMO`, builds the schema and binds `BIND_ADDR`, with the standard
    /// extensions.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Application::build_with(settings, graph::domains::extensions()).await
    }

    /// [`Application::build`] with the given extensions (tests register extra job
    /// handlers, periodic jobs or hooks).
    pub async fn build_with(
        settings: Settings,
        extensions: AppExtensions,
    ) -> anyhow::Result<Application> {
        crate::metrics::install();
        let state = graph_state_with(&settings, extensions).await?;
        if settings.seed_demo
            && graph::seed::seed_demo(&state)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?
        {
            tracing::info!("seeded the demo tenant (slug `demo`)");
        }
        if settings.database.auto_migrate || settings.seed_demo {
            // Statistics only help the planner: a failure is logged, not fatal.
            match db_setup::analyze_new_tables(&settings, state.db.connection()).await {
                Ok(analysed) if !analysed.is_empty() => {
                    tracing::info!(tables = ?analysed, "analysed tables that had no statistics");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = format!("{e:#}"), "analysing new tables failed"),
            }
        }
        let limits = Limits {
            max_depth: settings.graphql.max_depth,
            max_introspection_depth: settings.graphql.max_introspection_depth,
            max_complexity: settings.graphql.max_complexity,
            max_root_fields: settings.graphql.max_root_fields,
            request_timeout: settings.graphql.request_timeout,
            introspection: settings.graphql.introspection,
            suggestions: settings.graphql.suggestions,
            concurrent_roots: settings.database.per_request,
            ..Limits::default()
        };
        let schema = build_schema(Some(state.clone()), limits);
        let lean = graph::build_lean_schema(Some(state.clone()), limits);
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let router = router(
            AppState {
                schema,
                lean,
                admission: graph::schema::admission_rules(&limits),
                graph: state.clone(),
                documents: Arc::default(),
                request_timeout: settings.graphql.request_timeout,
                public_base_url: settings.public_base_url.clone(),
                trusted_proxy_hops: settings.limits.trusted_proxy_hops,
                max_response_bytes: settings.graphql.max_response_bytes,
                max_body_bytes: settings.graphql.max_body_bytes,
                socket_limits: settings.limits.sockets,
                socket_counter: Arc::default(),
                playground: settings.graphql.playground,
                demo_login: settings.seed_demo,
                metrics_token: settings
                    .metrics_token
                    .as_ref()
                    .map(|t| t.expose().to_string()),
                production: settings.app_env == crate::settings::AppEnv::Production,
                shutdown: shutdown_rx,
            },
            settings.graphql.max_body_bytes,
        );
        let listener = TcpListener::bind(settings.bind_addr)
            .await
            .with_context(|| format!("binding {}", settings.bind_addr))?;
        let background = spawn_background(&state);
        Ok(Application {
            listener,
            timeouts: settings.graphql.read_timeouts,
            router,
            state,
            background,
            shutdown,
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

    /// Serves until the process receives Ctrl-C / SIGTERM, then shuts down gracefully:
    /// stops accepting, closes WebSockets with 1012, lets requests finish (up to 10 s).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` resolves (tests), then shuts down as [`Self::run_until_stopped`].
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let _background = AbortOnDrop(self.background);
        let shutdown = self.shutdown;
        let stop = async move {
            stop.await;
            tracing::info!("shutting down");
            let _ = shutdown.send(true);
        };
        crate::serve::serve(self.listener, self.router, self.timeouts, stop).await?;
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

/// The Google Calendar set-up, when `GOOGLE_CLIENT_ID` and `GOOGLE_CLIENT_SECRET` are
/// both set. Errors: the HTTP clients cannot be built.
fn google_setup(settings: &Settings) -> anyhow::Result<Option<Arc<graph::calendar::GoogleSetup>>> {
    use integrations::google_calendar::{GoogleCalendar, GoogleOAuth, GoogleOAuthConfig};
    let g = &settings.google;
    let (Some(id), Some(secret)) = (&g.client_id, &g.client_secret) else {
        return Ok(None);
    };
    let _ = graph::calendar::sync::PERIOD.set(g.sync_interval);
    let oauth = GoogleOAuth::new(GoogleOAuthConfig {
        client_id: id.clone(),
        client_secret: secret.expose().to_string(),
        redirect_uri: format!("{}/oauth/google/callback", settings.public_base_url),
        auth_url: g.auth_url.clone(),
        token_url: g.token_url.clone(),
        revoke_url: g.revoke_url.clone(),
        timeout: g.timeout,
    })
    .map_err(|e| anyhow::anyhow!("Google OAuth client: {e}"))?;
    let api = GoogleCalendar::new(&g.api_base, g.timeout)
        .map_err(|e| anyhow::anyhow!("GOOGLE_CALENDAR_API_BASE: {e}"))?;
    Ok(Some(Arc::new(graph::calendar::GoogleSetup {
        oauth,
        api: Arc::new(api),
        sync_window_days: g.sync_window_days,
        sync_interval: g.sync_interval,
        channel_ttl: g.channel_ttl,
        state_ttl: std::time::Duration::from_secs(600),
        webhook_address: format!("{}/webhooks/google-calendar", settings.public_base_url),
    })))
}
