//! Paging and filters of list calls, and aggregatedList's shape.

use serde_json::Value;

use crate::support::{Sim, assert_error, fast};

fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().map(|items| items.iter().map(|i| i["name"].as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

#[tokio::test]
async fn lists_page_with_max_results_and_page_tokens() {
    let sim = Sim::start(fast()).await;
    for name in ["n1", "n2", "n3", "n4", "n5"] {
        sim.network(name).await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let (status, list) = sim.get(&sim.p(&format!("global/networks?maxResults=2&pageToken={token}"))).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["kind"], "compute#networkList");
        seen.extend(names(&list));
        pages += 1;
        match list["nextPageToken"].as_str() {
            Some(t) => token = t.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["n1", "n2", "n3", "n4", "n5"]);
    let (status, err) = sim.get(&sim.p("global/networks?maxResults=501")).await;
    assert_error(status, &err, 400, "invalid");
}

#[tokio::test]
async fn an_empty_list_has_no_items_member() {
    let sim = Sim::start(fast()).await;
    let (status, list) = sim.get(&sim.p("global/firewalls")).await;
    assert_eq!(status, 200);
    assert!(list.get("items").is_none(), "{list}");
    assert_eq!(list["kind"], "compute#firewallList");
}

#[tokio::test]
async fn lists_filter_by_name() {
    let sim = Sim::start(fast()).await;
    for name in ["alpha", "beta", "alpine"] {
        sim.network(name).await;
    }
    let cases = [
        ("name = \"alpha\"", vec!["alpha"]),
        ("name = alpha", vec!["alpha"]),
        ("name eq al.*", vec!["alpha", "alpine"]),
        ("name eq 'alp.*e'", vec!["alpine"]),
        ("name != alpha", vec!["alpine", "beta"]),
        ("name ne al.*", vec!["beta"]),
    ];
    for (filter, want) in cases {
        let query = format!("global/networks?filter={}", urlencode(filter));
        let (status, list) = sim.get(&sim.p(&query)).await;
        assert_eq!(status, 200, "{filter}: {list}");
        assert_eq!(names(&list), want, "{filter}");
    }
    let (status, err) = sim.get(&sim.p(&format!("global/networks?filter={}", urlencode("name < b")))).await;
    assert_error(status, &err, 400, "invalid");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn aggregated_list_keys_items_by_region_with_warnings_for_empty_ones() {
    let sim = Sim::start(fast()).await;
    sim.network("net-a").await;
    sim.subnet("europe-west1", "sub", "net-a", "10.0.0.0/24").await;
    let (status, list) = sim.get(&sim.p("aggregated/subnetworks")).await;
    assert_eq!(status, 200);
    assert_eq!(list["kind"], "compute#subnetworkAggregatedList");
    assert_eq!(list["items"]["regions/europe-west1"]["subnetworks"][0]["name"], "sub");
    let empty = &list["items"]["regions/us-central1"];
    assert_eq!(empty["warning"]["code"], "NO_RESULTS_ON_PAGE", "{empty}");
    assert_eq!(empty["warning"]["data"][0]["value"], "regions/us-central1");
}

#[tokio::test]
async fn routes_list_shows_default_and_subnet_routes() {
    let sim = Sim::start(fast()).await;
    sim.network("net-a").await;
    sim.subnet("us-central1", "sub", "net-a", "10.0.0.0/24").await;
    let (_, list) = sim.get(&sim.p("global/routes")).await;
    let items = list["items"].as_array().unwrap();
    assert!(items.iter().any(|r| r["destRange"] == "0.0.0.0/0" && r["nextHopGateway"].is_string()), "{list}");
    assert!(items.iter().any(|r| r["destRange"] == "10.0.0.0/24" && r["nextHopNetwork"].is_string()), "{list}");
}
