//! `agentTools`: the voice tools as OpenAI function tools, generated from the GraphQL
//! description of their argument types ([`super::args`], the arguments of
//! `runAgentTool`) — the same documentation that the SDL publishes, read from the
//! schema through standard introspection, never written twice.
//!
//! Every tool is strict-mode ready (OpenAI "Structured Outputs"): `parameters` is an
//! object schema with `additionalProperties: false` and every property listed in
//! `required`; a parameter that is optional in GraphQL (nullable) is typed
//! `["<type>", "null"]`.

use async_graphql::InputType;
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;

use super::args::{
    BookAppointmentArgs, BusinessInfoArgs, CancelAppointmentArgs, CheckAvailabilityArgs,
    FindAppointmentsArgs, RescheduleAppointmentArgs, TransferToHumanArgs,
};
use crate::error::ApiError;

/// The GraphQL type names of the tools' arguments, in the order tools are listed.
pub fn argument_types() -> [String; 7] {
    [
        CheckAvailabilityArgs::type_name().into_owned(),
        BookAppointmentArgs::type_name().into_owned(),
        FindAppointmentsArgs::type_name().into_owned(),
        RescheduleAppointmentArgs::type_name().into_owned(),
        CancelAppointmentArgs::type_name().into_owned(),
        BusinessInfoArgs::type_name().into_owned(),
        TransferToHumanArgs::type_name().into_owned(),
    ]
}

/// The tool name of an argument type: `BookAppointmentArgs` → `book_appointment`.
pub fn tool_name(type_name: &str) -> String {
    let base = type_name.strip_suffix("Args").unwrap_or(type_name);
    let mut out = String::with_capacity(base.len() + 4);
    for (i, c) in base.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

const INTROSPECT: &str = "{ __schema { types { name description inputFields { name description \
    type { kind name ofType { kind name ofType { kind name } } } } } } }";

/// JSON Schema of one GraphQL input type reference (`String!`, `Int`, `[String!]`…).
fn json_type(t: &Value) -> Result<Value, String> {
    let (nullable, inner) = if t["kind"] == "NON_NULL" {
        (false, &t["ofType"])
    } else {
        (true, t)
    };
    let base = match (inner["kind"].as_str(), inner["name"].as_str()) {
        (Some("SCALAR"), Some("String" | "ID")) => "string",
        (Some("SCALAR"), Some("Int")) => "integer",
        (Some("SCALAR"), Some("Float")) => "number",
        (Some("SCALAR"), Some("Boolean")) => "boolean",
        other => return Err(format!("unsupported tool argument type {other:?}")),
    };
    Ok(if nullable {
        json!({"type": [base, "null"]})
    } else {
        json!({"type": base})
    })
}

/// One OpenAI function tool from an introspected input type.
fn tool(ty: &Value) -> Result<Value, String> {
    let type_name = ty["name"].as_str().ok_or("type without a name")?;
    let mut properties = Map::new();
    let mut required = Vec::new();
    for f in ty["inputFields"].as_array().ok_or("not an input type")? {
        let name = f["name"].as_str().ok_or("field without a name")?;
        let mut schema = json_type(&f["type"])?;
        if let (Some(obj), Some(d)) = (schema.as_object_mut(), f["description"].as_str()) {
            obj.insert("description".into(), Value::String(one_line(d)));
        }
        properties.insert(name.to_string(), schema);
        required.push(Value::String(name.to_string()));
    }
    Ok(json!({
        "type": "function",
        "name": tool_name(type_name),
        "description": one_line(ty["description"].as_str().unwrap_or_default()),
        "parameters": {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        },
        "strict": true,
    }))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn generate() -> Result<Value, String> {
    // The published schema itself (without state: introspection needs none), where
    // `runAgentTool` takes the argument types.
    let limits = crate::schema::Limits {
        introspection: true,
        ..Default::default()
    };
    let schema = crate::schema::build_schema(None, limits);
    let resp = schema.execute(INTROSPECT).await;
    if !resp.errors.is_empty() {
        return Err(format!("introspection failed: {:?}", resp.errors));
    }
    let data = resp.data.into_json().map_err(|e| e.to_string())?;
    let types = data["__schema"]["types"]
        .as_array()
        .ok_or("introspection without types")?;
    let mut tools = Vec::new();
    for name in argument_types() {
        let ty = types
            .iter()
            .find(|t| t["name"] == name.as_str())
            .ok_or_else(|| format!("{name} missing from introspection"))?;
        tools.push(tool(ty)?);
    }
    Ok(Value::Array(tools))
}

/// The tools as a JSON array of OpenAI function tools (`type`, `name`, `description`,
/// `parameters`, `strict`), computed once. Errors: `INTERNAL` when the argument types
/// cannot be described (a programming error, caught by the unit tests).
pub async fn openai_tools() -> Result<&'static Value, ApiError> {
    static TOOLS: OnceCell<Value> = OnceCell::const_new();
    TOOLS
        .get_or_try_init(|| async { generate().await.map_err(ApiError::Internal) })
        .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_tool_is_strict_mode_valid_and_documented() {
        let tools = match openai_tools().await {
            Ok(t) => t,
            Err(e) => panic!("{e:?}"),
        };
        let names: Vec<_> = tools
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "check_availability",
                "book_appointment",
                "find_appointments",
                "reschedule_appointment",
                "cancel_appointment",
                "business_info",
                "transfer_to_human"
            ]
        );
        for t in tools.as_array().unwrap() {
            assert_eq!(t["type"], "function");
            assert!(t["description"].as_str().unwrap().len() > 20, "{t}");
            let p = &t["parameters"];
            assert_eq!(p["type"], "object");
            assert_eq!(p["additionalProperties"], false);
            let props = p["properties"].as_object().unwrap();
            let required: Vec<_> = p["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            assert_eq!(required.len(), props.len());
            for (k, v) in props {
                assert!(required.contains(&k.as_str()), "{k}");
                assert!(!v["description"].as_str().unwrap().is_empty(), "{k}");
            }
        }
        let book = &tools[1]["parameters"]["properties"];
        assert_eq!(book["time"]["type"], "string");
        assert_eq!(book["customer_phone"]["type"], json!(["string", "null"]));
    }

    #[test]
    fn tool_names_come_from_type_names() {
        assert_eq!(tool_name("BookAppointmentArgs"), "book_appointment");
        assert_eq!(tool_name("TransferToHumanArgs"), "transfer_to_human");
    }
}
