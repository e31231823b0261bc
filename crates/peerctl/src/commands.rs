//! The commands: validate, plan, drift, apply, import, iam-policy.

use crate::output::Output;
use crate::{Exit, Format, ImportCloud};
use peerctl_aws::AwsProvider;
use peerctl_core::plan::{Action, PLAN_FORMAT_VERSION, Plan, Step};
use peerctl_core::planner::Options;
use peerctl_core::spec::{CloudPeering, Spec};
use peerctl_core::{Diagnostics, drift, render};
use peerctl_engine::{ApplyOptions, Event, Provider, Providers};
use peerctl_gcp::GcpProvider;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The clouds a spec needs (only those), kept for their call counts.
struct Clouds {
    providers: Providers,
    aws: Option<Arc<AwsProvider>>,
    gcp: Option<Arc<GcpProvider>>,
}

impl Clouds {
    fn for_spec(spec: &Spec) -> Self {
        let uses = |aws: bool| spec.peerings.iter().any(|p| matches!(p.cloud, CloudPeering::Aws(_)) == aws);
        let aws = uses(true).then(|| Arc::new(AwsProvider::new()));
        let gcp = uses(false).then(|| Arc::new(GcpProvider::from_env()));
        let mut providers: Vec<Arc<dyn Provider>> = Vec::new();
        providers.extend(aws.clone().map(|p| p as Arc<dyn Provider>));
        providers.extend(gcp.clone().map(|p| p as Arc<dyn Provider>));
        Self { providers: Providers::new(providers), aws, gcp }
    }

    /// What to check when reading a cloud fails.
    fn hint(&self) -> String {
        let mut hints = Vec::new();
        if self.aws.is_some() {
            hints.push("AWS: the sides' credentials and regions (AWS_PROFILE, AWS_ENDPOINT_URL, role_arn)");
        }
        if self.gcp.is_some() {
            hints.push("GCP: the project ids and credentials (GOOGLE_OAUTH_ACCESS_TOKEN or application default credentials, CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE)");
        }
        format!("check {}", hints.join("; "))
    }

    /// With -v: how many API calls, by operation, so a user can see a plan's cost.
    fn report_calls(&self, out: &Output) {
        if let Some(aws) = &self.aws {
            report_cloud_calls("aws", &aws.calls(), out);
        }
        if let Some(gcp) = &self.gcp {
            report_cloud_calls("gcp", &gcp.calls(), out);
        }
    }
}

/// With -v: one line of a cloud's API calls, reads and writes apart.
fn report_cloud_calls(cloud: &str, calls: &BTreeMap<&str, u64>, out: &Output) {
    if out.verbose == 0 {
        return;
    }
    let is_read = |op: &str| match cloud {
        "aws" => op.starts_with("Describe"),
        _ => [".list", ".aggregatedList", ".get", ".wait"].iter().any(|s| op.ends_with(s)),
    };
    let total: u64 = calls.values().sum();
    let reads: u64 = calls.iter().filter(|(op, _)| is_read(op)).map(|(_, n)| n).sum();
    let detail: Vec<String> = calls.iter().map(|(op, n)| format!("{op}={n}")).collect();
    out.progress(&format!("{cloud} api calls: {total} ({reads} reads, {} writes): {}", total - reads, detail.join(" ")));
}

fn load(path: &Path, out: &Output) -> Option<Spec> {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            out.error(&format!("cannot read {file}: {error}"), Some("pass the path of a spec file, e.g. specs/demo.yaml"));
            return None;
        }
    };
    parse(path, &text, out)
}

/// A spec from text already read; problems are reported.
fn parse(path: &Path, text: &str, out: &Output) -> Option<Spec> {
    match peerctl_core::load(&path.display().to_string(), text) {
        Ok(spec) => Some(spec),
        Err(diags) => {
            report(&diags, out);
            None
        }
    }
}

fn report(diags: &Diagnostics, out: &Output) {
    for item in diags.items() {
        let place = if item.loc.line == 0 { item.file.clone() } else { format!("{}:{}:{}", item.file, item.loc.line, item.loc.column) };
        out.error(&format!("{place}: {}", item.message), item.hint.as_deref());
    }
    let n = diags.len();
    eprintln!("{n} problem{} found; nothing was changed.", if n == 1 { "" } else { "s" });
}

pub fn validate(path: &Path, out: &Output) -> Exit {
    let Some(spec) = load(path, out) else {
        return Exit::Error;
    };
    let (aws, gcp) = spec.peerings.iter().fold((0, 0), |(a, g), p| match p.cloud {
        CloudPeering::Aws(_) => (a + 1, g),
        CloudPeering::Gcp(_) => (a, g + 1),
    });
    println!("{} is valid: {} peering(s) ({aws} AWS, {gcp} GCP), owner `{}`.", path.display(), spec.peerings.len(), spec.owner);
    Exit::Ok
}

