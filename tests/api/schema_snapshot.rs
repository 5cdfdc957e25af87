//! `schema/schema.graphql` is the committed SDL; it must match the code.

#[test]
fn committed_schema_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/schema.graphql");
    let committed = std::fs::read_to_string(path).expect("schema/schema.graphql exists");
    let current = graph::sdl();
    assert!(
        committed == current,
        "schema/schema.graphql is stale: run `cargo run -- export-schema` and commit it"
    );
}

#[test]
fn every_type_and_field_is_documented() {
    let sdl = graph::sdl();
    let doc = async_graphql::parser::parse_schema(&sdl).expect("SDL parses");
    let mut missing = Vec::new();
    for def in &doc.definitions {
        if let async_graphql::parser::types::TypeSystemDefinition::Type(t) = def {
            let t = &t.node;
            let name = t.name.node.as_str();
            // Relay's generated connection and edge types are described by the Relay
            // Cursor Connections Specification.
            if t.description.is_none()
                && !["Query", "Mutation", "Subscription", "PageInfo"].contains(&name)
                && !name.ends_with("Connection")
                && !name.ends_with("Edge")
            {
                missing.push(name.to_string());
            }
            use async_graphql::parser::types::TypeKind;
            match &t.kind {
                TypeKind::Object(o) => {
                    for f in &o.fields {
                        if f.node.description.is_none()
                            && name != "PageInfo"
                            && !name.ends_with("Edge")
                            && !name.ends_with("Connection")
                        {
                            missing.push(format!("{name}.{}", f.node.name.node));
                        }
                    }
                }
                TypeKind::InputObject(o) => {
                    for f in &o.fields {
                        if f.node.description.is_none() {
                            missing.push(format!("{name}.{}", f.node.name.node));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    missing.retain(|m| !m.starts_with("__"));
    assert!(missing.is_empty(), "undocumented: {missing:?}");
}
