//! The [`Plugin`] trait: everything one provider integration brings, in one file per
//! plugin (`plugins/src/builtin/*.rs`) — its catalog entry, its typed configuration, how
//! it builds its providers for a tenant, its optional inbound-webhook verifier and its
//! `testPlugin` check. The registry and the webhook route loop over
//! [`crate::builtin::ALL`]; adding a plugin is one file plus one line there.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use integrations::email::EmailProvider;
use integrations::llm::LlmProvider;
use integrations::payments::PaymentProvider;
use integrations::sms::SmsProvider;
use integrations::stripe::StripeClient;
use integrations::{Capability, RoutingProvider};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::HaversineRouting;
use crate::catalog::{FieldError, PluginSpec};

/// One plugin configuration of a tenant, as stored: public fields and decrypted secrets.
#[derive(Clone, Default)]
pub struct LoadedPlugin {
    /// Catalog id (`stripe`, …).
    pub plugin_id: String,
    /// Public (non-secret) fields.
    pub public: Map<String, Value>,
    /// Decrypted secret fields.
    pub secrets: Map<String, Value>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("plugin_id", &self.plugin_id)
            .field("public", &self.public)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl LoadedPlugin {
    /// The configuration as the plugin's typed struct `T` (public and secret fields
    /// together, camelCase keys). Errors: a message naming the problem, never a value.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, String> {
        let mut all = self.public.clone();
        all.extend(self.secrets.clone());
        serde_json::from_value(Value::Object(all)).map_err(|e| {
            // serde's messages quote types and field names, not values, for the shapes
            // used here (missing field, invalid type); keep only the category to be safe.
            let what = if e.to_string().starts_with("missing field") {
                e.to_string()
            } else {
                "a field has the wrong type".to_string()
            };
            format!("{} configuration: {what}", self.plugin_id)
        })
    }
}

/// A secret string from a plugin configuration: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// Tenant facts (not plugin configuration) that providers are built from.
#[derive(Debug, Clone, Default)]
pub struct TenantPluginState {
    /// The tenant (set by the registry; keys per-tenant provider state such as the
    /// Mapbox matrix cache).
    pub tenant_id: uuid::Uuid,
    /// Enabled plugins.
    pub plugins: Vec<LoadedPlugin>,
    /// Stripe Connect account set by verified onboarding (`acct_…`), if any.
    pub stripe_account_id: Option<String>,
    /// Built-in routing: detour factor over the straight line.
    pub detour_factor: f64,
    /// Built-in routing: average speed, km/h.
    pub speed_kmh: f64,
}

/// The platform-level pieces plugins build tenant providers from.
#[derive(Clone, Default)]
pub struct PlatformProviders {
    /// The platform's Stripe client (platform secret key); tenant clients are derived
    /// from it with `Stripe-Account`. `None` when the platform has no Stripe key.
    pub stripe: Option<StripeClient>,
    /// Twilio API root (`TWILIO_API_BASE`; empty means `https://api.twilio.com`); tests
    /// point it at a mock server.
    pub twilio_base_url: String,
    /// Timeout of one Twilio API call.
    pub twilio_timeout: Option<std::time::Duration>,
    /// Timeout of one SMTP send (connect to end of `DATA`).
    pub smtp_timeout: Option<std::time::Duration>,
    /// Mapbox API root (`MAPBOX_API_BASE`; empty means `https://api.mapbox.com`); tests
    /// point it at a mock server.
    pub mapbox_base_url: String,
    /// Timeout of one Mapbox request.
    pub mapbox_timeout: Option<std::time::Duration>,
    /// Per-token rate limiters and per-tenant matrix caches, which outlive the tenants'
    /// rebuilt clients.
    pub mapbox_pools: integrations::mapbox::MapboxPools,
    /// Timeout of one chat completion (`None`: the client's default, 30 s); the voice
    /// turn loop applies its own, shorter, budget on top.
    pub llm_timeout: Option<std::time::Duration>,
    /// Whether an `openai` plugin's `baseUrl` may be plain `http://` (development and
    /// tests, against a local server); otherwise only `https://`.
    pub llm_allow_http: bool,
}

/// What a plugin sees while building a tenant's providers.
#[derive(Clone, Copy)]
pub struct BuildEnv<'a> {
    /// Platform-level clients.
    pub platform: &'a PlatformProviders,
    /// The tenant's facts.
    pub tenant: &'a TenantPluginState,
}

/// An inbound HTTP request to `/webhooks/{tenant_slug}/{plugin}`, as a verifier sees it.
#[derive(Debug, Clone, Copy)]
pub struct InboundHttp<'a> {
    /// The full URL the provider called (`PUBLIC_BASE_URL` + path + query), which some
    /// providers sign (Twilio).
    pub url: &'a str,
    /// Headers, names lower-cased.
    pub headers: &'a [(String, String)],
    /// The raw body.
    pub body: &'a [u8],
    /// Current time, Unix seconds (for timestamp tolerances).
    pub now: i64,
}

