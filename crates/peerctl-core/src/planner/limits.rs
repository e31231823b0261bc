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
use rustc_hash::{FxHashMap, FxHashSet};

/// Active VPC peering connections per VPC (adjustable up to 125).
pub(crate) const AWS_PEERINGS_PER_VPC: usize = 50;
/// Non-propagated routes per route table, per IP family (adjustable up to 1,000).
pub(crate) const AWS_ROUTES_PER_TABLE: usize = 50;
/// Inbound rules per security group, per IP family (adjustable).
pub(crate) const AWS_INBOUND_RULES_PER_GROUP: usize = 60;
/// Peerings per VPC network.
pub(crate) const GCP_PEERINGS_PER_NETWORK: usize = 25;

/// What is counted, and against which limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Object<'a> {
    /// A VPC, by id.
    Vpc(&'a str),
    RouteTable {
        id: &'a str,
        family: Family,
    },
    SecurityGroup {
        id: &'a str,
        family: Family,
    },
    /// A GCP network: project, name.
    Network(&'a str, &'a str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// One object's count: what exists, and what the plan adds and removes.
#[derive(Default)]
struct Tally {
    live: usize,
    added: usize,
    removed: usize,
}

/// Reports every object the planned `steps` would take over its cloud's limit.
pub(crate) fn check(spec: &Spec, state: &State, steps: &[Step], diags: &mut Diagnostics) {
    let mut tallies: FxHashMap<Object, Tally> = FxHashMap::with_capacity_and_hasher(steps.len(), Default::default());
    let connections: FxHashMap<&str, &Connection> = live_connections(state).into_iter().map(|c| (c.id.as_str(), c)).collect();
    for step in steps {
        for (object, adds) in effects(&step.action, &connections).into_iter().flatten() {
            let tally = tallies.entry(object).or_default();
            if adds {
                tally.added += 1;
            } else {
                tally.removed += 1;
            }
        }
    }
    // Only what the plan adds to can cross a limit.
    tallies.retain(|_, tally| tally.added > 0);
    if tallies.is_empty() {
        return;
    }
    count_live(state, &mut tallies);
    let limit = |object: &Object| match object {
        Object::Vpc(_) => AWS_PEERINGS_PER_VPC,
        Object::RouteTable { .. } => AWS_ROUTES_PER_TABLE,
        Object::SecurityGroup { .. } => AWS_INBOUND_RULES_PER_GROUP,
        Object::Network(..) => GCP_PEERINGS_PER_NETWORK,
    };
    // Over the limit after the plan, and not already over it before; in a fixed order, whatever the hashing.
    let mut over: Vec<(Object, Tally)> = tallies
        .into_iter()
        .filter(|(object, t)| (t.live + t.added).saturating_sub(t.removed) > limit(object) && t.live <= limit(object))
        .collect();
    if over.is_empty() {
        return;
    }
    over.sort_unstable_by_key(|(object, _)| *object);
    // The peering of each step that adds to each object, in step order.
    let mut adders: FxHashMap<Object, Vec<&str>> = over.iter().map(|(object, _)| (*object, Vec::new())).collect();
    for step in steps {
        for (object, _) in effects(&step.action, &connections).into_iter().flatten().filter(|(_, adds)| *adds) {
            if let Some(peerings) = adders.get_mut(&object) {
                peerings.push(&step.peering);
            }
        }
    }
    let vpc_of = |id: &str| {
        let tables = state.aws.iter().flat_map(|r| r.route_tables.iter().map(|t| (&t.id, &t.vpc_id)));
        let groups = state.aws.iter().flat_map(|r| r.security_groups.iter().map(|g| (&g.id, &g.vpc_id)));
        tables.chain(groups).find(|(object, _)| *object == id).map_or(String::new(), |(_, vpc)| format!(" of {vpc}"))
    };
    for (object, tally) in &over {
        let limit = limit(object);
        let after = (tally.live + tally.added).saturating_sub(tally.removed);
        // The peering whose addition crosses the limit, removals counted first.
        let room = (limit + tally.removed).saturating_sub(tally.live);
        let Some(culprit) = adders[object].get(room) else { continue };
        let loc = spec.peerings.iter().find(|p| p.name == *culprit).map_or(Loc::default(), |p| p.loc);
        let change = match tally.removed {
            0 => format!("{} now, {} more planned", tally.live, tally.added),
            removed => format!("{} now, {} more and {removed} fewer planned", tally.live, tally.added),
        };
        let (message, hint) = match object {
            Object::Vpc(id) => (
                format!(
                    "{id}{} would have {after} peering connections ({change}); AWS allows {limit} active peering connections per VPC",
                    region_of(state, steps, id).map_or(String::new(), |r| format!(" in {r}"))
                ),
                "raise \"Active VPC peering connections per VPC\" in Service Quotas (Amazon Virtual Private Cloud, up to 125) before applying, \
                 or peer this VPC with fewer VPCs"
                    .to_string(),
            ),
            Object::RouteTable { id, family } => (
                format!(
                    "route table {id}{} would hold {after} {} routes ({change}); AWS allows {limit} per route table",
                    vpc_of(id),
                    family.name()
                ),
                "raise \"Routes per route table\" in Service Quotas (Amazon Virtual Private Cloud, up to 1000) before applying, \
                 or route this peering through other tables (`route_tables:`)"
                    .to_string(),
            ),
            Object::SecurityGroup { id, family } => (
                format!(
                    "security group {id}{} would hold {after} inbound {} rules ({change}); AWS allows {limit} per group",
                    vpc_of(id),
                    family.name()
                ),
                "each `allow` rule is one rule per peer range; raise \"Inbound or outbound rules per security group\" in Service Quotas \
                 (Amazon Virtual Private Cloud) before applying, allow less (`allow:`), or open another group (`security_groups:`)"
                    .to_string(),
            ),
            Object::Network(project, network) => (
                format!("network projects/{project}/global/networks/{network} would have {after} peerings ({change}); GCP allows {limit} per network"),
                "ask Google Cloud for a higher \"peerings per network\" limit (the console's Quotas page, NETWORK_PEERINGS_PER_NETWORK), \
                 or peer this network with fewer networks"
                    .to_string(),
            ),
        };
        diags.error_with_hint(loc, format!("peering `{culprit}`: {message}"), hint);
    }
}

/// The region of a VPC: where it was read, or where a step peers it.
fn region_of<'a>(state: &'a State, steps: &'a [Step], vpc: &str) -> Option<&'a str> {
    let read = state.aws.iter().find(|r| r.vpcs.iter().any(|v| v.id == vpc)).map(|r| r.scope.region.as_str());
    read.or_else(|| {
        steps.iter().find_map(|step| match &*step.action {
            Action::AwsCreateConnection { requester, accepter, .. } => {
                [requester, accepter].into_iter().find(|end| end.vpc == vpc).map(|end| end.scope.region.as_str())
            }
            _ => None,
        })
    })
}

/// The objects `action` adds to (`true`) or removes from (`false`).
fn effects<'a>(action: &'a Action, connections: &FxHashMap<&str, &'a Connection>) -> [Option<(Object<'a>, bool)>; 2] {
    match action {
        Action::AwsCreateConnection { requester, accepter, .. } => [requester, accepter].map(|end| Some((Object::Vpc(&end.vpc), true))),
        Action::AwsDeleteConnection { connection, .. } => match connections.get(connection.as_str()) {
            Some(c) => [Some((Object::Vpc(&c.requester.vpc_id), false)), Some((Object::Vpc(&c.accepter.vpc_id), false))],
            None => [None, None],
        },
        Action::AwsCreateRoute { route_table, destination, .. } => {
            [Some((Object::RouteTable { id: route_table, family: Family::of(destination) }, true)), None]
        }
        Action::AwsDeleteRoute { route_table, destination, .. } => {
            [Some((Object::RouteTable { id: route_table, family: Family::of(destination) }, false)), None]
        }
        Action::AwsAuthorizeIngress { group, source, .. } => {
            [Some((Object::SecurityGroup { id: group, family: Family::of(source) }, true)), None]
        }
        Action::AwsRevokeIngress { group, source, .. } => {
            [Some((Object::SecurityGroup { id: group, family: Family::of(source) }, false)), None]
        }
        Action::GcpAddPeering { network, .. } => [Some((Object::Network(&network.project, &network.name), true)), None],
        Action::GcpRemovePeering { network, .. } => [Some((Object::Network(&network.project, &network.name), false)), None],
        _ => [None, None],
    }
}

