//! Twilio over HTTP: [`TwilioClient`] implements [`SmsProvider`] with Twilio's
//! Programmable Messaging REST API; [`signature`] verifies the webhooks Twilio sends
//! back (incoming messages, delivery status callbacks).
//!
//! Wire format (<https://www.twilio.com/docs/usage/api>):
//!
//! - requests go to `{base_url}/2010-04-01/Accounts/{AccountSid}/…` and are
//!   authenticated with HTTP Basic auth, the Account SID as user name and the auth token
//!   as password (<https://www.twilio.com/docs/usage/requests-to-twilio>);
//! - a message is created with `POST …/Messages.json`, an
//!   `application/x-www-form-urlencoded` body with `To`, `From` *or*
//!   `MessagingServiceSid`, `Body` and optionally `StatusCallback`; Twilio answers
//!   201 with the Message resource as JSON
//!   (<https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource>);
//! - phone numbers are E.164 (`+` and 8–15 digits); a body has at most
//!   [`MAX_BODY_CHARS`] characters.
//!
//! Errors (<https://www.twilio.com/docs/usage/twilios-response>,
//! <https://www.twilio.com/docs/api/errors>): a timeout is [`ProviderError::Timeout`];
//! a failed connection, HTTP 429 (Twilio `20429`, never processed, safe to retry) and
//! HTTP 5xx are [`ProviderError::Unavailable`] (retryable); other 4xx are
//! [`ProviderError::Rejected`] with Twilio's numeric `code` as a string (`"21610"`:
//! the recipient replied STOP; `"21211"`: invalid `To`), `"20003"` for a 401 without
//! one, else `http_<status>`; a 2xx body that is not the expected resource is
//! `Unavailable("unexpected response")`. Input Twilio would refuse (a recipient that is
//! not E.164, an empty or oversized body, a status callback that is not an http(s)
//! URL) is [`ProviderError::InvalidInput`] and nothing is sent. Redirects are not
//! followed.
//!
//! The auth token never appears in `Debug` output, logs or error messages; neither do
//! message bodies or recipients' numbers.

pub mod signature;
mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, Url};

use crate::ProviderError;
use crate::sms::{MAX_BODY_CHARS, OutboundSms, SentSms, SmsProvider};
use wire::{CODE_ACCOUNT_NOT_ACTIVE, WireAccount, WireError, WireMessage, map_error};

/// Twilio's production REST API root.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// The REST API version in every path (`/2010-04-01/…`), Twilio's only version of the
/// core API. <https://www.twilio.com/docs/usage/api>
pub const API_VERSION: &str = "2010-04-01";

/// Request timeout used by [`TwilioConfig::new`]. Twilio's helper libraries do not
/// set one; creating a message normally answers in well under a second.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Who a message comes from (<https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource>).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sender {
    /// A Twilio phone number of the account, E.164 (`+14155550123`), sent as `From`.
    From(String),
    /// A Messaging Service SID (`MG` and 32 hex digits), sent as `MessagingServiceSid`;
    /// Twilio picks a number from the service's sender pool.
    /// <https://www.twilio.com/docs/messaging/services>
    MessagingService(String),
}

impl Sender {
    /// The number or service SID, as sent to Twilio.
    pub fn as_str(&self) -> &str {
        match self {
            Sender::From(number) | Sender::MessagingService(number) => number,
        }
    }

    /// The form field Twilio reads the sender from.
    fn field(&self) -> &'static str {
        match self {
            Sender::From(_) => "From",
            Sender::MessagingService(_) => "MessagingServiceSid",
        }
    }
}

/// How to reach Twilio. `Debug` redacts the auth token.
#[derive(Clone)]
pub struct TwilioConfig {
    /// API root without a trailing slash; [`DEFAULT_BASE_URL`] in production, a mock
    /// server's address in tests.
    pub base_url: String,
    /// The account (`AC` and 32 hex digits), the Basic-auth user name.
    pub account_sid: String,
    /// The account's auth token, the Basic-auth password (and the webhook signing key,
    /// see [`signature`]).
    pub auth_token: String,
    /// Who messages come from.
    pub sender: Sender,
    /// Limit for a whole request, from connecting to reading the body.
    pub timeout: Duration,
}

impl TwilioConfig {
    /// Production settings ([`DEFAULT_BASE_URL`], [`DEFAULT_TIMEOUT`]) for the given
    /// account, auth token and sender.
    pub fn new(
        account_sid: impl Into<String>,
        auth_token: impl Into<String>,
        sender: Sender,
    ) -> TwilioConfig {
        TwilioConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            sender,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[redacted]")
            .field("sender", &self.sender)
            .field("timeout", &self.timeout)
            .finish()
    }
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    sender: Sender,
}

