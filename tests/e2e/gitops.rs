//! Pipelines: scheduled drift checks (exit codes, JSON report, metrics file),
//! saved plans, pruning and targeting, against moto and the simulator.

use crate::support::{GCP_PAIR, Workdir, gcp_pair_world, run};
use peerctl_e2e::*;
use reqwest::Method;
use serde_json::{Value, json};

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[tokio::test]
async fn drift_exits_0_in_sync_2_on_drift_1_on_error_and_writes_metrics() {
    let sim = gcp_pair_world(&[]).await;
    let dir = Workdir::new("drift");
    dir.write("spec.yaml", GCP_PAIR);
    run(&sim, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);

    let clean = run(&sim, &dir, &["drift", "--metrics-file", "drift.prom", "spec.yaml"]).expect(0);
    assert!(clean.stdout.contains("No drift"), "{}", clean.stdout);
    let metrics = std::fs::read_to_string(dir.path.join("drift.prom")).expect("metrics file");
    assert!(metrics.contains("peerctl_drifted_objects{owner=\"team-a\",peering=\"byoc-gcp\",cloud=\"gcp\"} 0"), "{metrics}");
    assert!(metrics.contains("peerctl_peering_active{owner=\"team-a\",peering=\"byoc-gcp\",cloud=\"gcp\"} 1"), "{metrics}");

    // By hand: the other side removes its half of the peering.
    let remove = json!({"name": "team-a--byoc-gcp"});
    sim.call(Method::POST, "projects/services-project/global/networks/cloud-test-1/removePeering", Some(remove)).await.expect("remove");
    let drifted = run(&sim, &dir, &["drift", "--format", "json", "--metrics-file", "drift.prom", "spec.yaml"]).expect(2);
    let report = json_of(&drifted.stdout);
    assert_eq!(report["in_sync"], json!(false));
    assert_eq!(report["drift"][0]["kind"], json!("missing"), "{report}");
    assert!(report["drift"][0]["object"].as_str().unwrap_or_default().contains("cloud-test-1"), "{report}");
    assert_eq!(report["peerings"][0]["status"], json!("inactive / missing"));
    let metrics = std::fs::read_to_string(dir.path.join("drift.prom")).expect("metrics file");
    assert!(metrics.contains("peerctl_drifted_objects{owner=\"team-a\",peering=\"byoc-gcp\",cloud=\"gcp\"} 1"), "{metrics}");
    assert!(metrics.contains("peerctl_peering_active{owner=\"team-a\",peering=\"byoc-gcp\",cloud=\"gcp\"} 0"), "{metrics}");
    assert!(metrics.contains("peerctl_drift_check_success{owner=\"team-a\"} 1"), "{metrics}");
    let still = sim.peerings("services-project", "cloud-test-1").await.expect("services");
    assert!(still.is_empty(), "drift is read-only: {still:?}");

    dir.write("spec.yaml", &GCP_PAIR.replace("cloud-test-1", "no-such-network"));
    run(&sim, &dir, &["drift", "--metrics-file", "drift.prom", "spec.yaml"]).expect(1);
    let metrics = std::fs::read_to_string(dir.path.join("drift.prom")).expect("metrics file");
    assert!(metrics.contains("peerctl_drift_check_success{owner=\"team-a\"} 0"), "{metrics}");
}

#[tokio::test]
async fn drift_reports_a_foreign_route_hijacking_the_peer_range() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let byoc = create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    create_vpc(&ec2, "services", "10.20.0.0/16").await.expect("services");
    let dir = Workdir::new("drift-aws");
    dir.write(
        "spec.yaml",
        "version: 1
owner: team-a
aws: {region: us-east-1}
peerings:
  - name: byoc-to-services
    aws:
      requester: {vpc: {name: emqxbyoc-1234-vpc}, route_tables: [{name: emqxbyoc-1234-private-route-table}]}
      accepter: {vpc: {name: services-vpc}, route_tables: [{name: services-private-route-table}]}
",
    );
    run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);
    run(&moto, &dir, &["drift", "spec.yaml"]).expect(0);

    // By hand: the route to the services range now goes to an internet gateway.
    let igw = internet_gateway(&ec2, &byoc.id).await.expect("igw");
    ec2.replace_route()
        .route_table_id(&byoc.route_table)
        .destination_cidr_block("10.20.0.0/16")
        .gateway_id(&igw)
        .send()
        .await
        .expect("replace");

    let drifted = run(&moto, &dir, &["drift", "spec.yaml"]).expect(2);
    assert!(drifted.stdout.contains("foreign conflict") && drifted.stdout.contains("10.20.0.0/16"), "{}", drifted.stdout);
    assert!(drifted.stdout.contains(&igw), "{}", drifted.stdout);

    // By hand, on the other side: the peering connection is deleted.
    let pcx = connections(&ec2).await.expect("connections").into_iter().find(|c| c.1 == "active").expect("active connection").0;
    ec2.delete_vpc_peering_connection().vpc_peering_connection_id(&pcx).send().await.expect("delete");
    let report = json_of(&run(&moto, &dir, &["drift", "--format", "json", "spec.yaml"]).expect(2).stdout);
    assert_eq!(report["peerings"][0]["status"], json!(null), "no live connection: {report}");
    let missing = report["drift"].as_array().expect("drift").iter().find(|d| d["kind"] == "missing").expect("a missing object");
    assert!(missing["object"].as_str().unwrap_or_default().starts_with("peering connection"), "{report}");
}

