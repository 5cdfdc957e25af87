//! The slot rule set: one place that decides whether a service can start at an instant
//! for a staff member, and why not. [`slots`] (what `availableSlots` offers),
//! [`evaluate`] (what `whyNotAvailable` explains) and [`check`] (what booking mutations
//! accept) are built from the same predicates — [`windows_on`], [`blocked_interval`] and
//! [`overlaps`] — and tests assert that they agree.
//!
//! Inputs per staff member ([`StaffSchedule`]): weekly hours (several intervals a day; a
//! gap between two is a break), date overrides (replace the weekly hours of one local
//! date; an empty list is a day off or a business holiday), and busy intervals (other
//! bookings with their buffers, time off). Rules per service ([`SlotRules`]): duration,
//! buffers before and after, slot grid, minimum notice, booking horizon.
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
//! Intervals are half-open `[start, end)`: back-to-back bookings do not overlap. A
//! booking occupies `[start, start + duration)` inside working hours and blocks
//! `[start − buffer before, start + duration + buffer after)` against other bookings.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// A half-open UTC interval `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// What makes a staff member busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BusyKind {
    /// Another booking (its blocked interval, buffers included).
    Booking,
    /// Time off.
    TimeOff,
    /// A slot hold that has not expired.
    Hold,
    /// An event of the staff member's connected external calendar (Google Calendar).
    Calendar,
}

/// A busy interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Busy {
    /// When.
    pub interval: Interval,
    /// Why.
    pub kind: BusyKind,
    /// Where (bookings of mobile services), for travel checks.
    pub location: Option<Geo>,
}

impl Busy {
    /// A busy interval without a location.
    pub fn new(interval: Interval, kind: BusyKind) -> Busy {
        Busy {
            interval,
            kind,
            location: None,
        }
    }
}

pub use crate::geo::Geo;

/// Great-circle distance in metres (haversine; see `plugins::haversine_m`).
pub fn distance_m(a: Geo, b: Geo) -> f64 {
    plugins::haversine_m(a.point(), b.point())
}

/// Drive times the rules read, whole minutes rounded up. Pairs answered by the tenant's
/// routing provider (a matrix asked before the rules run, see
/// `availability::service`) are looked up; any other pair is the built-in estimate
/// (`plugins::HaversineRouting::estimate`, the one implementation of the formula).
/// A pair the provider found no route for counts as [`NO_ROUTE`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TravelTimes {
    /// The estimate for pairs the provider did not answer.
    pub estimate: plugins::HaversineRouting,
    known: HashMap<(Geo, Geo), Duration>,
}

/// The drive time of a pair with no route (the job cannot be reached that day).
pub const NO_ROUTE: Duration = Duration::hours(24);

impl TravelTimes {
    /// Only the estimate (no provider answers).
    pub fn estimated(estimate: plugins::HaversineRouting) -> TravelTimes {
        TravelTimes {
            estimate,
            known: HashMap::new(),
        }
    }

    /// Records the provider's drive from `from` to `to` (`None`: no route).
    pub fn insert(&mut self, from: Geo, to: Geo, drive: Option<std::time::Duration>) {
        let minutes = drive.map_or(NO_ROUTE, |d| {
            Duration::minutes((d.as_secs_f64() / 60.0).ceil() as i64)
        });
        self.known.insert((from, to), minutes);
    }

    /// How many pairs came from the provider.
    pub fn known_pairs(&self) -> usize {
        self.known.len()
    }

    /// Driving time from `a` to `b`.
    pub fn time(&self, a: Geo, b: Geo) -> Duration {
        if a == b {
            return Duration::zero();
        }
        if let Some(d) = self.known.get(&(a, b)) {
            return *d;
        }
        let seconds = self
            .estimate
            .estimate(a.point(), b.point())
            .duration
            .as_secs_f64();
        Duration::minutes((seconds / 60.0).ceil() as i64)
    }
}

/// Where a staff member works from and may travel to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Territory {
    /// Home base: the first job of a working window is reached from here.
    pub home: Option<Geo>,
    /// Service area centre and radius in metres.
    pub area: Option<(Geo, u32)>,
}

/// Weekly hours: for weekday index 0 = Monday … 6 = Sunday, the working intervals as
/// `(start minute, end minute)` after local midnight, end exclusive, at most 1440.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeeklyHours(pub [Vec<(i32, i32)>; 7]);

