//! Statements per request on the read path: a query's page and its loader batches share
//! one read transaction (the request's); a page of bookings joins the customer, service
//! and staff member it selects into its one `SELECT`; `totalCount` costs its `COUNT`
//! only when selected.

use std::sync::Arc;
use std::time::Duration;

use chrono::Weekday;
use serde_json::json;

use crate::helpers::{Options, every_day, local, next_weekday, slug, spawn_app_with};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

/// Waits until the server runs no statement for 300 ms (its job worker's pass is over),
/// at most 15 s.
async fn settle(app: &crate::helpers::TestApp) {
    for _ in 0..50 {
        let before = app.state.db.statements();
        tokio::time::sleep(Duration::from_millis(300)).await;
        if app.state.db.statements() == before {
            break;
        }
    }
}

#[tokio::test]
async fn a_pages_edges_share_one_read_transaction() {
    // A worker that never polls, so only the requests below touch the database.
    let app = spawn_app_with(Options {
        settings: Some(Arc::new(|s: &mut servicegraph::Settings| {
            s.jobs.poll = Duration::from_secs(3600);
        })),
        ..Options::default()
    })
    .await;
    let owner = app.sign_up(&slug("stmts")).await;
    let service = app.create_service(&owner.token, 60).await;
    let staff = app
        .create_staff(&owner.token, "Sam", &every_day("08:00", "18:00"))
        .await;
    let day = next_weekday(Weekday::Wed, 3);
    for (i, time) in ["09:00", "11:00", "13:00"].iter().enumerate() {
        let c = app
            .create_customer(&owner.token, &format!("C{i}"), &format!("+1415555016{i}"))
            .await;
        let b = app
            .book(&owner.token, &service, &staff, &c, &local(NY, day, time))
            .await;
        assert_eq!(b["userErrors"], json!([]), "{b}");
    }
    // The bookings woke the job worker: let its pass finish so that it is not counted
    // against the queries below.
    settle(&app).await;
    let count = |q: &'static str| {
        let app = &app;
        let token = owner.token.clone();
        async move {
            // Once to warm per-tenant caches, then the least of three measured runs (a
            // stray background statement can only add).
            app.gql(Some(&token), q, json!({})).await;
            let mut least = (u64::MAX, u64::MAX);
            for _ in 0..3 {
                let (statements, transactions) =
                    (app.state.db.statements(), app.state.db.transactions());
                let data = app.gql(Some(&token), q, json!({})).await;
                assert_eq!(
                    data["bookings"]["edges"].as_array().unwrap().len(),
                    3,
                    "{data}"
                );
                least.0 = least.0.min(app.state.db.statements() - statements);
                least.1 = least.1.min(app.state.db.transactions() - transactions);
            }
            least
        }
    };
    let flat = count("{ bookings(first: 50) { edges { node { id } } } }").await;
    let nested = count(
        "{ bookings(first: 50) { edges { node { id customer { name } service { name } staffMember { name } } } } }",
    )
    .await;
    let counted = count("{ bookings(first: 50) { totalCount edges { node { id } } } }").await;
    assert_eq!(
        (
            counted.0 as i64 - flat.0 as i64,
            counted.1 as i64 - flat.1 as i64
        ),
        (1, 0),
        "the total is counted only when selected, in the page's transaction"
    );
    // The page and its three edge kinds are one statement (customer, service and staff
    // member joined in on their `(tenant_id, id)` keys) in one transaction.
    assert_eq!(flat.1, 1, "one read transaction per request");
    assert_eq!(nested, flat, "the edges cost no statement of their own");
    // An edge that is not joined (a booking's lines) loads in one batch, in the same
    // transaction.
    let lines = count("{ bookings(first: 50) { edges { node { id items { name } } } } }").await;
    assert_eq!(lines.1, 1, "{lines:?}");
    assert_eq!(lines.0, flat.0 + 1, "{lines:?} vs {flat:?}");
    // The page's SELECT, after the tenant setting on PostgreSQL (transactions are
    // counted apart: BEGIN and COMMIT are not statements here).
    let tenant_setting = u64::from(app.postgres);
    assert_eq!(flat.0, 1 + tenant_setting, "{flat:?}");
}

