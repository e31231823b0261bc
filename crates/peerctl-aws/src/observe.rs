//! Reading live state: for each (credentials, region) the spec names, one
//! Describe per kind of object, filtered server-side and following every page.
//! Scopes are read in parallel. Filters only save bandwidth: the planner
//! checks every object it is given (moto, for one, ignores some filters).

use crate::error::classify;
use crate::{AwsProvider, convert};
use aws_sdk_ec2::types::Filter;
use futures::future::try_join_all;
use peerctl_core::spec::{AwsScope, By, CloudPeering, Spec};
use peerctl_core::state::{AwsRegionState, Connection, State, TAG_OWNER, Vpc};
use peerctl_engine::ProviderError;
use std::collections::{BTreeMap, BTreeSet};

/// EC2 accepts at most 200 values in one filter.
const FILTER_VALUES: usize = 200;

/// The VPCs the spec names in one scope.
#[derive(Default)]
struct Wanted {
    ids: BTreeSet<String>,
    names: BTreeSet<String>,
}

pub(crate) async fn observe(provider: &AwsProvider, spec: &Spec) -> Result<State, ProviderError> {
    let mut wanted: BTreeMap<AwsScope, Wanted> = BTreeMap::new();
    for peering in &spec.peerings {
        let CloudPeering::Aws(aws) = &peering.cloud else {
            continue;
        };
        for side in [&aws.requester, &aws.accepter] {
            let entry = wanted.entry(side.scope.clone()).or_default();
            match &side.vpc.by {
                By::Id(id) => entry.ids.insert(id.clone()),
                By::Name(name) => entry.names.insert(name.clone()),
            };
        }
    }
    let owned = |c: &Connection| c.tags.get(TAG_OWNER) == Some(&spec.owner);
    let regions = try_join_all(wanted.iter().map(|(scope, wanted)| observe_scope(provider, scope, wanted, &owned))).await?;
    Ok(State { aws: regions, ..State::default() })
}

/// For `peerctl import`: every VPC and live connection of `scope` (only those
/// touching `vpc`, if given) with the route tables, groups and rules of their
/// VPCs, then the same for their ends in other regions of these credentials.
pub(crate) async fn observe_for_import(provider: &AwsProvider, scope: &AwsScope, vpc: Option<&str>) -> Result<State, ProviderError> {
    let touches = |c: &Connection| !c.status.is_terminal() && vpc.is_none_or(|v| c.requester.vpc_id == v || c.accepter.vpc_id == v);
    let home = observe_scope(provider, scope, &Wanted::default(), &touches).await?;
    let mut elsewhere: BTreeMap<AwsScope, Wanted> = BTreeMap::new();
    for connection in home.connections.iter().filter(|c| touches(c)) {
        for end in [&connection.requester, &connection.accepter].into_iter().filter(|e| e.region != scope.region) {
            let other = AwsScope { region: end.region.clone(), ..scope.clone() };
            elsewhere.entry(other).or_default().ids.insert(end.vpc_id.clone());
        }
    }
    let others = try_join_all(elsewhere.iter().map(|(scope, wanted)| observe_scope(provider, scope, wanted, &|_| false))).await?;
    Ok(State { aws: [vec![home], others].concat(), ..State::default() })
}

/// Pages through one Describe call, converting each item.
macro_rules! paged {
    ($provider:expr, $op:literal, $request:expr, $items:ident, $convert:path) => {{
        let mut pages = $request.into_paginator().send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            $provider.count($op);
            let page = page.map_err(|e| classify($op, e))?;
            for item in page.$items() {
                items.push($convert(item)?);
            }
        }
        items
    }};
}

