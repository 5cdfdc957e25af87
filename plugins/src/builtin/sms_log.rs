//! Plugin `sms_log` (built in): text messages are recorded, not sent, so a tenant
//! without Twilio (the demo tenant, a new sign-up) still gets threads, reminders and
//! templates it can look at. Every message it takes is marked `LOGGED` (not delivered)
//! by the messaging domain, because [`SmsProvider::delivers`] is `false`.

use std::sync::Arc;

use async_trait::async_trait;
use integrations::sms::{MAX_BODY_CHARS, OutboundSms, SentSms, SmsProvider};
use integrations::{Capability, ProviderError};

use crate::catalog::PluginSpec;
use crate::plugin::{BuildEnv, LoadedPlugin, Plugin, TenantProviders};

/// Catalog entry.
pub static SPEC: PluginSpec = PluginSpec {
    id: "sms_log",
    capability: Capability::Sms,
    display_name: "Message log (not delivered)",
    description: "Records text messages in the conversation instead of sending them. \
        Used when no SMS provider is configured; nothing reaches the customer.",
    built_in: true,
    fields: &[],
    docs_url: "",
};

/// The provider: accepts well-formed messages and sends nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSms;

#[async_trait]
impl SmsProvider for LogSms {
    async fn send(&self, msg: &OutboundSms) -> Result<SentSms, ProviderError> {
        if msg.body.trim().is_empty() || msg.body.chars().count() > MAX_BODY_CHARS {
            return Err(ProviderError::InvalidInput(format!(
                "body must be 1–{MAX_BODY_CHARS} characters"
            )));
        }
        Ok(SentSms {
            sid: format!("log_{}", uuid::Uuid::new_v4().simple()),
            status: "logged".into(),
        })
    }

    fn delivers(&self) -> bool {
        false
    }

    fn sender(&self) -> String {
        "log".into()
    }

    async fn check(&self) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// The plugin.
pub struct SmsLog;

#[async_trait]
impl Plugin for SmsLog {
    fn spec(&self) -> &'static PluginSpec {
        &SPEC
    }

    fn build(
        &self,
        _env: &BuildEnv<'_>,
        _config: &LoadedPlugin,
        out: &mut TenantProviders,
    ) -> Result<(), String> {
        out.sms = Some(Arc::new(LogSms));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_without_delivering_and_refuses_bad_bodies() {
        let sent = LogSms
            .send(&OutboundSms {
                to: "+14155550123".into(),
                body: "hi".into(),
                status_callback: None,
            })
            .await
            .unwrap();
        assert!(sent.sid.starts_with("log_"));
        assert!(!LogSms.delivers());
        let long = "x".repeat(MAX_BODY_CHARS + 1);
        for body in ["  ", long.as_str()] {
            let err = LogSms
                .send(&OutboundSms {
                    to: "+14155550123".into(),
                    body: body.into(),
                    status_callback: None,
                })
                .await
                .unwrap_err();
            assert!(matches!(err, ProviderError::InvalidInput(_)));
        }
    }
}
