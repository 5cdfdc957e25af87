//! The slot rule set: one place that decides whether a service can start at an instant
//! for a staff member. [`slots`] (what `availableSlots` offers) and [`check`] (what
//! booking mutations accept) are built from the same predicates — [`windows_on`] and
//! [`overlaps`] — and a test asserts that they agree.
//!
//! Schedules are local wall-clock minutes in the tenant's IANA timezone, converted with
//! `chrono-tz`:
//! - a local time that does not exist (spring-forward gap) moves forward to the first
//!   time that does (as `java.time.ZonedDateTime` resolves gaps);
//! - a local time that exists twice (fall-back overlap) resolves to the earlier instant
//!   for a window start and the later one for a window end, so the working window covers
//!   the real elapsed time;
//! - slots step through real (UTC) time from the window start, so on a fall-back day the
//!   repeated hour is offered twice (two distinct instants) and on a spring-forward day
//!   the missing hour is never offered.
//!
//! Intervals are half-open `[start, end)`: back-to-back bookings do not overlap.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// A half-open UTC interval `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl Interval {
    /// `[start, end)`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Interval {
        Interval { start, end }
    }
}

/// Whether two half-open intervals share any instant.
pub fn overlaps(a: &Interval, b: &Interval) -> bool {
    a.start < b.end && b.start < a.end
}

/// Weekly hours: for weekday index 0 = Monday … 6 = Sunday, the working intervals as
/// `(start minute, end minute)` after local midnight, end exclusive, at most 1440.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeeklyHours(pub [Vec<(i32, i32)>; 7]);

impl WeeklyHours {
    /// Builds from `(weekday, start, end)` rows; sorts each day and merges intervals
    /// that touch or overlap.
    pub fn from_rows(rows: impl IntoIterator<Item = (i16, i32, i32)>) -> WeeklyHours {
        let mut days: [Vec<(i32, i32)>; 7] = Default::default();
        for (d, s, e) in rows {
            if let Some(day) = usize::try_from(d).ok().and_then(|i| days.get_mut(i)) {
                day.push((s, e));
            }
        }
        for day in days.iter_mut() {
            day.sort();
            let mut merged: Vec<(i32, i32)> = Vec::with_capacity(day.len());
            for &(s, e) in day.iter() {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            *day = merged;
        }
        WeeklyHours(days)
    }
}

/// The instant of local wall-clock `minute` (0..=1440) on `date` in `tz`, resolving DST
/// as described in the module docs (`end` selects the later of two repeated instants).
pub fn local_instant(tz: Tz, date: NaiveDate, minute: i32, end: bool) -> Option<DateTime<Utc>> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    let naive = midnight + Duration::minutes(i64::from(minute));
    // A gap is at most a few hours (the largest real ones are 1–2 h; allow 24 h).
    for step in 0..=(24 * 60) {
        match tz.from_local_datetime(&(naive + Duration::minutes(step))) {
            LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => {
                return Some(if end { b } else { a }.with_timezone(&Utc));
            }
            LocalResult::None => continue,
        }
    }
    None
}

/// The working windows of local `date`, as UTC intervals, in order.
pub fn windows_on(tz: Tz, hours: &WeeklyHours, date: NaiveDate) -> Vec<Interval> {
    let day = date.weekday().num_days_from_monday() as usize;
    hours.0[day]
        .iter()
        .filter_map(|&(s, e)| {
            let start = local_instant(tz, date, s, false)?;
            let end = local_instant(tz, date, e, true)?;
            (start < end).then_some(Interval::new(start, end))
        })
        .collect()
}

/// Parameters shared by [`slots`] and [`check`].
#[derive(Debug, Clone, Copy)]
pub struct SlotRules {
    /// The tenant's timezone.
    pub tz: Tz,
    /// Length of the booked service.
    pub duration: Duration,
    /// Slot grid in minutes, counted from each working window's start (15 by default).
    pub grid_minutes: i64,
    /// Earliest allowed start (now, plus any minimum notice).
    pub not_before: DateTime<Utc>,
}

