//! `SmtpClient` against a tiny SMTP sink (RFC 5321) written here with tokio: what reaches
//! the server (envelope, `AUTH PLAIN` credentials, headers, body) and how its replies
//! are read (RFC 5321 §4.2.1: 4yz transient, 5yz permanent), plus timeouts, refused
//! connections, input that is refused before anything is sent, and secrets that never
//! show.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use integrations::ProviderError;
use integrations::email::{EmailProvider, MAX_SUBJECT_CHARS, MAX_TEXT_CHARS, OutboundEmail};
use integrations::smtp::{SmtpClient, SmtpConfig, SmtpTls};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};

const FROM: &str = "Acme Detailing <bookings@acme.example>";
const FROM_ADDR: &str = "bookings@acme.example";
const USERNAME: &str = "apikey";
const PASSWORD: &str = "s3cr3t-Pa55word-7f2a";
/// The sink answers `535 5.7.8` to this password.
const WRONG_PASSWORD: &str = "wr0ng-Pa55word-0000";
const TO: &str = "pat@example.com";
/// The sink answers `RCPT TO` for this one with `550 5.1.1 no such user`.
const NOBODY: &str = "nobody@example.com";
/// The sink answers `RCPT TO` for this one with `451 4.3.0 try later`.
const BUSY: &str = "busy@example.com";
const SUBJECT: &str = "Booking confirmed: Tue 9:00 — Café ☕";
/// Non-ASCII text, an emoji, a line that is only a dot (SMTP dot-stuffing, RFC 5321
/// §4.5.2), one that starts with a dot, and `=` (quoted-printable's escape).
const BODY: &str = "Hi Pat,\n\nyour detail is confirmed for Tue 9:00 — crème brûlée wax 🚗.\n.\n.. and 10% off = $45.\nSee you!";

// ---------------------------------------------------------------------------------------
// The sink
// ---------------------------------------------------------------------------------------

/// One message accepted with `DATA`.
#[derive(Debug, Clone)]
struct Delivery {
    /// `MAIL FROM` reverse-path, without angle brackets or parameters.
    from: String,
    /// `RCPT TO` forward-paths that were accepted.
    rcpts: Vec<String>,
    /// The message as received, dot-stuffing undone, lines ending in CRLF.
    data: String,
    /// `(username, password)` from `AUTH PLAIN` on this connection.
    auth: Option<(String, String)>,
}

#[derive(Debug, Default)]
struct State {
    connections: usize,
    /// Every command line (not message data), in order.
    commands: Vec<String>,
    /// Every `AUTH PLAIN` attempt.
    auths: Vec<(String, String)>,
    deliveries: Vec<Delivery>,
}

struct Sink {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Sink {
    /// A sink that speaks SMTP.
    async fn start() -> Sink {
        Sink::spawn(false).await
    }

    /// A sink that accepts connections and never says anything.
    async fn silent() -> Sink {
        Sink::spawn(true).await
    }

    async fn spawn(silent: bool) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.lock().unwrap().connections += 1;
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    if silent {
                        hold(stream).await;
                    } else {
                        let _ = session(stream, shared).await;
                    }
                });
            }
        });
        Sink { addr, state }
    }

    fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    fn commands(&self) -> Vec<String> {
        self.state.lock().unwrap().commands.clone()
    }

    fn auths(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().auths.clone()
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().deliveries.clone()
    }
}

