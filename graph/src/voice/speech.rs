//! Speakable wording: days, clock times, prices and lists as a voice assistant says
//! them ("Tuesday December 8 at 2:30 PM", "$45.00"), always on one line.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

/// A local date: `Tuesday December 8`.
pub fn day(d: NaiveDate) -> String {
    d.format("%A %B %-d").to_string()
}

/// A local clock time: `2:30 PM`.
pub fn clock(t: NaiveTime) -> String {
    t.format("%-I:%M %p").to_string()
}

/// An instant in `tz`: `Tuesday December 8 at 2:30 PM`.
pub fn at(instant: DateTime<Utc>, tz: Tz) -> String {
    let local = instant.with_timezone(&tz);
    format!("{} at {}", day(local.date_naive()), clock(local.time()))
}

/// An instant's local clock time in `tz`: `2:30 PM`.
pub fn clock_at(instant: DateTime<Utc>, tz: Tz) -> String {
    clock(instant.with_timezone(&tz).time())
}

/// Minor units as money: `$45.00` for USD, `€45.00` for EUR, `£45.00` for GBP, else
/// `45.00 CHF` (two decimals; every currency the platform takes has them).
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let amount = format!("{}.{:02}", c / 100, c % 100);
    match currency.to_ascii_uppercase().as_str() {
        "USD" | "CAD" | "AUD" | "NZD" => format!("{sign}${amount}"),
        "EUR" => format!("{sign}€{amount}"),
        "GBP" => format!("{sign}£{amount}"),
        other => format!("{sign}{amount} {other}"),
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `n` minutes as spoken: `45 minutes`, `1 hour`, `1 hour 30 minutes`.
pub fn minutes(n: i32) -> String {
    let (h, m) = (n / 60, n % 60);
    let hours = match h {
        0 => String::new(),
        1 => "1 hour".to_string(),
        h => format!("{h} hours"),
    };
    match (hours.is_empty(), m) {
        (true, _) => format!("{m} minutes"),
        (false, 0) => hours,
        (false, m) => format!("{hours} {m} minutes"),
    }
}

/// `s` on one line: runs of whitespace (newlines included) become one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn days_times_and_prices_read_aloud() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
        assert_eq!(day(d), "Tuesday December 8");
        assert_eq!(
            clock(NaiveTime::from_hms_opt(14, 30, 0).unwrap()),
            "2:30 PM"
        );
        assert_eq!(clock(NaiveTime::from_hms_opt(9, 5, 0).unwrap()), "9:05 AM");
        let tz: Tz = "America/New_York".parse().unwrap();
        let i = Utc.with_ymd_and_hms(2026, 12, 8, 19, 30, 0).unwrap();
        assert_eq!(at(i, tz), "Tuesday December 8 at 2:30 PM");
        assert_eq!(money(4500, "usd"), "$45.00");
        assert_eq!(money(1999, "EUR"), "€19.99");
        assert_eq!(money(100, "CHF"), "1.00 CHF");
        assert_eq!(list(&["a".into(), "b".into(), "c".into()]), "a, b and c");
        assert_eq!(minutes(90), "1 hour 30 minutes");
        assert_eq!(minutes(45), "45 minutes");
        assert_eq!(one_line("a\n b\t\tc"), "a b c");
    }
}
