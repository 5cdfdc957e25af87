//! Slot computation benchmarks (pure rules, busy times already loaded).
//!
//! Run: `cargo bench -p graph --bench slots`. Targets from issue 3: one staff member, a
//! month, 15-minute grid ≤ 1 ms; 50 staff members, any-staff, a month ≤ 10 ms;
//! travel-aware slots for a day with 8 mobile bookings per staff member, 10 staff ≤ 5 ms.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use entities::{service, staff_member, tenant};
use graph::availability::data::{Candidate, ScheduleData};
use graph::availability::rules::{
    self, Busy, BusyKind, Geo, Interval, Overrides, SlotRules, StaffSchedule, Territory,
    WeeklyHours,
};
use graph::availability::service::compute_slots;
use uuid::Uuid;

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
}

fn hours() -> WeeklyHours {
    // Mon–Sat 08:00–12:00 and 13:00–18:00.
    WeeklyHours::from_rows((0..6).flat_map(|d| [(d, 8 * 60, 12 * 60), (d, 13 * 60, 18 * 60)]))
}

/// Four one-hour bookings a day at staggered times for `days` days from `from`.
fn busy(from: NaiveDate, days: i64, seed: i64) -> Vec<Busy> {
    let mut out = Vec::new();
    for d in 0..days {
        let date = from + Duration::days(d);
        for (i, h) in [8, 10, 14, 16].into_iter().enumerate() {
            let start = NY
                .from_local_datetime(
                    &date
                        .and_hms_opt(h, ((seed + i as i64) % 4 * 15) as u32, 0)
                        .unwrap(),
                )
                .earliest()
                .unwrap()
                .with_timezone(&Utc);
            out.push(Busy::new(
                Interval::new(start, start + Duration::minutes(60)),
                BusyKind::Booking,
            ));
        }
    }
    out.sort();
    out
}

fn tenant() -> tenant::Model {
    tenant::Model {
        id: Uuid::now_v7(),
        name: "Bench".into(),
        slug: "bench".into(),
        timezone: "America/New_York".into(),
        currency: "USD".into(),
        plan: "TEAMS".into(),
        status: entities::TenantStatus::Active,
        slot_interval_minutes: 15,
        min_notice_minutes: 0,
        horizon_days: 365,
        cancellation_notice_hours: 0,
        assignment_policy: "LEAST_BUSY".into(),
        travel_detour_factor: 1.3,
        travel_speed_kmh: 40.0,
        deposit_policy: "NONE".into(),
        deposit_value: 0,
        stripe_account_id: None,
        stripe_charges_enabled: false,
        stripe_payouts_enabled: false,
        stripe_details_submitted: false,
        stripe_account_event_at: 0,
        billing_customer_id: None,
        billing_subscription_id: None,
        trial_ends_at: None,
        billing_event_at: 0,
        created_at: now(),
    }
}

fn service(tenant_id: Uuid) -> service::Model {
    service::Model {
        id: Uuid::now_v7(),
        tenant_id,
        name: "Detail".into(),
        description: None,
        duration_minutes: 60,
        price_cents: 10_000,
        active: true,
        display_order: 0,
        buffer_before_minutes: 0,
        buffer_after_minutes: 15,
        slot_interval_minutes: None,
        min_notice_minutes: None,
        deposit_policy: None,
        deposit_value: None,
        created_at: now(),
    }
}

fn team(n: usize, from: NaiveDate, days: i64) -> ScheduleData {
    let t = tenant();
    let svc = service(t.id);
    let mut candidates = Vec::new();
    let mut h = HashMap::new();
    let mut b = HashMap::new();
    for i in 0..n {
        let id = Uuid::now_v7();
        candidates.push(Candidate {
            staff: staff_member::Model {
                id,
                tenant_id: t.id,
                name: format!("S{i}"),
                user_id: None,
                active: true,
                home_latitude: None,
                home_longitude: None,
                area_latitude: None,
                area_longitude: None,
                area_radius_km: None,
                created_at: now(),
            },
            price_cents: svc.price_cents,
            duration_minutes: svc.duration_minutes,
            items: vec![],
        });
        h.insert(id, hours());
        b.insert(id, busy(from, days, i as i64));
    }
    ScheduleData::from_parts(t, svc, candidates, h, HashMap::new(), b).unwrap()
}

