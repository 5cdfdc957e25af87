//! SMTP: [`SmtpClient`] implements [`EmailProvider`] by submitting each message to a
//! relay (the tenant's mail provider, or a local relay) with `lettre`.
//!
//! Wire format: SMTP (RFC 5321) with the ESMTP extensions the relay advertises; message
//! submission on port 587 with STARTTLS (RFC 6409, RFC 3207) or on port 465 with
//! implicit TLS (RFC 8314), see [`SmtpTls`]; authentication with `AUTH PLAIN` or
//! `AUTH LOGIN` (RFC 4954, RFC 4616). Each send or check opens one connection and closes
//! it with `QUIT`; nothing is pooled. The client greets with `EHLO [127.0.0.1]` (an
//! address literal, RFC 5321 §4.1.4, as the client has no host name of its own).
//!
//! A message is `text/plain; charset=utf-8` (`MIME-Version: 1.0`, RFC 2045/2046) with
//! `From`, `To`, `Subject` (RFC 2047-encoded when not ASCII), optional `Reply-To`,
//! `Date` and `Message-ID: <uuid-v4@domain-of-from>` (RFC 5322 §3.6); the body (line
//! breaks as CRLF) is sent as 7bit, quoted-printable or base64, whichever suits it best,
//! so the message is always 7-bit clean.
//!
//! Errors, by the reply classes of RFC 5321 §4.2.1: no answer within
//! [`SmtpConfig::timeout`] is [`ProviderError::Timeout`]; a failed connection, a failed
//! TLS handshake, an unreadable reply and a transient negative reply (4yz, e.g. `451`,
//! `421`) are [`ProviderError::Unavailable`] (retryable); a permanent negative reply
//! (5yz) is [`ProviderError::Rejected`] with code `smtp_<reply code>` (`smtp_550`: no
//! such mailbox, `smtp_535`: wrong credentials, `smtp_554`: refused, …;
//! `smtp_permanent` if the reply has no code). A server that lacks what the
//! configuration needs (STARTTLS for [`SmtpTls::StartTls`], a `PLAIN` or `LOGIN` AUTH
//! mechanism when credentials are set, SMTPUTF8 for a non-ASCII address) is
//! `Rejected { code: "smtp_unsupported" }`, and nothing is sent: in particular
//! credentials never go over a connection that STARTTLS did not protect. Input the
//! client refuses (see [`EmailProvider::send`]) is [`ProviderError::InvalidInput`] and
//! nothing is sent.
//!
//! The password never appears in `Debug` output, logs or error messages; neither do
//! message bodies, subjects, recipients or the server's reply text (which may echo the
//! recipient): logs carry the host, port, reply code, `Message-ID` and, for connection
//! and TLS failures, the I/O or TLS error.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, MIME_VERSION_1_0};
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

use crate::ProviderError;
use crate::email::{EmailProvider, MAX_SUBJECT_CHARS, MAX_TEXT_CHARS, OutboundEmail, SentEmail};

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmtpTls {
    /// Plain TCP, no encryption at all: only for a relay on the same host or a trusted
    /// local network, and for tests. Credentials, if configured, are sent in clear text
    /// (`AUTH PLAIN` or `LOGIN`, merely base64-encoded; `lettre` does not refuse AUTH
    /// on an unencrypted connection, which is what lets tests check them). Production
    /// configurations use [`StartTls`](SmtpTls::StartTls) or [`Tls`](SmtpTls::Tls).
    None,
    /// Connect in plain text and upgrade with `STARTTLS` (RFC 3207) before anything
    /// else; a server that does not offer STARTTLS is refused
    /// (`Rejected { code: "smtp_unsupported" }`), never used unencrypted. Usually port
    /// 587 (submission, RFC 6409).
    StartTls,
    /// TLS from the first byte ("implicit TLS", RFC 8314). Usually port 465
    /// (submissions).
    Tls,
}