/// Default slot grid (minutes).
pub const DEFAULT_GRID_MINUTES: i64 = 15;

/// Why a start is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Starts before [`SlotRules::not_before`].
    InThePast,
    /// Not inside one working window from start to end.
    OutsideWorkingHours,
    /// Inside a window but not on its grid.
    NotOnGrid,
    /// Overlaps a busy interval.
    Overlap,
}

/// Decides whether the service can start at `start` for a staff member with `hours` and
/// `busy` intervals. `require_grid` demands a slot-grid start (public and agent
/// bookings); operators may book off-grid times.
pub fn check(
    rules: &SlotRules,
    hours: &WeeklyHours,
    busy: &[Interval],
    start: DateTime<Utc>,
    require_grid: bool,
) -> Result<(), Refusal> {
    if start < rules.not_before {
        return Err(Refusal::InThePast);
    }
    let wanted = Interval::new(start, start + rules.duration);
    let date = start.with_timezone(&rules.tz).date_naive();
    let window = windows_on(rules.tz, hours, date)
        .into_iter()
        .find(|w| w.start <= wanted.start && wanted.end <= w.end)
        .ok_or(Refusal::OutsideWorkingHours)?;
    if require_grid {
        let offset = wanted.start - window.start;
        let grid = Duration::minutes(rules.grid_minutes.max(1));
        if offset.num_milliseconds() % grid.num_milliseconds() != 0 {
            return Err(Refusal::NotOnGrid);
        }
    }
    if busy.iter().any(|b| overlaps(b, &wanted)) {
        return Err(Refusal::Overlap);
    }
    Ok(())
}

