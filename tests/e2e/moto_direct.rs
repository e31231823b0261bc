//! The bench's moto (tests/moto_direct_lookups.py) answers as moto as
//! published does: the same world, planned against each, makes the same plan
//! from the same observed state, and the SDK reads the same objects.

use crate::support::{Workdir, run};
use aws_sdk_ec2::types::Filter;
use peerctl_e2e::*;

const SPEC: &str = "version: 1
owner: team-a
aws: {region: us-east-1}
peerings:
  - name: a-to-b
    aws:
      requester: {vpc: {name: a-vpc}, route_tables: [{name: a-private-route-table}], security_groups: [{name: a}]}
      accepter: {vpc: {name: b-vpc}, route_tables: [{name: b-private-route-table}], security_groups: [{name: b}]}
";

/// What peerctl and the SDK read from the world: the plan (its `basis` is
/// the digest of the observed state) and the objects behind a few filters.
async fn readings(moto: &Moto, dir: &Workdir, vpcs: &[&str]) -> Vec<String> {
    let ec2 = moto.ec2("us-east-1", None).await;
    let plan = run(moto, dir, &["plan", "--format", "json", "spec.yaml"]).expect(0).stdout;
    let by =
        |name: &str, values: &[&str]| Filter::builder().name(name).set_values(Some(values.iter().map(|v| v.to_string()).collect())).build();
    let found = ec2.describe_vpcs().filters(by("vpc-id", vpcs)).filters(by("tag:Name", &["*-vpc"])).send().await.expect("vpcs");
    let tables = ec2.describe_route_tables().filters(by("vpc-id", vpcs)).send().await.expect("route tables");
    let groups = ec2.describe_security_groups().filters(by("vpc-id", vpcs)).send().await.expect("groups");
    let ids: Vec<&str> = groups.security_groups().iter().filter_map(|g| g.group_id()).collect();
    let rules = ec2.describe_security_group_rules().filters(by("group-id", &ids)).send().await.expect("rules");
    let named = ec2.describe_security_groups().filters(by("group-name", &["a*"])).send().await.expect("named");
    vec![
        plan,
        format!("{:?}", found.vpcs()),
        format!("{:?}", tables.route_tables()),
        format!("{:?}", groups.security_groups()),
        format!("{:?}", rules.security_group_rules()),
        format!("{:?}", named.security_groups()),
    ]
}

#[tokio::test]
async fn direct_lookups_read_what_moto_as_published_reads() {
    let moto = Moto::start_direct().expect("moto with direct lookups");
    let ec2 = moto.ec2("us-east-1", None).await;
    let a = create_vpc(&ec2, "a", "10.1.0.0/16").await.expect("a");
    let b = create_vpc(&ec2, "b", "10.2.0.0/16").await.expect("b");
    create_vpc(&ec2, "c", "10.3.0.0/16").await.expect("c");
    let dir = Workdir::new("moto-direct");
    dir.write("spec.yaml", SPEC);
    let vpcs = [a.id.as_str(), b.id.as_str()];

    let direct = readings(&moto, &dir, &vpcs).await;
    moto.switch_lookups().expect("to moto as published");
    let published = readings(&moto, &dir, &vpcs).await;
    assert!(direct[0].contains("\"basis\""), "{}", direct[0]);
    assert!(direct[4].contains(&a.security_group) && !direct[5].contains(&b.security_group), "{direct:?}");
    assert_eq!(direct, published);

    // Converged, then read both ways again.
    run(&moto, &dir, &["apply", "--auto-approve", "spec.yaml"]).expect(0);
    let published = readings(&moto, &dir, &vpcs).await;
    moto.switch_lookups().expect("back to direct lookups");
    let direct = readings(&moto, &dir, &vpcs).await;
    assert!(direct[0].contains("\"steps\": []"), "{}", direct[0]);
    assert_eq!(direct, published);
}
