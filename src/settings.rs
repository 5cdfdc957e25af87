//! Configuration from environment variables (12-factor). Every variable, its default and
//! meaning is listed in the README's configuration table.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

/// Deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// Local development: missing secrets are generated and persisted under `DATA_DIR`,
    /// the demo tenant is seeded.
    Development,
    /// Production: `JWT_SECRET` and `ENCRYPTION_KEY` are required; no demo seed.
    Production,
}

/// A secret string that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(v: impl Into<String>) -> Secret {
        Secret(v.into())
    }
    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Server settings, grouped by concern; each field names its environment variable.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `APP_ENV`: `development` (default) or `production`.
    pub app_env: AppEnv,
    /// Where data lives and how to reach it.
    pub database: DatabaseSettings,
    /// `BIND_ADDR` (default `127.0.0.1:8080`; port 0 picks a free port).
    pub bind_addr: SocketAddr,
    /// `PUBLIC_BASE_URL`: how customers and providers reach this server (Checkout
    /// success/cancel URLs, onboarding return URLs, webhook URLs providers sign).
    /// Default `http://BIND_ADDR`.
    pub public_base_url: String,
    /// `JWT_SECRET`: HS256 key for access tokens.
    pub jwt_secret: Secret,
    /// `ENCRYPTION_KEY`: base64 of 32 bytes (or `id:base64,…` while rotating), for
    /// secrets at rest (plugin credentials).
    pub encryption_key: Secret,
    /// Redis (shared events across instances).
    pub redis: RedisSettings,
    /// `SEED_DEMO`: seed the demo tenant on start (default true in development).
    pub seed_demo: bool,
    /// `DATA_DIR` (default `data`).
    pub data_dir: PathBuf,
    /// GraphQL limits.
    pub graphql: GraphqlSettings,
    /// The platform's Stripe account (Connect platform and billing).
    pub stripe: StripeSettings,
    /// How the platform bills tenants.
    pub billing: BillingSettings,
    /// The job worker.
    pub jobs: JobSettings,
    /// Rate limits and who the client is.
    pub limits: LimitSettings,
    /// Text messages (Twilio endpoint, quotas, pacing).
    pub sms: SmsSettings,
    /// Routing providers (Mapbox endpoint and timeout).
    pub routing: RoutingSettings,
    /// The built-in phone assistant (turn budget, turn limit, LLM endpoint rules).
    pub voice: VoiceSettings,
    /// `METRICS_TOKEN`: the bearer token `GET /metrics` requires. Unset: `/metrics` is
    /// open in development and not served in production.
    pub metrics_token: Option<Secret>,
    /// Google Calendar sync (the platform's OAuth client and Google's endpoints).
    pub google: GoogleSettings,
}

/// Google Calendar: the platform's OAuth client, Google's endpoints (tests point them at
/// a mock) and the sync cadence.
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    /// `GOOGLE_CLIENT_ID`; with `GOOGLE_CLIENT_SECRET` unset, calendar operations answer
    /// `FEATURE_UNAVAILABLE`.
    pub client_id: Option<String>,
    /// `GOOGLE_CLIENT_SECRET`.
    pub client_secret: Option<Secret>,
    /// `GOOGLE_AUTH_URL` (default Google's consent page).
    pub auth_url: String,
    /// `GOOGLE_TOKEN_URL` (default `https://oauth2.googleapis.com/token`).
    pub token_url: String,
    /// `GOOGLE_REVOKE_URL` (default `https://oauth2.googleapis.com/revoke`).
    pub revoke_url: String,
    /// `GOOGLE_CALENDAR_API_BASE` (default `https://www.googleapis.com/calendar/v3`).
    pub api_base: String,
    /// `GOOGLE_TIMEOUT_SECS`: one Google call (default 15).
    pub timeout: Duration,
    /// `CALENDAR_SYNC_WINDOW_DAYS`: how far ahead a full sync imports (default 90).
    pub sync_window_days: i64,
    /// `CALENDAR_SYNC_INTERVAL_SECS`: periodic sync of every connection (default 900).
    pub sync_interval: Duration,
    /// `CALENDAR_CHANNEL_TTL_SECS`: requested push channel lifetime (default 604800, 7
    /// days).
    pub channel_ttl: Duration,
}

