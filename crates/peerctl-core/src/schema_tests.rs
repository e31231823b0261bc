//! The JSON schema against the decoder: it takes the same keys, requires the
//! same ones, has the same defaults, and agrees on what is valid wherever a
//! schema can tell; the committed `docs/peerctl.schema.json` is current.
//!
//! The plan schema against `render::json`: real plans (AWS and GCP) are
//! valid, broken ones are not, and `docs/plan.schema.json` is current.

use crate::diag::{Diagnostics, Loc};
use crate::load;
use crate::schema::{plan_schema, spec_schema};
use crate::yaml::{self, DECODED, Node, Value as Yaml};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The first line of every spec in `specs/`, for yaml-language-server.
const MODELINE: &str = "# yaml-language-server: $schema=../docs/peerctl.schema.json\n";

/// Every mapping the decoder reads, with every key set.
const FULL: &str = r#"version: 1
owner: byoc-prod
aws:
  region: us-east-1
  profile: byoc
  role_arn: arn:aws:iam::111111111111:role/peerctl
gcp:
  project: emq-x-cloud
peerings:
  - name: byoc-to-services
    absent: false
    aws:
      requester:
        vpc: {name: emqxbyoc-1234-vpc}
        region: us-east-1
        profile: byoc
        role_arn: arn:aws:iam::111111111111:role/peerctl
        route_tables: [{name: emqxbyoc-1234-private-route-table}]
        security_groups: [{name: emqxbyoc-1234}]
      accepter:
        vpc: vpc-0a1b2c3d4e5f67890
        region: us-west-2
        route_tables: all
        security_groups: [sg-0123456789abcdef0]
      allow:
        - {protocol: tcp, ports: all}
        - {protocol: icmp}
      dns_resolution: true
      ipv6: false
      adopt: pcx-0123456789abcdef0
  - name: byoc-gcp
    absent: false
    gcp:
      project: emq-x-cloud
      network: emqxbyoc-xxxx-network
      peer_network: projects/other-project/global/networks/cloud-test-1
      export_custom_routes: false
      import_custom_routes: false
      export_subnet_routes_with_public_ip: true
      import_subnet_routes_with_public_ip: false
      allow: [{protocol: udp, ports: 8000-9000}]
      adopt: {network: byoc-to-test, peer_network: test-to-byoc}
"#;

/// A valid spec that the cases below break in one place each.
const BASE: &str = r#"version: 1
owner: byoc-prod
aws:
  region: us-east-1
gcp:
  project: emq-x-cloud
peerings:
  - name: byoc-to-services
    aws:
      requester:
        vpc: {name: emqxbyoc-1234-vpc}
        profile: byoc
        route_tables: [{name: emqxbyoc-1234-private-route-table}]
        security_groups: [sg-0123456789abcdef0]
      accepter:
        vpc: vpc-0a1b2c3d4e5f67890
        region: us-west-2
        role_arn: arn:aws:iam::111111111111:role/peerctl
        route_tables: all
        security_groups: [{name: services}]
      allow:
        - {protocol: tcp, ports: all}
        - {protocol: udp, ports: 8000-9000}
      dns_resolution: true
  - name: byoc-gcp
    gcp:
      network: emqxbyoc-xxxx-network
      peer_network: projects/other-project/global/networks/cloud-test-1
      allow: [{protocol: tcp, ports: 443}]
"#;

/// Every key with a default, left null (omitted); each `~` is alone on its line.
const DEFAULTS: &str = r#"version: 1
owner: byoc-prod
aws:
  region: us-east-1
peerings:
  - name: a
    absent: ~
    aws:
      requester:
        vpc: vpc-11111111
        route_tables: ~
        security_groups: ~
      accepter:
        vpc: vpc-22222222
      allow:
        - protocol: udp
          ports: ~
      dns_resolution: ~
      ipv6: ~
  - name: b
    aws:
      requester: {vpc: vpc-33333333}
      accepter: {vpc: vpc-44444444}
      allow: ~
  - name: g
    gcp:
      network: projects/p/global/networks/one
      peer_network: projects/p/global/networks/two
      export_custom_routes: ~
      import_custom_routes: ~
      export_subnet_routes_with_public_ip: ~
      import_subnet_routes_with_public_ip: ~
      allow: ~
