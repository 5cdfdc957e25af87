//! `TwilioClient` against a local mock of the Twilio REST API: what we send (paths,
//! Basic auth, form fields) and how Twilio's documented answers and errors are read
//! (<https://www.twilio.com/docs/messaging/api/message-resource>,
//! <https://www.twilio.com/docs/usage/twilios-response>).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use integrations::ProviderError;
use integrations::sms::{MAX_BODY_CHARS, OutboundSms, SentSms, SmsProvider};
use integrations::twilio::signature::{self, SIGNATURE_HEADER, SignatureError};
use integrations::twilio::{Sender, TwilioClient, TwilioConfig};
use serde_json::{Value, json};
use wiremock::matchers::{any, header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const ACCOUNT_SID: &str = "AC3f1c9e2b7d4a4f0e8b6c5d4e3f2a1b0c";
const AUTH_TOKEN: &str = "9b1d7e3c5a2f4e6d8c0b9a7f5e3d1c2b";
const FROM: &str = "+15017122661";
const MESSAGING_SERVICE_SID: &str = "MG9752274e9e519418a7406176694466fa";
const TO: &str = "+15558675310";
const MESSAGE_SID: &str = "SM1f0e8ae6ade43cb3c0ce4525424e404f";
const STATUS_CALLBACK: &str = "https://api.example.com/webhooks/twilio/status?tenant=acme";
/// Characters that need form encoding (`&`, `=`, `+`, `%`), non-ASCII and an emoji.
const BODY: &str = "Hi Pat: your detail is confirmed for Tue 9:00 & 10% off = $45+tax. Café 🚗";

fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
}

fn account_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT_SID}.json")
}

/// `Authorization` for HTTP Basic auth with the account SID and auth token.
fn basic_auth() -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
    )
}

fn config(server: &MockServer, sender: Sender) -> TwilioConfig {
    TwilioConfig {
        base_url: server.uri(),
        account_sid: ACCOUNT_SID.to_owned(),
        auth_token: AUTH_TOKEN.to_owned(),
        sender,
        timeout: Duration::from_secs(5),
    }
}

fn client(server: &MockServer) -> TwilioClient {
    TwilioClient::new(config(server, Sender::From(FROM.to_owned()))).unwrap()
}

fn sms(body: &str, status_callback: Option<&str>) -> OutboundSms {
    OutboundSms {
        to: TO.to_owned(),
        body: body.to_owned(),
        status_callback: status_callback.map(str::to_owned),
    }
}

/// Matches a request whose `application/x-www-form-urlencoded` body holds exactly
/// these fields (in any order), no more, no fewer.
struct FormIs(Vec<(String, String)>);

impl FormIs {
    fn new(fields: &[(&str, &str)]) -> FormIs {
        FormIs(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }
}

impl Match for FormIs {
    fn matches(&self, req: &Request) -> bool {
        let form_type = req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            == Some("application/x-www-form-urlencoded");
        let mut got: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
            .into_owned()
            .collect();
        got.sort();
        let mut want = self.0.clone();
        want.sort();
        form_type && got == want
    }
}

/// A Message resource as Twilio answers `POST …/Messages.json` with HTTP 201
/// (<https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource>).
fn message_json(from: Option<&str>, messaging_service_sid: Option<&str>, status: &str) -> Value {
    json!({
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": BODY,
        "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
        "date_sent": null,
        "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": from,
        "messaging_service_sid": messaging_service_sid,
        "num_media": "0",
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": MESSAGE_SID,
        "status": status,
        "subresource_uris": {
            "media": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}/Media.json")
        },
        "to": TO,
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}.json")
    })
}

/// Twilio's error body (<https://www.twilio.com/docs/usage/twilios-response>).
fn error_json(code: u32, message: &str, status: u16) -> Value {
    json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status
    })
}

