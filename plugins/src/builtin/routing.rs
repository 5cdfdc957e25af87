//! Plugin `builtin_routing` (built in): travel times as great-circle distance × the
//! tenant's detour factor ÷ its average speed ([`HaversineRouting`]). Used when no
//! routing provider is configured.

use std::sync::Arc;

use async_trait::async_trait;
use integrations::Capability;

use crate::HaversineRouting;
use crate::catalog::PluginSpec;
use crate::plugin::{BuildEnv, LoadedPlugin, Plugin, TenantProviders};

/// Catalog entry.
pub static SPEC: PluginSpec = PluginSpec {
    id: "builtin_routing",
    capability: Capability::Routing,
    display_name: "Built-in travel estimate",
    description: "Straight-line (great-circle) distance times a detour factor, driven \
        at an average speed. Used when no routing provider is configured.",
    built_in: true,
    fields: &[],
    docs_url: "",
};

/// The plugin.
pub struct BuiltinRouting;

#[async_trait]
impl Plugin for BuiltinRouting {
    fn spec(&self) -> &'static PluginSpec {
        &SPEC
    }

    fn build(
        &self,
        env: &BuildEnv<'_>,
        _config: &LoadedPlugin,
        out: &mut TenantProviders,
    ) -> Result<(), String> {
        out.routing = Arc::new(HaversineRouting {
            detour_factor: env.tenant.detour_factor,
            average_speed_kmh: env.tenant.speed_kmh,
        });
        Ok(())
    }
}