/// A query's roots, nested fields and services all read in the request's one
/// transaction, so a request holds one pooled connection at a time: with a pool of one
/// connection, concurrent queries that mix a page (loader-backed) with service reads
/// (`availableSlots`, `me`, one booking) all answer. A request that took a second
/// connection while holding the first would wait for itself until the acquire timeout.
#[tokio::test]
async fn a_query_holds_one_connection_even_with_a_pool_of_one() {
    let app = spawn_app_with(Options {
        settings: Some(Arc::new(|s: &mut servicegraph::Settings| {
            s.database.max_connections = 1;
            s.database.acquire_timeout = Duration::from_secs(3);
            s.jobs.poll = Duration::from_secs(3600);
        })),
        ..Options::default()
    })
    .await;
    let owner = app.sign_up(&slug("onecon")).await;
    let service = app.create_service(&owner.token, 60).await;
    let staff = app
        .create_staff(&owner.token, "Sam", &every_day("08:00", "18:00"))
        .await;
    let day = next_weekday(Weekday::Wed, 3);
    let c = app
        .create_customer(&owner.token, "Cy", "+14155550170")
        .await;
    let b = app
        .book(&owner.token, &service, &staff, &c, &local(NY, day, "09:00"))
        .await;
    assert_eq!(b["userErrors"], json!([]), "{b}");
    let booking_id = b["booking"]["id"].as_str().unwrap().to_string();
    let q = "query($s: ID!, $b: ID!, $f: NaiveDate!, $t: NaiveDate!) { \
        bookings(first: 50) { edges { node { id customer { name } items { name } } } } \
        availableSlots(serviceId: $s, from: $f, to: $t) { startsAt } \
        booking(id: $b) { id service { name } } \
        me { user { email } tenant { slug } } }";
    let vars = json!({"s": service, "b": booking_id, "f": day.to_string(), "t": day.to_string()});
    // Warm the per-tenant caches and let the job worker's pass (woken by the booking)
    // finish, then count one request's transactions.
    app.gql(Some(&owner.token), q, vars.clone()).await;
    settle(&app).await;
    let before = app.state.db.transactions();
    let one = app.gql(Some(&owner.token), q, vars.clone()).await;
    assert_eq!(
        app.state.db.transactions() - before,
        1,
        "every read of the query shares one transaction"
    );
    assert_eq!(
        one["bookings"]["edges"].as_array().unwrap().len(),
        1,
        "{one}"
    );
    assert!(
        !one["availableSlots"].as_array().unwrap().is_empty(),
        "{one}"
    );
    assert_eq!(one["booking"]["id"], json!(booking_id));
    // Eight at once on the one connection: each waits its turn, none times out.
    let runs = (0..8).map(|_| app.gql(Some(&owner.token), q, vars.clone()));
    for r in futures::future::join_all(runs).await {
        assert_eq!(r, one, "the same answer as alone");
    }
}

