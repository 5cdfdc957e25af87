//! Plugin `twilio`: text messages through Twilio Programmable Messaging, on the tenant's
//! own Twilio account (Account SID and Auth Token), from one number or a Messaging
//! Service. Inbound texts and delivery statuses come back to
//! `/webhooks/{tenant_slug}/twilio/sms` and `/webhooks/{tenant_slug}/twilio/status`,
//! verified with `X-Twilio-Signature` and the Auth Token
//! (<https://www.twilio.com/docs/usage/webhooks/webhooks-security>). Configuring it
//! makes the sending number (or Messaging Service) the tenant's in the provider routing
//! table, so no other tenant can claim it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use integrations::Capability;
use integrations::twilio::signature::{self, SIGNATURE_HEADER};
use integrations::twilio::{DEFAULT_BASE_URL, Sender, TwilioClient, TwilioConfig};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::catalog::{FieldError, FieldKind, FieldSpec, PluginSpec};
use crate::plugin::{
    BuildEnv, InboundHttp, InboundVerifier, LoadedPlugin, Plugin, SecretString, TenantProviders,
    TestOutcome,
};

/// Route kind of a tenant's sending number in the provider routing table.
pub const ROUTE_NUMBER: &str = "twilio_number";
/// Route kind of a tenant's Messaging Service in the provider routing table.
pub const ROUTE_MESSAGING_SERVICE: &str = "twilio_messaging_service";

/// Catalog entry.
pub static SPEC: PluginSpec = PluginSpec {
    id: "twilio",
    capability: Capability::Sms,
    display_name: "Twilio SMS",
    description: "Two-way text messages through the business's own Twilio account. \
        Point the number's (or Messaging Service's) incoming-message webhook at \
        /webhooks/{tenant_slug}/twilio/sms; delivery statuses arrive at \
        /webhooks/{tenant_slug}/twilio/status by themselves.",
    built_in: false,
    fields: &[
        FieldSpec {
            name: "accountSid",
            label: "Account SID",
            description: "The Twilio Account SID (AC followed by 32 hex characters).",
            kind: FieldKind::Text,
            required: true,
            secret: false,
            prefix: Some("AC"),
            max_len: Some(34),
        },
        FieldSpec {
            name: "authToken",
            label: "Auth Token",
            description: "The account's Auth Token; it also verifies Twilio's webhooks.",
            kind: FieldKind::Text,
            required: true,
            secret: true,
            prefix: None,
            max_len: Some(64),
        },
        FieldSpec {
            name: "messagingServiceSid",
            label: "Messaging Service SID",
            description: "Send through this Messaging Service (MG…); set this or a \
                From number, not both.",
            kind: FieldKind::Text,
            required: false,
            secret: false,
            prefix: Some("MG"),
            max_len: Some(34),
        },
        FieldSpec {
            name: "fromNumber",
            label: "From number",
            description: "Send from this Twilio number, E.164 (+14155550123); set this \
                or a Messaging Service SID, not both.",
            kind: FieldKind::Text,
            required: false,
            secret: false,
            prefix: Some("+"),
            max_len: Some(16),
        },
    ],
    docs_url: "https://www.twilio.com/docs/messaging/api/message-resource",
};

/// The typed configuration (keys as in [`SPEC`]).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TwilioPluginConfig {
    /// Account SID (`AC…`).
    pub account_sid: String,
    /// Auth Token.
    pub auth_token: SecretString,
    /// Messaging Service SID (`MG…`), if sending through one.
    pub messaging_service_sid: Option<String>,
    /// From number (E.164), if sending from one number.
    pub from_number: Option<String>,
}

impl TwilioPluginConfig {
    /// The sending identity. Errors: neither or both set.
    pub fn sender(&self) -> Result<Sender, String> {
        match (&self.messaging_service_sid, &self.from_number) {
            (Some(mg), None) => Ok(Sender::MessagingService(mg.clone())),
            (None, Some(from)) => Ok(Sender::From(from.clone())),
            _ => Err("set either messagingServiceSid or fromNumber (exactly one)".into()),
        }
    }
}

/// The plugin.
pub struct Twilio;

/// Verifies `X-Twilio-Signature` with the tenant's Auth Token.
struct TwilioVerifier {
    token: SecretString,
}

impl InboundVerifier for TwilioVerifier {
    fn verify(&self, req: &InboundHttp<'_>) -> Result<(), String> {
        signature::verify(
            self.token.expose(),
            req.url,
            req.header("content-type"),
            req.body,
            req.header(&SIGNATURE_HEADER.to_ascii_lowercase()),
        )
        .map_err(|e| e.to_string())
    }

    fn refusal_status(&self) -> u16 {
        403
    }
}

fn client(env: &BuildEnv<'_>, cfg: &TwilioPluginConfig) -> Result<TwilioClient, String> {
    let base = if env.platform.twilio_base_url.is_empty() {
        DEFAULT_BASE_URL.to_string()
    } else {
        env.platform.twilio_base_url.clone()
    };
    TwilioClient::new(TwilioConfig {
        base_url: base,
        account_sid: cfg.account_sid.clone(),
        auth_token: cfg.auth_token.expose().to_string(),
        sender: cfg.sender()?,
        timeout: env
            .platform
            .twilio_timeout
            .unwrap_or(Duration::from_secs(15)),
    })
    .map_err(|e| e.to_string())
}

