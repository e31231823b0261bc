//! The GCP side of the harness: the `gcp-compute-sim` binary on a free
//! loopback port, and networks made through its REST API the way a user's
//! infrastructure code would make them.

use crate::{Result, peerctl_bin};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running simulator; stopped when dropped (unless attached).
pub struct Sim {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT/compute/v1/`
    pub base_url: String,
    http: reqwest::Client,
}

impl Sim {
    /// Starts the binary built beside `peerctl`, with `args` (e.g. `--fail-rate 0.2`).
    pub fn start(args: &[&str]) -> Result<Sim> {
        let bin = peerctl_bin().with_file_name("gcp-compute-sim");
        let mut child = Command::new(&bin)
            .args(["--listen", "127.0.0.1:0", "--operation-latency-ms", "50"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e} (build it: cargo build --workspace --bins)", bin.display()))?;
        let mut first = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout).read_line(&mut first)?;
        }
        let base_url = first.trim().to_string();
        if !base_url.starts_with("http://127.0.0.1:") {
            let _ = child.kill();
            return Err(format!("gcp-compute-sim printed `{base_url}` instead of its base URL").into());
        }
        Ok(Sim { child: Some(child), base_url, http: reqwest::Client::new() })
    }

    /// The simulator's process id, when this handle started it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A handle on a simulator someone else started (the demo's); never stopped by us.
    pub fn attach(base_url: String) -> Sim {
        Sim { child: None, base_url, http: reqwest::Client::new() }
    }

    /// What a user sets to point peerctl at this simulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", self.base_url.clone()), ("GOOGLE_OAUTH_ACCESS_TOKEN", "e2e-token".into())]
    }

    /// One Compute call; a returned operation is waited for and its error is an error.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.base_url)).bearer_auth("e2e-token");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let mut value: Value = response.json().await?;
        if !status.is_success() {
            return Err(format!("{path}: {status}: {value}").into());
        }
        while value.get("kind").and_then(Value::as_str) == Some("compute#operation") && value["status"] != "DONE" {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let link = value["selfLink"].as_str().unwrap_or_default();
            let at = link.find("projects/").ok_or("operation without selfLink")?;
            value = self.http.get(format!("{}{}", self.base_url, &link[at..])).bearer_auth("e2e-token").send().await?.json().await?;
        }
        if let Some(error) = value.get("error") {
            return Err(format!("{path}: operation failed: {error}").into());
        }
        Ok(value)
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// A custom-mode network `name` with one subnetwork per range (`{name}-0`, …) in us-central1.
    pub async fn network(&self, project: &str, name: &str, ranges: &[&str]) -> Result<()> {
        let post = reqwest::Method::POST;
        self.call(
            post.clone(),
            &format!("projects/{project}/global/networks"),
            Some(json!({"name": name, "autoCreateSubnetworks": false})),
        )
        .await?;
        for (i, range) in ranges.iter().enumerate() {
            let body = json!({"name": format!("{name}-{i}"), "network": format!("projects/{project}/global/networks/{name}"), "ipCidrRange": range});
            self.call(post.clone(), &format!("projects/{project}/regions/us-central1/subnetworks"), Some(body)).await?;
        }
        Ok(())
    }

    /// The peering entries of a network as (name, peer network URL, state).
    pub async fn peerings(&self, project: &str, network: &str) -> Result<Vec<(String, String, String)>> {
        let net = self.get(&format!("projects/{project}/global/networks/{network}")).await?;
        let entries = net.get("peerings").and_then(Value::as_array).cloned().unwrap_or_default();
        let text = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(entries.iter().map(|e| (text(e, "name"), text(e, "network"), text(e, "state"))).collect())
    }

    /// Names of the project's firewall rules.
    pub async fn firewalls(&self, project: &str) -> Result<Vec<String>> {
        let list = self.get(&format!("projects/{project}/global/firewalls")).await?;
        let items = list.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(items.iter().filter_map(|f| f.get("name").and_then(Value::as_str).map(str::to_string)).collect())
    }

    /// Changes the simulator's knobs (`/_sim/config`), e.g. `{"fail_rate": 0.2}`.
    pub async fn configure(&self, update: Value) -> Result<()> {
        let root = self.base_url.trim_end_matches("compute/v1/");
        let response = self.http.post(format!("{root}_sim/config")).json(&update).send().await?;
        if !response.status().is_success() {
            return Err(format!("/_sim/config refused {update}: {}", response.text().await?).into());
        }
        Ok(())
    }

    /// The simulator's request and fault counters.
    pub async fn stats(&self) -> Result<Value> {
        let root = self.base_url.trim_end_matches("compute/v1/");
        Ok(self.http.get(format!("{root}_sim/stats")).send().await?.json().await?)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
