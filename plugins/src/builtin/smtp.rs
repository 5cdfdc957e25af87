//! Plugin `smtp`: email through the business's own SMTP server (its mail provider's
//! submission port), for customers without a mobile number. STARTTLS on port 587 or
//! implicit TLS on 465 (RFC 8314); `none` only for a relay on the same host.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use integrations::Capability;
use integrations::smtp::{SmtpClient, SmtpConfig, SmtpTls};
use serde::Deserialize;

use crate::catalog::{FieldError, FieldKind, FieldSpec, PluginSpec};
use crate::plugin::{BuildEnv, LoadedPlugin, Plugin, SecretString, TenantProviders, TestOutcome};

/// Catalog entry.
pub static SPEC: PluginSpec = PluginSpec {
    id: "smtp",
    capability: Capability::Email,
    display_name: "Email (SMTP)",
    description: "Sends confirmations, reminders and other automatic messages by email \
        to customers without a mobile number, through the business's SMTP server.",
    built_in: false,
    fields: &[
        FieldSpec {
            name: "host",
            label: "SMTP host",
            description: "The server's host name, e.g. smtp.example.com.",
            kind: FieldKind::Text,
            required: true,
            secret: false,
            prefix: None,
            max_len: Some(253),
        },
        FieldSpec {
            name: "port",
            label: "Port",
            description: "587 (STARTTLS) or 465 (TLS).",
            kind: FieldKind::Integer,
            required: true,
            secret: false,
            prefix: None,
            max_len: None,
        },
        FieldSpec {
            name: "tlsMode",
            label: "TLS",
            description: "starttls (port 587), tls (port 465), or none (a relay on the \
                same host only: the password would travel in clear text).",
            kind: FieldKind::Text,
            required: true,
            secret: false,
            prefix: None,
            max_len: Some(8),
        },
        FieldSpec {
            name: "username",
            label: "Username",
            description: "The SMTP login, if the server needs one.",
            kind: FieldKind::Text,
            required: false,
            secret: false,
            prefix: None,
            max_len: Some(254),
        },
        FieldSpec {
            name: "password",
            label: "Password",
            description: "The SMTP password or app password.",
            kind: FieldKind::Text,
            required: false,
            secret: true,
            prefix: None,
            max_len: Some(256),
        },
        FieldSpec {
            name: "fromAddress",
            label: "From",
            description: "The sender, e.g. \"Sparkle Detailing <hello@sparkle.example>\".",
            kind: FieldKind::Text,
            required: true,
            secret: false,
            prefix: None,
            max_len: Some(320),
        },
    ],
    docs_url: "https://www.rfc-editor.org/rfc/rfc8314",
};

/// The typed configuration (keys as in [`SPEC`]).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmtpPluginConfig {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `starttls`, `tls` or `none`.
    pub tls_mode: String,
    /// Login.
    pub username: Option<String>,
    /// Password.
    pub password: Option<SecretString>,
    /// Sender mailbox.
    pub from_address: String,
}

/// The plugin.
pub struct Smtp;

fn client(env: &BuildEnv<'_>, cfg: &SmtpPluginConfig) -> Result<SmtpClient, String> {
    let tls = match cfg.tls_mode.to_ascii_lowercase().as_str() {
        "starttls" => SmtpTls::StartTls,
        "tls" => SmtpTls::Tls,
        "none" => SmtpTls::None,
        _ => return Err("tlsMode must be starttls, tls or none".into()),
    };
    SmtpClient::new(SmtpConfig {
        host: cfg.host.clone(),
        port: cfg.port,
        tls,
        username: cfg.username.clone(),
        password: cfg.password.as_ref().map(|p| p.expose().to_string()),
        from: cfg.from_address.clone(),
        timeout: env.platform.smtp_timeout.unwrap_or(Duration::from_secs(15)),
    })
    .map_err(|e| e.to_string())
}

#[async_trait]
impl Plugin for Smtp {
    fn spec(&self) -> &'static PluginSpec {
        &SPEC
    }

    fn check(&self, config: &LoadedPlugin) -> Result<(), Vec<FieldError>> {
        let err = |message: String| {
            vec![FieldError {
                field: "config".into(),
                message,
            }]
        };
        let cfg: SmtpPluginConfig = config.config().map_err(err)?;
        let probe = BuildEnv {
            platform: &Default::default(),
            tenant: &Default::default(),
        };
        client(&probe, &cfg).map(|_| ()).map_err(err)
    }

    fn build(
        &self,
        env: &BuildEnv<'_>,
        config: &LoadedPlugin,
        out: &mut TenantProviders,
    ) -> Result<(), String> {
        let cfg: SmtpPluginConfig = config.config()?;
        out.email = Some(Arc::new(client(env, &cfg)?));
        Ok(())
    }

    async fn test(&self, providers: &TenantProviders) -> TestOutcome {
        let Some(email) = providers.email.clone().filter(|e| e.delivers()) else {
            return TestOutcome::failed("SMTP is not configured");
        };
        match email.check().await {
            Ok(()) => TestOutcome::ok("the SMTP server answered and accepted the login"),
            Err(e) => TestOutcome::failed(format!("SMTP check failed: {e}")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn loaded(public: serde_json::Value) -> LoadedPlugin {
        LoadedPlugin {
            plugin_id: "smtp".into(),
            public: public.as_object().cloned().unwrap_or_default(),
            secrets: json!({"password": "pw-secret"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }
    }

    #[test]
    fn config_is_checked_and_builds_a_delivering_provider() {
        let good = loaded(
            json!({"host": "smtp.example.com", "port": 587, "tlsMode": "starttls",
            "username": "u", "fromAddress": "Sparkle <hello@sparkle.example>"}),
        );
        assert!(Smtp.check(&good).is_ok());
        let mut out = TenantProviders::default();
        let env = BuildEnv {
            platform: &Default::default(),
            tenant: &Default::default(),
        };
        Smtp.build(&env, &good, &mut out).unwrap();
        assert!(out.email.unwrap().delivers());
        for bad in [
            json!({"host": "smtp.example.com", "port": 587, "tlsMode": "ssl", "username": "u", "fromAddress": "a@b.example"}),
            json!({"host": "smtp.example.com", "port": 587, "tlsMode": "tls", "username": "u", "fromAddress": "not an address"}),
            json!({"host": "smtp.example.com", "port": 0, "tlsMode": "tls", "username": "u", "fromAddress": "a@b.example"}),
        ] {
            assert!(Smtp.check(&loaded(bad)).is_err());
        }
    }
}
