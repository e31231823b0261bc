//! The `gcp-compute-sim` binary: first stdout line, loopback guard.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_gcp-compute-sim");

#[tokio::test]
async fn the_binary_prints_its_base_url_first_and_serves() {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--operation-latency-ms", "0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).await.unwrap();
    let base = line.trim();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/compute/v1/"), "{base}");
    let resp = reqwest::Client::new().get(format!("{base}projects/p/global/networks")).bearer_auth("t").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_binary_refuses_non_loopback_addresses() {
    let out = Command::new(BIN).args(["--listen", "0.0.0.0:0"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("non-loopback"), "{stderr}");
}
