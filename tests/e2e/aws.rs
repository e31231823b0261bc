//! AWS end to end: peerctl against moto's EC2 server, with worlds built
//! through the SDK as a user's infrastructure code would build them.

use crate::support::{Workdir, run};
use aws_sdk_ec2::types::{IpPermission, IpRange, PeeringConnectionOptionsRequest};
use peerctl_e2e::*;

/// The guide's pair: BYOC VPC requests, services VPC accepts.
fn pair_spec(owner: &str, requester: &str, accepter: &str, extra: &str) -> String {
    format!(
        "version: 1
owner: {owner}
peerings:
  - name: byoc-to-services
{extra}    aws:
      requester:
        vpc: {{name: emqxbyoc-1234-vpc}}
        route_tables: [{{name: emqxbyoc-1234-private-route-table}}]
        {requester}
        security_groups: [{{name: emqxbyoc-1234}}]
      accepter:
        vpc: {{name: services-vpc}}
        route_tables: [{{name: services-private-route-table}}]
        {accepter}
        security_groups: [{{name: services}}]
      dns_resolution: true
"
    )
}

const SAME_REGION: &str = "region: us-east-1";

async fn status_of(ec2: &aws_sdk_ec2::Client, requester_vpc: &str) -> Vec<(String, String)> {
    let all = connections(ec2).await.expect("describe connections");
    all.into_iter().filter(|c| c.2 == requester_vpc).map(|c| (c.0, c.1)).collect()
}

#[tokio::test]
async fn creates_peering_routes_and_rules_then_second_apply_makes_no_mutating_call() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let byoc = create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    let services = create_vpc(&ec2, "services", "10.20.0.0/16").await.expect("services");
    ec2.associate_vpc_cidr_block().vpc_id(&services.id).cidr_block("10.21.0.0/16").send().await.expect("secondary cidr");
    let dir = Workdir::new("fresh");
    dir.write("spec.yaml", &pair_spec("team-a", SAME_REGION, SAME_REGION, ""));

    let plan = run(&moto, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(2);
    assert!(plan.stdout.contains("Plan: 7 to add, 3 to change, 0 to destroy."), "{}", plan.stdout);
    let applied = run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);
    assert!(applied.stdout.contains("Verified: live state matches the spec"), "{}", applied.stdout);

    let live = status_of(&ec2, &byoc.id).await;
    assert_eq!(live.len(), 1, "exactly one connection: {live:?}");
    let (pcx, status) = &live[0];
    assert_eq!(status, "active");
    // Progress names the new connection by its id once it exists.
    assert!(applied.stderr.contains(&format!("accept {pcx} in us-east-1 ... done")), "{}", applied.stderr);
    assert!(applied.stderr.contains(&format!("10.20.0.0/16 -> {pcx} ... done")), "{}", applied.stderr);
    assert!(!applied.stderr.contains("known after apply"), "{}", applied.stderr);
    let byoc_routes = routes(&ec2, &byoc.route_table).await.expect("routes");
    assert!(
        byoc_routes.contains(&("10.20.0.0/16".into(), pcx.clone())) && byoc_routes.contains(&("10.21.0.0/16".into(), pcx.clone())),
        "{byoc_routes:?}"
    );
    assert!(routes(&ec2, &services.route_table).await.expect("routes").contains(&("10.10.0.0/16".into(), pcx.clone())));
    let rules = ingress_rules(&ec2, &services.security_group).await.expect("rules");
    let owned = rules.iter().find(|r| r.3 == "10.10.0.0/16").expect("rule from the byoc range");
    assert_eq!((owned.0.as_str(), owned.1, owned.2), ("tcp", 0, 65535));
    assert!(owned.4.contains(&("peerctl:owner".into(), "team-a".into())), "rule is tagged: {:?}", owned.4);

    let again = run(&moto, &dir, &["apply", "-v", "--auto-approve", "spec.yaml"]).expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert_eq!(again.writes(), 0, "{}", again.stderr);
    let plan = run(&moto, &dir, &["plan", "-v", "--detailed-exitcode", "spec.yaml"]).expect(0);
    assert_eq!(plan.writes(), 0);
}

#[tokio::test]
async fn peers_across_regions() {
    let moto = Moto::start().expect("moto");
    let east = moto.ec2("us-east-1", None).await;
    let west = moto.ec2("us-west-2", None).await;
    let byoc = create_vpc(&east, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    let services = create_vpc(&west, "services", "10.20.0.0/16").await.expect("services");
    let dir = Workdir::new("cross-region");
    dir.write("spec.yaml", &pair_spec("team-a", SAME_REGION, "region: us-west-2", ""));

    run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);
    let live = status_of(&east, &byoc.id).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].1, "active");
    assert!(routes(&west, &services.route_table).await.expect("routes").contains(&("10.10.0.0/16".into(), live[0].0.clone())));
    run(&moto, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(0);
}

