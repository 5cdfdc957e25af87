//! Business rules of sign-up, log-in, token rotation and team members.

use chrono::{DateTime, Duration, Utc};
use entities::{refresh_token, tenant, user};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::password;
use super::tokens::{self, ACCESS_TTL_MINUTES, REFRESH_TTL_DAYS};
use super::types::{CreateUserInput, LogInInput, SignUpInput};
use crate::context::{RequestCtx, Role};
use crate::db::{Tx, WriteConflict, scoped, write_conflict};
use crate::error::{ApiError, Outcome, UserError, UserErrorCode as C};
use crate::state::GraphState;
use crate::util::{new_id, normalize_email, now, slugify, valid_currency, valid_slug};

/// Tokens and identity handed out by a successful sign-up, log-in or refresh.
pub struct Session {
    /// Access token (JWT).
    pub access_token: String,
    /// Refresh token (opaque).
    pub refresh_token: String,
    /// Access token expiry (UTC).
    pub access_expires_at: DateTime<Utc>,
    /// The user.
    pub user: user::Model,
    /// The tenant.
    pub tenant: tenant::Model,
}

fn check_password(pw: &str, field: &str, errors: &mut Vec<UserError>) {
    let n = pw.chars().count();
    if !(password::MIN_PASSWORD_LEN..=password::MAX_PASSWORD_LEN).contains(&n) {
        errors.push(UserError::new(
            Some(field),
            C::WeakPassword,
            format!(
                "password must be {}–{} characters",
                password::MIN_PASSWORD_LEN,
                password::MAX_PASSWORD_LEN
            ),
        ));
    }
}

/// Issues an access token and a new refresh token (stored hashed in `family_id`).
async fn issue(
    st: &GraphState,
    tx: &Tx,
    user: user::Model,
    tenant: tenant::Model,
    family_id: Uuid,
) -> Result<Session, ApiError> {
    let access_token = st
        .jwt
        .issue(user.id, tenant.id, &user.role)
        .map_err(ApiError::internal)?;
    let refresh = tokens::new_refresh_token(tenant.id);
    let at = now();
    refresh_token::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant.id),
        user_id: Set(user.id),
        family_id: Set(family_id),
        token_hash: Set(tokens::hash_token(&refresh)),
        expires_at: Set(at + Duration::days(REFRESH_TTL_DAYS)),
        replaced_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(at),
    }
    .insert(&**tx)
    .await?;
    Ok(Session {
        access_token,
        refresh_token: refresh,
        access_expires_at: at + Duration::minutes(ACCESS_TTL_MINUTES),
        user,
        tenant,
    })
}

