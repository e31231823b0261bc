//! The provider against the in-process Compute Engine simulator: observe,
//! plan (the real planner), apply (the real executor), observe again.

use crate::{Credentials, GcpProvider};
use gcp_compute_sim::{Config, ConfigUpdate, FaultKind, Running};
use peerctl_core::plan::{Action, GcpFirewallSpec, Plan};
use peerctl_core::spec::{GcpNetwork, Ports, Protocol, Rule, Spec};
use peerctl_core::state::{GcpRouteFlags, State};
use peerctl_engine::{ApplyOptions, Provider, ProviderError, Providers};
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

struct World {
    sim: Running,
    provider: Arc<GcpProvider>,
}

impl World {
    async fn start() -> World {
        let config = Config { operation_latency: Duration::from_millis(20), ..Config::default() };
        let sim = gcp_compute_sim::start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let provider = Arc::new(GcpProvider::new(&sim.base_url(), Credentials::static_token("test-token")));
        World { sim, provider }
    }

    /// A custom-mode network with one subnetwork per range, as infrastructure code would make it.
    async fn network(&self, project: &str, name: &str, ranges: &[&str]) {
        let body = json!({"name": name, "autoCreateSubnetworks": false});
        self.provider.mutate("test", Method::POST, &format!("projects/{project}/global/networks"), &uuid(), Some(&body)).await.unwrap();
        for (i, range) in ranges.iter().enumerate() {
            let body = json!({"name": format!("{name}-{i}"), "network": format!("projects/{project}/global/networks/{name}"), "ipCidrRange": range});
            let path = format!("projects/{project}/regions/us-central1/subnetworks");
            self.provider.mutate("test", Method::POST, &path, &uuid(), Some(&body)).await.unwrap();
        }
    }

    async fn observe(&self, spec: &Spec) -> State {
        self.provider.observe(spec).await.unwrap()
    }

    async fn plan(&self, spec: &Spec) -> Plan {
        peerctl_core::planner::plan(spec, &self.observe(spec).await).unwrap_or_else(|d| panic!("{d:?}"))
    }

    /// Plans and applies `spec`, then checks that a new plan is empty.
    async fn converge(&self, spec: &Spec) -> Plan {
        let plan = self.plan(spec).await;
        assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
        let providers = Providers::new(vec![self.provider.clone()]);
        let options = ApplyOptions { backoff: Duration::from_millis(10), max_attempts: 12, ..ApplyOptions::default() };
        if let Err((report, error)) = peerctl_engine::apply(&providers, &plan, &options, &|_| {}).await {
            panic!("{error}: {:?}", report.failed);
        }
        let again = self.plan(spec).await;
        assert!(again.is_empty(), "not converged: {:#?}", again.steps);
        plan
    }
}

