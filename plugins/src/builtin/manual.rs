//! Plugin `manual` (built in): cash, check and other payments recorded by staff. Needs
//! no configuration and provides nothing to build: recording is done by the payments
//! domain itself.

use async_trait::async_trait;
use integrations::Capability;

use crate::catalog::PluginSpec;
use crate::plugin::{BuildEnv, LoadedPlugin, Plugin, TenantProviders};

/// Catalog entry.
pub static SPEC: PluginSpec = PluginSpec {
    id: "manual",
    capability: Capability::Payments,
    display_name: "Manual payments",
    description: "Cash, check and other payments recorded by staff.",
    built_in: true,
    fields: &[],
    docs_url: "",
};

/// The plugin.
pub struct Manual;

#[async_trait]
impl Plugin for Manual {
    fn spec(&self) -> &'static PluginSpec {
        &SPEC
    }

    fn build(
        &self,
        _env: &BuildEnv<'_>,
        _config: &LoadedPlugin,
        _out: &mut TenantProviders,
    ) -> Result<(), String> {
        Ok(())
    }
}
