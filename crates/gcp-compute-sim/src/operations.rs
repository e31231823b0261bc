//! Operations: every mutation returns one, stays `RUNNING` for the
//! configured latency and only then takes effect (reads before that show
//! the old state); `globalOperations` / `regionOperations` get and wait.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::error::{ApiError, OperationFailure};
use crate::links::{link, region_path};
use crate::state::{App, FirewallRecord, NetworkRecord, PeeringRecord, RouteRecord, Sim, SubnetworkRecord};
use crate::util::{rfc3339, valid_uuid};

/// Query parameters of any request.
pub type Params = HashMap<String, String>;

/// The longest a `wait` call blocks, as Compute's.
const WAIT_CAP: Duration = Duration::from_secs(120);

/// What a running operation holds, so conflicting mutations fail at once.
#[derive(Debug, Clone, PartialEq)]
pub enum Lock {
    /// The target resource (path): other mutations get `resourceNotReady`.
    Resource(String),
    /// A peering operation on this network path.
    Peering(String),
    /// A route operation on this network path.
    Route(String),
}

/// The change an operation makes when it completes.
#[derive(Debug, Clone)]
pub enum Effect {
    InsertNetwork(String, NetworkRecord),
    DeleteNetwork(String, String),
    AddPeering { project: String, network: String, peering: PeeringRecord },
    RemovePeering { project: String, network: String, name: String },
    UpdatePeering { project: String, network: String, update: crate::peering::PeeringUpdate },
    InsertSubnetwork(String, SubnetworkRecord),
    DeleteSubnetwork { project: String, region: String, name: String },
    PutFirewall(String, FirewallRecord),
    DeleteFirewall(String, String),
    InsertRoute(String, RouteRecord),
    DeleteRoute(String, String),
}

/// What a handler asks for after validating a mutation.
pub struct OpRequest {
    /// `Some` for regional operations (subnetworks).
    pub region: Option<String>,
    pub op_type: &'static str,
    pub target_path: String,
    pub target_id: u64,
    pub locks: Vec<Lock>,
    pub effect: Effect,
}

/// A stored operation.
#[derive(Debug)]
pub struct OpRecord {
    pub id: u64,
    pub name: String,
    pub path: String,
    pub region: Option<String>,
    pub op_type: &'static str,
    pub target_link: String,
    pub target_id: u64,
    pub client_operation_id: Option<String>,
    pub inserted: SystemTime,
    pub due: Instant,
    pub due_wall: SystemTime,
    pub seq: u64,
    pub done: bool,
    pub failure: Option<OperationFailure>,
    pub effect: Option<Effect>,
    pub locks: Vec<Lock>,
}

impl OpRecord {
    /// The `compute#operation` resource.
    pub fn render(&self) -> Value {
        let mut op = json!({
            "kind": "compute#operation",
            "id": self.id.to_string(),
            "name": self.name,
            "operationType": self.op_type,
            "targetLink": self.target_link,
            "targetId": self.target_id.to_string(),
            "status": if self.done { "DONE" } else { "RUNNING" },
            "user": "gcp-compute-sim@localhost",
            "progress": if self.done { 100 } else { 0 },
            "insertTime": rfc3339(self.inserted),
            "startTime": rfc3339(self.inserted),
            "selfLink": link(&self.path),
        });
        if let Some(region) = &self.region {
            op["region"] = json!(region);
        }
        if let Some(id) = &self.client_operation_id {
            op["clientOperationId"] = json!(id);
        }
        if self.done {
            op["endTime"] = json!(rfc3339(self.due_wall));
        }
        if let Some(f) = &self.failure {
            op["error"] = json!({"errors": [{"code": f.code, "message": f.message}]});
            op["httpErrorStatusCode"] = json!(f.http_status);
            op["httpErrorMessage"] = json!(f.http_message());
        }
        op
    }
}

