//! Faults: peerctl through a fault-injecting proxy in front of moto and the
//! GCP simulator (throttling, internal errors, dropped connections, lost
//! answers, latency, a new `pcx-` hidden from Describe), killed with SIGKILL
//! after each of its mutating calls in turn, and run twice at once. Every
//! test reads the cloud directly afterwards and counts what is there:
//! exactly one live connection per peering, one route per destination per
//! table, one rule per group, permission and source, one entry per network,
//! no owned connection left in `pending-acceptance`.

use crate::support::{Run, Workdir, run};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::Filter;
use peerctl_e2e::faults::{Counters, Fault, FaultConfig, FaultProxy};
use peerctl_e2e::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- worlds

/// specs/demo.yaml's AWS peering, for the demo's VPCs named with `prefix`.
fn demo_aws_spec(owner: &str, prefix: &str) -> String {
    format!(
        "version: 1
owner: {owner}
aws:
  region: us-east-1
peerings:
  - name: byoc-to-services
    aws:
      requester:
        vpc: {{name: {prefix}emqxbyoc-1234-vpc}}
        route_tables: [{{name: {prefix}emqxbyoc-1234-private-route-table}}]
        security_groups: [{{name: {prefix}emqxbyoc-1234}}]
      accepter:
        vpc: {{name: {prefix}services-vpc}}
        route_tables: [{{name: {prefix}services-private-route-table}}]
        security_groups: [{{name: {prefix}services}}]
      allow:
        - {{protocol: tcp, ports: all}}
      dns_resolution: true
"
    )
}

/// The demo's AWS world (tests/demo_world.rs), its names prefixed with `prefix`.
async fn demo_aws_world(ec2: &Client, prefix: &str) -> (TestVpc, TestVpc) {
    let byoc = create_vpc(ec2, &format!("{prefix}emqxbyoc-1234"), "10.10.0.0/16").await.expect("byoc vpc");
    let services = create_vpc(ec2, &format!("{prefix}services"), "10.20.0.0/16").await.expect("services vpc");
    ec2.associate_vpc_cidr_block().vpc_id(&services.id).cidr_block("10.21.0.0/16").send().await.expect("secondary cidr");
    (byoc, services)
}

/// specs/demo.yaml's GCP peering, for the demo's networks named with `prefix`.
fn demo_gcp_spec(owner: &str, prefix: &str) -> String {
    format!(
        "version: 1
owner: {owner}
gcp:
  project: emqx-byoc-demo
peerings:
  - name: byoc-gcp
    gcp:
      network: {prefix}emqxbyoc-xxxx-network
      peer_network: projects/user-project-demo/global/networks/{prefix}cloud-test-1
      allow:
        - {{protocol: tcp, ports: all}}
"
    )
}

/// The demo's GCP networks (tests/demo_world.rs), named with `prefix`.
async fn demo_gcp_world(sim: &Sim, prefix: &str) -> GcpPair {
    let pair = GcpPair { byoc: format!("{prefix}emqxbyoc-xxxx-network"), user: format!("{prefix}cloud-test-1") };
    sim.network("emqx-byoc-demo", &pair.byoc, &["10.30.0.0/20"]).await.expect("byoc network");
    sim.network("user-project-demo", &pair.user, &["10.40.0.0/20"]).await.expect("user network");
    pair
}

struct GcpPair {
    byoc: String,
    user: String,
}

// ---------------------------------------------------------------- running peerctl

fn spawn(cloud: &dyn Cloud, dir: &Workdir, args: &[&str]) -> Child {
    let bin = peerctl_bin();
    assert!(bin.exists(), "{} is missing: build it first (`cargo build --workspace --bins`)", bin.display());
    let mut command = Command::new(bin);
    command
        .args(args)
        .current_dir(&dir.path)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in cloud.env() {
        command.env(key, value);
    }
    command.spawn().unwrap_or_else(|e| panic!("cannot run peerctl: {e}"))
}

fn finish(child: Child) -> (std::process::ExitStatus, Run) {
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("cannot wait for peerctl: {e}"));
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    (output.status, run)
}

