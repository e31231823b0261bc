//! Reading live state: for each project the spec names, three paged list
//! calls — networks (which carry their peering entries), every region's
//! subnetworks in one aggregatedList, and firewalls filtered to peerctl's
//! prefix — with projects read in parallel. Mapping from the API's JSON to
//! core types lives here only.

use crate::GcpProvider;
use futures::future::try_join_all;
use ipnet::IpNet;
use peerctl_core::spec::{CloudPeering, GcpNetwork, Ports, Protocol, Rule, Spec};
use peerctl_core::state::{GcpFirewall, GcpNetworkState, GcpPeeringEntry, GcpProjectState, GcpRouteFlags, GcpSubnetwork, State};
use peerctl_engine::ProviderError;
use serde_json::Value;
use std::collections::BTreeSet;

/// Firewall rules peerctl writes all start with this.
pub(crate) const FIREWALL_PREFIX: &str = "peerctl-";

pub(crate) async fn observe(provider: &GcpProvider, spec: &Spec) -> Result<State, ProviderError> {
    let projects: BTreeSet<&str> = spec
        .peerings
        .iter()
        .filter_map(|p| match &p.cloud {
            CloudPeering::Gcp(gcp) => Some([gcp.network.project.as_str(), gcp.peer_network.project.as_str()]),
            CloudPeering::Aws(_) => None,
        })
        .flatten()
        .collect();
    let gcp = try_join_all(projects.into_iter().map(|project| observe_project(provider, project))).await?;
    Ok(State { gcp, ..State::default() })
}

/// For `peerctl import`: `project`, then the projects its networks peer
/// with, read as far as the credentials allow (a peer project that cannot
/// be read is left out, and named in the returned notes).
pub(crate) async fn observe_for_import(provider: &GcpProvider, project: &str) -> Result<(State, Vec<String>), ProviderError> {
    let home = observe_project(provider, project).await?;
    let peers: BTreeSet<String> =
        home.networks.iter().flat_map(|n| &n.peerings).map(|p| p.peer.project.clone()).filter(|p| p != project).collect();
    let mut gcp = vec![home];
    let mut notes = Vec::new();
    for (peer, read) in peers.iter().zip(futures::future::join_all(peers.iter().map(|p| observe_project(provider, p))).await) {
        match read {
            Ok(state) => gcp.push(state),
            Err(error) => notes.push(format!("project {peer} could not be read ({error})")),
        }
    }
    Ok((State { gcp, ..State::default() }, notes))
}

async fn observe_project(provider: &GcpProvider, project: &str) -> Result<GcpProjectState, ProviderError> {
    let filter = format!("name eq {FIREWALL_PREFIX}.*");
    let paths = ["global/networks", "aggregated/subnetworks", "global/firewalls"].map(|kind| format!("projects/{project}/{kind}"));
    let (networks, subnetworks, firewalls) = futures::try_join!(
        provider.list("networks.list", &paths[0], None),
        provider.list("subnetworks.aggregatedList", &paths[1], None),
        provider.list("firewalls.list", &paths[2], Some(&filter)),
    )?;
    Ok(GcpProjectState {
        project: project.to_string(),
        networks: networks.iter().map(network).collect::<Result<_, _>>()?,
        subnetworks: subnetworks.iter().map(subnetwork).collect::<Result<_, _>>()?,
        // The filter only saves bandwidth: check the prefix here too.
        firewalls: firewalls.iter().filter(|f| text(f, "name").starts_with(FIREWALL_PREFIX)).map(firewall).collect::<Result<_, _>>()?,
    })
}

fn text<'a>(item: &'a Value, key: &str) -> &'a str {
    item.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn flag(item: &Value, key: &str) -> bool {
    item.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn unreadable(what: &str, item: &Value) -> ProviderError {
    ProviderError::Other(format!("unreadable {what} in the Compute API's answer: {item}"))
}

/// `…/projects/P/global/networks/N` (full or partial URL) → the network.
pub(crate) fn network_ref(url: &str) -> Option<GcpNetwork> {
    let path = &url[url.find("projects/")?..];
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("projects"), Some(project), Some("global"), Some("networks"), Some(name), None) => {
            Some(GcpNetwork { project: project.to_string(), name: name.to_string() })
        }
        _ => None,
    }
}

