//! Plans as people and machines read them: text (like terraform's), Markdown
//! (for a pull-request comment) and JSON.

use crate::plan::{Action, ChangeKind, ConnectionRef, ConnectionSide, GcpFirewallSpec, PeeringStatus, Plan, Step, Summary};
use crate::state::{GcpRouteFlags, connection_tags};
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
            let _ = writeln!(out, "  {} {}", style.paint(code, &symbol), describe_step(plan, step));
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

/// `Plan: …` or `No changes. …`, then the refusal when there are conflicts.
pub fn summary_line(plan: &Plan, style: Style) -> String {
    let mut line = headline(plan, style);
    if let Some(refusal) = refusal(plan) {
        let _ = write!(line, "\n{} {refusal}", style.paint("1;31", "Error:"));
    }
    line
}

fn headline(plan: &Plan, style: Style) -> String {
    if plan.steps.is_empty() {
        style.paint("1;32", "No changes.") + " Live state matches the spec."
    } else {
        format!("{} {}.", style.paint("1", "Plan:"), counts(plan.summary()))
    }
}

fn counts(Summary { add, change, destroy }: Summary) -> String {
    format!("{add} to add, {change} to change, {destroy} to destroy")
}

fn refusal(plan: &Plan) -> Option<String> {
    let count = plan.conflicts.len();
    (count > 0).then(|| format!("{count} conflict(s): apply will refuse until they are resolved."))
}

/// `describe`, with the tags a new connection will carry.
pub fn describe_step(plan: &Plan, step: &Step) -> String {
    let line = describe(&step.action);
    match *step.action {
        Action::AwsCreateConnection { .. } => {
            let tags: Vec<String> = connection_tags(&plan.owner, &step.peering).iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{line} [{}]", tags.join(", "))
        }
        _ => line,
    }
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
        Action::AwsCreateConnection { requester, accepter } => format!(
            "peering connection {} ({}, {}) -> {} ({}, {})",
            requester.vpc, requester.account, requester.scope, accepter.vpc, accepter.account, accepter.scope,
        ),
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
        Action::AwsTag { resource, tags, scope } => {
            let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("tags of {resource} in {scope} (adopted): add {}", tags.join(", "))
        }
    }
}