/// Sorts intervals and merges those that touch or overlap.
fn merge(mut day: Vec<(i32, i32)>) -> Vec<(i32, i32)> {
    day.sort_unstable();
    let mut merged: Vec<(i32, i32)> = Vec::with_capacity(day.len());
    for (s, e) in day {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

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
        WeeklyHours(days.map(merge))
    }
}

/// Date overrides: local date → working intervals that replace the weekly hours that day
/// (empty = closed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides(pub BTreeMap<NaiveDate, Vec<(i32, i32)>>);

impl Overrides {
    /// Builds from `(date, Some((start, end)) | None)` rows: a `None` row closes the day;
    /// intervals of one date are merged. `closed` dates (business holidays) are closed
    /// whatever else is given.
    pub fn from_rows(
        rows: impl IntoIterator<Item = (NaiveDate, Option<(i32, i32)>)>,
        closed: impl IntoIterator<Item = NaiveDate>,
    ) -> Overrides {
        let mut map: BTreeMap<NaiveDate, Vec<(i32, i32)>> = BTreeMap::new();
        for (date, span) in rows {
            let day = map.entry(date).or_default();
            if let Some(s) = span {
                day.push(s);
            }
        }
        let mut out: BTreeMap<NaiveDate, Vec<(i32, i32)>> =
            map.into_iter().map(|(d, v)| (d, merge(v))).collect();
        for d in closed {
            out.insert(d, Vec::new());
        }
        Overrides(out)
    }
}

/// Everything about one staff member's time that the rules need.
#[derive(Debug, Clone, Copy)]
pub struct StaffSchedule<'a> {
    /// Weekly hours.
    pub hours: &'a WeeklyHours,
    /// Date overrides (already including business holidays).
    pub overrides: &'a Overrides,
    /// Busy intervals, sorted by start.
    pub busy: &'a [Busy],
    /// Home base and service area (mobile work).
    pub territory: Territory,
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

/// The working windows of local `date` (override if any, else weekly hours), as UTC
/// intervals, in order.
pub fn windows_on(tz: Tz, sched: &StaffSchedule<'_>, date: NaiveDate) -> Vec<Interval> {
    let spans = match sched.overrides.0.get(&date) {
        Some(spans) => spans,
        None => &sched.hours.0[date.weekday().num_days_from_monday() as usize],
    };
    spans
        .iter()
        .filter_map(|&(s, e)| {
            let start = local_instant(tz, date, s, false)?;
            let end = local_instant(tz, date, e, true)?;
            (start < end).then_some(Interval::new(start, end))
        })
        .collect()
}

/// Parameters of one service booked with one staff member.
#[derive(Debug, Clone)]
pub struct SlotRules {
    /// The tenant's timezone.
    pub tz: Tz,
    /// Length of the work.
    pub duration: Duration,
    /// Time blocked before the work (preparation, travel).
    pub buffer_before: Duration,
    /// Time blocked after the work (clean-up).
    pub buffer_after: Duration,
    /// Slot grid in minutes, counted from each working window's start.
    pub grid_minutes: i64,
    /// The current instant.
    pub now: DateTime<Utc>,
    /// Earliest start relative to `now`.
    pub min_notice: Duration,
    /// Latest start relative to `now`.
    pub horizon: Duration,
    /// Where the work happens (mobile services); `None` = at the business.
    pub location: Option<Geo>,
    /// Drive times between locations.
    pub travel: Arc<TravelTimes>,
}

/// Default slot grid (minutes).
pub const DEFAULT_GRID_MINUTES: i64 = 15;

impl SlotRules {
    /// Rules with no buffers, no notice, a two-year horizon and a 15-minute grid.
    pub fn simple(tz: Tz, duration: Duration, now: DateTime<Utc>) -> SlotRules {
        SlotRules {
            tz,
            duration,
            buffer_before: Duration::zero(),
            buffer_after: Duration::zero(),
            grid_minutes: DEFAULT_GRID_MINUTES,
            now,
            min_notice: Duration::zero(),
            horizon: Duration::days(731),
            location: None,
            travel: Arc::new(TravelTimes::default()),
        }
    }