impl Sim {
    /// Applies, in order, every operation whose latency has passed.
    pub fn advance(&mut self, now: Instant) {
        let mut due: Vec<(Instant, u64, String)> =
            self.operations.iter().filter(|(_, r)| !r.done && r.due <= now).map(|(k, r)| (r.due, r.seq, k.clone())).collect();
        if due.is_empty() {
            return;
        }
        due.sort();
        for (_, _, key) in due {
            let Some(rec) = self.operations.get_mut(&key) else {
                continue;
            };
            let effect = rec.effect.take();
            let when = rec.due_wall;
            let result = match effect {
                Some(effect) => self.apply(effect, when),
                None => Ok(()),
            };
            if result.is_err() {
                self.stats.operations_failed += 1;
            }
            if let Some(rec) = self.operations.get_mut(&key) {
                rec.done = true;
                rec.failure = result.err();
            }
            self.refresh_peering_states(when);
        }
    }

    fn apply(&mut self, effect: Effect, when: SystemTime) -> Result<(), OperationFailure> {
        match effect {
            Effect::InsertNetwork(project, rec) => self.apply_insert_network(&project, rec),
            Effect::DeleteNetwork(project, name) => self.apply_delete_network(&project, &name),
            Effect::AddPeering { project, network, peering } => self.apply_add_peering(&project, &network, peering),
            Effect::RemovePeering { project, network, name } => self.apply_remove_peering(&project, &network, &name),
            Effect::UpdatePeering { project, network, update } => self.apply_update_peering(&project, &network, &update),
            Effect::InsertSubnetwork(project, rec) => self.apply_insert_subnetwork(&project, rec),
            Effect::DeleteSubnetwork { project, region, name } => self.apply_delete_subnetwork(&project, &region, &name),
            Effect::PutFirewall(project, rec) => self.apply_put_firewall(&project, rec),
            Effect::DeleteFirewall(project, name) => self.apply_delete_firewall(&project, &name),
            Effect::InsertRoute(project, rec) => self.apply_insert_route(&project, rec, when),
            Effect::DeleteRoute(project, name) => self.apply_delete_route(&project, &name),
        }
    }

    /// Records a new `RUNNING` operation and returns it as JSON.
    pub fn submit(&mut self, project: &str, req: OpRequest, request_id: Option<&str>) -> Value {
        let latency = self.config.operation_latency;
        let (now, wall) = (Instant::now(), SystemTime::now());
        let id = self.new_id();
        let millis = wall.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let (a, b) = (self.id_rng.next_u64(), self.id_rng.next_u64());
        let name = format!("operation-{millis}-{:013x}-{:08x}-{:08x}", a >> 12, b >> 32, b & 0xffff_ffff);
        let scope = match &req.region {
            Some(region) => region_path(project, region),
            None => format!("projects/{project}/global"),
        };
        let path = format!("{scope}/operations/{name}");
        self.op_seq += 1;
        let rec = OpRecord {
            id,
            name,
            path: path.clone(),
            region: req.region.as_ref().map(|r| link(&region_path(project, r))),
            op_type: req.op_type,
            target_link: link(&req.target_path),
            target_id: req.target_id,
            client_operation_id: request_id.map(str::to_string),
            inserted: wall,
            due: now + latency,
            due_wall: wall + latency,
            seq: self.op_seq,
            done: false,
            failure: None,
            effect: Some(req.effect),
            locks: req.locks,
        };
        self.operations.insert(path.clone(), rec);
        if let Some(rid) = request_id {
            self.request_ids.insert((project.to_string(), rid.to_string()), path.clone());
        }
        self.stats.operations_started += 1;
        if latency.is_zero() {
            self.advance(Instant::now());
        }
        self.operations.get(&path).map(OpRecord::render).unwrap_or(Value::Null)
    }

    /// The operation an earlier call with this `requestId` started, if any.
    pub fn replay(&self, project: &str, request_id: &str) -> Option<Value> {
        let path = self.request_ids.get(&(project.to_string(), request_id.to_string()))?;
        self.operations.get(path).map(OpRecord::render)
    }

    fn running_locks(&self) -> impl Iterator<Item = &Lock> {
        self.operations.values().filter(|r| !r.done).flat_map(|r| r.locks.iter())
    }

