//! Carrying out one AWS action. "Already exists" counts as success only once
//! it is checked to be the very thing the action wanted.

use crate::error::classify;
use crate::{AwsProvider, convert};
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, PeeringConnectionOptionsRequest, ResourceType, Tag, TagSpecification};
use ipnet::IpNet;
use peerctl_core::plan::{Action, AwsEnd, ConnectionRef, ConnectionSide};
use peerctl_core::state::{ConnectionStatus, Ownership, Permission, Tags, connection_tags, ownership_tags, rule_description};
use peerctl_engine::{Outcome, ProviderError};

type Result<T> = std::result::Result<T, ProviderError>;

pub(crate) async fn execute(provider: &AwsProvider, action: &Action, owner: &str, peering: &str) -> Result<Outcome> {
    let Some(scope) = action.aws_scope() else {
        return Err(ProviderError::Other(format!("not an AWS action: {action:?}")));
    };
    let client = provider.client(scope).await;
    match action {
        Action::AwsCreateConnection { requester, accepter } => {
            create_connection(provider, &client, requester, accepter, (owner, peering)).await
        }
        Action::AwsAcceptConnection { connection, .. } => accept(provider, &client, id(connection)?).await,
        Action::AwsSetDnsResolution { connection, side, allow, .. } => {
            let options = PeeringConnectionOptionsRequest::builder().allow_dns_resolution_from_remote_vpc(*allow).build();
            let request = client.modify_vpc_peering_connection_options().vpc_peering_connection_id(id(connection)?);
            let request = match side {
                ConnectionSide::Requester => request.requester_peering_connection_options(options),
                ConnectionSide::Accepter => request.accepter_peering_connection_options(options),
            };
            provider.count("ModifyVpcPeeringConnectionOptions");
            request.send().await.map_err(|e| classify("ModifyVpcPeeringConnectionOptions", e))?;
            Ok(Outcome::Done)
        }
        Action::AwsCreateRoute { route_table, destination, connection, .. } => {
            create_route(provider, &client, route_table, destination, id(connection)?).await
        }
        Action::AwsReplaceRoute { route_table, destination, connection, .. } => {
            provider.count("ReplaceRoute");
            let request = with_destination(
                client.replace_route().route_table_id(route_table),
                destination,
                |r, v4| r.destination_cidr_block(v4),
                |r, v6| r.destination_ipv6_cidr_block(v6),
            );
            request.vpc_peering_connection_id(id(connection)?).send().await.map_err(|e| classify("ReplaceRoute", e))?;
            Ok(Outcome::Done)
        }
        Action::AwsDeleteRoute { route_table, destination, .. } => {
            provider.count("DeleteRoute");
            let request = with_destination(
                client.delete_route().route_table_id(route_table),
                destination,
                |r, v4| r.destination_cidr_block(v4),
                |r, v6| r.destination_ipv6_cidr_block(v6),
            );
            done_unless_error(request.send().await.map_err(|e| classify("DeleteRoute", e)))
        }
        Action::AwsAuthorizeIngress { group, permission, source, .. } => {
            authorize(provider, &client, group, permission, source, (owner, peering)).await
        }
        Action::AwsRevokeIngress { group, permission, source, .. } => {
            provider.count("RevokeSecurityGroupIngress");
            let request = client.revoke_security_group_ingress().group_id(group).ip_permissions(ip_permission(permission, source, None));
            done_unless_error(request.send().await.map_err(|e| classify("RevokeSecurityGroupIngress", e)))
        }
        Action::AwsDeleteConnection { connection, .. } => {
            provider.count("DeleteVpcPeeringConnection");
            let result = client.delete_vpc_peering_connection().vpc_peering_connection_id(connection).send().await;
            done_unless_error(result.map_err(|e| classify("DeleteVpcPeeringConnection", e)))
        }
        Action::AwsTag { resource, tags, .. } => {
            provider.count("CreateTags");
            let tags = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build());
            let request = client.create_tags().resources(resource).set_tags(Some(tags.collect()));
            request.send().await.map_err(|e| classify("CreateTags", e))?;
            Ok(Outcome::Done)
        }
        _ => Err(ProviderError::Other(format!("not an AWS action: {action:?}"))),
    }
}

fn id(connection: &ConnectionRef) -> Result<&str> {
    connection.id().ok_or_else(|| ProviderError::Other("the connection of this step was not created".into()))
}

