//! Request bodies in Stripe's `application/x-www-form-urlencoded` bracket notation
//! (`line_items[0][price_data][currency]=usd`, `metadata[booking]=42`), and the local
//! checks that refuse input Stripe would reject anyway.

use crate::ProviderError;

/// Stripe's metadata limits (<https://docs.stripe.com/api/metadata>).
const METADATA_MAX_KEYS: usize = 50;
const METADATA_MAX_KEY_CHARS: usize = 40;
const METADATA_MAX_VALUE_CHARS: usize = 500;

/// Longest idempotency key Stripe accepts (<https://docs.stripe.com/api/idempotent_requests>).
const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;

/// An ordered list of form fields.
#[derive(Debug, Default)]
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn new() -> Form {
        Form::default()
    }

    /// Adds `key=value`.
    pub(crate) fn push(&mut self, key: impl Into<String>, value: impl ToString) -> &mut Form {
        self.0.push((key.into(), value.to_string()));
        self
    }

    /// Adds `key=value` when `value` is `Some`.
    pub(crate) fn push_opt<V: ToString>(
        &mut self,
        key: impl Into<String>,
        value: Option<V>,
    ) -> &mut Form {
        if let Some(value) = value {
            self.push(key, value);
        }
        self
    }

    /// Adds `{prefix}[k]=v` for each pair (e.g. prefix `metadata` or
    /// `payment_intent_data[metadata]`). Pairs must have passed [`check_metadata`].
    pub(crate) fn push_metadata(&mut self, prefix: &str, pairs: &[(String, String)]) -> &mut Form {
        for (k, v) in pairs {
            self.push(format!("{prefix}[{k}]"), v);
        }
        self
    }

    pub(crate) fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }
}

fn invalid(msg: impl Into<String>) -> ProviderError {
    ProviderError::InvalidInput(msg.into())
}

/// Metadata within Stripe's limits; keys must not contain `[` or `]`, which would
/// corrupt the bracket notation.
pub(crate) fn check_metadata(pairs: &[(String, String)]) -> Result<(), ProviderError> {
    if pairs.len() > METADATA_MAX_KEYS {
        return Err(invalid(format!(
            "metadata has {} keys; Stripe allows at most {METADATA_MAX_KEYS}",
            pairs.len()
        )));
    }
    for (k, v) in pairs {
        if k.is_empty() || k.chars().count() > METADATA_MAX_KEY_CHARS {
            return Err(invalid(format!(
                "metadata key must be 1–{METADATA_MAX_KEY_CHARS} characters"
            )));
        }
        if k.contains(['[', ']']) {
            return Err(invalid("metadata key must not contain square brackets"));
        }
        if v.chars().count() > METADATA_MAX_VALUE_CHARS {
            return Err(invalid(format!(
                "metadata value for {k:?} exceeds {METADATA_MAX_VALUE_CHARS} characters"
            )));
        }
    }
    Ok(())
}

/// An idempotency key Stripe accepts and that fits in an HTTP header.
pub(crate) fn check_idempotency_key(key: &str) -> Result<(), ProviderError> {
    let ok = !key.is_empty()
        && key.len() <= IDEMPOTENCY_KEY_MAX_CHARS
        && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "idempotency key must be 1–{IDEMPOTENCY_KEY_MAX_CHARS} visible ASCII characters"
        )))
    }
}

/// A positive amount in cents.
pub(crate) fn check_amount(field: &str, cents: i64) -> Result<(), ProviderError> {
    if cents > 0 {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field} must be a positive number of cents"
        )))
    }
}

/// An application fee between 0 and the charged amount.
pub(crate) fn check_fee(fee: Option<i64>, amount: i64) -> Result<(), ProviderError> {
    match fee {
        Some(fee) if !(0..=amount).contains(&fee) => Err(invalid(
            "application fee must be between 0 and the amount charged",
        )),
        _ => Ok(()),
    }
}

/// A three-letter ISO 4217 code; returned in lower case as Stripe documents it.
pub(crate) fn check_currency(currency: &str) -> Result<String, ProviderError> {
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(currency.to_ascii_lowercase())
    } else {
        Err(invalid("currency must be a three-letter ISO 4217 code"))
    }
}

/// A non-empty field.
pub(crate) fn check_present(field: &str, value: &str) -> Result<(), ProviderError> {
    if value.trim().is_empty() {
        Err(invalid(format!("{field} must not be empty")))
    } else {
        Ok(())
    }
}

/// A Stripe object id safe to put in a URL path or header (`acct_1Nv0FGQ9RKHgCVdK`).
pub(crate) fn check_id(field: &str, id: &str) -> Result<(), ProviderError> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field} must be a Stripe id (letters, digits, underscores)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_limits() {
        let ok = vec![("booking".to_string(), "42".to_string())];
        assert!(check_metadata(&ok).is_ok());
        let bracket = vec![("a[b]".to_string(), "1".to_string())];
        assert!(check_metadata(&bracket).is_err());
        let long_key = vec![("k".repeat(41), "1".to_string())];
        assert!(check_metadata(&long_key).is_err());
        let long_value = vec![("k".to_string(), "v".repeat(501))];
        assert!(check_metadata(&long_value).is_err());
        let many: Vec<_> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(check_metadata(&many).is_err());
    }

    #[test]
    fn simple_checks() {
        assert!(check_idempotency_key("deposit:42").is_ok());
        assert!(check_idempotency_key("").is_err());
        assert!(check_idempotency_key("a b").is_err());
        assert!(check_idempotency_key(&"k".repeat(256)).is_err());
        assert_eq!(check_currency("USD").ok().as_deref(), Some("usd"));
        assert!(check_currency("us").is_err());
        assert!(check_amount("amount", 0).is_err());
        assert!(check_fee(Some(101), 100).is_err());
        assert!(check_fee(Some(-1), 100).is_err());
        assert!(check_fee(Some(100), 100).is_ok());
        assert!(check_id("account", "acct_123").is_ok());
        assert!(check_id("account", "acct_1/../x").is_err());
    }
}
