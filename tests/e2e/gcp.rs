//! GCP end to end: peerctl against the `gcp-compute-sim` binary, with
//! networks made through its REST API as a user's infrastructure code would.

use crate::support::{GCP_PAIR as PAIR, Workdir, gcp_pair_world as pair_world, run};
use peerctl_e2e::*;
use reqwest::Method;
use serde_json::json;

fn active(entries: &[(String, String, String)], peer: &str) -> bool {
    entries.len() == 1 && entries[0].0 == "team-a--byoc-gcp" && entries[0].1.ends_with(peer) && entries[0].2 == "ACTIVE"
}

#[tokio::test]
async fn peers_two_projects_both_ways_then_reapply_makes_no_mutating_call() {
    let sim = pair_world(&[]).await;
    let dir = Workdir::new("gcp-fresh");
    dir.write("spec.yaml", PAIR);

    let plan = run(&sim, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(2);
    assert!(plan.stdout.contains("Plan: 4 to add, 0 to change, 0 to destroy."), "{}", plan.stdout);
    let applied = run(&sim, &dir, &["apply", "-v", "--auto-approve", "spec.yaml"]).expect(0);
    assert!(applied.stdout.contains("Verified"), "{}", applied.stdout);
    assert_eq!(applied.writes_to("gcp"), 4, "{}", applied.stderr);

    let byoc = sim.peerings("emqx-byoc", "emqxbyoc-xxxx-network").await.expect("byoc");
    let services = sim.peerings("services-project", "cloud-test-1").await.expect("services");
    assert!(active(&byoc, "projects/services-project/global/networks/cloud-test-1"), "{byoc:?}");
    assert!(active(&services, "projects/emqx-byoc/global/networks/emqxbyoc-xxxx-network"), "{services:?}");
    assert_eq!(sim.firewalls("emqx-byoc").await.expect("fw"), ["peerctl-team-a--byoc-gcp-a"]);
    assert_eq!(sim.firewalls("services-project").await.expect("fw"), ["peerctl-team-a--byoc-gcp-b"]);
    let rule = sim.get("projects/emqx-byoc/global/firewalls/peerctl-team-a--byoc-gcp-a").await.expect("rule");
    assert_eq!(rule["sourceRanges"], json!(["10.20.0.0/20", "10.21.0.0/24"]), "the peer's ranges, read from the cloud");

    let again = run(&sim, &dir, &["apply", "-v", "--auto-approve", "spec.yaml"]).expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert_eq!(again.writes_to("gcp"), 0, "{}", again.stderr);
}

#[tokio::test]
async fn repairs_a_side_removed_and_flags_changed_by_hand() {
    let sim = pair_world(&[]).await;
    let dir = Workdir::new("gcp-repair");
    dir.write("spec.yaml", PAIR);
    run(&sim, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);

    let remove = json!({"name": "team-a--byoc-gcp"});
    sim.call(Method::POST, "projects/services-project/global/networks/cloud-test-1/removePeering", Some(remove)).await.expect("remove");
    let flags = json!({"networkPeering": {"name": "team-a--byoc-gcp", "exportCustomRoutes": true}});
    sim.call(Method::PATCH, "projects/emqx-byoc/global/networks/emqxbyoc-xxxx-network/updatePeering", Some(flags)).await.expect("update");

    let drift = run(&sim, &dir, &["drift", "spec.yaml"]).expect(2);
    assert!(drift.stdout.contains("missing") && drift.stdout.contains("changed"), "{}", drift.stdout);
    let plan = run(&sim, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(2);
    assert!(plan.stdout.contains("Plan: 1 to add, 1 to change, 0 to destroy."), "{}", plan.stdout);
    run(&sim, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);
    let services = sim.peerings("services-project", "cloud-test-1").await.expect("services");
    assert!(active(&services, "emqxbyoc-xxxx-network"), "{services:?}");
    let byoc = sim.get("projects/emqx-byoc/global/networks/emqxbyoc-xxxx-network").await.expect("byoc");
    assert_eq!(byoc["peerings"][0]["exportCustomRoutes"], json!(false));
}

#[tokio::test]
async fn refuses_overlapping_ranges_before_any_change() {
    let sim = Sim::start(&[]).expect("simulator");
    sim.network("emqx-byoc", "emqxbyoc-xxxx-network", &["10.10.0.0/20"]).await.expect("byoc");
    sim.network("services-project", "cloud-test-1", &["10.10.8.0/24"]).await.expect("services");
    let dir = Workdir::new("gcp-overlap");
    dir.write("spec.yaml", PAIR);

    let apply = run(&sim, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(1);
    assert!(apply.stderr.contains("spec.yaml:5:11") && apply.stderr.contains("overlaps"), "{}", apply.stderr);
    let stats = sim.stats().await.expect("stats");
    assert!(stats["requests"].get("compute.networks.addPeering").is_none(), "no peering call was made: {stats}");
}

#[tokio::test]
async fn absent_removes_both_sides_and_the_rules_only() {
    let sim = pair_world(&[]).await;
    let by_hand = json!({"name": "allow-ssh", "network": "projects/emqx-byoc/global/networks/emqxbyoc-xxxx-network",
        "sourceRanges": ["10.0.0.0/8"], "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}]});
    sim.call(Method::POST, "projects/emqx-byoc/global/firewalls", Some(by_hand)).await.expect("foreign rule");
    let dir = Workdir::new("gcp-absent");
    dir.write("spec.yaml", PAIR);
    run(&sim, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);

    dir.write("spec.yaml", &PAIR.replace("    gcp:\n      network", "    absent: true\n    gcp:\n      network"));
    let plan = run(&sim, &dir, &["plan", "spec.yaml"]).expect(0);
    assert!(plan.stdout.contains("Plan: 0 to add, 0 to change, 4 to destroy."), "{}", plan.stdout);
    run(&sim, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);
    assert!(sim.peerings("emqx-byoc", "emqxbyoc-xxxx-network").await.expect("byoc").is_empty());
    assert!(sim.peerings("services-project", "cloud-test-1").await.expect("services").is_empty());
    assert_eq!(sim.firewalls("emqx-byoc").await.expect("fw"), ["allow-ssh"]);
    assert!(sim.firewalls("services-project").await.expect("fw").is_empty());
}

#[tokio::test]
async fn a_hub_with_many_spokes_converges_through_injected_faults() {
    let sim = Sim::start(&[]).expect("simulator");
    sim.network("hub-project", "hub", &["10.0.0.0/16"]).await.expect("hub");
    let mut spec = String::from("version: 1\nowner: team-a\ngcp: {project: hub-project}\npeerings:\n");
    for i in 1..=8 {
        let name = format!("spoke-{i}");
        sim.network("spoke-project", &name, &[&format!("10.{i}.0.0/16")]).await.expect("spoke");
        spec +=
            &format!("  - name: {name}\n    gcp:\n      network: hub\n      peer_network: projects/spoke-project/global/networks/{name}\n");
    }
    sim.configure(json!({"fail_rate": 0.2, "fail_reads": true})).await.expect("faults on");
    let dir = Workdir::new("gcp-faults");
    dir.write("spec.yaml", &spec);

    let faults_before = sim.stats().await.expect("stats")["faults_total"].as_u64().unwrap_or(0);
    let applied = run(&sim, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);
    assert!(applied.stdout.contains("Verified"), "{}", applied.stdout);
    let faults = sim.stats().await.expect("stats")["faults_total"].as_u64().unwrap_or(0) - faults_before;
    assert!(faults > 0, "faults were injected during apply");
    eprintln!("hub with 8 spokes through {faults} injected faults:\n{}", applied.stderr);
}

#[tokio::test]
async fn one_spec_peers_aws_and_gcp_in_one_apply() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    create_vpc(&ec2, "services", "10.20.0.0/16").await.expect("services");
    let sim = pair_world(&[]).await;
    let spec = format!(
        "{PAIR}  - name: byoc-aws
    aws:
      requester: {{vpc: {{name: emqxbyoc-1234-vpc}}, region: us-east-1, security_groups: [{{name: emqxbyoc-1234}}]}}
      accepter: {{vpc: {{name: services-vpc}}, region: us-east-1, security_groups: [{{name: services}}]}}
"
    );
    let dir = Workdir::new("mixed");
    dir.write("spec.yaml", &spec);
    let applied = run(&(&moto, &sim), &dir, &["apply", "-v", "--auto-approve", "spec.yaml"]).expect(0);
    assert!(applied.writes_to("aws") > 0 && applied.writes_to("gcp") == 4, "{}", applied.stderr);
    assert!(active(&sim.peerings("emqx-byoc", "emqxbyoc-xxxx-network").await.expect("byoc"), "cloud-test-1"));
    let pcx = connections(&ec2).await.expect("connections");
    assert!(pcx.iter().any(|c| c.1 == "active"), "{pcx:?}");
    run(&(&moto, &sim), &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(0);
}