/// Observes and plans; `None` (after reporting) when either fails.
async fn observe_and_plan(spec: &Spec, clouds: &Clouds, options: &Options, out: &Output) -> Option<Plan> {
    let state = match clouds.providers.observe(spec).await {
        Ok(state) => state,
        Err(error) => {
            out.error_chain(&error, Some(&clouds.hint()));
            return None;
        }
    };
    match peerctl_core::planner::plan_with(spec, &state, options) {
        Ok(plan) => Some(plan),
        Err(diags) => {
            report(&diags, out);
            None
        }
    }
}

pub async fn plan(path: &Path, options: &Options, format: Format, detailed_exitcode: bool, save: Option<&Path>, out: &Output) -> Exit {
    let Some(spec) = load(path, out) else {
        return Exit::Error;
    };
    let clouds = Clouds::for_spec(&spec);
    let plan = observe_and_plan(&spec, &clouds, options, out).await;
    clouds.report_calls(out);
    let Some(plan) = plan else { return Exit::Error };
    match format {
        Format::Text => print!("{}", render::text(&plan, out.stdout_style)),
        Format::Json => println!("{}", render::json(&plan)),
        Format::Markdown => print!("{}", render::markdown(&plan)),
    }
    if !plan.conflicts.is_empty() {
        if save.is_some() {
            out.error("the plan was not saved: it has conflicts, which apply would refuse", None);
        }
        return Exit::Error;
    }
    if let Some(file) = save {
        if let Err(error) = write_atomically(file, &(render::json(&plan) + "\n")) {
            out.error(&format!("cannot write the plan to {}: {error}", file.display()), None);
            return Exit::Error;
        }
        out.progress(&format!("Saved the plan to {0}. Apply exactly these actions with `peerctl apply {0}`.", file.display()));
    }
    if detailed_exitcode && !plan.is_empty() { Exit::Changes } else { Exit::Ok }
}

pub async fn drift(path: &Path, options: &Options, json: bool, metrics_file: Option<&Path>, out: &Output) -> Exit {
    let spec = load(path, out);
    let plan = match &spec {
        Some(spec) => {
            let clouds = Clouds::for_spec(spec);
            let plan = observe_and_plan(spec, &clouds, options, out).await;
            clouds.report_calls(out);
            plan
        }
        None => None,
    };
    let report = plan.as_ref().map(drift::report);
    if let Some(file) = metrics_file {
        let owner = spec.as_ref().map_or("", |s| s.owner.as_str());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default();
        if let Err(error) = write_atomically(file, &drift::metrics(owner, report.as_ref(), now)) {
            out.error(&format!("cannot write the metrics file {}: {error}", file.display()), None);
            return Exit::Error;
        }
    }
    let Some(report) = report else { return Exit::Error };
    if json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print!("{}", drift::text(&report));
    }
    if report.in_sync { Exit::Ok } else { Exit::Changes }
}

/// Writes `text` beside `path` and renames it into place, so a reader (the
/// textfile collector) never sees half a file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })
}

pub async fn apply(path: &Path, options: &Options, auto_approve: bool, parallelism: usize, out: &Output) -> Exit {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            out.error(
                &format!("cannot read {}: {error}", path.display()),
                Some("pass a spec file, or a plan saved by `peerctl plan SPEC --out FILE`"),
            );
            return Exit::Error;
        }
    };
    if text.trim_start().starts_with('{') {
        if options != &Options::default() {
            out.error(
                "--prune and --target cannot be given with a saved plan",
                Some("they are fixed when the plan is made: `peerctl plan --prune --target … SPEC --out FILE`"),
            );
            return Exit::Error;
        }
        return apply_saved(path, &text, parallelism, out).await;
    }
    let Some(spec) = parse(path, &text, out) else {
        return Exit::Error;
    };
    let clouds = Clouds::for_spec(&spec);
    let exit = match observe_and_plan(&spec, &clouds, options, out).await {
        Some(plan) => {
            print!("{}", render::text(&plan, out.stdout_style));
            let asked = !plan.is_empty() && plan.conflicts.is_empty();
            if asked && !confirmed(auto_approve, out) {
                Exit::Error
            } else {
                execute_and_verify(&spec, &clouds, &plan, parallelism, out).await
            }
        }
        None => Exit::Error,
    };
    clouds.report_calls(out);
    exit
}

