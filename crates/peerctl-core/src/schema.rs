//! The JSON Schema (draft 2020-12) of a spec file, for editors
//! (`# yaml-language-server: $schema=…`) and `peerctl schema`.
//!
//! The decoder (`decode.rs`) is what judges a spec; the schema describes the
//! same mappings from the same key lists (`decode::keys`), the same protocols
//! (`Protocol::VALUES`) and the same name rule (`NAME_REGEX`). It accepts
//! every spec the decoder accepts and refuses what it can express (unknown
//! keys, types, value formats, `aws` xor `gcp`); checks across peerings
//! (unique names, self-peering) and against the clouds are the decoder's and
//! the planner's. `schema_tests` holds the two together.

use crate::decode::keys;
use crate::spec::{NAME_REGEX, Protocol, SPEC_VERSION};
use serde_json::{Map, Value, json};

/// The JSON Schema of a spec file; `docs/peerctl.schema.json` is this, pretty-printed.
pub fn spec_schema() -> Value {
    let mut schema = mapping(keys::SPEC, &["version", "owner"], |key| {
        Some(match key {
            "version" => ("Spec format version; this peerctl reads 1.", json!({"const": SPEC_VERSION})),
            "owner" => ("Scopes ownership: peerctl changes or deletes only objects tagged with this owner.", reference("name")),
            "aws" => ("Defaults for AWS sides.", aws_defaults()),
            "gcp" => ("Defaults for GCP peerings.", gcp_defaults()),
            "peerings" => ("The peerings that should exist; missing means none.", json!({"type": "array", "items": reference("peering")})),
            _ => return None,
        })
    });
    let object = schema.as_object_mut().expect("an object");
    object.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
    object.insert("title".into(), json!("peerctl spec"));
    object.insert("description".into(), json!("The VPC peerings (AWS) and network peerings (GCP) that should exist; see docs/spec.md."));
    object.insert("$defs".into(), defs());
    schema
}

fn defs() -> Value {
    let string = |pattern: String, description: &str| json!({"type": "string", "pattern": pattern, "description": description});
    json!({
        "name": string(
            format!("^{NAME_REGEX}$"),
            "Lowercase letters, digits and dashes, starting with a letter, ending with a letter or digit, at most 63 characters.",
        ),
        "region": string("^[a-z0-9]+(-[a-z0-9]+)+-[0-9]+$".into(), "An AWS region, like us-east-1."),
        "profile": string(r"\S".into(), "A named AWS profile."),
        "role_arn": string(
            "^arn:aws[^:]*:iam::[0-9]{12}:role/.+$".into(),
            "An IAM role ARN, like arn:aws:iam::111111111111:role/peerctl.",
        ),
        "project": string(
            "^[a-z][a-z0-9-]{4,28}[a-z0-9]$".into(),
            "A GCP project id: 6-30 lowercase letters, digits and dashes, starting with a letter, not ending with a dash.",
        ),
        "network": string(
            format!("^(.*/compute/v1/)?(projects/[^/]*/global/networks/)?{NAME_REGEX}$"),
            "A GCP network: a name (in the peering's project), projects/PROJECT/global/networks/NAME, or a URL ending in that path.",
        ),
        "peering": peering(),
        "aws_peering": aws_peering(),
        "aws_side": aws_side(),
        "gcp_peering": gcp_peering(),
        "name_selector": mapping(keys::SELECTOR, &["name"], |key| Some(match key {
            "name" => ("The Name tag to match (for security groups, the group name).", json!({"type": "string", "pattern": r"\S"})),
            _ => return None,
        })),
        "allow": {
            "type": "array",
            "items": reference("rule"),
            "uniqueItems": true,
        },
        "rule": rule(),
    })
}

fn aws_defaults() -> Value {
    mapping(keys::AWS_DEFAULTS, &[], |key| {
        Some(match key {
            "region" => ("Region of every AWS side that sets none.", reference("region")),
            "profile" => ("Named AWS profile of every AWS side that sets none.", reference("profile")),
            "role_arn" => ("IAM role assumed by every AWS side that sets none.", reference("role_arn")),
            _ => return None,
        })
    })
}

fn gcp_defaults() -> Value {
    mapping(keys::GCP_DEFAULTS, &[], |key| {
        Some(match key {
            "project" => ("Project of GCP networks written as a bare name.", reference("project")),
            _ => return None,
        })
    })
}

