//! Spec loading: every message names file:line:column, and all problems come at once.

use crate::load;
use crate::spec::*;

const GOOD: &str = r#"version: 1
owner: byoc-prod
aws:
  region: us-east-1
peerings:
  - name: byoc-to-services
    aws:
      requester:
        vpc: {name: emqxbyoc-1234-vpc}
        route_tables: [{name: emqxbyoc-1234-private-route-table}]
        security_groups: [sg-0123456789abcdef0]
      accepter:
        vpc: vpc-0a1b2c3d4e5f67890
        region: us-west-2
        role_arn: arn:aws:iam::111111111111:role/peerctl
        security_groups: [{name: services}]
      allow:
        - {protocol: tcp, ports: all}
        - {protocol: udp, ports: 8000-9000}
        - {protocol: tcp, ports: 443}
      dns_resolution: true
  - name: byoc-gcp
    gcp:
      network: projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network
      peer_network: projects/other-project/global/networks/cloud-test-1
"#;

fn errors(text: &str) -> String {
    load("spec.yaml", text).expect_err("spec should be refused").to_string()
}

#[test]
fn loads_the_contract_example() {
    let spec = load("spec.yaml", GOOD).expect("valid");
    assert_eq!(spec.owner, "byoc-prod");
    assert_eq!(spec.peerings.len(), 2);
    let CloudPeering::Aws(aws) = &spec.peerings[0].cloud else { panic!("aws") };
    assert_eq!(aws.requester.scope.region, "us-east-1");
    assert_eq!(aws.accepter.scope.region, "us-west-2");
    assert_eq!(aws.accepter.scope.role_arn.as_deref(), Some("arn:aws:iam::111111111111:role/peerctl"));
    assert_eq!(aws.requester.vpc.by, By::Name("emqxbyoc-1234-vpc".into()));
    assert_eq!(aws.requester.vpc.loc, crate::Loc::new(9, 14));
    assert_eq!(aws.accepter.route_tables, Selection::All);
    assert_eq!(aws.allow[1], Rule { protocol: Protocol::Udp, ports: Ports::Range { from: 8000, to: 9000 } });
    assert!(aws.dns_resolution && !aws.ipv6);
    let CloudPeering::Gcp(gcp) = &spec.peerings[1].cloud else { panic!("gcp") };
    assert_eq!(gcp.peer_network.project, "other-project");
    assert!(gcp.export_subnet_routes_with_public_ip && !gcp.import_custom_routes);
    assert_eq!(gcp.allow, vec![ALL_TCP]);
}

#[test]
fn allow_omitted_is_all_tcp_and_empty_is_nothing() {
    let base = "version: 1\nowner: o\npeerings:\n  - name: p\n    aws:\n      requester: {vpc: vpc-11111111, region: us-east-1}\n      accepter: {vpc: vpc-22222222, region: us-east-1}\n";
    let CloudPeering::Aws(aws) = &load("s", base).expect("valid").peerings[0].cloud else { panic!() };
    assert_eq!(aws.allow, vec![ALL_TCP]);
    let text = format!("{base}      allow: []\n");
    let CloudPeering::Aws(aws) = &load("s", &text).expect("valid").peerings[0].cloud else { panic!() };
    assert!(aws.allow.is_empty());
}

