//! The CI and Kubernetes recipes in docs/recipes/ are copied into other
//! people's pipelines, so they must not rot as the CLI changes. For every
//! `docs/recipes/*.yml|*.yaml` this checks that it parses (every YAML
//! document), that it has the shape its platform expects, and that every
//! `peerctl …` command it runs names a real subcommand and only flags (and
//! flag values) that `peerctl SUBCOMMAND --help` lists. No cloud is needed.
//!
//! Commands are found in the values of `run` (GitHub Actions), `script`,
//! `before_script`, `after_script` (GitLab CI), `command` and `args`
//! (Kubernetes; also an argv list starting with `peerctl`). Those strings are
//! read as shell: lines joined at a trailing `\`, split at `;`, `&&`, `||`,
//! `|`, `$(…)` (outside double quotes), parentheses and backquotes, with
//! quotes, comments and redirections understood. A command runs peerctl when
//! its first word, after `VAR=value` assignments and keywords such as `if`,
//! is `peerctl` (or a path ending in `/peerctl`): `cargo install … peerctl`
//! and `echo "peerctl …"` do not.

use peerctl_e2e::{peerctl_bin, workspace_root};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Which platform a recipe is for, from its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Platform {
    GitHub,
    GitLab,
    Kubernetes,
}

impl Platform {
    fn of(name: &str) -> Option<Platform> {
        if name.starts_with("github") {
            Some(Platform::GitHub)
        } else if name.starts_with("gitlab") {
            Some(Platform::GitLab)
        } else if name.starts_with("kubernetes") || name.starts_with("k8s") {
            Some(Platform::Kubernetes)
        } else {
            None
        }
    }

    /// The subcommands a recipe for this platform exists to run.
    fn expected_subcommands(self) -> &'static [&'static str] {
        match self {
            Platform::GitHub | Platform::GitLab => &["plan", "apply", "drift"],
            Platform::Kubernetes => &["drift"],
        }
    }
}

/// One recipe file, read and parsed.
struct Recipe {
    /// As shown in messages: `docs/recipes/NAME`.
    shown: String,
    platform: Platform,
    text: String,
    /// Every non-empty YAML document.
    documents: Vec<Value>,
}

fn recipes() -> Vec<Recipe> {
    let dir = workspace_root().join("docs/recipes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.yml or *.yaml recipes in {}", dir.display());
    files
        .iter()
        .map(|path| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let shown = format!("docs/recipes/{name}");
            let platform = Platform::of(&name).unwrap_or_else(|| {
                panic!("{shown}: unknown kind of recipe: name it github-*, gitlab-* or kubernetes-* (or teach tests/e2e/recipes.rs the new kind)")
            });
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {shown}: {e}"));
            let documents: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{shown} is not valid YAML: {e}"));
            let documents = documents.into_iter().filter(|d| !d.is_null()).collect();
            Recipe { shown, platform, text, documents }
        })
        .collect()
}

#[test]
fn recipes_have_the_shape_their_platform_expects() {
    let mut problems = Vec::new();
    for recipe in recipes() {
        let mut problem = |message: String| problems.push(format!("{}: {message}", recipe.shown));
        match recipe.platform {
            Platform::GitHub => github_shape(&recipe.documents, &mut problem),
            Platform::GitLab => gitlab_shape(&recipe.documents, &mut problem),
            Platform::Kubernetes => kubernetes_shape(&recipe.documents, &mut problem),
        }
    }
    assert!(problems.is_empty(), "recipes with the wrong shape:\n  {}", problems.join("\n  "));
}

