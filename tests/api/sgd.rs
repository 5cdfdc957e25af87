//! Real input: Google's Schema-Guided Dialogue booking calls replayed over HTTP.
//!
//! The dialogues file is the first of:
//! 1. `SGD_DATA_FILE` from the environment, when set (relative paths are taken from the
//!    crate root); it must exist. Setting it to
//!    `tests/data/sgd/sample_services_dialogues.json` checks the sample on a machine
//!    that has the full file.
//! 2. `../shared/data/sgd/train_services_dialogues.json` beside the repository: the
//!    appointment-booking subset of the SGD train split, when it is there.
//! 3. `tests/data/sgd/sample_services_dialogues.json`: a small excerpt shipped in the
//!    repository (CC BY-SA 4.0; cut by `tests/data/sgd/make_sample.py`, see the README
//!    there), so that a clone on its own runs the test too.
//!
//! The test prints which file it replayed, then the summary line.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::helpers::{spawn_app_with, without_rate_limits};

/// The full shared file, relative to the crate root.
const SHARED_SGD_FILE: &str = "../shared/data/sgd/train_services_dialogues.json";
/// The in-repository sample, relative to the crate root.
const SAMPLE_SGD_FILE: &str = "tests/data/sgd/sample_services_dialogues.json";

/// The dialogues file to replay and why it was chosen (see the module comment).
pub(crate) fn sgd_data_file() -> (PathBuf, &'static str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(file) = std::env::var_os("SGD_DATA_FILE").filter(|f| !f.is_empty()) {
        let file = root.join(file);
        assert!(
            file.is_file(),
            "SGD_DATA_FILE={} is not a file",
            file.display()
        );
        return (file, "SGD_DATA_FILE");
    }
    let shared = root.join(SHARED_SGD_FILE);
    if shared.is_file() {
        return (shared, "full shared data");
    }
    let sample = root.join(SAMPLE_SGD_FILE);
    assert!(
        sample.is_file(),
        "neither {} nor {} exists",
        shared.display(),
        sample.display()
    );
    (sample, "in-repo sample; the shared data is absent")
}

#[tokio::test]
async fn sgd_booking_dialogues_replay_without_server_errors() {
    let (file, source) = sgd_data_file();
    println!("SGD data: {} ({source})", file.display());
    // A bulk replay (hundreds of tenants from one client): RATE_LIMITS=off, as the
    // README says for replays.
    let app = spawn_app_with(without_rate_limits()).await;
    let summary = servicegraph::replay_sgd::run(&file, &app.address)
        .await
        .expect("replay");
    println!("{}", summary.line());
    let sgd = servicegraph::replay_sgd::read(&file).unwrap();
    assert_eq!(summary.tenants, sgd.providers.len());
    assert_eq!(summary.calls, sgd.calls.len());
    assert_eq!(summary.server_errors, 0, "{}", summary.line());
    assert!(summary.booked > 0, "{}", summary.line());
    // Both files hold Sunday and after-hours calls: some calls must be refused.
    assert!(!summary.refused.is_empty(), "{}", summary.line());
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
