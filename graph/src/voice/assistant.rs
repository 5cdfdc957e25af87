//! Per-tenant settings of the built-in phone assistant ([`AssistantConfig`]): greeting,
//! tone, FAQ entries, transfer number, after-hours behaviour, booking mode. One row per
//! tenant in `assistant_settings`; a tenant without a row has the defaults (a greeting
//! naming the business, no transfer number, answer after hours, book directly).
//! GraphQL: `assistantSettings` / `updateAssistantSettings` (owners).

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::{AfterHoursMode, AssistantMode, PhoneBookingMode, assistant_settings};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};

use crate::db::{Tx, scoped};
use crate::error::{ApiError, UserError, UserErrorCode as C};
use crate::guards::{OWNER, RoleGuard};
use crate::state::{caller, state};
use crate::util::{normalize_phone, now};

/// Longest greeting, characters.
pub const MAX_GREETING_CHARS: usize = 300;
/// Longest tone description, characters.
pub const MAX_TONE_CHARS: usize = 200;
/// Most FAQ entries (they go into every turn's prompt).
pub const MAX_FAQ_ENTRIES: usize = 20;
/// Longest FAQ question, characters.
pub const MAX_FAQ_QUESTION_CHARS: usize = 200;
/// Longest FAQ answer, characters.
pub const MAX_FAQ_ANSWER_CHARS: usize = 600;

/// One question the assistant answers with the business's own words.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaqEntry {
    /// The question, as a caller might ask it.
    pub question: String,
    /// The answer to speak.
    pub answer: String,
}

/// One FAQ entry to store.
#[derive(InputObject, Debug, Clone)]
pub struct FaqEntryInput {
    /// The question, 1–200 characters.
    pub question: String,
    /// The answer, 1–600 characters.
    pub answer: String,
}

/// A tenant's phone-assistant settings (defaults when never set).
#[derive(Debug, Clone, PartialEq)]
pub struct AssistantConfig {
    /// The greeting; `None`: "Thanks for calling {business}. I'm the virtual
    /// assistant. How can I help you today?".
    pub greeting: Option<String>,
    /// How the assistant speaks.
    pub tone: Option<String>,
    /// Questions answered with the business's own words.
    pub faq: Vec<FaqEntry>,
    /// Where callers are transferred (E.164); `None`: they are offered voicemail.
    pub transfer_number: Option<String>,
    /// Outside business hours.
    pub after_hours: AfterHoursMode,
    /// Book, or only request.
    pub booking_mode: PhoneBookingMode,
    /// Turn by turn, or streaming.
    pub mode: AssistantMode,
    /// Last change, `None` for the defaults.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for AssistantConfig {
    fn default() -> Self {
        AssistantConfig {
            greeting: None,
            tone: None,
            faq: Vec::new(),
            transfer_number: None,
            after_hours: AfterHoursMode::Answer,
            booking_mode: PhoneBookingMode::Book,
            mode: AssistantMode::Turn,
            updated_at: None,
        }
    }
}

impl From<assistant_settings::Model> for AssistantConfig {
    fn from(m: assistant_settings::Model) -> Self {
        AssistantConfig {
            greeting: m.greeting,
            tone: m.tone,
            faq: serde_json::from_str(&m.faq).unwrap_or_default(),
            transfer_number: m.transfer_number,
            after_hours: m.after_hours,
            booking_mode: m.booking_mode,
            mode: m.mode,
            updated_at: Some(m.updated_at),
        }
    }
}

/// The settings of `tx`'s tenant. Errors: database failures.
pub async fn load(tx: &Tx) -> Result<AssistantConfig, ApiError> {
    Ok(scoped::<assistant_settings::Entity>(tx.tenant_id())
        .one(&**tx)
        .await?
        .map(AssistantConfig::from)
        .unwrap_or_default())
}

