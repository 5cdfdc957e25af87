//! Language models for the voice assistant: the [`LlmProvider`] capability, its plain
//! data types, and the OpenAI Chat Completions client ([`OpenAiClient`], through the
//! `async-openai` crate) that works with any OpenAI-compatible server (its `base_url`).
//!
//! The message and tool shapes are those of the Chat Completions API
//! (<https://platform.openai.com/docs/api-reference/chat/create>): a conversation of
//! `system` / `user` / `assistant` (text and/or `tool_calls`) / `tool` messages and a
//! list of function tools; the answer is the first choice's assistant message.

use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, CreateChatCompletionRequest, CreateChatCompletionResponse,
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ProviderError;

/// OpenAI's API root (the default `base_url`).
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The default model.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// Default per-request timeout of the client (callers apply their own, shorter, turn
/// budget on top).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One tool call the model asked for (Chat Completions `tool_calls[]` of type
/// `function`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmToolCall {
    /// The model's id of the call (`call_…`); the `tool` message answering it carries
    /// it as `tool_call_id`.
    pub id: String,
    /// Function name.
    pub name: String,
    /// Arguments as the JSON text the model produced (may be malformed).
    pub arguments: String,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum ChatMessage {
    /// Instructions.
    System {
        /// Text.
        content: String,
    },
    /// What the caller said.
    User {
        /// Text.
        content: String,
    },
    /// What the model answered: text, tool calls, or both.
    Assistant {
        /// Text, if any.
        content: Option<String>,
        /// Tool calls, possibly none.
        #[serde(default)]
        tool_calls: Vec<LlmToolCall>,
    },
    /// The result of one tool call.
    Tool {
        /// The [`LlmToolCall::id`] answered.
        tool_call_id: String,
        /// The result, as text.
        content: String,
    },
}

impl ChatMessage {
    /// The Chat Completions wire form of this message.
    pub fn wire(&self) -> Value {
        match self {
            ChatMessage::System { content } => json!({"role": "system", "content": content}),
            ChatMessage::User { content } => json!({"role": "user", "content": content}),
            ChatMessage::Assistant {
                content,
                tool_calls,
            } => {
                let mut m = json!({"role": "assistant", "content": content});
                if !tool_calls.is_empty() {
                    m["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| {
                            json!({"id": c.id, "type": "function",
                                "function": {"name": c.name, "arguments": c.arguments}})
                        })
                        .collect();
                }
                m
            }
            ChatMessage::Tool {
                tool_call_id,
                content,
            } => json!({"role": "tool", "tool_call_id": tool_call_id, "content": content}),
        }
    }
}

/// A function tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmTool {
    /// Function name.
    pub name: String,
    /// What it does (the model reads this).
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
    /// Structured outputs: the arguments always match `parameters` (which then needs
    /// `additionalProperties: false` and every property required).
    pub strict: bool,
}

/// One chat-completion question.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The conversation, oldest first (usually a system message first).
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call (none: text only).
    pub tools: Vec<LlmTool>,
    /// Upper bound on generated tokens (`max_completion_tokens`), if any.
    pub max_tokens: Option<u32>,
}

/// The model's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatReply {
    /// Text to say, if any.
    pub content: Option<String>,
    /// Tool calls to run, possibly none.
    pub tool_calls: Vec<LlmToolCall>,
}

/// A chat-completion model (OpenAI, or any server speaking its API).
#[async_trait]
pub trait LlmProvider: Send + Sync {
    /// One chat completion. Errors: [`ProviderError::Timeout`] (the client's timeout),
    /// [`ProviderError::Unavailable`] (network, 429, 5xx, a malformed answer),
    /// [`ProviderError::Rejected`] (4xx with OpenAI's error `code` or the HTTP status),
    /// [`ProviderError::InvalidInput`] (a request that cannot be expressed).
    async fn chat(&self, req: &ChatRequest) -> Result<ChatReply, ProviderError>;

    /// The model asked (`gpt-4o-mini`, …).
    fn model(&self) -> &str;

    /// The cheapest real call that proves the credentials work (for `testPlugin`): a
    /// one-word completion.
    async fn check(&self) -> Result<(), ProviderError> {
        self.chat(&ChatRequest {
            messages: vec![ChatMessage::User {
                content: "Reply with the word OK.".into(),
            }],
            tools: vec![],
            max_tokens: Some(5),
        })
        .await
        .map(|_| ())
    }
}

/// Settings of an [`OpenAiClient`].
#[derive(Clone)]
pub struct OpenAiConfig {
    /// API root including the version (`https://api.openai.com/v1`, or an
    /// OpenAI-compatible server's); tests point it at a mock.
    pub base_url: String,
    /// The API key (sent as `Authorization: Bearer …`; never logged).
    pub api_key: String,
    /// Model name.
    pub model: String,
    /// Sampling temperature 0–2 (`None`: the server's default).
    pub temperature: Option<f32>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .field("temperature", &self.temperature)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The Chat Completions client (`async-openai` over our rustls `reqwest`).
pub struct OpenAiClient {
    client: async_openai::Client<OpenAIConfig>,
    model: String,
    temperature: Option<f32>,
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl OpenAiClient {
    /// A client. Errors: the HTTP client could not be built (TLS setup).
    pub fn new(cfg: OpenAiConfig) -> Result<OpenAiClient, String> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|_| "the HTTP client could not be built".to_string())?;
        let config = OpenAIConfig::new()
            .with_api_key(cfg.api_key)
            .with_api_base(cfg.base_url.trim_end_matches('/'));
        Ok(OpenAiClient {
            client: async_openai::Client::with_config(config).with_http_client(http),
            model: cfg.model,
            temperature: cfg.temperature,
        })
    }