impl GoogleSettings {
    /// Google's production endpoints, no client, default cadence.
    pub fn defaults() -> GoogleSettings {
        use integrations::google_calendar as g;
        GoogleSettings {
            client_id: None,
            client_secret: None,
            auth_url: g::DEFAULT_AUTH_URL.into(),
            token_url: g::DEFAULT_TOKEN_URL.into(),
            revoke_url: g::DEFAULT_REVOKE_URL.into(),
            api_base: g::DEFAULT_API_BASE.into(),
            timeout: g::DEFAULT_TIMEOUT,
            sync_window_days: 90,
            sync_interval: Duration::from_secs(900),
            channel_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Text messages and email.
#[derive(Debug, Clone)]
pub struct SmsSettings {
    /// `SMTP_TIMEOUT_SECS`: one SMTP send, connect to end of `DATA` (default 15).
    pub smtp_timeout: Duration,
    /// `TWILIO_API_BASE` (default `https://api.twilio.com`; tests point it at a mock).
    pub twilio_api_base: String,
    /// `TWILIO_TIMEOUT_SECS`: per-request timeout of Twilio calls (default 15).
    pub twilio_timeout: Duration,
    /// Quotas, unknown-outcome wait and pacing (`SMS_QUOTA_STARTER` / `_PRO` / `_TEAMS`,
    /// `SMS_UNKNOWN_OUTCOME_WAIT_SECS`, `SMS_SENDS_PER_SECOND`).
    pub platform: graph::platform::SmsPlatform,
}

/// Routing providers.
#[derive(Debug, Clone)]
pub struct RoutingSettings {
    /// `MAPBOX_API_BASE` (default `https://api.mapbox.com`; tests point it at a mock).
    pub mapbox_api_base: String,
    /// `MAPBOX_TIMEOUT_SECS`: per-request timeout of Mapbox calls (default 5); a
    /// timeout makes availability fall back to the built-in estimate.
    pub mapbox_timeout: Duration,
}

/// The built-in phone assistant (Twilio Voice turn loop with the tenant's `openai`
/// plugin).
#[derive(Debug, Clone)]
pub struct VoiceSettings {
    /// Turn budget, limits and summary switch (`VOICE_LLM_BUDGET_MS`, default 8000:
    /// the whole model work of one turn, well under Twilio's 15 s webhook timeout;
    /// `VOICE_MAX_TURNS`, default 30; `VOICE_MAX_CALLS_PER_HOUR`, default 120 per
    /// tenant; streaming mode: `VOICE_STREAM_MAX_SECONDS`, default 900 per call,
    /// `VOICE_MAX_STREAMS_PER_TENANT`, default 10 per instance).
    pub platform: graph::platform::VoicePlatform,
    /// `OPENAI_TIMEOUT_SECS`: per-request timeout of the OpenAI client (default 30; the
    /// turn budget cuts a phone turn shorter).
    pub llm_timeout: Duration,
    /// `OPENAI_ALLOW_HTTP`: whether a tenant's `openai` `baseUrl` may be plain
    /// `http://` (default: yes in development, no in production).
    pub llm_allow_http: bool,
}

/// Rate limits (see the README's Security section) and client addresses.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// The limits; `RATE_LIMITS=off` turns them off (with `APP_ENV=production` only
    /// together with `RATE_LIMITS_OFF_IN_PRODUCTION=yes`). Quotas per minute:
    /// `RATE_LIMIT_AUTH_PER_IP`, `RATE_LIMIT_PUBLIC_PER_IP`,
    /// `RATE_LIMIT_PUBLIC_PER_TENANT`, `RATE_LIMIT_TENANT_STARTER` / `_PRO` / `_TEAMS`,
    /// `RATE_LIMIT_AGENT_KEY`; failed log-ins per account per 15 minutes:
    /// `RATE_LIMIT_LOGIN_FAILURES`.
    pub config: graph::limits::LimitsConfig,
    /// `RATE_LIMIT_REDIS_URL`: where shared budgets live (default `REDIS_URL`; none =
    /// in process).
    pub redis_url: Option<String>,
    /// `TRUSTED_PROXY_HOPS`: how many proxies in front of the server append to
    /// `X-Forwarded-For` (default 0: the socket peer is the client). With 1, the client is
    /// the last address in the header.
    pub trusted_proxy_hops: usize,
    /// Caps on WebSocket connections: `WS_MAX_PER_CLIENT`, `WS_MAX_PER_TENANT`,
    /// `WS_MAX_STREAMS`, `WS_INIT_TIMEOUT_SECS`.
    pub sockets: crate::sockets::SocketLimits,
}

/// Database settings.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`: what the server connects with. Default: SQLite file
    /// `DATA_DIR/servicegraph.db`.
    pub url: String,
    /// `MIGRATION_DATABASE_URL`: PostgreSQL owner connection used for migrations, when
    /// the runtime role (`DATABASE_URL`) must not own tables. After migrating, the
    /// runtime role is granted table privileges. Default: `DATABASE_URL`.
    pub migration_url: Option<String>,
    /// `DATABASE_MAX_CONNECTIONS`: pool size (default [`default_pool_size`]).
    pub max_connections: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_SECS`: how long a request waits for a pooled connection
    /// (and a new connection for its handshake) before failing with `INTERNAL` (default
    /// 10). While the database stalls, requests end at this or the request timeout,
    /// whichever comes first, and the pool recovers by itself when it answers again.
    pub acquire_timeout: Duration,
    /// `DATABASE_CONNECTIONS_PER_REQUEST`: root fields of one request resolving at once,
    /// so that, with a larger pool, one request cannot take the whole pool (default 4).
    pub per_request: usize,
    /// `AUTO_MIGRATE`: apply migrations on start (default true).
    pub auto_migrate: bool,
}

/// Redis settings.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `REDIS_URL`: when set, events are shared through Redis pub/sub.
    pub url: Option<String>,
    /// `REDIS_EVENTS_CHANNEL` (default `servicegraph:events`; control signals use
    /// `{channel}:control`).
    pub events_channel: String,
}

/// GraphQL limits.
#[derive(Debug, Clone)]
pub struct GraphqlSettings {
    /// `GRAPHQL_MAX_DEPTH` (default 12): deepest nesting outside introspection.
    pub max_depth: usize,
    /// `GRAPHQL_MAX_INTROSPECTION_DEPTH` (default 15): deepest nesting under
    /// `__schema`/`__type`; 15 is what graphql-js's and graphql-core's standard
    /// introspection query needs with every option on (GraphiQL, Apollo, codegen, `gql`).
    pub max_introspection_depth: usize,
    /// `GRAPHQL_MAX_COMPLEXITY` (default 500).
    pub max_complexity: usize,
    /// `REQUEST_TIMEOUT_SECS` (default 30).
    pub request_timeout: Duration,
    /// `MAX_BODY_BYTES` (default 1 MiB).
    pub max_body_bytes: usize,
    /// `GRAPHQL_MAX_ROOT_FIELDS`: most root fields, aliases included, per operation
    /// (default 20).
    pub max_root_fields: usize,
    /// `MAX_RESPONSE_BYTES`: largest JSON answer (default 8 MiB); a larger one is replaced
    /// by a `BAD_USER_INPUT` error asking for less.
    pub max_response_bytes: usize,
    /// `GRAPHQL_INTROSPECTION`: answer `__schema`/`__type` (default on; the public schema
    /// is published as SDL anyway).
    pub introspection: bool,
    /// `GRAPHQL_SUGGESTIONS`: "did you mean" in validation errors (default on in
    /// development, off in production).
    pub suggestions: bool,
    /// `PLAYGROUND`: serve `/playground` (default on in development, off in production).
    pub playground: bool,
    /// `HEADER_READ_TIMEOUT_SECS` (default 10), `BODY_READ_TIMEOUT_SECS` (default 15):
    /// slow clients are dropped.
    pub read_timeouts: crate::serve::ReadTimeouts,
}

/// The platform's Stripe settings.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    /// `STRIPE_SECRET_KEY`: the platform's Stripe secret key (Connect platform). Unset:
    /// card payments and platform billing answer `FEATURE_UNAVAILABLE`.
    pub secret_key: Option<Secret>,
    /// `STRIPE_API_BASE` (default `https://api.stripe.com`; tests point it at a mock).
    pub api_base: String,
    /// `STRIPE_TIMEOUT_SECS`: per-request timeout of Stripe calls (default 20).
    pub timeout: Duration,
    /// `STRIPE_WEBHOOK_SECRET`: signing secret(s) of the platform endpoint
    /// `/webhooks/platform/stripe`, comma-separated during rotation (`whsec_…`).
    pub webhook_secrets: Vec<Secret>,
    /// `STRIPE_PRICE_STARTER`, `STRIPE_PRICE_PRO`, `STRIPE_PRICE_TEAMS`: the platform's
    /// recurring Price ids (`price_…`) per plan.
    pub prices: [Option<String>; 3],
}

/// How the platform bills tenants.
#[derive(Debug, Clone)]
pub struct BillingSettings {
    /// `BILLING_TRIAL_DAYS`: free trial of a new subscription (default 14).
    pub trial_days: u32,
    /// `PLATFORM_FEE_BPS_STARTER` / `_PRO` / `_TEAMS`: application fee on tenants' card
    /// payments in basis points (defaults 200, 100, 50 = 2 %, 1 %, 0.5 %).
    pub platform_fee_bps: [i64; 3],
}

/// The job worker (the outbox of calls to the outside world).
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// `OUTBOX_POLL_MS`: how often the worker looks for due jobs (default 500).
    pub poll: Duration,
    /// `OUTBOX_MAX_ATTEMPTS`: attempts before a job is dead-lettered (default 8).
    pub max_attempts: i32,
    /// `OUTBOX_BACKOFF_BASE_MS`: first retry delay; doubles per attempt, equal jitter
    /// (default 1000).
    pub backoff_base: Duration,
    /// `OUTBOX_BACKOFF_MAX_SECS`: longest retry delay (default 600).
    pub backoff_max: Duration,
    /// `OUTBOX_LEASE_SECS`: how long a claimed job is reserved for its worker; must
    /// exceed every provider timeout (default 60).
    pub lease: Duration,
}

