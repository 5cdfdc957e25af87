//! The OpenAI Chat Completions client against a local mock speaking the API's JSON
//! (<https://platform.openai.com/docs/api-reference/chat/create>).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use integrations::ProviderError;
use integrations::llm::{
    ChatMessage, ChatRequest, LlmProvider, LlmTool, OpenAiClient, OpenAiConfig,
};
use serde_json::json;
use wiremock::matchers::{bearer_token, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(mock: &MockServer, timeout: Duration) -> OpenAiClient {
    OpenAiClient::new(OpenAiConfig {
        base_url: format!("{}/v1", mock.uri()),
        api_key: "sk-test-key".into(),
        model: "gpt-4o-mini".into(),
        temperature: Some(0.2),
        timeout,
    })
    .unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::System {
                content: "You are a receptionist.".into(),
            },
            ChatMessage::User {
                content: "Are you open Sunday?".into(),
            },
        ],
        tools: vec![LlmTool {
            name: "business_info".into(),
            description: "Facts about the business.".into(),
            parameters: json!({"type": "object", "properties": {"topic": {"type": ["string", "null"]}},
                "required": ["topic"], "additionalProperties": false}),
            strict: true,
        }],
        max_tokens: Some(300),
    }
}

#[tokio::test]
async fn a_tool_call_answer_is_read_and_the_request_has_the_api_shape() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(bearer_token("sk-test-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_764_000_000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null,
                "message": {"role": "assistant", "content": null, "refusal": null,
                    "tool_calls": [{"id": "call_9", "type": "function",
                        "function": {"name": "business_info", "arguments": "{\"topic\":\"hours\"}"}}]}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59}
        })))
        .expect(1)
        .mount(&mock)
        .await;
    let reply = client(&mock, Duration::from_secs(5))
        .chat(&request())
        .await
        .unwrap();
    assert_eq!(reply.content, None);
    assert_eq!(reply.tool_calls.len(), 1);
    assert_eq!(reply.tool_calls[0].id, "call_9");
    assert_eq!(reply.tool_calls[0].arguments, "{\"topic\":\"hours\"}");
    let sent: serde_json::Value =
        serde_json::from_slice(&mock.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(
        sent["messages"][1],
        json!({"role": "user", "content": "Are you open Sunday?"})
    );
    assert_eq!(sent["tools"][0]["type"], "function");
    assert_eq!(sent["tools"][0]["function"]["strict"], true);
    assert_eq!(sent["max_completion_tokens"], 300);
}

#[tokio::test]
async fn refusals_and_timeouts_become_provider_errors_without_the_key() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "message": "Incorrect API key provided: sk-test-key.", "type": "invalid_request_error",
            "param": null, "code": "invalid_api_key"}})))
        .mount(&mock)
        .await;
    let err = client(&mock, Duration::from_secs(5))
        .chat(&request())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "invalid_api_key".into()
        }
    );
    assert!(!err.to_string().contains("sk-test"));

    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&slow)
        .await;
    let err = client(&slow, Duration::from_millis(200))
        .chat(&request())
        .await
        .unwrap_err();
    assert_eq!(err, ProviderError::Timeout);
}
