//! Customer rules: normalised phones (E.164) unique per tenant, find-or-create by phone.

use entities::customer;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, Set,
};
use uuid::Uuid;

use super::types::{CustomerInput, UpdateCustomerInput};
use crate::context::RequestCtx;
use crate::db::{Tx, WriteConflict, scoped, write_conflict};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode as C};
use crate::pagination::{KeyCursor, Keyset, PageArgs, Slice, SortKey, paginate_keyset};
use crate::state::GraphState;
use crate::util::{new_id, normalize_email, normalize_phone, now};

/// Validated customer fields.
#[derive(Debug, Clone, Default)]
pub struct CleanCustomer {
    /// Trimmed name.
    pub name: String,
    /// E.164 phone.
    pub phone: Option<String>,
    /// Lower-case email.
    pub email: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Notes.
    pub notes: Option<String>,
}

fn blank_to_none(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Validates customer input; `prefix` is the input path (`""` or `"customer."`).
pub fn clean(input: CustomerInput, prefix: &str) -> Result<CleanCustomer, Vec<UserError>> {
    let mut errors = Vec::new();
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(UserError::new(
            Some(&format!("{prefix}name")),
            C::InvalidInput,
            "name must be 1–200 characters",
        ));
    }
    let phone = match blank_to_none(input.phone) {
        Some(p) => match normalize_phone(&p) {
            Some(n) => Some(n),
            None => {
                errors.push(UserError::new(
                    Some(&format!("{prefix}phone")),
                    C::InvalidPhone,
                    "invalid phone number",
                ));
                None
            }
        },
        None => None,
    };
    let email = match blank_to_none(input.email) {
        Some(e) => match normalize_email(&e) {
            Some(n) => Some(n),
            None => {
                errors.push(UserError::new(
                    Some(&format!("{prefix}email")),
                    C::InvalidEmail,
                    "invalid email address",
                ));
                None
            }
        },
        None => None,
    };
    let address = blank_to_none(input.address);
    let notes = blank_to_none(input.notes);
    for (value, field, max) in [(&address, "address", 500), (&notes, "notes", 2000)] {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            errors.push(UserError::new(
                Some(&format!("{prefix}{field}")),
                C::InvalidInput,
                format!("{field} is longer than {max} characters"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(CleanCustomer {
            name,
            phone,
            email,
            address,
            notes,
        })
    } else {
        Err(errors)
    }
}

/// Finds the customer with `c.phone` in the transaction's tenant, or creates it. Safe
/// under concurrency: the insert does nothing on a phone conflict and the row is read
/// back. Without a phone a new customer is always created.
pub async fn find_or_create_by_phone(
    tx: &Tx,
    c: CleanCustomer,
) -> Result<customer::Model, ApiError> {
    let tenant = tx.tenant_id();
    let am = customer::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant),
        name: Set(c.name),
        phone: Set(c.phone.clone()),
        email: Set(c.email),
        address: Set(c.address),
        notes: Set(c.notes),
        archived_at: Set(None),
        created_at: Set(now()),
    };
    let Some(phone) = c.phone else {
        return Ok(am.insert(&**tx).await?);
    };
    customer::Entity::insert(am)
        .on_conflict_do_nothing_on([customer::Column::TenantId, customer::Column::Phone])
        .exec_without_returning(&**tx)
        .await?;
    scoped::<customer::Entity>(tenant)
        .filter(customer::Column::Phone.eq(phone))
        .one(&**tx)
        .await?
        .ok_or(ApiError::Internal("customer vanished after upsert".into()))
}

/// Lists customers by name (keyset pages, see [`crate::pagination`]).
pub async fn list(
    conn: &impl ConnectionTrait,
    rc: &RequestCtx,
    search: Option<String>,
    include_archived: bool,
    args: PageArgs,
) -> Result<Slice<customer::Model>, ApiError> {
    let mut q = scoped::<customer::Entity>(rc.tenant_id);
    if !include_archived {
        q = q.filter(customer::Column::ArchivedAt.is_null());
    }
    if let Some(s) = search
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
    {
        let escaped = s
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        let lower = |c: customer::Column| Expr::expr(Func::lower(Expr::col(c)));
        let mut cond = Condition::any()
            .add(lower(customer::Column::Name).like(LikeExpr::new(&pattern).escape('\\')))
            .add(lower(customer::Column::Email).like(LikeExpr::new(&pattern).escape('\\')));
        if digits.len() >= 3 {
            cond = cond.add(customer::Column::Phone.contains(&digits));
        }
        q = q.filter(cond);
    }
    let keys = Keyset {
        column: customer::Column::Name,
        id: customer::Column::Id,
        key: |c: &customer::Model| KeyCursor {
            k: SortKey::Text(c.name.clone()),
            id: c.id,
        },
    };
    paginate_keyset(conn, q, keys, args).await
}

/// One customer. Errors: `NOT_FOUND`.
pub async fn get(st: &GraphState, rc: &RequestCtx, id: Uuid) -> Result<customer::Model, ApiError> {
    let tx = st.db.read(rc.tenant_id).await?;
    let c = scoped::<customer::Entity>(rc.tenant_id)
        .filter(customer::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    tx.commit().await?;
    Ok(c)
}

fn phone_taken() -> Vec<UserError> {
    vec![UserError::new(
        Some("phone"),
        C::PhoneTaken,
        "another customer has this phone number",
    )]
}

/// Creates a customer.
pub async fn create(
    st: &GraphState,
    rc: &RequestCtx,
    input: CustomerInput,
) -> Result<Outcome<customer::Model>, ApiError> {
    let c = match clean(input, "") {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let tx = st.db.write(rc.tenant_id).await?;
    let res = customer::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(rc.tenant_id),
        name: Set(c.name),
        phone: Set(c.phone),
        email: Set(c.email),
        address: Set(c.address),
        notes: Set(c.notes),
        archived_at: Set(None),
        created_at: Set(now()),
    }
    .insert(&*tx)
    .await;
    match res {
        Ok(m) => {
            tx.commit().await?;
            Ok(Ok(m))
        }
        Err(e) if write_conflict(&e) == Some(WriteConflict::Unique) => Ok(Err(phone_taken())),
        Err(e) => Err(e.into()),
    }
}

/// Updates a customer. Errors: `NOT_FOUND`.
pub async fn update(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
    input: UpdateCustomerInput,
) -> Result<Outcome<customer::Model>, ApiError> {
    let tx = st.db.write(rc.tenant_id).await?;
    let current = scoped::<customer::Entity>(rc.tenant_id)
        .filter(customer::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let merged = CustomerInput {
        name: input.name.unwrap_or_else(|| current.name.clone()),
        phone: input.phone.or_else(|| current.phone.clone()),
        email: input.email.or_else(|| current.email.clone()),
        address: input.address.or_else(|| current.address.clone()),
        notes: input.notes.or_else(|| current.notes.clone()),
    };
    let c = match clean(merged, "") {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let mut am = current.into_active_model();
    am.name = Set(c.name);
    am.phone = Set(c.phone);
    am.email = Set(c.email);
    am.address = Set(c.address);
    am.notes = Set(c.notes);
    match am.update(&*tx).await {
        Ok(m) => {
            tx.commit().await?;
            Ok(Ok(m))
        }
        Err(e) if write_conflict(&e) == Some(WriteConflict::Unique) => Ok(Err(phone_taken())),
        Err(e) => Err(e.into()),
    }
}

/// Archives a customer. Errors: `NOT_FOUND`.
pub async fn archive(
    st: &GraphState,
    rc: &RequestCtx,
    id: Uuid,
) -> Result<Outcome<customer::Model>, ApiError> {
    let tx = st.db.write(rc.tenant_id).await?;
    let current = scoped::<customer::Entity>(rc.tenant_id)
        .filter(customer::Column::Id.eq(id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let mut am = current.into_active_model();
    am.archived_at = Set(Some(now()));
    let m = am.update(&*tx).await?;
    tx.commit().await?;
    Ok(Ok(m))
}
