//! Access tokens (HS256 JWT, RFC 7519) and refresh tokens (opaque, hashed at rest).

use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `iss` of every access token.
pub const ISSUER: &str = "servicegraph";
/// `aud` of every access token.
pub const AUDIENCE: &str = "servicegraph-api";
/// Access-token lifetime: 15 minutes (OWASP JWT cheat sheet: keep access tokens short).
pub const ACCESS_TTL_MINUTES: i64 = 15;
/// Refresh-token lifetime: 30 days.
pub const REFRESH_TTL_DAYS: i64 = 30;

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// User id.
    pub sub: Uuid,
    /// Tenant id.
    pub tid: Uuid,
    /// Role (`OWNER`, `MANAGER`, `TECHNICIAN`).
    pub role: String,
    /// Issuer, [`ISSUER`].
    pub iss: String,
    /// Audience, [`AUDIENCE`].
    pub aud: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
}

/// HS256 signing and verification keys derived from `JWT_SECRET`.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    /// Keys from a secret (at least 32 bytes recommended, RFC 7518 §3.2).
    pub fn new(secret: &[u8]) -> JwtKeys {
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// Signs an access token for `user_id` in `tenant_id` with `role`, valid for
    /// [`ACCESS_TTL_MINUTES`].
    pub fn issue(
        &self,
        user_id: Uuid,
        tenant_id: Uuid,
        role: &str,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = Utc::now();
        let claims = Claims {
            sub: user_id,
            tid: tenant_id,
            role: role.to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: (now + Duration::minutes(ACCESS_TTL_MINUTES)).timestamp(),
            iat: now.timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Verifies signature (HS256 only: `alg` is pinned, so `none` and every other
    /// algorithm are refused), `exp` (no leeway), `iss` and `aud`.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AUDIENCE]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)?.claims)
    }
}

/// A new secret token `<prefix>_<tenant uuid>_<256 random bits, base64url>`. The tenant
/// id in the token lets the server open a tenant-scoped transaction before looking the
/// token up (by its hash). Used for refresh tokens (`rt`), agent keys (`sgk`), customer
/// cancellation tokens (`ct`) and slot holds (`hold`).
pub fn new_tenant_token(prefix: &str, tenant_id: Uuid) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}_{}_{}",
        tenant_id.simple(),
        URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The tenant id embedded in a token made by [`new_tenant_token`] with `prefix`, if it
/// is well-formed.
pub fn token_tenant(prefix: &str, token: &str) -> Option<Uuid> {
    let rest = token.strip_prefix(prefix)?.strip_prefix('_')?;
    let (tenant, secret) = rest.split_once('_')?;
    if secret.len() < 32 {
        return None;
    }
    Uuid::try_parse(tenant).ok()
}

/// A new refresh token `rt_<tenant uuid>_<secret>`.
pub fn new_refresh_token(tenant_id: Uuid) -> String {
    new_tenant_token("rt", tenant_id)
}

/// The tenant id embedded in a refresh token, if it is well-formed.
pub fn refresh_token_tenant(token: &str) -> Option<Uuid> {
    token_tenant("rt", token)
}

/// Hex SHA-256 of a token: what is stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_tamper() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let (u, t) = (Uuid::now_v7(), Uuid::now_v7());
        let tok = keys.issue(u, t, "OWNER").expect("issue");
        let c = keys.verify(&tok).expect("verify");
        assert_eq!((c.sub, c.tid, c.role.as_str()), (u, t, "OWNER"));
        let other = JwtKeys::new(b"another-secret-another-secret-xx");
        assert!(other.verify(&tok).is_err());
        let mut tampered = tok.clone();
        tampered.pop();
        tampered.push(if tok.ends_with('A') { 'B' } else { 'A' });
        assert!(keys.verify(&tampered).is_err());
    }

    #[test]
    fn refresh_token_shape() {
        let t = Uuid::now_v7();
        let tok = new_refresh_token(t);
        assert_eq!(refresh_token_tenant(&tok), Some(t));
        assert_eq!(refresh_token_tenant("rt_garbage"), None);
        assert_ne!(new_refresh_token(t), tok);
        assert_eq!(hash_token("abc").len(), 64);
    }
}
