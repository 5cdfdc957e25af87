//! The platform's Google set-up ([`GoogleSetup`]) and a connection's tokens: sealing
//! them at rest, and an access token that is valid now ([`access_token`]), refreshed
//! when it expires or Google answers 401, and a connection marked `BROKEN` (with a
//! notification to the owner) when the grant is revoked or expired.

use std::sync::Arc;
use std::time::Duration;

use entities::calendar_connection;
use integrations::ProviderError;
use integrations::google_calendar::{CalendarProvider, GoogleError, GoogleOAuth};
use plugins::secrets::Sealed;
use sea_orm::prelude::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::db::scoped;
use crate::error::ApiError;
use crate::state::GraphState;
use crate::util::now;

/// Status of a working connection.
pub const CONNECTED: &str = "CONNECTED";
/// Status of a connection whose grant was revoked or expired.
pub const BROKEN: &str = "BROKEN";

/// The platform's Google Calendar set-up: present only when `GOOGLE_CLIENT_ID` and
/// `GOOGLE_CLIENT_SECRET` are set (else every calendar operation is
/// `FEATURE_UNAVAILABLE`).
#[derive(Clone)]
pub struct GoogleSetup {
    /// OAuth client (consent URL, code exchange, refresh, revocation).
    pub oauth: GoogleOAuth,
    /// Calendar API client.
    pub api: Arc<dyn CalendarProvider>,
    /// Days ahead a full sync imports (`CALENDAR_SYNC_WINDOW_DAYS`, default 90).
    pub sync_window_days: i64,
    /// Time between periodic syncs of every connection (`CALENDAR_SYNC_INTERVAL_SECS`,
    /// default 900: the seeds' 15 minutes), the net under missed push notifications.
    pub sync_interval: Duration,
    /// Requested lifetime of a push channel (`CALENDAR_CHANNEL_TTL_SECS`, default 7
    /// days, Google's maximum for events); channels are renewed a day before expiry.
    pub channel_ttl: Duration,
    /// Lifetime of a consent URL's `state` (10 minutes).
    pub state_ttl: Duration,
    /// Where Google posts push notifications: `{PUBLIC_BASE_URL}/webhooks/google-calendar`.
    pub webhook_address: String,
}

impl std::fmt::Debug for GoogleSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleSetup")
            .field("oauth", &self.oauth)
            .field("sync_window_days", &self.sync_window_days)
            .finish_non_exhaustive()
    }
}

/// The set-up, or `FEATURE_UNAVAILABLE` naming the missing settings.
pub fn setup(st: &GraphState) -> Result<&GoogleSetup, ApiError> {
    st.platform.google_calendar.as_deref().ok_or_else(|| {
        ApiError::FeatureUnavailable(
            "calendar: Google Calendar is not configured on this server \
             (GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET)"
                .into(),
        )
    })
}

/// The AAD a connection's sealed column `what` is bound to (also used by `rotate-keys`).
pub fn aad(tenant_id: Uuid, connection_id: Uuid, what: &str) -> Vec<u8> {
    format!("{tenant_id}/google_calendar/{connection_id}/{what}").into_bytes()
}

/// The set-up, for a job: without it the job cannot succeed and is dead-lettered
/// (`Rejected{calendar_not_configured}`).
pub fn job_setup(st: &GraphState) -> Result<&GoogleSetup, ProviderError> {
    setup(st).map_err(|_| ProviderError::Rejected {
        code: "calendar_not_configured".into(),
    })
}

/// Seals `secret` for one connection's column `what` (`refresh`, `access`, `revoke`):
/// the ciphertext opens only for the same tenant, connection and column. Returns the
/// stored JSON. Errors: `INTERNAL`.
pub fn seal(
    st: &GraphState,
    tenant_id: Uuid,
    connection_id: Uuid,
    what: &str,
    secret: &str,
) -> Result<String, ApiError> {
    let sealed = st
        .keys
        .seal(secret.as_bytes(), &aad(tenant_id, connection_id, what))
        .map_err(|e| ApiError::Internal(format!("sealing a calendar token: {e}")))?;
    serde_json::to_string(&sealed).map_err(|e| ApiError::Internal(e.to_string()))
}

/// Opens what [`seal`] stored. Errors: `INTERNAL` (wrong key, tampered, moved row).
pub fn open(
    st: &GraphState,
    tenant_id: Uuid,
    connection_id: Uuid,
    what: &str,
    stored: &str,
) -> Result<String, ApiError> {
    let sealed: Sealed =
        serde_json::from_str(stored).map_err(|e| ApiError::Internal(e.to_string()))?;
    let bytes = st
        .keys
        .open(&sealed, &aad(tenant_id, connection_id, what))
        .map_err(|e| ApiError::Internal(format!("opening a calendar token: {e}")))?;
    String::from_utf8(bytes).map_err(|_| ApiError::Internal("calendar token encoding".into()))
}

/// A database failure inside a provider call: retry later.
pub fn db_unavailable(e: ApiError) -> ProviderError {
    tracing::warn!(error = ?e, "calendar job: database");
    ProviderError::Unavailable("database".into())
}

async fn load(
    st: &GraphState,
    tenant_id: Uuid,
    connection_id: Uuid,
) -> Result<Option<calendar_connection::Model>, ApiError> {
    let tx = st.db.read(tenant_id).await?;
    let c = scoped::<calendar_connection::Entity>(tenant_id)
        .filter(calendar_connection::Column::Id.eq(connection_id))
        .one(&*tx)
        .await?;
    tx.commit().await?;
    Ok(c)
}