fn uuid() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("00000000-0000-4000-8000-{:012x}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

fn spec(text: &str) -> Spec {
    peerctl_core::load("peerings.yaml", text).unwrap_or_else(|d| panic!("{d:?}"))
}

fn net(project: &str, name: &str) -> GcpNetwork {
    GcpNetwork { project: project.into(), name: name.into() }
}

const PAIR: &str = "
version: 1
owner: team
gcp: {project: byoc-project}
peerings:
  - name: link
    gcp:
      network: byoc-net
      peer_network: projects/services-project/global/networks/svc-net
      export_subnet_routes_with_public_ip: true
      allow: [{protocol: tcp, ports: 443}, {protocol: icmp}]
";

async fn pair_world() -> World {
    let world = World::start().await;
    world.network("byoc-project", "byoc-net", &["10.10.0.0/20"]).await;
    world.network("services-project", "svc-net", &["10.20.0.0/20", "10.21.0.0/24"]).await;
    world
}

#[tokio::test]
async fn converges_a_cross_project_peering_and_its_firewalls() {
    let world = pair_world().await;
    let spec = spec(PAIR);
    let plan = world.converge(&spec).await;
    let kinds: Vec<&str> = plan.steps.iter().map(|s| kind(&s.action)).collect();
    assert_eq!(kinds, ["add", "add", "insert-firewall", "insert-firewall"]);

    let state = world.observe(&spec).await;
    let (byoc, svc) =
        (state.gcp_network(&net("byoc-project", "byoc-net")).unwrap(), state.gcp_network(&net("services-project", "svc-net")).unwrap());
    assert_eq!(byoc.peerings.len(), 1);
    let (a, b) = (&byoc.peerings[0], &svc.peerings[0]);
    assert_eq!((a.name.as_str(), a.state.as_str(), &a.peer), ("team--link", "ACTIVE", &net("services-project", "svc-net")));
    assert_eq!((b.name.as_str(), b.state.as_str(), &b.peer), ("team--link", "ACTIVE", &net("byoc-project", "byoc-net")));
    assert!(a.flags.export_subnet_routes_with_public_ip && !a.flags.import_subnet_routes_with_public_ip);
    assert_eq!(b.flags, a.flags.mirrored(), "the peer's side imports what this side exports");

    let firewall = &state.gcp_project("byoc-project").unwrap().firewalls[0];
    assert_eq!(firewall.name, "peerctl-team--link-a");
    assert_eq!(firewall.source_ranges, ["10.20.0.0/20".parse().unwrap(), "10.21.0.0/24".parse().unwrap()]);
    let rules = [
        Rule { protocol: Protocol::Tcp, ports: Ports::Range { from: 443, to: 443 } },
        Rule { protocol: Protocol::Icmp, ports: Ports::All },
    ];
    assert_eq!(firewall.allowed, rules);
    let firewall = &state.gcp_project("services-project").unwrap().firewalls[0];
    assert_eq!(
        (firewall.name.as_str(), firewall.source_ranges.as_slice()),
        ("peerctl-team--link-b", &["10.10.0.0/20".parse().unwrap()][..])
    );
}

#[tokio::test]
async fn observes_each_project_with_three_list_calls() {
    let world = pair_world().await;
    let spec = spec(PAIR);
    world.converge(&spec).await;
    let before = world.provider.calls();
    world.observe(&spec).await;
    let after = world.provider.calls();
    let delta = |k: &str| after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
    assert_eq!((delta("networks.list"), delta("subnetworks.aggregatedList"), delta("firewalls.list")), (2, 2, 2));
}

#[tokio::test]
async fn follows_page_tokens_through_every_list() {
    let mut world = pair_world().await;
    for i in 0..5 {
        world.network("byoc-project", &format!("extra-{i}"), &[&format!("10.{}.0.0/24", 100 + i)]).await;
    }
    let spec = spec(PAIR);
    Arc::get_mut(&mut world.provider).unwrap().page_size = 2;
    world.converge(&spec).await;
    let before = world.provider.calls()["networks.list"];
    let state = world.observe(&spec).await;
    let byoc = state.gcp_project("byoc-project").unwrap();
    assert_eq!((byoc.networks.len(), byoc.subnetworks.len()), (6, 6), "every page was read");
    assert!(world.provider.calls()["networks.list"] - before > 3, "{:?}", world.provider.calls());
}

#[tokio::test]
async fn changed_flags_are_updated_and_absent_removes_everything_it_added() {
    let world = pair_world().await;
    let foreign = json!({"name": "peerctl-by-hand", "network": "projects/byoc-project/global/networks/byoc-net", "sourceRanges": ["10.0.0.0/8"],
        "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}]});
    world.provider.mutate("test", Method::POST, "projects/byoc-project/global/firewalls", &uuid(), Some(&foreign)).await.unwrap();
    world.converge(&spec(PAIR)).await;

    let flags = PAIR.replace("export_subnet_routes_with_public_ip: true", "export_custom_routes: true");
    let plan = world.converge(&spec(&flags)).await;
    assert_eq!(plan.steps.iter().map(|s| kind(&s.action)).collect::<Vec<_>>(), ["update", "update"]);
    let state = world.observe(&spec(&flags)).await;
    let entry = &state.gcp_network(&net("services-project", "svc-net")).unwrap().peerings[0];
    // export_subnet_routes_with_public_ip is now the API's default, true.
    let mirrored = GcpRouteFlags { import_custom_routes: true, import_subnet_routes_with_public_ip: true, ..GcpRouteFlags::default() };
    assert_eq!(entry.flags, mirrored);
    assert_eq!(entry.state, "ACTIVE");

    let absent = spec(&flags.replace("    gcp:\n      network", "    absent: true\n    gcp:\n      network"));
    world.converge(&absent).await;
    let state = world.observe(&absent).await;
    for project in &state.gcp {
        assert!(project.networks.iter().all(|n| n.peerings.is_empty()), "{:?}", project.networks);
    }
    let left: Vec<&str> = state.gcp.iter().flat_map(|p| &p.firewalls).map(|f| f.name.as_str()).collect();
    assert_eq!(left, ["peerctl-by-hand"], "a rule peerctl did not write is never touched");
}

#[tokio::test]
async fn one_side_removed_by_hand_is_restored() {
    let world = pair_world().await;
    let spec = spec(PAIR);
    world.converge(&spec).await;
    let remove = Action::GcpRemovePeering {
        network: net("services-project", "svc-net"),
        peer: net("byoc-project", "byoc-net"),
        name: "team--link".into(),
    };
    world.provider.execute(&remove, "byoc-prod", "test").await.unwrap();
    let state = world.observe(&spec).await;
    assert_eq!(state.gcp_network(&net("byoc-project", "byoc-net")).unwrap().peerings[0].state, "INACTIVE");
    let plan = world.converge(&spec).await;
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.peerings[0].status.as_deref(), Some("inactive / missing"));
    let state = world.observe(&spec).await;
    assert_eq!(state.gcp_network(&net("byoc-project", "byoc-net")).unwrap().peerings[0].state, "ACTIVE");
}

#[tokio::test]
async fn a_failed_operation_is_a_failed_step() {
    let world = World::start().await;
    world.network("test-project", "left", &["10.0.0.0/16"]).await;
    world.network("test-project", "right", &["10.0.128.0/20"]).await;
    let add = Action::GcpAddPeering {
        network: net("test-project", "left"),
        peer: net("test-project", "right"),
        name: "x".into(),
        flags: GcpRouteFlags::default(),
    };
    let error = world.provider.execute(&add, "byoc-prod", "test").await.unwrap_err();
    let ProviderError::Other(text) = &error else { panic!("{error:?}") };
    assert!(text.contains("networks.addPeering: operation failed") && text.contains("overlaps"), "{text}");
}

#[tokio::test]
async fn inserting_a_rule_that_is_already_there_succeeds_only_if_it_is_the_same() {
    let world = pair_world().await;
    let rule = GcpFirewallSpec {
        name: "peerctl-team--x-a".into(),
        network: net("byoc-project", "byoc-net"),
        description: "peerctl owner=team peering=x".into(),
        allowed: vec![Rule { protocol: Protocol::Tcp, ports: Ports::All }],
        source_ranges: vec!["10.20.0.0/20".parse().unwrap()],
    };
    world.provider.execute(&Action::GcpInsertFirewall { firewall: rule.clone() }, "byoc-prod", "test").await.unwrap();
    // Another run (other request ids) finds it already there.
    let other = GcpProvider::new(&world.sim.base_url(), Credentials::static_token("t"));
    other.execute(&Action::GcpInsertFirewall { firewall: rule.clone() }, "byoc-prod", "test").await.unwrap();
    let changed = GcpFirewallSpec { source_ranges: vec!["10.99.0.0/16".parse().unwrap()], ..rule };
    let error = other.execute(&Action::GcpInsertFirewall { firewall: changed }, "byoc-prod", "test").await.unwrap_err();
    assert!(matches!(&error, ProviderError::AlreadyExists(text) if text.contains("other content")), "{error:?}");
}

#[tokio::test]
async fn removing_what_is_already_gone_succeeds() {
    let world = pair_world().await;
    let remove = Action::GcpRemovePeering {
        network: net("byoc-project", "byoc-net"),
        peer: net("services-project", "svc-net"),
        name: "team--gone".into(),
    };
    world.provider.execute(&remove, "byoc-prod", "test").await.unwrap();
    world
        .provider
        .execute(&Action::GcpDeleteFirewall { project: "byoc-project".into(), name: "peerctl-gone".into() }, "byoc-prod", "test")
        .await
        .unwrap();
}

#[tokio::test]
async fn converges_a_hub_through_injected_faults_and_busy_networks() {
    let world = World::start().await;
    world.network("hub-project", "hub", &["10.0.0.0/16"]).await;
    let mut text = String::from("version: 1\nowner: team\npeerings:\n");
    for i in 1..=6 {
        world.network("spoke-project", &format!("spoke-{i}"), &[&format!("10.{i}.0.0/16")]).await;
        text += &format!(
            "  - name: spoke-{i}\n    gcp:\n      network: projects/hub-project/global/networks/hub\n      peer_network: projects/spoke-project/global/networks/spoke-{i}\n"
        );
    }
    let update = ConfigUpdate { fail_rate: Some(0.2), fail_kinds: Some(FaultKind::ALL.to_vec()), ..ConfigUpdate::default() };
    world.sim.update_config(&update).unwrap();
    world.converge(&spec(&text)).await;
    let stats = world.sim.stats();
    assert!(stats.faults_total > 0, "the faults were injected: {stats:?}");
    let hub = world.observe(&spec(&text)).await;
    let entries = &hub.gcp_network(&net("hub-project", "hub")).unwrap().peerings;
    assert_eq!(entries.len(), 6);
    assert!(entries.iter().all(|e| e.state == "ACTIVE"), "{entries:?}");
}

#[tokio::test]
async fn a_missing_token_is_refused_with_a_hint() {
    let world = World::start().await;
    let anonymous = GcpProvider::new(&world.sim.base_url(), Credentials::anonymous());
    let error = anonymous.observe(&spec(PAIR)).await.unwrap_err();
    assert!(matches!(&error, ProviderError::PermissionDenied(text) if text.contains("refused")), "{error:?}");
}

fn kind(action: &Action) -> &'static str {
    match action {
        Action::GcpAddPeering { .. } => "add",
        Action::GcpUpdatePeering { .. } => "update",
        Action::GcpRemovePeering { .. } => "remove",
        Action::GcpInsertFirewall { .. } => "insert-firewall",
        Action::GcpUpdateFirewall { .. } => "update-firewall",
        Action::GcpDeleteFirewall { .. } => "delete-firewall",
        _ => "aws",
    }
}

#[tokio::test]
async fn a_busy_network_answers_throttled_which_the_engine_retries() {
    let world = World::start().await;
    world.sim.update_config(&ConfigUpdate { operation_latency_ms: Some(400), ..ConfigUpdate::default() }).unwrap();
    world.network("hub-project", "hub", &["10.0.0.0/16"]).await;
    world.network("hub-project", "one", &["10.1.0.0/16"]).await;
    world.network("hub-project", "two", &["10.2.0.0/16"]).await;
    let add = |peer: &str| Action::GcpAddPeering {
        network: net("hub-project", "hub"),
        peer: net("hub-project", peer),
        name: peer.into(),
        flags: GcpRouteFlags::default(),
    };
    let (one, two) = (add("one"), add("two"));
    let (a, b) = tokio::join!(world.provider.execute(&one, "byoc-prod", "test"), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        world.provider.execute(&two, "byoc-prod", "test").await
    });
    assert_eq!(a, Ok(peerctl_engine::Outcome::Done));
    assert!(matches!(&b, Err(ProviderError::Throttled(text)) if text.contains("peering operation in progress")), "{b:?}");
}

