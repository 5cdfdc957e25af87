//! Twilio webhook signatures (`X-Twilio-Signature`).
//!
//! Twilio signs every request it sends to a webhook (incoming messages, delivery
//! status callbacks, voice webhooks) with the account's auth token
//! (<https://www.twilio.com/docs/usage/webhooks/webhooks-security>):
//!
//! 1. take the full URL Twilio requested, exactly as configured, with its query string
//!    (`https://example.com/sms?tenant=acme`);
//! 2. for an `application/x-www-form-urlencoded` POST, append every POST parameter,
//!    sorted by name (and, for repeated names, by value), each as its name immediately
//!    followed by its value, with no separators;
//! 3. HMAC-SHA1 that string keyed with the auth token and base64-encode (standard
//!    alphabet, padded) the 20-byte result.
//!
//! For an `application/json` body Twilio signs the URL alone, after adding a
//! `bodySHA256` query parameter holding the lower-case hex SHA-256 of the raw body; the
//! receiver checks both the signature and that hash
//! (<https://www.twilio.com/docs/api/errors/57012>).
//!
//! Twilio adds webhook parameters over time, so the receiver signs whatever parameters
//! arrive, never a fixed list. The URL must be the one Twilio requested (scheme, host,
//! port, path and query, still percent-encoded); behind a proxy, rebuild it from the
//! configured public URL rather than from the proxied request. Twilio's own helper
//! libraries also try the URL with and without an explicit default port; this module
//! does not.
//!
//! ```
//! use integrations::twilio::signature;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let url = "https://example.com/twilio/sms?tenant=acme";
//! let body = b"MessageSid=SM1&From=%2B14155550123&Body=Hi";
//! let header = signature::sign("auth-token", url, &signature::parse_form(body));
//! signature::verify(
//!     "auth-token",
//!     url,
//!     Some("application/x-www-form-urlencoded"),
//!     body,
//!     Some(&header),
//! )?;
//! # Ok(())
//! # }
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha1 = Hmac<Sha1>;

/// The name of the HTTP header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// The query parameter Twilio adds to the URL of a JSON webhook: the lower-case hex
/// SHA-256 of the raw body. <https://www.twilio.com/docs/api/errors/57012>
pub const BODY_HASH_PARAM: &str = "bodySHA256";

/// Why a webhook signature was refused. No variant carries the auth token, the URL or
/// the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The `X-Twilio-Signature` header is absent or empty.
    #[error("missing X-Twilio-Signature header")]
    Missing,
    /// The signature does not match the URL and parameters under the auth token (wrong
    /// token, altered or added parameter, or a different URL).
    #[error("X-Twilio-Signature does not match the request")]
    Mismatch,
    /// The signature matches, but the JSON body is not the one whose SHA-256 Twilio put
    /// in the URL's `bodySHA256` parameter.
    #[error("request body does not match its bodySHA256 parameter")]
    BodyHashMismatch,
    /// The header is not base64, or a JSON request's URL has no `bodySHA256` parameter.
    #[error("malformed Twilio webhook signature or URL")]
    Malformed,
}

/// HMAC-SHA1 keyed with `auth_token` over `url` followed by `params`, sorted by name,
/// then value. HMAC accepts keys of any length, so this is `None` only in theory.
fn signed_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Option<HmacSha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = HmacSha1::new_from_slice(auth_token.as_bytes()).ok()?;
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    Some(mac)
}