    fn earliest(&self) -> DateTime<Utc> {
        self.now + self.min_notice
    }

    fn latest(&self) -> DateTime<Utc> {
        self.now + self.horizon
    }
}

/// What a booking starting at `start` blocks: its time plus buffers.
pub fn blocked_interval(rules: &SlotRules, start: DateTime<Utc>) -> Interval {
    Interval::new(
        start - rules.buffer_before,
        start + rules.duration + rules.buffer_after,
    )
}

/// Why a start is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Refusal {
    /// Starts before now.
    InThePast,
    /// Starts before now plus the minimum notice.
    MinimumNotice,
    /// Starts after now plus the booking horizon.
    BeyondHorizon,
    /// No working hours that day (weekly day off, override or holiday).
    DayOff,
    /// Before the first or after the last working window of the day.
    OutsideWorkingHours,
    /// Between two working windows of the day (a break), or spanning one.
    Break,
    /// Inside a window but not on its grid.
    NotOnGrid,
    /// Overlaps another booking (buffers included).
    Booked,
    /// Overlaps the staff member's time off.
    TimeOff,
    /// Overlaps busy time imported from the staff member's external calendar.
    CalendarBusy,
    /// Overlaps a slot held for someone else.
    Held,
    /// The location is outside the staff member's service area.
    OutsideServiceArea,
    /// No time to drive there from the previous job (or home base), or on to the next.
    Travel,
}

/// Whether the location is inside the staff member's service area (or there is none).
fn in_area(rules: &SlotRules, sched: &StaffSchedule<'_>) -> bool {
    match (rules.location, sched.territory.area) {
        (Some(loc), Some((centre, radius_m))) => distance_m(centre, loc) <= f64::from(radius_m),
        _ => true,
    }
}

/// Whether the staff member can get to `rules.location` in time for `blocked` (from the
/// previous located booking in the same working window, or from home at the window's
/// start) and on to the next located booking in that window.
fn travel_ok(
    rules: &SlotRules,
    sched: &StaffSchedule<'_>,
    blocked: &Interval,
    window: &Interval,
) -> bool {
    let Some(loc) = rules.location else {
        return true;
    };
    let busy = sched.busy;
    let split = busy.partition_point(|b| b.interval.start < blocked.start);
    let prev = busy[..split]
        .iter()
        .rev()
        .filter(|b| b.kind == BusyKind::Booking && b.interval.end <= blocked.start)
        .take_while(|b| b.interval.end > window.start)
        .find_map(|b| b.location.map(|l| (b.interval.end, l)));
    let origin = prev.or_else(|| sched.territory.home.map(|h| (window.start, h)));
    if let Some((free_at, from)) = origin
        && free_at + rules.travel.time(from, loc) > blocked.start
    {
        return false;
    }
    let next = busy[split..]
        .iter()
        .filter(|b| b.kind == BusyKind::Booking && b.interval.start >= blocked.end)
        .take_while(|b| b.interval.start < window.end)
        .find_map(|b| b.location.map(|l| (b.interval.start, l)));
    match next {
        Some((due, to)) => blocked.end + rules.travel.time(loc, to) <= due,
        None => true,
    }
}

