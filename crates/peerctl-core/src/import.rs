//! `peerctl import`: a spec for peerings that already exist, written from
//! observed state, so a team adopts peerctl without recreating anything.
//!
//! Each imported peering carries `adopt`: for AWS the connection's id (the
//! first apply tags it and its matching rules), for GCP the names of the
//! existing entries on both networks. Planning the imported spec therefore
//! shows only those tags, unless the existing peering is incomplete (a
//! missing route or rule, a half-done GCP pair), which the plan then
//! completes. Everything here is pure: state in, YAML text out.

use crate::spec::{AwsScope, GcpNetwork, Ports, Protocol, Rule, is_valid_name};
use crate::state::{AwsRegionState, Connection, GcpNetworkState, Permission, State, TAG_OWNER, Vpc};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::fmt::Write;

/// A written spec, and how many peerings it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub text: String,
    pub peerings: usize,
}

/// The AWS peerings of `scope` (those touching `vpc`, if given), read with
/// `state` holding `scope` and the other regions their ends are in.
pub fn aws(state: &State, owner: &str, scope: &AwsScope, vpc: Option<&str>) -> Imported {
    let command = format!("aws --region {}{}", scope.region, vpc.map(|v| format!(" --vpc {v}")).unwrap_or_default());
    let mut out = Writer::new(owner, &command, "so the first apply only adds peerctl's ownership tags");
    let _ = writeln!(out.head, "aws:\n  region: {}", scope.region);
    if let Some(profile) = &scope.profile {
        let _ = writeln!(out.head, "  profile: {profile}");
    }
    if let Some(role) = &scope.role_arn {
        let _ = writeln!(out.head, "  role_arn: {role}");
    }
    let Some(home) = state.aws_region(scope) else {
        return out.finish();
    };
    let touches = |c: &&Connection| vpc.is_none_or(|v| c.requester.vpc_id == v || c.accepter.vpc_id == v);
    for connection in home.connections.iter().filter(|c| !c.status.is_terminal()).filter(touches) {
        if let Some(other) = connection.tags.get(TAG_OWNER) {
            out.note(format!("{} already belongs to peerctl owner `{other}`: not imported", connection.id));
            continue;
        }
        aws_peering(&mut out, state, scope, connection);
    }
    out.finish()
}

fn aws_peering(out: &mut Writer, state: &State, scope: &AwsScope, connection: &Connection) {
    let region_of = |region: &str| state.aws_region(&AwsScope { region: region.to_string(), ..scope.clone() });
    let side = |end: &crate::state::ConnectionEnd| {
        let region = region_of(&end.region)?;
        let vpc = region.vpcs.iter().find(|v| v.id == end.vpc_id)?;
        Some((region, vpc))
    };
    let (requester, accepter) = (side(&connection.requester), side(&connection.accepter));
    let through = |side: Option<(&AwsRegionState, &Vpc)>| -> Vec<IpNet> {
        let Some((region, vpc)) = side else { return Vec::new() };
        let tables = region.route_tables.iter().filter(|t| t.vpc_id == vpc.id);
        tables.flat_map(|t| &t.routes).filter(|r| r.target == connection.id).map(|r| r.destination).collect()
    };
    // The peer's ranges as this side sees them: its VPC's, or, when it cannot
    // be read (another account), the destinations routed through the connection.
    let ranges = |peer: Option<(&AwsRegionState, &Vpc)>, this: Option<(&AwsRegionState, &Vpc)>| match peer {
        Some((_, vpc)) => vpc.cidrs.iter().chain(&vpc.ipv6_cidrs).copied().collect(),
        None => through(this),
    };
    let ipv6 = through(requester).iter().chain(&through(accepter)).any(|d| matches!(d, IpNet::V6(_)));
    let mut allow = BTreeSet::new();
    let mut sides = String::new();
    for (key, end, this, peer) in
        [("requester", &connection.requester, requester, accepter), ("accepter", &connection.accepter, accepter, requester)]
    {
        let _ = writeln!(sides, "      {key}:\n        vpc: {}", end.vpc_id);
        if end.region != scope.region {
            let _ = writeln!(sides, "        region: {}", end.region);
        }
        let Some((region, vpc)) = this else {
            let _ = writeln!(
                sides,
                "        # account {} could not be read with these credentials: add its profile or role_arn here,\n        # and its route_tables and security_groups, before planning\n        route_tables: []",
                end.owner_id
            );
            continue;
        };
        let peer_ranges: Vec<IpNet> = ranges(peer, this);
        let tables: Vec<&str> = region
            .route_tables
            .iter()
            .filter(|t| t.vpc_id == vpc.id && t.routes.iter().any(|r| r.target == connection.id))
            .map(|t| t.id.as_str())
            .collect();
        let _ = writeln!(sides, "        route_tables: [{}]", tables.join(", "));
        let mut groups = BTreeSet::new();
        for group in region.security_groups.iter().filter(|g| g.vpc_id == vpc.id) {
            let rules = region.rules.iter().filter(|r| r.group_id == group.id && !r.egress && !r.tags.contains_key(TAG_OWNER));
            for rule in rules.filter(|r| r.source.is_some_and(|s| peer_ranges.contains(&s))) {
                if let Some(rule) = rule_of(&rule.permission) {
                    allow.insert(rule);
                    groups.insert(group.id.as_str());
                }
            }
        }
        if !groups.is_empty() {
            let _ = writeln!(sides, "        security_groups: [{}]", groups.into_iter().collect::<Vec<_>>().join(", "));
        }
    }
    let name = out.name_for(connection.tags.get("Name").map(String::as_str), &connection.id, 63);
    let _ = writeln!(out.body, "  - name: {name}\n    aws:\n      adopt: {}", connection.id);
    out.body.push_str(&sides);
    let allow: Vec<String> = allow.iter().map(rule_yaml).collect();
    let _ = writeln!(out.body, "      allow: [{}]", allow.join(", "));
    let dns = [&connection.requester, &connection.accepter].map(|e| e.allow_dns_resolution.unwrap_or(false));
    if dns[0] != dns[1] {
        let _ = writeln!(out.body, "      # DNS resolution is allowed on one side only; peerctl sets both sides alike");
    }
    if dns[0] || dns[1] {
        let _ = writeln!(out.body, "      dns_resolution: true");
    }
    if ipv6 {
        let _ = writeln!(out.body, "      ipv6: true");
    }
    out.peerings += 1;
}