/// The `X-Twilio-Signature` value Twilio would send for a request to `url` (full URL
/// with query string) with the POST parameters `params` (in any order; pass `&[]` for a
/// GET or a JSON webhook, whose `url` already carries `bodySHA256`): the standard,
/// padded base64 of HMAC-SHA1 keyed with `auth_token` over `url` followed by each
/// parameter's name and value, sorted by name, then by value.
/// <https://www.twilio.com/docs/usage/webhooks/webhooks-security>
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    signed_mac(auth_token, url, params)
        .map(|mac| STANDARD.encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Decodes an `application/x-www-form-urlencoded` body into name/value pairs, in the
/// order sent (`+` is a space, `%XX` a byte; invalid UTF-8 is replaced with U+FFFD).
/// <https://url.spec.whatwg.org/#application/x-www-form-urlencoded>
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The lower-case hex SHA-256 of `body`, as Twilio puts it in the `bodySHA256` query
/// parameter of a JSON webhook's URL.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Whether `content_type` (a `Content-Type` header value) is `application/json`,
/// ignoring case and parameters such as `charset`.
fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The value of the query parameter `name` in `url`, percent-decoded.
fn query_param(url: &str, name: &str) -> Option<String> {
    let (_, rest) = url.split_once('?')?;
    let query = rest.split('#').next().unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Verifies one webhook request from Twilio.
///
/// - `auth_token`: the account's auth token (the HMAC key).
/// - `url`: the full URL Twilio requested, with its query string, as configured in
///   Twilio (see the [module docs](self)).
/// - `content_type`: the request's `Content-Type` header; `application/json` selects
///   the JSON rules, anything else (or `None`) the form rules.
/// - `body`: the raw request body, byte for byte as received.
/// - `header`: the [`SIGNATURE_HEADER`] value, `None` when absent.
///
/// A form body is checked by signing `url` followed by all its parameters (whatever
/// names arrive); a JSON body by signing `url` alone and then requiring the URL's
/// `bodySHA256` parameter to equal [`body_sha256`] of `body`. The signature is compared
/// in constant time after base64-decoding the header.
///
/// Errors: [`SignatureError::Missing`] for an absent or empty header,
/// [`SignatureError::Malformed`] for a header that is not base64 or a JSON request
/// without `bodySHA256`, [`SignatureError::Mismatch`] when the signature does not match,
/// [`SignatureError::BodyHashMismatch`] when a JSON body differs from its hash.
/// <https://www.twilio.com/docs/usage/webhooks/webhooks-security>
pub fn verify(
    auth_token: &str,
    url: &str,
    content_type: Option<&str>,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(SignatureError::Missing)?;
    let signature = STANDARD
        .decode(header)
        .map_err(|_| SignatureError::Malformed)?;
    let json = is_json(content_type);
    let params = if json { Vec::new() } else { parse_form(body) };
    let expected_hash = if json {
        Some(query_param(url, BODY_HASH_PARAM).ok_or(SignatureError::Malformed)?)
    } else {
        None
    };
    let mac = signed_mac(auth_token, url, &params).ok_or(SignatureError::Mismatch)?;
    mac.verify_slice(&signature)
        .map_err(|_| SignatureError::Mismatch)?;
    if let Some(expected) = expected_hash {
        let actual = body_sha256(body);
        // Both sides are public (the hash is in the URL); no need for constant time.
        if actual != expected {
            return Err(SignatureError::BodyHashMismatch);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const FORM: &str = "application/x-www-form-urlencoded";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Twilio's published example
    /// (<https://www.twilio.com/docs/usage/webhooks/webhooks-security>).
    fn published_params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    fn encode(params: &[(String, String)]) -> Vec<u8> {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish()
            .into_bytes()
    }

    #[test]
    fn twilios_published_example_signs_and_verifies() {
        let params = published_params();
        assert_eq!(sign(TOKEN, URL, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        let body = encode(&params);
        assert_eq!(
            verify(
                TOKEN,
                URL,
                Some(FORM),
                &body,
                Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
            ),
            Ok(())
        );
    }

    #[test]
    fn parameter_order_in_the_body_does_not_matter() {
        let mut params = published_params();
        params.reverse();
        let body = encode(&params);
        assert_eq!(
            verify(
                TOKEN,
                URL,
                Some(FORM),
                &body,
                Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
            ),
            Ok(())
        );
    }

    #[test]
    fn a_tampered_parameter_fails() {
        let header = sign(TOKEN, URL, &published_params());
        let mut params = published_params();
        params[2].1 = "9999".into();
        assert_eq!(
            verify(TOKEN, URL, Some(FORM), &encode(&params), Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_different_url_fails() {
        let header = sign(TOKEN, URL, &published_params());
        let body = encode(&published_params());
        for url in [
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            "https://mycompany.com/myapp.php",
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            "https://evil.example/myapp.php?foo=1&bar=2",
        ] {
            assert_eq!(
                verify(TOKEN, url, Some(FORM), &body, Some(&header)),
                Err(SignatureError::Mismatch),
                "{url}"
            );
        }
    }

    #[test]
    fn a_different_token_fails() {
        let header = sign("54321", URL, &published_params());
        let body = encode(&published_params());
        assert_eq!(
            verify(TOKEN, URL, Some(FORM), &body, Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn parameters_twilio_adds_later_are_signed_like_any_other() {
        let mut params = published_params();
        params.push(("ApiVersion".into(), "2010-04-01".into()));
        params.push(("NewFieldTwilioAddedIn2030".into(), "yes".into()));
        let header = sign(TOKEN, URL, &params);
        let body = encode(&params);
        assert_eq!(verify(TOKEN, URL, Some(FORM), &body, Some(&header)), Ok(()));
    }

    #[test]
    fn a_parameter_added_after_signing_fails() {
        let header = sign(TOKEN, URL, &published_params());
        let mut params = published_params();
        params.push(("Injected".into(), "1".into()));
        assert_eq!(
            verify(TOKEN, URL, Some(FORM), &encode(&params), Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn repeated_names_are_sorted_by_value() {
        let a = pairs(&[("MediaUrl", "b"), ("MediaUrl", "a"), ("Body", "x")]);
        let b = pairs(&[("Body", "x"), ("MediaUrl", "a"), ("MediaUrl", "b")]);
        assert_eq!(sign(TOKEN, URL, &a), sign(TOKEN, URL, &b));
        let mut mac = HmacSha1::new_from_slice(TOKEN.as_bytes()).unwrap();
        mac.update(format!("{URL}BodyxMediaUrlaMediaUrlb").as_bytes());
        assert_eq!(
            sign(TOKEN, URL, &a),
            STANDARD.encode(mac.finalize().into_bytes())
        );
    }

    #[test]
    fn a_missing_or_empty_header_fails() {
        let body = encode(&published_params());
        assert_eq!(
            verify(TOKEN, URL, Some(FORM), &body, None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(TOKEN, URL, Some(FORM), &body, Some("  ")),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn a_header_that_is_not_base64_is_malformed() {
        let body = encode(&published_params());
        assert_eq!(
            verify(TOKEN, URL, Some(FORM), &body, Some("not base64!")),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn a_truncated_signature_fails() {
        assert_eq!(
            verify(TOKEN, URL, Some(FORM), b"", Some("RSOYDt4T1cUTdK1P")),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_json_body_is_checked_against_its_body_sha256() {
        let body = br#"{"MessageSid":"SM1","MessageStatus":"delivered"}"#;
        let url = format!(
            "https://example.com/twilio/status?tenant=acme&{BODY_HASH_PARAM}={}",
            body_sha256(body)
        );
        let header = sign(TOKEN, &url, &[]);
        assert_eq!(
            verify(
                TOKEN,
                &url,
                Some("application/json; charset=utf-8"),
                body,
                Some(&header)
            ),
            Ok(())
        );

        let changed = br#"{"MessageSid":"SM1","MessageStatus":"failed"}"#;
        assert_eq!(
            verify(
                TOKEN,
                &url,
                Some("application/json"),
                changed,
                Some(&header)
            ),
            Err(SignatureError::BodyHashMismatch)
        );

        // A forged hash in the URL breaks the signature.
        let forged = format!(
            "https://example.com/twilio/status?tenant=acme&{BODY_HASH_PARAM}={}",
            body_sha256(changed)
        );
        assert_eq!(
            verify(
                TOKEN,
                &forged,
                Some("application/json"),
                changed,
                Some(&header)
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_json_body_without_body_sha256_is_malformed() {
        let url = "https://example.com/twilio/status";
        let header = sign(TOKEN, url, &[]);
        assert_eq!(
            verify(TOKEN, url, Some("application/json"), b"{}", Some(&header)),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn parse_form_decodes_plus_and_percent() {
        assert_eq!(
            parse_form(b"From=%2B14155550123&Body=Hello+there%21&Empty="),
            pairs(&[
                ("From", "+14155550123"),
                ("Body", "Hello there!"),
                ("Empty", "")
            ])
        );
    }

    #[test]
    fn errors_never_show_the_token() {
        for e in [
            SignatureError::Missing,
            SignatureError::Mismatch,
            SignatureError::BodyHashMismatch,
            SignatureError::Malformed,
        ] {
            assert!(!e.to_string().contains(TOKEN));
            assert!(!format!("{e:?}").contains(TOKEN));
        }
    }
}
