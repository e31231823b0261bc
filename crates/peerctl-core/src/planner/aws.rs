//! Planning AWS peerings: connection, acceptance, DNS options, routes, rules.

use super::Builder;
use super::resolve::{ResolvedSide, resolve_side};
use crate::diag::Diagnostics;
use crate::plan::{Action, AwsEnd, ConnectionRef, ConnectionSide, PeeringStatus, Unmanaged};
use crate::spec::{AwsPeering, By, Peering, Spec, overlaps};
use crate::state::{
    AwsRegionState, Connection, ConnectionStatus, Ownership, Permission, RouteTable, SecurityGroup, SecurityGroupRule, State, TAG_OWNER,
    Tags, Vpc, ownership_tags,
};
use ipnet::IpNet;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::hash::Hash;

/// The plan of one peering that should exist.
pub(crate) fn plan_present<'a>(b: &mut Builder<'a>, peering: &'a Peering, aws: &'a AwsPeering) {
    let state = b.state;
    let name = &peering.name;
    let lookup = b.aws;
    let req = resolve_side(&aws.requester, state.aws_region(&aws.requester.scope), lookup, ("requester", name), &mut b.diags);
    let acc = resolve_side(&aws.accepter, state.aws_region(&aws.accepter.scope), lookup, ("accepter", name), &mut b.diags);
    let (Some(req), Some(acc)) = (req, acc) else {
        b.peerings.push(status(peering, None));
        return;
    };
    if req.vpc.id == acc.vpc.id {
        b.diags.error_with_hint(
            peering.loc,
            format!("peering `{name}` joins {} to itself (both sides select it)", req.vpc.id),
            "the two sides must be different VPCs; check the requester's and accepter's `vpc`",
        );
        b.peerings.push(status(peering, None));
        return;
    }
    let (req_cidrs, acc_cidrs) = (req.cidrs(aws.ipv6), acc.cidrs(aws.ipv6));
    if let Some((a, c)) = first_overlap(&req_cidrs, &acc_cidrs) {
        b.diags.error_with_hint(
            peering.loc,
            format!("peering `{name}`: requester {} ({a}) overlaps accepter {} ({c})", req.vpc.id, acc.vpc.id),
            "peered VPCs need disjoint address ranges; peer another VPC or re-address one of them",
        );
        b.peerings.push(status(peering, None));
        return;
    }
    let connections = b.aws.between(&req.vpc.id, &acc.vpc.id);
    let live: Vec<&Connection> = connections.iter().filter(|c| !c.status.is_terminal()).copied().collect();
    let Ok(adopted) = adopted(b, peering, aws, &live, (&req, &acc)) else {
        b.peerings.push(status(peering, None));
        return;
    };
    let ours = |c: &Connection| is_ours(b, &peering.name, c) || adopted.is_some_and(|a| a.id == c.id);
    let owned_ids: Vec<&str> = connections.iter().filter(|c| ours(c)).map(|c| c.id.as_str()).collect();
    if let Some(foreign) = live.iter().find(|c| !ours(c) || c.requester.vpc_id != req.vpc.id) {
        let whose = if is_ours(b, &peering.name, foreign) {
            format!("belongs to this peering but was requested by {}; delete it or swap requester and accepter", foreign.requester.vpc_id)
        } else {
            describe_owner(&foreign.tags)
        };
        b.conflict(
            name,
            format!(
                "peering connection {} ({}) already joins {} and {} and {whose}",
                foreign.id,
                foreign.status.as_str(),
                req.vpc.id,
                acc.vpc.id
            ),
        );
        b.peerings.push(status(peering, Some(foreign)));
        return;
    }
    let current = live.first().copied();
    let Some((connection, ready)) = plan_connection(b, peering, &req, &acc, current) else {
        b.peerings.push(status(peering, current));
        return;
    };
    if let Some(connection) = adopted {
        let mut tags = ownership_tags(&b.spec.owner, name);
        if !connection.tags.contains_key("Name") {
            tags.insert("Name".to_string(), name.clone());
        }
        let action = Action::AwsTag { scope: req.spec.scope.clone(), resource: connection.id.clone(), tags };
        b.step(name, action, format!("`adopt` takes over {}, which carries no owner yet", connection.id), vec![]);
    }
    plan_dns(b, peering, aws, current, &connection, &ready);
    plan_routes(b, peering, &req, &acc_cidrs, &connection, &owned_ids, &ready);
    plan_routes(b, peering, &acc, &req_cidrs, &connection, &owned_ids, &ready);
    plan_rules(b, peering, &req, &acc_cidrs, aws);
    plan_rules(b, peering, &acc, &req_cidrs, aws);
    let handled = Handled { keep: current.map(|c| c.id.as_str()), route_targets: &owned_ids, vpcs: [&req.vpc.id, &acc.vpc.id] };
    remove_owned(b, &peering.name, &handled, "a connection of this peering that the spec no longer describes");
    b.peerings.push(status(peering, current));
}

