//! Real input: Google's Schema-Guided Dialogue booking calls replayed over HTTP.

use std::path::PathBuf;

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn sgd_booking_dialogues_replay_without_server_errors() {
    let file = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/sgd/train_services_dialogues.json"
    ));
    assert!(
        file.exists(),
        "{} is missing (shared data lives beside the repository)",
        file.display()
    );
    let app = spawn_app().await;
    let summary = servicegraph::replay_sgd::run(&file, &app.address)
        .await
        .expect("replay");
    println!("{}", summary.line());
    let sgd = servicegraph::replay_sgd::read(&file).unwrap();
    assert_eq!(summary.tenants, sgd.providers.len());
    assert_eq!(summary.calls, sgd.calls.len());
    assert_eq!(summary.server_errors, 0, "{}", summary.line());
    assert!(summary.booked > 0, "{}", summary.line());
    assert_eq!(
        summary.booked + summary.refused.values().sum::<usize>(),
        summary.calls
    );
    for code in summary.refused.keys() {
        assert!(
            ["OUTSIDE_WORKING_HOURS", "SLOT_UNAVAILABLE", "IN_THE_PAST"].contains(&code.as_str()),
            "unexpected refusal {code}"
        );
    }
    assert_eq!(summary.second_refused, summary.booked, "{}", summary.line());
    assert_eq!(summary.second_not_refused, 0);
    assert_eq!(summary.isolation_violations, 0);

    // Names with apostrophes, ampersands and accents survive as slugs and as names.
    let tricky: Vec<_> = summary
        .tenant_slugs
        .iter()
        .filter(|(n, _)| n.contains('\'') || n.contains('&') || !n.is_ascii())
        .take(25)
        .collect();
    assert!(!tricky.is_empty());
    for (name, slug) in tricky {
        assert!(graph::util::valid_slug(slug), "{slug}");
        let data = app
            .gql(
                None,
                "query($s: String!) { publicTenant(slug: $s) { name } }",
                json!({"s": slug}),
            )
            .await;
        assert_eq!(data["publicTenant"]["name"], name.as_str());
    }
}