/// Reads and discards until the client hangs up; never writes.
async fn hold(mut stream: TcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// One line without its CRLF, `None` at end of stream.
async fn read_line(reader: &mut BufReader<OwnedReadHalf>) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if reader.read_until(b'\n', &mut buf).await? == 0 {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&buf);
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// The address inside `<…>` of a `MAIL FROM:` / `RCPT TO:` argument, parameters dropped.
fn path(arg: &str) -> String {
    let arg = arg.trim();
    let end = arg.find('>').map_or(arg.len(), |i| i + 1);
    arg[..end]
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

/// `AUTH PLAIN` (RFC 4616): base64 of `authzid NUL authcid NUL passwd`.
fn decode_plain(encoded: &str) -> (String, String) {
    let decoded = STANDARD.decode(encoded.trim()).unwrap();
    let decoded = String::from_utf8(decoded).unwrap();
    let parts: Vec<&str> = decoded.split('\0').collect();
    assert_eq!(parts.len(), 3, "AUTH PLAIN has three NUL-separated parts");
    (parts[1].to_owned(), parts[2].to_owned())
}

async fn session(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    let mut auth: Option<(String, String)> = None;
    while let Some(line) = read_line(&mut reader).await? {
        state.lock().unwrap().commands.push(line.clone());
        let upper = line.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO ") {
            "250-sink.test greets you\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
             250-AUTH PLAIN LOGIN\r\n250 SIZE 10485760\r\n"
        } else if upper.starts_with("HELO ") {
            "250 sink.test\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            let mut encoded = line["AUTH PLAIN".len()..].trim().to_owned();
            if encoded.is_empty() {
                write.write_all(b"334 \r\n").await?;
                encoded = read_line(&mut reader).await?.unwrap_or_default();
            }
            let credentials = decode_plain(&encoded);
            state.lock().unwrap().auths.push(credentials.clone());
            if credentials.1 == WRONG_PASSWORD {
                "535 5.7.8 authentication credentials invalid\r\n"
            } else {
                auth = Some(credentials);
                "235 2.7.0 authentication successful\r\n"
            }
        } else if upper.starts_with("AUTH ") {
            "504 5.5.4 mechanism not supported\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = Some(path(&line["MAIL FROM:".len()..]));
            rcpts.clear();
            "250 2.1.0 sender ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = path(&line["RCPT TO:".len()..]);
            if rcpt.eq_ignore_ascii_case(NOBODY) {
                "550 5.1.1 no such user\r\n"
            } else if rcpt.eq_ignore_ascii_case(BUSY) {
                "451 4.3.0 try later\r\n"
            } else {
                rcpts.push(rcpt);
                "250 2.1.5 recipient ok\r\n"
            }
        } else if upper == "DATA" {
            match from.take() {
                Some(sender) if !rcpts.is_empty() => {
                    write
                        .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let mut data = String::new();
                    loop {
                        let Some(line) = read_line(&mut reader).await? else {
                            return Ok(());
                        };
                        if line == "." {
                            break;
                        }
                        // RFC 5321 §4.5.2: drop the first of leading dots.
                        data.push_str(line.strip_prefix('.').unwrap_or(&line));
                        data.push_str("\r\n");
                    }
                    state.lock().unwrap().deliveries.push(Delivery {
                        from: sender,
                        rcpts: std::mem::take(&mut rcpts),
                        data,
                        auth: auth.clone(),
                    });
                    "250 2.0.0 queued as 1\r\n"
                }
                _ => "503 5.5.1 bad sequence of commands\r\n",
            }
        } else if upper == "RSET" {
            from = None;
            rcpts.clear();
            "250 2.0.0 ok\r\n"
        } else if upper.starts_with("NOOP") {
            "250 2.0.0 ok\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 command not recognized\r\n"
        };
        write.write_all(reply.as_bytes()).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reading what arrived
// ---------------------------------------------------------------------------------------

/// Header fields (lower-case names, unfolded values) and the body of a message.
fn split_message(data: &str) -> (Vec<(String, String)>, String) {
    let (head, body) = data.split_once("\r\n\r\n").expect("header/body separator");
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            // RFC 5322 §2.2.3: unfolding removes the CRLF, keeps the whitespace.
            headers
                .last_mut()
                .expect("folded first line")
                .1
                .push_str(line);
        } else {
            let (name, value) = line.split_once(':').expect("header field");
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body.to_owned())
}

/// The one value of header `name` (panics if absent or repeated).
fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    let values: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(values.len(), 1, "exactly one {name} header in {headers:?}");
    values[0]
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` escapes and `=` soft line breaks.
fn decode_qp(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'=' {
            out.push(s[i]);
            i += 1;
        } else if s[i + 1..].starts_with(b"\r\n") {
            i += 3;
        } else {
            let hex = std::str::from_utf8(&s[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`); whitespace
/// between adjacent encoded words is dropped (RFC 2047 §6.2).
fn decode_words(value: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let between = &rest[..start];
        if !(after_word && between.trim().is_empty()) {
            out.extend_from_slice(between.as_bytes());
        }
        let mut parts = rest[start + 2..].splitn(3, '?');
        let charset = parts.next().unwrap();
        let encoding = parts.next().unwrap();
        let tail = parts.next().unwrap();
        assert!(charset.eq_ignore_ascii_case("utf-8"), "charset {charset}");
        let end = tail.find("?=").expect("end of encoded word");
        let text = &tail[..end];
        match encoding {
            "b" | "B" => out.extend(STANDARD.decode(text).unwrap()),
            "q" | "Q" => out.extend(decode_qp(text.replace('_', " ").as_bytes())),
            other => panic!("unknown encoding {other}"),
        }
        rest = &tail[end + 2..];
        after_word = true;
    }
    out.extend_from_slice(rest.as_bytes());
    String::from_utf8(out).unwrap()
}