/// Creates a tenant (plan `STARTER`, status `TRIAL`) and its owner, and logs the owner in.
/// User errors: `INVALID_INPUT`, `SLUG_TAKEN`, `INVALID_TIMEZONE`, `INVALID_CURRENCY`,
/// `INVALID_EMAIL`, `WEAK_PASSWORD`.
pub async fn sign_up(st: &GraphState, input: SignUpInput) -> Result<Outcome<Session>, ApiError> {
    let mut errors = Vec::new();
    let business_name = input.business_name.trim().to_string();
    if business_name.is_empty() || business_name.chars().count() > 200 {
        errors.push(UserError::new(
            Some("businessName"),
            C::InvalidInput,
            "business name must be 1–200 characters",
        ));
    }
    let slug = match &input.slug {
        Some(s) => s.trim().to_string(),
        None => slugify(&business_name),
    };
    if !valid_slug(&slug) {
        errors.push(UserError::new(
            Some("slug"),
            C::InvalidInput,
            "slug must be 3–63 characters of a-z, 0-9 and single hyphens, and not reserved",
        ));
    }
    if input.timezone.parse::<chrono_tz::Tz>().is_err() {
        errors.push(UserError::new(
            Some("timezone"),
            C::InvalidTimezone,
            "timezone must be an IANA name such as America/New_York",
        ));
    }
    let currency = input.currency.clone().unwrap_or_else(|| "USD".into());
    if !valid_currency(&currency) {
        errors.push(UserError::new(
            Some("currency"),
            C::InvalidCurrency,
            "currency must be an ISO 4217 code such as USD",
        ));
    }
    let email = normalize_email(&input.email);
    if email.is_none() {
        errors.push(UserError::new(
            Some("email"),
            C::InvalidEmail,
            "invalid email address",
        ));
    }
    check_password(&input.password, "password", &mut errors);
    if errors.is_empty() && st.db.tenant_id_by_slug(&slug).await?.is_some() {
        errors.push(UserError::new(
            Some("slug"),
            C::SlugTaken,
            "this slug is taken",
        ));
    }
    let Some(email) = email else {
        return Ok(Err(errors));
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let hash = password::hash(input.password).await?;
    let tenant_id = new_id();
    let tx = st.db.write(tenant_id).await?;
    let at = now();
    let tenant = tenant::ActiveModel {
        id: Set(tenant_id),
        name: Set(business_name),
        slug: Set(slug),
        timezone: Set(input.timezone),
        currency: Set(currency),
        plan: Set("STARTER".into()),
        status: Set(entities::TenantStatus::Trial),
        slot_interval_minutes: Set(15),
        min_notice_minutes: Set(0),
        horizon_days: Set(365),
        cancellation_notice_hours: Set(0),
        assignment_policy: Set("LEAST_BUSY".into()),
        travel_detour_factor: Set(1.3),
        travel_speed_kmh: Set(40.0),
        deposit_policy: Set("NONE".into()),
        deposit_value: Set(0),
        stripe_account_id: Set(None),
        stripe_charges_enabled: Set(false),
        stripe_payouts_enabled: Set(false),
        stripe_details_submitted: Set(false),
        stripe_account_event_at: Set(0),
        billing_customer_id: Set(None),
        billing_subscription_id: Set(None),
        // The free trial runs out only where the platform bills tenants.
        trial_ends_at: Set(st
            .platform
            .billing_enabled(st.registry.platform_stripe().is_some())
            .then(|| at + chrono::Duration::days(i64::from(st.platform.trial_days)))),
        billing_event_at: Set(0),
        created_at: Set(at),
    }
    .insert(&*tx)
    .await;
    let tenant = match tenant {
        Ok(t) => t,
        Err(e) if write_conflict(&e) == Some(WriteConflict::Unique) => {
            return Ok(Err(vec![UserError::new(
                Some("slug"),
                C::SlugTaken,
                "this slug is taken",
            )]));
        }
        Err(e) => return Err(e.into()),
    };
    let name = input
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string());
    let owner = user::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant_id),
        email: Set(email),
        name: Set(name),
        password_hash: Set(hash),
        role: Set(Role::Owner.as_str().into()),
        created_at: Set(at),
    }
    .insert(&*tx)
    .await?;
    let session = issue(st, &tx, owner, tenant, new_id()).await?;
    tx.commit().await?;
    Ok(Ok(session))
}

fn invalid_credentials() -> Vec<UserError> {
    vec![UserError::new(
        None,
        C::InvalidCredentials,
        "email or password is incorrect",
    )]
}

/// Most tenants one email's password is tried against when no `tenantSlug` is given.
pub const MAX_LOGIN_CANDIDATES: usize = 5;

/// Logs a user in. User errors: `INVALID_CREDENTIALS` (unknown email, wrong password or
/// wrong tenant, indistinguishably), `TENANT_REQUIRED` (the password is right for
/// several businesses of this email and no `tenantSlug` was given). Whether an email has
/// accounts is never revealed to a caller without the password, and an account created
/// by someone else with the same email never changes how the real owner logs in.
/// Errors: `RATE_LIMITED` after too many failed log-ins for the email (5 per 15 minutes
/// by default, then one more every 3 minutes), counted whether or not it exists.
pub async fn log_in(st: &GraphState, input: LogInInput) -> Result<Outcome<Session>, ApiError> {
    let quota = st.limiter.config().login_failures;
    let key = format!(
        "login-fail:{}",
        input
            .email
            .trim()
            .to_lowercase()
            .chars()
            .take(320)
            .collect::<String>()
    );
    st.limiter.peek(&key, quota).await?;
    let outcome = try_log_in(st, input).await?;
    if outcome.is_err() {
        // Counted after the fact; the next attempt is refused once the budget is spent.
        let _ = st.limiter.charge(&key, quota, 1).await;
    }
    Ok(outcome)
}

