//! `networks.insert/get/list/delete`: custom-mode and auto-mode VPC networks.

use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, OperationFailure};
use crate::links::{link, network_path, route_path, subnetwork_path};
use crate::list::{ListParams, list_response};
use crate::operations::{Effect, Lock, OpRequest, Params, mutate};
use crate::state::{App, NetworkRecord, RouteRecord, Sim, SubnetworkRecord};
use crate::util::{check_name, fnv64, rfc3339};
use crate::{cidr, regions, schema};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkInput {
    name: Option<String>,
    description: Option<String>,
    auto_create_subnetworks: Option<bool>,
    #[serde(rename = "IPv4Range")]
    ipv4_range: Option<String>,
    mtu: Option<i64>,
    routing_config: Option<RoutingConfigInput>,
    network_firewall_policy_enforcement_order: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoutingConfigInput {
    routing_mode: Option<String>,
    bgp_best_path_selection_mode: Option<String>,
}

fn one_of(field: &str, value: Option<String>, allowed: &[&str]) -> Result<String, ApiError> {
    match value {
        None => Ok(allowed[0].to_string()),
        Some(v) if allowed.contains(&v.as_str()) => Ok(v),
        Some(v) => Err(ApiError::invalid_field(field, &v, "")),
    }
}

/// Validates an insert body into a record (not yet stored).
fn network_from_input(sim: &mut Sim, input: NetworkInput) -> Result<NetworkRecord, ApiError> {
    let name = check_name(input.name.as_deref(), "resource.name")?;
    let auto_mode = match (input.auto_create_subnetworks, &input.ipv4_range) {
        (Some(auto), None) => auto,
        // Legacy networks are deprecated; the simulator does not model them.
        _ => {
            return Err(ApiError::invalid(
                "Invalid value for field 'resource.autoCreateSubnetworks': ''. Legacy networks are not \
                 supported; set autoCreateSubnetworks to true (auto mode) or false (custom mode).",
            ));
        }
    };
    let mtu = input.mtu.unwrap_or(1460);
    if !(1300..=8896).contains(&mtu) {
        return Err(ApiError::invalid_field("resource.mtu", &mtu.to_string(), "Must be between 1300 and 8896."));
    }
    let routing = input.routing_config.unwrap_or_default();
    Ok(NetworkRecord {
        name,
        id: sim.new_id(),
        created: SystemTime::now(),
        description: input.description,
        auto_mode,
        mtu,
        routing_mode: one_of("resource.routingConfig.routingMode", routing.routing_mode, &["REGIONAL", "GLOBAL"])?,
        bgp_best_path_selection_mode: one_of(
            "resource.routingConfig.bgpBestPathSelectionMode",
            routing.bgp_best_path_selection_mode,
            &["LEGACY", "STANDARD"],
        )?,
        enforcement_order: one_of(
            "resource.networkFirewallPolicyEnforcementOrder",
            input.network_firewall_policy_enforcement_order,
            &["AFTER_CLASSIC_FIREWALL", "BEFORE_CLASSIC_FIREWALL"],
        )?,
        peerings: Vec::new(),
    })
}

pub async fn insert(
    State(app): State<App>,
    Path(project): Path<String>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let value: Value = schema::parse_body(&body, schema::NETWORK, "resource")?;
    schema::check_nested(&value, "routingConfig", schema::NETWORK_ROUTING_CONFIG, "resource.routingConfig")?;
    let input: NetworkInput = schema::from_value(value)?;
    mutate(&app, &project, &params, |sim| {
        let rec = network_from_input(sim, input)?;
        let path = network_path(&project, &rec.name);
        if sim.network(&project, &rec.name).is_some() {
            return Err(ApiError::already_exists(&path));
        }
        sim.check_creatable(&path)?;
        Ok(OpRequest {
            region: None,
            op_type: "insert",
            target_path: path.clone(),
            target_id: rec.id,
            locks: vec![Lock::Resource(path)],
            effect: Effect::InsertNetwork(project.clone(), rec),
        })
    })
}

pub async fn get(State(app): State<App>, Path((project, name)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    let sim = app.lock();
    let rec = sim.network(&project, &name).ok_or_else(|| ApiError::not_found(&network_path(&project, &name)))?;
    Ok(Json(sim.render_network(&project, rec)))
}

pub async fn list(State(app): State<App>, Path(project): Path<String>, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let lp = ListParams::parse(&params)?;
    let sim = app.lock();
    let items = sim
        .project(&project)
        .into_iter()
        .flat_map(|p| p.networks.values())
        .map(|n| (n.name.clone(), sim.render_network(&project, n)))
        .collect();
    let (page, next) = lp.page(items);
    Ok(Json(list_response("compute#networkList", &format!("projects/{project}/global/networks"), page, next)))
}

pub async fn delete(
    State(app): State<App>,
    Path((project, name)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    mutate(&app, &project, &params, |sim| {
        let path = network_path(&project, &name);
        let rec = sim.network(&project, &name).ok_or_else(|| ApiError::not_found(&path))?;
        let id = rec.id;
        sim.check_not_busy(&path)?;
        sim.check_peering_free(&[path.as_str()])?;
        Ok(OpRequest {
            region: None,
            op_type: "delete",
            target_path: path.clone(),
            target_id: id,
            locks: vec![Lock::Resource(path)],
            effect: Effect::DeleteNetwork(project.clone(), name.clone()),
        })
    })
}

impl Sim {
    /// The `compute#network` resource, peering states computed now.
    pub fn render_network(&self, project: &str, rec: &NetworkRecord) -> Value {
        let path = network_path(project, &rec.name);
        let mut net = json!({
            "kind": "compute#network",
            "id": rec.id.to_string(),
            "creationTimestamp": rfc3339(rec.created),
            "name": rec.name,
            "selfLink": link(&path),
            "selfLinkWithId": link(&network_path(project, &rec.id.to_string())),
            "autoCreateSubnetworks": rec.auto_mode,
            "routingConfig": {
                "routingMode": rec.routing_mode,
                "bgpBestPathSelectionMode": rec.bgp_best_path_selection_mode,
            },
            "networkFirewallPolicyEnforcementOrder": rec.enforcement_order,
            "mtu": rec.mtu,
        });
        if let Some(d) = &rec.description {
            net["description"] = json!(d);
        }
        let subnets: Vec<String> =
            self.subnetworks_of(project, &rec.name).map(|s| link(&subnetwork_path(project, &s.region, &s.name))).collect();
        if !subnets.is_empty() {
            net["subnetworks"] = json!(subnets);
        }
        if !rec.peerings.is_empty() {
            let peerings: Vec<Value> = rec.peerings.iter().map(|p| self.render_peering(project, &rec.name, p)).collect();
            net["peerings"] = Value::Array(peerings);
        }
        net
    }

    pub fn apply_insert_network(&mut self, project: &str, rec: NetworkRecord) -> Result<(), OperationFailure> {
        let path = network_path(project, &rec.name);
        if self.network(project, &rec.name).is_some() {
            return Err(OperationFailure::new("RESOURCE_ALREADY_EXISTS", 409, format!("The resource '{path}' already exists")));
        }
        if rec.auto_mode {
            self.create_auto_subnetworks(project, &rec);
        }
        let route = self.default_internet_route(project, &rec);
        let p = self.project_mut(project);
        p.routes.insert(route.name.clone(), route);
        p.networks.insert(rec.name.clone(), rec);
        Ok(())
    }

    fn create_auto_subnetworks(&mut self, project: &str, net: &NetworkRecord) {
        for (region, range) in regions::REGIONS {
            let Some(range) = cidr::parse_network(range) else {
                continue;
            };
            let rec = SubnetworkRecord {
                name: net.name.clone(),
                region: (*region).to_string(),
                id: self.new_id(),
                created: net.created,
                description: None,
                network: net.name.clone(),
                ip_cidr_range: range,
                secondary_ranges: Vec::new(),
                private_ip_google_access: false,
                stack_type: "IPV4_ONLY".into(),
                purpose: "PRIVATE".into(),
                fingerprint: format!("{:016x}", self.id_rng.next_u64()),
                auto_created: true,
            };
            self.project_mut(project).subnetworks.insert(((*region).to_string(), net.name.clone()), rec);
        }
    }

    /// Compute creates a `default-route-…` to the internet gateway with
    /// every network; users may delete it.
    fn default_internet_route(&mut self, project: &str, net: &NetworkRecord) -> RouteRecord {
        let name = format!("default-route-{:016x}", fnv64(&[project, &net.name, &net.id.to_string()]));
        RouteRecord {
            id: self.new_id(),
            created: net.created,
            name,
            description: Some("Default route to the Internet.".into()),
            network: net.name.clone(),
            dest_range: "0.0.0.0/0".into(),
            priority: 1000,
            next_hop: ("nextHopGateway".into(), link(&format!("projects/{project}/global/gateways/default-internet-gateway"))),
            tags: Vec::new(),
            system: true,
        }
    }

    /// What still uses a network, as Compute names it in its refusal.
    fn network_user(&self, project: &str, name: &str) -> Option<String> {
        let p = self.project(project)?;
        let net = p.networks.get(name)?;
        if let Some(s) = p.subnetworks.values().find(|s| s.network == name && !s.auto_created) {
            return Some(subnetwork_path(project, &s.region, &s.name));
        }
        if let Some(f) = p.firewalls.values().find(|f| f.spec.network == network_path(project, name)) {
            return Some(crate::links::firewall_path(project, &f.spec.name));
        }
        if let Some(r) = p.routes.values().find(|r| r.network == name && !r.system) {
            return Some(route_path(project, &r.name));
        }
        net.peerings.first().map(|peering| format!("{}/peerings/{}", network_path(project, name), peering.name))
    }

    pub fn apply_delete_network(&mut self, project: &str, name: &str) -> Result<(), OperationFailure> {
        let path = network_path(project, name);
        if self.network(project, name).is_none() {
            return Err(OperationFailure::new("RESOURCE_NOT_FOUND", 404, format!("The resource '{path}' was not found")));
        }
        if let Some(user) = self.network_user(project, name) {
            return Err(OperationFailure::new(
                "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE",
                400,
                format!("The network resource '{path}' is already being used by '{user}'"),
            ));
        }
        let p = self.project_mut(project);
        p.subnetworks.retain(|_, s| s.network != name);
        p.routes.retain(|_, r| r.network != name);
        p.networks.remove(name);
        Ok(())
    }
}