/// The body decoded by its `Content-Transfer-Encoding`, with the CRLF that ends the
/// DATA section removed.
fn decode_body(headers: &[(String, String)], body: &str) -> String {
    let encoding = header(headers, "content-transfer-encoding").to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "7bit" | "8bit" => body.as_bytes().to_vec(),
        "quoted-printable" => decode_qp(body.as_bytes()),
        "base64" => STANDARD.decode(body.replace("\r\n", "")).unwrap(),
        other => panic!("unexpected Content-Transfer-Encoding {other}"),
    };
    let text = String::from_utf8(bytes).unwrap();
    text.strip_suffix("\r\n").unwrap_or(&text).to_owned()
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn config_for(port: u16, password: Option<&str>) -> SmtpConfig {
    common::logs();
    SmtpConfig {
        host: "127.0.0.1".to_owned(),
        port,
        tls: SmtpTls::None,
        username: password.map(|_| USERNAME.to_owned()),
        password: password.map(str::to_owned),
        from: FROM.to_owned(),
        timeout: Duration::from_secs(5),
    }
}

fn config(sink: &Sink, password: Option<&str>) -> SmtpConfig {
    config_for(sink.addr.port(), password)
}

fn client(sink: &Sink, password: Option<&str>) -> SmtpClient {
    SmtpClient::new(config(sink, password)).unwrap()
}

fn email(to: &str) -> OutboundEmail {
    OutboundEmail {
        to: to.to_owned(),
        subject: "Your booking".to_owned(),
        text: "See you on Tuesday.".to_owned(),
        reply_to: None,
    }
}

/// A port on 127.0.0.1 with nothing listening.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// Neither the password nor its `AUTH PLAIN` encoding appears in `text`.
fn assert_no_secret(text: &str) {
    let plain = STANDARD.encode(format!("\0{USERNAME}\0{PASSWORD}"));
    assert!(!text.contains(PASSWORD), "password leaked: {text}");
    assert!(!text.contains(&plain), "encoded password leaked: {text}");
}

