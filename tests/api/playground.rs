//! Every saved operation in `playground/` runs against a seeded demo server without
//! errors, so the examples never rot. Variables are filled from the demo data by name
//! (see `playground/README.md`).

use std::collections::HashMap;

use async_graphql::parser::types::OperationType;
use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{Options, spawn_app_with};

#[tokio::test]
async fn playground_operations_run_against_the_demo() {
    let app = spawn_app_with(Options {
        seed_demo: true,
        ..Default::default()
    })
    .await;
    let login = app.log_in_demo_owner().await;
    let token = login["accessToken"]
        .as_str()
        .expect("demo login")
        .to_string();
    let t = Some(token.as_str());
    let ids = app
        .gql(
            t,
            "{ services { edges { node { id name } } } staffMembers { edges { node { id name } } } customers(search: \"Ana\") { edges { node { id } } } bookings(status: [CONFIRMED]) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let service_id = ids["services"]["edges"][0]["node"]["id"].clone();
    assert_eq!(
        ids["services"]["edges"][0]["node"]["name"],
        "Exterior Wash & Wax"
    );
    let sam = ids["staffMembers"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["name"] == "Sam Chen")
        .expect("Sam Chen")["node"]["id"]
        .clone();
    let tomorrow = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive()
        + Duration::days(1);
    let to = tomorrow + Duration::days(6);
    let slots = app
        .gql(
            t,
            "query($s: ID!, $st: ID, $f: NaiveDate!, $t: NaiveDate!) { availableSlots(serviceId: $s, staffMemberId: $st, from: $f, to: $t) { startsAt } }",
            json!({"s": service_id, "st": sam, "f": tomorrow, "t": to}),
        )
        .await;
    let mut vars: HashMap<&str, Value> = HashMap::new();
    vars.insert("serviceId", service_id);
    vars.insert("staffMemberId", sam);
    vars.insert(
        "customerId",
        ids["customers"]["edges"][0]["node"]["id"].clone(),
    );
    vars.insert(
        "bookingId",
        ids["bookings"]["edges"][0]["node"]["id"].clone(),
    );
    vars.insert("from", json!(tomorrow));
    vars.insert("to", json!(to));
    vars.insert("startsAt", slots["availableSlots"][0]["startsAt"].clone());
    vars.insert("refreshToken", login["refreshToken"].clone());

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/playground");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the example operations, found {}",
        files.len()
    );
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        let doc =
            async_graphql::parser::parse_query(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut variables = serde_json::Map::new();
        let mut subscription = false;
        for (_, op) in doc.operations.iter() {
            subscription |= op.node.ty == OperationType::Subscription;
            for v in &op.node.variable_definitions {
                let var = v.node.name.node.as_str();
                let value = vars
                    .get(var)
                    .unwrap_or_else(|| panic!("{name}: unknown variable ${var}"));
                variables.insert(var.to_string(), value.clone());
            }
        }
        if subscription {
            // Subscriptions run over WebSocket (see tests/api/edge.rs); here they must
            // at least validate against the schema.
            let schema = graph::build_schema(None, graph::Limits::default());
            let req = async_graphql::Request::new(&text);
            let resp = schema.execute(req).await;
            let msgs: Vec<String> = resp.errors.iter().map(|e| e.message.clone()).collect();
            assert!(
                msgs.iter()
                    .all(|m| !m.contains("Unknown") && !m.contains("not defined")),
                "{name}: {msgs:?}"
            );
            continue;
        }
        let token = if name.contains("public") { None } else { t };
        let (status, body) = app.post(token, &text, Value::Object(variables)).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert!(body.get("errors").is_none(), "{name}: {body}");
    }
}
