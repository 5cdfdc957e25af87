//! Decoding models by column position, for wide joined reads on the hot path.
//!
//! SeaORM's derived `FromQueryResult` looks every column up by name, and for a joined
//! read (`find_also_related`, `SelectFour`) it first formats the prefixed name
//! (`format!("{prefix}{column}")`) and, for every NULL of an optional column, a `Debug`
//! string that is then thrown away. On a page of 50 bookings with their customer,
//! service and staff member (64 columns a row) that was about a third of the server's
//! CPU under load (measured with `perf`, issue 9). [`ByIndex`] reads the same values by
//! position instead: the caller selects [`ByIndex::columns`] of each entity in order
//! and decodes each row with [`ByIndex::decode`] / [`decode_joined`]. Values
//! go through the same `TryGetable` conversions as SeaORM's own decoding, so both
//! backends read exactly what `find_also_related` would.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::{DbErr, EntityTrait, Iterable, QueryResult};
use uuid::Uuid;

/// A model that can be read from consecutive columns of a result row.
pub trait ByIndex: Sized {
    /// The entity whose columns are read.
    type Entity: EntityTrait;

    /// The model's fields in declaration order (the names of its columns).
    const FIELDS: &'static [&'static str];

    /// The columns to select, in the order [`ByIndex::decode`] reads them: every
    /// column of the entity, in declaration order.
    fn columns() -> impl Iterator<Item = <Self::Entity as EntityTrait>::Column> {
        <Self::Entity as EntityTrait>::Column::iter()
    }

    /// Reads the model from columns `*at..*at + FIELDS.len()` and advances `at` past
    /// them. Errors: `DbErr::Type` when a value does not convert (as SeaORM's own
    /// decoding would).
    fn decode(res: &QueryResult, at: &mut usize) -> Result<Self, DbErr>;
}

/// Implements [`ByIndex`] for `$module::Model`, listing its fields in declaration
/// order. Leaving a field out does not compile (the struct literal is complete); a
/// field out of order fails the `fields_match_columns` test below.
macro_rules! by_index {
    ($module:ident { $($field:ident),+ $(,)? }) => {
        impl ByIndex for crate::$module::Model {
            type Entity = crate::$module::Entity;
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),+];
            fn decode(res: &QueryResult, at: &mut usize) -> Result<Self, DbErr> {
                Ok(Self {
                    $($field: next(res, at)?),+
                })
            }
        }
    };
}

by_index!(booking {
    id,
    tenant_id,
    customer_id,
    service_id,
    staff_member_id,
    starts_at,
    ends_at,
    blocked_from,
    blocked_until,
    status,
    address,
    price_cents,
    currency,
    source,
    notes,
    assignment_reason,
    cancellation_token_hash,
    series_id,
    latitude,
    longitude,
    deposit_expires_at,
    planned_arrival_at,
    route_position,
    cancellation_reason,
    created_at,
    updated_at,
});

by_index!(customer {
    id,
    tenant_id,
    name,
    phone,
    email,
    address,
    notes,
    archived_at,
    created_at,
});

by_index!(service {
    id,
    tenant_id,
    name,
    description,
    duration_minutes,
    price_cents,
    active,
    display_order,
    buffer_before_minutes,
    buffer_after_minutes,
    slot_interval_minutes,
    min_notice_minutes,
    deposit_policy,
    deposit_value,
    created_at,
});

by_index!(staff_member {
    id,
    tenant_id,
    name,
    user_id,
    active,
    home_latitude,
    home_longitude,
    area_latitude,
    area_longitude,
    area_radius_km,
    created_at,
});

/// A model read from its leading columns only, for a list whose selection needs no
/// more (a page of bookings showing names and times): fewer columns to send, sort and
/// decode. Every field past [`Summary::SUMMARY_FIELDS`] holds a placeholder (zero,
/// empty, `None`, the epoch), so a summary must only reach code that reads the leading
/// fields, and must never be cached where a full model is expected. The callers that
/// build summaries check the GraphQL selection first (`graph::bookings`).
pub trait Summary: ByIndex {
    /// How many leading columns (of [`ByIndex::columns`]) a summary reads.
    const SUMMARY_FIELDS: usize;

    /// The leading [`Summary::SUMMARY_FIELDS`] columns to select.
    fn summary_columns() -> impl Iterator<Item = <Self::Entity as EntityTrait>::Column> {
        Self::columns().take(Self::SUMMARY_FIELDS)
    }

    /// Reads a summary from columns `*at..*at + SUMMARY_FIELDS` and advances `at` past
    /// them. Errors: as [`ByIndex::decode`].
    fn decode_summary(res: &QueryResult, at: &mut usize) -> Result<Self, DbErr>;
}