/// Deleting what is already gone is success.
fn done_unless_error<T>(result: Result<T>) -> Result<Outcome> {
    match result {
        Ok(_) | Err(ProviderError::NotFound(_)) => Ok(Outcome::Done),
        Err(error) => Err(error),
    }
}

fn with_destination<R>(request: R, destination: &IpNet, v4: impl FnOnce(R, String) -> R, v6: impl FnOnce(R, String) -> R) -> R {
    match destination {
        IpNet::V4(_) => v4(request, destination.to_string()),
        IpNet::V6(_) => v6(request, destination.to_string()),
    }
}

fn tag_specification(kind: ResourceType, tags: &Tags) -> TagSpecification {
    let tags = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build());
    TagSpecification::builder().resource_type(kind).set_tags(Some(tags.collect())).build()
}

/// Creates the connection, tagged at creation so it is never unowned. When the
/// call's outcome is unknown (a timeout, a 5xx), looks for the connection it
/// may have made before letting the engine retry, so retries never duplicate.
async fn create_connection(
    provider: &AwsProvider,
    client: &aws_sdk_ec2::Client,
    requester: &AwsEnd,
    accepter: &AwsEnd,
    (owner, peering): (&str, &str),
) -> Result<Outcome> {
    // Never retried by the SDK: a retry after a lost answer would create a
    // second connection. On an unknown outcome, `find_owned` looks for the
    // first before the engine tries again.
    let no_retries = aws_sdk_ec2::config::Builder::default().retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled());
    let mut request = client
        .create_vpc_peering_connection()
        .vpc_id(&requester.vpc)
        .peer_vpc_id(&accepter.vpc)
        .tag_specifications(tag_specification(ResourceType::VpcPeeringConnection, &connection_tags(owner, peering)));
    if accepter.account != requester.account {
        request = request.peer_owner_id(&accepter.account);
    }
    if accepter.scope.region != requester.scope.region {
        request = request.peer_region(&accepter.scope.region);
    }
    provider.count("CreateVpcPeeringConnection");
    match request.customize().config_override(no_retries).send().await.map_err(|e| classify("CreateVpcPeeringConnection", e)) {
        Ok(output) => {
            let id = output.vpc_peering_connection().and_then(|c| c.vpc_peering_connection_id());
            let id = id.ok_or_else(|| ProviderError::Other("CreateVpcPeeringConnection returned no connection id".into()))?;
            Ok(Outcome::Created(id.to_string()))
        }
        Err(error) if error.is_retryable() => match find_owned(provider, client, requester, accepter, (owner, peering)).await? {
            Some(id) => Ok(Outcome::Created(id)),
            None => Err(error),
        },
        Err(error) => Err(error),
    }
}

