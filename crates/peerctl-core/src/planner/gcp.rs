//! Planning GCP peerings: an entry on each network (the same name on both),
//! route flags that mirror each other, and an ingress firewall rule on each
//! network from the other's subnet ranges.
//!
//! Names carry ownership, as GCP peering entries have no labels: the entry is
//! `{owner}--{peering}` (or, for a peering adopted from before peerctl, the
//! names its `adopt` gives) and the firewalls `peerctl-{owner}--{peering}-a|b`
//! (`a` on `network`, `b` on `peer_network`), described `peerctl owner=… peering=…`.

use super::Builder;
use crate::plan::{Action, GcpFirewallSpec, PeeringStatus, Unmanaged};
use crate::spec::{GcpNetwork, GcpPeering, Peering, Spec, overlaps};
use crate::state::{GcpFirewall, GcpNetworkState, GcpRouteFlags, State};
use ipnet::IpNet;
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;

/// The name of a peering's entry on both networks.
pub fn entry_name(owner: &str, peering: &str) -> String {
    format!("{owner}--{peering}")
}

/// The entry names this peering uses on `network` and on `peer_network`:
/// those it adopted, or `entry_name` on both.
fn entry_names(owner: &str, peering: &Peering, gcp: &GcpPeering) -> (String, String) {
    match &gcp.adopt {
        Some(names) => (names.network.clone(), names.peer_network.clone()),
        None => (entry_name(owner, &peering.name), entry_name(owner, &peering.name)),
    }
}

fn firewall_name(owner: &str, peering: &str, side: char) -> String {
    format!("peerctl-{}-{side}", entry_name(owner, peering))
}

fn firewall_description(owner: &str, peering: &str) -> String {
    format!("peerctl owner={owner} peering={peering}")
}

/// `(owner, peering)` from a description `firewall_description` wrote.
fn described_owner(description: &str) -> Option<(&str, &str)> {
    description.strip_prefix("peerctl owner=")?.split_once(" peering=")
}

fn flags_of(gcp: &GcpPeering) -> GcpRouteFlags {
    GcpRouteFlags {
        export_custom_routes: gcp.export_custom_routes,
        import_custom_routes: gcp.import_custom_routes,
        export_subnet_routes_with_public_ip: gcp.export_subnet_routes_with_public_ip,
        import_subnet_routes_with_public_ip: gcp.import_subnet_routes_with_public_ip,
    }
}

/// Indexes over the observed GCP state, built once per plan.
pub(crate) struct Lookup<'a> {
    /// Networks by (project, name).
    networks: FxHashMap<(&'a str, &'a str), &'a GcpNetworkState>,
    /// Every subnet range of each network, by (project, name): sorted, once each.
    ranges: FxHashMap<(&'a str, &'a str), Vec<IpNet>>,
    /// Firewall rules by (project, name).
    firewalls: FxHashMap<(&'a str, &'a str), &'a GcpFirewall>,
    /// The plan's owner's firewall rules by peering, with their projects, in state order.
    owned_firewalls: FxHashMap<&'a str, Vec<(&'a str, &'a GcpFirewall)>>,
}

impl<'a> Lookup<'a> {
    pub(crate) fn new(state: &'a State, owner: &str) -> Self {
        let mut lookup = Lookup {
            networks: FxHashMap::default(),
            ranges: FxHashMap::default(),
            firewalls: FxHashMap::default(),
            owned_firewalls: FxHashMap::default(),
        };
        for project in &state.gcp {
            let id = project.project.as_str();
            for network in &project.networks {
                lookup.networks.entry((id, &network.name)).or_insert(network);
            }
            for subnet in project.subnetworks.iter().filter(|s| s.network.project == id) {
                lookup.ranges.entry((id, &subnet.network.name)).or_default().extend(subnet.ranges.iter().copied());
            }
            for firewall in &project.firewalls {
                lookup.firewalls.entry((id, &firewall.name)).or_insert(firewall);
                if let Some((_, peering)) = described_owner(&firewall.description).filter(|(o, _)| *o == owner) {
                    lookup.owned_firewalls.entry(peering).or_default().push((id, firewall));
                }
            }
        }
        for ranges in lookup.ranges.values_mut() {
            ranges.sort();
            ranges.dedup();
        }
        lookup
    }

