//! The call log of the built-in phone assistant, for owners and managers: `calls`
//! (keyset connection by start, oldest first; filters by time, intent and outcome),
//! `call(id)`, and `callReport(from, to)` (counts by intent × outcome).

use std::collections::BTreeMap;

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::{CallIntent, CallOutcome, CallStatus, call};
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
use serde_json::Value;

use crate::db::scoped;
use crate::error::ApiError;
use crate::guards::{MANAGE, RoleGuard};
use crate::pagination::{KeyCursor, Keyset, Page, PageArgs, SortKey, paginate_keyset};
use crate::state::{caller, state};
use crate::util::parse_id;

/// A report cell: intent, outcome, count.
type Cell = (Option<CallIntent>, Option<CallOutcome>, u64);

/// Longest range of a `callReport`, days.
pub const MAX_REPORT_DAYS: i64 = 366;

/// One phone call answered by the built-in assistant.
#[derive(Clone)]
pub struct Call(pub call::Model);

/// One line of a call's transcript.
#[derive(SimpleObject, Clone)]
pub struct CallTurn {
    /// `caller` or `assistant`.
    pub speaker: String,
    /// What was said (the caller's words as Twilio transcribed them).
    pub text: String,
    /// When (UTC).
    pub at: Option<DateTime<Utc>>,
}

/// One tool call the assistant's model made during a call.
#[derive(SimpleObject, Clone)]
pub struct CallToolCall {
    /// Tool name (`book_appointment`, …).
    pub name: String,
    /// The arguments the model sent.
    pub arguments: Json<Value>,
    /// Whether the tool did what was asked.
    pub ok: bool,
    /// Its answer, or for a change awaiting the caller's yes what was read back.
    pub message: String,
    /// False for a change only read back (not run, awaiting the caller's yes).
    pub executed: bool,
    /// When (UTC).
    pub at: Option<DateTime<Utc>>,
}

fn parse_list(s: &str) -> Vec<Value> {
    serde_json::from_str(s).unwrap_or_default()
}

