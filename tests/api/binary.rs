//! The `servicegraph` binary as `cargo run` starts it: serves on a fresh data directory
//! (SQLite, migrations, demo seed), allocates with jemalloc, with `LOG_FORMAT=json` writes
//! JSON log lines, and stops cleanly on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

#[tokio::test]
async fn the_binary_starts_on_a_fresh_directory_logs_json_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_servicegraph"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
        .await
        .expect("the server starts within 60 s")
        .unwrap()
        .expect("a first line");
    let base = first
        .strip_prefix("Servicegraph listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_string();
    let mut banner = Vec::new();
    for _ in 0..3 {
        banner.push(stdout.next_line().await.unwrap().unwrap_or_default());
    }
    assert!(
        banner
            .iter()
            .any(|l| l.contains("Demo login: owner@demo.servicegraph.dev")),
        "{banner:?}"
    );
    let health = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let playground = reqwest::get(format!("{base}/playground")).await.unwrap();
    assert_eq!(playground.status().as_u16(), 200);
    assert!(dir.path().join("data/servicegraph.db").is_file());
    let pid = child.id().unwrap().to_string();
    // The binary allocates with jemalloc configured by `src/main.rs`: exactly one of its
    // purging threads runs (`background_thread:true,max_background_threads:1`; glibc's
    // malloc has none, jemalloc's default would start one per CPU).
    #[cfg(target_os = "linux")]
    {
        let threads: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .map(|t| {
                std::fs::read_to_string(t.unwrap().path().join("comm"))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            })
            .collect();
        let purgers = threads.iter().filter(|n| *n == "jemalloc_bg_thd").count();
        assert_eq!(purgers, 1, "{threads:?}");
    }
    // SIGTERM: a graceful shutdown, exit status 0.
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("stopped within 15 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "the server logged something");
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
}
