//! Secrets at rest: AES-256-GCM with named keys and key rotation.
//!
//! Plugin credentials (API keys, webhook signing secrets) are stored encrypted. The key
//! material comes from the `ENCRYPTION_KEY` setting, parsed into a [`KeyRing`]:
//!
//! ```text
//! ENCRYPTION_KEY=<entry>[,<entry>...]
//! entry = base64key | keyid:base64key
//! ```
//!
//! Each `base64key` is standard base64 (RFC 4648 §4, with padding) of exactly 32 random
//! bytes. The **first** entry is the primary key and encrypts everything new; the others
//! only decrypt. To rotate, put a new key first, keep the old ones, run `rotate-keys`
//! (which calls [`KeyRing::reseal`] on every stored value) and then drop the old keys.
//!
//! A sealed value ([`Sealed`]) records the id of the key that sealed it, so a ring holding
//! several keys knows which one opens it. Its ciphertext is
//! `base64(nonce (12 bytes) || AES-256-GCM ciphertext || tag (16 bytes))`.
//!
//! Nonces are 96 random bits from the operating system's RNG, the RBG-based construction
//! of NIST SP 800-38D §8.2.2. §8.3 of that document caps a key at 2^32 invocations with
//! random nonces; rotate the key long before that many secrets have been sealed under it.
//!
//! Callers bind each ciphertext to its row through the associated data (AAD), e.g.
//! `tenant_id|plugin_id`: the AAD is authenticated but not stored, so a ciphertext copied
//! into another tenant's row fails to open there.
//!
//! Neither [`KeyRing`]'s `Debug` output nor any [`SecretsError`] message contains key
//! material or plaintext.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Length of an AES-256 key in bytes.
pub const KEY_LEN: usize = 32;

/// Length of a GCM nonce in bytes (96 bits, the length NIST SP 800-38D §5.2.1.1
/// recommends).
pub const NONCE_LEN: usize = 12;

/// Length of the GCM authentication tag in bytes (128 bits).
pub const TAG_LEN: usize = 16;

/// Maximum length of a key id, in ASCII characters.
pub const MAX_KEY_ID_LEN: usize = 32;

/// Why a key ring could not be parsed, or a value could not be sealed or opened.
///
/// Messages never contain key material or plaintext. Entry numbers are 1-based positions
/// in the comma-separated `ENCRYPTION_KEY` list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    /// `ENCRYPTION_KEY` holds no key at all.
    #[error("ENCRYPTION_KEY is empty: expected base64 of 32 bytes, optionally `keyid:` first")]
    Empty,
    /// An entry of the list is empty (e.g. `a,,b` or a trailing comma).
    #[error("ENCRYPTION_KEY entry {entry} is empty")]
    EmptyEntry {
        /// 1-based position of the entry.
        entry: usize,
    },
    /// An entry's key is not valid standard base64 (with padding).
    #[error("ENCRYPTION_KEY entry {entry} is not valid standard base64")]
    InvalidBase64 {
        /// 1-based position of the entry.
        entry: usize,
    },
    /// An entry's key decodes to the wrong number of bytes.
    #[error("ENCRYPTION_KEY entry {entry} decodes to {len} bytes; AES-256 needs exactly 32")]
    InvalidKeyLength {
        /// 1-based position of the entry.
        entry: usize,
        /// Decoded length in bytes.
        len: usize,
    },
    /// An entry's explicit key id does not match `[A-Za-z0-9_-]{1,32}`.
    #[error("ENCRYPTION_KEY entry {entry} has an invalid key id: expected [A-Za-z0-9_-]{{1,32}}")]
    InvalidKeyId {
        /// 1-based position of the entry.
        entry: usize,
    },
    /// Two entries have the same key id (explicitly, or the same key listed twice).
    #[error("ENCRYPTION_KEY lists key id {0} more than once")]
    DuplicateKeyId(String),
    /// A sealed value names a key id that is not in the ring (the key was removed too
    /// early, or the value comes from another deployment).
    #[error("no encryption key with id {0}")]
    UnknownKey(String),
    /// The stored ciphertext is not base64 or is too short to hold a nonce and a tag.
    #[error("sealed value is malformed")]
    Malformed,
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// Encryption failed (the plaintext exceeds the GCM limit of about 64 GiB).
    #[error("encryption failed")]
    Encrypt,
    /// Authentication failed: wrong key, wrong associated data, or a tampered ciphertext.
    /// Deliberately carries no detail.
    #[error("decryption failed")]
    Decrypt,
    /// The opened plaintext is not a JSON object (for [`KeyRing::open_json`]), or the map
    /// could not be serialised (for [`KeyRing::seal_json`]). Carries no detail, because
    /// JSON error messages quote the input.
    #[error("sealed value is not a JSON object")]
    Json,
}

