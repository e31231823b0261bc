//! Firewall defaults, merge patch, full update and validation.

use reqwest::Method;
use serde_json::json;

use crate::support::{PROJECT, Sim, assert_error, fast};

#[tokio::test]
async fn firewall_defaults_are_applied_and_patch_merges() {
    let sim = Sim::start(fast()).await;
    sim.network("net-a").await;
    let body = json!({"name": "fw", "network": "global/networks/net-a", "description": "d",
        "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}], "sourceRanges": ["10.0.0.0/8"]});
    sim.run(Method::POST, &sim.p("global/firewalls"), Some(body)).await;
    let (_, fw) = sim.get(&sim.p("global/firewalls/fw")).await;
    assert_eq!(fw["kind"], "compute#firewall");
    assert_eq!(fw["priority"], 1000);
    assert_eq!(fw["direction"], "INGRESS");
    assert_eq!(fw["disabled"], false);
    assert_eq!(fw["network"], format!("https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/net-a"));
    assert_eq!(fw["selfLink"], format!("https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/firewalls/fw"));

    let patch = json!({"sourceRanges": ["10.0.0.0/8", "192.168.0.0/16"], "priority": 900});
    sim.run(Method::PATCH, &sim.p("global/firewalls/fw"), Some(patch)).await;
    let (_, fw) = sim.get(&sim.p("global/firewalls/fw")).await;
    assert_eq!(fw["sourceRanges"], json!(["10.0.0.0/8", "192.168.0.0/16"]));
    assert_eq!(fw["priority"], 900);
    assert_eq!(fw["allowed"], json!([{"IPProtocol": "tcp", "ports": ["22"]}]));
    assert_eq!(fw["description"], "d");

    let replace = json!({"name": "fw", "network": "global/networks/net-a", "denied": [{"IPProtocol": "udp"}]});
    sim.run(Method::PUT, &sim.p("global/firewalls/fw"), Some(replace)).await;
    let (_, fw) = sim.get(&sim.p("global/firewalls/fw")).await;
    assert!(fw.get("allowed").is_none() && fw.get("sourceRanges").is_none(), "{fw}");
    assert_eq!(fw["priority"], 1000);
    assert_eq!(fw["denied"], json!([{"IPProtocol": "udp"}]));
}

#[tokio::test]
async fn firewalls_are_validated() {
    let sim = Sim::start(fast()).await;
    sim.network("net-a").await;
    let rule = |extra: serde_json::Value| {
        let mut body = json!({"name": "fw", "network": "global/networks/net-a", "allowed": [{"IPProtocol": "tcp"}]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let (status, err) = sim.post(&sim.p("global/firewalls"), rule(json!({"sourceRanges": ["10.0.0.0/99"]}))).await;
    assert_error(status, &err, 400, "invalid");
    let (status, err) = sim.post(&sim.p("global/firewalls"), rule(json!({"network": "global/networks/nope"}))).await;
    let message = assert_error(status, &err, 404, "notFound");
    assert_eq!(message, format!("The resource 'projects/{PROJECT}/global/networks/nope' was not found"));
    // Without a network the rule goes to `default`, which does not exist here.
    let (status, err) = sim.post(&sim.p("global/firewalls"), json!({"name": "fw", "allowed": [{"IPProtocol": "tcp"}]})).await;
    assert_error(status, &err, 404, "notFound");
    sim.run(Method::POST, &sim.p("global/firewalls"), Some(rule(json!({})))).await;
    let (status, err) = sim.post(&sim.p("global/firewalls"), rule(json!({}))).await;
    let message = assert_error(status, &err, 409, "alreadyExists");
    assert_eq!(message, format!("The resource 'projects/{PROJECT}/global/firewalls/fw' already exists"));
}

#[tokio::test]
async fn deleting_a_network_with_firewall_rules_fails() {
    let sim = Sim::start(fast()).await;
    sim.network("net-a").await;
    let body = json!({"name": "fw", "network": "global/networks/net-a", "allowed": [{"IPProtocol": "all"}]});
    sim.run(Method::POST, &sim.p("global/firewalls"), Some(body)).await;
    let (_, op) = sim.call(Method::DELETE, &sim.p("global/networks/net-a"), None).await;
    let done = sim.wait(&op).await;
    let message = done["error"]["errors"][0]["message"].as_str().unwrap();
    assert!(message.ends_with(&format!("is already being used by 'projects/{PROJECT}/global/firewalls/fw'")), "{done}");
}