/// A Compute endpoint that answers every call with `body` and status 200.
async fn answering(body: &'static str) -> String {
    let app = axum::Router::new().fallback(move || async move { ([("content-type", "application/json")], body) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/compute/v1/")
}

#[tokio::test]
async fn bad_answers_are_clear_errors_not_panics() {
    let cases = [
        ("<html>Service Unavailable</html>", "unreadable answer"),
        (r#"{"items": [{"name": "n", "peerings": [{"name": "p", "state": "ACTIVE"}]}]}"#, "unreadable peering"),
        (r#"{"items": [{"name": "s", "network": "projects/p/global/networks/n"}]}"#, "unreadable"),
    ];
    for (body, expected) in cases {
        let provider = GcpProvider::new(&answering(body).await, Credentials::static_token("t"));
        let error = provider.observe(&spec(PAIR)).await.unwrap_err();
        assert!(matches!(&error, ProviderError::Other(text) if text.contains(expected)), "{body}: {error:?}");
    }
    let provider = GcpProvider::new(&answering(r#"{"kind": "compute#operation", "status": "DONE"}"#).await, Credentials::static_token("t"));
    let remove = Action::GcpRemovePeering { network: net("a-project", "a"), peer: net("b-project", "b"), name: "x".into() };
    assert_eq!(
        provider.execute(&remove, "byoc-prod", "test").await,
        Ok(peerctl_engine::Outcome::Done),
        "a DONE operation without error is success"
    );
    let provider =
        GcpProvider::new(&answering(r#"{"kind": "compute#operation", "status": "WHATEVER"}"#).await, Credentials::static_token("t"));
    let error = provider.execute(&remove, "byoc-prod", "test").await.unwrap_err();
    assert!(matches!(&error, ProviderError::Other(text) if text.contains("without a selfLink")), "{error:?}");
}
