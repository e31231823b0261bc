//! `networks.addPeering/removePeering/updatePeering/listPeeringRoutes`.
//!
//! A peering entry is intent stored on one network; its `state` is computed
//! on every read: `ACTIVE` exactly when the peer network exists and holds an
//! entry pointing back, `INACTIVE` otherwise.

use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, OperationFailure};
use crate::links::{link, network_path, parse_network_ref, subnetwork_path};
use crate::operations::{Effect, Lock, OpRequest, Params, mutate};
use crate::state::{App, NetworkRecord, PeeringRecord, Sim};
use crate::util::{check_name, rfc3339};
use crate::{cidr, schema};

const STACK_TYPES: [&str; 2] = ["IPV4_ONLY", "IPV4_IPV6"];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddPeeringInput {
    name: Option<String>,
    peer_network: Option<String>,
    network_peering: Option<PeeringInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PeeringInput {
    name: Option<String>,
    network: Option<String>,
    exchange_subnet_routes: Option<bool>,
    export_custom_routes: Option<bool>,
    import_custom_routes: Option<bool>,
    export_subnet_routes_with_public_ip: Option<bool>,
    import_subnet_routes_with_public_ip: Option<bool>,
    stack_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RemovePeeringInput {
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdatePeeringInput {
    network_peering: Option<PeeringInput>,
}

/// The fields `updatePeering` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PeeringUpdate {
    name: String,
    export_custom_routes: Option<bool>,
    import_custom_routes: Option<bool>,
    export_subnet_routes_with_public_ip: Option<bool>,
    import_subnet_routes_with_public_ip: Option<bool>,
    stack_type: Option<String>,
}

fn check_peering_input(p: &PeeringInput) -> Result<(), ApiError> {
    if p.exchange_subnet_routes == Some(false) {
        return Err(ApiError::invalid_field("networkPeering.exchangeSubnetRoutes", "false", "Subnet routes must always be exchanged."));
    }
    match &p.stack_type {
        Some(s) if !STACK_TYPES.contains(&s.as_str()) => Err(ApiError::invalid_field("networkPeering.stackType", s, "")),
        _ => Ok(()),
    }
}

fn parse_peering_body<T: serde::de::DeserializeOwned>(body: &[u8], known: &[&str]) -> Result<T, ApiError> {
    let value: Value = schema::parse_body(body, known, "resource")?;
    schema::check_nested(&value, "networkPeering", schema::NETWORK_PEERING, "resource.networkPeering")?;
    schema::from_value(value)
}

fn local_network<'a>(sim: &'a Sim, project: &str, network: &str) -> Result<&'a NetworkRecord, ApiError> {
    sim.network(project, network).ok_or_else(|| ApiError::not_found(&network_path(project, network)))
}

fn find_peering<'a>(net: &'a NetworkRecord, project: &str, name: &str) -> Result<&'a PeeringRecord, ApiError> {
    let path = format!("{}/peerings/{name}", network_path(project, &net.name));
    net.peerings.iter().find(|p| p.name == name).ok_or_else(|| ApiError::not_found(&path))
}

