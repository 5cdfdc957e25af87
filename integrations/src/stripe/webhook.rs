//! Stripe webhook signatures and events.
//!
//! Stripe signs every webhook delivery with the endpoint's signing secret (`whsec_…`)
//! and sends the result in the `Stripe-Signature` header:
//!
//! ```text
//! Stripe-Signature: t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v0=…
//! ```
//!
//! `t` is the signing time (Unix seconds), each `v1` is the lower-case hex
//! HMAC-SHA256 of `"{t}.{raw body}"` keyed with a signing secret, and other schemes
//! (`v0`, test-mode leftovers) are ignored. While a secret is being rolled, Stripe
//! signs with both the old and the new secret and sends one `v1` per secret.
//! The receiver must compute the HMAC over the **raw** request body (not re-serialised
//! JSON), compare in constant time, and reject timestamps too far from now to limit
//! replays (Stripe's libraries allow 5 minutes).
//! <https://docs.stripe.com/webhooks#verify-manually>
//!
//! Typical use in an HTTP handler:
//!
//! ```
//! use integrations::stripe::webhook::{self, DEFAULT_TOLERANCE_SECS};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let body = br#"{"id":"evt_1","object":"event","type":"checkout.session.completed","created":1700000000,"livemode":false,"data":{"object":{"id":"cs_test_1"}}}"#;
//! let header = webhook::sign(body, "whsec_test", 1_700_000_000); // what Stripe would send
//! webhook::verify(body, &header, &["whsec_test"], 1_700_000_010, DEFAULT_TOLERANCE_SECS)?;
//! let event = webhook::parse_event(body)?;
//! assert_eq!(event.event_type, "checkout.session.completed");
//! # Ok(())
//! # }
//! ```

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::ProviderError;

type HmacSha256 = Hmac<Sha256>;

/// The name of the HTTP header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// How far (in seconds, either way) the signed timestamp may be from now; Stripe's
/// libraries use the same default. <https://docs.stripe.com/webhooks#replay-attacks>
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// The only signature scheme Stripe uses for live events.
const SCHEME_V1: &str = "v1";

/// Why a webhook signature was refused. No variant carries the payload or a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The `Stripe-Signature` header is absent or empty.
    #[error("missing Stripe-Signature header")]
    MissingHeader,
    /// The header has no valid `t=` timestamp or no `v1=` signature.
    #[error("malformed Stripe-Signature header")]
    Malformed,
    /// No `v1` signature matches the payload under any of the given secrets (wrong
    /// secret, altered payload, or no secrets given).
    #[error("no Stripe webhook signature matches the payload")]
    NoSignatureMatch,
    /// The signature is valid but its timestamp is further from now than the tolerance.
    #[error("Stripe webhook timestamp is outside the tolerance")]
    TimestampOutsideTolerance,
}

/// The parts of a `Stripe-Signature` header this module uses.
struct ParsedHeader<'a> {
    timestamp: i64,
    /// The raw `t` value as sent, which is what Stripe signed.
    timestamp_raw: &'a str,
    v1: Vec<&'a str>,
}

fn parse_header(header: &str) -> Result<ParsedHeader<'_>, SignatureError> {
    if header.trim().is_empty() {
        return Err(SignatureError::MissingHeader);
    }
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for item in header.split(',') {
        // Like Stripe's libraries, skip elements that are not `key=value`.
        let Some((key, value)) = item.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(SignatureError::Malformed);
                }
                let t = value
                    .parse::<i64>()
                    .map_err(|_| SignatureError::Malformed)?;
                timestamp = Some((t, value));
            }
            SCHEME_V1 => v1.push(value),
            _ => {}
        }
    }
    match timestamp {
        Some((timestamp, timestamp_raw)) if !v1.is_empty() => Ok(ParsedHeader {
            timestamp,
            timestamp_raw,
            v1,
        }),
        _ => Err(SignatureError::Malformed),
    }
}

