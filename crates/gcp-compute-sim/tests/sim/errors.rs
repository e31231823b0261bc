//! Authentication and request validation in Google's error envelope.

use serde_json::json;

use crate::support::{Sim, assert_error, fast};

#[tokio::test]
async fn requests_without_a_bearer_token_get_401() {
    let sim = Sim::start(fast()).await;
    for auth in [None, Some("Bearer "), Some("Basic abc")] {
        let mut req = sim.http.get(sim.url(&sim.p("global/networks")));
        if let Some(value) = auth {
            req = req.header("Authorization", value);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], 401);
        assert_eq!(body["error"]["errors"][0]["reason"], "required");
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    }
    assert_eq!(sim.running.stats().unauthorized, 3);
}

#[tokio::test]
async fn invalid_bodies_and_names_are_refused() {
    let sim = Sim::start(fast()).await;
    let (status, err) = sim.post(&sim.p("global/networks"), json!({"name": "Net_1", "autoCreateSubnetworks": false})).await;
    let message = assert_error(status, &err, 400, "invalid");
    assert_eq!(
        message,
        "Invalid value for field 'resource.name': 'Net_1'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'"
    );
    let (status, err) = sim.post(&sim.p("global/networks"), json!({"name": "n", "autoCreateSubnetworks": false, "bogus": 1})).await;
    assert_error(status, &err, 400, "invalid");
    let (status, err) = sim.post(&sim.p("global/networks"), json!({"autoCreateSubnetworks": false})).await;
    assert_error(status, &err, 400, "required");
    let (status, err) = sim.get(&sim.p("global/networks/none")).await;
    assert_error(status, &err, 404, "notFound");
    let body = json!({"name": "s", "network": "global/networks/none", "ipCidrRange": "10.0.0.0/24"});
    let (status, err) = sim.post(&sim.p("regions/mars-north1/subnetworks"), body).await;
    assert_error(status, &err, 404, "notFound");
}