fn peering() -> Value {
    let mut peering = mapping(keys::PEERING, &["name"], |key| {
        Some(match key {
            "name" => ("Name of the peering, unique in the spec.", reference("name")),
            "absent" => ("Make sure this peering, and what peerctl added for it, is gone.", boolean(false)),
            "aws" => ("An AWS VPC peering (a peering has exactly one of aws and gcp).", reference("aws_peering")),
            "gcp" => ("A GCP network peering (a peering has exactly one of aws and gcp).", reference("gcp_peering")),
            _ => return None,
        })
    });
    // Exactly one of `aws` and `gcp` (a null one counts as omitted).
    let present = |key: &str| json!({"required": [key], "properties": {key: {"not": {"type": "null"}}}});
    let object = peering.as_object_mut().expect("an object");
    object.insert("oneOf".into(), json!([present("aws"), present("gcp")]));
    object.insert(
        "description".into(),
        json!("A peering: its name and exactly one of aws or gcp (AWS to GCP is not peering; it needs a VPN or Interconnect)."),
    );
    peering
}

fn aws_peering() -> Value {
    mapping(keys::AWS_PEERING, &["requester", "accepter"], |key| {
        Some(match key {
            "requester" => ("The VPC that requests the peering (the BYOC VPC in the EMQX guide).", reference("aws_side")),
            "accepter" => ("The VPC that accepts the peering; may be in another region and/or account.", reference("aws_side")),
            "allow" => {
                ("Inbound rules added to each side's security groups, from the other side's ranges; omitted: all TCP, []: none.", allow())
            }
            "dns_resolution" => ("Allow DNS resolution of the remote VPC's private hostnames, both ways.", boolean(false)),
            "ipv6" => ("Also route to, and allow from, the peer VPC's IPv6 ranges.", boolean(false)),
            "adopt" => (
                "An existing connection between the two VPCs that this peering takes over (peerctl import writes it): apply tags it, and the matching rules, instead of reporting a conflict.",
                json!({"type": "string", "pattern": "^pcx-([0-9a-f]{8}|[0-9a-f]{17})$"}),
            ),
            _ => return None,
        })
    })
}

fn aws_side() -> Value {
    mapping(keys::AWS_SIDE, &["vpc"], |key| {
        Some(match key {
            "vpc" => ("The VPC: an id (vpc-…) or {name: …} (its Name tag).", selector("vpc")),
            "region" => ("Region of this side; default: aws.region.", reference("region")),
            "profile" => ("Named AWS profile for this side; default: aws.profile.", reference("profile")),
            "role_arn" => ("IAM role assumed for this side, on top of its credentials; default: aws.role_arn.", reference("role_arn")),
            "route_tables" => (
                "Route tables that get routes to the peer's ranges: all (every route table of the VPC), or ids and {name: …}; [] for none.",
                with_default(selection("rtb"), json!("all")),
            ),
            "security_groups" => (
                "Security groups that get the allow rules: ids and {name: …} (the group name), or all; default: none.",
                with_default(selection("sg"), json!([])),
            ),
            _ => return None,
        })
    })
}

fn gcp_peering() -> Value {
    mapping(keys::GCP_PEERING, &["network", "peer_network"], |key| {
        Some(match key {
            "project" => ("Project of networks written as a bare name; default: gcp.project.", reference("project")),
            "network" => ("This side's network (the BYOC network in the EMQX guide); route flags are this side's.", reference("network")),
            "peer_network" => ("The network to peer with; its flags are set to match this side's.", reference("network")),
            "export_custom_routes" => ("Export custom routes from network's side (the peer imports them).", boolean(false)),
            "import_custom_routes" => ("Import custom routes into network's side (the peer exports them).", boolean(false)),
            "export_subnet_routes_with_public_ip" => ("Export subnet routes with public IPs from network's side.", boolean(true)),
            "import_subnet_routes_with_public_ip" => {
                ("Import the peer's subnet routes with public IPs into network's side.", boolean(false))
            }
            "allow" => ("Ingress firewall rules on each network, from the other network's ranges; omitted: all TCP, []: none.", allow()),
            "adopt" => (
                "Names of existing peering entries (peerctl import writes them) that this peering uses instead of OWNER--PEERING.",
                mapping(keys::GCP_ADOPT, &["network", "peer_network"], |key| {
                    Some(match key {
                        "network" => ("The entry's name on network.", reference("name")),
                        "peer_network" => ("The entry's name on peer_network.", reference("name")),
                        _ => return None,
                    })
                }),
            ),
            _ => return None,
        })
    })
}

fn allow() -> Value {
    with_default(reference("allow"), json!([{"protocol": "tcp", "ports": "all"}]))
}