/// Every reason why the service cannot start at `start` (empty = it can).
/// `require_grid` demands a slot-grid start (public and agent bookings).
pub fn evaluate(
    rules: &SlotRules,
    sched: &StaffSchedule<'_>,
    start: DateTime<Utc>,
    require_grid: bool,
) -> Vec<Refusal> {
    let mut out = Vec::new();
    if start < rules.now {
        out.push(Refusal::InThePast);
    } else if start < rules.earliest() {
        out.push(Refusal::MinimumNotice);
    }
    if start > rules.latest() {
        out.push(Refusal::BeyondHorizon);
    }
    let work = Interval::new(start, start + rules.duration);
    let date = start.with_timezone(&rules.tz).date_naive();
    let windows = windows_on(rules.tz, sched, date);
    let blocked = blocked_interval(rules, start);
    let in_area = in_area(rules, sched);
    if !in_area {
        out.push(Refusal::OutsideServiceArea);
    }
    match windows
        .iter()
        .find(|w| w.start <= work.start && work.end <= w.end)
    {
        Some(w) => {
            if in_area && !travel_ok(rules, sched, &blocked, w) {
                out.push(Refusal::Travel);
            }
            if require_grid {
                let offset = (work.start - w.start).num_milliseconds();
                let grid = Duration::minutes(rules.grid_minutes.max(1)).num_milliseconds();
                if offset % grid != 0 {
                    out.push(Refusal::NotOnGrid);
                }
            }
        }
        None => match (windows.first(), windows.last()) {
            (Some(first), Some(last)) if first.start <= work.start && work.start < last.end => {
                out.push(Refusal::Break);
            }
            (Some(_), Some(_)) => out.push(Refusal::OutsideWorkingHours),
            _ => out.push(Refusal::DayOff),
        },
    }
    for kind in [
        BusyKind::Booking,
        BusyKind::TimeOff,
        BusyKind::Hold,
        BusyKind::Calendar,
    ] {
        if sched
            .busy
            .iter()
            .any(|b| b.kind == kind && overlaps(&b.interval, &blocked))
        {
            out.push(match kind {
                BusyKind::Booking => Refusal::Booked,
                BusyKind::TimeOff => Refusal::TimeOff,
                BusyKind::Hold => Refusal::Held,
                BusyKind::Calendar => Refusal::CalendarBusy,
            });
        }
    }
    out
}

/// The first reason of [`evaluate`], or `Ok` when the start is allowed.
pub fn check(
    rules: &SlotRules,
    sched: &StaffSchedule<'_>,
    start: DateTime<Utc>,
    require_grid: bool,
) -> Result<(), Refusal> {
    match evaluate(rules, sched, start, require_grid).first() {
        Some(r) => Err(*r),
        None => Ok(()),
    }
}

/// Every start on the grid between local dates `from` and `to` (inclusive) that
/// [`check`] (with `require_grid`) accepts, in time order. Runs in O(candidates + busy)
/// per staff member: busy intervals are swept with a pointer.
pub fn slots(
    rules: &SlotRules,
    sched: &StaffSchedule<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    for_each_slot(rules, sched, from, to, |t| {
        out.push(t);
        true
    });
    out
}

/// The local dates between `from` and `to` (inclusive) with at least one slot.
pub fn days_with_slots(
    rules: &SlotRules,
    sched: &StaffSchedule<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut date = from;
    while date <= to {
        let mut any = false;
        for_each_slot(rules, sched, date, date, |_| {
            any = true;
            false
        });
        if any {
            out.push(date);
        }
        match date.succ_opt() {
            Some(d) => date = d,
            None => break,
        }
    }
    out
}