/// How to reach the SMTP relay. `Debug` redacts the password.
///
/// TLS (for [`SmtpTls::StartTls`] and [`SmtpTls::Tls`]) checks the server certificate
/// for [`host`](SmtpConfig::host) against the system's trust store (rustls with the
/// native roots), at least TLS 1.2.
#[derive(Clone)]
pub struct SmtpConfig {
    /// The relay's host name (checked against its TLS certificate) or IP address.
    pub host: String,
    /// TCP port: 587 for [`SmtpTls::StartTls`], 465 for [`SmtpTls::Tls`], 25 for a
    /// local relay.
    pub port: u16,
    /// How the connection is protected.
    pub tls: SmtpTls,
    /// Login for `AUTH` (RFC 4954); `None` sends no `AUTH`. Needs a password.
    pub username: Option<String>,
    /// Password for `AUTH`; used only together with [`username`](SmtpConfig::username).
    pub password: Option<String>,
    /// The sender, `From` header and envelope `MAIL FROM`: `Name <addr@example.com>`
    /// or `addr@example.com`. Its domain is also the right half of every `Message-ID`.
    pub from: String,
    /// Limit for a whole send or check, from connecting to the last reply. Must be
    /// positive.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

struct Inner {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    host: String,
    port: u16,
    tls: SmtpTls,
    username: Option<String>,
    from: Mailbox,
    /// ASCII domain for `Message-ID`s.
    message_id_domain: String,
    timeout: Duration,
}

/// SMTP client. Cloning is cheap (the settings are shared); every send opens its own
/// connection.
///
/// `Debug` shows the host, port, TLS mode, username and sender, never the password.
#[derive(Clone)]
pub struct SmtpClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpClient")
            .field("host", &self.inner.host)
            .field("port", &self.inner.port)
            .field("tls", &self.inner.tls)
            .field("username", &self.inner.username)
            .field(
                "password",
                &self.inner.username.as_ref().map(|_| "[redacted]"),
            )
            .field("from", &self.inner.from.to_string())
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}

fn invalid(what: &str) -> ProviderError {
    ProviderError::InvalidInput(what.to_owned())
}

/// Parses exactly one RFC 5322 mailbox (`addr@x` or `Name <addr@x>`), nothing after it.
fn parse_mailbox(s: &str) -> Option<Mailbox> {
    if s.is_empty() || s.chars().any(char::is_control) {
        return None;
    }
    let list: lettre::message::Mailboxes = s.parse().ok()?;
    let mut iter = list.into_iter();
    match (iter.next(), iter.next()) {
        (Some(mailbox), None) => Some(mailbox),
        _ => None,
    }
}

/// The ASCII form of a mailbox's domain (IDNA for internationalised names), for
/// `Message-ID`s.
fn ascii_domain(mailbox: &Mailbox) -> Option<String> {
    let domain = mailbox.email.domain();
    if domain.is_ascii() {
        return Some(domain.to_ascii_lowercase());
    }
    match url::Host::parse(domain).ok()? {
        url::Host::Domain(ascii) => Some(ascii),
        _ => None,
    }
}

