//! Plugin `openai`: the language model behind the built-in phone assistant (the Twilio
//! Voice turn loop, `/webhooks/{tenant_slug}/twilio/voice`). Chat Completions through
//! the `async-openai` crate ([`integrations::llm::OpenAiClient`]); `baseUrl` lets any
//! OpenAI-compatible server stand in. The streaming mode's Realtime sessions
//! ([`integrations::realtime::RealtimeClient`]) use the same key and base URL (as
//! `wss://…/realtime`), `realtimeModel` and `voice`. The API key is a secret: sealed at rest, never
//! returned, logged or echoed.

use std::sync::Arc;

use async_trait::async_trait;
use integrations::Capability;
use integrations::llm::{DEFAULT_BASE_URL, DEFAULT_MODEL, OpenAiClient, OpenAiConfig};
use integrations::realtime::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_REALTIME_MODEL, DEFAULT_VOICE, RealtimeClient, RealtimeConfig,
};
use serde::Deserialize;

use crate::catalog::{FieldError, FieldKind, FieldSpec, PluginSpec};
use crate::plugin::{
    BuildEnv, LoadedPlugin, Plugin, SecretString, TenantProviders, TestOutcome, check_typed,
};

/// Voices of OpenAI's speech models (Realtime / TTS,
/// <https://platform.openai.com/docs/guides/text-to-speech#voice-options>).
pub const VOICES: &[&str] = &[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
    "marin", "cedar",
];

/// Highest sampling temperature the Chat Completions API accepts.
pub const MAX_TEMPERATURE: f32 = 2.0;

/// Catalog entry.
pub static SPEC: PluginSpec = PluginSpec {
    id: "openai",
    capability: Capability::Llm,
    display_name: "OpenAI (phone assistant)",
    description: "The language model of the built-in phone assistant that answers the \
        business's Twilio number (/webhooks/{tenant_slug}/twilio/voice): Chat Completions \
        with the voice tools. Any OpenAI-compatible server works through baseUrl.",
    built_in: false,
    fields: &[
        FieldSpec {
            name: "apiKey",
            label: "API key",
            description: "An OpenAI API key (sk-…), or the key of the compatible server.",
            kind: FieldKind::Text,
            required: true,
            secret: true,
            prefix: None,
            max_len: Some(300),
        },
        FieldSpec {
            name: "model",
            label: "Model",
            description: "Chat model with tool calling (default gpt-4o-mini).",
            kind: FieldKind::Text,
            required: false,
            secret: false,
            prefix: None,
            max_len: Some(100),
        },
        FieldSpec {
            name: "realtimeModel",
            label: "Realtime model",
            description: "Speech-to-speech model of the streaming mode (OpenAI Realtime \
                API, default gpt-realtime).",
            kind: FieldKind::Text,
            required: false,
            secret: false,
            prefix: None,
            max_len: Some(100),
        },
        FieldSpec {
            name: "baseUrl",
            label: "API base URL",
            description: "API root including the version (default \
                https://api.openai.com/v1); set it to use an OpenAI-compatible server.",
            kind: FieldKind::Url,
            required: false,
            secret: false,
            prefix: None,
            max_len: Some(300),
        },
        FieldSpec {
            name: "voice",
            label: "Voice",
            description: "OpenAI voice for the streaming (Realtime) mode: alloy, ash, \
                ballad, coral, echo, fable, nova, onyx, sage, shimmer, verse, marin or \
                cedar. The turn-based mode speaks with Twilio's <Say> voice.",
            kind: FieldKind::Text,
            required: false,
            secret: false,
            prefix: None,
            max_len: Some(16),
        },
        FieldSpec {
            name: "temperature",
            label: "Temperature",
            description: "Sampling temperature, a number from 0 to 2 (default: the \
                model's own, 1). Lower is more predictable.",
            kind: FieldKind::Percent,
            required: false,
            secret: false,
            prefix: None,
            max_len: None,
        },
    ],
    docs_url: "https://platform.openai.com/docs/api-reference/chat/create",
};

/// The typed configuration (keys as in [`SPEC`]).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenAiPluginConfig {
    /// The API key.
    pub api_key: SecretString,
    /// Model (default [`DEFAULT_MODEL`]).
    pub model: Option<String>,
    /// Realtime model of the streaming mode (default [`DEFAULT_REALTIME_MODEL`]).
    pub realtime_model: Option<String>,
    /// API root (default [`DEFAULT_BASE_URL`]).
    pub base_url: Option<String>,
    /// Voice of the streaming mode (one of [`VOICES`]).
    pub voice: Option<String>,
    /// Sampling temperature, 0–[`MAX_TEMPERATURE`].
    pub temperature: Option<f32>,
}