/// Applies a plan saved by `plan --out`, exactly, unless the spec or the
/// live state it was computed from changed since.
async fn apply_saved(path: &Path, text: &str, parallelism: usize, out: &Output) -> Exit {
    let saved: Plan = match serde_json::from_str(text) {
        Ok(plan) => plan,
        Err(error) => {
            out.error(&format!("{} is not a peerctl plan: {error}", path.display()), Some("make one with `peerctl plan SPEC --out FILE`"));
            return Exit::Error;
        }
    };
    if saved.format_version != PLAN_FORMAT_VERSION {
        out.error(
            &format!("{} has plan format {}, this peerctl reads format {PLAN_FORMAT_VERSION}", path.display(), saved.format_version),
            Some("make the plan again with this peerctl"),
        );
        return Exit::Error;
    }
    let rerun = format!("run `peerctl plan {} --out {}` again, review it, then apply it", saved.spec_file, path.display());
    let text = match std::fs::read_to_string(&saved.spec_file) {
        Ok(text) => text,
        Err(error) => {
            out.error(
                &format!("the plan was made from {}, which cannot be read from here: {error}", saved.spec_file),
                Some("run apply in the directory where the plan was made (the spec path is recorded as it was given)"),
            );
            return Exit::Error;
        }
    };
    let Some(spec) = parse(Path::new(&saved.spec_file), &text, out) else {
        return Exit::Error;
    };
    if spec.digest != saved.spec_digest {
        out.error(&format!("plan is stale: {} changed since the plan was made; nothing was changed", saved.spec_file), Some(&rerun));
        return Exit::Error;
    }
    let clouds = Clouds::for_spec(&spec);
    let exit = match observe_and_plan(&spec, &clouds, &saved.options, out).await {
        Some(now) if now.basis != saved.basis => {
            let s = now.summary();
            out.error(
                &format!(
                    "plan is stale: live state changed since the plan was made (a plan now would be {} to add, {} to change, {} to destroy); nothing was changed",
                    s.add, s.change, s.destroy
                ),
                Some(&rerun),
            );
            Exit::Error
        }
        Some(_) => {
            print!("{}", render::text(&saved, out.stdout_style));
            execute_and_verify(&spec, &clouds, &saved, parallelism, out).await
        }
        None => Exit::Error,
    };
    clouds.report_calls(out);
    exit
}

/// Carries out `plan` (refusing one with conflicts) and verifies the result.
async fn execute_and_verify(spec: &Spec, clouds: &Clouds, plan: &Plan, parallelism: usize, out: &Output) -> Exit {
    if !plan.conflicts.is_empty() {
        out.error(
            "apply refused: the plan has conflicts; nothing was changed",
            Some("resolve the conflicts listed above (peerctl never changes objects it does not own)"),
        );
        return Exit::Error;
    }
    if !plan.is_empty() {
        let options = ApplyOptions { parallelism, ..ApplyOptions::default() };
        let total = plan.steps.len();
        let show = |event: Event| progress(plan, total, &event, out);
        match peerctl_engine::apply(&clouds.providers, plan, &options, &show).await {
            Ok(report) if report.retries > 0 => {
                out.progress(&format!("{} call(s) retried after throttling or transient errors", report.retries))
            }
            Ok(_) => {}
            Err((_, error)) => {
                out.error_chain(
                    &error,
                    Some("fix the cause and run apply again: finished steps are kept and the next plan picks up from there"),
                );
                return Exit::Error;
            }
        }
    }
    verify(spec, clouds, &plan.options, plan, out).await
}

fn confirmed(auto_approve: bool, out: &Output) -> bool {
    if auto_approve {
        return true;
    }
    if !std::io::stdin().is_terminal() {
        out.error(
            "refusing to apply without confirmation: stdin is not a terminal",
            Some("review the plan with `peerctl plan`, then run `peerctl apply --auto-approve`"),
        );
        return false;
    }
    eprint!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == "yes" {
        return true;
    }
    out.error("apply cancelled; nothing was changed", None);
    false
}

/// A line per finished or failed step, its action as carried out.
fn progress(plan: &Plan, total: usize, event: &Event, out: &Output) {
    let line = |step: usize, action: &Action| {
        let s = Step { action: Box::new(action.clone()), ..plan.steps[step].clone() };
        format!("[{}/{total}] {} {}: {}", step + 1, s.action.kind().symbol(), s.peering, render::describe_step(plan, &s))
    };
    match event {
        Event::Started { .. } => {}
        Event::Finished { step, action, outcome, elapsed } => {
            let made = match outcome {
                peerctl_engine::Outcome::Created(id) => format!(" → {id}"),
                peerctl_engine::Outcome::Done => String::new(),
            };
            out.progress(&format!("{} ... done{made} ({:.1}s)", line(*step, action), elapsed.as_secs_f64()));
        }
        Event::Failed { step, action, error } => out.progress(&format!("{} ... FAILED: {error}", line(*step, action))),
    }
}