"#;

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&spec_schema()).expect("the schema compiles")
}

/// The schema's complaints about a YAML spec; empty when it is valid.
fn schema_errors(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
    let json: Value = serde_saphyr::from_str(text).expect("YAML");
    validator.iter_errors(&json).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

/// `BASE` with `from` (which must be there) replaced by `to`.
fn base_with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "`{from}` is not in BASE");
    BASE.replacen(from, to, 1)
}

/// Where a node sits in the document: keys, and `None` for a list item.
type DocPath = Vec<Option<String>>;

fn show(path: &DocPath) -> String {
    let steps: Vec<String> = path.iter().map(|step| step.clone().unwrap_or_else(|| "[]".into())).collect();
    format!("/{}", steps.join("/"))
}

/// The path of every node but the keys, by position.
fn node_paths(text: &str) -> BTreeMap<Loc, DocPath> {
    fn walk(node: &Node, path: &mut DocPath, out: &mut BTreeMap<Loc, DocPath>) {
        let previous = out.insert(node.loc, path.clone());
        assert!(previous.is_none(), "two nodes at {:?}", node.loc);
        match &node.value {
            Yaml::Seq(items) => {
                for item in items {
                    path.push(None);
                    walk(item, path, out);
                    path.pop();
                }
            }
            Yaml::Map(entries) => {
                for (key, value) in entries {
                    let Yaml::Str(key) = &key.value else { panic!("a key that is not a string") };
                    path.push(Some(key.clone()));
                    walk(value, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let root = yaml::parse(text, &mut Diagnostics::new("t.yaml")).expect("YAML");
    let mut out = BTreeMap::new();
    walk(&root, &mut Vec::new(), &mut out);
    out
}

/// The subschemas (JSON pointer, schema) that apply to the node at `path`,
/// following `$ref`, `anyOf`, `oneOf` and `allOf`.
fn schemas_at<'s>(root: &'s Value, path: &DocPath) -> Vec<(String, &'s Value)> {
    fn expand<'s>(root: &'s Value, pointer: String, out: &mut Vec<(String, &'s Value)>) {
        let schema = root.pointer(&pointer).unwrap_or_else(|| panic!("no schema at {pointer}"));
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            expand(root, target.trim_start_matches('#').to_string(), out);
        }
        for keyword in ["anyOf", "oneOf", "allOf"] {
            for index in 0..schema.get(keyword).and_then(Value::as_array).map_or(0, Vec::len) {
                expand(root, format!("{pointer}/{keyword}/{index}"), out);
            }
        }
        out.push((pointer, schema));
    }
    let mut current = Vec::new();
    expand(root, String::new(), &mut current);
    for step in path {
        let mut next = Vec::new();
        for (pointer, schema) in &current {
            match step {
                Some(key) if schema.get("properties").and_then(|p| p.get(key)).is_some() => {
                    expand(root, format!("{pointer}/properties/{key}"), &mut next);
                }
                None if schema.get("items").is_some() => expand(root, format!("{pointer}/items"), &mut next),
                _ => {}
            }
        }
        current = next;
    }
    current
}

/// JSON pointers of the schema's subschemas that have `keyword` (not looking inside values).
fn pointers_with(schema: &Value, keyword: &str) -> BTreeSet<String> {
    fn walk(value: &Value, pointer: String, keyword: &str, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(object) => {
                if object.contains_key(keyword) {
                    out.insert(pointer.clone());
                }
                for (key, child) in object.iter().filter(|(key, _)| !["default", "const", "enum"].contains(&key.as_str())) {
                    walk(child, format!("{pointer}/{key}"), keyword, out);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    walk(child, format!("{pointer}/{index}"), keyword, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(schema, String::new(), keyword, &mut out);
    out
}

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let schema = spec_schema();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("not a valid JSON schema: {e}"));
    validator();
}

/// `docs/NAME` holds `schema` (made by `function`), or is rewritten with it under `UPDATE_SCHEMA=1`.
fn assert_committed(name: &str, schema: &Value, function: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs").join(name);
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        let text = serde_json::to_string_pretty(schema).expect("JSON") + "\n";
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).ok().and_then(|text| serde_json::from_str::<Value>(&text).ok());
    assert!(
        committed.as_ref() == Some(schema),
        "docs/{name} is not {function}; regenerate it with `UPDATE_SCHEMA=1 cargo test -p peerctl-core schema`"
    );
}

#[test]
fn committed_schema_file_is_current() {
    assert_committed("peerctl.schema.json", &spec_schema(), "spec_schema()");
}

#[test]
fn schema_accepts_every_spec_in_specs_dir() {
    let validator = validator();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../specs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("specs/") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|ext| ext != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let name = path.display().to_string();
        assert!(text.starts_with(MODELINE), "{name} should start with the line {MODELINE:?}, for editors");
        load(&name, &text).unwrap_or_else(|d| panic!("{d}"));
        let errors = schema_errors(&validator, &text);
        assert!(errors.is_empty(), "the schema refuses {name}:\n{}", errors.join("\n"));
        checked += 1;
    }
    assert!(checked > 0, "no specs in {}", dir.display());
}

#[test]
fn schema_accepts_what_the_decoder_accepts() {
    let validator = validator();
    for (name, text) in [("FULL", FULL), ("BASE", BASE), ("DEFAULTS", DEFAULTS)] {
        load(name, text).unwrap_or_else(|d| panic!("{d}"));
        let errors = schema_errors(&validator, text);
        assert!(errors.is_empty(), "the schema refuses {name}:\n{}", errors.join("\n"));
    }
}

#[test]
fn schema_rejects_broken_specs() {
    let broken: &[(&str, &str, &str)] = &[
        ("an unknown key", "route_tables: all", "rout_tables: all"),
        ("an unknown top-level key", "version: 1\n", "version: 1\nextra: 1\n"),
        ("a quoted boolean", "dns_resolution: true", "dns_resolution: \"true\""),
        ("a list where a mapping goes", "aws:\n  region: us-east-1", "aws: [us-east-1]"),
        ("a number where a string goes", "region: us-west-2", "region: 12"),
        ("a mapping where a list goes", "security_groups: [{name: services}]", "security_groups: {name: services}"),
        ("an unknown protocol", "{protocol: udp, ports: 8000-9000}", "{protocol: sctp, ports: 8000-9000}"),
        ("ports on icmp", "{protocol: udp, ports: 8000-9000}", "{protocol: icmp, ports: 8000-9000}"),
        ("ports on all", "{protocol: udp, ports: 8000-9000}", "{protocol: all, ports: 22}"),
        ("a port out of range", "ports: 443", "ports: 70000"),
        ("a rule without protocol", "{protocol: tcp, ports: 443}", "{ports: 443}"),
        ("allow as a mapping", "allow: [{protocol: tcp, ports: 443}]", "allow: {protocol: tcp, ports: 443}"),
        ("a duplicate rule", "[{protocol: tcp, ports: 443}]", "[{protocol: tcp, ports: 443}, {protocol: tcp, ports: 443}]"),
        (
            "a peering with both aws and gcp",
            "  - name: byoc-gcp\n",
            "  - name: byoc-gcp\n    aws: {requester: {vpc: vpc-11111111}, accepter: {vpc: vpc-22222222}}\n",
        ),
        ("a peering with neither aws nor gcp", "  - name: byoc-gcp\n", "  - name: lonely\n  - name: byoc-gcp\n"),
        ("a peering without a name", "  - name: byoc-gcp\n    gcp:", "  - gcp:"),
        ("a missing owner", "owner: byoc-prod\n", ""),
        ("a missing version", "version: 1\n", ""),
        ("another version", "version: 1", "version: 2"),
        ("a name with capitals", "name: byoc-gcp", "name: Byoc-gcp"),
        ("a name ending in a dash", "name: byoc-gcp", "name: byoc-gcp-"),
        ("an owner with an underscore", "owner: byoc-prod", "owner: byoc_prod"),
        (
            "a missing requester",
            "      requester:\n        vpc: {name: emqxbyoc-1234-vpc}\n        profile: byoc\n        route_tables: [{name: emqxbyoc-1234-private-route-table}]\n        security_groups: [sg-0123456789abcdef0]\n",
            "",
        ),
        ("a missing vpc", "        vpc: vpc-0a1b2c3d4e5f67890\n", ""),
        ("an invalid vpc id", "vpc: vpc-0a1b2c3d4e5f67890", "vpc: vpc-xyz"),
        ("a route table id as a security group", "[sg-0123456789abcdef0]", "[rtb-0123456789abcdef0]"),
        ("a selector with another key", "{name: services}", "{name: services, id: sg-11111111}"),
        ("an empty selector name", "{name: services}", "{name: ''}"),
        ("route_tables neither all nor a list", "route_tables: all", "route_tables: some"),
        ("a duplicate selector", "[sg-0123456789abcdef0]", "[sg-0123456789abcdef0, sg-0123456789abcdef0]"),
        ("a bad region", "region: us-west-2", "region: useast1"),
        ("an empty profile", "profile: byoc", "profile: ''"),
        ("a bad role ARN", "role_arn: arn:aws:iam::111111111111:role/peerctl", "role_arn: arn:aws:iam::1111:role/peerctl"),
        ("a bad project id", "project: emq-x-cloud", "project: EMQ"),
        ("a missing peer_network", "      peer_network: projects/other-project/global/networks/cloud-test-1\n", ""),
        ("a bad network path", "projects/other-project/global/networks/", "projects/other-project/networks/"),
        ("a bad network name", "network: emqxbyoc-xxxx-network", "network: Emqxbyoc"),
        ("a number for a boolean", "dns_resolution: true", "dns_resolution: 1"),
    ];
    let validator = validator();
    let mut failures = Vec::new();
    for (what, from, to) in broken {
        let text = base_with(from, to);
        if load("spec.yaml", &text).is_ok() {
            failures.push(format!("the decoder accepts {what}"));
        }
        if schema_errors(&validator, &text).is_empty() {
            failures.push(format!("the schema accepts {what}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The schema's patterns against the decoder's checks: same verdict on each sample.
#[test]
fn schema_patterns_agree_with_the_decoder() {
    let long = |n: usize| format!("a{}", "b".repeat(n - 1));
    let samples: Vec<(&str, Vec<String>)> = vec![
        (
            "name: byoc-to-services",
            ["a", "a1", "a-b", "a--b", "-a", "a-", "1a", "Ab", "a_b", "a.b", "''", "7", long(63).as_str(), long(64).as_str()]
                .map(|s| format!("name: {s}"))
                .to_vec(),
        ),
        ("owner: byoc-prod", ["a", "byoc-prod-2", "2prod", "prod-", "Prod"].map(|s| format!("owner: {s}")).to_vec()),
        (
            "region: us-west-2",
            [
                "us-west-2",
                "us-gov-west-1",
                "ap-southeast-10",
                "us-west",
                "us-west-2a",
                "useast1",
                "US-west-2",
                "us--west-2",
                "-us-west-2",
                "us-west-",
            ]
            .map(|s| format!("region: {s}"))
            .to_vec(),
        ),
        ("profile: byoc", ["byoc", "a b", "' x '", "''", "' '"].map(|s| format!("profile: {s}")).to_vec()),
        (
            "role_arn: arn:aws:iam::111111111111:role/peerctl",
            [
                "arn:aws:iam::111111111111:role/x",
                "arn:aws-cn:iam::111111111111:role/path/name",
                "arn:aws:iam::11111111111:role/x",
                "arn:aws:iam::1111111111111:role/x",
                "arn:aws:iam::111111111111:user/x",
                "arn:aws:iam::111111111111:role/",
                "arn:gcp:iam::111111111111:role/x",
                "arn:aws:sts::111111111111:role/x",
                "arn:aws:iam:us-east-1:111111111111:role/x",
            ]
            .map(|s| format!("role_arn: {s}"))
            .to_vec(),
        ),
        (
            "vpc: vpc-0a1b2c3d4e5f67890",
            [
                "vpc-0a1b2c3d",
                "vpc-0a1b2c3d4e5f6789",
                "vpc-0A1B2C3D",
                "vpc-0a1b2c3g",
                "vpc0a1b2c3d",
                "sg-0a1b2c3d",
                "{name: x}",
                "{name: ' '}",
                "{}",
                "[vpc-0a1b2c3d]",
            ]
            .map(|s| format!("vpc: {s}"))
            .to_vec(),
        ),
        (
            "[sg-0123456789abcdef0]",
            ["[sg-0a1b2c3d]", "[vpc-0a1b2c3d]", "[]", "all", "[all]", "[{name: web}, sg-0a1b2c3d]"].map(String::from).to_vec(),
        ),
        (
            "project: emq-x-cloud",
            ["abcdef", "abcde", long(30).as_str(), long(31).as_str(), "a-b-c-d", "abcde-", "1abcde", "abc_de"]
                .map(|s| format!("project: {s}"))
                .to_vec(),
        ),
        (
            "network: emqxbyoc-xxxx-network",
            [
                "n",
                "projects/p/global/networks/n",
                "https://www.googleapis.com/compute/v1/projects/p/global/networks/n",
                "projects/p/global/networks/N",
                "projects/p/networks/n",
                "global/networks/n",
                "projects/p/global/networks/n/x",
                "n-",
            ]
            .map(|s| format!("network: {s}"))
            .to_vec(),
        ),
        (
            "ports: 443",
            ["0", "65535", "65536", "-1", "'443'", "1-2", "' 1 - 2 '", "8000-", "-80", "a-b", "tcp", "1.5", "true", "[443]", "all", "ALL"]
                .map(|s| format!("ports: {s}"))
                .to_vec(),
        ),
    ];
    let validator = validator();
    let mut disagreements = Vec::new();
    for (from, replacements) in &samples {
        for to in replacements {
            let text = base_with(from, to);
            let decoder = load("spec.yaml", &text).map_err(|d| d.to_string());
            let schema = schema_errors(&validator, &text);
            if decoder.is_ok() != schema.is_empty() {
                disagreements.push(format!("`{to}`: decoder {decoder:?}, schema {schema:?}"));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// Walks every mapping the decoder reads (`FULL` has one of each) and checks
/// that the schema at the same place takes exactly the keys the decoder reads,
/// requires those it requires, and refuses others; and that every mapping in
/// the schema is one the decoder reads.
#[test]
fn schema_lists_exactly_the_keys_the_decoder_reads() {
    let schema = spec_schema();
    let paths = node_paths(FULL);
    DECODED.with(|decoded| decoded.borrow_mut().clear());
    load("full.yaml", FULL).unwrap_or_else(|d| panic!("{d}"));
    let decoded = DECODED.with(|decoded| decoded.take());
    assert!(decoded.len() >= 10, "{decoded:?}");
    let mut described = BTreeSet::new();
    for mapping in &decoded {
        let path = &paths[&mapping.loc];
        let objects: Vec<_> =
            schemas_at(&schema, path).into_iter().filter(|(_, s)| s.get("additionalProperties") == Some(&Value::Bool(false))).collect();
        assert_eq!(objects.len(), 1, "the schema should describe the mapping at {} once: {objects:?}", show(path));
        let (pointer, object) = &objects[0];
        let listed: BTreeSet<&str> = object["properties"].as_object().expect("properties").keys().map(String::as_str).collect();
        let read: BTreeSet<&str> = mapping.read.iter().copied().collect();
        assert_eq!(listed, read, "keys of the mapping at {} (schema {pointer}) vs. keys the decoder reads", show(path));
        let required: BTreeSet<&str> =
            object.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let decoder_required: BTreeSet<&str> = mapping.required.iter().copied().collect();
        assert_eq!(required, decoder_required, "required keys of the mapping at {} (schema {pointer})", show(path));
        described.insert(pointer.clone());
    }
    let in_schema: BTreeSet<String> = pointers_with(&schema, "additionalProperties")
        .into_iter()
        .filter(|p| schema.pointer(p).unwrap()["additionalProperties"] == false)
        .collect();
    assert_eq!(in_schema, described, "every mapping in the schema should be one the decoder reads in FULL");
}

/// Writing a key's schema `default` means the same as leaving the key out.
#[test]
fn schema_defaults_are_the_decoders() {
    let schema = spec_schema();
    let paths = node_paths(DEFAULTS);
    let omitted = load("defaults.yaml", DEFAULTS).unwrap_or_else(|d| panic!("{d}"));
    let mut used = BTreeSet::new();
    let lines: Vec<&str> = DEFAULTS.lines().collect();
    for (index, line) in lines.iter().enumerate().filter(|(_, line)| line.ends_with(": ~")) {
        let number = u32::try_from(index + 1).expect("short");
        let at_line: Vec<&DocPath> = paths.iter().filter(|(loc, _)| loc.line == number).map(|(_, path)| path).collect();
        assert_eq!(at_line.len(), 1, "line {number}: {at_line:?}");
        let path = at_line[0];
        let defaults: Vec<_> = schemas_at(&schema, path).into_iter().filter_map(|(p, s)| Some((p, s.get("default")?))).collect();
        assert_eq!(defaults.len(), 1, "the schema should give {} one default: {defaults:?}", show(path));
        let (pointer, default) = &defaults[0];
        let text: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| if i == index { line.replacen('~', &default.to_string(), 1) } else { l.to_string() } + "\n")
            .collect();
        let spec = load("defaults.yaml", &text).unwrap_or_else(|d| panic!("{d}"));
        let spec = crate::spec::Spec { digest: omitted.digest.clone(), ..spec };
        assert_eq!(spec, omitted, "writing the schema's default `{default}` at {} is not the same as omitting it", show(path));
        used.insert(pointer.clone());
    }
    assert_eq!(pointers_with(&schema, "default"), used, "every default in the schema should be tried in DEFAULTS");
}

#[test]
fn name_regex_is_is_valid_name() {
    let pattern = format!("^{}$", crate::spec::NAME_REGEX);
    let schema = serde_json::json!({"type": "string", "pattern": pattern});
    let validator = jsonschema::draft202012::new(&schema).expect("compiles");
    let long = |n: usize| format!("a{}", "0".repeat(n - 1));
    for name in ["a", "a0", "a-0", "ab-", "-ab", "0ab", "aB", "a_b", "", "a b", "é", long(63).as_str(), long(64).as_str()] {
        let json = Value::from(name);
        assert_eq!(validator.is_valid(&json), crate::spec::is_valid_name(name), "`{name}`");
    }
}

// The saved plan.

fn plan_validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&plan_schema()).expect("the plan schema compiles")
}

/// The plan schema's complaints about a plan file; empty when it is valid.
fn plan_errors(validator: &jsonschema::Validator, json: &Value) -> Vec<String> {
    validator.iter_errors(json).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

/// Real plans, as `render::json` writes them: every AWS and GCP action, both
/// kinds of connection reference, options, conflicts, unmanaged connections.
fn real_plans() -> Vec<(&'static str, crate::plan::Plan)> {
    use crate::planner_gcp_tests as gcp;
    let gcp_spec = |extra: &str| format!("{}{extra}", gcp::SPEC);
    let mut flags_changed = gcp::converged();
    flags_changed.gcp[1].networks[0].peerings[0].flags.import_custom_routes = true;
    let absent = gcp::SPEC.replace("  - name: byoc-gcp\n", "  - name: byoc-gcp\n    absent: true\n");
    let spec = crate::load("spec.yaml", gcp::SPEC).expect("valid spec");
    let options = crate::planner::Options { prune: true, targets: vec!["byoc-gcp".into()] };
    vec![
        ("the mixed AWS plan", crate::planner_tests::mixed_plan()),
        ("an AWS adoption", crate::planner_tests::adoption_plan()),
        ("a fresh GCP pair", gcp::plan_of(&gcp_spec("      export_custom_routes: true\n"), &gcp::fresh())),
        ("GCP flags changed by hand", gcp::plan_of(gcp::SPEC, &flags_changed)),
        (
            "a GCP allow list changed",
            gcp::plan_of(
                &gcp_spec("      allow: [{protocol: tcp, ports: 443}, {protocol: udp, ports: 8000-9000}, {protocol: icmp}]\n"),
                &gcp::converged(),
            ),
        ),
        ("an absent GCP peering", gcp::plan_of(&absent, &gcp::converged())),
        ("a converged GCP pair", gcp::plan_of(gcp::SPEC, &gcp::converged())),
        ("GCP with --prune --target", crate::planner::plan_with(&spec, &gcp::fresh(), &options).expect("plan")),
    ]
}

/// The plan file of `plan`, as a JSON value.
fn plan_file(plan: &crate::plan::Plan) -> Value {
    serde_json::from_str(&crate::render::json(plan)).expect("render::json writes JSON")
}

/// Every value under `key` in `json`, at any depth.
fn values_of<'v>(json: &'v Value, key: &str, out: &mut Vec<&'v Value>) {
    match json {
        Value::Object(object) => {
            out.extend(object.get(key));
            object.values().for_each(|child| values_of(child, key, out));
        }
        Value::Array(items) => items.iter().for_each(|child| values_of(child, key, out)),
        _ => {}
    }
}

#[test]
fn plan_schema_is_a_valid_draft_2020_12_schema() {
    let schema = plan_schema();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["title"], "peerctl saved plan");
    assert!(schema.get("$id").is_none(), "the schema names no $id");
    jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("not a valid JSON schema: {e}"));
    plan_validator();
}

#[test]
fn committed_plan_schema_file_is_current() {
    assert_committed("plan.schema.json", &plan_schema(), "plan_schema()");
}

#[test]
fn plan_schema_accepts_real_plans() {
    let validator = plan_validator();
    let mut types = BTreeSet::new();
    let mut references = BTreeSet::new();
    for (name, plan) in real_plans() {
        let json = plan_file(&plan);
        let errors = plan_errors(&validator, &json);
        assert!(errors.is_empty(), "the plan schema refuses {name}:\n{}\n{json:#}", errors.join("\n"));
        let read: crate::plan::Plan = serde_json::from_value(json.clone()).expect("apply reads it back");
        assert_eq!(read, plan, "{name} does not read back as written");
        let mut found = Vec::new();
        values_of(&json, "action", &mut found);
        types.extend(found.iter().map(|action| action["type"].as_str().expect("a type").to_string()));
        let mut found = Vec::new();
        values_of(&json, "connection", &mut found);
        references.extend(found.iter().filter_map(|c| c.as_object()).flat_map(|c| c.keys().cloned()));
    }
    // Every action the schema knows is exercised.
    let known: BTreeSet<String> = plan_schema()["$defs"]["Action"]["oneOf"]
        .as_array()
        .expect("actions are a oneOf")
        .iter()
        .map(|variant| variant["properties"]["type"]["const"].as_str().expect("a tag").to_string())
        .collect();
    assert_eq!(types, known, "the real plans should hold every action type of the schema");
    assert!(known.iter().any(|t| t.starts_with("aws_")) && known.iter().any(|t| t.starts_with("gcp_")));
    assert_eq!(references, BTreeSet::from(["created_by_step".to_string(), "id".to_string()]), "both kinds of connection reference");
}

/// Plans saved when actions still carried their ownership tags and a rule's
/// description read the same, those fields ignored: the executor derives them.
#[test]
fn a_plan_saved_with_tags_in_its_actions_reads_the_same() {
    use serde_json::json;
    let plan = crate::planner_tests::mixed_plan();
    let mut old = plan_file(&plan);
    let steps = old["steps"].as_array_mut().expect("steps");
    let mut marked = 0;
    for step in steps.iter_mut() {
        let action = &mut step["action"];
        match action["type"].as_str() {
            Some("aws_create_connection") => action["tags"] = json!({"Name": "analytics", "peerctl:owner": "byoc-prod"}),
            Some("aws_authorize_ingress") => action["description"] = json!("peerctl:byoc-prod/byoc-to-services"),
            _ => continue,
        }
        marked += 1;
    }
    assert_eq!(marked, 2, "the mixed plan creates a connection and authorizes a rule");
    assert_eq!(serde_json::from_value::<crate::plan::Plan>(old).expect("reads"), plan);
}

#[test]
fn plan_schema_rejects_broken_plans() {
    use serde_json::json;
    // (what, where in the mixed plan's file, the new value or None to remove it, whether serde refuses it too).
    // Steps: 0 sets DNS resolution, 1 replaces a route, 6 authorizes ingress, 8 deletes a connection
    // after 7, 9 creates one, 10 accepts it (created_by_step).
    let broken: &[(&str, &str, Option<Value>, bool)] = &[
        ("an unknown action type", "/steps/0/action/type", Some(json!("aws_launch_rocket")), true),
        ("an action without type", "/steps/0/action/type", None, true),
        ("a missing format_version", "/format_version", None, true),
        ("another format_version", "/format_version", Some(json!(2)), false),
        ("steps not an array", "/steps", Some(json!({"peering": "x", "action": {"type": "gcp_delete_firewall"}})), true),
        ("a missing summary", "/summary", None, false),
        ("a negative count", "/summary/add", Some(json!(-1)), false),
        ("a step without reason", "/steps/0/reason", None, true),
        ("depends_on not a list of indexes", "/steps/8/depends_on", Some(json!(["7"])), true),
        ("an unknown connection reference", "/steps/10/action/connection", Some(json!({"name": "x"})), true),
        ("a connection reference with both keys", "/steps/10/action/connection", Some(json!({"id": "pcx-1", "created_by_step": 9})), true),
        ("a CIDR that is not a string", "/steps/1/action/destination", Some(json!([10, 1, 0, 0])), true),
        ("an unknown side", "/steps/0/action/side", Some(json!("both")), true),
        ("an unknown protocol", "/steps/6/action/rule/protocol", Some(json!("sctp")), true),
        ("a port out of range", "/steps/6/action/rule/ports", Some(json!({"range": {"from": 0, "to": 70000}})), true),
        ("a scope without region", "/steps/0/action/scope/region", None, true),
        ("an account that is not a string", "/steps/9/action/requester/account", Some(json!(111111111111_u64)), true),
        ("options.prune not a boolean", "/options/prune", Some(json!("yes")), true),
        ("a peering status without name", "/peerings/0/name", None, true),
    ];
    let validator = plan_validator();
    let good = plan_file(&crate::planner_tests::mixed_plan());
    assert!(plan_errors(&validator, &good).is_empty());
    let mut failures = Vec::new();
    for (what, pointer, value, serde_refuses) in broken {
        let mut plan = good.clone();
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        let parent = plan.pointer_mut(parent).and_then(Value::as_object_mut).unwrap_or_else(|| panic!("{what}: no object at {parent}"));
        let old = match value {
            Some(value) => parent.insert(key.to_string(), value.clone()),
            None => parent.remove(key),
        };
        assert!(old.is_some(), "{what}: nothing at {pointer} in the mixed plan");
        if plan_errors(&validator, &plan).is_empty() {
            failures.push(format!("the plan schema accepts {what}"));
        }
        if *serde_refuses && serde_json::from_value::<crate::plan::Plan>(plan).is_ok() {
            failures.push(format!("serde reads {what}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The derive follows serde: fields serde may leave out are not required,
/// actions are tagged by `type` in snake_case, enums use serde's names.
#[test]
fn plan_schema_follows_serde_attributes() {
    let schema = plan_schema();
    let defs = &schema["$defs"];
    let required = |def: &Value| -> BTreeSet<String> {
        def["required"].as_array().map(|r| r.iter().map(|k| k.as_str().expect("a key").to_string()).collect()).unwrap_or_default()
    };
    let set = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        required(&schema),
        set(&[
            "format_version",
            "owner",
            "spec_file",
            "spec_digest",
            "options",
            "basis",
            "steps",
            "conflicts",
            "peerings",
            "unmanaged",
            "summary"
        ])
    );
    assert_eq!(schema["properties"]["format_version"]["const"], crate::plan::PLAN_FORMAT_VERSION);
    assert_eq!(required(&defs["Step"]), set(&["peering", "action", "reason"]), "depends_on is skipped when empty");
    assert_eq!(required(&defs["AwsScope"]), set(&["region"]), "profile and role_arn are skipped when unset");
    let create = defs["Action"]["oneOf"]
        .as_array()
        .expect("a oneOf")
        .iter()
        .find(|variant| variant["properties"]["type"]["const"] == "aws_create_connection")
        .expect("aws_create_connection");
    assert_eq!(required(create), set(&["type", "requester", "accepter"]));
    assert_eq!(defs["ConnectionSide"]["enum"], serde_json::json!(["requester", "accepter"]));
    assert_eq!(defs["Protocol"]["enum"], serde_json::json!(["tcp", "udp", "icmp", "all"]));
    // What serde writes for each of them.
    for (value, def) in [
        (serde_json::to_value(crate::plan::ConnectionSide::Accepter).unwrap(), "ConnectionSide"),
        (serde_json::to_value(crate::spec::Protocol::Icmp).unwrap(), "Protocol"),
    ] {
        assert!(defs[def]["enum"].as_array().unwrap().contains(&value), "{def} lacks {value}");
    }
}
