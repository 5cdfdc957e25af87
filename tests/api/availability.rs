//! `availableSlots`: weekly hours, durations, existing bookings and DST.

use chrono::{Duration, NaiveDate, Offset, TimeZone, Utc, Weekday};
use serde_json::{Value, json};

use crate::helpers::{local, next_weekday, slug, spawn_app};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

/// The next local date in `tz` whose UTC offset at the end of the day differs from the
/// one at its start, with the offset increasing (`spring`) or decreasing.
fn next_transition(tz: chrono_tz::Tz, spring: bool) -> NaiveDate {
    let mut d = Utc::now().date_naive() + Duration::days(2);
    loop {
        let at = |h| {
            tz.from_local_datetime(&d.and_hms_opt(h, 0, 0).unwrap())
                .earliest()
                .unwrap()
                .offset()
                .fix()
                .local_minus_utc()
        };
        let (morning, night) = (at(0), at(23));
        if (spring && night > morning) || (!spring && night < morning) {
            return d;
        }
        d = d.succ_opt().unwrap();
    }
}

const SLOTS: &str = "query($s: ID!, $st: ID, $f: NaiveDate!, $t: NaiveDate!) { availableSlots(serviceId: $s, staffMemberId: $st, from: $f, to: $t) { startsAt endsAt staffMemberIds staffMembers { name } } }";

fn starts(v: &Value) -> Vec<String> {
    v["availableSlots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["startsAt"].as_str().unwrap().to_string())
        .collect()
}

fn utc(s: &str) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn new_york_dst_days_neither_duplicate_nor_skip_slots() {
    let app = spawn_app().await;
    let owner = app.sign_up_in(&slug("dst"), "America/New_York").await;
    let service = app.create_service(&owner.token, 15).await;
    let spring = next_transition(NY, true);
    let fall = next_transition(NY, false);
    let all_days: Vec<(&str, &str, &str)> = [
        "MONDAY",
        "TUESDAY",
        "WEDNESDAY",
        "THURSDAY",
        "FRIDAY",
        "SATURDAY",
        "SUNDAY",
    ]
    .into_iter()
    .flat_map(|d| [(d, "00:00", "06:00"), (d, "09:00", "10:00")])
    .collect();
    let staff = app.create_staff(&owner.token, "Night Owl", &all_days).await;
    let t = Some(owner.token.as_str());

    // Spring forward: 00:00–06:00 local is 5 real hours = 20 quarter-hours; nothing
    // between 02:00 and 03:00 local; 09:00 is EDT (UTC−4).
    let v = app
        .gql(
            t,
            SLOTS,
            json!({"s": service, "st": staff, "f": spring, "t": spring}),
        )
        .await;
    let s = starts(&v);
    let night: Vec<_> = s
        .iter()
        .filter(|x| {
            utc(x).with_timezone(&NY).time() < chrono::NaiveTime::from_hms_opt(6, 0, 0).unwrap()
        })
        .collect();
    assert_eq!(night.len(), 20, "{s:?}");
    assert!(s.iter().all(|x| {
        let h = utc(x).with_timezone(&NY).time();
        !(h >= chrono::NaiveTime::from_hms_opt(2, 0, 0).unwrap()
            && h < chrono::NaiveTime::from_hms_opt(3, 0, 0).unwrap())
    }));
    assert!(s.contains(&utc(&local(NY, spring, "09:00")).to_rfc3339()));
    assert_eq!(
        utc(&local(NY, spring, "09:00")).format("%H:%M").to_string(),
        "13:00"
    );
    let mut dedup = s.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), s.len(), "no duplicates");
    // Each slot lasts 15 real minutes.
    for slot in v["availableSlots"].as_array().unwrap() {
        let (a, b) = (
            utc(slot["startsAt"].as_str().unwrap()),
            utc(slot["endsAt"].as_str().unwrap()),
        );
        assert_eq!(b - a, Duration::minutes(15));
    }

    // Fall back: 00:00–06:00 local is 7 real hours = 28 quarter-hours, 01:xx twice as
    // two distinct instants; 09:00 is EST (UTC−5).
    let v = app
        .gql(
            t,
            SLOTS,
            json!({"s": service, "st": staff, "f": fall, "t": fall}),
        )
        .await;
    let s = starts(&v);
    assert_eq!(s.len(), 28 + 4, "{s:?}");
    let mut dedup = s.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), s.len(), "no duplicate instants");
    assert_eq!(
        utc(&local(NY, fall, "09:00")).format("%H:%M").to_string(),
        "14:00"
    );
    assert!(s.contains(&utc(&local(NY, fall, "09:00")).to_rfc3339()));

    // The days around keep their own offsets.
    let before = spring - Duration::days(1);
    let v = app
        .gql(
            t,
            SLOTS,
            json!({"s": service, "st": staff, "f": before, "t": before}),
        )
        .await;
    assert_eq!(starts(&v).len(), 24 + 4);
}