#[test]
fn recipes_run_only_subcommands_and_flags_peerctl_has() {
    let mut help = Help::default();
    let mut problems = Vec::new();
    for recipe in recipes() {
        let invocations = invocations(&recipe);
        let mut used = BTreeSet::new();
        for invocation in &invocations {
            used.extend(invocation.args.iter().find(|a| !a.starts_with('-')).cloned());
            match help.check(&invocation.args) {
                Ok(parsed) => {
                    if recipe.platform == Platform::Kubernetes {
                        kubernetes_paths(&recipe, invocation, &parsed, &mut problems);
                    }
                }
                Err(Unknown { word, message }) => {
                    let line = recipe.line_of(invocation, &word);
                    problems.push(format!("{}:{line}: {message}\n      in: {}", recipe.shown, invocation.text));
                }
            }
        }
        for expected in recipe.platform.expected_subcommands() {
            if !used.contains(*expected) {
                problems.push(format!(
                    "{}: runs no `peerctl {expected}` (found {} peerctl command(s): {:?})",
                    recipe.shown,
                    invocations.len(),
                    invocations.iter().map(|i| i.text.as_str()).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "recipes that peerctl would reject:\n  {}", problems.join("\n  "));
}

#[test]
fn specs_in_kubernetes_recipes_are_valid() {
    let dir = std::env::temp_dir().join(format!("peerctl-e2e-recipes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let mut checked = 0;
    for recipe in recipes().into_iter().filter(|r| r.platform == Platform::Kubernetes) {
        for map in recipe.documents.iter().filter(|d| d["kind"] == "ConfigMap") {
            for (key, spec) in map["data"].as_object().into_iter().flatten() {
                let Some(spec) = spec.as_str().filter(|_| key.ends_with(".yaml") || key.ends_with(".yml")) else { continue };
                let file = dir.join(key);
                std::fs::write(&file, spec).unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
                let output = run_peerctl(&[OsArg::from("validate"), OsArg::from(file.as_os_str())]);
                assert!(
                    output.status.success(),
                    "{}: the ConfigMap's {key} is not a valid spec:\n{}{}",
                    recipe.shown,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
                checked += 1;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(checked > 0, "no spec found in the ConfigMaps of the Kubernetes recipes");
}

// ---------------------------------------------------------------------------
// Shapes

fn single_mapping<'a>(documents: &'a [Value], problem: &mut dyn FnMut(String)) -> Option<&'a Map<String, Value>> {
    match documents {
        [Value::Object(map)] => Some(map),
        _ => {
            problem(format!("expected exactly one YAML document, a mapping; found {} document(s)", documents.len()));
            None
        }
    }
}

fn github_shape(documents: &[Value], problem: &mut dyn FnMut(String)) {
    let Some(top) = single_mapping(documents, problem) else { return };
    match top.get("on") {
        Some(Value::Object(on)) => {
            for trigger in ["pull_request", "push", "schedule"] {
                if !on.contains_key(trigger) {
                    problem(format!("`on` has no `{trigger}` trigger"));
                }
            }
            let crons = on.get("schedule").and_then(Value::as_array).map(|s| s.iter().filter(|c| c["cron"].is_string()).count());
            if crons.unwrap_or(0) == 0 {
                problem("`on.schedule` must be a list of `- cron: \"…\"`".into());
            }
        }
        Some(other) => problem(format!("`on` must be a mapping of triggers, not {other}")),
        None => problem(format!("no top-level `on` (keys: {:?})", top.keys().collect::<Vec<_>>())),
    }
    let Some(jobs) = top.get("jobs").and_then(Value::as_object).filter(|j| !j.is_empty()) else {
        return problem("no top-level `jobs` mapping".into());
    };
    for (name, job) in jobs {
        if job.get("runs-on").is_none() {
            problem(format!("job `{name}` has no `runs-on`"));
        }
        let Some(steps) = job.get("steps").and_then(Value::as_array).filter(|s| !s.is_empty()) else {
            problem(format!("job `{name}` has no `steps` list"));
            continue;
        };
        for (index, step) in steps.iter().enumerate() {
            let has = |key: &str| step.get(key).is_some();
            if has("run") == has("uses") {
                problem(format!("step {} of job `{name}` must have exactly one of `run` and `uses`", index + 1));
            }
        }
    }
}

/// Top-level keys of a .gitlab-ci.yml that are not jobs.
const GITLAB_GLOBALS: &[&str] =
    &["after_script", "before_script", "cache", "default", "image", "include", "services", "spec", "stages", "variables", "workflow"];

fn gitlab_shape(documents: &[Value], problem: &mut dyn FnMut(String)) {
    let Some(top) = single_mapping(documents, problem) else { return };
    let stages: Vec<&str> = top.get("stages").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if stages.is_empty() {
        problem("no top-level `stages` list".into());
    }
    // A job's keyword, its own or inherited through `extends`.
    let inherited = |job: &Value, key: &str| -> Option<Value> {
        let mut seen = BTreeSet::new();
        let mut queue = vec![job];
        while let Some(current) = queue.pop() {
            if let Some(value) = current.get(key) {
                return Some(value.clone());
            }
            let parents = match current.get("extends") {
                Some(Value::String(one)) => vec![one.as_str()],
                Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            for parent in parents.into_iter().rev() {
                if seen.insert(parent.to_string()) {
                    queue.extend(top.get(parent));
                }
            }
        }
        None
    };
    let jobs: Vec<(&String, &Value)> = top.iter().filter(|(k, _)| !k.starts_with('.') && !GITLAB_GLOBALS.contains(&k.as_str())).collect();
    if jobs.is_empty() {
        problem("no jobs".into());
    }
    for (name, job) in jobs {
        if !job.is_object() {
            problem(format!("job `{name}` must be a mapping"));
            continue;
        }
        match inherited(job, "script") {
            Some(Value::String(_)) => {}
            Some(Value::Array(lines)) if !lines.is_empty() => {}
            _ => problem(format!("job `{name}` has no `script` (of its own or through `extends`)")),
        }
        match inherited(job, "stage") {
            Some(Value::String(stage)) if stages.contains(&stage.as_str()) => {}
            Some(stage) => problem(format!("job `{name}` has stage {stage}, which is not in `stages` {stages:?}")),
            None => problem(format!("job `{name}` has no `stage`")),
        }
    }
}

fn kubernetes_shape(documents: &[Value], problem: &mut dyn FnMut(String)) {
    if documents.is_empty() {
        return problem("no YAML documents".into());
    }
    for (index, document) in documents.iter().enumerate() {
        for key in ["apiVersion", "kind"] {
            if !document[key].is_string() {
                problem(format!("document {} has no `{key}`", index + 1));
            }
        }
        if !document["metadata"]["name"].is_string() {
            problem(format!("document {} has no `metadata.name`", index + 1));
        }
    }
    let cronjobs: Vec<&Value> = documents.iter().filter(|d| d["kind"] == "CronJob").collect();
    if cronjobs.is_empty() {
        problem("no `kind: CronJob` document".into());
    }
    for cronjob in cronjobs {
        let name = &cronjob["metadata"]["name"];
        if cronjob["apiVersion"] != "batch/v1" {
            problem(format!("CronJob {name} has apiVersion {}, not batch/v1", cronjob["apiVersion"]));
        }
        if !cronjob["spec"]["schedule"].is_string() {
            problem(format!("CronJob {name} has no `spec.schedule`"));
        }
        let pod = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        if pod["containers"].as_array().is_none_or(|c| c.is_empty()) {
            problem(format!("CronJob {name} has no `spec.jobTemplate.spec.template.spec.containers`"));
        }
        if !matches!(pod["restartPolicy"].as_str(), Some("Never" | "OnFailure")) {
            problem(format!("CronJob {name}'s pod needs `restartPolicy: Never` or `OnFailure`"));
        }
    }
    let maps: Vec<&Value> = documents.iter().filter(|d| d["kind"] == "ConfigMap").collect();
    if maps.is_empty() {
        problem("no `kind: ConfigMap` document (for the spec)".into());
    }
    for map in maps {
        if map["apiVersion"] != "v1" {
            problem(format!("ConfigMap {} has apiVersion {}, not v1", map["metadata"]["name"], map["apiVersion"]));
        }
        if !map["data"].is_object() {
            problem(format!("ConfigMap {} has no `data`", map["metadata"]["name"]));
        }
    }
}

/// In a Kubernetes recipe, the spec peerctl reads must be a key of a
/// ConfigMap of the file, mounted where the command looks for it, and the
/// metrics file must go to a mounted hostPath or emptyDir.
fn kubernetes_paths(recipe: &Recipe, invocation: &Invocation, parsed: &Parsed, problems: &mut Vec<String>) {
    let pods = recipe.documents.iter().filter(|d| d["kind"] == "CronJob").map(|c| &c["spec"]["jobTemplate"]["spec"]["template"]["spec"]);
    // mountPath -> the volume behind it, for every container of every CronJob.
    let mut mounts: BTreeMap<String, Value> = BTreeMap::new();
    for pod in pods {
        let volumes: HashMap<&str, &Value> =
            pod["volumes"].as_array().into_iter().flatten().filter_map(|v| Some((v["name"].as_str()?, v))).collect();
        for container in pod["containers"].as_array().into_iter().flatten() {
            for mount in container["volumeMounts"].as_array().into_iter().flatten() {
                if let (Some(path), Some(volume)) = (mount["mountPath"].as_str(), mount["name"].as_str().and_then(|n| volumes.get(n))) {
                    mounts.insert(path.trim_end_matches('/').to_string(), (*volume).clone());
                }
            }
        }
    }
    let split = |path: &str| {
        let path = Path::new(path);
        let dir = path.parent().map(|p| p.to_string_lossy().trim_end_matches('/').to_string()).unwrap_or_default();
        (dir, path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
    };
    let mut problem = |word: &str, message: String| {
        let line = recipe.line_of(invocation, word);
        problems.push(format!("{}:{line}: {message}\n      in: {}", recipe.shown, invocation.text));
    };
    for spec in &parsed.positionals {
        let (dir, file) = split(spec);
        let map_name = mounts.get(&dir).and_then(|v| v["configMap"]["name"].as_str());
        let Some(map_name) = map_name else {
            problem(spec, format!("{spec}: {dir} is not a mounted ConfigMap volume (mounts: {:?})", mounts.keys().collect::<Vec<_>>()));
            continue;
        };
        let has_key =
            recipe.documents.iter().any(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == map_name && d["data"][&file].is_string());
        if !has_key {
            problem(spec, format!("{spec}: no ConfigMap `{map_name}` with a `{file}` key in this file"));
        }
    }
    for (flag, value) in &parsed.flags {
        if flag != "--metrics-file" {
            continue;
        }
        let value = value.as_deref().unwrap_or_default();
        let (dir, _) = split(value);
        let shared = mounts.get(&dir).is_some_and(|v| v.get("hostPath").is_some() || v.get("emptyDir").is_some());
        if !shared {
            problem(value, format!("--metrics-file {value}: {dir} is not a mounted hostPath or emptyDir volume"));
        }
    }
}

// ---------------------------------------------------------------------------
// Finding peerctl commands

/// One run of peerctl found in a recipe.
struct Invocation {
    /// The words after `peerctl`.
    args: Vec<String>,
    /// The command as written (continuation lines joined), for messages.
    text: String,
    /// Where to look for it in the file: the trimmed first physical line, and
    /// which occurrence of that line it is.
    anchor: String,
    occurrence: usize,
    lines: usize,
}

/// Keys whose string values are shell.
const SHELL_KEYS: &[&str] = &["run", "script", "before_script", "after_script", "command", "args"];

fn invocations(recipe: &Recipe) -> Vec<Invocation> {
    let mut scripts = Vec::new();
    for document in &recipe.documents {
        collect_scripts(document, &mut scripts);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut found = Vec::new();
    for script in scripts {
        match script {
            Script::Shell(text) => {
                for (anchor, logical, lines) in logical_lines(&text) {
                    for words in simple_commands(&logical) {
                        if let Some(args) = peerctl_args(&words) {
                            let occurrence = *seen.entry(anchor.clone()).and_modify(|n| *n += 1).or_insert(0);
                            found.push(Invocation { args, text: logical.trim().to_string(), anchor: anchor.clone(), occurrence, lines });
                        }
                    }
                }
            }
            Script::Argv(argv) => {
                let anchor = argv.get(1).cloned().unwrap_or_else(|| argv[0].clone());
                let occurrence = *seen.entry(anchor.clone()).and_modify(|n| *n += 1).or_insert(0);
                found.push(Invocation { args: argv[1..].to_vec(), text: argv.join(" "), anchor, occurrence, lines: argv.len() + 2 });
            }
        }
    }
    found
}

enum Script {
    Shell(String),
    /// A container's `command` (starting with peerctl) and `args`.
    Argv(Vec<String>),
}

fn is_peerctl(word: &str) -> bool {
    word == "peerctl" || word.ends_with("/peerctl")
}

fn collect_scripts(value: &Value, out: &mut Vec<Script>) {
    match value {
        Value::Object(map) => {
            let strings = |v: Option<&Value>| -> Option<Vec<String>> {
                v?.as_array()?.iter().map(|s| s.as_str().map(str::to_string)).collect::<Option<Vec<_>>>()
            };
            let argv = strings(map.get("command")).filter(|c| c.first().is_some_and(|w| is_peerctl(w)));
            let argv_form = argv.is_some();
            if let Some(mut argv) = argv {
                argv.extend(strings(map.get("args")).unwrap_or_default());
                out.push(Script::Argv(argv));
            }
            for (key, value) in map {
                if SHELL_KEYS.contains(&key.as_str()) {
                    if !(argv_form && (key == "command" || key == "args")) {
                        collect_strings(value, out);
                    }
                } else if key != "with" {
                    // `with:` holds a GitHub action's inputs (github-script's
                    // `script` is JavaScript), not shell.
                    collect_scripts(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_scripts(item, out)),
        _ => {}
    }
}

fn collect_strings(value: &Value, out: &mut Vec<Script>) {
    match value {
        Value::String(text) => out.push(Script::Shell(text.clone())),
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, out)),
        _ => {}
    }
}

/// A script's logical lines, physical lines ending in `\` joined: (the first
/// physical line trimmed, the logical line, how many physical lines).
fn logical_lines(script: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, usize)> = None;
    for line in script.lines() {
        let continued = line.len() - line.trim_end_matches('\\').len();
        let (body, more) = if continued % 2 == 1 { (&line[..line.len() - 1], true) } else { (line, false) };
        let entry = current.get_or_insert_with(|| (line.trim().to_string(), String::new(), 0));
        entry.1.push_str(body);
        entry.1.push(' ');
        entry.2 += 1;
        if !more {
            out.extend(current.take());
        }
    }
    out.extend(current);
    out
}

/// The simple commands of one logical shell line, as words.
fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut skip_next_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    w.push(q);
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        _ => w.push(q),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            '#' if word.is_none() => break,
            '$' if chars.peek() == Some(&'(') => {
                chars.next();
                end_word(&mut word, &mut words, &mut skip_next_word);
                skip_next_word = false;
                commands.push(std::mem::take(&mut words));
            }
            '>' | '<' => {
                // `2>&1`, `> file`, `>> file`: drop the fd and the target.
                if word.as_deref().is_some_and(|w| w.chars().all(|d| d.is_ascii_digit())) {
                    word = None;
                }
                end_word(&mut word, &mut words, &mut skip_next_word);
                while chars.peek().is_some_and(|n| matches!(n, '>' | '<' | '&' | '|')) {
                    chars.next();
                }
                skip_next_word = true;
            }
            ';' | '&' | '|' | '(' | ')' | '`' => {
                end_word(&mut word, &mut words, &mut skip_next_word);
                skip_next_word = false;
                commands.push(std::mem::take(&mut words));
            }
            c if c.is_whitespace() => end_word(&mut word, &mut words, &mut skip_next_word),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    end_word(&mut word, &mut words, &mut skip_next_word);
    commands.push(words);
    commands.retain(|c| !c.is_empty());
    commands
}

/// Ends the word being read: kept, or dropped when it is a redirection's target.
fn end_word(word: &mut Option<String>, words: &mut Vec<String>, skip: &mut bool) {
    if let Some(w) = word.take()
        && !std::mem::take(skip)
    {
        words.push(w);
    }
}

/// Words that may precede a command's name.
const PREFIXES: &[&str] = &["!", "{", "}", "if", "then", "else", "elif", "do", "while", "until", "time", "exec", "command", "env", "sudo"];

/// The arguments of a simple command that runs peerctl.
fn peerctl_args(words: &[String]) -> Option<Vec<String>> {
    let is_assignment = |w: &str| {
        w.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        })
    };
    let start = words.iter().position(|w| !PREFIXES.contains(&w.as_str()) && !is_assignment(w))?;
    is_peerctl(&words[start]).then(|| words[start + 1..].to_vec())
}

impl Recipe {
    /// The file line where `word` of `invocation` is written. The candidates
    /// are the lines that hold the invocation's first line whole (alone, or
    /// after `run:`, `- ` and the like); the first of them, counting from its
    /// `occurrence`-th, whose command holds `word` wins. `?` when there is none.
    fn line_of(&self, invocation: &Invocation, word: &str) -> String {
        let lines: Vec<&str> = self.text.lines().collect();
        let anchor = invocation.anchor.as_str();
        let holds_anchor = |line: &str| {
            let line = line.trim();
            line == anchor
                || line.strip_suffix(anchor).is_some_and(|before| before.ends_with(' ') && before.trim_end().ends_with([':', '-']))
        };
        let mut candidates: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| holds_anchor(l)).map(|(i, _)| i).collect();
        if candidates.is_empty() {
            return lines.iter().position(|l| !word.is_empty() && l.contains(word)).map_or("?".into(), |i| (i + 1).to_string());
        }
        let first = invocation.occurrence.min(candidates.len() - 1);
        candidates.rotate_left(first);
        let within = |start: usize| {
            (start..(start + invocation.lines.max(1)).min(lines.len())).find(|&i| !word.is_empty() && lines[i].contains(word))
        };
        let at = candidates.iter().find_map(|&start| within(start)).unwrap_or(candidates[0]);
        (at + 1).to_string()
    }
}

// ---------------------------------------------------------------------------
// What peerctl accepts, from its --help

type OsArg = std::ffi::OsString;

fn run_peerctl(args: &[OsArg]) -> std::process::Output {
    let bin = peerctl_bin();
    assert!(bin.exists(), "{} is missing: build it first (`cargo build -p peerctl`, done by `./just test`)", bin.display());
    Command::new(&bin)
        .args(args)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

#[derive(Debug, Default)]
struct Flag {
    takes_value: bool,
    /// The values --help lists, when it lists them.
    values: Vec<String>,
}

/// One `--help` page: its flags and (at the top level) subcommands.
#[derive(Debug, Default)]
struct Page {
    flags: BTreeMap<String, Flag>,
    subcommands: Vec<String>,
}

/// `peerctl [SUBCOMMAND] --help`, read once each.
#[derive(Default)]
struct Help {
    pages: HashMap<Option<String>, Page>,
}

struct Unknown {
    /// The word to point at in the file.
    word: String,
    message: String,
}

#[derive(Debug, Default)]
struct Parsed {
    subcommand: Option<String>,
    flags: Vec<(String, Option<String>)>,
    positionals: Vec<String>,
}

impl Help {
    fn page(&mut self, subcommand: Option<&str>) -> &Page {
        self.pages.entry(subcommand.map(str::to_string)).or_insert_with(|| {
            let mut args: Vec<OsArg> = subcommand.into_iter().map(OsArg::from).collect();
            args.push("--help".into());
            let output = run_peerctl(&args);
            let shown = format!("peerctl {}--help", subcommand.map(|s| format!("{s} ")).unwrap_or_default());
            assert!(output.status.success(), "`{shown}` failed:\n{}", String::from_utf8_lossy(&output.stderr));
            parse_help(&String::from_utf8_lossy(&output.stdout))
        })
    }

    /// Checks `peerctl ARGS…` against the help pages.
    fn check(&mut self, args: &[String]) -> Result<Parsed, Unknown> {
        let mut parsed = Parsed::default();
        let mut words = args.iter().peekable();
        while let Some(word) = words.next() {
            if word == "--" {
                parsed.positionals.extend(words.by_ref().cloned());
                break;
            }
            if !word.starts_with('-') || word == "-" {
                if parsed.subcommand.is_none() {
                    let top = self.page(None);
                    if !top.subcommands.contains(word) {
                        return Err(Unknown {
                            word: word.clone(),
                            message: format!("unknown subcommand `peerctl {word}`; `peerctl --help` lists: {}", top.subcommands.join(", ")),
                        });
                    }
                    parsed.subcommand = Some(word.clone());
                } else {
                    parsed.positionals.push(word.clone());
                }
                continue;
            }
            let subcommand = parsed.subcommand.clone();
            let shown = format!("peerctl{}", subcommand.as_deref().map(|s| format!(" {s}")).unwrap_or_default());
            let page = self.page(subcommand.as_deref());
            let known = || page.flags.keys().cloned().collect::<Vec<_>>().join(", ");
            if let Some(long) = word.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((name, value)) => (format!("--{name}"), Some(value.to_string())),
                    None => (word.clone(), None),
                };
                let Some(flag) = page.flags.get(&name) else {
                    return Err(Unknown {
                        word: name.clone(),
                        message: format!("unknown flag `{name}` for `{shown}`; `{shown} --help` lists: {}", known()),
                    });
                };
                let value = if !flag.takes_value {
                    if inline.is_some() {
                        return Err(Unknown { word: name.clone(), message: format!("`{name}` of `{shown}` takes no value") });
                    }
                    None
                } else {
                    match inline.or_else(|| words.next_if(|w| !w.starts_with('-')).cloned()) {
                        Some(value) => Some(value),
                        None => return Err(Unknown { word: name.clone(), message: format!("`{name}` of `{shown}` needs a value") }),
                    }
                };
                if let Some(value) = &value
                    && !flag.values.is_empty()
                    && !value.contains('$')
                    && !flag.values.contains(value)
                {
                    return Err(Unknown {
                        word: name.clone(),
                        message: format!("`{name} {value}`: `{shown} --help` allows only {}", flag.values.join(", ")),
                    });
                }
                parsed.flags.push((name, value));
            } else {
                // Short flags, possibly bundled (`-vv`).
                for short in word[1..].chars() {
                    let name = format!("-{short}");
                    if !page.flags.contains_key(&name) {
                        return Err(Unknown {
                            word: word.clone(),
                            message: format!("unknown flag `{name}` for `{shown}`; `{shown} --help` lists: {}", known()),
                        });
                    }
                    parsed.flags.push((name, None));
                }
            }
        }
        Ok(parsed)
    }
}

/// Reads clap's help: option lines (`  -v, --verbose...`, `      --out <FILE>`),
/// the description after each (for `[possible values: a, b]` or a
/// `Possible values:` list of `- a: …`), and the `Commands:` section.
fn parse_help(text: &str) -> Page {
    let mut page = Page::default();
    let mut section = "";
    let mut current: Vec<String> = Vec::new();
    let mut description = String::new();
    let finish = |page: &mut Page, names: &mut Vec<String>, description: &mut String| {
        let values = possible_values(description);
        for name in names.drain(..) {
            if let Some(flag) = page.flags.get_mut(&name) {
                flag.values = values.clone();
            }
        }
        description.clear();
    };
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            finish(&mut page, &mut current, &mut description);
            section = line.trim_end_matches(':');
            continue;
        }
        let trimmed = line.trim_start();
        // Option lines are indented by 2 (`  -v, --verbose`) or 6 (`      --out`);
        // descriptions, deeper.
        let indent = line.len() - trimmed.len();
        let is_option =
            indent <= 6 && trimmed.starts_with('-') && trimmed[1..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-');
        if is_option {
            finish(&mut page, &mut current, &mut description);
            let mut tokens = trimmed.split_whitespace().peekable();
            let mut takes_value = false;
            while let Some(token) = tokens.next_if(|t| t.starts_with('-')) {
                current.push(token.trim_end_matches(',').trim_end_matches("...").to_string());
            }
            if tokens.next_if(|t| t.starts_with('<')).is_some() {
                takes_value = true;
            }
            for name in &current {
                page.flags.insert(name.clone(), Flag { takes_value, values: Vec::new() });
            }
            description.extend(tokens.map(|t| format!("{t} ")));
        } else if section == "Commands" && line.starts_with("  ") && !line.starts_with("   ") {
            page.subcommands.extend(trimmed.split_whitespace().next().map(str::to_string));
        } else if !current.is_empty() {
            description.push_str(trimmed);
            description.push('\n');
        }
    }
    finish(&mut page, &mut current, &mut description);
    page
}

fn possible_values(description: &str) -> Vec<String> {
    let flat = description.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(rest) = flat.split_once("[possible values: ").map(|(_, r)| r) {
        return rest.split(']').next().unwrap_or_default().split(", ").map(str::to_string).collect();
    }
    if let Some((_, list)) = description.split_once("Possible values:") {
        return list
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- "))
            .map(|v| v.split(':').next().unwrap_or(v).trim().to_string())
            .collect();
    }
    Vec::new()
}

#[test]
fn the_command_finder_reads_shell_as_a_shell_would() {
    let found = |script: &str| -> Vec<Vec<String>> {
        logical_lines(script).iter().flat_map(|(_, l, _)| simple_commands(l)).filter_map(|w| peerctl_args(&w)).collect()
    };
    let script = "code=0\n\
        peerctl plan peerings.yaml --out plan.json \\\n  --format markdown > plan.md || code=$?\n\
        cargo install --git https://example.com/peerctl peerctl # not a run\n\
        echo \"peerctl plan --nope\"; NO_COLOR=1 peerctl drift s.yaml 2>&1 | tee out\n\
        id=$(peerctl -v validate 'my spec.yaml')\n\
        if ! /usr/local/bin/peerctl apply plan.json; then exit 1; fi\n";
    let expected: Vec<Vec<&str>> = vec![
        vec!["plan", "peerings.yaml", "--out", "plan.json", "--format", "markdown"],
        vec!["drift", "s.yaml"],
        vec!["-v", "validate", "my spec.yaml"],
        vec!["apply", "plan.json"],
    ];
    assert_eq!(found(script), expected);

    let mut help = Help::default();
    let bogus = help.check(&["plan".into(), "s.yaml".into(), "--bogus".into()]).err().map(|u| u.message).unwrap_or_default();
    assert!(bogus.contains("unknown flag `--bogus` for `peerctl plan`"), "{bogus}");
    let format = help.check(&["drift".into(), "s.yaml".into(), "--format".into(), "markdown".into()]).err().map(|u| u.message);
    assert!(format.unwrap_or_default().contains("allows only text, json"));
    let sub = help.check(&["plna".into()]).err().map(|u| u.message).unwrap_or_default();
    assert!(sub.contains("unknown subcommand `peerctl plna`"), "{sub}");
    let ok = help.check(&["-v".into(), "plan".into(), "s.yaml".into(), "--target".into(), "a".into(), "--detailed-exitcode".into()]);
    assert!(ok.is_ok_and(|p| p.positionals == ["s.yaml"]));
}