/// Re-reads live state and re-plans: apply succeeded only if nothing is left
/// to do and every peering is active. A few re-reads allow for EC2's eventual
/// consistency; a difference that persists is a failure.
async fn verify(spec: &Spec, clouds: &Clouds, options: &Options, applied: &Plan, out: &Output) -> Exit {
    let mut problems = Vec::new();
    for attempt in 0..5 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let Some(plan) = observe_and_plan(spec, clouds, options, out).await else {
            return Exit::Error;
        };
        problems = differences(&plan);
        if problems.is_empty() {
            let s = applied.summary();
            println!("\nApply complete! Resources: {} added, {} changed, {} destroyed.", s.add, s.change, s.destroy);
            println!("Verified: live state matches the spec and every peering is active.");
            return Exit::Ok;
        }
    }
    out.error("verification failed: live state does not match the spec after apply", None);
    for problem in problems {
        eprintln!("  - {problem}");
    }
    Exit::Error
}

fn differences(plan: &Plan) -> Vec<String> {
    let mut problems: Vec<String> = plan
        .steps
        .iter()
        .map(|s| format!("{}: still to do: {} {}", s.peering, s.action.kind().symbol(), render::describe_step(plan, s)))
        .collect();
    problems.extend(plan.conflicts.iter().map(|c| format!("{}: conflict: {}", c.peering, c.message)));
    for peering in plan.peerings.iter().filter(|p| !p.absent) {
        if peering.status.as_deref() != Some("active") {
            problems.push(format!(
                "{}: connection {} is {}, not active",
                peering.name,
                peering.connection.as_deref().unwrap_or("(none)"),
                peering.status.as_deref().unwrap_or("missing")
            ));
        }
    }
    problems
}

/// Prints the least privilege the spec needs (offline).
pub fn iam_policy(path: &Path, out: &Output) -> Exit {
    let Some(spec) = load(path, out) else {
        return Exit::Error;
    };
    println!("{:#}", peerctl_core::iam::policies(&spec));
    Exit::Ok
}

/// Writes a spec (stdout) for the peerings that exist, each with `adopt`.
pub async fn import(cloud: ImportCloud, owner: Option<String>, out: &Output) -> Exit {
    let Some(owner) = owner.filter(|o| peerctl_core::spec::is_valid_name(o)) else {
        out.error(
            "import needs a valid --owner",
            Some("pass the owner the spec will have, e.g. --owner byoc-prod (lowercase letters, digits and dashes)"),
        );
        return Exit::Error;
    };
    let imported = match cloud {
        ImportCloud::Aws { region, vpc, profile, role_arn } => {
            let scope = peerctl_core::spec::AwsScope { profile, role_arn, region };
            let aws = AwsProvider::new();
            let state = aws.observe_for_import(&scope, vpc.as_deref()).await;
            report_cloud_calls("aws", &aws.calls(), out);
            match state {
                Ok(state) => peerctl_core::import::aws(&state, &owner, &scope, vpc.as_deref()),
                Err(error) => {
                    out.error_chain(&error, Some("check the region and the AWS credentials (AWS_PROFILE, AWS_ENDPOINT_URL, --role-arn)"));
                    return Exit::Error;
                }
            }
        }
        ImportCloud::Gcp { project, network } => {
            let gcp = GcpProvider::from_env();
            let state = gcp.observe_for_import(&project).await;
            report_cloud_calls("gcp", &gcp.calls(), out);
            match state {
                Ok((state, notes)) => {
                    notes.iter().for_each(|note| out.progress(&format!("warning: {note}")));
                    peerctl_core::import::gcp(&state, &owner, &project, network.as_deref())
                }
                Err(error) => {
                    out.error_chain(
                        &error,
                        Some("check the project id and the GCP credentials (GOOGLE_OAUTH_ACCESS_TOKEN or application default credentials)"),
                    );
                    return Exit::Error;
                }
            }
        }
    };
    // What import writes must load: check it here rather than hand over a broken spec.
    if let Err(diags) = peerctl_core::load("(imported spec)", &imported.text) {
        out.error(&format!("the imported spec does not load, which is a bug in peerctl:\n{diags}\n{}", imported.text), None);
        return Exit::Error;
    }
    print!("{}", imported.text);
    out.progress(&format!("{} peering(s) imported; review the spec, then run `peerctl plan` on it.", imported.peerings));
    Exit::Ok
}