    fn network(&self, network: &'a GcpNetwork) -> Option<&'a GcpNetworkState> {
        self.networks.get(&(network.project.as_str(), network.name.as_str())).copied()
    }

    /// Every subnet range of `network`, sorted.
    fn ranges(&self, network: &'a GcpNetwork) -> &[IpNet] {
        self.ranges.get(&(network.project.as_str(), network.name.as_str())).map_or(&[], Vec::as_slice)
    }
}

pub(crate) fn plan_present<'a>(b: &mut Builder<'a>, peering: &'a Peering, gcp: &'a GcpPeering) {
    let (owner, name) = (b.spec.owner.clone(), peering.name.clone());
    let found = |network: &'a GcpNetwork, b: &mut Builder<'a>| -> Option<&'a GcpNetworkState> {
        let found = b.gcp.network(network);
        if found.is_none() {
            b.diags.error_with_hint(
                peering.loc,
                format!("peering `{name}`: no network {network}"),
                "check the network and project names, and that the credentials can read the project",
            );
        }
        found
    };
    let (Some(net), Some(peer)) = (found(&gcp.network, b), found(&gcp.peer_network, b)) else {
        b.peerings.push(status(peering, None, None));
        return;
    };
    if net.auto_mode && peer.auto_mode {
        b.diags.error_with_hint(
            peering.loc,
            format!("peering `{name}`: {} and {} are both auto-mode networks, which cannot peer", gcp.network, gcp.peer_network),
            "convert one of them to custom mode",
        );
        b.peerings.push(status(peering, None, None));
        return;
    }
    let (net_ranges, peer_ranges) = (b.gcp.ranges(&gcp.network).to_vec(), b.gcp.ranges(&gcp.peer_network).to_vec());
    let overlap = net_ranges.iter().flat_map(|a| peer_ranges.iter().map(move |c| (a, c))).find(|(a, c)| overlaps(a, c));
    if let Some((a, c)) = overlap {
        b.diags.error_with_hint(
            peering.loc,
            format!("peering `{name}`: {} ({a}) overlaps {} ({c})", gcp.network, gcp.peer_network),
            "peered networks need disjoint subnet ranges; re-address one of them",
        );
        b.peerings.push(status(peering, None, None));
        return;
    }
    let (net_entry, peer_entry) = entry_names(&owner, peering, gcp);
    let flags = flags_of(gcp);
    plan_entry(b, peering, &net_entry, (&gcp.network, net), &gcp.peer_network, flags);
    plan_entry(b, peering, &peer_entry, (&gcp.peer_network, peer), &gcp.network, flags.mirrored());
    let firewalls = [('a', &gcp.network, &peer_ranges), ('b', &gcp.peer_network, &net_ranges)];
    let mut wanted = BTreeSet::new();
    for (side, network, sources) in firewalls {
        if gcp.allow.is_empty() || sources.is_empty() {
            continue; // no firewall without sources: GCP would read "no sourceRanges" as 0.0.0.0/0
        }
        let spec = GcpFirewallSpec {
            name: firewall_name(&owner, &name, side),
            network: network.clone(),
            description: firewall_description(&owner, &name),
            allowed: gcp.allow.clone(),
            source_ranges: sources.clone(),
        };
        wanted.insert((network.project.clone(), spec.name.clone()));
        plan_firewall(b, &name, spec);
    }
    delete_owned_firewalls(
        b,
        &peering.name,
        &[&gcp.network.project, &gcp.peer_network.project],
        &wanted,
        "the spec no longer asks for this rule",
    );
    let entries = (net.peerings.iter().find(|p| p.name == net_entry), peer.peerings.iter().find(|p| p.name == peer_entry));
    b.peerings.push(status(peering, entries.0.map(|e| e.state.as_str()), entries.1.map(|e| e.state.as_str())));
}

/// This network's half: add it, re-point it, or update its flags.
fn plan_entry(
    b: &mut Builder,
    peering: &Peering,
    entry: &str,
    (network, state): (&GcpNetwork, &GcpNetworkState),
    peer: &GcpNetwork,
    flags: GcpRouteFlags,
) {
    let name = &peering.name;
    let add = Action::GcpAddPeering { network: network.clone(), peer: peer.clone(), name: entry.to_string(), flags };
    match state.peerings.iter().find(|p| p.name == entry) {
        None => {
            if let Some(other) = state.peerings.iter().find(|p| &p.peer == peer) {
                b.conflict(name, format!("{network} already peers with {peer} through `{}`, which this peering does not own", other.name));
                return;
            }
            b.step(name, add, format!("{network} has no peering to {peer}"), vec![]);
        }
        Some(current) if &current.peer != peer => {
            let remove = Action::GcpRemovePeering { network: network.clone(), peer: current.peer.clone(), name: entry.to_string() };
            let removed = b.step(name, remove, format!("`{entry}` points at {}, not {peer}", current.peer), vec![]);
            b.step(name, add, format!("{network} has no peering to {peer}"), vec![removed]);
        }
        Some(current) if current.flags != flags => {
            let update = Action::GcpUpdatePeering { network: network.clone(), peer: peer.clone(), name: entry.to_string(), flags };
            b.step(name, update, "the route flags differ from the spec's", vec![]);
        }
        Some(_) => {}
    }
}

fn plan_firewall(b: &mut Builder, peering: &str, spec: GcpFirewallSpec) {
    let existing = b.gcp.firewalls.get(&(spec.network.project.as_str(), spec.name.as_str())).copied();
    match existing {
        None => {
            b.step(peering, Action::GcpInsertFirewall { firewall: spec }, "no firewall rule lets the peer in", vec![]);
        }
        Some(current) if described_owner(&current.description) != described_owner(&spec.description) => {
            let message = format!(
                "firewall rule {} in {} has peerctl's name but is not this peering's (description `{}`)",
                current.name, spec.network.project, current.description
            );
            b.conflict(peering, message);
        }
        Some(current) if !same_firewall(current, &spec) => {
            b.step(peering, Action::GcpUpdateFirewall { firewall: spec }, "the firewall rule differs from the spec's", vec![]);
        }
        Some(_) => {}
    }
}