/// Runs `apply` through `proxy`, armed to stop after `k` mutating calls, and
/// kills it with SIGKILL the moment the k-th call has reached the cloud (its
/// answer never comes back). Whether the crash point was reached.
fn apply_and_kill_after(proxy: &FaultProxy, cloud: &dyn Cloud, dir: &Workdir, k: u64) -> (bool, Run) {
    proxy.crash_after(k);
    let mut child = spawn(cloud, dir, &["apply", "--auto-approve", "spec.yaml"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let killed = loop {
        if proxy.wait_crash(Duration::from_millis(10)) {
            child.kill().unwrap_or_else(|e| panic!("cannot kill peerctl: {e}"));
            break true;
        }
        if child.try_wait().ok().flatten().is_some() {
            break false;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("apply neither reached mutating call {k} nor ended within 60 s");
        }
    };
    let (status, run) = finish(child);
    assert!(proxy.wait_idle(Duration::from_secs(30)), "the calls that got through were answered");
    proxy.disarm();
    if killed {
        assert_eq!(status.signal(), Some(libc::SIGKILL), "killed with SIGKILL\n{}\n{}", run.stdout, run.stderr);
    }
    (killed, run)
}

/// The number of steps `plan` would take now.
fn plan_length(cloud: &dyn Cloud, dir: &Workdir) -> u64 {
    let plan = run(cloud, dir, &["plan", "--format", "json", "spec.yaml"]).expect(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("json plan");
    plan["steps"].as_array().map_or(0, |s| s.len() as u64)
}

/// The line of `apply`'s stderr that counts retries, or "no retries".
fn retries_line(run: &Run) -> String {
    run.stderr.lines().find(|l| l.contains("retried")).unwrap_or("0 call(s) retried by peerctl's engine").to_string()
}

fn calls_line(run: &Run, cloud: &str) -> String {
    run.stderr.lines().find(|l| l.starts_with(&format!("{cloud} api calls:"))).unwrap_or_default().to_string()
}

// ---------------------------------------------------------------- reading the clouds directly

const TERMINAL: &[&str] = &["deleted", "deleting", "rejected", "failed", "expired"];

struct Pcx {
    id: String,
    status: String,
    vpcs: (String, String),
    tags: BTreeMap<String, String>,
}

async fn all_connections(ec2: &Client) -> Vec<Pcx> {
    let out = ec2.describe_vpc_peering_connections().send().await.expect("describe connections");
    out.vpc_peering_connections()
        .iter()
        .map(|c| Pcx {
            id: c.vpc_peering_connection_id().unwrap_or_default().to_string(),
            status: c.status().and_then(|s| s.code()).map(|c| c.as_str().to_string()).unwrap_or_default(),
            vpcs: (
                c.requester_vpc_info().and_then(|v| v.vpc_id()).unwrap_or_default().to_string(),
                c.accepter_vpc_info().and_then(|v| v.vpc_id()).unwrap_or_default().to_string(),
            ),
            tags: c.tags().iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect(),
        })
        .collect()
}

fn between<'a>(all: &'a [Pcx], a: &str, b: &str) -> Vec<&'a Pcx> {
    all.iter().filter(|c| (c.vpcs.0 == a && c.vpcs.1 == b) || (c.vpcs.0 == b && c.vpcs.1 == a)).collect()
}

/// Connections between the two VPCs that lack the peering's ownership tags.
async fn untagged_connections(ec2: &Client, a: &str, b: &str, owner: &str, peering: &str) -> Vec<String> {
    let all = all_connections(ec2).await;
    between(&all, a, b)
        .into_iter()
        .filter(|c| {
            c.tags.get("peerctl:owner").map(String::as_str) != Some(owner)
                || c.tags.get("peerctl:peering").map(String::as_str) != Some(peering)
        })
        .map(|c| format!("{} ({}) is not tagged as {owner}/{peering}: {:?}", c.id, c.status, c.tags))
        .collect()
}

/// Duplicates in `vpc`: a destination routed twice in one of its tables, a
/// route through another connection of the same pair (`pair`) than `pcx`,
/// or a (protocol, ports, source) allowed twice in its security group.
async fn duplicates(ec2: &Client, vpc: &TestVpc, pcx: &str, pair: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let filter = Filter::builder().name("vpc-id").values(&vpc.id).build();
    let tables = ec2.describe_route_tables().filters(filter).send().await.expect("route tables");
    for table in tables.route_tables() {
        let mut per_destination: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for route in table.routes() {
            let destination = route.destination_cidr_block().or(route.destination_ipv6_cidr_block()).unwrap_or_default();
            let target = route.vpc_peering_connection_id().or(route.gateway_id()).unwrap_or_default();
            per_destination.entry(destination.to_string()).or_default().push(target.to_string());
        }
        let table_id = table.route_table_id().unwrap_or_default();
        for (destination, targets) in &per_destination {
            if targets.len() != 1 {
                problems.push(format!("{table_id} has {} routes to {destination}: {targets:?}", targets.len()));
            } else if pair.contains(&targets[0]) && targets[0] != pcx {
                problems.push(format!("{table_id} routes {destination} through {}, not the live connection {pcx}", targets[0]));
            }
        }
    }
    let rules = ingress_rules(ec2, &vpc.security_group).await.expect("rules");
    let mut per_permission: BTreeMap<(String, i32, i32, String), usize> = BTreeMap::new();
    for rule in &rules {
        *per_permission.entry((rule.0.clone(), rule.1, rule.2, rule.3.clone())).or_default() += 1;
    }
    for (permission, count) in per_permission.into_iter().filter(|(_, count)| *count != 1) {
        problems.push(format!("{} holds {count} ingress rules {permission:?}", vpc.security_group));
    }
    problems
}

/// What differs from one converged AWS peering: exactly one live connection
/// between the VPCs, active; no connection of `owner` pending acceptance;
/// no duplicate route or rule on either side.
async fn aws_problems(requester: (&Client, &TestVpc), accepter: (&Client, &TestVpc), owner: &str) -> Vec<String> {
    let all = all_connections(requester.0).await;
    let live: Vec<&Pcx> =
        between(&all, &requester.1.id, &accepter.1.id).into_iter().filter(|c| !TERMINAL.contains(&c.status.as_str())).collect();
    let seen: Vec<(&str, &str)> = live.iter().map(|c| (c.id.as_str(), c.status.as_str())).collect();
    let mut problems = Vec::new();
    if live.len() != 1 || live[0].status != "active" {
        problems.push(format!("{} live connections between the VPCs, not one active: {seen:?}", live.len()));
    }
    let pending: Vec<&str> = all
        .iter()
        .filter(|c| c.status == "pending-acceptance" && c.tags.get("peerctl:owner").map(String::as_str) == Some(owner))
        .map(|c| c.id.as_str())
        .collect();
    if !pending.is_empty() {
        problems.push(format!("owned connections left pending acceptance: {pending:?}"));
    }
    let pcx = live.iter().find(|c| c.status == "active").or(live.first()).map(|c| c.id.clone()).unwrap_or_default();
    let pair: Vec<String> = between(&all, &requester.1.id, &accepter.1.id).into_iter().map(|c| c.id.clone()).collect();
    problems.extend(duplicates(requester.0, requester.1, &pcx, &pair).await);
    problems.extend(duplicates(accepter.0, accepter.1, &pcx, &pair).await);
    problems
}

async fn assert_aws_converged(requester: (&Client, &TestVpc), accepter: (&Client, &TestVpc), owner: &str, context: &str) {
    let problems = aws_problems(requester, accepter, owner).await;
    assert!(problems.is_empty(), "{context}:\n  {}", problems.join("\n  "));
}

/// What differs from one converged GCP peering: one ACTIVE entry on each
/// network, pointing at the other, and exactly one owned rule per side.
async fn gcp_problems(sim: &Sim, pair: &GcpPair, owner: &str) -> Vec<String> {
    let entry = format!("{owner}--byoc-gcp");
    let mut problems = Vec::new();
    let sides =
        [("emqx-byoc-demo", &pair.byoc, "user-project-demo", &pair.user), ("user-project-demo", &pair.user, "emqx-byoc-demo", &pair.byoc)];
    for (project, network, peer_project, peer) in sides {
        let entries = sim.peerings(project, network).await.expect("peerings");
        let wanted = |e: &(String, String, String)| {
            e.0 == entry && e.1.ends_with(&format!("projects/{peer_project}/global/networks/{peer}")) && e.2 == "ACTIVE"
        };
        if entries.len() != 1 || !wanted(&entries[0]) {
            problems.push(format!("{network} should hold one ACTIVE entry {entry} to {peer}: {entries:?}"));
        }
    }
    for (project, suffix) in [("emqx-byoc-demo", "a"), ("user-project-demo", "b")] {
        let rules: Vec<String> = sim.firewalls(project).await.expect("firewalls").into_iter().filter(|f| f.contains(&entry)).collect();
        if rules != [format!("peerctl-{entry}-{suffix}")] {
            problems.push(format!("{project} should hold one rule peerctl-{entry}-{suffix}: {rules:?}"));
        }
    }
    problems
}

async fn assert_gcp_converged(sim: &Sim, pair: &GcpPair, owner: &str, context: &str) {
    let problems = gcp_problems(sim, pair, owner).await;
    assert!(problems.is_empty(), "{context}:\n  {}", problems.join("\n  "));
}

/// A run that should have exited 0, as a problem when it did not.
fn failed_run(what: &str, run: &Run) -> Option<String> {
    (run.code != 0).then(|| format!("{what} exited {}\n--- stdout\n{}--- stderr\n{}", run.code, run.stdout, run.stderr))
}

// ---------------------------------------------------------------- (a) AWS through 20% faults

/// Every kind: throttling, 500s before and after the call went through,
/// dropped connections before and after, latency; reads and writes alike;
/// and each new connection hidden from Describe (and unknown to mutations
/// naming it) for 2 s.
fn twenty_percent(seed: u64) -> FaultConfig {
    FaultConfig { hide_new_pcx: Duration::from_secs(2), hidden_pcx_not_found: true, ..FaultConfig::rate(0.2, seed) }
}

#[tokio::test]
async fn aws_demo_converges_through_twenty_percent_faults() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let (byoc, services) = demo_aws_world(&ec2, "").await;
    let proxy = FaultProxy::start(&moto.endpoint, twenty_percent(20)).expect("proxy");
    let dir = Workdir::new("faults-aws-demo");
    dir.write("spec.yaml", &demo_aws_spec("demo", ""));

    let started = Instant::now();
    let applied = run(&moto.via(&proxy.endpoint), &dir, &["apply", "-v", "--auto-approve", "spec.yaml"]);
    let took = started.elapsed();
    let counters = proxy.counters();
    report_aws("aws demo through 20% faults", &applied, took, &counters);
    let applied = applied.expect(0);
    assert!(applied.stdout.contains("Verified"), "{}", applied.stdout);
    assert!(counters.faults_total() > 0, "faults were injected: {counters:?}");

    run(&moto, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(0);
    assert_aws_converged((&ec2, &byoc), (&ec2, &services), "demo", "aws demo, 20% faults").await;
}

/// One line of figures for the closing note: not asserted.
fn report_aws(what: &str, applied: &Run, took: std::time::Duration, counters: &Counters) {
    eprintln!(
        "{what}: exit {} in {took:.1?}; {} requests, {} faults {:?}, {} mutating calls forwarded ({} CreateVpcPeeringConnection), {} hidden from Describe; {}; {}",
        applied.code,
        counters.requests,
        counters.faults_total(),
        counters.faults,
        counters.mutations_forwarded,
        counters.forwarded.get("CreateVpcPeeringConnection").copied().unwrap_or(0),
        counters.hidden_from_describe,
        retries_line(applied),
        calls_line(applied, "aws"),
    );
}

/// Three hubs in us-east-1, thirty spokes in us-west-2 and eu-west-1.
#[tokio::test]
async fn aws_thirty_peerings_converge_through_twenty_percent_faults() {
    let moto = Moto::start().expect("moto");
    let east = moto.ec2("us-east-1", None).await;
    let spoke_regions = [("us-west-2", moto.ec2("us-west-2", None).await), ("eu-west-1", moto.ec2("eu-west-1", None).await)];
    let mut spec = String::from("version: 1\nowner: thirty\npeerings:\n");
    let mut pairs = Vec::new();
    for hub in 0..3 {
        let hub_vpc = create_vpc(&east, &format!("hub{hub}"), &format!("10.{hub}.0.0/16")).await.expect("hub");
        for spoke in 0..10 {
            let n = hub * 10 + spoke;
            let (region, client) = &spoke_regions[n % 2];
            let spoke_vpc = create_vpc(client, &format!("spoke{n}"), &format!("10.{}.0.0/16", 100 + n)).await.expect("spoke");
            spec.push_str(&format!(
                "  - name: hub{hub}-spoke{n}
    aws:
      requester: {{vpc: {{name: hub{hub}-vpc}}, region: us-east-1, route_tables: [{{name: hub{hub}-private-route-table}}], security_groups: [{{name: hub{hub}}}]}}
      accepter: {{vpc: {{name: spoke{n}-vpc}}, region: {region}, route_tables: [{{name: spoke{n}-private-route-table}}], security_groups: [{{name: spoke{n}}}]}}
"
            ));
            pairs.push((hub_vpc.clone(), client, spoke_vpc));
        }
    }
    let proxy = FaultProxy::start(&moto.endpoint, twenty_percent(30)).expect("proxy");
    let dir = Workdir::new("faults-aws-thirty");
    dir.write("spec.yaml", &spec);

    let started = Instant::now();
    let applied = run(&moto.via(&proxy.endpoint), &dir, &["apply", "-v", "--auto-approve", "spec.yaml"]);
    let took = started.elapsed();
    let counters = proxy.counters();
    report_aws("aws 30 peerings through 20% faults", &applied, took, &counters);
    let applied = applied.expect(0);
    assert!(applied.stdout.contains("Apply complete! Resources: 150 added, 30 changed, 0 destroyed."), "{}", applied.stdout);

    run(&moto, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(0);
    for (hub, client, spoke) in &pairs {
        assert_aws_converged((&east, hub), (client, spoke), "thirty", &format!("{} to {}", hub.id, spoke.id)).await;
    }
}

/// The answer to `CreateVpcPeeringConnection` is lost although the call went
/// through: once as a 500, once as a dropped connection while the new
/// connection is not yet visible to Describe (EC2's eventual consistency).
/// Either way the apply ends with one connection, not two.
#[tokio::test]
async fn aws_a_lost_create_answer_never_duplicates_the_connection() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let proxy = FaultProxy::start(&moto.endpoint, FaultConfig::default()).expect("proxy");
    let via = moto.via(&proxy.endpoint);
    let cases = [
        ("lost500-", Fault::InternalErrorAfterForward, FaultConfig::default()),
        ("lostdrop-", Fault::DropAfterForward, FaultConfig { hide_new_pcx: Duration::from_secs(2), ..FaultConfig::default() }),
    ];
    let mut failures = Vec::new();
    for (prefix, fault, config) in cases {
        let (byoc, services) = demo_aws_world(&ec2, prefix).await;
        let dir = Workdir::new(&format!("faults-aws-{prefix}"));
        let owner = prefix.trim_end_matches('-');
        dir.write("spec.yaml", &demo_aws_spec(owner, prefix));
        proxy.configure(config);
        proxy.fault_next("Action=CreateVpcPeeringConnection", fault);
        let before = proxy.counters().forwarded.get("CreateVpcPeeringConnection").copied().unwrap_or(0);
        let applied = run(&via, &dir, &["apply", "-v", "--auto-approve", "spec.yaml"]);
        let created = proxy.counters().forwarded.get("CreateVpcPeeringConnection").copied().unwrap_or(0) - before;
        let mut problems: Vec<String> = failed_run("apply", &applied).into_iter().collect();
        problems.extend(aws_problems((&ec2, &byoc), (&ec2, &services), owner).await);
        if !problems.is_empty() {
            let again = run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]);
            let healed = again.code == 0 && aws_problems((&ec2, &byoc), (&ec2, &services), owner).await.is_empty();
            failures.push(format!(
                "{} on CreateVpcPeeringConnection: {created} calls reached moto ({}); a second apply {}:\n  {}",
                fault.name(),
                calls_line(&applied, "aws"),
                if healed { "converged" } else { "did not converge either" },
                problems.join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------- (b) GCP through 20% faults

#[tokio::test]
async fn gcp_demo_converges_through_the_simulators_twenty_percent_faults() {
    let sim = Sim::start(&[]).expect("simulator");
    let pair = demo_gcp_world(&sim, "").await;
    sim.configure(json!({"fail_rate": 0.2, "fail_reads": true, "seed": 20})).await.expect("faults on");
    let dir = Workdir::new("faults-gcp-sim");
    dir.write("spec.yaml", &demo_gcp_spec("demo", ""));

    let started = Instant::now();
    let applied = run(&sim, &dir, &["apply", "-v", "--auto-approve", "spec.yaml"]);
    let took = started.elapsed();
    let stats = sim.stats().await.expect("stats");
    eprintln!(
        "gcp demo through the simulator's 20% faults: exit {} in {took:.1?}; {} requests, {} faults {}; {}; {}",
        applied.code,
        stats["requests_total"],
        stats["faults_total"],
        stats["faults"],
        retries_line(&applied),
        calls_line(&applied, "gcp"),
    );
    let applied = applied.expect(0);
    assert!(applied.stdout.contains("Verified"), "{}", applied.stdout);
    assert!(stats["faults_total"].as_u64().unwrap_or(0) > 0, "faults were injected: {stats}");

    sim.configure(json!({"fail_rate": 0.0})).await.expect("faults off");
    run(&sim, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(0);
    assert_gcp_converged(&sim, &pair, "demo", "gcp demo, simulator faults").await;
}

/// What the simulator's knobs cannot do: lose the answer of a call that went
/// through (a 500 or a dropped connection after it), drop connections, add latency.
#[tokio::test]
async fn gcp_demo_converges_through_twenty_percent_lost_answers_and_dropped_connections() {
    let sim = Sim::start(&[]).expect("simulator");
    let pair = demo_gcp_world(&sim, "").await;
    let proxy = FaultProxy::start(&sim.base_url, FaultConfig::rate(0.2, 21)).expect("proxy");
    // And, whatever the draw, the first addPeering and the first rule insert lose their answer.
    proxy.fault_next("/addPeering?", Fault::DropAfterForward);
    proxy.fault_next("POST /compute/v1/projects/emqx-byoc-demo/global/firewalls?", Fault::InternalErrorAfterForward);
    let via = Sim::attach(format!("{}/compute/v1/", proxy.endpoint));
    let dir = Workdir::new("faults-gcp-proxy");
    dir.write("spec.yaml", &demo_gcp_spec("demo", ""));

    let started = Instant::now();
    let applied = run(&via, &dir, &["apply", "-v", "--auto-approve", "spec.yaml"]);
    let took = started.elapsed();
    let counters = proxy.counters();
    eprintln!(
        "gcp demo through 20% proxy faults: exit {} in {took:.1?}; {} requests, {} faults {:?}, {} mutating calls forwarded; {}; {}",
        applied.code,
        counters.requests,
        counters.faults_total(),
        counters.faults,
        counters.mutations_forwarded,
        retries_line(&applied),
        calls_line(&applied, "gcp"),
    );
    let applied = applied.expect(0);
    assert!(applied.stdout.contains("Verified"), "{}", applied.stdout);
    let lost = ["drop_after_forward", "internal_error_after_forward"].map(|kind| counters.faults.get(kind).copied().unwrap_or(0));
    assert!(lost.iter().all(|n| *n > 0), "answers were lost: {:?}", counters.faults);

    run(&sim, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(0);
    assert_gcp_converged(&sim, &pair, "demo", "gcp demo, proxy faults").await;
}

// ---------------------------------------------------------------- (c) crash safety

/// For every k from 1 to the plan's length: a fresh pair of VPCs in the same
/// moto, `apply` killed with SIGKILL right after its k-th mutating call
/// reached moto (the answer lost), every connection between the pair tagged
/// at that instant, then a second apply converges and verifies with nothing
/// duplicated and nothing left pending.
#[tokio::test]
async fn aws_apply_killed_after_each_mutating_call_converges_on_the_next_run() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let proxy = FaultProxy::start(&moto.endpoint, FaultConfig::default()).expect("proxy");
    let via = moto.via(&proxy.endpoint);
    let (mut length, mut failures) = (None, Vec::new());
    let mut k = 1;
    while length.is_none_or(|length| k <= length) {
        let (prefix, owner) = (format!("k{k}-"), format!("crash-k{k}"));
        let (byoc, services) = demo_aws_world(&ec2, &prefix).await;
        let dir = Workdir::new(&format!("faults-aws-crash-{k}"));
        dir.write("spec.yaml", &demo_aws_spec(&owner, &prefix));
        let length = *length.get_or_insert_with(|| plan_length(&moto, &dir));
        assert!(length >= 10, "the demo's plan: create, accept, 2 DNS options, 3 routes, 3 rules");

        let (mut problems, through) = kill_after(&proxy, &via, &dir, k, "moto");
        problems.extend(untagged_connections(&ec2, &byoc.id, &services.id, &owner, "byoc-to-services").await);
        let again = run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]);
        problems.extend(failed_run("the second apply", &again));
        problems.extend(failed_run("plan --detailed-exitcode after it", &run(&moto, &dir, &["plan", "--detailed-exitcode", "spec.yaml"])));
        problems.extend(aws_problems((&ec2, &byoc), (&ec2, &services), &owner).await);
        if !problems.is_empty() {
            failures.push(format!("killed after mutating call {k} of {length} ({through}):\n  {}", problems.join("\n  ")));
        }
        k += 1;
    }
    eprintln!(
        "aws crash safety: killed after each of {} mutating calls; {} of them did not converge on the next run",
        k - 1,
        failures.len()
    );
    assert!(failures.is_empty(), "aws crash safety:\n{}", failures.join("\n"));
}

/// Runs apply through `proxy` and kills it after its `k`-th mutating call:
/// what went other than planned, and the mutating calls that got through.
fn kill_after(proxy: &FaultProxy, via: &dyn Cloud, dir: &Workdir, k: u64, server: &str) -> (Vec<String>, String) {
    let forwarded = proxy.counters().mutations_forwarded;
    let (killed, crashed) = apply_and_kill_after(proxy, via, dir, k);
    let mut problems = Vec::new();
    if !killed {
        problems.push(format!("apply ended before its mutating call {k}\n{}\n{}", crashed.stdout, crashed.stderr));
    }
    let counters = proxy.counters();
    let through = counters.mutation_log.get(usize::try_from(forwarded).unwrap_or(0)..).unwrap_or_default().join(", ");
    let reached = counters.mutations_forwarded - forwarded;
    if reached != k {
        problems.push(format!("{reached} mutating calls reached {server}, not {k}"));
    }
    (problems, through)
}

#[tokio::test]
async fn gcp_apply_killed_after_each_mutating_call_converges_on_the_next_run() {
    // Operations take a while, as Compute's do: the second run starts while
    // the killed run's last operation is still running.
    let sim = Sim::start(&[]).expect("simulator");
    sim.configure(json!({"operation_latency_ms": 500})).await.expect("latency");
    let proxy = FaultProxy::start(&sim.base_url, FaultConfig::default()).expect("proxy");
    let via = Sim::attach(format!("{}/compute/v1/", proxy.endpoint));
    let (mut length, mut failures) = (None, Vec::new());
    let mut k = 1;
    while length.is_none_or(|length| k <= length) {
        let (prefix, owner) = (format!("k{k}-"), format!("crash-k{k}"));
        let pair = demo_gcp_world(&sim, &prefix).await;
        let dir = Workdir::new(&format!("faults-gcp-crash-{k}"));
        dir.write("spec.yaml", &demo_gcp_spec(&owner, &prefix));
        let length = *length.get_or_insert_with(|| plan_length(&sim, &dir));
        assert_eq!(length, 4, "the demo's GCP plan: an entry and a rule on each network");

        let (mut problems, through) = kill_after(&proxy, &via, &dir, k, "the simulator");
        let again = run(&sim, &dir, &["apply", "--auto-approve", "spec.yaml"]);
        problems.extend(failed_run("the second apply", &again));
        problems.extend(failed_run("plan --detailed-exitcode after it", &run(&sim, &dir, &["plan", "--detailed-exitcode", "spec.yaml"])));
        problems.extend(gcp_problems(&sim, &pair, &owner).await);
        if !problems.is_empty() {
            failures.push(format!("killed after mutating call {k} of {length} ({through}):\n  {}", problems.join("\n  ")));
        }
        k += 1;
    }
    eprintln!(
        "gcp crash safety: killed after each of {} mutating calls; {} of them did not converge on the next run",
        k - 1,
        failures.len()
    );
    assert!(failures.is_empty(), "gcp crash safety:\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------- (d) races

/// Two applies at once, their `CreateVpcPeeringConnection` calls held until
/// both arrived (so both really race): whatever they end with, a third run
/// converges and leaves exactly one connection.
#[tokio::test]
async fn aws_two_applies_at_once_leave_one_connection_after_a_third_run() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let (byoc, services) = demo_aws_world(&ec2, "").await;
    let proxy = FaultProxy::start(&moto.endpoint, FaultConfig::default()).expect("proxy");
    proxy.hold_until_together("Action=CreateVpcPeeringConnection", 2);
    let via = moto.via(&proxy.endpoint);
    let dir = Workdir::new("faults-aws-race");
    dir.write("spec.yaml", &demo_aws_spec("demo", ""));

    let first = spawn(&via, &dir, &["apply", "--auto-approve", "spec.yaml"]);
    let second = spawn(&via, &dir, &["apply", "--auto-approve", "spec.yaml"]);
    let (first, second) = (finish(first).1, finish(second).1);
    let created = proxy.counters().forwarded.get("CreateVpcPeeringConnection").copied().unwrap_or(0);
    eprintln!(
        "aws race: the two applies exited {} and {}; {created} connection(s) created\n--- first\n{}\n--- second\n{}",
        first.code, second.code, first.stderr, second.stderr
    );

    let third = run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);
    assert!(third.stdout.contains("Verified") || third.stdout.contains("No changes."), "{}", third.stdout);
    run(&moto, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(0);
    assert_aws_converged((&ec2, &byoc), (&ec2, &services), "demo", "aws race").await;
}

/// Two applies at once on GCP, their first `addPeering` and their insert of
/// the same firewall rule held until both arrived: one of each pair meets
/// "operation in progress" (or the other's running insert) and retries;
/// neither fails.
#[tokio::test]
async fn gcp_two_applies_at_once_retry_operation_in_progress_and_both_succeed() {
    let sim = Sim::start(&[]).expect("simulator");
    sim.configure(json!({"operation_latency_ms": 300})).await.expect("latency");
    let pair = demo_gcp_world(&sim, "").await;
    let proxy = FaultProxy::start(&sim.base_url, FaultConfig::default()).expect("proxy");
    proxy.hold_until_together("/addPeering?", 2);
    proxy.hold_until_together("\"name\":\"peerctl-demo--byoc-gcp-a\"", 2);
    let via = Sim::attach(format!("{}/compute/v1/", proxy.endpoint));
    let dir = Workdir::new("faults-gcp-race");
    dir.write("spec.yaml", &demo_gcp_spec("demo", ""));

    let first = spawn(&via, &dir, &["apply", "-vv", "--auto-approve", "spec.yaml"]);
    let second = spawn(&via, &dir, &["apply", "-vv", "--auto-approve", "spec.yaml"]);
    let (first, second) = (finish(first).1, finish(second).1);
    let counters = proxy.counters();
    let busy = counters.upstream_errors.iter().filter(|(_, text)| text.contains("operation in progress")).count();
    eprintln!(
        "gcp race: the two applies exited {} and {}; {busy} \"operation in progress\" answer(s); upstream errors: {:?}",
        first.code, second.code, counters.upstream_errors
    );
    assert!(busy > 0, "one of the two met the other's running operation: {:?}", counters.upstream_errors);

    let third = run(&sim, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);
    run(&sim, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(0);
    assert_gcp_converged(&sim, &pair, "demo", "gcp race").await;
    let failed: Vec<String> =
        [("the first apply", &first), ("the second apply", &second)].into_iter().filter_map(|(what, run)| failed_run(what, run)).collect();
    assert!(failed.is_empty(), "concurrent applies retry instead of failing:\n{}", failed.join("\n"));
    assert!(third.stdout.contains("No changes."), "the two applies left nothing to do: {}", third.stdout);
}

/// The proxy itself: each fault kind answers as EC2 would, a crash point
/// lets exactly k mutating calls through, and `Fault` names are stable.
#[tokio::test]
async fn the_proxy_injects_what_it_is_told() {
    let moto = Moto::start().expect("moto");
    let direct = moto.ec2("us-east-1", None).await;
    let only = |fault| FaultConfig { mix: vec![fault], ..FaultConfig::rate(1.0, 1) };
    let proxy = FaultProxy::start(&moto.endpoint, only(Fault::Throttle)).expect("proxy");
    let via = moto.via(&proxy.endpoint);
    let client = |retries: u32| {
        let endpoint = via.endpoint.clone();
        async move {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(endpoint)
                .credentials_provider(aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "test"))
                .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(retries))
                .load()
                .await;
            Client::new(&config)
        }
    };
    let ec2 = client(1).await;

    let throttled = ec2.describe_vpcs().send().await.expect_err("throttled");
    assert_eq!(throttled.code(), Some("RequestLimitExceeded"));
    assert_eq!(throttled.raw_response().map(|r| r.status().as_u16()), Some(503));

    proxy.configure(only(Fault::InternalErrorAfterForward));
    let before = all_connections(&direct).await.len();
    let vpcs = demo_aws_world(&direct, "proxy-").await;
    let lost = ec2.create_vpc_peering_connection().vpc_id(&vpcs.0.id).peer_vpc_id(&vpcs.1.id).send().await.expect_err("500");
    assert_eq!(lost.code(), Some("InternalError"));
    assert_eq!(all_connections(&direct).await.len(), before + 1, "the call went through although its answer was a 500");

    proxy.configure(only(Fault::Drop));
    let dropped = ec2.describe_vpcs().send().await.expect_err("dropped");
    assert!(
        matches!(dropped, aws_sdk_ec2::error::SdkError::DispatchFailure(_) | aws_sdk_ec2::error::SdkError::ResponseError(_)),
        "{dropped:?}"
    );

    proxy.configure(FaultConfig { hide_new_pcx: Duration::from_secs(30), ..FaultConfig::default() });
    let made = ec2.create_vpc_peering_connection().vpc_id(&vpcs.0.id).peer_vpc_id(&vpcs.1.id).send().await.expect("create");
    let id = made.vpc_peering_connection().and_then(|c| c.vpc_peering_connection_id()).unwrap_or_default().to_string();
    let seen = ec2.describe_vpc_peering_connections().send().await.expect("describe");
    assert!(seen.vpc_peering_connections().iter().all(|c| c.vpc_peering_connection_id() != Some(id.as_str())), "{id} is hidden");
    assert!(all_connections(&direct).await.iter().any(|c| c.id == id), "moto has {id}");
    assert_eq!(proxy.counters().hidden_from_describe, 1);

    proxy.configure(FaultConfig::default());
    proxy.crash_after(2);
    let ec2 = client(1).await;
    for n in 0..3 {
        let result = ec2
            .create_tags()
            .resources(&vpcs.0.id)
            .tags(aws_sdk_ec2::types::Tag::builder().key("n").value(n.to_string()).build())
            .send()
            .await;
        assert_eq!(result.is_ok(), n == 0, "call {n}: the first answers, the second goes through unanswered, the third never goes");
    }
    assert!(proxy.wait_crash(Duration::ZERO));
    assert_eq!(proxy.counters().mutations_forwarded, 4, "the two creates above, and two CreateTags");
    proxy.disarm();
    let faults = proxy.counters().faults;
    assert_eq!(
        (faults.get("throttle"), faults.get("internal_error_after_forward"), faults.get("drop")),
        (Some(&1), Some(&1), Some(&1)),
        "{faults:?}"
    );
}
