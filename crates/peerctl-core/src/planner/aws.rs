//! Planning AWS peerings: connection, acceptance, DNS options, routes, rules.

use super::Builder;
use super::resolve::{ResolvedSide, resolve_side};
use crate::plan::{Action, AwsEnd, ConnectionRef, ConnectionSide, PeeringStatus, Unmanaged};
use crate::spec::{AwsPeering, By, Peering, Spec, overlaps};
use crate::state::{
    AwsRegionState, Connection, ConnectionStatus, Ownership, Permission, RouteTable, SecurityGroup, SecurityGroupRule, State, TAG_OWNER,
    TAG_PEERING, Tags, Vpc,
};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};

/// The plan of one peering that should exist.
pub(crate) fn plan_present(b: &mut Builder, peering: &Peering, aws: &AwsPeering) {
    let state = b.state;
    let name = &peering.name;
    let lookup = b.aws;
    let req = resolve_side(&aws.requester, state.aws_region(&aws.requester.scope), lookup, &format!("requester of `{name}`"), &mut b.diags);
    let acc = resolve_side(&aws.accepter, state.aws_region(&aws.accepter.scope), lookup, &format!("accepter of `{name}`"), &mut b.diags);
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
    let owned_ids: BTreeSet<String> = connections.iter().filter(|c| ours(c)).map(|c| c.id.clone()).collect();
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
                tags: connection_tags(&b.spec.owner, name),
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
fn plan_routes(
    b: &mut Builder,
    peering: &Peering,
    this: &ResolvedSide,
    peer_cidrs: &[IpNet],
    connection: &ConnectionRef,
    owned_ids: &BTreeSet<String>,
    ready: &[usize],
) {
    let name = &peering.name;
    let scope = &this.spec.scope;
    for table in &this.route_tables {
        for &cidr in peer_cidrs {
            b.claimed_routes.push((table.id.clone(), cidr, name.clone(), peering.loc));
            let existing = table.routes.iter().find(|r| r.destination == cidr);
            let action = match existing {
                Some(route) if connection.id() == Some(route.target.as_str()) => continue,
                Some(route) if owned_ids.contains(&route.target) => Action::AwsReplaceRoute {
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
            let reason = match existing {
                Some(route) => format!("{cidr} goes through {}, an earlier connection of this peering", route.target),
                None => format!("no route to the peer's {cidr}"),
            };
            b.step(name, action, reason, ready.to_vec());
        }
    }
    let selected: BTreeSet<&str> = this.route_tables.iter().map(|t| t.id.as_str()).collect();
    for table in b.aws.tables_of(this.region, &this.vpc.id) {
        for route in table.routes.iter().filter(|r| owned_ids.contains(&r.target)) {
            if selected.contains(table.id.as_str()) && peer_cidrs.contains(&route.destination) {
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
}

/// Inbound rules from each peer range on `this` side's selected groups, and
/// removal of our rules that are no longer wanted.
fn plan_rules(b: &mut Builder, peering: &Peering, this: &ResolvedSide, peer_cidrs: &[IpNet], aws: &AwsPeering) {
    let (owner, name) = (b.spec.owner.clone(), &peering.name);
    let scope = &this.spec.scope;
    let mut wanted = BTreeSet::new();
    for group in &this.security_groups {
        for rule in &aws.allow {
            for &source in peer_cidrs {
                let permission = Permission::for_source(*rule, &source);
                wanted.insert((group.id.clone(), permission.clone(), source));
                let existing = b
                    .aws
                    .rules_in(this.region, &group.id)
                    .iter()
                    .find(|r| !r.egress && r.permission == permission && r.source == Some(source));
                match existing {
                    Some(r) if Ownership::of(&r.tags).is(&owner, name) => {}
                    Some(r) if aws.adopt.is_some() && !r.tags.contains_key(TAG_OWNER) => {
                        let action = Action::AwsTag { scope: scope.clone(), resource: r.id.clone(), tags: ownership_tags(&owner, name) };
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
                            // No spaces: moto's IAM check re-encodes a form body with `+` for
                            // spaces and so refuses the SDK's `%20` (see tests/e2e/iam.rs).
                            description: format!("peerctl:{owner}/{name}"),
                            tags: ownership_tags(&owner, name),
                        };
                        b.step(name, action, format!("{} does not allow {permission} from the peer's {source}", group.id), vec![]);
                    }
                }
            }
        }
    }
    let groups_of_vpc = b.aws.groups_of(this.region, &this.vpc.id);
    let ours: Vec<&SecurityGroupRule> = groups_of_vpc
        .iter()
        .flat_map(|g| b.aws.rules_in(this.region, &g.id).iter().copied())
        .filter(|r| Ownership::of(&r.tags).is(&owner, name))
        .collect();
    for rule in ours {
        let Some(source) = rule.source else { continue };
        if rule.egress {
            continue;
        }
        if wanted.contains(&(rule.group_id.clone(), rule.permission.clone(), source)) {
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
    let nothing = BTreeSet::new();
    remove_owned(b, peering, &Handled { keep: None, route_targets: &nothing, vpcs: ["", ""] }, reason);
    let live = b.aws.owned(&b.spec.owner, peering).into_iter().find(|(c, _)| !c.status.is_terminal()).map(|(c, _)| c);
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
    route_targets: &'a BTreeSet<String>,
    /// Rules in these VPCs' groups were planned.
    vpcs: [&'a str; 2],
}

/// Removes this peering's connections other than the one kept (all of them
/// when the peering is absent, a duplicate, or one left from when the spec
/// named other VPCs): routes through them and our rules first, then the
/// connections, so no route is left pointing at nothing.
fn remove_owned(b: &mut Builder, name: &str, handled: &Handled, reason: &str) {
    let (state, lookup) = (b.state, b.aws);
    let owner = b.spec.owner.clone();
    let owned = lookup.owned(&owner, name);
    let stale: BTreeSet<&str> = owned.iter().map(|(c, _)| c.id.as_str()).filter(|id| Some(*id) != handled.keep).collect();
    // In state order (region, table, route; then rules), as a scan would find them.
    let mut routes: Vec<(usize, usize, usize)> = stale.iter().flat_map(|id| lookup.routes_via(id)).collect();
    routes.sort_unstable();
    let mut rules = lookup.rules_of(&owner, name);
    rules.sort_unstable();
    for (r, region) in state.aws.iter().enumerate() {
        for &(_, t, i) in routes.iter().filter(|(rr, _, _)| *rr == r) {
            let (table, route) = (&region.route_tables[t], &region.route_tables[t].routes[i]);
            if handled.vpcs.contains(&table.vpc_id.as_str()) && handled.route_targets.contains(&route.target) {
                continue;
            }
            let action = Action::AwsDeleteRoute {
                scope: region.scope.clone(),
                route_table: table.id.clone(),
                destination: route.destination,
                target: route.target.clone(),
            };
            b.step(name, action, reason, vec![]);
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
            b.step(name, action, reason, vec![]);
        }
    }
    let doomed: Vec<(&Connection, usize)> =
        owned.into_iter().filter(|(c, _)| stale.contains(c.id.as_str()) && !c.status.is_terminal()).collect();
    if doomed.is_empty() {
        return;
    }
    let earlier: Vec<usize> = (0..b.steps.len()).filter(|i| b.steps[*i].peering == name).collect();
    for (connection, region) in doomed {
        let action = Action::AwsDeleteConnection { scope: state.aws[region].scope.clone(), connection: connection.id.clone() };
        b.step(name, action, reason, earlier.clone());
    }
}

/// Two peerings must not route overlapping ranges through one route table.
pub(crate) fn check_route_collisions(b: &mut Builder) {
    let mut claims = std::mem::take(&mut b.claimed_routes);
    claims.sort();
    let mut reported = BTreeSet::new();
    let mut table_start = 0;
    for (i, (table, cidr, peering, loc)) in claims.iter().enumerate() {
        if claims[table_start].0 != *table {
            table_start = i;
        }
        let earlier = claims[table_start..i].iter().find(|(_, c, p, _)| p != peering && overlaps(c, cidr));
        // Once per pair of peerings and ranges, however many tables they share.
        if let Some((_, other_cidr, other, _)) = earlier.filter(|(_, c, p, _)| reported.insert((peering, cidr, p, *c))) {
            b.diags.error_with_hint(
                *loc,
                format!("peering `{peering}` would route {cidr} in {table}, where peering `{other}` routes {other_cidr}"),
                "the VPCs peered with one VPC need disjoint ranges; re-address one of them or drop one peering",
            );
        }
    }
}

/// Indexes over the observed AWS state, built once per plan, so that what
/// each peering looks up costs a search, not a scan of the whole state.
#[derive(Default)]
pub(crate) struct Lookup<'a> {
    /// Each connection once, by id, with its region: a connection read from
    /// both of its regions is kept in the view that carries tags (the
    /// requester's account).
    by_id: BTreeMap<&'a str, (&'a Connection, usize)>,
    /// Connection ids by the pair of VPCs they join (the smaller id first).
    by_vpcs: BTreeMap<(&'a str, &'a str), BTreeSet<&'a str>>,
    /// Connection ids by their (owner, peering) tags.
    by_owner: BTreeMap<(&'a str, &'a str), BTreeSet<&'a str>>,
    /// Routes by target: (region, table, route) indexes.
    routes_via: BTreeMap<&'a str, Vec<(usize, usize, usize)>>,
    /// Rules by their (owner, peering) tags: (region, rule) indexes.
    rules_by_owner: BTreeMap<(&'a str, &'a str), Vec<(usize, usize)>>,
    /// The VPC of each security group.
    group_vpc: BTreeMap<&'a str, &'a str>,
    /// Per region (by address): route tables and groups by VPC id, rules by group id.
    tables_of: BTreeMap<*const AwsRegionState, BTreeMap<&'a str, Vec<&'a RouteTable>>>,
    groups_of: BTreeMap<*const AwsRegionState, BTreeMap<&'a str, Vec<&'a SecurityGroup>>>,
    rules_in: BTreeMap<*const AwsRegionState, BTreeMap<&'a str, Vec<&'a SecurityGroupRule>>>,
    /// Per region: VPCs by id, and by Name tag.
    vpcs_by_id: BTreeMap<*const AwsRegionState, BTreeMap<&'a str, Vec<&'a Vpc>>>,
    vpcs_by_name: BTreeMap<*const AwsRegionState, BTreeMap<&'a str, Vec<&'a Vpc>>>,
}

impl<'a> Lookup<'a> {
    pub(crate) fn new(state: &'a State) -> Self {
        let mut lookup = Lookup::default();
        let tags_of = |tags: &'a Tags| Some((tags.get(TAG_OWNER)?.as_str(), tags.get(TAG_PEERING)?.as_str()));
        for (r, region) in state.aws.iter().enumerate() {
            for connection in &region.connections {
                let kept = lookup.by_id.entry(&connection.id).or_insert((connection, r));
                if kept.0.tags.is_empty() && !connection.tags.is_empty() {
                    *kept = (connection, r);
                }
            }
            for (t, table) in region.route_tables.iter().enumerate() {
                for (i, route) in table.routes.iter().enumerate() {
                    lookup.routes_via.entry(&route.target).or_default().push((r, t, i));
                }
            }
            for (i, rule) in region.rules.iter().enumerate() {
                if let Some(key) = tags_of(&rule.tags) {
                    lookup.rules_by_owner.entry(key).or_default().push((r, i));
                }
            }
            for group in &region.security_groups {
                lookup.group_vpc.insert(&group.id, &group.vpc_id);
                lookup.groups_of.entry(region).or_default().entry(&group.vpc_id).or_default().push(group);
            }
            for vpc in &region.vpcs {
                lookup.vpcs_by_id.entry(region).or_default().entry(&vpc.id).or_default().push(vpc);
                if let Some(name) = &vpc.name {
                    lookup.vpcs_by_name.entry(region).or_default().entry(name).or_default().push(vpc);
                }
            }
            for table in &region.route_tables {
                lookup.tables_of.entry(region).or_default().entry(&table.vpc_id).or_default().push(table);
            }
            for rule in &region.rules {
                lookup.rules_in.entry(region).or_default().entry(&rule.group_id).or_default().push(rule);
            }
        }
        for (id, (connection, _)) in &lookup.by_id {
            let (a, b) = (connection.requester.vpc_id.as_str(), connection.accepter.vpc_id.as_str());
            lookup.by_vpcs.entry(if a < b { (a, b) } else { (b, a) }).or_default().insert(id);
            if let Some(key) = tags_of(&connection.tags) {
                lookup.by_owner.entry(key).or_default().insert(id);
            }
        }
        lookup
    }

    /// The connections joining two VPCs, by id.
    fn between(&self, a: &str, b: &str) -> Vec<&'a Connection> {
        let key = if a < b { (a, b) } else { (b, a) };
        self.by_vpcs.get(&key).into_iter().flatten().map(|id| self.by_id[id].0).collect()
    }

    /// This owner's connections of one peering, by id, with their regions.
    fn owned(&self, owner: &str, peering: &str) -> Vec<(&'a Connection, usize)> {
        self.by_owner.get(&(owner, peering)).into_iter().flatten().map(|id| self.by_id[id]).collect()
    }

    fn routes_via(&self, target: &str) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.routes_via.get(target).into_iter().flatten().copied()
    }

    fn rules_of(&self, owner: &str, peering: &str) -> Vec<(usize, usize)> {
        self.rules_by_owner.get(&(owner, peering)).cloned().unwrap_or_default()
    }

    fn vpc_of_group(&self, group: &str) -> Option<&'a str> {
        self.group_vpc.get(group).copied()
    }

    /// The VPCs of `region` that `by` could select, in state order.
    pub(crate) fn vpcs(&self, region: &AwsRegionState, by: &By) -> &[&'a Vpc] {
        let (map, key) = match by {
            By::Id(id) => (&self.vpcs_by_id, id),
            By::Name(name) => (&self.vpcs_by_name, name),
        };
        map.get(&(region as *const _)).and_then(|m| m.get(key.as_str())).map_or(&[], Vec::as_slice)
    }

    /// The route tables of a VPC in `region`, in state order.
    pub(crate) fn tables_of(&self, region: &AwsRegionState, vpc: &str) -> &[&'a RouteTable] {
        self.tables_of.get(&(region as *const _)).and_then(|m| m.get(vpc)).map_or(&[], Vec::as_slice)
    }

    /// The security groups of a VPC in `region`, in state order.
    pub(crate) fn groups_of(&self, region: &AwsRegionState, vpc: &str) -> &[&'a SecurityGroup] {
        self.groups_of.get(&(region as *const _)).and_then(|m| m.get(vpc)).map_or(&[], Vec::as_slice)
    }

    /// The rules of a security group in `region`, in state order.
    fn rules_in(&self, region: &AwsRegionState, group: &str) -> &[&'a SecurityGroupRule] {
        self.rules_in.get(&(region as *const _)).and_then(|m| m.get(group)).map_or(&[], Vec::as_slice)
    }
}

fn is_ours(b: &Builder, peering: &str, connection: &Connection) -> bool {
    Ownership::of(&connection.tags).is(&b.spec.owner, peering)
}

fn describe_owner(tags: &Tags) -> String {
    match Ownership::of(tags) {
        Ownership::Owned { owner, peering } => {
            format!("belongs to peering `{peering}` of owner `{owner}`")
        }
        Ownership::Foreign => "is not managed by peerctl".to_string(),
    }
}

fn ownership_tags(owner: &str, peering: &str) -> Tags {
    Tags::from([(TAG_OWNER.to_string(), owner.to_string()), (TAG_PEERING.to_string(), peering.to_string())])
}

fn connection_tags(owner: &str, peering: &str) -> Tags {
    let mut tags = ownership_tags(owner, peering);
    tags.insert("Name".to_string(), peering.to_string());
    tags
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
pub(crate) fn unmanaged(spec: &Spec, state: &State) -> Vec<Unmanaged> {
    let named: BTreeSet<&str> = spec.peerings.iter().map(|p| p.name.as_str()).collect();
    let mut found: Vec<Unmanaged> = Vec::new();
    for region in &state.aws {
        for connection in &region.connections {
            let Ownership::Owned { owner, peering } = Ownership::of(&connection.tags) else {
                continue;
            };
            if owner != spec.owner || named.contains(peering.as_str()) || connection.status.is_terminal() {
                continue;
            }
            if found.iter().all(|u| u.connection != connection.id) {
                found.push(Unmanaged {
                    peering,
                    cloud: "aws".to_string(),
                    connection: connection.id.clone(),
                    status: connection.status.as_str().to_string(),
                });
            }
        }
    }
    found.sort_by(|a, b| (&a.peering, &a.connection).cmp(&(&b.peering, &b.connection)));
    found
}