/// An Account resource as `GET /2010-04-01/Accounts/{sid}.json` returns it
/// (<https://www.twilio.com/docs/iam/api/account>). Twilio includes the auth token.
fn account_json(status: &str) -> Value {
    json!({
        "auth_token": AUTH_TOKEN,
        "date_created": "Thu, 13 Apr 2023 20:19:29 +0000",
        "date_updated": "Thu, 13 Apr 2023 20:19:29 +0000",
        "friendly_name": "Acme Detailing",
        "owner_account_sid": ACCOUNT_SID,
        "sid": ACCOUNT_SID,
        "status": status,
        "subresource_uris": {
            "messages": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
        },
        "type": "Full",
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}.json")
    })
}

/// Mounts a `POST …/Messages.json` answering `response`, expecting one call.
async fn mount_send(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", basic_auth().as_str()))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

/// Asserts that nothing secret or personal is in an error's text.
fn assert_clean(err: &ProviderError) {
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(AUTH_TOKEN), "token leaked: {text}");
        assert!(!text.contains(&STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))));
        assert!(!text.contains("Café"), "body leaked: {text}");
        assert!(!text.contains(TO), "recipient leaked: {text}");
    }
}

#[tokio::test]
async fn a_message_from_a_number_posts_to_from_body_and_status_callback() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", basic_auth().as_str()))
        .and(FormIs::new(&[
            ("To", TO),
            ("From", FROM),
            ("Body", BODY),
            ("StatusCallback", STATUS_CALLBACK),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(message_json(
            Some(FROM),
            None,
            "queued",
        )))
        .expect(1)
        .mount(&server)
        .await;

    let sent = client(&server)
        .send(&sms(BODY, Some(STATUS_CALLBACK)))
        .await
        .unwrap();

    assert_eq!(
        sent,
        SentSms {
            sid: MESSAGE_SID.into(),
            status: "queued".into()
        }
    );
    server.verify().await;
}

#[tokio::test]
async fn a_message_through_a_messaging_service_sends_messaging_service_sid_and_no_from() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", basic_auth().as_str()))
        .and(FormIs::new(&[
            ("To", TO),
            ("MessagingServiceSid", MESSAGING_SERVICE_SID),
            ("Body", "See you at 9"),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(message_json(
            None,
            Some(MESSAGING_SERVICE_SID),
            "accepted",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let client = TwilioClient::new(config(
        &server,
        Sender::MessagingService(MESSAGING_SERVICE_SID.into()),
    ))
    .unwrap();

    let sent = client.send(&sms("See you at 9", None)).await.unwrap();

    assert_eq!(sent.sid, MESSAGE_SID);
    assert_eq!(sent.status, "accepted");
    assert_eq!(client.sender(), MESSAGING_SERVICE_SID);
    server.verify().await;
}

#[tokio::test]
async fn sender_is_the_from_number_and_messages_really_leave() {
    let server = MockServer::start().await;
    let client = client(&server);
    assert_eq!(client.sender(), FROM);
    assert!(client.delivers());
    assert_eq!(client.account_sid(), ACCOUNT_SID);
}

#[tokio::test]
async fn a_body_of_exactly_the_maximum_length_is_sent() {
    let server = MockServer::start().await;
    let body = "é".repeat(MAX_BODY_CHARS);
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(FormIs::new(&[("To", TO), ("From", FROM), ("Body", &body)]))
        .respond_with(ResponseTemplate::new(201).set_body_json(message_json(
            Some(FROM),
            None,
            "queued",
        )))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).send(&sms(&body, None)).await.unwrap();
    server.verify().await;
}

#[tokio::test]
async fn an_unsubscribed_recipient_is_rejected_with_twilios_code() {
    let server = MockServer::start().await;
    mount_send(
        &server,
        ResponseTemplate::new(400).set_body_json(error_json(
            21610,
            "Attempt to send to unsubscribed recipient",
            400,
        )),
    )
    .await;

    let err = client(&server).send(&sms(BODY, None)).await.unwrap_err();

    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "21610".into()
        }
    );
    assert!(!err.is_retryable());
    assert_clean(&err);
    server.verify().await;
}

#[tokio::test]
async fn an_invalid_to_number_is_rejected_with_21211() {
    let server = MockServer::start().await;
    mount_send(
        &server,
        ResponseTemplate::new(400).set_body_json(error_json(
            21211,
            &format!("The 'To' number {TO} is not a valid phone number."),
            400,
        )),
    )
    .await;
    let err = client(&server).send(&sms(BODY, None)).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "21211".into()
        }
    );
    // Twilio's message quotes the number; it must not reach our error.
    assert_clean(&err);
}