/// The connection named by `adopt` when it still has to be tagged; an error
/// (reported) when `adopt` names no live connection between the two VPCs.
fn adopted<'a>(
    b: &mut Builder,
    peering: &Peering,
    aws: &AwsPeering,
    live: &[&'a Connection],
    (req, acc): (&ResolvedSide, &ResolvedSide),
) -> Result<Option<&'a Connection>, ()> {
    let Some(adopt) = &aws.adopt else { return Ok(None) };
    let Some(connection) = live.iter().find(|c| c.id == adopt.id) else {
        b.diags.error_with_hint(
            adopt.loc,
            format!("peering `{}`: {} is not a live peering connection between {} and {}", peering.name, adopt.id, req.vpc.id, acc.vpc.id),
            "check the id (`peerctl import aws` lists the connections); to have peerctl create a new connection instead, remove `adopt`",
        );
        return Err(());
    };
    Ok((!connection.tags.contains_key(TAG_OWNER)).then_some(*connection))
}

/// The connection to use and the steps that make it usable; `None` when it
/// is in a state peerctl will not act on.
fn plan_connection(
    b: &mut Builder,
    peering: &Peering,
    req: &ResolvedSide,
    acc: &ResolvedSide,
    current: Option<&Connection>,
) -> Option<(ConnectionRef, Vec<usize>)> {
    let name = &peering.name;
    let accept = |connection| Action::AwsAcceptConnection { scope: acc.spec.scope.clone(), connection };
    match current {
        None => {
            let create = Action::AwsCreateConnection {
                requester: AwsEnd { scope: req.spec.scope.clone(), vpc: req.vpc.id.clone(), account: req.vpc.owner_id.clone() },
                accepter: AwsEnd { scope: acc.spec.scope.clone(), vpc: acc.vpc.id.clone(), account: acc.vpc.owner_id.clone() },
            };
            let created = b.step(name, create, "no connection joins these VPCs", vec![]);
            let accepted =
                b.step(name, accept(ConnectionRef::CreatedByStep(created)), "the accepter must accept the new connection", vec![created]);
            Some((ConnectionRef::CreatedByStep(created), vec![accepted]))
        }
        Some(c) => match &c.status {
            ConnectionStatus::PendingAcceptance => {
                let accepted = b.step(name, accept(ConnectionRef::Id(c.id.clone())), format!("{} is pending acceptance", c.id), vec![]);
                Some((ConnectionRef::Id(c.id.clone()), vec![accepted]))
            }
            ConnectionStatus::Unknown(code) => {
                b.conflict(
                    name,
                    format!("peering connection {} has status `{code}`, which peerctl does not know; resolve it by hand", c.id),
                );
                None
            }
            _ => Some((ConnectionRef::Id(c.id.clone()), vec![])),
        },
    }
}

