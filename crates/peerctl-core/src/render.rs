//! Plans as people and machines read them: text (like terraform's) and JSON.

use crate::plan::{Action, ConnectionRef, ConnectionSide, GcpFirewallSpec, Plan, Step, Summary};
use crate::state::GcpRouteFlags;
use serde::Serialize;
use std::fmt::Write;

/// ANSI colours, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }
}

/// The plan as a terminal shows it: one block per peering, a summary line.
pub fn text(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    if !plan.steps.is_empty() || !plan.conflicts.is_empty() {
        out.push_str("peerctl will perform the following actions:\n");
    }
    for status in &plan.peerings {
        let steps: Vec<&Step> = plan.steps.iter().filter(|s| s.peering == status.name).collect();
        let conflicts: Vec<_> = plan.conflicts.iter().filter(|c| c.peering == status.name).collect();
        if steps.is_empty() && conflicts.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n  # peering \"{}\" ({}{})", status.name, status.cloud, if status.absent { ", absent" } else { "" });
        for step in steps {
            let kind = step.action.kind();
            let symbol = kind.symbol().to_string();
            let code = match kind {
                crate::plan::ChangeKind::Add => "32",
                crate::plan::ChangeKind::Change => "33",
                crate::plan::ChangeKind::Destroy => "31",
            };
            let _ = writeln!(out, "  {} {}", style.paint(code, &symbol), describe(&step.action));
            if kind != crate::plan::ChangeKind::Add {
                let _ = writeln!(out, "      {}", style.paint("2", &format!("# {}", step.reason)));
            }
        }
        for conflict in conflicts {
            let _ = writeln!(out, "  {} conflict: {}", style.paint("1;31", "!"), conflict.message);
        }
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(out, "\nOwned by `{}` but not in the spec (use --prune to delete):", plan.owner);
        for unmanaged in &plan.unmanaged {
            let _ = writeln!(out, "  * peering \"{}\": {} ({})", unmanaged.peering, unmanaged.connection, unmanaged.status);
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&summary_line(plan, style));
    out.push('\n');
    out
}

pub fn summary_line(plan: &Plan, style: Style) -> String {
    let Summary { add, change, destroy } = plan.summary();
    let mut line = if plan.steps.is_empty() {
        style.paint("1;32", "No changes.") + " Live state matches the spec."
    } else {
        format!("{} {add} to add, {change} to change, {destroy} to destroy.", style.paint("1", "Plan:"))
    };
    if !plan.conflicts.is_empty() {
        let _ = write!(
            line,
            "\n{} {} conflict(s): apply will refuse until they are resolved.",
            style.paint("1;31", "Error:"),
            plan.conflicts.len()
        );
    }
    line
}

/// One line naming the object and the values a reviewer needs.
pub fn describe(action: &Action) -> String {
    match action {
        Action::GcpAddPeering { .. }
        | Action::GcpUpdatePeering { .. }
        | Action::GcpRemovePeering { .. }
        | Action::GcpInsertFirewall { .. }
        | Action::GcpUpdateFirewall { .. }
        | Action::GcpDeleteFirewall { .. } => describe_gcp(action),
        Action::AwsCreateConnection { requester, accepter, tags } => {
            let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "peering connection {} ({}, {}) -> {} ({}, {}) [{}]",
                requester.vpc,
                requester.account,
                requester.scope,
                accepter.vpc,
                accepter.account,
                accepter.scope,
                tags.join(", ")
            )
        }
        Action::AwsAcceptConnection { scope, connection } => {
            format!("accept {} in {scope}", connection_name(connection))
        }
        Action::AwsSetDnsResolution { connection, side, allow, scope } => {
            let side = match side {
                ConnectionSide::Requester => "requester",
                ConnectionSide::Accepter => "accepter",
            };
            format!("dns resolution from remote vpc on {} ({side} side, {scope}): {} -> {allow}", connection_name(connection), !allow)
        }
        Action::AwsCreateRoute { route_table, destination, connection, .. } => {
            format!("route {route_table} {destination} -> {}", connection_name(connection))
        }
        Action::AwsReplaceRoute { route_table, destination, connection, previous_target, .. } => {
            format!("route {route_table} {destination} -> {} (was {previous_target})", connection_name(connection))
        }
        Action::AwsDeleteRoute { route_table, destination, target, .. } => format!("route {route_table} {destination} -> {target}"),
        Action::AwsAuthorizeIngress { group, permission, source, .. } => format!("ingress rule {group} {permission} from {source}"),
        Action::AwsRevokeIngress { group, rule_id, permission, source, .. } => {
            format!("ingress rule {group} {permission} from {source} ({rule_id})")
        }
        Action::AwsDeleteConnection { connection, scope } => {
            format!("peering connection {connection} in {scope}")
        }
    }
}

fn describe_gcp(action: &Action) -> String {
    let flags = |f: &GcpRouteFlags| {
        format!(
            "export_custom_routes={} import_custom_routes={} export_subnet_routes_with_public_ip={} import_subnet_routes_with_public_ip={}",
            f.export_custom_routes, f.import_custom_routes, f.export_subnet_routes_with_public_ip, f.import_subnet_routes_with_public_ip
        )
    };
    let firewall = |f: &GcpFirewallSpec| {
        let allowed: Vec<String> = f.allowed.iter().map(ToString::to_string).collect();
        let sources: Vec<String> = f.source_ranges.iter().map(ToString::to_string).collect();
        format!("firewall {} on {} ingress allow {} from {}", f.name, f.network, allowed.join(", "), sources.join(", "))
    };
    match action {
        Action::GcpAddPeering { network, peer, name, flags: f } => format!("network peering {name} on {network} -> {peer} ({})", flags(f)),
        Action::GcpUpdatePeering { network, name, flags: f, .. } => format!("network peering {name} on {network}: {}", flags(f)),
        Action::GcpRemovePeering { network, peer, name } => format!("network peering {name} on {network} -> {peer}"),
        Action::GcpInsertFirewall { firewall: f } | Action::GcpUpdateFirewall { firewall: f } => firewall(f),
        Action::GcpDeleteFirewall { project, name } => format!("firewall {name} in project {project}"),
        _ => String::new(),
    }
}

fn connection_name(connection: &ConnectionRef) -> String {
    match connection {
        ConnectionRef::Id(id) => id.clone(),
        ConnectionRef::CreatedByStep(_) => "pcx-(known after apply)".to_string(),
    }
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    summary: Summary,
}

/// The plan for machines; its shape is documented in docs/plan-format.md.
pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(&JsonPlan { plan, summary: plan.summary() }).unwrap_or_default()
}
