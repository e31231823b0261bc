//! `peerctl iam-policy`: the least privilege a spec needs.
//!
//! AWS: one policy per set of credentials the spec uses (default chain, a
//! profile, an assumed role), scoped to the regions those credentials are
//! used in and, where EC2 allows it, to the spec's VPCs (by id; a VPC named
//! by its Name tag is known only at plan time, so its region's VPCs are
//! allowed). One statement per capability, so a reviewer can see why each
//! action is there. GCP: the permissions of each project the spec names.

use crate::spec::{AwsScope, By, CloudPeering, Spec};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// What the spec asks of one set of AWS credentials.
#[derive(Default)]
struct Uses {
    regions: BTreeSet<String>,
    /// VPC ARN patterns of the sides these credentials act for.
    vpcs: BTreeSet<String>,
    requester_vpcs: BTreeSet<String>,
    /// Accepter VPCs of connections these credentials request (the peer VPC
    /// is a resource of CreateVpcPeeringConnection too).
    peer_vpcs: BTreeSet<String>,
    accepter_vpcs: BTreeSet<String>,
}

/// The policies and permissions, as printed by `peerctl iam-policy`.
pub fn policies(spec: &Spec) -> Value {
    let mut aws: BTreeMap<(Option<String>, Option<String>), Uses> = BTreeMap::new();
    let mut projects = BTreeSet::new();
    let arn = |scope: &AwsScope, vpc: &By| match vpc {
        By::Id(id) => format!("arn:aws:ec2:{}:*:vpc/{id}", scope.region),
        By::Name(_) => format!("arn:aws:ec2:{}:*:vpc/*", scope.region),
    };
    for peering in &spec.peerings {
        match &peering.cloud {
            CloudPeering::Aws(peering) => {
                let (req, acc) = (&peering.requester, &peering.accepter);
                let (req_vpc, acc_vpc) = (arn(&req.scope, &req.vpc.by), arn(&acc.scope, &acc.vpc.by));
                let requester = aws.entry((req.scope.profile.clone(), req.scope.role_arn.clone())).or_default();
                requester.regions.insert(req.scope.region.clone());
                requester.vpcs.insert(req_vpc.clone());
                requester.requester_vpcs.insert(req_vpc);
                requester.peer_vpcs.insert(acc_vpc.clone());
                let accepter = aws.entry((acc.scope.profile.clone(), acc.scope.role_arn.clone())).or_default();
                accepter.regions.insert(acc.scope.region.clone());
                accepter.vpcs.insert(acc_vpc.clone());
                accepter.accepter_vpcs.insert(acc_vpc);
            }
            CloudPeering::Gcp(gcp) => {
                projects.insert(gcp.network.project.clone());
                projects.insert(gcp.peer_network.project.clone());
            }
        }
    }
    let aws: Vec<Value> = aws
        .into_iter()
        .map(|((profile, role_arn), uses)| {
            let credentials = match (&profile, &role_arn) {
                (_, Some(role)) => format!("role {role}"),
                (Some(profile), None) => format!("profile {profile}"),
                (None, None) => "default credentials".to_string(),
            };
            json!({
                "credentials": credentials,
                "regions": uses.regions,
                "policy": aws_policy(&spec.owner, &uses),
            })
        })
        .collect();
    let gcp: Vec<Value> =
        projects.into_iter().map(|project| json!({"project": project, "permissions": GCP_PERMISSIONS, "roles": GCP_ROLES})).collect();
    json!({"aws": aws, "gcp": gcp})
}

/// Every EC2 action peerctl calls, each in the one statement that allows it.
pub const AWS_ACTIONS: &[&str] = &[
    "ec2:DescribeVpcs",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:CreateVpcPeeringConnection",
    "ec2:AcceptVpcPeeringConnection",
    "ec2:ModifyVpcPeeringConnectionOptions",
    "ec2:DeleteVpcPeeringConnection",
    "ec2:CreateRoute",
    "ec2:ReplaceRoute",
    "ec2:DeleteRoute",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:CreateTags",
];

fn aws_policy(owner: &str, uses: &Uses) -> Value {
    let regional = |kind: &str| -> Vec<String> { uses.regions.iter().map(|r| format!("arn:aws:ec2:{r}:*:{kind}/*")).collect() };
    let in_vpcs = json!({"ArnLike": {"ec2:Vpc": uses.vpcs}});
    let mut statements = vec![json!({
        "Sid": "PeerctlRead",
        "Effect": "Allow",
        "Action": AWS_ACTIONS[..5],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:RequestedRegion": uses.regions}},
    })];
    if !uses.requester_vpcs.is_empty() {
        let resources: BTreeSet<String> =
            uses.requester_vpcs.iter().chain(&uses.peer_vpcs).cloned().chain(regional("vpc-peering-connection")).collect();
        statements.push(json!({
            "Sid": "PeerctlRequestPeering",
            "Effect": "Allow",
            "Action": ["ec2:CreateVpcPeeringConnection"],
            "Resource": resources,
        }));
    }
    if !uses.accepter_vpcs.is_empty() {
        statements.push(json!({
            "Sid": "PeerctlAcceptPeering",
            "Effect": "Allow",
            "Action": ["ec2:AcceptVpcPeeringConnection"],
            "Resource": regional("vpc-peering-connection"),
            "Condition": {"ArnLike": {"ec2:AccepterVpc": uses.accepter_vpcs}},
        }));
    }
    statements.extend([
        json!({
            "Sid": "PeerctlPeeringOptions",
            "Effect": "Allow",
            "Action": ["ec2:ModifyVpcPeeringConnectionOptions", "ec2:DeleteVpcPeeringConnection"],
            "Resource": regional("vpc-peering-connection"),
        }),
        json!({
            "Sid": "PeerctlRoutes",
            "Effect": "Allow",
            "Action": ["ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute"],
            "Resource": regional("route-table"),
            "Condition": in_vpcs,
        }),
        json!({
            "Sid": "PeerctlRules",
            "Effect": "Allow",
            "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            "Resource": ([regional("security-group"), regional("security-group-rule")].concat()),
            "Condition": in_vpcs,
        }),
        // Tags set at creation (connections, rules) and by `adopt`: only this owner's.
        json!({
            "Sid": "PeerctlOwnershipTags",
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": ([regional("vpc-peering-connection"), regional("security-group-rule")].concat()),
            "Condition": {"StringEquals": {"aws:RequestTag/peerctl:owner": owner}},
        }),
    ]);
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The Compute Engine permissions peerctl uses in each project.
pub const GCP_PERMISSIONS: &[&str] = &[
    "compute.networks.list",
    "compute.networks.get",
    "compute.subnetworks.list",
    "compute.firewalls.list",
    "compute.firewalls.get",
    "compute.networks.addPeering",
    "compute.networks.updatePeering",
    "compute.networks.removePeering",
    "compute.firewalls.create",
    "compute.firewalls.update",
    "compute.firewalls.delete",
    "compute.networks.updatePolicy",
    "compute.globalOperations.get",
];

/// Predefined roles that hold them: peerings, and firewall rules.
pub const GCP_ROLES: &[&str] = &["roles/compute.networkAdmin", "roles/compute.securityAdmin"];