#[tokio::test]
async fn a_4xx_without_twilio_json_is_rejected_with_the_http_status() {
    let server = MockServer::start().await;
    mount_send(
        &server,
        ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"),
    )
    .await;
    let err = client(&server).send(&sms(BODY, None)).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "http_404".into()
        }
    );
}

#[tokio::test]
async fn too_many_requests_is_retryable() {
    let server = MockServer::start().await;
    mount_send(
        &server,
        ResponseTemplate::new(429).set_body_json(error_json(20429, "Too Many Requests", 429)),
    )
    .await;

    let err = client(&server).send(&sms(BODY, None)).await.unwrap_err();

    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
    assert_clean(&err);
    server.verify().await;
}

#[tokio::test]
async fn a_server_error_is_retryable() {
    for (status, body) in [
        (
            500,
            json!({"code": 20500, "message": "Internal Server Error", "more_info": "https://www.twilio.com/docs/errors/20500", "status": 500}),
        ),
        (503, json!("Service Unavailable")),
    ] {
        let server = MockServer::start().await;
        mount_send(&server, ResponseTemplate::new(status).set_body_json(body)).await;
        let err = client(&server).send(&sms(BODY, None)).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
        assert!(err.is_retryable());
        assert_clean(&err);
        server.verify().await;
    }
}

#[tokio::test]
async fn a_success_without_a_message_sid_is_an_unexpected_response() {
    for body in [
        ResponseTemplate::new(201).set_body_json(json!({"status": "queued", "to": TO})),
        ResponseTemplate::new(201).set_body_string("OK"),
        ResponseTemplate::new(200).set_body_json(json!({"sid": "", "status": "queued"})),
    ] {
        let server = MockServer::start().await;
        mount_send(&server, body).await;
        let err = client(&server).send(&sms(BODY, None)).await.unwrap_err();
        assert_eq!(
            err,
            ProviderError::Unavailable("unexpected response".into())
        );
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = MockServer::start().await;
    mount_send(
        &server,
        ResponseTemplate::new(307).insert_header("location", "https://evil.example/steal"),
    )
    .await;
    let err = client(&server).send(&sms(BODY, None)).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unavailable("unexpected response".into())
    );
}

