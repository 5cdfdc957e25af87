//! Query cost: the complexity charged for fields whose work grows with their arguments,
//! so that the complexity limit (`GRAPHQL_MAX_COMPLEXITY`, default 500) refuses a costly
//! request before it runs. The selection under such a field (`child_complexity`) is
//! charged once per unit of work.

use chrono::NaiveDate;

fn days(from: NaiveDate, to: NaiveDate) -> usize {
    (to - from).num_days().clamp(0, 3_660) as usize + 1
}

/// A slot search: the selection's cost once per day of the range, so a two-month search
/// costs 62× its selection and the default budget admits about four of them per request.
pub fn slots(from: NaiveDate, to: NaiveDate, child_complexity: usize) -> usize {
    days(from, to) * child_complexity.max(1)
}

/// A calendar (one boolean per day, found cheaply): the selection's cost once per started
/// week of the range.
pub fn range(from: NaiveDate, to: NaiveDate, child_complexity: usize) -> usize {
    days(from, to).div_ceil(7) * child_complexity.max(1)
}

/// A Relay connection: the node selection's cost once per started ten nodes of the page
/// (`first` or `last`; 20 when neither is given), so a page of 100 costs 10×.
pub fn page(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let n = first.or(last).unwrap_or(20).clamp(0, 100) as usize;
    n.div_ceil(10).max(1) * child_complexity.max(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_pages_cost_what_they_cover() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(range(d("2027-01-01"), d("2027-01-01"), 3), 3);
        assert_eq!(range(d("2027-01-01"), d("2027-01-07"), 3), 3);
        assert_eq!(range(d("2027-01-01"), d("2027-01-08"), 3), 6);
        assert_eq!(range(d("2027-01-01"), d("2027-03-03"), 3), 27);
        assert_eq!(slots(d("2027-01-01"), d("2027-03-03"), 2), 124);
        assert_eq!(slots(d("2027-01-01"), d("2027-01-01"), 2), 2);
        // A reversed range costs one unit (and is refused by the resolver).
        assert_eq!(range(d("2027-03-03"), d("2027-01-01"), 3), 3);
        assert_eq!(page(Some(100), None, 12), 120);
        assert_eq!(page(None, Some(5), 12), 12);
        assert_eq!(page(None, None, 12), 24);
        assert_eq!(page(Some(0), None, 12), 12);
    }
}
