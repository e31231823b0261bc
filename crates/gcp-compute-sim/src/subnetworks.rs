//! `subnetworks.insert/get/list/delete/aggregatedList`: regional resources
//! whose mutations return region operations.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, OperationFailure};
use crate::links::{link, network_path, parse_network_ref, parse_region_ref, region_path, subnetwork_path};
use crate::list::{ListParams, list_response};
use crate::operations::{Effect, Lock, OpRequest, Params, mutate};
use crate::state::{App, Sim, SubnetworkRecord};
use crate::util::{check_name, rfc3339};
use crate::{cidr, regions, schema};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubnetworkInput {
    name: Option<String>,
    description: Option<String>,
    network: Option<String>,
    ip_cidr_range: Option<String>,
    region: Option<String>,
    secondary_ip_ranges: Option<Vec<SecondaryInput>>,
    private_ip_google_access: Option<bool>,
    stack_type: Option<String>,
    purpose: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecondaryInput {
    range_name: Option<String>,
    ip_cidr_range: Option<String>,
}

fn check_region(project: &str, region: &str) -> Result<(), ApiError> {
    match regions::known(region) {
        true => Ok(()),
        false => Err(ApiError::not_found(&region_path(project, region))),
    }
}

fn parse_cidr(field: &str, value: Option<&str>) -> Result<IpNet, ApiError> {
    let value = value.ok_or_else(|| ApiError::required(field))?;
    match cidr::parse_network(value) {
        Some(net @ IpNet::V4(v4)) if v4.prefix_len() <= 29 => Ok(net),
        _ => Err(ApiError::invalid_field(
            field,
            value,
            "Must be a valid IPv4 CIDR range with a prefix length of at most /29 and no host bits set.",
        )),
    }
}

fn secondary_ranges(input: Vec<SecondaryInput>) -> Result<Vec<(String, IpNet)>, ApiError> {
    let mut out: Vec<(String, IpNet)> = Vec::new();
    for (i, s) in input.into_iter().enumerate() {
        let name = check_name(s.range_name.as_deref(), &format!("resource.secondaryIpRanges[{i}].rangeName"))?;
        let range = parse_cidr(&format!("resource.secondaryIpRanges[{i}].ipCidrRange"), s.ip_cidr_range.as_deref())?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(ApiError::invalid_field(&format!("resource.secondaryIpRanges[{i}].rangeName"), &name, "Names must be unique."));
        }
        out.push((name, range));
    }
    Ok(out)
}

/// Compute refuses ranges overlapping each other or another subnetwork of
/// the same network.
fn check_overlap(sim: &Sim, project: &str, rec: &SubnetworkRecord) -> Result<(), ApiError> {
    let mine: Vec<IpNet> = std::iter::once(rec.ip_cidr_range).chain(rec.secondary_ranges.iter().map(|(_, r)| *r)).collect();
    for (i, a) in mine.iter().enumerate() {
        if let Some(b) = mine[i + 1..].iter().find(|b| cidr::overlaps(a, b)) {
            return Err(ApiError::invalid(format!("Invalid IPCidrRange: {b} conflicts with {a} of the same subnetwork.")));
        }
    }
    for other in sim.subnetworks_of(project, &rec.network) {
        let theirs = std::iter::once(other.ip_cidr_range).chain(other.secondary_ranges.iter().map(|(_, r)| *r));
        for t in theirs {
            if let Some(m) = mine.iter().find(|m| cidr::overlaps(m, &t)) {
                return Err(ApiError::invalid(format!(
                    "Invalid IPCidrRange: {m} conflicts with existing subnetwork '{}' in region '{}'.",
                    other.name, other.region
                )));
            }
        }
    }
    Ok(())
}

