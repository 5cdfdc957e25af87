//! Plugin `mapbox`: real drive times from the Mapbox Matrix API (and one leg's geometry
//! from the Directions API) on the tenant's own Mapbox access token, replacing the
//! built-in great-circle estimate ([`crate::HaversineRouting`]) for availability and
//! dispatch. Profile `driving` (typical traffic) or `driving-traffic` (live traffic:
//! at most 10 points per Matrix request and a 10-minute cache instead of 24 hours).
//! The token's 60 requests per minute are respected per server (a queue with a short
//! wait, then the built-in estimate); see [`integrations::mapbox`].

use std::sync::Arc;

use async_trait::async_trait;
use integrations::Capability;
use integrations::mapbox::{
    DEFAULT_BASE_URL, DEFAULT_MAX_WAIT, DEFAULT_TIMEOUT, MapboxClient, MapboxConfig, Profile,
};
use serde::Deserialize;

use crate::catalog::{FieldError, FieldKind, FieldSpec, PluginSpec};
use crate::plugin::{
    BuildEnv, LoadedPlugin, Plugin, SecretString, TenantProviders, TestOutcome, check_typed,
};

/// Catalog entry.
pub static SPEC: PluginSpec = PluginSpec {
    id: "mapbox",
    capability: Capability::Routing,
    display_name: "Mapbox drive times",
    description: "Real drive times between jobs from the Mapbox Matrix API, on the \
        business's own Mapbox access token, for availability and route planning. \
        Without it (or when Mapbox fails) travel times are the built-in estimate.",
    built_in: false,
    fields: &[
        FieldSpec {
            name: "accessToken",
            label: "Access token",
            description: "A Mapbox access token (pk.… or sk.…) allowed to use the \
                Directions and Matrix APIs.",
            kind: FieldKind::Text,
            required: true,
            secret: true,
            prefix: None,
            max_len: Some(300),
        },
        FieldSpec {
            name: "profile",
            label: "Profile",
            description: "driving (typical traffic, default) or driving-traffic (live \
                traffic; smaller requests, shorter cache).",
            kind: FieldKind::Text,
            required: false,
            secret: false,
            prefix: None,
            max_len: Some(20),
        },
    ],
    docs_url: "https://docs.mapbox.com/api/navigation/matrix/",
};

/// The typed configuration (keys as in [`SPEC`]).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapboxPluginConfig {
    /// The access token.
    pub access_token: SecretString,
    /// `driving` (default) or `driving-traffic`.
    pub profile: Option<String>,
}

impl MapboxPluginConfig {
    /// The routing profile. Errors: a value other than `driving` / `driving-traffic`.
    pub fn profile(&self) -> Result<Profile, String> {
        match self.profile.as_deref().map(str::trim) {
            None | Some("") => Ok(Profile::Driving),
            Some(p) => Profile::parse(p)
                .ok_or_else(|| "profile must be driving or driving-traffic".to_string()),
        }
    }
}

/// The plugin.
pub struct Mapbox;

fn client(env: &BuildEnv<'_>, cfg: &MapboxPluginConfig) -> Result<MapboxClient, String> {
    let base = if env.platform.mapbox_base_url.is_empty() {
        DEFAULT_BASE_URL.to_string()
    } else {
        env.platform.mapbox_base_url.clone()
    };
    let pools = &env.platform.mapbox_pools;
    let token = cfg.access_token.expose();
    MapboxClient::new(MapboxConfig {
        base_url: base,
        access_token: token.to_string(),
        profile: cfg.profile()?,
        timeout: env.platform.mapbox_timeout.unwrap_or(DEFAULT_TIMEOUT),
        limiter: pools.limiter(token),
        cache: pools.cache(env.tenant.tenant_id),
        max_wait: DEFAULT_MAX_WAIT,
    })
    .map_err(|e| e.to_string())
}

#[async_trait]
impl Plugin for Mapbox {
    fn spec(&self) -> &'static PluginSpec {
        &SPEC
    }

    fn check(&self, config: &LoadedPlugin) -> Result<(), Vec<FieldError>> {
        check_typed::<MapboxPluginConfig>(config)?;
        let cfg: MapboxPluginConfig = config
            .config()
            .map_err(|m| vec![FieldError::new("config", m)])?;
        cfg.profile()
            .map_err(|m| vec![FieldError::new("profile", m)])?;
        let probe = BuildEnv {
            platform: &Default::default(),
            tenant: &Default::default(),
        };
        client(&probe, &cfg)
            .map(|_| ())
            .map_err(|m| vec![FieldError::new("accessToken", m)])
    }

    fn build(
        &self,
        env: &BuildEnv<'_>,
        config: &LoadedPlugin,
        out: &mut TenantProviders,
    ) -> Result<(), String> {
        let cfg: MapboxPluginConfig = config.config()?;
        out.routing = Arc::new(client(env, &cfg)?);
        Ok(())
    }

    /// One 1 × 1 Matrix request with the tenant's token.
    async fn test(&self, providers: &TenantProviders) -> TestOutcome {
        if providers.routing.is_built_in() {
            return TestOutcome::failed("Mapbox is not configured");
        }
        match providers.routing.check().await {
            Ok(()) => TestOutcome::ok("Mapbox answered a matrix request with the token"),
            Err(e) => TestOutcome::failed(format!("Mapbox check failed: {e}")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn loaded(public: serde_json::Value, token: &str) -> LoadedPlugin {
        LoadedPlugin {
            plugin_id: "mapbox".into(),
            public: public.as_object().cloned().unwrap_or_default(),
            secrets: json!({ "accessToken": token })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }
    }

    #[test]
    fn profile_and_token_are_checked_without_echoing_the_token() {
        assert!(Mapbox.check(&loaded(json!({}), "pk.abc")).is_ok());
        assert!(
            Mapbox
                .check(&loaded(json!({"profile": "driving-traffic"}), "pk.abc"))
                .is_ok()
        );
        let bad = Mapbox
            .check(&loaded(json!({"profile": "walking"}), "pk.abc"))
            .unwrap_err();
        assert_eq!(bad[0].field, "profile");
        let bad = Mapbox
            .check(&loaded(json!({}), "pk.a b<script>"))
            .unwrap_err();
        assert_eq!(bad[0].field, "accessToken");
        assert!(!bad[0].message.contains("script"));
    }

    #[test]
    fn build_replaces_the_built_in_estimate() {
        let mut out = TenantProviders::default();
        assert!(out.routing.is_built_in());
        let env = BuildEnv {
            platform: &Default::default(),
            tenant: &Default::default(),
        };
        Mapbox
            .build(&env, &loaded(json!({}), "pk.abc"), &mut out)
            .unwrap();
        assert!(!out.routing.is_built_in());
    }
}
