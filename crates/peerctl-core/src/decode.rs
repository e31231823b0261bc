//! Spec loading: YAML text → `Spec`, reporting every problem with its position.

use crate::diag::{Diagnostics, Loc};
use crate::spec::*;
use crate::yaml::{self, Fields, Node, Value, bool_of, seq_of, str_of};
use std::collections::BTreeMap;

/// The keys of each mapping in a spec: `Fields` refuses any other, and the
/// JSON schema (`schema.rs`) lists exactly these, so the two cannot drift apart
/// (`schema_tests` checks that the decoder reads every one).
pub(crate) mod keys {
    pub const SPEC: &[&str] = &["version", "owner", "aws", "gcp", "peerings"];
    pub const AWS_DEFAULTS: &[&str] = &["region", "profile", "role_arn"];
    pub const GCP_DEFAULTS: &[&str] = &["project"];
    pub const PEERING: &[&str] = &["name", "absent", "aws", "gcp"];
    pub const AWS_PEERING: &[&str] = &["requester", "accepter", "allow", "dns_resolution", "ipv6", "adopt"];
    pub const AWS_SIDE: &[&str] = &["vpc", "region", "profile", "role_arn", "route_tables", "security_groups"];
    pub const SELECTOR: &[&str] = &["name"];
    pub const RULE: &[&str] = &["protocol", "ports"];
    pub const GCP_PEERING: &[&str] = &[
        "project",
        "network",
        "peer_network",
        "export_custom_routes",
        "import_custom_routes",
        "export_subnet_routes_with_public_ip",
        "import_subnet_routes_with_public_ip",
        "allow",
        "adopt",
    ];
    pub const GCP_ADOPT: &[&str] = &["network", "peer_network"];
}

/// Reads a spec from `text`; `file` is only used to name locations.
pub fn load(file: &str, text: &str) -> Result<Spec, Diagnostics> {
    let mut diags = Diagnostics::new(file);
    let root = yaml::parse(text, &mut diags);
    let spec = root.as_ref().and_then(|root| decode_spec(file, root, &mut diags));
    match spec {
        // The tree of a large spec takes a while to free: that happens on
        // another thread while the spec is digested and checked.
        Some(mut spec) => std::thread::scope(|threads| {
            threads.spawn(move || drop(root));
            spec.digest = crate::state::sha256_hex(text.as_bytes());
            check_spec(&spec, &mut diags);
            diags.into_result(spec)
        }),
        None => diags.into_result(Spec {
            file: file.into(),
            digest: String::new(),
            owner: String::new(),
            owner_loc: Loc::default(),
            peerings: Vec::new(),
        }),
    }
}

/// Defaults from the top-level `aws:` and `gcp:` sections.
#[derive(Default)]
struct Defaults {
    aws_region: Option<String>,
    aws_profile: Option<String>,
    aws_role_arn: Option<String>,
    gcp_project: Option<String>,
}

fn decode_spec(file: &str, root: &Node, diags: &mut Diagnostics) -> Option<Spec> {
    let mut fields = Fields::new(root, "the spec", keys::SPEC, diags)?;
    let top = Loc::new(1, 1);
    if let Some(version) = fields.require("version", "add `version: 1` at the top", diags, top) {
        match &version.value {
            Value::Int(v) if *v == i64::from(SPEC_VERSION) => {}
            Value::Int(v) => diags.error_with_hint(version.loc, format!("unsupported spec version {v}"), "this peerctl reads `version: 1`"),
            other => diags.error_with_hint(
                version.loc,
                format!("`version` must be the number {SPEC_VERSION}, found {}", other.kind()),
                "write `version: 1`, without quotes",
            ),
        }
    }
    let owner_node = fields.require("owner", "add `owner: NAME`: it scopes what peerctl may change (e.g. `owner: byoc-prod`)", diags, top);
    let owner = owner_node.and_then(|node| name_of(node, "owner", diags));
    let defaults = decode_defaults(&mut fields, diags);
    let peerings = match fields.get("peerings") {
        Some(node) => seq_of(node, "`peerings`", diags)
            .map(|items| {
                let mut names = BTreeMap::new();
                items.iter().filter_map(|item| decode_peering(item, &defaults, &mut names, diags)).collect()
            })
            .unwrap_or_default(),
        None => Vec::new(),
    };
    fields.finish(diags);
    Some(Spec {
        file: file.to_string(),
        digest: String::new(),
        owner: owner.unwrap_or_default(),
        owner_loc: owner_node.map_or(top, |n| n.loc),
        peerings,
    })
}

