//! Test knobs at runtime (`/_sim/config`), counters (`/_sim/stats`) and
//! injected faults.

use serde_json::{Value, json};

use crate::support::{Sim, fast};

async fn admin(sim: &Sim, path: &str, body: Option<Value>) -> Value {
    let url = format!("{}{path}", sim.running.endpoint());
    let req = match body {
        Some(b) => sim.http.post(url).json(&b),
        None => sim.http.get(url),
    };
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

/// Statuses of `n` invalid inserts (400 unless a fault is injected first).
async fn attempts(sim: &Sim, n: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        let (status, _) = sim.post(&sim.p("global/networks"), json!({"name": "Bad"})).await;
        statuses.push(status);
    }
    statuses
}

#[tokio::test]
async fn faults_are_injected_at_the_configured_rate_and_reproducibly() {
    let sim = Sim::start(fast()).await;
    let view = admin(&sim, "/_sim/config", Some(json!({"fail_rate": 0.5, "seed": 7}))).await;
    assert_eq!(view["fail_rate"], 0.5);
    let first = attempts(&sim, 200).await;
    let faults = first.iter().filter(|s| **s != 400).count();
    assert!((60..=140).contains(&faults), "{faults} faults in 200 calls");
    assert!(first.iter().all(|s| [400, 403, 429, 503].contains(s)));
    for kind in [403, 429, 503] {
        assert!(first.contains(&kind), "no {kind} injected");
    }
    let stats = admin(&sim, "/_sim/stats", None).await;
    assert_eq!(stats["faults_total"], faults as u64);
    assert_eq!(stats["requests"]["compute.networks.insert"], 200);
    // Reads are not faulted unless asked for.
    for _ in 0..20 {
        assert_eq!(sim.get(&sim.p("global/networks")).await.0, 200);
    }
    admin(&sim, "/_sim/config", Some(json!({"seed": 7}))).await;
    assert_eq!(attempts(&sim, 50).await, first[..50]);
}

#[tokio::test]
async fn the_concurrent_operations_fault_carries_google_error_info() {
    let sim = Sim::start(fast()).await;
    admin(&sim, "/_sim/config", Some(json!({"fail_rate": 1.0, "fail_kinds": ["concurrent_operations_403"]}))).await;
    let (status, err) = sim.post(&sim.p("global/networks"), json!({"name": "n"})).await;
    assert_eq!(status, 403);
    assert_eq!(err["error"]["message"], "Rate Limit Exceeded");
    assert_eq!(err["error"]["errors"][0]["reason"], "rateLimitExceeded");
    // The exact shape seen in real output (tests/data/error-examples.json).
    let examples: Value = serde_json::from_str(include_str!("../data/error-examples.json")).unwrap();
    let observed = examples["observed"].as_array().unwrap().iter().find(|o| o["http"] == 403 && o["details"].is_array());
    let observed = observed.unwrap();
    assert_eq!(err["error"]["message"], observed["message"]);
    assert_eq!(err["error"]["details"][0], observed["details"][0]);
    admin(&sim, "/_sim/config", Some(json!({"fail_kinds": ["rate_limit_429"], "fail_reads": true}))).await;
    let (status, err) = sim.get(&sim.p("global/networks")).await;
    assert_eq!((status, &err["error"]["errors"][0]["reason"]), (429, &json!("rateLimitExceeded")));
}

#[tokio::test]
async fn knobs_change_at_runtime() {
    let sim = Sim::start(fast()).await;
    let view = admin(&sim, "/_sim/config", Some(json!({"operation_latency_ms": 0, "peering_limit": 3}))).await;
    assert_eq!(view["operation_latency_ms"], 0);
    assert_eq!(view["peering_limit"], 3);
    let (_, op) = sim.post(&sim.p("global/networks"), json!({"name": "n", "autoCreateSubnetworks": false})).await;
    assert_eq!(op["status"], "DONE", "{op}");
    let url = format!("{}/_sim/config", sim.running.endpoint());
    let resp = sim.http.post(url).json(&json!({"fail_rate": 2.0})).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    admin(&sim, "/_sim/reset", Some(json!({}))).await;
    assert_eq!(sim.get(&sim.p("global/networks/n")).await.0, 404);
}
