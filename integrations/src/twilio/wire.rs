//! Twilio's JSON shapes (only the fields we read) and the mapping of Twilio answers to
//! [`ProviderError`].

use serde::Deserialize;
use serde_json::Value;

use crate::ProviderError;
use crate::sms::SentSms;

/// Twilio's code for a request without valid credentials, used for an HTTP 401 that
/// carries no code of its own. <https://www.twilio.com/docs/api/errors/20003>
pub(crate) const CODE_AUTHENTICATION: &str = "20003";

/// Twilio's code for "Account is not active" (suspended or closed), used when the
/// account read by `check` is not `active`. <https://www.twilio.com/docs/api/errors/10001>
pub(crate) const CODE_ACCOUNT_NOT_ACTIVE: &str = "10001";

/// A Message resource (<https://www.twilio.com/docs/messaging/api/message-resource>).
/// Twilio sends many more fields (`account_sid`, `to`, `from`, `body`,
/// `num_segments`, `date_created`, `error_code`, `uri`, …); they are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct WireMessage {
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

impl WireMessage {
    /// The accepted message, or `None` when the answer lacks a `sid` or `status`.
    pub(crate) fn into_sent(self) -> Option<SentSms> {
        let sid = self.sid.filter(|s| !s.is_empty())?;
        let status = self.status.filter(|s| !s.is_empty())?;
        Some(SentSms { sid, status })
    }
}

/// An Account resource (<https://www.twilio.com/docs/iam/api/account>): only its
/// `status` (`active`, `suspended` or `closed`) is read.
#[derive(Debug, Deserialize)]
pub(crate) struct WireAccount {
    #[serde(default)]
    pub(crate) status: Option<String>,
}

/// Twilio's error body
/// (`{"code": 21610, "message": "…", "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}`,
/// <https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions>).
/// `message` is not kept: it may quote the recipient's phone number.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireError {
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    pub(crate) more_info: Option<String>,
}

impl WireError {
    /// Twilio's numeric error code as a string (`"21610"`); Twilio sends a JSON number,
    /// a string is accepted too.
    pub(crate) fn code(&self) -> Option<String> {
        match self.code.as_ref()? {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        }
    }
}

/// Maps a non-2xx answer: HTTP 429 and 5xx are retryable
/// [`ProviderError::Unavailable`]; other 4xx are [`ProviderError::Rejected`] with
/// Twilio's `code` (`"20003"` for a 401 without one), else `http_<status>`; anything
/// else (1xx, 3xx — redirects are not followed) is `Unavailable("unexpected response")`.
pub(crate) fn map_error(status: u16, error: Option<&WireError>) -> ProviderError {
    let code = error.and_then(WireError::code);
    match status {
        429 => ProviderError::Unavailable(match code {
            Some(code) => format!("twilio rate limited the request ({code})"),
            None => "twilio rate limited the request".to_owned(),
        }),
        500..=599 => ProviderError::Unavailable(format!("twilio answered http {status}")),
        400..=499 => ProviderError::Rejected {
            code: code.unwrap_or_else(|| {
                if status == 401 {
                    CODE_AUTHENTICATION.to_owned()
                } else {
                    format!("http_{status}")
                }
            }),
        },
        _ => ProviderError::Unavailable("unexpected response".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn error(json: &str) -> WireError {
        serde_json::from_str(json).unwrap_or_default()
    }

    #[test]
    fn numeric_and_string_codes_are_read_as_strings() {
        assert_eq!(error(r#"{"code": 21610}"#).code().as_deref(), Some("21610"));
        assert_eq!(
            error(r#"{"code": "21211"}"#).code().as_deref(),
            Some("21211")
        );
        assert_eq!(error(r#"{"code": null}"#).code(), None);
        assert_eq!(error("{}").code(), None);
    }

    #[test]
    fn statuses_map_to_retryable_or_rejected() {
        let e = error(r#"{"code": 21610, "status": 400}"#);
        assert_eq!(
            map_error(400, Some(&e)),
            ProviderError::Rejected {
                code: "21610".into()
            }
        );
        assert_eq!(
            map_error(404, None),
            ProviderError::Rejected {
                code: "http_404".into()
            }
        );
        assert_eq!(
            map_error(401, None),
            ProviderError::Rejected {
                code: "20003".into()
            }
        );
        assert!(map_error(429, Some(&error(r#"{"code": 20429}"#))).is_retryable());
        assert!(map_error(503, None).is_retryable());
        assert_eq!(
            map_error(302, None),
            ProviderError::Unavailable("unexpected response".into())
        );
    }

    #[test]
    fn a_message_needs_sid_and_status() {
        let ok: WireMessage =
            serde_json::from_str(r#"{"sid": "SM1", "status": "queued", "num_segments": "1"}"#)
                .unwrap();
        assert_eq!(
            ok.into_sent(),
            Some(SentSms {
                sid: "SM1".into(),
                status: "queued".into()
            })
        );
        let no_sid: WireMessage = serde_json::from_str(r#"{"status": "queued"}"#).unwrap();
        assert_eq!(no_sid.into_sent(), None);
    }
}