fn decode_defaults(fields: &mut Fields, diags: &mut Diagnostics) -> Defaults {
    let mut defaults = Defaults::default();
    if let Some(node) = fields.get("aws")
        && let Some(mut aws) = Fields::new(node, "`aws` defaults", keys::AWS_DEFAULTS, diags)
    {
        defaults.aws_region = aws.get("region").and_then(|n| region_of(n, diags));
        defaults.aws_profile = aws.get("profile").and_then(|n| non_empty(n, "`profile`", diags));
        defaults.aws_role_arn = aws.get("role_arn").and_then(|n| role_arn_of(n, diags));
        aws.finish(diags);
    }
    if let Some(node) = fields.get("gcp")
        && let Some(mut gcp) = Fields::new(node, "`gcp` defaults", keys::GCP_DEFAULTS, diags)
    {
        defaults.gcp_project = gcp.get("project").map(|n| project_of(n, diags).unwrap_or_default());
        gcp.finish(diags);
    }
    defaults
}

/// `names` holds the names seen so far, to refuse duplicates even in peerings that fail to decode.
fn decode_peering(node: &Node, defaults: &Defaults, names: &mut BTreeMap<String, Loc>, diags: &mut Diagnostics) -> Option<Peering> {
    let mut fields = Fields::new(node, "a peering", keys::PEERING, diags)?;
    let name_node = fields.require("name", "give every peering a unique `name:` (lowercase, digits, dashes)", diags, node.loc);
    let name = name_node.and_then(|n| name_of(n, "peering name", diags));
    if let (Some(name), Some(at)) = (&name, name_node)
        && let Some(first) = names.insert(name.clone(), at.loc)
    {
        diags.error_with_hint(
            at.loc,
            format!("peering name `{name}` is used twice"),
            format!("names must be unique; the first is at line {}", first.line),
        );
    }
    let what = format!("peering `{}`", name.as_deref().unwrap_or("?"));
    let absent = fields.get("absent").and_then(|n| bool_of(n, "`absent`", diags)).unwrap_or(false);
    let aws = fields.get("aws");
    let gcp = fields.get("gcp");
    let cloud = match (aws, gcp) {
        (Some(aws), None) => decode_aws(aws, &what, defaults, diags).map(CloudPeering::Aws),
        (None, Some(gcp)) => decode_gcp(gcp, &what, defaults, diags).map(CloudPeering::Gcp),
        (Some(_), Some(gcp)) => {
            diags.error_with_hint(
                gcp.loc,
                format!("{what} has both `aws` and `gcp`"),
                "a peering joins two networks of one cloud; AWS-to-GCP needs a VPN or Interconnect, not peering",
            );
            None
        }
        (None, None) => {
            diags.error_with_hint(
                node.loc,
                format!("{what} has neither `aws` nor `gcp`"),
                "add an `aws:` section (requester, accepter) or a `gcp:` section (network, peer_network)",
            );
            None
        }
    };
    fields.finish(diags);
    Some(Peering { name: name?, loc: name_node.map_or(node.loc, |n| n.loc), absent, cloud: cloud? })
}

