//! A local Twilio for the API tests: a wiremock server answering the Messages API with
//! Twilio's documented JSON, and signed webhook delivery (`X-Twilio-Signature` over the
//! URL the server's `PUBLIC_BASE_URL` gives plus the sorted form parameters).

use std::sync::Arc;
use std::time::Duration;

use integrations::twilio::signature::sign;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use super::{Options, Owner, TestApp};

/// The test account.
pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
/// Its auth token (a test value).
pub const AUTH_TOKEN: &str = "test-auth-token-12345";
/// The tenant's Twilio number.
pub const FROM: &str = "+14155550100";

/// The Messages API path of the test account.
pub fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
}

/// Options of a server whose Twilio API is `mock`; `adjust` changes anything else.
pub fn platform(
    mock: &MockServer,
    adjust: impl Fn(&mut servicegraph::Settings) + Send + Sync + 'static,
) -> Options {
    let uri = mock.uri();
    Options {
        settings: Some(Arc::new(move |s: &mut servicegraph::Settings| {
            s.sms.twilio_api_base = uri.clone();
            s.sms.twilio_timeout = Duration::from_secs(2);
            adjust(s);
        })),
        ..Options::default()
    }
}

/// Answers like Twilio's `POST Messages.json`: 201 with a Message resource whose `sid`
/// counts up (`SM…0001`, …) and whose fields echo the request, after `delay`.
#[derive(Default)]
pub struct Created {
    n: std::sync::atomic::AtomicUsize,
    delay: Duration,
}

impl Created {
    /// Answers after `delay` (longer than the client's timeout: an answer lost on the
    /// way back, though Twilio accepted the message).
    pub fn delayed(delay: Duration) -> Created {
        Created {
            n: Default::default(),
            delay,
        }
    }
}

impl Respond for Created {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
            .into_owned()
            .collect();
        let get = |k: &str| {
            form.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        ResponseTemplate::new(201)
            .set_body_json(json!({
                "account_sid": ACCOUNT_SID,
                "api_version": "2010-04-01",
                "body": get("Body"),
                "date_created": "Wed, 02 Dec 2026 08:00:00 +0000",
                "direction": "outbound-api",
                "error_code": null,
                "error_message": null,
                "from": get("From"),
                "messaging_service_sid": null,
                "num_media": "0",
                "num_segments": "1",
                "price": null,
                "sid": format!("SM{n:032x}"),
                "status": "queued",
                "to": get("To"),
                "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/SM{n:032x}.json"),
            }))
            .set_delay(self.delay)
    }
}

/// Mounts the Messages API answering 201 (see [`Created`]).
pub async fn mount_messages(mock: &MockServer) {
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(Created::default())
        .mount(mock)
        .await;
}

/// A Twilio error answer (`{"code", "message", "more_info", "status"}`).
pub fn error(status: u16, code: u32, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    }))
}

/// Configures plugin `twilio` for `owner` (from [`FROM`]); returns the payload.
pub async fn configure(app: &TestApp, owner: &Owner, from: &str) -> Value {
    app.gql(
        Some(&owner.token),
        "mutation($input: ConfigurePluginInput!) { configurePlugin(input: $input) { plugin { id enabled } userErrors { field code message } } }",
        json!({"input": {"pluginId": "twilio", "enabled": true, "config": {
            "accountSid": ACCOUNT_SID, "authToken": AUTH_TOKEN, "fromNumber": from
        }}}),
    )
    .await["configurePlugin"]
        .clone()
}

/// POSTs `params` to `/webhooks/{slug}/twilio/{action}{query}`, signed with `token` over
/// `signed_url` (the real URL unless a test forges another); returns status and body.
pub async fn post_signed(
    app: &TestApp,
    slug: &str,
    action_and_query: &str,
    params: &[(&str, &str)],
    token: &str,
    signed_url: Option<&str>,
) -> (u16, String) {
    let route = format!("/webhooks/{slug}/twilio/{action_and_query}");
    let url = format!("{}{route}", app.settings.public_base_url);
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = sign(token, signed_url.unwrap_or(&url), &owned);
    let resp = app
        .http
        .post(format!("{}{route}", app.address))
        .header("X-Twilio-Signature", signature)
        .form(&owned)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    )
}

/// An inbound text's parameters as Twilio posts them.
pub fn inbound(sid: &str, from: &str, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MessageSid", sid.to_string()),
        ("SmsSid", sid.to_string()),
        ("AccountSid", ACCOUNT_SID.to_string()),
        ("From", from.to_string()),
        ("To", FROM.to_string()),
        ("Body", body.to_string()),
        ("NumMedia", "0".to_string()),
        ("NumSegments", "1".to_string()),
        ("ApiVersion", "2010-04-01".to_string()),
    ]
}

/// Borrowed view of owned parameters.
pub fn view<'a>(p: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    p.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A phone-assistant test business: a server whose Twilio API is a fresh mock (returned,
/// keep it alive) answering `Messages.json`, an owner of tenant `{prefix}-…` in New York,
/// one service (Haircut, 30 min, $45), Ana working 09:00–17:00 every day, and plugin
/// `twilio` configured with [`FROM`].
pub async fn salon(
    prefix: &str,
    adjust: impl Fn(&mut servicegraph::Settings) + Send + Sync + 'static,
) -> (TestApp, Owner, MockServer) {
    let twilio_mock = MockServer::start().await;
    mount_messages(&twilio_mock).await;
    let app = super::spawn_app_with(platform(&twilio_mock, adjust)).await;
    let owner = app
        .sign_up_in(&super::slug(prefix), "America/New_York")
        .await;
    let data = app
        .gql(
            Some(&owner.token),
            "mutation($input: CreateServiceInput!) { createService(input: $input) { service { id } } }",
            json!({"input": {"name": "Haircut", "durationMinutes": 30, "priceCents": 4500}}),
        )
        .await;
    assert!(data["createService"]["service"]["id"].is_string(), "{data}");
    app.create_staff(&owner.token, "Ana", &super::every_day("09:00", "17:00"))
        .await;
    let configured = configure(&app, &owner, FROM).await;
    assert_eq!(configured["userErrors"], json!([]), "{configured}");
    (app, owner, twilio_mock)
}