/// Calls `f` with every slot in order until it returns false.
fn for_each_slot(
    rules: &SlotRules,
    sched: &StaffSchedule<'_>,
    from: NaiveDate,
    to: NaiveDate,
    mut f: impl FnMut(DateTime<Utc>) -> bool,
) {
    let grid = Duration::minutes(rules.grid_minutes.max(1));
    let (earliest, latest) = (rules.earliest(), rules.latest());
    let busy = sched.busy;
    if !in_area(rules, sched) {
        return;
    }
    // Candidates move forward in time, and so do their blocked intervals: a leading busy
    // interval that ended before the current blocked start can be dropped for good; the
    // rest are scanned while they start before the blocked end.
    let mut first = 0usize;
    let mut date = from;
    while date <= to {
        for w in windows_on(rules.tz, sched, date) {
            let mut t = w.start;
            while t + rules.duration <= w.end {
                if t > latest {
                    return;
                }
                if t >= earliest {
                    let blocked = blocked_interval(rules, t);
                    while first < busy.len() && busy[first].interval.end <= blocked.start {
                        first += 1;
                    }
                    let clash = busy[first..]
                        .iter()
                        .take_while(|b| b.interval.start < blocked.end)
                        .any(|b| overlaps(&b.interval, &blocked));
                    if !clash && travel_ok(rules, sched, &blocked, &w) && !f(t) {
                        return;
                    }
                }
                t += grid;
            }
        }
        match date.succ_opt() {
            Some(d) => date = d,
            None => break,
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    const NY: Tz = chrono_tz::America::New_York;

    fn nine_to_five() -> WeeklyHours {
        WeeklyHours::from_rows((0..7).map(|d| (d, 9 * 60, 17 * 60)))
    }

    fn rules(tz: Tz, minutes: i64) -> SlotRules {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("now")
            .with_timezone(&Utc);
        let mut r = SlotRules::simple(tz, Duration::minutes(minutes), now);
        r.horizon = Duration::days(3650);
        r
    }

    fn local(tz: Tz, s: &str) -> DateTime<Utc> {
        let n = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("naive");
        tz.from_local_datetime(&n)
            .earliest()
            .expect("exists")
            .with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn sched<'a>(h: &'a WeeklyHours, o: &'a Overrides, b: &'a [Busy]) -> StaffSchedule<'a> {
        StaffSchedule {
            hours: h,
            overrides: o,
            busy: b,
            territory: Territory::default(),
        }
    }

    fn booking(a: DateTime<Utc>, b: DateTime<Utc>) -> Busy {
        Busy::new(Interval::new(a, b), BusyKind::Booking)
    }

    #[test]
    fn plain_day_has_expected_slots() {
        let d = date("2026-03-04");
        let (h, o) = (nine_to_five(), Overrides::default());
        let s = slots(&rules(NY, 60), &sched(&h, &o, &[]), d, d);
        // 09:00 … 16:00 every 15 minutes = 29 slots.
        assert_eq!(s.len(), 29);
        assert_eq!(s[0], local(NY, "2026-03-04 09:00"));
        assert_eq!(*s.last().expect("last"), local(NY, "2026-03-04 16:00"));
    }

    #[test]
    fn busy_intervals_block_overlaps_only() {
        let d = date("2026-03-04");
        let busy = [booking(
            local(NY, "2026-03-04 10:00"),
            local(NY, "2026-03-04 11:00"),
        )];
        let (h, o) = (nine_to_five(), Overrides::default());
        let s = slots(&rules(NY, 60), &sched(&h, &o, &busy), d, d);
        assert!(
            s.contains(&local(NY, "2026-03-04 09:00")),
            "back-to-back before"
        );
        assert!(!s.contains(&local(NY, "2026-03-04 09:15")));
        assert!(!s.contains(&local(NY, "2026-03-04 10:45")));
        assert!(
            s.contains(&local(NY, "2026-03-04 11:00")),
            "back-to-back after"
        );
    }

    #[test]
    fn buffers_keep_distance_on_both_sides() {
        let d = date("2026-03-04");
        let busy = [booking(
            local(NY, "2026-03-04 12:00"),
            local(NY, "2026-03-04 13:00"),
        )];
        let (h, o) = (nine_to_five(), Overrides::default());
        let mut r = rules(NY, 60);
        r.buffer_before = Duration::minutes(30);
        r.buffer_after = Duration::minutes(15);
        let sc = sched(&h, &o, &busy);
        let s = slots(&r, &sc, d, d);
        // Ends at 11:00, after-buffer to 11:15 < 12:00: fine; 11:00 start would end 12:00
        // and its after-buffer overlaps.
        assert!(s.contains(&local(NY, "2026-03-04 10:45")));
        assert!(!s.contains(&local(NY, "2026-03-04 11:00")));
        // 13:00: before-buffer 12:30 overlaps the booking; 13:30 is the first after it.
        assert!(!s.contains(&local(NY, "2026-03-04 13:15")));
        assert!(s.contains(&local(NY, "2026-03-04 13:30")));
        // The first slot of the day may have its before-buffer outside working hours.
        assert!(s.contains(&local(NY, "2026-03-04 09:00")));
        assert_eq!(
            evaluate(&r, &sc, local(NY, "2026-03-04 11:00"), true),
            vec![Refusal::Booked]
        );
    }

    #[test]
    fn notice_and_horizon() {
        let d = date("2026-03-04");
        let (h, o) = (nine_to_five(), Overrides::default());
        let sc = sched(&h, &o, &[]);
        let mut r = rules(NY, 30);
        r.now = local(NY, "2026-03-04 10:05");
        r.min_notice = Duration::hours(2);
        r.horizon = Duration::hours(5);
        let s = slots(&r, &sc, d, d + Duration::days(1));
        assert_eq!(s.first(), Some(&local(NY, "2026-03-04 12:15")));
        assert_eq!(s.last(), Some(&local(NY, "2026-03-04 15:00")));
        assert_eq!(
            evaluate(&r, &sc, local(NY, "2026-03-04 09:00"), true),
            vec![Refusal::InThePast]
        );
        assert_eq!(
            evaluate(&r, &sc, local(NY, "2026-03-04 11:00"), true),
            vec![Refusal::MinimumNotice]
        );
        assert_eq!(
            evaluate(&r, &sc, local(NY, "2026-03-05 09:00"), true),
            vec![Refusal::BeyondHorizon]
        );
    }

    #[test]
    fn breaks_overrides_holidays_and_time_off() {
        let h = WeeklyHours::from_rows(
            (0..5).flat_map(|d| [(d, 9 * 60, 12 * 60), (d, 13 * 60, 17 * 60)]),
        );
        let o = Overrides::from_rows(
            [
                (date("2026-03-05"), Some((10 * 60, 14 * 60))),
                (date("2026-03-06"), None),
            ],
            [date("2026-03-09")],
        );
        let off = [Busy::new(
            Interval::new(local(NY, "2026-03-04 15:00"), local(NY, "2026-03-04 16:00")),
            BusyKind::TimeOff,
        )];
        let sc = sched(&h, &o, &off);
        let r = rules(NY, 60);
        let why = |s: &str| evaluate(&r, &sc, local(NY, s), true);
        assert_eq!(why("2026-03-04 11:30"), vec![Refusal::Break]);
        assert_eq!(why("2026-03-04 12:15"), vec![Refusal::Break]);
        assert_eq!(why("2026-03-04 08:00"), vec![Refusal::OutsideWorkingHours]);
        assert_eq!(why("2026-03-04 15:30"), vec![Refusal::TimeOff]);
        assert_eq!(why("2026-03-04 13:00"), vec![]);
        assert_eq!(why("2026-03-04 13:05"), vec![Refusal::NotOnGrid]);
        assert_eq!(why("2026-03-05 09:00"), vec![Refusal::OutsideWorkingHours]); // override
        assert_eq!(why("2026-03-05 12:00"), vec![]); // override spans lunch
        assert_eq!(why("2026-03-06 10:00"), vec![Refusal::DayOff]); // override: off
        assert_eq!(why("2026-03-07 10:00"), vec![Refusal::DayOff]); // Saturday
        assert_eq!(why("2026-03-09 10:00"), vec![Refusal::DayOff]); // holiday
        let days = days_with_slots(&r, &sc, date("2026-03-04"), date("2026-03-10"));
        assert_eq!(
            days,
            vec![date("2026-03-04"), date("2026-03-05"), date("2026-03-10")]
        );
    }

    #[test]
    fn travel_time_and_service_area() {
        let d = date("2026-03-04");
        let h = WeeklyHours::from_rows((0..7).map(|d| (d, 8 * 60, 18 * 60)));
        let o = Overrides::default();
        let a = Geo::from_degrees(39.40, -76.60).expect("a");
        let c = Geo::from_degrees(39.58, -76.60).expect("c"); // ~20.0 km north of a
        let tm = TravelTimes::default();
        assert_eq!(tm.time(a, c), Duration::minutes(40)); // 20.02 km × 1.3 ÷ 40 km/h = 39.03 min, rounded up
        let busy = [Busy {
            interval: Interval::new(local(NY, "2026-03-04 10:00"), local(NY, "2026-03-04 11:00")),
            kind: BusyKind::Booking,
            location: Some(a),
        }];
        let mut sc = sched(&h, &o, &busy);
        sc.territory.home = Some(a);
        let mut r = rules(NY, 60);
        r.location = Some(c);
        let s = slots(&r, &sc, d, d);
        assert_eq!(
            s.first(),
            Some(&local(NY, "2026-03-04 11:45")),
            "11:00 + 40 min drive, next grid point"
        );
        assert_eq!(s.last(), Some(&local(NY, "2026-03-04 17:00")));
        let why = |t: &str| evaluate(&r, &sc, local(NY, t), true);
        assert_eq!(
            why("2026-03-04 08:45"),
            vec![Refusal::Travel],
            "cannot make the 10:00 job"
        );
        assert_eq!(why("2026-03-04 11:30"), vec![Refusal::Travel]);
        assert_eq!(why("2026-03-04 10:30"), vec![Refusal::Booked]);
        assert_eq!(why("2026-03-04 11:45"), vec![]);
        // Without a location the job is at the business: no travel rules.
        r.location = None;
        assert_eq!(
            evaluate(&r, &sc, local(NY, "2026-03-04 11:00"), true),
            vec![]
        );
        // Outside the service area nothing is offered.
        r.location = Some(c);
        sc.territory.area = Some((a, 5_000));
        assert!(slots(&r, &sc, d, d).is_empty());
        assert_eq!(
            evaluate(&r, &sc, local(NY, "2026-03-04 12:00"), true),
            vec![Refusal::OutsideServiceArea]
        );
    }

    #[test]
    fn provider_drive_times_replace_the_estimate_for_their_pairs() {
        let d = date("2026-03-04");
        let h = WeeklyHours::from_rows((0..7).map(|d| (d, 8 * 60, 18 * 60)));
        let o = Overrides::default();
        let job = Geo::from_degrees(39.4143, -76.5966).expect("job");
        let there = Geo::from_degrees(39.4593, -76.5966).expect("5 km north");
        let busy = [Busy {
            interval: Interval::new(local(NY, "2026-03-04 10:00"), local(NY, "2026-03-04 11:00")),
            kind: BusyKind::Booking,
            location: Some(job),
        }];
        let sc = sched(&h, &o, &busy);
        let mut r = rules(NY, 60);
        r.location = Some(there);
        let estimated = TravelTimes::default();
        assert_eq!(estimated.time(job, there), Duration::minutes(10));
        let first_after_11 = |r: &SlotRules| {
            slots(r, &sc, d, d)
                .into_iter()
                .find(|t| *t >= local(NY, "2026-03-04 11:00"))
        };
        assert_eq!(first_after_11(&r), Some(local(NY, "2026-03-04 11:15")));
        let mut matrix = TravelTimes::default();
        matrix.insert(job, there, Some(std::time::Duration::from_secs(50 * 60)));
        matrix.insert(
            there,
            job,
            Some(std::time::Duration::from_secs(49 * 60 + 1)),
        );
        assert_eq!(matrix.known_pairs(), 2);
        assert_eq!(matrix.time(there, job), Duration::minutes(50), "rounded up");
        r.travel = Arc::new(matrix.clone());
        assert_eq!(first_after_11(&r), Some(local(NY, "2026-03-04 12:00")));
        // A pair with no route makes the job unreachable next to the booking.
        matrix.insert(job, there, None);
        r.travel = Arc::new(matrix);
        assert_eq!(
            evaluate(&r, &sc, local(NY, "2026-03-04 13:00"), true),
            vec![Refusal::Travel]
        );
    }

    fn night_hours() -> WeeklyHours {
        WeeklyHours::from_rows((0..7).map(|d| (d, 0, 6 * 60)))
    }

    #[test]
    fn spring_forward_skips_missing_hour() {
        let d = date("2026-03-08"); // DST starts 02:00
        let (h, o) = (night_hours(), Overrides::default());
        let s = slots(&rules(NY, 15), &sched(&h, &o, &[]), d, d);
        // 00:00–06:00 local is only 5 real hours that day: 20 quarter-hour slots.
        assert_eq!(s.len(), 20);
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("t");
        assert!(!s.iter().any(|x| {
            let l = x.with_timezone(&NY).time();
            l >= t(2, 0) && l < t(3, 0)
        }));
    }

    #[test]
    fn fall_back_offers_repeated_hour_twice_as_distinct_instants() {
        let d = date("2026-11-01"); // DST ends 02:00
        let (h, o) = (night_hours(), Overrides::default());
        let s = slots(&rules(NY, 15), &sched(&h, &o, &[]), d, d);
        assert_eq!(s.len(), 28); // 7 real hours
        let mut sorted = s.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), s.len());
    }

    #[test]
    fn london_and_lord_howe_transitions() {
        let (h, o) = (night_hours(), Overrides::default());
        let london = chrono_tz::Europe::London;
        // BST starts 2026-03-29 01:00 → 02:00; ends 2026-10-25 02:00 → 01:00.
        let s = slots(
            &rules(london, 15),
            &sched(&h, &o, &[]),
            date("2026-03-29"),
            date("2026-03-29"),
        );
        assert_eq!(s.len(), 20);
        let s = slots(
            &rules(london, 15),
            &sched(&h, &o, &[]),
            date("2026-10-25"),
            date("2026-10-25"),
        );
        assert_eq!(s.len(), 28);
        // Lord Howe shifts by 30 minutes: 2026-04-05 02:00 → 01:30 (+11 → +10:30) and
        // 2026-10-04 02:00 → 02:30.
        let lh = chrono_tz::Australia::Lord_Howe;
        let s = slots(
            &rules(lh, 15),
            &sched(&h, &o, &[]),
            date("2026-04-05"),
            date("2026-04-05"),
        );
        assert_eq!(s.len(), 26, "6 h + 30 min");
        let mut d = s.clone();
        d.dedup();
        assert_eq!(d.len(), s.len());
        let s = slots(
            &rules(lh, 15),
            &sched(&h, &o, &[]),
            date("2026-10-04"),
            date("2026-10-04"),
        );
        assert_eq!(s.len(), 22, "6 h − 30 min");
        assert!(s.iter().all(|x| {
            let l = x.with_timezone(&lh).time();
            !(l >= NaiveTime::from_hms_opt(2, 0, 0).expect("t")
                && l < NaiveTime::from_hms_opt(2, 30, 0).expect("t"))
        }));
    }

    #[test]
    fn slots_and_check_agree() {
        // Deterministic pseudo-random schedules, overrides, busy times (xorshift).
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for tz in [
            NY,
            chrono_tz::Europe::London,
            chrono_tz::Australia::Lord_Howe,
        ] {
            for _ in 0..40 {
                let rows: Vec<(i16, i32, i32)> = (0..7)
                    .flat_map(|d| {
                        let s = (next(40) * 15) as i32;
                        let e = s + 60 + (next(40) * 15) as i32;
                        let s2 = e + 30 + (next(8) * 15) as i32;
                        [
                            (d as i16, s, e.min(1440)),
                            (d as i16, s2.min(1430), (s2 + 120).min(1440)),
                        ]
                    })
                    .collect();
                let hours = WeeklyHours::from_rows(rows);
                let from = date("2026-03-25") + Duration::days(next(20) as i64);
                let to = from + Duration::days(3);
                let overrides = Overrides::from_rows(
                    [
                        (from + Duration::days(1), Some((8 * 60, 11 * 60))),
                        (from + Duration::days(2), None),
                    ],
                    [],
                );
                let base = local(tz, &format!("{} 00:00", from));
                let mut busy: Vec<Busy> = (0..10)
                    .map(|i| {
                        let s = base + Duration::minutes((next(4 * 96) * 15) as i64);
                        Busy {
                            interval: Interval::new(
                                s,
                                s + Duration::minutes(15 + (next(8) * 15) as i64),
                            ),
                            kind: if i % 3 == 0 {
                                BusyKind::TimeOff
                            } else {
                                BusyKind::Booking
                            },
                            location: None,
                        }
                    })
                    .collect();
                busy.sort();
                let mut r = rules(tz, 15 + (next(6) * 15) as i64);
                r.buffer_before = Duration::minutes((next(3) * 10) as i64);
                r.buffer_after = Duration::minutes((next(3) * 5) as i64);
                r.grid_minutes = [5, 10, 15, 30][next(4) as usize];
                r.now = base + Duration::hours(next(30) as i64);
                r.min_notice = Duration::minutes((next(4) * 30) as i64);
                r.horizon = Duration::hours(48 + next(48) as i64);
                let sc = sched(&hours, &overrides, &busy);
                let offered = slots(&r, &sc, from, to);
                for t in &offered {
                    assert_eq!(evaluate(&r, &sc, *t, true), vec![], "offered {t} refused");
                }
                let mut t = base - Duration::hours(2);
                while t < base + Duration::days(4) {
                    let day = t.with_timezone(&tz).date_naive();
                    if check(&r, &sc, t, true).is_ok() && from <= day && day <= to {
                        assert!(offered.contains(&t), "accepted {t} not offered");
                    }
                    t += Duration::minutes(5);
                }
                let days = days_with_slots(&r, &sc, from, to);
                let mut expect: Vec<NaiveDate> = offered
                    .iter()
                    .map(|t| t.with_timezone(&tz).date_naive())
                    .collect();
                expect.dedup();
                assert_eq!(days, expect);
            }
        }
    }
}