#[async_trait]
impl Plugin for Twilio {
    fn spec(&self) -> &'static PluginSpec {
        &SPEC
    }

    fn check(&self, config: &LoadedPlugin) -> Result<(), Vec<FieldError>> {
        let cfg: TwilioPluginConfig = config.config().map_err(|message| {
            vec![FieldError {
                field: "config".into(),
                message,
            }]
        })?;
        let probe = BuildEnv {
            platform: &Default::default(),
            tenant: &Default::default(),
        };
        client(&probe, &cfg).map(|_| ()).map_err(|message| {
            vec![FieldError {
                field: "config".into(),
                message,
            }]
        })
    }

    fn build(
        &self,
        env: &BuildEnv<'_>,
        config: &LoadedPlugin,
        out: &mut TenantProviders,
    ) -> Result<(), String> {
        let cfg: TwilioPluginConfig = config.config()?;
        out.sms = Some(Arc::new(client(env, &cfg)?));
        out.set_inbound(
            SPEC.id,
            Arc::new(TwilioVerifier {
                token: cfg.auth_token,
            }),
        );
        Ok(())
    }

    fn route_kinds(&self) -> &'static [&'static str] {
        &[ROUTE_NUMBER, ROUTE_MESSAGING_SERVICE]
    }

    fn routes(&self, public: &Map<String, Value>) -> Vec<(&'static str, String)> {
        let text = |k: &str| public.get(k).and_then(Value::as_str).map(str::to_string);
        match (text("fromNumber"), text("messagingServiceSid")) {
            (Some(n), None) => vec![(ROUTE_NUMBER, n)],
            (None, Some(s)) => vec![(ROUTE_MESSAGING_SERVICE, s)],
            _ => Vec::new(),
        }
    }

    async fn test(&self, providers: &TenantProviders) -> TestOutcome {
        let Some(sms) = providers.sms.clone().filter(|s| s.delivers()) else {
            return TestOutcome::failed("Twilio is not configured");
        };
        match sms.check().await {
            Ok(()) => TestOutcome::ok("Twilio answered and accepted the credentials"),
            Err(e) => TestOutcome::failed(format!("Twilio check failed: {e}")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    fn loaded(public: serde_json::Value) -> LoadedPlugin {
        LoadedPlugin {
            plugin_id: "twilio".into(),
            public: public.as_object().cloned().unwrap_or_default(),
            secrets: json!({"authToken": "12345"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }
    }

    #[test]
    fn exactly_one_sender_and_its_route() {
        let from = loaded(json!({"accountSid": SID, "fromNumber": "+14155550100"}));
        assert!(Twilio.check(&from).is_ok());
        assert_eq!(
            Twilio.routes(&from.public),
            vec![(ROUTE_NUMBER, "+14155550100".to_string())]
        );
        let neither = loaded(json!({"accountSid": SID}));
        assert!(Twilio.check(&neither).is_err());
        assert!(Twilio.routes(&neither.public).is_empty());
        let both = loaded(json!({
            "accountSid": SID,
            "fromNumber": "+14155550100",
            "messagingServiceSid": "MG0123456789abcdef0123456789abcdef"
        }));
        assert!(Twilio.check(&both).is_err());
        let bad_sid = loaded(json!({"accountSid": "ACnope", "fromNumber": "+14155550100"}));
        assert!(Twilio.check(&bad_sid).is_err());
    }

    #[test]
    fn verifier_answers_403_and_checks_the_signature() {
        let mut out = TenantProviders::default();
        let env = BuildEnv {
            platform: &Default::default(),
            tenant: &Default::default(),
        };
        Twilio
            .build(
                &env,
                &loaded(json!({"accountSid": SID, "fromNumber": "+14155550100"})),
                &mut out,
            )
            .unwrap();
        let v = out.inbound("twilio").unwrap();
        assert_eq!(v.refusal_status(), 403);
        let url = "https://example.com/webhooks/t/twilio/sms";
        let body = b"Body=hi&From=%2B14155550123";
        let params = signature::parse_form(body);
        let sig = signature::sign("12345", url, &params);
        let headers = vec![
            (
                "content-type".to_string(),
                "application/x-www-form-urlencoded".to_string(),
            ),
            ("x-twilio-signature".to_string(), sig),
        ];
        let req = |h: &[(String, String)], u: &'static str| {
            v.verify(&InboundHttp {
                url: u,
                headers: h,
                body,
                now: 0,
            })
        };
        assert!(req(&headers, url).is_ok());
        assert!(req(&headers, "https://example.com/webhooks/t/twilio/status").is_err());
        assert!(req(&headers[..1], url).is_err());
        assert!(out.sms.as_ref().unwrap().delivers());
    }
}