/// Checks an outgoing message before anything is sent; returns the parsed recipient
/// and `Reply-To`.
fn check_message(msg: &OutboundEmail) -> Result<(Mailbox, Option<Mailbox>), ProviderError> {
    let to = parse_mailbox(&msg.to).ok_or_else(|| invalid("recipient is not an email address"))?;
    let reply_to = match &msg.reply_to {
        Some(reply_to) => Some(
            parse_mailbox(reply_to).ok_or_else(|| invalid("reply-to is not an email address"))?,
        ),
        None => None,
    };
    if msg.subject.trim().is_empty() {
        return Err(invalid("subject is empty"));
    }
    if msg.subject.chars().any(|c| c.is_control() && c != '\t') {
        return Err(invalid(
            "subject contains a line break or control character",
        ));
    }
    if msg.subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(ProviderError::InvalidInput(format!(
            "subject is longer than {MAX_SUBJECT_CHARS} characters"
        )));
    }
    if msg.text.trim().is_empty() {
        return Err(invalid("message text is empty"));
    }
    if msg.text.chars().count() > MAX_TEXT_CHARS {
        return Err(ProviderError::InvalidInput(format!(
            "message text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok((to, reply_to))
}

/// Maps a `lettre` SMTP error (RFC 5321 §4.2.1 reply classes); the description never
/// includes the server's reply text, the message or the credentials.
fn map_error(e: &SmtpError) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else if e.is_permanent() {
        ProviderError::Rejected {
            code: e.status().map_or_else(
                || "smtp_permanent".to_owned(),
                |code| format!("smtp_{code}"),
            ),
        }
    } else if e.is_transient() {
        ProviderError::Unavailable(match e.status() {
            Some(code) => format!("smtp server answered {code}, try again later"),
            None => "smtp server asked to try again later".to_owned(),
        })
    } else if e.is_client() {
        ProviderError::Rejected {
            code: "smtp_unsupported".to_owned(),
        }
    } else if e.is_tls() {
        ProviderError::Unavailable("tls with the smtp server failed".into())
    } else if e.is_response() {
        ProviderError::Unavailable("unexpected smtp response".into())
    } else {
        ProviderError::Unavailable("could not reach the smtp server".into())
    }
}

impl SmtpClient {
    /// Builds a client; connects to nothing yet.
    ///
    /// Errors: [`ProviderError::InvalidInput`] when the host is empty or has spaces,
    /// the port is 0, `from` is not one mailbox, a username is set without a password
    /// (or either is empty, or a password without a username), or the timeout is zero;
    /// [`ProviderError::Unavailable`] if TLS cannot be initialised.
    pub fn new(cfg: SmtpConfig) -> Result<SmtpClient, ProviderError> {
        let host = cfg.host.trim();
        if host.is_empty() {
            return Err(invalid("smtp host is empty"));
        }
        if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("smtp host has spaces or control characters"));
        }
        if cfg.port == 0 {
            return Err(invalid("smtp port must be 1 to 65535"));
        }
        if cfg.timeout.is_zero() {
            return Err(invalid("smtp timeout must be positive"));
        }
        let from =
            parse_mailbox(cfg.from.trim()).ok_or_else(|| invalid("smtp from is not a mailbox"))?;
        let message_id_domain =
            ascii_domain(&from).ok_or_else(|| invalid("smtp from has an invalid domain"))?;
        let credentials = match (cfg.username, cfg.password) {
            (None, None) => None,
            (Some(username), Some(password)) => {
                if username.is_empty() {
                    return Err(invalid("smtp username is empty"));
                }
                if password.is_empty() {
                    return Err(invalid("smtp password is empty"));
                }
                Some((username, password))
            }
            (Some(_), None) => return Err(invalid("smtp username is set without a password")),
            (None, Some(_)) => return Err(invalid("smtp password is set without a username")),
        };

        let tls_parameters = || {
            TlsParameters::new(host.to_owned())
                .map_err(|_| ProviderError::Unavailable("could not initialise TLS".into()))
        };
        let tls = match cfg.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters()?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(cfg.port)
            .tls(tls)
            .timeout(Some(cfg.timeout));
        let username = credentials.as_ref().map(|(username, _)| username.clone());
        if let Some((username, password)) = credentials {
            builder = builder
                .credentials(Credentials::new(username, password))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }

        Ok(SmtpClient {
            inner: Arc::new(Inner {
                transport: builder.build(),
                host: host.to_owned(),
                port: cfg.port,
                tls: cfg.tls,
                username,
                from,
                message_id_domain,
                timeout: cfg.timeout,
            }),
        })
    }

    /// The sender mailbox, as in the `From` header.
    pub fn sender(&self) -> String {
        self.inner.from.to_string()
    }

    /// Logs a failed call (host, port, kind, reply code; never reply text or message).
    fn log_failure(&self, what: &str, e: &SmtpError, mapped: &ProviderError) {
        let code = e.status().map(|code| code.to_string());
        let inner = &self.inner;
        if e.is_permanent() || e.is_transient() || e.is_response() {
            tracing::warn!(
                host = %inner.host,
                port = inner.port,
                code = code.as_deref(),
                error = %mapped,
                "smtp {what} failed"
            );
        } else {
            // Connection, TLS and client errors describe our side, not the message.
            tracing::warn!(
                host = %inner.host,
                port = inner.port,
                error = %e,
                "smtp {what} failed"
            );
        }
    }

    fn log_timeout(&self, what: &str) {
        tracing::warn!(
            host = %self.inner.host,
            port = self.inner.port,
            timeout_ms = u64::try_from(self.inner.timeout.as_millis()).unwrap_or(u64::MAX),
            "smtp {what} timed out"
        );
    }
}

