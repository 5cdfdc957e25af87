//! `Application::build(Settings)`: connect, migrate, seed, bind — then serve.

use std::net::SocketAddr;

use anyhow::Context;
use graph::auth::tokens::JwtKeys;
use graph::db::Db;
use graph::events::EventBus;
use graph::{GraphState, Limits, build_schema};
use tokio::net::TcpListener;

use crate::db_setup;
use crate::http::{AppState, router};
use crate::settings::Settings;

/// A built, bound, not yet serving server.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    state: GraphState,
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
    Ok(GraphState {
        db,
        jwt: JwtKeys::new(settings.jwt_secret.expose().as_bytes()),
        events,
    })
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
        Ok(Application {
            listener,
            router,
            state,
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
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(stop)
            .await?;
        Ok(())
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