fn hub_spec(owner: &str, spokes: &[u8]) -> String {
    let mut spec = format!("version: 1\nowner: {owner}\ngcp: {{project: hub-project}}\npeerings:\n");
    for i in spokes {
        spec += &format!(
            "  - name: link-{i}\n    gcp:\n      network: hub\n      peer_network: projects/spoke-project/global/networks/spoke-{i}\n"
        );
    }
    spec
}

#[tokio::test]
async fn prune_deletes_only_this_owners_peerings_gone_from_the_spec() {
    let sim = Sim::start(&[]).expect("simulator");
    sim.network("hub-project", "hub", &["10.0.0.0/16"]).await.expect("hub");
    for i in 1..=3 {
        sim.network("spoke-project", &format!("spoke-{i}"), &[&format!("10.{i}.0.0/16")]).await.expect("spoke");
    }
    let dir = Workdir::new("prune");
    dir.write("a.yaml", &hub_spec("team-a", &[1, 2]));
    dir.write("b.yaml", &hub_spec("team-b", &[3]));
    run(&sim, &dir, &["apply", "--auto-approve", "a.yaml"]).expect(0);
    run(&sim, &dir, &["apply", "--auto-approve", "b.yaml"]).expect(0);
    // Each owner's plan ignores the other's peerings on the shared hub.
    run(&sim, &dir, &["plan", "--detailed-exitcode", "a.yaml"]).expect(0);
    run(&sim, &dir, &["plan", "--detailed-exitcode", "b.yaml"]).expect(0);

    dir.write("a.yaml", &hub_spec("team-a", &[1]));
    let listed = run(&sim, &dir, &["plan", "--detailed-exitcode", "a.yaml"]).expect(0);
    assert!(listed.stdout.contains("Owned by `team-a` but not in the spec") && listed.stdout.contains("link-2"), "{}", listed.stdout);
    assert!(!listed.stdout.contains("link-3"), "{}", listed.stdout);
    run(&sim, &dir, &["drift", "a.yaml"]).expect(2);

    let pruned = run(&sim, &dir, &["plan", "--prune", "a.yaml"]).expect(0);
    assert!(pruned.stdout.contains("Plan: 0 to add, 0 to change, 4 to destroy."), "{}", pruned.stdout);
    run(&sim, &dir, &["apply", "--prune", "--auto-approve", "a.yaml"]).expect(0);
    let hub: Vec<String> = sim.peerings("hub-project", "hub").await.expect("hub").into_iter().map(|p| format!("{} {}", p.0, p.2)).collect();
    assert_eq!(hub, ["team-a--link-1 ACTIVE", "team-b--link-3 ACTIVE"]);
    assert!(sim.peerings("spoke-project", "spoke-2").await.expect("spoke-2").is_empty());
    let rules = sim.firewalls("hub-project").await.expect("rules");
    assert_eq!(rules, ["peerctl-team-a--link-1-a", "peerctl-team-b--link-3-a"]);
    run(&sim, &dir, &["drift", "a.yaml"]).expect(0);
    run(&sim, &dir, &["drift", "b.yaml"]).expect(0);
}

#[tokio::test]
async fn target_plans_and_applies_only_the_named_peerings() {
    let sim = Sim::start(&[]).expect("simulator");
    sim.network("hub-project", "hub", &["10.0.0.0/16"]).await.expect("hub");
    for i in 1..=2 {
        sim.network("spoke-project", &format!("spoke-{i}"), &[&format!("10.{i}.0.0/16")]).await.expect("spoke");
    }
    let dir = Workdir::new("target");
    dir.write("spec.yaml", &hub_spec("team-a", &[1, 2]));
    let plan = run(&sim, &dir, &["plan", "--target", "link-2", "spec.yaml"]).expect(0);
    assert!(plan.stdout.contains("link-2") && !plan.stdout.contains("link-1"), "{}", plan.stdout);
    run(&sim, &dir, &["apply", "--auto-approve", "--target", "link-2", "spec.yaml"]).expect(0);
    assert!(sim.peerings("spoke-project", "spoke-1").await.expect("spoke-1").is_empty());
    assert_eq!(sim.peerings("spoke-project", "spoke-2").await.expect("spoke-2").len(), 1);
    let typo = run(&sim, &dir, &["plan", "--target", "link-3", "spec.yaml"]).expect(1);
    assert!(typo.stderr.contains("--target link-3: no peering of that name"), "{}", typo.stderr);
}

