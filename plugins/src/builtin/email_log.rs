//! Plugin `email_log` (built in): emails are recorded, not sent, so a tenant without an
//! SMTP server still sees the emails automatic messages would send (marked `LOGGED`,
//! not delivered, because [`EmailProvider::delivers`] is `false`).

use std::sync::Arc;

use async_trait::async_trait;
use integrations::email::{EmailProvider, MAX_TEXT_CHARS, OutboundEmail, SentEmail};
use integrations::{Capability, ProviderError};

use crate::catalog::PluginSpec;
use crate::plugin::{BuildEnv, LoadedPlugin, Plugin, TenantProviders};

/// Catalog entry.
pub static SPEC: PluginSpec = PluginSpec {
    id: "email_log",
    capability: Capability::Email,
    display_name: "Email log (not delivered)",
    description: "Records emails instead of sending them. Used when no email provider \
        is configured; nothing reaches the customer.",
    built_in: true,
    fields: &[],
    docs_url: "",
};

/// The provider: accepts well-formed emails and sends nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogEmail;

#[async_trait]
impl EmailProvider for LogEmail {
    async fn send(&self, msg: &OutboundEmail) -> Result<SentEmail, ProviderError> {
        if msg.text.trim().is_empty() || msg.text.chars().count() > MAX_TEXT_CHARS {
            return Err(ProviderError::InvalidInput(format!(
                "text must be 1–{MAX_TEXT_CHARS} characters"
            )));
        }
        Ok(SentEmail {
            message_id: format!(
                "<log-{}@servicegraph.invalid>",
                uuid::Uuid::new_v4().simple()
            ),
        })
    }

    fn delivers(&self) -> bool {
        false
    }

    async fn check(&self) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// The plugin.
pub struct EmailLog;

#[async_trait]
impl Plugin for EmailLog {
    fn spec(&self) -> &'static PluginSpec {
        &SPEC
    }

    fn build(
        &self,
        _env: &BuildEnv<'_>,
        _config: &LoadedPlugin,
        out: &mut TenantProviders,
    ) -> Result<(), String> {
        out.email = Some(Arc::new(LogEmail));
        Ok(())
    }
}