fn same_firewall(current: &GcpFirewall, wanted: &GcpFirewallSpec) -> bool {
    let sorted = |rules: &[crate::spec::Rule]| {
        let mut rules = rules.to_vec();
        rules.sort();
        rules
    };
    let mut sources = current.source_ranges.clone();
    sources.sort();
    current.ingress
        && current.network == wanted.network
        && current.description == wanted.description
        && sorted(&current.allowed) == sorted(&wanted.allowed)
        && sources == wanted.source_ranges
}

/// Removes this peering's firewalls that are not (or no longer) wanted.
fn delete_owned_firewalls(b: &mut Builder, peering: &str, projects: &[&str], wanted: &BTreeSet<(String, String)>, reason: &str) {
    let owned = b.gcp.owned_firewalls.get(peering).map_or(&[][..], Vec::as_slice);
    let mut seen = BTreeSet::new();
    for project in projects {
        for &(_, firewall) in owned.iter().filter(|(p, _)| p == project) {
            let key = (project.to_string(), firewall.name.clone());
            if wanted.contains(&key) || !seen.insert(key) {
                continue;
            }
            let action = Action::GcpDeleteFirewall { project: project.to_string(), name: firewall.name.clone() };
            b.step(peering, action, reason.to_string(), vec![]);
        }
    }
}

pub(crate) fn plan_absent<'a>(b: &mut Builder<'a>, peering: &'a Peering, gcp: &'a GcpPeering) {
    let (net_entry, peer_entry) = entry_names(&b.spec.owner, peering, gcp);
    for (network, entry) in [(&gcp.network, net_entry), (&gcp.peer_network, peer_entry)] {
        let Some(state) = b.gcp.network(network) else { continue };
        if let Some(current) = state.peerings.iter().find(|p| p.name == entry) {
            let action = Action::GcpRemovePeering { network: network.clone(), peer: current.peer.clone(), name: entry.clone() };
            b.step(&peering.name, action, "the peering is absent", vec![]);
        }
    }
    delete_owned_firewalls(b, &peering.name, &[&gcp.network.project, &gcp.peer_network.project], &BTreeSet::new(), "the peering is absent");
    b.peerings.push(status(peering, None, None));
}

/// With `--prune`: removes both entries and the firewall rules of a peering
/// that carries this owner but that the spec no longer names, wherever they
/// are in the projects read.
pub(crate) fn prune(b: &mut Builder, peering: &str) {
    let entry = entry_name(&b.spec.owner, peering);
    let reason = format!("owned by `{}` but no longer in the spec (--prune)", b.spec.owner);
    let state = b.state;
    for project in &state.gcp {
        for network in &project.networks {
            if let Some(current) = network.peerings.iter().find(|p| p.name == entry) {
                let here = GcpNetwork { project: project.project.clone(), name: network.name.clone() };
                let action = Action::GcpRemovePeering { network: here, peer: current.peer.clone(), name: entry.clone() };
                b.step(peering, action, reason.clone(), vec![]);
            }
        }
    }
    let projects: Vec<&str> = state.gcp.iter().map(|p| p.project.as_str()).collect();
    delete_owned_firewalls(b, peering, &projects, &BTreeSet::new(), &reason);
    b.peerings.push(PeeringStatus { name: peering.to_string(), cloud: "gcp".to_string(), absent: true, connection: None, status: None });
}

/// Entries carrying this spec's owner whose peering the spec does not name.
pub(crate) fn unmanaged(spec: &Spec, state: &State) -> Vec<Unmanaged> {
    let prefix = format!("{}--", spec.owner);
    let named: BTreeSet<&str> = spec.peerings.iter().map(|p| p.name.as_str()).collect();
    let mut found = Vec::new();
    for project in &state.gcp {
        for network in &project.networks {
            for entry in &network.peerings {
                let Some(peering) = entry.name.strip_prefix(&prefix) else { continue };
                if named.contains(peering) {
                    continue;
                }
                let connection = format!("projects/{}/global/networks/{} peering {}", project.project, network.name, entry.name);
                found.push(Unmanaged {
                    peering: peering.to_string(),
                    cloud: "gcp".to_string(),
                    connection,
                    status: entry.state.to_lowercase(),
                });
            }
        }
    }
    found
}

/// `active` when both entries are ACTIVE, else what is missing.
fn status(peering: &Peering, net: Option<&str>, peer: Option<&str>) -> PeeringStatus {
    let status = match (net, peer) {
        (Some("ACTIVE"), Some("ACTIVE")) => Some("active".to_string()),
        (None, None) => None,
        (net, peer) => Some(format!("{} / {}", net.unwrap_or("missing"), peer.unwrap_or("missing")).to_lowercase()),
    };
    PeeringStatus { name: peering.name.clone(), cloud: "gcp".to_string(), absent: peering.absent, connection: None, status }
}
