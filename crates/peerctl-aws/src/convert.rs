//! The one place where EC2's types become peerctl's. A field EC2 always sends
//! but that is missing here is a clear error, never a panic or a silent skip.

use aws_sdk_ec2::types as ec2;
use ipnet::IpNet;
use peerctl_core::state::*;
use peerctl_engine::ProviderError;

type Result<T> = std::result::Result<T, ProviderError>;

fn required<'a>(value: Option<&'a str>, what: &str) -> Result<&'a str> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| ProviderError::Other(format!("EC2 returned {what} without its id or a required field")))
}

fn cidr(text: &str, what: &str) -> Result<IpNet> {
    text.parse().map_err(|_| ProviderError::Other(format!("EC2 returned {what} with an invalid range `{text}`")))
}

pub(crate) fn tags(tags: &[ec2::Tag]) -> Tags {
    tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect()
}

fn name_tag(list: &[ec2::Tag]) -> Option<String> {
    list.iter().find(|t| t.key() == Some("Name")).and_then(|t| t.value()).map(str::to_string)
}

pub(crate) fn vpc(vpc: &ec2::Vpc) -> Result<Vpc> {
    let id = required(vpc.vpc_id(), "a VPC")?.to_string();
    let what = format!("VPC {id}");
    let associated = |state: Option<&ec2::VpcCidrBlockStateCode>| matches!(state, Some(ec2::VpcCidrBlockStateCode::Associated) | None);
    let mut cidrs = Vec::new();
    if let Some(primary) = vpc.cidr_block() {
        cidrs.push(cidr(primary, &what)?);
    }
    for association in vpc.cidr_block_association_set() {
        let (Some(block), true) = (association.cidr_block(), associated(association.cidr_block_state().and_then(|s| s.state()))) else {
            continue;
        };
        let block = cidr(block, &what)?;
        if !cidrs.contains(&block) {
            cidrs.push(block);
        }
    }
    let mut ipv6_cidrs = Vec::new();
    for association in vpc.ipv6_cidr_block_association_set() {
        let (Some(block), true) = (association.ipv6_cidr_block(), associated(association.ipv6_cidr_block_state().and_then(|s| s.state())))
        else {
            continue;
        };
        ipv6_cidrs.push(cidr(block, &what)?);
    }
    Ok(Vpc { owner_id: required(vpc.owner_id(), &what)?.to_string(), name: name_tag(vpc.tags()), cidrs, ipv6_cidrs, id })
}

pub(crate) fn route_table(table: &ec2::RouteTable) -> Result<RouteTable> {
    let id = required(table.route_table_id(), "a route table")?.to_string();
    let what = format!("route table {id}");
    let mut routes = Vec::new();
    for route in table.routes() {
        let destination = match (route.destination_cidr_block(), route.destination_ipv6_cidr_block()) {
            (Some(v4), _) => cidr(v4, &what)?,
            (None, Some(v6)) => cidr(v6, &what)?,
            (None, None) => continue, // prefix-list destinations never collide with a peer's CIDR
        };
        routes.push(Route {
            destination,
            target: route_target(route),
            state: route.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
        });
    }
    Ok(RouteTable { vpc_id: required(table.vpc_id(), &what)?.to_string(), name: name_tag(table.tags()), routes, id })
}

fn route_target(route: &ec2::Route) -> String {
    [
        route.vpc_peering_connection_id(),
        route.gateway_id(),
        route.nat_gateway_id(),
        route.transit_gateway_id(),
        route.network_interface_id(),
        route.instance_id(),
        route.egress_only_internet_gateway_id(),
        route.local_gateway_id(),
        route.carrier_gateway_id(),
        route.core_network_arn(),
    ]
    .into_iter()
    .flatten()
    .next()
    .unwrap_or("unknown")
    .to_string()
}

pub(crate) fn security_group(group: &ec2::SecurityGroup) -> Result<SecurityGroup> {
    let id = required(group.group_id(), "a security group")?.to_string();
    let what = format!("security group {id}");
    Ok(SecurityGroup { vpc_id: required(group.vpc_id(), &what)?.to_string(), name: required(group.group_name(), &what)?.to_string(), id })
}

pub(crate) fn rule(rule: &ec2::SecurityGroupRule) -> Result<SecurityGroupRule> {
    let id = required(rule.security_group_rule_id(), "a security group rule")?.to_string();
    let what = format!("security group rule {id}");
    let source = match (rule.cidr_ipv4(), rule.cidr_ipv6()) {
        (Some(v4), _) => Some(cidr(v4, &what)?),
        (None, Some(v6)) => Some(cidr(v6, &what)?),
        (None, None) => None,
    };
    Ok(SecurityGroupRule {
        group_id: required(rule.group_id(), &what)?.to_string(),
        egress: rule.is_egress().unwrap_or(false),
        permission: Permission::normalized(required(rule.ip_protocol(), &what)?, rule.from_port(), rule.to_port()),
        source,
        description: rule.description().map(str::to_string),
        tags: tags(rule.tags()),
        id,
    })
}

pub(crate) fn connection(connection: &ec2::VpcPeeringConnection) -> Result<Connection> {
    let id = required(connection.vpc_peering_connection_id(), "a peering connection")?.to_string();
    let what = format!("peering connection {id}");
    let status = connection.status().and_then(|s| s.code()).map(|c| c.as_str().to_string());
    let end = |info: Option<&ec2::VpcPeeringConnectionVpcInfo>| -> Result<ConnectionEnd> {
        let info = info.ok_or_else(|| ProviderError::Other(format!("EC2 returned {what} without its VPC details")))?;
        Ok(ConnectionEnd {
            vpc_id: required(info.vpc_id(), &what)?.to_string(),
            owner_id: info.owner_id().unwrap_or_default().to_string(),
            region: info.region().unwrap_or_default().to_string(),
            allow_dns_resolution: info.peering_options().and_then(|o| o.allow_dns_resolution_from_remote_vpc()),
        })
    };
    Ok(Connection {
        status: ConnectionStatus::parse(required(status.as_deref(), &what)?),
        requester: end(connection.requester_vpc_info())?,
        accepter: end(connection.accepter_vpc_info())?,
        tags: tags(connection.tags()),
        id,
    })
}