/// The phone assistant's settings, as the schema shows them.
#[derive(SimpleObject)]
pub struct AssistantSettings {
    /// What the assistant says first; null: "Thanks for calling {business}. I'm the
    /// virtual assistant. How can I help you today?".
    pub greeting: Option<String>,
    /// How it speaks ("warm and brief").
    pub tone: Option<String>,
    /// Questions it answers with these words.
    pub faq: Vec<FaqEntry>,
    /// Where callers are transferred (E.164); null: callers who want a person, and
    /// every call the assistant cannot take, are offered voicemail instead.
    pub transfer_number: Option<String>,
    /// Outside business hours (no staff member's weekly hours cover the moment):
    /// `ANSWER` as usual, or `TAKE_MESSAGE` (voicemail).
    pub after_hours: AfterHoursMode,
    /// `BOOK` (confirmed at once) or `REQUEST` (bookings are `PENDING` until an
    /// operator confirms them).
    pub booking_mode: PhoneBookingMode,
    /// `TURN` (Twilio speech recognition, turn by turn, `<Say>` voice) or `STREAM`
    /// (Twilio Media Streams bridged to the OpenAI Realtime API: speech to speech,
    /// lower latency, callers can interrupt; the `openai` plugin's `realtimeModel` and
    /// `voice`). The voice webhook, after-hours and hand-over rules are the same.
    pub mode: AssistantMode,
    /// Last change (UTC); null while the defaults apply.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<AssistantConfig> for AssistantSettings {
    fn from(c: AssistantConfig) -> Self {
        AssistantSettings {
            greeting: c.greeting,
            tone: c.tone,
            faq: c.faq,
            transfer_number: c.transfer_number,
            after_hours: c.after_hours,
            booking_mode: c.booking_mode,
            mode: c.mode,
            updated_at: c.updated_at,
        }
    }
}

/// `updateAssistantSettings` input: the whole settings (a field left out or null is
/// cleared to its default).
#[derive(InputObject, Default)]
pub struct AssistantSettingsInput {
    /// 1–300 characters; null: the default greeting.
    pub greeting: Option<String>,
    /// 1–200 characters; null: none.
    pub tone: Option<String>,
    /// At most 20 entries; null: none.
    pub faq: Option<Vec<FaqEntryInput>>,
    /// A phone number (normalised to E.164); null: none.
    pub transfer_number: Option<String>,
    /// Default `ANSWER`.
    pub after_hours: Option<AfterHoursMode>,
    /// Default `BOOK`.
    pub booking_mode: Option<PhoneBookingMode>,
    /// Default `TURN`.
    pub mode: Option<AssistantMode>,
}

/// Result of `updateAssistantSettings`.
#[derive(SimpleObject, Default)]
pub struct AssistantSettingsPayload {
    /// The settings now (null when refused).
    pub assistant_settings: Option<AssistantSettings>,
    /// `INVALID_INPUT` / `INVALID_PHONE`, with the field path; nothing was changed.
    pub user_errors: Vec<UserError>,
}

fn text(v: Option<String>, field: &str, max: usize, errors: &mut Vec<UserError>) -> Option<String> {
    let v = v.map(|s| s.trim().to_string())?;
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        errors.push(UserError::new(
            Some(field),
            C::InvalidInput,
            format!("1–{max} characters on one line"),
        ));
        return None;
    }
    Some(v)
}