async fn try_log_in(st: &GraphState, input: LogInInput) -> Result<Outcome<Session>, ApiError> {
    let Some(email) = normalize_email(&input.email) else {
        password::verify_dummy(input.password).await?;
        return Ok(Err(invalid_credentials()));
    };
    let mut candidates = st.db.login_tenants(&email).await?;
    if let Some(slug) = &input.tenant_slug {
        candidates.retain(|(_, s)| s == slug.trim());
    }
    if candidates.is_empty() {
        password::verify_dummy(input.password).await?;
        return Ok(Err(invalid_credentials()));
    }
    candidates.truncate(MAX_LOGIN_CANDIDATES);
    // Read, verify (slow, ~20 ms of argon2 each) outside any write transaction, then
    // write: only the accounts whose password matches count.
    let mut matching = Vec::new();
    for (tenant_id, _) in candidates {
        let tx = st.db.read(tenant_id).await?;
        let found = scoped::<user::Entity>(tenant_id)
            .filter(user::Column::Email.eq(email.clone()))
            .one(&*tx)
            .await?;
        let tenant = tenant::Entity::find_by_id(tenant_id).one(&*tx).await?;
        tx.commit().await?;
        let (Some(found), Some(tenant)) = (found, tenant) else {
            password::verify_dummy(input.password.clone()).await?;
            continue;
        };
        if password::verify(input.password.clone(), found.password_hash.clone()).await? {
            matching.push((tenant_id, found, tenant));
        }
    }
    let (tenant_id, found, tenant) = match matching.len() {
        0 => return Ok(Err(invalid_credentials())),
        1 => matching.remove(0),
        _ => {
            return Ok(Err(vec![UserError::new(
                Some("tenantSlug"),
                C::TenantRequired,
                "this email and password open several businesses; pass tenantSlug",
            )]));
        }
    };
    let tx = st.db.write(tenant_id).await?;
    let session = issue(st, &tx, found, tenant, new_id()).await?;
    tx.commit().await?;
    Ok(Ok(session))
}

fn invalid_refresh(msg: &str) -> Vec<UserError> {
    vec![UserError::new(
        Some("refreshToken"),
        C::InvalidRefreshToken,
        msg,
    )]
}

async fn revoke_family(tx: &Tx, family_id: Uuid) -> Result<(), ApiError> {
    scoped_update_refresh(tx.tenant_id())
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now()))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&**tx)
        .await?;
    Ok(())
}

fn scoped_update_refresh(tenant_id: Uuid) -> sea_orm::UpdateMany<refresh_token::Entity> {
    refresh_token::Entity::update_many().filter(refresh_token::Column::TenantId.eq(tenant_id))
}

/// Exchanges a refresh token for a new access token and a new refresh token (rotation).
/// Presenting a token that was already exchanged is treated as theft (OAuth 2.0 Security
/// BCP, RFC 9700 §4.14.2): the whole family is revoked. User error:
/// `INVALID_REFRESH_TOKEN`.
pub async fn refresh(st: &GraphState, token: &str) -> Result<Outcome<Session>, ApiError> {
    let Some(tenant_id) = tokens::refresh_token_tenant(token) else {
        return Ok(Err(invalid_refresh("invalid refresh token")));
    };
    let tx = st.db.write(tenant_id).await?;
    let row = scoped::<refresh_token::Entity>(tenant_id)
        .filter(refresh_token::Column::TokenHash.eq(tokens::hash_token(token)))
        .one(&*tx)
        .await?;
    let Some(row) = row else {
        return Ok(Err(invalid_refresh("invalid refresh token")));
    };
    if row.revoked_at.is_some() {
        return Ok(Err(invalid_refresh("refresh token revoked")));
    }
    let at = now();
    // Mark it used; a concurrent exchange of the same token updates nothing here.
    let marked = scoped_update_refresh(tenant_id)
        .col_expr(refresh_token::Column::ReplacedAt, Expr::value(at))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::ReplacedAt.is_null())
        .exec(&*tx)
        .await?;
    if row.replaced_at.is_some() || marked.rows_affected == 0 {
        revoke_family(&tx, row.family_id).await?;
        tx.commit().await?;
        tracing::warn!(tenant_id = %tenant_id, family_id = %row.family_id, "refresh token reuse; family revoked");
        return Ok(Err(invalid_refresh(
            "refresh token was already used; all sessions from this log-in are revoked",
        )));
    }
    if row.expires_at <= at {
        return Ok(Err(invalid_refresh("refresh token expired")));
    }
    let user = scoped::<user::Entity>(tenant_id)
        .filter(user::Column::Id.eq(row.user_id))
        .one(&*tx)
        .await?;
    let tenant = tenant::Entity::find_by_id(tenant_id).one(&*tx).await?;
    let (Some(user), Some(tenant)) = (user, tenant) else {
        return Ok(Err(invalid_refresh("invalid refresh token")));
    };
    let session = issue(st, &tx, user, tenant, row.family_id).await?;
    tx.commit().await?;
    Ok(Ok(session))
}