fn plan_dns(
    b: &mut Builder,
    peering: &Peering,
    aws: &AwsPeering,
    current: Option<&Connection>,
    connection: &ConnectionRef,
    ready: &[usize],
) {
    let sides = [
        (ConnectionSide::Requester, &aws.requester.scope, current.and_then(|c| c.requester.allow_dns_resolution)),
        (ConnectionSide::Accepter, &aws.accepter.scope, current.and_then(|c| c.accepter.allow_dns_resolution)),
    ];
    for (side, scope, now) in sides {
        let now = now.unwrap_or(false);
        if now == aws.dns_resolution {
            continue;
        }
        let action = Action::AwsSetDnsResolution { scope: scope.clone(), connection: connection.clone(), side, allow: aws.dns_resolution };
        let reason = format!("DNS resolution from the remote VPC is {} on the {side:?} side", if now { "allowed" } else { "not allowed" })
            .to_lowercase();
        b.step(&peering.name, action, reason, ready.to_vec());
    }
}

/// Routes in `this` side's selected tables to each of the peer's ranges, and
/// removal of routes through our connections that are no longer wanted.
fn plan_routes<'a>(
    b: &mut Builder<'a>,
    peering: &'a Peering,
    this: &ResolvedSide<'a>,
    peer_cidrs: &[IpNet],
    connection: &ConnectionRef,
    owned_ids: &[&str],
    ready: &[usize],
) {
    let name = &peering.name;
    let scope = &this.spec.scope;
    for table in &this.route_tables {
        for &cidr in peer_cidrs {
            b.claimed_routes.push((&table.id, cidr, name, peering.loc));
            let existing = table.routes.iter().find(|r| r.destination == cidr);
            let action = match existing {
                Some(route) if connection.id() == Some(route.target.as_str()) => continue,
                Some(route) if owned_ids.contains(&route.target.as_str()) => Action::AwsReplaceRoute {
                    scope: scope.clone(),
                    route_table: table.id.clone(),
                    destination: cidr,
                    connection: connection.clone(),
                    previous_target: route.target.clone(),
                },
                Some(route) => {
                    b.conflict(
                        name,
                        format!("route table {} already sends {cidr} to {}, which peerctl does not own", table.id, route.target),
                    );
                    continue;
                }
                None => Action::AwsCreateRoute {
                    scope: scope.clone(),
                    route_table: table.id.clone(),
                    destination: cidr,
                    connection: connection.clone(),
                },
            };
            // An added step's reason is static: the plan shows only those of
            // changes, and formatting 40,000 of them took a tenth of a large plan.
            let reason: Cow<'static, str> = match existing {
                Some(route) => format!("{cidr} goes through {}, an earlier connection of this peering", route.target).into(),
                None => "the table has no route to this range of the peer".into(),
            };
            b.step(name, action, reason, ready.to_vec());
        }
    }
    // Routes through our connections in this VPC's tables, in state order.
    let mut ours: Vec<(usize, usize, usize)> = owned_ids.iter().flat_map(|id| b.aws.routes_via(id)).copied().collect();
    ours.sort_unstable();
    for (r, t, i) in ours {
        let table = &b.state.aws[r].route_tables[t];
        if !b.aws.is_region(r, this.region) || table.vpc_id != this.vpc.id {
            continue;
        }
        let route = &table.routes[i];
        if this.route_tables.iter().any(|s| s.id == table.id) && peer_cidrs.contains(&route.destination) {
            continue;
        }
        let action = Action::AwsDeleteRoute {
            scope: scope.clone(),
            route_table: table.id.clone(),
            destination: route.destination,
            target: route.target.clone(),
        };
        b.step(name, action, "the spec no longer routes this range through this table", vec![]);
    }
}

