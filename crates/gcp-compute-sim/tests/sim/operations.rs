//! Operations, requestId idempotency, deletes that fail in the operation.

use reqwest::Method;
use serde_json::json;

use crate::support::{PROJECT, Sim, assert_error, fast, slow};

#[tokio::test]
async fn a_retry_with_the_same_request_id_returns_the_same_operation() {
    let sim = Sim::start(slow()).await;
    let path = sim.p("global/networks?requestId=6f1c2b9e-3d4a-4f5b-8c7d-0e1f2a3b4c5d");
    let body = json!({"name": "net-a", "autoCreateSubnetworks": false});
    let (s1, first) = sim.post(&path, body.clone()).await;
    let (s2, again) = sim.post(&path, body.clone()).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first["name"], again["name"]);
    assert_eq!(first["clientOperationId"], "6f1c2b9e-3d4a-4f5b-8c7d-0e1f2a3b4c5d");
    sim.wait(&first).await;
    let (s3, after) = sim.post(&path, body.clone()).await;
    assert_eq!(s3, 200);
    assert_eq!(after["name"], first["name"]);
    assert_eq!(after["status"], "DONE");
    // Without the requestId the same insert is a conflict.
    let (status, err) = sim.post(&sim.p("global/networks"), body).await;
    assert_error(status, &err, 409, "alreadyExists");
    let (status, err) = sim.post(&sim.p("global/networks?requestId=nope"), json!({})).await;
    assert_error(status, &err, 400, "invalid");
}

#[tokio::test]
async fn subnetwork_operations_are_regional() {
    let sim = Sim::start(fast()).await;
    sim.network("net-a").await;
    let body = json!({"name": "sub", "network": "global/networks/net-a", "ipCidrRange": "10.0.0.0/24"});
    let (status, op) = sim.post(&sim.p("regions/us-central1/subnetworks"), body).await;
    assert_eq!(status, 200);
    let want = format!("https://www.googleapis.com/compute/v1/projects/{PROJECT}/regions/us-central1");
    assert_eq!(op["region"], want);
    assert!(op["selfLink"].as_str().unwrap().starts_with(&format!("{want}/operations/operation-")));
    let done = sim.wait(&op).await;
    let (status, got) = sim.get(&sim.p(&format!("regions/us-central1/operations/{}", done["name"].as_str().unwrap()))).await;
    assert_eq!((status, &got["status"]), (200, &json!("DONE")));
    let (_, subnet) = sim.get(&sim.p("regions/us-central1/subnetworks/sub")).await;
    assert_eq!(subnet["gatewayAddress"], "10.0.0.1");
    assert_eq!(subnet["kind"], "compute#subnetwork");
}

#[tokio::test]
async fn overlapping_subnetworks_in_one_network_are_refused_at_insert() {
    let sim = Sim::start(fast()).await;
    sim.network("net-a").await;
    sim.subnet("us-central1", "one", "net-a", "10.0.0.0/16").await;
    let body = json!({"name": "two", "network": "global/networks/net-a", "ipCidrRange": "10.0.128.0/20"});
    let (status, err) = sim.post(&sim.p("regions/europe-west1/subnetworks"), body).await;
    let message = assert_error(status, &err, 400, "invalid");
    assert_eq!(message, "Invalid IPCidrRange: 10.0.128.0/20 conflicts with existing subnetwork 'one' in region 'us-central1'.");
    let body = json!({"name": "three", "network": "global/networks/net-a", "ipCidrRange": "10.1.0.0/33"});
    let (status, err) = sim.post(&sim.p("regions/europe-west1/subnetworks"), body).await;
    assert_error(status, &err, 400, "invalid");
}

#[tokio::test]
async fn deleting_a_network_in_use_fails_in_the_operation() {
    let sim = Sim::start(fast()).await;
    sim.network("net-a").await;
    sim.subnet("us-central1", "sub", "net-a", "10.0.0.0/24").await;
    let (status, op) = sim.call(Method::DELETE, &sim.p("global/networks/net-a"), None).await;
    assert_eq!(status, 200);
    let done = sim.wait(&op).await;
    let want = format!(
        "The network resource 'projects/{PROJECT}/global/networks/net-a' is already being used by \
         'projects/{PROJECT}/regions/us-central1/subnetworks/sub'"
    );
    assert_eq!(done["error"]["errors"][0]["message"], want);
    assert_eq!(done["error"]["errors"][0]["code"], "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE");
    sim.run(Method::DELETE, &sim.p("regions/us-central1/subnetworks/sub"), None).await;
    sim.run(Method::DELETE, &sim.p("global/networks/net-a"), None).await;
    let (status, err) = sim.get(&sim.p("global/networks/net-a")).await;
    assert_error(status, &err, 404, "notFound");
}

#[tokio::test]
async fn wait_on_an_unknown_operation_is_not_found() {
    let sim = Sim::start(fast()).await;
    let (status, err) = sim.post(&sim.p("global/operations/operation-1/wait"), json!({})).await;
    assert_error(status, &err, 404, "notFound");
}