#[tokio::test]
async fn slots_skip_bookings_and_list_every_free_staff_member() {
    let app = spawn_app().await;
    let owner = app.sign_up(&slug("slots")).await;
    let service = app.create_service(&owner.token, 60).await;
    let day = next_weekday(Weekday::Wed, 2);
    let wd = [("WEDNESDAY", "09:00", "12:00")];
    let ann = app.create_staff(&owner.token, "Ann", &wd).await;
    let bob = app.create_staff(&owner.token, "Bob", &wd).await;
    let customer = app.create_customer(&owner.token, "C", "+14155550160").await;
    let booked = app
        .book(
            &owner.token,
            &service,
            &ann,
            &customer,
            &local(NY, day, "10:00"),
        )
        .await;
    assert!(booked["booking"].is_object());
    let t = Some(owner.token.as_str());
    let v = app
        .gql(
            t,
            SLOTS,
            json!({"s": service, "st": null, "f": day, "t": day}),
        )
        .await;
    let slots = v["availableSlots"].as_array().unwrap();
    // 09:00 … 11:00 = 9 starts; Bob is free for all, Ann for 09:00 and 11:00 only.
    assert_eq!(slots.len(), 9);
    let at = |time: &str| {
        slots
            .iter()
            .find(|s| utc(s["startsAt"].as_str().unwrap()) == utc(&local(NY, day, time)))
            .unwrap()
    };
    assert_eq!(at("09:00")["staffMemberIds"].as_array().unwrap().len(), 2);
    assert_eq!(at("10:30")["staffMemberIds"], json!([bob]));
    assert_eq!(at("10:30")["staffMembers"], json!([{"name": "Bob"}]));
    assert_eq!(at("11:00")["staffMemberIds"].as_array().unwrap().len(), 2);
    // A slot offered publicly can be booked; one that is not offered cannot.
    let public = app
        .gql(
            None,
            "query($slug: String!, $s: ID!, $st: ID, $f: NaiveDate!) { publicAvailableSlots(tenantSlug: $slug, serviceId: $s, staffMemberId: $st, from: $f, to: $f) { startsAt } }",
            json!({"slug": owner.slug, "s": service, "st": ann, "f": day}),
        )
        .await;
    let offered: Vec<String> = public["publicAvailableSlots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["startsAt"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(offered.len(), 2);
    let ok = app
        .public_book(
            &owner.slug,
            &service,
            &offered[1],
            Some(&ann),
            "+14155550161",
        )
        .await;
    assert!(ok["booking"].is_object(), "{ok}");
    let refused = app
        .public_book(
            &owner.slug,
            &service,
            &local(NY, day, "10:15"),
            Some(&ann),
            "+14155550162",
        )
        .await;
    assert_eq!(refused["userErrors"][0]["code"], "SLOT_UNAVAILABLE");
    // Range limits.
    let code = app
        .gql_error_code(
            t,
            SLOTS,
            json!({"s": service, "st": null, "f": day, "t": day + Duration::days(70)}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}