fn str_of(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn at_of(v: &Value) -> Option<DateTime<Utc>> {
    v.get("at")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

/// One phone call answered by the built-in assistant.
#[Object]
impl Call {
    /// Call id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Twilio's `CallSid`.
    async fn call_sid(&self) -> &str {
        &self.0.call_sid
    }
    /// The caller's number (E.164); null when withheld.
    async fn from_phone(&self) -> Option<&str> {
        self.0.from_phone.as_deref()
    }
    /// The number called (E.164).
    async fn to_phone(&self) -> Option<&str> {
        self.0.to_phone.as_deref()
    }
    /// When the assistant answered (UTC).
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    /// When Twilio reported the end (UTC); null while in progress.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    /// Twilio's call duration, seconds; null while in progress.
    async fn duration_seconds(&self) -> Option<i32> {
        self.0.duration_seconds
    }
    /// Where the call stands.
    async fn status(&self) -> CallStatus {
        self.0.status
    }
    /// What the caller wanted, from the tools the assistant used; null when unknown.
    async fn intent(&self) -> Option<CallIntent> {
        self.0.intent
    }
    /// How the call ended (also set during the call once something was booked, moved,
    /// canceled, transferred or recorded); null while nothing happened yet.
    async fn outcome(&self) -> Option<CallOutcome> {
        self.0.outcome
    }
    /// The model's short summary, written shortly after the call ended.
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }
    /// Caller turns.
    async fn turns(&self) -> i32 {
        self.0.turns
    }
    /// What was said, in order.
    async fn transcript(&self) -> Vec<CallTurn> {
        parse_list(&self.0.transcript)
            .iter()
            .map(|l| CallTurn {
                speaker: str_of(l, "speaker"),
                text: str_of(l, "text"),
                at: at_of(l),
            })
            .collect()
    }
    /// The tools the model called, with their results, in order.
    async fn tool_calls(&self) -> Vec<CallToolCall> {
        parse_list(&self.0.tool_calls)
            .iter()
            .map(|t| CallToolCall {
                name: str_of(t, "name"),
                arguments: Json(t.get("arguments").cloned().unwrap_or(Value::Null)),
                ok: t.get("ok").and_then(Value::as_bool).unwrap_or(false),
                message: str_of(t, "message"),
                executed: t.get("executed").and_then(Value::as_bool).unwrap_or(false),
                at: at_of(t),
            })
            .collect()
    }
    /// The booking the call made, moved or canceled, if any.
    async fn booking_id(&self) -> Option<ID> {
        self.0.booking_id.map(|b| ID(b.to_string()))
    }
    /// The voicemail's recording URL (Twilio; fetching it needs the account's
    /// credentials), if one was left.
    async fn voicemail_url(&self) -> Option<&str> {
        self.0.voicemail_url.as_deref()
    }
}

/// Which calls to list.
#[derive(InputObject, Default)]
pub struct CallFilter {
    /// Started at or after this instant (UTC).
    pub from: Option<DateTime<Utc>>,
    /// Started before this instant (UTC).
    pub to: Option<DateTime<Utc>>,
    /// Only calls with this intent.
    pub intent: Option<CallIntent>,
    /// Only calls with this outcome.
    pub outcome: Option<CallOutcome>,
}

/// Calls of one intent and outcome in a report.
#[derive(SimpleObject)]
pub struct CallReportRow {
    /// The intent (null: never became clear).
    pub intent: Option<CallIntent>,
    /// The outcome (null: still in progress).
    pub outcome: Option<CallOutcome>,
    /// Number of calls.
    pub count: u64,
}

/// Calls in a date range by intent and outcome.
#[derive(SimpleObject)]
pub struct CallReport {
    /// Range start (UTC, inclusive).
    pub from: DateTime<Utc>,
    /// Range end (UTC, exclusive).
    pub to: DateTime<Utc>,
    /// Calls in the range.
    pub total: u64,
    /// Counts per intent and outcome (only combinations that occurred), ordered by
    /// intent then outcome.
    pub rows: Vec<CallReportRow>,
}

/// Call-log queries (owners and managers).
#[derive(Default)]
pub struct CallQuery;

/// Call-log queries (owners and managers).
#[Object]
impl CallQuery {
    /// Calls answered by the phone assistant, by start time (oldest first; page
    /// backward with `last`/`before` for the newest). Errors: `UNAUTHENTICATED`,
    /// `FORBIDDEN`, `BAD_USER_INPUT` (page size, cursor).
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn calls(
        &self,
        ctx: &Context<'_>,
        filter: Option<CallFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Call>> {
        let args = PageArgs::of(ctx, first, after, last, before);
        let rc = caller(ctx)?;
        let f = filter.unwrap_or_default();
        let mut q = scoped::<call::Entity>(rc.tenant_id);
        if let Some(from) = f.from {
            q = q.filter(call::Column::StartedAt.gte(from));
        }
        if let Some(to) = f.to {
            q = q.filter(call::Column::StartedAt.lt(to));
        }
        if let Some(i) = f.intent {
            q = q.filter(call::Column::Intent.eq(i));
        }
        if let Some(o) = f.outcome {
            q = q.filter(call::Column::Outcome.eq(o));
        }
        let tx = state(ctx)?.db.read(rc.tenant_id).await?;
        let slice = paginate_keyset(
            &*tx,
            q,
            Keyset {
                column: call::Column::StartedAt,
                id: call::Column::Id,
                key: |m| KeyCursor {
                    k: SortKey::Time(m.started_at),
                    id: m.id,
                },
            },
            args,
        )
        .await?;
        tx.commit().await?;
        Ok(slice.into_page(Call))
    }

    /// One call. Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `BAD_USER_INPUT` (not an id);
    /// an unknown id (or another business's) is null.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn call(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Call>> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "call")?;
        let tx = state(ctx)?.db.read(rc.tenant_id).await?;
        let row = scoped::<call::Entity>(rc.tenant_id)
            .filter(call::Column::Id.eq(id))
            .one(&*tx)
            .await
            .map_err(ApiError::from)?;
        tx.commit().await?;
        Ok(row.map(Call))
    }

    /// Calls started in `[from, to)` counted by intent and outcome. Errors:
    /// `UNAUTHENTICATED`, `FORBIDDEN`, `BAD_USER_INPUT` (`to` not after `from`, or more
    /// than 366 days).
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn call_report(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> async_graphql::Result<CallReport> {
        if to <= from || to - from > chrono::Duration::days(MAX_REPORT_DAYS) {
            return Err(ApiError::BadUserInput(format!(
                "`to` must be after `from`, at most {MAX_REPORT_DAYS} days later"
            ))
            .into());
        }
        let rc = caller(ctx)?;
        let tx = state(ctx)?.db.read(rc.tenant_id).await?;
        let pairs: Vec<(Option<CallIntent>, Option<CallOutcome>)> =
            scoped::<call::Entity>(rc.tenant_id)
                .filter(call::Column::StartedAt.gte(from))
                .filter(call::Column::StartedAt.lt(to))
                .select_only()
                .column(call::Column::Intent)
                .column(call::Column::Outcome)
                .into_tuple()
                .all(&*tx)
                .await
                .map_err(ApiError::from)?;
        tx.commit().await?;
        let name = |v: Option<String>| v.unwrap_or_default();
        let mut counts: BTreeMap<(String, String), Cell> = BTreeMap::new();
        for (i, o) in &pairs {
            let key = (
                name(i.map(|i| format!("{i:?}"))),
                name(o.map(|o| format!("{o:?}"))),
            );
            counts.entry(key).or_insert((*i, *o, 0)).2 += 1;
        }
        Ok(CallReport {
            from,
            to,
            total: pairs.len() as u64,
            rows: counts
                .into_values()
                .map(|(intent, outcome, count)| CallReportRow {
                    intent,
                    outcome,
                    count,
                })
                .collect(),
        })
    }
}