/// Every start on the grid between local dates `from` and `to` (inclusive) at which
/// [`check`] (with `require_grid`) would accept the service. `busy` must be sorted by
/// start. Runs in O(slots + busy) per staff member.
pub fn slots(
    rules: &SlotRules,
    hours: &WeeklyHours,
    busy: &[Interval],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let grid = Duration::minutes(rules.grid_minutes.max(1));
    // Busy intervals are sorted by start. Candidates only move forward in time, so a
    // leading busy interval that ended before the current candidate can be dropped for
    // good; the rest are scanned while they start before the candidate's end.
    let mut first = 0usize;
    let mut date = from;
    while date <= to {
        for w in windows_on(rules.tz, hours, date) {
            let mut t = w.start;
            while t + rules.duration <= w.end {
                let wanted = Interval::new(t, t + rules.duration);
                while first < busy.len() && busy[first].end <= wanted.start {
                    first += 1;
                }
                let clash = busy[first..]
                    .iter()
                    .take_while(|b| b.start < wanted.end)
                    .any(|b| overlaps(b, &wanted));
                if t >= rules.not_before && !clash {
                    out.push(t);
                }
                t += grid;
            }
        }
        match date.succ_opt() {
            Some(d) => date = d,
            None => break,
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn nine_to_five() -> WeeklyHours {
        WeeklyHours::from_rows((0..7).map(|d| (d, 9 * 60, 17 * 60)))
    }

    fn rules(tz: Tz, minutes: i64) -> SlotRules {
        SlotRules {
            tz,
            duration: Duration::minutes(minutes),
            grid_minutes: 15,
            not_before: DateTime::<Utc>::MIN_UTC,
        }
    }

    fn local(tz: Tz, s: &str) -> DateTime<Utc> {
        let n = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("naive");
        tz.from_local_datetime(&n)
            .earliest()
            .expect("exists")
            .with_timezone(&Utc)
    }

    #[test]
    fn plain_day_has_expected_slots() {
        let tz = chrono_tz::America::New_York;
        let d = NaiveDate::from_ymd_opt(2026, 3, 4).expect("date");
        let s = slots(&rules(tz, 60), &nine_to_five(), &[], d, d);
        // 09:00 … 16:00 every 15 minutes = 29 slots.
        assert_eq!(s.len(), 29);
        assert_eq!(s[0], local(tz, "2026-03-04 09:00"));
        assert_eq!(*s.last().expect("last"), local(tz, "2026-03-04 16:00"));
    }

    #[test]
    fn busy_intervals_block_overlaps_only() {
        let tz = chrono_tz::America::New_York;
        let d = NaiveDate::from_ymd_opt(2026, 3, 4).expect("date");
        let busy = [Interval::new(
            local(tz, "2026-03-04 10:00"),
            local(tz, "2026-03-04 11:00"),
        )];
        let s = slots(&rules(tz, 60), &nine_to_five(), &busy, d, d);
        assert!(
            s.contains(&local(tz, "2026-03-04 09:00")),
            "back-to-back before"
        );
        assert!(!s.contains(&local(tz, "2026-03-04 09:15")));
        assert!(!s.contains(&local(tz, "2026-03-04 10:45")));
        assert!(
            s.contains(&local(tz, "2026-03-04 11:00")),
            "back-to-back after"
        );
    }

    #[test]
    fn spring_forward_skips_missing_hour() {
        let tz = chrono_tz::America::New_York;
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).expect("date"); // DST starts 02:00
        let hours = WeeklyHours::from_rows((0..7).map(|d| (d, 0, 6 * 60)));
        let s = slots(&rules(tz, 15), &hours, &[], d, d);
        // 00:00–06:00 local is only 5 real hours that day: 20 quarter-hour slots.
        assert_eq!(s.len(), 20);
        let locals: Vec<NaiveTime> = s.iter().map(|t| t.with_timezone(&tz).time()).collect();
        assert!(
            !locals
                .iter()
                .any(|t| *t >= NaiveTime::from_hms_opt(2, 0, 0).expect("t")
                    && *t < NaiveTime::from_hms_opt(3, 0, 0).expect("t"))
        );
        let mut dedup = s.clone();
        dedup.dedup();
        assert_eq!(dedup.len(), s.len());
    }

    #[test]
    fn fall_back_offers_repeated_hour_twice_as_distinct_instants() {
        let tz = chrono_tz::America::New_York;
        let d = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"); // DST ends 02:00
        let hours = WeeklyHours::from_rows((0..7).map(|d| (d, 0, 6 * 60)));
        let s = slots(&rules(tz, 15), &hours, &[], d, d);
        assert_eq!(s.len(), 28); // 7 real hours
        let mut sorted = s.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), s.len());
    }

    #[test]
    fn slots_and_check_agree() {
        // Deterministic pseudo-random schedules and busy times (xorshift).
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for tz in [
            chrono_tz::America::New_York,
            chrono_tz::Europe::London,
            chrono_tz::Australia::Lord_Howe,
        ] {
            for _ in 0..30 {
                let rows: Vec<(i16, i32, i32)> = (0..7)
                    .flat_map(|d| {
                        let s = (next(40) * 15) as i32;
                        let e = s + 60 + (next(60) * 15) as i32;
                        [(d as i16, s, e.min(1440))]
                    })
                    .collect();
                let hours = WeeklyHours::from_rows(rows);
                let from = NaiveDate::from_ymd_opt(2026, 3, 25).expect("date")
                    + Duration::days(next(20) as i64);
                let to = from + Duration::days(3);
                let base = local(tz, &format!("{} 00:00", from));
                let mut busy: Vec<Interval> = (0..8)
                    .map(|_| {
                        let s = base + Duration::minutes((next(4 * 96) * 15) as i64);
                        Interval::new(s, s + Duration::minutes(15 + (next(8) * 15) as i64))
                    })
                    .collect();
                busy.sort();
                let r = rules(tz, 15 + (next(6) * 15) as i64);
                let offered = slots(&r, &hours, &busy, from, to);
                for t in &offered {
                    assert_eq!(
                        check(&r, &hours, &busy, *t, true),
                        Ok(()),
                        "offered {t} refused"
                    );
                }
                let mut t = base - Duration::hours(2);
                while t < base + Duration::days(4) {
                    let day = t.with_timezone(&tz).date_naive();
                    if check(&r, &hours, &busy, t, true).is_ok() && from <= day && day <= to {
                        assert!(offered.contains(&t), "accepted {t} not offered");
                    }
                    t += Duration::minutes(5);
                }
            }
        }
    }
}