    /// Fails with `resourceNotReady` while another operation works on `path`.
    pub fn check_not_busy(&self, path: &str) -> Result<(), ApiError> {
        match self.running_locks().any(|l| *l == Lock::Resource(path.to_string())) {
            true => Err(ApiError::not_ready(path)),
            false => Ok(()),
        }
    }

    /// Fails with 409 while an insert of the same resource is still running.
    pub fn check_creatable(&self, path: &str) -> Result<(), ApiError> {
        match self.running_locks().any(|l| *l == Lock::Resource(path.to_string())) {
            true => Err(ApiError::already_exists(path)),
            false => Ok(()),
        }
    }

    /// Google's one-peering-operation-at-a-time rule for a pair of networks.
    pub fn check_peering_free(&self, networks: &[&str]) -> Result<(), ApiError> {
        for lock in self.running_locks() {
            match lock {
                Lock::Peering(n) if networks.contains(&n.as_str()) => {
                    return Err(ApiError::bad_request(
                        "There is a peering operation in progress on the local or peer network. Try again later.",
                    ));
                }
                Lock::Route(n) if networks.contains(&n.as_str()) => {
                    return Err(ApiError::bad_request(
                        "There is a route operation in progress on the local or peer network. Try again later.",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The skeleton of every mutating handler: replay a known `requestId`,
/// validate and build the change, then start its operation.
pub fn mutate(
    app: &App,
    project: &str,
    params: &Params,
    build: impl FnOnce(&mut Sim) -> Result<OpRequest, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let request_id = params.get("requestId").map(String::as_str).filter(|s| !s.is_empty());
    if let Some(rid) = request_id.filter(|rid| !valid_uuid(rid)) {
        return Err(ApiError::invalid_field(
            "requestId",
            rid,
            "Must be a valid UUID with the exception that zero UUID is not supported (00000000-0000-0000-0000-000000000000).",
        ));
    }
    let mut sim = app.lock();
    if let Some(op) = request_id.and_then(|rid| sim.replay(project, rid)) {
        return Ok(Json(op));
    }
    let req = build(&mut sim)?;
    Ok(Json(sim.submit(project, req, request_id)))
}

fn global_op_path(project: &str, op: &str) -> String {
    format!("projects/{project}/global/operations/{op}")
}

fn region_op_path(project: &str, region: &str, op: &str) -> String {
    format!("{}/operations/{op}", region_path(project, region))
}

fn get_op(app: &App, path: &str) -> Result<Json<Value>, ApiError> {
    let sim = app.lock();
    sim.operations.get(path).map(|r| Json(r.render())).ok_or_else(|| ApiError::not_found(path))
}

/// Long-polls until the operation is due (at most two minutes), then
/// answers with it, `DONE` or not, as Compute's `wait` does.
async fn wait_op(app: &App, path: &str) -> Result<Json<Value>, ApiError> {
    let remaining = {
        let sim = app.lock();
        let rec = sim.operations.get(path).ok_or_else(|| ApiError::not_found(path))?;
        if rec.done {
            return Ok(Json(rec.render()));
        }
        rec.due.saturating_duration_since(Instant::now())
    };
    tokio::time::sleep(remaining.min(WAIT_CAP) + Duration::from_millis(1)).await;
    get_op(app, path)
}

pub async fn global_get(State(app): State<App>, Path((p, op)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    get_op(&app, &global_op_path(&p, &op))
}

pub async fn global_wait(State(app): State<App>, Path((p, op)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    wait_op(&app, &global_op_path(&p, &op)).await
}

pub async fn region_get(State(app): State<App>, Path((p, r, op)): Path<(String, String, String)>) -> Result<Json<Value>, ApiError> {
    get_op(&app, &region_op_path(&p, &r, &op))
}

pub async fn region_wait(State(app): State<App>, Path((p, r, op)): Path<(String, String, String)>) -> Result<Json<Value>, ApiError> {
    wait_op(&app, &region_op_path(&p, &r, &op)).await
}