    /// The request body for `req` (the Chat Completions wire form).
    pub fn body(&self, req: &ChatRequest) -> Value {
        let mut body = json!({
            "model": self.model,
            "messages": req.messages.iter().map(ChatMessage::wire).collect::<Vec<_>>(),
        });
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description,
                        "parameters": t.parameters, "strict": t.strict}})
                })
                .collect();
            body["parallel_tool_calls"] = json!(false);
        }
        if let Some(t) = self.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(m) = req.max_tokens {
            body["max_completion_tokens"] = json!(m);
        }
        body
    }
}

fn provider_error(e: OpenAIError) -> ProviderError {
    match e {
        OpenAIError::Reqwest(e) if e.is_timeout() => ProviderError::Timeout,
        OpenAIError::Reqwest(_) => ProviderError::Unavailable("network error".into()),
        OpenAIError::ApiError(r) => {
            let status = r.status_code.as_u16();
            if status == 429 || status >= 500 {
                ProviderError::Unavailable(format!("HTTP {status}"))
            } else {
                ProviderError::Rejected {
                    code: r
                        .api_error
                        .code
                        .filter(|c| c.len() <= 64)
                        .unwrap_or_else(|| format!("HTTP {status}")),
                }
            }
        }
        OpenAIError::JSONDeserialize(..) => {
            ProviderError::Unavailable("malformed chat completion".into())
        }
        OpenAIError::InvalidArgument(m) => ProviderError::InvalidInput(m),
        _ => ProviderError::Unavailable("chat completion failed".into()),
    }
}

/// The first choice of `resp` as a [`ChatReply`].
fn reply(resp: CreateChatCompletionResponse) -> Result<ChatReply, ProviderError> {
    let Some(choice) = resp.choices.into_iter().next() else {
        return Err(ProviderError::Unavailable("no choice in the answer".into()));
    };
    let tool_calls = choice
        .message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| match c {
            ChatCompletionMessageToolCalls::Function(f) => Some(LlmToolCall {
                id: f.id,
                name: f.function.name,
                arguments: f.function.arguments,
            }),
            ChatCompletionMessageToolCalls::Custom(_) => None,
        })
        .collect();
    Ok(ChatReply {
        content: choice
            .message
            .content
            .filter(|c| !c.trim().is_empty())
            .or(choice.message.refusal),
        tool_calls,
    })
}

#[async_trait]
impl LlmProvider for OpenAiClient {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatReply, ProviderError> {
        let request: CreateChatCompletionRequest = serde_json::from_value(self.body(req))
            .map_err(|_| ProviderError::InvalidInput("unexpressible chat request".into()))?;
        let resp = self
            .client
            .chat()
            .create(request)
            .await
            .map_err(provider_error)?;
        reply(resp)
    }

    fn model(&self) -> &str {
        &self.model
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_chat_completions_wire_form() {
        let m = ChatMessage::Assistant {
            content: None,
            tool_calls: vec![LlmToolCall {
                id: "call_1".into(),
                name: "business_info".into(),
                arguments: "{\"topic\":null}".into(),
            }],
        };
        assert_eq!(
            m.wire(),
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1",
                "type": "function", "function": {"name": "business_info",
                "arguments": "{\"topic\":null}"}}]})
        );
        let back: ChatMessage = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            ChatMessage::Tool {
                tool_call_id: "call_1".into(),
                content: "ok".into()
            }
            .wire(),
            json!({"role": "tool", "tool_call_id": "call_1", "content": "ok"})
        );
    }

    #[test]
    fn the_request_body_is_a_valid_async_openai_request() {
        let c = OpenAiClient::new(OpenAiConfig {
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: "sk-test".into(),
            model: "gpt-4o-mini".into(),
            temperature: Some(0.3),
            timeout: Duration::from_secs(1),
        })
        .unwrap();
        let body = c.body(&ChatRequest {
            messages: vec![
                ChatMessage::System {
                    content: "be brief".into(),
                },
                ChatMessage::User {
                    content: "hi".into(),
                },
            ],
            tools: vec![LlmTool {
                name: "business_info".into(),
                description: "facts".into(),
                parameters: json!({"type": "object", "properties": {}, "required": [],
                    "additionalProperties": false}),
                strict: true,
            }],
            max_tokens: Some(200),
        });
        let typed: CreateChatCompletionRequest = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(typed.model, "gpt-4o-mini");
        assert_eq!(body["tools"][0]["function"]["name"], "business_info");
        assert!(!format!("{:?}", c).contains("sk-test"));
    }
}
