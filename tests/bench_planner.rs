//! The planner alone, in process, on synthetic worlds (`peerctl-bench
//! --only planner`; part of `./just bench`).
//!
//! A spec of N AWS peerings (N / 50 hub VPCs × 50 spokes, spread over 2
//! accounts × 3 regions, 2 route tables and 1 security group per side) is
//! generated as YAML text, with a synthetic observed `State`: `fresh` (the
//! VPCs, their tables and groups, nothing peered yet: every step to plan) or
//! `converged` (connections, routes and rules all in place: an empty plan).
//! Each measurement is of `load` (YAML → validated `Spec`) or
//! `planner::plan`: peak heap from one run with the counting global
//! allocator below, which wraps peerctl's own (mimalloc), and time from the
//! fastest of 3 (`load`) or 5 (`plan`) more runs with the counting off.
//!
//! It runs in a child process (`peerctl-bench --planner-child SIZES`): Linux
//! counts a parent's peak memory into its children's, and this would make
//! every `peerctl` the bench measures afterwards look as large as it.

use crate::{End, OWNER, PeeringDef, Scope, aws_spec, ends, hub_and_spokes};
use mimalloc::MiMalloc;
use peerctl_core::spec::AwsScope;
use peerctl_core::state::{
    AwsRegionState, Connection, ConnectionEnd, ConnectionStatus, Permission, Route, RouteTable, SecurityGroup, SecurityGroupRule, State,
    TAG_OWNER, TAG_PEERING, Tags, Vpc,
};
use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- memory

/// peerctl's allocator (mimalloc), counting live bytes and their high-water mark:
/// peerctl-bench's global allocator.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Off while a run is timed: every thread's allocations write the same
/// counters, which made the 10,000-peering plan a quarter slower than
/// peerctl, which counts nothing.
static COUNTING: AtomicBool = AtomicBool::new(true);