#[test]
fn reports_every_problem_at_once_with_positions() {
    let text = r#"version: 1
owner: Bad_Owner
peerings:
  - name: a
    aws:
      requester:
        vpc: vpc-xyz
        rout_tables: all
        region: us-east-1
      accepter:
        vpc: {name: services}
      allow:
        - {protocol: tcp, ports: 9000-8000}
        - {protocol: icmp, ports: 80}
        - {protocol: sctp}
      dns_resolution: "yes"
  - name: a
    gcp:
      network: cloud-test-1
      peer_network: projects/p-123456/global/networks/x
"#;
    insta::assert_snapshot!(errors(text), @"
    spec.yaml:2:8: owner `Bad_Owner` is not a valid name
      hint: use lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit (at most 63)
    spec.yaml:7:14: `vpc-xyz` is not a valid vpc id
      hint: ids look like vpc-0123456789abcdef0; to select by Name tag write {name: vpc-xyz}
    spec.yaml:8:9: unknown key `rout_tables` in the requester of peering `a`
      hint: did you mean `route_tables`?
    spec.yaml:11:9: the accepter of peering `a` has no region
      hint: add `region:` here or a default `aws: {region: …}` at the top of the spec
    spec.yaml:13:34: port range 9000-8000 is backwards
      hint: write 8000-9000
    spec.yaml:14:35: protocol `icmp` has no ports
      hint: remove `ports`, or use protocol tcp or udp
    spec.yaml:15:22: unknown protocol `sctp`
      hint: use tcp, udp, icmp or all
    spec.yaml:16:23: `dns_resolution` must be true or false, found a string
      hint: write true or false, without quotes
    spec.yaml:17:11: peering name `a` is used twice
      hint: names must be unique; the first is at line 4
    spec.yaml:19:16: network `cloud-test-1` has no project
      hint: write projects/PROJECT/global/networks/NAME, or set `gcp: {project: …}` at the top of the spec
    ");
}

#[test]
fn refuses_self_peering_and_duplicate_pairs() {
    let text = r#"version: 1
owner: o
aws: {region: us-east-1}
peerings:
  - name: self
    aws:
      requester: {vpc: vpc-11111111}
      accepter: {vpc: vpc-11111111}
  - name: one
    aws:
      requester: {vpc: vpc-11111111}
      accepter: {vpc: vpc-22222222}
  - name: two
    aws:
      requester: {vpc: vpc-22222222}
      accepter: {vpc: vpc-11111111}
"#;
    insta::assert_snapshot!(errors(text), @"
    spec.yaml:8:23: peering `self` joins vpc-11111111 in us-east-1 to itself
      hint: the two sides must be different networks
    spec.yaml:13:11: peering `two` joins the same two networks as `one`
      hint: two networks can only be peered once; merge it with the peering at line 9
    ");
}

#[test]
fn refuses_syntax_errors_and_missing_basics() {
    insta::assert_snapshot!(errors("version: 1\nowner: [\n"), @"spec.yaml:2:8: invalid YAML: unclosed bracket '['");
    insta::assert_snapshot!(errors("peerings: []\n"), @"
    spec.yaml:1:1: the spec is missing `version`
      hint: add `version: 1` at the top
    spec.yaml:1:1: the spec is missing `owner`
      hint: add `owner: NAME`: it scopes what peerctl may change (e.g. `owner: byoc-prod`)
    ");
    insta::assert_snapshot!(errors(""), @"
    spec.yaml:1:1: the spec is empty
      hint: start with `version: 1` and `owner: NAME`
    ");
    insta::assert_snapshot!(errors("version: 2\nowner: o\npeerings:\n  - name: x\n    aws: {}\n    gcp: {}\n"), @"
    spec.yaml:1:10: unsupported spec version 2
      hint: this peerctl reads `version: 1`
    spec.yaml:6:10: peering `x` has both `aws` and `gcp`
      hint: a peering joins two networks of one cloud; AWS-to-GCP needs a VPN or Interconnect, not peering
    ");
}

#[test]
fn reports_every_key_written_twice_where_it_is_repeated() {
    let text = GOOD
        .replace("owner: byoc-prod\n", "owner: byoc-prod\nowner: other\n")
        .replace("      dns_resolution: true\n", "      dns_resolution: true\n      dns_resolution: false\n");
    insta::assert_snapshot!(errors(&text), @"
    spec.yaml:3:1: `owner` is written twice in the same mapping
      hint: keep only one of them
    spec.yaml:23:7: `dns_resolution` is written twice in the same mapping
      hint: keep only one of them
    ");
}

#[test]
fn names_the_region_a_misspelt_one_was_meant_to_be() {
    let text = GOOD.replace("  region: us-east-1\n", "  region: us-est-1\n").replace("region: us-west-2", "region: ap-sutheast-2");
    insta::assert_snapshot!(errors(&text), @"
    spec.yaml:4:11: `us-est-1` is not an AWS region
      hint: did you mean `us-east-1`?
    spec.yaml:9:9: the requester of peering `byoc-to-services` has no region
      hint: add `region:` here or a default `aws: {region: …}` at the top of the spec
    spec.yaml:14:17: `ap-sutheast-2` is not an AWS region
      hint: did you mean `ap-southeast-2`?
    ");
    let text = GOOD.replace("region: us-west-2", "region: us-gov-west-1");
    assert!(load("spec.yaml", &text).is_ok(), "GovCloud regions are regions too");
}
