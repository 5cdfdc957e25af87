//! Stripe's JSON shapes (only the fields we read) and the mapping of Stripe errors to
//! [`ProviderError`].

use serde::{Deserialize, Deserializer};

use crate::ProviderError;
use crate::payments::{CheckoutSession, PaymentIntent, Refund};

use super::{Account, AccountLink};

/// An "expandable" field: Stripe sends the id as a string, or the whole object
/// (with its `id`) when the request asked to expand it.
/// <https://docs.stripe.com/expand>
fn expandable_id<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Expandable {
        Id(String),
        Object { id: String },
    }
    Ok(Option::<Expandable>::deserialize(d)?.map(|e| match e {
        Expandable::Id(id) | Expandable::Object { id } => id,
    }))
}

/// `checkout.session` (<https://docs.stripe.com/api/checkout/sessions/object>).
#[derive(Debug, Deserialize)]
pub(crate) struct WireCheckoutSession {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    payment_status: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    payment_intent: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    customer: Option<String>,
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    amount_total: Option<i64>,
}

impl From<WireCheckoutSession> for CheckoutSession {
    fn from(w: WireCheckoutSession) -> CheckoutSession {
        CheckoutSession {
            id: w.id,
            url: w.url,
            status: w.status,
            payment_status: w.payment_status,
            payment_intent: w.payment_intent,
            customer: w.customer,
            expires_at: w.expires_at,
            amount_total: w.amount_total,
        }
    }
}

/// `last_payment_error` on a payment intent, and the `error` object of an error
/// response (<https://docs.stripe.com/api/errors>).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireError {
    #[serde(default, rename = "type")]
    pub(crate) error_type: Option<String>,
    #[serde(default)]
    pub(crate) code: Option<String>,
    #[serde(default)]
    pub(crate) decline_code: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) param: Option<String>,
    /// Present on errors raised while confirming a payment intent (e.g. a decline).
    #[serde(default)]
    pub(crate) payment_intent: Option<serde_json::Value>,
}

impl WireError {
    /// The most specific reason: the decline code, else the error code.
    fn failure_code(&self) -> Option<String> {
        self.decline_code.clone().or_else(|| self.code.clone())
    }
}

/// The body of a non-2xx response: `{"error": {…}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct WireErrorBody {
    pub(crate) error: WireError,
}

/// `payment_intent` (<https://docs.stripe.com/api/payment_intents/object>).
#[derive(Debug, Deserialize)]
pub(crate) struct WirePaymentIntent {
    id: String,
    status: String,
    amount: i64,
    #[serde(default)]
    amount_received: i64,
    #[serde(default, deserialize_with = "expandable_id")]
    latest_charge: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    payment_method: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    customer: Option<String>,
    #[serde(default)]
    last_payment_error: Option<WireError>,
}

impl WirePaymentIntent {
    /// Converts, taking failure details from `last_payment_error`, or from the
    /// enclosing error response when the intent carries none.
    pub(crate) fn into_intent(self, outer: Option<&WireError>) -> PaymentIntent {
        let last = self.last_payment_error.as_ref();
        let failure_code = last
            .and_then(WireError::failure_code)
            .or_else(|| outer.and_then(WireError::failure_code));
        let failure_message = last
            .and_then(|e| e.message.clone())
            .or_else(|| outer.and_then(|e| e.message.clone()));
        PaymentIntent {
            id: self.id,
            status: self.status,
            amount: self.amount,
            amount_received: self.amount_received,
            latest_charge: self.latest_charge,
            payment_method: self.payment_method,
            customer: self.customer,
            failure_code,
            failure_message,
        }
    }
}

/// `refund` (<https://docs.stripe.com/api/refunds/object>).
#[derive(Debug, Deserialize)]
pub(crate) struct WireRefund {
    id: String,
    #[serde(default)]
    status: Option<String>,
    amount: i64,
    #[serde(default, deserialize_with = "expandable_id")]
    payment_intent: Option<String>,
}

impl From<WireRefund> for Refund {
    fn from(w: WireRefund) -> Refund {
        Refund {
            id: w.id,
            status: w.status.unwrap_or_default(),
            amount: w.amount,
            payment_intent: w.payment_intent,
        }
    }
}

/// `account` (<https://docs.stripe.com/api/accounts/object>).
#[derive(Debug, Deserialize)]
pub(crate) struct WireAccount {
    id: String,
    #[serde(default)]
    charges_enabled: bool,
    #[serde(default)]
    payouts_enabled: bool,
    #[serde(default)]
    details_submitted: bool,
}

