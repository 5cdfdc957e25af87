//! The per-tenant registry: builds a tenant's providers from its stored plugin
//! configurations, lazily, and caches them until the configuration changes.
//!
//! The registry does not read the database itself: a [`ConfigSource`] (implemented by
//! the graph crate over a tenant-scoped transaction, with secrets already decrypted)
//! loads a tenant's plugin rows. Whoever changes a configuration calls
//! [`Registry::invalidate`] — on every server instance, through the event bus — and the
//! next request rebuilds. A time-to-live bounds staleness should a bus message be lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use integrations::payments::PaymentProvider;
use integrations::stripe::StripeClient;
use integrations::{Capability, RoutingProvider};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::HaversineRouting;

/// One enabled plugin of a tenant, as stored: public fields and decrypted secrets.
#[derive(Clone)]
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

/// What the registry needs to know about a tenant to build its providers.
#[derive(Debug, Clone, Default)]
pub struct TenantPluginState {
    /// Enabled plugins.
    pub plugins: Vec<LoadedPlugin>,
    /// Stripe Connect account set by onboarding (`acct_…`), if any.
    pub stripe_account_id: Option<String>,
    /// Built-in routing: detour factor over the straight line.
    pub detour_factor: f64,
    /// Built-in routing: average speed, km/h.
    pub speed_kmh: f64,
}

/// Loads a tenant's plugin state (the graph crate implements it over the database).
#[async_trait]
pub trait ConfigSource: Send + Sync {
    /// The tenant's enabled plugins with secrets decrypted. Errors are described for
    /// logs (never containing secret values).
    async fn load(&self, tenant_id: Uuid) -> Result<TenantPluginState, String>;
}

/// A tenant's Stripe binding: the platform client acting on the tenant's connected
/// account, and the signing secrets of the tenant's webhook endpoint.
#[derive(Clone)]
pub struct StripeBinding {
    /// Connected account (`acct_…`).
    pub account_id: String,
    /// Client that sends `Stripe-Account: {account_id}`.
    pub client: StripeClient,
    webhook_secrets: Vec<String>,
}

impl StripeBinding {
    /// The webhook signing secrets (`whsec_…`) to verify the tenant's endpoint with.
    pub fn webhook_secrets(&self) -> Vec<&str> {
        self.webhook_secrets.iter().map(String::as_str).collect()
    }
}

impl std::fmt::Debug for StripeBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeBinding")
            .field("account_id", &self.account_id)
            .field("webhook_secrets", &self.webhook_secrets.len())
            .finish()
    }
}

/// The providers a tenant has, built from its configuration.
pub struct TenantProviders {
    /// Card payments (Stripe), when configured and connected.
    pub payments: Option<Arc<dyn PaymentProvider>>,
    /// Stripe specifics (webhook verification), when the `stripe` plugin is enabled.
    pub stripe: Option<StripeBinding>,
    /// Travel times (the built-in estimate until a routing plugin is configured).
    pub routing: Arc<dyn RoutingProvider>,
    /// Ids of the tenant's enabled plugins.
    pub enabled: Vec<String>,
    /// The webhook signing secrets configured for `stripe`, even before the account is
    /// connected (so that `account.updated` can arrive).
    stripe_webhook_secrets: Vec<String>,
}

impl TenantProviders {
    /// The payments provider, or the capability's name for a `FEATURE_UNAVAILABLE`.
    pub fn payments(&self) -> Result<Arc<dyn PaymentProvider>, Capability> {
        self.payments.clone().ok_or(Capability::Payments)
    }

    /// Webhook signing secrets of the tenant's `stripe` plugin (empty when none).
    pub fn stripe_webhook_secrets(&self) -> Vec<&str> {
        self.stripe_webhook_secrets
            .iter()
            .map(String::as_str)
            .collect()
    }
}

/// The platform-level pieces the registry builds tenant providers from.
#[derive(Clone, Default)]
pub struct PlatformProviders {
    /// The platform's Stripe client (platform secret key); tenant clients are derived
    /// from it with `Stripe-Account`. `None` when the platform has no Stripe key.
    pub stripe: Option<StripeClient>,
}

struct Entry {
    built_at: Instant,
    providers: Arc<TenantProviders>,
}

/// Builds and caches [`TenantProviders`] per tenant.
pub struct Registry {
    source: Arc<dyn ConfigSource>,
    platform: PlatformProviders,
    ttl: Duration,
    cache: RwLock<HashMap<Uuid, Entry>>,
    /// Invalidation counters: global (`invalidate_all`) and per tenant. A load that
    /// started before an invalidation of its tenant must not store its (possibly stale)
    /// result, or a change committed during the load would be hidden until the TTL.
    epoch: AtomicU64,
    generations: RwLock<HashMap<Uuid, u64>>,
}

/// How long a built entry is trusted without an invalidation (a safety net; changes are
/// normally announced on the event bus).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

impl Registry {
    /// A registry over `source`.
    pub fn new(source: Arc<dyn ConfigSource>, platform: PlatformProviders) -> Registry {
        Registry {
            source,
            platform,
            ttl: DEFAULT_TTL,
            cache: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            generations: RwLock::new(HashMap::new()),
        }
    }