/// The spec rule an EC2 permission stands for; `None` for what a spec cannot
/// say (another protocol, one ICMP type).
fn rule_of(permission: &Permission) -> Option<Rule> {
    let ports = |from: i32, to: i32| match (u16::try_from(from), u16::try_from(to)) {
        (Ok(0), Ok(65535)) => Some(Ports::All),
        (Ok(from), Ok(to)) if from <= to => Some(Ports::Range { from, to }),
        _ => None,
    };
    Some(match (permission.protocol.as_str(), permission.from_port, permission.to_port) {
        ("-1", _, _) => Rule { protocol: Protocol::All, ports: Ports::All },
        ("icmp" | "icmpv6", -1, -1) => Rule { protocol: Protocol::Icmp, ports: Ports::All },
        ("tcp", from, to) => Rule { protocol: Protocol::Tcp, ports: ports(from, to)? },
        ("udp", from, to) => Rule { protocol: Protocol::Udp, ports: ports(from, to)? },
        _ => return None,
    })
}

fn rule_yaml(rule: &Rule) -> String {
    match rule.ports {
        _ if !rule.protocol.has_ports() => format!("{{protocol: {}}}", rule.protocol),
        Ports::All => format!("{{protocol: {}, ports: all}}", rule.protocol),
        Ports::Range { from, to } if from == to => format!("{{protocol: {}, ports: {from}}}", rule.protocol),
        Ports::Range { from, to } => format!("{{protocol: {}, ports: {from}-{to}}}", rule.protocol),
    }
}

