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
use integrations::stripe::StripeClient;
use uuid::Uuid;

use crate::plugin::BuildEnv;
pub use crate::plugin::{LoadedPlugin, PlatformProviders, TenantPluginState, TenantProviders};

/// Loads a tenant's plugin state (the graph crate implements it over the database).
#[async_trait]
pub trait ConfigSource: Send + Sync {
    /// The tenant's enabled plugins with secrets decrypted. Errors are described for
    /// logs (never containing secret values).
    async fn load(&self, tenant_id: Uuid) -> Result<TenantPluginState, String>;
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
        self.tenant_with(tenant_id, self.source.load(tenant_id))
            .await
    }

    /// [`Registry::tenant`], but a miss is loaded by `load` (polled only on a miss)
    /// instead of the source: for a caller inside a database transaction, which loads
    /// through that transaction rather than take a second pooled connection while it
    /// holds one. Errors: `load`'s.
    pub async fn tenant_with<F>(
        &self,
        tenant_id: Uuid,
        load: F,
    ) -> Result<Arc<TenantProviders>, String>
    where
        F: std::future::Future<Output = Result<TenantPluginState, String>>,
    {
        if let Ok(cache) = self.cache.read()
            && let Some(e) = cache.get(&tenant_id)
            && e.built_at.elapsed() < self.ttl
        {
            return Ok(e.providers.clone());
        }
        let generation = self.generation(tenant_id);
        let mut state = load.await?;
        state.tenant_id = tenant_id;
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

    /// Builds a tenant's providers: every built-in plugin first (fallbacks), then each
    /// enabled plugin of the catalog, in [`crate::builtin::ALL`] order. A plugin that
    /// fails to build is logged by id (never its configuration) and left out.
    fn build(&self, state: TenantPluginState) -> TenantProviders {
        let env = BuildEnv {
            platform: &self.platform,
            tenant: &state,
        };
        let mut out = TenantProviders::default();
        let none = LoadedPlugin::default();
        for plugin in crate::builtin::ALL.iter().filter(|p| p.spec().built_in) {
            if let Err(e) = plugin.build(&env, &none, &mut out) {
                tracing_log(plugin.spec().id, &e);
            }
        }
        for loaded in &state.plugins {
            let Some(plugin) = crate::builtin::find(&loaded.plugin_id) else {
                continue;
            };
            if plugin.spec().built_in {
                continue;
            }
            match plugin.build(&env, loaded, &mut out) {
                Ok(()) => out.enabled.push(loaded.plugin_id.clone()),
                Err(e) => tracing_log(plugin.spec().id, &e),
            }
        }
        out
    }
}

/// Logs a plugin that could not be built (the message never contains configuration
/// values).
fn tracing_log(plugin: &str, error: &str) {
    tracing::warn!(plugin, error, "plugin could not be built for a tenant");
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
