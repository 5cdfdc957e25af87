//! Plugin `retell`: lets a Retell AI agent call the tenant's voice tools. Retell signs
//! each custom-function request with the account's API key (`X-Retell-Signature`, see
//! [`integrations::retell`]); the tenant stores that key here (secret: sealed at rest,
//! never returned). `POST /agent/{tenant_slug}/retell` then accepts only requests whose
//! signature verifies with it (and that also carry one of the tenant's agent keys, which
//! names the acting agent principal and its rate limit).

use std::sync::Arc;

use async_trait::async_trait;
use integrations::Capability;
use integrations::retell::{self, SIGNATURE_HEADER};
use serde::Deserialize;

use crate::catalog::{FieldError, FieldKind, FieldSpec, PluginSpec};
use crate::plugin::{
    BuildEnv, InboundHttp, InboundVerifier, LoadedPlugin, Plugin, SecretString, TenantProviders,
    TestOutcome, check_typed,
};

/// Catalog entry.
pub static SPEC: PluginSpec = PluginSpec {
    id: "retell",
    capability: Capability::Voice,
    display_name: "Retell AI voice agent",
    description: "Lets a Retell AI agent check availability, book, move and cancel \
        appointments and answer questions through custom functions pointed at \
        /agent/{tenant_slug}/retell. Requests are verified with the Retell API key.",
    built_in: false,
    fields: &[FieldSpec {
        name: "apiKey",
        label: "Retell API key",
        description: "The Retell API key marked \"webhook\" in the Retell dashboard; \
            Retell signs every custom-function request with it.",
        kind: FieldKind::Text,
        required: true,
        secret: true,
        prefix: None,
        max_len: Some(200),
    }],
    docs_url: "https://docs.retellai.com/features/secure-webhook",
};

/// The typed configuration (keys as in [`SPEC`]).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetellPluginConfig {
    /// The Retell API key that signs requests.
    pub api_key: SecretString,
}

/// Verifies `X-Retell-Signature` with the tenant's Retell API key.
struct RetellVerifier {
    key: SecretString,
}

impl InboundVerifier for RetellVerifier {
    fn verify(&self, req: &InboundHttp<'_>) -> Result<(), String> {
        retell::verify(
            self.key.expose(),
            req.body,
            req.header(&SIGNATURE_HEADER.to_ascii_lowercase()),
            req.now.saturating_mul(1000),
        )
        .map_err(|e| e.to_string())
    }

    fn refusal_status(&self) -> u16 {
        401
    }
}

/// The plugin.
pub struct Retell;

#[async_trait]
impl Plugin for Retell {
    fn spec(&self) -> &'static PluginSpec {
        &SPEC
    }

    fn check(&self, config: &LoadedPlugin) -> Result<(), Vec<FieldError>> {
        check_typed::<RetellPluginConfig>(config)
    }

    fn build(
        &self,
        _env: &BuildEnv<'_>,
        config: &LoadedPlugin,
        out: &mut TenantProviders,
    ) -> Result<(), String> {
        let cfg: RetellPluginConfig = config.config()?;
        out.set_inbound(SPEC.id, Arc::new(RetellVerifier { key: cfg.api_key }));
        Ok(())
    }

    async fn test(&self, providers: &TenantProviders) -> TestOutcome {
        if providers.inbound(SPEC.id).is_some() {
            TestOutcome::ok("the API key is stored; Retell requests are verified with it")
        } else {
            TestOutcome::failed("no Retell API key is configured")
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_checks_the_retell_signature_in_milliseconds() {
        let v = RetellVerifier {
            key: serde_json::from_value(serde_json::json!("key_1")).unwrap(),
        };
        let body = br#"{"name":"business_info","args":{}}"#;
        let now = 1_764_000_000;
        let headers = vec![(
            "x-retell-signature".to_string(),
            retell::sign("key_1", body, now * 1000 + 250),
        )];
        let req = InboundHttp {
            url: "https://example.com/agent/acme/retell",
            headers: &headers,
            body,
            now,
        };
        assert_eq!(v.verify(&req), Ok(()));
        assert_eq!(v.refusal_status(), 401);
        let forged = vec![(
            "x-retell-signature".to_string(),
            retell::sign("key_2", body, now * 1000),
        )];
        assert!(
            v.verify(&InboundHttp {
                headers: &forged,
                ..req
            })
            .is_err()
        );
        assert!(
            v.verify(&InboundHttp {
                headers: &[],
                ..req
            })
            .is_err()
        );
    }
}