/// One named key.
struct RingKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The keys from `ENCRYPTION_KEY`: a primary key that seals, plus older keys that only
/// open. See the [module documentation](self) for the format and rotation procedure.
///
/// `Debug` shows key ids only, never key material.
pub struct KeyRing {
    /// Non-empty; `keys[0]` is the primary key. Ids are unique.
    keys: Vec<RingKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("primary", &self.primary_id())
            .field("ids", &self.ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A value sealed by [`KeyRing::seal`], as stored in the database.
///
/// Neither field is secret: `key_id` names the key (not the key itself) and `ciphertext`
/// is authenticated ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Id of the key that sealed the value (see [`KeyRing::primary_id`]).
    pub key_id: String,
    /// Standard base64 of `nonce (12 bytes) || ciphertext || tag (16 bytes)`.
    pub ciphertext: String,
}

impl KeyRing {
    /// Parses the `ENCRYPTION_KEY` setting: comma-separated entries, each `base64key` or
    /// `keyid:base64key`, where `base64key` is standard base64 (with padding) of exactly
    /// 32 bytes. Whitespace around entries is ignored. The first entry is the primary key.
    ///
    /// A key without an explicit id gets `"k"` + the first 8 hex digits of the SHA-256 of
    /// its raw bytes, so the id is stable across restarts and reveals nothing useful.
    /// Explicit ids must match `[A-Za-z0-9_-]{1,32}`; all ids must be unique.
    ///
    /// # Errors
    ///
    /// [`SecretsError::Empty`], [`SecretsError::EmptyEntry`],
    /// [`SecretsError::InvalidBase64`], [`SecretsError::InvalidKeyLength`],
    /// [`SecretsError::InvalidKeyId`] or [`SecretsError::DuplicateKeyId`].
    pub fn parse(setting: &str) -> Result<KeyRing, SecretsError> {
        if setting.trim().is_empty() {
            return Err(SecretsError::Empty);
        }
        let mut keys: Vec<RingKey> = Vec::new();
        for (i, raw) in setting.split(',').enumerate() {
            let entry = i + 1;
            let raw = raw.trim();
            if raw.is_empty() {
                return Err(SecretsError::EmptyEntry { entry });
            }
            // Standard base64 never contains ':', so the first ':' separates the id.
            let (explicit_id, b64) = match raw.split_once(':') {
                Some((id, b64)) => (Some(id.trim()), b64.trim()),
                None => (None, raw),
            };
            if let Some(id) = explicit_id
                && !valid_key_id(id)
            {
                return Err(SecretsError::InvalidKeyId { entry });
            }
            let bytes = STANDARD
                .decode(b64)
                .map_err(|_| SecretsError::InvalidBase64 { entry })?;
            let key: [u8; KEY_LEN] =
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| SecretsError::InvalidKeyLength {
                        entry,
                        len: bytes.len(),
                    })?;
            let id = match explicit_id {
                Some(id) => id.to_string(),
                None => derived_key_id(&key),
            };
            if keys.iter().any(|k| k.id == id) {
                return Err(SecretsError::DuplicateKeyId(id));
            }
            let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(key));
            keys.push(RingKey { id, cipher });
        }
        Ok(KeyRing { keys })
    }

    /// Id of the primary key (the first entry), which [`KeyRing::seal`] uses.
    pub fn primary_id(&self) -> &str {
        self.primary().map_or("", |k| k.id.as_str())
    }

    /// Whether the ring holds a key with this id.
    pub fn contains(&self, id: &str) -> bool {
        self.key(id).is_some()
    }

    /// All key ids, primary first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    /// Encrypts `plaintext` with the primary key and a fresh random 96-bit nonce
    /// (NIST SP 800-38D §8.2.2), authenticating `aad` (e.g. `tenant_id|plugin_id`) with it.
    /// The same `aad` must be passed to [`KeyRing::open`].
    ///
    /// # Errors
    ///
    /// [`SecretsError::Rng`] if the OS random number generator fails;
    /// [`SecretsError::Encrypt`] if the plaintext is too long for GCM.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, SecretsError> {
        let key = self.primary().ok_or(SecretsError::Empty)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| SecretsError::Rng)?;
        let ct = key
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SecretsError::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(Sealed {
            key_id: key.id.clone(),
            ciphertext: STANDARD.encode(out),
        })
    }

    /// Decrypts a value sealed by this ring (or by an older ring whose key is still
    /// listed), with the key named by `sealed.key_id`. `aad` must equal the one given
    /// to [`KeyRing::seal`].
    ///
    /// # Errors
    ///
    /// [`SecretsError::UnknownKey`] if the key id is not in the ring;
    /// [`SecretsError::Malformed`] if the ciphertext is not base64 or too short;
    /// [`SecretsError::Decrypt`] if authentication fails (wrong key or AAD, tampering).
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let key = self
            .key(&sealed.key_id)
            .ok_or_else(|| SecretsError::UnknownKey(sealed.key_id.clone()))?;
        let bytes = STANDARD
            .decode(&sealed.ciphertext)
            .map_err(|_| SecretsError::Malformed)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretsError::Malformed);
        }
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SecretsError::Malformed)?;
        key.cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
            .map_err(|_| SecretsError::Decrypt)
    }

    /// Re-encrypts a value under the primary key, for key rotation: `Some(new)` when
    /// `sealed` uses another key, `None` when it already uses the primary key (it is then
    /// left as is, without being decrypted).
    ///
    /// # Errors
    ///
    /// As [`KeyRing::open`] and [`KeyRing::seal`].
    pub fn reseal(&self, sealed: &Sealed, aad: &[u8]) -> Result<Option<Sealed>, SecretsError> {
        if sealed.key_id == self.primary_id() {
            return Ok(None);
        }
        let plaintext = self.open(sealed, aad)?;
        self.seal(&plaintext, aad).map(Some)
    }

    /// Seals a JSON object of secret fields (serialised compactly as UTF-8 JSON).
    ///
    /// # Errors
    ///
    /// As [`KeyRing::seal`], or [`SecretsError::Json`] if serialisation fails.
    pub fn seal_json(
        &self,
        value: &Map<String, Value>,
        aad: &[u8],
    ) -> Result<Sealed, SecretsError> {
        let bytes = serde_json::to_vec(value).map_err(|_| SecretsError::Json)?;
        self.seal(&bytes, aad)
    }

    /// Opens a value sealed by [`KeyRing::seal_json`].
    ///
    /// # Errors
    ///
    /// As [`KeyRing::open`], or [`SecretsError::Json`] if the plaintext is not a JSON
    /// object.
    pub fn open_json(
        &self,
        sealed: &Sealed,
        aad: &[u8],
    ) -> Result<Map<String, Value>, SecretsError> {
        let bytes = self.open(sealed, aad)?;
        serde_json::from_slice(&bytes).map_err(|_| SecretsError::Json)
    }

    fn primary(&self) -> Option<&RingKey> {
        self.keys.first()
    }

    fn key(&self, id: &str) -> Option<&RingKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// What to show operators instead of a secret: its last 4 characters (Unicode scalar
