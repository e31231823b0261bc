//! Adoption: peerings made by hand (the guide's console steps) are imported
//! into a spec, planned (only ownership tags), applied, and then converged.

use crate::support::{Workdir, gcp_pair_world, run};
use aws_sdk_ec2::types::{IpPermission, IpRange};
use peerctl_e2e::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn imports_a_hand_made_aws_peering_then_only_tags_it() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    let byoc = create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    let services = create_vpc(&ec2, "services", "10.20.0.0/16").await.expect("services");
    create_vpc(&ec2, "unrelated", "10.30.0.0/16").await.expect("unrelated");
    // The guide, by hand: request, accept, a route each way, All TCP each way.
    let created = ec2
        .create_vpc_peering_connection()
        .vpc_id(&byoc.id)
        .peer_vpc_id(&services.id)
        .tag_specifications(tag_spec(aws_sdk_ec2::types::ResourceType::VpcPeeringConnection, "EMQX BYOC peering"))
        .send()
        .await
        .expect("create pcx");
    let pcx = created.vpc_peering_connection().and_then(|c| c.vpc_peering_connection_id()).expect("pcx id").to_string();
    ec2.accept_vpc_peering_connection().vpc_peering_connection_id(&pcx).send().await.expect("accept");
    for (table, destination) in [(&byoc.route_table, "10.20.0.0/16"), (&services.route_table, "10.10.0.0/16")] {
        ec2.create_route()
            .route_table_id(table)
            .destination_cidr_block(destination)
            .vpc_peering_connection_id(&pcx)
            .send()
            .await
            .expect("route");
    }
    for (group, source) in [(&byoc.security_group, "10.20.0.0/16"), (&services.security_group, "10.10.0.0/16")] {
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(0)
            .to_port(65535)
            .ip_ranges(IpRange::builder().cidr_ip(source).build())
            .build();
        ec2.authorize_security_group_ingress().group_id(group).ip_permissions(permission).send().await.expect("rule");
    }

    let dir = Workdir::new("import-aws");
    let imported = run(&moto, &dir, &["import", "aws", "--region", "us-east-1", "--owner", "team-a", "-v"]).expect(0);
    assert_eq!(imported.writes(), 0, "import is read-only");
    assert!(imported.stdout.contains(&format!("adopt: {pcx}")), "{}", imported.stdout);
    assert!(imported.stdout.contains("name: emqx-byoc-peering"), "the Name tag names the peering:\n{}", imported.stdout);
    assert!(imported.stderr.contains("1 peering(s) imported"), "{}", imported.stderr);
    let only_this = run(&moto, &dir, &["import", "aws", "--region", "us-east-1", "--vpc", &services.id, "--owner", "team-a"]).expect(0);
    assert_eq!(only_this.stdout.replace(&format!(" --vpc {}", services.id), ""), imported.stdout);
    dir.write("peerings.yaml", &imported.stdout);
    run(&moto, &dir, &["validate", "peerings.yaml"]).expect(0);

    let plan = run(&moto, &dir, &["plan", "--detailed-exitcode", "peerings.yaml"]).expect(2);
    assert!(plan.stdout.contains("0 to add, 3 to change, 0 to destroy"), "only tags: the pcx and two rules\n{}", plan.stdout);
    assert!(plan.stdout.contains(&format!("~ tags of {pcx}")), "{}", plan.stdout);
    let applied = run(&moto, &dir, &["apply", "--auto-approve", "-v", "peerings.yaml"]).expect(0);
    assert!(applied.stderr.contains("CreateTags=3"), "{}", applied.stderr);
    assert!(!applied.stderr.contains("CreateVpcPeeringConnection") && !applied.stderr.contains("CreateRoute"), "{}", applied.stderr);
    run(&moto, &dir, &["plan", "--detailed-exitcode", "peerings.yaml"]).expect(0);

    // Now peerctl's: the rules carry the owner, and the same pcx is still the only connection.
    let rules = ingress_rules(&ec2, &byoc.security_group).await.expect("rules");
    assert!(rules.iter().any(|r| r.3 == "10.20.0.0/16" && r.4.contains(&("peerctl:owner".into(), "team-a".into()))), "{rules:?}");
    let live: Vec<_> = connections(&ec2).await.expect("connections").into_iter().filter(|c| c.1 == "active").collect();
    assert_eq!(live.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), [pcx.as_str()]);
    // And a second owner importing the region finds nothing left to adopt.
    let again = run(&moto, &dir, &["import", "aws", "--region", "us-east-1", "--owner", "team-b"]).expect(0);
    assert!(
        again.stdout.contains("already belongs to peerctl owner `team-a`") && again.stdout.contains("peerings: []"),
        "{}",
        again.stdout
    );
}

