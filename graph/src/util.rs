//! Small normalisers shared by services: slugs, E.164 phones, emails, ids.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A new time-ordered primary key (UUID v7, RFC 9562 §5.7).
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Current instant (UTC), truncated to microseconds so that it round-trips through
/// PostgreSQL `timestamptz` unchanged.
pub fn now() -> DateTime<Utc> {
    let n = Utc::now();
    DateTime::from_timestamp_micros(n.timestamp_micros()).unwrap_or(n)
}

/// Slugs reserved for the platform's own pages.
const RESERVED_SLUGS: &[&str] = &[
    "admin",
    "api",
    "app",
    "graphql",
    "health",
    "platform",
    "playground",
    "public",
    "static",
    "webhooks",
    "www",
];

/// Longest slug, in bytes (a DNS label's limit, RFC 1035 §2.3.4).
pub const MAX_SLUG_LEN: usize = 63;

/// Turns a business name into a booking-page slug: transliterated to ASCII
/// (`deunicode`), lower-cased, `&` spelled `and`, apostrophes dropped, every other run of
/// non-alphanumerics a single `-`, at most [`MAX_SLUG_LEN`] bytes.
/// `"Mike's Detailing"` → `mikes-detailing`; `"Crème & Brûlée"` → `creme-and-brulee`.
/// Returns `business` when nothing is left.
pub fn slugify(name: &str) -> String {
    let ascii = deunicode::deunicode(name)
        .to_lowercase()
        .replace('&', " and ");
    let mut out = String::with_capacity(ascii.len());
    let mut dash = false;
    for c in ascii.chars() {
        if c == '\'' || c == '`' {
            continue;
        }
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    if out.len() > MAX_SLUG_LEN {
        out.truncate(MAX_SLUG_LEN);
        while out.ends_with('-') {
            out.pop();
        }
    }
    if out.is_empty() {
        "business".into()
    } else {
        out
    }
}

/// Whether `slug` is acceptable: 3–63 bytes of `a-z`, `0-9` and single inner hyphens, and
/// not reserved.
pub fn valid_slug(slug: &str) -> bool {
    (3..=MAX_SLUG_LEN).contains(&slug.len())
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && !RESERVED_SLUGS.contains(&slug)
}

/// Normalises a phone number to E.164 (ITU-T E.164; libphonenumber rules via the
/// `phonenumber` crate). Numbers without a leading `+` are read as US/NANP numbers.
/// `None` when the number is not valid.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let parsed = phonenumber::parse(Some(phonenumber::country::Id::US), raw.trim()).ok()?;
    if !phonenumber::is_valid(&parsed) {
        return None;
    }
    Some(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// Trims and lower-cases an email address; `None` unless it has one `@` with text on
/// both sides, a dot in the domain, no whitespace, and at most 254 bytes (RFC 5321 §4.5.3).
pub fn normalize_email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !e.chars().any(char::is_whitespace)
        && e.len() <= 254;
    ok.then_some(e)
}

/// Whether `code` looks like an ISO 4217 alphabetic code (three upper-case letters).
pub fn valid_currency(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// Parses a GraphQL `ID` as a UUID. Errors: `BAD_USER_INPUT` naming `what`.
pub fn parse_id(id: &async_graphql::ID, what: &str) -> Result<Uuid, crate::error::ApiError> {
    Uuid::try_parse(id.as_str())
        .map_err(|_| crate::error::ApiError::BadUserInput(format!("`{what}` is not a valid id")))
}

/// Parses an optional `ID` inside an input object; a malformed one is reported as a
/// `NOT_FOUND` user error on `field` (it cannot name anything).
pub fn parse_input_id(
    id: &async_graphql::ID,
    field: &str,
    what: &str,
) -> Result<Uuid, crate::error::UserError> {
    Uuid::try_parse(id.as_str()).map_err(|_| {
        crate::error::UserError::new(
            Some(field),
            crate::error::UserErrorCode::NotFound,
            format!("{what} not found"),
        )
    })
}

/// Most further services in one visit (`additionalServiceIds`).
pub const MAX_EXTRA_SERVICES: usize = 10;
/// Most add-ons in one visit (`addonIds`).
pub const MAX_ADDONS: usize = 20;

/// Parses a list of ids of at most `max` distinct entries. Errors: `BAD_USER_INPUT`
/// naming `what` (malformed, repeated, or too many).
pub fn parse_id_list(
    ids: &[async_graphql::ID],
    what: &str,
    max: usize,
) -> Result<Vec<Uuid>, crate::error::ApiError> {
    if ids.len() > max {
        return Err(crate::error::ApiError::BadUserInput(format!(
            "`{what}` takes at most {max} ids"
        )));
    }
    let parsed = parse_ids(ids, what)?;
    let mut seen = std::collections::HashSet::new();
    if !parsed.iter().all(|id| seen.insert(*id)) {
        return Err(crate::error::ApiError::BadUserInput(format!(
            "`{what}` repeats an id"
        )));
    }
    Ok(parsed)
}

/// Parses a list of ids. Errors: `BAD_USER_INPUT` naming `what`.
pub fn parse_ids(
    ids: &[async_graphql::ID],
    what: &str,
) -> Result<Vec<Uuid>, crate::error::ApiError> {
    ids.iter().map(|i| parse_id(i, what)).collect()
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn slugs_survive_apostrophes_ampersands_and_accents() {
        assert_eq!(slugify("Mike's Detailing"), "mikes-detailing");
        assert_eq!(slugify("Crème & Brûlée Salon"), "creme-and-brulee-salon");
        assert_eq!(slugify("  Dr. Luma M. Ajlouni "), "dr-luma-m-ajlouni");
        assert_eq!(slugify("Zoë’s Hair"), "zoes-hair");
        assert_eq!(slugify("!!!"), "business");
        assert!(slugify(&"a".repeat(100)).len() <= MAX_SLUG_LEN);
        assert!(valid_slug(&slugify("Mike's Detailing")));
    }

    #[test]
    fn slug_rules() {
        assert!(valid_slug("demo"));
        assert!(valid_slug("a-b-c"));
        assert!(!valid_slug("ab"));
        assert!(!valid_slug("Demo"));
        assert!(!valid_slug("a--b"));
        assert!(!valid_slug("-ab"));
        assert!(!valid_slug("graphql"));
    }

    #[test]
    fn phones_to_e164() {
        assert_eq!(
            normalize_phone("(415) 555-0100").as_deref(),
            Some("+14155550100")
        );
        assert_eq!(
            normalize_phone("+1 415 555 0100").as_deref(),
            Some("+14155550100")
        );
        assert_eq!(
            normalize_phone("+44 20 7946 0958").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(normalize_phone("12"), None);
        assert_eq!(normalize_phone("not a phone"), None);
    }

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Mike@Example.COM ").as_deref(),
            Some("mike@example.com")
        );
        assert_eq!(normalize_email("nope"), None);
        assert_eq!(normalize_email("a@b"), None);
        assert_eq!(normalize_email("a b@c.d"), None);
    }
}