fn benches(c: &mut Criterion) {
    let from = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
    let to = from + Duration::days(30);

    let wh = hours();
    let ov = Overrides::default();
    let bz = busy(from, 31, 0);
    let sched = StaffSchedule {
        hours: &wh,
        overrides: &ov,
        busy: &bz,
        territory: Territory::default(),
    };
    let r = SlotRules::simple(NY, Duration::minutes(60), now());
    c.bench_function("one staff member, a month, 15-min grid", |bch| {
        bch.iter(|| black_box(rules::slots(&r, &sched, black_box(from), black_box(to))))
    });

    let data = team(50, from, 31);
    c.bench_function("50 staff members, any-staff, a month", |bch| {
        bch.iter(|| black_box(compute_slots(&data, now(), black_box(from), black_box(to))))
    });

    c.bench_function("availability calendar, one staff member, 60 days", |bch| {
        bch.iter(|| {
            black_box(rules::days_with_slots(
                &r,
                &sched,
                black_box(from),
                black_box(from + Duration::days(59)),
            ))
        })
    });
}

/// Real geocoded points (Towson, MD; Baltimore County open data) from `shared/data/geo`.
fn towson_points() -> Vec<Geo> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/geo/towson_md_address_points.csv"
    );
    let text = std::fs::read_to_string(path).expect("shared/data/geo beside the repository");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Geo::from_degrees(f.get(7)?.parse().ok()?, f.get(8)?.parse().ok()?)
        })
        .collect()
}

fn travel_benches(c: &mut Criterion) {
    let pts = towson_points();
    assert!(pts.len() >= 100);
    let day = NaiveDate::from_ymd_opt(2027, 3, 3).unwrap();
    let t = tenant();
    let mut svc = service(t.id);
    svc.duration_minutes = 30;
    svc.buffer_after_minutes = 0;
    let mut candidates = Vec::new();
    let mut h = HashMap::new();
    let mut b = HashMap::new();
    for i in 0..10 {
        let id = Uuid::now_v7();
        let home = pts[i].point();
        candidates.push(Candidate {
            staff: staff_member::Model {
                id,
                tenant_id: t.id,
                name: format!("Tech {i}"),
                user_id: None,
                active: true,
                home_latitude: Some(home.lat),
                home_longitude: Some(home.lng),
                area_latitude: Some(home.lat),
                area_longitude: Some(home.lng),
                area_radius_km: Some(25.0),
                created_at: now(),
            },
            price_cents: svc.price_cents,
            duration_minutes: svc.duration_minutes,
            items: vec![],
        });
        h.insert(id, hours());
        // Eight mobile jobs of 30 minutes, every 75 minutes from 08:00.
        let jobs: Vec<Busy> = (0..8)
            .map(|k| {
                let start = NY
                    .from_local_datetime(&day.and_hms_opt(8, 0, 0).unwrap())
                    .earliest()
                    .unwrap()
                    .with_timezone(&Utc)
                    + Duration::minutes(75 * k);
                Busy {
                    interval: Interval::new(start, start + Duration::minutes(30)),
                    kind: BusyKind::Booking,
                    location: Some(pts[10 + i * 8 + k as usize]),
                }
            })
            .collect();
        b.insert(id, jobs);
    }
    let mut data = ScheduleData::from_parts(t, svc, candidates, h, HashMap::new(), b).unwrap();
    data.location = Some(pts[150]);
    let n = compute_slots(&data, now(), day, day).len();
    c.bench_function(
        &format!("travel-aware day, 10 staff × 8 mobile jobs ({n} slots)"),
        |bch| bch.iter(|| black_box(compute_slots(&data, now(), black_box(day), black_box(day)))),
    );
}

criterion_group!(slot_benches, benches, travel_benches);
criterion_main!(slot_benches);