/// A live connection between the two VPCs tagged as this owner's and
/// peering's. A new connection may take a moment to show in Describe, so the
/// search is repeated for a few seconds before concluding there is none.
async fn find_owned(
    provider: &AwsProvider,
    client: &aws_sdk_ec2::Client,
    requester: &AwsEnd,
    accepter: &AwsEnd,
    (owner, peering): (&str, &str),
) -> Result<Option<String>> {
    for attempt in 0..FIND_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        if let Some(id) = find_owned_once(provider, client, requester, accepter, (owner, peering)).await? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// How many times `find_owned` looks, a second apart.
const FIND_ATTEMPTS: u32 = 5;

async fn find_owned_once(
    provider: &AwsProvider,
    client: &aws_sdk_ec2::Client,
    requester: &AwsEnd,
    accepter: &AwsEnd,
    (owner, peering): (&str, &str),
) -> Result<Option<String>> {
    provider.count("DescribeVpcPeeringConnections");
    let filter = Filter::builder().name("requester-vpc-info.vpc-id").values(&requester.vpc).build();
    let output =
        client.describe_vpc_peering_connections().filters(filter).send().await.map_err(|e| classify("DescribeVpcPeeringConnections", e))?;
    for raw in output.vpc_peering_connections() {
        let connection = convert::connection(raw)?;
        let same_vpcs = connection.requester.vpc_id == requester.vpc && connection.accepter.vpc_id == accepter.vpc;
        let ours = Ownership::of(&connection.tags).is(owner, peering);
        if same_vpcs && ours && !connection.status.is_terminal() {
            return Ok(Some(connection.id));
        }
    }
    Ok(None)
}

/// Accepting a connection that is already active is success.
async fn accept(provider: &AwsProvider, client: &aws_sdk_ec2::Client, id: &str) -> Result<Outcome> {
    provider.count("AcceptVpcPeeringConnection");
    let error = match client.accept_vpc_peering_connection().vpc_peering_connection_id(id).send().await {
        Ok(_) => return Ok(Outcome::Done),
        Err(error) => classify("AcceptVpcPeeringConnection", error),
    };
    if matches!(error, ProviderError::Other(_)) {
        provider.count("DescribeVpcPeeringConnections");
        let output = client
            .describe_vpc_peering_connections()
            .vpc_peering_connection_ids(id)
            .send()
            .await
            .map_err(|e| classify("DescribeVpcPeeringConnections", e))?;
        let active = output
            .vpc_peering_connections()
            .iter()
            .filter_map(|c| convert::connection(c).ok())
            .any(|c| c.id == id && c.status == ConnectionStatus::Active);
        if active {
            return Ok(Outcome::Done);
        }
    }
    Err(error)
}

async fn create_route(
    provider: &AwsProvider,
    client: &aws_sdk_ec2::Client,
    table: &str,
    destination: &IpNet,
    connection: &str,
) -> Result<Outcome> {
    provider.count("CreateRoute");
    let request = with_destination(
        client.create_route().route_table_id(table),
        destination,
        |r, v4| r.destination_cidr_block(v4),
        |r, v6| r.destination_ipv6_cidr_block(v6),
    );
    match request.vpc_peering_connection_id(connection).send().await.map_err(|e| classify("CreateRoute", e)) {
        Ok(_) => Ok(Outcome::Done),
        Err(ProviderError::AlreadyExists(text)) => {
            provider.count("DescribeRouteTables");
            let output =
                client.describe_route_tables().route_table_ids(table).send().await.map_err(|e| classify("DescribeRouteTables", e))?;
            let tables: Vec<_> = output.route_tables().iter().map(convert::route_table).collect::<Result<_>>()?;
            let same = tables.iter().flat_map(|t| &t.routes).any(|r| r.destination == *destination && r.target == connection);
            if same {
                Ok(Outcome::Done)
            } else {
                Err(ProviderError::Conflict(format!("{text}; it targets something other than {connection}")))
            }
        }
        Err(error) => Err(error),
    }
}

fn ip_permission(permission: &Permission, source: &IpNet, description: Option<&str>) -> IpPermission {
    let mut builder = IpPermission::builder().ip_protocol(&permission.protocol);
    if permission.protocol != "-1" {
        builder = builder.from_port(permission.from_port).to_port(permission.to_port);
    }
    match source {
        IpNet::V4(_) => {
            builder.ip_ranges(IpRange::builder().cidr_ip(source.to_string()).set_description(description.map(str::to_string)).build())
        }
        IpNet::V6(_) => {
            builder.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(source.to_string()).set_description(description.map(str::to_string)).build())
        }
    }
    .build()
}

async fn authorize(
    provider: &AwsProvider,
    client: &aws_sdk_ec2::Client,
    group: &str,
    permission: &Permission,
    source: &IpNet,
    (owner, peering): (&str, &str),
) -> Result<Outcome> {
    provider.count("AuthorizeSecurityGroupIngress");
    let request = client
        .authorize_security_group_ingress()
        .group_id(group)
        .ip_permissions(ip_permission(permission, source, Some(&rule_description(owner, peering))))
        .tag_specifications(tag_specification(ResourceType::SecurityGroupRule, &ownership_tags(owner, peering)));
    match request.send().await.map_err(|e| classify("AuthorizeSecurityGroupIngress", e)) {
        Ok(_) => Ok(Outcome::Done),
        Err(ProviderError::AlreadyExists(text)) => {
            provider.count("DescribeSecurityGroupRules");
            let filter = Filter::builder().name("group-id").values(group).build();
            let output = client
                .describe_security_group_rules()
                .filters(filter)
                .send()
                .await
                .map_err(|e| classify("DescribeSecurityGroupRules", e))?;
            let ours = output.security_group_rules().iter().filter_map(|r| convert::rule(r).ok()).any(|r| {
                !r.egress && r.permission == *permission && r.source == Some(*source) && Ownership::of(&r.tags).is(owner, peering)
            });
            if ours {
                Ok(Outcome::Done)
            } else {
                Err(ProviderError::Conflict(format!("{text}; the existing rule is not owned by this peering")))
            }
        }
        Err(error) => Err(error),
    }
}