#[tokio::test]
async fn invalid_input_is_refused_before_anything_is_sent() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let c = client(&server);
    let too_long = "a".repeat(MAX_BODY_CHARS + 1);
    let cases = [
        OutboundSms {
            to: "5558675310".into(),
            ..sms(BODY, None)
        },
        OutboundSms {
            to: "+1 555 867 5310".into(),
            ..sms(BODY, None)
        },
        OutboundSms {
            to: "+1234567".into(),
            ..sms(BODY, None)
        },
        OutboundSms {
            to: "+1234567890123456".into(),
            ..sms(BODY, None)
        },
        OutboundSms {
            to: String::new(),
            ..sms(BODY, None)
        },
        sms("", None),
        sms("   ", None),
        sms(&too_long, None),
        sms(BODY, Some("not a url")),
        sms(BODY, Some("ftp://example.com/status")),
    ];
    for msg in &cases {
        let err = c.send(msg).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::InvalidInput(_)),
            "{:?} for to={:?}",
            err,
            msg.to
        );
        assert!(!err.is_retryable());
        assert!(!err.to_string().contains(AUTH_TOKEN));
        assert!(!err.to_string().contains(&msg.body) || msg.body.trim().is_empty());
    }
    server.verify().await;
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_configuration_is_refused() {
    let server = MockServer::start().await;
    let ok = config(&server, Sender::From(FROM.into()));
    let cases = [
        TwilioConfig {
            account_sid: "AC123".into(),
            ..ok.clone()
        },
        TwilioConfig {
            account_sid: "MG3f1c9e2b7d4a4f0e8b6c5d4e3f2a1b0c".into(),
            ..ok.clone()
        },
        TwilioConfig {
            account_sid: "AC3f1c9e2b7d4a4f0e8b6c5d4e3f2a1b0z".into(),
            ..ok.clone()
        },
        TwilioConfig {
            auth_token: String::new(),
            ..ok.clone()
        },
        TwilioConfig {
            auth_token: "  ".into(),
            ..ok.clone()
        },
        TwilioConfig {
            sender: Sender::From("15017122661".into()),
            ..ok.clone()
        },
        TwilioConfig {
            sender: Sender::From("+1501".into()),
            ..ok.clone()
        },
        TwilioConfig {
            sender: Sender::MessagingService("MG123".into()),
            ..ok.clone()
        },
        TwilioConfig {
            sender: Sender::MessagingService("AC9752274e9e519418a7406176694466fa".into()),
            ..ok.clone()
        },
        TwilioConfig {
            base_url: "api.twilio.com".into(),
            ..ok.clone()
        },
        TwilioConfig {
            base_url: "ftp://api.twilio.com".into(),
            ..ok.clone()
        },
        TwilioConfig {
            timeout: Duration::ZERO,
            ..ok.clone()
        },
    ];
    for cfg in cases {
        let err = TwilioClient::new(cfg.clone()).unwrap_err();
        assert!(
            matches!(err, ProviderError::InvalidInput(_)),
            "{err:?} for {cfg:?}"
        );
        assert!(!err.to_string().contains(AUTH_TOKEN));
    }
    assert!(TwilioClient::new(ok).is_ok());
}

#[test]
fn production_defaults() {
    let cfg = TwilioConfig::new(ACCOUNT_SID, AUTH_TOKEN, Sender::From(FROM.into()));
    assert_eq!(cfg.base_url, "https://api.twilio.com");
    assert_eq!(cfg.base_url, integrations::twilio::DEFAULT_BASE_URL);
    assert!(TwilioClient::new(cfg).is_ok());
}

#[tokio::test]
async fn the_auth_token_never_appears_in_debug_output() {
    let server = MockServer::start().await;
    let cfg = config(&server, Sender::From(FROM.into()));
    let client = TwilioClient::new(cfg.clone()).unwrap();
    for text in [
        format!("{cfg:?}"),
        format!("{cfg:#?}"),
        format!("{client:?}"),
        format!("{:?}", client.clone()),
    ] {
        assert!(!text.contains(AUTH_TOKEN), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
        assert!(text.contains(ACCOUNT_SID), "{text}");
    }
}

#[tokio::test]
async fn check_reads_the_account_with_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(account_path()))
        .and(header("authorization", basic_auth().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_json("active")))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).check().await.unwrap();
    server.verify().await;
}

#[tokio::test]
async fn check_with_wrong_credentials_is_rejected_with_20003() {
    let with_body = ResponseTemplate::new(401).set_body_json(json!({
        "code": 20003,
        "detail": "Your AccountSid or AuthToken was incorrect.",
        "message": "Authentication Error - invalid username",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401
    }));
    let without_body = ResponseTemplate::new(401);
    for response in [with_body, without_body] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(account_path()))
            .respond_with(response)
            .expect(1)
            .mount(&server)
            .await;
        let err = client(&server).check().await.unwrap_err();
        assert_eq!(
            err,
            ProviderError::Rejected {
                code: "20003".into()
            }
        );
        assert_clean(&err);
        server.verify().await;
    }
}