fn decode_aws(node: &Node, what: &str, defaults: &Defaults, diags: &mut Diagnostics) -> Option<AwsPeering> {
    let mut fields = Fields::new(node, format!("the `aws` section of {what}"), keys::AWS_PEERING, diags)?;
    let requester = fields
        .require("requester", "add `requester:` with the VPC that requests the peering (the BYOC VPC)", diags, node.loc)
        .and_then(|n| decode_side(n, &format!("the requester of {what}"), defaults, diags));
    let accepter = fields
        .require("accepter", "add `accepter:` with the VPC that accepts the peering (the services VPC)", diags, node.loc)
        .and_then(|n| decode_side(n, &format!("the accepter of {what}"), defaults, diags));
    let allow = decode_allow(fields.get("allow"), diags);
    let dns_resolution = fields.get("dns_resolution").and_then(|n| bool_of(n, "`dns_resolution`", diags)).unwrap_or(false);
    let ipv6 = fields.get("ipv6").and_then(|n| bool_of(n, "`ipv6`", diags)).unwrap_or(false);
    let adopt = fields.get("adopt").map(|n| adopted_of(n, diags));
    fields.finish(diags);
    let adopt = match adopt {
        Some(adopted) => Some(adopted?),
        None => None,
    };
    Some(AwsPeering { requester: requester?, accepter: accepter?, allow: allow?, dns_resolution, ipv6, adopt })
}

/// `adopt: pcx-…`: the id of the connection to take over.
fn adopted_of(node: &Node, diags: &mut Diagnostics) -> Option<Adopted> {
    let id = str_of(node, "`adopt`", diags)?;
    if !is_aws_id(id, "pcx") {
        diags.error_with_hint(
            node.loc,
            format!("`{id}` is not a peering connection id"),
            "`adopt` takes the id of an existing connection, like pcx-0123456789abcdef0 (`peerctl import aws` writes it)",
        );
        return None;
    }
    Some(Adopted { id: id.to_string(), loc: node.loc })
}

fn decode_side(node: &Node, what: &str, defaults: &Defaults, diags: &mut Diagnostics) -> Option<AwsSide> {
    let mut fields = Fields::new(node, what, keys::AWS_SIDE, diags)?;
    let vpc = fields
        .require("vpc", "name the VPC by id (`vpc: vpc-0a1b2c3d`) or by its Name tag (`vpc: {name: my-vpc}`)", diags, node.loc)
        .and_then(|n| selector_of(n, "vpc", diags));
    let region = match fields.get("region") {
        Some(n) => region_of(n, diags),
        None => {
            if defaults.aws_region.is_none() {
                diags.error_with_hint(
                    node.loc,
                    format!("{what} has no region"),
                    "add `region:` here or a default `aws: {region: …}` at the top of the spec",
                );
            }
            defaults.aws_region.clone()
        }
    };
    let profile = match fields.get("profile") {
        Some(n) => non_empty(n, "`profile`", diags),
        None => defaults.aws_profile.clone(),
    };
    let role_arn = match fields.get("role_arn") {
        Some(n) => role_arn_of(n, diags),
        None => defaults.aws_role_arn.clone(),
    };
    let route_tables = fields.get("route_tables").map_or(Some(Selection::All), |n| selection_of(n, "rtb", diags));
    let security_groups = fields.get("security_groups").map_or(Some(Selection::Only(Vec::new())), |n| selection_of(n, "sg", diags));
    fields.finish(diags);
    let scope = AwsScope { profile, role_arn, region: region? };
    Some(AwsSide { scope, vpc: vpc?, route_tables: route_tables?, security_groups: security_groups?, loc: node.loc })
}

