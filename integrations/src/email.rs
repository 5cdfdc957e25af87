//! Email: the [`EmailProvider`] capability and its plain data types.
//!
//! One message goes to one recipient, as plain UTF-8 text (`text/plain; charset=utf-8`,
//! RFC 2045/2046). Addresses are RFC 5322 mailboxes, `addr@example.com` or
//! `Name <addr@example.com>`. A subject has at most [`MAX_SUBJECT_CHARS`] characters
//! and no line breaks; a body at most [`MAX_TEXT_CHARS`] characters.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ProviderError;

/// Longest subject one send accepts, in characters (not bytes). RFC 5322 §2.1.1 asks
/// for header lines of at most 78 characters; longer subjects are folded, and 200 keeps
/// them readable in every mail client.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// Longest plain-text body one send accepts, in characters (not bytes).
pub const MAX_TEXT_CHARS: usize = 20_000;

/// An email to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundEmail {
    /// The one recipient, an RFC 5322 mailbox: `addr@example.com` or
    /// `Name <addr@example.com>`.
    pub to: String,
    /// Subject line: 1 to [`MAX_SUBJECT_CHARS`] characters, no CR or LF.
    pub subject: String,
    /// Plain-text body: 1 to [`MAX_TEXT_CHARS`] characters; line breaks are sent as CRLF.
    pub text: String,
    /// Where replies should go (`Reply-To`), an RFC 5322 mailbox; `None` means replies
    /// go to the sender.
    pub reply_to: Option<String>,
}

/// The record of an email the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentEmail {
    /// The `Message-ID` header set on the message, angle brackets included
    /// (`<uuid@sender-domain>`, RFC 5322 §3.6.4). Replies carry it in `In-Reply-To`.
    pub message_id: String,
}

/// Sends email (SMTP).
#[async_trait]
pub trait EmailProvider: Send + Sync {
    /// Sends `msg` and returns the `Message-ID` it was sent with.
    ///
    /// Errors: [`ProviderError::InvalidInput`] when the recipient or `Reply-To` is not a
    /// mailbox, the subject is empty, too long or has a line break, or the body is empty
    /// or too long (nothing is sent); [`ProviderError::Rejected`] when the server refused
    /// the message for good (an SMTP 5xx reply, code `smtp_<reply code>`, e.g.
    /// `smtp_550` for an unknown mailbox); retryable [`ProviderError::Timeout`] and
    /// [`ProviderError::Unavailable`] (connection failures, SMTP 4xx replies). After a
    /// timeout the message may or may not have been accepted.
    async fn send(&self, msg: &OutboundEmail) -> Result<SentEmail, ProviderError>;

    /// Whether messages really leave the platform (`false` for a log that sends nothing).
    fn delivers(&self) -> bool;

    /// Connects, authenticates and checks that the server answers (for `testPlugin`).
    /// Errors as for [`send`](EmailProvider::send), wrong credentials being a
    /// [`ProviderError::Rejected`] (SMTP `535`, `smtp_535`).
    async fn check(&self) -> Result<(), ProviderError>;
}
