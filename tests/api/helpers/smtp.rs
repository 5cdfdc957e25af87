//! A local SMTP server for the API tests: accepts every message (RFC 5321's minimal
//! dialogue: EHLO, MAIL, RCPT, DATA, QUIT) and keeps what it received.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as received: envelope sender, recipients and the raw `DATA`.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// `MAIL FROM` address.
    pub from: String,
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The message (headers and body), dot-stuffing removed.
    pub data: String,
}

/// A running sink: its port and what it received.
#[derive(Clone)]
pub struct Sink {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// Messages received, in order.
    pub received: Arc<Mutex<Vec<Received>>>,
}

fn addr(arg: &str) -> String {
    arg.split(':')
        .nth(1)
        .unwrap_or("")
        .trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or("")
        .to_string()
}

/// Starts a sink on a free port.
pub async fn start() -> Sink {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink = Sink {
        port: listener.local_addr().unwrap().port(),
        received: Arc::default(),
    };
    let store = sink.received.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 sink.test ESMTP\r\n").await;
                let mut cur = Received::default();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-sink.test\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM") {
                        cur = Received {
                            from: addr(&line),
                            ..Received::default()
                        };
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO") {
                        cur.to.push(addr(&line));
                        b"250 OK\r\n"
                    } else if upper == "DATA" {
                        let _ = w.write_all(b"354 go ahead\r\n").await;
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            cur.data.push_str(l.strip_prefix('.').unwrap_or(&l));
                            cur.data.push('\n');
                        }
                        store.lock().unwrap().push(std::mem::take(&mut cur));
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    if w.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    sink
}