fn assert_error_has_no_secret(e: &ProviderError) {
    assert_no_secret(&e.to_string());
    assert_no_secret(&format!("{e:?}"));
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn delivers_a_message_with_envelope_headers_and_utf8_body() {
    let sink = Sink::start().await;
    let client = client(&sink, None);
    assert!(client.delivers());
    assert_eq!(client.sender(), FROM);
    let msg = OutboundEmail {
        to: format!("Pat Lee <{TO}>"),
        subject: SUBJECT.to_owned(),
        text: BODY.to_owned(),
        reply_to: Some("Front Desk <desk@acme.example>".to_owned()),
    };

    let sent = client.send(&msg).await.unwrap();

    let deliveries = sink.deliveries();
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert_eq!(delivery.from, FROM_ADDR);
    assert_eq!(delivery.rcpts, vec![TO.to_owned()]);
    assert_eq!(delivery.auth, None, "no AUTH without credentials");
    assert!(sink.auths().is_empty());
    // Everything non-ASCII is encoded: the message is 7-bit clean.
    assert!(delivery.data.is_ascii(), "{}", delivery.data);

    let (headers, body) = split_message(&delivery.data);
    // Display names with spaces are sent as quoted strings (RFC 5322 §3.2.4).
    assert_eq!(
        decode_words(header(&headers, "from")),
        format!("\"Acme Detailing\" <{FROM_ADDR}>")
    );
    assert_eq!(
        decode_words(header(&headers, "to")),
        format!("\"Pat Lee\" <{TO}>")
    );
    assert_eq!(decode_words(header(&headers, "subject")), SUBJECT);
    assert_eq!(
        decode_words(header(&headers, "reply-to")),
        "\"Front Desk\" <desk@acme.example>"
    );
    assert_eq!(header(&headers, "message-id"), sent.message_id);
    assert_eq!(header(&headers, "mime-version"), "1.0");
    let content_type = header(&headers, "content-type").to_ascii_lowercase();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(content_type.contains("charset=utf-8"), "{content_type}");
    assert!(!header(&headers, "date").is_empty());
    assert!(!headers.iter().any(|(n, _)| n == "bcc"));
    assert_eq!(decode_body(&headers, &body), BODY.replace('\n', "\r\n"));

    // Message-ID: <uuid-v4@domain of From> (RFC 5322 §3.6.4).
    let id = sent
        .message_id
        .strip_prefix('<')
        .and_then(|id| id.strip_suffix("@acme.example>"))
        .unwrap_or_else(|| panic!("unexpected Message-ID {}", sent.message_id));
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);

    // The session ended politely.
    assert_eq!(sink.commands().last().map(String::as_str), Some("QUIT"));
}

#[tokio::test]
async fn every_message_gets_its_own_message_id() {
    let sink = Sink::start().await;
    let client = client(&sink, None);
    let first = client.send(&email(TO)).await.unwrap();
    let second = client.clone().send(&email(TO)).await.unwrap();
    assert_ne!(first.message_id, second.message_id);
    assert_eq!(sink.deliveries().len(), 2);
    assert_eq!(sink.connections(), 2, "one connection per send");
}

#[tokio::test]
async fn largest_accepted_message_arrives_intact() {
    let sink = Sink::start().await;
    let client = client(&sink, None);
    let subject = format!("Ré: {}", "x".repeat(MAX_SUBJECT_CHARS - 4));
    assert_eq!(subject.chars().count(), MAX_SUBJECT_CHARS);
    let text = "ü".repeat(MAX_TEXT_CHARS);
    let msg = OutboundEmail {
        to: TO.to_owned(),
        subject: subject.clone(),
        text: text.clone(),
        reply_to: None,
    };

    client.send(&msg).await.unwrap();

    let deliveries = sink.deliveries();
    let (headers, body) = split_message(&deliveries[0].data);
    assert_eq!(decode_words(header(&headers, "subject")), subject);
    assert_eq!(decode_body(&headers, &body), text);
    // RFC 5322 §2.1.1: no line longer than 998 characters.
    assert!(deliveries[0].data.split("\r\n").all(|l| l.len() <= 998));
}

#[tokio::test]
async fn sends_credentials_with_auth_plain_when_configured() {
    let sink = Sink::start().await;
    let client = client(&sink, Some(PASSWORD));

    client.send(&email(TO)).await.unwrap();

    let expected = (USERNAME.to_owned(), PASSWORD.to_owned());
    assert_eq!(sink.auths(), vec![expected.clone()]);
    let deliveries = sink.deliveries();
    assert_eq!(deliveries[0].auth, Some(expected));
    // AUTH comes after EHLO and before the envelope.
    let commands = sink.commands();
    let auth_at = commands
        .iter()
        .position(|c| c.starts_with("AUTH PLAIN"))
        .unwrap();
    let mail_at = commands
        .iter()
        .position(|c| c.starts_with("MAIL FROM:"))
        .unwrap();
    assert!(commands[0].starts_with("EHLO "));
    assert!(auth_at < mail_at);
}

