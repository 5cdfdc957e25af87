//! Automatic-message templates and quiet hours: pure functions, no database.
//!
//! A template is text with `{variable}` placeholders ([`VARIABLES`]); a tenant may
//! replace the default of each [`MessageKind`]. Quiet hours move an automatic message
//! to the next allowed local minute, across daylight-saving changes (the local end of
//! the quiet window is resolved in the tenant's IANA time zone; a wall-clock minute that
//! does not exist on a spring-forward day moves to the first one that does).

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use entities::MessageKind;

/// The variables a template may use.
pub const VARIABLES: &[&str] = &[
    "customer_name",
    "business",
    "service",
    "start",
    "staff_member",
    "address",
    "amount_due",
    "eta",
];

/// Longest template, in characters (one Twilio request holds 1,600; variables grow it).
pub const MAX_TEMPLATE_CHARS: usize = 1_000;

/// The default body of `kind` (`None` for kinds that are not automatic).
pub fn default_body(kind: MessageKind) -> Option<&'static str> {
    Some(match kind {
        MessageKind::Confirmation => {
            "Hi {customer_name}, your {service} with {business} is confirmed for {start}. \
             Reply to this text with any questions."
        }
        MessageKind::Reminder => {
            "Reminder: {service} with {business} on {start}. Reply to this text to change it."
        }
        MessageKind::OnTheWay => {
            "{staff_member} from {business} is on the way and will arrive {eta}."
        }
        MessageKind::Rescheduled => "Your {service} with {business} has moved to {start}.",
        MessageKind::Canceled => "Your {service} with {business} on {start} has been canceled.",
        MessageKind::PaymentDue => {
            "Hi {customer_name}, {amount_due} is still due for your {service} on {start}. \
             Reply to this text with any questions."
        }
        MessageKind::Manual | MessageKind::Keyword | MessageKind::Voicemail => return None,
    })
}