/// Reads a LEFT JOINed model starting at column `*at`, in full or as its summary:
/// `None` when the join found no row (its first column, the id, is NULL). A model whose
/// id is already in `seen` (it recurs on the page) is not decoded again but shared; a new
/// one is added. Advances `at` past the model's columns either way. Errors: as
/// [`ByIndex::decode`].
pub fn decode_joined<M: Summary>(
    res: &QueryResult,
    at: &mut usize,
    summary: bool,
    seen: &mut HashMap<Uuid, Arc<M>>,
) -> Result<Option<Arc<M>>, DbErr> {
    let width = if summary {
        M::SUMMARY_FIELDS
    } else {
        M::FIELDS.len()
    };
    let id: Option<Uuid> = res.try_get_by_index(*at)?;
    let Some(id) = id else {
        *at += width;
        return Ok(None);
    };
    if let Some(m) = seen.get(&id) {
        *at += width;
        return Ok(Some(m.clone()));
    }
    let m = Arc::new(if summary {
        M::decode_summary(res, at)?
    } else {
        M::decode(res, at)?
    });
    seen.insert(id, m.clone());
    Ok(Some(m))
}

/// Reads the next column and advances `at`.
fn next<T: sea_orm::TryGetable>(res: &QueryResult, at: &mut usize) -> Result<T, DbErr> {
    let v = res.try_get_by_index(*at)?;
    *at += 1;
    Ok(v)
}

/// A booking's identity, parties, times and status (its first ten columns).
impl Summary for crate::booking::Model {
    const SUMMARY_FIELDS: usize = 10;
    fn decode_summary(res: &QueryResult, at: &mut usize) -> Result<Self, DbErr> {
        Ok(Self {
            id: next(res, at)?,
            tenant_id: next(res, at)?,
            customer_id: next(res, at)?,
            service_id: next(res, at)?,
            staff_member_id: next(res, at)?,
            starts_at: next(res, at)?,
            ends_at: next(res, at)?,
            blocked_from: next(res, at)?,
            blocked_until: next(res, at)?,
            status: next(res, at)?,
            address: None,
            price_cents: 0,
            currency: String::new(),
            source: crate::kinds::BookingSource::Platform,
            notes: None,
            assignment_reason: None,
            cancellation_token_hash: None,
            series_id: None,
            latitude: None,
            longitude: None,
            deposit_expires_at: None,
            planned_arrival_at: None,
            route_position: None,
            cancellation_reason: None,
            created_at: Default::default(),
            updated_at: Default::default(),
        })
    }
}

/// A customer's id, tenant and name.
impl Summary for crate::customer::Model {
    const SUMMARY_FIELDS: usize = 3;
    fn decode_summary(res: &QueryResult, at: &mut usize) -> Result<Self, DbErr> {
        Ok(Self {
            id: next(res, at)?,
            tenant_id: next(res, at)?,
            name: next(res, at)?,
            phone: None,
            email: None,
            address: None,
            notes: None,
            archived_at: None,
            created_at: Default::default(),
        })
    }
}

/// A service's id, tenant and name.
impl Summary for crate::service::Model {
    const SUMMARY_FIELDS: usize = 3;
    fn decode_summary(res: &QueryResult, at: &mut usize) -> Result<Self, DbErr> {
        Ok(Self {
            id: next(res, at)?,
            tenant_id: next(res, at)?,
            name: next(res, at)?,
            description: None,
            duration_minutes: 0,
            price_cents: 0,
            active: false,
            display_order: 0,
            buffer_before_minutes: 0,
            buffer_after_minutes: 0,
            slot_interval_minutes: None,
            min_notice_minutes: None,
            deposit_policy: None,
            deposit_value: None,
            created_at: Default::default(),
        })
    }
}

/// A staff member's id, tenant and name.
impl Summary for crate::staff_member::Model {
    const SUMMARY_FIELDS: usize = 3;
    fn decode_summary(res: &QueryResult, at: &mut usize) -> Result<Self, DbErr> {
        Ok(Self {
            id: next(res, at)?,
            tenant_id: next(res, at)?,
            name: next(res, at)?,
            user_id: None,
            active: false,
            home_latitude: None,
            home_longitude: None,
            area_latitude: None,
            area_longitude: None,
            area_radius_km: None,
            created_at: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::IdenStatic;

    fn names<M: ByIndex>() -> Vec<&'static str> {
        M::columns().map(|c| c.as_str()).collect()
    }

    #[test]
    fn summaries_read_the_leading_fields_they_name() {
        fn lead<M: Summary>() -> Vec<&'static str> {
            M::summary_columns().map(|c| c.as_str()).collect()
        }
        assert_eq!(
            lead::<crate::booking::Model>(),
            [
                "id",
                "tenant_id",
                "customer_id",
                "service_id",
                "staff_member_id",
                "starts_at",
                "ends_at",
                "blocked_from",
                "blocked_until",
                "status"
            ]
        );
        for names in [
            lead::<crate::customer::Model>(),
            lead::<crate::service::Model>(),
            lead::<crate::staff_member::Model>(),
        ] {
            assert_eq!(names, ["id", "tenant_id", "name"]);
        }
    }

    #[test]
    fn fields_match_columns() {
        assert_eq!(
            names::<crate::booking::Model>(),
            crate::booking::Model::FIELDS
        );
        assert_eq!(
            names::<crate::customer::Model>(),
            crate::customer::Model::FIELDS
        );
        assert_eq!(
            names::<crate::service::Model>(),
            crate::service::Model::FIELDS
        );
        assert_eq!(
            names::<crate::staff_member::Model>(),
            crate::staff_member::Model::FIELDS
        );
    }
}
