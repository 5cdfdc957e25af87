//! A TCP proxy between the server and PostgreSQL that a test can pause (bytes stop
//! flowing both ways, connections stay open: what `SIGSTOP` on the database or a network
//! stall looks like) and cut (every connection reset, new ones refused: a killed
//! database), then restore.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const OPEN: u8 = 0;
const PAUSED: u8 = 1;
const CUT: u8 = 2;

/// The proxy's handle; dropping it leaves the proxy running until the test ends.
pub struct Proxy {
    /// The local port it listens on.
    pub port: u16,
    state: Arc<AtomicU8>,
    changed: watch::Sender<u8>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(AtomicU8::new(OPEN));
        let (changed, _) = watch::channel(OPEN);
        let (st, tx) = (state.clone(), changed.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if st.load(Ordering::SeqCst) == CUT {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, tx.subscribe()));
                tokio::spawn(pump(sr, cw, tx.subscribe()));
            }
        });
        Proxy {
            port,
            state,
            changed,
        }
    }

    fn set(&self, s: u8) {
        self.state.store(s, Ordering::SeqCst);
        // `send` would drop the value when no connection is open.
        self.changed.send_replace(s);
    }

    /// Holds every byte until [`Proxy::resume`].
    pub fn pause(&self) {
        self.set(PAUSED);
    }

    /// Resets every connection and refuses new ones until [`Proxy::resume`].
    pub fn cut(&self) {
        self.set(CUT);
    }

    /// Forwards again.
    pub fn resume(&self) {
        self.set(OPEN);
    }
}

/// Copies `from` → `to`, waiting while paused, closing when cut.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut state: watch::Receiver<u8>,
) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = state.changed() => {
                if *state.borrow_and_update() == CUT {
                    return;
                }
                continue;
            }
        };
        // Paused: hold the bytes until resumed (or cut).
        loop {
            let s = *state.borrow_and_update();
            match s {
                CUT => return,
                PAUSED => {
                    if state.changed().await.is_err() {
                        return;
                    }
                }
                _ => break,
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