#[tokio::test]
async fn peers_across_accounts_with_an_assumed_role() {
    let moto = Moto::start().expect("moto");
    let mine = moto.ec2("us-east-1", None).await;
    let theirs = moto.ec2("us-west-2", Some(OTHER_ROLE)).await;
    let byoc = create_vpc(&mine, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    let services = create_vpc(&theirs, "services", "10.20.0.0/16").await.expect("services");
    let owner = theirs.describe_vpcs().vpc_ids(&services.id).send().await.expect("vpc").vpcs()[0].owner_id().map(str::to_string);
    assert_eq!(owner.as_deref(), Some(OTHER_ACCOUNT), "the services VPC lives in the other account");
    let dir = Workdir::new("cross-account");
    dir.write("spec.yaml", &pair_spec("team-a", SAME_REGION, &format!("region: us-west-2\n        role_arn: {OTHER_ROLE}"), ""));

    let plan = run(&moto, &dir, &["plan", "spec.yaml"]).expect(0);
    assert!(plan.stdout.contains(&format!("({OTHER_ACCOUNT}, us-west-2 (role {OTHER_ROLE}))")), "{}", plan.stdout);
    run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);
    let live = status_of(&mine, &byoc.id).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].1, "active");
    let their_routes = routes(&theirs, &services.route_table).await.expect("routes");
    assert!(
        their_routes.contains(&("10.10.0.0/16".into(), live[0].0.clone())),
        "the accepter's route is in the other account: {their_routes:?}"
    );
    run(&moto, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(0);
}

#[tokio::test]
async fn repairs_exactly_the_route_and_rule_deleted_by_hand() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let byoc = create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    let services = create_vpc(&ec2, "services", "10.20.0.0/16").await.expect("services");
    let dir = Workdir::new("repair");
    dir.write("spec.yaml", &pair_spec("team-a", SAME_REGION, SAME_REGION, ""));
    run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);

    ec2.delete_route().route_table_id(&byoc.route_table).destination_cidr_block("10.20.0.0/16").send().await.expect("delete route");
    let permission = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(0)
        .to_port(65535)
        .ip_ranges(IpRange::builder().cidr_ip("10.10.0.0/16").build())
        .build();
    ec2.revoke_security_group_ingress().group_id(&services.security_group).ip_permissions(permission).send().await.expect("revoke");

    let plan = run(&moto, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(2);
    assert!(plan.stdout.contains("Plan: 2 to add, 0 to change, 0 to destroy."), "{}", plan.stdout);
    assert!(plan.stdout.contains(&format!("+ route {} 10.20.0.0/16 -> pcx-", byoc.route_table)), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(&format!("+ ingress rule {} tcp all ports from 10.10.0.0/16", services.security_group)),
        "{}",
        plan.stdout
    );
    run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);
    run(&moto, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(0);
}

#[tokio::test]
async fn detects_and_repairs_a_dns_option_flipped_by_hand() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let byoc = create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    create_vpc(&ec2, "services", "10.20.0.0/16").await.expect("services");
    let dir = Workdir::new("dns");
    dir.write("spec.yaml", &pair_spec("team-a", SAME_REGION, SAME_REGION, ""));
    run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);

    let pcx = status_of(&ec2, &byoc.id).await.remove(0).0;
    let off = PeeringConnectionOptionsRequest::builder().allow_dns_resolution_from_remote_vpc(false).build();
    ec2.modify_vpc_peering_connection_options()
        .vpc_peering_connection_id(&pcx)
        .accepter_peering_connection_options(off)
        .send()
        .await
        .expect("modify");

    let plan = run(&moto, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(2);
    assert!(plan.stdout.contains("Plan: 0 to add, 1 to change, 0 to destroy."), "{}", plan.stdout);
    assert!(plan.stdout.contains(&format!("~ dns resolution from remote vpc on {pcx} (accepter side")), "{}", plan.stdout);
    run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);
    run(&moto, &dir, &["plan", "--detailed-exitcode", "spec.yaml"]).expect(0);
}

