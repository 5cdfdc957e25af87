//! Text messages: the [`SmsProvider`] capability and its plain data types.
//!
//! Phone numbers are E.164 strings (`+14155550123`). Message bodies are UTF-8 text of at
//! most [`MAX_BODY_CHARS`] characters (Twilio's limit for one API request,
//! <https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource>).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ProviderError;

/// Longest body one send accepts, in characters (Twilio: 1,600).
pub const MAX_BODY_CHARS: usize = 1600;

/// A text message to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundSms {
    /// Recipient, E.164.
    pub to: String,
    /// Text, at most [`MAX_BODY_CHARS`] characters.
    pub body: String,
    /// URL the provider posts delivery status changes to (Twilio `StatusCallback`).
    pub status_callback: Option<String>,
}

/// The provider's record of an accepted message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentSms {
    /// The provider's message id (Twilio `MessageSid`, `SM…`; `log_…` for the log).
    pub sid: String,
    /// The provider's status at acceptance (`queued`, `accepted`, `sent`, …).
    pub status: String,
}

/// Sends text messages (Twilio Messaging, or the built-in log that sends nothing).
#[async_trait]
pub trait SmsProvider: Send + Sync {
    /// Sends `msg`. Errors: [`ProviderError::Rejected`] with the provider's error code
    /// (Twilio `21610`: the recipient replied STOP; `21211`: invalid number); retryable
    /// [`ProviderError::Timeout`] / [`ProviderError::Unavailable`] (HTTP 429, 5xx);
    /// [`ProviderError::InvalidInput`] for an empty or oversized body or a recipient
    /// that is not E.164 (nothing is sent).
    async fn send(&self, msg: &OutboundSms) -> Result<SentSms, ProviderError>;

    /// Whether messages really leave the platform (`false` for the built-in log).
    fn delivers(&self) -> bool;

    /// The sending identity (from number or Messaging Service SID), for pacing sends.
    fn sender(&self) -> String;

    /// The provider's cheapest authenticated read (for `testPlugin`).
    async fn check(&self) -> Result<(), ProviderError>;
}