fn subnet_from_input(sim: &mut Sim, project: &str, region: &str, input: SubnetworkInput) -> Result<SubnetworkRecord, ApiError> {
    let name = check_name(input.name.as_deref(), "resource.name")?;
    if let Some(r) = input.region.as_ref().filter(|r| parse_region_ref(r) != region) {
        return Err(ApiError::invalid_field("resource.region", r, "Must match the region of the request."));
    }
    let reference = input.network.ok_or_else(|| ApiError::required("resource.network"))?;
    let (net_project, network) = parse_network_ref(&reference, project, "resource.network")?;
    if net_project != project || sim.network(&net_project, &network).is_none() {
        return Err(ApiError::not_found(&network_path(&net_project, &network)));
    }
    let ip_cidr_range = parse_cidr("resource.ipCidrRange", input.ip_cidr_range.as_deref())?;
    let stack_type = input.stack_type.unwrap_or_else(|| "IPV4_ONLY".into());
    if !["IPV4_ONLY", "IPV4_IPV6", "IPV6_ONLY"].contains(&stack_type.as_str()) {
        return Err(ApiError::invalid_field("resource.stackType", &stack_type, ""));
    }
    Ok(SubnetworkRecord {
        name,
        region: region.to_string(),
        id: sim.new_id(),
        created: SystemTime::now(),
        description: input.description,
        network,
        ip_cidr_range,
        secondary_ranges: secondary_ranges(input.secondary_ip_ranges.unwrap_or_default())?,
        private_ip_google_access: input.private_ip_google_access.unwrap_or(false),
        stack_type,
        purpose: input.purpose.unwrap_or_else(|| "PRIVATE".into()),
        fingerprint: format!("{:016x}", sim.id_rng.next_u64()),
        auto_created: false,
    })
}

/// The `compute#subnetwork` resource.
fn render(project: &str, s: &SubnetworkRecord) -> Value {
    let mut v = json!({
        "kind": "compute#subnetwork",
        "id": s.id.to_string(),
        "creationTimestamp": rfc3339(s.created),
        "name": s.name,
        "network": link(&network_path(project, &s.network)),
        "ipCidrRange": s.ip_cidr_range.to_string(),
        "gatewayAddress": cidr::gateway(&s.ip_cidr_range),
        "region": link(&region_path(project, &s.region)),
        "selfLink": link(&subnetwork_path(project, &s.region, &s.name)),
        "privateIpGoogleAccess": s.private_ip_google_access,
        "fingerprint": s.fingerprint,
        "purpose": s.purpose,
        "stackType": s.stack_type,
        "privateIpv6GoogleAccess": "DISABLE_GOOGLE_ACCESS",
    });
    if let Some(d) = &s.description {
        v["description"] = json!(d);
    }
    if !s.secondary_ranges.is_empty() {
        let ranges: Vec<Value> = s.secondary_ranges.iter().map(|(n, r)| json!({"rangeName": n, "ipCidrRange": r.to_string()})).collect();
        v["secondaryIpRanges"] = Value::Array(ranges);
    }
    v
}