#[tokio::test]
async fn check_of_a_suspended_account_is_rejected() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(account_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_json("suspended")))
        .mount(&server)
        .await;
    let err = client(&server).check().await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "10001".into()
        }
    );
}

#[tokio::test]
async fn check_maps_server_errors_and_garbage_like_send() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(account_path()))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(account_path()))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
        .mount(&server)
        .await;
    let c = client(&server);
    assert!(c.check().await.unwrap_err().is_retryable());
    assert_eq!(
        c.check().await.unwrap_err(),
        ProviderError::Unavailable("unexpected response".into())
    );
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(message_json(Some(FROM), None, "queued"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let client = TwilioClient::new(TwilioConfig {
        timeout: Duration::from_millis(200),
        ..config(&server, Sender::From(FROM.into()))
    })
    .unwrap();
    let err = client.send(&sms(BODY, None)).await.unwrap_err();
    assert_eq!(err, ProviderError::Timeout);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Bind then drop a listener to get a local port nobody listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = TwilioClient::new(TwilioConfig {
        base_url: format!("http://127.0.0.1:{port}"),
        account_sid: ACCOUNT_SID.into(),
        auth_token: AUTH_TOKEN.into(),
        sender: Sender::From(FROM.into()),
        timeout: Duration::from_secs(2),
    })
    .unwrap();
    let err = client.send(&sms(BODY, None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    assert_clean(&err);
}

/// Collects every tracing event and span field as text.

#[tokio::test(flavor = "current_thread")]
async fn logs_carry_neither_the_token_nor_the_message() {
    let captured = common::logs();

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(ResponseTemplate::new(400).set_body_json(error_json(
            21610,
            &format!("Attempt to send to unsubscribed recipient {TO}"),
            400,
        )))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(ResponseTemplate::new(201).set_body_json(message_json(
            Some(FROM),
            None,
            "queued",
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(account_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_json("active")))
        .mount(&server)
        .await;
    let c = client(&server);
    let _ = c.send(&sms(BODY, Some(STATUS_CALLBACK))).await;
    c.send(&sms(BODY, None)).await.unwrap();
    c.check().await.unwrap();

    let logs = captured.all();
    assert!(logs.contains("21610"), "the error code is logged: {logs}");
    assert!(!logs.contains(AUTH_TOKEN), "{logs}");
    assert!(!logs.contains(&STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))));
    assert!(!logs.contains("Café"), "{logs}");
    assert!(!logs.contains(TO), "{logs}");
}

#[test]
fn a_status_callback_twilio_signed_verifies_and_a_forged_one_does_not() {
    // What Twilio posts to StatusCallback when a message is delivered
    // (<https://www.twilio.com/docs/messaging/guides/track-outbound-message-status>).
    let body = format!(
        "AccountSid={ACCOUNT_SID}&ApiVersion=2010-04-01&From=%2B15017122661\
         &MessageSid={MESSAGE_SID}&MessageStatus=delivered&SmsSid={MESSAGE_SID}\
         &SmsStatus=delivered&To=%2B15558675310"
    );
    let header_value = signature::sign(
        AUTH_TOKEN,
        STATUS_CALLBACK,
        &signature::parse_form(body.as_bytes()),
    );
    let form = Some("application/x-www-form-urlencoded");
    assert_eq!(SIGNATURE_HEADER, "X-Twilio-Signature");
    assert_eq!(
        signature::verify(
            AUTH_TOKEN,
            STATUS_CALLBACK,
            form,
            body.as_bytes(),
            Some(&header_value)
        ),
        Ok(())
    );
    let forged = body.replace("delivered", "failed");
    assert_eq!(
        signature::verify(
            AUTH_TOKEN,
            STATUS_CALLBACK,
            form,
            forged.as_bytes(),
            Some(&header_value)
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        signature::verify(AUTH_TOKEN, STATUS_CALLBACK, form, body.as_bytes(), None),
        Err(SignatureError::Missing)
    );
}