/// Checks `input`; the settings it describes, or the reasons it is refused.
pub fn validate(input: AssistantSettingsInput) -> Result<AssistantConfig, Vec<UserError>> {
    let mut errors = Vec::new();
    let greeting = text(input.greeting, "greeting", MAX_GREETING_CHARS, &mut errors);
    let tone = text(input.tone, "tone", MAX_TONE_CHARS, &mut errors);
    let entries = input.faq.unwrap_or_default();
    let mut faq = Vec::new();
    if entries.len() > MAX_FAQ_ENTRIES {
        errors.push(UserError::new(
            Some("faq"),
            C::InvalidInput,
            format!("at most {MAX_FAQ_ENTRIES} entries"),
        ));
    } else {
        for (i, e) in entries.into_iter().enumerate() {
            let q = text(
                Some(e.question),
                &format!("faq.{i}.question"),
                MAX_FAQ_QUESTION_CHARS,
                &mut errors,
            );
            let a = text(
                Some(e.answer),
                &format!("faq.{i}.answer"),
                MAX_FAQ_ANSWER_CHARS,
                &mut errors,
            );
            if let (Some(question), Some(answer)) = (q, a) {
                faq.push(FaqEntry { question, answer });
            }
        }
    }
    let transfer_number = match input.transfer_number.filter(|n| !n.trim().is_empty()) {
        Some(n) => match normalize_phone(&n) {
            Some(e164) => Some(e164),
            None => {
                errors.push(UserError::new(
                    Some("transferNumber"),
                    C::InvalidPhone,
                    "not a phone number (use E.164, e.g. +14155550123)",
                ));
                None
            }
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(AssistantConfig {
        greeting,
        tone,
        faq,
        transfer_number,
        after_hours: input.after_hours.unwrap_or(AfterHoursMode::Answer),
        booking_mode: input.booking_mode.unwrap_or(PhoneBookingMode::Book),
        mode: input.mode.unwrap_or(AssistantMode::Turn),
        updated_at: Some(now()),
    })
}

/// Phone-assistant settings queries.
#[derive(Default)]
pub struct AssistantQuery;

/// Phone-assistant settings queries.
#[Object]
impl AssistantQuery {
    /// The built-in phone assistant's settings (defaults until set). Owners. Errors:
    /// `UNAUTHENTICATED`, `FORBIDDEN`.
    #[graphql(guard = "RoleGuard::new(OWNER)")]
    async fn assistant_settings(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<AssistantSettings> {
        let rc = caller(ctx)?;
        let tx = state(ctx)?.db.read(rc.tenant_id).await?;
        let c = load(&tx).await?;
        tx.commit().await?;
        Ok(c.into())
    }
}

/// Phone-assistant settings mutations.
#[derive(Default)]
pub struct AssistantMutation;

/// Phone-assistant settings mutations.
#[Object]
impl AssistantMutation {
    /// Replaces the built-in phone assistant's settings. Owners. Refusals come back as
    /// `userErrors` (`INVALID_INPUT`, `INVALID_PHONE`) and change nothing. Errors:
    /// `UNAUTHENTICATED`, `FORBIDDEN`.
    #[graphql(guard = "RoleGuard::new(OWNER)")]
    async fn update_assistant_settings(
        &self,
        ctx: &Context<'_>,
        input: AssistantSettingsInput,
    ) -> async_graphql::Result<AssistantSettingsPayload> {
        let rc = caller(ctx)?;
        let c = match validate(input) {
            Ok(c) => c,
            Err(user_errors) => {
                return Ok(AssistantSettingsPayload {
                    assistant_settings: None,
                    user_errors,
                });
            }
        };
        let tx = state(ctx)?.db.write(rc.tenant_id).await?;
        let at = now();
        let row = assistant_settings::ActiveModel {
            tenant_id: Set(rc.tenant_id),
            greeting: Set(c.greeting.clone()),
            tone: Set(c.tone.clone()),
            faq: Set(serde_json::to_string(&c.faq).unwrap_or_else(|_| "[]".into())),
            transfer_number: Set(c.transfer_number.clone()),
            after_hours: Set(c.after_hours),
            booking_mode: Set(c.booking_mode),
            mode: Set(c.mode),
            updated_at: Set(at),
        };
        assistant_settings::Entity::delete_many()
            .filter(assistant_settings::Column::TenantId.eq(rc.tenant_id))
            .exec(&*tx)
            .await
            .map_err(ApiError::from)?;
        assistant_settings::Entity::insert(row)
            .exec_without_returning(&*tx)
            .await
            .map_err(ApiError::from)?;
        tx.commit().await?;
        Ok(AssistantSettingsPayload {
            assistant_settings: Some(
                AssistantConfig {
                    updated_at: Some(at),
                    ..c
                }
                .into(),
            ),
            user_errors: vec![],
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_bounded_and_the_number_normalised() {
        let ok = validate(AssistantSettingsInput {
            greeting: Some(" Hi, Ana's Salon! ".into()),
            transfer_number: Some("+1 (415) 555-0199".into()),
            faq: Some(vec![FaqEntryInput {
                question: "Parking?".into(),
                answer: "Free, behind the shop.".into(),
            }]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.greeting.as_deref(), Some("Hi, Ana's Salon!"));
        assert_eq!(ok.transfer_number.as_deref(), Some("+14155550199"));
        assert_eq!(ok.faq.len(), 1);
        let bad = validate(AssistantSettingsInput {
            greeting: Some("x".repeat(301)),
            transfer_number: Some("call me".into()),
            faq: Some(
                (0..21)
                    .map(|_| FaqEntryInput {
                        question: "q".into(),
                        answer: "a".into(),
                    })
                    .collect(),
            ),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(bad.len(), 3);
    }
}
