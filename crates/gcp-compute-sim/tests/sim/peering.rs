//! Peering semantics: computed state, overlap inside the operation, one
//! peering operation at a time, auto-mode pairs, the per-network limit.

use reqwest::Method;
use serde_json::json;

use crate::support::{PROJECT, Sim, assert_error, fast, slow};

async fn two_networks(sim: &Sim) {
    sim.network("net-a").await;
    sim.network("net-b").await;
    sim.subnet("us-central1", "sub-a", "net-a", "10.1.0.0/24").await;
    sim.subnet("europe-west1", "sub-b", "net-b", "10.2.0.0/24").await;
}

#[tokio::test]
async fn peering_is_active_exactly_when_both_sides_point_at_each_other() {
    let sim = Sim::start(fast()).await;
    two_networks(&sim).await;
    sim.peer("net-a", "net-b", "a-b").await;
    let a = &sim.peerings("net-a").await[0];
    assert_eq!(a["state"], "INACTIVE");
    assert!(a["stateDetails"].as_str().unwrap().ends_with("]: Waiting for peer network to connect."), "{a}");
    assert_eq!(a["network"], format!("https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/net-b"));
    assert_eq!(a["exchangeSubnetRoutes"], true);
    assert_eq!(a["exportCustomRoutes"], false);
    assert_eq!(a["importCustomRoutes"], false);
    assert_eq!(a["exportSubnetRoutesWithPublicIp"], true);
    assert_eq!(a["importSubnetRoutesWithPublicIp"], false);
    assert_eq!(a["stackType"], "IPV4_ONLY");
    assert_eq!(a["peerMtu"], 1460);

    sim.peer("net-b", "net-a", "b-a").await;
    for network in ["net-a", "net-b"] {
        let p = &sim.peerings(network).await[0];
        assert_eq!(p["state"], "ACTIVE", "{p}");
        assert!(p["stateDetails"].as_str().unwrap().ends_with("]: Connected."), "{p}");
    }
}

#[tokio::test]
async fn removing_one_side_leaves_the_other_inactive() {
    let sim = Sim::start(fast()).await;
    two_networks(&sim).await;
    sim.peer("net-a", "net-b", "ab").await;
    sim.peer("net-b", "net-a", "ab").await;
    let (status, op) = sim.remove_peering("net-b", "ab").await;
    assert_eq!(status, 200, "{op}");
    sim.wait(&op).await;
    assert!(sim.peerings("net-b").await.is_empty());
    let a = &sim.peerings("net-a").await[0];
    assert_eq!(a["state"], "INACTIVE", "{a}");
    let (status, body) = sim.remove_peering("net-b", "ab").await;
    assert_error(status, &body, 404, "notFound");
}

#[tokio::test]
async fn overlapping_ranges_fail_inside_the_finished_operation() {
    let sim = Sim::start(slow()).await;
    two_networks(&sim).await;
    // The overlap is with a secondary range of the peer.
    let body = json!({"name": "sub-b2", "network": "global/networks/net-b", "ipCidrRange": "10.3.0.0/24",
        "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": "10.1.0.0/16"}]});
    sim.run(Method::POST, &sim.p("regions/us-east1/subnetworks"), Some(body)).await;
    let (status, op) = sim.add_peering("net-a", "net-b", "a-b").await;
    assert_eq!(status, 200, "{op}");
    assert_eq!(op["status"], "RUNNING");
    let done = sim.wait(&op).await;
    let want = format!(
        "An IP range in the peer network (10.1.0.0/16) overlaps with an IP range in the local network (10.1.0.0/24) \
         allocated by resource (projects/{PROJECT}/regions/us-central1/subnetworks/sub-a)."
    );
    assert_eq!(done["error"]["errors"][0]["message"], want, "{done}");
    assert_eq!(done["httpErrorStatusCode"], 400);
    assert_eq!(done["httpErrorMessage"], "BAD REQUEST");
    assert!(sim.peerings("net-a").await.is_empty());
}

#[tokio::test]
async fn a_second_peering_operation_on_either_network_fails_while_one_runs() {
    let sim = Sim::start(slow()).await;
    two_networks(&sim).await;
    sim.network("net-c").await;
    let (status, first) = sim.add_peering("net-a", "net-b", "ab").await;
    assert_eq!(status, 200);
    let want = "There is a peering operation in progress on the local or peer network. Try again later.";
    for (network, peer) in [("net-b", "net-a"), ("net-c", "net-b"), ("net-a", "net-c")] {
        let (status, body) = sim.add_peering(network, peer, "x").await;
        assert_eq!(assert_error(status, &body, 400, "badRequest"), want);
    }
    sim.wait(&first).await;
    sim.peer("net-b", "net-a", "ab").await;
    assert_eq!(sim.peerings("net-a").await[0]["state"], "ACTIVE");
}

