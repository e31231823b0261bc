//! Turning the spec's selectors (ids and `{name: …}`) into the objects observed.

use crate::diag::Diagnostics;
use crate::spec::{AwsSide, By, Selection, Selector};
use crate::state::{AwsRegionState, RouteTable, SecurityGroup, Vpc};
use ipnet::IpNet;

/// One side of an AWS peering with every selector resolved.
pub(crate) struct ResolvedSide<'a> {
    pub spec: &'a AwsSide,
    pub region: &'a AwsRegionState,
    pub vpc: &'a Vpc,
    pub route_tables: Vec<&'a RouteTable>,
    pub security_groups: Vec<&'a SecurityGroup>,
}

impl ResolvedSide<'_> {
    /// The ranges peers route to and allow from.
    pub fn cidrs(&self, ipv6: bool) -> Vec<IpNet> {
        let mut cidrs = self.vpc.cidrs.clone();
        if ipv6 {
            cidrs.extend(self.vpc.ipv6_cidrs.iter().copied());
        }
        cidrs
    }
}

pub(crate) fn resolve_side<'a>(
    side: &'a AwsSide,
    region: Option<&'a AwsRegionState>,
    lookup: &super::aws::Lookup<'a>,
    (role, peering): (&str, &str),
    diags: &mut Diagnostics,
) -> Option<ResolvedSide<'a>> {
    let Some(region) = region else {
        diags.error(side.loc, format!("{role} of `{peering}`: nothing was read for {}", side.scope));
        return None;
    };
    let vpc = pick(
        &side.vpc,
        lookup.vpcs(region, &side.vpc.by).iter().copied(),
        |v| &v.id,
        |v| v.name.as_deref(),
        "VPC",
        &format_args!("in {}", side.scope),
        diags,
    )?;
    let tables_of_vpc = lookup.tables_of(region, &vpc.id).iter().copied();
    let route_tables = select(&side.route_tables, tables_of_vpc, |t| &t.id, |t| t.name.as_deref(), "route table", &vpc.id, diags);
    let groups_of_vpc = lookup.groups_of(region, &vpc.id).iter().copied();
    let security_groups =
        select(&side.security_groups, groups_of_vpc, |g| &g.id, |g| Some(g.name.as_str()), "security group", &vpc.id, diags);
    Some(ResolvedSide { spec: side, region, vpc, route_tables: route_tables?, security_groups: security_groups? })
}

fn select<'a, T>(
    selection: &Selection,
    candidates: impl Iterator<Item = &'a T> + Clone,
    id: impl Fn(&T) -> &String + Copy,
    name: impl Fn(&T) -> Option<&str> + Copy,
    kind: &str,
    vpc_id: &str,
    diags: &mut Diagnostics,
) -> Option<Vec<&'a T>> {
    match selection {
        Selection::All => Some(candidates.collect()),
        Selection::Only(selectors) => {
            let place = format_args!("of {vpc_id}");
            // Every selector is picked, so that each one missing is reported.
            let mut picked: Vec<&T> = Vec::with_capacity(selectors.len());
            let mut complete = true;
            for selector in selectors {
                match pick(selector, candidates.clone(), id, name, kind, &place, diags) {
                    // One object may be named both by id and by name; plan for it once.
                    Some(c) if !picked.iter().any(|p| id(p) == id(c)) => picked.push(c),
                    Some(_) => {}
                    None => complete = false,
                }
            }
            complete.then_some(picked)
        }
    }
}

/// Exactly one object matching `selector`, or a diagnostic saying why not.
fn pick<'a, T>(
    selector: &Selector,
    candidates: impl Iterator<Item = &'a T>,
    id: impl Fn(&T) -> &String,
    name: impl Fn(&T) -> Option<&str>,
    kind: &str,
    place: &dyn std::fmt::Display,
    diags: &mut Diagnostics,
) -> Option<&'a T> {
    let mut matches = candidates.filter(|c| match &selector.by {
        By::Id(wanted) => id(c) == wanted,
        By::Name(wanted) => name(c) == Some(wanted.as_str()),
    });
    let (first, second) = (matches.next(), matches.next());
    if let (Some(one), None) = (first, second) {
        return Some(one); // without collecting: this is every plan's common case
    }
    let matches: Vec<&T> = first.into_iter().chain(second).chain(matches).collect();
    match (matches.as_slice(), &selector.by) {
        ([one], _) => Some(one),
        ([], By::Id(wanted)) => {
            diags.error_with_hint(
                selector.loc,
                format!("no {kind} {wanted} {place}"),
                "check the id, the region and the credentials (profile, role_arn) of this side",
            );
            None
        }
        ([], By::Name(wanted)) => {
            let tag = if kind == "security group" { "group name" } else { "Name tag" };
            diags.error_with_hint(
                selector.loc,
                format!("no {kind} with {tag} `{wanted}` {place}"),
                format!("check the {tag}, the region and the credentials of this side, or name it by id"),
            );
            None
        }
        (several, _) => {
            let ids: Vec<&str> = several.iter().map(|c| id(c).as_str()).collect();
            diags.error_with_hint(
                selector.loc,
                format!("{} {kind}s match {} {place}: {}", several.len(), selector.by, ids.join(", ")),
                "name exactly one of them by id",
            );
            None
        }
    }
}
