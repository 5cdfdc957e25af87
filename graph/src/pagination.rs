//! Relay cursor connections (Relay Cursor Connections Specification) over SeaORM selects.
//!
//! Cursors are opaque (base64 of the row's offset in the ordered result). Pages hold at
//! most [`MAX_PAGE`] nodes; `first` defaults to [`DEFAULT_PAGE`] when neither `first` nor
//! `last` is given. `totalCount` is one `COUNT(*)` over the same filter.

use async_graphql::SimpleObject;
use async_graphql::connection::{Connection, CursorType, Edge};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QuerySelect, Select};

use crate::error::ApiError;

/// Largest page a client may ask for.
pub const MAX_PAGE: usize = 100;
/// Page size when the client gives neither `first` nor `last`.
pub const DEFAULT_PAGE: usize = 20;

/// Opaque offset cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetCursor(pub u64);

/// A cursor that this server did not issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidCursor;

impl std::fmt::Display for InvalidCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid cursor")
    }
}

impl CursorType for OffsetCursor {
    type Error = InvalidCursor;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let bad = || InvalidCursor;
        let bytes = STANDARD_NO_PAD.decode(s).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let n = text.strip_prefix("o:").ok_or_else(bad)?;
        n.parse().map(OffsetCursor).map_err(|_| bad())
    }

    fn encode_cursor(&self) -> String {
        STANDARD_NO_PAD.encode(format!("o:{}", self.0))
    }
}

/// Extra connection fields.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct ConnectionTotals {
    /// Number of nodes matching the filter, across all pages.
    pub total_count: u64,
}

/// A connection of `N` with `totalCount`.
pub type Page<N> = Connection<OffsetCursor, N, ConnectionTotals>;

/// Relay paging arguments.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    /// `after` cursor.
    pub after: Option<String>,
    /// `before` cursor.
    pub before: Option<String>,
    /// `first`, 0..=100.
    pub first: Option<i32>,
    /// `last`, 0..=100.
    pub last: Option<i32>,
    /// Leave the total uncounted (`totalCount` was not selected): a forward page then
    /// costs one query, its `hasNextPage` read from one extra row.
    pub skip_total: bool,
}

impl PageArgs {
    /// The paging arguments of the connection field being resolved in `ctx`; the total
    /// is counted only when the selection asks for `totalCount`.
    pub fn of(
        ctx: &async_graphql::Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> PageArgs {
        PageArgs {
            after,
            before,
            first,
            last,
            skip_total: !ctx.look_ahead().field("totalCount").exists(),
        }
    }
}

fn size(v: Option<i32>, name: &str) -> Result<Option<u64>, ApiError> {
    match v {
        None => Ok(None),
        Some(n) if (0..=MAX_PAGE as i32).contains(&n) => Ok(Some(n as u64)),
        Some(_) => Err(ApiError::BadUserInput(format!(
            "`{name}` must be between 0 and {MAX_PAGE}"
        ))),
    }
}

/// One page of domain rows, as a service returns it: resolvers turn it into a
/// [`Page`] of GraphQL nodes with [`Slice::into_page`].
#[derive(Debug, Clone, PartialEq)]
pub struct Slice<M> {
    /// The rows of the page, in order.
    pub rows: Vec<M>,
    /// Offset of the first row in the ordered result.
    pub start: u64,
    /// Whether rows come before this page.
    pub has_previous: bool,
    /// Whether rows come after this page.
    pub has_next: bool,
    /// Rows matching the filter, across all pages (0 when not counted: see
    /// [`PageArgs::skip_total`]).
    pub total: u64,
}

impl<M> Slice<M> {
    /// The Relay connection of this page, each row wrapped by `map`.
    pub fn into_page<N: async_graphql::OutputType>(self, map: impl Fn(M) -> N) -> Page<N> {
        let mut page = Connection::with_additional_fields(
            self.has_previous,
            self.has_next,
            ConnectionTotals {
                total_count: self.total,
            },
        );
        let start = self.start;
        page.edges.extend(
            self.rows
                .into_iter()
                .enumerate()
                .map(|(i, m)| Edge::new(OffsetCursor(start + i as u64), map(m))),
        );
        page
    }
}

/// Runs `select` (already filtered and ordered) as one page. Errors: `BAD_USER_INPUT`
/// for page sizes outside 0–100 or cursors this server did not issue.
pub async fn paginate<E, C>(
    conn: &C,
    select: Select<E>,
    args: PageArgs,
) -> Result<Slice<E::Model>, ApiError>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
    C: ConnectionTrait,
{
    let first = size(args.first, "first")?;
    let last = size(args.last, "last")?;
    let after = args
        .after
        .as_deref()
        .map(OffsetCursor::decode_cursor)
        .transpose()
        .map_err(|_| ApiError::BadUserInput("invalid cursor".into()))?;
    let before = args
        .before
        .as_deref()
        .map(OffsetCursor::decode_cursor)
        .transpose()
        .map_err(|_| ApiError::BadUserInput("invalid cursor".into()))?;
    if args.skip_total && last.is_none() && before.is_none() {
        let start = after.map(|c| c.0 + 1).unwrap_or(0);
        let size = first.unwrap_or(DEFAULT_PAGE as u64);
        let mut rows = select.offset(start).limit(size + 1).all(conn).await?;
        let has_next = rows.len() as u64 > size;
        rows.truncate(size as usize);
        return Ok(Slice {
            rows,
            start,
            has_previous: start > 0,
            has_next,
            total: 0,
        });
    }
    let total = select.clone().count(conn).await?;
    let mut start = after.map(|c| c.0 + 1).unwrap_or(0).min(total);
    let mut end = before.map(|c| c.0).unwrap_or(total).min(total).max(start);
    if let Some(f) = first {
        end = end.min(start + f);
    }
    if let Some(l) = last {
        start = start.max(end.saturating_sub(l));
    }
    if first.is_none() && last.is_none() {
        end = end.min(start + DEFAULT_PAGE as u64);
    }
    let rows = select.offset(start).limit(end - start).all(conn).await?;
    Ok(Slice {
        rows,
        start,
        has_previous: start > 0,
        has_next: end < total,
        total,
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn cursor_roundtrip_and_garbage() {
        let c = OffsetCursor(42);
        assert_eq!(
            OffsetCursor::decode_cursor(&c.encode_cursor()).ok(),
            Some(c)
        );
        assert!(OffsetCursor::decode_cursor("!!").is_err());
        assert!(OffsetCursor::decode_cursor(&STANDARD_NO_PAD.encode("x:1")).is_err());
    }
}