/// HMAC-SHA256 over `"{t}.{payload}"`. HMAC accepts keys of any length, so this is
/// `None` only in theory.
fn signed_mac(secret: &str, t: &str, payload: &[u8]) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(payload);
    Some(mac)
}

/// Verifies a Stripe webhook delivery.
///
/// - `payload`: the raw request body, byte for byte as received.
/// - `signature_header`: the `Stripe-Signature` header value (`""` if absent).
/// - `secrets`: the endpoint's signing secrets (`whsec_…`); give both the old and the
///   new one while rolling a secret. Accepts if any `v1` signature matches any secret.
/// - `now_unix`: the current time, Unix seconds UTC.
/// - `tolerance_secs`: the largest accepted `|now_unix - t|`, in seconds (normally
///   [`DEFAULT_TOLERANCE_SECS`]; a negative value is treated as 0).
///
/// Signatures are checked before the timestamp, as Stripe's libraries do, and are
/// compared in constant time. Unknown schemes (`v0`, …) are ignored.
///
/// Errors: [`SignatureError::MissingHeader`] for an empty header,
/// [`SignatureError::Malformed`] when it lacks a numeric `t` or any `v1`,
/// [`SignatureError::NoSignatureMatch`] when no signature matches (also when `secrets`
/// is empty), [`SignatureError::TimestampOutsideTolerance`] for a stale or future
/// timestamp. <https://docs.stripe.com/webhooks#verify-manually>
pub fn verify(
    payload: &[u8],
    signature_header: &str,
    secrets: &[&str],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let header = parse_header(signature_header)?;
    let signatures: Vec<Vec<u8>> = header
        .v1
        .iter()
        .filter_map(|sig| hex::decode(sig).ok())
        .collect();
    let matched = secrets.iter().any(|secret| {
        signed_mac(secret, header.timestamp_raw, payload).is_some_and(|mac| {
            signatures
                .iter()
                .any(|sig| mac.clone().verify_slice(sig).is_ok())
        })
    });
    if !matched {
        return Err(SignatureError::NoSignatureMatch);
    }
    let tolerance = u64::try_from(tolerance_secs).unwrap_or(0);
    if now_unix.abs_diff(header.timestamp) > tolerance {
        return Err(SignatureError::TimestampOutsideTolerance);
    }
    Ok(())
}

/// The `Stripe-Signature` header value Stripe would send for `payload` signed with
/// `secret` at `t` (Unix seconds): `t={t},v1={hex hmac}`. For tests and local tools
/// that simulate Stripe.
pub fn sign(payload: &[u8], secret: &str, t: i64) -> String {
    let t = t.to_string();
    let signature = signed_mac(secret, &t, payload)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={t},{SCHEME_V1}={signature}")
}

/// A Stripe event (<https://docs.stripe.com/api/events/object>), as delivered to a
/// webhook endpoint. Only the fields the platform routes on are read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event {
    /// Event id (`evt_…`); Stripe may deliver the same event more than once, so use
    /// it to ignore duplicates.
    pub id: String,
    /// What happened, e.g. `checkout.session.completed`, `payment_intent.succeeded`,
    /// `account.updated`. <https://docs.stripe.com/api/events/types>
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the event happened (Unix seconds, UTC).
    pub created: i64,
    /// The connected account (`acct_…`) the event belongs to; `None` for the
    /// platform's own events. Set on Connect webhook endpoints.
    #[serde(default)]
    pub account: Option<String>,
    /// `true` for live mode, `false` for test mode.
    #[serde(default)]
    pub livemode: bool,
    /// The object the event is about.
    pub data: EventData,
}

/// The `data` member of an [`Event`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventData {
    /// The affected object (a checkout session, payment intent, account, …) as Stripe
    /// rendered it with the webhook endpoint's API version; its `object` field names
    /// the type.
    pub object: serde_json::Value,
}

