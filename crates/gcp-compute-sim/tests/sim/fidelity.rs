//! Runs tests/fidelity.py: Google's official Python client against the
//! simulator, every raw response checked against the discovery schemas.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::Sim;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// `PEERCTL_PYTHON`, else the workspace's `.venv`.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("PEERCTL_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(MANIFEST_DIR).join("../../.venv/bin/python3");
    assert!(venv.exists(), "no Python with google-cloud-compute: set PEERCTL_PYTHON or run `./just setup` to create {}", venv.display());
    venv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_cloud_compute_client_agrees_with_the_discovery_schemas() {
    let python = python();
    let config = gcp_compute_sim::Config { operation_latency: Duration::from_millis(50), ..Default::default() };
    let sim = Sim::start(config).await;
    let script = format!("{MANIFEST_DIR}/tests/fidelity.py");
    let discovery = format!("{MANIFEST_DIR}/tests/data/compute-v1-peering.discovery.json");
    let out = tokio::process::Command::new(&python)
        .args([script.as_str(), &sim.running.base_url(), discovery.as_str()])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {}: {e} (run `./just setup`)", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "fidelity.py failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("fidelity: OK"), "{stdout}");
}
