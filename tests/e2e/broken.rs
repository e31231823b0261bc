//! The broken-spec corpus, `tests/broken/*.yaml`: every file is refused with
//! exactly the messages (file:line:column, hint) in its snapshot,
//! `tests/e2e/snapshots/broken/NAME.snap`, and no run changes anything.
//!
//! One moto and one GCP simulator hold one world for every case, built
//! through the APIs the way a user's infrastructure code would. moto's ids
//! are random, so its generator is seeded first: the world gets the same ids
//! on every run, and the few files that name an object by id can name it.
//!
//! Each file is run as `peerctl plan -v FILE` (reads the clouds) and
//! `peerctl validate FILE` (offline). A spec that is wrong on its own fails
//! both, with the same messages, without contacting any cloud; one that is
//! only wrong against live state (a VPC that does not exist, overlapping
//! ranges, a quota) passes `validate` and fails `plan` after reads only: its
//! `-v` call counts show 0 writes, and the clouds hold exactly what they held.

use crate::support::Run;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType};
use peerctl_e2e::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// moto's random generator is seeded with this before the world is built.
const SEED: u32 = 42;

/// The ids the seeded world gets, as the files that name objects by id write them.
const IDS: &[(&str, &str)] = &[
    ("the byoc VPC", "vpc-9af3739bc4b716148"),
    ("the services route table", "rtb-890c7588c8d1835d3"),
    ("the first quota-hub connection", "pcx-7e50f7dd9f1ca03c8"),
];

/// The environment that points peerctl at both clouds; plain data, so the
/// cases can run on several threads.
struct Env(Vec<(&'static str, String)>);

impl Cloud for Env {
    fn env(&self) -> Vec<(&'static str, String)> {
        self.0.clone()
    }
}

fn corpus() -> PathBuf {
    workspace_root().join("tests/broken")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broken_spec_is_refused_where_it_is_wrong_and_changes_nothing() {
    let moto = Moto::start().expect("moto");
    let sim = Sim::start(&[]).expect("simulator");
    let ids = aws_world(&moto).await;
    gcp_world(&sim).await;
    let expected: Vec<(&str, String)> = IDS.iter().map(|(what, id)| (*what, id.to_string())).collect();
    assert_eq!(
        ids, expected,
        "moto's seeded ids changed (a new moto?): write the new ids in IDS and in the tests/broken files that use the old ones"
    );
    let (aws_before, gcp_before) = (aws_fingerprint(&moto).await, gcp_fingerprint(&sim).await);

    let mut files: Vec<String> = std::fs::read_dir(corpus())
        .expect("tests/broken")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 45, "the corpus has {} cases", files.len());
    // Empty AWS config files rather than moto's missing ones, about which the SDK warns with a timestamp.
    let mut env: Vec<(&'static str, String)> = moto.env().into_iter().filter(|(key, _)| !key.ends_with("_FILE")).collect();
    env.extend([("AWS_CONFIG_FILE", "/dev/null".to_string()), ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_string())]);
    env.extend(sim.env());
    let runs = run_all(&Env(env), &files);

    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/broken");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for (file, (validate, plan)) in files.iter().zip(&runs) {
            let snapshot = check(file, validate, plan);
            insta::with_settings!({ input_file => corpus().join(file) }, {
                insta::assert_snapshot!(file.trim_end_matches(".yaml"), snapshot);
            });
        }
    });

    assert_eq!(aws_fingerprint(&moto).await, aws_before, "moto's state changed");
    assert_eq!(gcp_fingerprint(&sim).await, gcp_before, "the simulator's state changed");
    let pcx = connections(&moto.ec2("us-east-1", None).await).await.expect("connections");
    assert_eq!(pcx.len(), 50, "only the quota hub's 50 connections exist: {pcx:?}");
}

