//! `firewalls.insert/get/list/patch/update/delete` and
//! `networks.getEffectiveFirewalls`. Patch is a JSON merge patch of the
//! stored rule; update replaces it whole; both re-validate.

use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, OperationFailure};
use crate::links::{firewall_path, link, network_path, parse_network_ref};
use crate::list::{ListParams, list_response};
use crate::operations::{Effect, Lock, OpRequest, Params, mutate};
use crate::state::{App, FirewallRecord, Sim};
use crate::util::{check_name, rfc3339};
use crate::{cidr, schema};

const PROTOCOLS: [&str; 8] = ["tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip", "all"];

/// A rule's user-settable fields, validated and normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct FirewallSpec {
    pub name: String,
    pub description: String,
    /// `projects/p/global/networks/n`
    pub network: String,
    pub priority: i64,
    pub direction: String,
    pub allowed: Vec<Rule>,
    pub denied: Vec<Rule>,
    pub source_ranges: Vec<String>,
    pub destination_ranges: Vec<String>,
    pub source_tags: Vec<String>,
    pub target_tags: Vec<String>,
    pub source_service_accounts: Vec<String>,
    pub target_service_accounts: Vec<String>,
    pub disabled: bool,
    pub log_enable: bool,
    pub log_metadata: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Rule {
    #[serde(rename = "IPProtocol")]
    protocol: Option<String>,
    #[serde(default)]
    ports: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FirewallInput {
    name: Option<String>,
    description: Option<String>,
    network: Option<String>,
    priority: Option<i64>,
    direction: Option<String>,
    allowed: Option<Vec<Rule>>,
    denied: Option<Vec<Rule>>,
    source_ranges: Option<Vec<String>>,
    destination_ranges: Option<Vec<String>>,
    source_tags: Option<Vec<String>>,
    target_tags: Option<Vec<String>>,
    source_service_accounts: Option<Vec<String>>,
    target_service_accounts: Option<Vec<String>>,
    disabled: Option<bool>,
    log_config: Option<LogConfigInput>,
}

#[derive(Debug, Default, Deserialize)]
struct LogConfigInput {
    enable: Option<bool>,
    metadata: Option<String>,
}

fn check_value(value: &Value) -> Result<(), ApiError> {
    schema::check_keys(value, schema::FIREWALL, "resource")?;
    for member in ["allowed", "denied"] {
        schema::check_nested(value, member, &["IPProtocol", "ports"], &format!("resource.{member}[0]"))?;
    }
    schema::check_nested(value, "logConfig", schema::FIREWALL_LOG_CONFIG, "resource.logConfig")
}

fn check_port(port: &str) -> bool {
    let valid = |p: &str| p.parse::<u16>().is_ok();
    match port.split_once('-') {
        Some((a, b)) => valid(a) && valid(b) && a.parse::<u16>().ok() <= b.parse::<u16>().ok(),
        None => valid(port),
    }
}

fn check_rules(rules: &[Rule], field: &str) -> Result<(), ApiError> {
    for (i, rule) in rules.iter().enumerate() {
        let proto_field = format!("resource.{field}[{i}].IPProtocol");
        let proto = rule.protocol.as_deref().ok_or_else(|| ApiError::required(&proto_field))?;
        let numeric = proto.parse::<u8>().is_ok();
        if !numeric && !PROTOCOLS.contains(&proto) {
            return Err(ApiError::invalid_field(&proto_field, proto, ""));
        }
        if !rule.ports.is_empty() && !matches!(proto, "tcp" | "udp" | "sctp" | "all" | "6" | "17" | "132") {
            return Err(ApiError::invalid_field(
                &format!("resource.{field}[{i}].ports"),
                &rule.ports.join(","),
                "Ports may only be specified for tcp, udp, sctp and all.",
            ));
        }
        if let Some(bad) = rule.ports.iter().find(|p| !check_port(p)) {
            return Err(ApiError::invalid_field(&format!("resource.{field}[{i}].ports"), bad, "Invalid port."));
        }
    }
    Ok(())
}

fn check_ranges(ranges: &[String], field: &str) -> Result<(), ApiError> {
    match ranges.iter().enumerate().find(|(_, r)| cidr::parse_range(r).is_none()) {
        Some((i, bad)) => Err(ApiError::invalid_field(
            &format!("resource.{field}[{i}]"),
            bad,
            "Must be a CIDR address range that is contained in the network.",
        )),
        None => Ok(()),
    }
}

fn one_of(field: &str, value: Option<String>, allowed: &[&str]) -> Result<String, ApiError> {
    match value {
        None => Ok(allowed[0].to_string()),
        Some(v) if allowed.contains(&v.as_str()) => Ok(v),
        Some(v) => Err(ApiError::invalid_field(field, &v, "")),
    }
}

/// The rule's network (`global/networks/default` when not given), which must exist.
fn resolve_network(sim: &Sim, project: &str, reference: Option<String>) -> Result<String, ApiError> {
    let reference = reference.unwrap_or_else(|| "global/networks/default".into());
    let (net_project, net_name) = parse_network_ref(&reference, project, "resource.network")?;
    let network = network_path(&net_project, &net_name);
    match sim.network(&net_project, &net_name) {
        Some(_) => Ok(network),
        None => Err(ApiError::not_found(&network)),
    }
}

fn check_allowed_denied(allowed: &[Rule], denied: &[Rule]) -> Result<(), ApiError> {
    match (allowed.is_empty(), denied.is_empty()) {
        (true, true) => Err(ApiError::required("resource.allowed")),
        (false, false) => Err(ApiError::invalid("Exactly one of 'allowed' or 'denied' must be specified.")),
        _ => {
            check_rules(allowed, "allowed")?;
            check_rules(denied, "denied")
        }
    }
}

/// Validates a body into a spec, applying Compute's defaults.
fn spec_from_input(sim: &Sim, project: &str, input: FirewallInput) -> Result<FirewallSpec, ApiError> {
    let name = check_name(input.name.as_deref(), "resource.name")?;
    let network = resolve_network(sim, project, input.network)?;
    let priority = input.priority.unwrap_or(1000);
    if !(0..=65535).contains(&priority) {
        return Err(ApiError::invalid_field("resource.priority", &priority.to_string(), "Must be between 0 and 65535."));
    }
    let direction = one_of("resource.direction", input.direction, &["INGRESS", "EGRESS"])?;
    let (allowed, denied) = (input.allowed.unwrap_or_default(), input.denied.unwrap_or_default());
    check_allowed_denied(&allowed, &denied)?;
    let source_ranges = input.source_ranges.unwrap_or_default();
    let destination_ranges = input.destination_ranges.unwrap_or_default();
    check_ranges(&source_ranges, "sourceRanges")?;
    check_ranges(&destination_ranges, "destinationRanges")?;
    let source_tags = input.source_tags.unwrap_or_default();
    if direction == "EGRESS" && !source_tags.is_empty() {
        return Err(ApiError::invalid("Source tags cannot be specified for an EGRESS firewall rule."));
    }
    let log = input.log_config.unwrap_or_default();
    let log_metadata = log
        .metadata
        .map(|m| one_of("resource.logConfig.metadata", Some(m), &["INCLUDE_ALL_METADATA", "EXCLUDE_ALL_METADATA"]))
        .transpose()?;
    Ok(FirewallSpec {
        name,
        description: input.description.unwrap_or_default(),
        network,
        priority,
        direction,
        allowed,
        denied,
        source_ranges,
        destination_ranges,
        source_tags,
        target_tags: input.target_tags.unwrap_or_default(),
        source_service_accounts: input.source_service_accounts.unwrap_or_default(),
        target_service_accounts: input.target_service_accounts.unwrap_or_default(),
        disabled: input.disabled.unwrap_or(false),
        log_enable: log.enable.unwrap_or(false),
        log_metadata,
    })
}

fn rules_json(rules: &[Rule]) -> Value {
    let items: Vec<Value> = rules
        .iter()
        .map(|r| {
            let mut v = json!({"IPProtocol": r.protocol});
            if !r.ports.is_empty() {
                v["ports"] = json!(r.ports);
            }
            v
        })
        .collect();
    Value::Array(items)
}

/// The user-settable part of a rule as JSON (the base of a merge patch).
fn spec_json(spec: &FirewallSpec) -> Value {
    let mut v = json!({
        "name": spec.name,
        "description": spec.description,
        "network": link(&spec.network),
        "priority": spec.priority,
        "direction": spec.direction,
        "disabled": spec.disabled,
        "logConfig": {"enable": spec.log_enable},
    });
    if let Some(m) = &spec.log_metadata {
        v["logConfig"]["metadata"] = json!(m);
    }
    let lists = [
        ("sourceRanges", &spec.source_ranges),
        ("destinationRanges", &spec.destination_ranges),
        ("sourceTags", &spec.source_tags),
        ("targetTags", &spec.target_tags),
        ("sourceServiceAccounts", &spec.source_service_accounts),
        ("targetServiceAccounts", &spec.target_service_accounts),
    ];
    for (key, list) in lists.into_iter().filter(|(_, l)| !l.is_empty()) {
        v[key] = json!(list);
    }
    if !spec.allowed.is_empty() {
        v["allowed"] = rules_json(&spec.allowed);
    }
    if !spec.denied.is_empty() {
        v["denied"] = rules_json(&spec.denied);
    }
    v
}

/// The `compute#firewall` resource.
pub fn render(project: &str, rec: &FirewallRecord) -> Value {
    let mut v = spec_json(&rec.spec);
    v["kind"] = json!("compute#firewall");
    v["id"] = json!(rec.id.to_string());
    v["creationTimestamp"] = json!(rfc3339(rec.created));
    v["selfLink"] = json!(link(&firewall_path(project, &rec.spec.name)));
    v
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(t) = target {
        for (k, v) in patch {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

fn parse_value(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = schema::parse_body(body, schema::FIREWALL, "resource")?;
    check_value(&value)?;
    Ok(value)
}

fn put_request(project: &str, op_type: &'static str, rec: FirewallRecord) -> OpRequest {
    let path = firewall_path(project, &rec.spec.name);
    OpRequest {
        region: None,
        op_type,
        target_path: path.clone(),
        target_id: rec.id,
        locks: vec![Lock::Resource(path)],
        effect: Effect::PutFirewall(project.to_string(), rec),
    }
}

pub async fn insert(
    State(app): State<App>,
    Path(project): Path<String>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let input: FirewallInput = schema::from_value(parse_value(&body)?)?;
    mutate(&app, &project, &params, |sim| {
        let spec = spec_from_input(sim, &project, input)?;
        let path = firewall_path(&project, &spec.name);
        if sim.project(&project).is_some_and(|p| p.firewalls.contains_key(&spec.name)) {
            return Err(ApiError::already_exists(&path));
        }
        sim.check_creatable(&path)?;
        let rec = FirewallRecord { id: sim.new_id(), created: SystemTime::now(), spec };
        Ok(put_request(&project, "insert", rec))
    })
}

/// Patch (merge) or update (replace) of an existing rule.
fn change(app: &App, project: &str, name: &str, params: &Params, body: &[u8], merge: bool) -> Result<Json<Value>, ApiError> {
    let body = parse_value(body)?;
    mutate(app, project, params, |sim| {
        let path = firewall_path(project, name);
        let current = sim.project(project).and_then(|p| p.firewalls.get(name)).ok_or_else(|| ApiError::not_found(&path))?;
        let (id, created) = (current.id, current.created);
        let mut value = if merge { spec_json(&current.spec) } else { json!({"name": name}) };
        merge_patch(&mut value, &body);
        if value.get("name").and_then(Value::as_str) != Some(name) {
            return Err(ApiError::invalid_field("resource.name", &value["name"].to_string(), "The name cannot be changed."));
        }
        let spec = spec_from_input(sim, project, schema::from_value(value)?)?;
        sim.check_not_busy(&path)?;
        Ok(put_request(project, if merge { "patch" } else { "update" }, FirewallRecord { id, created, spec }))
    })
}

pub async fn patch(
    State(app): State<App>,
    Path((project, name)): Path<(String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    change(&app, &project, &name, &params, &body, true)
}

pub async fn update(
    State(app): State<App>,
    Path((project, name)): Path<(String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    change(&app, &project, &name, &params, &body, false)
}

pub async fn get(State(app): State<App>, Path((project, name)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    let sim = app.lock();
    let rec = sim.project(&project).and_then(|p| p.firewalls.get(&name));
    rec.map(|r| Json(render(&project, r))).ok_or_else(|| ApiError::not_found(&firewall_path(&project, &name)))
}

pub async fn list(State(app): State<App>, Path(project): Path<String>, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let lp = ListParams::parse(&params)?;
    let sim = app.lock();
    let items =
        sim.project(&project).into_iter().flat_map(|p| p.firewalls.values()).map(|f| (f.spec.name.clone(), render(&project, f))).collect();
    let (page, next) = lp.page(items);
    Ok(Json(list_response("compute#firewallList", &format!("projects/{project}/global/firewalls"), page, next)))
}

pub async fn delete(
    State(app): State<App>,
    Path((project, name)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    mutate(&app, &project, &params, |sim| {
        let path = firewall_path(&project, &name);
        let rec = sim.project(&project).and_then(|p| p.firewalls.get(&name)).ok_or_else(|| ApiError::not_found(&path))?;
        let id = rec.id;
        sim.check_not_busy(&path)?;
        Ok(OpRequest {
            region: None,
            op_type: "delete",
            target_path: path.clone(),
            target_id: id,
            locks: vec![Lock::Resource(path)],
            effect: Effect::DeleteFirewall(project.clone(), name.clone()),
        })
    })
}

/// The classic VPC firewall rules of a network (no firewall policies are modelled).
pub async fn effective(State(app): State<App>, Path((project, network)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    let sim = app.lock();
    let path = network_path(&project, &network);
    if sim.network(&project, &network).is_none() {
        return Err(ApiError::not_found(&path));
    }
    let rules: Vec<Value> = sim
        .projects
        .iter()
        .flat_map(|(p, proj)| proj.firewalls.values().map(move |f| (p, f)))
        .filter(|(_, f)| f.spec.network == path)
        .map(|(p, f)| render(p, f))
        .collect();
    Ok(Json(json!({ "firewalls": rules })))
}

impl Sim {
    pub fn apply_put_firewall(&mut self, project: &str, rec: FirewallRecord) -> Result<(), OperationFailure> {
        self.project_mut(project).firewalls.insert(rec.spec.name.clone(), rec);
        Ok(())
    }

    pub fn apply_delete_firewall(&mut self, project: &str, name: &str) -> Result<(), OperationFailure> {
        match self.project_mut(project).firewalls.remove(name) {
            Some(_) => Ok(()),
            None => Err(OperationFailure::new(
                "RESOURCE_NOT_FOUND",
                404,
                format!("The resource '{}' was not found", firewall_path(project, name)),
            )),
        }
    }
}