#[tokio::test]
async fn absent_removes_what_peerctl_added_and_nothing_else() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let byoc = create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    let services = create_vpc(&ec2, "services", "10.20.0.0/16").await.expect("services");
    let igw = internet_gateway(&ec2, &byoc.id).await.expect("igw");
    ec2.create_route()
        .route_table_id(&byoc.route_table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .expect("foreign route");
    let foreign = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(IpRange::builder().cidr_ip("10.20.0.0/16").build())
        .build();
    ec2.authorize_security_group_ingress().group_id(&byoc.security_group).ip_permissions(foreign).send().await.expect("foreign rule");
    let dir = Workdir::new("absent");
    dir.write("spec.yaml", &pair_spec("team-a", SAME_REGION, SAME_REGION, ""));
    run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);

    dir.write("gone.yaml", &pair_spec("team-a", SAME_REGION, SAME_REGION, "    absent: true\n"));
    let plan = run(&moto, &dir, &["plan", "spec.yaml"]).expect(0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    let plan = run(&moto, &dir, &["plan", "gone.yaml"]).expect(0);
    assert!(plan.stdout.contains("Plan: 0 to add, 0 to change, 5 to destroy."), "{}", plan.stdout);
    run(&moto, &dir, &["apply", "--auto-approve", "gone.yaml"]).expect(0);

    let live = status_of(&ec2, &byoc.id).await;
    assert!(live.iter().all(|(_, status)| status == "deleted"), "{live:?}");
    let byoc_routes = routes(&ec2, &byoc.route_table).await.expect("routes");
    assert!(byoc_routes.iter().all(|(_, target)| !target.starts_with("pcx-")), "no route left to a deleted connection: {byoc_routes:?}");
    assert!(byoc_routes.contains(&("0.0.0.0/0".into(), igw.clone())), "the foreign route stays: {byoc_routes:?}");
    let rules = ingress_rules(&ec2, &byoc.security_group).await.expect("rules");
    assert_eq!(rules.len(), 1, "only the foreign rule stays: {rules:?}");
    assert_eq!((rules[0].1, rules[0].2), (22, 22));
    assert!(ingress_rules(&ec2, &services.security_group).await.expect("rules").is_empty());
    run(&moto, &dir, &["plan", "--detailed-exitcode", "gone.yaml"]).expect(0);
}

#[tokio::test]
async fn refuses_overlapping_cidrs_before_any_change() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let byoc = create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    let services = create_vpc(&ec2, "services", "10.20.0.0/16").await.expect("services");
    ec2.associate_vpc_cidr_block().vpc_id(&services.id).cidr_block("10.10.128.0/17").send().await.expect("overlapping secondary");
    let dir = Workdir::new("overlap");
    dir.write("spec.yaml", &pair_spec("team-a", SAME_REGION, SAME_REGION, ""));

    let applied = run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(1);
    assert!(
        applied.stderr.contains(&format!(
            "spec.yaml:4:11: peering `byoc-to-services`: requester {} (10.10.0.0/16) overlaps accepter {} (10.10.128.0/17)",
            byoc.id, services.id
        )),
        "{}",
        applied.stderr
    );
    assert!(applied.stderr.contains("nothing was changed"), "{}", applied.stderr);
    assert!(connections(&ec2).await.expect("connections").is_empty());
}

#[tokio::test]
async fn refuses_a_conflicting_foreign_route_with_nothing_changed() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let byoc = create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    create_vpc(&ec2, "services", "10.20.0.0/16").await.expect("services");
    let igw = internet_gateway(&ec2, &byoc.id).await.expect("igw");
    ec2.create_route()
        .route_table_id(&byoc.route_table)
        .destination_cidr_block("10.20.0.0/16")
        .gateway_id(&igw)
        .send()
        .await
        .expect("hijack");
    let dir = Workdir::new("conflict");
    dir.write("spec.yaml", &pair_spec("team-a", SAME_REGION, SAME_REGION, ""));

    let plan = run(&moto, &dir, &["plan", "spec.yaml"]).expect(1);
    assert!(
        plan.stdout.contains(&format!(
            "! conflict: route table {} already sends 10.20.0.0/16 to {igw}, which peerctl does not own",
            byoc.route_table
        )),
        "{}",
        plan.stdout
    );
    let applied = run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(1);
    assert!(applied.stderr.contains("apply refused: the plan has conflicts; nothing was changed"), "{}", applied.stderr);
    assert!(connections(&ec2).await.expect("connections").is_empty());
    assert_eq!(routes(&ec2, &byoc.route_table).await.expect("routes").len(), 2, "local + the foreign route, untouched");
}

#[tokio::test]
async fn refuses_a_foreign_connection_between_the_same_vpcs() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let byoc = create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    let services = create_vpc(&ec2, "services", "10.20.0.0/16").await.expect("services");
    ec2.create_vpc_peering_connection().vpc_id(&byoc.id).peer_vpc_id(&services.id).send().await.expect("foreign peering");
    let dir = Workdir::new("foreign-connection");
    dir.write("spec.yaml", &pair_spec("team-a", SAME_REGION, SAME_REGION, ""));

    let applied = run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(1);
    assert!(applied.stdout.contains("is not managed by peerctl"), "{}", applied.stdout);
    assert_eq!(connections(&ec2).await.expect("connections").len(), 1, "no second connection");
}