/// Inbound rules from each peer range on `this` side's selected groups, and
/// removal of our rules that are no longer wanted.
fn plan_rules(b: &mut Builder, peering: &Peering, this: &ResolvedSide, peer_cidrs: &[IpNet], aws: &AwsPeering) {
    let (owner, name) = (&b.spec.owner, &peering.name);
    let scope = &this.spec.scope;
    let mut wanted: Vec<(&str, Permission, IpNet)> = Vec::new();
    for group in &this.security_groups {
        for rule in &aws.allow {
            for &source in peer_cidrs {
                let permission = Permission::for_source(*rule, &source);
                wanted.push((&group.id, permission.clone(), source));
                let existing = b
                    .aws
                    .rules_in(this.region, &group.id)
                    .iter()
                    .find(|r| r.source == Some(source) && !r.egress && r.permission == permission);
                match existing {
                    Some(r) if Ownership::of(&r.tags).is(owner, name) => {}
                    Some(r) if aws.adopt.is_some() && !r.tags.contains_key(TAG_OWNER) => {
                        let action = Action::AwsTag { scope: scope.clone(), resource: r.id.clone(), tags: ownership_tags(owner, name) };
                        b.step(
                            name,
                            action,
                            format!("`adopt` takes over {}'s rule {}, which carries no owner yet", group.id, r.id),
                            vec![],
                        );
                    }
                    Some(r) => b.conflict(
                        name,
                        format!(
                            "security group {} already allows {permission} from {source} (rule {}, {})",
                            group.id,
                            r.id,
                            describe_owner(&r.tags)
                        ),
                    ),
                    None => {
                        let action = Action::AwsAuthorizeIngress {
                            scope: scope.clone(),
                            group: group.id.clone(),
                            rule: *rule,
                            permission: permission.clone(),
                            source,
                        };
                        b.step(name, action, "the group does not let this range of the peer in", vec![]);
                    }
                }
            }
        }
    }
    // Our rules in this VPC's groups, group by group.
    let groups_of_vpc = b.aws.groups_of(this.region, &this.vpc.id);
    let mut ours: Vec<(usize, &SecurityGroupRule)> = (b.aws.rules_of(name).iter())
        .filter(|(r, _)| b.aws.is_region(*r, this.region))
        .filter_map(|&(r, i)| {
            let rule = &b.state.aws[r].rules[i];
            Some((groups_of_vpc.iter().position(|g| g.id == rule.group_id)?, rule))
        })
        .collect();
    ours.sort_by_key(|(group, _)| *group);
    for (_, rule) in ours {
        let Some(source) = rule.source else { continue };
        if rule.egress {
            continue;
        }
        if wanted.iter().any(|(group, permission, from)| *group == rule.group_id && *permission == rule.permission && *from == source) {
            continue;
        }
        let action = Action::AwsRevokeIngress {
            scope: scope.clone(),
            group: rule.group_id.clone(),
            rule_id: rule.id.clone(),
            permission: rule.permission.clone(),
            source,
        };
        b.step(name, action, "the spec no longer allows this", vec![]);
    }
}

/// The plan of a peering marked `absent: true`: our routes and rules first,
/// then the connection, so no route is left pointing at nothing.
pub(crate) fn plan_absent(b: &mut Builder, peering: &Peering, _aws: &AwsPeering) {
    remove_all(b, &peering.name, "the peering is absent");
}

/// With `--prune`: removes a peering that carries this owner but that the spec no longer names.
pub(crate) fn prune(b: &mut Builder, peering: &str) {
    let reason = format!("owned by `{}` but no longer in the spec (--prune)", b.spec.owner);
    remove_all(b, peering, &reason);
}

fn remove_all(b: &mut Builder, peering: &str, reason: &str) {
    remove_owned(b, peering, &Handled { keep: None, route_targets: &[], vpcs: ["", ""] }, reason);
    let live = b.aws.owned(peering).into_iter().find(|(c, _)| !c.status.is_terminal()).map(|(c, _)| c);
    b.peerings.push(PeeringStatus {
        name: peering.to_string(),
        cloud: "aws".to_string(),
        absent: true,
        connection: live.map(|c| c.id.clone()),
        status: live.map(|c| c.status.as_str().to_string()),
    });
}

/// What `plan_present` already took care of, so `remove_owned` leaves it alone.
struct Handled<'a> {
    /// The connection in use.
    keep: Option<&'a str>,
    /// Routes through these connections in the two VPCs' tables were planned.
    route_targets: &'a [&'a str],
    /// Rules in these VPCs' groups were planned.
    vpcs: [&'a str; 2],
}