/// Shortest accepted `JWT_SECRET`, in bytes: HS256 keys must have at least 256 bits
/// (RFC 7518 §3.2).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// The test servers' `ENCRYPTION_KEY` (32 bytes of base64; a test value, not a secret).
pub const TEST_ENCRYPTION_KEY: &str = "c2VydmljZWdyYXBoLXRlc3QtZW5jcnlwdGlvbi1rZXk=";

impl Settings {
    /// Settings for a test server: SQLite in `data_dir`, port 0, fixed test keys, no demo
    /// seed, quick job timings, Stripe unset (pointed at a closed port), no Redis. Tests
    /// change what they need (a mock's URL, a database, Redis). The pool is the
    /// production default ([`default_pool_size`]) unless `SG_TEST_POOL` sets it: with
    /// `SG_TEST_POOL=1` any path that takes a second connection while holding one waits
    /// for itself until the acquire timeout, so its test fails.
    pub fn for_tests(data_dir: &Path) -> Settings {
        Settings {
            app_env: AppEnv::Development,
            database: DatabaseSettings {
                url: format!("sqlite://{}?mode=rwc", data_dir.join("test.db").display()),
                migration_url: None,
                max_connections: std::env::var("SG_TEST_POOL")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(default_pool_size),
                acquire_timeout: Duration::from_secs(10),
                per_request: 4,
                auto_migrate: true,
            },
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_base_url: "http://app.test".into(),
            jwt_secret: Secret::new("test-jwt-secret-0123456789abcdef-0123456789"),
            encryption_key: Secret::new(TEST_ENCRYPTION_KEY),
            redis: RedisSettings {
                url: None,
                events_channel: "servicegraph:events".into(),
            },
            seed_demo: false,
            data_dir: data_dir.to_path_buf(),
            graphql: GraphqlSettings {
                max_depth: 12,
                max_introspection_depth: 15,
                max_complexity: 500,
                request_timeout: Duration::from_secs(30),
                max_body_bytes: 1024 * 1024,
                max_root_fields: 20,
                max_response_bytes: 8 * 1024 * 1024,
                introspection: true,
                suggestions: true,
                playground: true,
                read_timeouts: crate::serve::ReadTimeouts::default(),
            },
            stripe: StripeSettings {
                secret_key: None,
                api_base: "http://127.0.0.1:9".into(),
                timeout: Duration::from_secs(2),
                webhook_secrets: vec![],
                prices: [None, None, None],
            },
            billing: BillingSettings {
                trial_days: 14,
                platform_fee_bps: [200, 100, 50],
            },
            limits: LimitSettings {
                config: graph::limits::LimitsConfig::default(),
                redis_url: None,
                trusted_proxy_hops: 0,
                sockets: crate::sockets::SocketLimits::default(),
            },
            metrics_token: None,
            google: GoogleSettings::defaults(),
            routing: RoutingSettings {
                mapbox_api_base: "http://127.0.0.1:9".into(),
                mapbox_timeout: Duration::from_secs(2),
            },
            voice: VoiceSettings {
                platform: graph::platform::VoicePlatform::default(),
                llm_timeout: Duration::from_secs(5),
                llm_allow_http: true,
            },
            sms: SmsSettings {
                smtp_timeout: Duration::from_secs(5),
                twilio_api_base: "http://127.0.0.1:9".into(),
                twilio_timeout: Duration::from_secs(2),
                platform: graph::platform::SmsPlatform::default(),
            },
            jobs: JobSettings {
                poll: Duration::from_millis(100),
                max_attempts: 8,
                backoff_base: Duration::from_millis(50),
                backoff_max: Duration::from_millis(400),
                lease: Duration::from_secs(4),
            },
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The default database pool size: one more than the CPUs this process may use, at
/// least 3 and at most 20.
///
/// PostgreSQL's rule for a dedicated database host is `(core_count × 2) +
/// effective_spindle_count` ("Number Of Database Connections", wiki.postgresql.org; no
/// spindles when the working set is cached). The default deployment is one machine, where
/// the database shares the cores with this server (and its clients), so every connection
/// in use is a backend competing with our own threads: the default keeps one connection
/// per core plus one waiting in the wings, and lets further requests wait in the pool's
/// fair queue. Measured on 2 cores (README "Performance", the nested bookings page at 16
/// client connections): 20 connections 2,172–2,198 req/s, p99 20.6–23.1 ms; 8:
/// 2,137–2,198, 22.1–22.4 ms; 4: 2,377–2,419, 16.0–16.2 ms; 3: 2,235–2,413, 13.9–15.3 ms.
/// With the database on its own host, set `DATABASE_MAX_CONNECTIONS` from the wiki's rule
/// for that host's cores. One request resolves at most
/// [`DatabaseSettings::per_request`] root fields at once; with a smaller pool the rest
/// wait for a connection like any other request.
pub fn default_pool_size() -> u32 {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    u32::try_from(cpus.saturating_add(1))
        .unwrap_or(u32::MAX)
        .clamp(3, 20)
}

fn parse_env<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match env(name) {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={v:?} is not valid")),
        None => Ok(default),
    }
}

fn parse_bool(name: &str, default: bool) -> anyhow::Result<bool> {
    match env(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => bail!("{name}={v:?} is not a boolean"),
    }
}

/// Reads `name`, or in development reads/creates `DATA_DIR/<file>` holding a random
/// 32-byte base64 value (mode 0600), logging a warning. In production a missing value is
/// an error.
fn secret(name: &str, file: &str, env_kind: AppEnv, data_dir: &Path) -> anyhow::Result<Secret> {
    if let Some(v) = env(name) {
        return Ok(Secret::new(v));
    }
    if env_kind == AppEnv::Production {
        bail!("{name} must be set when APP_ENV=production");
    }
    let path = data_dir.join(file);
    if let Ok(v) = std::fs::read_to_string(&path) {
        let v = v.trim().to_string();
        if !v.is_empty() {
            return Ok(Secret::new(v));
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let v = STANDARD.encode(bytes);
    write_private(&path, &v).with_context(|| format!("writing {}", path.display()))?;
    tracing::warn!(
        "{name} is not set; generated one and stored it in {} (development only)",
        path.display()
    );
    Ok(Secret::new(v))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(contents.as_bytes())
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, contents)
    }
}

fn per_minute(name: &str, default: graph::limits::Quota) -> anyhow::Result<graph::limits::Quota> {
    let count: u32 = parse_env(name, default.count)?;
    if count == 0 {
        bail!("{name} must be at least 1");
    }
    Ok(graph::limits::Quota { count, ..default })
}

fn limit_settings(app_env: AppEnv) -> anyhow::Result<LimitSettings> {
    let d = graph::limits::LimitsConfig::default();
    let enabled = match env("RATE_LIMITS")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("on") | Some("true") | Some("1") => true,
        Some("off") | Some("false") | Some("0") => false,
        Some(other) => bail!("RATE_LIMITS={other:?}: use on or off"),
    };
    if !enabled {
        if app_env == AppEnv::Production && !parse_bool("RATE_LIMITS_OFF_IN_PRODUCTION", false)? {
            bail!(
                "RATE_LIMITS=off with APP_ENV=production also needs RATE_LIMITS_OFF_IN_PRODUCTION=yes"
            );
        }
        tracing::warn!("RATE_LIMITS=off: no rate limits apply (load tests and bulk replays only)");
    }
    Ok(LimitSettings {
        config: graph::limits::LimitsConfig {
            enabled,
            auth_per_ip: per_minute("RATE_LIMIT_AUTH_PER_IP", d.auth_per_ip)?,
            login_failures: per_minute("RATE_LIMIT_LOGIN_FAILURES", d.login_failures)?,
            public_per_ip: per_minute("RATE_LIMIT_PUBLIC_PER_IP", d.public_per_ip)?,
            public_per_tenant: per_minute("RATE_LIMIT_PUBLIC_PER_TENANT", d.public_per_tenant)?,
            tenant_by_plan: [
                per_minute("RATE_LIMIT_TENANT_STARTER", d.tenant_by_plan[0])?,
                per_minute("RATE_LIMIT_TENANT_PRO", d.tenant_by_plan[1])?,
                per_minute("RATE_LIMIT_TENANT_TEAMS", d.tenant_by_plan[2])?,
            ],
            agent_key: per_minute("RATE_LIMIT_AGENT_KEY", d.agent_key)?,
            public_holds_per_tenant: parse_env(
                "PUBLIC_HOLDS_PER_TENANT",
                d.public_holds_per_tenant,
            )?,
            public_holds_per_client: parse_env(
                "PUBLIC_HOLDS_PER_CLIENT",
                d.public_holds_per_client,
            )?,
        },
        redis_url: env("RATE_LIMIT_REDIS_URL").or_else(|| env("REDIS_URL")),
        trusted_proxy_hops: parse_env("TRUSTED_PROXY_HOPS", 0)?,
        sockets: crate::sockets::SocketLimits {
            per_client: parse_env("WS_MAX_PER_CLIENT", 20)?,
            per_tenant: parse_env("WS_MAX_PER_TENANT", 500)?,
            streams: parse_env("WS_MAX_STREAMS", 20)?,
            init_timeout: Duration::from_secs(parse_env("WS_INIT_TIMEOUT_SECS", 10)?),
        },
    })
}

impl Settings {
    /// Reads settings from the environment. Errors name the offending variable.
    pub fn from_env() -> anyhow::Result<Settings> {
        let app_env = match env("APP_ENV").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("development") | Some("dev") | Some("test") => AppEnv::Development,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => bail!("APP_ENV={other:?}: use development or production"),
        };
        let data_dir = PathBuf::from(env("DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = match env("DATABASE_URL") {
            Some(u) => u,
            None => {
                std::fs::create_dir_all(&data_dir)
                    .with_context(|| format!("creating {}", data_dir.display()))?;
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.join("servicegraph.db").display()
                )
            }
        };
        let bind_addr = parse_env("BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?;
        let stripe_timeout = Duration::from_secs(parse_env("STRIPE_TIMEOUT_SECS", 20)?);
        let outbox_lease = Duration::from_secs(parse_env("OUTBOX_LEASE_SECS", 60)?);
        if outbox_lease <= stripe_timeout {
            bail!("OUTBOX_LEASE_SECS must be longer than STRIPE_TIMEOUT_SECS");
        }
        let twilio_timeout = Duration::from_secs(parse_env("TWILIO_TIMEOUT_SECS", 15)?);
        if outbox_lease <= twilio_timeout {
            bail!("OUTBOX_LEASE_SECS must be longer than TWILIO_TIMEOUT_SECS");
        }
        Ok(Settings {
            app_env,
            public_base_url: env("PUBLIC_BASE_URL")
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or_else(|| format!("http://{bind_addr}")),
            stripe: StripeSettings {
                secret_key: env("STRIPE_SECRET_KEY").map(Secret::new),
                api_base: env("STRIPE_API_BASE").unwrap_or_else(|| "https://api.stripe.com".into()),
                timeout: stripe_timeout,
                webhook_secrets: env("STRIPE_WEBHOOK_SECRET")
                    .map(|v| {
                        v.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(Secret::new)
                            .collect()
                    })
                    .unwrap_or_default(),
                prices: [
                    env("STRIPE_PRICE_STARTER"),
                    env("STRIPE_PRICE_PRO"),
                    env("STRIPE_PRICE_TEAMS"),
                ],
            },
            metrics_token: env("METRICS_TOKEN").map(Secret::new),
            google: {
                let d = GoogleSettings::defaults();
                GoogleSettings {
                    client_id: env("GOOGLE_CLIENT_ID"),
                    client_secret: env("GOOGLE_CLIENT_SECRET").map(Secret::new),
                    auth_url: env("GOOGLE_AUTH_URL").unwrap_or(d.auth_url),
                    token_url: env("GOOGLE_TOKEN_URL").unwrap_or(d.token_url),
                    revoke_url: env("GOOGLE_REVOKE_URL").unwrap_or(d.revoke_url),
                    api_base: env("GOOGLE_CALENDAR_API_BASE").unwrap_or(d.api_base),
                    timeout: Duration::from_secs(parse_env("GOOGLE_TIMEOUT_SECS", 15)?),
                    sync_window_days: parse_env::<i64>("CALENDAR_SYNC_WINDOW_DAYS", 90)?
                        .clamp(1, 366),
                    sync_interval: Duration::from_secs(
                        parse_env::<u64>("CALENDAR_SYNC_INTERVAL_SECS", 900)?.max(60),
                    ),
                    channel_ttl: Duration::from_secs(
                        parse_env::<u64>("CALENDAR_CHANNEL_TTL_SECS", 604_800)?.max(3600),
                    ),
                }
            },
            routing: RoutingSettings {
                mapbox_api_base: env("MAPBOX_API_BASE")
                    .map(|u| u.trim_end_matches('/').to_string())
                    .unwrap_or_else(|| integrations::mapbox::DEFAULT_BASE_URL.into()),
                mapbox_timeout: Duration::from_secs(parse_env("MAPBOX_TIMEOUT_SECS", 5)?.max(1)),
            },
            voice: VoiceSettings {
                platform: graph::platform::VoicePlatform {
                    llm_budget: Duration::from_millis(
                        parse_env::<u64>("VOICE_LLM_BUDGET_MS", 8_000)?.clamp(500, 12_000),
                    ),
                    max_turns: parse_env::<u32>("VOICE_MAX_TURNS", 30)?.clamp(1, 200),
                    max_calls_per_hour: parse_env::<u32>("VOICE_MAX_CALLS_PER_HOUR", 120)?.max(1),
                    stream_max_duration: Duration::from_secs(
                        parse_env::<u64>("VOICE_STREAM_MAX_SECONDS", 900)?.clamp(30, 14_400),
                    ),
                    max_streams_per_tenant: parse_env::<u32>("VOICE_MAX_STREAMS_PER_TENANT", 10)?
                        .max(1),
                },
                llm_timeout: Duration::from_secs(parse_env("OPENAI_TIMEOUT_SECS", 30)?.max(1)),
                llm_allow_http: parse_bool("OPENAI_ALLOW_HTTP", app_env == AppEnv::Development)?,
            },
            sms: SmsSettings {
                smtp_timeout: Duration::from_secs(parse_env("SMTP_TIMEOUT_SECS", 15)?),
                twilio_api_base: env("TWILIO_API_BASE")
                    .unwrap_or_else(|| integrations::twilio::DEFAULT_BASE_URL.into()),
                twilio_timeout,
                platform: graph::platform::SmsPlatform {
                    monthly_quota: [
                        parse_env("SMS_QUOTA_STARTER", 100)?,
                        parse_env("SMS_QUOTA_PRO", 500)?,
                        parse_env("SMS_QUOTA_TEAMS", 2_000)?,
                    ],
                    unknown_outcome_wait: Duration::from_secs(parse_env(
                        "SMS_UNKNOWN_OUTCOME_WAIT_SECS",
                        300,
                    )?),
                    sends_per_second: parse_env::<u32>("SMS_SENDS_PER_SECOND", 1)?.max(1),
                },
            },
            billing: BillingSettings {
                trial_days: parse_env("BILLING_TRIAL_DAYS", 14)?,
                platform_fee_bps: [
                    parse_env("PLATFORM_FEE_BPS_STARTER", 200)?,
                    parse_env("PLATFORM_FEE_BPS_PRO", 100)?,
                    parse_env("PLATFORM_FEE_BPS_TEAMS", 50)?,
                ],
            },
            jobs: JobSettings {
                poll: Duration::from_millis(parse_env("OUTBOX_POLL_MS", 500)?),
                max_attempts: parse_env("OUTBOX_MAX_ATTEMPTS", 8)?,
                backoff_base: Duration::from_millis(parse_env("OUTBOX_BACKOFF_BASE_MS", 1000)?),
                backoff_max: Duration::from_secs(parse_env("OUTBOX_BACKOFF_MAX_SECS", 600)?),
                lease: outbox_lease,
            },
            limits: limit_settings(app_env)?,
            database: DatabaseSettings {
                url: database_url,
                migration_url: env("MIGRATION_DATABASE_URL"),
                max_connections: parse_env("DATABASE_MAX_CONNECTIONS", default_pool_size())?,
                acquire_timeout: Duration::from_secs(parse_env(
                    "DATABASE_ACQUIRE_TIMEOUT_SECS",
                    10,
                )?),
                per_request: parse_env("DATABASE_CONNECTIONS_PER_REQUEST", 4)?,
                auto_migrate: parse_bool("AUTO_MIGRATE", true)?,
            },
            bind_addr,
            jwt_secret: {
                let s = secret("JWT_SECRET", "jwt_secret", app_env, &data_dir)?;
                // RFC 7518 §3.2: an HS256 key must be at least 256 bits.
                if s.expose().len() < MIN_JWT_SECRET_BYTES {
                    bail!(
                        "JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes (RFC 7518 §3.2)"
                    );
                }
                s
            },
            encryption_key: secret("ENCRYPTION_KEY", "encryption_key", app_env, &data_dir)?,
            redis: RedisSettings {
                url: env("REDIS_URL"),
                events_channel: env("REDIS_EVENTS_CHANNEL")
                    .unwrap_or_else(|| "servicegraph:events".into()),
            },
            seed_demo: {
                let seed = parse_bool("SEED_DEMO", app_env == AppEnv::Development)?;
                if seed && app_env == AppEnv::Production {
                    bail!(
                        "SEED_DEMO=true is refused with APP_ENV=production (the demo logins are public)"
                    );
                }
                seed
            },
            graphql: GraphqlSettings {
                max_depth: parse_env("GRAPHQL_MAX_DEPTH", 12)?,
                max_introspection_depth: parse_env("GRAPHQL_MAX_INTROSPECTION_DEPTH", 15)?,
                max_complexity: parse_env("GRAPHQL_MAX_COMPLEXITY", 500)?,
                request_timeout: Duration::from_secs(parse_env("REQUEST_TIMEOUT_SECS", 30)?),
                max_body_bytes: parse_env("MAX_BODY_BYTES", 1024 * 1024)?,
                max_root_fields: parse_env("GRAPHQL_MAX_ROOT_FIELDS", 20)?,
                max_response_bytes: parse_env("MAX_RESPONSE_BYTES", 8 * 1024 * 1024)?,
                introspection: parse_bool("GRAPHQL_INTROSPECTION", true)?,
                suggestions: parse_bool("GRAPHQL_SUGGESTIONS", app_env == AppEnv::Development)?,
                playground: parse_bool("PLAYGROUND", app_env == AppEnv::Development)?,
                read_timeouts: crate::serve::ReadTimeouts {
                    headers: Duration::from_secs(parse_env("HEADER_READ_TIMEOUT_SECS", 10)?),
                    body: Duration::from_secs(parse_env("BODY_READ_TIMEOUT_SECS", 15)?),
                },
            },
            data_dir,
        })
    }
}