/// `all`, or a list of ids and `{name: …}` selectors.
fn selection_of(node: &Node, prefix: &str, diags: &mut Diagnostics) -> Option<Selection> {
    if let Value::Str(s) = &node.value
        && s == "all"
    {
        return Some(Selection::All);
    }
    let items = match &node.value {
        Value::Seq(items) => items,
        other => {
            diags.error_with_hint(
                node.loc,
                format!("expected `all` or a list, found {}", other.kind()),
                format!("write `all` or a list like [{prefix}-0123456789abcdef0, {{name: my-name}}]"),
            );
            return None;
        }
    };
    let selectors: Vec<Selector> = items.iter().filter_map(|item| selector_of(item, prefix, diags)).collect();
    let mut seen = BTreeMap::new();
    for selector in &selectors {
        if let Some(first) = seen.insert(selector.by.clone(), selector.loc) {
            diags.error_with_hint(
                selector.loc,
                format!("{} is listed twice", selector.by),
                format!("remove the duplicate (first at {}:{})", first.line, first.column),
            );
        }
    }
    (selectors.len() == items.len()).then_some(Selection::Only(selectors))
}

/// An id like `vpc-0a1b2c3d`, or `{name: …}`.
fn selector_of(node: &Node, prefix: &str, diags: &mut Diagnostics) -> Option<Selector> {
    let by = match &node.value {
        Value::Str(id) if is_aws_id(id, prefix) => By::Id(id.clone()),
        Value::Str(id) => {
            diags.error_with_hint(
                node.loc,
                format!("`{id}` is not a valid {prefix} id"),
                format!("ids look like {prefix}-0123456789abcdef0; to select by Name tag write {{name: {id}}}"),
            );
            return None;
        }
        Value::Map(entries) if entries.iter().any(|(k, _)| k.value == Value::Str("id".into())) => {
            diags.error_with_hint(
                node.loc,
                "selectors take no `id:`",
                format!("to select by id, write the id itself: {prefix}-0123456789abcdef0; by Name tag: {{name: my-name}}"),
            );
            return None;
        }
        Value::Map(_) => {
            let mut fields = Fields::new(node, "a selector", keys::SELECTOR, diags)?;
            let name = fields.require("name", "write {name: THE-NAME}", diags, node.loc).and_then(|n| non_empty(n, "`name`", diags));
            fields.finish(diags);
            By::Name(name?)
        }
        other => {
            diags.error_with_hint(
                node.loc,
                format!("expected an id or {{name: …}}, found {}", other.kind()),
                format!("write {prefix}-0123456789abcdef0 or {{name: my-name}}"),
            );
            return None;
        }
    };
    Some(Selector { by, loc: node.loc })
}

fn is_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

fn decode_allow(node: Option<&Node>, diags: &mut Diagnostics) -> Option<Vec<Rule>> {
    let Some(node) = node else {
        return Some(vec![ALL_TCP]);
    };
    let items = seq_of(node, "`allow`", diags)?;
    let mut rules = Vec::new();
    let mut seen = BTreeMap::new();
    for item in items {
        let Some(rule) = rule_of(item, diags) else {
            continue;
        };
        if let Some(first) = seen.insert(rule, item.loc) {
            diags.error_with_hint(
                item.loc,
                format!("rule `{rule}` is listed twice"),
                format!("remove the duplicate (first at {}:{})", first.line, first.column),
            );
        }
        rules.push(rule);
    }
    (rules.len() == items.len()).then_some(rules)
}

fn rule_of(node: &Node, diags: &mut Diagnostics) -> Option<Rule> {
    let mut fields = Fields::new(node, "an `allow` rule", keys::RULE, diags)?;
    let protocol =
        fields.require("protocol", "write e.g. {protocol: tcp, ports: all}", diags, node.loc).and_then(|n| protocol_of(n, diags));
    let ports_node = fields.get("ports");
    let ports = ports_node.map_or(Some(Ports::All), |n| ports_of(n, diags));
    fields.finish(diags);
    let (protocol, ports) = (protocol?, ports?);
    if !protocol.has_ports() && ports != Ports::All {
        let loc = ports_node.map_or(node.loc, |n| n.loc);
        diags.error_with_hint(loc, format!("protocol `{protocol}` has no ports"), "remove `ports`, or use protocol tcp or udp");
        return None;
    }
    Some(Rule { protocol, ports })
}