#[tokio::test]
async fn wrong_credentials_are_rejected_with_535() {
    let sink = Sink::start().await;
    let client = client(&sink, Some(WRONG_PASSWORD));

    let err = client.send(&email(TO)).await.unwrap_err();

    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "smtp_535".into()
        }
    );
    assert!(!err.is_retryable());
    assert!(sink.deliveries().is_empty());
    assert!(!sink.commands().iter().any(|c| c.starts_with("MAIL FROM:")));
    assert!(!err.to_string().contains(WRONG_PASSWORD));
    assert_eq!(
        client.check().await.unwrap_err(),
        ProviderError::Rejected {
            code: "smtp_535".into()
        }
    );
}

#[tokio::test]
async fn permanent_reply_is_rejected_with_its_code() {
    let sink = Sink::start().await;
    let client = client(&sink, None);

    let err = client.send(&email(NOBODY)).await.unwrap_err();

    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "smtp_550".into()
        }
    );
    assert!(!err.is_retryable());
    assert!(sink.deliveries().is_empty());
    let commands = sink.commands();
    assert!(commands.contains(&format!("RCPT TO:<{NOBODY}>")));
    assert!(!commands.iter().any(|c| c == "DATA"), "{commands:?}");
    // The server's text (which may echo the recipient) stays out of the error.
    assert!(!err.to_string().contains("no such user"));
}

#[tokio::test]
async fn transient_reply_is_unavailable_and_retryable() {
    let sink = Sink::start().await;
    let client = client(&sink, None);

    let err = client.send(&email(BUSY)).await.unwrap_err();

    assert!(
        matches!(&err, ProviderError::Unavailable(reason) if reason.contains("451")),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(sink.deliveries().is_empty());
    assert!(!err.to_string().contains(BUSY));
}

#[tokio::test]
async fn connection_refused_is_unavailable() {
    let port = closed_port().await;
    let client = SmtpClient::new(config_for(port, Some(PASSWORD))).unwrap();

    let err = client.send(&email(TO)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
    assert_error_has_no_secret(&err);

    let err = client.check().await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    assert_error_has_no_secret(&err);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let sink = Sink::silent().await;
    let mut cfg = config(&sink, Some(PASSWORD));
    cfg.timeout = Duration::from_millis(300);
    let client = SmtpClient::new(cfg).unwrap();

    let started = Instant::now();
    let err = client.send(&email(TO)).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err, ProviderError::Timeout);
    assert!(err.is_retryable());
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    let started = Instant::now();
    assert_eq!(client.check().await.unwrap_err(), ProviderError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(sink.connections(), 2);
}

#[tokio::test]
async fn invalid_input_is_refused_before_connecting() {
    let sink = Sink::start().await;
    let client = client(&sink, Some(PASSWORD));
    let base = OutboundEmail {
        reply_to: Some("desk@acme.example".into()),
        ..email(TO)
    };
    let cases: Vec<(&str, OutboundEmail)> = vec![
        (
            "recipient is not an address",
            OutboundEmail {
                to: "pat".into(),
                ..base.clone()
            },
        ),
        (
            "empty recipient",
            OutboundEmail {
                to: String::new(),
                ..base.clone()
            },
        ),
        (
            "two recipients",
            OutboundEmail {
                to: format!("{TO}, sam@example.com"),
                ..base.clone()
            },
        ),
        (
            "header injection in recipient",
            OutboundEmail {
                to: format!("{TO}\r\nBcc: eve@example.com"),
                ..base.clone()
            },
        ),
        (
            "bad reply-to",
            OutboundEmail {
                reply_to: Some("front desk".into()),
                ..base.clone()
            },
        ),
        (
            "subject with LF",
            OutboundEmail {
                subject: "Hello\nBcc: eve@example.com".into(),
                ..base.clone()
            },
        ),
        (
            "subject with CR",
            OutboundEmail {
                subject: "Hello\rthere".into(),
                ..base.clone()
            },
        ),
        (
            "empty subject",
            OutboundEmail {
                subject: "  ".into(),
                ..base.clone()
            },
        ),
        (
            "oversized subject",
            OutboundEmail {
                subject: "é".repeat(MAX_SUBJECT_CHARS + 1),
                ..base.clone()
            },
        ),
        (
            "empty text",
            OutboundEmail {
                text: String::new(),
                ..base.clone()
            },
        ),
        (
            "blank text",
            OutboundEmail {
                text: " \n\t".into(),
                ..base.clone()
            },
        ),
        (
            "oversized text",
            OutboundEmail {
                text: "é".repeat(MAX_TEXT_CHARS + 1),
                ..base.clone()
            },
        ),
    ];
    for (what, msg) in cases {
        let err = client.send(&msg).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::InvalidInput(_)),
            "{what}: {err:?}"
        );
        assert!(!err.is_retryable(), "{what}");
    }
    assert_eq!(sink.connections(), 0, "nothing reached the sink");
}