/// Twilio Messaging client. Cloning is cheap (the connection pool is shared).
///
/// `Debug` shows the base URL, account SID and sender, never the auth token.
#[derive(Clone)]
pub struct TwilioClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient")
            .field("base_url", &self.inner.base_url)
            .field("account_sid", &self.inner.account_sid)
            .field("auth_token", &"[redacted]")
            .field("sender", &self.inner.sender)
            .finish()
    }
}

/// Whether `s` is `prefix` followed by exactly 32 hex digits (a Twilio SID,
/// <https://www.twilio.com/docs/glossary/what-is-a-sid>).
fn is_sid(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `s` is `+` followed by 8 to 15 digits (E.164,
/// <https://www.twilio.com/docs/glossary/what-e164>).
fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

fn invalid(what: &str) -> ProviderError {
    ProviderError::InvalidInput(what.to_owned())
}

fn unexpected() -> ProviderError {
    ProviderError::Unavailable("unexpected response".into())
}

/// Maps a transport failure; the description never includes the request.
fn transport_error(e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else if e.is_connect() {
        ProviderError::Unavailable("could not connect to twilio".into())
    } else {
        ProviderError::Unavailable("twilio request failed".into())
    }
}

/// Checks an outgoing message before anything is sent.
fn check_message(msg: &OutboundSms) -> Result<(), ProviderError> {
    if !is_e164(&msg.to) {
        return Err(invalid("recipient is not an E.164 phone number"));
    }
    if msg.body.trim().is_empty() {
        return Err(invalid("message body is empty"));
    }
    if msg.body.chars().count() > MAX_BODY_CHARS {
        return Err(ProviderError::InvalidInput(format!(
            "message body is longer than {MAX_BODY_CHARS} characters"
        )));
    }
    if let Some(callback) = &msg.status_callback {
        let ok = Url::parse(callback).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(invalid("status callback is not an http(s) URL"));
        }
    }
    Ok(())
}

impl TwilioClient {
    /// Builds a client.
    ///
    /// Errors: [`ProviderError::InvalidInput`] when the base URL is not an http(s) URL,
    /// the account SID is not `AC` and 32 hex digits, the auth token is empty or not
    /// header-safe, the timeout is zero, a [`Sender::From`] is not E.164 (`+` and 8–15
    /// digits) or a [`Sender::MessagingService`] is not `MG` and 32 hex digits;
    /// [`ProviderError::Unavailable`] if the HTTP client cannot be initialised.
    pub fn new(config: TwilioConfig) -> Result<TwilioClient, ProviderError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let parsed = Url::parse(&base_url).map_err(|_| invalid("twilio base_url is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("twilio base_url must be http or https"));
        }
        if !is_sid(&config.account_sid, "AC") {
            return Err(invalid(
                "twilio account SID must be AC followed by 32 hex digits",
            ));
        }
        if config.auth_token.trim().is_empty() {
            return Err(invalid("twilio auth token is empty"));
        }
        match &config.sender {
            Sender::From(number) if !is_e164(number) => {
                return Err(invalid("twilio From must be an E.164 phone number"));
            }
            Sender::MessagingService(sid) if !is_sid(sid, "MG") => {
                return Err(invalid(
                    "twilio MessagingServiceSid must be MG followed by 32 hex digits",
                ));
            }
            _ => {}
        }
        if config.timeout.is_zero() {
            return Err(invalid("twilio timeout must be positive"));
        }
        let credentials = STANDARD.encode(format!("{}:{}", config.account_sid, config.auth_token));
        let mut auth = HeaderValue::from_str(&format!("Basic {credentials}"))
            .map_err(|_| invalid("twilio auth token has invalid characters"))?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "servicegraph-integrations/",
                env!("CARGO_PKG_VERSION")
            ))
            .default_headers(headers)
            .build()
            .map_err(|_| ProviderError::Unavailable("could not initialise HTTP client".into()))?;
        Ok(TwilioClient {
            inner: Arc::new(Inner {
                http,
                base_url,
                account_sid: config.account_sid,
                sender: config.sender,
            }),
        })
    }

    /// The account SID (`AC…`) requests act on.
    pub fn account_sid(&self) -> &str {
        &self.inner.account_sid
    }

    /// The account's API path, `/2010-04-01/Accounts/{AccountSid}`.
    fn account_path(&self) -> String {
        format!("/{API_VERSION}/Accounts/{}", self.inner.account_sid)
    }

    /// Sends one request; returns the raw 2xx body or the mapped error. Logs the method,
    /// path, status and Twilio's error code, never the form (it holds the message body
    /// and the recipient).
    async fn call(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Result<Vec<u8>, ProviderError> {
        let url = format!("{}{}", self.inner.base_url, path);
        let mut req = self.inner.http.request(method.clone(), url);
        if let Some(form) = form {
            req = req.form(form);
        }
        tracing::debug!(%method, path, "twilio request");

        let resp = req.send().await.map_err(|e| {
            let mapped = transport_error(&e);
            tracing::warn!(%method, path, error = %e.without_url(), "twilio request failed");
            mapped
        })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| {
            let mapped = transport_error(&e);
            tracing::warn!(%method, path, error = %e.without_url(), "twilio response unreadable");
            mapped
        })?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let error = serde_json::from_slice::<WireError>(&body).ok();
        let code = error.as_ref().and_then(WireError::code);
        tracing::warn!(
            %method,
            path,
            status = status.as_u16(),
            code = code.as_deref(),
            more_info = error.as_ref().and_then(|e| e.more_info.as_deref()),
            "twilio returned an error"
        );
        Err(map_error(status.as_u16(), error.as_ref()))
    }
}