fn protocol_of(node: &Node, diags: &mut Diagnostics) -> Option<Protocol> {
    let text = str_of(node, "`protocol`", diags)?;
    let protocol = Protocol::VALUES.into_iter().find(|p| p.to_string() == text);
    if protocol.is_none() {
        diags.error_with_hint(node.loc, format!("unknown protocol `{text}`"), "use tcp, udp, icmp or all");
    }
    protocol
}

/// `all`, a port number, or `FROM-TO`.
fn ports_of(node: &Node, diags: &mut Diagnostics) -> Option<Ports> {
    let hint = "write `all`, a port like 443, or a range like 8000-9000 (ports are 0-65535)";
    let ports = match &node.value {
        Value::Int(n) => u16::try_from(*n).ok().map(|p| Ports::Range { from: p, to: p }),
        Value::Str(s) if s == "all" => Some(Ports::All),
        Value::Str(s) => parse_port_range(s),
        _ => None,
    };
    match ports {
        Some(Ports::Range { from, to }) if from > to => {
            diags.error_with_hint(node.loc, format!("port range {from}-{to} is backwards"), format!("write {to}-{from}"));
            None
        }
        Some(ports) => Some(ports),
        None => {
            let shown = match &node.value {
                Value::Str(s) => format!("`{s}`"),
                Value::Int(n) => format!("`{n}`"),
                Value::Float(n) => format!("`{n}`"),
                other => other.kind().to_string(),
            };
            diags.error_with_hint(node.loc, format!("{shown} is not a port or port range"), hint);
            None
        }
    }
}

fn parse_port_range(text: &str) -> Option<Ports> {
    let (from, to) = text.split_once('-').unwrap_or((text, text));
    let from = from.trim().parse::<u16>().ok()?;
    let to = to.trim().parse::<u16>().ok()?;
    Some(Ports::Range { from, to })
}

fn decode_gcp(node: &Node, what: &str, defaults: &Defaults, diags: &mut Diagnostics) -> Option<GcpPeering> {
    let mut fields = Fields::new(node, format!("the `gcp` section of {what}"), keys::GCP_PEERING, diags)?;
    let project = match fields.get("project") {
        // An invalid project (reported) becomes "", so networks do not also say they have none.
        Some(n) => Some(project_of(n, diags).unwrap_or_default()),
        None => defaults.gcp_project.clone(),
    };
    let network = fields
        .require("network", "name this side's network: `network: NAME` or projects/P/global/networks/N", diags, node.loc)
        .and_then(|n| network_of(n, project.as_deref(), diags));
    let peer_network = fields
        .require("peer_network", "name the network to peer with: `peer_network: projects/P/global/networks/N`", diags, node.loc)
        .and_then(|n| network_of(n, project.as_deref(), diags));
    let mut flag =
        |key: &'static str, default: bool| fields.get(key).and_then(|n| bool_of(n, &format!("`{key}`"), diags)).unwrap_or(default);
    let export_custom_routes = flag("export_custom_routes", false);
    let import_custom_routes = flag("import_custom_routes", false);
    let export_subnet_routes_with_public_ip = flag("export_subnet_routes_with_public_ip", true);
    let import_subnet_routes_with_public_ip = flag("import_subnet_routes_with_public_ip", false);
    let allow = decode_allow(fields.get("allow"), diags);
    let adopt = fields.get("adopt").map(|n| entry_names_of(n, diags));
    fields.finish(diags);
    let adopt = match adopt {
        Some(names) => Some(names?),
        None => None,
    };
    Some(GcpPeering {
        network: network?,
        peer_network: peer_network?,
        export_custom_routes,
        import_custom_routes,
        export_subnet_routes_with_public_ip,
        import_subnet_routes_with_public_ip,
        allow: allow?,
        adopt,
    })
}