/// One scope: the wanted VPCs (all of them when none is named) and every
/// connection, then the tables, groups and rules of the wanted VPCs and of
/// the ends in this region of the connections `include` picks.
async fn observe_scope(
    provider: &AwsProvider,
    scope: &AwsScope,
    wanted: &Wanted,
    include: &(dyn Fn(&Connection) -> bool + Sync),
) -> Result<AwsRegionState, ProviderError> {
    let client = provider.client(scope).await;
    let vpc_filter = match (wanted.ids.is_empty(), wanted.names.is_empty()) {
        (false, true) if wanted.ids.len() <= FILTER_VALUES => vec![filter("vpc-id", &wanted.ids)],
        (true, false) if wanted.names.len() <= FILTER_VALUES => vec![filter("tag:Name", &wanted.names)],
        // Ids and names (EC2 ANDs filters), or more values than one filter
        // takes: read the region's VPCs and pick them out below.
        _ => vec![],
    };
    let vpcs = async {
        Ok::<_, ProviderError>(paged!(provider, "DescribeVpcs", client.describe_vpcs().set_filters(Some(vpc_filter)), vpcs, convert::vpc))
    };
    let connections = async {
        Ok::<_, ProviderError>(paged!(
            provider,
            "DescribeVpcPeeringConnections",
            client.describe_vpc_peering_connections(),
            vpc_peering_connections,
            convert::connection
        ))
    };
    let (vpcs, connections) = futures::try_join!(vpcs, connections)?;
    // The wanted VPCs (the listing may hold the whole region), and those of
    // the connections picked (for a plan, this owner's: `--prune` removes
    // their routes and rules).
    let named = |v: &&Vpc| wanted.ids.contains(&v.id) || v.name.as_ref().is_some_and(|n| wanted.names.contains(n));
    let mut vpc_ids: BTreeSet<String> = vpcs.iter().filter(named).map(|v| v.id.clone()).collect();
    // An end in this region but of an account whose VPCs these credentials do
    // not see (the other side of a cross-account peering) has nothing to read here.
    let accounts: BTreeSet<&str> = vpcs.iter().map(|v| v.owner_id.as_str()).collect();
    let readable = |owner: &str| accounts.is_empty() || accounts.contains(owner);
    for connection in connections.iter().filter(|c| include(c)) {
        for end in [&connection.requester, &connection.accepter] {
            if end.region == scope.region && readable(&end.owner_id) {
                vpc_ids.insert(end.vpc_id.clone());
            }
        }
    }
    if vpc_ids.is_empty() {
        return Ok(AwsRegionState { scope: scope.clone(), vpcs, connections, ..Default::default() });
    }
    let tables = async {
        let mut all = Vec::new();
        for chunk in chunks(&vpc_ids) {
            all.extend(paged!(
                provider,
                "DescribeRouteTables",
                client.describe_route_tables().filters(filter("vpc-id", &chunk)),
                route_tables,
                convert::route_table
            ));
        }
        Ok::<_, ProviderError>(all)
    };
    let groups = async {
        let mut all = Vec::new();
        for chunk in chunks(&vpc_ids) {
            all.extend(paged!(
                provider,
                "DescribeSecurityGroups",
                client.describe_security_groups().filters(filter("vpc-id", &chunk)),
                security_groups,
                convert::security_group
            ));
        }
        Ok::<_, ProviderError>(all)
    };
    let (route_tables, security_groups) = futures::try_join!(tables, groups)?;
    let group_ids: BTreeSet<String> = security_groups.iter().map(|g| g.id.clone()).collect();
    let mut rules = Vec::new();
    for chunk in chunks(&group_ids) {
        rules.extend(paged!(
            provider,
            "DescribeSecurityGroupRules",
            client.describe_security_group_rules().filters(filter("group-id", &chunk)),
            security_group_rules,
            convert::rule
        ));
    }
    Ok(AwsRegionState { scope: scope.clone(), vpcs, route_tables, security_groups, rules, connections })
}

fn filter<'a>(name: &str, values: impl IntoIterator<Item = &'a String>) -> Filter {
    Filter::builder().name(name).set_values(Some(values.into_iter().cloned().collect())).build()
}

fn chunks(values: &BTreeSet<String>) -> Vec<Vec<String>> {
    let all: Vec<String> = values.iter().cloned().collect();
    all.chunks(FILTER_VALUES).map(<[String]>::to_vec).collect()
}