/// Removes this peering's connections other than the one kept (all of them
/// when the peering is absent, a duplicate, or one left from when the spec
/// named other VPCs): routes through them and our rules first, then the
/// connections, so no route is left pointing at nothing.
fn remove_owned(b: &mut Builder, name: &str, handled: &Handled, reason: &str) {
    let (state, lookup) = (b.state, b.aws);
    let owned = lookup.owned(name);
    let stale: Vec<&str> = owned.iter().map(|(c, _)| c.id.as_str()).filter(|id| Some(*id) != handled.keep).collect();
    // In state order (region, table, route; then rules), as a scan would find them.
    let mut routes: Vec<(usize, usize, usize)> = stale.iter().flat_map(|id| lookup.routes_via(id)).copied().collect();
    routes.sort_unstable();
    let rules = lookup.rules_of(name);
    if routes.is_empty() && rules.is_empty() && stale.is_empty() {
        return;
    }
    for (r, region) in state.aws.iter().enumerate() {
        for &(_, t, i) in routes.iter().filter(|(rr, _, _)| *rr == r) {
            let (table, route) = (&region.route_tables[t], &region.route_tables[t].routes[i]);
            if handled.vpcs.contains(&table.vpc_id.as_str()) && handled.route_targets.contains(&route.target.as_str()) {
                continue;
            }
            let action = Action::AwsDeleteRoute {
                scope: region.scope.clone(),
                route_table: table.id.clone(),
                destination: route.destination,
                target: route.target.clone(),
            };
            b.step(name, action, reason.to_string(), vec![]);
        }
        for &(_, i) in rules.iter().filter(|(rr, _)| *rr == r) {
            let rule = &region.rules[i];
            let handled_group = lookup.vpc_of_group(&rule.group_id).is_some_and(|vpc| handled.vpcs.contains(&vpc));
            let Some(source) = rule.source.filter(|_| !rule.egress && !handled_group) else { continue };
            let action = Action::AwsRevokeIngress {
                scope: region.scope.clone(),
                group: rule.group_id.clone(),
                rule_id: rule.id.clone(),
                permission: rule.permission.clone(),
                source,
            };
            b.step(name, action, reason.to_string(), vec![]);
        }
    }
    let doomed: Vec<(&Connection, usize)> =
        owned.into_iter().filter(|(c, _)| stale.contains(&c.id.as_str()) && !c.status.is_terminal()).collect();
    if doomed.is_empty() {
        return;
    }
    // A peering's steps are planned together: they are the last ones so far.
    let first = b.steps.iter().rposition(|step| step.peering != name).map_or(0, |i| i + 1);
    let earlier: Vec<usize> = (first..b.steps.len()).collect();
    for (connection, region) in doomed {
        let action = Action::AwsDeleteConnection { scope: state.aws[region].scope.clone(), connection: connection.id.clone() };
        b.step(name, action, reason.to_string(), earlier.clone());
    }
}

/// Two peerings must not route overlapping ranges through one route table.
pub(crate) fn check_route_collisions(mut claims: Vec<super::Claim>, diags: &mut Diagnostics) {
    // Sorted by table, then range: only claims on one table are compared.
    claims.sort_unstable();
    let mut reported = BTreeSet::new();
    let mut table_start = 0;
    // The highest address any earlier claim on this table reaches, per family:
    // a range starting above it overlaps none of them, so the scan is skipped.
    let mut reach: [Option<std::net::IpAddr>; 2] = [None, None];
    for (i, (table, cidr, peering, loc)) in claims.iter().enumerate() {
        if claims[table_start].0 != *table {
            table_start = i;
            reach = [None, None];
        }
        let family = usize::from(matches!(cidr, IpNet::V6(_)));
        let reached = reach[family];
        reach[family] = reached.max(Some(cidr.broadcast()));
        if reached.is_none_or(|end| cidr.network() > end) {
            continue;
        }
        let earlier = claims[table_start..i].iter().find(|(_, c, p, _)| p != peering && overlaps(c, cidr));
        // Once per pair of peerings and ranges, however many tables they share.
        if let Some((_, other_cidr, other, _)) = earlier.filter(|(_, c, p, _)| reported.insert((peering, cidr, p, *c))) {
            diags.error_with_hint(
                *loc,
                format!("peering `{peering}` would route {cidr} in {table}, where peering `{other}` routes {other_cidr}"),
                "the VPCs peered with one VPC need disjoint ranges; re-address one of them or drop one peering",
            );
        }
    }
}

