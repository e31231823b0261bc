//! HTTP routing: the Compute v1 paths under `/compute/v1/`, the bearer-token
//! gate, request counting and fault injection, and the non-Google admin
//! endpoints under `/_sim/`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::config::ConfigUpdate;
use crate::error::ApiError;
use crate::state::App;
use crate::util::SplitMix64;
use crate::{firewalls, networks, operations, peering, routes, subnetworks};

const P: &str = "/compute/v1/projects/{project}";

/// `(HTTP method, path after /compute/v1/projects/{project}/, method id)`,
/// for the counters in `/_sim/stats`.
const METHOD_IDS: &[(&str, &str, &str)] = &[
    ("POST", "global/networks", "networks.insert"),
    ("GET", "global/networks", "networks.list"),
    ("GET", "global/networks/{network}", "networks.get"),
    ("DELETE", "global/networks/{network}", "networks.delete"),
    ("POST", "global/networks/{network}/addPeering", "networks.addPeering"),
    ("POST", "global/networks/{network}/removePeering", "networks.removePeering"),
    ("PATCH", "global/networks/{network}/updatePeering", "networks.updatePeering"),
    ("GET", "global/networks/{network}/listPeeringRoutes", "networks.listPeeringRoutes"),
    ("GET", "global/networks/{network}/getEffectiveFirewalls", "networks.getEffectiveFirewalls"),
    ("POST", "global/firewalls", "firewalls.insert"),
    ("GET", "global/firewalls", "firewalls.list"),
    ("GET", "global/firewalls/{firewall}", "firewalls.get"),
    ("PATCH", "global/firewalls/{firewall}", "firewalls.patch"),
    ("PUT", "global/firewalls/{firewall}", "firewalls.update"),
    ("DELETE", "global/firewalls/{firewall}", "firewalls.delete"),
    ("POST", "global/routes", "routes.insert"),
    ("GET", "global/routes", "routes.list"),
    ("GET", "global/routes/{route}", "routes.get"),
    ("DELETE", "global/routes/{route}", "routes.delete"),
    ("GET", "aggregated/subnetworks", "subnetworks.aggregatedList"),
    ("POST", "regions/{region}/subnetworks", "subnetworks.insert"),
    ("GET", "regions/{region}/subnetworks", "subnetworks.list"),
    ("GET", "regions/{region}/subnetworks/{subnetwork}", "subnetworks.get"),
    ("DELETE", "regions/{region}/subnetworks/{subnetwork}", "subnetworks.delete"),
    ("GET", "global/operations/{operation}", "globalOperations.get"),
    ("POST", "global/operations/{operation}/wait", "globalOperations.wait"),
    ("GET", "regions/{region}/operations/{operation}", "regionOperations.get"),
    ("POST", "regions/{region}/operations/{operation}/wait", "regionOperations.wait"),
];

fn method_id(method: &Method, matched: Option<&str>) -> &'static str {
    let Some(rest) = matched.and_then(|m| m.strip_prefix(P)).and_then(|m| m.strip_prefix('/')) else {
        return "unknown";
    };
    METHOD_IDS.iter().find(|(m, path, _)| *m == method.as_str() && *path == rest).map_or("unknown", |(_, _, id)| id)
}

fn has_bearer(req: &Request) -> bool {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .is_some_and(|token| !token.trim().is_empty())
}

/// Counts the request, refuses it without a token, and maybe injects a fault.
async fn gate(State(app): State<App>, matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let id = method_id(&method, matched.as_ref().map(MatchedPath::as_str));
    let authorized = has_bearer(&req);
    // A wait is a POST but reads; it is no mutation.
    let mutation = method != Method::GET && !id.ends_with(".wait");
    let fault = {
        let mut sim = app.lock();
        sim.stats.count_request(&format!("compute.{id}"), method.as_str());
        if !authorized {
            sim.stats.unauthorized += 1;
            None
        } else {
            sim.maybe_fault(mutation)
        }
    };
    if !authorized {
        return ApiError::unauthenticated().into_response();
    }
    match fault {
        Some(error) => error.into_response(),
        None => next.run(req).await,
    }
}

fn compute_routes() -> Router<App> {
    let r = |path: &str| format!("{P}/{path}");
    Router::new()
        .route(&r("global/networks"), post(networks::insert).get(networks::list))
        .route(&r("global/networks/{network}"), get(networks::get).delete(networks::delete))
        .route(&r("global/networks/{network}/addPeering"), post(peering::add))
        .route(&r("global/networks/{network}/removePeering"), post(peering::remove))
        .route(&r("global/networks/{network}/updatePeering"), axum::routing::patch(peering::update))
        .route(&r("global/networks/{network}/listPeeringRoutes"), get(peering::list_routes))
        .route(&r("global/networks/{network}/getEffectiveFirewalls"), get(firewalls::effective))
        .route(&r("global/firewalls"), post(firewalls::insert).get(firewalls::list))
        .route(
            &r("global/firewalls/{firewall}"),
            get(firewalls::get).patch(firewalls::patch).put(firewalls::update).delete(firewalls::delete),
        )
        .route(&r("global/routes"), post(routes::insert).get(routes::list))
        .route(&r("global/routes/{route}"), get(routes::get).delete(routes::delete))
        .route(&r("aggregated/subnetworks"), get(subnetworks::aggregated_list))
        .route(&r("regions/{region}/subnetworks"), post(subnetworks::insert).get(subnetworks::list))
        .route(&r("regions/{region}/subnetworks/{subnetwork}"), get(subnetworks::get).delete(subnetworks::delete))
        .route(&r("global/operations/{operation}"), get(operations::global_get))
        .route(&r("global/operations/{operation}/wait"), post(operations::global_wait))
        .route(&r("regions/{region}/operations/{operation}"), get(operations::region_get))
        .route(&r("regions/{region}/operations/{operation}/wait"), post(operations::region_wait))
}

async fn get_config(State(app): State<App>) -> Json<Value> {
    Json(json!(app.lock().config.view()))
}

/// `POST /_sim/config`: a partial `ConfigUpdate`; answers the new knobs.
async fn post_config(State(app): State<App>, body: Bytes) -> Response {
    let update: ConfigUpdate = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": e.to_string()}))).into_response();
        }
    };
    let mut sim = app.lock();
    if let Err(e) = sim.config.apply(&update) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response();
    }
    if let Some(seed) = update.seed {
        sim.fault_rng = SplitMix64::new(seed);
    }
    Json(json!(sim.config.view())).into_response()
}

async fn get_stats(State(app): State<App>) -> Json<Value> {
    Json(json!(app.lock().stats))
}

/// `POST /_sim/reset`: forget every resource, operation and counter.
async fn post_reset(State(app): State<App>) -> StatusCode {
    app.lock().reset();
    StatusCode::NO_CONTENT
}

async fn fallback() -> ApiError {
    ApiError::not_found_url()
}

/// The whole application.
pub fn router(app: App) -> Router {
    let compute = compute_routes().route_layer(middleware::from_fn_with_state(app.clone(), gate));
    Router::new()
        .merge(compute)
        .route("/_sim/config", get(get_config).post(post_config))
        .route("/_sim/stats", get(get_stats))
        .route("/_sim/reset", post(post_reset))
        .fallback(fallback)
        .with_state(app)
}