/// Checks a template: 1–[`MAX_TEMPLATE_CHARS`] characters, balanced braces, only known
/// variables. Errors: what is wrong (for a user error).
pub fn check(body: &str) -> Result<(), String> {
    let n = body.chars().count();
    if body.trim().is_empty() || n > MAX_TEMPLATE_CHARS {
        return Err(format!("a template has 1–{MAX_TEMPLATE_CHARS} characters"));
    }
    let mut rest = body;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("a `{` is not closed".into());
        };
        let name = &after[..close];
        if !VARIABLES.contains(&name) {
            return Err(format!(
                "unknown variable `{{{name}}}`; use {}",
                VARIABLES
                    .iter()
                    .map(|v| format!("{{{v}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("a `}` has no `{`".into());
    }
    Ok(())
}

/// Fills `{variable}`s of `body` from `vars` (`(name, value)`); unknown or missing ones
/// become empty. Whitespace runs left by empty values are collapsed.
pub fn render(body: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(body.len() + 64);
    let mut rest = body;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                if let Some((_, v)) = vars.iter().find(|(k, _)| *k == name) {
                    out.push_str(v);
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// When the staff member will arrive, as the customer reads it in `tz`: `around 10:35
/// AM` from the planned arrival of an applied route, else `shortly`.
pub fn eta(planned_arrival: Option<DateTime<Utc>>, tz: Tz) -> String {
    match planned_arrival {
        Some(at) => format!("around {}", at.with_timezone(&tz).format("%-I:%M %p")),
        None => "shortly".into(),
    }
}

/// `at` as the customer reads it in `tz`: `Tue, Dec 8 at 2:30 PM`.
pub fn local_start(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%a, %b %-d at %-I:%M %p")
        .to_string()
}

/// Cents as money: `$12.50` for USD, else `12.50 EUR`.
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let amount = format!("{}.{:02}", c / 100, c % 100);
    if currency.eq_ignore_ascii_case("usd") {
        format!("{sign}${amount}")
    } else {
        format!("{sign}{amount} {}", currency.to_ascii_uppercase())
    }
}

/// Quiet hours: the local minutes `[start, end)` (wrapping past midnight when
/// `start > end`; none when equal) during which automatic messages wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// First quiet minute after local midnight (0–1439).
    pub start_minute: u32,
    /// First allowed minute after local midnight (0–1439).
    pub end_minute: u32,
}

impl QuietHours {
    /// The default, 21:00–08:00 local.
    pub const DEFAULT: QuietHours = QuietHours {
        start_minute: 21 * 60,
        end_minute: 8 * 60,
    };

    fn is_quiet(&self, minute: u32) -> bool {
        let (s, e) = (self.start_minute, self.end_minute);
        match s.cmp(&e) {
            std::cmp::Ordering::Equal => false,
            std::cmp::Ordering::Less => minute >= s && minute < e,
            std::cmp::Ordering::Greater => minute >= s || minute < e,
        }
    }

    /// `at` itself when it is outside quiet hours in `tz`, else the first allowed
    /// minute after it (the window's end, local time, on the right day).
    pub fn next_allowed(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let local = at.with_timezone(&tz);
        let minute = local.hour() * 60 + local.minute();
        if !self.is_quiet(minute) {
            return at;
        }
        let mut day = local.date_naive();
        if self.start_minute > self.end_minute && minute >= self.start_minute {
            day = day.succ_opt().unwrap_or(day);
        }
        let Some(end) = day.and_hms_opt(self.end_minute / 60, self.end_minute % 60, 0) else {
            return at;
        };
        resolve_local(end, tz).unwrap_or(at)
    }
}

/// The first instant at or after local wall time `t` in `tz` (a time skipped by a
/// spring-forward change moves forward to the first one that exists; an ambiguous one
/// takes the earlier instant).
fn resolve_local(t: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    for step in 0..=180 {
        let candidate = t + Duration::minutes(step);
        if let Some(dt) = tz.from_local_datetime(&candidate).earliest() {
            return Some(dt.with_timezone(&Utc));
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn templates_check_and_render() {
        for kind in [
            MessageKind::Confirmation,
            MessageKind::Reminder,
            MessageKind::OnTheWay,
            MessageKind::Rescheduled,
            MessageKind::Canceled,
            MessageKind::PaymentDue,
        ] {
            check(default_body(kind).unwrap()).unwrap();
        }
        assert!(check("Hi {name}").unwrap_err().contains("unknown variable"));
        assert!(check("Hi {customer_name").is_err());
        assert!(check("Hi customer_name}").is_err());
        assert!(check("   ").is_err());
        assert!(check(&"x".repeat(MAX_TEMPLATE_CHARS + 1)).is_err());
        let out = render(
            "Hi {customer_name}, see you {start}. {address}",
            &[
                ("customer_name", "Ana".into()),
                ("start", "Tue, Dec 8 at 2:30 PM".into()),
            ],
        );
        assert_eq!(out, "Hi Ana, see you Tue, Dec 8 at 2:30 PM.");
        assert_eq!(money(1250, "usd"), "$12.50");
        assert_eq!(money(5, "eur"), "0.05 EUR");
    }

    #[test]
    fn the_eta_is_the_planned_arrival_or_shortly() {
        let tz: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            eta(Some(utc("2026-12-08T15:35:00Z")), tz),
            "around 10:35 AM"
        );
        assert_eq!(eta(None, tz), "shortly");
    }

    #[test]
    fn local_start_reads_like_a_person_writes() {
        let tz: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            local_start(utc("2026-12-08T19:30:00Z"), tz),
            "Tue, Dec 8 at 2:30 PM"
        );
    }

    #[test]
    fn quiet_hours_move_to_the_next_allowed_minute() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let q = QuietHours::DEFAULT;
        // 15:00 local (EST = UTC-5) is allowed.
        let at = utc("2026-12-08T20:00:00Z");
        assert_eq!(q.next_allowed(at, tz), at);
        // 22:30 local → 08:00 local next day.
        assert_eq!(
            q.next_allowed(utc("2026-12-09T03:30:00Z"), tz),
            utc("2026-12-09T13:00:00Z")
        );
        // 06:00 local → 08:00 the same day.
        assert_eq!(
            q.next_allowed(utc("2026-12-09T11:00:00Z"), tz),
            utc("2026-12-09T13:00:00Z")
        );
        // 21:00 sharp is quiet; 08:00 sharp is allowed.
        assert_eq!(
            q.next_allowed(utc("2026-12-09T02:00:00Z"), tz),
            utc("2026-12-09T13:00:00Z")
        );
        assert_eq!(
            q.next_allowed(utc("2026-12-09T13:00:00Z"), tz),
            utc("2026-12-09T13:00:00Z")
        );
        // No quiet hours when start == end.
        let none = QuietHours {
            start_minute: 0,
            end_minute: 0,
        };
        assert_eq!(none.next_allowed(at, tz), at);
    }

    #[test]
    fn quiet_hours_across_daylight_saving_changes() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let q = QuietHours::DEFAULT;
        // Spring forward: Sun 2026-03-08, 02:00 EST → 03:00 EDT. A message at 22:00 EST
        // on Saturday waits until 08:00 EDT on Sunday = 12:00 UTC (not 13:00).
        assert_eq!(
            q.next_allowed(utc("2026-03-08T03:00:00Z"), tz),
            utc("2026-03-08T12:00:00Z")
        );
        // Fall back: Sun 2026-11-01, 02:00 EDT → 01:00 EST. 22:00 EDT on Saturday waits
        // until 08:00 EST on Sunday = 13:00 UTC.
        assert_eq!(
            q.next_allowed(utc("2026-11-01T02:00:00Z"), tz),
            utc("2026-11-01T13:00:00Z")
        );
        // A window ending at 02:30 on the spring-forward night (a minute that does not
        // exist) ends at 03:00 EDT, the first minute that does.
        let odd = QuietHours {
            start_minute: 60,
            end_minute: 150,
        };
        assert_eq!(
            odd.next_allowed(utc("2026-03-08T06:30:00Z"), tz),
            utc("2026-03-08T07:00:00Z")
        );
    }
}