/// values, not bytes), or `""` when the secret has fewer than 8 characters, so that at
/// most half of a short secret is ever revealed.
pub fn hint(secret: &str) -> String {
    let n = secret.chars().count();
    if n < 8 {
        return String::new();
    }
    secret.chars().skip(n - 4).collect()
}

/// `"k"` + the first 8 hex digits of SHA-256(key).
fn derived_key_id(key: &[u8]) -> String {
    let digest = Sha256::digest(key);
    let mut id = String::with_capacity(9);
    id.push('k');
    for b in digest.iter().take(4) {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// `[A-Za-z0-9_-]{1,32}`.
fn valid_key_id(id: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(byte: u8, len: usize) -> String {
        STANDARD.encode(vec![byte; len])
    }

    fn ring(s: &str) -> KeyRing {
        KeyRing::parse(s).expect("ring")
    }

    const AAD: &[u8] = b"tenant-1|stripe";

    #[test]
    fn round_trip() {
        let r = ring(&b64(1, 32));
        let sealed = r.seal(b"whsec_abc123", AAD).unwrap();
        assert_eq!(sealed.key_id, r.primary_id());
        let raw = STANDARD.decode(&sealed.ciphertext).unwrap();
        assert_eq!(raw.len(), NONCE_LEN + 12 + TAG_LEN);
        assert_eq!(r.open(&sealed, AAD).unwrap(), b"whsec_abc123");
        // The empty plaintext works too.
        let empty = r.seal(b"", AAD).unwrap();
        assert_eq!(r.open(&empty, AAD).unwrap(), b"");
    }

    #[test]
    fn wrong_aad_fails() {
        let r = ring(&b64(1, 32));
        let sealed = r.seal(b"secret", b"tenant-1|stripe").unwrap();
        assert_eq!(
            r.open(&sealed, b"tenant-2|stripe"),
            Err(SecretsError::Decrypt)
        );
        assert_eq!(r.open(&sealed, b""), Err(SecretsError::Decrypt));
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let r = ring(&b64(1, 32));
        let sealed = r.seal(b"secret value", AAD).unwrap();
        let raw = STANDARD.decode(&sealed.ciphertext).unwrap();
        // Flip one bit in every position in turn: nonce, ciphertext and tag.
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let tampered = Sealed {
                key_id: sealed.key_id.clone(),
                ciphertext: STANDARD.encode(&bad),
            };
            assert_eq!(r.open(&tampered, AAD), Err(SecretsError::Decrypt), "{i}");
        }
    }

    #[test]
    fn malformed_ciphertext() {
        let r = ring(&b64(1, 32));
        let id = r.primary_id().to_string();
        let bad = |c: &str| Sealed {
            key_id: id.clone(),
            ciphertext: c.to_string(),
        };
        assert_eq!(
            r.open(&bad("not base64!"), AAD),
            Err(SecretsError::Malformed)
        );
        let short = STANDARD.encode([0u8; NONCE_LEN + TAG_LEN - 1]);
        assert_eq!(r.open(&bad(&short), AAD), Err(SecretsError::Malformed));
    }

    #[test]
    fn nonce_differs_between_seals() {
        let r = ring(&b64(1, 32));
        let a = r.seal(b"same", AAD).unwrap();
        let b = r.seal(b"same", AAD).unwrap();
        assert_ne!(a.ciphertext, b.ciphertext);
        let na = &STANDARD.decode(&a.ciphertext).unwrap()[..NONCE_LEN];
        let nb = &STANDARD.decode(&b.ciphertext).unwrap()[..NONCE_LEN];
        assert_ne!(na, nb);
    }

    #[test]
    fn rotation() {
        let old_key = b64(1, 32);
        let new_key = b64(2, 32);
        let old = ring(&format!("old:{old_key}"));
        let both = ring(&format!("new:{new_key}, old:{old_key}"));
        assert_eq!(both.primary_id(), "new");
        assert!(both.contains("old") && both.contains("new"));
        assert_eq!(both.ids().collect::<Vec<_>>(), ["new", "old"]);

        let sealed_old = old.seal(b"s3cret", AAD).unwrap();
        assert_eq!(sealed_old.key_id, "old");
        assert_eq!(both.open(&sealed_old, AAD).unwrap(), b"s3cret");

        let resealed = both.reseal(&sealed_old, AAD).unwrap().expect("resealed");
        assert_eq!(resealed.key_id, "new");
        assert_eq!(both.open(&resealed, AAD).unwrap(), b"s3cret");
        assert_eq!(both.reseal(&resealed, AAD).unwrap(), None);

        // Once the old key is dropped, only the resealed value opens.
        let new_only = ring(&format!("new:{new_key}"));
        assert_eq!(new_only.open(&resealed, AAD).unwrap(), b"s3cret");
        assert_eq!(
            new_only.open(&sealed_old, AAD),
            Err(SecretsError::UnknownKey("old".into()))
        );
        // Reseal keeps the AAD binding.
        assert_eq!(
            both.reseal(&sealed_old, b"other"),
            Err(SecretsError::Decrypt)
        );
    }

    #[test]
    fn unknown_key_id() {
        let r = ring(&b64(1, 32));
        let mut sealed = r.seal(b"x", AAD).unwrap();
        sealed.key_id = "gone".into();
        let err = r.open(&sealed, AAD).unwrap_err();
        assert_eq!(err, SecretsError::UnknownKey("gone".into()));
        assert_eq!(err.to_string(), "no encryption key with id gone");
        assert!(!r.contains("gone"));
        assert_eq!(
            r.reseal(&sealed, AAD),
            Err(SecretsError::UnknownKey("gone".into()))
        );
    }

    #[test]
    fn derived_key_id_is_k_plus_sha256_prefix() {
        let key = [7u8; 32];
        let r = ring(&STANDARD.encode(key));
        let digest = Sha256::digest(key);
        let expect = format!(
            "k{:02x}{:02x}{:02x}{:02x}",
            digest[0], digest[1], digest[2], digest[3]
        );
        assert_eq!(r.primary_id(), expect);
        assert_eq!(r.primary_id().len(), 9);
        // Stable across parses.
        assert_eq!(ring(&STANDARD.encode(key)).primary_id(), expect);
        // Mixed explicit and derived ids.
        let mixed = ring(&format!("a-1_B:{} , {}", b64(1, 32), STANDARD.encode(key)));
        assert_eq!(mixed.ids().collect::<Vec<_>>(), ["a-1_B", expect.as_str()]);
    }

    #[test]
    fn parse_errors() {
        assert_eq!(KeyRing::parse("").unwrap_err(), SecretsError::Empty);
        assert_eq!(KeyRing::parse("  ").unwrap_err(), SecretsError::Empty);
        assert_eq!(
            KeyRing::parse(&format!("{},", b64(1, 32))).unwrap_err(),
            SecretsError::EmptyEntry { entry: 2 }
        );
        assert_eq!(
            KeyRing::parse("not*base64").unwrap_err(),
            SecretsError::InvalidBase64 { entry: 1 }
        );
        // Unpadded base64 is not standard base64.
        let unpadded = b64(1, 32).trim_end_matches('=').to_string();
        assert_eq!(
            KeyRing::parse(&unpadded).unwrap_err(),
            SecretsError::InvalidBase64 { entry: 1 }
        );
        assert_eq!(
            KeyRing::parse(&b64(1, 31)).unwrap_err(),
            SecretsError::InvalidKeyLength { entry: 1, len: 31 }
        );
        assert_eq!(
            KeyRing::parse(&format!("{},{}", b64(1, 32), b64(2, 33))).unwrap_err(),
            SecretsError::InvalidKeyLength { entry: 2, len: 33 }
        );
        assert_eq!(
            KeyRing::parse(&format!("a:{},a:{}", b64(1, 32), b64(2, 32))).unwrap_err(),
            SecretsError::DuplicateKeyId("a".into())
        );
        // The same key listed twice derives the same id.
        let dup = KeyRing::parse(&format!("{},{}", b64(1, 32), b64(1, 32))).unwrap_err();
        assert!(matches!(dup, SecretsError::DuplicateKeyId(id) if id.starts_with('k')));
        for bad_id in ["", "has space", "dot.ted", &"x".repeat(33), "é"] {
            assert_eq!(
                KeyRing::parse(&format!("{bad_id}:{}", b64(1, 32))).unwrap_err(),
                SecretsError::InvalidKeyId { entry: 1 },
                "{bad_id:?}"
            );
        }
        assert!(KeyRing::parse(&format!("{}:{}", "x".repeat(32), b64(1, 32))).is_ok());
    }

    #[test]
    fn errors_do_not_echo_key_material() {
        let key = b64(9, 33);
        let err = KeyRing::parse(&format!("id:{key}")).unwrap_err();
        assert!(!err.to_string().contains(&key));
        assert!(!format!("{err:?}").contains(&key));
        let bad = "c2VjcmV0LWtleS1tYXRlcmlhbA*";
        let err = KeyRing::parse(bad).unwrap_err();
        assert!(!err.to_string().contains(bad) && !format!("{err:?}").contains(bad));
    }

    #[test]
    fn debug_hides_key_material() {
        let key = b64(3, 32);
        let r = ring(&format!("main:{key},{}", b64(4, 32)));
        let dbg = format!("{r:?}");
        assert!(!dbg.contains(&key), "{dbg}");
        assert!(!dbg.contains(&b64(4, 32)), "{dbg}");
        assert!(dbg.contains("main"), "{dbg}");
    }

    #[test]
    fn json_round_trip() {
        let r = ring(&b64(1, 32));
        let Value::Object(map) = json!({"webhookSigningSecret": "whsec_x", "n": 3}) else {
            panic!("object");
        };
        let sealed = r.seal_json(&map, AAD).unwrap();
        assert_eq!(r.open_json(&sealed, AAD).unwrap(), map);
        assert_eq!(r.open_json(&sealed, b"x"), Err(SecretsError::Decrypt));
        // A non-object plaintext is rejected without quoting it.
        let not_obj = r.seal(b"\"whsec_leak\"", AAD).unwrap();
        let err = r.open_json(&not_obj, AAD).unwrap_err();
        assert_eq!(err, SecretsError::Json);
        assert!(!err.to_string().contains("whsec_leak"));
    }

    #[test]
    fn hint_shows_last_four_of_long_secrets_only() {
        assert_eq!(hint("whsec_abcdefgh1234"), "1234");
        assert_eq!(hint("12345678"), "5678");
        assert_eq!(hint("1234567"), "");
        assert_eq!(hint(""), "");
        // Characters, not bytes.
        assert_eq!(hint("ééééééé€ab"), "é€ab");
    }
}
