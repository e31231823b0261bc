//! A started simulator and a small JSON client for it.

use std::time::Duration;

use gcp_compute_sim::{Config, Running};
use reqwest::Method;
use serde_json::{Value, json};

pub const PROJECT: &str = "test-project";

pub struct Sim {
    pub running: Running,
    pub http: reqwest::Client,
}

/// Fast operations unless a test needs to observe them running.
pub fn fast() -> Config {
    Config { operation_latency: Duration::from_millis(20), ..Config::default() }
}

pub fn slow() -> Config {
    Config { operation_latency: Duration::from_millis(600), ..Config::default() }
}

impl Sim {
    pub async fn start(config: Config) -> Sim {
        let addr = "127.0.0.1:0".parse().unwrap();
        let running = gcp_compute_sim::start(config, addr).await.unwrap();
        Sim { running, http: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.running.base_url(), path)
    }

    /// `projects/test-project/…`
    pub fn p(&self, rest: &str) -> String {
        format!("projects/{PROJECT}/{rest}")
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path)).bearer_auth("test-token");
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Long-polls an operation until it is DONE.
    pub async fn wait(&self, op: &Value) -> Value {
        let link = op["selfLink"].as_str().expect("operation has a selfLink");
        let path = link.strip_prefix(gcp_compute_sim::LINK_BASE).unwrap();
        let mut op = op.clone();
        for _ in 0..50 {
            if op["status"] == "DONE" {
                return op;
            }
            let (status, next) = self.post(&format!("{path}/wait"), json!({})).await;
            assert_eq!(status, 200, "{next}");
            op = next;
        }
        panic!("operation never finished: {op}");
    }

    /// Starts a mutation, waits for it and asserts that it succeeded.
    pub async fn run(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, op) = self.call(method, path, body).await;
        assert_eq!(status, 200, "{path}: {op}");
        let op = self.wait(&op).await;
        assert!(op.get("error").is_none(), "{path} failed: {op}");
        op
    }

    pub async fn network(&self, name: &str) {
        let body = json!({"name": name, "autoCreateSubnetworks": false});
        self.run(Method::POST, &self.p("global/networks"), Some(body)).await;
    }

    pub async fn subnet(&self, region: &str, name: &str, network: &str, cidr: &str) {
        let body = json!({"name": name, "network": format!("global/networks/{network}"), "ipCidrRange": cidr});
        self.run(Method::POST, &self.p(&format!("regions/{region}/subnetworks")), Some(body)).await;
    }

    /// Starts an addPeering and returns its HTTP answer.
    pub async fn add_peering(&self, network: &str, peer: &str, name: &str) -> (u16, Value) {
        let body = json!({"networkPeering": {
            "name": name,
            "network": format!("projects/{PROJECT}/global/networks/{peer}"),
            "exchangeSubnetRoutes": true,
        }});
        self.post(&self.p(&format!("global/networks/{network}/addPeering")), body).await
    }

    pub async fn peer(&self, network: &str, peer: &str, name: &str) -> Value {
        let (status, op) = self.add_peering(network, peer, name).await;
        assert_eq!(status, 200, "{op}");
        self.wait(&op).await
    }

    pub async fn remove_peering(&self, network: &str, name: &str) -> (u16, Value) {
        self.post(&self.p(&format!("global/networks/{network}/removePeering")), json!({"name": name})).await
    }

    /// The peering entries of a network.
    pub async fn peerings(&self, network: &str) -> Vec<Value> {
        let (status, net) = self.get(&self.p(&format!("global/networks/{network}"))).await;
        assert_eq!(status, 200, "{net}");
        net["peerings"].as_array().cloned().unwrap_or_default()
    }
}

/// Asserts Google's error envelope with this code and reason; returns the message.
pub fn assert_error(status: u16, body: &Value, code: u16, reason: &str) -> String {
    assert_eq!(status, code, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["errors"][0]["reason"], reason, "{body}");
    assert_eq!(body["error"]["errors"][0]["message"], body["error"]["message"], "{body}");
    body["error"]["message"].as_str().unwrap().to_string()
}