/// Values grouped by key, each group in the order the values came: one
/// array for all of them, not a vector per key.
struct Groups<K, V> {
    /// Each key's group, numbered in the order the keys first came.
    group: FxHashMap<K, usize>,
    /// Group `g` is `values[bounds[g]..bounds[g + 1]]`.
    bounds: Vec<usize>,
    values: Vec<V>,
}

impl<K: Hash + Eq + Copy, V: Copy> Groups<K, V> {
    /// Each key is hashed once: a counting sort by group.
    fn new(items: impl Iterator<Item = (K, V)>) -> Self {
        let mut group: FxHashMap<K, usize> = FxHashMap::default();
        let mut counts: Vec<usize> = Vec::new();
        let numbered: Vec<(usize, V)> = items
            .map(|(key, value)| {
                let g = *group.entry(key).or_insert(counts.len());
                if g == counts.len() {
                    counts.push(0);
                }
                counts[g] += 1;
                (g, value)
            })
            .collect();
        let mut bounds = Vec::with_capacity(counts.len() + 1);
        bounds.push(0);
        for count in counts {
            bounds.push(bounds[bounds.len() - 1] + count);
        }
        let mut next = bounds.clone();
        let mut values = numbered.first().map_or_else(Vec::new, |&(_, v)| vec![v; numbered.len()]);
        for (g, value) in numbered {
            values[next[g]] = value;
            next[g] += 1;
        }
        Groups { group, bounds, values }
    }

    fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> &[V]
    where
        K: std::borrow::Borrow<Q>,
    {
        self.group.get(key).map_or(&[], |&g| &self.values[self.bounds[g]..self.bounds[g + 1]])
    }

    fn keys(&self) -> impl Iterator<Item = K> + '_ {
        self.group.keys().copied()
    }

    /// Sorts the values of each group.
    fn sorted(mut self) -> Self
    where
        V: Ord,
    {
        for bounds in self.bounds.windows(2) {
            self.values[bounds[0]..bounds[1]].sort_unstable();
        }
        self
    }
}

