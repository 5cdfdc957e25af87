//! Plugin `stripe`: card payments, deposits and refunds through Stripe Connect with a
//! Standard account. The platform's Stripe key acts on the tenant's connected account
//! (`Stripe-Account`), which onboarding sets; the tenant's own webhook endpoint
//! (`/webhooks/{tenant_slug}/stripe`) is verified with the signing secret configured
//! here (Stripe scheme, <https://docs.stripe.com/webhooks#verify-manually>).

use std::sync::Arc;

use async_trait::async_trait;
use integrations::Capability;
use integrations::stripe::webhook::{self, DEFAULT_TOLERANCE_SECS, SIGNATURE_HEADER};
use serde::Deserialize;

use crate::catalog::{FieldError, FieldKind, FieldSpec, PluginSpec};
use crate::plugin::{
    BuildEnv, InboundHttp, InboundVerifier, LoadedPlugin, Plugin, SecretString, TenantProviders,
    TestOutcome, check_typed,
};

/// Catalog entry.
pub static SPEC: PluginSpec = PluginSpec {
    id: "stripe",
    capability: Capability::Payments,
    display_name: "Stripe",
    description: "Card payments, deposits and refunds through Stripe Connect with a \
        Standard account: the tenant connects their own Stripe account and the \
        platform's Stripe key makes calls on that connected account.",
    built_in: false,
    fields: &[
        FieldSpec {
            name: "webhookSigningSecret",
            label: "Webhook signing secret",
            description: "The signing secret (whsec_...) of the webhook endpoint the \
                tenant adds in their Stripe dashboard, pointing at \
                /webhooks/{tenant_slug}/stripe.",
            kind: FieldKind::Text,
            required: true,
            secret: true,
            prefix: Some("whsec_"),
            max_len: None,
        },
        FieldSpec {
            name: "statementDescriptorSuffix",
            label: "Statement descriptor suffix",
            description: "Text appended to the account's statement descriptor on \
                customers' card statements; at most 22 characters (Stripe's limit).",
            kind: FieldKind::Text,
            required: false,
            secret: false,
            prefix: None,
            max_len: Some(22),
        },
    ],
    docs_url: "https://docs.stripe.com/connect/standard-accounts",
};

/// The typed configuration (keys as in [`SPEC`]). There is deliberately no account id:
/// calls act only on the connected account that Stripe Connect onboarding verified
/// (`tenants.stripe_account_id`, set by the platform), never on one an owner types in.
/// Configurations stored with the old `accountId` field still read (it is ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StripeConfig {
    /// Signing secret of the tenant's webhook endpoint (`whsec_…`).
    pub webhook_signing_secret: SecretString,
    /// Statement descriptor suffix (≤ 22 characters).
    pub statement_descriptor_suffix: Option<String>,
}

/// The plugin.
pub struct Stripe;

/// Verifies `Stripe-Signature` over the raw body with the tenant's signing secret(s).
struct StripeVerifier {
    secrets: Vec<SecretString>,
}