fn describe_gcp(action: &Action) -> String {
    // The flags that are on; the others are off.
    let flags = |f: &GcpRouteFlags| {
        let all = [
            ("export_custom_routes", f.export_custom_routes),
            ("import_custom_routes", f.import_custom_routes),
            ("export_subnet_routes_with_public_ip", f.export_subnet_routes_with_public_ip),
            ("import_subnet_routes_with_public_ip", f.import_subnet_routes_with_public_ip),
        ];
        let on: Vec<&str> = all.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect();
        if on.is_empty() { "no route flags".to_string() } else { on.join(", ") }
    };
    let firewall = |f: &GcpFirewallSpec| {
        let allowed: Vec<String> = f.allowed.iter().map(ToString::to_string).collect();
        let sources: Vec<String> = f.source_ranges.iter().map(ToString::to_string).collect();
        format!("firewall {} on {} ingress allow {} from {}", f.name, f.network, allowed.join(", "), sources.join(", "))
    };
    match action {
        Action::GcpAddPeering { network, peer, name, flags: f } => format!("network peering {name} on {network} -> {peer} ({})", flags(f)),
        Action::GcpUpdatePeering { network, name, flags: f, .. } => format!("network peering {name} on {network}: flags now {}", flags(f)),
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

/// The plan as a pull-request comment: the summary as a heading, conflicts in
/// a caution callout, a table of the peerings, then one collapsed diff per
/// peering with changes.
pub fn markdown(plan: &Plan) -> String {
    let mut out = format!("## {}\n", headline(plan, Style { color: false }));
    if let Some(refusal) = refusal(plan) {
        let _ = write!(out, "\n> [!CAUTION]\n> **{refusal}**\n>\n");
        for conflict in &plan.conflicts {
            let _ = writeln!(out, "> - {}: {}", code(&conflict.peering), prose(&conflict.message));
        }
    }
    let groups = groups(plan);
    if !groups.is_empty() {
        out.push_str("\n| peering | cloud | status | add | change | destroy | conflicts |\n|---|---|---|--:|--:|--:|--:|\n");
        for group in &groups {
            let Summary { add, change, destroy } = tally(plan, group.name);
            let conflicts = plan.conflicts.iter().filter(|c| c.peering == group.name).count();
            let (name, cloud, status) = (cell(&code(group.name)), escape(group.cloud()), escape(&group.status()));
            let _ = writeln!(out, "| {name} | {cloud} | {status} | {add} | {change} | {destroy} | {conflicts} |");
        }
    }
    for group in &groups {
        markdown_steps(&mut out, plan, group);
    }
    if !plan.unmanaged.is_empty() {
        let _ = write!(out, "\nOwned by {} but not in the spec (use `--prune` to delete):\n\n", code(&plan.owner));
        for unmanaged in &plan.unmanaged {
            let _ = writeln!(out, "- {}: {} ({})", code(&unmanaged.peering), escape(&unmanaged.connection), escape(&unmanaged.status));
        }
    }
    out
}

/// A peering as the Markdown shows it: its status when the spec names it.
struct Group<'a> {
    name: &'a str,
    status: Option<&'a PeeringStatus>,
}

impl Group<'_> {
    fn cloud(&self) -> &str {
        self.status.map_or("?", |s| s.cloud.as_str())
    }

    fn status(&self) -> String {
        let Some(status) = self.status else {
            return "not in the spec".to_string();
        };
        let live = match (&status.connection, &status.status) {
            (Some(connection), Some(state)) => Some(format!("{connection} {state}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        };
        match (status.absent, live) {
            (false, Some(live)) => live,
            (false, None) => "not created".to_string(),
            (true, Some(live)) => format!("absent (live: {live})"),
            (true, None) => "absent".to_string(),
        }
    }
}

/// The peerings of the spec in its order, then any other peering a step or a
/// conflict names, so that a comment never hides a step.
fn groups(plan: &Plan) -> Vec<Group<'_>> {
    let mut groups: Vec<Group> = plan.peerings.iter().map(|s| Group { name: &s.name, status: Some(s) }).collect();
    let named = plan.steps.iter().map(|s| &s.peering).chain(plan.conflicts.iter().map(|c| &c.peering));
    for name in named {
        if !groups.iter().any(|g| g.name == name) {
            groups.push(Group { name, status: None });
        }
    }
    groups
}

fn tally(plan: &Plan, peering: &str) -> Summary {
    let mut summary = Summary::default();
    for step in plan.steps.iter().filter(|s| s.peering == peering) {
        match step.action.kind() {
            ChangeKind::Add => summary.add += 1,
            ChangeKind::Change => summary.change += 1,
            ChangeKind::Destroy => summary.destroy += 1,
        }
    }
    summary
}

/// One collapsed block with a `diff` fence: GitHub colours `+` and `-` lines
/// and, unlike `~`, also `!` ones, so a change is written `!`.
fn markdown_steps(out: &mut String, plan: &Plan, group: &Group) {
    let mut body = String::new();
    for step in plan.steps.iter().filter(|s| s.peering == group.name) {
        let kind = step.action.kind();
        let symbol = if kind == ChangeKind::Change { '!' } else { kind.symbol() };
        let _ = writeln!(body, "{symbol} {}", one_line(&describe_step(plan, step)));
        if kind != ChangeKind::Add {
            let _ = writeln!(body, "  # {}", one_line(&step.reason));
        }
    }
    if body.is_empty() {
        return;
    }
    let absent = if group.status.is_some_and(|s| s.absent) { ", absent" } else { "" };
    let fence = "`".repeat(3.max(longest_run(&body, '`') + 1));
    let _ = write!(
        out,
        "\n<details><summary><code>{}</code> ({}{absent}): {}</summary>\n\n{fence}diff\n{body}{fence}\n\n</details>\n",
        html(group.name),
        html(group.cloud()),
        counts(tally(plan, group.name))
    );
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

fn longest_run(text: &str, c: char) -> usize {
    text.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

/// Characters that could start emphasis, a link, HTML, an entity, a
/// strikethrough, math, a code span or end a table cell.
const MARKUP: &[char] = &['\\', '`', '*', '_', '[', ']', '<', '>', '&', '~', '$', '|'];

/// Plain text that must read as itself in Markdown.
fn escape(text: &str) -> String {
    let mut out = String::new();
    for c in one_line(text).chars() {
        if MARKUP.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A message that quotes names in backticks: the quotes stay code spans (where
/// escapes would show), the rest is escaped. Unpaired backticks are escaped too.
fn prose(text: &str) -> String {
    let paired = !text.matches('`').fold(false, |odd, _| !odd);
    let mut out = String::new();
    let mut quoted = false;
    for c in one_line(text).chars() {
        if c == '`' && paired {
            quoted = !quoted;
        } else if !quoted && MARKUP.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A code span holding `text` whatever backticks it contains.
fn code(text: &str) -> String {
    let text = one_line(text);
    let fence = "`".repeat(longest_run(&text, '`') + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Inside a table even a code span ends at `|` unless it is escaped; plain
/// text gets that from `escape`.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn html(text: &str) -> String {
    one_line(text).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// What `json` writes: the plan and its step counts. `schema::plan_schema`
/// is derived from this type, so the schema follows the file.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct JsonPlan<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    /// Step counts by kind; `apply` ignores it.
    summary: Summary,
}

/// The plan for machines; its shape is documented in docs/plan-format.md.
pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(&JsonPlan { plan, summary: plan.summary() }).unwrap_or_default()
}