impl OpenAiPluginConfig {
    /// Field errors beyond the catalog's checks (voice name, temperature range, base URL
    /// scheme, API key characters); never echoing a value.
    pub fn problems(&self, allow_http: bool) -> Vec<FieldError> {
        let mut out = Vec::new();
        let key = self.api_key.expose();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_graphic()) {
            out.push(FieldError::new(
                "apiKey",
                "must be printable ASCII without spaces",
            ));
        }
        if let Some(m) = &self.model
            && (m.is_empty() || !m.chars().all(|c| c.is_ascii_graphic()))
        {
            out.push(FieldError::new(
                "model",
                "must be a model name without spaces",
            ));
        }
        if let Some(m) = &self.realtime_model
            && (m.is_empty() || !m.chars().all(|c| c.is_ascii_graphic()))
        {
            out.push(FieldError::new(
                "realtimeModel",
                "must be a model name without spaces",
            ));
        }
        if let Some(v) = &self.voice
            && !VOICES.contains(&v.as_str())
        {
            out.push(FieldError::new(
                "voice",
                format!("must be one of {}", VOICES.join(", ")),
            ));
        }
        if let Some(t) = self.temperature
            && !(0.0..=MAX_TEMPERATURE).contains(&t)
        {
            out.push(FieldError::new("temperature", "must be from 0 to 2"));
        }
        if let Some(u) = &self.base_url
            && !(u.starts_with("https://") || (allow_http && u.starts_with("http://")))
        {
            out.push(FieldError::new("baseUrl", "must be an https:// URL"));
        }
        out
    }
}

/// The plugin.
pub struct OpenAi;

fn client(env: &BuildEnv<'_>, cfg: &OpenAiPluginConfig) -> Result<OpenAiClient, String> {
    if let Some(e) = cfg.problems(env.platform.llm_allow_http).first() {
        return Err(format!("openai configuration: {}: {}", e.field, e.message));
    }
    OpenAiClient::new(OpenAiConfig {
        base_url: cfg
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
        api_key: cfg.api_key.expose().to_string(),
        model: cfg
            .model
            .clone()
            .unwrap_or_else(|| DEFAULT_MODEL.to_string()),
        temperature: cfg.temperature,
        timeout: env
            .platform
            .llm_timeout
            .unwrap_or(integrations::llm::DEFAULT_TIMEOUT),
    })
}

#[async_trait]
impl Plugin for OpenAi {
    fn spec(&self) -> &'static PluginSpec {
        &SPEC
    }

    fn check(&self, config: &LoadedPlugin) -> Result<(), Vec<FieldError>> {
        check_typed::<OpenAiPluginConfig>(config)?;
        let cfg: OpenAiPluginConfig = config
            .config()
            .map_err(|m| vec![FieldError::new("config", m)])?;
        // Plain http is judged when the tenant's providers are built (the platform
        // decides whether it is allowed); here only the rest.
        let problems = cfg.problems(true);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    fn build(
        &self,
        env: &BuildEnv<'_>,
        config: &LoadedPlugin,
        out: &mut TenantProviders,
    ) -> Result<(), String> {
        let cfg: OpenAiPluginConfig = config.config()?;
        out.llm = Some(Arc::new(client(env, &cfg)?));
        out.realtime = Some(Arc::new(RealtimeClient::new(RealtimeConfig {
            base_url: cfg
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
            api_key: cfg.api_key.expose().to_string(),
            model: cfg
                .realtime_model
                .clone()
                .unwrap_or_else(|| DEFAULT_REALTIME_MODEL.to_string()),
            voice: cfg
                .voice
                .clone()
                .unwrap_or_else(|| DEFAULT_VOICE.to_string()),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        })?));
        Ok(())
    }

    /// A one-word chat completion with the tenant's key.
    async fn test(&self, providers: &TenantProviders) -> TestOutcome {
        let Some(llm) = &providers.llm else {
            return TestOutcome::failed("OpenAI is not configured");
        };
        match llm.check().await {
            Ok(()) => TestOutcome::ok(format!("{} answered a chat completion", llm.model())),
            Err(e) => TestOutcome::failed(format!("the chat completion failed: {e}")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plugin::PlatformProviders;
    use serde_json::json;

    fn loaded(public: serde_json::Value, key: &str) -> LoadedPlugin {
        LoadedPlugin {
            plugin_id: "openai".into(),
            public: public.as_object().cloned().unwrap_or_default(),
            secrets: json!({ "apiKey": key })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }
    }

    #[test]
    fn configuration_is_checked_without_echoing_the_key() {
        assert!(OpenAi.check(&loaded(json!({}), "sk-abc")).is_ok());
        assert!(
            OpenAi
                .check(&loaded(
                    json!({"model": "gpt-4o", "voice": "alloy", "temperature": 0.4,
                        "baseUrl": "https://llm.example.com/v1"}),
                    "sk-abc"
                ))
                .is_ok()
        );
        let bad = OpenAi
            .check(&loaded(
                json!({"voice": "robot", "temperature": 3}),
                "sk a<script>",
            ))
            .unwrap_err();
        let fields: Vec<&str> = bad.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["apiKey", "voice", "temperature"]);
        assert!(bad.iter().all(|e| !e.message.contains("script")));
    }

    #[test]
    fn build_adds_the_llm_and_plain_http_needs_the_platforms_consent() {
        let strict = PlatformProviders::default();
        let tenant = Default::default();
        let cfg = loaded(json!({"baseUrl": "http://127.0.0.1:9/v1"}), "sk-abc");
        let mut out = TenantProviders::default();
        let env = BuildEnv {
            platform: &strict,
            tenant: &tenant,
        };
        assert!(OpenAi.build(&env, &cfg, &mut out).is_err());
        assert!(out.llm.is_none());
        let lax = PlatformProviders {
            llm_allow_http: true,
            ..Default::default()
        };
        let env = BuildEnv {
            platform: &lax,
            tenant: &tenant,
        };
        OpenAi.build(&env, &cfg, &mut out).unwrap();
        assert_eq!(out.llm.as_ref().unwrap().model(), DEFAULT_MODEL);
    }
}