/// `validate FILE` and `plan -v FILE` of every file, a few at a time.
fn run_all(env: &Env, files: &[String]) -> Vec<(Run, Run)> {
    let dir = corpus();
    let one = |file: &String| {
        let run = |args: &[&str]| {
            let output = peerctl(env, &dir, args);
            Run {
                code: output.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        };
        (run(&["validate", file]), run(&["plan", "-v", file]))
    };
    let chunk = files.len().div_ceil(4);
    std::thread::scope(|s| {
        let workers: Vec<_> = files.chunks(chunk).map(|part| s.spawn(move || part.iter().map(one).collect::<Vec<_>>())).collect();
        workers.into_iter().flat_map(|w| w.join().expect("a worker panicked")).collect()
    })
}

/// Holds one case to the rules above; returns what its snapshot shows.
fn check(file: &str, validate: &Run, plan: &Run) -> String {
    let text = std::fs::read_to_string(corpus().join(file)).expect("case file");
    let what = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .unwrap_or_else(|| panic!("{file}: the first line must be `# what is wrong`"));
    assert_eq!(plan.code, 1, "{file}: plan must fail\n--- stdout\n{}\n--- stderr\n{}", plan.stdout, plan.stderr);
    assert_eq!(plan.stdout, "", "{file}: a refused plan prints no plan");
    let calls: Vec<&str> = plan.stderr.lines().filter(|l| l.contains(" api calls: ")).collect();
    let offline = match validate.code {
        1 => {
            assert_eq!(validate.stderr, plan.stderr, "{file}: validate and plan report the spec alike");
            assert!(calls.is_empty(), "{file}: a spec refused offline contacts no cloud:\n{}", plan.stderr);
            true
        }
        0 => {
            assert!(validate.stdout.contains("is valid"), "{file}: {}", validate.stdout);
            assert!(!calls.is_empty(), "{file}: no call counts in\n{}", plan.stderr);
            for line in &calls {
                let cloud = line.split(' ').next().unwrap_or_default();
                assert_eq!(plan.writes_to(cloud), 0, "{file}: {line}");
            }
            false
        }
        code => panic!("{file}: validate exited {code}\n{}", validate.stderr),
    };
    let found_by =
        if offline { "validate and plan (offline, no cloud contacted)" } else { "plan only (validate passes; live state shows it)" };
    format!("# {what}\n# refused by {found_by}\n$ peerctl plan -v {file}\n{}", plan.stderr)
}

/// Seeds moto and builds the AWS world every case reads; returns the ids
/// that files name (see `IDS`).
async fn aws_world(moto: &Moto) -> Vec<(&'static str, String)> {
    let seeded = reqwest::Client::new().post(format!("{}/moto-api/seed?a={SEED}", moto.endpoint)).send().await.expect("seed moto");
    assert!(seeded.status().is_success(), "moto refused the seed: {}", seeded.status());
    let ec2 = moto.ec2("us-east-1", None).await;
    let vpc = |name: &'static str, cidr: &'static str| {
        let ec2 = ec2.clone();
        async move { create_vpc(&ec2, name, cidr).await.unwrap_or_else(|e| panic!("{name}: {e}")) }
    };
    let byoc = vpc("byoc", "10.10.0.0/16").await;
    let services = vpc("services", "10.20.0.0/16").await;
    // Overlaps byoc's primary range; `late` overlaps services through a secondary block.
    vpc("overlap", "10.10.128.0/17").await;
    let late = vpc("late", "10.30.0.0/16").await;
    ec2.associate_vpc_cidr_block().vpc_id(&late.id).cidr_block("10.20.128.0/17").send().await.expect("secondary block");
    // A hub and two spokes whose ranges overlap each other (not the hub's).
    vpc("hub", "10.40.0.0/16").await;
    vpc("spoke-a", "10.41.0.0/16").await;
    vpc("spoke-b", "10.41.128.0/17").await;
    // Two VPCs with one Name; one VPC with two route tables of one Name.
    vpc("twin", "10.50.0.0/16").await;
    vpc("twin", "10.51.0.0/16").await;
    let doubled = vpc("doubled", "10.60.0.0/16").await;
    let name = tag_spec(ResourceType::RouteTable, "doubled-private-route-table");
    ec2.create_route_table().vpc_id(&doubled.id).tag_specifications(name).send().await.expect("second table");
    // A table at AWS's 50 routes and a group at its 60 inbound rules.
    let full = vpc("full", "10.70.0.0/16").await;
    fill(&ec2, &full).await;
    // A VPC at AWS's 50 peering connections.
    let hub = vpc("quota-hub", "10.80.0.0/16").await;
    let other = vpc("quota-other", "10.81.0.0/16").await;
    let mut first = None;
    for _ in 0..50 {
        let created = ec2.create_vpc_peering_connection().vpc_id(&hub.id).peer_vpc_id(&other.id).send().await.expect("connection");
        let id = created.vpc_peering_connection().and_then(|c| c.vpc_peering_connection_id()).expect("pcx id").to_string();
        ec2.accept_vpc_peering_connection().vpc_peering_connection_id(&id).send().await.expect("accept");
        first.get_or_insert(id);
    }
    vec![
        ("the byoc VPC", byoc.id),
        ("the services route table", services.route_table),
        ("the first quota-hub connection", first.unwrap_or_default()),
    ]
}

/// 50 routes (besides the local one) in `vpc`'s private table and 60 inbound
/// rules in its group, all to or from 172.16.N.0/24.
async fn fill(ec2: &Client, vpc: &TestVpc) {
    let igw = internet_gateway(ec2, &vpc.id).await.expect("gateway");
    for i in 0..50 {
        let route = ec2.create_route().route_table_id(&vpc.route_table).destination_cidr_block(format!("172.16.{i}.0/24"));
        route.gateway_id(&igw).send().await.expect("route");
    }
    let ranges = (0..60).map(|i| IpRange::builder().cidr_ip(format!("172.16.{i}.0/24")).build());
    let permission = IpPermission::builder().ip_protocol("tcp").from_port(443).to_port(443).set_ip_ranges(Some(ranges.collect())).build();
    ec2.authorize_security_group_ingress().group_id(&vpc.security_group).ip_permissions(permission).send().await.expect("rules");
}

/// The GCP world: a BYOC network, one overlapping it, two auto-mode
/// networks, a peer in another project, and a network at GCP's 25 peerings.
async fn gcp_world(sim: &Sim) {
    sim.configure(json!({"operation_latency_ms": 0})).await.expect("configure");
    sim.network("emqx-byoc", "byoc-net", &["10.100.0.0/20"]).await.expect("byoc-net");
    sim.network("emqx-byoc", "overlap-net", &["10.100.8.0/21"]).await.expect("overlap-net");
    sim.network("services-project", "peer-net", &["10.120.0.0/20"]).await.expect("peer-net");
    for name in ["auto-a", "auto-b"] {
        let body = json!({"name": name, "autoCreateSubnetworks": true});
        sim.call(Method::POST, "projects/emqx-byoc/global/networks", Some(body)).await.expect("auto-mode network");
    }
    sim.network("emqx-byoc", "crowded-net", &["10.110.0.0/20"]).await.expect("crowded-net");
    for i in 0..25 {
        let spoke = format!("spoke-{i}");
        sim.network("spokes-project", &spoke, &[]).await.expect("spoke");
        let body = json!({"networkPeering": {"name": spoke, "network": format!("projects/spokes-project/global/networks/{spoke}"), "exchangeSubnetRoutes": true}});
        sim.call(Method::POST, "projects/emqx-byoc/global/networks/crowded-net/addPeering", Some(body)).await.expect("addPeering");
    }
}

/// Everything a plan could change in moto, in a comparable form.
async fn aws_fingerprint(moto: &Moto) -> String {
    let mut facts = Vec::new();
    for region in ["us-east-1", "us-west-2"] {
        let ec2 = moto.ec2(region, None).await;
        for c in connections(&ec2).await.expect("connections") {
            facts.push(format!("{region} {c:?}"));
        }
        let tables = ec2.describe_route_tables().send().await.expect("tables");
        for table in tables.route_tables() {
            for (dest, target) in routes(&ec2, table.route_table_id().unwrap_or_default()).await.expect("routes") {
                facts.push(format!("{region} route {} {dest} {target}", table.route_table_id().unwrap_or_default()));
            }
        }
        let rules = ec2.describe_security_group_rules().send().await.expect("rules");
        for rule in rules.security_group_rules() {
            facts.push(format!("{region} rule {rule:?}"));
        }
        let vpcs = ec2.describe_vpcs().send().await.expect("vpcs");
        for vpc in vpcs.vpcs() {
            facts.push(format!("{region} vpc {:?} {:?}", vpc.vpc_id(), vpc.cidr_block_association_set()));
        }
    }
    facts.sort();
    facts.join("\n")
}

/// Every network (with its peerings) and firewall rule of the simulator's projects.
async fn gcp_fingerprint(sim: &Sim) -> String {
    let mut facts = Vec::new();
    for project in ["emqx-byoc", "services-project", "spokes-project"] {
        for kind in ["networks", "firewalls"] {
            let list = sim.get(&format!("projects/{project}/global/{kind}")).await.expect("list");
            for item in list.get("items").and_then(Value::as_array).cloned().unwrap_or_default() {
                let peerings = item.get("peerings").cloned().unwrap_or(Value::Null);
                facts.push(format!("{project} {kind} {} {peerings}", item["name"]));
            }
        }
    }
    facts.sort();
    facts.join("\n")
}

#[test]
fn every_case_file_is_numbered_and_says_what_is_wrong() {
    let dir: &Path = &corpus();
    for entry in std::fs::read_dir(dir).expect("tests/broken") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        let (number, rest) = name.split_once('-').unwrap_or_default();
        assert!(number.len() == 2 && number.bytes().all(|b| b.is_ascii_digit()), "{name}: start with a two-digit number");
        assert!(rest.ends_with(".yaml"), "{name}: a .yaml file");
        let text = std::fs::read_to_string(dir.join(&name)).expect("read");
        assert!(text.starts_with("# "), "{name}: the first line says what is wrong");
    }
}