/// Validates an addPeering body against the current state.
fn build_add(sim: &mut Sim, project: &str, network: &str, input: AddPeeringInput) -> Result<OpRequest, ApiError> {
    let np = input.network_peering.unwrap_or_default();
    check_peering_input(&np)?;
    let (local_id, local_path) = {
        let net = local_network(sim, project, network)?;
        (net.id, network_path(project, network))
    };
    let name = check_name(np.name.as_deref().or(input.name.as_deref()), "networkPeering.name")?;
    let peer_ref = np.network.or(input.peer_network).ok_or_else(|| ApiError::required("networkPeering.network"))?;
    let (peer_project, peer_name) = parse_network_ref(&peer_ref, project, "networkPeering.network")?;
    let peer_path = network_path(&peer_project, &peer_name);
    if sim.network(&peer_project, &peer_name).is_none() {
        return Err(ApiError::not_found(&peer_path));
    }
    if peer_path == local_path {
        return Err(ApiError::invalid_field("networkPeering.network", &peer_ref, "A network cannot be peered with itself."));
    }
    let net = local_network(sim, project, network)?;
    if net.peerings.iter().any(|p| p.name == name) {
        return Err(ApiError::invalid(format!("A peering named '{name}' already exists on network '{local_path}'.")));
    }
    if let Some(p) = net.peerings.iter().find(|p| network_path(&p.peer_project, &p.peer_network) == peer_path) {
        return Err(ApiError::invalid(format!(
            "Network '{local_path}' is already peered with network '{peer_path}' (peering '{}').",
            p.name
        )));
    }
    sim.check_peering_free(&[&local_path, &peer_path])?;
    let peering = PeeringRecord {
        name,
        peer_project,
        peer_network: peer_name,
        export_custom_routes: np.export_custom_routes.unwrap_or(false),
        import_custom_routes: np.import_custom_routes.unwrap_or(false),
        export_subnet_routes_with_public_ip: np.export_subnet_routes_with_public_ip.unwrap_or(true),
        import_subnet_routes_with_public_ip: np.import_subnet_routes_with_public_ip.unwrap_or(false),
        stack_type: np.stack_type.unwrap_or_else(|| "IPV4_ONLY".into()),
        last_active: false,
        state_since: SystemTime::now(),
    };
    Ok(OpRequest {
        region: None,
        op_type: "addPeering",
        target_path: local_path.clone(),
        target_id: local_id,
        locks: vec![Lock::Peering(local_path), Lock::Peering(peer_path)],
        effect: Effect::AddPeering { project: project.into(), network: network.into(), peering },
    })
}

