//! Relay cursor connections (Relay Cursor Connections Specification) over SeaORM selects.
//!
//! Cursors are opaque base64. The long lists (bookings, customers) page by **keyset**
//! ([`paginate_keyset`]): the cursor holds the row's sort key and id, and the next page is
//! `WHERE (key, id) > (cursor) ORDER BY key, id LIMIT n` on an index of that order, so
//! page 1,000 costs what page 1 costs and rows inserted meanwhile neither repeat nor
//! vanish. Short lists page by offset ([`paginate`]). Pages hold at most [`MAX_PAGE`]
//! nodes; `first` defaults to [`DEFAULT_PAGE`] when neither `first` nor `last` is given.
//! `totalCount` is one `COUNT(*)` over the same filter, run only when selected.

use async_graphql::SimpleObject;
use async_graphql::connection::{Connection, CursorType, Edge};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::IntoCondition;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

/// Largest page a client may ask for.
pub const MAX_PAGE: usize = 100;
/// Page size when the client gives neither `first` nor `last`.
pub const DEFAULT_PAGE: usize = 20;

/// Opaque offset cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetCursor(pub u64);

/// The sort key of a keyset-paged row (what its cursor holds besides the id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    /// An instant (e.g. a booking's `startsAt`).
    #[serde(rename = "t")]
    Time(DateTime<Utc>),
    /// A text (e.g. a customer's name).
    #[serde(rename = "s")]
    Text(String),
}

impl From<SortKey> for sea_orm::Value {
    fn from(k: SortKey) -> Self {
        match k {
            SortKey::Time(t) => t.into(),
            SortKey::Text(s) => s.into(),
        }
    }
}

/// A keyset cursor: the row's sort key and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCursor {
    /// The sort key.
    pub k: SortKey,
    /// The row id (breaks ties).
    pub id: Uuid,
}

/// A cursor of either kind (opaque to clients).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageCursor {
    /// Position in the ordered result ([`paginate`]).
    Offset(OffsetCursor),
    /// Sort key and id ([`paginate_keyset`]).
    Key(KeyCursor),
}

impl CursorType for PageCursor {
    type Error = InvalidCursor;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        if let Ok(c) = OffsetCursor::decode_cursor(s) {
            return Ok(PageCursor::Offset(c));
        }
        let bytes = STANDARD_NO_PAD.decode(s).map_err(|_| InvalidCursor)?;
        let json = bytes.strip_prefix(b"k:").ok_or(InvalidCursor)?;
        serde_json::from_slice(json)
            .map(PageCursor::Key)
            .map_err(|_| InvalidCursor)
    }

    fn encode_cursor(&self) -> String {
        match self {
            PageCursor::Offset(o) => o.encode_cursor(),
            PageCursor::Key(k) => {
                let json = serde_json::to_string(k).unwrap_or_default();
                STANDARD_NO_PAD.encode(format!("k:{json}"))
            }
        }
    }
}

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
pub type Page<N> = Connection<PageCursor, N, ConnectionTotals>;

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
    /// The cursor of each row, in the same order.
    pub cursors: Vec<PageCursor>,
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
        page.edges.extend(
            self.cursors
                .into_iter()
                .zip(self.rows)
                .map(|(c, m)| Edge::new(c, map(m))),
        );
        page
    }
}

fn offsets(start: u64, n: usize) -> Vec<PageCursor> {
    (0..n as u64)
        .map(|i| PageCursor::Offset(OffsetCursor(start + i)))
        .collect()
}

/// A request's page bounds, its cursors of one kind.
struct Bounds<T> {
    first: Option<u64>,
    last: Option<u64>,
    after: Option<T>,
    before: Option<T>,
}

