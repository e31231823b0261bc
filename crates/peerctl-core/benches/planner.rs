//! The planner alone, in process, on synthetic worlds: `cargo bench -p
//! peerctl-core --bench planner` (run by `./just bench`).
//!
//! A spec of N AWS peerings (N / 50 hub VPCs × 50 spokes, spread over 2
//! accounts × 3 regions, 2 route tables and 1 security group per side) is
//! generated as YAML text, with a synthetic observed `State`: `fresh` (the
//! VPCs, their tables and groups, nothing peered yet: every step to plan) or
//! `converged` (connections, routes and rules all in place: an empty plan).
//!
//! divan times `load` (YAML → validated `Spec`) and `planner::plan` for
//! each; a counting global allocator gives peak heap. After divan's table,
//! one line per measurement starting `planner-bench ` carries JSON for
//! `peerctl-bench` to put in docs/benchmarks.md.

use peerctl_core::spec::AwsScope;
use peerctl_core::state::{
    AwsRegionState, Connection, ConnectionEnd, ConnectionStatus, Permission, Route, RouteTable, SecurityGroup, SecurityGroupRule, State,
    TAG_OWNER, TAG_PEERING, Tags, Vpc,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- memory

/// The system allocator, counting live bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` once: its wall time, the live heap before, and the peak heap while it ran.
fn once<T>(f: impl FnOnce() -> T) -> (T, Duration, usize, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let start = Instant::now();
    let out = f();
    let elapsed = start.elapsed();
    (out, elapsed, before, PEAK.load(Ordering::Relaxed))
}

// ---------------------------------------------------------------- world

const SPOKES_PER_HUB: usize = 50;
const OWNER: &str = "bench";
const MAIN_ACCOUNT: &str = "123456789012";
const OTHER_ACCOUNT: &str = "111111111111";
const OTHER_ROLE: &str = "arn:aws:iam::111111111111:role/peerctl";
const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

/// The 6 (account, region) scopes, main account first.
fn scope(index: usize) -> (AwsScope, &'static str) {
    let (role, account) = if index / 3 == 0 { (None, MAIN_ACCOUNT) } else { (Some(OTHER_ROLE.to_string()), OTHER_ACCOUNT) };
    (AwsScope { profile: None, role_arn: role, region: REGIONS[index % 3].to_string() }, account)
}

/// One end of a peering: a VPC with two route tables and a group, all named after it.
struct End {
    name: String,
    scope: usize,
    cidr: ipnet::IpNet,
}

fn hub(h: usize) -> End {
    End { name: format!("hub-{h}"), scope: h % 6, cidr: format!("10.{}.{}.0/24", 240 + h / 256, h % 256).parse().expect("cidr") }
}

fn spoke(h: usize, s: usize) -> End {
    let n = h * SPOKES_PER_HUB + s;
    End { name: format!("spoke-{h}-{s}"), scope: (h + s) % 6, cidr: format!("10.{}.{}.0/24", n / 256, n % 256).parse().expect("cidr") }
}

/// (peering name, requester = spoke, accepter = hub) for `n` peerings.
fn peerings(n: usize) -> Vec<(String, End, End)> {
    (0..n).map(|i| (i / SPOKES_PER_HUB, i % SPOKES_PER_HUB)).map(|(h, s)| (format!("h{h}-s{s}"), spoke(h, s), hub(h))).collect()
}

fn side_yaml(end: &End) -> String {
    let (scope, _) = scope(end.scope);
    let role = scope.role_arn.map(|r| format!(", role_arn: \"{r}\"")).unwrap_or_default();
    let name = &end.name;
    format!(
        "{{vpc: {{name: {name}}}, region: {}{role}, route_tables: [{{name: {name}-rt-a}}, {{name: {name}-rt-b}}], security_groups: [{{name: {name}}}]}}",
        scope.region
    )
}

/// The spec's YAML text.
fn spec_text(n: usize) -> String {
    let mut text = format!("version: 1\nowner: {OWNER}\npeerings:\n");
    for (name, req, acc) in peerings(n) {
        let _ = write!(text, "  - name: {name}\n    aws:\n      requester: {}\n      accepter: {}\n", side_yaml(&req), side_yaml(&acc));
    }
    text
}

fn id(prefix: &str, n: usize) -> String {
    format!("{prefix}-{n:017x}")
}

fn owned(peering: &str) -> Tags {
    Tags::from([(TAG_OWNER.to_string(), OWNER.to_string()), (TAG_PEERING.to_string(), peering.to_string())])
}

/// Observed state of the world: `converged` adds the connections, routes and rules.
fn state(n: usize, converged: bool) -> State {
    let mut regions: Vec<AwsRegionState> = (0..6).map(|i| AwsRegionState { scope: scope(i).0, ..Default::default() }).collect();
    let mut next = 0usize;
    let mut fresh = |prefix: &str| {
        next += 1;
        id(prefix, next)
    };
    // VPC name → (scope, vpc id, [table ids], group id)
    let mut vpcs: BTreeMap<String, (usize, String, Vec<usize>, String)> = BTreeMap::new();
    let all = peerings(n);
    for end in all.iter().flat_map(|(_, req, acc)| [req, acc]) {
        if vpcs.contains_key(&end.name) {
            continue;
        }
        let region = &mut regions[end.scope];
        let vpc = fresh("vpc");
        region.vpcs.push(Vpc {
            id: vpc.clone(),
            name: Some(end.name.clone()),
            owner_id: scope(end.scope).1.into(),
            cidrs: vec![end.cidr],
            ipv6_cidrs: vec![],
        });
        let local = Route { destination: end.cidr, target: "local".into(), state: "active".into() };
        let mut tables = Vec::new();
        for table in [None, Some("rt-a"), Some("rt-b")] {
            tables.push(region.route_tables.len());
            region.route_tables.push(RouteTable {
                id: fresh("rtb"),
                vpc_id: vpc.clone(),
                name: table.map(|t| format!("{}-{t}", end.name)),
                routes: vec![local.clone()],
            });
        }
        tables.remove(0); // the main table is not selected
        let mut group = String::new();
        for name in ["default", end.name.as_str()] {
            group = fresh("sg");
            region.security_groups.push(SecurityGroup { id: group.clone(), vpc_id: vpc.clone(), name: name.into() });
            region.rules.push(SecurityGroupRule {
                id: fresh("sgr"),
                group_id: group.clone(),
                egress: true,
                permission: Permission { protocol: "-1".into(), from_port: -1, to_port: -1 },
                source: Some("0.0.0.0/0".parse().expect("cidr")),
                description: None,
                tags: Tags::new(),
            });
        }
        vpcs.insert(end.name.clone(), (end.scope, vpc, tables, group));
    }
    if !converged {
        return State { aws: regions, gcp: vec![] };
    }
    for (name, req, acc) in &all {
        let pcx = fresh("pcx");
        let end = |e: &End| ConnectionEnd {
            vpc_id: vpcs[&e.name].1.clone(),
            owner_id: scope(e.scope).1.into(),
            region: scope(e.scope).0.region,
            allow_dns_resolution: Some(false),
        };
        let mut tags = owned(name);
        tags.insert("Name".into(), name.clone());
        let connection =
            Connection { id: pcx.clone(), status: ConnectionStatus::Active, requester: end(req), accepter: end(acc), tags: tags.clone() };
        if acc.scope != req.scope {
            // The accepter's view: another account sees no tags.
            let foreign = scope(acc.scope).1 != scope(req.scope).1;
            let view = Connection { tags: if foreign { Tags::new() } else { tags }, ..connection.clone() };
            regions[acc.scope].connections.push(view);
        }
        regions[req.scope].connections.push(connection);
        for (this, peer) in [(req, acc), (acc, req)] {
            let (scope, _, tables, group) = &vpcs[&this.name];
            let region = &mut regions[*scope];
            for &t in tables {
                region.route_tables[t].routes.push(Route { destination: peer.cidr, target: pcx.clone(), state: "active".into() });
            }
            let rule = SecurityGroupRule {
                id: fresh("sgr"),
                group_id: group.clone(),
                egress: false,
                permission: Permission { protocol: "tcp".into(), from_port: 0, to_port: 65535 },
                source: Some(peer.cidr),
                description: Some(format!("peerctl {OWNER}/{name}")),
                tags: owned(name),
            };
            region.rules.push(rule);
        }
    }
    State { aws: regions, gcp: vec![] }
}

// ---------------------------------------------------------------- benches

/// The YAML parser refuses documents of more than 250,000 nodes (about
/// 9,600 peerings of this shape), so large specs are loaded in pieces of
/// this many peerings and put together for the planner.
const PIECE: usize = 1_000;

/// The spec of `n` peerings, loaded piece by piece when it is large.
fn spec(n: usize) -> peerctl_core::spec::Spec {
    let all = peerings(n);
    let mut spec: Option<peerctl_core::spec::Spec> = None;
    for piece in all.chunks(PIECE) {
        let mut text = format!("version: 1\nowner: {OWNER}\npeerings:\n");
        for (name, req, acc) in piece {
            let _ = write!(text, "  - name: {name}\n    aws:\n      requester: {}\n      accepter: {}\n", side_yaml(req), side_yaml(acc));
        }
        let loaded = peerctl_core::load("spec.yaml", &text).expect("valid spec");
        match &mut spec {
            Some(spec) => spec.peerings.extend(loaded.peerings),
            None => spec = Some(loaded),
        }
    }
    spec.expect("at least one peering")
}

// divan's table, for working on the planner (`cargo bench -p peerctl-core
// --bench planner`); `./just bench` runs only the summary below.
const DIVAN_SIZES: &[usize] = &[100, 1_000];

#[divan::bench(args = DIVAN_SIZES, sample_count = 3, sample_size = 1)]
fn load(bencher: divan::Bencher, n: usize) {
    let text = spec_text(n);
    bencher.bench(|| peerctl_core::load("spec.yaml", black_box(&text)).expect("valid spec"));
}

#[divan::bench(args = DIVAN_SIZES, sample_count = 3, sample_size = 1)]
fn plan_fresh(bencher: divan::Bencher, n: usize) {
    let (spec, state) = (spec(n), state(n, false));
    bencher.bench(|| peerctl_core::planner::plan(black_box(&spec), black_box(&state)).expect("plan"));
}

#[divan::bench(args = DIVAN_SIZES, sample_count = 3, sample_size = 1)]
fn plan_converged(bencher: divan::Bencher, n: usize) {
    let (spec, state) = (spec(n), state(n, true));
    bencher.bench(|| peerctl_core::planner::plan(black_box(&spec), black_box(&state)).expect("plan"));
}

/// Runs `f` up to `runs` times (once if a run takes over a second): the
/// fastest time, the peak heap, the peak above what was live before, and
/// what `f` returned.
fn best<T>(runs: usize, f: impl Fn() -> T) -> (Duration, usize, usize, T) {
    let (mut fastest, mut peak, mut above) = (Duration::MAX, 0, 0);
    let mut run = 0;
    loop {
        let (out, elapsed, before, p) = once(&f);
        fastest = fastest.min(elapsed);
        (peak, above) = (peak.max(p), above.max(p - before));
        run += 1;
        if run >= runs || elapsed > Duration::from_secs(1) {
            return (fastest, peak, above, out);
        }
    }
}

/// One JSON line per measurement, for peerctl-bench. A measurement whose
/// time, extrapolated quadratically from the size before, would exceed
/// `cap` is skipped and its projection printed instead.
fn summary(sizes: &[usize], cap: f64, only: Option<&str>) {
    let wanted = |what: &str| only.is_none_or(|only| only.split(',').any(|o| o == what));
    let mut last: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    let too_long = |last: &BTreeMap<&str, (usize, f64)>, what: &str, n: usize| {
        let (m, t) = *last.get(what)?;
        let projected = t * (n as f64 / m as f64).powi(2);
        (projected > cap).then_some(projected)
    };
    let line = |what: &str, n: usize, fields: String| println!("planner-bench {{\"what\": \"{what}\", \"peerings\": {n}, {fields}}}");
    let measured = |(time, peak, above, out): (Duration, usize, usize, String)| {
        format!(
            "\"seconds\": {:.6}, \"peak_heap_bytes\": {peak}, \"peak_above_inputs_bytes\": {above}, \"output\": {out}",
            time.as_secs_f64()
        )
    };
    for &n in sizes {
        // `load` of the whole text, as `peerctl validate` does it.
        if wanted("load") {
            let text = spec_text(n);
            let result = best(3, || match peerctl_core::load("spec.yaml", &text) {
                Ok(spec) => spec.peerings.len().to_string(),
                Err(diags) => serde_json::to_string(&diags.to_string()).unwrap_or_default(),
            });
            line("load", n, measured(result));
        }
        let spec = spec(n);
        for (what, converged) in [("plan_fresh", false), ("plan_converged", true)].into_iter().filter(|(what, _)| wanted(what)) {
            if let Some(projected) = too_long(&last, what, n) {
                line(what, n, format!("\"skipped\": true, \"projected_seconds\": {projected:.1}"));
                continue;
            }
            let state = state(n, converged);
            let result = best(3, || peerctl_core::planner::plan(&spec, &state).expect("plan").steps.len().to_string());
            last.insert(what, (n, result.0.as_secs_f64()));
            line(what, n, measured(result));
        }
    }
}

fn main() {
    // `PLANNER_BENCH=summary` (what `./just bench` sets) skips divan's table.
    if std::env::var("PLANNER_BENCH").as_deref() != Ok("summary") {
        divan::main();
    }
    let sizes: Vec<usize> = std::env::var("PLANNER_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000]);
    let cap = std::env::var("PLANNER_BENCH_CAP_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60.0);
    // `PLANNER_BENCH_ONLY=load,plan_fresh,plan_converged`: some of them (for profiling).
    summary(&sizes, cap, std::env::var("PLANNER_BENCH_ONLY").ok().as_deref());
}
