//! The plugin catalog: the shipped entries and the validation rules of configurations
//! (`plugins::catalog`), checked through the crate's public API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use integrations::Capability;
use plugins::builtin::{spec, specs};
use plugins::catalog::{
    FieldError, FieldKind, FieldSpec, MAX_STRING_LEN, PluginSpec, ValidatedConfig,
};
use serde_json::{Map, Value, json};

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn stripe() -> &'static PluginSpec {
    spec("stripe").expect("stripe")
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
    let plugins: Vec<&PluginSpec> = specs().collect();
    let ids: Vec<_> = plugins.iter().map(|p| p.id).collect();
    assert_eq!(
        ids,
        [
            "stripe",
            "manual",
            "twilio",
            "sms_log",
            "smtp",
            "email_log",
            "mapbox",
            "builtin_routing",
            "retell",
            "openai"
        ]
    );
    let ai = spec("openai").unwrap();
    assert_eq!(ai.capability, Capability::Llm);
    assert!(ai.field("apiKey").is_some_and(|f| f.secret && f.required));
    assert!(
        ai.field("baseUrl")
            .is_some_and(|f| !f.secret && !f.required)
    );
    let mb = spec("mapbox").unwrap();
    assert_eq!(mb.capability, Capability::Routing);
    assert!(!mb.built_in);
    assert!(
        mb.field("accessToken")
            .is_some_and(|f| f.secret && f.required)
    );
    assert!(
        mb.field("profile")
            .is_some_and(|f| !f.secret && !f.required)
    );
    let s = stripe();
    assert_eq!(s.capability, Capability::Payments);
    assert!(!s.built_in);
    let m = spec("manual").unwrap();
    assert!(m.built_in && m.fields.is_empty());
    assert_eq!(m.capability, Capability::Payments);
    let r = spec("builtin_routing").unwrap();
    assert!(r.built_in && r.fields.is_empty());
    assert_eq!(r.capability, Capability::Routing);
    assert!(spec("nope").is_none());
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
    // No account id: calls act only on the account onboarding verified.
    assert!(s.field("accountId").is_none());
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
    assert_eq!(props.len(), 2);
    let w = &props["webhookSigningSecret"];
    assert_eq!(w["type"], "string");
    assert_eq!(w["writeOnly"], true);
    assert_eq!(w["pattern"], "^whsec_");
    assert_eq!(w["maxLength"], 500);
    assert!(
        props["statementDescriptorSuffix"]
            .get("writeOnly")
            .is_none()
    );
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
    let empty = spec("manual").unwrap().json_schema();
    assert_eq!(empty["properties"], json!({}));
    assert_eq!(empty["required"], json!([]));
    assert_eq!(empty["additionalProperties"], false);
}

#[test]
fn valid_stripe_config_is_split_and_trimmed() {
    let cfg = stripe()
        .validate(
            &obj(json!({
                "webhookSigningSecret": "whsec_abc\n",
                "statementDescriptorSuffix": "  SPARKLE ",
            })),
            &[],
        )
        .unwrap();
    assert_eq!(
        cfg.public,
        obj(json!({"statementDescriptorSuffix": "SPARKLE"}))
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
            &obj(json!({"webhookSigningSecret": 42, "statementDescriptorSuffix": ["x"]})),
            &[],
        )
        .unwrap_err();
    assert_eq!(
        fields(&errs),
        ["webhookSigningSecret", "statementDescriptorSuffix"]
    );
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
            &obj(json!({"webhookSigningSecret": "sk_live_TOPSECRET"})),
            &[],
        )
        .unwrap_err();
    assert_eq!(
        errs,
        [FieldError::new(
            "webhookSigningSecret",
            "must start with \"whsec_\""
        )]
    );
    let errs = TEST_PLUGIN
        .validate(
            &obj(json!({"retries": 1, "apiKey": "sk_live_OTHERSECRET"})),
            &[],
        )
        .unwrap_err();
    assert_eq!(
        errs,
        [FieldError::new("apiKey", "must start with \"sk.live_\"")]
    );
    assert!(!format!("{errs:?}").contains("OTHERSECRET"));
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
            &obj(json!({"statementDescriptorSuffix": "SHINE"})),
            &["webhookSigningSecret"],
        )
        .unwrap();
    assert!(cfg.secrets.is_empty());
    assert_eq!(
        cfg.public,
        obj(json!({"statementDescriptorSuffix": "SHINE"}))
    );
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
                "statementDescriptorSuffix": "",
            })),
            &[],
        )
        .unwrap();
    assert_eq!(cfg.public, obj(json!({"statementDescriptorSuffix": null})));
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
            &obj(json!({"zzz": 1, "accountId": "acct_1", "statementDescriptorSuffix": 7})),
            &[],
        )
        .unwrap_err();
    assert_eq!(
        fields(&errs),
        [
            "accountId",
            "zzz",
            "webhookSigningSecret",
            "statementDescriptorSuffix"
        ]
    );
    // `accountId` is not a field: the connected account comes from onboarding only.
    assert_eq!(errs[0], FieldError::new("accountId", "unknown field"));
    assert_eq!(errs[1].to_string(), "zzz: unknown field");
}

#[test]
fn built_ins_take_no_config() {
    let manual = spec("manual").unwrap();
    assert_eq!(
        manual.validate(&Map::new(), &[]).unwrap(),
        ValidatedConfig::default()
    );
    let errs = manual
        .validate(&obj(json!({"anything": true})), &[])
        .unwrap_err();
    assert_eq!(errs, [FieldError::new("anything", "unknown field")]);
}