/// The GCP peerings of `project`'s networks (only `network`'s, if given),
/// with `state` holding `project` and whichever peer projects could be read.
pub fn gcp(state: &State, owner: &str, project: &str, network: Option<&str>) -> Imported {
    let command = format!("gcp --project {project}{}", network.map(|n| format!(" --network {n}")).unwrap_or_default());
    let mut out = Writer::new(owner, &command, "so peerctl manages them under the names they have");
    let _ = writeln!(out.head, "gcp:\n  project: {project}");
    let Some(home) = state.gcp_project(project) else {
        return out.finish();
    };
    let mut seen = BTreeSet::new();
    let ours = format!("{owner}--");
    for net in home.networks.iter().filter(|n| network.is_none_or(|name| n.name == name)) {
        let here = GcpNetwork { project: project.to_string(), name: net.name.clone() };
        for entry in &net.peerings {
            let pair = if here < entry.peer { (here.clone(), entry.peer.clone()) } else { (entry.peer.clone(), here.clone()) };
            if !seen.insert(pair) {
                continue;
            }
            if entry.name.starts_with(&ours) {
                out.note(format!("`{}` on {} is already peerctl's (owner `{owner}`): not imported", entry.name, net.name));
                continue;
            }
            let reverse = state.gcp_network(&entry.peer).map(|peer: &GcpNetworkState| peer.peerings.iter().find(|p| p.peer == here));
            let peer_entry = match reverse {
                Some(Some(reverse)) => {
                    if reverse.flags != entry.flags.mirrored() {
                        out.note(format!(
                            "the route flags of `{}` on {} do not mirror `{}`'s; the plan aligns them (each side exports what the other imports)",
                            reverse.name, entry.peer, entry.name
                        ));
                    }
                    reverse.name.clone()
                }
                Some(None) => {
                    out.note(format!("{} has no entry towards {here}: the plan adds `{}` there", entry.peer, entry.name));
                    entry.name.clone()
                }
                None => {
                    out.note(format!("{} could not be read: its entry is assumed to be named `{}`", entry.peer, entry.name));
                    entry.name.clone()
                }
            };
            // With the owner, a GCP peering's name makes its firewalls' names: see decode::check_gcp_names.
            let name = out.name_for(Some(&entry.name), "peering", 53usize.saturating_sub(owner.len() + 2));
            let peer = if entry.peer.project == project { entry.peer.name.clone() } else { entry.peer.to_string() };
            let flags = entry.flags;
            let _ = writeln!(
                out.body,
                "  - name: {name}\n    gcp:\n      adopt: {{network: {}, peer_network: {peer_entry}}}\n      network: {}\n      peer_network: {peer}",
                entry.name, net.name
            );
            for (key, value, default) in [
                ("export_custom_routes", flags.export_custom_routes, false),
                ("import_custom_routes", flags.import_custom_routes, false),
                ("export_subnet_routes_with_public_ip", flags.export_subnet_routes_with_public_ip, true),
                ("import_subnet_routes_with_public_ip", flags.import_subnet_routes_with_public_ip, false),
            ] {
                if value != default {
                    let _ = writeln!(out.body, "      {key}: {value}");
                }
            }
            let _ = writeln!(
                out.body,
                "      # existing firewall rules stay as they are; rules listed here are added as peerctl's own\n      allow: []"
            );
            out.peerings += 1;
        }
    }
    out.finish()
}

/// Accumulates the spec: defaults, peerings, and notes for the reader.
struct Writer {
    head: String,
    body: String,
    notes: Vec<String>,
    names: BTreeSet<String>,
    peerings: usize,
}

impl Writer {
    /// `command` is the import's arguments, `adopting` what `adopt` does for this cloud.
    fn new(owner: &str, command: &str, adopting: &str) -> Self {
        let head = format!(
            "# Written by `peerctl import {command}`: the peerings that exist, each with `adopt`,\n# {adopting}. Review, then `peerctl plan`.\nversion: 1\nowner: {owner}\n"
        );
        Writer { head, body: String::new(), notes: Vec::new(), names: BTreeSet::new(), peerings: 0 }
    }

    fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// A unique, valid peering name of at most `max` characters from `wanted`
    /// (a Name tag, an entry name), else from `fallback` (an id).
    fn name_for(&mut self, wanted: Option<&str>, fallback: &str, max: usize) -> String {
        let cut = |name: &str, max: usize| name[..name.len().min(max)].trim_end_matches('-').to_string();
        let candidates = [wanted, Some(fallback), Some("peering")].into_iter().flatten();
        let base = candidates.map(|c| cut(&sanitize(c), max)).find(|n| is_valid_name(n)).unwrap_or_default();
        let mut name = base.clone();
        for n in 2.. {
            if self.names.insert(name.clone()) {
                break;
            }
            let suffix = format!("-{n}");
            name = format!("{}{suffix}", cut(&base, max.saturating_sub(suffix.len())));
        }
        name
    }

    fn finish(self) -> Imported {
        let mut text = self.head;
        for note in &self.notes {
            let _ = writeln!(text, "# note: {note}");
        }
        if self.peerings == 0 {
            text.push_str("peerings: []\n");
        } else {
            text.push_str("peerings:\n");
            text.push_str(&self.body);
        }
        Imported { text, peerings: self.peerings }
    }
}

/// Lowercase letters, digits and single dashes, starting with a letter.
fn sanitize(text: &str) -> String {
    let mut name = String::new();
    for c in text.chars().map(|c| c.to_ascii_lowercase()) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' };
        if !(c == '-' && (name.is_empty() || name.ends_with('-'))) {
            name.push(c);
        }
    }
    name.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-').to_string()
}
