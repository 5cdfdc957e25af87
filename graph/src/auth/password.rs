//! Password hashing with argon2id (RFC 9106) at the `argon2` crate's defaults
//! (m = 19 MiB, t = 2, p = 1: OWASP Password Storage Cheat Sheet's first option).
//! Hashing runs on the blocking pool so it never stalls the async runtime, at most
//! [`MAX_CONCURRENT_HASHES`] at a time (each holds 19 MiB), so a flood of log-ins queues
//! instead of exhausting memory.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::ApiError;

/// Shortest accepted password (NIST SP 800-63B §5.1.1.2: at least 8 characters).
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest accepted password, to bound hashing work.
pub const MAX_PASSWORD_LEN: usize = 128;

/// Most argon2 computations at once, process-wide (4 × 19 MiB).
pub const MAX_CONCURRENT_HASHES: usize = 4;

static PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_HASHES);

/// Hashes `password` to a PHC string (`$argon2id$v=19$...`).
pub async fn hash(password: String) -> Result<String, ApiError> {
    let _permit = PERMITS.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("argon2 hash: {e}")))
    })
    .await
    .map_err(ApiError::internal)?
}

/// Checks `password` against a PHC string. A malformed stored hash counts as a mismatch.
pub async fn verify(password: String, phc: String) -> Result<bool, ApiError> {
    let _permit = PERMITS.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || match PasswordHash::new(&phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    })
    .await
    .map_err(ApiError::internal)
}

/// Spends the same time as a real verification, for unknown emails, so that response
/// time does not reveal whether an account exists.
pub async fn verify_dummy(password: String) -> Result<(), ApiError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = match DUMMY.get() {
        Some(p) => p.clone(),
        None => {
            let p = hash("dummy-password-for-timing".into()).await?;
            DUMMY.get_or_init(|| p).clone()
        }
    };
    verify(password, phc).await.map(|_| ())
}