/// Every live (not deleted, failed, rejected or expired) connection, once,
/// whichever regions it was read from.
fn live_connections(state: &State) -> Vec<&Connection> {
    let mut seen = FxHashSet::default();
    state.aws.iter().flat_map(|r| &r.connections).filter(|c| !c.status.is_terminal() && seen.insert(c.id.as_str())).collect()
}

/// What exists, of the objects in `tallies`: connections per VPC (active or on their way), routes per
/// table and family (the `local` ones AWS makes for the VPC's own ranges
/// aside), inbound rules per group and family (a rule from a group or prefix
/// list counts in both families, as AWS counts it), entries per GCP network.
fn count_live<'a>(state: &'a State, tallies: &mut FxHashMap<Object<'a>, Tally>) {
    let mut seen = FxHashSet::default();
    for connection in live_connections(state) {
        for end in [&connection.requester, &connection.accepter] {
            if let Some(tally) = tallies.get_mut(&Object::Vpc(&end.vpc_id)) {
                tally.live += 1;
            }
        }
    }
    for region in &state.aws {
        for table in region.route_tables.iter().filter(|t| seen.insert(("rtb", t.id.as_str()))) {
            for route in table.routes.iter().filter(|r| r.target != "local") {
                if let Some(tally) = tallies.get_mut(&Object::RouteTable { id: &table.id, family: Family::of(&route.destination) }) {
                    tally.live += 1;
                }
            }
        }
        let groups: FxHashSet<&str> = region.security_groups.iter().map(|g| g.id.as_str()).filter(|id| seen.insert(("sg", id))).collect();
        for rule in region.rules.iter().filter(|r| !r.egress && groups.contains(r.group_id.as_str())) {
            let families: &[Family] = match &rule.source {
                Some(source) => &[Family::of(source)],
                None => &[Family::V4, Family::V6],
            };
            for &family in families {
                if let Some(tally) = tallies.get_mut(&Object::SecurityGroup { id: &rule.group_id, family }) {
                    tally.live += 1;
                }
            }
        }
    }
    for project in &state.gcp {
        for network in &project.networks {
            if let Some(tally) = tallies.get_mut(&Object::Network(&project.project, &network.name)) {
                tally.live += network.peerings.len();
            }
        }
    }
}