impl From<WireAccount> for Account {
    fn from(w: WireAccount) -> Account {
        Account {
            id: w.id,
            charges_enabled: w.charges_enabled,
            payouts_enabled: w.payouts_enabled,
            details_submitted: w.details_submitted,
        }
    }
}

/// `account_link` (<https://docs.stripe.com/api/account_links/object>).
#[derive(Debug, Deserialize)]
pub(crate) struct WireAccountLink {
    url: String,
    expires_at: i64,
}

impl From<WireAccountLink> for AccountLink {
    fn from(w: WireAccountLink) -> AccountLink {
        AccountLink {
            url: w.url,
            expires_at: w.expires_at,
        }
    }
}

/// `balance` (<https://docs.stripe.com/api/balance/balance_object>); we only check
/// that the answer is a balance (`"object": "balance"`).
#[derive(Debug, Deserialize)]
pub(crate) struct WireBalance {
    pub(crate) object: String,
}

/// Error codes that mean "another request holds the lock; try again"
/// (<https://docs.stripe.com/error-codes>).
const RETRYABLE_CODES: &[&str] = &["idempotency_key_in_use", "lock_timeout", "rate_limit"];

/// Maps a non-2xx answer to [`ProviderError`] (<https://docs.stripe.com/api/errors>):
///
/// - 5xx, 429, the retryable lock codes (`idempotency_key_in_use`, `lock_timeout`,
///   usually HTTP 409), and any answer carrying `Stripe-Should-Retry: true` →
///   [`ProviderError::Unavailable`];
/// - other 4xx → [`ProviderError::Rejected`] with `error.code`, else `error.type`,
///   else `http_<status>`;
/// - anything else (1xx/3xx) → `Unavailable("unexpected response")`.
///
/// The description never includes Stripe's free-text message, which may quote
/// request values.
pub(crate) fn map_error(
    status: u16,
    error: Option<&WireError>,
    should_retry: Option<bool>,
) -> ProviderError {
    let code = error.and_then(|e| e.code.as_deref());
    let error_type = error.and_then(|e| e.error_type.as_deref());
    let retryable_code = code.is_some_and(|c| RETRYABLE_CODES.contains(&c));
    if status >= 500 || status == 429 || retryable_code || should_retry == Some(true) {
        let what = code.or(error_type).unwrap_or("no error code");
        return ProviderError::Unavailable(format!("stripe answered HTTP {status} ({what})"));
    }
    if (400..500).contains(&status) {
        let code = code
            .or(error_type)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("http_{status}"));
        return ProviderError::Rejected { code };
    }
    ProviderError::Unavailable("unexpected response".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn err(json: &str) -> WireError {
        serde_json::from_str::<WireErrorBody>(json).unwrap().error
    }

    #[test]
    fn maps_statuses() {
        let invalid = err(
            r#"{"error":{"type":"invalid_request_error","code":"parameter_missing","param":"amount"}}"#,
        );
        assert_eq!(
            map_error(400, Some(&invalid), None),
            ProviderError::Rejected {
                code: "parameter_missing".into()
            }
        );
        let typed = err(r#"{"error":{"type":"invalid_request_error"}}"#);
        assert_eq!(
            map_error(404, Some(&typed), None),
            ProviderError::Rejected {
                code: "invalid_request_error".into()
            }
        );
        assert_eq!(
            map_error(403, None, None),
            ProviderError::Rejected {
                code: "http_403".into()
            }
        );
        let busy = err(r#"{"error":{"type":"idempotency_error","code":"idempotency_key_in_use"}}"#);
        assert!(map_error(409, Some(&busy), None).is_retryable());
        assert!(map_error(429, None, None).is_retryable());
        assert!(map_error(503, None, None).is_retryable());
        assert!(map_error(400, Some(&typed), Some(true)).is_retryable());
        assert!(map_error(302, None, None).is_retryable());
    }

    #[test]
    fn expandable_fields_accept_objects() {
        let pi: WirePaymentIntent = serde_json::from_str(
            r#"{"id":"pi_1","status":"succeeded","amount":5,"amount_received":5,
                "customer":{"id":"cus_1","object":"customer"},"latest_charge":"ch_1",
                "payment_method":null}"#,
        )
        .unwrap();
        let pi = pi.into_intent(None);
        assert_eq!(pi.customer.as_deref(), Some("cus_1"));
        assert_eq!(pi.latest_charge.as_deref(), Some("ch_1"));
        assert_eq!(pi.payment_method, None);
    }
}