#[tokio::test]
async fn invalid_configuration_is_refused() {
    let good = config_for(2525, Some(PASSWORD));
    assert!(SmtpClient::new(good.clone()).is_ok());
    let cases: Vec<(&str, SmtpConfig)> = vec![
        (
            "empty host",
            SmtpConfig {
                host: " ".into(),
                ..good.clone()
            },
        ),
        (
            "port 0",
            SmtpConfig {
                port: 0,
                ..good.clone()
            },
        ),
        (
            "from is not a mailbox",
            SmtpConfig {
                from: "Acme Detailing".into(),
                ..good.clone()
            },
        ),
        (
            "two senders",
            SmtpConfig {
                from: "a@acme.example, b@acme.example".into(),
                ..good.clone()
            },
        ),
        (
            "username without password",
            SmtpConfig {
                password: None,
                ..good.clone()
            },
        ),
        (
            "empty password",
            SmtpConfig {
                password: Some(String::new()),
                ..good.clone()
            },
        ),
        (
            "password without username",
            SmtpConfig {
                username: None,
                ..good.clone()
            },
        ),
        (
            "zero timeout",
            SmtpConfig {
                timeout: Duration::ZERO,
                ..good.clone()
            },
        ),
    ];
    for (what, cfg) in cases {
        let err = SmtpClient::new(cfg).unwrap_err();
        assert!(
            matches!(err, ProviderError::InvalidInput(_)),
            "{what}: {err:?}"
        );
        assert_error_has_no_secret(&err);
    }
    // Both TLS modes build (TLS is only used when connecting).
    for tls in [SmtpTls::StartTls, SmtpTls::Tls] {
        let cfg = SmtpConfig {
            host: "smtp.example.com".into(),
            tls,
            ..good.clone()
        };
        assert!(SmtpClient::new(cfg).is_ok(), "{tls:?}");
    }
}

#[tokio::test]
async fn password_never_shows_in_debug_output_or_errors() {
    let sink = Sink::start().await;
    let cfg = config(&sink, Some(PASSWORD));
    let config_debug = format!("{cfg:?}");
    assert_no_secret(&config_debug);
    assert!(config_debug.contains("[redacted]"), "{config_debug}");
    assert!(config_debug.contains(USERNAME), "{config_debug}");

    let client = SmtpClient::new(cfg).unwrap();
    let client_debug = format!("{client:?}");
    assert_no_secret(&client_debug);
    assert!(client_debug.contains("[redacted]"), "{client_debug}");
    assert_no_secret(&format!("{client:#?}"));

    for to in [NOBODY, BUSY, "not an address"] {
        let err = client.send(&email(to)).await.unwrap_err();
        assert_error_has_no_secret(&err);
    }
    let wrong = SmtpClient::new(config(&sink, Some(WRONG_PASSWORD))).unwrap();
    assert_error_has_no_secret(&wrong.send(&email(TO)).await.unwrap_err());
    assert_error_has_no_secret(&wrong.check().await.unwrap_err());
}