pub async fn insert(
    State(app): State<App>,
    Path((project, region)): Path<(String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    check_region(&project, &region)?;
    let value: Value = schema::parse_body(&body, schema::SUBNETWORK, "resource")?;
    schema::check_nested(&value, "secondaryIpRanges", schema::SUBNETWORK_SECONDARY_RANGE, "resource.secondaryIpRanges[0]")?;
    let input: SubnetworkInput = schema::from_value(value)?;
    mutate(&app, &project, &params, |sim| {
        let rec = subnet_from_input(sim, &project, &region, input)?;
        let path = subnetwork_path(&project, &region, &rec.name);
        if sim.project(&project).is_some_and(|p| p.subnetworks.contains_key(&(region.clone(), rec.name.clone()))) {
            return Err(ApiError::already_exists(&path));
        }
        sim.check_creatable(&path)?;
        check_overlap(sim, &project, &rec)?;
        Ok(OpRequest {
            region: Some(region.clone()),
            op_type: "insert",
            target_path: path.clone(),
            target_id: rec.id,
            locks: vec![Lock::Resource(path)],
            effect: Effect::InsertSubnetwork(project.clone(), rec),
        })
    })
}

pub async fn get(State(app): State<App>, Path((project, region, name)): Path<(String, String, String)>) -> Result<Json<Value>, ApiError> {
    check_region(&project, &region)?;
    let sim = app.lock();
    let rec = sim.project(&project).and_then(|p| p.subnetworks.get(&(region.clone(), name.clone())));
    rec.map(|s| Json(render(&project, s))).ok_or_else(|| ApiError::not_found(&subnetwork_path(&project, &region, &name)))
}

pub async fn list(
    State(app): State<App>,
    Path((project, region)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    check_region(&project, &region)?;
    let lp = ListParams::parse(&params)?;
    let sim = app.lock();
    let items = sim
        .project(&project)
        .into_iter()
        .flat_map(|p| p.subnetworks.values())
        .filter(|s| s.region == region)
        .map(|s| (s.name.clone(), render(&project, s)))
        .collect();
    let (page, next) = lp.page(items);
    let path = format!("{}/subnetworks", region_path(&project, &region));
    Ok(Json(list_response("compute#subnetworkList", &path, page, next)))
}

fn empty_scope(scope: &str) -> Value {
    json!({"warning": {
        "code": "NO_RESULTS_ON_PAGE",
        "message": format!("There are no results for scope '{scope}' on this page."),
        "data": [{"key": "scope", "value": scope}],
    }})
}

/// Every region as a `regions/R` scope: its subnetworks on this page, or
/// Compute's `NO_RESULTS_ON_PAGE` warning.
pub async fn aggregated_list(
    State(app): State<App>,
    Path(project): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let lp = ListParams::parse(&params)?;
    let sim = app.lock();
    let items = sim
        .project(&project)
        .into_iter()
        .flat_map(|p| p.subnetworks.values())
        .map(|s| (format!("{}/{}", s.region, s.name), render(&project, s)))
        .collect();
    let (page, next) = lp.page(items);
    let mut scopes: BTreeMap<String, Vec<Value>> = regions::REGIONS.iter().map(|(r, _)| (format!("regions/{r}"), Vec::new())).collect();
    for item in page {
        let region = item["region"].as_str().map(parse_region_ref).unwrap_or_default();
        scopes.entry(format!("regions/{region}")).or_default().push(item);
    }
    let scoped: serde_json::Map<String, Value> = scopes
        .into_iter()
        .map(|(scope, subnets)| {
            let v = if subnets.is_empty() { empty_scope(&scope) } else { json!({ "subnetworks": subnets }) };
            (scope, v)
        })
        .collect();
    let path = format!("projects/{project}/aggregated/subnetworks");
    let mut list = list_response("compute#subnetworkAggregatedList", &path, Vec::new(), next);
    list["items"] = Value::Object(scoped);
    Ok(Json(list))
}

pub async fn delete(
    State(app): State<App>,
    Path((project, region, name)): Path<(String, String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    check_region(&project, &region)?;
    mutate(&app, &project, &params, |sim| {
        let path = subnetwork_path(&project, &region, &name);
        let rec = sim.project(&project).and_then(|p| p.subnetworks.get(&(region.clone(), name.clone())));
        let rec = rec.ok_or_else(|| ApiError::not_found(&path))?;
        if rec.auto_created {
            return Err(ApiError::bad_request(format!("The subnetwork resource '{path}' of an auto mode network cannot be deleted.")));
        }
        let id = rec.id;
        sim.check_not_busy(&path)?;
        Ok(OpRequest {
            region: Some(region.clone()),
            op_type: "delete",
            target_path: path.clone(),
            target_id: id,
            locks: vec![Lock::Resource(path)],
            effect: Effect::DeleteSubnetwork { project: project.clone(), region: region.clone(), name: name.clone() },
        })
    })
}

impl Sim {
    pub fn apply_insert_subnetwork(&mut self, project: &str, rec: SubnetworkRecord) -> Result<(), OperationFailure> {
        if self.network(project, &rec.network).is_none() {
            let path = network_path(project, &rec.network);
            return Err(OperationFailure::new("RESOURCE_NOT_FOUND", 404, format!("The resource '{path}' was not found")));
        }
        // Another insert may have taken the range while this one ran.
        if let Err(e) = check_overlap(self, project, &rec) {
            return Err(OperationFailure::new("INVALID_USAGE", 400, e.message));
        }
        self.project_mut(project).subnetworks.insert((rec.region.clone(), rec.name.clone()), rec);
        Ok(())
    }

    pub fn apply_delete_subnetwork(&mut self, project: &str, region: &str, name: &str) -> Result<(), OperationFailure> {
        match self.project_mut(project).subnetworks.remove(&(region.to_string(), name.to_string())) {
            Some(_) => Ok(()),
            None => Err(OperationFailure::new(
                "RESOURCE_NOT_FOUND",
                404,
                format!("The resource '{}' was not found", subnetwork_path(project, region, name)),
            )),
        }
    }
}