/// Marks the connection `BROKEN` with `code` and tells the owner (a notification),
/// once: a connection already broken is left as it is.
pub async fn mark_broken(
    st: &GraphState,
    tenant_id: Uuid,
    connection_id: Uuid,
    code: &str,
) -> Result<(), ApiError> {
    let tx = st.db.write(tenant_id).await?;
    let res = calendar_connection::Entity::update_many()
        .col_expr(calendar_connection::Column::Status, Expr::value(BROKEN))
        .col_expr(calendar_connection::Column::LastError, Expr::value(code))
        .col_expr(
            calendar_connection::Column::AccessTokenSealed,
            Expr::value(Option::<String>::None),
        )
        .col_expr(calendar_connection::Column::UpdatedAt, Expr::value(now()))
        .filter(calendar_connection::Column::TenantId.eq(tenant_id))
        .filter(calendar_connection::Column::Id.eq(connection_id))
        .filter(calendar_connection::Column::Status.eq(CONNECTED))
        .exec(&*tx)
        .await?;
    if res.rows_affected > 0 {
        crate::notifications::notify(
            &tx,
            "CALENDAR_DISCONNECTED",
            "Google Calendar access was revoked or expired for a staff member: busy time is \
             no longer imported and bookings are no longer written. Connect the calendar \
             again.",
            None,
            None,
        )
        .await?;
    }
    tx.commit().await
}

/// Records `code` as the connection's last error (`None` clears it) and, on success,
/// the sync time.
pub async fn record(
    st: &GraphState,
    tenant_id: Uuid,
    connection_id: Uuid,
    code: Option<&str>,
) -> Result<(), ApiError> {
    let tx = st.db.write(tenant_id).await?;
    let mut q = calendar_connection::Entity::update_many()
        .col_expr(calendar_connection::Column::LastError, Expr::value(code))
        .col_expr(calendar_connection::Column::UpdatedAt, Expr::value(now()));
    if code.is_none() {
        q = q.col_expr(calendar_connection::Column::LastSyncAt, Expr::value(now()));
    }
    q.filter(calendar_connection::Column::TenantId.eq(tenant_id))
        .filter(calendar_connection::Column::Id.eq(connection_id))
        .exec(&*tx)
        .await?;
    tx.commit().await
}

/// What went wrong getting a token or making a call, for a job.
fn to_provider(e: GoogleError) -> ProviderError {
    ProviderError::from(e)
}

/// A valid access token of the connection: the stored one while it has more than a
/// minute left, else a refreshed one (stored sealed). `force` refreshes regardless
/// (after a 401). Errors: the connection is missing or broken →
/// `Rejected{calendar_disconnected}`; the grant is revoked → the connection is marked
/// `BROKEN` and `Rejected{invalid_grant}`; Google unavailable → retryable.
pub async fn access_token(
    st: &GraphState,
    tenant_id: Uuid,
    connection_id: Uuid,
    force: bool,
) -> Result<String, ProviderError> {
    let setup = job_setup(st)?;
    let conn = load(st, tenant_id, connection_id)
        .await
        .map_err(db_unavailable)?
        .filter(|c| c.status == CONNECTED)
        .ok_or_else(|| ProviderError::Rejected {
            code: "calendar_disconnected".into(),
        })?;
    if !force
        && let (Some(sealed), Some(exp)) = (&conn.access_token_sealed, conn.access_token_expires_at)
        && exp > now() + chrono::Duration::seconds(60)
    {
        return open(st, tenant_id, connection_id, "access", sealed).map_err(db_unavailable);
    }
    let refresh = open(
        st,
        tenant_id,
        connection_id,
        "refresh",
        &conn.refresh_token_sealed,
    )
    .map_err(db_unavailable)?;
    let tokens = match setup.oauth.refresh(&refresh).await {
        Ok(t) => t,
        Err(GoogleError::GrantRevoked) => {
            mark_broken(st, tenant_id, connection_id, "invalid_grant")
                .await
                .map_err(db_unavailable)?;
            return Err(ProviderError::Rejected {
                code: "invalid_grant".into(),
            });
        }
        Err(e) => return Err(to_provider(e)),
    };
    let sealed = seal(st, tenant_id, connection_id, "access", &tokens.access_token)
        .map_err(db_unavailable)?;
    let expires = now() + chrono::Duration::seconds(tokens.expires_in.clamp(0, 86_400));
    let write = async {
        let tx = st.db.write(tenant_id).await?;
        calendar_connection::Entity::update_many()
            .col_expr(
                calendar_connection::Column::AccessTokenSealed,
                Expr::value(Some(sealed)),
            )
            .col_expr(
                calendar_connection::Column::AccessTokenExpiresAt,
                Expr::value(Some(expires)),
            )
            .filter(calendar_connection::Column::TenantId.eq(tenant_id))
            .filter(calendar_connection::Column::Id.eq(connection_id))
            .exec(&*tx)
            .await?;
        tx.commit().await
    };
    write.await.map_err(db_unavailable)?;
    Ok(tokens.access_token)
}

/// Runs `f` with a valid access token; on 401 refreshes once and runs it again.
/// Google errors become [`ProviderError`]s (rate limits retryable), except those the
/// caller handles itself: `f` returns them as `Ok(Err(e))`.
pub async fn with_token<T, F, Fut>(
    st: &GraphState,
    tenant_id: Uuid,
    connection_id: Uuid,
    f: F,
) -> Result<Result<T, GoogleError>, ProviderError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, GoogleError>>,
{
    let token = access_token(st, tenant_id, connection_id, false).await?;
    match f(token).await {
        Err(GoogleError::Unauthorized) => {
            let token = access_token(st, tenant_id, connection_id, true).await?;
            match f(token).await {
                Err(GoogleError::Unauthorized) => Err(ProviderError::Rejected {
                    code: "unauthorized".into(),
                }),
                other => Ok(other),
            }
        }
        other => Ok(other),
    }
}