/// Parses a webhook body into an [`Event`]. Call [`verify`] first.
///
/// Errors: [`ProviderError::InvalidInput`] when the body is not JSON or lacks `id`,
/// `type`, `created` or `data.object`. The message gives the position of the problem,
/// never the payload.
pub fn parse_event(payload: &[u8]) -> Result<Event, ProviderError> {
    serde_json::from_slice(payload).map_err(|e| {
        ProviderError::InvalidInput(format!(
            "webhook payload is not a Stripe event (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const SECRET: &str = "whsec_test_secret_abc123";
    const OLD_SECRET: &str = "whsec_old_secret_xyz789";
    const NOW: i64 = 1_700_000_000;
    const PAYLOAD: &[u8] = br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2025-09-30.clover","created":1700000000,"data":{"object":{"id":"cs_test_a1b2","object":"checkout.session","amount_total":5000,"client_reference_id":"booking_42","payment_status":"paid","status":"complete"}},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"checkout.session.completed"}"#;

    #[test]
    fn valid_signature_accepted() {
        let header = sign(PAYLOAD, SECRET, NOW);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        assert_eq!(
            verify(PAYLOAD, &header, &[SECRET], NOW, DEFAULT_TOLERANCE_SECS),
            Ok(())
        );
    }

    #[test]
    fn matches_known_hmac() {
        // HMAC-SHA256("whsec_test", "1.{}") computed independently.
        let header = sign(b"{}", "whsec_test", 1);
        let expected = {
            let mut mac = HmacSha256::new_from_slice(b"whsec_test").unwrap();
            mac.update(b"1.{}");
            hex::encode(mac.finalize().into_bytes())
        };
        assert_eq!(header, format!("t=1,v1={expected}"));
    }

    #[test]
    fn altered_payload_rejected() {
        let header = sign(PAYLOAD, SECRET, NOW);
        let mut tampered = PAYLOAD.to_vec();
        let i = tampered.windows(4).position(|w| w == b"5000").unwrap();
        tampered[i] = b'9';
        assert_eq!(
            verify(&tampered, &header, &[SECRET], NOW, DEFAULT_TOLERANCE_SECS),
            Err(SignatureError::NoSignatureMatch)
        );
    }

    #[test]
    fn stale_and_future_timestamps_rejected() {
        let header = sign(PAYLOAD, SECRET, NOW - 301);
        assert_eq!(
            verify(PAYLOAD, &header, &[SECRET], NOW, DEFAULT_TOLERANCE_SECS),
            Err(SignatureError::TimestampOutsideTolerance)
        );
        let edge = sign(PAYLOAD, SECRET, NOW - 300);
        assert_eq!(
            verify(PAYLOAD, &edge, &[SECRET], NOW, DEFAULT_TOLERANCE_SECS),
            Ok(())
        );
        let future = sign(PAYLOAD, SECRET, NOW + 301);
        assert_eq!(
            verify(PAYLOAD, &future, &[SECRET], NOW, DEFAULT_TOLERANCE_SECS),
            Err(SignatureError::TimestampOutsideTolerance)
        );
    }

    #[test]
    fn missing_or_garbled_header_rejected() {
        let check = |h: &str| verify(PAYLOAD, h, &[SECRET], NOW, DEFAULT_TOLERANCE_SECS);
        assert_eq!(check(""), Err(SignatureError::MissingHeader));
        assert_eq!(check("   "), Err(SignatureError::MissingHeader));
        assert_eq!(check("garbage"), Err(SignatureError::Malformed));
        assert_eq!(check("t=abc,v1=00"), Err(SignatureError::Malformed));
        assert_eq!(check("t=1700000000"), Err(SignatureError::Malformed));
        let sig = sign(PAYLOAD, SECRET, NOW);
        let v1 = sig.split_once(",v1=").unwrap().1;
        assert_eq!(check(&format!("v1={v1}")), Err(SignatureError::Malformed));
        assert_eq!(
            check(&format!("t={NOW},v1=not-hex")),
            Err(SignatureError::NoSignatureMatch)
        );
        assert_eq!(
            check(&format!("t={NOW},v1={}", &v1[..32])),
            Err(SignatureError::NoSignatureMatch)
        );
        // A v0 signature alone is not accepted, even if it is the right HMAC.
        assert_eq!(
            check(&format!("t={NOW},v0={v1}")),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn unknown_schemes_ignored() {
        let header = sign(PAYLOAD, SECRET, NOW);
        let with_extra = format!(
            "{header},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39,x=1"
        );
        assert_eq!(
            verify(PAYLOAD, &with_extra, &[SECRET], NOW, DEFAULT_TOLERANCE_SECS),
            Ok(())
        );
    }

    #[test]
    fn wrong_secret_rejected() {
        let header = sign(PAYLOAD, "whsec_attacker", NOW);
        assert_eq!(
            verify(PAYLOAD, &header, &[SECRET], NOW, DEFAULT_TOLERANCE_SECS),
            Err(SignatureError::NoSignatureMatch)
        );
        assert_eq!(
            verify(PAYLOAD, &header, &[], NOW, DEFAULT_TOLERANCE_SECS),
            Err(SignatureError::NoSignatureMatch)
        );
    }

    #[test]
    fn rotation_header_with_two_signatures() {
        // During a roll Stripe sends one v1 per active secret.
        let old = sign(PAYLOAD, OLD_SECRET, NOW);
        let new = sign(PAYLOAD, SECRET, NOW);
        let old_v1 = old.split_once(',').unwrap().1;
        let new_v1 = new.split_once(',').unwrap().1;
        let header = format!("t={NOW},{old_v1},{new_v1}");
        assert_eq!(
            verify(PAYLOAD, &header, &[SECRET], NOW, DEFAULT_TOLERANCE_SECS),
            Ok(())
        );
        assert_eq!(
            verify(PAYLOAD, &header, &[OLD_SECRET], NOW, DEFAULT_TOLERANCE_SECS),
            Ok(())
        );
    }

    #[test]
    fn rotation_verifier_with_two_secrets() {
        for secret in [OLD_SECRET, SECRET] {
            let header = sign(PAYLOAD, secret, NOW);
            assert_eq!(
                verify(
                    PAYLOAD,
                    &header,
                    &[OLD_SECRET, SECRET],
                    NOW,
                    DEFAULT_TOLERANCE_SECS
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn errors_do_not_reveal_secrets() {
        let header = sign(PAYLOAD, SECRET, NOW - 1000);
        for err in [
            verify(PAYLOAD, &header, &[SECRET], NOW, DEFAULT_TOLERANCE_SECS).unwrap_err(),
            verify(b"x", &header, &[SECRET], NOW, DEFAULT_TOLERANCE_SECS).unwrap_err(),
        ] {
            assert!(!format!("{err} {err:?}").contains(SECRET));
        }
    }

    #[test]
    fn parses_event() {
        let event = parse_event(PAYLOAD).unwrap();
        assert_eq!(event.id, "evt_1NG8Du2eZvKYlo2CUI79vXWy");
        assert_eq!(event.event_type, "checkout.session.completed");
        assert_eq!(event.created, 1_700_000_000);
        assert_eq!(event.account, None);
        assert!(!event.livemode);
        assert_eq!(event.data.object["object"], "checkout.session");
        assert_eq!(event.data.object["client_reference_id"], "booking_42");

        let connect = br#"{"id":"evt_2","object":"event","account":"acct_1Nv0FGQ9RKHgCVdK","type":"account.updated","created":1,"data":{"object":{"id":"acct_1Nv0FGQ9RKHgCVdK","object":"account","charges_enabled":true}}}"#;
        let event = parse_event(connect).unwrap();
        assert_eq!(event.account.as_deref(), Some("acct_1Nv0FGQ9RKHgCVdK"));
        assert!(!event.livemode);

        assert!(matches!(
            parse_event(b"not json"),
            Err(ProviderError::InvalidInput(_))
        ));
        assert!(matches!(
            parse_event(br#"{"id":"evt_3"}"#),
            Err(ProviderError::InvalidInput(_))
        ));
    }
}
