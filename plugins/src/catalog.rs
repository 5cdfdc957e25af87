//! The plugin catalog: every provider implementation this build knows about, the
//! configuration fields each one takes, and validation of a tenant's configuration.
//!
//! A tenant's plugin configuration is a JSON object with camelCase keys. Fields marked
//! [`FieldSpec::secret`] are write-only: they are sealed with
//! [`KeyRing`](crate::secrets::KeyRing) and never returned (show
//! [`hint`](crate::secrets::hint) instead); the other fields are stored and returned as is.

use integrations::Capability;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Maximum length of any string field, in characters (after trimming), unless the field
/// sets a lower [`FieldSpec::max_len`].
pub const MAX_STRING_LEN: usize = 500;

/// The JSON type and rules of a configuration field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldKind {
    /// A JSON string, trimmed, at most [`MAX_STRING_LEN`] characters.
    Text,
    /// A JSON string holding an absolute `http://` or `https://` URL with a host.
    Url,
    /// A JSON integer (no fractional part), within `i64` or `u64`.
    Integer,
    /// A JSON number from 0 to 100 inclusive (a percentage, fractions allowed).
    Percent,
}

/// One configuration field of a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldSpec {
    /// Key in the configuration object, camelCase (e.g. `webhookSigningSecret`).
    pub name: &'static str,
    /// Short label shown to operators.
    pub label: &'static str,
    /// What the value is and where to find it.
    pub description: &'static str,
    /// JSON type and format rules.
    pub kind: FieldKind,
    /// Whether the plugin cannot work without it.
    pub required: bool,
    /// Whether the value is a credential: sealed at rest, never returned, never echoed in
    /// error messages.
    pub secret: bool,
    /// A prefix the value must start with (e.g. `whsec_`), for string kinds.
    pub prefix: Option<&'static str>,
    /// A maximum length in characters lower than [`MAX_STRING_LEN`], for string kinds
    /// (e.g. 22 for a Stripe statement descriptor suffix).
    pub max_len: Option<usize>,
}

impl FieldSpec {
    /// The effective maximum length in characters of a string value.
    pub fn max_chars(&self) -> usize {
        self.max_len
            .map_or(MAX_STRING_LEN, |m| m.min(MAX_STRING_LEN))
    }
}

/// A plugin in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginSpec {
    /// Stable id, snake_case (e.g. `stripe`); stored with each tenant's configuration.
    pub id: &'static str,
    /// What it provides.
    pub capability: Capability,
    /// Name shown to operators.
    pub display_name: &'static str,
    /// What it does, for operators choosing a plugin.
    pub description: &'static str,
    /// Always available and needs no configuration (a built-in fallback).
    pub built_in: bool,
    /// Configuration fields, in display order.
    pub fields: &'static [FieldSpec],
    /// Documentation for setting it up; empty when there is none.
    pub docs_url: &'static str,
}

/// A tenant's configuration after [`PluginSpec::validate`], split for storage.
///
/// Both maps hold only fields present in the input. A [`Value::Null`] means "clear this
/// field"; an absent key means the input did not mention it (for secrets: keep the stored
/// value). Strings are trimmed.
///
/// `Debug` shows the secret field names but not their values.
#[derive(Clone, PartialEq, Default)]
pub struct ValidatedConfig {
    /// Non-secret fields, stored and returned as is.
    pub public: Map<String, Value>,
    /// Secret fields, to be sealed (see [`crate::secrets::KeyRing::seal_json`]).
    pub secrets: Map<String, Value>,
}

impl std::fmt::Debug for ValidatedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatedConfig")
            .field("public", &self.public)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A problem with one field of a configuration. The message never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field's key as given in the input (camelCase).
    pub field: String,
    /// What is wrong, for operators (e.g. `must start with "whsec_"`).
    pub message: String,
}

impl FieldError {
    /// An error on `field` (its camelCase key) saying `message` (never the value).
    pub fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl PluginSpec {
    /// The field named `name`, if the plugin has one.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// A JSON Schema (draft 2020-12) of the configuration object, for forms and API
    /// clients: `type: object`, one property per field (`string` for text and URLs with
    /// `format: uri` for URLs and `maxLength`; `integer`; `number` with `minimum: 0`,
    /// `maximum: 100` for percentages), `writeOnly: true` on secrets, `pattern: ^prefix`
    /// where a prefix is required, the `required` list and `additionalProperties: false`.
    ///
    /// [`PluginSpec::validate`] additionally accepts `null` for optional fields (clear the
    /// value) and lets a secret that is already stored be omitted.
    pub fn json_schema(&self) -> Value {
        let mut properties = Map::new();
        for f in self.fields {
            let mut p = Map::new();
            let ty = match f.kind {
                FieldKind::Text | FieldKind::Url => "string",
                FieldKind::Integer => "integer",
                FieldKind::Percent => "number",
            };
            p.insert("type".into(), json!(ty));
            p.insert("title".into(), json!(f.label));
            p.insert("description".into(), json!(f.description));
            match f.kind {
                FieldKind::Text | FieldKind::Url => {
                    if f.kind == FieldKind::Url {
                        p.insert("format".into(), json!("uri"));
                    }
                    p.insert("maxLength".into(), json!(f.max_chars()));
                    if let Some(prefix) = f.prefix {
                        p.insert(
                            "pattern".into(),
                            json!(format!("^{}", regex_escape(prefix))),
                        );
                    }
                }
                FieldKind::Integer => {}
                FieldKind::Percent => {
                    p.insert("minimum".into(), json!(0));
                    p.insert("maximum".into(), json!(100));
                }
            }
            if f.secret {
                p.insert("writeOnly".into(), json!(true));
            }
            properties.insert(f.name.into(), Value::Object(p));
        }
        let required: Vec<&str> = self
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name)
            .collect();
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.display_name,
            "description": self.description,
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }

    /// Validates a tenant's configuration input and splits it into public and secret
    /// fields.
    ///
    /// `previously_set_secrets` names the secret fields that already have a stored value;
    /// such a field may be omitted even when required (the stored value is kept: callers
    /// merge [`ValidatedConfig::secrets`] into the stored secrets).
    ///
    /// Rules, each reported as a [`FieldError`] (all problems at once, unknown fields
    /// first, then fields in catalog order):
    /// - a key that is not a field of this plugin is an error;
    /// - a value of the wrong JSON type is an error;
    /// - strings are trimmed; an empty string counts as `null`; longer than
    ///   [`FieldSpec::max_chars`] characters is an error;
    /// - a string not starting with [`FieldSpec::prefix`] is an error;
    /// - a [`FieldKind::Url`] must start with `http://` or `https://` and have a host;
    /// - a [`FieldKind::Percent`] must be from 0 to 100;
    /// - a required field must be present and not `null`, except an omitted secret listed
    ///   in `previously_set_secrets`;
    /// - `null` for an optional field is kept in the output: it means "clear it".
    ///
    /// # Errors
    ///
    /// Every [`FieldError`] found. Messages never contain the submitted values.
    pub fn validate(
        &self,
        input: &Map<String, Value>,
        previously_set_secrets: &[&str],
    ) -> Result<ValidatedConfig, Vec<FieldError>> {
        let mut errors = Vec::new();
        for key in input.keys() {
            if self.field(key).is_none() {
                errors.push(FieldError::new(key, "unknown field"));
            }
        }
        let mut out = ValidatedConfig::default();
        for f in self.fields {
            let value = match input.get(f.name) {
                None => {
                    let kept = f.secret && previously_set_secrets.contains(&f.name);
                    if f.required && !kept {
                        errors.push(FieldError::new(f.name, "is required"));
                    }
                    continue;
                }
                Some(v) => match check_value(f, v) {
                    Ok(v) => v,
                    Err(message) => {
                        errors.push(FieldError::new(f.name, message));
                        continue;
                    }
                },
            };
            if value.is_null() && f.required {
                errors.push(FieldError::new(f.name, "is required and cannot be cleared"));
                continue;
            }
            let target = if f.secret {
                &mut out.secrets
            } else {
                &mut out.public
            };
            target.insert(f.name.to_string(), value);
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

/// Checks one present value; returns the normalised value (`Null` to clear) or a message
/// that does not quote the value.
fn check_value(f: &FieldSpec, v: &Value) -> Result<Value, String> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    match f.kind {
        FieldKind::Text | FieldKind::Url => {
            let Some(s) = v.as_str() else {
                return Err("must be a string".into());
            };
            let s = s.trim();
            if s.is_empty() {
                return Ok(Value::Null);
            }
            let max = f.max_chars();
            if s.chars().count() > max {
                return Err(format!("must be at most {max} characters"));
            }
            if let Some(prefix) = f.prefix
                && !s.starts_with(prefix)
            {
                return Err(format!("must start with \"{prefix}\""));
            }
            if f.kind == FieldKind::Url && !is_http_url(s) {
                return Err("must be an http:// or https:// URL with a host".into());
            }
            Ok(Value::String(s.to_string()))
        }
        FieldKind::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
            _ => Err("must be an integer".into()),
        },
        FieldKind::Percent => match v.as_f64() {
            Some(x) if (0.0..=100.0).contains(&x) => Ok(v.clone()),
            Some(_) => Err("must be from 0 to 100".into()),
            None => Err("must be a number".into()),
        },
    }
}

/// A simple absolute-URL check: `http://` or `https://` (scheme case-insensitive), then a
/// non-empty host (after any `user@` and before any `:port`), and no whitespace.
fn is_http_url(s: &str) -> bool {
    let Some(rest) =
        strip_prefix_ignore_case(s, "https://").or_else(|| strip_prefix_ignore_case(s, "http://"))
    else {
        return false;
    };
    if s.chars().any(char::is_whitespace) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if host_port.starts_with('[') {
        // IPv6 literal: `[::1]:8080`.
        host_port
            .split_once(']')
            .map_or("", |(h, _)| h.trim_start_matches('['))
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    !host.is_empty()
}

/// `s` without `prefix`, compared ASCII-case-insensitively.
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Escapes regular-expression metacharacters (ECMA-262, as JSON Schema patterns use).
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\^$.|?*+()[]{}/-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