fn grew(size: usize) {
    if !COUNTING.load(Ordering::Relaxed) {
        return;
    }
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    // Read first: a write on every allocation would have the planner's
    // threads fight over this cache line, which peerctl's allocator does not.
    if live > PEAK.load(Ordering::Relaxed) {
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

fn shrank(size: usize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_sub(size, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `MiMalloc` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { MiMalloc.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { MiMalloc.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { MiMalloc.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let new = unsafe { MiMalloc.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` once: what it returned, the live heap before, and the peak heap while it ran.
fn once<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let out = f();
    (out, before, PEAK.load(Ordering::Relaxed))
}

// ---------------------------------------------------------------- world

/// The scope of one of the 6 (account, region) pairs, as a spec names it.
fn aws_scope(scope: Scope) -> AwsScope {
    AwsScope { profile: None, role_arn: scope.role().map(String::from), region: scope.region().to_string() }
}

fn id(prefix: &str, n: usize) -> String {
    format!("{prefix}-{n:017x}")
}

fn owned(peering: &str) -> Tags {
    Tags::from([(TAG_OWNER.to_string(), OWNER.to_string()), (TAG_PEERING.to_string(), peering.to_string())])
}

/// The observed state of `peerings`' world, as `AwsBuilder` makes it in moto:
/// `converged` adds the connections, routes and rules.
fn state(all: &[PeeringDef], converged: bool) -> State {
    let mut regions: Vec<AwsRegionState> = (0..6).map(|i| AwsRegionState { scope: aws_scope(Scope(i)), ..Default::default() }).collect();
    let mut next = 0usize;
    let mut fresh = |prefix: &str| {
        next += 1;
        id(prefix, next)
    };
    // VPC name → (scope, vpc id, [table ids], group id)
    let mut vpcs: BTreeMap<String, (usize, String, Vec<usize>, String)> = BTreeMap::new();
    let cidr = |end: &End| end.cidr.parse::<ipnet::IpNet>().expect("cidr");
    for end in ends(all) {
        let region = &mut regions[end.scope];
        let vpc = fresh("vpc");
        region.vpcs.push(Vpc {
            id: vpc.clone(),
            name: Some(format!("{}-vpc", end.name)),
            owner_id: Scope(end.scope).account().into(),
            cidrs: vec![cidr(&end)],
            ipv6_cidrs: vec![],
        });
        let local = Route { destination: cidr(&end), target: "local".into(), state: "active".into() };
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
    for PeeringDef { name, requester: req, accepter: acc } in all {
        let pcx = fresh("pcx");
        let end = |e: &End| ConnectionEnd {
            vpc_id: vpcs[&e.name].1.clone(),
            owner_id: Scope(e.scope).account().into(),
            region: Scope(e.scope).region().into(),
            allow_dns_resolution: Some(false),
        };
        let mut tags = owned(name);
        tags.insert("Name".into(), name.clone());
        let connection =
            Connection { id: pcx.clone(), status: ConnectionStatus::Active, requester: end(req), accepter: end(acc), tags: tags.clone() };
        if acc.scope != req.scope {
            // The accepter's view: another account sees no tags.
            let foreign = Scope(acc.scope).account() != Scope(req.scope).account();
            let view = Connection { tags: if foreign { Tags::new() } else { tags }, ..connection.clone() };
            regions[acc.scope].connections.push(view);
        }
        regions[req.scope].connections.push(connection);
        for (this, peer) in [(req, acc), (acc, req)] {
            let (scope, _, tables, group) = &vpcs[&this.name];
            let region = &mut regions[*scope];
            for &t in tables {
                region.route_tables[t].routes.push(Route { destination: cidr(peer), target: pcx.clone(), state: "active".into() });
            }
            let rule = SecurityGroupRule {
                id: fresh("sgr"),
                group_id: group.clone(),
                egress: false,
                permission: Permission { protocol: "tcp".into(), from_port: 0, to_port: 65535 },
                source: Some(cidr(peer)),
                description: Some(format!("peerctl:{OWNER}/{name}")),
                tags: owned(name),
            };
            region.rules.push(rule);
        }
    }
    State { aws: regions, gcp: vec![] }
}

// ---------------------------------------------------------------- measuring

/// One measurement.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// `load`, `plan_fresh` or `plan_converged`.
    pub what: String,
    pub peerings: usize,
    pub outcome: Outcome,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    Measured {
        seconds: f64,
        /// Peak heap while it ran, and how much of it was above what was live before (spec and state).
        peak_bytes: usize,
        above_inputs_bytes: usize,
        /// Steps planned, or the error `load` gave.
        output: Result<usize, String>,
    },
    /// Not run: the time extrapolated quadratically from the size before was too long.
    Skipped { projected_seconds: f64 },
}

/// Runs `f` once counting its memory, then up to `runs` times uncounted
/// (fewer if a run takes over a second): the fastest uncounted time, the
/// peak heap, the peak above what was live before, and what `f` returned.
/// Whatever a run allocates is freed within that run (its output too), so
/// the uncounted runs leave the count as they found it.
fn best<T>(runs: usize, f: impl Fn() -> T) -> (Duration, usize, usize, T) {
    let (out, before, peak) = once(&f);
    COUNTING.store(false, Ordering::Relaxed);
    let mut fastest = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        drop(f());
        let elapsed = start.elapsed();
        fastest = fastest.min(elapsed);
        if elapsed > Duration::from_secs(1) {
            break;
        }
    }
    COUNTING.store(true, Ordering::Relaxed);
    (fastest, peak, peak - before, out)
}

fn measured((time, peak_bytes, above_inputs_bytes, output): (Duration, usize, usize, Result<usize, String>)) -> Outcome {
    Outcome::Measured { seconds: time.as_secs_f64(), peak_bytes, above_inputs_bytes, output }
}

/// Measures `sizes` in a child process (see above).
pub fn measure_in_child(sizes: &[usize]) -> Result<Vec<Row>, String> {
    let sizes: Vec<String> = sizes.iter().map(usize::to_string).collect();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(exe).args(["--planner-child", &sizes.join(",")]).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("the planner bench failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    String::from_utf8_lossy(&out.stdout).lines().map(|line| serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))).collect()
}

/// The child's side: `--planner-child 1000,10000` prints one row per line.
pub fn child(sizes: &str) {
    let sizes: Vec<usize> = sizes.split(',').filter_map(|n| n.parse().ok()).collect();
    for row in measure(&sizes, 60.0) {
        println!("{}", serde_json::to_string(&row).unwrap_or_default());
    }
}

/// `load` and `plan` (fresh and converged) of each size. A plan whose time,
/// extrapolated quadratically from the size before, would exceed `cap`
/// seconds is skipped.
fn measure(sizes: &[usize], cap: f64) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut last: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for &n in sizes {
        // `load` of the whole text, as `peerctl validate` does it.
        let all = hub_and_spokes(n, 50, 6);
        let text = aws_spec(&all);
        let load = || peerctl_core::load("spec.yaml", &text);
        rows.push(Row {
            what: "load".into(),
            peerings: n,
            outcome: measured(best(3, || load().map(|s| s.peerings.len()).map_err(|d| d.to_string()))),
        });
        let Ok(spec) = load() else { continue };
        drop(text);
        for (what, converged) in [("plan_fresh", false), ("plan_converged", true)] {
            if let Some(&(m, t)) = last.get(what) {
                let projected_seconds = t * (n as f64 / m as f64).powi(2);
                if projected_seconds > cap {
                    rows.push(Row { what: what.into(), peerings: n, outcome: Outcome::Skipped { projected_seconds } });
                    continue;
                }
            }
            let state = state(&all, converged);
            let result = best(5, || peerctl_core::planner::plan(&spec, &state).map(|plan| plan.steps.len()).map_err(|d| d.to_string()));
            last.insert(what, (n, result.0.as_secs_f64()));
            rows.push(Row { what: what.into(), peerings: n, outcome: measured(result) });
        }
    }
    rows
}
