//! Limits the clouds enforce, checked before anything is changed: a plan that
//! would push a VPC, route table, security group or network over its quota
//! fails up front, pointing at the peering that crosses it, instead of
//! half-way through `apply`.
//!
//! Pure: the counts are the live objects in the observed state, plus what the
//! planned steps add, minus what they remove. The limits are the clouds'
//! defaults. Both AWS quotas here can be raised (Service Quotas), and peerctl
//! cannot read the raised value from the state, so a count that is *already*
//! over a default is taken to mean the quota was raised: such an object is
//! left to the cloud to judge.

use crate::diag::{Diagnostics, Loc};
use crate::plan::{Action, Step};
use crate::spec::Spec;
use crate::state::{Connection, State};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};

/// Active VPC peering connections per VPC (adjustable up to 125).
pub(crate) const AWS_PEERINGS_PER_VPC: usize = 50;
/// Non-propagated routes per route table, per IP family (adjustable up to 1,000).
pub(crate) const AWS_ROUTES_PER_TABLE: usize = 50;
/// Inbound rules per security group, per IP family (adjustable).
pub(crate) const AWS_INBOUND_RULES_PER_GROUP: usize = 60;
/// Peerings per VPC network.
pub(crate) const GCP_PEERINGS_PER_NETWORK: usize = 25;