/// [`Bounds`] of `args`, cursors picked by `pick`. Errors: `BAD_USER_INPUT` for sizes
/// outside 0–100 or a cursor that does not decode to the kind `pick` accepts.
fn bounds<T>(
    args: &PageArgs,
    pick: impl Fn(PageCursor) -> Option<T>,
) -> Result<Bounds<T>, ApiError> {
    let decode = |s: Option<&str>| {
        s.map(|s| {
            PageCursor::decode_cursor(s)
                .ok()
                .and_then(&pick)
                .ok_or_else(|| ApiError::BadUserInput("invalid cursor".into()))
        })
        .transpose()
    };
    Ok(Bounds {
        first: size(args.first, "first")?,
        last: size(args.last, "last")?,
        after: decode(args.after.as_deref())?,
        before: decode(args.before.as_deref())?,
    })
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
    let Bounds {
        first,
        last,
        after,
        before,
    } = bounds(&args, |c| match c {
        PageCursor::Offset(o) => Some(o),
        PageCursor::Key(_) => None,
    })?;
    if args.skip_total && last.is_none() && before.is_none() {
        let start = after.map(|c| c.0 + 1).unwrap_or(0);
        let size = first.unwrap_or(DEFAULT_PAGE as u64);
        let mut rows = select.offset(start).limit(size + 1).all(conn).await?;
        let has_next = rows.len() as u64 > size;
        rows.truncate(size as usize);
        return Ok(Slice {
            cursors: offsets(start, rows.len()),
            rows,
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
        cursors: offsets(start, rows.len()),
        rows,
        has_previous: start > 0,
        has_next: end < total,
        total,
    })
}

/// How a list is ordered for [`paginate_keyset`]: ascending by `column`, then by `id`.
pub struct Keyset<E: EntityTrait> {
    /// The sort column.
    pub column: E::Column,
    /// The id column (unique; breaks ties).
    pub id: E::Column,
    /// A row's sort key and id.
    pub key: fn(&E::Model) -> KeyCursor,
}

/// `(column, id) > c` (or `<` when `after` is false), spelled
/// `column >= k AND (column > k OR id > i)`: the first term is an index range on both
/// backends (PostgreSQL does not seek on the plain `column > k OR (column = k AND …)`:
/// 11.8 ms vs 0.08 ms for a page 50,000 rows in, measured with EXPLAIN ANALYZE).
fn beyond<E: EntityTrait>(k: &Keyset<E>, c: KeyCursor, after: bool) -> Condition {
    let v: sea_orm::Value = c.k.into();
    let (bound, past, tie) = if after {
        (k.column.gte(v.clone()), k.column.gt(v), k.id.gt(c.id))
    } else {
        (k.column.lte(v.clone()), k.column.lt(v), k.id.lt(c.id))
    };
    Condition::all()
        .add(bound)
        .add(Condition::any().add(past).add(tie).into_condition())
}

/// Runs `select` (filtered, **not** ordered) as one keyset page in `keys`' order.
/// `first`/`after` read forward, `last`/`before` backward; each page is one
/// `LIMIT n + 1` query (the extra row says whether more follow), plus a `COUNT(*)` when
/// `totalCount` is selected. `hasPreviousPage` going forward (and `hasNextPage` going
/// backward) is whether a cursor was given, as the Relay specification allows. Errors:
/// `BAD_USER_INPUT` for page sizes outside 0–100 or cursors this list did not issue.
pub async fn paginate_keyset<E, C>(
    conn: &C,
    select: Select<E>,
    keys: Keyset<E>,
    args: PageArgs,
) -> Result<Slice<E::Model>, ApiError>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
    C: ConnectionTrait,
{
    paginate_keyset_with(conn, select, keys, args, |q| q.all(conn), |m| m).await
}

/// [`paginate_keyset`] whose page query is run by `fetch`: it gets the page's `Select`
/// (filtered, ordered, limited) and may widen it (e.g. join the rows' edges into the same
/// statement) as long as it returns one row per selected row, in order; `model` reads
/// the listed entity's row out of one result. Errors: as [`paginate_keyset`].
pub async fn paginate_keyset_with<E, C, R, F, Fut>(
    conn: &C,
    select: Select<E>,
    keys: Keyset<E>,
    args: PageArgs,
    fetch: F,
    model: fn(&R) -> &E::Model,
) -> Result<Slice<R>, ApiError>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
    C: ConnectionTrait,
    F: FnOnce(Select<E>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<R>, sea_orm::DbErr>>,
{
    let Bounds {
        first,
        last,
        after,
        before,
    } = bounds(&args, |c| match c {
        PageCursor::Key(k) => Some(k),
        PageCursor::Offset(_) => None,
    })?;
    let total = if args.skip_total {
        0
    } else {
        select.clone().count(conn).await?
    };
    let backward = last.is_some() && first.is_none();
    let (has_after, has_before) = (after.is_some(), before.is_some());
    let mut q = select;
    if let Some(c) = after {
        q = q.filter(beyond(&keys, c, true));
    }
    if let Some(c) = before {
        q = q.filter(beyond(&keys, c, false));
    }
    let order = if backward { Order::Desc } else { Order::Asc };
    let n = if backward { last } else { first }.unwrap_or(DEFAULT_PAGE as u64);
    let mut rows = fetch(
        q.order_by(keys.column, order.clone())
            .order_by(keys.id, order)
            .limit(n + 1),
    )
    .await?;
    let more = rows.len() as u64 > n;
    rows.truncate(n as usize);
    let (has_previous, has_next) = if backward {
        rows.reverse();
        (more, has_before)
    } else {
        (has_after, more)
    };
    // `first` and `last` together: the last `last` of the first `first`.
    let mut has_previous = has_previous;
    if let (Some(_), Some(l)) = (first, last)
        && rows.len() as u64 > l
    {
        rows.drain(..rows.len() - l as usize);
        has_previous = true;
    }
    Ok(Slice {
        cursors: rows
            .iter()
            .map(|r| PageCursor::Key((keys.key)(model(r))))
            .collect(),
        rows,
        has_previous,
        has_next,
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

    #[test]
    fn keyset_cursors_roundtrip_and_garbage_is_refused() {
        let c = PageCursor::Key(KeyCursor {
            k: SortKey::Time("2026-12-02T15:30:00Z".parse().unwrap()),
            id: Uuid::nil(),
        });
        assert_eq!(PageCursor::decode_cursor(&c.encode_cursor()).ok(), Some(c));
        let t = PageCursor::Key(KeyCursor {
            k: SortKey::Text("Ana Souza".into()),
            id: Uuid::nil(),
        });
        assert_eq!(PageCursor::decode_cursor(&t.encode_cursor()).ok(), Some(t));
        for bad in ["k:{}", "k:{\"k\":{\"x\":1},\"id\":\"nil\"}", "k:"] {
            assert!(PageCursor::decode_cursor(&STANDARD_NO_PAD.encode(bad)).is_err());
        }
    }
}