#[tokio::test]
async fn reads_show_the_old_state_until_the_operation_is_done() {
    let sim = Sim::start(slow()).await;
    two_networks(&sim).await;
    let (_, op) = sim.add_peering("net-a", "net-b", "ab").await;
    assert!(sim.peerings("net-a").await.is_empty());
    let (_, got) = sim.get(&sim.p(&format!("global/operations/{}", op["name"].as_str().unwrap()))).await;
    assert_eq!(got["status"], "RUNNING");
    let done = sim.wait(&op).await;
    assert_eq!(done["progress"], 100);
    assert!(done["endTime"].is_string());
    assert_eq!(sim.peerings("net-a").await.len(), 1);
}

#[tokio::test]
async fn two_auto_mode_networks_cannot_peer() {
    let sim = Sim::start(fast()).await;
    for name in ["auto-1", "auto-2"] {
        let body = json!({"name": name, "autoCreateSubnetworks": true});
        sim.run(Method::POST, &sim.p("global/networks"), Some(body)).await;
    }
    let (_, net) = sim.get(&sim.p("global/networks/auto-1")).await;
    assert!(net["subnetworks"].as_array().unwrap().len() > 20, "{net}");
    let (status, op) = sim.add_peering("auto-1", "auto-2", "x").await;
    assert_eq!(status, 200);
    let done = sim.wait(&op).await;
    let message = done["error"]["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("An IP range in the peer network (10."), "{done}");
    assert!(sim.peerings("auto-1").await.is_empty());
}

#[tokio::test]
async fn the_peering_limit_is_enforced_per_network() {
    let config = gcp_compute_sim::Config { peering_limit: 2, ..fast() };
    let sim = Sim::start(config).await;
    for (i, name) in ["hub", "s1", "s2", "s3"].iter().enumerate() {
        sim.network(name).await;
        sim.subnet("us-central1", &format!("{name}-sub"), name, &format!("10.{i}.0.0/24")).await;
    }
    sim.peer("hub", "s1", "p1").await;
    sim.peer("hub", "s2", "p2").await;
    let (_, op) = sim.add_peering("hub", "s3", "p3").await;
    let done = sim.wait(&op).await;
    assert_eq!(done["error"]["errors"][0]["code"], "QUOTA_EXCEEDED", "{done}");
    assert_eq!(done["httpErrorStatusCode"], 403);
    assert_eq!(sim.peerings("hub").await.len(), 2);
}

#[tokio::test]
async fn add_peering_refuses_bad_requests_synchronously() {
    let sim = Sim::start(fast()).await;
    two_networks(&sim).await;
    let (status, body) = sim.add_peering("net-a", "missing", "x").await;
    let message = assert_error(status, &body, 404, "notFound");
    assert_eq!(message, format!("The resource 'projects/{PROJECT}/global/networks/missing' was not found"));
    let (status, body) = sim.add_peering("net-a", "net-b", "Bad_Name").await;
    assert_error(status, &body, 400, "invalid");
    sim.peer("net-a", "net-b", "ab").await;
    let (status, body) = sim.add_peering("net-a", "net-b", "ab").await;
    assert_error(status, &body, 400, "invalid");
}

#[tokio::test]
async fn update_peering_changes_route_flags_and_routes_are_exchanged() {
    let sim = Sim::start(fast()).await;
    two_networks(&sim).await;
    sim.peer("net-a", "net-b", "ab").await;
    sim.peer("net-b", "net-a", "ab").await;
    let body = json!({"networkPeering": {"name": "ab", "exportCustomRoutes": true, "stackType": "IPV4_IPV6"}});
    sim.run(Method::PATCH, &sim.p("global/networks/net-a/updatePeering"), Some(body)).await;
    let a = &sim.peerings("net-a").await[0];
    assert_eq!(a["exportCustomRoutes"], true);
    assert_eq!(a["importCustomRoutes"], false);
    assert_eq!(a["stackType"], "IPV4_IPV6");
    let path = sim.p("global/networks/net-a/listPeeringRoutes?peeringName=ab&direction=INCOMING&region=europe-west1");
    let (status, list) = sim.get(&path).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["kind"], "compute#exchangedPeeringRoutesList");
    assert_eq!(list["items"][0]["destRange"], "10.2.0.0/24");
    assert_eq!(list["items"][0]["type"], "SUBNET_PEERING_ROUTE");
}
