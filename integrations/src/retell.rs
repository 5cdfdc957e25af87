//! Retell request signatures (`X-Retell-Signature`).
//!
//! Retell signs every webhook and custom-function request with the account's API key
//! (the key marked "webhook" in the Retell dashboard;
//! <https://docs.retellai.com/features/secure-webhook>):
//!
//! - the header is `v={timestamp},d={hex digest}`, where `timestamp` is Unix time in
//!   **milliseconds** when the request was sent;
//! - `d` is the lower-case hex HMAC-SHA256, keyed with the API key, of the raw request
//!   body immediately followed by the timestamp's decimal digits;
//! - the receiver refuses a timestamp more than 5 minutes away from its clock (replay).
//!
//! ```
//! use integrations::retell;
//!
//! let body = br#"{"name":"business_info","call":{},"args":{}}"#;
//! let header = retell::sign("key_123", body, 1_700_000_000_000);
//! assert!(retell::verify("key_123", body, Some(&header), 1_700_000_000_000).is_ok());
//! assert!(retell::verify("other", body, Some(&header), 1_700_000_000_000).is_err());
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The name of the HTTP header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Retell-Signature";

/// Largest accepted distance between the signed timestamp and our clock, in
/// milliseconds (Retell's documented 5 minutes).
pub const TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// Why a signature was refused. No variant carries the key or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Retell-Signature` header.
    #[error("missing X-Retell-Signature header")]
    Missing,
    /// The header is not `v=<digits>,d=<hex>`.
    #[error("malformed X-Retell-Signature header")]
    Malformed,
    /// The timestamp is more than [`TOLERANCE_MS`] away from now.
    #[error("signature timestamp outside the tolerance")]
    Stale,
    /// The digest does not match.
    #[error("signature does not match")]
    Mismatch,
}

fn mac(api_key: &str, body: &[u8], timestamp: &str) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(api_key.as_bytes()).ok()?;
    mac.update(body);
    mac.update(timestamp.as_bytes());
    Some(mac)
}

/// The header value Retell would send for `body` at `timestamp_ms` (for tests and
/// local tools).
pub fn sign(api_key: &str, body: &[u8], timestamp_ms: i64) -> String {
    let ts = timestamp_ms.to_string();
    let digest = mac(api_key, body, &ts)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("v={ts},d={digest}")
}

/// Checks `header` (the `X-Retell-Signature` value) over the raw `body` with `api_key`
/// at `now_ms` (Unix milliseconds). The comparison is constant-time.
pub fn verify(
    api_key: &str,
    body: &[u8],
    header: Option<&str>,
    now_ms: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let (v, d) = header.split_once(',').ok_or(SignatureError::Malformed)?;
    let ts = v
        .trim()
        .strip_prefix("v=")
        .ok_or(SignatureError::Malformed)?;
    let digest = d
        .trim()
        .strip_prefix("d=")
        .ok_or(SignatureError::Malformed)?;
    if ts.is_empty() || ts.len() > 18 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::Malformed);
    }
    let at: i64 = ts.parse().map_err(|_| SignatureError::Malformed)?;
    let expected = hex::decode(digest).map_err(|_| SignatureError::Malformed)?;
    if (now_ms - at).abs() > TOLERANCE_MS {
        return Err(SignatureError::Stale);
    }
    let m = mac(api_key, body, ts).ok_or(SignatureError::Mismatch)?;
    m.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000_000;

    #[test]
    fn a_signature_made_with_the_key_verifies_and_any_change_is_refused() {
        let body = br#"{"name":"check_availability","args":{"date":"2026-12-08"}}"#;
        let h = sign("key_abc", body, NOW);
        assert!(h.starts_with(&format!("v={NOW},d=")));
        assert_eq!(verify("key_abc", body, Some(&h), NOW + 1_000), Ok(()));
        assert_eq!(
            verify("key_abd", body, Some(&h), NOW),
            Err(SignatureError::Mismatch)
        );
        let mut other = body.to_vec();
        other[10] ^= 1;
        assert_eq!(
            verify("key_abc", &other, Some(&h), NOW),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed too.
        let moved = h.replace(&NOW.to_string(), &(NOW + 1).to_string());
        assert_eq!(
            verify("key_abc", body, Some(&moved), NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_digest_is_hmac_sha256_of_body_then_timestamp_in_hex() {
        // HMAC-SHA256(key = "key", message = "{}" + "1000"), computed independently
        // with `printf '{}1000' | openssl dgst -sha256 -hmac key`.
        let h = sign("key", b"{}", 1000);
        assert_eq!(
            h,
            "v=1000,d=f5b3b721537de6b982e9b49af5115847dd68327865ebdcd3b80f8d3f30c50e3b"
        );
    }

    #[test]
    fn missing_malformed_and_stale_headers_are_refused() {
        let body = b"{}";
        assert_eq!(verify("k", body, None, NOW), Err(SignatureError::Missing));
        for bad in ["", "v=1", "d=00", "v=x,d=00", "v=1,d=zz", "t=1,v1=00"] {
            assert_eq!(
                verify("k", body, Some(bad), NOW),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        let old = sign("k", body, NOW - TOLERANCE_MS - 1);
        assert_eq!(
            verify("k", body, Some(&old), NOW),
            Err(SignatureError::Stale)
        );
        let future = sign("k", body, NOW + TOLERANCE_MS + 1);
        assert_eq!(
            verify("k", body, Some(&future), NOW),
            Err(SignatureError::Stale)
        );
    }
}