/// Revokes the refresh token's family (this log-in on every device that shares it).
/// User error: `INVALID_REFRESH_TOKEN`.
pub async fn log_out(st: &GraphState, token: &str) -> Result<Outcome<()>, ApiError> {
    let Some(tenant_id) = tokens::refresh_token_tenant(token) else {
        return Ok(Err(invalid_refresh("invalid refresh token")));
    };
    let tx = st.db.write(tenant_id).await?;
    let row = scoped::<refresh_token::Entity>(tenant_id)
        .filter(refresh_token::Column::TokenHash.eq(tokens::hash_token(token)))
        .one(&*tx)
        .await?;
    let Some(row) = row else {
        return Ok(Err(invalid_refresh("invalid refresh token")));
    };
    revoke_family(&tx, row.family_id).await?;
    tx.commit().await?;
    // Open sockets of this user close on every instance.
    st.events
        .signal(crate::events::ControlSignal::CredentialsRevoked {
            tenant_id,
            revoked: crate::events::Revoked::User {
                user_id: row.user_id,
            },
        })
        .await;
    Ok(Ok(()))
}

/// Adds a team member. Owners may create any role; managers only technicians.
/// Errors: `FORBIDDEN`. User errors: `INVALID_EMAIL`, `EMAIL_TAKEN`, `WEAK_PASSWORD`,
/// `INVALID_INPUT`.
pub async fn create_user(
    st: &GraphState,
    rc: &RequestCtx,
    input: CreateUserInput,
) -> Result<Outcome<user::Model>, ApiError> {
    rc.require_role(&[Role::Owner, Role::Manager])?;
    if rc.role() == Some(Role::Manager) && input.role != Role::Technician {
        return Err(ApiError::Forbidden(
            "managers can only add technicians".into(),
        ));
    }
    let mut errors = Vec::new();
    let email = normalize_email(&input.email);
    if email.is_none() {
        errors.push(UserError::new(
            Some("email"),
            C::InvalidEmail,
            "invalid email address",
        ));
    }
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(UserError::new(
            Some("name"),
            C::InvalidInput,
            "name must be 1–200 characters",
        ));
    }
    check_password(&input.password, "password", &mut errors);
    let Some(email) = email else {
        return Ok(Err(errors));
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let hash = password::hash(input.password).await?;
    let tx = st.db.write(rc.tenant_id).await?;
    let inserted = user::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(rc.tenant_id),
        email: Set(email),
        name: Set(name),
        password_hash: Set(hash),
        role: Set(input.role.as_str().into()),
        created_at: Set(now()),
    }
    .insert(&*tx)
    .await;
    match inserted {
        Ok(u) => {
            tx.commit().await?;
            Ok(Ok(u))
        }
        Err(e) if write_conflict(&e) == Some(WriteConflict::Unique) => {
            Ok(Err(vec![UserError::new(
                Some("email"),
                C::EmailTaken,
                "a user with this email exists",
            )]))
        }
        Err(e) => Err(e.into()),
    }
}

/// The caller's user and tenant rows.
pub async fn me(
    st: &GraphState,
    rc: &RequestCtx,
) -> Result<(user::Model, tenant::Model), ApiError> {
    let user_id = rc.user_id().ok_or(ApiError::Unauthenticated)?;
    let tx = st.db.read(rc.tenant_id).await?;
    let user = scoped::<user::Entity>(rc.tenant_id)
        .filter(user::Column::Id.eq(user_id))
        .one(&*tx)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let tenant = tenant::Entity::find_by_id(rc.tenant_id)
        .one(&*tx)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    tx.commit().await?;
    Ok((user, tenant))
}

/// The caller's tenant row.
pub async fn tenant(st: &GraphState, tenant_id: Uuid) -> Result<tenant::Model, ApiError> {
    let tx = st.db.read(tenant_id).await?;
    let t = tenant::Entity::find_by_id(tenant_id)
        .one(&*tx)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    tx.commit().await?;
    Ok(t)
}