#[tokio::test]
async fn pages_without_a_total_still_know_whether_more_follow() {
    let app = crate::helpers::spawn_app().await;
    let owner = app.sign_up(&slug("pages")).await;
    for i in 0..5 {
        app.create_customer(&owner.token, &format!("P{i}"), &format!("+1415555017{i}"))
            .await;
    }
    let page = |after: Option<String>| {
        let app = &app;
        let token = owner.token.clone();
        async move {
            app.gql(
                Some(&token),
                "query($after: String) { customers(first: 2, after: $after) { edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage endCursor } } }",
                json!({"after": after}),
            )
            .await["customers"]
                .clone()
        }
    };
    let mut names = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let p = page(after.clone()).await;
        pages += 1;
        assert_eq!(p["pageInfo"]["hasPreviousPage"], pages > 1, "{p}");
        for e in p["edges"].as_array().unwrap() {
            names.push(e["node"]["name"].as_str().unwrap().to_string());
        }
        after = p["pageInfo"]["endCursor"].as_str().map(str::to_string);
        if p["pageInfo"]["hasNextPage"] == false {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["P0", "P1", "P2", "P3", "P4"]);
    // `after` the last item: an empty page that says nothing follows.
    let beyond = page(after).await;
    assert_eq!(beyond["edges"], json!([]), "{beyond}");
    assert_eq!(beyond["pageInfo"]["hasNextPage"], false);
    let total = app
        .gql(
            Some(&owner.token),
            "{ customers(first: 2) { totalCount pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(total["customers"]["totalCount"], 5);
    assert_eq!(total["customers"]["pageInfo"]["hasNextPage"], true);
}

/// A tenant with two bookings on one day: one whose customer has notes and an email,
/// one whose customer has neither.
async fn two_bookings(prefix: &str) -> (crate::helpers::TestApp, crate::helpers::Owner) {
    let app = crate::helpers::spawn_app().await;
    let owner = app.sign_up(&slug(prefix)).await;
    let service = app.create_service(&owner.token, 45).await;
    let staff = app
        .create_staff(&owner.token, "Jo", &every_day("08:00", "18:00"))
        .await;
    let day = next_weekday(Weekday::Thu, 3);
    let with_notes = app
        .create_customer(&owner.token, "Noted", "+14155550181")
        .await;
    app.gql(
        Some(&owner.token),
        "mutation($id: ID!) { updateCustomer(id: $id, input: {notes: \"gate code 4\", email: \"n@example.com\"}) { userErrors { code } } }",
        json!({"id": with_notes}),
    )
    .await;
    let bare = app
        .create_customer(&owner.token, "Bare", "+14155550182")
        .await;
    for (c, time) in [(&with_notes, "09:00"), (&bare, "10:30")] {
        let b = app
            .book(&owner.token, &service, &staff, c, &local(NY, day, time))
            .await;
        assert_eq!(b["userErrors"], json!([]), "{b}");
    }
    (app, owner)
}

/// The nodes of `{ bookings(first: 10) { edges { node { <fields> } } } }`.
async fn page_nodes(
    app: &crate::helpers::TestApp,
    token: &str,
    fields: &str,
) -> Vec<serde_json::Value> {
    let page = app
        .gql(
            Some(token),
            &format!("{{ bookings(first: 10) {{ edges {{ node {{ {fields} }} }} }} }}"),
            json!({}),
        )
        .await;
    page["bookings"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no page: {page}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// Asserts that each node equals what `booking(id)` answers for the same selection
/// (single loads always read every column through the loaders).
async fn matches_single_loads(
    app: &crate::helpers::TestApp,
    token: &str,
    fields: &str,
    nodes: &[serde_json::Value],
) {
    for node in nodes {
        let one = app
            .gql(
                Some(token),
                &format!("query($id: ID!) {{ booking(id: $id) {{ {fields} }} }}"),
                json!({"id": node["id"]}),
            )
            .await;
        assert_eq!(&one["booking"], node, "{fields}");
    }
}

#[tokio::test]
async fn summary_pages_read_only_names_and_times_and_answer_as_full_ones() {
    // A selection of ids, names, times and status reads only the summary columns
    // (`entities::by_index::Summary`); anything more, in any alias or fragment, reads
    // the full rows. Every answer equals the single loads'.
    let (app, owner) = two_bookings("summary").await;
    for fields in [
        // All summaries.
        "id status startsAt endsAt durationMinutes customer { id name } service { __typename id name } staffMember { name }",
        // Summary bookings, a full customer through a second alias.
        "id startsAt a: customer { name } b: customer { name email notes } service { name }",
        // A booking field beyond the summary inside a fragment.
        "id ... on Booking { notes priceCents currency source } customer { name }",
        // A full service and staff member next to a summary customer.
        "id customer { name } service { name durationMinutes priceCents active } staffMember { name active }",
        // No edges at all, summary and full.
        "id startsAt status",
        "id createdAt updatedAt address",
    ] {
        let nodes = page_nodes(&app, &owner.token, fields).await;
        assert_eq!(nodes.len(), 2, "{fields}");
        matches_single_loads(&app, &owner.token, fields, &nodes).await;
    }
    // The full customer really was read where a second alias asked for it.
    let nodes = page_nodes(
        &app,
        &owner.token,
        "id a: customer { name } b: customer { email notes }",
    )
    .await;
    assert_eq!(nodes[0]["b"]["notes"], "gate code 4");
    assert_eq!(nodes[0]["b"]["email"], "n@example.com");
    assert_eq!(nodes[0]["a"]["name"], "Noted");
}

#[tokio::test]
async fn a_joined_page_reads_exactly_what_single_loads_read() {
    // The joined page decodes its 60 columns by position (`entities::by_index`); every
    // field, NULLs included, must equal what `booking(id)` reads through the loaders.
    let (app, owner) = two_bookings("joined").await;
    let fields = "id status startsAt endsAt durationMinutes address priceCents currency source notes blockedFrom blockedUntil plannedArrivalAt routePosition latitude longitude seriesId assignmentReason createdAt updatedAt depositExpiresAt \
        customer { id name phone email address notes archived createdAt } \
        service { id name description durationMinutes priceCents active displayOrder bufferBeforeMinutes bufferAfterMinutes slotIntervalMinutes minNoticeMinutes } \
        staffMember { id name active userId homeBase { latitude longitude } serviceArea { radiusKm } }";
    let nodes = page_nodes(&app, &owner.token, fields).await;
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["customer"]["notes"], "gate code 4");
    assert_eq!(nodes[1]["customer"]["notes"], json!(null));
    matches_single_loads(&app, &owner.token, fields, &nodes).await;
}

/// PostgreSQL: after migrating and seeding, the server analyses the tables that hold rows
/// but have no statistics yet, so the first pages are planned from the data (a table
/// without statistics is planned as if a tenant had one row in it); empty tables are
/// left to autovacuum.
#[tokio::test]
async fn new_tables_with_rows_get_planner_statistics_at_start() {
    use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};
    let app = spawn_app_with(Options {
        seed_demo: true,
        ..Options::default()
    })
    .await;
    if !app.postgres {
        eprintln!("skipped: PostgreSQL only (set TEST_DATABASE_URL)");
        return;
    }
    let owner = Database::connect(app.owner_url.as_deref().unwrap())
        .await
        .unwrap();
    let sql = |s: String| Statement::from_string(DatabaseBackend::Postgres, s);
    let state = |table: &'static str| {
        let owner = &owner;
        async move {
            let row = owner
                .query_one_raw(sql(format!(
                    "SELECT c.reltuples::float8 AS tuples, \
                     (SELECT count(*) FROM pg_stats s WHERE s.schemaname = 'public' \
                      AND s.tablename = '{table}' AND s.attname = 'tenant_id') AS stats \
                     FROM pg_class c WHERE c.oid = 'public.{table}'::regclass"
                )))
                .await
                .unwrap()
                .unwrap();
            (
                row.try_get::<f64>("", "tuples").unwrap(),
                row.try_get::<i64>("", "stats").unwrap(),
            )
        }
    };
    // The demo tenant's rows: counted, and the tenant column has statistics.
    for table in ["bookings", "customers", "services", "staff_members"] {
        let (tuples, stats) = state(table).await;
        assert!(tuples >= 1.0, "{table}: reltuples {tuples}");
        assert_eq!(stats, 1, "{table}: no statistics for tenant_id");
    }
    // A table the seed left empty keeps "never analysed" (-1), so the planner keeps its
    // "at least 10 pages" guess for a table that is about to fill.
    let (tuples, stats) = state("refunds").await;
    assert_eq!((tuples, stats), (-1.0, 0), "refunds");
    // A second pass leaves analysed tables to autovacuum. (It may pick up a table that
    // filled after start, such as the periodic job schedule.)
    let again =
        servicegraph::db_setup::analyze_new_tables(&app.settings, app.state.db.connection())
            .await
            .unwrap();
    for table in [
        "bookings",
        "customers",
        "services",
        "staff_members",
        "tenants",
    ] {
        assert!(
            !again.iter().any(|t| t == table),
            "{table} again: {again:?}"
        );
    }
}