#[tokio::test]
async fn plans_fifty_converged_peerings_in_one_read_per_scope_and_kind() {
    let moto = Moto::start().expect("moto");
    let east = moto.ec2("us-east-1", None).await;
    let west = moto.ec2("us-west-2", None).await;
    // Every route table of each VPC (the main one and the private one): 2 per side.
    let mut spec = String::from("version: 1\nowner: scale\npeerings:\n");
    for hub in 0..5 {
        create_vpc(&east, &format!("hub{hub}"), &format!("10.{hub}.0.0/16")).await.expect("hub");
        for spoke in 0..10 {
            let n = hub * 10 + spoke;
            create_vpc(&west, &format!("spoke{n}"), &format!("10.{}.0.0/16", 100 + n)).await.expect("spoke");
            spec.push_str(&format!(
                "  - name: hub{hub}-spoke{n}\n    aws:\n      requester: {{vpc: {{name: hub{hub}-vpc}}, region: us-east-1, security_groups: [{{name: hub{hub}}}]}}\n      accepter: {{vpc: {{name: spoke{n}-vpc}}, region: us-west-2, security_groups: [{{name: spoke{n}}}]}}\n"
            ));
        }
    }
    let dir = Workdir::new("fifty");
    dir.write("spec.yaml", &spec);
    let applied = run(&moto, &dir, &["apply", "-v", "--auto-approve", "spec.yaml"]).expect(0);
    assert!(applied.stdout.contains("Apply complete! Resources: 350 added, 50 changed, 0 destroyed."), "{}", applied.stdout);

    let plan = run(&moto, &dir, &["plan", "-v", "--detailed-exitcode", "spec.yaml"]).expect(0);
    let line = plan.stderr.lines().find(|l| l.starts_with("aws api calls:")).expect("call counts");
    // 2 scopes (us-east-1, us-west-2) × 5 kinds × 1 page (moto never pages).
    assert!(line.starts_with("aws api calls: 10 (10 reads, 0 writes)"), "{line}");
    eprintln!("50 converged peerings: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_next_tokens_through_every_page() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    create_vpc(&ec2, "services", "10.20.0.0/16").await.expect("services");
    for n in 0..3 {
        create_vpc(&ec2, &format!("bystander{n}"), &format!("10.3{n}.0.0/16")).await.expect("bystander");
    }
    let proxy = peerctl_e2e::proxy::PagingProxy::start(&moto.endpoint, 1).await.expect("proxy");
    let paged = moto.via(&proxy.endpoint);
    let dir = Workdir::new("paging");
    // Names and ids mixed: the VPC listing is unfiltered, so every VPC of the region comes back, one per page.
    let spec = pair_spec("team-a", SAME_REGION, SAME_REGION, "")
        .replace("vpc: {name: services-vpc}", &format!("vpc: {}", vpc_id(&ec2, "services-vpc").await));
    dir.write("spec.yaml", &spec);

    let applied = tokio::task::spawn_blocking({
        let (paged, path) = (paged.via(&proxy.endpoint), dir.path.clone());
        move || peerctl(&paged, &path, &["apply", "-v", "--auto-approve", "spec.yaml"])
    })
    .await
    .expect("apply");
    assert!(applied.status.success(), "{}\n{}", String::from_utf8_lossy(&applied.stdout), String::from_utf8_lossy(&applied.stderr));
    let plan = tokio::task::spawn_blocking({
        let (paged, path) = (paged.via(&proxy.endpoint), dir.path.clone());
        move || peerctl(&paged, &path, &["plan", "-v", "--detailed-exitcode", "spec.yaml"])
    })
    .await
    .expect("plan");
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert_eq!(plan.status.code(), Some(0), "{}\n{stderr}", String::from_utf8_lossy(&plan.stdout));
    let line = stderr.lines().find(|l| l.starts_with("aws api calls:")).expect("call counts");
    // One object per page: moto's default VPC and the 5 made here are listed
    // (ids and names mixed), then the 2 named VPCs' tables (main + private)
    // and groups (default + named).
    for kind in ["DescribeVpcs=6", "DescribeRouteTables=4", "DescribeSecurityGroups=4"] {
        assert!(line.split(' ').any(|count| count == kind), "expected {kind}: {line}");
    }
    assert!(proxy.continuation_pages() > 0);
}

async fn vpc_id(ec2: &aws_sdk_ec2::Client, name: &str) -> String {
    let filter = aws_sdk_ec2::types::Filter::builder().name("tag:Name").values(name).build();
    let out = ec2.describe_vpcs().filters(filter).send().await.expect("describe");
    out.vpcs()[0].vpc_id().unwrap_or_default().to_string()
}