#[async_trait]
impl EmailProvider for SmtpClient {
    /// Validates `msg` (see the trait), then connects, authenticates when credentials
    /// are set, and sends `MAIL FROM`, `RCPT TO` and `DATA` (RFC 5321 §3.3). Returns the
    /// `Message-ID` set on the message. Errors: see the [module docs](self).
    async fn send(&self, msg: &OutboundEmail) -> Result<SentEmail, ProviderError> {
        let (to, reply_to) = check_message(msg)?;
        let inner = &self.inner;
        let message_id = format!("<{}@{}>", Uuid::new_v4(), inner.message_id_domain);
        let mut builder = Message::builder()
            .from(inner.from.clone())
            .to(to)
            .subject(msg.subject.as_str())
            .date_now()
            .message_id(Some(message_id.clone()))
            .header(MIME_VERSION_1_0)
            .header(ContentType::TEXT_PLAIN);
        if let Some(reply_to) = reply_to {
            builder = builder.reply_to(reply_to);
        }
        let email = builder
            .body(msg.text.clone())
            .map_err(|_| invalid("message could not be built"))?;

        tracing::debug!(host = %inner.host, port = inner.port, %message_id, "smtp send");
        match tokio::time::timeout(inner.timeout, inner.transport.send(email)).await {
            Err(_) => {
                self.log_timeout("send");
                Err(ProviderError::Timeout)
            }
            Ok(Err(e)) => {
                let mapped = map_error(&e);
                self.log_failure("send", &e, &mapped);
                Err(mapped)
            }
            Ok(Ok(_)) => {
                tracing::debug!(%message_id, "smtp server accepted a message");
                Ok(SentEmail { message_id })
            }
        }
    }

    /// Always `true`: the relay delivers the messages it accepts.
    fn delivers(&self) -> bool {
        true
    }

    /// Connects (with TLS as configured), authenticates when credentials are set and
    /// sends `NOOP`, then `QUIT`. A `NOOP` that is not answered `250` is
    /// [`ProviderError::Unavailable`]; other errors: see the [module docs](self).
    async fn check(&self) -> Result<(), ProviderError> {
        let inner = &self.inner;
        match tokio::time::timeout(inner.timeout, inner.transport.test_connection()).await {
            Err(_) => {
                self.log_timeout("check");
                Err(ProviderError::Timeout)
            }
            Ok(Err(e)) => {
                let mapped = map_error(&e);
                self.log_failure("check", &e, &mapped);
                Err(mapped)
            }
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => {
                tracing::warn!(host = %inner.host, port = inner.port, "smtp NOOP failed");
                Err(ProviderError::Unavailable(
                    "smtp server did not answer NOOP".into(),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(to: &str, subject: &str, text: &str) -> OutboundEmail {
        OutboundEmail {
            to: to.to_owned(),
            subject: subject.to_owned(),
            text: text.to_owned(),
            reply_to: None,
        }
    }

    #[test]
    fn one_mailbox_only() {
        assert!(parse_mailbox("pat@example.com").is_some());
        assert!(parse_mailbox("Pat Lee <pat@example.com>").is_some());
        assert!(parse_mailbox("\"Lee, Pat\" <pat@example.com>").is_some());
        assert!(parse_mailbox("pat@example.com, sam@example.com").is_none());
        assert!(parse_mailbox("pat@example.com\r\nBcc: x@example.com").is_none());
        assert!(parse_mailbox("pat").is_none());
        assert!(parse_mailbox("").is_none());
        assert!(parse_mailbox("pat@").is_none());
    }

    #[test]
    fn message_id_domain_is_ascii() {
        let domain = |s: &str| parse_mailbox(s).as_ref().and_then(ascii_domain);
        assert_eq!(
            domain("Café <hello@café.example>").as_deref(),
            Some("xn--caf-dma.example")
        );
        assert_eq!(
            domain("hello@Acme.Example").as_deref(),
            Some("acme.example")
        );
    }

    #[test]
    fn lengths_are_counted_in_characters() {
        let to = "pat@example.com";
        assert!(check_message(&msg(to, &"é".repeat(MAX_SUBJECT_CHARS), "x")).is_ok());
        assert!(check_message(&msg(to, &"é".repeat(MAX_SUBJECT_CHARS + 1), "x")).is_err());
        assert!(check_message(&msg(to, "s", &"é".repeat(MAX_TEXT_CHARS))).is_ok());
        assert!(check_message(&msg(to, "s", &"é".repeat(MAX_TEXT_CHARS + 1))).is_err());
        assert!(check_message(&msg(to, "tab\tok", "x")).is_ok());
        assert!(check_message(&msg(to, "bell\u{7}", "x")).is_err());
    }
}