fn rule() -> Value {
    let mut rule = mapping(keys::RULE, &["protocol"], |key| {
        Some(match key {
            "protocol" => ("tcp, udp, icmp (all ICMP) or all (all traffic).", json!({"enum": Protocol::VALUES.map(|p| p.to_string())})),
            "ports" => (
                "all, a port like 443, or a range like 8000-9000 (0-65535); only tcp and udp take ports.",
                with_default(
                    json!({"anyOf": [
                        {"const": "all"},
                        {"type": "integer", "minimum": 0, "maximum": 65535},
                        {"type": "string", "pattern": r"^\s*\+?[0-9]+\s*(-\s*\+?[0-9]+\s*)?$"},
                    ]}),
                    json!("all"),
                ),
            ),
            _ => return None,
        })
    });
    let portless: Vec<String> = Protocol::VALUES.into_iter().filter(|p| !p.has_ports()).map(|p| p.to_string()).collect();
    let object = rule.as_object_mut().expect("an object");
    object.insert("if".into(), json!({"required": ["protocol"], "properties": {"protocol": {"enum": portless}}}));
    object.insert("then".into(), json!({"properties": {"ports": {"enum": ["all", null]}}}));
    rule
}

/// A mapping taking exactly `keys` (a list from `decode::keys`); `property`
/// gives each one's description and schema. Keys not in `required` may also be null, which the decoder reads as
/// omitted; their `default` is moved up next to the description, where editors look.
fn mapping(keys: &[&str], required: &[&str], property: impl Fn(&str) -> Option<(&'static str, Value)>) -> Value {
    let mut properties = Map::new();
    for key in keys {
        let (description, mut schema) =
            property(key).unwrap_or_else(|| panic!("the decoder reads `{key}`, which the schema does not describe: add it to schema.rs"));
        let default = schema.as_object_mut().and_then(|object| object.remove("default"));
        let mut schema = match (required.contains(key), schema.get("anyOf").and_then(Value::as_array)) {
            (true, _) => schema,
            (false, Some(branches)) if schema.as_object().is_some_and(|o| o.len() == 1) => {
                let branches: Vec<Value> = branches.iter().cloned().chain([json!({"type": "null"})]).collect();
                json!({"anyOf": branches})
            }
            (false, _) => json!({"anyOf": [schema, {"type": "null"}]}),
        };
        let object = schema.as_object_mut().expect("an object");
        object.insert("description".into(), json!(description));
        if let Some(default) = default {
            object.insert("default".into(), default);
        }
        properties.insert(key.to_string(), schema);
    }
    let mut mapping = json!({"type": "object", "properties": properties, "additionalProperties": false});
    if !required.is_empty() {
        mapping.as_object_mut().expect("an object").insert("required".into(), json!(required));
    }
    mapping
}

/// An AWS id with this prefix (`vpc-0a1b2c3d`, 8 or 17 hex digits), or `{name: …}`.
fn selector(prefix: &str) -> Value {
    json!({"anyOf": [
        {"type": "string", "pattern": format!("^{prefix}-([0-9a-f]{{8}}|[0-9a-f]{{17}})$")},
        reference("name_selector"),
    ]})
}

/// `all`, or a list of selectors.
fn selection(prefix: &str) -> Value {
    json!({"anyOf": [
        {"const": "all"},
        {"type": "array", "items": selector(prefix), "uniqueItems": true},
    ]})
}

fn boolean(default: bool) -> Value {
    json!({"type": "boolean", "default": default})
}

fn reference(def: &str) -> Value {
    json!({"$ref": format!("#/$defs/{def}")})
}

fn with_default(mut schema: Value, default: Value) -> Value {
    schema.as_object_mut().expect("an object").insert("default".into(), default);
    schema
}

/// The JSON Schema of a saved plan (`peerctl plan --out`, `--format json`);
/// `docs/plan.schema.json` is this, pretty-printed. Derived from the types
/// serde writes (`render::JsonPlan`, `Plan` and what they hold), so the two
/// cannot drift apart. It describes what peerctl writes: every field that is
/// always written is required, `depends_on`, `profile` and `role_arn` may be
/// left out. Objects take unknown keys: fields are only added within a
/// `format_version`.
pub fn plan_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().for_serialize().into_generator();
    let mut schema = generator.into_root_schema_for::<crate::render::JsonPlan>().to_value();
    let object = schema.as_object_mut().expect("an object");
    object.insert("title".into(), json!("peerctl saved plan"));
    object.insert(
        "description".into(),
        json!("A plan as `peerctl plan --out` saves it and `peerctl apply PLAN` carries it out; see docs/plan-format.md."),
    );
    schema
}

/// The schema of an `ipnet::IpNet` as serde writes it, for `#[schemars(with = …)]`.
pub(crate) struct Cidr;

impl schemars::JsonSchema for Cidr {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Cidr".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "An IPv4 or IPv6 CIDR, like 10.20.0.0/16 or 2600:1f18:aaaa:aa00::/56.",
        })
    }
}