#[tokio::test]
async fn logs_carry_neither_the_password_nor_the_message() {
    let sink = Sink::start().await;
    let client = client(&sink, Some(PASSWORD));
    let msg = OutboundEmail {
        to: TO.to_owned(),
        subject: SUBJECT.to_owned(),
        text: BODY.to_owned(),
        reply_to: Some("desk@acme.example".to_owned()),
    };
    let sent = client.send(&msg).await.unwrap();
    let _ = client.send(&email(NOBODY)).await.unwrap_err();
    let _ = client.send(&email(BUSY)).await.unwrap_err();
    let wrong = SmtpClient::new(config(&sink, Some(WRONG_PASSWORD))).unwrap();
    let _ = wrong.send(&msg).await.unwrap_err();
    let refused = SmtpClient::new(config_for(closed_port().await, Some(PASSWORD))).unwrap();
    let _ = refused.send(&msg).await.unwrap_err();
    client.check().await.unwrap();

    // Every test in this binary logs into the same capture; none may leak.
    let logs = common::logs().all();
    assert!(
        logs.contains(&sent.message_id),
        "sends are traceable: {logs}"
    );
    for code in ["550", "451", "535"] {
        assert!(logs.contains(code), "reply code {code} is logged: {logs}");
    }
    assert_no_secret(&logs);
    assert!(!logs.contains(WRONG_PASSWORD), "{logs}");
    for private in [
        TO,
        NOBODY,
        BUSY,
        "crème",
        "Café",
        "See you!",
        "no such user",
    ] {
        assert!(
            !logs.contains(private),
            "{private} leaked into the logs: {logs}"
        );
    }
}

#[tokio::test]
async fn check_connects_authenticates_and_sends_noop() {
    let sink = Sink::start().await;
    let client = client(&sink, Some(PASSWORD));

    client.check().await.unwrap();

    assert_eq!(
        sink.auths(),
        vec![(USERNAME.to_owned(), PASSWORD.to_owned())]
    );
    let commands = sink.commands();
    assert!(commands.iter().any(|c| c == "NOOP"), "{commands:?}");
    assert!(!commands.iter().any(|c| c.starts_with("MAIL FROM:")));
    assert!(sink.deliveries().is_empty());
}

#[tokio::test]
async fn check_fails_when_nothing_listens() {
    let port = closed_port().await;
    let client = SmtpClient::new(config_for(port, None)).unwrap();
    let err = client.check().await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn starttls_is_required_never_skipped() {
    // The sink does not offer STARTTLS: no credentials and no message may go out in
    // clear text.
    let sink = Sink::start().await;
    let cfg = SmtpConfig {
        tls: SmtpTls::StartTls,
        ..config(&sink, Some(PASSWORD))
    };
    let client = SmtpClient::new(cfg).unwrap();

    let err = client.send(&email(TO)).await.unwrap_err();

    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "smtp_unsupported".into()
        }
    );
    assert!(sink.auths().is_empty());
    assert!(sink.deliveries().is_empty());
    let commands = sink.commands();
    assert!(
        !commands
            .iter()
            .any(|c| c.starts_with("AUTH") || c.starts_with("MAIL")),
        "{commands:?}"
    );
}

#[tokio::test]
async fn implicit_tls_against_a_plaintext_server_fails_without_sending() {
    let sink = Sink::start().await;
    let cfg = SmtpConfig {
        tls: SmtpTls::Tls,
        ..config(&sink, Some(PASSWORD))
    };
    let client = SmtpClient::new(cfg).unwrap();

    let err = client.send(&email(TO)).await.unwrap_err();

    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    assert!(sink.auths().is_empty());
    assert!(sink.deliveries().is_empty());
    assert_error_has_no_secret(&err);
}