/// `adopt: {network: NAME, peer_network: NAME}`: existing entry names.
fn entry_names_of(node: &Node, diags: &mut Diagnostics) -> Option<GcpEntryNames> {
    let mut fields = Fields::new(node, "`adopt`", keys::GCP_ADOPT, diags)?;
    let hint = "name the existing peering entry on each network: `adopt: {network: ENTRY, peer_network: ENTRY}`";
    let network = fields.require("network", hint, diags, node.loc).and_then(|n| name_of(n, "the entry name", diags));
    let peer_network = fields.require("peer_network", hint, diags, node.loc).and_then(|n| name_of(n, "the entry name", diags));
    fields.finish(diags);
    Some(GcpEntryNames { network: network?, peer_network: peer_network? })
}

/// `NAME` (in the default project), `projects/P/global/networks/N`, or a full URL.
fn network_of(node: &Node, project: Option<&str>, diags: &mut Diagnostics) -> Option<GcpNetwork> {
    let text = str_of(node, "a network", diags)?;
    let path = text.split_once("/compute/v1/").map_or(text, |(_, rest)| rest);
    let parts: Vec<&str> = path.split('/').collect();
    let (project, name) = match parts.as_slice() {
        ["projects", project, "global", "networks", name] => (Some(*project), *name),
        [name] => (project, *name),
        _ => {
            diags.error_with_hint(
                node.loc,
                format!("`{text}` is not a network"),
                "write a network name, or projects/PROJECT/global/networks/NAME",
            );
            return None;
        }
    };
    if !is_valid_name(name) {
        diags.error_with_hint(
            node.loc,
            format!("`{name}` is not a valid network name"),
            "network names are lowercase letters, digits and dashes, starting with a letter (at most 63)",
        );
        return None;
    }
    if project == Some("") {
        return None; // the project written is invalid, and said so
    }
    let Some(project) = project else {
        diags.error_with_hint(
            node.loc,
            format!("network `{name}` has no project"),
            "write projects/PROJECT/global/networks/NAME, or set `gcp: {project: …}` at the top of the spec",
        );
        return None;
    };
    Some(GcpNetwork { project: project.to_string(), name: name.to_string() })
}