#[tokio::test]
async fn imports_a_hand_made_gcp_peering_and_manages_it_under_its_names() {
    let sim = gcp_pair_world(&[]).await;
    // The guide's two console steps, with the names people pick.
    // The BYOC side imports the services' custom routes, which the services
    // side exports; it exports public-IP subnet routes (the API's default),
    // which the services side imports (and exports none, as the BYOC side imports none).
    let add = |network: &str, name: &str, peer: &str, flag: &str| {
        let mut peering = json!({"name": name, "network": peer, "exchangeSubnetRoutes": true, flag: true});
        if flag == "exportCustomRoutes" {
            peering["importSubnetRoutesWithPublicIp"] = json!(true);
            peering["exportSubnetRoutesWithPublicIp"] = json!(false);
        }
        let body = json!({"networkPeering": peering});
        (format!("projects/{network}/addPeering"), body)
    };
    for (path, body) in [
        add(
            "emqx-byoc/global/networks/emqxbyoc-xxxx-network",
            "to-services",
            "projects/services-project/global/networks/cloud-test-1",
            "importCustomRoutes",
        ),
        add(
            "services-project/global/networks/cloud-test-1",
            "to-emqx",
            "projects/emqx-byoc/global/networks/emqxbyoc-xxxx-network",
            "exportCustomRoutes",
        ),
    ] {
        sim.call(Method::POST, &path, Some(body)).await.expect("addPeering");
    }

    let dir = Workdir::new("import-gcp");
    let imported = run(&sim, &dir, &["import", "gcp", "--project", "emqx-byoc", "--owner", "team-a", "-v"]).expect(0);
    assert_eq!(imported.writes_to("gcp"), 0, "import is read-only");
    assert!(imported.stdout.contains("adopt: {network: to-services, peer_network: to-emqx}"), "{}", imported.stdout);
    assert!(imported.stdout.contains("import_custom_routes: true"), "the flags are kept:\n{}", imported.stdout);
    dir.write("peerings.yaml", &imported.stdout);
    let plan = run(&sim, &dir, &["plan", "--detailed-exitcode", "peerings.yaml"]).expect(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    run(&sim, &dir, &["apply", "--auto-approve", "peerings.yaml"]).expect(0);

    // Managed from now on: a flag changed in the spec is applied to the adopted entries.
    dir.write("peerings.yaml", &imported.stdout.replace("import_custom_routes: true", "import_custom_routes: false"));
    let plan = run(&sim, &dir, &["plan", "peerings.yaml"]).expect(0);
    assert!(plan.stdout.contains("0 to add, 2 to change, 0 to destroy"), "{}", plan.stdout);
    run(&sim, &dir, &["apply", "--auto-approve", "peerings.yaml"]).expect(0);
    let entries = sim.peerings("services-project", "cloud-test-1").await.expect("entries");
    assert_eq!(entries.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), ["to-emqx"], "{entries:?}");
    run(&sim, &dir, &["plan", "--detailed-exitcode", "peerings.yaml"]).expect(0);
}