pub async fn add(
    State(app): State<App>,
    Path((project, network)): Path<(String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let input: AddPeeringInput = parse_peering_body(&body, schema::NETWORKS_ADD_PEERING_REQUEST)?;
    mutate(&app, &project, &params, |sim| build_add(sim, &project, &network, input))
}

/// Locks and target of a remove or update of an existing entry.
fn existing_peering_op(sim: &Sim, project: &str, network: &str, name: &str) -> Result<(u64, Vec<Lock>), ApiError> {
    let net = local_network(sim, project, network)?;
    let peering = find_peering(net, project, name)?;
    let local_path = network_path(project, network);
    let peer_path = network_path(&peering.peer_project, &peering.peer_network);
    sim.check_peering_free(&[&local_path, &peer_path])?;
    Ok((net.id, vec![Lock::Peering(local_path), Lock::Peering(peer_path)]))
}

pub async fn remove(
    State(app): State<App>,
    Path((project, network)): Path<(String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let input: RemovePeeringInput = schema::parse_body(&body, schema::NETWORKS_REMOVE_PEERING_REQUEST, "resource")?;
    mutate(&app, &project, &params, |sim| {
        let name = input.name.filter(|n| !n.is_empty()).ok_or_else(|| ApiError::required("resource.name"))?;
        let (id, locks) = existing_peering_op(sim, &project, &network, &name)?;
        Ok(OpRequest {
            region: None,
            op_type: "removePeering",
            target_path: network_path(&project, &network),
            target_id: id,
            locks,
            effect: Effect::RemovePeering { project: project.clone(), network: network.clone(), name },
        })
    })
}

fn build_update(sim: &Sim, project: &str, network: &str, np: PeeringInput) -> Result<OpRequest, ApiError> {
    check_peering_input(&np)?;
    let name = np.name.filter(|n| !n.is_empty()).ok_or_else(|| ApiError::required("networkPeering.name"))?;
    let (id, locks) = existing_peering_op(sim, project, network, &name)?;
    if let Some(reference) = &np.network {
        let (pp, pn) = parse_network_ref(reference, project, "networkPeering.network")?;
        let net = local_network(sim, project, network)?;
        let current = find_peering(net, project, &name)?;
        if (pp.as_str(), pn.as_str()) != (current.peer_project.as_str(), current.peer_network.as_str()) {
            return Err(ApiError::invalid_field("networkPeering.network", reference, "The peer network cannot be changed."));
        }
    }
    let update = PeeringUpdate {
        name,
        export_custom_routes: np.export_custom_routes,
        import_custom_routes: np.import_custom_routes,
        export_subnet_routes_with_public_ip: np.export_subnet_routes_with_public_ip,
        import_subnet_routes_with_public_ip: np.import_subnet_routes_with_public_ip,
        stack_type: np.stack_type,
    };
    Ok(OpRequest {
        region: None,
        op_type: "updatePeering",
        target_path: network_path(project, network),
        target_id: id,
        locks,
        effect: Effect::UpdatePeering { project: project.into(), network: network.into(), update },
    })
}

pub async fn update(
    State(app): State<App>,
    Path((project, network)): Path<(String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let input: UpdatePeeringInput = parse_peering_body(&body, schema::NETWORKS_UPDATE_PEERING_REQUEST)?;
    let np = input.network_peering.ok_or_else(|| ApiError::required("resource.networkPeering"))?;
    mutate(&app, &project, &params, |sim| build_update(sim, &project, &network, np))
}

/// Every range of a network with the subnetwork that allocates it.
fn ranges_of(sim: &Sim, project: &str, network: &str) -> Vec<(IpNet, String)> {
    sim.subnetworks_of(project, network)
        .flat_map(|s| {
            let owner = subnetwork_path(project, &s.region, &s.name);
            std::iter::once(s.ip_cidr_range).chain(s.secondary_ranges.iter().map(|(_, r)| *r)).map(move |r| (r, owner.clone()))
        })
        .collect()
}

impl Sim {
    /// Whether the entry's peer network exists and points back.
    pub fn peering_active(&self, project: &str, network: &str, p: &PeeringRecord) -> bool {
        self.network(&p.peer_project, &p.peer_network)
            .is_some_and(|peer| peer.peerings.iter().any(|q| q.peer_project == project && q.peer_network == network))
    }

    /// Notes when each entry's computed state last changed (for `stateDetails`).
    pub fn refresh_peering_states(&mut self, when: SystemTime) {
        let mut changed = Vec::new();
        for (project, p) in &self.projects {
            for net in p.networks.values() {
                for (i, peering) in net.peerings.iter().enumerate() {
                    if self.peering_active(project, &net.name, peering) != peering.last_active {
                        changed.push((project.clone(), net.name.clone(), i));
                    }
                }
            }
        }
        for (project, network, i) in changed {
            if let Some(p) = self.network_mut(&project, &network).and_then(|n| n.peerings.get_mut(i)) {
                p.last_active = !p.last_active;
                p.state_since = when;
            }
        }
    }

    /// A `NetworkPeering` as Compute shows it inside `Network.peerings[]`.
    pub fn render_peering(&self, project: &str, network: &str, p: &PeeringRecord) -> Value {
        let active = self.peering_active(project, network, p);
        let since = rfc3339(p.state_since);
        let details = if active { "Connected." } else { "Waiting for peer network to connect." };
        let mut v = json!({
            "name": p.name,
            "network": link(&network_path(&p.peer_project, &p.peer_network)),
            "state": if active { "ACTIVE" } else { "INACTIVE" },
            "stateDetails": format!("[{since}]: {details}"),
            "autoCreateRoutes": true,
            "exchangeSubnetRoutes": true,
            "exportCustomRoutes": p.export_custom_routes,
            "importCustomRoutes": p.import_custom_routes,
            "exportSubnetRoutesWithPublicIp": p.export_subnet_routes_with_public_ip,
            "importSubnetRoutesWithPublicIp": p.import_subnet_routes_with_public_ip,
            "stackType": p.stack_type,
            "updateStrategy": "INDEPENDENT",
        });
        if let Some(peer) = self.network(&p.peer_project, &p.peer_network) {
            v["peerMtu"] = json!(peer.mtu);
        }
        v
    }

    /// The first overlap between the two networks' ranges, worded as Compute does.
    fn peering_overlap(&self, project: &str, network: &str, peer: &PeeringRecord) -> Option<String> {
        let local = ranges_of(self, project, network);
        let remote = ranges_of(self, &peer.peer_project, &peer.peer_network);
        local.iter().find_map(|(l, owner)| {
            remote.iter().find(|(r, _)| cidr::overlaps(l, r)).map(|(r, _)| {
                format!(
                    "An IP range in the peer network ({r}) overlaps with an IP range in the local network ({l}) \
                     allocated by resource ({owner})."
                )
            })
        })
    }

    pub fn apply_add_peering(&mut self, project: &str, network: &str, peering: PeeringRecord) -> Result<(), OperationFailure> {
        let not_found = |path: String| OperationFailure::new("RESOURCE_NOT_FOUND", 404, format!("The resource '{path}' was not found"));
        let net = self.network(project, network).ok_or_else(|| not_found(network_path(project, network)))?;
        if self.network(&peering.peer_project, &peering.peer_network).is_none() {
            return Err(not_found(network_path(&peering.peer_project, &peering.peer_network)));
        }
        if net.peerings.iter().any(|p| p.name == peering.name) {
            return Err(OperationFailure::new("INVALID_USAGE", 400, format!("A peering named '{}' already exists.", peering.name)));
        }
        let limit = self.config.peering_limit;
        if net.peerings.len() >= limit as usize {
            return Err(OperationFailure::new(
                "QUOTA_EXCEEDED",
                403,
                format!("Quota 'NETWORK_PEERINGS_PER_NETWORK' exceeded.  Limit: {limit}.0 globally."),
            ));
        }
        if let Some(message) = self.peering_overlap(project, network, &peering) {
            return Err(OperationFailure::new("INVALID_USAGE", 400, message));
        }
        if let Some(net) = self.network_mut(project, network) {
            net.peerings.push(peering);
        }
        Ok(())
    }

    pub fn apply_remove_peering(&mut self, project: &str, network: &str, name: &str) -> Result<(), OperationFailure> {
        let path = format!("{}/peerings/{name}", network_path(project, network));
        let net = self.network_mut(project, network);
        match net.and_then(|n| n.peerings.iter().position(|p| p.name == name).map(|i| (n, i))) {
            Some((n, i)) => {
                n.peerings.remove(i);
                Ok(())
            }
            None => Err(OperationFailure::new("RESOURCE_NOT_FOUND", 404, format!("The resource '{path}' was not found"))),
        }
    }

    pub fn apply_update_peering(&mut self, project: &str, network: &str, u: &PeeringUpdate) -> Result<(), OperationFailure> {
        let path = format!("{}/peerings/{}", network_path(project, network), u.name);
        let Some(p) = self.network_mut(project, network).and_then(|n| n.peerings.iter_mut().find(|p| p.name == u.name)) else {
            return Err(OperationFailure::new("RESOURCE_NOT_FOUND", 404, format!("The resource '{path}' was not found")));
        };
        p.export_custom_routes = u.export_custom_routes.unwrap_or(p.export_custom_routes);
        p.import_custom_routes = u.import_custom_routes.unwrap_or(p.import_custom_routes);
        p.export_subnet_routes_with_public_ip = u.export_subnet_routes_with_public_ip.unwrap_or(p.export_subnet_routes_with_public_ip);
        p.import_subnet_routes_with_public_ip = u.import_subnet_routes_with_public_ip.unwrap_or(p.import_subnet_routes_with_public_ip);
        if let Some(s) = &u.stack_type {
            p.stack_type = s.clone();
        }
        Ok(())
    }
}

pub use crate::peering_routes::list_routes;
