//! `networks.listPeeringRoutes`: the routes an ACTIVE peering exchanges,
//! computed from both networks' subnetworks, static routes and flags.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

use crate::cidr;
use crate::error::ApiError;
use crate::links::network_path;
use crate::list::{ListParams, list_response};
use crate::operations::Params;
use crate::state::{App, PeeringRecord, Sim};

/// One side's flags, as exporter or importer.
struct Side<'a> {
    project: &'a str,
    network: &'a str,
    entry: &'a PeeringRecord,
}

fn subnet_routes(sim: &Sim, exporter: &Side, importer: &Side) -> Vec<Value> {
    sim.subnetworks_of(exporter.project, exporter.network)
        .flat_map(|s| std::iter::once(s.ip_cidr_range).chain(s.secondary_ranges.iter().map(|(_, r)| *r)))
        .filter(|r| cidr::is_private(r) || exporter.entry.export_subnet_routes_with_public_ip)
        .map(|r| {
            json!({
                "destRange": r.to_string(),
                "type": "SUBNET_PEERING_ROUTE",
                "priority": 0,
                "imported": cidr::is_private(&r) || importer.entry.import_subnet_routes_with_public_ip,
            })
        })
        .collect()
}

fn static_routes(sim: &Sim, exporter: &Side, importer: &Side) -> Vec<Value> {
    if !exporter.entry.export_custom_routes {
        return Vec::new();
    }
    // Routes through the internet gateway are never exchanged over peering.
    sim.project(exporter.project)
        .into_iter()
        .flat_map(|p| p.routes.values())
        .filter(|r| r.network == exporter.network && r.next_hop.0 != "nextHopGateway")
        .map(|r| {
            json!({
                "destRange": r.dest_range,
                "type": "STATIC_PEERING_ROUTE",
                "priority": r.priority,
                "imported": importer.entry.import_custom_routes,
            })
        })
        .collect()
}

fn exchanged(sim: &Sim, local: Side, incoming: bool) -> Vec<Value> {
    let back = sim
        .network(&local.entry.peer_project, &local.entry.peer_network)
        .and_then(|peer| peer.peerings.iter().find(|q| q.peer_project == local.project && q.peer_network == local.network));
    let Some(back) = back else { return Vec::new() };
    let remote = Side { project: &local.entry.peer_project, network: &local.entry.peer_network, entry: back };
    let (exporter, importer) = if incoming { (remote, local) } else { (local, remote) };
    let mut routes = subnet_routes(sim, &exporter, &importer);
    routes.extend(static_routes(sim, &exporter, &importer));
    routes
}

pub async fn list_routes(
    State(app): State<App>,
    Path((project, network)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let lp = ListParams::parse(&params)?;
    let incoming = match params.get("direction").map(String::as_str) {
        None | Some("INCOMING") => true,
        Some("OUTGOING") => false,
        Some(other) => return Err(ApiError::invalid_field("direction", other, "")),
    };
    let name = params.get("peeringName").filter(|n| !n.is_empty()).ok_or_else(|| ApiError::required("peeringName"))?;
    let sim = app.lock();
    let path = network_path(&project, &network);
    let net = sim.network(&project, &network).ok_or_else(|| ApiError::not_found(&path))?;
    let entry = net.peerings.iter().find(|p| &p.name == name).ok_or_else(|| ApiError::not_found(&format!("{path}/peerings/{name}")))?;
    let routes = exchanged(&sim, Side { project: &project, network: &network, entry }, incoming);
    let items = routes.into_iter().enumerate().map(|(i, r)| (format!("{i:06}"), r)).collect();
    let (page, next) = lp.page(items);
    Ok(Json(list_response("compute#exchangedPeeringRoutesList", &format!("{path}/listPeeringRoutes"), page, next)))
}