fn name_of(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<String> {
    let name = str_of(node, what, diags)?;
    if !is_valid_name(name) {
        diags.error_with_hint(
            node.loc,
            format!("{what} `{name}` is not a valid name"),
            "use lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit (at most 63)",
        );
        return None;
    }
    Some(name.to_string())
}

fn non_empty(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<String> {
    let text = str_of(node, what, diags)?;
    if text.trim().is_empty() {
        diags.error_with_hint(node.loc, format!("{what} is empty"), "give it a value, or remove the key");
        return None;
    }
    Some(text.to_string())
}

/// The word before an AWS region's number.
const AWS_DIRECTIONS: &[&str] = &["east", "west", "north", "south", "central", "northeast", "northwest", "southeast", "southwest"];

fn region_of(node: &Node, diags: &mut Diagnostics) -> Option<String> {
    let region = str_of(node, "`region`", diags)?;
    let parts: Vec<&str> = region.split('-').collect();
    let valid = parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !valid {
        diags.error_with_hint(node.loc, format!("`{region}` is not an AWS region"), "regions look like us-east-1 or eu-central-1");
        return None;
    }
    // Every AWS region is named for a direction (us-gov-west-1, ap-southeast-2):
    // another word there is a typo, whichever regions exist by now.
    let direction = parts[parts.len() - 2];
    if !AWS_DIRECTIONS.contains(&direction) {
        let hint = match yaml::closest(direction, AWS_DIRECTIONS) {
            Some(word) => format!("did you mean `{}`?", region.replacen(&format!("-{direction}-"), &format!("-{word}-"), 1)),
            None => "regions look like us-east-1 or eu-central-1".to_string(),
        };
        diags.error_with_hint(node.loc, format!("`{region}` is not an AWS region"), hint);
        return None;
    }
    Some(region.to_string())
}

fn role_arn_of(node: &Node, diags: &mut Diagnostics) -> Option<String> {
    let arn = str_of(node, "`role_arn`", diags)?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let valid = matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws") && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && resource.starts_with("role/") && resource.len() > 5);
    if !valid {
        diags.error_with_hint(
            node.loc,
            format!("`{arn}` is not an IAM role ARN"),
            "role ARNs look like arn:aws:iam::111111111111:role/peerctl",
        );
        return None;
    }
    Some(arn.to_string())
}

fn project_of(node: &Node, diags: &mut Diagnostics) -> Option<String> {
    let project = str_of(node, "`project`", diags)?;
    let valid = (6..=30).contains(&project.len())
        && project.starts_with(|c: char| c.is_ascii_lowercase())
        && project.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !project.ends_with('-');
    if !valid {
        diags.error_with_hint(
            node.loc,
            format!("`{project}` is not a GCP project id"),
            "project ids are 6-30 lowercase letters, digits and dashes, starting with a letter",
        );
        return None;
    }
    Some(project.to_string())
}

/// Checks across peerings: no self-peering, one peering per pair.
fn check_spec(spec: &Spec, diags: &mut Diagnostics) {
    check_gcp_names(spec, diags);
    let mut pairs: BTreeMap<String, (&str, Loc)> = BTreeMap::new();
    for peering in &spec.peerings {
        let Some((a, b, loc)) = endpoints(peering) else {
            continue;
        };
        if a == b {
            diags.error_with_hint(
                loc,
                format!("peering `{}` joins {a} to itself", peering.name),
                "the two sides must be different networks",
            );
            continue;
        }
        let key = if a < b { format!("{a} <-> {b}") } else { format!("{b} <-> {a}") };
        if let Some((other, first)) = pairs.insert(key, (&peering.name, peering.loc)) {
            diags.error_with_hint(
                peering.loc,
                format!("peering `{}` joins the same two networks as `{other}`", peering.name),
                format!("two networks can only be peered once; merge it with the peering at line {}", first.line),
            );
        }
    }
}

/// A comparable description of each side, and where to point at.
fn endpoints(peering: &Peering) -> Option<(String, String, Loc)> {
    match &peering.cloud {
        CloudPeering::Aws(aws) => {
            let side = |s: &AwsSide| match &s.vpc.by {
                By::Id(id) => format!("{id} in {}", s.scope),
                By::Name(name) => format!("vpc {{name: {name}}} in {}", s.scope),
            };
            Some((side(&aws.requester), side(&aws.accepter), aws.accepter.vpc.loc))
        }
        CloudPeering::Gcp(gcp) => Some((gcp.network.to_string(), gcp.peer_network.to_string(), peering.loc)),
    }
}

/// GCP peering entries and firewalls carry the owner and peering in their
/// names (`{owner}--{peering}`, `peerctl-{owner}--{peering}-a`), which GCP
/// caps at 63 characters; `--` separates the two, so owners cannot contain it.
fn check_gcp_names(spec: &Spec, diags: &mut Diagnostics) {
    if !spec.peerings.iter().any(|p| matches!(p.cloud, CloudPeering::Gcp(_))) {
        return;
    }
    if spec.owner.contains("--") {
        diags.error_with_hint(
            spec.owner_loc,
            format!("owner `{}` contains `--`", spec.owner),
            "peerctl names GCP peerings `OWNER--PEERING`; use single dashes in the owner",
        );
    }
    for peering in spec.peerings.iter().filter(|p| matches!(p.cloud, CloudPeering::Gcp(_))) {
        let length = spec.owner.len() + 2 + peering.name.len();
        if length > 53 {
            diags.error_with_hint(
                peering.loc,
                format!("owner and name of GCP peering `{}` are too long together ({length} of at most 53 characters)", peering.name),
                "GCP names are at most 63 characters and peerctl names firewall rules `peerctl-OWNER--PEERING-a`; shorten the name or the owner",
            );
        }
    }
}
