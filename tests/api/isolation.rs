//! Tenant isolation: no query or mutation of one tenant reads or changes another's rows,
//! even when given the other's ids; on PostgreSQL, row-level security and composite
//! foreign keys hold on their own.

use chrono::Weekday;
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};
use serde_json::{Value, json};

use crate::helpers::{Owner, TestApp, every_day, local, next_weekday, slug, spawn_app};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

struct World {
    owner: Owner,
    service: String,
    staff: String,
    customer: String,
    booking: String,
}

async fn world(app: &TestApp, prefix: &str, phone: &str) -> World {
    let owner = app.sign_up(&slug(prefix)).await;
    let service = app.create_service(&owner.token, 60).await;
    let staff = app
        .create_staff(&owner.token, "Staff", &every_day("09:00", "17:00"))
        .await;
    let customer = app.create_customer(&owner.token, "Customer", phone).await;
    let day = next_weekday(Weekday::Thu, 2);
    let b = app
        .book(
            &owner.token,
            &service,
            &staff,
            &customer,
            &local(NY, day, "11:00"),
        )
        .await;
    let booking = b["booking"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();
    World {
        owner,
        service,
        staff,
        customer,
        booking,
    }
}

fn ids(list: &Value) -> Vec<String> {
    list["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn one_tenant_cannot_read_or_change_another_tenants_rows() {
    let app = spawn_app().await;
    let a = world(&app, "iso-a", "+14155550111").await;
    let b = world(&app, "iso-b", "+14155550111").await; // same phone: per-tenant key
    let t = Some(a.owner.token.as_str());

    let lists = app
        .gql(
            t,
            "{ services(includeArchived: true) { edges { node { id } } } staffMembers(includeArchived: true) { edges { node { id } } } customers(includeArchived: true) { edges { node { id } } } bookings { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(&lists["services"]), vec![a.service.clone()]);
    assert_eq!(ids(&lists["staffMembers"]), vec![a.staff.clone()]);
    assert_eq!(ids(&lists["customers"]), vec![a.customer.clone()]);
    assert_eq!(ids(&lists["bookings"]), vec![a.booking.clone()]);
    let search = app
        .gql(
            t,
            "{ customers(search: \"555\") { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(&search["customers"]), vec![a.customer.clone()]);

    // Reads by the other tenant's ids.
    for (q, id) in [
        ("query($id: ID!) { booking(id: $id) { id } }", &b.booking),
        ("query($id: ID!) { service(id: $id) { id } }", &b.service),
        ("query($id: ID!) { staffMember(id: $id) { id } }", &b.staff),
        ("query($id: ID!) { customer(id: $id) { id } }", &b.customer),
        (
            "query($id: ID!) { availableSlots(serviceId: $id, from: \"2030-01-07\", to: \"2030-01-08\") { startsAt } }",
            &b.service,
        ),
    ] {
        assert_eq!(
            app.gql_error_code(t, q, json!({"id": id})).await,
            "NOT_FOUND",
            "{q}"
        );
    }
    // Writes by the other tenant's ids.
    for (q, id) in [
        (
            "mutation($id: ID!) { updateService(id: $id, input: {name: \"hacked\"}) { userErrors { code } } }",
            &b.service,
        ),
        (
            "mutation($id: ID!) { archiveService(id: $id) { userErrors { code } } }",
            &b.service,
        ),
        (
            "mutation($id: ID!) { updateStaffMember(id: $id, input: {name: \"hacked\", weeklyHours: []}) { userErrors { code } } }",
            &b.staff,
        ),
        (
            "mutation($id: ID!) { archiveStaffMember(id: $id) { userErrors { code } } }",
            &b.staff,
        ),
        (
            "mutation($id: ID!) { updateCustomer(id: $id, input: {name: \"hacked\"}) { userErrors { code } } }",
            &b.customer,
        ),
        (
            "mutation($id: ID!) { archiveCustomer(id: $id) { userErrors { code } } }",
            &b.customer,
        ),
        (
            "mutation($id: ID!) { cancelBooking(id: $id) { userErrors { code } } }",
            &b.booking,
        ),
        (
            "mutation($id: ID!) { setBookingStatus(id: $id, status: IN_PROGRESS) { userErrors { code } } }",
            &b.booking,
        ),
    ] {
        assert_eq!(
            app.gql_error_code(t, q, json!({"id": id})).await,
            "NOT_FOUND",
            "{q}"
        );
    }
    // A booking in A pointing at B's service, staff member or customer.
    let day = next_weekday(Weekday::Fri, 2);
    for (svc, staff, cust, field) in [
        (&b.service, &a.staff, &a.customer, "serviceId"),
        (&a.service, &b.staff, &a.customer, "staffMemberId"),
        (&a.service, &a.staff, &b.customer, "customerId"),
    ] {
        let p = app
            .book(&a.owner.token, svc, staff, cust, &local(NY, day, "09:00"))
            .await;
        assert!(p["booking"].is_null(), "{p}");
        assert_eq!(p["userErrors"][0]["code"], "NOT_FOUND");
        assert_eq!(p["userErrors"][0]["field"], json!(["input", field]));
    }

    // B is unchanged and still sees only its own.
    let bt = Some(b.owner.token.as_str());
    let b_view = app
        .gql(
            bt,
            "query($s: ID!, $st: ID!, $c: ID!, $b: ID!) { service(id: $s) { name active } staffMember(id: $st) { name active weeklyHours { weekday } } customer(id: $c) { name archived } booking(id: $b) { status } bookings { totalCount } }",
            json!({"s": b.service, "st": b.staff, "c": b.customer, "b": b.booking}),
        )
        .await;
    assert_eq!(
        b_view["service"],
        json!({"name": "Service 60m", "active": true})
    );
    assert_eq!(b_view["staffMember"]["name"], "Staff");
    assert_eq!(b_view["staffMember"]["active"], true);
    assert_eq!(
        b_view["staffMember"]["weeklyHours"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    assert_eq!(
        b_view["customer"],
        json!({"name": "Customer", "archived": false})
    );
    assert_eq!(b_view["booking"]["status"], "CONFIRMED");
    assert_eq!(b_view["bookings"]["totalCount"], 1);
    let a_count = app.gql(t, "{ bookings { totalCount } }", json!({})).await;
    assert_eq!(a_count["bookings"]["totalCount"], 1);
}

#[tokio::test]
async fn the_database_refuses_cross_tenant_references() {
    let app = spawn_app().await;
    let a = world(&app, "fk-a", "+14155550112").await;
    let b = world(&app, "fk-b", "+14155550113").await;
    let tenant_a: uuid::Uuid = a.owner.tenant_id.parse().unwrap();
    // Bypass the services: write a booking of A that points at B's customer.
    let tx = app.state.db.write(tenant_a).await.unwrap();
    let backend = tx.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "INSERT INTO bookings (id, tenant_id, customer_id, service_id, staff_member_id, starts_at, ends_at, blocked_from, blocked_until, status, price_cents, currency, source, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, now() + interval '400 days', now() + interval '401 days', now() + interval '400 days', now() + interval '401 days', 'CONFIRMED', 0, 'USD', 'MANUAL', now(), now())"
        }
        _ => {
            "INSERT INTO bookings (id, tenant_id, customer_id, service_id, staff_member_id, starts_at, ends_at, blocked_from, blocked_until, status, price_cents, currency, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, '2031-01-01 10:00:00+00:00', '2031-01-01 11:00:00+00:00', '2031-01-01 10:00:00+00:00', '2031-01-01 11:00:00+00:00', 'CONFIRMED', 0, 'USD', 'MANUAL', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"
        }
    };
    let b_customer: uuid::Uuid = b.customer.parse().unwrap();
    let a_service: uuid::Uuid = a.service.parse().unwrap();
    let a_staff: uuid::Uuid = a.staff.parse().unwrap();
    let res = tx
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                uuid::Uuid::now_v7().into(),
                tenant_a.into(),
                b_customer.into(),
                a_service.into(),
                a_staff.into(),
            ],
        ))
        .await;
    let err = res.expect_err("composite foreign key must refuse another tenant's customer");
    assert!(
        graph::db::write_conflict(&err) == Some(graph::db::WriteConflict::ForeignKey),
        "{err:?}"
    );
}

#[tokio::test]
async fn postgres_row_level_security_fails_closed() {
    let app = spawn_app().await;
    if !app.postgres {
        eprintln!("skipped: PostgreSQL only (set TEST_DATABASE_URL)");
        return;
    }
    let a = world(&app, "rls-a", "+14155550114").await;
    let b = world(&app, "rls-b", "+14155550115").await;
    let conn = Database::connect(&app.settings.database.url).await.unwrap();
    let one = |sql: &str| Statement::from_string(DatabaseBackend::Postgres, sql.to_string());
    let role = conn
        .query_one_raw(one(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(!role.try_get::<bool>("", "rolsuper").unwrap());
    assert!(!role.try_get::<bool>("", "rolbypassrls").unwrap());
    let owns = conn
        .query_one_raw(one("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owns.try_get::<i64>("", "n").unwrap(), 0);

    let count = |tables: &'static str| format!("SELECT count(*) AS n FROM {tables}");
    for table in [
        "tenants",
        "users",
        "customers",
        "services",
        "staff_members",
        "working_hours",
        "bookings",
        "refresh_tokens",
        "availability_overrides",
        "time_off",
        "staff_services",
        "idempotency_keys",
    ] {
        // No tenant set: nothing visible.
        let row = conn
            .query_one_raw(one(&count(table)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.try_get::<i64>("", "n").unwrap(),
            0,
            "{table} visible without tenant"
        );
    }
    // Every table with a tenant_id (payments, outbox, webhook events, … included) has
    // row-level security enabled and forced.
    let unguarded = conn
        .query_all_raw(one(
            "SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind = 'r' \
             AND EXISTS (SELECT 1 FROM information_schema.columns col WHERE col.table_schema = 'public' \
                         AND col.table_name = c.relname AND col.column_name = 'tenant_id') \
             AND NOT (c.relrowsecurity AND c.relforcerowsecurity)",
        ))
        .await
        .unwrap();
    let names: Vec<String> = unguarded
        .iter()
        .map(|r| r.try_get::<String>("", "t").unwrap())
        .collect();
    assert!(names.is_empty(), "tables without forced RLS: {names:?}");
    let guarded = conn
        .query_one_raw(one(
            "SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relforcerowsecurity",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(guarded.try_get::<i64>("", "n").unwrap() >= 22);
    // Tenant A set: only A's rows, and writing B's tenant id is refused.
    use sea_orm::TransactionTrait;
    let tx = conn.begin().await.unwrap();
    tx.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT set_config('app.tenant_id', $1, true)",
        [a.owner.tenant_id.clone().into()],
    ))
    .await
    .unwrap();
    let row = tx
        .query_one_raw(one("SELECT count(*) AS n FROM bookings"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
    let row = tx
        .query_one_raw(one("SELECT count(*) AS n FROM tenants"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
    let res = tx
        .execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "UPDATE services SET name = 'hacked' WHERE id = $1",
            [b.service.parse::<uuid::Uuid>().unwrap().into()],
        ))
        .await
        .unwrap();
    assert_eq!(res.rows_affected(), 0, "B's service must be invisible to A");
    let res = tx
        .execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "INSERT INTO customers (id, tenant_id, name, created_at) VALUES ($1, $2, 'x', now())",
            [
                uuid::Uuid::now_v7().into(),
                b.owner.tenant_id.parse::<uuid::Uuid>().unwrap().into(),
            ],
        ))
        .await;
    assert!(
        res.is_err(),
        "inserting a row of tenant B while set to A must fail"
    );
    drop(tx);
}