impl InboundVerifier for StripeVerifier {
    fn verify(&self, req: &InboundHttp<'_>) -> Result<(), String> {
        let secrets: Vec<&str> = self.secrets.iter().map(SecretString::expose).collect();
        webhook::verify(
            req.body,
            req.header(&SIGNATURE_HEADER.to_ascii_lowercase())
                .unwrap_or(""),
            &secrets,
            req.now,
            DEFAULT_TOLERANCE_SECS,
        )
        .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Plugin for Stripe {
    fn spec(&self) -> &'static PluginSpec {
        &SPEC
    }

    fn check(&self, config: &LoadedPlugin) -> Result<(), Vec<FieldError>> {
        check_typed::<StripeConfig>(config)
    }

    fn build(
        &self,
        env: &BuildEnv<'_>,
        config: &LoadedPlugin,
        out: &mut TenantProviders,
    ) -> Result<(), String> {
        let cfg: StripeConfig = config.config()?;
        out.set_inbound(
            SPEC.id,
            Arc::new(StripeVerifier {
                secrets: vec![cfg.webhook_signing_secret],
            }),
        );
        if let (Some(platform), Some(account)) =
            (&env.platform.stripe, &env.tenant.stripe_account_id)
        {
            out.payments = Some(Arc::new(platform.for_account(account)));
        }
        Ok(())
    }

    async fn test(&self, providers: &TenantProviders) -> TestOutcome {
        let Some(pay) = providers.payments.clone() else {
            return TestOutcome::failed("no Stripe account is connected yet: start onboarding");
        };
        match pay.check().await {
            Ok(()) => TestOutcome::ok("Stripe answered and accepted the credentials"),
            Err(e) => TestOutcome::failed(format!("Stripe check failed: {e}")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn loaded(public: serde_json::Value, secrets: serde_json::Value) -> LoadedPlugin {
        LoadedPlugin {
            plugin_id: "stripe".into(),
            public: public.as_object().cloned().unwrap_or_default(),
            secrets: secrets.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn typed_config_reads_every_catalog_field() {
        let cfg: StripeConfig = loaded(
            json!({"statementDescriptorSuffix": "SPARKLE"}),
            json!({"webhookSigningSecret": "whsec_abc"}),
        )
        .config()
        .unwrap();
        assert_eq!(cfg.statement_descriptor_suffix.as_deref(), Some("SPARKLE"));
        assert_eq!(cfg.webhook_signing_secret.expose(), "whsec_abc");
        assert!(!format!("{cfg:?}").contains("whsec_abc"));
        // Every catalog field is a field of the typed config, and nothing else is.
        let full = loaded(
            json!({"statementDescriptorSuffix": "x"}),
            json!({"webhookSigningSecret": "whsec_abc"}),
        );
        assert!(Stripe.check(&full).is_ok());
        let missing = loaded(json!({}), json!({}));
        let errs = Stripe.check(&missing).unwrap_err();
        assert!(errs[0].message.contains("webhookSigningSecret"), "{errs:?}");
    }

    #[test]
    fn verifier_accepts_only_the_configured_secret() {
        let body = br#"{"id":"evt_1"}"#;
        let now = 1_700_000_000;
        let mut out = TenantProviders::default();
        let env = BuildEnv {
            platform: &Default::default(),
            tenant: &Default::default(),
        };
        Stripe
            .build(
                &env,
                &loaded(json!({}), json!({"webhookSigningSecret": "whsec_t"})),
                &mut out,
            )
            .unwrap();
        let v = out.inbound("stripe").unwrap();
        let good = vec![(
            "stripe-signature".to_string(),
            webhook::sign(body, "whsec_t", now),
        )];
        let bad = vec![(
            "stripe-signature".to_string(),
            webhook::sign(body, "whsec_x", now),
        )];
        let req = |h| InboundHttp {
            url: "http://x/webhooks/t/stripe",
            headers: h,
            body,
            now,
        };
        assert!(v.verify(&req(&good)).is_ok());
        assert!(v.verify(&req(&bad)).is_err());
        assert!(v.verify(&req(&[])).is_err());
        // Without a platform key there is no card provider, but the endpoint verifies.
        assert!(out.payments.is_none());
    }

    #[test]
    fn only_the_onboarded_account_is_used() {
        let platform = crate::plugin::PlatformProviders {
            stripe: Some(
                integrations::stripe::StripeClient::new(integrations::stripe::StripeConfig {
                    base_url: "http://127.0.0.1:9".into(),
                    secret_key: "sk_test_x".into(),
                    timeout: std::time::Duration::from_secs(1),
                    account: None,
                })
                .unwrap(),
            ),
            ..Default::default()
        };
        // A configuration stored with an account id (older releases) does not choose the
        // account: without an onboarded account there is no card provider at all.
        let legacy = loaded(
            json!({"accountId": "acct_Typed"}),
            json!({"webhookSigningSecret": "whsec_t"}),
        );
        let none = crate::plugin::TenantPluginState::default();
        let mut out = TenantProviders::default();
        Stripe
            .build(
                &BuildEnv {
                    platform: &platform,
                    tenant: &none,
                },
                &legacy,
                &mut out,
            )
            .unwrap();
        assert!(out.payments.is_none());
        let onboarded = crate::plugin::TenantPluginState {
            stripe_account_id: Some("acct_Verified".into()),
            ..Default::default()
        };
        let mut out = TenantProviders::default();
        Stripe
            .build(
                &BuildEnv {
                    platform: &platform,
                    tenant: &onboarded,
                },
                &legacy,
                &mut out,
            )
            .unwrap();
        assert!(out.payments.is_some());
    }
}