    /// The platform's own Stripe client, when configured.
    pub fn platform_stripe(&self) -> Option<&StripeClient> {
        self.platform.stripe.as_ref()
    }

    /// The tenant's providers, built on first use and cached. Errors: the source's.
    pub async fn tenant(&self, tenant_id: Uuid) -> Result<Arc<TenantProviders>, String> {
        if let Ok(cache) = self.cache.read()
            && let Some(e) = cache.get(&tenant_id)
            && e.built_at.elapsed() < self.ttl
        {
            return Ok(e.providers.clone());
        }
        let generation = self.generation(tenant_id);
        let state = self.source.load(tenant_id).await?;
        let providers = Arc::new(self.build(state));
        if let Ok(mut cache) = self.cache.write()
            && self.generation(tenant_id) == generation
        {
            cache.insert(
                tenant_id,
                Entry {
                    built_at: Instant::now(),
                    providers: providers.clone(),
                },
            );
        }
        Ok(providers)
    }

    /// Drops the tenant's cached providers; the next [`Registry::tenant`] rebuilds them.
    pub fn invalidate(&self, tenant_id: Uuid) {
        if let Ok(mut g) = self.generations.write() {
            *g.entry(tenant_id).or_insert(0) += 1;
        }
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(&tenant_id);
        }
    }

    /// Drops every cached entry (after missed invalidations).
    pub fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut cache) = self.cache.write() {
            cache.clear();
        }
    }

    /// `(epoch, tenant generation)`: changes whenever the tenant's entry is invalidated.
    fn generation(&self, tenant_id: Uuid) -> (u64, u64) {
        let tenant = self
            .generations
            .read()
            .map(|g| g.get(&tenant_id).copied().unwrap_or(0))
            .unwrap_or(u64::MAX);
        (self.epoch.load(Ordering::SeqCst), tenant)
    }

    /// Whether the tenant's providers are cached (for tests).
    pub fn is_cached(&self, tenant_id: Uuid) -> bool {
        self.cache
            .read()
            .map(|c| c.contains_key(&tenant_id))
            .unwrap_or(false)
    }

    fn build(&self, state: TenantPluginState) -> TenantProviders {
        let mut payments: Option<Arc<dyn PaymentProvider>> = None;
        let mut stripe = None;
        let mut stripe_webhook_secrets = Vec::new();
        for p in &state.plugins {
            if p.plugin_id != "stripe" {
                continue;
            }
            stripe_webhook_secrets = p
                .secrets
                .get("webhookSigningSecret")
                .and_then(Value::as_str)
                .map(|s| vec![s.to_string()])
                .unwrap_or_default();
            let account = p
                .public
                .get("accountId")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| state.stripe_account_id.clone());
            if let (Some(platform), Some(account)) = (&self.platform.stripe, account) {
                let client = platform.for_account(&account);
                payments = Some(Arc::new(client.clone()));
                stripe = Some(StripeBinding {
                    account_id: account,
                    client,
                    webhook_secrets: stripe_webhook_secrets.clone(),
                });
            }
        }
        TenantProviders {
            payments,
            stripe,
            routing: Arc::new(HaversineRouting {
                detour_factor: state.detour_factor,
                average_speed_kmh: state.speed_kmh,
            }),
            enabled: state.plugins.iter().map(|p| p.plugin_id.clone()).collect(),
            stripe_webhook_secrets,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use tokio::sync::Notify;

    /// A source whose loads wait for `release` (to interleave an invalidation).
    struct Paused {
        started: Notify,
        release: Notify,
        loads: AtomicUsize,
    }

    #[async_trait]
    impl ConfigSource for Paused {
        async fn load(&self, _tenant_id: Uuid) -> Result<TenantPluginState, String> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            self.started.notify_one();
            self.release.notified().await;
            Ok(TenantPluginState {
                detour_factor: 1.3,
                speed_kmh: 40.0,
                ..TenantPluginState::default()
            })
        }
    }

    #[tokio::test]
    async fn a_load_overtaken_by_an_invalidation_is_not_cached() {
        let src = Arc::new(Paused {
            started: Notify::new(),
            release: Notify::new(),
            loads: AtomicUsize::new(0),
        });
        let reg = Arc::new(Registry::new(src.clone(), PlatformProviders::default()));
        let t = Uuid::now_v7();
        let r2 = reg.clone();
        let load = tokio::spawn(async move { r2.tenant(t).await.map(|p| p.enabled.len()) });
        src.started.notified().await;
        reg.invalidate(t); // a configuration change commits while the load is in flight
        src.release.notify_one();
        assert_eq!(load.await.unwrap(), Ok(0));
        assert!(!reg.is_cached(t), "the stale result must not be cached");
        // An undisturbed load is cached.
        let r3 = reg.clone();
        let load = tokio::spawn(async move { r3.tenant(t).await.is_ok() });
        src.started.notified().await;
        src.release.notify_one();
        assert!(load.await.unwrap());
        assert!(reg.is_cached(t));
        assert_eq!(src.loads.load(Ordering::SeqCst), 2);
    }
}