fn network(item: &Value) -> Result<GcpNetworkState, ProviderError> {
    let peerings = item.get("peerings").and_then(Value::as_array).into_iter().flatten();
    let peerings = peerings
        .map(|p| {
            Ok(GcpPeeringEntry {
                name: text(p, "name").to_string(),
                peer: network_ref(text(p, "network")).ok_or_else(|| unreadable("peering", p))?,
                state: text(p, "state").to_string(),
                flags: route_flags(p),
            })
        })
        .collect::<Result<_, ProviderError>>()?;
    Ok(GcpNetworkState { name: text(item, "name").to_string(), auto_mode: flag(item, "autoCreateSubnetworks"), peerings })
}

pub(crate) fn route_flags(peering: &Value) -> GcpRouteFlags {
    GcpRouteFlags {
        export_custom_routes: flag(peering, "exportCustomRoutes"),
        import_custom_routes: flag(peering, "importCustomRoutes"),
        export_subnet_routes_with_public_ip: flag(peering, "exportSubnetRoutesWithPublicIp"),
        import_subnet_routes_with_public_ip: flag(peering, "importSubnetRoutesWithPublicIp"),
    }
}

fn subnetwork(item: &Value) -> Result<GcpSubnetwork, ProviderError> {
    let range = |v: &Value| v.get("ipCidrRange").and_then(Value::as_str).and_then(|r| r.parse::<IpNet>().ok());
    let mut ranges = vec![range(item).ok_or_else(|| unreadable("subnetwork", item))?];
    let secondary = item.get("secondaryIpRanges").and_then(Value::as_array).into_iter().flatten();
    for r in secondary {
        ranges.push(range(r).ok_or_else(|| unreadable("secondary range", r))?);
    }
    Ok(GcpSubnetwork {
        name: text(item, "name").to_string(),
        region: text(item, "region").rsplit('/').next().unwrap_or_default().to_string(),
        network: network_ref(text(item, "network")).ok_or_else(|| unreadable("subnetwork", item))?,
        ranges,
    })
}

pub(crate) fn firewall(item: &Value) -> Result<GcpFirewall, ProviderError> {
    let mut allowed = Vec::new();
    for entry in item.get("allowed").and_then(Value::as_array).into_iter().flatten() {
        allowed.extend(rules(entry));
    }
    let sources = item.get("sourceRanges").and_then(Value::as_array).into_iter().flatten();
    let source_ranges =
        sources.map(|s| s.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| unreadable("source range", s))).collect::<Result<_, _>>()?;
    Ok(GcpFirewall {
        name: text(item, "name").to_string(),
        network: network_ref(text(item, "network")).ok_or_else(|| unreadable("firewall", item))?,
        description: text(item, "description").to_string(),
        ingress: matches!(text(item, "direction"), "INGRESS" | ""),
        allowed,
        source_ranges,
    })
}

/// One `allowed[]` entry (`{IPProtocol, ports[]}`) → the rules it stands for.
/// Protocols and ports peerctl never writes (`esp`, `sctp`, …) are not read.
fn rules(entry: &Value) -> Vec<Rule> {
    let protocol = match text(entry, "IPProtocol") {
        "tcp" | "6" => Protocol::Tcp,
        "udp" | "17" => Protocol::Udp,
        "icmp" | "1" => Protocol::Icmp,
        "all" => Protocol::All,
        _ => return Vec::new(),
    };
    let ports: Vec<&str> = entry.get("ports").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if ports.is_empty() {
        return vec![Rule { protocol, ports: Ports::All }];
    }
    let range = |p: &str| {
        let (from, to) = p.split_once('-').unwrap_or((p, p));
        Some(Rule { protocol, ports: Ports::Range { from: from.parse().ok()?, to: to.parse().ok()? } })
    };
    ports.into_iter().filter_map(range).collect()
}

/// A rule as an `allowed[]` entry, the inverse of `rules`.
pub(crate) fn allowed(rule: &Rule) -> Value {
    let mut entry = serde_json::json!({ "IPProtocol": rule.protocol.to_string() });
    if let (Protocol::Tcp | Protocol::Udp, Ports::Range { from, to }) = (rule.protocol, rule.ports) {
        let ports = if from == to { from.to_string() } else { format!("{from}-{to}") };
        entry["ports"] = serde_json::json!([ports]);
    }
    entry
}
