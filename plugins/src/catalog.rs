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

/// The catalog entry of every plugin this build knows about, in display order (the
/// plugin modules of [`crate::builtin::ALL`]).
pub fn all() -> impl Iterator<Item = &'static PluginSpec> {
    crate::builtin::ALL.iter().map(|p| p.spec())
}

/// The catalog entry with `id`, if any.
pub fn find(id: &str) -> Option<&'static PluginSpec> {
    crate::builtin::find(id).map(|p| p.spec())
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
    fn new(field: &str, message: impl Into<String>) -> FieldError {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn stripe() -> &'static PluginSpec {
        find("stripe").expect("stripe")
    }

    fn fields(errs: &[FieldError]) -> Vec<&str> {
        errs.iter().map(|e| e.field.as_str()).collect()
    }

    /// A plugin exercising every kind, for rules the shipped catalog does not use.
    static TEST_PLUGIN: PluginSpec = PluginSpec {
        id: "test",
        capability: Capability::Sms,
        display_name: "Test",
        description: "Test plugin",
        built_in: false,
        fields: &[
            FieldSpec {
                name: "callbackUrl",
                label: "Callback URL",
                description: "",
                kind: FieldKind::Url,
                required: false,
                secret: false,
                prefix: None,
                max_len: None,
            },
            FieldSpec {
                name: "retries",
                label: "Retries",
                description: "",
                kind: FieldKind::Integer,
                required: true,
                secret: false,
                prefix: None,
                max_len: None,
            },
            FieldSpec {
                name: "share",
                label: "Share",
                description: "",
                kind: FieldKind::Percent,
                required: false,
                secret: false,
                prefix: None,
                max_len: None,
            },
            FieldSpec {
                name: "apiKey",
                label: "API key",
                description: "",
                kind: FieldKind::Text,
                required: false,
                secret: true,
                prefix: Some("sk.live_"),
                max_len: None,
            },
        ],
        docs_url: "",
    };

    #[test]
    fn catalog_contents() {
        let plugins: Vec<&PluginSpec> = all().collect();
        let ids: Vec<_> = plugins.iter().map(|p| p.id).collect();
        assert_eq!(ids, ["stripe", "manual", "builtin_routing"]);
        let s = stripe();
        assert_eq!(s.capability, Capability::Payments);
        assert!(!s.built_in);
        let m = find("manual").unwrap();
        assert!(m.built_in && m.fields.is_empty());
        assert_eq!(m.capability, Capability::Payments);
        let r = find("builtin_routing").unwrap();
        assert!(r.built_in && r.fields.is_empty());
        assert_eq!(r.capability, Capability::Routing);
        assert!(find("nope").is_none());
        // Ids are unique, field names camelCase and unique per plugin; built-ins need no
        // required field.
        for (i, p) in plugins.iter().enumerate() {
            assert!(plugins[i + 1..].iter().all(|q| q.id != p.id), "{}", p.id);
            assert!(!p.built_in || p.fields.iter().all(|f| !f.required));
            for (j, f) in p.fields.iter().enumerate() {
                assert!(f.name.chars().next().unwrap().is_ascii_lowercase());
                assert!(
                    f.name.chars().all(|c| c.is_ascii_alphanumeric()),
                    "{}",
                    f.name
                );
                assert!(p.fields[j + 1..].iter().all(|g| g.name != f.name));
            }
        }
        let w = s.field("webhookSigningSecret").unwrap();
        assert!(w.secret && w.required);
        assert_eq!(w.prefix, Some("whsec_"));
        let a = s.field("accountId").unwrap();
        assert!(!a.secret && !a.required);
        assert_eq!(a.prefix, Some("acct_"));
        let d = s.field("statementDescriptorSuffix").unwrap();
        assert!(!d.secret && !d.required);
        assert_eq!(d.max_chars(), 22);
    }

    #[test]
    fn stripe_schema_shape() {
        let schema = stripe().json_schema();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["required"], json!(["webhookSigningSecret"]));
        let props = schema["properties"].as_object().unwrap();
        assert_eq!(props.len(), 3);
        let w = &props["webhookSigningSecret"];
        assert_eq!(w["type"], "string");
        assert_eq!(w["writeOnly"], true);
        assert_eq!(w["pattern"], "^whsec_");
        assert_eq!(w["maxLength"], 500);
        let a = &props["accountId"];
        assert_eq!(a["pattern"], "^acct_");
        assert!(a.get("writeOnly").is_none());
        assert_eq!(props["statementDescriptorSuffix"]["maxLength"], 22);
        assert!(props["statementDescriptorSuffix"].get("pattern").is_none());
    }

    #[test]
    fn schema_kinds() {
        let schema = TEST_PLUGIN.json_schema();
        let p = &schema["properties"];
        assert_eq!(p["callbackUrl"]["type"], "string");
        assert_eq!(p["callbackUrl"]["format"], "uri");
        assert_eq!(p["retries"]["type"], "integer");
        assert!(p["retries"].get("maxLength").is_none());
        assert_eq!(p["share"]["type"], "number");
        assert_eq!(p["share"]["minimum"], 0);
        assert_eq!(p["share"]["maximum"], 100);
        // Metacharacters in a prefix are escaped.
        assert_eq!(p["apiKey"]["pattern"], "^sk\\.live_");
        assert_eq!(schema["required"], json!(["retries"]));
        // A plugin without fields still gets a complete schema.
        let empty = find("manual").unwrap().json_schema();
        assert_eq!(empty["properties"], json!({}));
        assert_eq!(empty["required"], json!([]));
        assert_eq!(empty["additionalProperties"], false);
    }

    #[test]
    fn valid_stripe_config_is_split_and_trimmed() {
        let cfg = stripe()
            .validate(
                &obj(json!({
                    "accountId": "  acct_123 ",
                    "webhookSigningSecret": "whsec_abc\n",
                    "statementDescriptorSuffix": "SPARKLE",
                })),
                &[],
            )
            .unwrap();
        assert_eq!(
            cfg.public,
            obj(json!({"accountId": "acct_123", "statementDescriptorSuffix": "SPARKLE"}))
        );
        assert_eq!(
            cfg.secrets,
            obj(json!({"webhookSigningSecret": "whsec_abc"}))
        );
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("whsec_abc"), "{dbg}");
        assert!(dbg.contains("webhookSigningSecret"), "{dbg}");
    }

    #[test]
    fn unknown_field_is_an_error() {
        let errs = stripe()
            .validate(
                &obj(json!({"webhookSigningSecret": "whsec_x", "apiKey": "sk_x"})),
                &[],
            )
            .unwrap_err();
        assert_eq!(errs, [FieldError::new("apiKey", "unknown field")]);
    }

    #[test]
    fn wrong_type_is_an_error() {
        let errs = stripe()
            .validate(
                &obj(json!({"webhookSigningSecret": 42, "accountId": ["acct_1"]})),
                &[],
            )
            .unwrap_err();
        assert_eq!(fields(&errs), ["accountId", "webhookSigningSecret"]);
        assert!(errs.iter().all(|e| e.message == "must be a string"));

        let errs = TEST_PLUGIN
            .validate(&obj(json!({"retries": 1.5, "share": "50"})), &[])
            .unwrap_err();
        assert_eq!(
            errs,
            [
                FieldError::new("retries", "must be an integer"),
                FieldError::new("share", "must be a number"),
            ]
        );
        let errs = TEST_PLUGIN
            .validate(&obj(json!({"retries": "3"})), &[])
            .unwrap_err();
        assert_eq!(errs, [FieldError::new("retries", "must be an integer")]);
    }

    #[test]
    fn prefix_mismatch_does_not_echo_the_secret() {
        let errs = stripe()
            .validate(
                &obj(json!({"webhookSigningSecret": "sk_live_TOPSECRET", "accountId": "123"})),
                &[],
            )
            .unwrap_err();
        assert_eq!(
            errs,
            [
                FieldError::new("accountId", "must start with \"acct_\""),
                FieldError::new("webhookSigningSecret", "must start with \"whsec_\""),
            ]
        );
        for e in &errs {
            assert!(!e.to_string().contains("TOPSECRET"));
            assert!(!format!("{e:?}").contains("TOPSECRET"));
        }
        // The prefix is case-sensitive.
        assert!(
            stripe()
                .validate(&obj(json!({"webhookSigningSecret": "WHSEC_x"})), &[])
                .is_err()
        );
    }

    #[test]
    fn url_must_be_http_with_host() {
        for good in [
            "https://example.com",
            "http://example.com/hook?x=1",
            "HTTPS://Example.com:8443/path",
            "https://user@example.com/",
            "http://[::1]:8080/",
            "https://é.example/",
        ] {
            let cfg = TEST_PLUGIN
                .validate(&obj(json!({"retries": 1, "callbackUrl": good})), &[])
                .unwrap_or_else(|e| panic!("{good}: {e:?}"));
            assert_eq!(cfg.public["callbackUrl"], good);
        }
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://",
            "https:///path",
            "http://:8080/",
            "https://exa mple.com",
            "javascript:alert(1)",
        ] {
            let errs = TEST_PLUGIN
                .validate(&obj(json!({"retries": 1, "callbackUrl": bad})), &[])
                .unwrap_err();
            assert_eq!(fields(&errs), ["callbackUrl"], "{bad}");
            assert_eq!(
                errs[0].message,
                "must be an http:// or https:// URL with a host"
            );
        }
    }

    #[test]
    fn string_length_limits() {
        let at_limit = format!("whsec_{}", "a".repeat(MAX_STRING_LEN - 6));
        assert!(
            stripe()
                .validate(&obj(json!({"webhookSigningSecret": at_limit})), &[])
                .is_ok()
        );
        // Trimming happens before the length check.
        let padded = format!("  {at_limit}  ");
        assert!(
            stripe()
                .validate(&obj(json!({"webhookSigningSecret": padded})), &[])
                .is_ok()
        );
        let too_long = format!("{at_limit}a");
        let errs = stripe()
            .validate(&obj(json!({"webhookSigningSecret": too_long})), &[])
            .unwrap_err();
        assert_eq!(
            errs,
            [FieldError::new(
                "webhookSigningSecret",
                "must be at most 500 characters"
            )]
        );
        // Characters, not bytes; and the per-field limit.
        let ok = "é".repeat(22);
        let cfg = stripe()
            .validate(
                &obj(json!({"statementDescriptorSuffix": ok})),
                &["webhookSigningSecret"],
            )
            .unwrap();
        assert_eq!(cfg.public["statementDescriptorSuffix"], ok);
        let errs = stripe()
            .validate(
                &obj(json!({"statementDescriptorSuffix": "x".repeat(23)})),
                &["webhookSigningSecret"],
            )
            .unwrap_err();
        assert_eq!(
            errs,
            [FieldError::new(
                "statementDescriptorSuffix",
                "must be at most 22 characters"
            )]
        );
    }

    #[test]
    fn required_fields() {
        let errs = stripe().validate(&Map::new(), &[]).unwrap_err();
        assert_eq!(
            errs,
            [FieldError::new("webhookSigningSecret", "is required")]
        );
        // A secret already stored may be omitted: nothing in `secrets`, the stored value
        // is kept.
        let cfg = stripe()
            .validate(
                &obj(json!({"accountId": "acct_1"})),
                &["webhookSigningSecret"],
            )
            .unwrap();
        assert!(cfg.secrets.is_empty());
        assert_eq!(cfg.public, obj(json!({"accountId": "acct_1"})));
        // But not cleared.
        for clear in [json!(null), json!("  ")] {
            let errs = stripe()
                .validate(
                    &obj(json!({"webhookSigningSecret": clear})),
                    &["webhookSigningSecret"],
                )
                .unwrap_err();
            assert_eq!(
                errs,
                [FieldError::new(
                    "webhookSigningSecret",
                    "is required and cannot be cleared"
                )]
            );
        }
        // Only secrets may be omitted because they were set before.
        let errs = TEST_PLUGIN.validate(&Map::new(), &["retries"]).unwrap_err();
        assert_eq!(errs, [FieldError::new("retries", "is required")]);
    }

    #[test]
    fn null_clears_optional_fields() {
        let cfg = stripe()
            .validate(
                &obj(json!({
                    "webhookSigningSecret": "whsec_1",
                    "accountId": null,
                    "statementDescriptorSuffix": "",
                })),
                &[],
            )
            .unwrap();
        assert_eq!(
            cfg.public,
            obj(json!({"accountId": null, "statementDescriptorSuffix": null}))
        );
        let cfg = TEST_PLUGIN
            .validate(
                &obj(json!({"retries": 0, "apiKey": null, "share": null})),
                &[],
            )
            .unwrap();
        assert_eq!(cfg.secrets, obj(json!({"apiKey": null})));
        assert_eq!(cfg.public, obj(json!({"retries": 0, "share": null})));
    }

    #[test]
    fn numbers() {
        for (share, ok) in [
            (json!(0), true),
            (json!(100), true),
            (json!(12.5), true),
            (json!(-0.1), false),
            (json!(100.01), false),
        ] {
            let r = TEST_PLUGIN.validate(&obj(json!({"retries": 3, "share": share})), &[]);
            assert_eq!(r.is_ok(), ok, "{share}");
            if let Err(errs) = r {
                assert_eq!(errs, [FieldError::new("share", "must be from 0 to 100")]);
            }
        }
        let cfg = TEST_PLUGIN
            .validate(&obj(json!({"retries": -2, "share": 40})), &[])
            .unwrap();
        assert_eq!(cfg.public, obj(json!({"retries": -2, "share": 40})));
        assert!(
            TEST_PLUGIN
                .validate(&obj(json!({"retries": u64::MAX})), &[])
                .is_ok()
        );
    }

    #[test]
    fn all_errors_are_reported_together() {
        let errs = stripe()
            .validate(
                &obj(json!({"zzz": 1, "accountId": "bad", "statementDescriptorSuffix": 7})),
                &[],
            )
            .unwrap_err();
        assert_eq!(
            fields(&errs),
            [
                "zzz",
                "accountId",
                "webhookSigningSecret",
                "statementDescriptorSuffix"
            ]
        );
        assert_eq!(errs[0].to_string(), "zzz: unknown field");
    }

    #[test]
    fn built_ins_take_no_config() {
        let manual = find("manual").unwrap();
        assert_eq!(
            manual.validate(&Map::new(), &[]).unwrap(),
            ValidatedConfig::default()
        );
        let errs = manual
            .validate(&obj(json!({"anything": true})), &[])
            .unwrap_err();
        assert_eq!(errs, [FieldError::new("anything", "unknown field")]);
    }
}