/// Indexes over the observed AWS state, built once per plan, so that what
/// each peering looks up costs a hash probe, not a scan of the whole state.
/// Regions are keyed by address: the planner holds them by reference.
pub(crate) struct Lookup<'a> {
    /// Each connection once, by id, with its region: a connection read from
    /// both of its regions is kept in the view that carries tags (the
    /// requester's account).
    by_id: FxHashMap<&'a str, (&'a Connection, usize)>,
    /// Connection ids by the pair of VPCs they join (the smaller id first), sorted.
    by_vpcs: Groups<(&'a str, &'a str), &'a str>,
    /// The plan's owner's connection ids by their peering tag, sorted.
    by_peering: Groups<&'a str, &'a str>,
    /// Routes by target (other than `local`): (region, table, route) indexes, in state order.
    routes_via: Groups<&'a str, (usize, usize, usize)>,
    /// The plan's owner's rules by their peering tag: (region, rule) indexes, in state order.
    rules_by_peering: Groups<&'a str, (usize, usize)>,
    /// The VPC of each security group.
    group_vpc: FxHashMap<&'a str, &'a str>,
    /// By (region, VPC id): route tables and groups; by (region, group id): rules. In state order.
    tables_of: Groups<(usize, &'a str), &'a RouteTable>,
    groups_of: Groups<(usize, &'a str), &'a SecurityGroup>,
    rules_in: Groups<(usize, &'a str), &'a SecurityGroupRule>,
    /// By region: VPCs by id, and by Name tag.
    vpcs_by_id: Groups<(usize, &'a str), &'a Vpc>,
    vpcs_by_name: Groups<(usize, &'a str), &'a Vpc>,
    /// Each region's address, by index in `State::aws`.
    regions: Vec<usize>,
}

impl<'a> Lookup<'a> {
    /// Indexes `state`; of owned objects, only those of `owner`.
    pub(crate) fn new(state: &'a State, owner: &str) -> Self {
        let regions = || state.aws.iter().enumerate().map(|(r, region)| (r, std::ptr::from_ref(region) as usize, region));
        let tags_of = move |tags: &'a Tags| match Ownership::of(tags) {
            Ownership::Owned { owner: o, peering } if o == owner => Some(peering),
            _ => None,
        };
        let mut by_id: FxHashMap<&str, (&Connection, usize)> = FxHashMap::default();
        for (r, _, region) in regions() {
            for connection in &region.connections {
                let kept = by_id.entry(&connection.id).or_insert((connection, r));
                if kept.0.tags.is_empty() && !connection.tags.is_empty() {
                    *kept = (connection, r);
                }
            }
        }
        let connections = || by_id.iter().map(|(id, (connection, _))| (*id, *connection));
        let tables =
            || regions().flat_map(|(r, at, region)| region.route_tables.iter().enumerate().map(move |(t, table)| (r, at, t, table)));
        let rules = || regions().flat_map(|(r, at, region)| region.rules.iter().enumerate().map(move |(i, rule)| (r, at, i, rule)));
        let groups = || regions().flat_map(|(_, at, region)| region.security_groups.iter().map(move |group| (at, group)));
        let vpcs = || regions().flat_map(|(_, at, region)| region.vpcs.iter().map(move |vpc| (at, vpc)));
        Lookup {
            by_vpcs: Groups::new(connections().map(|(id, c)| {
                let (a, b) = (c.requester.vpc_id.as_str(), c.accepter.vpc_id.as_str());
                (if a < b { (a, b) } else { (b, a) }, id)
            }))
            .sorted(),
            by_peering: Groups::new(connections().filter_map(|(id, c)| Some((tags_of(&c.tags)?, id)))).sorted(),
            routes_via: Groups::new(tables().flat_map(|(r, _, t, table)| {
                table
                    .routes
                    .iter()
                    .enumerate()
                    .filter(|(_, route)| route.target != "local")
                    .map(move |(i, route)| (route.target.as_str(), (r, t, i)))
            })),
            rules_by_peering: Groups::new(rules().filter_map(|(r, _, i, rule)| Some((tags_of(&rule.tags)?, (r, i))))),
            group_vpc: groups().map(|(_, g)| (g.id.as_str(), g.vpc_id.as_str())).collect(),
            tables_of: Groups::new(tables().map(|(_, at, _, table)| ((at, table.vpc_id.as_str()), table))),
            groups_of: Groups::new(groups().map(|(at, group)| ((at, group.vpc_id.as_str()), group))),
            rules_in: Groups::new(rules().map(|(_, at, _, rule)| ((at, rule.group_id.as_str()), rule))),
            vpcs_by_id: Groups::new(vpcs().map(|(at, vpc)| ((at, vpc.id.as_str()), vpc))),
            vpcs_by_name: Groups::new(vpcs().filter_map(|(at, vpc)| Some(((at, vpc.name.as_deref()?), vpc)))),
            regions: regions().map(|(_, at, _)| at).collect(),
            by_id,
        }
    }

    /// The connections joining two VPCs, by id.
    fn between(&self, a: &'a str, b: &'a str) -> Vec<&'a Connection> {
        let key = if a < b { (a, b) } else { (b, a) };
        self.by_vpcs.get(&key).iter().map(|id| self.by_id[id].0).collect()
    }

    /// The owner's connections of one peering, by id, with their regions.
    fn owned(&self, peering: &str) -> Vec<(&'a Connection, usize)> {
        self.by_peering.get(peering).iter().map(|id| self.by_id[id]).collect()
    }

    /// The routes through `target` (other than `local`), as (region, table, route) indexes in state order.
    fn routes_via(&self, target: &str) -> &[(usize, usize, usize)] {
        self.routes_via.get(target)
    }

    /// The owner's rules of one peering, as (region, rule) indexes in state order.
    fn rules_of(&self, peering: &str) -> &[(usize, usize)] {
        self.rules_by_peering.get(peering)
    }

    fn vpc_of_group(&self, group: &str) -> Option<&'a str> {
        self.group_vpc.get(group).copied()
    }

    /// Whether `region` is the one at `index` in `State::aws`.
    fn is_region(&self, index: usize, region: &AwsRegionState) -> bool {
        self.regions.get(index) == Some(&at(region))
    }

    /// The VPCs of `region` that `by` could select, in state order.
    pub(crate) fn vpcs(&self, region: &'a AwsRegionState, by: &'a By) -> &[&'a Vpc] {
        let (map, key) = match by {
            By::Id(id) => (&self.vpcs_by_id, id),
            By::Name(name) => (&self.vpcs_by_name, name),
        };
        map.get(&(at(region), key.as_str()))
    }

    /// The route tables of a VPC in `region`, in state order.
    pub(crate) fn tables_of(&self, region: &'a AwsRegionState, vpc: &'a str) -> &[&'a RouteTable] {
        self.tables_of.get(&(at(region), vpc))
    }

    /// The security groups of a VPC in `region`, in state order.
    pub(crate) fn groups_of(&self, region: &'a AwsRegionState, vpc: &'a str) -> &[&'a SecurityGroup] {
        self.groups_of.get(&(at(region), vpc))
    }

    /// The rules of a security group in `region`, in state order.
    fn rules_in(&self, region: &'a AwsRegionState, group: &'a str) -> &[&'a SecurityGroupRule] {
        self.rules_in.get(&(at(region), group))
    }
}

/// A region's address, which keys the indexes.
fn at(region: &AwsRegionState) -> usize {
    std::ptr::from_ref(region) as usize
}

/// Whether `connection` carries the plan's owner and `peering`: looked up in
/// the index of them, not in its tags.
fn is_ours(b: &Builder, peering: &str, connection: &Connection) -> bool {
    b.aws.by_peering.get(peering).contains(&connection.id.as_str())
}

fn describe_owner(tags: &Tags) -> String {
    match Ownership::of(tags) {
        Ownership::Owned { owner, peering } => {
            format!("belongs to peering `{peering}` of owner `{owner}`")
        }
        Ownership::Foreign => "is not managed by peerctl".to_string(),
    }
}

fn first_overlap(a: &[IpNet], b: &[IpNet]) -> Option<(IpNet, IpNet)> {
    a.iter().flat_map(|x| b.iter().map(move |y| (*x, *y))).find(|(x, y)| overlaps(x, y))
}

fn status(peering: &Peering, connection: Option<&Connection>) -> PeeringStatus {
    PeeringStatus {
        name: peering.name.clone(),
        cloud: "aws".to_string(),
        absent: peering.absent,
        connection: connection.map(|c| c.id.clone()),
        status: connection.map(|c| c.status.as_str().to_string()),
    }
}

/// Live connections carrying this spec's owner whose peering the spec no longer names.
pub(crate) fn unmanaged(spec: &Spec, lookup: &Lookup) -> Vec<Unmanaged> {
    let named: rustc_hash::FxHashSet<&str> = spec.peerings.iter().map(|p| p.name.as_str()).collect();
    let mut found: Vec<Unmanaged> = Vec::new();
    for peering in lookup.by_peering.keys().filter(|p| !named.contains(p)) {
        for (connection, _) in lookup.owned(peering).into_iter().filter(|(c, _)| !c.status.is_terminal()) {
            found.push(Unmanaged {
                peering: peering.to_string(),
                cloud: "aws".to_string(),
                connection: connection.id.clone(),
                status: connection.status.as_str().to_string(),
            });
        }
    }
    found.sort_by(|a, b| (&a.peering, &a.connection).cmp(&(&b.peering, &b.connection)));
    found
}