/// What is counted, and against which limit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Object {
    /// A VPC, by id.
    Vpc(String),
    RouteTable {
        id: String,
        family: Family,
    },
    SecurityGroup {
        id: String,
        family: Family,
    },
    /// `projects/P/global/networks/N`.
    Network(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn of(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// One object's count: what exists, and what the plan adds (by which
/// peering, in step order) and removes.
#[derive(Default)]
struct Tally {
    live: usize,
    added: Vec<String>,
    removed: usize,
}

/// Reports every object the planned `steps` would take over its cloud's limit.
pub(crate) fn check(spec: &Spec, state: &State, steps: &[Step], diags: &mut Diagnostics) {
    let mut tallies: BTreeMap<Object, Tally> = BTreeMap::new();
    let mut regions: BTreeMap<String, String> = BTreeMap::new();
    count_live(state, &mut tallies, &mut regions);
    let connections = live_connections(state);
    for step in steps {
        for (object, adds) in effects(&step.action, &connections, &mut regions) {
            let tally = tallies.entry(object).or_default();
            if adds {
                tally.added.push(step.peering.clone());
            } else {
                tally.removed += 1;
            }
        }
    }
    let vpc_of_table: BTreeMap<&str, &str> =
        state.aws.iter().flat_map(|r| r.route_tables.iter().map(|t| (t.id.as_str(), t.vpc_id.as_str()))).collect();
    let vpc_of_group: BTreeMap<&str, &str> =
        state.aws.iter().flat_map(|r| r.security_groups.iter().map(|g| (g.id.as_str(), g.vpc_id.as_str()))).collect();
    for (object, tally) in &tallies {
        let limit = match object {
            Object::Vpc(_) => AWS_PEERINGS_PER_VPC,
            Object::RouteTable { .. } => AWS_ROUTES_PER_TABLE,
            Object::SecurityGroup { .. } => AWS_INBOUND_RULES_PER_GROUP,
            Object::Network(_) => GCP_PEERINGS_PER_NETWORK,
        };
        let after = (tally.live + tally.added.len()).saturating_sub(tally.removed);
        if after <= limit || tally.live > limit {
            continue;
        }
        // The peering whose addition crosses the limit, removals counted first.
        let room = (limit + tally.removed).saturating_sub(tally.live);
        let Some(culprit) = tally.added.get(room) else { continue };
        let loc = spec.peerings.iter().find(|p| &p.name == culprit).map_or(Loc::default(), |p| p.loc);
        let change = match tally.removed {
            0 => format!("{} now, {} more planned", tally.live, tally.added.len()),
            removed => format!("{} now, {} more and {removed} fewer planned", tally.live, tally.added.len()),
        };
        let in_vpc = |vpc: Option<&&str>| vpc.map_or(String::new(), |v| format!(" of {v}"));
        let (message, hint) = match object {
            Object::Vpc(id) => (
                format!(
                    "{id}{} would have {after} peering connections ({change}); AWS allows {limit} active peering connections per VPC",
                    regions.get(id).map_or(String::new(), |r| format!(" in {r}"))
                ),
                "raise \"Active VPC peering connections per VPC\" in Service Quotas (Amazon Virtual Private Cloud, up to 125) before applying, \
                 or peer this VPC with fewer VPCs"
                    .to_string(),
            ),
            Object::RouteTable { id, family } => (
                format!(
                    "route table {id}{} would hold {after} {} routes ({change}); AWS allows {limit} per route table",
                    in_vpc(vpc_of_table.get(id.as_str())),
                    family.name()
                ),
                "raise \"Routes per route table\" in Service Quotas (Amazon Virtual Private Cloud, up to 1000) before applying, \
                 or route this peering through other tables (`route_tables:`)"
                    .to_string(),
            ),
            Object::SecurityGroup { id, family } => (
                format!(
                    "security group {id}{} would hold {after} inbound {} rules ({change}); AWS allows {limit} per group",
                    in_vpc(vpc_of_group.get(id.as_str())),
                    family.name()
                ),
                "each `allow` rule is one rule per peer range; raise \"Inbound or outbound rules per security group\" in Service Quotas \
                 (Amazon Virtual Private Cloud) before applying, allow less (`allow:`), or open another group (`security_groups:`)"
                    .to_string(),
            ),
            Object::Network(network) => (
                format!("network {network} would have {after} peerings ({change}); GCP allows {limit} per network"),
                "ask Google Cloud for a higher \"peerings per network\" limit (the console's Quotas page, NETWORK_PEERINGS_PER_NETWORK), \
                 or peer this network with fewer networks"
                    .to_string(),
            ),
        };
        diags.error_with_hint(loc, format!("peering `{culprit}`: {message}"), hint);
    }
}

/// The objects `action` adds to (`true`) or removes from (`false`); the
/// regions of VPCs it creates connections for are noted in `regions`.
fn effects(action: &Action, connections: &[&Connection], regions: &mut BTreeMap<String, String>) -> Vec<(Object, bool)> {
    match action {
        Action::AwsCreateConnection { requester, accepter, .. } => [requester, accepter]
            .into_iter()
            .map(|end| {
                regions.entry(end.vpc.clone()).or_insert_with(|| end.scope.region.clone());
                (Object::Vpc(end.vpc.clone()), true)
            })
            .collect(),
        Action::AwsDeleteConnection { connection, .. } => connections
            .iter()
            .filter(|c| &c.id == connection)
            .flat_map(|c| [(Object::Vpc(c.requester.vpc_id.clone()), false), (Object::Vpc(c.accepter.vpc_id.clone()), false)])
            .collect(),
        Action::AwsCreateRoute { route_table, destination, .. } => {
            vec![(Object::RouteTable { id: route_table.clone(), family: Family::of(destination) }, true)]
        }
        Action::AwsDeleteRoute { route_table, destination, .. } => {
            vec![(Object::RouteTable { id: route_table.clone(), family: Family::of(destination) }, false)]
        }
        Action::AwsAuthorizeIngress { group, source, .. } => {
            vec![(Object::SecurityGroup { id: group.clone(), family: Family::of(source) }, true)]
        }
        Action::AwsRevokeIngress { group, source, .. } => {
            vec![(Object::SecurityGroup { id: group.clone(), family: Family::of(source) }, false)]
        }
        Action::GcpAddPeering { network, .. } => vec![(Object::Network(network.to_string()), true)],
        Action::GcpRemovePeering { network, .. } => vec![(Object::Network(network.to_string()), false)],
        _ => Vec::new(),
    }
}

/// Every live (not deleted, failed, rejected or expired) connection, once,
/// whichever regions it was read from.
fn live_connections(state: &State) -> Vec<&Connection> {
    let mut seen = BTreeSet::new();
    state.aws.iter().flat_map(|r| &r.connections).filter(|c| !c.status.is_terminal() && seen.insert(c.id.as_str())).collect()
}

/// What exists: connections per VPC (active or on their way), routes per
/// table and family (the `local` ones AWS makes for the VPC's own ranges
/// aside), inbound rules per group and family (a rule from a group or prefix
/// list counts in both families, as AWS counts it), entries per GCP network.
fn count_live(state: &State, tallies: &mut BTreeMap<Object, Tally>, regions: &mut BTreeMap<String, String>) {
    let mut seen = BTreeSet::new();
    for connection in live_connections(state) {
        for end in [&connection.requester, &connection.accepter] {
            tallies.entry(Object::Vpc(end.vpc_id.clone())).or_default().live += 1;
        }
    }
    for region in &state.aws {
        for vpc in &region.vpcs {
            regions.entry(vpc.id.clone()).or_insert_with(|| region.scope.region.clone());
        }
        for table in region.route_tables.iter().filter(|t| seen.insert(("rtb", t.id.as_str()))) {
            for route in table.routes.iter().filter(|r| r.target != "local") {
                let object = Object::RouteTable { id: table.id.clone(), family: Family::of(&route.destination) };
                tallies.entry(object).or_default().live += 1;
            }
        }
        let groups: BTreeSet<&str> = region.security_groups.iter().map(|g| g.id.as_str()).filter(|id| seen.insert(("sg", id))).collect();
        for rule in region.rules.iter().filter(|r| !r.egress && groups.contains(r.group_id.as_str())) {
            let families = match &rule.source {
                Some(source) => vec![Family::of(source)],
                None => vec![Family::V4, Family::V6],
            };
            for family in families {
                tallies.entry(Object::SecurityGroup { id: rule.group_id.clone(), family }).or_default().live += 1;
            }
        }
    }
    for project in &state.gcp {
        for network in &project.networks {
            let name = crate::spec::GcpNetwork { project: project.project.clone(), name: network.name.clone() };
            tallies.entry(Object::Network(name.to_string())).or_default().live += network.peerings.len();
        }
    }
}
