//! `routes.insert/get/list/delete`. Besides the routes users create, the
//! list shows what Compute creates itself: each network's default route to
//! the internet and one local route per subnetwork range. Peering routes
//! are not listed here (see `networks.listPeeringRoutes`).

use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, OperationFailure};
use crate::links::{link, network_path, parse_network_ref, route_path};
use crate::list::{ListParams, list_response};
use crate::operations::{Effect, Lock, OpRequest, Params, mutate};
use crate::state::{App, RouteRecord, Sim};
use crate::util::{check_name, fnv64, rfc3339};
use crate::{cidr, schema};

const NEXT_HOPS: [&str; 5] = ["nextHopGateway", "nextHopIp", "nextHopInstance", "nextHopVpnTunnel", "nextHopIlb"];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouteInput {
    name: Option<String>,
    description: Option<String>,
    network: Option<String>,
    dest_range: Option<String>,
    priority: Option<i64>,
    tags: Option<Vec<String>>,
}

fn next_hop(project: &str, body: &Value) -> Result<(String, String), ApiError> {
    let given: Vec<(&str, &str)> = NEXT_HOPS.iter().filter_map(|k| body.get(*k).and_then(Value::as_str).map(|v| (*k, v))).collect();
    let [(field, value)] = given.as_slice() else {
        return Err(ApiError::invalid(
            "Exactly one of nextHopGateway, nextHopIp, nextHopInstance, nextHopVpnTunnel or nextHopIlb must be specified.",
        ));
    };
    let full = |v: &str| {
        if v.starts_with("projects/") { link(v) } else { v.to_string() }
    };
    let value = match *field {
        "nextHopGateway" if value.ends_with("global/gateways/default-internet-gateway") => {
            link(&format!("projects/{project}/global/gateways/default-internet-gateway"))
        }
        "nextHopGateway" => {
            return Err(ApiError::invalid_field("resource.nextHopGateway", value, ""));
        }
        "nextHopIp" if value.parse::<std::net::IpAddr>().is_err() => {
            return Err(ApiError::invalid_field("resource.nextHopIp", value, ""));
        }
        _ => full(value),
    };
    Ok(((*field).to_string(), value))
}

fn route_from_body(sim: &mut Sim, project: &str, body: Value) -> Result<RouteRecord, ApiError> {
    let hop = next_hop(project, &body)?;
    let input: RouteInput = schema::from_value(body)?;
    let name = check_name(input.name.as_deref(), "resource.name")?;
    let reference = input.network.ok_or_else(|| ApiError::required("resource.network"))?;
    let (net_project, network) = parse_network_ref(&reference, project, "resource.network")?;
    if sim.network(&net_project, &network).is_none() || net_project != project {
        return Err(ApiError::not_found(&network_path(&net_project, &network)));
    }
    let dest = input.dest_range.ok_or_else(|| ApiError::required("resource.destRange"))?;
    let dest_net = cidr::parse_range(&dest).ok_or_else(|| ApiError::invalid_field("resource.destRange", &dest, ""))?;
    let priority = input.priority.unwrap_or(1000);
    if !(0..=65535).contains(&priority) {
        return Err(ApiError::invalid_field("resource.priority", &priority.to_string(), "Must be between 0 and 65535."));
    }
    Ok(RouteRecord {
        id: sim.new_id(),
        created: SystemTime::now(),
        name,
        description: input.description,
        network,
        dest_range: dest_net.to_string(),
        priority,
        next_hop: hop,
        tags: input.tags.unwrap_or_default(),
        system: false,
    })
}

/// The `compute#route` resource.
fn render(project: &str, r: &RouteRecord) -> Value {
    let mut v = json!({
        "kind": "compute#route",
        "id": r.id.to_string(),
        "creationTimestamp": rfc3339(r.created),
        "name": r.name,
        "network": link(&network_path(project, &r.network)),
        "destRange": r.dest_range,
        "priority": r.priority,
        "routeType": "STATIC",
        "selfLink": link(&route_path(project, &r.name)),
    });
    v[r.next_hop.0.as_str()] = json!(r.next_hop.1);
    if let Some(d) = &r.description {
        v["description"] = json!(d);
    }
    if !r.tags.is_empty() {
        v["tags"] = json!(r.tags);
    }
    v
}

