//! Automatic messages by email, for customers without a mobile number: an `emails` row
//! written by the `sms.auto` job that renders the message, sent through the tenant's
//! email provider (SMTP, or the built-in log) in the same job. SMTP has no idempotency
//! key: a server that dies between the server's `250` and our record sends the email
//! again on retry (a rare duplicate, never a lost message).

use chrono::{DateTime, Utc};
use entities::{MessageKind, MessageStatus, email};
use integrations::ProviderError;
use integrations::email::{MAX_SUBJECT_CHARS, MAX_TEXT_CHARS, OutboundEmail};
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::db::{Tx, scoped};
use crate::error::ApiError;
use crate::messaging::delivery::{error_code, unavailable};
use crate::pagination::{PageArgs, Slice, paginate};
use crate::state::GraphState;
use crate::util::{new_id, now};

/// The subject of an automatic email of `kind` from `business`.
pub fn subject(kind: MessageKind, business: &str) -> String {
    let what = match kind {
        MessageKind::Confirmation => "booking confirmed",
        MessageKind::Reminder => "appointment reminder",
        MessageKind::OnTheWay => "on the way",
        MessageKind::Rescheduled => "booking moved",
        MessageKind::Canceled => "booking canceled",
        MessageKind::PaymentDue => "payment due",
        MessageKind::Manual | MessageKind::Keyword | MessageKind::Voicemail => "message",
    };
    let s = format!("{business}: {what}");
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_SUBJECT_CHARS)
        .collect()
}

/// Writes a queued email in `tx`; returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn queue(
    tx: &Tx,
    customer_id: Uuid,
    to: &str,
    subject: String,
    body: String,
    kind: MessageKind,
    booking_id: Uuid,
    job_id: Uuid,
) -> Result<Uuid, ApiError> {
    let at = now();
    let id = new_id();
    email::ActiveModel {
        id: Set(id),
        tenant_id: Set(tx.tenant_id()),
        customer_id: Set(Some(customer_id)),
        to_address: Set(to.to_string()),
        subject: Set(subject),
        body: Set(body.chars().take(MAX_TEXT_CHARS).collect()),
        status: Set(MessageStatus::Queued),
        kind: Set(kind),
        booking_id: Set(Some(booking_id)),
        job_id: Set(Some(job_id)),
        provider_id: Set(None),
        error_code: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&**tx)
    .await?;
    Ok(id)
}

/// Sends email `id` through the tenant's email provider. Returns the summary
/// [`record`] applies.
pub async fn send(st: &GraphState, tenant_id: Uuid, id: Uuid) -> Result<Value, ProviderError> {
    let tx = st.db.read(tenant_id).await.map_err(unavailable)?;
    let row = scoped::<email::Entity>(tenant_id)
        .filter(email::Column::Id.eq(id))
        .one(&*tx)
        .await
        .map_err(|e| unavailable(e.into()))?;
    tx.commit().await.map_err(unavailable)?;
    let Some(row) = row.filter(|r| r.status == MessageStatus::Queued) else {
        return Ok(json!({ "email_id": id, "already": true }));
    };
    let provider = st
        .registry
        .tenant(tenant_id)
        .await
        .map_err(ProviderError::Unavailable)?
        .email
        .clone()
        .ok_or_else(|| ProviderError::InvalidInput("no email provider".into()))?;
    let sent = provider
        .send(&OutboundEmail {
            to: row.to_address.clone(),
            subject: row.subject.clone(),
            text: row.body.clone(),
            reply_to: None,
        })
        .await?;
    Ok(json!({
        "email_id": id,
        "provider_id": sent.message_id,
        "delivered": provider.delivers(),
    }))
}

/// Applies [`send`]'s summary in `tx`: `SENT` (or `LOGGED` for the log) with the
/// Message-ID.
pub async fn record(tx: &Tx, result: &Value) -> Result<(), ApiError> {
    let (Some(id), Some(provider_id)) = (
        result
            .get("email_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok()),
        result.get("provider_id").and_then(Value::as_str),
    ) else {
        return Ok(());
    };
    let Some(row) = scoped::<email::Entity>(tx.tenant_id())
        .filter(email::Column::Id.eq(id))
        .filter(email::Column::Status.eq(MessageStatus::Queued))
        .one(&**tx)
        .await?
    else {
        return Ok(());
    };
    let delivered = result
        .get("delivered")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    email::ActiveModel {
        status: Set(if delivered {
            MessageStatus::Sent
        } else {
            MessageStatus::Logged
        }),
        provider_id: Set(Some(provider_id.chars().take(255).collect())),
        updated_at: Set(now()),
        ..row.into()
    }
    .update(&**tx)
    .await?;
    Ok(())
}

/// Marks the queued email of job `job_id` (if any) failed with the provider's code.
pub async fn failed(tx: &Tx, job_id: Uuid, err: &ProviderError) -> Result<(), ApiError> {
    let Some(row) = scoped::<email::Entity>(tx.tenant_id())
        .filter(email::Column::JobId.eq(job_id))
        .filter(email::Column::Status.eq(MessageStatus::Queued))
        .one(&**tx)
        .await?
    else {
        return Ok(());
    };
    email::ActiveModel {
        status: Set(MessageStatus::Failed),
        error_code: Set(Some(error_code(err))),
        updated_at: Set(now()),
        ..row.into()
    }
    .update(&**tx)
    .await?;
    Ok(())
}

/// Emails of the tenant, newest first.
pub async fn list(
    st: &GraphState,
    tenant_id: Uuid,
    args: PageArgs,
) -> Result<Slice<email::Model>, ApiError> {
    let tx = st.db.read(tenant_id).await?;
    let q = scoped::<email::Entity>(tenant_id)
        .order_by_desc(email::Column::CreatedAt)
        .order_by_desc(email::Column::Id);
    let page = paginate(&*tx, q, args).await?;
    tx.commit().await?;
    Ok(page)
}

/// An email sent (or logged) to a customer.
#[derive(Clone)]
pub struct Email(pub email::Model);

/// An email sent (or logged) to a customer.
#[async_graphql::Object]
impl Email {
    /// Email id (UUID).
    async fn id(&self) -> async_graphql::ID {
        async_graphql::ID(self.0.id.to_string())
    }
    /// Recipient address.
    async fn to(&self) -> &str {
        &self.0.to_address
    }
    /// Subject line.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// Plain-text body.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// `QUEUED`, `SENT` (the SMTP server accepted it), `FAILED`, `LOGGED` (recorded by
    /// the built-in log, not delivered).
    async fn status(&self) -> MessageStatus {
        self.0.status
    }
    /// Which automatic message.
    async fn kind(&self) -> MessageKind {
        self.0.kind
    }
    /// The `Message-ID` header.
    async fn message_id(&self) -> Option<&str> {
        self.0.provider_id.as_deref()
    }
    /// Why it failed (`smtp_550`, `TIMEOUT`, …).
    async fn error_code(&self) -> Option<&str> {
        self.0.error_code.as_deref()
    }
    /// The booking it is about.
    async fn booking_id(&self) -> Option<async_graphql::ID> {
        self.0.booking_id.map(|i| async_graphql::ID(i.to_string()))
    }
    /// When it was written (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