#[async_trait]
impl SmsProvider for TwilioClient {
    /// `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with `To`, `From` or
    /// `MessagingServiceSid`, `Body` and `StatusCallback` (when given)
    /// (<https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource>).
    /// Returns the Message resource's `sid` (`SM…`) and `status` (normally `queued`, or
    /// `accepted` through a Messaging Service). Errors: see the [module docs](self).
    async fn send(&self, msg: &OutboundSms) -> Result<SentSms, ProviderError> {
        check_message(msg)?;
        let sender = &self.inner.sender;
        let mut form: Vec<(&str, &str)> = vec![
            ("To", msg.to.as_str()),
            (sender.field(), sender.as_str()),
            ("Body", msg.body.as_str()),
        ];
        if let Some(callback) = &msg.status_callback {
            form.push(("StatusCallback", callback.as_str()));
        }
        let path = format!("{}/Messages.json", self.account_path());
        let body = self.call(Method::POST, &path, Some(&form)).await?;
        let message: WireMessage = serde_json::from_slice(&body).map_err(|_| unexpected())?;
        let sent = message.into_sent().ok_or_else(unexpected)?;
        tracing::debug!(sid = %sent.sid, status = %sent.status, "twilio accepted a message");
        Ok(sent)
    }

    /// Always `true`: Twilio delivers the messages it accepts.
    fn delivers(&self) -> bool {
        true
    }

    /// The `From` number (E.164) or the Messaging Service SID (`MG…`).
    fn sender(&self) -> String {
        self.inner.sender.as_str().to_owned()
    }

    /// `GET /2010-04-01/Accounts/{AccountSid}.json`
    /// (<https://www.twilio.com/docs/iam/api/account#fetch-an-account-resource>).
    /// Wrong credentials are HTTP 401, `Rejected { code: "20003" }` (or Twilio's own
    /// code); an account whose `status` is `suspended` or `closed` is
    /// `Rejected { code: "10001" }` ("Account is not active",
    /// <https://www.twilio.com/docs/api/errors/10001>). Other errors: see the
    /// [module docs](self).
    async fn check(&self) -> Result<(), ProviderError> {
        let path = format!("{}.json", self.account_path());
        let body = self.call(Method::GET, &path, None).await?;
        let account: WireAccount = serde_json::from_slice(&body).map_err(|_| unexpected())?;
        match account.status.as_deref() {
            Some("suspended" | "closed") => Err(ProviderError::Rejected {
                code: CODE_ACCOUNT_NOT_ACTIVE.to_owned(),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_is_plus_and_8_to_15_digits() {
        assert!(is_e164("+14155550123"));
        assert!(is_e164("+12345678"));
        assert!(is_e164("+123456789012345"));
        assert!(!is_e164("+1234567"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("14155550123"));
        assert!(!is_e164("+1 415 555 0123"));
        assert!(!is_e164("+1415555012a"));
        assert!(!is_e164(""));
    }

    #[test]
    fn sids_are_prefix_and_32_hex_digits() {
        assert!(is_sid("AC0123456789abcdef0123456789ABCDEF", "AC"));
        assert!(!is_sid("AC0123456789abcdef0123456789abcde", "AC"));
        assert!(!is_sid("AC0123456789abcdef0123456789abcdefg", "AC"));
        assert!(!is_sid("MG0123456789abcdef0123456789abcdef", "AC"));
        assert!(!is_sid("AC0123456789abcdef0123456789abcdeg", "AC"));
    }

    #[test]
    fn bodies_are_counted_in_characters() {
        let msg = |body: String| OutboundSms {
            to: "+14155550123".into(),
            body,
            status_callback: None,
        };
        assert!(check_message(&msg("é".repeat(MAX_BODY_CHARS))).is_ok());
        assert!(check_message(&msg("é".repeat(MAX_BODY_CHARS + 1))).is_err());
        assert!(check_message(&msg(" \n".into())).is_err());
    }
}