/// The local route Compute shows for each subnetwork range.
fn subnet_routes(sim: &Sim, project: &str) -> Vec<(String, Value)> {
    let Some(p) = sim.project(project) else {
        return Vec::new();
    };
    let mut routes = Vec::new();
    for s in p.subnetworks.values() {
        let ranges = std::iter::once(s.ip_cidr_range).chain(s.secondary_ranges.iter().map(|(_, r)| *r));
        for range in ranges {
            let range = range.to_string();
            let hash = fnv64(&[project, &s.network, &range]);
            let name = format!("default-route-{hash:016x}");
            let net_link = link(&network_path(project, &s.network));
            let v = json!({
                "kind": "compute#route",
                "id": (1_000_000_000_000_000_000 + hash % 8_000_000_000_000_000_000).to_string(),
                "creationTimestamp": rfc3339(s.created),
                "name": name,
                "description": format!("Default local route to the subnetwork {range}."),
                "network": net_link,
                "destRange": range,
                "priority": 0,
                "nextHopNetwork": net_link,
                "routeType": "SUBNET",
                "selfLink": link(&route_path(project, &name)),
            });
            routes.push((name, v));
        }
    }
    routes
}

fn all_routes(sim: &Sim, project: &str) -> Vec<(String, Value)> {
    let mut items: Vec<(String, Value)> =
        sim.project(project).into_iter().flat_map(|p| p.routes.values()).map(|r| (r.name.clone(), render(project, r))).collect();
    items.extend(subnet_routes(sim, project));
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items
}

pub async fn insert(
    State(app): State<App>,
    Path(project): Path<String>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let value: Value = schema::parse_body(&body, schema::ROUTE, "resource")?;
    mutate(&app, &project, &params, |sim| {
        let rec = route_from_body(sim, &project, value)?;
        let path = route_path(&project, &rec.name);
        if all_routes(sim, &project).iter().any(|(n, _)| *n == rec.name) {
            return Err(ApiError::already_exists(&path));
        }
        sim.check_creatable(&path)?;
        let net_path = network_path(&project, &rec.network);
        sim.check_peering_free(&[&net_path])?;
        Ok(OpRequest {
            region: None,
            op_type: "insert",
            target_path: path.clone(),
            target_id: rec.id,
            locks: vec![Lock::Resource(path), Lock::Route(net_path)],
            effect: Effect::InsertRoute(project.clone(), rec),
        })
    })
}

pub async fn get(State(app): State<App>, Path((project, name)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    let sim = app.lock();
    let found = all_routes(&sim, &project).into_iter().find(|(n, _)| *n == name);
    found.map(|(_, v)| Json(v)).ok_or_else(|| ApiError::not_found(&route_path(&project, &name)))
}

pub async fn list(State(app): State<App>, Path(project): Path<String>, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let lp = ListParams::parse(&params)?;
    let sim = app.lock();
    let (page, next) = lp.page(all_routes(&sim, &project));
    Ok(Json(list_response("compute#routeList", &format!("projects/{project}/global/routes"), page, next)))
}

pub async fn delete(
    State(app): State<App>,
    Path((project, name)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    mutate(&app, &project, &params, |sim| {
        let path = route_path(&project, &name);
        let Some(rec) = sim.project(&project).and_then(|p| p.routes.get(&name)) else {
            return match subnet_routes(sim, &project).iter().any(|(n, _)| *n == name) {
                true => Err(ApiError::bad_request(format!("The local route '{path}' of a subnetwork cannot be deleted."))),
                false => Err(ApiError::not_found(&path)),
            };
        };
        let (id, net_path) = (rec.id, network_path(&project, &rec.network));
        sim.check_not_busy(&path)?;
        sim.check_peering_free(&[&net_path])?;
        Ok(OpRequest {
            region: None,
            op_type: "delete",
            target_path: path.clone(),
            target_id: id,
            locks: vec![Lock::Resource(path), Lock::Route(net_path)],
            effect: Effect::DeleteRoute(project.clone(), name.clone()),
        })
    })
}

impl Sim {
    pub fn apply_insert_route(&mut self, project: &str, rec: RouteRecord, _when: SystemTime) -> Result<(), OperationFailure> {
        if self.network(project, &rec.network).is_none() {
            let path = network_path(project, &rec.network);
            return Err(OperationFailure::new("RESOURCE_NOT_FOUND", 404, format!("The resource '{path}' was not found")));
        }
        self.project_mut(project).routes.insert(rec.name.clone(), rec);
        Ok(())
    }

    pub fn apply_delete_route(&mut self, project: &str, name: &str) -> Result<(), OperationFailure> {
        match self.project_mut(project).routes.remove(name) {
            Some(_) => Ok(()),
            None => {
                Err(OperationFailure::new("RESOURCE_NOT_FOUND", 404, format!("The resource '{}' was not found", route_path(project, name))))
            }
        }
    }
}