impl InboundHttp<'_> {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Checks that an inbound request really comes from the provider (its signature, with
/// the tenant's secrets). Built per tenant by the plugin.
pub trait InboundVerifier: Send + Sync {
    /// `Ok` when authentic. Errors: why not, for debug logs (never a secret).
    fn verify(&self, req: &InboundHttp<'_>) -> Result<(), String>;

    /// The HTTP status answered to a request that fails [`InboundVerifier::verify`]:
    /// 400 by default (Stripe's convention); Twilio's guide answers 403.
    fn refusal_status(&self) -> u16 {
        400
    }
}

/// The providers a tenant has, built from its enabled plugins.
pub struct TenantProviders {
    /// Card payments, when a payments plugin is configured and connected.
    pub payments: Option<Arc<dyn PaymentProvider>>,
    /// Travel times (the built-in estimate unless a routing plugin replaces it).
    pub routing: Arc<dyn RoutingProvider>,
    /// Text messages (the built-in log unless an SMS plugin replaces it).
    pub sms: Option<Arc<dyn SmsProvider>>,
    /// Email (the built-in log unless an email plugin replaces it).
    pub email: Option<Arc<dyn EmailProvider>>,
    /// A language model (the voice assistant's), when an LLM plugin is configured.
    pub llm: Option<Arc<dyn LlmProvider>>,
    /// The OpenAI Realtime API (the voice assistant's streaming mode), when the `openai`
    /// plugin is configured.
    pub realtime: Option<Arc<integrations::realtime::RealtimeClient>>,
    /// Ids of the tenant's enabled (configured) plugins.
    pub enabled: Vec<String>,
    inbound: BTreeMap<&'static str, Arc<dyn InboundVerifier>>,
}

impl Default for TenantProviders {
    fn default() -> Self {
        TenantProviders {
            payments: None,
            routing: Arc::new(HaversineRouting::default()),
            sms: None,
            email: None,
            llm: None,
            realtime: None,
            enabled: Vec::new(),
            inbound: BTreeMap::new(),
        }
    }
}

impl TenantProviders {
    /// The payments provider, or the capability's name for a `FEATURE_UNAVAILABLE`.
    pub fn payments(&self) -> Result<Arc<dyn PaymentProvider>, Capability> {
        self.payments.clone().ok_or(Capability::Payments)
    }

    /// Whether the tenant enabled plugin `id`.
    pub fn is_enabled(&self, id: &str) -> bool {
        self.enabled.iter().any(|p| p == id)
    }

    /// Sets the inbound-webhook verifier of plugin `id` (a plugin's `build` does this).
    pub fn set_inbound(&mut self, id: &'static str, v: Arc<dyn InboundVerifier>) {
        self.inbound.insert(id, v);
    }

    /// The inbound-webhook verifier of plugin `id`, when the tenant has it configured.
    pub fn inbound(&self, id: &str) -> Option<Arc<dyn InboundVerifier>> {
        self.inbound.get(id).cloned()
    }
}

/// The result of a plugin's `testPlugin` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// Whether the provider accepted the credentials.
    pub ok: bool,
    /// What happened, for the owner (no secrets, no provider free text).
    pub message: String,
}

impl TestOutcome {
    /// A passed check.
    pub fn ok(message: impl Into<String>) -> TestOutcome {
        TestOutcome {
            ok: true,
            message: message.into(),
        }
    }

    /// A failed check.
    pub fn failed(message: impl Into<String>) -> TestOutcome {
        TestOutcome {
            ok: false,
            message: message.into(),
        }
    }
}

/// One provider integration.
#[async_trait]
pub trait Plugin: Send + Sync {
    /// Its catalog entry: id, capability, configuration fields (secrets marked).
    fn spec(&self) -> &'static PluginSpec;

    /// Checks a complete configuration (fields already validated against
    /// [`Plugin::spec`]) by reading it as the plugin's typed config. Errors: per field,
    /// never echoing a value. Default (plugins without a configuration): nothing to check.
    fn check(&self, config: &LoadedPlugin) -> Result<(), Vec<FieldError>> {
        let _ = config;
        Ok(())
    }

    /// Adds what this plugin provides for a tenant to `out` (a configured plugin: its
    /// stored configuration; a built-in: an empty one). Errors: why it could not (logged;
    /// the tenant simply lacks the capability).
    fn build(
        &self,
        env: &BuildEnv<'_>,
        config: &LoadedPlugin,
        out: &mut TenantProviders,
    ) -> Result<(), String>;

    /// Route kinds this plugin owns in the provider routing table (dropped for the
    /// tenant when the plugin is disabled or its identifiers change). Default: none.
    fn route_kinds(&self) -> &'static [&'static str] {
        &[]
    }

    /// Provider-side identifiers a configuration (its public fields) owns in the
    /// provider routing table, as `(route kind, identifier)` pairs (a Twilio number:
    /// `("twilio_number", "+14155550123")`). Saving the configuration makes them the
    /// tenant's (refused when another tenant owns one). Default: none.
    fn routes(&self, public: &Map<String, Value>) -> Vec<(&'static str, String)> {
        let _ = public;
        Vec::new()
    }

    /// The `testPlugin` check: the provider's cheapest read with the tenant's providers.
    /// Default (built-ins, which call nobody): passes.
    async fn test(&self, providers: &TenantProviders) -> TestOutcome {
        let _ = providers;
        TestOutcome::ok("built in; nothing to check")
    }
}

/// Reads `config` as `T` for [`Plugin::check`], turning a failure into one field error
/// on the configuration as a whole.
pub fn check_typed<T: DeserializeOwned>(config: &LoadedPlugin) -> Result<(), Vec<FieldError>> {
    config.config::<T>().map(|_| ()).map_err(|message| {
        vec![FieldError {
            field: "config".into(),
            message,
        }]
    })
}