#[tokio::test]
async fn a_saved_plan_applies_exactly_and_is_refused_once_stale() {
    let sim = gcp_pair_world(&[]).await;
    let dir = Workdir::new("saved");
    dir.write("spec.yaml", GCP_PAIR);

    // plan --out → apply plan: succeeds, without asking.
    run(&sim, &dir, &["plan", "--out", "plan.json", "spec.yaml"]).expect(0);
    let saved = json_of(&std::fs::read_to_string(dir.path.join("plan.json")).expect("plan file"));
    assert_eq!((saved["format_version"].clone(), saved["spec_file"].clone()), (json!(1), json!("spec.yaml")));
    assert!(!saved.to_string().contains("e2e-token"), "no secrets in the plan file");
    let applied = run(&sim, &dir, &["apply", "plan.json"]).expect(0);
    assert!(applied.stdout.contains("Verified"), "{}", applied.stdout);

    // plan --out → a change by hand → apply plan: refused, nothing changed.
    let flags = json!({"networkPeering": {"name": "team-a--byoc-gcp", "exportCustomRoutes": true}});
    dir.write("spec.yaml", &GCP_PAIR.replace("    gcp:\n", "    gcp:\n      import_custom_routes: true\n"));
    run(&sim, &dir, &["plan", "--out", "plan.json", "spec.yaml"]).expect(0);
    let before = sim.stats().await.expect("stats")["requests"].clone();
    sim.call(Method::PATCH, "projects/services-project/global/networks/cloud-test-1/updatePeering", Some(flags)).await.expect("by hand");
    let stale = run(&sim, &dir, &["apply", "plan.json"]).expect(1);
    assert!(stale.stderr.contains("plan is stale: live state changed since the plan was made"), "{}", stale.stderr);
    let after = sim.stats().await.expect("stats")["requests"].clone();
    assert_eq!(
        after["compute.networks.updatePeering"],
        json!(before["compute.networks.updatePeering"].as_u64().unwrap_or(0) + 1),
        "only the change by hand"
    );

    // plan --out → edit the spec → apply plan: refused.
    run(&sim, &dir, &["plan", "--out", "plan.json", "spec.yaml"]).expect(0);
    dir.write("spec.yaml", &GCP_PAIR.replace("team-a", "team-b"));
    let edited = run(&sim, &dir, &["apply", "plan.json"]).expect(1);
    assert!(edited.stderr.contains("plan is stale: spec.yaml changed since the plan was made"), "{}", edited.stderr);

    // Applied from another directory, where the recorded spec path means nothing.
    std::fs::create_dir_all(dir.path.join("elsewhere")).expect("dir");
    let moved = peerctl_e2e::peerctl(&sim, &dir.path.join("elsewhere"), &["apply", "../plan.json"]);
    let stderr = String::from_utf8_lossy(&moved.stderr);
    assert!(stderr.contains("the plan was made from spec.yaml, which cannot be read from here"), "{stderr}");

    // A plan file that is not one.
    dir.write("bogus.json", "{\"steps\": 3}");
    let bogus = run(&sim, &dir, &["apply", "bogus.json"]).expect(1);
    assert!(bogus.stderr.contains("bogus.json is not a peerctl plan"), "{}", bogus.stderr);
}

#[test]
fn schema_prints_the_committed_spec_schema_and_completions_cover_each_shell() {
    let dir = Workdir::new("schema");
    let printed = json_of(&run(&(), &dir, &["schema"]).expect(0).stdout);
    let committed = json_of(&std::fs::read_to_string(workspace_root().join("docs/peerctl.schema.json")).expect("docs/peerctl.schema.json"));
    assert_eq!(printed, committed);
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&(), &dir, &["completions", shell]).expect(0).stdout;
        assert!(script.contains("peerctl") && script.contains("detailed-exitcode"), "{shell}: {script}");
    }
    let wrong = run(&(), &dir, &["completions", "tcsh"]).expect(1);
    assert!(wrong.stderr.contains("possible values: bash"), "{}", wrong.stderr);
}
